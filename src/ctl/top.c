/* top.c - `ridectl top` (see top.h). */
#include "top.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "render.h"
#include "table.h"
#include "base/clock.h"

#define ERR_MAX 1536
#define KEY_MAX 160
#define CELL_MAX 64
#define PATH_LEN 256
#define PREFIX "malformed answer from the control API: "
#define CLEAR_SCREEN "\033[H\033[2J"

static const char *const UTF8_BLOCKS[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
static const char ASCII_BLOCKS[] = "_.-=#";

/* A value over the last refreshes, with the monotonic time of each. */
typedef struct series {
    char *key;
    int64_t value[RIDE_CTL_TOP_HISTORY];
    int64_t at_ms[RIDE_CTL_TOP_HISTORY];
    size_t count;
} series;

struct ride_ctl_top {
    series *items;
    size_t count;
    size_t capacity;
};

/* One partition of /v1/partitions, checked. */
typedef struct partition {
    const char *app;
    const char *stage;
    json_int_t number;
    const char *owner;
    json_int_t epoch;
    int64_t committed; /* -1: unknown */
    int64_t lag;       /* frames, -1: unknown */
    double per_frame;  /* Kafka messages per frame; <= 0: unknown */
    double rate;       /* frames/s; < 0: unknown */
} partition;

typedef struct stage {
    const char *app;
    const char *name;
    size_t partitions;
    size_t owners;
    int64_t lag;
    double rate;
    const series *history;
    ride_ctl_measures ms; /* all unknown until /v1/stages names the stage */
} stage_row;

/* Everything one refresh shows. */
typedef struct view {
    const char *leader;
    size_t workers_alive;
    size_t workers_total;
    partition *parts;
    size_t part_count;
    stage_row *stages;
    size_t stage_count;
} view;

size_t ride_ctl_sparkline(const int64_t *values, size_t n, bool utf8, char *buf, size_t len)
{
    size_t levels = utf8 ? sizeof UTF8_BLOCKS / sizeof UTF8_BLOCKS[0] : sizeof ASCII_BLOCKS - 1;
    int64_t max = 0;
    for (size_t i = 0; i < n; i++)
        max = values[i] > max ? values[i] : max;
    size_t used = 0, drawn = 0;
    if (len == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ascii[2] = {ASCII_BLOCKS[0], '\0'};
        const char *glyph = utf8 ? UTF8_BLOCKS[0] : ascii;
        if (values[i] < 0) {
            glyph = " ";
        } else if (max > 0) {
            /* double: lags near INT64_MAX must not overflow the scaling. */
            size_t level = (size_t)((double)values[i] * (double)(levels - 1) / (double)max + 0.5);
            if (utf8)
                glyph = UTF8_BLOCKS[level];
            else
                ascii[0] = ASCII_BLOCKS[level];
        }
        size_t glen = strlen(glyph);
        if (used + glen >= len)
            break;
        memcpy(buf + used, glyph, glen);
        used += glen;
        drawn++;
    }
    buf[used] = '\0';
    return drawn;
}

static bool names_utf8(const char *locale)
{
    for (const char *c = locale; *c; c++) {
        if (strncasecmp(c, "UTF-8", 5) == 0 || strncasecmp(c, "UTF8", 4) == 0)
            return true;
    }
    return false;
}

bool ride_ctl_utf8_locale(const char *lc_all, const char *lc_ctype, const char *lang)
{
    const char *const order[] = {lc_all, lc_ctype, lang};
    for (size_t i = 0; i < 3; i++) {
        if (order[i] != NULL && order[i][0] != '\0')
            return names_utf8(order[i]);
    }
    return false;
}

ride_ctl_top *ride_ctl_top_new(void)
{
    return calloc(1, sizeof(ride_ctl_top));
}

void ride_ctl_top_free(ride_ctl_top *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->count; i++)
        free(t->items[i].key);
    free(t->items);
    free(t);
}

