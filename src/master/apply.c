/* apply.c - one reconciliation pass of the leader: reads what each step needs
 * (ZooKeeper through view.c, Kafka through broker.c), asks reconcile.c what to
 * change, and makes the changes: ZooKeeper writes, the leader's records, metrics,
 * events and logs. Each step's changes are made in the plan's order before the next
 * step is decided. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master.h"
#include "reconcile.h"
#include "base/clock.h"
#include "base/log.h"

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

static void emit(ride_master *m, const ride_reconcile_event *e)
{
    if (e->type)
        ride_master_event(m, e->type, e->app, e->stage, e->partition, e->member, "%s",
                          e->message ? e->message : "");
}

/* ---- applications ---- */

static void apply_message(ride_master *m, ride_reconcile_change *c)
{
    ride_master_app *a = m->apps[c->app];
    free(a->message);
    a->message = c->text;
    c->text = NULL;
    ride_master_write_state(m, a);
}

static void apply_topics_ready(ride_master *m, const ride_reconcile_change *c)
{
    ride_master_app *a = m->apps[c->app];
    a->topics_ready = a->topics_exist = true;
    if (!c->running)
        return;
    a->phase = RIDE_APP_RUNNING;
    free(a->message);
    a->message = strdup("");
    ride_master_write_state(m, a);
    emit(m, &c->event);
}

static void apply_app_delete(ride_master *m, const ride_reconcile_change *c)
{
    ride_master_app *a = m->apps[c->app];
    char path[RIDE_ZK_PATH_MAX];
    if (ride_cluster_path_app(path, sizeof path, a->name) ||
        ride_zk_delete_recursive(m->zk, path) != RIDE_ZK_OK)
        return;
    emit(m, &c->event);
    ride_master_app_free(a);
    m->apps[c->app] = m->apps[--m->app_count];
}

/* ---- partitions ---- */

static void apply_owner(ride_master *m, ride_reconcile_change *c)
{
    ride_master_app *a = m->apps[c->app];
    ride_master_stage *s = &a->stages[c->stage];
    ride_master_partition *part = &s->parts[c->partition];
    free(part->owner);
    free(part->releasing);
    part->owner = c->text;
    part->epoch = c->epoch;
    part->releasing = c->releasing;
    part->granted = !part->releasing;
    part->release_deadline_ms = c->release_deadline_ms;
    c->text = c->releasing = NULL;
    store_partition(m, a, s, c->partition);
    ride_counter_inc(m->metrics.moves);
    if (c->failover)
        ride_counter_inc(m->metrics.failovers);
    emit(m, &c->event);
}

static void replace_ids(char ***list, size_t *count, char ***ids, size_t *n)
{
    for (size_t i = 0; i < *count; i++)
        free((*list)[i]);
    free(*list);
    *list = *ids;
    *count = *n;
    *ids = NULL;
    *n = 0;
}

static void apply_group(ride_master *m, ride_reconcile_change *c)
{
    ride_master_stage *s = &m->apps[c->app]->stages[c->stage];
    replace_ids(&s->active, &s->active_count, &c->active, &c->active_count);
    replace_ids(&s->spare, &s->spare_count, &c->spare, &c->spare_count);
}

static void apply_issue(ride_master *m, const ride_reconcile_change *c)
{
    ride_master_stage *s = &m->apps[c->app]->stages[c->stage];
    snprintf(s->issue, sizeof s->issue, "%s", c->issue);
    emit(m, &c->event);
}

static void apply_release_done(ride_master *m, const ride_reconcile_change *c)
{
    ride_master_app *a = m->apps[c->app];
    ride_master_stage *s = &a->stages[c->stage];
    ride_master_partition *part = &s->parts[c->partition];
    if (c->timed_out)
        ride_log_warn("release_timeout", "app=%s stage=%s partition=%d from=%s to=%s", a->name,
                      s->st->name, c->partition, part->releasing,
                      part->owner ? part->owner : "-");
    free(part->releasing);
    part->releasing = NULL;
    part->granted = true;
}

/* ---- sources ---- */

static void apply_source_owner(ride_master *m, ride_reconcile_change *c)
{
    ride_master_app *a = m->apps[c->app];
    ride_master_source *src = &a->sources[c->source];
    free(src->producer);
    src->producer = c->text;
    c->text = NULL;
    src->epoch = c->epoch;
    store_source(m, a, c->source);
    emit(m, &c->event);
}

