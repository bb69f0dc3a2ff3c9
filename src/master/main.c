/* main.c - ride-master: leader election through ZooKeeper, the embedded broker, the
 * reconciliation tick and the control API (docs/master.md).
 *
 * Every master joins the election; the leader reconciles every TICK_MS and serves
 * the control API; standbys only wait (and one of them may host the embedded
 * broker). ZooKeeper's callbacks run on its completion thread and only set flags
 * and wake the loop, which makes every ZooKeeper call. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master.h"
#include "base/clock.h"
#include "base/log.h"
#include "daemon/setup.h"

#define PROGRAM "ride-master"
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define TICK_MS 100

static const ride_daemon_desc DAEMON = {RIDE_DAEMON_MASTER, PROGRAM, "master"};

typedef struct options {
    ride_daemon_options common;
    const char *api_listen;
    const char *token_file;
    bool broker_only;
} options;

static const char *const PATHS[] = {
    RIDE_CLUSTER_PATH_ELECTION, RIDE_CLUSTER_PATH_WORKERS,   RIDE_CLUSTER_PATH_PRODUCERS,
    RIDE_CLUSTER_PATH_HEARTBEATS, RIDE_CLUSTER_PATH_APPS,    RIDE_CLUSTER_PATH_ASSIGNMENTS,
    RIDE_CLUSTER_PATH_EVENTS,   RIDE_MASTER_PATH_TOPICS,
};

/* ---- ZooKeeper's thread: record and wake ---- */

static void on_session(ride_zk_session_state state, void *ctx)
{
    ride_master *m = ctx;
    (void)state;
    pthread_mutex_lock(&m->mu);
    m->session_changed = true;
    pthread_mutex_unlock(&m->mu);
    uv_async_send(&m->wake);
}

static void on_leader(ride_zk_election *e, void *ctx)
{
    (void)e;
    ride_master *m = ctx;
    pthread_mutex_lock(&m->mu);
    m->became_leader = true;
    pthread_mutex_unlock(&m->mu);
    uv_async_send(&m->wake);
}

/* ---- leadership ---- */

static int64_t next_generation(ride_master *m)
{
    for (int attempt = 0; attempt < 10; attempt++) {
        char *data = NULL;
        size_t len = 0;
        int32_t version = -1;
        char err[256];
        int64_t gen = 0;
        ride_zk_err rc = ride_zk_get(m->zk, RIDE_CLUSTER_PATH_GENERATION, &data, &len, &version);
        if (rc == RIDE_ZK_OK &&
            ride_cluster_generation_decode(RIDE_CLUSTER_PATH_GENERATION, data, len, &gen, err,
                                           sizeof err))
            gen = 0;
        free(data);
        char *text = ride_cluster_generation_encode(gen + 1, err, sizeof err);
        if (!text)
            return gen + 1;
        rc = rc == RIDE_ZK_NONODE
                 ? ride_zk_create(m->zk, RIDE_CLUSTER_PATH_GENERATION, text, strlen(text), 0,
                                  NULL, 0)
                 : ride_zk_set(m->zk, RIDE_CLUSTER_PATH_GENERATION, text, strlen(text), version,
                               NULL);
        free(text);
        if (rc == RIDE_ZK_OK)
            return gen + 1;
    }
    return -1;
}

/* The host part of api.listen: the address the API and the liveness listener bind. */
static void listen_host(const ride_master *m, char *host, size_t len)
{
    const char *listen = m->cfg->api.listen;
    const char *colon = strrchr(listen, ':');
    snprintf(host, len, "%.*s", (int)(colon - listen), listen);
}

/* The host others reach the listen host at: a wildcard address publishes the
 * host name. */
static void advertised_host(const ride_master *m, char *host, size_t len)
{
    listen_host(m, host, len);
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "[::]") == 0) {
        if (gethostname(host, len - 1))
            snprintf(host, len, "localhost");
    }
}

/* "http://HOST:PORT" for the bound API. */
static void api_url(ride_master *m)
{
    char host[256];
    advertised_host(m, host, sizeof host);
    snprintf(m->api_url, sizeof m->api_url, "http://%s:%d", host,
             ride_http_server_port(m->api));
}

