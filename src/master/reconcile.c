/* reconcile.c - the leader's decisions: topics for every stage, an owner for every
 * partition (through the planner, src/master/assign.h), a producer for every
 * source, and one assignment node per member saying all it must run.
 *
 * A partition moving between two live workers is handed over in two steps: the
 * old owner's assignment drops it first, and the new owner gets it once the old
 * owner's heartbeat no longer lists it (or it died, or RELEASE_TIMEOUT passed), so
 * two workers never process one partition at the same time without a fault. A
 * partition of a dead worker goes to its successor at once: the epoch fences the
 * dead one should it come back. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assign.h"
#include "master.h"
#include "base/clock.h"
#include "base/log.h"

#define EVENTS_KEPT 1000
#define EVENTS_TRIM_EVERY 100

static bool same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static bool app_active(const ride_master_app *a)
{
    return a->phase == RIDE_APP_RUNNING && a->topics_ready;
}

/* ---- events ---- */

static void trim_events(ride_master *m)
{
    ride_zk_strings ev = {0};
    if (ride_zk_get_children(m->zk, RIDE_CLUSTER_PATH_EVENTS, &ev) != RIDE_ZK_OK)
        return;
    for (size_t i = 0; i + EVENTS_KEPT < ev.count; i++) {
        char path[RIDE_ZK_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", RIDE_CLUSTER_PATH_EVENTS, ev.items[i]);
        ride_zk_delete(m->zk, path, -1);
    }
    ride_zk_strings_free(&ev);
}

void ride_master_event(ride_master *m, const char *type, const char *app, const char *stage,
                       int partition, const char *member, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    char q[1100];
    ride_log_info(type, "app=%s stage=%s partition=%d member=%s message=%s", app ? app : "-",
                  stage ? stage : "-", partition, member ? member : "-",
                  ride_log_quote(message, q, sizeof q));
    if (!m->leading)
        return;
    ride_cluster_event e = {.ts_ms = ride_clock_wall_ms(),
                            .type = type,
                            .app = app,
                            .stage = stage,
                            .partition = partition,
                            .member = member,
                            .message = message};
    char err[256];
    char *json = ride_cluster_event_encode(&e, err, sizeof err);
    if (!json) {
        ride_log_warn("event_not_written", "type=%s error=%s", type,
                      ride_log_quote(err, q, sizeof q));
        return;
    }
    if (ride_zk_create(m->zk, RIDE_CLUSTER_PREFIX_EVENT, json, strlen(json), RIDE_ZK_SEQUENTIAL,
                       NULL, 0) == RIDE_ZK_OK) {
        ride_counter_inc(m->metrics.events);
        if (++m->events_written % EVENTS_TRIM_EVERY == 0)
            trim_events(m);
    }
    free(json);
}

/* ---- ZooKeeper writes ---- */

ride_zk_err ride_master_put_node(ride_master *m, const char *path, const void *data, size_t len)
{
    ride_zk_err rc = ride_zk_set(m->zk, path, data, len, -1, NULL);
    if (rc == RIDE_ZK_NONODE) {
        ride_zk_err made = ride_zk_create(m->zk, path, data, len, 0, NULL, 0);
        if (made == RIDE_ZK_NONODE) {
            char parent[RIDE_ZK_PATH_MAX];
            snprintf(parent, sizeof parent, "%s", path);
            *strrchr(parent, '/') = '\0';
            ride_zk_ensure_path(m->zk, parent);
            made = ride_zk_create(m->zk, path, data, len, 0, NULL, 0);
        }
        rc = made == RIDE_ZK_NODEEXISTS ? ride_zk_set(m->zk, path, data, len, -1, NULL) : made;
    }
    if (rc != RIDE_ZK_OK)
        ride_log_warn("zk_write_failed", "path=%s error=%s", path, ride_zk_strerror(rc));
    return rc;
}

static ride_zk_err put_node(ride_master *m, const char *path, const char *text)
{
    return ride_master_put_node(m, path, text, strlen(text));
}

void ride_master_write_state(ride_master *m, ride_master_app *a)
{
    char path[RIDE_ZK_PATH_MAX];
    char err[256];
    a->updated_ms = ride_clock_wall_ms();
    ride_cluster_app_state st = {.phase = a->phase,
                                 .generation = a->generation,
                                 .created_ms = a->created_ms,
                                 .updated_ms = a->updated_ms,
                                 .message = a->message ? a->message : ""};
    char *json = ride_cluster_app_state_encode(&st, err, sizeof err);
    if (json && ride_cluster_path_app_state(path, sizeof path, a->name) == 0)
        put_node(m, path, json);
    free(json);
}

static void set_message(ride_master *m, ride_master_app *a, const char *msg)
{
    if (a->message && strcmp(a->message, msg) == 0)
        return;
    char *copy = strdup(msg);
    if (!copy)
        return;
    free(a->message);
    a->message = copy;
    ride_master_write_state(m, a);
}

static void store_partition(ride_master *m, ride_master_app *a, ride_master_stage *s, int p)
{
    ride_master_partition *part = &s->parts[p];
    char path[RIDE_ZK_PATH_MAX];
    if (ride_cluster_path_partition(path, sizeof path, a->name, s->st->name, p))
        return;
    if (!part->owner) {
        ride_zk_err rc = ride_zk_delete(m->zk, path, -1);
        part->stored = rc == RIDE_ZK_OK || rc == RIDE_ZK_NONODE;
        return;
    }
    char err[256];
    ride_cluster_partition_owner o = {.owner = part->owner, .epoch = part->epoch};
    char *json = ride_cluster_partition_owner_encode(&o, err, sizeof err);
    part->stored = json && put_node(m, path, json) == RIDE_ZK_OK;
    free(json);
}

static void store_source(ride_master *m, ride_master_app *a, size_t i)
{
    ride_master_source *src = &a->sources[i];
    char path[RIDE_ZK_PATH_MAX];
    if (ride_cluster_path_source(path, sizeof path, a->name, a->m.sources[i].name))
        return;
    if (!src->producer) {
        ride_zk_err rc = ride_zk_delete(m->zk, path, -1);
        src->stored = rc == RIDE_ZK_OK || rc == RIDE_ZK_NONODE;
        return;
    }
    char err[256];
    ride_cluster_source_owner o = {
        .producer = src->producer, .epoch = src->epoch, .stream_id = src->stream_id};
    char *json = ride_cluster_source_owner_encode(&o, err, sizeof err);
    src->stored = json && put_node(m, path, json) == RIDE_ZK_OK;
    free(json);
}

/* ---- topics ---- */

static const char *sink_topic(const ride_master_app *a, size_t stage)
{
    if (a->m.sink.type == RIDE_SINK_KAFKA && a->m.sink.stage == stage)
        return a->m.sink.topic;
    return NULL;
}

static int topics_ready(ride_master *m, ride_master_app *a, char *err, size_t errlen)
{
    int ready = 1;
    for (size_t i = 0; i < a->m.stage_count && ready > 0; i++) {
        const ride_master_stage *s = &a->stages[i];
        ready = ride_master_topic_ready(m, s->topic, s->st->partitions, err, errlen);
        const char *sink = sink_topic(a, i);
        if (ready > 0 && sink)
            ready = ride_master_topic_ready(m, sink, s->st->partitions, err, errlen);
    }
    return ready;
}

static void ensure_topics(ride_master *m)
{
    for (size_t i = 0; i < m->app_count; i++) {
        ride_master_app *a = m->apps[i];
        if (a->topics_ready || a->phase == RIDE_APP_DELETING)
            continue;
        char err[512] = "";
        int ready = topics_ready(m, a, err, sizeof err);
        if (ready < 0) {
            set_message(m, a, err);
            continue;
        }
        if (ready == 0)
            continue;
        a->topics_ready = true;
        if (a->phase == RIDE_APP_PENDING) {
            a->phase = RIDE_APP_RUNNING;
            free(a->message);
            a->message = strdup("");
            ride_master_write_state(m, a);
            ride_master_event(m, "app_running", a->name, NULL, -1, NULL, "topics ready");
        }
    }
}

/* ---- partitions ---- */

typedef struct plan_input {
    ride_assign_worker *workers;
    size_t worker_count;
    ride_assign_stage *stages;
    size_t stage_count;
    ride_assign_owner *owners;
    size_t owner_count;
    ride_assign_member *members;
    size_t member_count;
} plan_input;

static void plan_input_free(plan_input *in)
{
    free(in->workers);
    free(in->stages);
    free(in->owners);
    free(in->members);
}

static size_t count_stage_records(ride_master *m, size_t *parts, size_t *members)
{
    size_t stages = 0;
    *parts = *members = 0;
    for (size_t i = 0; i < m->app_count; i++) {
        ride_master_app *a = m->apps[i];
        if (!app_active(a))
            continue;
        stages += a->m.stage_count;
        for (size_t s = 0; s < a->m.stage_count; s++) {
            *parts += (size_t)a->stages[s].st->partitions;
            *members += a->stages[s].active_count + a->stages[s].spare_count;
        }
    }
    return stages;
}

static void add_stage_input(plan_input *in, ride_master_app *a, ride_master_stage *s)
{
    const ride_stage *st = s->st;
    in->stages[in->stage_count++] = (ride_assign_stage){
        .app = a->name,
        .stage = st->name,
        .partitions = st->partitions,
        .workers = st->workers,
        .device = st->resources.device,
        .gpus = st->resources.gpus,
        .selector = st->selector,
        .selector_count = st->selector_count,
        .target = s->target,
        .fill = true,
    };
    for (int p = 0; p < st->partitions; p++)
        in->owners[in->owner_count++] =
            (ride_assign_owner){a->name, st->name, p, s->parts[p].owner, s->parts[p].epoch};
    for (size_t i = 0; i < s->active_count; i++)
        in->members[in->member_count++] =
            (ride_assign_member){a->name, st->name, s->active[i], RIDE_ASSIGN_ACTIVE};
    for (size_t i = 0; i < s->spare_count; i++)
        in->members[in->member_count++] =
            (ride_assign_member){a->name, st->name, s->spare[i], RIDE_ASSIGN_SPARE};
}

static bool build_plan_input(ride_master *m, plan_input *in)
{
    size_t parts, members;
    size_t stages = count_stage_records(m, &parts, &members);
    memset(in, 0, sizeof *in);
    in->workers = calloc(m->member_count + 1, sizeof *in->workers);
    in->stages = calloc(stages + 1, sizeof *in->stages);
    in->owners = calloc(parts + 1, sizeof *in->owners);
    in->members = calloc(members + 1, sizeof *in->members);
    if (!in->workers || !in->stages || !in->owners || !in->members)
        return false;
    for (size_t i = 0; i < m->member_count; i++) {
        ride_master_member *mb = &m->members[i];
        if (!mb->is_worker || !mb->worker.id)
            continue;
        in->workers[in->worker_count++] = (ride_assign_worker){
            .id = mb->id,
            .cores = mb->worker.cores,
            .gpus = (int)mb->worker.gpu_count,
            .labels = mb->worker.labels,
            .label_count = mb->worker.label_count,
            .alive = mb->alive,
        };
    }
    for (size_t i = 0; i < m->app_count; i++)
        if (app_active(m->apps[i]))
            for (size_t s = 0; s < m->apps[i]->m.stage_count; s++)
                add_stage_input(in, m->apps[i], &m->apps[i]->stages[s]);
    return true;
}

static ride_master_stage *find_stage(ride_master *m, const char *app, const char *stage,
                                     ride_master_app **out_app)
{
    ride_master_app *a = ride_master_find_app(m, app);
    if (!a)
        return NULL;
    *out_app = a;
    for (size_t s = 0; s < a->m.stage_count; s++)
        if (strcmp(a->stages[s].st->name, stage) == 0)
            return &a->stages[s];
    return NULL;
}

static bool worker_alive(ride_master *m, const char *id)
{
    ride_master_member *mb = id ? ride_master_find_member(m, id, true) : NULL;
    return mb && mb->alive;
}

static void apply_move(ride_master *m, const ride_assign_move *mv)
{
    ride_master_app *a = NULL;
    ride_master_stage *s = find_stage(m, mv->app, mv->stage, &a);
    if (!s)
        return;
    ride_master_partition *part = &s->parts[mv->partition];
    bool handover = mv->from && mv->to && worker_alive(m, mv->from);
    char *to = mv->to ? strdup(mv->to) : NULL;
    if (mv->to && !to)
        return;
    /* mv->from points at the old owner string: it is released after the event. */
    char *old = part->owner;
    free(part->releasing);
    part->owner = to;
    part->epoch = mv->epoch;
    part->releasing = handover ? strdup(mv->from) : NULL;
    part->granted = !part->releasing;
    part->release_deadline_ms = ride_clock_mono_ms() + RIDE_MASTER_RELEASE_TIMEOUT_MS;
    store_partition(m, a, s, mv->partition);
    ride_counter_inc(m->metrics.moves);
    if (!mv->from) {
        ride_master_event(m, "partition_assigned", mv->app, mv->stage, mv->partition, mv->to,
                          "epoch %" PRId64, mv->epoch);
    } else if (!mv->to) {
        ride_master_event(m, "partition_unowned", mv->app, mv->stage, mv->partition, mv->from,
                          "no eligible worker");
    } else if (handover) {
        ride_master_event(m, "partition_moved", mv->app, mv->stage, mv->partition, mv->to,
                          "from %s (rebalance), epoch %" PRId64, mv->from, mv->epoch);
    } else {
        ride_counter_inc(m->metrics.failovers);
        ride_master_event(m, "partition_failover", mv->app, mv->stage, mv->partition, mv->to,
                          "from %s (failed), epoch %" PRId64, mv->from, mv->epoch);
    }
    free(old);
}

/* Replaces a stage's list of active or spare workers with the plan's; the new list
 * is built before the old one is released, since the plan may point into it. */
static void set_ids(char ***list, size_t *count, const ride_assign_plan *plan, const char *app,
                    const char *stage, ride_assign_role role)
{
    char **ids = calloc(plan->member_count + 1, sizeof *ids);
    if (!ids)
        return;
    size_t n = 0;
    for (size_t i = 0; i < plan->member_count; i++) {
        const ride_assign_member *mb = &plan->members[i];
        if (mb->role == role && strcmp(mb->app, app) == 0 && strcmp(mb->stage, stage) == 0 &&
            (ids[n] = strdup(mb->worker)))
            n++;
    }
    for (size_t i = 0; i < *count; i++)
        free((*list)[i]);
    free(*list);
    *list = ids;
    *count = n;
}

static void report_issues(ride_master *m, ride_master_app *a, ride_master_stage *s,
                          const ride_assign_plan *plan)
{
    const char *reason = "";
    for (size_t i = 0; i < plan->issue_count; i++)
        if (strcmp(plan->issues[i].app, a->name) == 0 &&
            strcmp(plan->issues[i].stage, s->st->name) == 0)
            reason = plan->issues[i].reason;
    if (strcmp(reason, s->issue) == 0)
        return;
    snprintf(s->issue, sizeof s->issue, "%s", reason);
    if (*reason)
        ride_master_event(m, "stage_degraded", a->name, s->st->name, -1, NULL, "%s", reason);
    else
        ride_master_event(m, "stage_placed", a->name, s->st->name, -1, NULL, "%s", "");
}

static void adopt_plan(ride_master *m, const ride_assign_plan *plan)
{
    for (size_t i = 0; i < plan->move_count; i++)
        apply_move(m, &plan->moves[i]);
    for (size_t i = 0; i < m->app_count; i++) {
        ride_master_app *a = m->apps[i];
        if (!app_active(a))
            continue;
        for (size_t s = 0; s < a->m.stage_count; s++) {
            ride_master_stage *st = &a->stages[s];
            set_ids(&st->active, &st->active_count, plan, a->name, st->st->name,
                    RIDE_ASSIGN_ACTIVE);
            set_ids(&st->spare, &st->spare_count, plan, a->name, st->st->name,
                    RIDE_ASSIGN_SPARE);
            report_issues(m, a, st, plan);
        }
    }
}

static void plan_partitions(ride_master *m)
{
    plan_input in;
    ride_assign_plan plan = {0};
    char err[512];
    if (!build_plan_input(m, &in)) {
        plan_input_free(&in);
        return;
    }
    ride_assign_input ai = {in.workers, in.worker_count, in.stages,  in.stage_count,
                            in.owners,  in.owner_count,  in.members, in.member_count};
    if (ride_assign_plan_compute(&ai, &plan, err, sizeof err)) {
        ride_log_error("plan_failed", "error=%s", ride_log_quote(err, (char[600]){0}, 600));
    } else {
        adopt_plan(m, &plan);
        ride_assign_plan_free(&plan);
    }
    plan_input_free(&in);
}

/* ---- hand-over of moved partitions ---- */

/* True while the worker's last heartbeat lists the partition. */
static bool still_running(ride_master *m, const char *worker, const char *app,
                          const char *stage, int partition)
{
    char path[RIDE_ZK_PATH_MAX];
    char *data = NULL;
    size_t len = 0;
    if (ride_cluster_path_heartbeat(path, sizeof path, worker) ||
        ride_zk_get(m->zk, path, &data, &len, NULL) != RIDE_ZK_OK)
        return false;
    ride_cluster_heartbeat hb;
    char err[512];
    bool running = false;
    if (ride_cluster_heartbeat_decode(path, data, len, &hb, err, sizeof err) == 0) {
        for (size_t i = 0; i < hb.partition_count && !running; i++)
            running = hb.partitions[i].partition == partition &&
                      strcmp(hb.partitions[i].app, app) == 0 &&
                      strcmp(hb.partitions[i].stage, stage) == 0;
        ride_cluster_heartbeat_free(&hb);
    }
    free(data);
    return running;
}

static void progress_release(ride_master *m, ride_master_app *a, ride_master_stage *s, int p)
{
    ride_master_partition *part = &s->parts[p];
    bool timed_out = ride_clock_mono_ms() >= part->release_deadline_ms;
    if (worker_alive(m, part->releasing) && !timed_out &&
        still_running(m, part->releasing, a->name, s->st->name, p))
        return;
    if (timed_out)
        ride_log_warn("release_timeout", "app=%s stage=%s partition=%d from=%s to=%s", a->name,
                      s->st->name, p, part->releasing, part->owner ? part->owner : "-");
    free(part->releasing);
    part->releasing = NULL;
    part->granted = true;
}

static void progress_releases(ride_master *m)
{
    for (size_t i = 0; i < m->app_count; i++) {
        ride_master_app *a = m->apps[i];
        for (size_t s = 0; app_active(a) && s < a->m.stage_count; s++)
            for (int p = 0; p < a->stages[s].st->partitions; p++) {
                if (a->stages[s].parts[p].releasing)
                    progress_release(m, a, &a->stages[s], p);
                if (!a->stages[s].parts[p].stored)
                    store_partition(m, a, &a->stages[s], p);
            }
    }
}

/* ---- sources ---- */

static size_t producer_load(ride_master *m, const char *id)
{
    size_t n = 0;
    for (size_t i = 0; i < m->app_count; i++)
        for (size_t s = 0; s < m->apps[i]->m.source_count; s++)
            n += same(m->apps[i]->sources[s].producer, id);
    return n;
}

static bool lists_source(const ride_master_member *mb, const char *uri)
{
    for (size_t i = 0; i < mb->producer.local_source_count; i++)
        if (strcmp(mb->producer.local_sources[i], uri) == 0)
            return true;
    return false;
}

/* The live producer for a source: one that lists the uri as local when any does,
 * else the least loaded (ties by id). */
static const char *choose_producer(ride_master *m, const char *uri)
{
    bool local = false;
    for (size_t i = 0; i < m->member_count; i++)
        if (!m->members[i].is_worker && m->members[i].alive && lists_source(&m->members[i], uri))
            local = true;
    const char *best = NULL;
    size_t best_load = 0;
    for (size_t i = 0; i < m->member_count; i++) {
        ride_master_member *mb = &m->members[i];
        if (mb->is_worker || !mb->alive || (local && !lists_source(mb, uri)))
            continue;
        size_t load = producer_load(m, mb->id);
        if (!best || load < best_load || (load == best_load && strcmp(mb->id, best) < 0)) {
            best = mb->id;
            best_load = load;
        }
    }
    return best;
}

static void place_source(ride_master *m, ride_master_app *a, size_t i)
{
    ride_master_source *src = &a->sources[i];
    ride_master_member *cur =
        src->producer ? ride_master_find_member(m, src->producer, false) : NULL;
    if (cur && cur->alive) {
        if (!src->stored)
            store_source(m, a, i);
        return;
    }
    const char *next = choose_producer(m, a->m.sources[i].uri);
    if (same(next, src->producer)) {
        if (!src->stored)
            store_source(m, a, i);
        return;
    }
    char *copy = next ? strdup(next) : NULL;
    if (next && !copy)
        return;
    char *from = src->producer;
    src->producer = copy;
    src->epoch++;
    store_source(m, a, i);
    const char *name = a->m.sources[i].name;
    if (!next)
        ride_master_event(m, "source_unassigned", a->name, NULL, -1, from,
                          "source %s: no live producer", name);
    else if (from)
        ride_master_event(m, "source_moved", a->name, NULL, -1, next,
                          "source %s from %s (failed), epoch %" PRId64, name, from, src->epoch);
    else
        ride_master_event(m, "source_assigned", a->name, NULL, -1, next,
                          "source %s, epoch %" PRId64, name, src->epoch);
    free(from);
}

static void place_sources(ride_master *m)
{
    for (size_t i = 0; i < m->app_count; i++)
        if (app_active(m->apps[i]))
            for (size_t s = 0; s < m->apps[i]->m.source_count; s++)
                place_source(m, m->apps[i], s);
}

/* ---- assignments ---- */

static ride_master_assignment *assignment_record(ride_master *m, const char *member)
{
    for (size_t i = 0; i < m->assignment_count; i++)
        if (strcmp(m->assignments[i].member, member) == 0)
            return &m->assignments[i];
    ride_master_assignment *grown =
        realloc(m->assignments, (m->assignment_count + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    m->assignments = grown;
    ride_master_assignment *r = &grown[m->assignment_count];
    memset(r, 0, sizeof *r);
    if (!(r->member = strdup(member)))
        return NULL;
    m->assignment_count++;
    /* The epoch continues from what a previous leader wrote. */
    char path[RIDE_ZK_PATH_MAX];
    char *data = NULL;
    size_t len = 0;
    ride_cluster_assignment old;
    char err[512];
    if (ride_cluster_path_assignment(path, sizeof path, member) == 0 &&
        ride_zk_get(m->zk, path, &data, &len, NULL) == RIDE_ZK_OK) {
        r->exists = true;
        if (ride_cluster_assignment_decode(path, data, len, &old, err, sizeof err) == 0) {
            r->epoch = old.epoch;
            ride_cluster_assignment_free(&old);
        }
    }
    free(data);
    return r;
}

void ride_master_assignments_free(ride_master *m)
{
    for (size_t i = 0; i < m->assignment_count; i++) {
        free(m->assignments[i].member);
        free(m->assignments[i].key);
    }
    free(m->assignments);
    m->assignments = NULL;
    m->assignment_count = 0;
}

static void fill_output(const ride_master_app *a, size_t stage, ride_cluster_partition_task *t)
{
    const ride_manifest *man = &a->m;
    if (man->sink.stage == stage && man->sink.type != RIDE_SINK_KAFKA) {
        if (man->sink.type == RIDE_SINK_FILES) {
            t->output_path = man->sink.path;
            t->output_format = man->sink.format;
        }
        return;
    }
    if (man->sink.stage == stage) {
        t->output_topic = man->sink.topic;
        t->output_partitions = man->stages[stage].partitions;
        return;
    }
    const ride_stage *next = ride_master_reader(man, man->stages[stage].name);
    if (next) {
        size_t idx = (size_t)(next - man->stages);
        t->output_topic = a->stages[idx].topic;
        t->output_partitions = next->partitions;
        t->output_group = a->stages[idx].topic;
    }
}

static void add_partition_tasks(ride_master *m, const char *member,
                                ride_cluster_partition_task *out, size_t *n)
{
    for (size_t i = 0; i < m->app_count; i++) {
        ride_master_app *a = m->apps[i];
        for (size_t s = 0; app_active(a) && s < a->m.stage_count; s++) {
            ride_master_stage *st = &a->stages[s];
            for (int p = 0; p < st->st->partitions; p++) {
                const ride_master_partition *part = &st->parts[p];
                if (!part->granted || !same(part->owner, member))
                    continue;
                ride_cluster_partition_task *t = &out[(*n)++];
                *t = (ride_cluster_partition_task){
                    .app = a->name,
                    .stage = st->st->name,
                    .partition = p,
                    .epoch = part->epoch,
                    .input_topic = st->topic,
                    .output_format = RIDE_ENC_PNG,
                    .group = st->topic,
                    .delivery = a->m.delivery,
                    .task = st->st->task,
                    .params = st->st->params,
                    .param_count = st->st->param_count,
                    .device = st->st->resources.device,
                    .threads = st->st->resources.threads,
                };
                fill_output(a, s, t);
            }
        }
    }
}

static void add_source_tasks(ride_master *m, const char *member, ride_cluster_source_task *out,
                             size_t *n)
{
    for (size_t i = 0; i < m->app_count; i++) {
        ride_master_app *a = m->apps[i];
        for (size_t s = 0; app_active(a) && s < a->m.source_count; s++) {
            const ride_source *src = &a->m.sources[s];
            const ride_stage *reader = ride_master_reader(&a->m, src->name);
            if (!same(a->sources[s].producer, member) || !reader)
                continue;
            size_t idx = (size_t)(reader - a->m.stages);
            out[(*n)++] = (ride_cluster_source_task){
                .app = a->name,
                .source = src->name,
                .epoch = a->sources[s].epoch,
                .stream_id = a->sources[s].stream_id,
                .uri = src->uri,
                .fps = src->fps,
                .encoding = src->encoding,
                .quality = src->quality,
                .loop = src->loop,
                .pace = src->pace,
                .topic = a->stages[idx].topic,
                .partitions = reader->partitions,
            };
        }
    }
}

static size_t total_partitions(ride_master *m)
{
    size_t n = 0, sources = 0;
    for (size_t i = 0; i < m->app_count; i++) {
        for (size_t s = 0; s < m->apps[i]->m.stage_count; s++)
            n += (size_t)m->apps[i]->stages[s].st->partitions;
        sources += m->apps[i]->m.source_count;
    }
    return n > sources ? n : sources;
}

static void write_assignment(ride_master *m, ride_master_assignment *r,
                             ride_cluster_assignment *as)
{
    char err[512];
    as->generation = 0;
    as->epoch = 0;
    char *key = ride_cluster_assignment_encode(as, err, sizeof err);
    if (!key) {
        ride_log_error("assignment_not_encoded", "member=%s error=%s", r->member,
                       ride_log_quote(err, (char[600]){0}, 600));
        return;
    }
    if (r->key && strcmp(r->key, key) == 0) {
        free(key);
        return;
    }
    as->generation = m->generation;
    as->epoch = r->epoch + 1;
    char *json = ride_cluster_assignment_encode(as, err, sizeof err);
    char path[RIDE_ZK_PATH_MAX];
    if (json && ride_cluster_path_assignment(path, sizeof path, r->member) == 0 &&
        put_node(m, path, json) == RIDE_ZK_OK) {
        free(r->key);
        r->key = key;
        key = NULL;
        r->epoch = as->epoch;
        r->exists = true;
        ride_log_info("assignment_written", "member=%s epoch=%" PRId64 " partitions=%zu "
                      "sources=%zu", r->member, as->epoch, as->partition_count,
                      as->source_count);
    }
    free(json);
    free(key);
}

static void delete_assignment(ride_master *m, size_t index)
{
    ride_master_assignment *r = &m->assignments[index];
    char path[RIDE_ZK_PATH_MAX];
    if (ride_cluster_path_assignment(path, sizeof path, r->member) == 0) {
        ride_zk_err rc = ride_zk_delete(m->zk, path, -1);
        if (rc != RIDE_ZK_OK && rc != RIDE_ZK_NONODE)
            return;
    }
    free(r->member);
    free(r->key);
    m->assignments[index] = m->assignments[--m->assignment_count];
}

static void write_assignments(ride_master *m)
{
    size_t cap = total_partitions(m) + 1;
    ride_cluster_partition_task *parts = calloc(cap, sizeof *parts);
    ride_cluster_source_task *sources = calloc(cap, sizeof *sources);
    for (size_t i = 0; parts && sources && i < m->member_count; i++) {
        ride_master_member *mb = &m->members[i];
        ride_master_assignment *r = assignment_record(m, mb->id);
        if (!r)
            continue;
        ride_cluster_assignment as = {.partitions = parts, .sources = sources};
        if (mb->is_worker)
            add_partition_tasks(m, mb->id, parts, &as.partition_count);
        else
            add_source_tasks(m, mb->id, sources, &as.source_count);
        write_assignment(m, r, &as);
    }
    free(parts);
    free(sources);
    for (size_t i = m->assignment_count; i-- > 0;)
        if (!ride_master_find_member(m, m->assignments[i].member, true) &&
            !ride_master_find_member(m, m->assignments[i].member, false))
            delete_assignment(m, i);
}

/* ---- deletion ---- */

static void finish_deletions(ride_master *m)
{
    for (size_t i = m->app_count; i-- > 0;) {
        ride_master_app *a = m->apps[i];
        if (a->phase != RIDE_APP_DELETING)
            continue;
        char path[RIDE_ZK_PATH_MAX];
        if (ride_cluster_path_app(path, sizeof path, a->name) ||
            ride_zk_delete_recursive(m->zk, path) != RIDE_ZK_OK)
            continue;
        ride_master_event(m, "app_deleted", a->name, NULL, -1, NULL, "%s", "");
        ride_master_app_free(a);
        m->apps[i] = m->apps[--m->app_count];
    }
}

void ride_master_reconcile(ride_master *m)
{
    if (!m->leading)
        return;
    ride_master_refresh_members(m);
    ensure_topics(m);
    plan_partitions(m);
    progress_releases(m);
    place_sources(m);
    write_assignments(m);
    finish_deletions(m);
}
