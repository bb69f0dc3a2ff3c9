/* task.c - the task registry: descriptor checks, parameter validation against a
 * task's schema, plugin loading and the per-partition runner (tasks/host.h). */
#include "tasks/host.h"

#include "base/error.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "tasks/task_cpu_lanes.h"
#include "tasks/task_lanes.h"
#include "tasks/task_support.h"

/* One parameter's value, at the index of its schema entry. */
typedef struct param_value {
    bool set;
    int64_t i;
    double d;
    bool b;
    char *s; /* string and enum values */
} param_value;

struct ride_task_params {
    const ride_task_descriptor *task;
    param_value *values; /* task->param_count entries */
};

typedef struct task_entry {
    const ride_task_descriptor *task;
    char *origin;
} task_entry;

struct ride_task_registry {
    task_entry *tasks; /* name order */
    size_t count;
    size_t cap;
    void **plugins; /* dlopen handles, closed by ride_task_registry_free */
    size_t plugin_count;
};

struct ride_task_runner {
    const ride_task_descriptor *task;
    ride_task_params *params;
    ride_task_env env;
    void *state;
    ride_encoding encoding; /* chosen for the last output */
    int quality;
    /* Frames in flight on GPUs, or NULL: each frame is processed in submit and its
     * output waits in `ready` for collect. */
    ride_task_lanes *lanes;
    /* Frames in flight on CPU lanes, or NULL; each lane has a runner of its own,
     * which shares this one's params. */
    ride_task_cpu_lanes *cpu_lanes;
    ride_task_runner **lane_runners;
    int lane_count;
    bool shares_params;
    ride_frame_status rejected; /* of the last failed collect */
    ride_frame ready;
    bool has_ready;
};

/* Returns -1, so that a failing check can be written `return ride_set_error(...)`. */
/* ---- schema --------------------------------------------------------------- */

/* Parameters are read through param_size, so that a plugin built against a later
 * header with a longer ride_task_param still lines up. */
static const ride_task_param *param_at(const ride_task_descriptor *d, size_t i)
{
    return (const ride_task_param *)(const void *)((const char *)d->params + i * d->param_size);
}

static int param_index(const ride_task_descriptor *d, const char *name)
{
    for (uint32_t i = 0; i < d->param_count; i++)
        if (strcmp(param_at(d, i)->name, name) == 0)
            return (int)i;
    return -1;
}

static bool identifier_valid(const char *name)
{
    if (!name || name[0] < 'a' || name[0] > 'z')
        return false;
    size_t n = 0;
    for (const char *c = name; *c; c++, n++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_';
        if (!ok)
            return false;
    }
    return n <= RIDE_TASK_NAME_MAX;
}

/* Appends "a, b, c" to buf. */
static void join_choices(const char *const *choices, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; choices[i] && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", choices[i]);
}

/* What a parameter accepts, as the middle of "expected ..., got ...". */
static void describe_expected(const ride_task_param *p, char *buf, size_t len)
{
    bool has_min = p->flags & RIDE_PARAM_HAS_MIN, has_max = p->flags & RIDE_PARAM_HAS_MAX;
    char range[96] = "";
    if (p->type == RIDE_PARAM_INT) {
        if (has_min && has_max)
            snprintf(range, sizeof range, " in %lld..%lld", (long long)p->min, (long long)p->max);
        else if (has_min)
            snprintf(range, sizeof range, " >= %lld", (long long)p->min);
        else if (has_max)
            snprintf(range, sizeof range, " <= %lld", (long long)p->max);
        snprintf(buf, len, "an %sinteger%s", (p->flags & RIDE_PARAM_ODD) ? "odd " : "", range);
    } else if (p->type == RIDE_PARAM_FLOAT) {
        if (has_min && has_max)
            snprintf(range, sizeof range, " in %g..%g", p->min, p->max);
        else if (has_min)
            snprintf(range, sizeof range, " >= %g", p->min);
        else if (has_max)
            snprintf(range, sizeof range, " <= %g", p->max);
        snprintf(buf, len, "a number%s", range);
    } else if (p->type == RIDE_PARAM_BOOL) {
        snprintf(buf, len, "true or false");
    } else if (p->type == RIDE_PARAM_ENUM) {
        char list[400];
        join_choices(p->choices, list, sizeof list);
        snprintf(buf, len, "one of: %s", list);
    } else {
        snprintf(buf, len, "a string");
    }
}

/* Decimal numbers only: no hexadecimal, infinity, NaN or surrounding space. */
static bool parse_number(const char *text, double *out)
{
    if (!text[0] || strpbrk(text, "xXpP \t\n") != NULL)
        return false;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (*end || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *text, bool *out)
{
    static const char *const truths[] = {"true", "True", "TRUE"};
    static const char *const falsehoods[] = {"false", "False", "FALSE"};
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(text, truths[i]) == 0)
            return (*out = true), true;
        if (strcmp(text, falsehoods[i]) == 0)
            return (*out = false), true;
    }
    return false;
}

static bool is_choice(const ride_task_param *p, const char *text)
{
    for (size_t i = 0; p->choices[i]; i++)
        if (strcmp(p->choices[i], text) == 0)
            return true;
    return false;
}

static bool in_range(const ride_task_param *p, double v)
{
    if ((p->flags & RIDE_PARAM_HAS_MIN) && v < p->min)
        return false;
    return !((p->flags & RIDE_PARAM_HAS_MAX) && v > p->max);
}