/* A member's liveness connection closed without a goodbye: the pass that follows
 * at once fails it (view.c), without waiting for the heartbeat timeout. */
static void on_liveness_lost(const char *id, bool worker, void *ctx)
{
    (void)id;
    (void)worker;
    ride_master *m = ctx;
    uv_async_send(&m->wake);
}

/* The listener the members connect to (docs/master.md, Liveness); without it the
 * leader still fails members by their heartbeats. */
static void start_liveness(ride_master *m)
{
    if (m->liveness)
        return;
    char host[256], err[512];
    listen_host(m, host, sizeof host);
    m->liveness = ride_liveness_server_start(m->loop, host, on_liveness_lost, m, err, sizeof err);
    if (!m->liveness) {
        ride_log_warn("liveness_not_started", "error=%s", ride_log_quote(err, (char[600]){0}, 600));
        return;
    }
    advertised_host(m, host, sizeof host);
    snprintf(m->liveness_addr, sizeof m->liveness_addr, "%s:%d", host,
             ride_liveness_server_port(m->liveness));
}

static int start_api(ride_master *m)
{
    char err[512];
    if (!m->api) {
        m->api = ride_http_server_new(m->loop, m->cfg->api.listen, NULL, err, sizeof err);
        if (!m->api || ride_master_api_routes(m, m->api) ||
            ride_http_server_start(m->api, err, sizeof err)) {
            ride_log_error("api_not_started", "listen=%s error=%s", m->cfg->api.listen,
                           ride_log_quote(err, (char[600]){0}, 600));
            ride_http_server_free(m->api);
            m->api = NULL;
            return -1;
        }
        api_url(m);
    }
    start_liveness(m);
    ride_cluster_api api = {.url = m->api_url, .master = m->id,
                            .liveness = m->liveness ? m->liveness_addr : NULL};
    char *json = ride_cluster_api_encode(&api, err, sizeof err);
    if (!json)
        return -1;
    /* The previous leader's node lives until its session expires: replace it. */
    ride_zk_delete(m->zk, RIDE_CLUSTER_PATH_API, -1);
    ride_zk_err rc = ride_zk_create(m->zk, RIDE_CLUSTER_PATH_API, json, strlen(json),
                                    RIDE_ZK_EPHEMERAL, NULL, 0);
    free(json);
    return rc == RIDE_ZK_OK ? 0 : -1;
}

static const char *config_bootstrap(const ride_config *cfg)
{
    const ride_kv *kv = ride_kv_find(cfg->kafka.props, cfg->kafka.prop_count, "bootstrap.servers");
    return kv ? kv->value : NULL;
}

static void use_bootstrap(ride_master *m, const char *bootstrap, bool embedded)
{
    if (m->bootstrap && bootstrap && strcmp(m->bootstrap, bootstrap) == 0)
        return;
    if (m->admin)
        rd_kafka_destroy(m->admin);
    m->admin = NULL;
    /* Other brokers: none of the topics is known to be there. */
    for (size_t i = 0; m->bootstrap && i < m->app_count; i++)
        m->apps[i]->topics_exist = false;
    free(m->bootstrap);
    m->bootstrap = bootstrap ? strdup(bootstrap) : NULL;
    m->bootstrap_embedded = embedded;
    for (size_t i = 0; i < m->app_count; i++)
        m->apps[i]->topics_ready = false;
    if (!m->bootstrap)
        return;
    /* A real Kafka's topics are the topics thread's, on a client of its own. */
    if (embedded)
        m->admin = ride_master_kafka_admin(m->cfg, m->bootstrap);
    ride_log_info("kafka", "bootstrap=%s embedded=%s", m->bootstrap, embedded ? "true" : "false");
}

