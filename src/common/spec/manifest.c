/* manifest.c - parses and checks application manifests (spec/manifest.h,
 * docs/manifest.md). The schema pass keeps input names as written; the topology
 * pass then resolves them to indexes and orders stages after what they read. */
#include "spec/manifest.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec/yaml_schema.h"

#define RIDE_TASK_MAX 63
#define RIDE_TOPIC_MAX 249
#define RIDE_MAX_INPUTS (RIDE_MANIFEST_MAX_SOURCES + RIDE_MANIFEST_MAX_STAGES)

static const char *const delivery_names[] = {"at-least-once", "exactly-once", NULL};
static const char *const kind_names[] = {"rtsp",      "v4l2",       "synthetic", "video-file",
                                         "image-dir", "image-glob", NULL};
static const char *const pace_names[] = {"source", "max", NULL};
static const char *const device_names[] = {"cpu", "gpu", "any", NULL};
static const char *const sink_names[] = {"kafka", "files", "none", NULL};

static const char *enum_name(const char *const *names, size_t count, int v)
{
    return v >= 0 && (size_t)v < count ? names[v] : "invalid";
}

#define ENUM_NAME(names, v) enum_name(names, sizeof names / sizeof names[0] - 1, (int)(v))

const char *ride_delivery_name(ride_delivery v) { return ENUM_NAME(delivery_names, v); }
const char *ride_source_kind_name(ride_source_kind v) { return ENUM_NAME(kind_names, v); }
const char *ride_pace_name(ride_pace v) { return ENUM_NAME(pace_names, v); }
const char *ride_stage_device_name(ride_stage_device v) { return ENUM_NAME(device_names, v); }
const char *ride_sink_type_name(ride_sink_type v) { return ENUM_NAME(sink_names, v); }

/* ---- names ---------------------------------------------------------------- */

static bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool ride_name_valid(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > RIDE_NAME_MAX)
        return false;
    if (!is_lower_alnum(name[0]) || !is_lower_alnum(name[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_lower_alnum(name[i]) && name[i] != '-')
            return false;
    }
    return true;
}

static bool task_valid(const char *task)
{
    if (!(task[0] >= 'a' && task[0] <= 'z'))
        return false;
    for (const char *c = task; *c; c++) {
        if (!is_lower_alnum(*c) && *c != '_')
            return false;
    }
    return true;
}