/* The series named key, created when new; NULL when out of memory. */
static series *series_of(ride_ctl_top *t, const char *key)
{
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->items[i].key, key) == 0)
            return &t->items[i];
    }
    if (t->count == t->capacity) {
        size_t capacity = t->capacity ? t->capacity * 2 : 16;
        series *grown = realloc(t->items, capacity * sizeof *grown);
        if (grown == NULL)
            return NULL;
        t->items = grown;
        t->capacity = capacity;
    }
    series *s = &t->items[t->count];
    memset(s, 0, sizeof *s);
    s->key = strdup(key);
    if (s->key == NULL)
        return NULL;
    t->count++;
    return s;
}

static void series_push(series *s, int64_t value, int64_t at_ms)
{
    if (s->count == RIDE_CTL_TOP_HISTORY) {
        memmove(s->value, s->value + 1, (RIDE_CTL_TOP_HISTORY - 1) * sizeof s->value[0]);
        memmove(s->at_ms, s->at_ms + 1, (RIDE_CTL_TOP_HISTORY - 1) * sizeof s->at_ms[0]);
        s->count--;
    }
    s->value[s->count] = value;
    s->at_ms[s->count] = at_ms;
    s->count++;
}

/* Per second between the last two values; < 0 when either is unknown or the
 * counter went back (a partition reset). */
static double series_rate(const series *s)
{
    if (s->count < 2)
        return -1;
    int64_t v0 = s->value[s->count - 2], v1 = s->value[s->count - 1];
    int64_t dt = s->at_ms[s->count - 1] - s->at_ms[s->count - 2];
    if (v0 < 0 || v1 < v0 || dt <= 0)
        return -1;
    return (double)(v1 - v0) * 1000.0 / (double)dt;
}

/* A positive number or null (0); false for anything else. */
static bool per_frame_or_null(const json_t *v, double *out)
{
    *out = json_is_number(v) ? json_number_value(v) : 0;
    return json_is_null(v) || *out > 0;
}

/* An integer or null (-1); false for anything else. */
static bool count_or_null(const json_t *v, int64_t *out)
{
    if (json_is_null(v)) {
        *out = -1;
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = json_integer_value(v);
    return true;
}

static int read_partition(const json_t *p, size_t i, partition *out, char *err, size_t errlen)
{
    json_error_t je;
    json_t *owner, *committed, *lag, *per_frame = NULL;
    memset(out, 0, sizeof *out);
    if (json_unpack_ex((json_t *)p, &je, 0, "{s:s, s:s, s:I, s:o, s:I, s:o, s:o, s?o}", "app",
                       &out->app, "stage", &out->stage, "partition", &out->number, "owner",
                       &owner, "epoch", &out->epoch, "committed", &committed, "lag", &lag,
                       "messages_per_frame", &per_frame) != 0)
        return ride_ctl_fail(err, errlen, PREFIX "partitions[%zu]: %s", i, je.text);
    if (!json_is_null(owner) && !json_is_string(owner))
        return ride_ctl_fail(err, errlen,
                             PREFIX "partitions[%zu]: field 'owner': expected a string or null",
                             i);
    out->owner = json_string_value(owner);
    if (!count_or_null(committed, &out->committed) || !count_or_null(lag, &out->lag))
        return ride_ctl_fail(err, errlen,
                             PREFIX "partitions[%zu]: fields 'committed' and 'lag': expected "
                                    "a count or null",
                             i);
    if (per_frame != NULL && !per_frame_or_null(per_frame, &out->per_frame))
        return ride_ctl_fail(err, errlen,
                             PREFIX "partitions[%zu]: field 'messages_per_frame': expected a "
                                    "positive number or null",
                             i);
    return 0;
}

static int read_cluster(const ride_ctl_top_answers *a, view *v, char *err, size_t errlen)
{
    json_error_t je;
    int leading = 0;
    const char *master = NULL;
    json_t *workers;
    if (json_unpack_ex((json_t *)a->health, &je, 0, "{s:s, s:b}", "master", &master, "leader",
                       &leading) != 0)
        return ride_ctl_fail(err, errlen, PREFIX "/healthz: %s", je.text);
    v->leader = leading ? master : NULL;
    if (json_unpack_ex((json_t *)a->workers, &je, 0, "{s:o}", "workers", &workers) != 0 ||
        !json_is_array(workers))
        return ride_ctl_fail(err, errlen, PREFIX "/v1/workers: expected {\"workers\": [...]}");
    for (size_t i = 0; i < json_array_size(workers); i++) {
        const char *state = NULL;
        if (json_unpack_ex(json_array_get(workers, i), &je, 0, "{s:s}", "state", &state) != 0)
            return ride_ctl_fail(err, errlen, PREFIX "workers[%zu]: %s", i, je.text);
        v->workers_alive += strcmp(state, "dead") != 0;
        v->workers_total++;
    }
    return 0;
}

static bool same_stage(const partition *x, const char *app, const char *stage)
{
    return strcmp(x->app, app) == 0 && strcmp(x->stage, stage) == 0;
}

/* The distinct owners of a stage's partitions among parts[0..n). */
static size_t count_owners(const partition *parts, size_t n, const char *app, const char *stage)
{
    size_t owners = 0;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].owner == NULL || !same_stage(&parts[i], app, stage))
            continue;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = parts[j].owner != NULL && same_stage(&parts[j], app, stage) &&
                   strcmp(parts[j].owner, parts[i].owner) == 0;
        owners += !seen;
    }
    return owners;
}