/* The leader follows /cluster/kafka (embedded) or publishes its configured brokers. */
static void sync_kafka(ride_master *m)
{
    if (!m->cfg->kafka.embedded) {
        use_bootstrap(m, config_bootstrap(m->cfg), false);
        return;
    }
    char *data = NULL;
    size_t len = 0;
    ride_cluster_kafka k;
    char err[512];
    if (ride_zk_get(m->zk, RIDE_CLUSTER_PATH_KAFKA, &data, &len, NULL) != RIDE_ZK_OK)
        return;
    if (ride_cluster_kafka_decode(RIDE_CLUSTER_PATH_KAFKA, data, len, &k, err, sizeof err) == 0) {
        use_bootstrap(m, k.bootstrap_servers, k.embedded);
        ride_cluster_kafka_free(&k);
    }
    free(data);
}

static void publish_kafka(ride_master *m)
{
    const char *bootstrap = config_bootstrap(m->cfg);
    if (m->cfg->kafka.embedded || !bootstrap)
        return;
    ride_cluster_kafka k = {.bootstrap_servers = bootstrap, .embedded = false};
    char err[256];
    char *json = ride_cluster_kafka_encode(&k, err, sizeof err);
    if (!json)
        return;
    ride_master_put_node(m, RIDE_CLUSTER_PATH_KAFKA, json, strlen(json));
    free(json);
}

static void start_leading(ride_master *m)
{
    int64_t gen = next_generation(m);
    if (gen < 0) {
        ride_log_error("generation_failed", "retry=next_tick");
        return;
    }
    m->generation = gen;
    ride_master_refresh_members(m);
    ride_master_load(m);
    ride_master_assignments_free(m);
    publish_kafka(m);
    if (start_api(m))
        return;
    m->leading = true;
    ride_gauge_set(m->metrics.leader, 1);
    ride_systemd_status("leading: generation %" PRId64 ", control API %s", gen, m->api_url);
    ride_master_event(m, "leader_elected", NULL, NULL, -1, m->id, "generation %" PRId64
                      ", api %s, %zu application(s)", gen, m->api_url, m->app_count);
}

static void stop_leading(ride_master *m, const char *why)
{
    if (!m->leading)
        return;
    m->leading = false;
    ride_gauge_set(m->metrics.leader, 0);
    ride_log_warn("leadership_suspended", "reason=%s", why);
    ride_systemd_status("standby: leadership suspended (%s)", why);
}

/* ---- the loop ---- */

static void update_worker_gauges(ride_master *m)
{
    static const char *const states[] = {"alive", "dead"};
    size_t count[2] = {0, 0};
    for (size_t i = 0; i < m->member_count; i++)
        if (m->members[i].is_worker)
            count[m->members[i].alive ? 0 : 1]++;
    for (int s = 0; s < 2; s++)
        ride_gauge_set(ride_gauge_get(m->metrics.workers, &states[s], 1), (double)count[s]);
}

static void watch_offsets(ride_master *m)
{
    /* Only existing topics: a query for a missing one makes the embedded broker create
     * it with its default partition count. */
    size_t n = 0;
    for (size_t i = 0; i < m->app_count; i++)
        for (size_t s = 0; m->apps[i]->topics_ready && s < m->apps[i]->m.stage_count; s++)
            n += (size_t)m->apps[i]->stages[s].st->partitions;
    ride_master_offsets *parts = calloc(n ? n : 1, sizeof *parts);
    if (!parts)
        return;
    size_t k = 0;
    for (size_t i = 0; i < m->app_count; i++)
        for (size_t s = 0; m->apps[i]->topics_ready && s < m->apps[i]->m.stage_count; s++)
            for (int p = 0; p < m->apps[i]->stages[s].st->partitions; p++) {
                ride_master_offsets *o = &parts[k++];
                snprintf(o->app, sizeof o->app, "%s", m->apps[i]->name);
                snprintf(o->stage, sizeof o->stage, "%s", m->apps[i]->stages[s].st->name);
                o->partition = p;
            }
    ride_master_lag_watch(m->lag, m->bootstrap, parts, n);
    free(parts);
}

static void handle_session(ride_master *m)
{
    ride_zk_session_state st = ride_zk_state(m->zk);
    if (st == RIDE_ZK_SESSION_EXPIRED) {
        /* The election node and every ephemeral node are gone: a clean restart
         * (the service manager's) is the simplest correct recovery. */
        ride_log_error("zookeeper_session_expired", "action=exit");
        stop_leading(m, "session_expired");
        m->stopping = true;
        uv_stop(m->loop);
    } else if (st == RIDE_ZK_SESSION_CONNECTING) {
        stop_leading(m, "zookeeper_disconnected");
    } else if (!m->leading && m->election && ride_zk_election_is_leader(m->election)) {
        start_leading(m);
    }
}