/* Parses text as p's type into v (strings are duplicated). Returns 0, or -1 on a
 * value p does not accept, -2 when out of memory. */
static int parse_value(const ride_task_param *p, const char *text, param_value *v)
{
    switch (p->type) {
    case RIDE_PARAM_INT:
        if (!ride_parse_int64(text, RIDE_PARSE_MINUS, INT64_MIN, INT64_MAX, &v->i) ||
            !in_range(p, (double)v->i) || ((p->flags & RIDE_PARAM_ODD) && v->i % 2 == 0))
            return -1;
        v->d = (double)v->i;
        break;
    case RIDE_PARAM_FLOAT:
        if (!parse_number(text, &v->d) || !in_range(p, v->d))
            return -1;
        break;
    case RIDE_PARAM_BOOL:
        if (!parse_bool(text, &v->b))
            return -1;
        break;
    default:
        if (p->type == RIDE_PARAM_ENUM && !is_choice(p, text))
            return -1;
        /* An enum keeps its text, as a string does. */
        v->s = strdup(text);
        if (!v->s)
            return -2;
    }
    v->set = true;
    return 0;
}

/* ---- params ---------------------------------------------------------------- */

void ride_task_params_free(ride_task_params *p)
{
    if (!p)
        return;
    if (p->values)
        for (uint32_t i = 0; i < p->task->param_count; i++)
            free(p->values[i].s);
    free(p->values);
    free(p);
}

static ride_task_params *params_new(const ride_task_descriptor *d)
{
    ride_task_params *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->task = d;
    p->values = calloc(d->param_count ? d->param_count : 1, sizeof *p->values);
    if (!p->values) {
        free(p);
        return NULL;
    }
    return p;
}

static int unknown_param(const ride_task_descriptor *d, const ride_kv *kv, const char *file,
                         const char *path, ride_parse_error *err)
{
    if (d->param_count == 0)
        return ride_parse_fail(err, file, kv->key_pos, "%s.%s: task '%s' takes no parameters",
                               path, kv->key, d->name);
    char names[400];
    size_t o = 0;
    names[0] = '\0';
    for (uint32_t i = 0; i < d->param_count && o < sizeof names; i++)
        o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "",
                              param_at(d, i)->name);
    return ride_parse_fail(err, file, kv->key_pos,
                           "%s.%s: unknown parameter of task '%s'; known parameters: %s", path,
                           kv->key, d->name, names);
}

int ride_task_params_parse(const ride_task_descriptor *d, const ride_kv *kv, size_t count,
                           const char *file, const char *path, ride_pos pos,
                           ride_task_params **out, ride_parse_error *err)
{
    if (out)
        *out = NULL;
    ride_task_params *p = params_new(d);
    if (!p)
        return ride_parse_fail(err, file, pos, "%s: out of memory", path);
    for (size_t k = 0; k < count; k++) {
        int i = param_index(d, kv[k].key);
        if (i < 0) {
            ride_task_params_free(p);
            return unknown_param(d, &kv[k], file, path, err);
        }
        if (p->values[i].set) {
            ride_task_params_free(p);
            return ride_parse_fail(err, file, kv[k].key_pos, "%s.%s: duplicate parameter", path,
                                   kv[k].key);
        }
        const ride_task_param *schema = param_at(d, (size_t)i);
        int rc = parse_value(schema, kv[k].value, &p->values[i]);
        if (rc < 0) {
            char expected[512];
            describe_expected(schema, expected, sizeof expected);
            ride_task_params_free(p);
            if (rc == -2)
                return ride_parse_fail(err, file, kv[k].value_pos, "%s.%s: out of memory", path,
                                       kv[k].key);
            return ride_parse_fail(err, file, kv[k].value_pos, "%s.%s: expected %s, got \"%s\"",
                                   path, kv[k].key, expected, kv[k].value);
        }
    }
    for (uint32_t i = 0; i < d->param_count; i++) {
        const ride_task_param *schema = param_at(d, i);
        if (p->values[i].set)
            continue;
        if (schema->flags & RIDE_PARAM_REQUIRED) {
            ride_task_params_free(p);
            return ride_parse_fail(err, file, pos, "%s: missing required parameter '%s' of task '%s'",
                                   path, schema->name, d->name);
        }
        /* Defaults were validated when the task was registered. */
        if (schema->default_value && parse_value(schema, schema->default_value, &p->values[i]) < 0) {
            ride_task_params_free(p);
            return ride_parse_fail(err, file, pos, "%s: out of memory", path);
        }
    }
    if (out)
        *out = p;
    else
        ride_task_params_free(p);
    return 0;
}

static const param_value *lookup(const ride_task_params *p, const char *name, uint32_t type,
                                 uint32_t other_type)
{
    if (!p || !name)
        return NULL;
    int i = param_index(p->task, name);
    if (i < 0 || !p->values[i].set)
        return NULL;
    uint32_t t = param_at(p->task, (size_t)i)->type;
    return (t == type || t == other_type) ? &p->values[i] : NULL;
}

int ride_task_params_get_int(const ride_task_params *p, const char *name, int64_t *out)
{
    const param_value *v = lookup(p, name, RIDE_PARAM_INT, RIDE_PARAM_INT);
    if (!v || !out)
        return -1;
    *out = v->i;
    return 0;
}