/* ---- assignments ---- */

static void apply_assignment_write(ride_master *m, ride_reconcile_change *c)
{
    ride_master_assignment *r = &m->assignments[c->record];
    char path[RIDE_ZK_PATH_MAX];
    if (ride_cluster_path_assignment(path, sizeof path, r->member) ||
        put_node(m, path, c->text) != RIDE_ZK_OK)
        return;
    free(r->key);
    r->key = c->key;
    c->key = NULL;
    r->epoch = c->epoch;
    r->exists = true;
    ride_log_info("assignment_written", "member=%s epoch=%" PRId64 " partitions=%zu "
                  "sources=%zu", r->member, c->epoch, c->partition_count, c->source_count);
}

static void apply_assignment_delete(ride_master *m, const ride_reconcile_change *c)
{
    ride_master_assignment *r = &m->assignments[c->record];
    char path[RIDE_ZK_PATH_MAX];
    if (ride_cluster_path_assignment(path, sizeof path, r->member) == 0) {
        ride_zk_err rc = ride_zk_delete(m->zk, path, -1);
        if (rc != RIDE_ZK_OK && rc != RIDE_ZK_NONODE)
            return;
    }
    free(r->member);
    free(r->key);
    m->assignments[c->record] = m->assignments[--m->assignment_count];
}

static void apply_change(ride_master *m, ride_reconcile_change *c)
{
    switch (c->kind) {
    case RIDE_RECONCILE_APP_MESSAGE:
        apply_message(m, c);
        break;
    case RIDE_RECONCILE_TOPICS_READY:
        apply_topics_ready(m, c);
        break;
    case RIDE_RECONCILE_PARTITION_OWNER:
        apply_owner(m, c);
        break;
    case RIDE_RECONCILE_STAGE_GROUP:
        apply_group(m, c);
        break;
    case RIDE_RECONCILE_STAGE_ISSUE:
        apply_issue(m, c);
        break;
    case RIDE_RECONCILE_RELEASE_DONE:
        apply_release_done(m, c);
        break;
    case RIDE_RECONCILE_PARTITION_STORE:
        store_partition(m, m->apps[c->app], &m->apps[c->app]->stages[c->stage], c->partition);
        break;
    case RIDE_RECONCILE_SOURCE_OWNER:
        apply_source_owner(m, c);
        break;
    case RIDE_RECONCILE_SOURCE_STORE:
        store_source(m, m->apps[c->app], c->source);
        break;
    case RIDE_RECONCILE_ASSIGNMENT_WRITE:
        apply_assignment_write(m, c);
        break;
    case RIDE_RECONCILE_ASSIGNMENT_BROKEN:
        ride_log_error("assignment_not_encoded", "member=%s error=%s",
                       m->assignments[c->record].member,
                       ride_log_quote(c->text, (char[600]){0}, 600));
        break;
    case RIDE_RECONCILE_ASSIGNMENT_DELETE:
        apply_assignment_delete(m, c);
        break;
    case RIDE_RECONCILE_APP_DELETE:
        apply_app_delete(m, c);
        break;
    }
}

/* ---- the pass ---- */

static ride_reconcile_view view_of(const ride_master *m)
{
    return (ride_reconcile_view){
        .apps = (const ride_master_app *const *)m->apps,
        .app_count = m->app_count,
        .members = m->members,
        .member_count = m->member_count,
        .assignments = m->assignments,
        .assignment_count = m->assignment_count,
        .generation = m->generation,
        .now_ms = ride_clock_mono_ms(),
    };
}

/* Makes a step's changes; a step that could not be decided (rc -1) changes nothing. */
static void apply_plan(ride_master *m, int rc, ride_reconcile_plan *plan)
{
    for (size_t i = 0; rc == 0 && i < plan->count; i++)
        apply_change(m, &plan->changes[i]);
    ride_reconcile_plan_free(plan);
}

static const char *sink_topic(const ride_master_app *a, size_t stage)
{
    if (a->m.sink.type == RIDE_SINK_KAFKA && a->m.sink.stage == stage)
        return a->m.sink.topic;
    return NULL;
}

/* Asks for (or creates) the application's topics: 1 when all exist, 0 while pending,
 * -1 on error. */
/* Asks for every topic of the app in one pass, so that a real Kafka's creations
 * overlap; the first failure is the app's message. */