/* Kafka's own rule for topic names. */
static bool topic_valid(const char *topic)
{
    if (strcmp(topic, ".") == 0 || strcmp(topic, "..") == 0)
        return false;
    for (const char *c = topic; *c; c++) {
        bool ok =
            is_lower_alnum(*c) || (*c >= 'A' && *c <= 'Z') || *c == '.' || *c == '_' || *c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static int get_name(ride_yaml *y, const ride_yaml_map *map, ride_pos *pos, const char **out)
{
    if (ride_yaml_get_string(y, map, "name", RIDE_YAML_REQUIRED, RIDE_NAME_MAX, out))
        return -1;
    yaml_node_t *node = ride_yaml_map_get(y, map, "name");
    *pos = ride_yaml_pos(node);
    if (ride_name_valid(*out))
        return 0;
    char path[RIDE_YAML_PATH_MAX];
    return ride_yaml_fail(y, *pos, ride_yaml_path_key(path, sizeof path, map->path, "name"),
                          "invalid name \"%s\": use lowercase letters, digits and '-', "
                          "starting and ending with a letter or digit",
                          *out);
}

/* ---- source uris ---------------------------------------------------------- */

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Parses 1..max decimal digits at *s, advancing it. */
static bool parse_dim(const char **s, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    const char *c = *s;
    while (*c >= '0' && *c <= '9' && v <= max)
        v = v * 10 + (uint64_t)(*c++ - '0');
    if (c == *s || v == 0 || v > max)
        return false;
    *s = c;
    *out = (uint32_t)v;
    return true;
}

/* A frame rate "30" or "29.97" at s, in (0, RIDE_FPS_MAX], up to the end of s. */
static bool parse_fps(const char *s, double *out)
{
    const char *c = s;
    while (*c >= '0' && *c <= '9')
        c++;
    size_t int_digits = (size_t)(c - s);
    if (*c == '.') {
        const char *frac = ++c;
        while (*c >= '0' && *c <= '9')
            c++;
        if (c == frac)
            return false;
    }
    if (int_digits == 0 || *c != '\0' || int_digits > 6)
        return false;
    double v = strtod(s, NULL);
    if (!(v > 0 && v <= RIDE_FPS_MAX))
        return false;
    *out = v;
    return true;
}

static int parse_synthetic(const char *spec, ride_source_uri *out, char *why, size_t len)
{
    const char *c = spec;
    if (!parse_dim(&c, RIDE_SYNTHETIC_MAX_DIM, &out->width) || *c++ != 'x' ||
        !parse_dim(&c, RIDE_SYNTHETIC_MAX_DIM, &out->height) || *c++ != '@') {
        snprintf(why, len,
                 "invalid synthetic uri: expected synthetic:WxH@FPS with width and height "
                 "in 1..%u",
                 RIDE_SYNTHETIC_MAX_DIM);
        return -1;
    }
    if (!parse_fps(c, &out->fps)) {
        snprintf(why, len, "invalid synthetic uri: FPS must be a number in (0, %g], got \"%s\"",
                 RIDE_FPS_MAX, c);
        return -1;
    }
    out->kind = RIDE_SOURCE_SYNTHETIC;
    return 0;
}

static bool has_image_extension(const char *path)
{
    static const char *const exts[] = {"png",  "jpg", "jpeg", "bmp", "tif", "tiff",
                                       "webp", "pgm", "ppm",  "pnm", NULL};
    const char *base = strrchr(path, '/');
    const char *dot = strrchr(base ? base : path, '.');
    for (size_t i = 0; dot && exts[i]; i++) {
        if (strcasecmp(dot + 1, exts[i]) == 0)
            return true;
    }
    return false;
}

/* A local path is classified by its spelling only: the manifest is checked where it
 * is submitted, not on the producer host that will open the path. */
static int classify_path(const char *path, ride_source_uri *out, char *why, size_t len)
{
    if (!path[0]) {
        snprintf(why, len, "empty path");
        return -1;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    out->path = path;
    if (strpbrk(path, "*?["))
        out->kind = RIDE_SOURCE_IMAGE_GLOB;
    else if (!base[0] || !strchr(base, '.'))
        out->kind = RIDE_SOURCE_IMAGE_DIR;
    else if (has_image_extension(path))
        out->kind = RIDE_SOURCE_IMAGE_GLOB;
    else
        out->kind = RIDE_SOURCE_VIDEO_FILE;
    return 0;
}

/* "name:" where name looks like a uri scheme and comes before any '/'. */
static bool has_scheme(const char *uri)
{
    if (!(uri[0] >= 'a' && uri[0] <= 'z') && !(uri[0] >= 'A' && uri[0] <= 'Z'))
        return false;
    for (const char *c = uri + 1; *c; c++) {
        if (*c == ':')
            return true;
        bool scheme_char =
            is_lower_alnum(*c) || (*c >= 'A' && *c <= 'Z') || *c == '+' || *c == '.' || *c == '-';
        if (!scheme_char)
            return false;
    }
    return false;
}

int ride_source_uri_parse(const char *uri, ride_source_uri *out, char *why, size_t len)
{
    memset(out, 0, sizeof *out);
    if (starts_with(uri, "rtsp://") || starts_with(uri, "rtsps://")) {
        const char *host = strstr(uri, "://") + 3;
        if (!host[0] || host[0] == '/' || host[0] == ':' || strpbrk(uri, " \t\r\n")) {
            snprintf(why, len, "invalid rtsp uri: expected rtsp://HOST[:PORT]/PATH without spaces");
            return -1;
        }
        out->kind = RIDE_SOURCE_RTSP;
        return 0;
    }
    if (starts_with(uri, "v4l2:")) {
        if (!starts_with(uri + 5, "/dev/") || !uri[10]) {
            snprintf(why, len, "invalid v4l2 uri: expected v4l2:/dev/videoN");
            return -1;
        }
        out->kind = RIDE_SOURCE_V4L2;
        out->path = uri + 5;
        return 0;
    }
    if (starts_with(uri, "synthetic:"))
        return parse_synthetic(uri + 10, out, why, len);
    if (starts_with(uri, "file:")) {
        const char *path = uri + 5;
        if (starts_with(path, "//")) {
            path += 2;
            if (path[0] != '/') {
                snprintf(why, len, "invalid file uri: expected file:PATH or file:///ABSOLUTE");
                return -1;
            }
        }
        return classify_path(path, out, why, len);
    }
    if (has_scheme(uri)) {
        snprintf(why, len,
                 "unsupported uri \"%.40s\": expected rtsp://, rtsps://, v4l2:/dev/videoN, "
                 "synthetic:WxH@FPS, file:PATH or a path",
                 uri);
        return -1;
    }
    return classify_path(uri, out, why, len);
}

/* ---- sources -------------------------------------------------------------- */

static bool source_is_file(const ride_source *s)
{
    return s->target.kind == RIDE_SOURCE_VIDEO_FILE || s->target.kind == RIDE_SOURCE_IMAGE_DIR ||
           s->target.kind == RIDE_SOURCE_IMAGE_GLOB;
}

static int check_unique_name(ride_yaml *y, const ride_manifest *m, size_t sources, size_t stages,
                             const char *name, ride_pos pos, const char *path)
{
    for (size_t i = 0; i < sources; i++) {
        if (strcmp(m->sources[i].name, name) == 0)
            return ride_yaml_fail(y, pos, path, "name \"%s\" is already used by spec.sources[%zu]",
                                  name, i);
    }
    for (size_t i = 0; i < stages; i++) {
        if (strcmp(m->stages[i].name, name) == 0)
            return ride_yaml_fail(y, pos, path, "name \"%s\" is already used by spec.stages[%zu]",
                                  name, i);
    }
    return 0;
}

static int parse_source_uri(ride_yaml *y, const ride_yaml_map *map, ride_source *s)
{
    if (ride_yaml_get_string(y, map, "uri", RIDE_YAML_REQUIRED, RIDE_PATH_MAX, &s->uri))
        return -1;
    char why[256];
    if (ride_source_uri_parse(s->uri, &s->target, why, sizeof why) == 0)
        return 0;
    return ride_yaml_fail_key(y, map, "uri", "%s", why);
}

static int parse_source(ride_yaml *y, ride_manifest *m, size_t index, const yaml_node_t *node,
                        const char *path)
{
    static const char *const keys[] = {"name",    "uri",  "fps",  "encoding",
                                       "quality", "loop", "pace", NULL};
    ride_source *s = &m->sources[index];
    ride_yaml_map map;
    if (ride_yaml_map_open(y, node, path, keys, &map))
        return -1;
    s->pos = ride_yaml_pos(node);
    s->quality = 90;
    char name_path[RIDE_YAML_PATH_MAX];
    int encoding = RIDE_ENC_RAW, pace = RIDE_PACE_SOURCE;
    if (get_name(y, &map, &s->name_pos, &s->name) ||
        check_unique_name(y, m, index, 0, s->name, s->name_pos,
                          ride_yaml_path_key(name_path, sizeof name_path, path, "name")) ||
        parse_source_uri(y, &map, s) ||
        ride_yaml_get_number(y, &map, "fps", 0, RIDE_FPS_MAX, &s->fps) ||
        ride_yaml_get_enum(y, &map, "encoding", ride_encoding_names, &encoding) ||
        ride_yaml_get_int(y, &map, "quality", 1, 100, &s->quality) ||
        ride_yaml_get_bool(y, &map, "loop", &s->loop) ||
        ride_yaml_get_enum(y, &map, "pace", pace_names, &pace))
        return -1;
    s->encoding = (ride_encoding)encoding;
    s->pace = (ride_pace)pace;
    if (s->encoding != RIDE_ENC_JPEG && ride_yaml_map_get(y, &map, "quality"))
        return ride_yaml_fail_key(y, &map, "quality", "applies only to encoding: jpeg");
    if (s->loop && !source_is_file(s))
        return ride_yaml_fail_key(y, &map, "loop", "true needs a video file or image source");
    if (s->pace == RIDE_PACE_MAX && !source_is_file(s))
        return ride_yaml_fail_key(
            y, &map, "pace",
            "max needs a video file or image source; live sources run at their "
            "own rate");
    return 0;
}

static int parse_sources(ride_yaml *y, ride_manifest *m, const ride_yaml_map *spec)
{
    yaml_node_t *list;
    size_t n;
    if (ride_yaml_map_require(y, spec, "sources", &list) ||
        ride_yaml_seq(y, list, "spec.sources", 1, RIDE_MANIFEST_MAX_SOURCES, &n))
        return -1;
    m->sources = ride_yaml_alloc(y, n, sizeof *m->sources);
    if (!m->sources)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char path[RIDE_YAML_PATH_MAX];
        ride_yaml_path_index(path, sizeof path, "spec.sources", i);
        if (parse_source(y, m, i, ride_yaml_seq_item(y, list, i), path))
            return -1;
        m->source_count = i + 1;
    }
    return 0;
}

/* ---- stages --------------------------------------------------------------- */

static int parse_inputs(ride_yaml *y, const ride_yaml_map *map, ride_stage *st)
{
    yaml_node_t *node;
    if (ride_yaml_map_require(y, map, "input", &node))
        return -1;
    char path[RIDE_YAML_PATH_MAX];
    ride_yaml_path_key(path, sizeof path, map->path, "input");
    /* `input: cam1` is shorthand for `input: [cam1]`. */
    bool single = node->type == YAML_SCALAR_NODE && !ride_yaml_is_null(node);
    size_t n = 1;
    if (!single && ride_yaml_seq(y, node, path, 1, RIDE_MAX_INPUTS, &n))
        return -1;
    st->inputs = ride_yaml_alloc(y, n, sizeof *st->inputs);
    if (!st->inputs)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *item = single ? node : ride_yaml_seq_item(y, node, i);
        ride_stage_input *in = &st->inputs[i];
        char item_path[RIDE_YAML_PATH_MAX];
        if (single)
            snprintf(item_path, sizeof item_path, "%s", path);
        else
            ride_yaml_path_index(item_path, sizeof item_path, path, i);
        if (ride_yaml_string(y, item, item_path, 0, RIDE_NAME_MAX, &in->name))
            return -1;
        in->pos = ride_yaml_pos(item);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(st->inputs[j].name, in->name) == 0)
                return ride_yaml_fail(y, in->pos, item_path, "input \"%s\" is listed twice",
                                      in->name);
        }
        st->input_count = i + 1;
    }
    return 0;
}