int ride_task_params_get_double(const ride_task_params *p, const char *name, double *out)
{
    const param_value *v = lookup(p, name, RIDE_PARAM_FLOAT, RIDE_PARAM_INT);
    if (!v || !out)
        return -1;
    *out = v->d;
    return 0;
}

int ride_task_params_get_bool(const ride_task_params *p, const char *name, bool *out)
{
    const param_value *v = lookup(p, name, RIDE_PARAM_BOOL, RIDE_PARAM_BOOL);
    if (!v || !out)
        return -1;
    *out = v->b;
    return 0;
}

int ride_task_params_get_string(const ride_task_params *p, const char *name, const char **out)
{
    const param_value *v = lookup(p, name, RIDE_PARAM_STRING, RIDE_PARAM_ENUM);
    if (!v || !out)
        return -1;
    *out = v->s;
    return 0;
}

const ride_task_host *ride_task_host_api(void)
{
    static const ride_task_host host = {
        .struct_size = sizeof(ride_task_host),
        .get_int = ride_task_params_get_int,
        .get_double = ride_task_params_get_double,
        .get_bool = ride_task_params_get_bool,
        .get_string = ride_task_params_get_string,
    };
    return &host;
}

/* ---- descriptor checks ------------------------------------------------------ */

static int check_param(const ride_task_descriptor *d, uint32_t index, char *err, size_t errlen)
{
    const ride_task_param *p = param_at(d, index);
    const uint32_t known = RIDE_PARAM_REQUIRED | RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX |
                           RIDE_PARAM_ODD;
    if (!identifier_valid(p->name))
        return ride_set_error(err, errlen, "task '%s': parameter %" PRIu32 " has an invalid name", d->name,
                       index);
    if (param_index(d, p->name) != (int)index)
        return ride_set_error(err, errlen, "task '%s': parameter '%s' is declared twice", d->name,
                       p->name);
    if (p->type < RIDE_PARAM_INT || p->type > RIDE_PARAM_ENUM)
        return ride_set_error(err, errlen, "task '%s': parameter '%s' has unknown type %" PRIu32,
                       d->name, p->name, p->type);
    if (p->flags & ~known)
        return ride_set_error(err, errlen, "task '%s': parameter '%s' has unknown flags 0x%" PRIx32,
                       d->name, p->name, p->flags & ~known);
    if ((p->flags & RIDE_PARAM_ODD) && p->type != RIDE_PARAM_INT)
        return ride_set_error(err, errlen, "task '%s': parameter '%s': only integers can be odd",
                       d->name, p->name);
    if (p->type == RIDE_PARAM_ENUM && (!p->choices || !p->choices[0]))
        return ride_set_error(err, errlen, "task '%s': enum parameter '%s' has no choices", d->name,
                       p->name);
    if ((p->flags & RIDE_PARAM_HAS_MIN) && (p->flags & RIDE_PARAM_HAS_MAX) && p->min > p->max)
        return ride_set_error(err, errlen, "task '%s': parameter '%s' has min > max", d->name, p->name);
    if ((p->flags & RIDE_PARAM_REQUIRED) && p->default_value)
        return ride_set_error(err, errlen, "task '%s': required parameter '%s' has a default", d->name,
                       p->name);
    if (p->default_value) {
        param_value v = {0};
        int rc = parse_value(p, p->default_value, &v);
        free(v.s);
        if (rc < 0) {
            char expected[512];
            describe_expected(p, expected, sizeof expected);
            return ride_set_error(err, errlen, "task '%s': default of parameter '%s': expected %s, got \"%s\"",
                           d->name, p->name, expected, p->default_value);
        }
    }
    return 0;
}

static const task_entry *find_entry(const ride_task_registry *r, const char *name)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->tasks[i].task->name, name) == 0)
            return &r->tasks[i];
    return NULL;
}

/* Everything ride_task_registry_add checks, without adding. */
static int check_descriptor(const ride_task_registry *r, const ride_task_descriptor *d, char *err,
                            size_t errlen)
{
    if (!d)
        return ride_set_error(err, errlen, "a task descriptor is NULL");
    if (d->abi_version != RIDE_TASK_ABI_VERSION)
        return ride_set_error(err, errlen, "a task has ABI version %" PRIu32 "; this host supports %u",
                       d->abi_version, RIDE_TASK_ABI_VERSION);
    if (d->struct_size < RIDE_TASK_DESCRIPTOR_BASE_SIZE)
        return ride_set_error(err, errlen, "a task descriptor has size %" PRIu32 ", less than %zu",
                       d->struct_size, (size_t)RIDE_TASK_DESCRIPTOR_BASE_SIZE);
    if (!identifier_valid(d->name))
        return ride_set_error(err, errlen, "invalid task name%s%s%s: expected [a-z][a-z0-9_]* of at most %d bytes",
                       d->name ? " '" : "", d->name ? d->name : "", d->name ? "'" : "",
                       RIDE_TASK_NAME_MAX);
    const task_entry *dup = find_entry(r, d->name);
    if (dup)
        return ride_set_error(err, errlen, "task '%s' is already registered (from %s)", d->name,
                       dup->origin);
    if (!d->description)
        return ride_set_error(err, errlen, "task '%s' has no description", d->name);
    if (!d->devices || (d->devices & ~(RIDE_TASK_CPU | RIDE_TASK_GPU)))
        return ride_set_error(err, errlen, "task '%s' has invalid devices 0x%" PRIx32, d->name,
                       d->devices);
    if (!d->process)
        return ride_set_error(err, errlen, "task '%s' has no process callback", d->name);
    uint32_t want = ride_task_input_format(d);
    if (want != 0 && want != RIDE_PIX_GRAY8)
        return ride_set_error(err, errlen,
                              "task '%s' has input_format %" PRIu32 "; only 0 (any) and gray8 exist",
                              d->name, want);
    if (d->param_count > RIDE_TASK_MAX_PARAMS)
        return ride_set_error(err, errlen, "task '%s' has more than %d parameters", d->name,
                       RIDE_TASK_MAX_PARAMS);
    if (d->param_count && (!d->params || d->param_size < sizeof(ride_task_param)))
        return ride_set_error(err, errlen, "task '%s' has a bad parameter table", d->name);
    for (uint32_t i = 0; i < d->param_count; i++)
        if (check_param(d, i, err, errlen) < 0)
            return -1;
    return 0;
}