static void run_tick(ride_master *m)
{
    pthread_mutex_lock(&m->mu);
    bool elected = m->became_leader, session = m->session_changed;
    m->became_leader = m->session_changed = false;
    pthread_mutex_unlock(&m->mu);
    if (m->stopping)
        return;
    if (session)
        handle_session(m);
    if (m->stopping)
        return;
    if (elected && !m->leading)
        start_leading(m);
    if (ride_zk_state(m->zk) != RIDE_ZK_SESSION_CONNECTED)
        return;
    ride_master_broker_tick(m);
    if (!m->leading && m->election && ride_zk_election_is_leader(m->election))
        start_leading(m);
    if (!m->leading)
        return;
    sync_kafka(m);
    ride_master_reconcile(m);
    update_worker_gauges(m);
    watch_offsets(m);
}

static void on_wake(uv_async_t *h) { run_tick(h->data); }
static void on_tick(uv_timer_t *h) { run_tick(h->data); }

static void close_handles(ride_master *m)
{
    uv_close((uv_handle_t *)&m->wake, NULL);
    uv_close((uv_handle_t *)&m->tick, NULL);
    uv_close((uv_handle_t *)&m->sigterm, NULL);
    uv_close((uv_handle_t *)&m->sigint, NULL);
    ride_systemd_watchdog_stop(m->watchdog);
    m->watchdog = NULL;
    ride_http_server_free(m->api);
    m->api = NULL;
    ride_liveness_server_stop(m->liveness);
    m->liveness = NULL;
    ride_http_server_free(m->metrics_http);
    m->metrics_http = NULL;
}