static int parse_task(ride_yaml *y, const ride_yaml_map *map, ride_stage *st)
{
    if (ride_yaml_get_string(y, map, "task", RIDE_YAML_REQUIRED, RIDE_TASK_MAX, &st->task))
        return -1;
    st->task_pos = ride_yaml_pos(ride_yaml_map_get(y, map, "task"));
    if (task_valid(st->task))
        return 0;
    return ride_yaml_fail_key(y, map, "task",
                              "invalid task name: expected an identifier [a-z][a-z0-9_]*");
}

static int parse_autoscale(ride_yaml *y, const ride_yaml_map *workers, ride_stage_autoscale *a)
{
    static const char *const keys[] = {"enabled",       "headroom",      "drain_seconds",
                                       "up_cooldown_s", "down_window_s", "capacity_fps",
                                       NULL};
    ride_yaml_map map;
    *a = (ride_stage_autoscale){false, 0.2, 30.0, 10, 60, 0.0};
    if (ride_yaml_map_open_key(y, workers, "autoscale", keys, &map) ||
        ride_yaml_get_bool(y, &map, "enabled", &a->enabled) ||
        ride_yaml_get_number(y, &map, "drain_seconds", 0, 86400, &a->drain_seconds) ||
        ride_yaml_get_int(y, &map, "up_cooldown_s", 0, 3600, &a->up_cooldown_s) ||
        ride_yaml_get_int(y, &map, "down_window_s", 0, 86400, &a->down_window_s) ||
        ride_yaml_get_number(y, &map, "capacity_fps", 0, 1e6, &a->capacity_fps) ||
        ride_yaml_get_number(y, &map, "headroom", -1, 10, &a->headroom))
        return -1;
    /* The number reader's lower bound is exclusive: (-1, 10], then 0 allowed here. */
    if (a->headroom >= 0)
        return 0;
    return ride_yaml_fail_key(y, &map, "headroom", "must be in 0..10, got %g", a->headroom);
}