static int insert_task(ride_task_registry *r, const ride_task_descriptor *d, const char *origin)
{
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        task_entry *t = realloc(r->tasks, cap * sizeof *t);
        if (!t)
            return -1;
        r->tasks = t;
        r->cap = cap;
    }
    char *copy = strdup(origin);
    if (!copy)
        return -1;
    size_t at = 0;
    while (at < r->count && strcmp(r->tasks[at].task->name, d->name) < 0)
        at++;
    memmove(&r->tasks[at + 1], &r->tasks[at], (r->count - at) * sizeof *r->tasks);
    r->tasks[at] = (task_entry){.task = d, .origin = copy};
    r->count++;
    return 0;
}

int ride_task_registry_add(ride_task_registry *r, const ride_task_descriptor *d,
                           const char *origin, char *err, size_t errlen)
{
    if (check_descriptor(r, d, err, errlen) < 0)
        return -1;
    if (insert_task(r, d, origin ? origin : "unknown") < 0)
        return ride_set_error(err, errlen, "out of memory");
    return 0;
}

/* ---- registry --------------------------------------------------------------- */

ride_task_registry *ride_task_registry_new(void)
{
    ride_task_registry *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    size_t n = 0;
    const ride_task_descriptor *const *builtins = ride_task_builtins(&n);
    char err[256];
    for (size_t i = 0; i < n; i++) {
        if (ride_task_registry_add(r, builtins[i], "built-in", err, sizeof err) < 0) {
            ride_log_error("task_builtin_rejected", "reason=\"%s\"", err);
            ride_task_registry_free(r);
            return NULL;
        }
    }
    return r;
}

void ride_task_registry_free(ride_task_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->count; i++)
        free(r->tasks[i].origin);
    free(r->tasks);
    for (size_t i = 0; i < r->plugin_count; i++)
        dlclose(r->plugins[i]);
    free(r->plugins);
    free(r);
}

uint32_t ride_task_input_format(const ride_task_descriptor *d)
{
    return d->struct_size >= RIDE_TASK_DESCRIPTOR_INPUT_FORMAT_SIZE ? d->input_format : 0;
}

uint32_t ride_task_decode_scale(const ride_task_descriptor *d, void *state, uint32_t width,
                                uint32_t height)
{
    if (d->struct_size < RIDE_TASK_DESCRIPTOR_DECODE_SCALE_SIZE || !d->decode_scale)
        return 1;
    uint32_t want = d->decode_scale(state, width, height);
    return want >= 8 ? 8 : want >= 4 ? 4 : want >= 2 ? 2 : 1;
}

const ride_task_descriptor *ride_task_find(const ride_task_registry *r, const char *name)
{
    const task_entry *e = r && name ? find_entry(r, name) : NULL;
    return e ? e->task : NULL;
}

size_t ride_task_count(const ride_task_registry *r)
{
    return r ? r->count : 0;
}

const ride_task_descriptor *ride_task_at(const ride_task_registry *r, size_t index)
{
    return r && index < r->count ? r->tasks[index].task : NULL;
}

const char *ride_task_names(const ride_task_registry *r, char *buf, size_t len)
{
    if (!len)
        return buf;
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; r && i < r->count && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", r->tasks[i].task->name);
    return buf;
}

/* ---- plugins ------------------------------------------------------------------ */

typedef const ride_task_descriptor *const *(*plugin_entry_fn)(uint32_t host_abi, size_t *count);

/* A plugin's file must be one its owner controls: anyone able to rewrite it could
 * run code inside the worker. */
