/* cluster.c - ZooKeeper node paths and the JSON encoders and decoders of every
 * node kind (cluster/cluster.h). Each kind is one node_type (parse + build); an
 * encoder re-decodes its own output, so no node a reader would reject is written. */
#include "cluster/cluster.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <jansson.h>

#include "cluster/zk.h"

#ifndef RIDE_VERSION_STRING
#define RIDE_VERSION_STRING "unknown"
#endif

/* Bounds on what a node may hold. They keep a hostile node from making a reader
 * allocate much more than the node's own size. */
#define TEXT_MAX 4096 /* uris, urls, messages, label and param values */
#define KEY_MAX 256   /* label and param keys, task names, groups */
#define HOST_MAX 255
#define VERSION_MAX 64
#define TOPIC_MAX 249 /* Kafka's own limit */
#define LIST_MAX 65536
#define GPU_INDEX_MAX 1023
#define THREADS_MAX 4096
/* Writers of one partition: sources plus upstream stages' partitions. */
#define WRITERS_MAX (1 << 20)
#define CORES_MAX 1048576
#define FIELD_MAX 160

/* ---- names and paths ---------------------------------------------------------- */

/* Kafka topics and member ids share one alphabet. */
static bool id_chars_valid(const char *s, size_t max)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

bool ride_member_id_valid(const char *id)
{
    return id_chars_valid(id, RIDE_MEMBER_ID_MAX);
}

static bool topic_valid(const char *topic)
{
    return id_chars_valid(topic, TOPIC_MAX);
}