static int read_partitions(const ride_ctl_top_answers *a, view *v, char *err, size_t errlen)
{
    json_error_t je;
    json_t *list;
    if (json_unpack_ex((json_t *)a->partitions, &je, 0, "{s:o}", "partitions", &list) != 0 ||
        !json_is_array(list))
        return ride_ctl_fail(err, errlen,
                             PREFIX "/v1/partitions: expected {\"partitions\": [...]}");
    size_t n = json_array_size(list);
    v->parts = calloc(n ? n : 1, sizeof *v->parts);
    v->stages = calloc(n ? n : 1, sizeof *v->stages);
    if (v->parts == NULL || v->stages == NULL)
        return ride_ctl_fail(err, errlen, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (read_partition(json_array_get(list, i), i, &v->parts[i], err, errlen) != 0)
            return -1;
    }
    v->part_count = n;
    /* The API sorts by app and stage: a stage's partitions are adjacent. */
    for (size_t i = 0; i < n; i++) {
        const partition *p = &v->parts[i];
        stage_row *s = v->stage_count ? &v->stages[v->stage_count - 1] : NULL;
        if (s == NULL || strcmp(s->app, p->app) != 0 || strcmp(s->name, p->stage) != 0) {
            s = &v->stages[v->stage_count++];
            *s = (stage_row){.app = p->app, .name = p->stage, .lag = -1, .rate = -1,
                             .ms = {-1, -1, -1, -1, -1, NULL}};
            s->owners = count_owners(v->parts, n, p->app, p->stage);
        }
        s->partitions++;
        if (p->lag >= 0)
            s->lag = (s->lag < 0 ? 0 : s->lag) + p->lag;
    }
    return 0;
}

/* Gives each stage row its measures from /v1/stages. */
static int read_stages(const ride_ctl_top_answers *a, view *v, char *err, size_t errlen)
{
    json_error_t je;
    json_t *list;
    if (json_unpack_ex((json_t *)a->stages, &je, 0, "{s:o}", "stages", &list) != 0 ||
        !json_is_array(list))
        return ride_ctl_fail(err, errlen, PREFIX "/v1/stages: expected {\"stages\": [...]}");
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *o = json_array_get(list, i);
        const char *app = NULL, *stage = NULL;
        char where[32];
        snprintf(where, sizeof where, "stages[%zu]", i);
        if (json_unpack_ex((json_t *)o, &je, 0, "{s:s, s:s}", "app", &app, "stage", &stage) != 0)
            return ride_ctl_fail(err, errlen, PREFIX "%s: %s", where, je.text);
        ride_ctl_measures ms;
        if (ride_ctl_measures_read(o, where, &ms, err, errlen) != 0)
            return -1;
        for (size_t k = 0; k < v->stage_count; k++)
            if (strcmp(v->stages[k].app, app) == 0 && strcmp(v->stages[k].name, stage) == 0)
                v->stages[k].ms = ms;
    }
    return 0;
}