static int check_plugin_file(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return ride_set_error(err, errlen, "plugin %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ride_set_error(err, errlen, "plugin %s: not a regular file", path);
    if (st.st_mode & S_IWOTH)
        return ride_set_error(err, errlen, "plugin %s: refusing a world-writable file", path);
    return 0;
}

/* Checks every task of a plugin, against the registry and each other. */
static int check_plugin_tasks(const ride_task_registry *r, const char *path,
                              const ride_task_descriptor *const *tasks, size_t count, char *err,
                              size_t errlen)
{
    char why[400];
    for (size_t i = 0; i < count; i++) {
        if (check_descriptor(r, tasks[i], why, sizeof why) < 0)
            return ride_set_error(err, errlen, "plugin %s: %s", path, why);
        for (size_t j = 0; j < i; j++)
            if (strcmp(tasks[j]->name, tasks[i]->name) == 0)
                return ride_set_error(err, errlen, "plugin %s: task '%s' is exported twice", path,
                               tasks[i]->name);
    }
    return 0;
}

static int add_plugin_tasks(ride_task_registry *r, void *handle, const char *path,
                            const ride_task_descriptor *const *tasks, size_t count, char *err,
                            size_t errlen)
{
    void **handles = realloc(r->plugins, (r->plugin_count + 1) * sizeof *handles);
    if (!handles)
        return ride_set_error(err, errlen, "plugin %s: out of memory", path);
    r->plugins = handles;
    for (size_t i = 0; i < count; i++) {
        if (insert_task(r, tasks[i], path) < 0) {
            /* Take back what this plugin added before unloading it. */
            for (size_t j = 0; j < i; j++) {
                task_entry *e = (task_entry *)find_entry(r, tasks[j]->name);
                free(e->origin);
                memmove(e, e + 1, (size_t)(r->tasks + r->count - (e + 1)) * sizeof *e);
                r->count--;
            }
            return ride_set_error(err, errlen, "plugin %s: out of memory", path);
        }
    }
    r->plugins[r->plugin_count++] = handle;
    return 0;
}

int ride_task_registry_load_plugin(ride_task_registry *r, const char *path, char *err,
                                   size_t errlen)
{
    if (!r || !path)
        return ride_set_error(err, errlen, "no registry or plugin path");
    if (path[0] != '/')
        return ride_set_error(err, errlen, "plugin %s: not an absolute path", path);
    if (check_plugin_file(path, err, errlen) < 0)
        return -1;
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle)
        return ride_set_error(err, errlen, "plugin %s: %s", path, dlerror());
    plugin_entry_fn entry;
    /* POSIX allows converting dlsym's object pointer to a function pointer. */
    *(void **)(void *)&entry = dlsym(handle, RIDE_TASK_PLUGIN_ENTRY);
    if (!entry) {
        dlclose(handle);
        return ride_set_error(err, errlen, "plugin %s: no %s function", path, RIDE_TASK_PLUGIN_ENTRY);
    }
    size_t count = 0;
    const ride_task_descriptor *const *tasks = entry(RIDE_TASK_ABI_VERSION, &count);
    int rc;
    if (!tasks)
        rc = ride_set_error(err, errlen, "plugin %s: does not support task ABI version %u", path,
                     RIDE_TASK_ABI_VERSION);
    else if (count == 0)
        rc = ride_set_error(err, errlen, "plugin %s: exports no task", path);
    else
        rc = check_plugin_tasks(r, path, tasks, count, err, errlen);
    if (rc == 0)
        rc = add_plugin_tasks(r, handle, path, tasks, count, err, errlen);
    if (rc < 0) {
        dlclose(handle);
        return -1;
    }
    return (int)count;
}

static int select_shared_object(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 3 && e->d_name[0] != '.' && strcmp(e->d_name + n - 3, ".so") == 0;
}

int ride_task_registry_load_dir(ride_task_registry *r, const char *dir, char *err, size_t errlen)
{
    if (!r || !dir)
        return ride_set_error(err, errlen, "no registry or plugin directory");
    if (dir[0] != '/')
        return ride_set_error(err, errlen, "plugin directory '%s' is not an absolute path", dir);
    struct dirent **names = NULL;
    int n = scandir(dir, &names, select_shared_object, alphasort);
    if (n < 0)
        return ride_set_error(err, errlen, "cannot read plugin directory '%s': %s", dir,
                       strerror(errno));
    int added = 0;
    for (int i = 0; i < n; i++) {
        char path[RIDE_PATH_MAX + 256], why[512], quoted[600], qpath[600];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        int rc = ride_task_registry_load_plugin(r, path, why, sizeof why);
        ride_log_quote(path, qpath, sizeof qpath);
        if (rc < 0) {
            ride_log_warn("task_plugin_rejected", "path=%s reason=%s", qpath,
                          ride_log_quote(why, quoted, sizeof quoted));
        } else {
            char list[400];
            size_t o = 0;
            list[0] = '\0';
            for (size_t t = 0; t < r->count && o < sizeof list; t++)
                if (strcmp(r->tasks[t].origin, path) == 0)
                    o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", o ? "," : "",
                                          r->tasks[t].task->name);
            ride_log_info("task_plugin_loaded", "path=%s tasks=%s", qpath, list);
            added += rc;
        }
        free(names[i]);
    }
    free(names);
    return added;
}

/* ---- manifests ------------------------------------------------------------------ */

static bool runs_on(const ride_task_descriptor *d, ride_stage_device device)
{
    if (device == RIDE_STAGE_CPU)
        return d->devices & RIDE_TASK_CPU;
    if (device == RIDE_STAGE_GPU)
        return d->devices & RIDE_TASK_GPU;
    return true;
}