static int path_format(char *buf, size_t len, bool names_ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int path_format(char *buf, size_t len, bool names_ok, const char *fmt, ...)
{
    if (buf && len)
        buf[0] = '\0';
    if (!names_ok || !buf) {
        errno = EINVAL;
        return -1;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len) {
        if (len)
            buf[0] = '\0';
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int ride_cluster_path_worker(char *buf, size_t len, const char *id)
{
    return path_format(buf, len, ride_member_id_valid(id), "/workers/%s", id);
}

int ride_cluster_path_producer(char *buf, size_t len, const char *id)
{
    return path_format(buf, len, ride_member_id_valid(id), "/producers/%s", id);
}

int ride_cluster_path_heartbeat(char *buf, size_t len, const char *member)
{
    return path_format(buf, len, ride_member_id_valid(member), "/heartbeats/%s", member);
}

int ride_cluster_path_assignment(char *buf, size_t len, const char *member)
{
    return path_format(buf, len, ride_member_id_valid(member), "/assignments/%s", member);
}

int ride_cluster_path_app(char *buf, size_t len, const char *app)
{
    return path_format(buf, len, ride_name_valid(app), "/apps/%s", app);
}

int ride_cluster_path_app_state(char *buf, size_t len, const char *app)
{
    return path_format(buf, len, ride_name_valid(app), "/apps/%s/state", app);
}

int ride_cluster_path_app_partitions(char *buf, size_t len, const char *app)
{
    return path_format(buf, len, ride_name_valid(app), "/apps/%s/partitions", app);
}

int ride_cluster_path_stage_partitions(char *buf, size_t len, const char *app,
                                       const char *stage)
{
    return path_format(buf, len, ride_name_valid(app) && ride_name_valid(stage),
                       "/apps/%s/partitions/%s", app, stage);
}

int ride_cluster_path_partition(char *buf, size_t len, const char *app, const char *stage,
                                int partition)
{
    bool ok = ride_name_valid(app) && ride_name_valid(stage) && partition >= 0 &&
              partition < RIDE_PARTITIONS_MAX;
    return path_format(buf, len, ok, "/apps/%s/partitions/%s/%d", app, stage, partition);
}

int ride_cluster_path_app_sources(char *buf, size_t len, const char *app)
{
    return path_format(buf, len, ride_name_valid(app), "/apps/%s/sources", app);
}

int ride_cluster_path_source(char *buf, size_t len, const char *app, const char *source)
{
    return path_format(buf, len, ride_name_valid(app) && ride_name_valid(source),
                       "/apps/%s/sources/%s", app, source);
}

/* ---- rejected data counters --------------------------------------------------- */

static const char *const kind_names[RIDE_CLUSTER_KIND_COUNT] = {
    "kafka",          "api",      "generation", "candidate",       "worker",
    "producer",       "heartbeat", "app",       "app_state",       "partition_owner",
    "source_owner",   "assignment", "event",
};

static _Atomic uint64_t bad_data[RIDE_CLUSTER_KIND_COUNT];

const char *ride_cluster_kind_name(ride_cluster_kind kind)
{
    if ((unsigned)kind >= RIDE_CLUSTER_KIND_COUNT)
        return "unknown";
    return kind_names[kind];
}

uint64_t ride_cluster_bad_data_total(ride_cluster_kind kind)
{
    if ((unsigned)kind >= RIDE_CLUSTER_KIND_COUNT)
        return 0;
    return atomic_load(&bad_data[kind]);
}

static void count_bad(ride_cluster_kind kind)
{
    atomic_fetch_add(&bad_data[kind], 1);
}

/* ---- errors --------------------------------------------------------------------- */

/* Messages and field names are cut to fit their buffers: a cut message still names
 * the node and the start of the field. */
static void text_printf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void text_printf(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* ---- decoding ----------------------------------------------------------------- */

typedef struct dec {
    const char *node; /* the path, or the kind's name when checking an encoding */
    char *err;
    size_t errlen;
    ride_arena *mem;
} dec;

/* "partitions[2].epoch" from a prefix ("" at the top level) and a key. */
static const char *field_name(char *buf, const char *prefix, const char *key)
{
    text_printf(buf, FIELD_MAX, "%s%s%s", prefix, *prefix ? "." : "", key);
    return buf;
}

static int field_fail(dec *d, const char *prefix, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int field_fail(dec *d, const char *prefix, const char *key, const char *fmt, ...)
{
    char field[FIELD_MAX], what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    text_printf(d->err, d->errlen, "%s: field '%s': %s", d->node, field_name(field, prefix, key),
            what);
    return -1;
}

static int out_of_memory(dec *d)
{
    text_printf(d->err, d->errlen, "%s: out of memory", d->node);
    return -1;
}

/* The value of a required key, or NULL with the error set. */
static json_t *required(dec *d, json_t *obj, const char *prefix, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        field_fail(d, prefix, key, "missing");
    return v;
}

static int int_fail(dec *d, const char *prefix, const char *key, int64_t min, int64_t max)
{
    if (max == INT64_MAX)
        return field_fail(d, prefix, key, "expected an integer >= %lld", (long long)min);
    return field_fail(d, prefix, key, "expected an integer in %lld..%lld", (long long)min,
                      (long long)max);
}

static int check_int(dec *d, json_t *v, const char *prefix, const char *key, int64_t min,
                     int64_t max, int64_t *out)
{
    if (!json_is_integer(v))
        return int_fail(d, prefix, key, min, max);
    json_int_t n = json_integer_value(v);
    if (n < min || n > max)
        return int_fail(d, prefix, key, min, max);
    *out = n;
    return 0;
}

static int get_i64(dec *d, json_t *obj, const char *prefix, const char *key, int64_t min,
                   int64_t max, int64_t *out)
{
    json_t *v = required(d, obj, prefix, key);
    return v ? check_int(d, v, prefix, key, min, max, out) : -1;
}

static int get_int(dec *d, json_t *obj, const char *prefix, const char *key, int min, int max,
                   int *out)
{
    int64_t n = 0;
    if (get_i64(d, obj, prefix, key, min, max, &n) < 0)
        return -1;
    *out = (int)n;
    return 0;
}

/* An optional count: absent or null gives 0. */
static int get_count_or_0(dec *d, json_t *obj, const char *prefix, const char *key, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    *out = 0;
    return v && !json_is_null(v) ? check_int(d, v, prefix, key, 0, INT64_MAX, out) : 0;
}

/* An optional integer: absent or null gives def. */
static int get_int_or(dec *d, json_t *obj, const char *prefix, const char *key, int min,
                      int max, int def, int *out)
{
    json_t *v = json_object_get(obj, key);
    int64_t n = def;
    if (v && !json_is_null(v) && check_int(d, v, prefix, key, min, max, &n) < 0)
        return -1;
    *out = (int)n;
    return 0;
}

static int get_u32(dec *d, json_t *obj, const char *prefix, const char *key, uint32_t *out)
{
    int64_t n = 0;
    if (get_i64(d, obj, prefix, key, 0, UINT32_MAX, &n) < 0)
        return -1;
    *out = (uint32_t)n;
    return 0;
}

static int get_bool(dec *d, json_t *obj, const char *prefix, const char *key, bool *out)
{
    json_t *v = required(d, obj, prefix, key);
    if (!v)
        return -1;
    if (!json_is_boolean(v))
        return field_fail(d, prefix, key, "expected true or false");
    *out = json_is_true(v);
    return 0;
}

static int get_number(dec *d, json_t *obj, const char *prefix, const char *key, double min,
                      double max, double *out)
{
    json_t *v = required(d, obj, prefix, key);
    if (!v)
        return -1;
    double x = json_number_value(v);
    if (!json_is_number(v) || !(x >= min && x <= max))
        return field_fail(d, prefix, key, "expected a number in %g..%g", min, max);
    *out = x;
    return 0;
}

/* What a string field must look like. */
typedef enum str_rule {
    STR_TEXT,   /* non-empty, at most max bytes */
    STR_ANY,    /* possibly empty, at most max bytes */
    STR_NAME,   /* ride_name_valid */
    STR_MEMBER, /* ride_member_id_valid */
    STR_TOPIC,  /* a Kafka topic name */
    STR_URL,    /* http:// or https:// */
    STR_CC,     /* compute capability "MAJOR.MINOR" */
} str_rule;

/* 1 to 3 digits before the dot and after it. */
static bool compute_capability_valid(const char *s)
{
    size_t major = strspn(s, "0123456789");
    if (major < 1 || major > 3 || s[major] != '.')
        return false;
    size_t minor = strspn(s + major + 1, "0123456789");
    return minor >= 1 && minor <= 3 && s[major + 1 + minor] == '\0';
}

static bool str_ok(const char *s, str_rule rule, size_t max)
{
    size_t len = strlen(s);
    switch (rule) {
    case STR_TEXT:
        return len > 0 && len <= max;
    case STR_ANY:
        return len <= max;
    case STR_NAME:
        return ride_name_valid(s);
    case STR_MEMBER:
        return ride_member_id_valid(s);
    case STR_TOPIC:
        return topic_valid(s);
    case STR_URL:
        return len <= max && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0) &&
               len > 8;
    case STR_CC:
        return compute_capability_valid(s);
    }
    return false;
}

static int str_fail(dec *d, const char *prefix, const char *key, str_rule rule, size_t max)
{
    switch (rule) {
    case STR_TEXT:
        return field_fail(d, prefix, key, "expected a non-empty string of at most %zu bytes",
                          max);
    case STR_ANY:
        return field_fail(d, prefix, key, "expected a string of at most %zu bytes", max);
    case STR_NAME:
        return field_fail(d, prefix, key,
                          "expected a name (lowercase letters, digits and '-', at most %d bytes)",
                          RIDE_NAME_MAX);
    case STR_MEMBER:
        return field_fail(d, prefix, key,
                          "expected a member id ([A-Za-z0-9._-], at most %d bytes)",
                          RIDE_MEMBER_ID_MAX);
    case STR_TOPIC:
        return field_fail(d, prefix, key,
                          "expected a Kafka topic name ([A-Za-z0-9._-], at most %d bytes)",
                          TOPIC_MAX);
    case STR_URL:
        return field_fail(d, prefix, key, "expected an http:// or https:// url of at most %zu "
                          "bytes", max);
    case STR_CC:
        return field_fail(d, prefix, key, "expected a compute capability like \"9.0\"");
    }
    return -1;
}

static int check_str(dec *d, json_t *v, const char *prefix, const char *key, str_rule rule,
                     size_t max, const char **out)
{
    if (!json_is_string(v) || !str_ok(json_string_value(v), rule, max))
        return str_fail(d, prefix, key, rule, max);
    *out = ride_arena_strdup(d->mem, json_string_value(v));
    return *out ? 0 : out_of_memory(d);
}

static int get_str(dec *d, json_t *obj, const char *prefix, const char *key, str_rule rule,
                   size_t max, const char **out)
{
    json_t *v = required(d, obj, prefix, key);
    return v ? check_str(d, v, prefix, key, rule, max, out) : -1;
}

/* An optional string: absent or null gives NULL. */
static int get_str_opt(dec *d, json_t *obj, const char *prefix, const char *key, str_rule rule,
                       size_t max, const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    return check_str(d, v, prefix, key, rule, max, out);
}

/* One of names[] (NULL-terminated); the index into *out. */
static int get_enum(dec *d, json_t *obj, const char *prefix, const char *key,
                    const char *const *names, int *out)
{
    json_t *v = required(d, obj, prefix, key);
    if (!v)
        return -1;
    const char *s = json_string_value(v);
    for (int i = 0; s && names[i]; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    char list[256] = "";
    size_t used = 0;
    for (int i = 0; names[i] && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s\"%s\"", i ? ", " : "",
                                 names[i]);
    return field_fail(d, prefix, key, "expected one of %s", list);
}

/* A required array of at most LIST_MAX elements. */
static json_t *get_array(dec *d, json_t *obj, const char *prefix, const char *key)
{
    json_t *v = required(d, obj, prefix, key);
    if (v && (!json_is_array(v) || json_array_size(v) > LIST_MAX)) {
        field_fail(d, prefix, key, "expected an array of at most %d elements", LIST_MAX);
        return NULL;
    }
    return v;
}

/* Element i of an array field must be an object; its name becomes the prefix. */
static json_t *get_element(dec *d, json_t *array, const char *prefix, const char *key, size_t i,
                           char *elem_prefix)
{
    char field[FIELD_MAX];
    text_printf(elem_prefix, FIELD_MAX, "%s[%zu]", field_name(field, prefix, key), i);
    json_t *e = json_array_get(array, i);
    if (!json_is_object(e)) {
        text_printf(d->err, d->errlen, "%s: field '%s': expected an object", d->node, elem_prefix);
        return NULL;
    }
    return e;
}

/* A required object of string values (labels, params). */
static int get_map(dec *d, json_t *obj, const char *prefix, const char *key, ride_kv **out,
                   size_t *count)
{
    json_t *m = required(d, obj, prefix, key);
    if (!m)
        return -1;
    if (!json_is_object(m) || json_object_size(m) > LIST_MAX)
        return field_fail(d, prefix, key, "expected an object of at most %d strings", LIST_MAX);
    size_t n = json_object_size(m);
    ride_kv *kv = ride_arena_array(d->mem, n, sizeof *kv);
    if (!kv)
        return out_of_memory(d);
    char field[FIELD_MAX];
    field_name(field, prefix, key);
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) {
        if (!str_ok(k, STR_TEXT, KEY_MAX))
            return field_fail(d, prefix, key, "expected keys of 1..%d bytes", KEY_MAX);
        if (check_str(d, v, field, k, STR_ANY, TEXT_MAX, &kv[i].value) < 0)
            return -1;
        if (!(kv[i].key = ride_arena_strdup(d->mem, k)))
            return out_of_memory(d);
        i++;
    }
    *out = kv;
    *count = n;
    return 0;
}

/* A required array of strings. */
static int get_str_list(dec *d, json_t *obj, const char *prefix, const char *key, str_rule rule,
                        size_t max, const char ***out, size_t *count)
{
    json_t *a = get_array(d, obj, prefix, key);
    if (!a)
        return -1;
    size_t n = json_array_size(a);
    const char **list = ride_arena_array(d->mem, n, sizeof *list);
    if (!list)
        return out_of_memory(d);
    char field[FIELD_MAX], elem[FIELD_MAX];
    field_name(field, prefix, key);
    for (size_t i = 0; i < n; i++) {
        text_printf(elem, sizeof elem, "%s[%zu]", field, i);
        if (check_str(d, json_array_get(a, i), "", elem, rule, max, &list[i]) < 0)
            return -1;
    }
    *out = list;
    *count = n;
    return 0;
}

/* Allocates the elements of an array field and calls parse on each. */
typedef int (*element_fn)(dec *d, json_t *obj, const char *prefix, void *out);

static int get_objects(dec *d, json_t *obj, const char *key, size_t size, element_fn parse,
                       void **out, size_t *count)
{
    json_t *a = get_array(d, obj, "", key);
    if (!a)
        return -1;
    size_t n = json_array_size(a);
    unsigned char *items = ride_arena_array(d->mem, n, size);
    if (!items)
        return out_of_memory(d);
    char prefix[FIELD_MAX];
    for (size_t i = 0; i < n; i++) {
        json_t *e = get_element(d, a, "", key, i, prefix);
        if (!e || parse(d, e, prefix, items + i * size) < 0)
            return -1;
    }
    *out = items;
    *count = n;
    return 0;
}

/* ---- encoding helpers ---------------------------------------------------------- */

/* A NULL string or one that is not UTF-8 becomes null, which the check after
 * encoding then reports by field name. */
static void put_str(json_t *obj, const char *key, const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    json_object_set_new(obj, key, v ? v : json_null());
}

static void put_str_opt(json_t *obj, const char *key, const char *s)
{
    if (s)
        put_str(obj, key, s);
}

static void put_int(json_t *obj, const char *key, int64_t n)
{
    json_object_set_new(obj, key, json_integer(n));
}

static void put_bool(json_t *obj, const char *key, bool b)
{
    json_object_set_new(obj, key, json_boolean(b));
}

static void put_enum(json_t *obj, const char *key, const char *const *names, int count, int v)
{
    json_object_set_new(obj, key, v >= 0 && v < count ? json_string(names[v]) : json_null());
}

static void put_map(json_t *obj, const char *key, const ride_kv *kv, size_t n)
{
    json_t *m = json_object();
    for (size_t i = 0; kv && i < n; i++) {
        json_t *v = kv[i].value ? json_string(kv[i].value) : NULL;
        if (kv[i].key)
            json_object_set_new(m, kv[i].key, v ? v : json_null());
        else
            json_decref(v);
    }
    json_object_set_new(obj, key, m);
}

static void put_str_list(json_t *obj, const char *key, const char *const *list, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; list && i < n; i++) {
        json_t *v = list[i] ? json_string(list[i]) : NULL;
        json_array_append_new(a, v ? v : json_null());
    }
    json_object_set_new(obj, key, a);
}

/* ---- node types ---------------------------------------------------------------- */

static const char *const phase_names[] = {"pending", "running", "deleting", NULL};
static const char *const encoding_names[] = {"raw", "jpeg", "png", NULL};
static const char *const delivery_names[] = {"at-least-once", "exactly-once", NULL};
static const char *const device_names[] = {"cpu", "gpu", "any", NULL};
static const char *const pace_names[] = {"source", "max", NULL};

const char *ride_app_phase_name(ride_app_phase phase)
{
    return (unsigned)phase <= RIDE_APP_DELETING ? phase_names[phase] : "invalid";
}

/* kafka */

static int parse_kafka(dec *d, json_t *o, void *out)
{
    ride_cluster_kafka *v = out;
    if (get_str(d, o, "", "bootstrap_servers", STR_TEXT, TEXT_MAX, &v->bootstrap_servers) < 0)
        return -1;
    return get_bool(d, o, "", "embedded", &v->embedded);
}

static json_t *build_kafka(const void *in)
{
    const ride_cluster_kafka *v = in;
    json_t *o = json_object();
    put_str(o, "bootstrap_servers", v->bootstrap_servers);
    put_bool(o, "embedded", v->embedded);
    return o;
}

/* api */

static int parse_api(dec *d, json_t *o, void *out)
{
    ride_cluster_api *v = out;
    if (get_str(d, o, "", "url", STR_URL, TEXT_MAX, &v->url) < 0 ||
        get_str(d, o, "", "master", STR_MEMBER, 0, &v->master) < 0)
        return -1;
    return get_str_opt(d, o, "", "liveness", STR_TEXT, TEXT_MAX, &v->liveness);
}

static json_t *build_api(const void *in)
{
    const ride_cluster_api *v = in;
    json_t *o = json_object();
    put_str(o, "url", v->url);
    put_str(o, "master", v->master);
    if (v->liveness)
        put_str(o, "liveness", v->liveness);
    return o;
}

/* candidate */

static int parse_candidate(dec *d, json_t *o, void *out)
{
    ride_cluster_candidate *v = out;
    return get_str(d, o, "", "id", STR_MEMBER, 0, &v->id);
}

static json_t *build_candidate(const void *in)
{
    const ride_cluster_candidate *v = in;
    json_t *o = json_object();
    put_str(o, "id", v->id);
    return o;
}

/* worker */

static int parse_gpu(dec *d, json_t *o, const char *prefix, void *out)
{
    ride_cluster_gpu *g = out;
    if (get_int(d, o, prefix, "index", 0, GPU_INDEX_MAX, &g->index) < 0 ||
        get_str(d, o, prefix, "name", STR_TEXT, KEY_MAX, &g->name) < 0 ||
        get_i64(d, o, prefix, "memory_mb", 0, INT64_MAX, &g->memory_mb) < 0)
        return -1;
    return get_str(d, o, prefix, "compute_capability", STR_CC, 0, &g->compute_capability);
}

static int parse_worker(dec *d, json_t *o, void *out)
{
    ride_cluster_worker *v = out;
    if (get_str(d, o, "", "id", STR_MEMBER, 0, &v->id) < 0 ||
        get_str(d, o, "", "host", STR_TEXT, HOST_MAX, &v->host) < 0 ||
        get_i64(d, o, "", "pid", 1, INT32_MAX, &v->pid) < 0 ||
        get_str(d, o, "", "version", STR_TEXT, VERSION_MAX, &v->version) < 0 ||
        get_int(d, o, "", "cores", 1, CORES_MAX, &v->cores) < 0 ||
        get_i64(d, o, "", "memory_mb", 1, INT64_MAX, &v->memory_mb) < 0)
        return -1;
    if (get_objects(d, o, "gpus", sizeof *v->gpus, parse_gpu, (void **)&v->gpus,
                    &v->gpu_count) < 0 ||
        get_map(d, o, "", "labels", &v->labels, &v->label_count) < 0)
        return -1;
    return get_str_list(d, o, "", "plugin_tasks", STR_TEXT, KEY_MAX, &v->plugin_tasks,
                        &v->plugin_task_count);
}

static json_t *build_worker(const void *in)
{
    const ride_cluster_worker *v = in;
    json_t *o = json_object();
    put_str(o, "id", v->id);
    put_str(o, "host", v->host);
    put_int(o, "pid", v->pid);
    put_str(o, "version", v->version);
    put_int(o, "cores", v->cores);
    put_int(o, "memory_mb", v->memory_mb);
    json_t *gpus = json_array();
    for (size_t i = 0; v->gpus && i < v->gpu_count; i++) {
        const ride_cluster_gpu *g = &v->gpus[i];
        json_t *e = json_object();
        put_int(e, "index", g->index);
        put_str(e, "name", g->name);
        put_int(e, "memory_mb", g->memory_mb);
        put_str(e, "compute_capability", g->compute_capability);
        json_array_append_new(gpus, e);
    }
    json_object_set_new(o, "gpus", gpus);
    put_map(o, "labels", v->labels, v->label_count);
    put_str_list(o, "plugin_tasks", v->plugin_tasks, v->plugin_task_count);
    return o;
}

/* producer */

static int parse_producer(dec *d, json_t *o, void *out)
{
    ride_cluster_producer *v = out;
    if (get_str(d, o, "", "id", STR_MEMBER, 0, &v->id) < 0 ||
        get_str(d, o, "", "host", STR_TEXT, HOST_MAX, &v->host) < 0 ||
        get_i64(d, o, "", "pid", 1, INT32_MAX, &v->pid) < 0 ||
        get_str(d, o, "", "version", STR_TEXT, VERSION_MAX, &v->version) < 0 ||
        get_str_list(d, o, "", "local_sources", STR_TEXT, RIDE_PATH_MAX, &v->local_sources,
                     &v->local_source_count) < 0)
        return -1;
    return get_map(d, o, "", "labels", &v->labels, &v->label_count);
}

static json_t *build_producer(const void *in)
{
    const ride_cluster_producer *v = in;
    json_t *o = json_object();
    put_str(o, "id", v->id);
    put_str(o, "host", v->host);
    put_int(o, "pid", v->pid);
    put_str(o, "version", v->version);
    put_str_list(o, "local_sources", v->local_sources, v->local_source_count);
    put_map(o, "labels", v->labels, v->label_count);
    return o;
}

/* heartbeat */

static int parse_hb_partition(dec *d, json_t *o, const char *prefix, void *out)
{
    ride_cluster_hb_partition *p = out;
    if (get_str(d, o, prefix, "app", STR_NAME, 0, &p->app) < 0 ||
        get_str(d, o, prefix, "stage", STR_NAME, 0, &p->stage) < 0 ||
        get_int(d, o, prefix, "partition", 0, RIDE_PARTITIONS_MAX - 1, &p->partition) < 0 ||
        get_i64(d, o, prefix, "epoch", 0, INT64_MAX, &p->epoch) < 0 ||
        get_i64(d, o, prefix, "position", -1, INT64_MAX, &p->position) < 0 ||
        get_i64(d, o, prefix, "committed", -1, INT64_MAX, &p->committed) < 0 ||
        get_i64(d, o, prefix, "frames_processed", 0, INT64_MAX, &p->frames_processed) < 0 ||
        get_count_or_0(d, o, prefix, "messages_written", &p->messages_written) < 0)
        return -1;
    json_t *busy = json_object_get(o, "busy_ms");
    p->busy_ms = -1;
    return busy && !json_is_null(busy) ? check_int(d, busy, prefix, "busy_ms", 0, INT64_MAX,
                                                    &p->busy_ms)
                                       : 0;
}

static int parse_hb_source(dec *d, json_t *o, const char *prefix, void *out)
{
    ride_cluster_hb_source *s = out;
    if (get_str(d, o, prefix, "app", STR_NAME, 0, &s->app) < 0 ||
        get_str(d, o, prefix, "source", STR_NAME, 0, &s->source) < 0 ||
        get_i64(d, o, prefix, "epoch", 0, INT64_MAX, &s->epoch) < 0 ||
        get_i64(d, o, prefix, "frames_produced", 0, INT64_MAX, &s->frames_produced) < 0 ||
        get_i64(d, o, prefix, "frames_dropped", 0, INT64_MAX, &s->frames_dropped) < 0)
        return -1;
    return get_count_or_0(d, o, prefix, "messages_produced", &s->messages_produced);
}

static int parse_heartbeat(dec *d, json_t *o, void *out)
{
    ride_cluster_heartbeat *v = out;
    if (get_i64(d, o, "", "ts_ms", 0, INT64_MAX, &v->ts_ms) < 0 ||
        get_objects(d, o, "partitions", sizeof *v->partitions, parse_hb_partition,
                    (void **)&v->partitions, &v->partition_count) < 0 ||
        get_objects(d, o, "sources", sizeof *v->sources, parse_hb_source,
                    (void **)&v->sources, &v->source_count) < 0)
        return -1;
    return get_count_or_0(d, o, "", "stalled_ms", &v->stalled_ms);
}

static json_t *build_heartbeat(const void *in)
{
    const ride_cluster_heartbeat *v = in;
    json_t *o = json_object();
    put_int(o, "ts_ms", v->ts_ms);
    if (v->stalled_ms > 0)
        put_int(o, "stalled_ms", v->stalled_ms);
    json_t *parts = json_array();
    for (size_t i = 0; v->partitions && i < v->partition_count; i++) {
        const ride_cluster_hb_partition *p = &v->partitions[i];
        json_t *e = json_object();
        put_str(e, "app", p->app);
        put_str(e, "stage", p->stage);
        put_int(e, "partition", p->partition);
        put_int(e, "epoch", p->epoch);
        put_int(e, "position", p->position);
        put_int(e, "committed", p->committed);
        put_int(e, "frames_processed", p->frames_processed);
        put_int(e, "messages_written", p->messages_written);
        if (p->busy_ms >= 0)
            put_int(e, "busy_ms", p->busy_ms);
        json_array_append_new(parts, e);
    }
    json_object_set_new(o, "partitions", parts);
    json_t *sources = json_array();
    for (size_t i = 0; v->sources && i < v->source_count; i++) {
        const ride_cluster_hb_source *s = &v->sources[i];
        json_t *e = json_object();
        put_str(e, "app", s->app);
        put_str(e, "source", s->source);
        put_int(e, "epoch", s->epoch);
        put_int(e, "frames_produced", s->frames_produced);
        put_int(e, "frames_dropped", s->frames_dropped);
        put_int(e, "messages_produced", s->messages_produced);
        json_array_append_new(sources, e);
    }
    json_object_set_new(o, "sources", sources);
    return o;
}

/* app state */

static int parse_app_state(dec *d, json_t *o, void *out)
{
    ride_cluster_app_state *v = out;
    int phase;
    if (get_enum(d, o, "", "phase", phase_names, &phase) < 0 ||
        get_i64(d, o, "", "generation", 0, INT64_MAX, &v->generation) < 0 ||
        get_i64(d, o, "", "created_ms", 0, INT64_MAX, &v->created_ms) < 0 ||
        get_i64(d, o, "", "updated_ms", 0, INT64_MAX, &v->updated_ms) < 0)
        return -1;
    v->phase = (ride_app_phase)phase;
    return get_str(d, o, "", "message", STR_ANY, TEXT_MAX, &v->message);
}

static json_t *build_app_state(const void *in)
{
    const ride_cluster_app_state *v = in;
    json_t *o = json_object();
    put_enum(o, "phase", phase_names, 3, (int)v->phase);
    put_int(o, "generation", v->generation);
    put_int(o, "created_ms", v->created_ms);
    put_int(o, "updated_ms", v->updated_ms);
    put_str(o, "message", v->message);
    return o;
}

/* partition owner */

static int parse_partition_owner(dec *d, json_t *o, void *out)
{
    ride_cluster_partition_owner *v = out;
    if (get_str(d, o, "", "owner", STR_MEMBER, 0, &v->owner) < 0)
        return -1;
    return get_i64(d, o, "", "epoch", 0, INT64_MAX, &v->epoch);
}

static json_t *build_partition_owner(const void *in)
{
    const ride_cluster_partition_owner *v = in;
    json_t *o = json_object();
    put_str(o, "owner", v->owner);
    put_int(o, "epoch", v->epoch);
    return o;
}

/* source owner */

static int parse_source_owner(dec *d, json_t *o, void *out)
{
    ride_cluster_source_owner *v = out;
    if (get_str(d, o, "", "producer", STR_MEMBER, 0, &v->producer) < 0 ||
        get_i64(d, o, "", "epoch", 0, INT64_MAX, &v->epoch) < 0)
        return -1;
    return get_u32(d, o, "", "stream_id", &v->stream_id);
}

static json_t *build_source_owner(const void *in)
{
    const ride_cluster_source_owner *v = in;
    json_t *o = json_object();
    put_str(o, "producer", v->producer);
    put_int(o, "epoch", v->epoch);
    put_int(o, "stream_id", v->stream_id);
    return o;
}

/* assignment */

static int parse_partition_output(dec *d, json_t *o, const char *prefix,
                                  ride_cluster_partition_task *p)
{
    int format = RIDE_ENC_PNG;
    if (get_str_opt(d, o, prefix, "output_topic", STR_TOPIC, 0, &p->output_topic) < 0 ||
        get_str_opt(d, o, prefix, "output_path", STR_TEXT, RIDE_PATH_MAX, &p->output_path) < 0)
        return -1;
    if (p->output_topic && p->output_path)
        return field_fail(d, prefix, "output_path", "not allowed with 'output_topic'");
    if (get_str_opt(d, o, prefix, "output_group", STR_TEXT, KEY_MAX, &p->output_group) < 0)
        return -1;
    if (p->output_group && !p->output_topic)
        return field_fail(d, prefix, "output_group", "only allowed with 'output_topic'");
    if (p->output_group &&
        get_int_or(d, o, prefix, "output_writers", 0, WRITERS_MAX, 0, &p->output_writers) < 0)
        return -1;
    if (p->output_topic &&
        get_int(d, o, prefix, "output_partitions", 1, RIDE_PARTITIONS_MAX,
                &p->output_partitions) < 0)
        return -1;
    if (p->output_path && json_object_get(o, "output_format") &&
        get_enum(d, o, prefix, "output_format", encoding_names, &format) < 0)
        return -1;
    p->output_format = (ride_encoding)format;
    return 0;
}

static int parse_partition_task(dec *d, json_t *o, const char *prefix, void *out)
{
    ride_cluster_partition_task *p = out;
    int delivery, device;
    if (get_str(d, o, prefix, "app", STR_NAME, 0, &p->app) < 0 ||
        get_str(d, o, prefix, "stage", STR_NAME, 0, &p->stage) < 0 ||
        get_int(d, o, prefix, "partition", 0, RIDE_PARTITIONS_MAX - 1, &p->partition) < 0 ||
        get_i64(d, o, prefix, "epoch", 0, INT64_MAX, &p->epoch) < 0 ||
        get_str(d, o, prefix, "input_topic", STR_TOPIC, 0, &p->input_topic) < 0 ||
        parse_partition_output(d, o, prefix, p) < 0 ||
        get_str(d, o, prefix, "group", STR_TEXT, KEY_MAX, &p->group) < 0 ||
        get_enum(d, o, prefix, "delivery", delivery_names, &delivery) < 0 ||
        get_str(d, o, prefix, "task", STR_TEXT, KEY_MAX, &p->task) < 0 ||
        get_map(d, o, prefix, "params", &p->params, &p->param_count) < 0 ||
        get_enum(d, o, prefix, "device", device_names, &device) < 0)
        return -1;
    p->delivery = (ride_delivery)delivery;
    p->device = (ride_stage_device)device;
    return get_int_or(d, o, prefix, "threads", 0, THREADS_MAX, 0, &p->threads);
}

static int parse_source_task(dec *d, json_t *o, const char *prefix, void *out)
{
    ride_cluster_source_task *s = out;
    int encoding, pace;
    if (get_str(d, o, prefix, "app", STR_NAME, 0, &s->app) < 0 ||
        get_str(d, o, prefix, "source", STR_NAME, 0, &s->source) < 0 ||
        get_i64(d, o, prefix, "epoch", 0, INT64_MAX, &s->epoch) < 0 ||
        get_u32(d, o, prefix, "stream_id", &s->stream_id) < 0 ||
        get_str(d, o, prefix, "uri", STR_TEXT, RIDE_PATH_MAX, &s->uri) < 0 ||
        get_number(d, o, prefix, "fps", 0.0, RIDE_FPS_MAX, &s->fps) < 0 ||
        get_enum(d, o, prefix, "encoding", encoding_names, &encoding) < 0 ||
        get_int(d, o, prefix, "quality", 1, 100, &s->quality) < 0 ||
        get_bool(d, o, prefix, "loop", &s->loop) < 0 ||
        get_enum(d, o, prefix, "pace", pace_names, &pace) < 0 ||
        get_str(d, o, prefix, "topic", STR_TOPIC, 0, &s->topic) < 0)
        return -1;
    s->encoding = (ride_encoding)encoding;
    s->pace = (ride_pace)pace;
    if (get_int_or(d, o, prefix, "writers", 0, WRITERS_MAX, 0, &s->writers) < 0)
        return -1;
    return get_int(d, o, prefix, "partitions", 1, RIDE_PARTITIONS_MAX, &s->partitions);
}

static int parse_assignment(dec *d, json_t *o, void *out)
{
    ride_cluster_assignment *v = out;
    if (get_i64(d, o, "", "generation", 0, INT64_MAX, &v->generation) < 0 ||
        get_i64(d, o, "", "epoch", 0, INT64_MAX, &v->epoch) < 0 ||
        get_objects(d, o, "partitions", sizeof *v->partitions, parse_partition_task,
                    (void **)&v->partitions, &v->partition_count) < 0)
        return -1;
    return get_objects(d, o, "sources", sizeof *v->sources, parse_source_task,
                       (void **)&v->sources, &v->source_count);
}

static json_t *build_partition_task(const ride_cluster_partition_task *p)
{
    json_t *e = json_object();
    put_str(e, "app", p->app);
    put_str(e, "stage", p->stage);
    put_int(e, "partition", p->partition);
    put_int(e, "epoch", p->epoch);
    put_str(e, "input_topic", p->input_topic);
    put_str_opt(e, "output_topic", p->output_topic);
    if (p->output_topic)
        put_int(e, "output_partitions", p->output_partitions);
    put_str_opt(e, "output_group", p->output_group);
    if (p->output_group && p->output_writers)
        put_int(e, "output_writers", p->output_writers);
    put_str_opt(e, "output_path", p->output_path);
    if (p->output_path)
        put_enum(e, "output_format", encoding_names, 3, (int)p->output_format);
    put_str(e, "group", p->group);
    put_enum(e, "delivery", delivery_names, 2, (int)p->delivery);
    put_str(e, "task", p->task);
    put_map(e, "params", p->params, p->param_count);
    put_enum(e, "device", device_names, 3, (int)p->device);
    put_int(e, "threads", p->threads);
    return e;
}

static json_t *build_source_task(const ride_cluster_source_task *s)
{
    json_t *e = json_object();
    put_str(e, "app", s->app);
    put_str(e, "source", s->source);
    put_int(e, "epoch", s->epoch);
    put_int(e, "stream_id", s->stream_id);
    put_str(e, "uri", s->uri);
    json_object_set_new(e, "fps", json_real(s->fps));
    put_enum(e, "encoding", encoding_names, 3, (int)s->encoding);
    put_int(e, "quality", s->quality);
    put_bool(e, "loop", s->loop);
    put_enum(e, "pace", pace_names, 2, (int)s->pace);
    put_str(e, "topic", s->topic);
    put_int(e, "partitions", s->partitions);
    if (s->writers)
        put_int(e, "writers", s->writers);
    return e;
}

static json_t *build_assignment(const void *in)
{
    const ride_cluster_assignment *v = in;
    json_t *o = json_object();
    put_int(o, "generation", v->generation);
    put_int(o, "epoch", v->epoch);
    json_t *parts = json_array();
    for (size_t i = 0; v->partitions && i < v->partition_count; i++)
        json_array_append_new(parts, build_partition_task(&v->partitions[i]));
    json_object_set_new(o, "partitions", parts);
    json_t *sources = json_array();
    for (size_t i = 0; v->sources && i < v->source_count; i++)
        json_array_append_new(sources, build_source_task(&v->sources[i]));
    json_object_set_new(o, "sources", sources);
    return o;
}

/* event */

static int parse_event(dec *d, json_t *o, void *out)
{
    ride_cluster_event *v = out;
    if (get_i64(d, o, "", "ts_ms", 0, INT64_MAX, &v->ts_ms) < 0 ||
        get_str(d, o, "", "type", STR_TEXT, KEY_MAX, &v->type) < 0 ||
        get_str_opt(d, o, "", "app", STR_NAME, 0, &v->app) < 0 ||
        get_str_opt(d, o, "", "stage", STR_NAME, 0, &v->stage) < 0 ||
        get_int_or(d, o, "", "partition", 0, RIDE_PARTITIONS_MAX - 1, -1, &v->partition) < 0 ||
        get_str_opt(d, o, "", "member", STR_MEMBER, 0, &v->member) < 0)
        return -1;
    json_t *m = json_object_get(o, "message");
    v->message = "";
    return m ? check_str(d, m, "", "message", STR_ANY, TEXT_MAX, &v->message) : 0;
}

static json_t *build_event(const void *in)
{
    const ride_cluster_event *v = in;
    json_t *o = json_object();
    put_int(o, "ts_ms", v->ts_ms);
    put_str(o, "type", v->type);
    put_str_opt(o, "app", v->app);
    put_str_opt(o, "stage", v->stage);
    if (v->partition != -1)
        put_int(o, "partition", v->partition);
    put_str_opt(o, "member", v->member);
    put_str(o, "message", v->message ? v->message : "");
    return o;
}

/* ---- generic encode / decode ------------------------------------------------------ */

typedef struct node_type {
    ride_cluster_kind kind;
    size_t size;       /* of the struct */
    size_t mem_offset; /* of its arena pointer */
    int (*parse)(dec *d, json_t *root, void *out);
    json_t *(*build)(const void *in);
} node_type;

#define NODE_TYPE(kind, type, name)                                                          \
    static const node_type name##_type = {kind, sizeof(type), offsetof(type, mem), parse_##name, \
                                          build_##name}

NODE_TYPE(RIDE_CLUSTER_KAFKA, ride_cluster_kafka, kafka);
NODE_TYPE(RIDE_CLUSTER_API, ride_cluster_api, api);
NODE_TYPE(RIDE_CLUSTER_CANDIDATE, ride_cluster_candidate, candidate);
NODE_TYPE(RIDE_CLUSTER_WORKER, ride_cluster_worker, worker);
NODE_TYPE(RIDE_CLUSTER_PRODUCER, ride_cluster_producer, producer);
NODE_TYPE(RIDE_CLUSTER_HEARTBEAT, ride_cluster_heartbeat, heartbeat);
NODE_TYPE(RIDE_CLUSTER_APP_STATE, ride_cluster_app_state, app_state);
NODE_TYPE(RIDE_CLUSTER_PARTITION_OWNER, ride_cluster_partition_owner, partition_owner);
NODE_TYPE(RIDE_CLUSTER_SOURCE_ASSIGNMENT, ride_cluster_source_owner, source_owner);
NODE_TYPE(RIDE_CLUSTER_ASSIGNMENT, ride_cluster_assignment, assignment);
NODE_TYPE(RIDE_CLUSTER_EVENT, ride_cluster_event, event);

static ride_arena **mem_of(const node_type *t, void *v)
{
    return (ride_arena **)((unsigned char *)v + t->mem_offset);
}

static void node_free(const node_type *t, void *v)
{
    if (!v)
        return;
    ride_arena_free(*mem_of(t, v));
    memset(v, 0, t->size);
}

/* Node data must be present and not larger than ZooKeeper allows. */
static int data_check(const char *node, const void *data, size_t len, char *err, size_t errlen)
{
    if (!data || len == 0) {
        text_printf(err, errlen, "%s: no data (expected JSON)", node);
        return -1;
    }
    if (len > RIDE_ZK_DATA_MAX) {
        text_printf(err, errlen, "%s: %zu bytes of data, more than %d", node, len,
                    RIDE_ZK_DATA_MAX);
        return -1;
    }
    return 0;
}

/* Parses without counting: encoders check their own output with it. */
static int node_parse(const node_type *t, const char *node, const void *data, size_t len,
                      void *out, char *err, size_t errlen)
{
    memset(out, 0, t->size);
    if (data_check(node, data, len, err, errlen) < 0)
        return -1;
    json_error_t jerr;
    /* Without JSON_ALLOW_NUL jansson refuses "\u0000", so every string is C-safe;
     * it also refuses invalid UTF-8 and nesting deeper than 2048. */
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        text_printf(err, errlen, "%s: not valid JSON: %s (line %d, column %d)", node, jerr.text,
                jerr.line, jerr.column);
        return -1;
    }
    int rc = -1;
    dec d = {.node = node, .err = err, .errlen = errlen};
    d.mem = ride_arena_new();
    if (!d.mem)
        out_of_memory(&d);
    else if (!json_is_object(root))
        text_printf(err, errlen, "%s: expected a JSON object", node);
    else
        rc = t->parse(&d, root, out);
    json_decref(root);
    *mem_of(t, out) = d.mem;
    if (rc < 0)
        node_free(t, out);
    return rc;
}

static int node_decode(const node_type *t, const char *node, const void *data, size_t len,
                       void *out, char *err, size_t errlen)
{
    if (!node)
        node = "<node>";
    if (node_parse(t, node, data, len, out, err, errlen) < 0) {
        count_bad(t->kind);
        return -1;
    }
    return 0;
}

static char *node_encode(const node_type *t, const void *in, char *err, size_t errlen)
{
    const char *name = kind_names[t->kind];
    if (!in) {
        text_printf(err, errlen, "%s: nothing to encode", name);
        return NULL;
    }
    json_t *o = t->build(in);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text) {
        text_printf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    /* A node no reader would accept must never be written. */
    union {
        ride_cluster_kafka kafka;
        ride_cluster_api api;
        ride_cluster_candidate candidate;
        ride_cluster_worker worker;
        ride_cluster_producer producer;
        ride_cluster_heartbeat heartbeat;
        ride_cluster_app_state app_state;
        ride_cluster_partition_owner partition_owner;
        ride_cluster_source_owner source_owner;
        ride_cluster_assignment assignment;
        ride_cluster_event event;
    } check;
    if (node_parse(t, name, text, strlen(text), &check, err, errlen) < 0) {
        free(text);
        return NULL;
    }
    node_free(t, &check);
    return text;
}

#define NODE_API(name, type)                                                                 \
    char *ride_cluster_##name##_encode(const type *v, char *err, size_t errlen)              \
    {                                                                                        \
        return node_encode(&name##_type, v, err, errlen);                                    \
    }                                                                                        \
    int ride_cluster_##name##_decode(const char *node, const void *data, size_t len,         \
                                     type *out, char *err, size_t errlen)                    \
    {                                                                                        \
        return node_decode(&name##_type, node, data, len, out, err, errlen);                 \
    }                                                                                        \
    void ride_cluster_##name##_free(type *v)                                                 \
    {                                                                                        \
        node_free(&name##_type, v);                                                          \
    }

NODE_API(kafka, ride_cluster_kafka)
NODE_API(api, ride_cluster_api)
NODE_API(candidate, ride_cluster_candidate)
NODE_API(worker, ride_cluster_worker)
NODE_API(producer, ride_cluster_producer)
NODE_API(heartbeat, ride_cluster_heartbeat)
NODE_API(app_state, ride_cluster_app_state)
NODE_API(partition_owner, ride_cluster_partition_owner)
NODE_API(source_owner, ride_cluster_source_owner)
NODE_API(assignment, ride_cluster_assignment)
NODE_API(event, ride_cluster_event)

/* ---- generation ------------------------------------------------------------------ */

char *ride_cluster_generation_encode(int64_t generation, char *err, size_t errlen)
{
    if (generation < 0) {
        text_printf(err, errlen, "generation: expected an integer >= 0");
        return NULL;
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)generation);
    char *text = strdup(buf);
    if (!text)
        text_printf(err, errlen, "generation: out of memory");
    return text;
}

int ride_cluster_generation_decode(const char *node, const void *data, size_t len,
                                   int64_t *out, char *err, size_t errlen)
{
    const unsigned char *s = data;
    int64_t n = 0;
    bool ok = s && len > 0 && len <= 19 && !(len > 1 && s[0] == '0');
    for (size_t i = 0; ok && i < len; i++) {
        ok = s[i] >= '0' && s[i] <= '9' && n <= (INT64_MAX - (s[i] - '0')) / 10;
        if (ok)
            n = n * 10 + (s[i] - '0');
    }
    *out = ok ? n : 0;
    if (ok)
        return 0;
    text_printf(err, errlen, "%s: expected a decimal generation >= 0 (digits only)",
            node ? node : "<node>");
    count_bad(RIDE_CLUSTER_GENERATION);
    return -1;
}

/* ---- stored manifest ----------------------------------------------------------------- */

int ride_cluster_app_manifest_parse(const char *app, const void *data, size_t len,
                                    ride_manifest *out, char *err, size_t errlen)
{
    char path[RIDE_ZK_PATH_MAX];
    char name[RIDE_ZK_PATH_MAX + 8];
    memset(out, 0, sizeof *out);
    if (ride_cluster_path_app(path, sizeof path, app) < 0) {
        text_printf(err, errlen, "invalid application name");
        count_bad(RIDE_CLUSTER_APP);
        return -1;
    }
    snprintf(name, sizeof name, "zk:%s", path);
    if (data_check(name, data, len, err, errlen) < 0) {
        count_bad(RIDE_CLUSTER_APP);
        return -1;
    }
    ride_parse_error perr;
    if (ride_manifest_parse(name, data, len, out, &perr) < 0) {
        if (err && errlen)
            ride_parse_error_format(&perr, err, errlen);
        count_bad(RIDE_CLUSTER_APP);
        return -1;
    }
    if (strcmp(out->name, app) != 0) {
        text_printf(err, errlen, "%s: the manifest is named \"%s\"", name, out->name);
        ride_manifest_free(out);
        count_bad(RIDE_CLUSTER_APP);
        return -1;
    }
    return 0;
}

/* ---- local capabilities ----------------------------------------------------------------- */

int ride_cluster_worker_set_gpus(ride_cluster_worker *w, const ride_cluster_gpu *gpus,
                                 size_t count)
{
    ride_cluster_gpu *copy = count ? ride_arena_array(w->mem, count, sizeof *copy) : NULL;
    if (count && !copy)
        return -1;
    for (size_t i = 0; i < count; i++) {
        copy[i].index = gpus[i].index;
        copy[i].memory_mb = gpus[i].memory_mb;
        copy[i].name = ride_arena_strdup(w->mem, gpus[i].name);
        copy[i].compute_capability = ride_arena_strdup(w->mem, gpus[i].compute_capability);
        if (!copy[i].name || !copy[i].compute_capability)
            return -1;
    }
    w->gpus = copy;
    w->gpu_count = count;
    return 0;
}

int ride_cluster_worker_local(const char *id, ride_cluster_worker *out, char *err,
                              size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!ride_member_id_valid(id)) {
        text_printf(err, errlen, "invalid member id: use 1..%d of [A-Za-z0-9._-]",
                RIDE_MEMBER_ID_MAX);
        return -1;
    }
    char host[HOST_MAX + 1];
    if (gethostname(host, sizeof host) != 0 || !host[0]) {
        text_printf(err, errlen, "gethostname: %s", strerror(errno));
        return -1;
    }
    host[HOST_MAX] = '\0';
    struct sysinfo si;
    if (sysinfo(&si) != 0) {
        text_printf(err, errlen, "sysinfo: %s", strerror(errno));
        return -1;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    out->mem = ride_arena_new();
    if (!out->mem)
        goto oom;
    out->id = ride_arena_strdup(out->mem, id);
    out->host = ride_arena_strdup(out->mem, host);
    out->version = ride_arena_strdup(out->mem, RIDE_VERSION_STRING);
    if (!out->id || !out->host || !out->version)
        goto oom;
    out->pid = getpid();
    out->cores = cores >= 1 ? (int)(cores < CORES_MAX ? cores : CORES_MAX) : 1;
    uint64_t bytes = (uint64_t)si.totalram * (si.mem_unit ? si.mem_unit : 1);
    out->memory_mb = (int64_t)(bytes / (1024 * 1024));
    if (out->memory_mb < 1)
        out->memory_mb = 1;
    return 0;
oom:
    ride_cluster_worker_free(out);
    text_printf(err, errlen, "out of memory");
    return -1;
}