/* Pushes this refresh's offsets and lags; fills rates and the stages' histories. A
 * partition's rate is its committed offset's growth (messages) in frames. */
static int fold_history(ride_ctl_top *t, view *v, int64_t mono_ms, char *err, size_t errlen)
{
    char key[KEY_MAX];
    for (size_t i = 0; i < v->part_count; i++) {
        partition *p = &v->parts[i];
        snprintf(key, sizeof key, "%s/%s/%" JSON_INTEGER_FORMAT, p->app, p->stage, p->number);
        series *s = series_of(t, key);
        if (s == NULL)
            return ride_ctl_fail(err, errlen, "out of memory");
        series_push(s, p->committed, mono_ms);
        double messages_per_s = series_rate(s);
        p->rate = messages_per_s >= 0 && p->per_frame > 0 ? messages_per_s / p->per_frame : -1;
    }
    for (size_t i = 0; i < v->stage_count; i++) {
        stage_row *st = &v->stages[i];
        snprintf(key, sizeof key, "%s/%s", st->app, st->name);
        series *s = series_of(t, key);
        if (s == NULL)
            return ride_ctl_fail(err, errlen, "out of memory");
        series_push(s, st->lag, mono_ms);
        st->history = s;
        for (size_t j = 0; j < v->part_count; j++) {
            const partition *p = &v->parts[j];
            if (p->rate >= 0 && same_stage(p, st->app, st->name))
                st->rate = (st->rate < 0 ? 0 : st->rate) + p->rate;
        }
    }
    return 0;
}

static const char *count_cell(int64_t v, char *buf)
{
    if (v < 0)
        return NULL;
    snprintf(buf, CELL_MAX, "%" PRId64, v);
    return buf;
}

static char *stage_table(const view *v, bool utf8)
{
    static const char *const headers[] = {"APP",     "STAGE", "PARTITIONS", "WORKERS",
                                          "INPUT/S", "SERVICE/S", "BUSY",   "LAG",
                                          "LAG S",   "LAG HISTORY"};
    ride_ctl_table *t = ride_ctl_table_new(10, headers);
    bool ok = t != NULL;
    for (size_t i = 0; ok && i < v->stage_count; i++) {
        const stage_row *s = &v->stages[i];
        char parts[CELL_MAX], owners[CELL_MAX], lag[CELL_MAX], input[CELL_MAX];
        char service[CELL_MAX], busy[CELL_MAX], seconds[CELL_MAX];
        char spark[RIDE_CTL_TOP_HISTORY * 4 + 1];
        ride_ctl_sparkline(s->history->value, s->history->count, utf8, spark, sizeof spark);
        /* Unknown lags at the end would be trailing spaces; none known is <none>. */
        size_t len = strlen(spark);
        while (len > 0 && spark[len - 1] == ' ')
            spark[--len] = '\0';
        const char *cells[] = {s->app,
                               s->name,
                               count_cell((int64_t)s->partitions, parts),
                               count_cell((int64_t)s->owners, owners),
                               ride_ctl_fps_cell(s->ms.input_fps, input, sizeof input),
                               ride_ctl_fps_cell(s->ms.service_fps, service, sizeof service),
                               ride_ctl_busy_cell(s->ms.busy_ratio, busy, sizeof busy),
                               count_cell(s->lag, lag),
                               ride_ctl_lag_seconds_cell(&s->ms, seconds, sizeof seconds),
                               len ? spark : NULL};
        ok = ride_ctl_table_add(t, cells) == 0;
    }
    char *text = ok ? ride_ctl_table_render(t, "") : NULL;
    ride_ctl_table_free(t);
    return text;
}

