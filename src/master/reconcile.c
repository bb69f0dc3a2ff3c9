/* reconcile.c - the leader's decisions, without I/O (reconcile.h): topics for every
 * stage, an owner for every partition (through the planner, assign.h), a producer
 * for every source, one assignment per member saying all it must run, and the
 * removal of deleted applications. apply.c makes the changes.
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
#include "reconcile.h"

static bool same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

bool ride_reconcile_app_active(const ride_master_app *a)
{
    return a->phase == RIDE_APP_RUNNING && (a->topics_ready || a->topics_exist);
}

bool ride_reconcile_wants_topics(const ride_master_app *a)
{
    return !a->topics_ready && a->phase != RIDE_APP_DELETING;
}

static const ride_master_member *find_member(const ride_reconcile_view *v, const char *id,
                                             bool worker)
{
    for (size_t i = 0; i < v->member_count; i++)
        if (v->members[i].is_worker == worker && strcmp(v->members[i].id, id) == 0)
            return &v->members[i];
    return NULL;
}

static bool worker_alive(const ride_reconcile_view *v, const char *id)
{
    const ride_master_member *mb = id ? find_member(v, id, true) : NULL;
    return mb && mb->alive;
}

bool ride_reconcile_member_stalled(const ride_master_member *mb)
{
    return mb->hb_known && mb->hb.stalled_ms > 0;
}

bool ride_reconcile_member_alive(const ride_master_member *mb, int64_t now_ms, int timeout_ms)
{
    return mb->present && !mb->conn_lost && !ride_reconcile_member_stalled(mb) &&
           now_ms - mb->hb_changed_ms <= timeout_ms;
}

/* Why a partition leaves a dead owner: the owner's own report when it stalled. */
static const char *failure_reason(const ride_reconcile_view *v, const char *id)
{
    const ride_master_member *mb = find_member(v, id, true);
    return mb && ride_reconcile_member_stalled(mb) ? "stalled" : "failed";
}

/* ---- plans ---- */

static void change_free(ride_reconcile_change *c)
{
    free(c->text);
    free(c->key);
    free(c->releasing);
    for (size_t i = 0; i < c->active_count; i++)
        free(c->active[i]);
    for (size_t i = 0; i < c->spare_count; i++)
        free(c->spare[i]);
    free(c->active);
    free(c->spare);
    free(c->event.member);
    free(c->event.message);
}

void ride_reconcile_plan_free(ride_reconcile_plan *plan)
{
    for (size_t i = 0; i < plan->count; i++)
        change_free(&plan->changes[i]);
    free(plan->changes);
    memset(plan, 0, sizeof *plan);
}

/* A change appended to the plan, zeroed but for its kind and app; NULL when out of
 * memory. */
static ride_reconcile_change *add_change(ride_reconcile_plan *plan, ride_reconcile_kind kind,
                                         size_t app)
{
    if (plan->count == plan->cap) {
        size_t cap = plan->cap ? plan->cap * 2 : 16;
        ride_reconcile_change *grown = realloc(plan->changes, cap * sizeof *grown);
        if (!grown)
            return NULL;
        plan->changes = grown;
        plan->cap = cap;
    }
    ride_reconcile_change *c = &plan->changes[plan->count++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->app = app;
    c->partition = -1;
    c->event.partition = -1;
    return c;
}

/* A copy of s, or NULL with *ok cleared when out of memory; NULL stays NULL. */
static char *copy(const char *s, bool *ok)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *ok = false;
    return d;
}

