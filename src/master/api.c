/* api.c - the control API of the leading master (docs/control-api.md): reads from
 * the leader's memory, changes written to ZooKeeper before they are answered. */
#include <ctype.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "master.h"
#include "base/clock.h"
#include "base/log.h"

#define EVENTS_DEFAULT 100
#define EVENTS_MAX 1000
#define NAME_HEADER "X-Ride-Manifest-Name"

static void reply_error(ride_http_response *res, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reply_error(ride_http_response *res, int status, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *j = json_pack("{s:s}", "error", msg);
    ride_http_response_json(res, status, j);
    json_decref(j);
}

static void reply(ride_http_response *res, int status, json_t *j)
{
    if (!j) {
        reply_error(res, 500, "out of memory");
        return;
    }
    ride_http_response_json(res, status, j);
    json_decref(j);
}

static json_t *int_or_null(int64_t v) { return v >= 0 ? json_integer(v) : json_null(); }
static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }
static json_t *per_frame_or_null(double v) { return v > 0 ? json_real(v) : json_null(); }
/* A measured figure: null while unknown (< 0), and for an infinite lag_seconds. */
static json_t *figure_or_null(double v)
{
    return v >= 0 && isfinite(v) ? json_real(v) : json_null();
}

/* ---- reads ---- */

static void on_healthz(const ride_http_request *req, ride_http_response *res, void *ctx)
{
    (void)req;
    ride_master *m = ctx;
    reply(res, m->leading ? 200 : 503,
          json_pack("{s:s, s:s, s:b, s:I}", "status", m->leading ? "ok" : "not leading",
                    "master", m->id, "leader", m->leading, "generation",
                    (json_int_t)m->generation));
}

static ride_master_figures figures_of(ride_master *m, const ride_master_app *a,
                                     const ride_master_stage *s, int p)
{
    return ride_master_lag_figures(m->lag, a->name, s->st->name, p, s->messages_per_frame);
}

static json_t *partition_json(ride_master *m, const ride_master_app *a,
                              const ride_master_stage *s, int p)
{
    ride_master_figures f = figures_of(m, a, s, p);
    const ride_master_partition *part = &s->parts[p];
    return json_pack("{s:s, s:s, s:i, s:o, s:I, s:o, s:o, s:o, s:o, s:o}", "app", a->name,
                     "stage", s->st->name, "partition", p, "owner",
                     str_or_null(part->granted ? part->owner : NULL), "epoch",
                     (json_int_t)part->epoch, "end_offset", int_or_null(f.end), "committed",
                     int_or_null(f.committed), "lag", int_or_null(f.lag), "lag_messages",
                     int_or_null(f.lag_messages), "messages_per_frame",
                     per_frame_or_null(s->messages_per_frame));
}

static void add_partitions(ride_master *m, const ride_master_app *a, json_t *arr)
{
    for (size_t s = 0; s < a->m.stage_count; s++)
        for (int p = 0; p < a->stages[s].st->partitions; p++)
            json_array_append_new(arr, partition_json(m, a, &a->stages[s], p));
}

static json_t *app_summary(ride_master *m, const ride_master_app *a)
{
    size_t parts = 0, owned = 0;
    int64_t lag = -1;
    for (size_t s = 0; s < a->m.stage_count; s++) {
        for (int p = 0; p < a->stages[s].st->partitions; p++) {
            parts++;
            owned += a->stages[s].parts[p].owner && a->stages[s].parts[p].granted;
        }
        int64_t l = ride_master_stage_lag(m, a, &a->stages[s]);
        if (l >= 0)
            lag = (lag < 0 ? 0 : lag) + l;
    }
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:o}", "name", a->name,
                     "phase", ride_app_phase_name(a->phase), "generation",
                     (json_int_t)a->generation, "created_ms", (json_int_t)a->created_ms,
                     "updated_ms", (json_int_t)a->updated_ms, "message",
                     a->message ? a->message : "", "stages", (json_int_t)a->m.stage_count,
                     "partitions", (json_int_t)parts, "owned", (json_int_t)owned, "lag",
                     int_or_null(lag));
}