static int parse_workers(ride_yaml *y, const ride_yaml_map *stage, ride_stage_workers *w)
{
    static const char *const keys[] = {"min", "max", "spares", "autoscale", NULL};
    ride_yaml_map map;
    w->min = 1;
    w->max = 0; /* not given: derived from min below */
    w->spares = 0;
    if (ride_yaml_map_open_key(y, stage, "workers", keys, &map) ||
        ride_yaml_get_int(y, &map, "min", 0, RIDE_WORKERS_MAX, &w->min) ||
        ride_yaml_get_int(y, &map, "max", 1, RIDE_WORKERS_MAX, &w->max) ||
        ride_yaml_get_int(y, &map, "spares", 0, RIDE_WORKERS_MAX, &w->spares) ||
        parse_autoscale(y, &map, &w->autoscale))
        return -1;
    if (!w->max)
        w->max = w->min > 1 ? w->min : 1;
    if (w->max >= w->min)
        return 0;
    return ride_yaml_fail_key(y, &map, "max", "must be >= min (%d), got %d", w->min, w->max);
}

static int parse_resources(ride_yaml *y, const ride_yaml_map *stage, ride_stage_resources *r)
{
    static const char *const keys[] = {"device", "threads", "gpus", "memory_mb", NULL};
    ride_yaml_map map;
    int device = RIDE_STAGE_CPU;
    r->threads = 0;
    r->gpus = -1; /* not given: derived from the device below */
    r->memory_mb = -1;
    if (ride_yaml_map_open_key(y, stage, "resources", keys, &map) ||
        ride_yaml_get_enum(y, &map, "device", device_names, &device) ||
        ride_yaml_get_int(y, &map, "threads", 0, 1024, &r->threads) ||
        ride_yaml_get_int(y, &map, "gpus", 0, 16, &r->gpus) ||
        ride_yaml_get_i64(y, &map, "memory_mb", 0, INT64_MAX, &r->memory_mb))
        return -1;
    r->device = (ride_stage_device)device;
    if (r->device == RIDE_STAGE_CPU && r->gpus > 0)
        return ride_yaml_fail_key(y, &map, "gpus", "needs device: gpu or any");
    if (r->device == RIDE_STAGE_GPU && r->gpus == 0)
        return ride_yaml_fail_key(y, &map, "gpus", "device: gpu needs at least 1 gpu");
    if (r->gpus < 0)
        r->gpus = r->device == RIDE_STAGE_GPU ? 1 : 0;
    return 0;
}

