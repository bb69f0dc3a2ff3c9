/* member.c - a daemon's ZooKeeper membership (cluster/member.h).
 *
 * ZooKeeper's completion thread only sets bits in `pending` and wakes the loop;
 * every synchronous call runs on the loop thread in handle_pending() and the
 * timers, so no callback can deadlock on its own reply. */
#include "cluster/member.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "cluster/liveness.h"
#include "cluster/systemd.h"
#include "cluster/zk.h"

#define DEFAULT_HEARTBEAT_MS 500
#define RETRY_MS 1000
#define CONNECT_TIMEOUT_MS 5000
/* A watch and a change racing between a get and an exists: read again this often. */
#define READ_ATTEMPTS 4

enum pending_bits {
    PENDING_SESSION = 1u << 0,
    PENDING_ASSIGNMENT = 1u << 1,
    PENDING_KAFKA = 1u << 2,
    PENDING_API = 1u << 3,
};

struct ride_member {
    uv_loop_t *loop;
    uv_async_t wake;
    uv_timer_t heartbeat;
    uv_timer_t retry;
    int handles_open;
    char *connect;
    char *digest;
    char *registration;
    char id[RIDE_MEMBER_ID_MAX + 1];
    const char *parent; /* /workers or /producers */
    char path_self[RIDE_ZK_PATH_MAX];
    char path_heartbeat[RIDE_ZK_PATH_MAX];
    char path_assignment[RIDE_ZK_PATH_MAX];
    int session_timeout_ms;
    ride_member_assignment_fn on_assignment;
    ride_member_kafka_fn on_kafka;
    ride_member_heartbeat_fn fill_heartbeat;
    void *ctx;
    ride_systemd_watchdog *watchdog;
    ride_liveness_client *liveness;

    ride_zk *zk;
    atomic_uint pending;
    int64_t registered_session; /* the session that created path_self, 0: none */
    bool active;                /* registered and the assignment delivered */
    bool suspended;             /* on_assignment(NULL) was the last delivery */
    char *assignment_data;      /* last delivered (decoded fine), or NULL */
    char *kafka_data;           /* last delivered, or NULL for missing */
    bool kafka_known;
    _Atomic uint64_t heartbeats;
    _Atomic uint64_t assignments;
};

static void wake_loop(ride_member *m, unsigned bits)
{
    atomic_fetch_or(&m->pending, bits);
    uv_async_send(&m->wake);
}

static void on_session(ride_zk_session_state state, void *ctx)
{
    (void)state;
    wake_loop(ctx, PENDING_SESSION);
}

static void on_assignment_watch(ride_zk_event event, const char *path, void *ctx)
{
    (void)event;
    (void)path;
    wake_loop(ctx, PENDING_ASSIGNMENT);
}

static void on_kafka_watch(ride_zk_event event, const char *path, void *ctx)
{
    (void)event;
    (void)path;
    wake_loop(ctx, PENDING_KAFKA);
}

static void on_api_watch(ride_zk_event event, const char *path, void *ctx)
{
    (void)event;
    (void)path;
    wake_loop(ctx, PENDING_API);
}

/* Reads path and leaves a watch on it whether or not it exists. */
static ride_zk_err read_watched(ride_member *m, const char *path, ride_zk_watch_fn fn,
                                char **data, size_t *len)
{
    ride_zk_err rc = RIDE_ZK_NONODE;
    for (int i = 0; i < READ_ATTEMPTS; i++) {
        rc = ride_zk_get_watch(m->zk, path, fn, m, data, len, NULL);
        if (rc != RIDE_ZK_NONODE)
            return rc;
        rc = ride_zk_exists_watch(m->zk, path, fn, m, NULL);
        if (rc != RIDE_ZK_OK)
            return rc;
    }
    return RIDE_ZK_CONNECTION_LOSS;
}

/* read_watched for a node that may be missing (*data NULL then); false, logged, on
 * a ZooKeeper error. */