static int app_cmp(const void *x, const void *y)
{
    return strcmp((*(ride_master_app *const *)x)->name, (*(ride_master_app *const *)y)->name);
}

static void on_list_apps(const ride_http_request *req, ride_http_response *res, void *ctx)
{
    (void)req;
    ride_master *m = ctx;
    qsort(m->apps, m->app_count, sizeof *m->apps, app_cmp);
    json_t *arr = json_array();
    for (size_t i = 0; i < m->app_count; i++)
        json_array_append_new(arr, app_summary(m, m->apps[i]));
    reply(res, 200, json_pack("{s:o}", "apps", arr));
}

static json_t *string_list(char *const *items, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(items[i]));
    return arr;
}

static const char *stage_output(const ride_master_app *a, size_t s, char *buf, size_t len)
{
    const ride_manifest *man = &a->m;
    const ride_stage *next = ride_master_reader(man, man->stages[s].name);
    if (man->sink.stage == s && man->sink.type == RIDE_SINK_FILES)
        snprintf(buf, len, "files:%s", man->sink.path);
    else if (man->sink.stage == s && man->sink.type == RIDE_SINK_KAFKA)
        snprintf(buf, len, "%s", man->sink.topic);
    else if (man->sink.stage != s && next)
        snprintf(buf, len, "ride.%s.%s", a->name, next->name);
    else
        snprintf(buf, len, "none");
    return buf;
}

/* The stage's measures (measure.h), all unknown before the first tick. */
static json_t *measures_json(const ride_master_stage *s)
{
    ride_measure_figures f = {-1, -1, -1, -1, -1, NULL, 0};
    if (s->measure)
        f = ride_measure_stage_figures(s->measure);
    json_t *workers = json_array();
    for (size_t w = 0; w < f.worker_count; w++)
        json_array_append_new(
            workers, json_pack("{s:s, s:I, s:o, s:o}", "worker", f.workers[w].id, "partitions",
                               (json_int_t)f.workers[w].partitions, "service_fps",
                               figure_or_null(f.workers[w].service_fps), "busy_ratio",
                               figure_or_null(f.workers[w].busy_ratio)));
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "input_fps", figure_or_null(f.input_fps),
                     "service_fps", figure_or_null(f.service_fps), "busy_ratio",
                     figure_or_null(f.busy_ratio), "lag_frames", int_or_null(f.lag_frames),
                     "lag_seconds", figure_or_null(f.lag_seconds), "workers", workers);
}

static json_t *stage_json(ride_master *m, const ride_master_app *a, size_t i)
{
    const ride_master_stage *s = &a->stages[i];
    char out[RIDE_PATH_MAX + 8];
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:o, s:o, s:o, s:o}", "name",
                     s->st->name, "task", s->st->task, "input_topic", s->topic, "output",
                     stage_output(a, i, out, sizeof out), "partitions", s->st->partitions,
                     "min", s->st->workers.min, "max", s->st->workers.max, "spares",
                     s->st->workers.spares, "target", s->target, "active",
                     string_list(s->active, s->active_count), "spare",
                     string_list(s->spare, s->spare_count), "lag",
                     int_or_null(ride_master_stage_lag(m, a, s)), "measures", measures_json(s));
}

static json_t *app_detail(ride_master *m, const ride_master_app *a)
{
    json_t *j = app_summary(m, a);
    json_t *sources = json_array();
    for (size_t i = 0; i < a->m.source_count; i++)
        json_array_append_new(
            sources, json_pack("{s:s, s:s, s:o, s:I, s:I}", "name", a->m.sources[i].name, "uri",
                               a->m.sources[i].uri, "producer",
                               str_or_null(a->sources[i].producer), "epoch",
                               (json_int_t)a->sources[i].epoch, "stream_id",
                               (json_int_t)a->sources[i].stream_id));
    json_t *stages = json_array();
    for (size_t i = 0; i < a->m.stage_count; i++)
        json_array_append_new(stages, stage_json(m, a, i));
    json_t *parts = json_array();
    add_partitions(m, a, parts);
    json_object_set_new(j, "manifest", json_stringn(a->yaml, a->yaml_len));
    json_object_set_new(j, "sources", sources);
    json_object_set_new(j, "stages", stages);
    json_object_set_new(j, "partition_status", parts);
    return j;
}

