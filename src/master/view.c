/* view.c - the leader's picture of the cluster, read from ZooKeeper: members and
 * their liveness, applications with their owners, sources and scale, the epochs of
 * the assignments written, and each heartbeat when it changes. It reads; apply.c writes.
 *
 * Liveness does not trust the clocks of other hosts: a heartbeat counts when its
 * node's version changes, timed on this master's monotonic clock. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master.h"
#include "reconcile.h"
#include "base/clock.h"
#include "base/log.h"

/* ---- members ---- */

ride_master_member *ride_master_find_member(ride_master *m, const char *id, bool worker)
{
    for (size_t i = 0; i < m->member_count; i++)
        if (m->members[i].is_worker == worker && strcmp(m->members[i].id, id) == 0)
            return &m->members[i];
    return NULL;
}

static void member_clear(ride_master_member *mb)
{
    free(mb->id);
    if (mb->hb_known)
        ride_cluster_heartbeat_free(&mb->hb);
    ride_cluster_worker_free(&mb->worker);
    ride_cluster_producer_free(&mb->producer);
    memset(mb, 0, sizeof *mb);
}

void ride_master_members_free(ride_master *m)
{
    for (size_t i = 0; i < m->member_count; i++)
        member_clear(&m->members[i]);
    free(m->members);
    m->members = NULL;
    m->member_count = 0;
}