int ride_task_validate_stage(const ride_task_registry *r, const ride_manifest *m, size_t index,
                             ride_task_params **out, ride_parse_error *err)
{
    if (out)
        *out = NULL;
    if (!r || !m || index >= m->stage_count)
        return ride_parse_fail(err, m ? m->file : NULL, (ride_pos){0, 0}, "no such stage");
    const ride_stage *st = &m->stages[index];
    const ride_task_descriptor *d = ride_task_find(r, st->task);
    if (!d) {
        char names[1024];
        return ride_parse_fail(err, m->file, st->task_pos,
                               "spec.stages[%zu].task: unknown task '%s'; known tasks: %s", index,
                               st->task, ride_task_names(r, names, sizeof names));
    }
    if (!runs_on(d, st->resources.device))
        return ride_parse_fail(err, m->file, st->task_pos,
                               "spec.stages[%zu].task: task '%s' does not run on device %s", index,
                               d->name, ride_stage_device_name(st->resources.device));
    char path[64];
    snprintf(path, sizeof path, "spec.stages[%zu].params", index);
    return ride_task_params_parse(d, st->params, st->param_count, m->file, path, st->pos, out, err);
}

int ride_task_validate_manifest(const ride_task_registry *r, const ride_manifest *m,
                                ride_parse_error *err)
{
    for (size_t i = 0; m && i < m->stage_count; i++)
        if (ride_task_validate_stage(r, m, i, NULL, err) < 0)
            return -1;
    return 0;
}

/* ---- runner --------------------------------------------------------------------- */

/* A runner holding params, with no state yet. Takes ownership of params. */
static ride_task_runner *runner_alloc(const ride_task_descriptor *d, ride_task_params *params,
                                      char *err, size_t errlen)
{
    if (!d || !params || params->task != d) {
        ride_task_params_free(params);
        return ride_set_error(err, errlen, "the params were not validated for this task"), NULL;
    }
    ride_task_runner *run = calloc(1, sizeof *run);
    if (!run) {
        ride_task_params_free(params);
        return ride_set_error(err, errlen, "out of memory"), NULL;
    }
    run->task = d;
    run->params = params;
    run->encoding = RIDE_ENC_RAW;
    run->quality = -1;
    return run;
}

static int runner_init(ride_task_runner *run, const ride_task_env *env, char *err,
                       size_t errlen);

ride_task_runner *ride_task_runner_new(const ride_task_descriptor *d, ride_task_params *params,
                                       const ride_task_env *env, char *err, size_t errlen)
{
    char local[256];
    if (!err || !errlen) {
        err = local;
        errlen = sizeof local;
    }
    ride_task_runner *run = runner_alloc(d, params, err, errlen);
    if (!run)
        return NULL;
    return runner_init(run, env, err, errlen) == 0 ? run : NULL;
}

/* Calls the task's init for a runner that has its task and params; frees the
 * runner on failure. */
static int runner_init(ride_task_runner *run, const ride_task_env *env, char *err,
                       size_t errlen)
{
    const ride_task_descriptor *d = run->task;
    if (env)
        run->env = *env;
    else
        run->env = (ride_task_env){.device = RIDE_TASK_CPU, .gpu_index = -1};
    run->env.struct_size = sizeof run->env;
    run->env.host = ride_task_host_api();
    if (!(d->devices & run->env.device) ||
        (run->env.device != RIDE_TASK_CPU && run->env.device != RIDE_TASK_GPU)) {
        ride_task_runner_free(run);
        return ride_set_error(err, errlen, "task '%s' does not run on that device", d->name);
    }
    if (d->init) {
        err[0] = '\0';
        int rc = d->init(run->params, &run->env, &run->state, err, errlen);
        ride_task_log_cuda_error();
        if (rc != 0) {
            if (!err[0])
                ride_set_error(err, errlen, "task '%s' failed to initialize", d->name);
            run->task = NULL; /* no destroy for a state that init did not create */
            ride_task_runner_free(run);
            return -1;
        }
    }
    return 0;
}

/* What set_metadata writes into: the output frame, and whether the task chose
 * its metadata (else the host copies the input's). */
typedef struct output_metadata {
    ride_frame *frame;
    bool set;
} output_metadata;

static int set_output_metadata(void *ctx, const char *json, size_t len, char *err,
                               size_t errlen)
{
    output_metadata *m = ctx;
    if (ride_frame_set_metadata(m->frame, json, len, err, errlen) != 0)
        return -1;
    m->set = true;
    return 0;
}

int ride_task_run(ride_task_runner *run, const ride_frame *in, ride_frame *out, char *err,
                  size_t errlen)
{
    char local[256];
    if (!err || !errlen) {
        err = local;
        errlen = sizeof local;
    }
    if (!run || !in || !out || !in->image.data)
        return ride_set_error(err, errlen, "no runner, input frame or output frame");
    if (in->encoded.pending)
        return ride_set_error(err, errlen, "the input frame is not decoded yet");
    ride_task_input input = {
        .struct_size = sizeof input,
        .image = &in->image,
        .stream_id = in->stream_id,
        .seq = in->seq,
        .capture_ns = in->capture_ns,
        .metadata = in->metadata_len ? in->metadata : NULL,
        .metadata_len = in->metadata ? in->metadata_len : 0,
    };
    output_metadata metadata = {.frame = out};
    ride_task_output output = {
        .struct_size = sizeof output,
        .image = &out->image,
        .ensure = ride_image_ensure,
        .encoding = RIDE_ENC_RAW,
        .quality = -1,
        .set_metadata = set_output_metadata,
        .metadata_ctx = &metadata,
    };
    err[0] = '\0';
    int rc = run->task->process(run->state, &input, &output, err, errlen);
    ride_task_log_cuda_error();
    if (rc != 0) {
        if (!err[0])
            ride_set_error(err, errlen, "task '%s' failed", run->task->name);
        return -1;
    }
    if (!out->image.data)
        return ride_set_error(err, errlen, "task '%s' produced no image", run->task->name);
    /* Checked here, as a failure of this frame: the pipeline would otherwise fail
     * to write it and retry the same frame forever. */
    ride_frame_write_opts chosen = {(ride_encoding)output.encoding, output.quality,
                                    RIDE_FRAME_DEFAULT_MAX_MESSAGE};
    char why[200];
    if (ride_frame_write_opts_check(&chosen, out->image.format, why, sizeof why) != 0)
        return ride_set_error(err, errlen, "task '%s' chose an output encoding that fails: %s",
                              run->task->name, why);
    if (!metadata.set && ride_frame_copy_metadata(out, in) != 0)
        return ride_set_error(err, errlen, "out of memory for the input's metadata");
    run->encoding = chosen.encoding;
    run->quality = chosen.quality;
    out->stream_id = in->stream_id;
    out->seq = in->seq;
    out->capture_ns = in->capture_ns;
    return 0;
}