static bool read_optional(ride_member *m, const char *path, ride_zk_watch_fn fn, char **data,
                          size_t *len)
{
    ride_zk_err rc = read_watched(m, path, fn, data, len);
    if (rc == RIDE_ZK_OK || rc == RIDE_ZK_NONODE)
        return true;
    ride_log_warn("member_read_failed", "path=%s error=\"%s\"", path, ride_zk_strerror(rc));
    return false;
}

static void suspend(ride_member *m)
{
    m->active = false;
    if (m->suspended)
        return;
    m->suspended = true;
    ride_log_warn("member_suspended", "id=%s reason=\"session not connected\"", m->id);
    ride_systemd_status("suspended: ZooKeeper session not connected");
    m->on_assignment(NULL, m->ctx);
}

static void deliver_assignment(ride_member *m, const char *data, size_t len)
{
    ride_cluster_assignment a;
    char err[256];
    if (ride_cluster_assignment_decode(m->path_assignment, data, len, &a, err, sizeof err)) {
        ride_log_error("member_bad_assignment", "id=%s error=\"%s\"", m->id, err);
        return;
    }
    m->suspended = false;
    atomic_fetch_add(&m->assignments, 1);
    m->on_assignment(&a, m->ctx);
    ride_cluster_assignment_free(&a);
}

static const char EMPTY_ASSIGNMENT[] = "{\"generation\":0,\"epoch\":0,\"partitions\":[],\"sources\":[]}";

/* Reads the assignment and delivers it when it changed or after a suspension;
 * bad data keeps the previous one in force. Returns false on a ZooKeeper error. */
static bool refresh_assignment(ride_member *m)
{
    char *data = NULL;
    size_t len = 0;
    ride_zk_err rc = read_watched(m, m->path_assignment, on_assignment_watch, &data, &len);
    if (rc == RIDE_ZK_NONODE) {
        data = strdup(EMPTY_ASSIGNMENT);
        len = sizeof EMPTY_ASSIGNMENT - 1;
        rc = data ? RIDE_ZK_OK : RIDE_ZK_ERROR;
    }
    if (rc != RIDE_ZK_OK) {
        ride_log_warn("member_read_failed", "path=%s error=\"%s\"", m->path_assignment,
                      ride_zk_strerror(rc));
        return false;
    }
    if (!m->suspended && m->assignment_data && strcmp(m->assignment_data, data) == 0) {
        free(data);
        return true;
    }
    ride_cluster_assignment probe;
    char err[256];
    if (ride_cluster_assignment_decode(m->path_assignment, data, len, &probe, err, sizeof err)) {
        ride_log_error("member_bad_assignment",
                       "id=%s error=\"%s\" action=\"keeping the previous assignment\"", m->id,
                       err);
        free(data);
        if (m->suspended && m->assignment_data)
            deliver_assignment(m, m->assignment_data, strlen(m->assignment_data));
        return true;
    }
    ride_cluster_assignment_free(&probe);
    free(m->assignment_data);
    m->assignment_data = data;
    deliver_assignment(m, data, len);
    return true;
}

static bool refresh_kafka(ride_member *m)
{
    char *data = NULL;
    size_t len = 0;
    if (!read_optional(m, RIDE_CLUSTER_PATH_KAFKA, on_kafka_watch, &data, &len))
        return false;
    bool same = m->kafka_known && ((!data && !m->kafka_data) ||
                                   (data && m->kafka_data && strcmp(data, m->kafka_data) == 0));
    if (same || !m->on_kafka) {
        free(data);
        return true;
    }
    if (!data) {
        free(m->kafka_data);
        m->kafka_data = NULL;
        m->kafka_known = true;
        m->on_kafka(NULL, m->ctx);
        return true;
    }
    ride_cluster_kafka k;
    char err[256];
    if (ride_cluster_kafka_decode(RIDE_CLUSTER_PATH_KAFKA, data, len, &k, err, sizeof err)) {
        ride_log_error("member_bad_kafka", "error=\"%s\"", err);
        free(data);
        return true;
    }
    free(m->kafka_data);
    m->kafka_data = data;
    m->kafka_known = true;
    m->on_kafka(&k, m->ctx);
    ride_cluster_kafka_free(&k);
    return true;
}