static const ride_yaml_kv_rules param_rules = {.max_entries = 256,
                                               .key_max = 128,
                                               .value_max = RIDE_PATH_MAX,
                                               .value_flags = RIDE_YAML_MAY_BE_EMPTY};

static int parse_stage(ride_yaml *y, ride_manifest *m, size_t index, const yaml_node_t *node,
                       const char *path)
{
    static const char *const keys[] = {"name",    "input",     "task",     "params", "partitions",
                                       "workers", "resources", "selector", NULL};
    ride_stage *st = &m->stages[index];
    ride_yaml_map map;
    if (ride_yaml_map_open(y, node, path, keys, &map))
        return -1;
    st->pos = ride_yaml_pos(node);
    st->partitions = 1;
    char name_path[RIDE_YAML_PATH_MAX];
    ride_yaml_path_key(name_path, sizeof name_path, path, "name");
    if (get_name(y, &map, &st->name_pos, &st->name) ||
        check_unique_name(y, m, m->source_count, index, st->name, st->name_pos, name_path) ||
        parse_inputs(y, &map, st) || parse_task(y, &map, st) ||
        ride_yaml_get_kv(y, &map, "params", &param_rules, &st->params, &st->param_count) ||
        ride_yaml_get_int(y, &map, "partitions", 1, RIDE_PARTITIONS_MAX, &st->partitions) ||
        parse_workers(y, &map, &st->workers) || parse_resources(y, &map, &st->resources) ||
        ride_yaml_get_kv(y, &map, "selector", &ride_yaml_label_rules, &st->selector,
                         &st->selector_count))
        return -1;
    return 0;
}

static int parse_stages(ride_yaml *y, ride_manifest *m, const ride_yaml_map *spec)
{
    yaml_node_t *list;
    size_t n;
    if (ride_yaml_map_require(y, spec, "stages", &list) ||
        ride_yaml_seq(y, list, "spec.stages", 1, RIDE_MANIFEST_MAX_STAGES, &n))
        return -1;
    m->stages = ride_yaml_alloc(y, n, sizeof *m->stages);
    if (!m->stages)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char path[RIDE_YAML_PATH_MAX];
        ride_yaml_path_index(path, sizeof path, "spec.stages", i);
        if (parse_stage(y, m, i, ride_yaml_seq_item(y, list, i), path))
            return -1;
        m->stage_count = i + 1;
    }
    return 0;
}

/* ---- topology ------------------------------------------------------------- */

static int resolve_inputs(ride_yaml *y, ride_manifest *m)
{
    bool *read = ride_yaml_alloc(y, m->source_count, sizeof *read);
    if (!read)
        return -1;
    for (size_t s = 0; s < m->stage_count; s++) {
        ride_stage *st = &m->stages[s];
        for (size_t i = 0; i < st->input_count; i++) {
            ride_stage_input *in = &st->inputs[i];
            const ride_source *src = ride_manifest_source(m, in->name);
            const ride_stage *from = ride_manifest_stage(m, in->name);
            if (src) {
                in->index = (size_t)(src - m->sources);
                read[in->index] = true;
            } else if (from) {
                in->is_stage = true;
                in->index = (size_t)(from - m->stages);
            } else {
                char path[RIDE_YAML_PATH_MAX];
                snprintf(path, sizeof path, "spec.stages[%zu].input[%zu]", s, i);
                return ride_yaml_fail(y, in->pos, path, "\"%s\" is neither a source nor a stage",
                                      in->name);
            }
        }
    }
    for (size_t i = 0; i < m->source_count; i++) {
        if (!read[i]) {
            char path[RIDE_YAML_PATH_MAX];
            snprintf(path, sizeof path, "spec.sources[%zu]", i);
            return ride_yaml_fail(y, m->sources[i].name_pos, path,
                                  "source \"%s\" is not an input of any stage", m->sources[i].name);
        }
    }
    return 0;
}

enum { UNVISITED = 0, VISITING, DONE };