const ride_task_descriptor *ride_task_runner_task(const ride_task_runner *run)
{
    return run ? run->task : NULL;
}

void ride_task_runner_write_opts(const ride_task_runner *run, ride_frame_write_opts *opts)
{
    if (!opts)
        return;
    opts->encoding = run ? run->encoding : RIDE_ENC_RAW;
    opts->quality = run ? run->quality : -1;
}

void ride_task_runner_free(ride_task_runner *run)
{
    if (!run)
        return;
    ride_task_cpu_lanes_free(run->cpu_lanes);
    for (int i = 0; i < run->lane_count; i++)
        ride_task_runner_free(run->lane_runners[i]);
    free(run->lane_runners);
    if (run->lanes)
        ride_task_lanes_free(run->lanes);
    else if (!run->lane_runners && run->task && run->task->init && run->task->destroy)
        run->task->destroy(run->state);
    ride_task_log_cuda_error();
    if (!run->shares_params)
        ride_task_params_free(run->params);
    ride_frame_free(&run->ready);
    free(run);
}

/* ---- frames in flight ------------------------------------------------------------- */

ride_task_runner *ride_task_runner_new_gpu(const ride_task_descriptor *d,
                                           ride_task_params *params, const int *gpus,
                                           size_t gpu_count, int frames_in_flight, char *err,
                                           size_t errlen)
{
    char local[256];
    if (!err || !errlen) {
        err = local;
        errlen = sizeof local;
    }
    if (!d || !(d->devices & RIDE_TASK_GPU) || !gpus || gpu_count == 0 ||
        frames_in_flight < 1 || frames_in_flight > RIDE_TASK_GPU_MAX_FRAMES_IN_FLIGHT) {
        ride_task_params_free(params);
        return ride_set_error(err, errlen, "a GPU runner needs a GPU task, at least one device "
                                           "and 1..%d frames in flight",
                              RIDE_TASK_GPU_MAX_FRAMES_IN_FLIGHT),
               NULL;
    }
    ride_task_env env = {
        .struct_size = sizeof env, .threads = 1, .device = RIDE_TASK_GPU, .gpu_index = gpus[0]};
    if (!d->process_device)
        return ride_task_runner_new(d, params, &env, err, errlen);
    ride_task_runner *run = runner_alloc(d, params, err, errlen);
    if (!run)
        return NULL;
    run->env = env;
    run->env.host = ride_task_host_api();
    run->lanes = ride_task_lanes_new(d, run->params, run->env.host, gpus, gpu_count,
                                     frames_in_flight, err, errlen);
    ride_task_log_cuda_error();
    if (!run->lanes) {
        run->task = NULL; /* the lanes destroyed the states they made */
        ride_task_runner_free(run);
        return NULL;
    }
    return run;
}

/* ---- CPU lanes ---- */

static int run_on_lane(void *lane_ctx, const ride_frame *in, ride_frame *out, char *err,
                       size_t errlen)
{
    return ride_task_run(lane_ctx, in, out, err, errlen);
}

static unsigned scale_on_lane(void *lane_ctx, uint32_t width, uint32_t height)
{
    const ride_task_runner *run = lane_ctx;
    return ride_task_decode_scale(run->task, run->state, width, height);
}

/* A runner for one lane: the task's own state, the parent's params. */
static ride_task_runner *lane_runner_new(const ride_task_runner *parent, char *err,
                                         size_t errlen)
{
    ride_task_runner *run = calloc(1, sizeof *run);
    if (!run)
        return ride_set_error(err, errlen, "out of memory"), NULL;
    run->task = parent->task;
    run->params = parent->params;
    run->shares_params = true;
    run->encoding = RIDE_ENC_RAW;
    run->quality = -1;
    return runner_init(run, &parent->env, err, errlen) == 0 ? run : NULL;
}