static int member_cmp(const void *x, const void *y)
{
    return strcmp(((const ride_master_member *)x)->id, ((const ride_master_member *)y)->id);
}

static bool listed(char *const *ids, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

static const char *worker_state(ride_master *m, const ride_master_member *w, size_t *owned)
{
    bool active = false, spare = false;
    *owned = 0;
    for (size_t i = 0; i < m->app_count; i++)
        for (size_t s = 0; s < m->apps[i]->m.stage_count; s++) {
            const ride_master_stage *st = &m->apps[i]->stages[s];
            active |= listed(st->active, st->active_count, w->id);
            spare |= listed(st->spare, st->spare_count, w->id);
            for (int p = 0; p < st->st->partitions; p++)
                *owned += st->parts[p].granted && st->parts[p].owner &&
                          strcmp(st->parts[p].owner, w->id) == 0;
        }
    if (!w->alive)
        return "dead";
    return active || *owned ? "active" : spare ? "spare" : "idle";
}

static json_t *heartbeat_age(const ride_master_member *mb)
{
    return mb->hb_version < 0 ? json_null()
                              : json_integer(ride_clock_mono_ms() - mb->hb_changed_ms);
}

static json_t *labels_json(const ride_kv *kv, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, kv[i].key, json_string(kv[i].value));
    return o;
}

static void on_list_workers(const ride_http_request *req, ride_http_response *res, void *ctx)
{
    (void)req;
    ride_master *m = ctx;
    qsort(m->members, m->member_count, sizeof *m->members, member_cmp);
    json_t *arr = json_array();
    for (size_t i = 0; i < m->member_count; i++) {
        const ride_master_member *w = &m->members[i];
        if (!w->is_worker || !w->worker.id)
            continue;
        size_t owned = 0;
        const char *state = worker_state(m, w, &owned);
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:I, s:s, s:i, s:I, s:i, s:o, s:s, s:I, s:o}", "id",
                           w->id, "host", w->worker.host, "pid", (json_int_t)w->worker.pid,
                           "version", w->worker.version, "cores", w->worker.cores, "memory_mb",
                           (json_int_t)w->worker.memory_mb, "gpus", (int)w->worker.gpu_count,
                           "labels", labels_json(w->worker.labels, w->worker.label_count),
                           "state", state, "partitions", (json_int_t)owned, "heartbeat_age_ms",
                           heartbeat_age(w)));
    }
    reply(res, 200, json_pack("{s:o}", "workers", arr));
}

static size_t sources_of(ride_master *m, const char *producer)
{
    size_t n = 0;
    for (size_t i = 0; i < m->app_count; i++)
        for (size_t s = 0; s < m->apps[i]->m.source_count; s++)
            n += m->apps[i]->sources[s].producer &&
                 strcmp(m->apps[i]->sources[s].producer, producer) == 0;
    return n;
}

static void on_list_producers(const ride_http_request *req, ride_http_response *res, void *ctx)
{
    (void)req;
    ride_master *m = ctx;
    qsort(m->members, m->member_count, sizeof *m->members, member_cmp);
    json_t *arr = json_array();
    for (size_t i = 0; i < m->member_count; i++) {
        const ride_master_member *p = &m->members[i];
        if (p->is_worker || !p->producer.id)
            continue;
        size_t n = sources_of(m, p->id);
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:o}", "id", p->id, "host",
                           p->producer.host, "pid", (json_int_t)p->producer.pid, "version",
                           p->producer.version, "state",
                           !p->alive ? "dead" : n ? "active" : "idle", "sources",
                           (json_int_t)n, "heartbeat_age_ms", heartbeat_age(p)));
    }
    reply(res, 200, json_pack("{s:o}", "producers", arr));
}