/* Connects the liveness connection to the leader /cluster/api names (docs/master.md,
 * Liveness); a leader that advertises none leaves the heartbeats alone. */
static bool refresh_api(ride_member *m)
{
    char *data = NULL;
    size_t len = 0;
    if (!read_optional(m, RIDE_CLUSTER_PATH_API, on_api_watch, &data, &len))
        return false;
    ride_cluster_api api = {0};
    char err[256];
    if (data && ride_cluster_api_decode(RIDE_CLUSTER_PATH_API, data, len, &api, err, sizeof err))
        ride_log_error("member_bad_api", "error=\"%s\"", err);
    ride_liveness_client_target(m->liveness, api.liveness);
    ride_cluster_api_free(&api);
    free(data);
    return true;
}

/* Creates the ephemeral registration node. A node left by an earlier session of
 * ours (a restart before that session expired) is someone else's until it
 * vanishes: retry later. */
static bool register_self(ride_member *m)
{
    int64_t session = ride_zk_session_id(m->zk);
    if (m->registered_session == session)
        return true;
    ride_zk_err rc = ride_zk_ensure_path(m->zk, m->parent);
    if (rc == RIDE_ZK_OK)
        rc = ride_zk_ensure_path(m->zk, RIDE_CLUSTER_PATH_HEARTBEATS);
    if (rc == RIDE_ZK_OK)
        rc = ride_zk_create(m->zk, m->path_self, m->registration, strlen(m->registration),
                            RIDE_ZK_EPHEMERAL, NULL, 0);
    if (rc != RIDE_ZK_OK) {
        ride_log_warn("member_register_failed", "path=%s error=\"%s\" retry_ms=%d", m->path_self,
                      ride_zk_strerror(rc), RETRY_MS);
        return false;
    }
    m->registered_session = session;
    /* Registered is ready: the master can see and use this daemon from now on. */
    char status[RIDE_ZK_PATH_MAX + 32];
    snprintf(status, sizeof status, "registered as %s", m->path_self);
    ride_systemd_ready(status);
    ride_log_info("member_registered", "path=%s session=0x%llx", m->path_self,
                  (unsigned long long)session);
    return true;
}

static void on_retry(uv_timer_t *t);

static void schedule_retry(ride_member *m)
{
    if (!uv_is_active((uv_handle_t *)&m->retry))
        uv_timer_start(&m->retry, on_retry, RETRY_MS, 0);
}

static ride_zk_err open_session(ride_member *m, char *err, size_t errlen)
{
    ride_zk_options zo = {
        .connect = m->connect,
        .session_timeout_ms = m->session_timeout_ms,
        .connect_timeout_ms = CONNECT_TIMEOUT_MS,
        .digest = m->digest,
        .on_session = on_session,
        .session_ctx = m,
    };
    m->registered_session = 0;
    return ride_zk_connect(&zo, &m->zk, err, errlen);
}

/* Brings the member to active when the session allows it: a new session after
 * expiry, registration, then the Kafka address and the assignment. */
static void resync(ride_member *m)
{
    if (!m->zk) {
        char err[256];
        if (open_session(m, err, sizeof err) != RIDE_ZK_OK) {
            ride_log_warn("member_connect_failed", "error=\"%s\" retry_ms=%d", err, RETRY_MS);
            schedule_retry(m);
            return;
        }
    }
    ride_zk_session_state st = ride_zk_state(m->zk);
    if (st == RIDE_ZK_SESSION_EXPIRED) {
        suspend(m);
        ride_log_warn("member_session_expired", "id=%s action=\"new session\"", m->id);
        ride_zk_close(m->zk);
        m->zk = NULL;
        schedule_retry(m);
        return;
    }
    if (st != RIDE_ZK_SESSION_CONNECTED) {
        suspend(m);
        return;
    }
    if (m->active)
        return;
    if (!register_self(m) || !refresh_kafka(m) || !refresh_api(m) || !refresh_assignment(m)) {
        schedule_retry(m);
        return;
    }
    m->active = true;
}