ride_task_runner *ride_task_runner_new_cpu_lanes(const ride_task_descriptor *d,
                                                 ride_task_params *params,
                                                 const ride_task_env *env, int lanes,
                                                 size_t max_frame_bytes,
                                                 ride_pixel_format decode_as, char *err,
                                                 size_t errlen)
{
    char local[256];
    if (!err || !errlen) {
        err = local;
        errlen = sizeof local;
    }
    if (lanes < 1 || lanes > RIDE_TASK_CPU_MAX_LANES) {
        ride_task_params_free(params);
        return ride_set_error(err, errlen, "a CPU runner has 1..%d lanes", RIDE_TASK_CPU_MAX_LANES),
               NULL;
    }
    ride_task_runner *run = runner_alloc(d, params, err, errlen);
    if (!run)
        return NULL;
    run->env = env ? *env : (ride_task_env){.threads = 1, .device = RIDE_TASK_CPU, .gpu_index = -1};
    run->env.struct_size = sizeof run->env;
    run->env.host = ride_task_host_api();
    run->lane_runners = calloc((size_t)lanes, sizeof *run->lane_runners);
    if (!run->lane_runners) {
        ride_task_runner_free(run);
        return ride_set_error(err, errlen, "out of memory"), NULL;
    }
    for (; run->lane_count < lanes; run->lane_count++) {
        run->lane_runners[run->lane_count] = lane_runner_new(run, err, errlen);
        if (!run->lane_runners[run->lane_count]) {
            ride_task_runner_free(run);
            return NULL;
        }
    }
    run->cpu_lanes = ride_task_cpu_lanes_new(lanes, run_on_lane, scale_on_lane,
                                             (void *const *)run->lane_runners, max_frame_bytes,
                                             decode_as, err, errlen);
    if (!run->cpu_lanes) {
        ride_task_runner_free(run);
        return NULL;
    }
    return run;
}

int ride_task_runner_depth(const ride_task_runner *run)
{
    if (run->cpu_lanes)
        return ride_task_cpu_lanes_depth(run->cpu_lanes);
    return run->lanes ? ride_task_lanes_depth(run->lanes) : 1;
}

int ride_task_runner_in_flight(const ride_task_runner *run)
{
    if (run->cpu_lanes)
        return ride_task_cpu_lanes_in_flight(run->cpu_lanes);
    return run->lanes ? ride_task_lanes_in_flight(run->lanes) : run->has_ready;
}

bool ride_task_runner_decodes(const ride_task_runner *run) { return run->cpu_lanes != NULL; }

int64_t ride_task_runner_lane_busy_ns(const ride_task_runner *run)
{
    return run->cpu_lanes ? ride_task_cpu_lanes_busy_ns(run->cpu_lanes) : 0;
}

ride_frame_status ride_task_runner_rejected(const ride_task_runner *run)
{
    return run->rejected;
}

int ride_task_submit_exchange(ride_task_runner *run, ride_frame *in, char *err, size_t errlen)
{
    if (!run || !run->cpu_lanes)
        return ride_task_submit(run, in, err, errlen);
    char local[256];
    if (!err || !errlen) {
        err = local;
        errlen = sizeof local;
    }
    if (!in || (!in->image.data && !in->encoded.pending))
        return ride_set_error(err, errlen, "no input frame");
    return ride_task_cpu_lanes_submit(run->cpu_lanes, in, err, errlen);
}

/* The lane's choice of output encoding becomes the runner's, as for ride_task_run. */
static int collect_from_lanes(ride_task_runner *run, int wait_ms, ride_frame *out, char *err,
                              size_t errlen)
{
    void *lane_ctx = NULL;
    int rc = ride_task_cpu_lanes_collect(run->cpu_lanes, wait_ms, out, &run->rejected, &lane_ctx,
                                         err, errlen);
    if (rc == 1) {
        const ride_task_runner *lane = lane_ctx;
        run->encoding = lane->encoding;
        run->quality = lane->quality;
    }
    return rc;
}

int ride_task_submit(ride_task_runner *run, const ride_frame *in, char *err, size_t errlen)
{
    char local[256];
    if (!err || !errlen) {
        err = local;
        errlen = sizeof local;
    }
    if (!run || !in || !in->image.data)
        return ride_set_error(err, errlen, "no runner or input frame");
    if (run->lanes) {
        int rc = ride_task_lanes_submit(run->lanes, in, err, errlen);
        ride_task_log_cuda_error();
        return rc;
    }
    if (run->has_ready)
        return ride_set_error(err, errlen, "a frame is in flight already: collect it first");
    if (ride_task_run(run, in, &run->ready, err, errlen) != 0)
        return -1;
    run->has_ready = true;
    return 0;
}

/* The ready frame changes places with out, so that out's buffers are the ones the
 * next frame reuses: nothing is copied. */
int ride_task_collect(ride_task_runner *run, int wait, ride_frame *out, char *err, size_t errlen)
{
    return ride_task_collect_within(run, wait ? -1 : 0, out, err, errlen);
}

int ride_task_collect_within(ride_task_runner *run, int wait_ms, ride_frame *out, char *err,
                             size_t errlen)
{
    int wait = wait_ms != 0;
    char local[256];
    if (!err || !errlen) {
        err = local;
        errlen = sizeof local;
    }
    if (!run || !out)
        return ride_set_error(err, errlen, "no runner or output frame");
    run->rejected = RIDE_FRAME_OK;
    if (run->cpu_lanes)
        return collect_from_lanes(run, wait_ms, out, err, errlen);
    if (run->lanes) {
        int rc = ride_task_lanes_collect(run->lanes, wait, out, err, errlen);
        ride_task_log_cuda_error();
        return rc;
    }
    if (!run->has_ready)
        return 0;
    ride_frame kept = *out;
    *out = run->ready;
    run->ready = kept;
    run->has_ready = false;
    return 1;
}