static int topics_ready(ride_master *m, ride_master_app *a, char *err, size_t errlen)
{
    int ready = 1;
    for (size_t i = 0; i < a->m.stage_count; i++) {
        const ride_master_stage *s = &a->stages[i];
        const char *topics[2] = {s->topic, sink_topic(a, i)};
        for (size_t t = 0; t < 2 && topics[t]; t++) {
            char one[512];
            int r = ride_master_topic_ready(m, topics[t], s->st->partitions, &a->m.topics, one,
                                           sizeof one);
            if (r < 0 && ready >= 0)
                snprintf(err, errlen, "%s", one);
            ready = r < ready ? r : ready;
        }
    }
    return ready;
}

static void settle_topics(ride_master *m)
{
    ride_reconcile_topics *topics = calloc(m->app_count + 1, sizeof *topics);
    char(*errors)[512] = calloc(m->app_count + 1, sizeof *errors);
    if (topics && errors) {
        for (size_t i = 0; i < m->app_count; i++)
            if (ride_reconcile_wants_topics(m->apps[i])) {
                topics[i].ready = topics_ready(m, m->apps[i], errors[i], sizeof errors[i]);
                topics[i].error = errors[i];
            }
        ride_reconcile_view v = view_of(m);
        ride_reconcile_plan plan = {0};
        apply_plan(m, ride_reconcile_topics_step(&v, topics, &plan), &plan);
    }
    free(topics);
    free(errors);
}

static void place_partitions(ride_master *m)
{
    ride_reconcile_view v = view_of(m);
    ride_reconcile_plan plan = {0};
    char err[512];
    int rc = ride_reconcile_partitions_step(&v, &plan, err, sizeof err);
    if (rc)
        ride_log_error("plan_failed", "error=%s", ride_log_quote(err, (char[600]){0}, 600));
    apply_plan(m, rc, &plan);
}

static bool is_releasing(const ride_master *m, const char *worker)
{
    for (size_t i = 0; i < m->app_count; i++) {
        const ride_master_app *a = m->apps[i];
        for (size_t s = 0; ride_reconcile_app_active(a) && s < a->m.stage_count; s++)
            for (int p = 0; p < a->stages[s].st->partitions; p++) {
                const char *releasing = a->stages[s].parts[p].releasing;
                if (releasing && strcmp(releasing, worker) == 0)
                    return true;
            }
    }
    return false;
}

/* The heartbeat of every worker handing a partition over, once each, as this
 * pass's refresh read it: a worker whose current heartbeat could not be read is
 * not listed (it runs nothing). */
static size_t list_releasing(ride_master *m, ride_reconcile_heartbeat *hbs)
{
    size_t n = 0;
    for (size_t i = 0; i < m->member_count; i++) {
        const ride_master_member *mb = &m->members[i];
        if (mb->is_worker && mb->hb_current && is_releasing(m, mb->id))
            hbs[n++] = (ride_reconcile_heartbeat){mb->id, &mb->hb};
    }
    return n;
}

static void finish_releases(ride_master *m)
{
    ride_reconcile_heartbeat *hbs = calloc(m->member_count + 1, sizeof *hbs);
    if (hbs) {
        size_t n = list_releasing(m, hbs);
        ride_reconcile_view v = view_of(m);
        ride_reconcile_plan plan = {0};
        apply_plan(m, ride_reconcile_releases_step(&v, hbs, n, &plan), &plan);
    }
    free(hbs);
}

static void place_sources(ride_master *m)
{
    ride_reconcile_view v = view_of(m);
    ride_reconcile_plan plan = {0};
    apply_plan(m, ride_reconcile_sources_step(&v, &plan), &plan);
}

static void write_assignments(ride_master *m)
{
    ride_master_track_assignments(m);
    ride_reconcile_view v = view_of(m);
    ride_reconcile_plan plan = {0};
    apply_plan(m, ride_reconcile_assignments_step(&v, &plan), &plan);
}

static void finish_deletions(ride_master *m)
{
    ride_reconcile_view v = view_of(m);
    ride_reconcile_plan plan = {0};
    apply_plan(m, ride_reconcile_deletions_step(&v, &plan), &plan);
}

void ride_master_reconcile(ride_master *m)
{
    if (!m->leading)
        return;
    ride_master_refresh_members(m);
    settle_topics(m);
    place_partitions(m);
    finish_releases(m);
    place_sources(m);
    write_assignments(m);
    finish_deletions(m);
    ride_master_measure_stages(m);
    ride_master_autoscale_stages(m);
}