/* Number at key of the API's worker entry o, -1 when null. */
static double worker_figure(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : -1;
}

static char *worker_table(const view *v)
{
    static const char *const headers[] = {"APP", "STAGE", "WORKER", "PARTITIONS", "SERVICE/S",
                                          "BUSY"};
    ride_ctl_table *t = ride_ctl_table_new(6, headers);
    bool ok = t != NULL;
    for (size_t i = 0; ok && i < v->stage_count; i++) {
        const stage_row *s = &v->stages[i];
        for (size_t k = 0; ok && k < json_array_size(s->ms.workers); k++) {
            const json_t *w = json_array_get(s->ms.workers, k);
            char parts[CELL_MAX], service[CELL_MAX], busy[CELL_MAX];
            const char *cells[] = {
                s->app,
                s->name,
                json_string_value(json_object_get(w, "worker")),
                count_cell(json_integer_value(json_object_get(w, "partitions")), parts),
                ride_ctl_fps_cell(worker_figure(w, "service_fps"), service, sizeof service),
                ride_ctl_busy_cell(worker_figure(w, "busy_ratio"), busy, sizeof busy)};
            ok = ride_ctl_table_add(t, cells) == 0;
        }
    }
    char *text = ok ? ride_ctl_table_render(t, "") : NULL;
    ride_ctl_table_free(t);
    return text;
}

static char *partition_table(const view *v)
{
    static const char *const headers[] = {"APP", "STAGE", "PARTITION", "OWNER", "EPOCH", "LAG",
                                          "FRAMES/S"};
    ride_ctl_table *t = ride_ctl_table_new(7, headers);
    bool ok = t != NULL;
    for (size_t i = 0; ok && i < v->part_count; i++) {
        const partition *p = &v->parts[i];
        char number[CELL_MAX], epoch[CELL_MAX], lag[CELL_MAX], rate[CELL_MAX];
        const char *cells[] = {p->app, p->stage, count_cell(p->number, number), p->owner,
                               count_cell(p->epoch, epoch), count_cell(p->lag, lag),
                               ride_ctl_fps_cell(p->rate, rate, sizeof rate)};
        ok = ride_ctl_table_add(t, cells) == 0;
    }
    char *text = ok ? ride_ctl_table_render(t, "") : NULL;
    ride_ctl_table_free(t);
    return text;
}

static char *render_text(const view *v, int64_t wall_ms, bool utf8)
{
    char when[64];
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL ||
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(when, sizeof when, "%" PRId64 " ms", wall_ms);
    char *stages = stage_table(v, utf8), *workers = worker_table(v), *parts = partition_table(v);
    char *text = NULL;
    size_t len = 0;
    FILE *out = stages && workers && parts ? open_memstream(&text, &len) : NULL;
    if (out != NULL) {
        fprintf(out, "ride top - leader %s - workers %zu/%zu alive - %s\n\n%s\n%s\n%s",
                v->leader ? v->leader : "<none>", v->workers_alive, v->workers_total, when,
                stages, workers, parts);
        bool failed = ferror(out) != 0;
        if (fclose(out) != 0 || failed) {
            free(text);
            text = NULL;
        }
    }
    free(stages);
    free(workers);
    free(parts);
    return text;
}

static json_t *count_json(int64_t v)
{
    return v < 0 ? json_null() : json_integer(v);
}

static json_t *rate_json(double rate)
{
    return rate < 0 ? json_null() : json_real(rate);
}