typedef struct topo_walk {
    ride_manifest *m;
    unsigned char *state;
    size_t *stack; /* stages being visited; each reads the next one */
    size_t depth;
    size_t done;
} topo_walk;

/* Prints the cycle in data-flow order: `first` feeds the stage above it on the
 * stack, which feeds the one below, ... back to `first`. */
static int cycle_error(ride_yaml *y, const topo_walk *t, size_t first, size_t stage, size_t input)
{
    const ride_manifest *m = t->m;
    char cycle[400];
    size_t o = (size_t)snprintf(cycle, sizeof cycle, "%s", m->stages[first].name);
    for (size_t i = t->depth; i-- > 0 && t->stack[i] != first && o < sizeof cycle;) {
        int n = snprintf(cycle + o, sizeof cycle - o, " -> %s", m->stages[t->stack[i]].name);
        o += n > 0 ? (size_t)n : 0;
    }
    if (o < sizeof cycle)
        snprintf(cycle + o, sizeof cycle - o, " -> %s", m->stages[first].name);
    char path[RIDE_YAML_PATH_MAX];
    snprintf(path, sizeof path, "spec.stages[%zu].input[%zu]", stage, input);
    return ride_yaml_fail(y, m->stages[stage].inputs[input].pos, path, "stage cycle: %s", cycle);
}

/* Depth-first along inputs: a stage is placed after everything it reads. Depth is
 * bounded by RIDE_MANIFEST_MAX_STAGES. */
static int visit(ride_yaml *y, topo_walk *t, size_t s)
{
    const ride_stage *st = &t->m->stages[s];
    t->state[s] = VISITING;
    t->stack[t->depth++] = s;
    for (size_t i = 0; i < st->input_count; i++) {
        const ride_stage_input *in = &st->inputs[i];
        if (!in->is_stage)
            continue;
        if (t->state[in->index] == VISITING)
            return cycle_error(y, t, in->index, s, i);
        if (t->state[in->index] == UNVISITED && visit(y, t, in->index))
            return -1;
    }
    t->depth--;
    t->state[s] = DONE;
    t->m->order[t->done++] = s;
    return 0;
}

static int order_stages(ride_yaml *y, ride_manifest *m)
{
    topo_walk t = {.m = m};
    t.state = ride_yaml_alloc(y, m->stage_count, sizeof *t.state);
    t.stack = ride_yaml_alloc(y, m->stage_count, sizeof *t.stack);
    m->order = ride_yaml_alloc(y, m->stage_count, sizeof *m->order);
    if (!t.state || !t.stack || !m->order)
        return -1;
    for (size_t s = 0; s < m->stage_count; s++) {
        if (t.state[s] == UNVISITED && visit(y, &t, s))
            return -1;
    }
    return 0;
}

/* ---- sink ----------------------------------------------------------------- */

static int sink_stage(ride_yaml *y, ride_manifest *m, const ride_yaml_map *map)
{
    const char *name = NULL;
    if (ride_yaml_get_string(y, map, "stage", 0, RIDE_NAME_MAX, &name))
        return -1;
    if (!name) {
        m->sink.stage = m->order[m->stage_count - 1];
        return 0;
    }
    const ride_stage *st = ride_manifest_stage(m, name);
    if (st) {
        m->sink.stage = (size_t)(st - m->stages);
        return 0;
    }
    return ride_yaml_fail_key(y, map, "stage", "\"%s\" is %s", name,
                              ride_manifest_source(m, name) ? "a source; expected a stage"
                                                            : "not a stage");
}

static int default_topic(ride_yaml *y, ride_manifest *m)
{
    const char *stage = m->stages[m->sink.stage].name;
    size_t len = strlen(m->name) + strlen(stage) + sizeof "..out";
    char *topic = ride_yaml_alloc(y, len, 1);
    if (!topic)
        return -1;
    snprintf(topic, len, "%s.%s.out", m->name, stage);
    m->sink.topic = topic;
    return 0;
}

/* A Kafka consumer group id, held to the rules of a topic name: it appears in
 * logs and metrics unquoted. */
static int sink_group(ride_yaml *y, ride_manifest *m, const ride_yaml_map *map)
{
    if (ride_yaml_get_string(y, map, "group", 0, RIDE_TOPIC_MAX, &m->sink.group))
        return -1;
    if (!m->sink.group || topic_valid(m->sink.group))
        return 0;
    return ride_yaml_fail_key(y, map, "group",
                              "invalid Kafka consumer group: use letters, digits, '.', '_' and '-'");
}