static bool set_event(ride_reconcile_change *c, const char *type, const char *app,
                      const char *stage, int partition, const char *member, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Gives the change its event; false when out of memory. */
static bool set_event(ride_reconcile_change *c, const char *type, const char *app,
                      const char *stage, int partition, const char *member, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    bool ok = len >= 0 && (c->event.message = malloc((size_t)len + 1));
    if (ok) {
        va_start(ap, fmt);
        vsnprintf(c->event.message, (size_t)len + 1, fmt, ap);
        va_end(ap);
    }
    c->event.type = type;
    c->event.app = app;
    c->event.stage = stage;
    c->event.partition = partition;
    c->event.member = copy(member, &ok);
    return ok;
}

/* ---- topics ---- */

static int decide_topics(const ride_reconcile_view *v, size_t i, const ride_reconcile_topics *t,
                         ride_reconcile_plan *plan)
{
    const ride_master_app *a = v->apps[i];
    ride_reconcile_change *c;
    bool ok = true;
    if (t->ready < 0) {
        const char *error = t->error ? t->error : "";
        if (a->message && strcmp(a->message, error) == 0)
            return 0;
        if (!(c = add_change(plan, RIDE_RECONCILE_APP_MESSAGE, i)))
            return -1;
        c->text = copy(error, &ok);
    } else if (t->ready > 0) {
        if (!(c = add_change(plan, RIDE_RECONCILE_TOPICS_READY, i)))
            return -1;
        c->running = a->phase == RIDE_APP_PENDING;
        if (c->running)
            ok = set_event(c, "app_running", a->name, NULL, -1, NULL, "topics ready");
    }
    return ok ? 0 : -1;
}

int ride_reconcile_topics_step(const ride_reconcile_view *v, const ride_reconcile_topics *topics,
                               ride_reconcile_plan *plan)
{
    for (size_t i = 0; i < v->app_count; i++)
        if (ride_reconcile_wants_topics(v->apps[i]) && decide_topics(v, i, &topics[i], plan))
            return -1;
    return 0;
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

static size_t count_stage_records(const ride_reconcile_view *v, size_t *parts, size_t *members)
{
    size_t stages = 0;
    *parts = *members = 0;
    for (size_t i = 0; i < v->app_count; i++) {
        const ride_master_app *a = v->apps[i];
        if (!ride_reconcile_app_active(a))
            continue;
        stages += a->m.stage_count;
        for (size_t s = 0; s < a->m.stage_count; s++) {
            *parts += (size_t)a->stages[s].st->partitions;
            *members += a->stages[s].active_count + a->stages[s].spare_count;
        }
    }
    return stages;
}

static void add_stage_input(plan_input *in, const ride_master_app *a, const ride_master_stage *s)
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
        .target = ride_master_stage_target(s),
        .fill = !st->workers.autoscale.enabled,
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

static bool build_plan_input(const ride_reconcile_view *v, plan_input *in)
{
    size_t parts, members;
    size_t stages = count_stage_records(v, &parts, &members);
    memset(in, 0, sizeof *in);
    in->workers = calloc(v->member_count + 1, sizeof *in->workers);
    in->stages = calloc(stages + 1, sizeof *in->stages);
    in->owners = calloc(parts + 1, sizeof *in->owners);
    in->members = calloc(members + 1, sizeof *in->members);
    if (!in->workers || !in->stages || !in->owners || !in->members)
        return false;
    for (size_t i = 0; i < v->member_count; i++) {
        const ride_master_member *mb = &v->members[i];
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
    for (size_t i = 0; i < v->app_count; i++)
        if (ride_reconcile_app_active(v->apps[i]))
            for (size_t s = 0; s < v->apps[i]->m.stage_count; s++)
                add_stage_input(in, v->apps[i], &v->apps[i]->stages[s]);
    return true;
}

static bool find_stage(const ride_reconcile_view *v, const char *app, const char *stage,
                       size_t *ai, size_t *si)
{
    for (size_t i = 0; i < v->app_count; i++) {
        if (strcmp(v->apps[i]->name, app) != 0)
            continue;
        for (size_t s = 0; s < v->apps[i]->m.stage_count; s++)
            if (strcmp(v->apps[i]->stages[s].st->name, stage) == 0) {
                *ai = i;
                *si = s;
                return true;
            }
        return false;
    }
    return false;
}

static bool move_event(ride_reconcile_change *c, const ride_assign_move *mv, bool handover,
                       const char *why, const char *app, const char *stage)
{
    if (!mv->from)
        return set_event(c, "partition_assigned", app, stage, mv->partition, mv->to,
                         "epoch %" PRId64, mv->epoch);
    if (!mv->to)
        return set_event(c, "partition_unowned", app, stage, mv->partition, mv->from,
                         "no eligible worker");
    if (handover)
        return set_event(c, "partition_moved", app, stage, mv->partition, mv->to,
                         "from %s (rebalance), epoch %" PRId64, mv->from, mv->epoch);
    return set_event(c, "partition_failover", app, stage, mv->partition, mv->to,
                     "from %s (%s), epoch %" PRId64, mv->from, why, mv->epoch);
}

static int decide_move(const ride_reconcile_view *v, const ride_assign_move *mv,
                       ride_reconcile_plan *plan)
{
    size_t ai, si;
    if (!find_stage(v, mv->app, mv->stage, &ai, &si))
        return 0;
    const ride_master_app *a = v->apps[ai];
    bool handover = mv->from && mv->to && worker_alive(v, mv->from);
    ride_reconcile_change *c = add_change(plan, RIDE_RECONCILE_PARTITION_OWNER, ai);
    if (!c)
        return -1;
    bool ok = true;
    c->stage = si;
    c->partition = mv->partition;
    c->epoch = mv->epoch;
    c->text = copy(mv->to, &ok);
    c->releasing = handover ? copy(mv->from, &ok) : NULL;
    c->release_deadline_ms = v->now_ms + RIDE_MASTER_RELEASE_TIMEOUT_MS;
    c->failover = mv->from && mv->to && !handover;
    const char *why = c->failover ? failure_reason(v, mv->from) : NULL;
    ok = move_event(c, mv, handover, why, a->name, a->stages[si].st->name) && ok;
    return ok ? 0 : -1;
}

/* The plan's workers of one role in one stage group, copied. */
static char **group_ids(const ride_assign_plan *plan, const char *app, const char *stage,
                        ride_assign_role role, size_t *count, bool *ok)
{
    char **ids = calloc(plan->member_count + 1, sizeof *ids);
    *count = 0;
    if (!ids) {
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; i < plan->member_count; i++) {
        const ride_assign_member *mb = &plan->members[i];
        if (mb->role == role && strcmp(mb->app, app) == 0 && strcmp(mb->stage, stage) == 0 &&
            (ids[*count] = copy(mb->worker, ok)))
            (*count)++;
    }
    return ids;
}

static int decide_group(size_t ai, size_t si, const ride_master_app *a,
                        const ride_assign_plan *plan, ride_reconcile_plan *out)
{
    const ride_master_stage *s = &a->stages[si];
    ride_reconcile_change *c = add_change(out, RIDE_RECONCILE_STAGE_GROUP, ai);
    if (!c)
        return -1;
    bool ok = true;
    c->stage = si;
    c->active = group_ids(plan, a->name, s->st->name, RIDE_ASSIGN_ACTIVE, &c->active_count, &ok);
    c->spare = group_ids(plan, a->name, s->st->name, RIDE_ASSIGN_SPARE, &c->spare_count, &ok);
    return ok ? 0 : -1;
}

static int decide_issue(size_t ai, size_t si, const ride_master_app *a,
                        const ride_assign_plan *plan, ride_reconcile_plan *out)
{
    const ride_master_stage *s = &a->stages[si];
    const char *reason = "";
    for (size_t i = 0; i < plan->issue_count; i++)
        if (strcmp(plan->issues[i].app, a->name) == 0 &&
            strcmp(plan->issues[i].stage, s->st->name) == 0)
            reason = plan->issues[i].reason;
    if (strcmp(reason, s->issue) == 0)
        return 0;
    ride_reconcile_change *c = add_change(out, RIDE_RECONCILE_STAGE_ISSUE, ai);
    if (!c)
        return -1;
    c->stage = si;
    snprintf(c->issue, sizeof c->issue, "%s", reason);
    bool ok = *reason ? set_event(c, "stage_degraded", a->name, s->st->name, -1, NULL, "%s",
                                  reason)
                      : set_event(c, "stage_placed", a->name, s->st->name, -1, NULL, "%s", "");
    return ok ? 0 : -1;
}

static int decide_plan(const ride_reconcile_view *v, const ride_assign_plan *plan,
                       ride_reconcile_plan *out)
{
    for (size_t i = 0; i < plan->move_count; i++)
        if (decide_move(v, &plan->moves[i], out))
            return -1;
    for (size_t i = 0; i < v->app_count; i++) {
        const ride_master_app *a = v->apps[i];
        for (size_t s = 0; ride_reconcile_app_active(a) && s < a->m.stage_count; s++)
            if (decide_group(i, s, a, plan, out) || decide_issue(i, s, a, plan, out))
                return -1;
    }
    return 0;
}

int ride_reconcile_partitions_step(const ride_reconcile_view *v, ride_reconcile_plan *plan,
                                   char *err, size_t errlen)
{
    plan_input in;
    if (!build_plan_input(v, &in)) {
        plan_input_free(&in);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ride_assign_input ai = {in.workers, in.worker_count, in.stages,  in.stage_count,
                            in.owners,  in.owner_count,  in.members, in.member_count};
    ride_assign_plan computed = {0};
    int rc = ride_assign_plan_compute(&ai, &computed, err, errlen);
    if (rc == 0) {
        rc = decide_plan(v, &computed, plan);
        if (rc)
            snprintf(err, errlen, "out of memory");
        ride_assign_plan_free(&computed);
    }
    plan_input_free(&in);
    return rc;
}

/* ---- hand-over of moved partitions ---- */

/* True while the worker's last heartbeat lists the partition. */
static bool still_running(const ride_reconcile_heartbeat *heartbeats, size_t count,
                          const char *worker, const char *app, const char *stage, int partition)
{
    for (size_t h = 0; h < count; h++) {
        if (strcmp(heartbeats[h].worker, worker) != 0)
            continue;
        const ride_cluster_heartbeat *hb = heartbeats[h].hb;
        for (size_t i = 0; i < hb->partition_count; i++)
            if (hb->partitions[i].partition == partition &&
                strcmp(hb->partitions[i].app, app) == 0 &&
                strcmp(hb->partitions[i].stage, stage) == 0)
                return true;
    }
    return false;
}

static int decide_release(const ride_reconcile_view *v, const ride_reconcile_heartbeat *heartbeats,
                          size_t count, size_t ai, size_t si, int p, ride_reconcile_plan *plan)
{
    const ride_master_app *a = v->apps[ai];
    const ride_master_stage *s = &a->stages[si];
    const ride_master_partition *part = &s->parts[p];
    bool timed_out = v->now_ms >= part->release_deadline_ms;
    if (worker_alive(v, part->releasing) && !timed_out &&
        still_running(heartbeats, count, part->releasing, a->name, s->st->name, p))
        return 0;
    ride_reconcile_change *c = add_change(plan, RIDE_RECONCILE_RELEASE_DONE, ai);
    if (!c)
        return -1;
    c->stage = si;
    c->partition = p;
    c->timed_out = timed_out;
    return 0;
}

static int decide_store(size_t ai, size_t si, int p, ride_reconcile_plan *plan)
{
    ride_reconcile_change *c = add_change(plan, RIDE_RECONCILE_PARTITION_STORE, ai);
    if (!c)
        return -1;
    c->stage = si;
    c->partition = p;
    return 0;
}

int ride_reconcile_releases_step(const ride_reconcile_view *v,
                                 const ride_reconcile_heartbeat *heartbeats, size_t count,
                                 ride_reconcile_plan *plan)
{
    for (size_t i = 0; i < v->app_count; i++) {
        const ride_master_app *a = v->apps[i];
        for (size_t s = 0; ride_reconcile_app_active(a) && s < a->m.stage_count; s++)
            for (int p = 0; p < a->stages[s].st->partitions; p++) {
                const ride_master_partition *part = &a->stages[s].parts[p];
                if (part->releasing && decide_release(v, heartbeats, count, i, s, p, plan))
                    return -1;
                if (!part->stored && decide_store(i, s, p, plan))
                    return -1;
            }
    }
    return 0;
}

/* ---- sources ---- */

/* The producer of every source of every application as decided so far in this step:
 * a source moved earlier counts in the load of its new producer. */
typedef struct source_owners {
    const char **producer; /* flattened: app by app, sources in manifest order */
    size_t count;
} source_owners;

static bool source_owners_init(const ride_reconcile_view *v, source_owners *so)
{
    so->count = 0;
    for (size_t i = 0; i < v->app_count; i++)
        so->count += v->apps[i]->m.source_count;
    if (!(so->producer = calloc(so->count + 1, sizeof *so->producer)))
        return false;
    size_t k = 0;
    for (size_t i = 0; i < v->app_count; i++)
        for (size_t s = 0; s < v->apps[i]->m.source_count; s++)
            so->producer[k++] = v->apps[i]->sources[s].producer;
    return true;
}

static size_t producer_load(const source_owners *so, const char *id)
{
    size_t n = 0;
    for (size_t i = 0; i < so->count; i++)
        n += same(so->producer[i], id);
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
static const char *choose_producer(const ride_reconcile_view *v, const source_owners *so,
                                   const char *uri)
{
    bool local = false;
    for (size_t i = 0; i < v->member_count; i++)
        if (!v->members[i].is_worker && v->members[i].alive && lists_source(&v->members[i], uri))
            local = true;
    const char *best = NULL;
    size_t best_load = 0;
    for (size_t i = 0; i < v->member_count; i++) {
        const ride_master_member *mb = &v->members[i];
        if (mb->is_worker || !mb->alive || (local && !lists_source(mb, uri)))
            continue;
        size_t load = producer_load(so, mb->id);
        if (!best || load < best_load || (load == best_load && strcmp(mb->id, best) < 0)) {
            best = mb->id;
            best_load = load;
        }
    }
    return best;
}

static int decide_source_store(const ride_master_source *src, size_t ai, size_t si,
                               ride_reconcile_plan *plan)
{
    if (src->stored)
        return 0;
    ride_reconcile_change *c = add_change(plan, RIDE_RECONCILE_SOURCE_STORE, ai);
    if (!c)
        return -1;
    c->source = si;
    return 0;
}

static bool source_event(ride_reconcile_change *c, const ride_master_app *a, size_t si,
                         const char *from, const char *next)
{
    const char *name = a->m.sources[si].name;
    if (!next)
        return set_event(c, "source_unassigned", a->name, NULL, -1, from,
                         "source %s: no live producer", name);
    if (from)
        return set_event(c, "source_moved", a->name, NULL, -1, next,
                         "source %s from %s (failed), epoch %" PRId64, name, from, c->epoch);
    return set_event(c, "source_assigned", a->name, NULL, -1, next, "source %s, epoch %" PRId64,
                     name, c->epoch);
}

/* k: the source's index in so. */
static int decide_source(const ride_reconcile_view *v, source_owners *so, size_t k, size_t ai,
                         size_t si, ride_reconcile_plan *plan)
{
    const ride_master_app *a = v->apps[ai];
    const ride_master_source *src = &a->sources[si];
    const ride_master_member *cur =
        src->producer ? find_member(v, src->producer, false) : NULL;
    if (cur && cur->alive)
        return decide_source_store(src, ai, si, plan);
    const char *next = choose_producer(v, so, a->m.sources[si].uri);
    if (same(next, src->producer))
        return decide_source_store(src, ai, si, plan);
    ride_reconcile_change *c = add_change(plan, RIDE_RECONCILE_SOURCE_OWNER, ai);
    if (!c)
        return -1;
    bool ok = true;
    c->source = si;
    c->text = copy(next, &ok);
    c->epoch = src->epoch + 1;
    so->producer[k] = next;
    ok = source_event(c, a, si, src->producer, next) && ok;
    return ok ? 0 : -1;
}

int ride_reconcile_sources_step(const ride_reconcile_view *v, ride_reconcile_plan *plan)
{
    source_owners so;
    if (!source_owners_init(v, &so))
        return -1;
    int rc = 0;
    size_t k = 0;
    for (size_t i = 0; i < v->app_count && rc == 0; i++) {
        const ride_master_app *a = v->apps[i];
        for (size_t s = 0; s < a->m.source_count && rc == 0; s++, k++)
            if (ride_reconcile_app_active(a))
                rc = decide_source(v, &so, k, i, s, plan);
    }
    free(so.producer);
    return rc;
}

/* ---- assignments ---- */

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
        if (man->sink.group) {
            t->output_group = man->sink.group;
            t->output_writers = 1;
        }
        return;
    }
    const ride_stage *next = ride_master_reader(man, man->stages[stage].name);
    if (next) {
        size_t idx = (size_t)(next - man->stages);
        t->output_topic = a->stages[idx].topic;
        t->output_partitions = next->partitions;
        t->output_group = a->stages[idx].topic;
        t->output_writers = ride_master_topic_writers(man, next);
    }
}

static void add_partition_tasks(const ride_reconcile_view *v, const char *member,
                                ride_cluster_partition_task *out, size_t *n)
{
    for (size_t i = 0; i < v->app_count; i++) {
        const ride_master_app *a = v->apps[i];
        for (size_t s = 0; ride_reconcile_app_active(a) && s < a->m.stage_count; s++) {
            const ride_master_stage *st = &a->stages[s];
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

static void add_source_tasks(const ride_reconcile_view *v, const char *member,
                             ride_cluster_source_task *out, size_t *n)
{
    for (size_t i = 0; i < v->app_count; i++) {
        const ride_master_app *a = v->apps[i];
        for (size_t s = 0; ride_reconcile_app_active(a) && s < a->m.source_count; s++) {
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
                .writers = ride_master_topic_writers(&a->m, reader),
            };
        }
    }
}

static size_t total_partitions(const ride_reconcile_view *v)
{
    size_t n = 0, sources = 0;
    for (size_t i = 0; i < v->app_count; i++) {
        for (size_t s = 0; s < v->apps[i]->m.stage_count; s++)
            n += (size_t)v->apps[i]->stages[s].st->partitions;
        sources += v->apps[i]->m.source_count;
    }
    return n > sources ? n : sources;
}

static bool find_record(const ride_reconcile_view *v, const char *member, size_t *out)
{
    for (size_t i = 0; i < v->assignment_count; i++)
        if (strcmp(v->assignments[i].member, member) == 0) {
            *out = i;
            return true;
        }
    return false;
}

/* A write when the content differs from the last one written (epoch + 1). */
static int decide_assignment(const ride_reconcile_view *v, size_t record,
                             ride_cluster_assignment *as, ride_reconcile_plan *plan)
{
    const ride_master_assignment *r = &v->assignments[record];
    char err[512];
    as->generation = 0;
    as->epoch = 0;
    char *key = ride_cluster_assignment_encode(as, err, sizeof err);
    ride_reconcile_change *c;
    bool ok = true;
    if (!key) {
        if (!(c = add_change(plan, RIDE_RECONCILE_ASSIGNMENT_BROKEN, 0)))
            return -1;
        c->record = record;
        c->text = copy(err, &ok);
        return ok ? 0 : -1;
    }
    if (r->key && strcmp(r->key, key) == 0) {
        free(key);
        return 0;
    }
    as->generation = v->generation;
    as->epoch = r->epoch + 1;
    char *json = ride_cluster_assignment_encode(as, err, sizeof err);
    if (!json || !(c = add_change(plan, RIDE_RECONCILE_ASSIGNMENT_WRITE, 0))) {
        free(key);
        free(json);
        return json ? -1 : 0;
    }
    c->record = record;
    c->text = json;
    c->key = key;
    c->epoch = as->epoch;
    c->partition_count = as->partition_count;
    c->source_count = as->source_count;
    return 0;
}

static int decide_assignments(const ride_reconcile_view *v, ride_cluster_partition_task *parts,
                              ride_cluster_source_task *sources, ride_reconcile_plan *plan)
{
    for (size_t i = 0; i < v->member_count; i++) {
        const ride_master_member *mb = &v->members[i];
        size_t record;
        if (!find_record(v, mb->id, &record))
            continue;
        ride_cluster_assignment as = {.partitions = parts, .sources = sources};
        if (mb->is_worker)
            add_partition_tasks(v, mb->id, parts, &as.partition_count);
        else
            add_source_tasks(v, mb->id, sources, &as.source_count);
        if (decide_assignment(v, record, &as, plan))
            return -1;
    }
    /* Highest index first: apply.c removes a record by moving the last into its place. */
    for (size_t i = v->assignment_count; i-- > 0;) {
        const char *member = v->assignments[i].member;
        if (find_member(v, member, true) || find_member(v, member, false))
            continue;
        ride_reconcile_change *c = add_change(plan, RIDE_RECONCILE_ASSIGNMENT_DELETE, 0);
        if (!c)
            return -1;
        c->record = i;
    }
    return 0;
}

int ride_reconcile_assignments_step(const ride_reconcile_view *v, ride_reconcile_plan *plan)
{
    size_t cap = total_partitions(v) + 1;
    ride_cluster_partition_task *parts = calloc(cap, sizeof *parts);
    ride_cluster_source_task *sources = calloc(cap, sizeof *sources);
    int rc = parts && sources ? decide_assignments(v, parts, sources, plan) : -1;
    free(parts);
    free(sources);
    return rc;
}

/* ---- deletion ---- */

int ride_reconcile_deletions_step(const ride_reconcile_view *v, ride_reconcile_plan *plan)
{
    /* Highest index first, like assignment records. */
    for (size_t i = v->app_count; i-- > 0;) {
        const ride_master_app *a = v->apps[i];
        if (a->phase != RIDE_APP_DELETING)
            continue;
        ride_reconcile_change *c = add_change(plan, RIDE_RECONCILE_APP_DELETE, i);
        if (!c || !set_event(c, "app_deleted", a->name, NULL, -1, NULL, "%s", ""))
            return -1;
    }
    return 0;
}