static json_t *stage_json(const stage_row *s)
{
    json_t *history = json_array();
    for (size_t i = 0; history != NULL && i < s->history->count; i++)
        json_array_append_new(history, count_json(s->history->value[i]));
    return json_pack("{s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "app",
                     s->app, "stage", s->name, "partitions", (json_int_t)s->partitions,
                     "owners", (json_int_t)s->owners, "lag", count_json(s->lag),
                     "frames_per_s", rate_json(s->rate), "lag_history", history, "input_fps",
                     rate_json(s->ms.input_fps), "service_fps", rate_json(s->ms.service_fps),
                     "busy_ratio", rate_json(s->ms.busy_ratio), "lag_seconds",
                     rate_json(s->ms.lag_seconds),
                     "workers", s->ms.workers ? json_deep_copy(s->ms.workers) : json_array());
}

static json_t *partition_json(const partition *p)
{
    return json_pack("{s:s, s:s, s:I, s:o, s:I, s:o, s:o}", "app", p->app, "stage", p->stage,
                     "partition", p->number, "owner",
                     p->owner ? json_string(p->owner) : json_null(), "epoch", p->epoch, "lag",
                     count_json(p->lag), "frames_per_s", rate_json(p->rate));
}

static char *render_json(const view *v, int64_t wall_ms)
{
    json_t *stages = json_array(), *parts = json_array();
    for (size_t i = 0; stages != NULL && i < v->stage_count; i++)
        json_array_append_new(stages, stage_json(&v->stages[i]));
    for (size_t i = 0; parts != NULL && i < v->part_count; i++)
        json_array_append_new(parts, partition_json(&v->parts[i]));
    json_t *o = json_pack("{s:I, s:o, s:I, s:I, s:o, s:o}", "time_ms", (json_int_t)wall_ms,
                          "leader", v->leader ? json_string(v->leader) : json_null(),
                          "workers_alive", (json_int_t)v->workers_alive, "workers_total",
                          (json_int_t)v->workers_total, "stages", stages, "partitions", parts);
    char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    size_t len = line ? strlen(line) : 0;
    char *text = line ? realloc(line, len + 2) : NULL;
    if (text == NULL) {
        free(line);
        return NULL;
    }
    memcpy(text + len, "\n", 2);
    return text;
}

char *ride_ctl_top_render(ride_ctl_top *t, const ride_ctl_top_answers *a, bool json, bool utf8,
                          char *err, size_t errlen)
{
    view v = {0};
    char *text = NULL;
    if (read_cluster(a, &v, err, errlen) == 0 && read_partitions(a, &v, err, errlen) == 0 &&
        read_stages(a, &v, err, errlen) == 0 && fold_history(t, &v, a->mono_ms, err, errlen) == 0) {
        text = json ? render_json(&v, a->wall_ms) : render_text(&v, a->wall_ms, utf8);
        if (text == NULL)
            ride_ctl_fail(err, errlen, "out of memory");
    }
    free(v.parts);
    free(v.stages);
    return text;
}

/* ---- the loop ---------------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct fetched {
    json_t *health;
    json_t *workers;
    json_t *partitions;
    json_t *stages;
} fetched;

static void fetched_free(fetched *f)
{
    json_decref(f->health);
    json_decref(f->workers);
    json_decref(f->partitions);
    json_decref(f->stages);
}

/* The three answers of one refresh. The API is looked up again each time so that
 * top follows the leader across a fail-over. */
static int fetch(const ride_ctl_args *args, fetched *f, char *err, size_t errlen)
{
    char path[PATH_LEN] = "/v1/partitions", stages_path[PATH_LEN] = "/v1/stages";
    if (args->app != NULL) {
        snprintf(path, sizeof path, "/v1/partitions?app=%s", args->app);
        snprintf(stages_path, sizeof stages_path, "/v1/stages?app=%s", args->app);
    }
    ride_ctl_client c;
    if (ride_ctl_client_open(args, false, &c, err, errlen) != 0)
        return -1;
    ride_ctl_call health = {.method = "GET", .path = "/healthz"};
    ride_ctl_call workers = {.method = "GET", .path = "/v1/workers"};
    ride_ctl_call parts = {.method = "GET", .path = path};
    ride_ctl_call stages = {.method = "GET", .path = stages_path};
    int rc = ride_ctl_client_call(&c, &health, &f->health, err, errlen);
    if (rc == 0)
        rc = ride_ctl_client_call(&c, &workers, &f->workers, err, errlen);
    if (rc == 0)
        rc = ride_ctl_client_call(&c, &parts, &f->partitions, err, errlen);
    if (rc == 0)
        rc = ride_ctl_client_call(&c, &stages, &f->stages, err, errlen);
    ride_ctl_client_close(&c);
    return rc;
}