static void handle_pending(uv_async_t *h)
{
    ride_member *m = h->data;
    unsigned bits = atomic_exchange(&m->pending, 0);
    if (bits & PENDING_SESSION) {
        if (m->zk && ride_zk_state(m->zk) != RIDE_ZK_SESSION_CONNECTED)
            m->active = false;
        resync(m);
    }
    if (!m->active)
        return;
    if ((bits & PENDING_KAFKA) && !refresh_kafka(m))
        schedule_retry(m);
    if ((bits & PENDING_API) && !refresh_api(m))
        schedule_retry(m);
    if ((bits & PENDING_ASSIGNMENT) && !refresh_assignment(m))
        schedule_retry(m);
}

static void on_retry(uv_timer_t *t)
{
    ride_member *m = t->data;
    if (m->active) {
        /* A failed read while active: read both again. */
        if (!refresh_kafka(m) || !refresh_api(m) || !refresh_assignment(m))
            schedule_retry(m);
        return;
    }
    resync(m);
}

static void write_heartbeat(ride_member *m)
{
    if (!m->active || !m->fill_heartbeat)
        return;
    ride_cluster_heartbeat hb;
    memset(&hb, 0, sizeof hb);
    if (m->fill_heartbeat(&hb, m->ctx))
        return;
    hb.ts_ms = ride_clock_wall_ms();
    hb.mem = NULL;
    char err[256];
    char *json = ride_cluster_heartbeat_encode(&hb, err, sizeof err);
    if (!json) {
        ride_log_error("member_heartbeat_invalid", "error=\"%s\"", err);
        return;
    }
    size_t len = strlen(json);
    ride_zk_err rc = ride_zk_set(m->zk, m->path_heartbeat, json, len, -1, NULL);
    if (rc == RIDE_ZK_NONODE)
        rc = ride_zk_create(m->zk, m->path_heartbeat, json, len, 0, NULL, 0);
    if (rc == RIDE_ZK_NODEEXISTS)
        rc = ride_zk_set(m->zk, m->path_heartbeat, json, len, -1, NULL);
    free(json);
    if (rc == RIDE_ZK_OK)
        atomic_fetch_add(&m->heartbeats, 1);
    else
        ride_log_warn("member_heartbeat_failed", "path=%s error=\"%s\"", m->path_heartbeat,
                      ride_zk_strerror(rc));
}

static void on_heartbeat(uv_timer_t *t)
{
    write_heartbeat(t->data);
}

void ride_member_heartbeat_now(ride_member *m)
{
    if (m)
        write_heartbeat(m);
}

static void free_member(ride_member *m)
{
    free(m->connect);
    free(m->digest);
    free(m->registration);
    free(m->assignment_data);
    free(m->kafka_data);
    free(m);
}

static void on_handle_closed(uv_handle_t *h)
{
    ride_member *m = h->data;
    if (--m->handles_open == 0)
        free_member(m);
}

static int check_options(const ride_member_options *o, char *err, size_t errlen)
{
    if (!o || !o->loop || !o->connect || !o->registration || !o->on_assignment)
        return ride_set_error(err, errlen, "member: loop, connect, registration and "
                                           "on_assignment are required");
    if (!o->id || !ride_member_id_valid(o->id))
        return ride_set_error(err, errlen, "member: invalid id '%s'", o->id ? o->id : "");
    if (o->heartbeat_interval_ms < 0 || o->session_timeout_ms < 0)
        return ride_set_error(err, errlen, "member: negative interval");
    return 0;
}

static int build_paths(ride_member *m, ride_member_role role)
{
    m->parent = role == RIDE_MEMBER_WORKER ? RIDE_CLUSTER_PATH_WORKERS : RIDE_CLUSTER_PATH_PRODUCERS;
    int rc = role == RIDE_MEMBER_WORKER
                 ? ride_cluster_path_worker(m->path_self, sizeof m->path_self, m->id)
                 : ride_cluster_path_producer(m->path_self, sizeof m->path_self, m->id);
    if (rc == 0)
        rc = ride_cluster_path_heartbeat(m->path_heartbeat, sizeof m->path_heartbeat, m->id);
    if (rc == 0)
        rc = ride_cluster_path_assignment(m->path_assignment, sizeof m->path_assignment, m->id);
    return rc;
}