/* The value of `key` in a query string, copied into buf; false when absent. */
static bool query_param(const char *query, const char *key, char *buf, size_t len)
{
    size_t klen = strlen(key);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            snprintf(buf, len, "%.*s", (int)(n - klen - 1), p + klen + 1);
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

/* {"<key>": [...]} filled by add for every application, or for ?app=<app> only. */
static void list_per_app(const ride_http_request *req, ride_http_response *res, ride_master *m,
                         const char *key,
                         void (*add)(ride_master *, const ride_master_app *, json_t *))
{
    char app[RIDE_NAME_MAX + 2] = "";
    bool filter = query_param(ride_http_request_query(req), "app", app, sizeof app);
    qsort(m->apps, m->app_count, sizeof *m->apps, app_cmp);
    json_t *arr = json_array();
    for (size_t i = 0; i < m->app_count; i++)
        if (!filter || strcmp(app, m->apps[i]->name) == 0)
            add(m, m->apps[i], arr);
    reply(res, 200, json_pack("{s:o}", key, arr));
}

static void on_list_partitions(const ride_http_request *req, ride_http_response *res, void *ctx)
{
    list_per_app(req, res, ctx, "partitions", add_partitions);
}

static void add_stage_measures(ride_master *m, const ride_master_app *a, json_t *arr)
{
    (void)m;
    for (size_t s = 0; s < a->m.stage_count; s++) {
        json_t *j = json_pack("{s:s, s:s, s:i}", "app", a->name, "stage", a->stages[s].st->name,
                              "partitions", a->stages[s].st->partitions);
        json_t *figures = measures_json(&a->stages[s]);
        json_object_update(j, figures);
        json_decref(figures);
        json_array_append_new(arr, j);
    }
}

static void on_list_stages(const ride_http_request *req, ride_http_response *res, void *ctx)
{
    list_per_app(req, res, ctx, "stages", add_stage_measures);
}

static json_t *event_json(ride_master *m, const char *child)
{
    char path[RIDE_ZK_PATH_MAX];
    char *data = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s", RIDE_CLUSTER_PATH_EVENTS, child);
    if (ride_zk_get(m->zk, path, &data, &len, NULL) != RIDE_ZK_OK)
        return NULL;
    ride_cluster_event e;
    char err[512];
    json_t *j = NULL;
    const char *digits = strrchr(child, '_');
    if (ride_cluster_event_decode(path, data, len, &e, err, sizeof err) == 0) {
        j = json_pack("{s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:s}", "seq",
                      (json_int_t)(digits ? strtoll(digits + 1, NULL, 10) : 0), "ts_ms",
                      (json_int_t)e.ts_ms, "type", e.type, "app", str_or_null(e.app), "stage",
                      str_or_null(e.stage), "partition",
                      e.partition >= 0 ? json_integer(e.partition) : json_null(), "member",
                      str_or_null(e.member), "message", e.message);
        ride_cluster_event_free(&e);
    }
    free(data);
    return j;
}

static void on_list_events(const ride_http_request *req, ride_http_response *res, void *ctx)
{
    ride_master *m = ctx;
    char buf[32];
    long limit = EVENTS_DEFAULT;
    if (query_param(ride_http_request_query(req), "limit", buf, sizeof buf)) {
        char *end = NULL;
        limit = strtol(buf, &end, 10);
        if (*buf == '\0' || *end || limit < 1 || limit > EVENTS_MAX) {
            reply_error(res, 400, "limit: expected an integer in 1..%d", EVENTS_MAX);
            return;
        }
    }
    ride_zk_strings ev = {0};
    if (ride_zk_get_children(m->zk, RIDE_CLUSTER_PATH_EVENTS, &ev) != RIDE_ZK_OK) {
        reply_error(res, 503, "cannot read events from ZooKeeper");
        return;
    }
    json_t *arr = json_array();
    size_t first = ev.count > (size_t)limit ? ev.count - (size_t)limit : 0;
    for (size_t i = first; i < ev.count; i++) {
        json_t *e = event_json(m, ev.items[i]);
        if (e)
            json_array_append_new(arr, e);
    }
    ride_zk_strings_free(&ev);
    reply(res, 200, json_pack("{s:o}", "events", arr));
}

/* ---- changes ---- */

static bool allowed(ride_master *m, const ride_http_request *req, ride_http_response *res)
{
    if (!ride_http_require_token(req, res, m->token))
        return false;
    if (!m->leading) {
        reply_error(res, 503, "this master is not leading");
        return false;
    }
    return true;
}

static bool worker_offers_task(ride_master *m, const char *task)
{
    for (size_t i = 0; i < m->member_count; i++)
        for (size_t t = 0; m->members[i].is_worker && t < m->members[i].worker.plugin_task_count;
             t++)
            if (strcmp(m->members[i].worker.plugin_tasks[t], task) == 0)
                return true;
    return false;
}

/* A source or stage read by two stages would need its frames in two topics. */
static int check_fan_out(const ride_manifest *man, char *err, size_t errlen)
{
    for (size_t s = 0; s < man->stage_count; s++)
        for (size_t i = 0; i < man->stages[s].input_count; i++) {
            const ride_stage_input *in = &man->stages[s].inputs[i];
            const ride_stage *first = ride_master_reader(man, in->name);
            if (first != &man->stages[s]) {
                snprintf(err, errlen,
                         "%s:%d:%d: spec.stages[%zu].input: '%s' is already read by stage "
                         "'%s'; a source or stage may feed one stage only",
                         man->file, in->pos.line, in->pos.column, s, in->name, first->name);
                return -1;
            }
        }
    return 0;
}

int ride_master_check_manifest(ride_master *m, const ride_manifest *man, char *err,
                               size_t errlen)
{
    /* librdkafka's mock cluster stores no transactional offsets. */
    if (man->delivery == RIDE_DELIVERY_EXACTLY_ONCE &&
        (m->cfg->kafka.embedded || m->bootstrap_embedded)) {
        snprintf(err, errlen, "%s: spec.delivery: exactly-once needs Kafka transactions, which "
                 "the embedded broker does not have; configure kafka.bootstrap.servers on the "
                 "masters, or use delivery: at-least-once", man->file);
        return -1;
    }
    for (size_t s = 0; s < man->stage_count; s++) {
        const ride_stage *st = &man->stages[s];
        if (st->partitions > m->cfg->topics.partitions_max) {
            snprintf(err, errlen, "%s:%d:%d: spec.stages[%zu].partitions: %d exceeds the "
                     "cluster's topics.partitions_max (%d)", man->file, st->pos.line,
                     st->pos.column, s, st->partitions, m->cfg->topics.partitions_max);
            return -1;
        }
        if (!ride_task_find(m->registry, st->task) && worker_offers_task(m, st->task))
            continue; /* a plugin task: the workers that load it check its params */
        ride_parse_error perr;
        if (ride_task_validate_stage(m->registry, man, s, NULL, &perr)) {
            ride_parse_error_format(&perr, err, errlen);
            return -1;
        }
    }
    return check_fan_out(man, err, errlen);
}

/* The file name a client gave for its manifest, when it is plain printable text. */
static const char *manifest_name(const ride_http_request *req)
{
    const char *name = ride_http_request_header(req, NAME_HEADER);
    if (!name || !*name || strlen(name) > 200)
        return "<request>";
    for (const char *p = name; *p; p++)
        if (!isprint((unsigned char)*p))
            return "<request>";
    return name;
}

static bool same_partitions(const ride_master_app *old, const ride_manifest *man, char *err,
                            size_t errlen)
{
    for (size_t i = 0; i < old->m.stage_count; i++) {
        const ride_stage *now = ride_manifest_stage(man, old->m.stages[i].name);
        if (now && now->partitions != old->m.stages[i].partitions) {
            snprintf(err, errlen, "%s:%d:%d: stage '%s': partitions cannot change from %d to %d "
                     "on a running application (delete it and apply again)", man->file,
                     now->pos.line, now->pos.column, now->name, old->m.stages[i].partitions,
                     now->partitions);
            return false;
        }
    }
    return true;
}

static void take_stage_state(ride_master_stage *to, ride_master_stage *from)
{
    ride_master_partition *parts = to->parts;
    to->parts = from->parts;
    from->parts = parts;
    to->target = from->target;
    to->active = from->active;
    to->active_count = from->active_count;
    to->spare = from->spare;
    to->spare_count = from->spare_count;
    from->active = from->spare = NULL;
    from->active_count = from->spare_count = 0;
    memcpy(to->issue, from->issue, sizeof to->issue);
    to->measure = from->measure;
    from->measure = NULL;
}

static uint32_t next_stream_id(const ride_master_app *a)
{
    uint32_t next = 0;
    for (size_t i = 0; i < a->m.source_count; i++)
        if (a->sources[i].stream_id >= next)
            next = a->sources[i].stream_id + 1;
    return next;
}

/* Moves owners, groups and sources that survive a reconfiguration into the new
 * record, so unchanged work keeps running where it runs. */
static bool carry_over(ride_master_app *to, ride_master_app *from)
{
    bool all_topics = true;
    for (size_t i = 0; i < to->m.stage_count; i++) {
        bool found = false;
        for (size_t j = 0; j < from->m.stage_count && !found; j++)
            if (strcmp(to->stages[i].st->name, from->stages[j].st->name) == 0) {
                take_stage_state(&to->stages[i], &from->stages[j]);
                found = true;
            }
        all_topics &= found;
    }
    uint32_t next = next_stream_id(from);
    for (size_t i = 0; i < to->m.source_count; i++) {
        to->sources[i].stream_id = next++;
        for (size_t j = 0; j < from->m.source_count; j++)
            if (strcmp(to->m.sources[i].name, from->m.sources[j].name) == 0) {
                to->sources[i] = from->sources[j];
                from->sources[j].producer = NULL;
                next--;
                break;
            }
    }
    to->topics_exist = all_topics && from->topics_exist;
    to->phase = from->phase;
    to->generation = from->generation;
    to->created_ms = from->created_ms;
    /* Changed topic settings are sent to the existing topics. */
    bool same_settings = memcmp(&to->m.topics, &from->m.topics, sizeof to->m.topics) == 0;
    return all_topics && same_settings && from->topics_ready;
}

static void replace_app(ride_master *m, ride_master_app *old, ride_master_app *a)
{
    for (size_t i = 0; i < m->app_count; i++)
        if (m->apps[i] == old)
            m->apps[i] = a;
    ride_master_app_free(old);
}

static int add_app(ride_master *m, ride_master_app *a)
{
    ride_master_app **grown = realloc(m->apps, (m->app_count + 1) * sizeof *grown);
    if (!grown)
        return -1;
    m->apps = grown;
    m->apps[m->app_count++] = a;
    return 0;
}

static void apply_app(ride_master *m, ride_manifest *man, const char *body, size_t len,
                      ride_http_response *res)
{
    char err[2048];
    ride_master_app *old = ride_master_find_app(m, man->name);
    if (old && old->phase == RIDE_APP_DELETING) {
        reply_error(res, 409, "application %s is being deleted; apply it again afterwards",
                    man->name);
        return;
    }
    if (old && old->yaml_len == len && memcmp(old->yaml, body, len) == 0) {
        reply(res, 200, json_pack("{s:s, s:s}", "app", man->name, "result", "unchanged"));
        return;
    }
    if (old && !same_partitions(old, man, err, sizeof err)) {
        reply_error(res, 400, "%s", err);
        return;
    }
    char name[RIDE_NAME_MAX + 1];
    snprintf(name, sizeof name, "%s", man->name);
    ride_master_app *a = ride_master_app_new(name, body, len, man);
    if (!a) {
        reply_error(res, 500, "out of memory");
        return;
    }
    char path[RIDE_ZK_PATH_MAX];
    ride_zk_err rc = ride_cluster_path_app(path, sizeof path, name)
                         ? RIDE_ZK_BAD_ARGUMENTS
                         : ride_master_put_node(m, path, body, len);
    if (rc != RIDE_ZK_OK) {
        ride_master_app_free(a);
        reply_error(res, 503, "cannot store the application in ZooKeeper: %s",
                    ride_zk_strerror(rc));
        return;
    }
    if (old) {
        a->topics_ready = carry_over(a, old);
        replace_app(m, old, a);
    } else {
        a->phase = RIDE_APP_PENDING;
        a->generation = m->generation;
        a->created_ms = ride_clock_wall_ms();
        if (add_app(m, a)) {
            ride_master_app_free(a);
            reply_error(res, 500, "out of memory");
            return;
        }
    }
    ride_master_write_state(m, a);
    ride_master_event(m, old ? "app_configured" : "app_created", name, NULL, -1, NULL, "%s",
                      "");
    uv_async_send(&m->wake);
    reply(res, old ? 200 : 201,
          json_pack("{s:s, s:s}", "app", name, "result", old ? "configured" : "created"));
}

static void on_apply(const ride_http_request *req, ride_http_response *res, void *ctx)
{
    ride_master *m = ctx;
    if (!allowed(m, req, res))
        return;
    size_t len = 0;
    const char *body = ride_http_request_body(req, &len);
    ride_manifest man;
    ride_parse_error perr;
    char err[2048];
    if (ride_manifest_parse(manifest_name(req), body, len, &man, &perr)) {
        reply_error(res, 400, "%s", ride_parse_error_format(&perr, err, sizeof err));
        return;
    }
    if (ride_master_check_manifest(m, &man, err, sizeof err)) {
        reply_error(res, 400, "%s", err);
        ride_manifest_free(&man);
        return;
    }
    apply_app(m, &man, body, len, res);
    ride_manifest_free(&man);
}

/* Splits "/v1/apps/<app>[/stages/<stage>/scale]"; returns the number of parts
 * found (1: app, 2: app and stage), 0 for anything else. */
static int split_app_path(const char *path, char *app, char *stage)
{
    const char *rest = path + strlen("/v1/apps/");
    int n = 0;
    char tail[16] = "";
    if (sscanf(rest, "%63[a-z0-9-]%n", app, &n) != 1)
        return 0;
    if (rest[n] == '\0')
        return 1;
    int m2 = 0;
    if (sscanf(rest + n, "/stages/%63[a-z0-9-]%n", stage, &m2) != 1)
        return 0;
    if (sscanf(rest + n + m2, "/%15[a-z]", tail) != 1 || strcmp(rest + n + m2, "/scale") != 0)
        return 0;
    return 2;
}

static void delete_app(ride_master *m, ride_master_app *a, ride_http_response *res)
{
    if (a->phase != RIDE_APP_DELETING) {
        a->phase = RIDE_APP_DELETING;
        ride_master_write_state(m, a);
        ride_master_event(m, "app_deleting", a->name, NULL, -1, NULL, "%s", "");
        uv_async_send(&m->wake);
    }
    reply(res, 200, json_pack("{s:s, s:s}", "app", a->name, "result", "deleted"));
}

static ride_master_stage *app_stage(ride_master_app *a, const char *stage)
{
    for (size_t i = 0; i < a->m.stage_count; i++)
        if (strcmp(a->stages[i].st->name, stage) == 0)
            return &a->stages[i];
    return NULL;
}

/* Drops the stage's `ridectl scale` target: the autoscaler (when enabled) decides
 * again from the group as it is, or the group keeps its size. */
static void scale_stage_auto(ride_master *m, ride_master_app *a, ride_master_stage *s,
                             ride_http_response *res)
{
    char path[RIDE_ZK_PATH_MAX];
    snprintf(path, sizeof path, "/apps/%s/%s/%s", a->name, RIDE_MASTER_SCALE_DIR, s->st->name);
    ride_zk_err rc = ride_zk_delete(m->zk, path, -1);
    if (rc != RIDE_ZK_OK && rc != RIDE_ZK_NONODE) {
        reply_error(res, 503, "cannot remove the scale from ZooKeeper: %s", ride_zk_strerror(rc));
        return;
    }
    s->target = 0;
    s->autoscale = (ride_autoscale_state){0};
    ride_master_event(m, "stage_scaled", a->name, s->st->name, -1, NULL, "auto (%s)",
                      s->st->workers.autoscale.enabled ? "autoscaler" : "group size kept");
    uv_async_send(&m->wake);
    reply(res, 200, json_pack("{s:s, s:s, s:s}", "app", a->name, "stage", s->st->name, "workers",
                              "auto"));
}

static void scale_stage(ride_master *m, ride_master_app *a, const char *stage,
                        const ride_http_request *req, ride_http_response *res)
{
    ride_master_stage *s = app_stage(a, stage);
    if (!s) {
        reply_error(res, 404, "application %s has no stage %s", a->name, stage);
        return;
    }
    size_t len = 0;
    const char *body = ride_http_request_body(req, &len);
    json_error_t jerr;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *n = j ? json_object_get(j, "workers") : NULL;
    json_int_t workers = json_is_integer(n) ? json_integer_value(n) : -1;
    bool automatic = json_is_string(n) && strcmp(json_string_value(n), "auto") == 0;
    json_decref(j);
    if (automatic) {
        scale_stage_auto(m, a, s, res);
        return;
    }
    int lo = s->st->workers.min > 1 ? s->st->workers.min : 1;
    if (workers < lo || workers > s->st->workers.max) {
        reply_error(res, 400, "body: expected {\"workers\": N} with N in %d..%d (the stage's "
                    "workers.min..max) or {\"workers\": \"auto\"}", lo, s->st->workers.max);
        return;
    }
    char path[RIDE_ZK_PATH_MAX];
    char data[16];
    snprintf(path, sizeof path, "/apps/%s/%s/%s", a->name, RIDE_MASTER_SCALE_DIR, stage);
    snprintf(data, sizeof data, "%d", (int)workers);
    ride_zk_err rc = ride_master_put_node(m, path, data, strlen(data));
    if (rc != RIDE_ZK_OK) {
        reply_error(res, 503, "cannot store the scale in ZooKeeper: %s", ride_zk_strerror(rc));
        return;
    }
    s->target = (int)workers;
    ride_master_event(m, "stage_scaled", a->name, stage, -1, NULL, "%d worker(s)", (int)workers);
    uv_async_send(&m->wake);
    reply(res, 200, json_pack("{s:s, s:s, s:i}", "app", a->name, "stage", stage, "workers",
                              (int)workers));
}

static void on_app(const ride_http_request *req, ride_http_response *res, void *ctx)
{
    ride_master *m = ctx;
    char app[RIDE_NAME_MAX + 1] = "", stage[RIDE_NAME_MAX + 1] = "";
    const char *method = ride_http_request_method(req);
    int parts = split_app_path(ride_http_request_path(req), app, stage);
    bool post = strcmp(method, "POST") == 0;
    if (parts == 0 || (parts == 2) != post) {
        reply_error(res, 404, "no such resource: %s", ride_http_request_path(req));
        return;
    }
    if (strcmp(method, "GET") != 0 && !allowed(m, req, res))
        return;
    ride_master_app *a = ride_master_find_app(m, app);
    if (!a) {
        reply_error(res, 404, "application %s not found", app);
        return;
    }
    if (post)
        scale_stage(m, a, stage, req, res);
    else if (strcmp(method, "DELETE") == 0)
        delete_app(m, a, res);
    else
        reply(res, 200, app_detail(m, a));
}

int ride_master_api_routes(ride_master *m, ride_http_server *srv)
{
    int rc = 0;
    rc |= ride_http_server_route(srv, "GET", "/healthz", false, on_healthz, m);
    rc |= ride_http_server_route(srv, "GET", "/v1/apps", false, on_list_apps, m);
    rc |= ride_http_server_route(srv, "POST", "/v1/apps", false, on_apply, m);
    rc |= ride_http_server_route(srv, "GET", "/v1/apps/", true, on_app, m);
    rc |= ride_http_server_route(srv, "DELETE", "/v1/apps/", true, on_app, m);
    rc |= ride_http_server_route(srv, "POST", "/v1/apps/", true, on_app, m);
    rc |= ride_http_server_route(srv, "GET", "/v1/workers", false, on_list_workers, m);
    rc |= ride_http_server_route(srv, "GET", "/v1/producers", false, on_list_producers, m);
    rc |= ride_http_server_route(srv, "GET", "/v1/partitions", false, on_list_partitions, m);
    rc |= ride_http_server_route(srv, "GET", "/v1/stages", false, on_list_stages, m);
    rc |= ride_http_server_route(srv, "GET", "/v1/events", false, on_list_events, m);
    rc |= ride_metrics_serve(m->metrics.reg, srv);
    return rc ? -1 : 0;
}