static void on_signal(uv_signal_t *h, int signum)
{
    ride_master *m = h->data;
    ride_log_info("stopping", "signal=%s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    m->stopping = true;
    stop_leading(m, "stopping");
    ride_systemd_stopping();
    /* Resigning hands leadership over at once instead of after a session timeout. */
    if (m->election)
        ride_zk_election_resign(m->election);
    uv_stop(m->loop);
}

/* ---- setup ---- */

static void print_help(void)
{
    printf("Usage: " PROGRAM " [--config FILE] [--zookeeper CONNECT] [--id ID]\n"
           "                   [--api-listen ADDR:PORT] [--token-file FILE]\n"
           "                   [--metrics-listen ADDR:PORT] [--log-level LEVEL] [--broker-only]\n"
           "Runs a RIDE master: leader election, applications, assignments, failover and\n"
           "the control API (docs/master.md, docs/control-api.md).\n"
           "  --config FILE           master configuration (docs/configuration.md); without\n"
           "                          it: embedded Kafka and the documented defaults\n"
           "  --zookeeper CONNECT     HOST:PORT[,...][/CHROOT]; overrides zookeeper.connect\n"
           "  --id ID                 member id (default HOSTNAME-PID)\n"
           "  --api-listen ADDR:PORT  control API address; overrides api.listen\n"
           "  --token-file FILE       token required for changes; overrides api.token_file\n"
           "  --metrics-listen ADDR   /metrics address; overrides metrics.listen\n"
           "  --log-level LEVEL       debug, info, warn or error\n"
           "  --broker-only           host the embedded broker but never lead\n"
           "Exit status: 0 clean stop, 1 runtime failure, 2 bad usage or configuration.\n");
}

static void take_option(int val, const char *arg, void *ctx)
{
    options *o = ctx;
    switch (val) {
    case 'a': o->api_listen = arg; break;
    case 't': o->token_file = arg; break;
    case 'b': o->broker_only = true; break;
    }
}

static int parse_args(int argc, char **argv, options *o)
{
    static const struct option own[] = {
        {"api-listen", required_argument, NULL, 'a'},
        {"token-file", required_argument, NULL, 't'},
        {"broker-only", no_argument, NULL, 'b'},
        {NULL, 0, NULL, 0},
    };
    *o = (options){0};
    ride_daemon_cli cli = {"c:h", own, take_option, o, print_help};
    return ride_daemon_parse_args(&DAEMON, &cli, argc, argv, &o->common);
}

static bool load_config(const options *o, ride_config *cfg)
{
    if (!ride_daemon_load_config(&DAEMON, &o->common, cfg))
        return false;
    if (o->api_listen)
        cfg->api.listen = o->api_listen;
    if (o->token_file)
        cfg->api.token_file = o->token_file;
    return true;
}

static bool init_metrics(ride_master *m)
{
    ride_master_metrics *ms = &m->metrics;
    char err[256];
    static const char *const state_label[] = {"state"};
    if (!(ms->reg = ride_metrics_new()))
        return false;
    ride_metric_family *leader = ride_metrics_gauge(
        ms->reg, "ride_master_leader", "1 while this master leads the cluster", NULL, 0, err,
        sizeof err);
    ride_metric_family *failovers = ride_metrics_counter(
        ms->reg, "ride_master_failovers_total",
        "Partitions moved off a failed worker onto another", NULL, 0, err, sizeof err);
    ride_metric_family *moves = ride_metrics_counter(
        ms->reg, "ride_master_reassignments_total",
        "Partition owner changes (assignments, rebalancing and failovers)", NULL, 0, err,
        sizeof err);
    ride_metric_family *events = ride_metrics_counter(
        ms->reg, "ride_master_events_total", "Cluster events written", NULL, 0, err, sizeof err);
    ms->workers = ride_metrics_gauge(ms->reg, "ride_master_workers",
                                     "Registered workers by liveness", state_label, 1, err,
                                     sizeof err);
    if (!leader || !failovers || !moves || !events || !ms->workers ||
        ride_master_lag_metrics_init(m, err, sizeof err) ||
        ride_master_measure_metrics_init(m, err, sizeof err)) {
        fprintf(stderr, PROGRAM ": metrics: %s\n", err);
        return false;
    }
    ms->leader = ride_gauge_get(leader, NULL, 0);
    ms->failovers = ride_counter_get(failovers, NULL, 0);
    ms->moves = ride_counter_get(moves, NULL, 0);
    ms->events = ride_counter_get(events, NULL, 0);
    return ms->leader && ms->failovers && ms->moves && ms->events;
}

static bool connect_zookeeper(ride_master *m)
{
    char err[512];
    const ride_config_zookeeper *z = &m->cfg->zookeeper;
    if (!ride_daemon_read_digest(&DAEMON, z, m->digest, sizeof m->digest))
        return false;
    ride_zk_options zo = {.connect = z->connect,
                          .session_timeout_ms = z->session_timeout_ms,
                          .digest = m->digest[0] ? m->digest : NULL,
                          .on_session = on_session,
                          .session_ctx = m};
    if (ride_zk_connect(&zo, &m->zk, err, sizeof err) != RIDE_ZK_OK) {
        fprintf(stderr, PROGRAM ": zookeeper %s: %s\n", z->connect, err);
        return false;
    }
    for (size_t i = 0; i < sizeof PATHS / sizeof *PATHS; i++)
        if (ride_zk_ensure_path(m->zk, PATHS[i]) != RIDE_ZK_OK) {
            fprintf(stderr, PROGRAM ": zookeeper: cannot create %s\n", PATHS[i]);
            return false;
        }
    return true;
}

static bool join_election(ride_master *m)
{
    if (m->broker_only)
        return true;
    char err[256];
    ride_cluster_candidate c = {.id = m->id};
    char *json = ride_cluster_candidate_encode(&c, err, sizeof err);
    ride_zk_err rc = json ? ride_zk_election_join(m->zk, RIDE_CLUSTER_PATH_ELECTION, json,
                                                  strlen(json), on_leader, m, &m->election)
                          : RIDE_ZK_BAD_ARGUMENTS;
    free(json);
    if (rc != RIDE_ZK_OK) {
        fprintf(stderr, PROGRAM ": election: %s\n", ride_zk_strerror(rc));
        return false;
    }
    return true;
}

static bool start_metrics_server(ride_master *m)
{
    m->metrics_http =
        ride_daemon_serve_metrics(&DAEMON, m->loop, m->cfg->metrics_listen, m->metrics.reg);
    return m->metrics_http != NULL;
}

static int run_master(ride_master *m)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    m->loop = &loop;
    uv_async_init(&loop, &m->wake, on_wake);
    uv_timer_init(&loop, &m->tick);
    uv_signal_init(&loop, &m->sigterm);
    uv_signal_init(&loop, &m->sigint);
    m->wake.data = m->tick.data = m->sigterm.data = m->sigint.data = m;
    uv_signal_start(&m->sigterm, on_signal, SIGTERM);
    uv_signal_start(&m->sigint, on_signal, SIGINT);
    char err[512];
    int code = 0;
    if (!(m->lag = ride_master_lag_start(m->cfg, err, sizeof err)) ||
        !(m->topics = ride_master_topics_start(m->cfg, err, sizeof err)) || !start_metrics_server(m) ||
        !connect_zookeeper(m) || !join_election(m)) {
        code = EXIT_RUNTIME;
    } else {
        ride_log_info("started", "id=%s zookeeper=%s broker_only=%s metrics_port=%d", m->id,
                      m->cfg->zookeeper.connect, m->broker_only ? "true" : "false",
                      ride_http_server_port(m->metrics_http));
        uv_timer_start(&m->tick, on_tick, 0, TICK_MS);
        m->watchdog = ride_systemd_watchdog_start(&loop);
        ride_systemd_ready(m->broker_only ? "hosting the embedded broker"
                                          : "standby: in the election");
        uv_run(&loop, UV_RUN_DEFAULT);
        if (!m->stopping)
            code = EXIT_RUNTIME;
        else if (ride_zk_state(m->zk) == RIDE_ZK_SESSION_EXPIRED)
            code = EXIT_RUNTIME;
    }
    ride_zk_close(m->zk);
    m->zk = NULL;
    ride_master_broker_stop(m);
    close_handles(m);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    ride_log_info("stopped", "id=%s exit=%d", m->id, code);
    return code;
}