static ride_master_member *member_add(ride_master *m, const char *id, bool worker)
{
    ride_master_member *grown = realloc(m->members, (m->member_count + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    m->members = grown;
    ride_master_member *mb = &m->members[m->member_count];
    memset(mb, 0, sizeof *mb);
    if (!(mb->id = strdup(id)))
        return NULL;
    mb->is_worker = worker;
    mb->reg_version = -1;
    mb->hb_version = -1;
    mb->hb_changed_ms = ride_clock_mono_ms();
    m->member_count++;
    return mb;
}

/* Reads and decodes the registration node when its version changed; false when the
 * node is gone or does not decode (the member is then ignored). */
static bool read_registration(ride_master *m, ride_master_member *mb, const char *path)
{
    int32_t version = -1;
    if (ride_zk_exists(m->zk, path, &version) != RIDE_ZK_OK)
        return false;
    if (version == mb->reg_version)
        return true;
    char *data = NULL;
    size_t len = 0;
    if (ride_zk_get(m->zk, path, &data, &len, &version) != RIDE_ZK_OK)
        return false;
    char err[512];
    int rc;
    if (mb->is_worker) {
        ride_cluster_worker_free(&mb->worker);
        rc = ride_cluster_worker_decode(path, data, len, &mb->worker, err, sizeof err);
    } else {
        ride_cluster_producer_free(&mb->producer);
        rc = ride_cluster_producer_decode(path, data, len, &mb->producer, err, sizeof err);
    }
    free(data);
    if (rc) {
        ride_log_warn("member_bad_registration", "member=%s error=%s", mb->id,
                      ride_log_quote(err, (char[600]){0}, 600));
        return false;
    }
    mb->reg_version = version;
    return true;
}

/* Reads and decodes a member's heartbeat node; false when missing or malformed. */
static bool read_heartbeat(ride_master *m, const char *id, ride_cluster_heartbeat *hb)
{
    char path[RIDE_ZK_PATH_MAX];
    char *data = NULL;
    size_t len = 0;
    if (ride_cluster_path_heartbeat(path, sizeof path, id) ||
        ride_zk_get(m->zk, path, &data, &len, NULL) != RIDE_ZK_OK)
        return false;
    char err[512];
    bool ok = ride_cluster_heartbeat_decode(path, data, len, hb, err, sizeof err) == 0;
    free(data);
    return ok;
}

/* Keeps the new heartbeat for its frame and message counts (frames.c) and for the
 * releases step (apply.c); a heartbeat that cannot be read leaves the last one,
 * no longer current. */
static void read_counts(ride_master *m, ride_master_member *mb, int32_t version)
{
    ride_cluster_heartbeat hb;
    mb->hb_current = version >= 0 && read_heartbeat(m, mb->id, &hb);
    if (!mb->hb_current)
        return;
    if (mb->hb_known)
        ride_cluster_heartbeat_free(&mb->hb);
    mb->hb = hb;
    mb->hb_known = true;
}

static void update_heartbeat(ride_master *m, ride_master_member *mb)
{
    char path[RIDE_ZK_PATH_MAX];
    int32_t version = -1;
    if (ride_cluster_path_heartbeat(path, sizeof path, mb->id) ||
        ride_zk_exists(m->zk, path, &version) != RIDE_ZK_OK)
        version = -1;
    int64_t now = ride_clock_mono_ms();
    mb->conn_lost = ride_liveness_server_lost(m->liveness, mb->id, mb->is_worker);
    if (version != mb->hb_version) {
        mb->hb_version = version;
        mb->hb_changed_ms = now;
        read_counts(m, mb, version);
    }
    bool alive = ride_reconcile_member_alive(mb, now, m->cfg->heartbeat.timeout_ms);
    if (mb->alive && !alive && ride_reconcile_member_stalled(mb))
        ride_master_event(m, "worker_failed", NULL, NULL, -1, mb->id,
                          "stalled: its processing thread made no progress for %" PRId64 " ms",
                          mb->hb.stalled_ms);
    else if (mb->alive && !alive && mb->conn_lost)
        ride_master_event(m, mb->is_worker ? "worker_failed" : "producer_failed", NULL, NULL,
                          -1, mb->id, "connection closed (heartbeat %" PRId64 " ms ago)",
                          now - mb->hb_changed_ms);
    else if (mb->alive && !alive)
        ride_master_event(m, mb->is_worker ? "worker_failed" : "producer_failed", NULL, NULL,
                          -1, mb->id, "no heartbeat for %" PRId64 " ms",
                          now - mb->hb_changed_ms);
    else if (!mb->alive && alive)
        ride_master_event(m, mb->is_worker ? "worker_joined" : "producer_joined", NULL, NULL, -1,
                          mb->id, "%s", "");
    mb->alive = alive;
}

static void refresh_role(ride_master *m, bool worker)
{
    const char *dir = worker ? RIDE_CLUSTER_PATH_WORKERS : RIDE_CLUSTER_PATH_PRODUCERS;
    ride_zk_strings ids = {0};
    if (ride_zk_get_children(m->zk, dir, &ids) != RIDE_ZK_OK)
        return; /* keep the last picture; the session callback handles outages */
    for (size_t i = 0; i < m->member_count; i++)
        if (m->members[i].is_worker == worker)
            m->members[i].present = false;
    for (size_t i = 0; i < ids.count; i++) {
        char path[RIDE_ZK_PATH_MAX];
        int rc = worker ? ride_cluster_path_worker(path, sizeof path, ids.items[i])
                        : ride_cluster_path_producer(path, sizeof path, ids.items[i]);
        if (rc)
            continue;
        ride_master_member *mb = ride_master_find_member(m, ids.items[i], worker);
        if (!mb && !(mb = member_add(m, ids.items[i], worker)))
            continue;
        mb->present = read_registration(m, mb, path);
    }
    ride_zk_strings_free(&ids);
    for (size_t i = 0; i < m->member_count; i++)
        if (m->members[i].is_worker == worker)
            update_heartbeat(m, &m->members[i]);
}

/* Members whose registration vanished leave the picture once the plan no longer
 * names them (the previous pass moved their work). */
static void drop_departed(ride_master *m)
{
    size_t kept = 0;
    for (size_t i = 0; i < m->member_count; i++) {
        ride_master_member *mb = &m->members[i];
        if (mb->present || mb->alive) {
            m->members[kept++] = *mb;
            continue;
        }
        ride_master_event(m, mb->is_worker ? "worker_left" : "producer_left", NULL, NULL, -1,
                          mb->id, "%s", "registration removed");
        ride_liveness_server_forget(m->liveness, mb->id, mb->is_worker);
        member_clear(mb);
    }
    m->member_count = kept;
}

void ride_master_refresh_members(ride_master *m)
{
    refresh_role(m, true);
    refresh_role(m, false);
    drop_departed(m);
    ride_master_measure_frames(m);
}

/* ---- applications ---- */

ride_master_app *ride_master_find_app(ride_master *m, const char *name)
{
    for (size_t i = 0; i < m->app_count; i++)
        if (strcmp(m->apps[i]->name, name) == 0)
            return m->apps[i];
    return NULL;
}

const ride_stage *ride_master_reader(const ride_manifest *man, const char *name)
{
    for (size_t s = 0; s < man->stage_count; s++)
        for (size_t i = 0; i < man->stages[s].input_count; i++)
            if (strcmp(man->stages[s].inputs[i].name, name) == 0)
                return &man->stages[s];
    return NULL;
}

int ride_master_topic_writers(const ride_manifest *man, const ride_stage *reader)
{
    int writers = 0;
    for (size_t i = 0; i < reader->input_count; i++) {
        const ride_stage_input *in = &reader->inputs[i];
        if (!in->is_stage) {
            writers++;
            continue;
        }
        int from = man->stages[in->index].partitions;
        writers += (from + reader->partitions - 1) / reader->partitions;
    }
    return writers;
}

static void stage_clear(ride_master_stage *s)
{
    ride_measure_stage_free(s->measure);
    if (s->parts)
        for (int p = 0; p < s->st->partitions; p++) {
            free(s->parts[p].owner);
            free(s->parts[p].releasing);
        }
    free(s->parts);
    for (size_t i = 0; i < s->active_count; i++)
        free(s->active[i]);
    for (size_t i = 0; i < s->spare_count; i++)
        free(s->spare[i]);
    free(s->active);
    free(s->spare);
}

void ride_master_app_free(ride_master_app *a)
{
    if (!a)
        return;
    for (size_t i = 0; a->stages && i < a->m.stage_count; i++)
        stage_clear(&a->stages[i]);
    for (size_t i = 0; a->sources && i < a->m.source_count; i++)
        free(a->sources[i].producer);
    free(a->stages);
    free(a->sources);
    free(a->name);
    free(a->yaml);
    free(a->message);
    ride_manifest_free(&a->m);
    free(a);
}

static int read_int_node(ride_master *m, const char *path, int64_t lo, int64_t hi, int64_t *out)
{
    char *data = NULL;
    size_t len = 0;
    if (ride_zk_get(m->zk, path, &data, &len, NULL) != RIDE_ZK_OK)
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(data, &end, 10);
    int rc = (errno || end == data || *end || v < lo || v > hi) ? -1 : 0;
    if (rc)
        ride_log_warn("bad_node", "path=%s expected=integer_in_%" PRId64 "..%" PRId64, path, lo,
                      hi);
    else
        *out = v;
    free(data);
    return rc;
}

static void load_state(ride_master *m, ride_master_app *a)
{
    char path[RIDE_ZK_PATH_MAX];
    char *data = NULL;
    size_t len = 0;
    ride_cluster_app_state st;
    char err[512];
    if (ride_cluster_path_app_state(path, sizeof path, a->name) ||
        ride_zk_get(m->zk, path, &data, &len, NULL) != RIDE_ZK_OK)
        return;
    if (ride_cluster_app_state_decode(path, data, len, &st, err, sizeof err) == 0) {
        a->phase = st.phase;
        a->topics_exist = st.phase == RIDE_APP_RUNNING;
        a->generation = st.generation;
        a->created_ms = st.created_ms;
        a->updated_ms = st.updated_ms;
        free(a->message);
        a->message = strdup(st.message);
        ride_cluster_app_state_free(&st);
    } else {
        ride_log_warn("bad_node", "error=%s", ride_log_quote(err, (char[600]){0}, 600));
    }
    free(data);
}

static void load_owners(ride_master *m, ride_master_app *a, ride_master_stage *s)
{
    for (int p = 0; p < s->st->partitions; p++) {
        char path[RIDE_ZK_PATH_MAX];
        char *data = NULL;
        size_t len = 0;
        char err[512];
        ride_cluster_partition_owner o;
        if (ride_cluster_path_partition(path, sizeof path, a->name, s->st->name, p) ||
            ride_zk_get(m->zk, path, &data, &len, NULL) != RIDE_ZK_OK)
            continue;
        if (ride_cluster_partition_owner_decode(path, data, len, &o, err, sizeof err) == 0) {
            s->parts[p].owner = strdup(o.owner);
            s->parts[p].epoch = o.epoch;
            s->parts[p].granted = true;
            s->parts[p].stored = true;
            ride_cluster_partition_owner_free(&o);
        }
        free(data);
    }
    char path[RIDE_ZK_PATH_MAX];
    int64_t target = 0;
    if (snprintf(path, sizeof path, "/apps/%s/%s/%s", a->name, RIDE_MASTER_SCALE_DIR,
                 s->st->name) < (int)sizeof path &&
        read_int_node(m, path, 1, RIDE_WORKERS_MAX, &target) == 0)
        s->target = (int)target;
}

static void load_sources(ride_master *m, ride_master_app *a)
{
    for (size_t i = 0; i < a->m.source_count; i++) {
        char path[RIDE_ZK_PATH_MAX];
        char *data = NULL;
        size_t len = 0;
        char err[512];
        ride_cluster_source_owner o;
        if (ride_cluster_path_source(path, sizeof path, a->name, a->m.sources[i].name) ||
            ride_zk_get(m->zk, path, &data, &len, NULL) != RIDE_ZK_OK)
            continue;
        if (ride_cluster_source_owner_decode(path, data, len, &o, err, sizeof err) == 0) {
            a->sources[i].producer = strdup(o.producer);
            a->sources[i].epoch = o.epoch;
            a->sources[i].stream_id = o.stream_id;
            a->sources[i].stored = true;
            ride_cluster_source_owner_free(&o);
        }
        free(data);
    }
}

static ride_master_app *app_from_zk(ride_master *m, const char *name)
{
    char path[RIDE_ZK_PATH_MAX];
    char *data = NULL;
    size_t len = 0;
    int32_t version = -1;
    if (ride_cluster_path_app(path, sizeof path, name) ||
        ride_zk_get(m->zk, path, &data, &len, &version) != RIDE_ZK_OK)
        return NULL;
    ride_manifest man;
    char err[1024];
    if (ride_cluster_app_manifest_parse(name, data, len, &man, err, sizeof err)) {
        ride_log_error("app_unreadable", "app=%s error=%s", name,
                       ride_log_quote(err, (char[1100]){0}, 1100));
        free(data);
        return NULL;
    }
    ride_master_app *a = ride_master_app_new(name, data, len, &man);
    free(data);
    if (!a) {
        ride_manifest_free(&man);
        return NULL;
    }
    a->version = version;
    load_state(m, a);
    for (size_t s = 0; s < a->m.stage_count; s++)
        load_owners(m, a, &a->stages[s]);
    load_sources(m, a);
    return a;
}

ride_master_app *ride_master_app_new(const char *name, const char *yaml, size_t len,
                                     ride_manifest *man)
{
    ride_master_app *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->m = *man;
    a->name = strdup(name);
    a->yaml = malloc(len + 1);
    a->message = strdup("");
    a->stages = calloc(man->stage_count, sizeof *a->stages);
    a->sources = calloc(man->source_count ? man->source_count : 1, sizeof *a->sources);
    if (!a->name || !a->yaml || !a->message || !a->stages || !a->sources) {
        memset(&a->m, 0, sizeof a->m);
        ride_master_app_free(a);
        return NULL;
    }
    memcpy(a->yaml, yaml, len);
    a->yaml[len] = '\0';
    a->yaml_len = len;
    for (size_t i = 0; i < man->stage_count; i++) {
        ride_master_stage *s = &a->stages[i];
        s->st = &a->m.stages[i];
        snprintf(s->topic, sizeof s->topic, "ride.%s.%s", name, s->st->name);
        if (!(s->parts = calloc((size_t)s->st->partitions, sizeof *s->parts))) {
            ride_master_app_free(a);
            return NULL;
        }
    }
    for (size_t i = 0; i < man->source_count; i++)
        a->sources[i].stream_id = (uint32_t)i;
    memset(man, 0, sizeof *man);
    return a;
}

void ride_master_load(ride_master *m)
{
    for (size_t i = 0; i < m->app_count; i++)
        ride_master_app_free(m->apps[i]);
    m->app_count = 0;
    ride_zk_strings names = {0};
    if (ride_zk_get_children(m->zk, RIDE_CLUSTER_PATH_APPS, &names) != RIDE_ZK_OK)
        return;
    ride_master_app **apps = realloc(m->apps, (names.count ? names.count : 1) * sizeof *apps);
    if (apps) {
        m->apps = apps;
        for (size_t i = 0; i < names.count; i++) {
            ride_master_app *a = app_from_zk(m, names.items[i]);
            if (a)
                m->apps[m->app_count++] = a;
        }
    }
    ride_zk_strings_free(&names);
    int64_t now = ride_clock_mono_ms();
    /* A new leader gives every member one timeout of grace: it has not seen any
     * heartbeat change yet. */
    for (size_t i = 0; i < m->member_count; i++)
        m->members[i].hb_changed_ms = now;
}

/* ---- assignments and heartbeats ---- */

/* A record for a member first seen: its epoch continues from what a previous leader
 * wrote. */
static void add_assignment_record(ride_master *m, const char *member)
{
    ride_master_assignment *grown =
        realloc(m->assignments, (m->assignment_count + 1) * sizeof *grown);
    if (!grown)
        return;
    m->assignments = grown;
    ride_master_assignment *r = &grown[m->assignment_count];
    memset(r, 0, sizeof *r);
    if (!(r->member = strdup(member)))
        return;
    m->assignment_count++;
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
}

static bool has_assignment_record(const ride_master *m, const char *member)
{
    for (size_t i = 0; i < m->assignment_count; i++)
        if (strcmp(m->assignments[i].member, member) == 0)
            return true;
    return false;
}

void ride_master_track_assignments(ride_master *m)
{
    for (size_t i = 0; i < m->member_count; i++)
        if (!has_assignment_record(m, m->members[i].id))
            add_assignment_record(m, m->members[i].id);
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