ride_member *ride_member_start(const ride_member_options *o, char *err, size_t errlen)
{
    if (check_options(o, err, errlen))
        return NULL;
    ride_member *m = calloc(1, sizeof *m);
    if (!m) {
        ride_set_error(err, errlen, "member: out of memory");
        return NULL;
    }
    m->loop = o->loop;
    strcpy(m->id, o->id);
    m->connect = strdup(o->connect);
    m->digest = o->digest ? strdup(o->digest) : NULL;
    m->registration = strdup(o->registration);
    m->session_timeout_ms = o->session_timeout_ms;
    m->on_assignment = o->on_assignment;
    m->on_kafka = o->on_kafka;
    m->fill_heartbeat = o->fill_heartbeat;
    m->ctx = o->ctx;
    m->suspended = true;
    if (!m->connect || !m->registration || (o->digest && !m->digest) ||
        build_paths(m, o->role)) {
        ride_set_error(err, errlen, "member: out of memory or path too long");
        free_member(m);
        return NULL;
    }
    /* The handles first: the session callback may wake the loop before
     * ride_zk_connect returns. */
    uv_async_init(m->loop, &m->wake, handle_pending);
    uv_timer_init(m->loop, &m->heartbeat);
    uv_timer_init(m->loop, &m->retry);
    m->wake.data = m->heartbeat.data = m->retry.data = m;
    m->handles_open = 3;
    m->liveness = ride_liveness_client_new(m->loop, o->role == RIDE_MEMBER_WORKER, m->id);
    if (!m->liveness) {
        ride_set_error(err, errlen, "member: out of memory");
        ride_member_close(m);
        return NULL;
    }
    if (open_session(m, err, errlen) != RIDE_ZK_OK) {
        ride_member_close(m);
        return NULL;
    }
    m->watchdog = ride_systemd_watchdog_start(m->loop);
    int interval = o->heartbeat_interval_ms ? o->heartbeat_interval_ms : DEFAULT_HEARTBEAT_MS;
    uv_timer_start(&m->heartbeat, on_heartbeat, (uint64_t)interval, (uint64_t)interval);
    uv_timer_start(&m->retry, on_retry, 0, 0);
    return m;
}

void ride_member_close(ride_member *m)
{
    if (!m)
        return;
    /* The goodbye first: the leader must not take the session's end for a crash. */
    ride_liveness_client_close(m->liveness);
    m->liveness = NULL;
    /* After ride_zk_close no ZooKeeper callback can touch m any more. */
    ride_zk_close(m->zk);
    m->zk = NULL;
    ride_systemd_watchdog_stop(m->watchdog);
    uv_close((uv_handle_t *)&m->wake, on_handle_closed);
    uv_close((uv_handle_t *)&m->heartbeat, on_handle_closed);
    uv_close((uv_handle_t *)&m->retry, on_handle_closed);
}

bool ride_member_active(const ride_member *m)
{
    return m && m->active;
}

uint64_t ride_member_heartbeats(const ride_member *m)
{
    return m ? atomic_load(&m->heartbeats) : 0;
}

bool ride_member_assignment_encode(const ride_cluster_assignment *a, char **enc)
{
    *enc = NULL;
    if (!a) {
        ride_log_warn("assignment_suspended", "reason=\"ZooKeeper session lost\"");
        return true;
    }
    char err[512];
    *enc = ride_cluster_assignment_encode(a, err, sizeof err);
    if (!*enc) {
        ride_log_error("assignment_invalid", "error=\"%s\"", err);
        return false;
    }
    ride_log_info("assignment",
                  "generation=%" PRId64 " epoch=%" PRId64 " partitions=%zu sources=%zu",
                  a->generation, a->epoch, a->partition_count, a->source_count);
    return true;
}

uint64_t ride_member_assignments(const ride_member *m)
{
    return m ? atomic_load(&m->assignments) : 0;
}