static int sink_topic(ride_yaml *y, ride_manifest *m, const ride_yaml_map *map)
{
    if (ride_yaml_get_string(y, map, "topic", 0, RIDE_TOPIC_MAX, &m->sink.topic) ||
        sink_group(y, m, map))
        return -1;
    if (!m->sink.topic)
        return default_topic(y, m);
    if (topic_valid(m->sink.topic))
        return 0;
    return ride_yaml_fail_key(y, map, "topic",
                              "invalid Kafka topic name: use letters, digits, '.', '_' and '-'");
}

static int sink_files(ride_yaml *y, ride_manifest *m, const ride_yaml_map *map)
{
    int format = RIDE_ENC_PNG;
    if (ride_yaml_get_string(y, map, "path", RIDE_YAML_REQUIRED, RIDE_PATH_MAX, &m->sink.path) ||
        ride_yaml_get_enum(y, map, "format", ride_encoding_names, &format))
        return -1;
    m->sink.format = (ride_encoding)format;
    return 0;
}

/* Rejects keys that belong to another sink type: they would be silently ignored. */
static int check_sink_keys(ride_yaml *y, const ride_manifest *m, const ride_yaml_map *map)
{
    static const char *const files_only[] = {"path", "format"};
    for (size_t i = 0; m->sink.type != RIDE_SINK_FILES && i < 2; i++) {
        if (ride_yaml_map_get(y, map, files_only[i]))
            return ride_yaml_fail_key(y, map, files_only[i], "applies only to type: files");
    }
    static const char *const kafka_only[] = {"topic", "group"};
    for (size_t i = 0; m->sink.type != RIDE_SINK_KAFKA && i < 2; i++) {
        if (ride_yaml_map_get(y, map, kafka_only[i]))
            return ride_yaml_fail_key(y, map, kafka_only[i], "applies only to type: kafka");
    }
    return 0;
}

static int parse_sink(ride_yaml *y, ride_manifest *m, const ride_yaml_map *spec)
{
    static const char *const keys[] = {"type",  "stage", "path", "format",
                                       "topic", "group", NULL};
    m->sink.type = RIDE_SINK_KAFKA;
    m->sink.format = RIDE_ENC_PNG;
    yaml_node_t *node = ride_yaml_map_get(y, spec, "sink");
    if (!node) {
        m->sink.stage = m->order[m->stage_count - 1];
        return default_topic(y, m);
    }
    ride_yaml_map map;
    int type = RIDE_SINK_KAFKA;
    if (ride_yaml_map_open(y, node, "spec.sink", keys, &map) ||
        ride_yaml_get_enum(y, &map, "type", sink_names, &type))
        return -1;
    m->sink.type = (ride_sink_type)type;
    if (check_sink_keys(y, m, &map) || sink_stage(y, m, &map))
        return -1;
    switch (m->sink.type) {
    case RIDE_SINK_KAFKA:
        return sink_topic(y, m, &map);
    case RIDE_SINK_FILES:
        return sink_files(y, m, &map);
    default:
        return 0;
    }
}

/* ---- topics --------------------------------------------------------------- */

typedef struct topic_key {
    const char *name;
    int64_t min, max;
    bool unlimited; /* -1 is allowed: no limit */
    size_t offset;  /* into ride_topic_settings */
} topic_key;

#define MIB (1024 * 1024LL)
static const topic_key topic_keys[] = {
    {"retention.ms", 1000, INT64_MAX, true, offsetof(ride_topic_settings, retention_ms)},
    {"retention.bytes", MIB, INT64_MAX, true, offsetof(ride_topic_settings, retention_bytes)},
    {"segment.bytes", MIB, INT32_MAX, false, offsetof(ride_topic_settings, segment_bytes)},
    {"segment.ms", 1000, INT64_MAX, false, offsetof(ride_topic_settings, segment_ms)},
};
#define TOPIC_KEY_COUNT (sizeof topic_keys / sizeof topic_keys[0])

static int parse_topic_key(ride_yaml *y, const ride_yaml_map *map, const topic_key *k,
                           ride_topic_settings *t)
{
    if (!ride_yaml_map_get(y, map, k->name))
        return 0;
    int64_t v = 0;
    if (ride_yaml_get_i64(y, map, k->name, k->unlimited ? -1 : k->min, k->max, &v))
        return -1;
    if (v < k->min && v != -1)
        return ride_yaml_fail_key(y, map, k->name, "expected -1 (no limit) or an integer >= "
                                  "%lld, got %lld", (long long)k->min, (long long)v);
    *(int64_t *)(void *)((char *)t + k->offset) = v;
    return 0;
}

