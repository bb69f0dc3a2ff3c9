/* render.c - the control API's answers as text (see render.h).
 *
 * Field access goes through a reader whose first error sticks: rendering code reads
 * every field in a straight line and checks once at the end, and the message names
 * the first bad field. */
#include "render.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

#define MAX_COLUMNS 12
#define CELL_MAX 64
#define LABELS_MAX 512
#define WHERE_MAX 96
#define PREFIX "malformed answer from the control API: "

typedef struct reader {
    char *err;
    size_t errlen;
    bool failed;
} reader;

/* One row's cells and the storage of those that are formatted here. */
typedef struct row {
    const char *cell[MAX_COLUMNS];
    char buf[MAX_COLUMNS][CELL_MAX];
    char labels[LABELS_MAX];
} row;

static void reject(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reject(reader *r, const char *fmt, ...)
{
    if (r->failed)
        return;
    r->failed = true;
    int n = snprintf(r->err, r->errlen, PREFIX);
    if (n < 0 || (size_t)n >= r->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static void reject_field(reader *r, const char *where, const char *key, const char *expected)
{
    reject(r, "%s%sfield '%s': expected %s", where, where[0] ? ": " : "", key, expected);
}

static const json_t *member(reader *r, const json_t *obj, const char *where, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL && !r->failed)
        reject(r, "%s%sfield '%s' is missing", where, where[0] ? ": " : "", key);
    return v;
}

/* A string, or NULL for null (and on error). */
static const char *text(reader *r, const json_t *obj, const char *where, const char *key)
{
    const json_t *v = member(r, obj, where, key);
    if (v == NULL || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        reject_field(r, where, key, "a string or null");
        return NULL;
    }
    return json_string_value(v);
}

/* True with *out set for an integer; false for null (and on error). */
static bool integer(reader *r, const json_t *obj, const char *where, const char *key,
                    json_int_t *out)
{
    const json_t *v = member(r, obj, where, key);
    if (v == NULL || json_is_null(v))
        return false;
    if (!json_is_integer(v)) {
        reject_field(r, where, key, "an integer or null");
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

/* The integer as text in buf, or NULL (shown as <none>) for null. */
static const char *integer_cell(reader *r, const json_t *obj, const char *where, const char *key,
                                char *buf)
{
    json_int_t v;
    if (!integer(r, obj, where, key, &v))
        return NULL;
    snprintf(buf, CELL_MAX, "%" JSON_INTEGER_FORMAT, v);
    return buf;
}

static const json_t *array(reader *r, const json_t *obj, const char *where, const char *key)
{
    const json_t *v = member(r, obj, where, key);
    if (v != NULL && !json_is_array(v)) {
        reject_field(r, where, key, "an array");
        return NULL;
    }
    return v;
}

/* An element of a list that must be an object. */
static const json_t *item(reader *r, const json_t *list, size_t i, const char *key, char *where)
{
    snprintf(where, WHERE_MAX, "%s[%zu]", key, i);
    const json_t *v = json_array_get(list, i);
    if (!json_is_object(v)) {
        reject(r, "%s: expected an object", where);
        return NULL;
    }
    return v;
}

void ride_ctl_format_age(int64_t ms, char *buf, size_t len)
{
    if (ms < 0)
        ms = 0;
    int64_t s = ms / 1000;
    if (ms < 1000)
        snprintf(buf, len, "%" PRId64 "ms", ms);
    else if (s < 60)
        snprintf(buf, len, "%" PRId64 "s", s);
    else if (s < 3600)
        snprintf(buf, len, "%" PRId64 "m", s / 60);
    else if (s < 86400)
        snprintf(buf, len, "%" PRId64 "h", s / 3600);
    else
        snprintf(buf, len, "%" PRId64 "d", s / 86400);
}

/* The age of a duration field in milliseconds. */
static const char *age_cell(reader *r, const json_t *obj, const char *where, const char *key,
                            char *buf)
{
    json_int_t ms;
    if (!integer(r, obj, where, key, &ms))
        return NULL;
    ride_ctl_format_age(ms, buf, CELL_MAX);
    return buf;
}

/* The time since a wall-clock timestamp field in milliseconds. */
static const char *since_cell(reader *r, const json_t *obj, const char *where, const char *key,
                              int64_t now_ms, char *buf)
{
    json_int_t at;
    if (!integer(r, obj, where, key, &at))
        return NULL;
    ride_ctl_format_age(now_ms - at, buf, CELL_MAX);
    return buf;
}

/* "k=v,k2=v2" in the server's order; "..." ends a list too long for buf. */
static const char *labels_cell(reader *r, const json_t *obj, const char *where, const char *key,
                               char *buf, size_t len)
{
    const json_t *labels = member(r, obj, where, key);
    if (labels == NULL || json_is_null(labels))
        return NULL;
    if (!json_is_object(labels)) {
        reject_field(r, where, key, "an object of strings or null");
        return NULL;
    }
    size_t used = 0;
    const char *name;
    const json_t *value;
    buf[0] = '\0';
    json_object_foreach((json_t *)labels, name, value) {
        if (!json_is_string(value)) {
            reject_field(r, where, key, "an object of strings or null");
            return NULL;
        }
        int n = snprintf(buf + used, len - used, "%s%s=%s", used ? "," : "", name,
                         json_string_value(value));
        if (n < 0 || (size_t)n >= len - used) {
            memcpy(buf + len - 4, "...", 4);
            break;
        }
        used += (size_t)n;
    }
    return used ? buf : NULL;
}

/* Fills one row from one element of the list. */
typedef void (*row_fn)(reader *r, const json_t *obj, const char *where, int64_t now_ms, row *out);

/* The table of answer[key], one row per element. */
static char *render_list(const json_t *answer, const char *key, size_t columns,
                         const char *const headers[], row_fn fill, int64_t now_ms,
                         const char *indent, reader *r)
{
    if (!json_is_object(answer)) {
        reject(r, "expected a JSON object");
        return NULL;
    }
    const json_t *list = array(r, answer, "", key);
    if (list == NULL)
        return NULL;
    ride_ctl_table *t = ride_ctl_table_new(columns, headers);
    if (t == NULL) {
        snprintf(r->err, r->errlen, "out of memory");
        return NULL;
    }
    row *cells = malloc(sizeof *cells);
    for (size_t i = 0; cells != NULL && i < json_array_size(list) && !r->failed; i++) {
        char where[WHERE_MAX];
        const json_t *obj = item(r, list, i, key, where);
        if (obj == NULL)
            break;
        memset(cells, 0, sizeof *cells);
        fill(r, obj, where, now_ms, cells);
        if (!r->failed && ride_ctl_table_add(t, cells->cell) != 0)
            break;
    }
    char *out = cells != NULL && !r->failed ? ride_ctl_table_render(t, indent) : NULL;
    if (out == NULL && !r->failed)
        snprintf(r->err, r->errlen, "out of memory");
    free(cells);
    ride_ctl_table_free(t);
    return out;
}

static void app_row(reader *r, const json_t *o, const char *w, int64_t now_ms, row *c)
{
    c->cell[0] = text(r, o, w, "name");
    c->cell[1] = text(r, o, w, "phase");
    c->cell[2] = integer_cell(r, o, w, "stages", c->buf[2]);
    c->cell[3] = integer_cell(r, o, w, "partitions", c->buf[3]);
    c->cell[4] = integer_cell(r, o, w, "owned", c->buf[4]);
    c->cell[5] = integer_cell(r, o, w, "lag", c->buf[5]);
    c->cell[6] = since_cell(r, o, w, "created_ms", now_ms, c->buf[6]);
}

char *ride_ctl_render_apps(const json_t *answer, int64_t now_ms, char *err, size_t errlen)
{
    static const char *const headers[] = {"NAME", "PHASE", "STAGES", "PARTITIONS",
                                          "OWNED", "LAG", "AGE"};
    reader r = {err, errlen, false};
    return render_list(answer, "apps", 7, headers, app_row, now_ms, "", &r);
}

static void worker_row(reader *r, const json_t *o, const char *w, int64_t now_ms, row *c)
{
    (void)now_ms;
    json_int_t mb;
    c->cell[0] = text(r, o, w, "id");
    c->cell[1] = text(r, o, w, "state");
    c->cell[2] = integer_cell(r, o, w, "partitions", c->buf[2]);
    c->cell[3] = text(r, o, w, "host");
    c->cell[4] = integer_cell(r, o, w, "pid", c->buf[4]);
    c->cell[5] = integer_cell(r, o, w, "cores", c->buf[5]);
    if (integer(r, o, w, "memory_mb", &mb)) {
        snprintf(c->buf[6], CELL_MAX, "%" JSON_INTEGER_FORMAT "Mi", mb);
        c->cell[6] = c->buf[6];
    }
    c->cell[7] = integer_cell(r, o, w, "gpus", c->buf[7]);
    c->cell[8] = age_cell(r, o, w, "heartbeat_age_ms", c->buf[8]);
    c->cell[9] = text(r, o, w, "version");
    c->cell[10] = labels_cell(r, o, w, "labels", c->labels, sizeof c->labels);
}

char *ride_ctl_render_workers(const json_t *answer, int64_t now_ms, char *err, size_t errlen)
{
    static const char *const headers[] = {"ID", "STATE", "PARTITIONS", "HOST", "PID", "CORES",
                                          "MEMORY", "GPUS", "HEARTBEAT", "VERSION", "LABELS"};
    reader r = {err, errlen, false};
    return render_list(answer, "workers", 11, headers, worker_row, now_ms, "", &r);
}

static void producer_row(reader *r, const json_t *o, const char *w, int64_t now_ms, row *c)
{
    (void)now_ms;
    c->cell[0] = text(r, o, w, "id");
    c->cell[1] = text(r, o, w, "state");
    c->cell[2] = integer_cell(r, o, w, "sources", c->buf[2]);
    c->cell[3] = text(r, o, w, "host");
    c->cell[4] = integer_cell(r, o, w, "pid", c->buf[4]);
    c->cell[5] = age_cell(r, o, w, "heartbeat_age_ms", c->buf[5]);
    c->cell[6] = text(r, o, w, "version");
}

char *ride_ctl_render_producers(const json_t *answer, int64_t now_ms, char *err, size_t errlen)
{
    static const char *const headers[] = {"ID", "STATE", "SOURCES", "HOST", "PID",
                                          "HEARTBEAT", "VERSION"};
    reader r = {err, errlen, false};
    return render_list(answer, "producers", 7, headers, producer_row, now_ms, "", &r);
}

static void partition_row(reader *r, const json_t *o, const char *w, int64_t now_ms, row *c)
{
    (void)now_ms;
    c->cell[0] = text(r, o, w, "app");
    c->cell[1] = text(r, o, w, "stage");
    c->cell[2] = integer_cell(r, o, w, "partition", c->buf[2]);
    c->cell[3] = text(r, o, w, "owner");
    c->cell[4] = integer_cell(r, o, w, "epoch", c->buf[4]);
    c->cell[5] = integer_cell(r, o, w, "end_offset", c->buf[5]);
    c->cell[6] = integer_cell(r, o, w, "committed", c->buf[6]);
    c->cell[7] = integer_cell(r, o, w, "lag", c->buf[7]);
}

char *ride_ctl_render_partitions(const json_t *answer, int64_t now_ms, char *err, size_t errlen)
{
    static const char *const headers[] = {"APP", "STAGE", "PARTITION", "OWNER",
                                          "EPOCH", "END", "COMMITTED", "LAG"};
    reader r = {err, errlen, false};
    return render_list(answer, "partitions", 8, headers, partition_row, now_ms, "", &r);
}

static void event_row(reader *r, const json_t *o, const char *w, int64_t now_ms, row *c)
{
    c->cell[0] = since_cell(r, o, w, "ts_ms", now_ms, c->buf[0]);
    c->cell[1] = text(r, o, w, "type");
    c->cell[2] = text(r, o, w, "app");
    c->cell[3] = text(r, o, w, "stage");
    c->cell[4] = integer_cell(r, o, w, "partition", c->buf[4]);
    c->cell[5] = text(r, o, w, "member");
    c->cell[6] = text(r, o, w, "message");
}

char *ride_ctl_render_events(const json_t *answer, int64_t now_ms, char *err, size_t errlen)
{
    static const char *const headers[] = {"AGE", "TYPE", "APP", "STAGE",
                                          "PARTITION", "MEMBER", "MESSAGE"};
    reader r = {err, errlen, false};
    return render_list(answer, "events", 7, headers, event_row, now_ms, "", &r);
}

json_t *ride_ctl_events_for_app(const json_t *answer, const char *app, int limit, char *err,
                                size_t errlen)
{
    reader r = {err, errlen, false};
    if (!json_is_object(answer)) {
        reject(&r, "expected a JSON object");
        return NULL;
    }
    const json_t *list = array(&r, answer, "", "events");
    json_t *kept = json_array();
    for (size_t i = 0; list != NULL && kept != NULL && i < json_array_size(list); i++) {
        char where[WHERE_MAX];
        const json_t *event = item(&r, list, i, "events", where);
        const char *event_app = event ? text(&r, event, where, "app") : NULL;
        if (r.failed)
            break;
        if (event_app != NULL && strcmp(event_app, app) == 0 &&
            json_array_append(kept, (json_t *)event) != 0)
            break;
    }
    while (kept != NULL && !r.failed && limit > 0 && json_array_size(kept) > (size_t)limit)
        json_array_remove(kept, 0);
    json_t *out = kept != NULL && !r.failed ? json_pack("{s:O}", "events", kept) : NULL;
    if (out == NULL && !r.failed)
        snprintf(err, errlen, "out of memory");
    json_decref(kept);
    return out;
}

/* ---- a stage's measures ---------------------------------------------------------- */

/* A non-negative number (or null: -1) at key; false for anything else. */
static bool figure(reader *r, const json_t *obj, const char *where, const char *key, double *out)
{
    const json_t *v = member(r, obj, where, key);
    *out = -1;
    if (v == NULL || json_is_null(v))
        return v != NULL;
    if (!json_is_number(v) || json_number_value(v) < 0) {
        reject_field(r, where, key, "a number >= 0 or null");
        return false;
    }
    *out = json_number_value(v);
    return true;
}

int ride_ctl_measures_read(const json_t *o, const char *where, ride_ctl_measures *out,
                           char *err, size_t errlen)
{
    reader r = {err, errlen, false};
    json_int_t lag = -1;
    memset(out, 0, sizeof *out);
    figure(&r, o, where, "input_fps", &out->input_fps);
    figure(&r, o, where, "service_fps", &out->service_fps);
    figure(&r, o, where, "busy_ratio", &out->busy_ratio);
    figure(&r, o, where, "lag_seconds", &out->lag_seconds);
    out->lag_frames = integer(&r, o, where, "lag_frames", &lag) && lag >= 0 ? lag : -1;
    out->workers = array(&r, o, where, "workers");
    for (size_t i = 0; !r.failed && i < json_array_size(out->workers); i++) {
        char at[WHERE_MAX * 2];
        snprintf(at, sizeof at, "%s%sworkers[%zu]", where, where[0] ? ": " : "", i);
        const json_t *w = json_array_get(out->workers, i);
        double ignored;
        json_int_t parts;
        if (!json_is_object(w)) {
            reject(&r, "%s: expected an object", at);
            break;
        }
        if (text(&r, w, at, "worker") == NULL && !r.failed)
            reject_field(&r, at, "worker", "a string");
        integer(&r, w, at, "partitions", &parts);
        figure(&r, w, at, "service_fps", &ignored);
        figure(&r, w, at, "busy_ratio", &ignored);
    }
    return r.failed ? -1 : 0;
}

const char *ride_ctl_fps_cell(double fps, char *buf, size_t len)
{
    if (fps < 0)
        return NULL;
    snprintf(buf, len, "%.1f", fps);
    return buf;
}

const char *ride_ctl_busy_cell(double ratio, char *buf, size_t len)
{
    if (ratio < 0)
        return NULL;
    snprintf(buf, len, "%.0f%%", ratio * 100);
    return buf;
}

const char *ride_ctl_lag_seconds_cell(const ride_ctl_measures *m, char *buf, size_t len)
{
    if (m->lag_seconds < 0 && m->lag_frames > 0 && m->service_fps == 0)
        return "inf";
    if (m->lag_seconds < 0)
        return NULL;
    snprintf(buf, len, "%.1f", m->lag_seconds);
    return buf;
}

/* ---- describe app ---------------------------------------------------------------- */

/* "Label:" padded so that values line up, as kubectl describe does. */
static void field_line(FILE *out, const char *indent, const char *label, const char *value)
{
    char with_colon[64];
    snprintf(with_colon, sizeof with_colon, "%s:", label);
    char clean[1024];
    snprintf(clean, sizeof clean, "%s", value ? value : "<none>");
    for (unsigned char *c = (unsigned char *)clean; *c; c++) {
        if (*c < 0x20 || *c == 0x7f)
            *c = '?';
    }
    fprintf(out, "%s%-14s%s\n", indent, with_colon, clean);
}

/* Member ids of a string array, comma-separated; NULL when the array is empty. */
static const char *ids_cell(reader *r, const json_t *obj, const char *where, const char *key,
                            char *buf, size_t len)
{
    const json_t *ids = array(r, obj, where, key);
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; ids != NULL && i < json_array_size(ids); i++) {
        const json_t *id = json_array_get(ids, i);
        if (!json_is_string(id)) {
            reject_field(r, where, key, "an array of strings");
            return NULL;
        }
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", json_string_value(id));
        if (n < 0 || (size_t)n >= len - used) {
            memcpy(buf + len - 4, "...", 4);
            break;
        }
        used += (size_t)n;
    }
    return used ? buf : NULL;
}

static void source_row(reader *r, const json_t *o, const char *w, int64_t now_ms, row *c)
{
    (void)now_ms;
    c->cell[0] = text(r, o, w, "name");
    c->cell[1] = text(r, o, w, "uri");
    c->cell[2] = text(r, o, w, "producer");
    c->cell[3] = integer_cell(r, o, w, "epoch", c->buf[3]);
    c->cell[4] = integer_cell(r, o, w, "stream_id", c->buf[4]);
}

static void detail_partition_row(reader *r, const json_t *o, const char *w, int64_t now_ms,
                                 row *c)
{
    partition_row(r, o, w, now_ms, c);
    /* The application is the one described: drop its column. */
    memmove(c->cell, c->cell + 1, 7 * sizeof c->cell[0]);
    c->cell[7] = NULL;
}

/* A nested table under a section title, or "Title:  <none>" when empty. */
static void section_table(FILE *out, const json_t *detail, const char *key, const char *title,
                          size_t columns, const char *const headers[], row_fn fill,
                          int64_t now_ms, reader *r)
{
    const json_t *list = array(r, detail, "", key);
    if (r->failed)
        return;
    if (json_array_size(list) == 0) {
        field_line(out, "", title, NULL);
        return;
    }
    char *table = render_list(detail, key, columns, headers, fill, now_ms, "  ", r);
    if (table != NULL)
        fprintf(out, "%s:\n%s", title, table);
    free(table);
}

/* "w1: 24.8 frames/s, busy 62%, partitions 2; w2: ..."; NULL when no worker. */
static const char *per_worker_cell(const ride_ctl_measures *ms, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < json_array_size(ms->workers); i++) {
        const json_t *w = json_array_get(ms->workers, i);
        const json_t *fps = json_object_get(w, "service_fps");
        const json_t *busy = json_object_get(w, "busy_ratio");
        char f[CELL_MAX], b[CELL_MAX];
        const char *fc = ride_ctl_fps_cell(json_is_number(fps) ? json_number_value(fps) : -1, f,
                                           sizeof f);
        const char *bc = ride_ctl_busy_cell(json_is_number(busy) ? json_number_value(busy) : -1,
                                            b, sizeof b);
        int n = snprintf(buf + used, len - used,
                         "%s%s: %s frames/s, busy %s, partitions %" JSON_INTEGER_FORMAT,
                         used ? "; " : "", json_string_value(json_object_get(w, "worker")),
                         fc ? fc : "<none>", bc ? bc : "<none>",
                         json_integer_value(json_object_get(w, "partitions")));
        if (n < 0 || (size_t)n >= len - used) {
            memcpy(buf + len - 4, "...", 4);
            break;
        }
        used += (size_t)n;
    }
    return used ? buf : NULL;
}

/* The measure lines of a stage that has them (an older master's have none). */
static void measure_lines(FILE *out, reader *r, const json_t *stage, const char *where)
{
    const json_t *o = json_object_get(stage, "measures");
    ride_ctl_measures ms;
    char at[WHERE_MAX * 2], a[CELL_MAX], b[CELL_MAX], c[CELL_MAX], line[4 * CELL_MAX];
    char workers[LABELS_MAX];
    if (o == NULL || r->failed)
        return;
    snprintf(at, sizeof at, "%s: measures", where);
    if (ride_ctl_measures_read(o, at, &ms, r->err, r->errlen) != 0) {
        r->failed = true;
        return;
    }
    const char *input = ride_ctl_fps_cell(ms.input_fps, a, sizeof a);
    const char *service = ride_ctl_fps_cell(ms.service_fps, b, sizeof b);
    const char *busy = ride_ctl_busy_cell(ms.busy_ratio, c, sizeof c);
    snprintf(line, sizeof line, "%s frames/s", input ? input : "<none>");
    field_line(out, "    ", "Input", line);
    snprintf(line, sizeof line, "%s frames/s, busy %s", service ? service : "<none>",
             busy ? busy : "<none>");
    field_line(out, "    ", "Service", line);
    field_line(out, "    ", "Per worker", per_worker_cell(&ms, workers, sizeof workers));
    const char *seconds = ride_ctl_lag_seconds_cell(&ms, a, sizeof a);
    snprintf(line, sizeof line, "%s s", seconds ? seconds : "<none>");
    field_line(out, "    ", "Lag time", seconds ? line : NULL);
}

static void stage_section(FILE *out, reader *r, const json_t *stage, const char *where)
{
    char a[CELL_MAX], b[CELL_MAX], c[CELL_MAX], d[CELL_MAX], workers[8 * CELL_MAX];
    char active[LABELS_MAX], spare[LABELS_MAX];
    const char *name = text(r, stage, where, "name");
    const char *task = text(r, stage, where, "task");
    const char *input = text(r, stage, where, "input_topic");
    const char *output = text(r, stage, where, "output");
    const char *partitions = integer_cell(r, stage, where, "partitions", a);
    const char *target = integer_cell(r, stage, where, "target", b);
    const char *min = integer_cell(r, stage, where, "min", c);
    const char *max = integer_cell(r, stage, where, "max", d);
    char spares_buf[CELL_MAX], lag_buf[CELL_MAX];
    const char *spares = integer_cell(r, stage, where, "spares", spares_buf);
    const char *lag = integer_cell(r, stage, where, "lag", lag_buf);
    const char *active_ids = ids_cell(r, stage, where, "active", active, sizeof active);
    const char *spare_ids = ids_cell(r, stage, where, "spare", spare, sizeof spare);
    if (r->failed)
        return;
    snprintf(workers, sizeof workers, "target %s (min %s, max %s, spares %s)",
             target ? target : "<none>", min ? min : "<none>", max ? max : "<none>",
             spares ? spares : "<none>");
    fprintf(out, "  %s:\n", name ? name : "<none>");
    field_line(out, "    ", "Task", task);
    field_line(out, "    ", "Input topic", input);
    field_line(out, "    ", "Output", output);
    field_line(out, "    ", "Partitions", partitions);
    field_line(out, "    ", "Workers", workers);
    field_line(out, "    ", "Active", active_ids);
    field_line(out, "    ", "Spare", spare_ids);
    field_line(out, "    ", "Lag", lag);
    measure_lines(out, r, stage, where);
}

static void stages_section(FILE *out, reader *r, const json_t *detail)
{
    const json_t *stages = array(r, detail, "", "stages");
    if (r->failed)
        return;
    if (json_array_size(stages) == 0) {
        field_line(out, "", "Stages", NULL);
        return;
    }
    fputs("Stages:\n", out);
    for (size_t i = 0; i < json_array_size(stages) && !r->failed; i++) {
        char where[WHERE_MAX];
        const json_t *stage = item(r, stages, i, "stages", where);
        if (stage != NULL)
            stage_section(out, r, stage, where);
    }
}

static void header_section(FILE *out, reader *r, const json_t *d, int64_t now_ms)
{
    char generation[CELL_MAX], age[CELL_MAX], owned[CELL_MAX], lag[CELL_MAX], parts[4 * CELL_MAX];
    const char *name = text(r, d, "", "name");
    const char *phase = text(r, d, "", "phase");
    const char *message = text(r, d, "", "message");
    const char *gen = integer_cell(r, d, "", "generation", generation);
    const char *created = since_cell(r, d, "", "created_ms", now_ms, age);
    const char *owned_cell = integer_cell(r, d, "", "owned", owned);
    const char *lag_cell = integer_cell(r, d, "", "lag", lag);
    const json_t *partitions = array(r, d, "", "partition_status");
    if (r->failed)
        return;
    snprintf(parts, sizeof parts, "%zu (%s owned)", json_array_size(partitions),
             owned_cell ? owned_cell : "<none>");
    field_line(out, "", "Name", name);
    field_line(out, "", "Phase", phase);
    field_line(out, "", "Message", message);
    field_line(out, "", "Generation", gen);
    field_line(out, "", "Age", created);
    field_line(out, "", "Partitions", parts);
    field_line(out, "", "Lag", lag_cell);
}

char *ride_ctl_render_app_detail(const json_t *answer, int64_t now_ms, char *err, size_t errlen)
{
    static const char *const source_headers[] = {"NAME", "URI", "PRODUCER", "EPOCH", "STREAM"};
    static const char *const partition_headers[] = {"STAGE", "PARTITION", "OWNER", "EPOCH",
                                                    "END", "COMMITTED", "LAG"};
    reader r = {err, errlen, false};
    if (!json_is_object(answer)) {
        reject(&r, "expected a JSON object");
        return NULL;
    }
    char *text_out = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text_out, &len);
    if (out == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    header_section(out, &r, answer, now_ms);
    if (!r.failed)
        section_table(out, answer, "sources", "Sources", 5, source_headers, source_row, now_ms,
                      &r);
    if (!r.failed)
        stages_section(out, &r, answer);
    if (!r.failed)
        section_table(out, answer, "partition_status", "Partitions", 7, partition_headers,
                      detail_partition_row, now_ms, &r);
    bool io_failed = ferror(out) != 0;
    if (fclose(out) != 0 || io_failed) {
        if (!r.failed)
            snprintf(err, errlen, "out of memory");
        r.failed = true;
    }
    if (r.failed) {
        free(text_out);
        return NULL;
    }
    return text_out;
}

/* ---- results of changes ------------------------------------------------------------ */

static char *one_line(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *one_line(reader *r, const char *fmt, ...)
{
    char *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && (line = malloc((size_t)n + 1)) != NULL) {
        va_start(ap, fmt);
        vsnprintf(line, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    if (line == NULL)
        snprintf(r->err, r->errlen, "out of memory");
    return line;
}

/* A string field that must be present and not null. */
static const char *required_text(reader *r, const json_t *obj, const char *key)
{
    const char *v = text(r, obj, "", key);
    if (v == NULL)
        reject_field(r, "", key, "a string");
    return v;
}

char *ride_ctl_render_applied(const json_t *answer, int64_t now_ms, char *err, size_t errlen)
{
    (void)now_ms;
    reader r = {err, errlen, false};
    if (!json_is_object(answer)) {
        reject(&r, "expected a JSON object");
        return NULL;
    }
    const char *app = required_text(&r, answer, "app");
    const char *result = required_text(&r, answer, "result");
    if (!r.failed && strcmp(result, "created") != 0 && strcmp(result, "configured") != 0 &&
        strcmp(result, "unchanged") != 0)
        reject_field(&r, "", "result", "created, configured or unchanged");
    return r.failed ? NULL : one_line(&r, "application/%s %s\n", app, result);
}

char *ride_ctl_render_deleted(const json_t *answer, int64_t now_ms, char *err, size_t errlen)
{
    (void)now_ms;
    reader r = {err, errlen, false};
    if (!json_is_object(answer)) {
        reject(&r, "expected a JSON object");
        return NULL;
    }
    const char *app = required_text(&r, answer, "app");
    return r.failed ? NULL : one_line(&r, "application/%s deleted\n", app);
}

char *ride_ctl_render_scaled(const json_t *answer, int64_t now_ms, char *err, size_t errlen)
{
    (void)now_ms;
    reader r = {err, errlen, false};
    if (!json_is_object(answer)) {
        reject(&r, "expected a JSON object");
        return NULL;
    }
    const char *app = required_text(&r, answer, "app");
    const char *stage = required_text(&r, answer, "stage");
    json_int_t workers = 0;
    const json_t *automatic = json_object_get(answer, "workers");
    if (!r.failed && json_is_string(automatic) && strcmp(json_string_value(automatic), "auto") == 0)
        return one_line(&r, "application/%s stage %s scaled automatically\n", app, stage);
    if (!integer(&r, answer, "", "workers", &workers))
        reject_field(&r, "", "workers", "an integer");
    return r.failed ? NULL
                    : one_line(&r, "application/%s stage %s scaled to %" JSON_INTEGER_FORMAT
                                   " worker%s\n",
                               app, stage, workers, workers == 1 ? "" : "s");
}