static void release(ride_master *m)
{
    ride_master_lag_stop(m->lag);
    ride_master_topics_stop(m->topics);
    for (size_t i = 0; i < m->app_count; i++)
        ride_master_app_free(m->apps[i]);
    free(m->apps);
    ride_master_members_free(m);
    ride_master_assignments_free(m);
    if (m->admin)
        rd_kafka_destroy(m->admin);
    free(m->bootstrap);
    free(m->token);
    ride_metrics_free(m->metrics.reg);
    ride_task_registry_free(m->registry);
}

int main(int argc, char **argv)
{
    ride_log_set_component(DAEMON.role);
    options o;
    int parsed = parse_args(argc, argv, &o);
    if (parsed)
        return parsed > 0 ? 0 : EXIT_USAGE;
    ride_config cfg = {0};
    if (!load_config(&o, &cfg)) {
        ride_config_free(&cfg);
        return EXIT_USAGE;
    }
    char default_id[RIDE_MEMBER_ID_MAX + 1];
    const char *id = ride_daemon_member_id(&DAEMON, o.common.id, default_id, sizeof default_id);
    if (!id) {
        ride_config_free(&cfg);
        return EXIT_USAGE;
    }
    ride_master m = {.cfg = &cfg, .id = id, .broker_only = o.broker_only};
    pthread_mutex_init(&m.mu, NULL);
    int code = EXIT_USAGE;
    char err[512];
    if (cfg.api.token_file &&
        !(m.token = ride_http_token_load(cfg.api.token_file, err, sizeof err))) {
        fprintf(stderr, PROGRAM ": api.token_file: %s\n", err);
    } else if ((m.registry = ride_task_registry_new()) && init_metrics(&m)) {
        if (!m.token)
            ride_log_warn("api_read_only", "reason=no_token_file");
        code = run_master(&m);
    }
    release(&m);
    pthread_mutex_destroy(&m.mu);
    ride_config_free(&cfg);
    return code;
}