static int parse_topics(ride_yaml *y, ride_manifest *m, const ride_yaml_map *spec)
{
    const char *keys[TOPIC_KEY_COUNT + 1];
    for (size_t i = 0; i < TOPIC_KEY_COUNT; i++)
        keys[i] = topic_keys[i].name;
    keys[TOPIC_KEY_COUNT] = NULL;
    ride_yaml_map map;
    if (ride_yaml_map_open_key(y, spec, "topics", keys, &map))
        return -1;
    for (size_t i = 0; i < TOPIC_KEY_COUNT; i++)
        if (parse_topic_key(y, &map, &topic_keys[i], &m->topics))
            return -1;
    return 0;
}

/* ---- document ------------------------------------------------------------- */

static int expect_text(ride_yaml *y, const ride_yaml_map *map, const char *key, const char *want)
{
    yaml_node_t *node;
    if (ride_yaml_map_require(y, map, key, &node))
        return -1;
    if (ride_yaml_text_is(node, want))
        return 0;
    char expected[64];
    snprintf(expected, sizeof expected, "\"%s\"", want);
    return ride_yaml_fail_expected(y, node, key, expected);
}

static int parse_metadata(ride_yaml *y, ride_manifest *m, const ride_yaml_map *top)
{
    static const char *const keys[] = {"name", "labels", NULL};
    yaml_node_t *node;
    ride_yaml_map map;
    ride_pos name_pos;
    if (ride_yaml_map_require(y, top, "metadata", &node) ||
        ride_yaml_map_open(y, node, "metadata", keys, &map) ||
        get_name(y, &map, &name_pos, &m->name) ||
        ride_yaml_get_kv(y, &map, "labels", &ride_yaml_label_rules, &m->labels, &m->label_count))
        return -1;
    return 0;
}

static int parse_document(ride_yaml *y, ride_manifest *m)
{
    static const char *const top_keys[] = {"apiVersion", "kind", "metadata", "spec", NULL};
    static const char *const spec_keys[] = {"delivery", "sources", "stages", "sink", "topics",
                                               NULL};
    ride_yaml_map top, spec;
    yaml_node_t *spec_node;
    int delivery = RIDE_DELIVERY_AT_LEAST_ONCE;
    if (ride_yaml_map_open(y, ride_yaml_root(y), "", top_keys, &top) ||
        expect_text(y, &top, "apiVersion", "ride/v1") ||
        expect_text(y, &top, "kind", "Application") || parse_metadata(y, m, &top) ||
        ride_yaml_map_require(y, &top, "spec", &spec_node) ||
        ride_yaml_map_open(y, spec_node, "spec", spec_keys, &spec) ||
        ride_yaml_get_enum(y, &spec, "delivery", delivery_names, &delivery) ||
        parse_sources(y, m, &spec) || parse_stages(y, m, &spec) || resolve_inputs(y, m) ||
        order_stages(y, m) || parse_sink(y, m, &spec) || parse_topics(y, m, &spec))
        return -1;
    m->delivery = (ride_delivery)delivery;
    return 0;
}

int ride_manifest_parse(const char *name, const void *buf, size_t len, ride_manifest *m,
                        ride_parse_error *err)
{
    memset(m, 0, sizeof *m);
    name = name ? name : "<manifest>";
    ride_arena *arena = ride_arena_new();
    if (!arena)
        return ride_parse_fail(err, name, (ride_pos){0, 0}, "out of memory");
    ride_yaml y;
    int rc = ride_yaml_open(&y, name, "the manifest", buf, len, arena, err);
    if (rc == 0) {
        m->arena = arena;
        m->file = ride_yaml_strndup(&y, name, strlen(name));
        rc = m->file ? parse_document(&y, m) : -1;
        ride_yaml_close(&y);
    }
    if (rc) {
        ride_arena_free(arena);
        memset(m, 0, sizeof *m);
    }
    return rc;
}

int ride_manifest_load(const char *path, ride_manifest *m, ride_parse_error *err)
{
    char *buf;
    size_t len;
    memset(m, 0, sizeof *m);
    if (ride_yaml_read_file(path, &buf, &len, err))
        return -1;
    int rc = ride_manifest_parse(path, buf, len, m, err);
    free(buf);
    return rc;
}

void ride_manifest_free(ride_manifest *m)
{
    ride_arena_free(m->arena);
    memset(m, 0, sizeof *m);
}

const ride_source *ride_manifest_source(const ride_manifest *m, const char *name)
{
    for (size_t i = 0; i < m->source_count; i++) {
        if (strcmp(m->sources[i].name, name) == 0)
            return &m->sources[i];
    }
    return NULL;
}

const ride_stage *ride_manifest_stage(const ride_manifest *m, const char *name)
{
    for (size_t i = 0; i < m->stage_count; i++) {
        if (strcmp(m->stages[i].name, name) == 0)
            return &m->stages[i];
    }
    return NULL;
}