static int refresh(const ride_ctl_args *args, ride_ctl_top *t, bool utf8, bool screen,
                   bool first, FILE *out, char *err, size_t errlen)
{
    fetched f = {0};
    char *text = NULL;
    if (fetch(args, &f, err, errlen) == 0) {
        ride_ctl_top_answers a = {f.health,           f.workers,          f.partitions,
                                  f.stages,           ride_clock_wall_ms(), ride_clock_mono_ms()};
        text = ride_ctl_top_render(t, &a, args->output == RIDE_CTL_OUTPUT_JSON, utf8, err,
                                   errlen);
    }
    fetched_free(&f);
    if (text == NULL)
        return -1;
    bool json = args->output == RIDE_CTL_OUTPUT_JSON;
    fprintf(out, "%s%s", screen ? CLEAR_SCREEN : (!first && !json ? "\n" : ""), text);
    free(text);
    if (fflush(out) != 0)
        return ride_ctl_fail(err, errlen, "cannot write the output: %s", strerror(errno));
    return 0;
}

/* Waits for the next refresh; false when the view should end ('q' or SIGINT). */
static bool pause_for(int ms, bool keys)
{
    int64_t deadline = ride_clock_mono_ms() + ms;
    for (;;) {
        int64_t left = deadline - ride_clock_mono_ms();
        if (interrupted)
            return false;
        if (left <= 0)
            return true;
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int n = poll(keys ? &pfd : NULL, keys ? 1 : 0, (int)left);
        char c;
        if (n > 0 && read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q'))
            return false;
        if (n > 0 && !(pfd.revents & POLLIN))
            keys = false; /* stdin closed or failed: stop watching it */
    }
}

int ride_ctl_top_run(const ride_ctl_args *args, FILE *out, FILE *errs)
{
    bool screen = isatty(fileno(out)) != 0;
    bool keys = screen && isatty(STDIN_FILENO) != 0;
    bool utf8 = ride_ctl_utf8_locale(getenv("LC_ALL"), getenv("LC_CTYPE"), getenv("LANG"));
    struct termios saved, raw;
    if (keys && tcgetattr(STDIN_FILENO, &saved) == 0) {
        /* Keys without Enter and without echo; restored before returning. */
        raw = saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        keys = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    } else {
        keys = false;
    }
    /* No SA_RESTART: Ctrl-C must end the pause at once. */
    struct sigaction sa = {.sa_handler = on_interrupt}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    interrupted = 0;
    ride_ctl_top *t = ride_ctl_top_new();
    int status = t ? RIDE_CTL_EXIT_OK : RIDE_CTL_EXIT_FAILURE;
    char err[ERR_MAX];
    for (int i = 0; t != NULL && (args->iterations == 0 || i < args->iterations); i++) {
        if (i > 0 && !pause_for(args->interval_ms, keys)) {
            /* Ended by the user: a clean end, whatever the last refresh found. */
            status = RIDE_CTL_EXIT_OK;
            break;
        }
        status = RIDE_CTL_EXIT_OK;
        if (refresh(args, t, utf8, screen, i == 0, out, err, sizeof err) != 0) {
            fprintf(errs, "error: %s\n", err);
            status = RIDE_CTL_EXIT_FAILURE;
        }
    }
    if (t == NULL)
        fprintf(errs, "error: out of memory\n");
    ride_ctl_top_free(t);
    sigaction(SIGINT, &old, NULL);
    if (keys)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    return status;
}
