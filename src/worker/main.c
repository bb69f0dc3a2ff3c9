/* main.c - ride-worker: joins the cluster through ZooKeeper and runs the stage
 * partitions its assignment names (docs/worker.md). Read top to bottom, this is
 * the daemon's life: set up (daemon/setup.h), join (membership.h), run the
 * processing thread (processing.h, stages.h) under a watchdog (watchdog.h), stop
 * on SIGTERM or SIGINT, or exit when the processing thread stalls.
 *
 * Threads: the main thread runs the libuv loop (ZooKeeper membership, heartbeat
 * timer, watchdog, signals, /metrics); one processing thread owns every pipeline.
 * A processing thread that does not end when told to is abandoned: the process
 * then exits without joining it or freeing what it may still use. */
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <uv.h>

#include "budget.h"
#include "gpus.h"
#include "membership.h"
#include "metrics.h"
#include "processing.h"
#include "watchdog.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/openmp_env.h"
#include "cluster/cluster.h"
#include "cluster/systemd.h"
#include "daemon/setup.h"
#include "http/http.h"
#include "spec/config.h"
#include "tasks/host.h"

#define PROGRAM "ride-worker"
#define EXIT_USAGE 2
#define EXIT_RUNTIME 1

static const ride_daemon_desc DAEMON = {RIDE_DAEMON_WORKER, PROGRAM, "worker"};

typedef struct worker {
    const ride_config *cfg;
    const char *id;
    ride_task_registry *registry;
    ride_worker_gpus gpus;
    ride_worker_metrics metrics;
    ride_worker_processing *processing;
    ride_worker_presence *presence; /* this worker, counted by the others here */
    char presence_dir[512];
    ride_worker_member *member;
    ride_http_server *http;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_timer_t watch; /* the watchdog's looks, then the stalled worker's exit */
    ride_worker_watchdog watchdog;
    bool stalled;
    bool stopping;
    bool abandoned; /* the processing thread did not end: exit without it */
    int code;
} worker;

/* ---- setup ---- */

static void print_help(void)
{
    printf("Usage: " PROGRAM " [--config FILE] [--zookeeper CONNECT] [--id ID]\n"
           "                   [--metrics-listen ADDR:PORT] [--log-level LEVEL]\n"
           "Joins a RIDE cluster and runs the stage partitions the master assigns.\n"
           "  --config FILE           worker configuration (docs/configuration.md)\n"
           "  --zookeeper CONNECT     HOST:PORT[,...][/CHROOT]; overrides zookeeper.connect\n"
           "  --id ID                 member id; overrides worker.id\n"
           "  --metrics-listen ADDR   /metrics address; overrides metrics.listen\n"
           "  --log-level LEVEL       debug, info, warn or error\n");
}

static int parse_args(int argc, char **argv, ride_daemon_options *o)
{
    ride_daemon_cli cli = {.short_options = "", .print_help = print_help};
    return ride_daemon_parse_args(&DAEMON, &cli, argc, argv, o);
}

static bool load_config(const ride_daemon_options *o, ride_config *cfg)
{
    if (!ride_daemon_load_config(&DAEMON, o, cfg))
        return false;
    if (o->id)
        cfg->worker.id = o->id;
    return true;
}

static bool load_plugins(worker *w)
{
    char err[512];
    for (size_t i = 0; i < w->cfg->worker.plugin_dir_count; i++)
        if (ride_task_registry_load_dir(w->registry, w->cfg->worker.plugin_dirs[i], err,
                                        sizeof err) < 0) {
            fprintf(stderr, PROGRAM ": %s\n", err);
            return false;
        }
    return true;
}

/* Announces this worker to the others of this machine, which share the cores
 * out between them; without the announcement its stages take all its cores. */
static void announce(worker *w)
{
    char err[512];
    if (!ride_worker_presence_dir(w->presence_dir, sizeof w->presence_dir))
        return;
    if (!(w->presence = ride_worker_presence_join(w->presence_dir, err, sizeof err)))
        ride_log_warn("presence_failed", "error=\"%s\"", err);
}

static bool init_metrics(worker *w)
{
    char err[256];
    if (ride_worker_metrics_init(&w->metrics, err, sizeof err)) {
        fprintf(stderr, PROGRAM ": metrics: %s\n", err);
        return false;
    }
    return true;
}

/* ---- join and run ---- */

static void on_signal(uv_signal_t *h, int signum);
static void on_watch(uv_timer_t *t);

static bool join_cluster(worker *w, uv_loop_t *loop, const char *reg_json)
{
    char err[512];
    char digest[512];
    if (!ride_daemon_read_digest(&DAEMON, &w->cfg->zookeeper, digest, sizeof digest) ||
        !(w->http = ride_daemon_serve_metrics(&DAEMON, loop, w->cfg->metrics_listen,
                                              w->metrics.reg)))
        return false;
    w->member = ride_worker_join(loop, w->cfg, w->id, digest, reg_json, w->processing, err,
                                 sizeof err);
    if (!w->member) {
        fprintf(stderr, PROGRAM ": zookeeper: %s\n", err);
        return false;
    }
    ride_log_info("started", "id=%s zookeeper=%s metrics_port=%d", w->id,
                  w->cfg->zookeeper.connect, ride_http_server_port(w->http));
    return true;
}

/* Several looks per timeout, so a stall is reported at most a quarter late. */
static void start_watchdog(worker *w)
{
    uint64_t every = (uint64_t)w->cfg->worker.stall_timeout_ms / 4;
    uv_timer_start(&w->watch, on_watch, every, every);
}

static void close_handles(worker *w)
{
    uv_close((uv_handle_t *)&w->sigterm, NULL);
    uv_close((uv_handle_t *)&w->sigint, NULL);
    uv_close((uv_handle_t *)&w->watch, NULL);
}

/* The end of the process: a stuck processing thread still runs pipeline and plugin
 * code, so nothing it may use is freed (nor a plugin unloaded) under it. */
static void exit_abandoned(const worker *w)
{
    fflush(NULL);
    _exit(w->code);
}

static int run_worker(worker *w)
{
    char err[512];
    char *reg_json = ride_worker_registration(w->cfg, w->id, w->registry, &w->gpus, err,
                                              sizeof err);
    if (!reg_json) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        return EXIT_RUNTIME;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_signal_init(&loop, &w->sigterm);
    uv_signal_init(&loop, &w->sigint);
    uv_timer_init(&loop, &w->watch);
    w->sigterm.data = w->sigint.data = w->watch.data = w;
    uv_signal_start(&w->sigterm, on_signal, SIGTERM);
    uv_signal_start(&w->sigint, on_signal, SIGINT);
    ride_worker_stages_env env = {.cfg = w->cfg, .registry = w->registry, .gpus = &w->gpus,
                                  .metrics = &w->metrics,
                                  .presence_dir = w->presence ? w->presence_dir : NULL};
    if (!(w->processing = ride_worker_processing_start(&env))) {
        fprintf(stderr, PROGRAM ": cannot start the processing thread\n");
        w->stopping = true;
        w->code = EXIT_RUNTIME;
        close_handles(w);
    } else if (!join_cluster(w, &loop, reg_json)) {
        w->code = EXIT_RUNTIME;
        on_signal(&w->sigterm, SIGTERM);
    } else {
        start_watchdog(w);
    }
    free(reg_json);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    ride_log_info("stopped", "id=%s exit=%d", w->id, w->code);
    if (w->abandoned)
        exit_abandoned(w);
    ride_worker_processing_free(w->processing);
    return w->code;
}

/* ---- stop: on SIGTERM or SIGINT, when joining failed, or after a stall ---- */

/* Waits for the processing thread to hand its partitions back: up to the stall
 * timeout, at once when it is known stalled; past that it is abandoned. */
static void stop_processing(worker *w)
{
    int wait_ms = w->stalled ? 0 : w->cfg->worker.stall_timeout_ms;
    if (ride_worker_processing_stop(w->processing, wait_ms))
        return;
    w->abandoned = true;
    w->code = EXIT_RUNTIME;
    ride_log_error("processing_abandoned", "id=%s waited_ms=%d", w->id, wait_ms);
}

static void shut_down(worker *w)
{
    w->stopping = true;
    ride_systemd_stopping();
    stop_processing(w);
    /* The session ends after the partitions are handed back: the registration
     * node vanishes at once and the master reassigns without waiting. */
    ride_worker_leave(w->member);
    w->member = NULL;
    ride_http_server_free(w->http);
    w->http = NULL;
    close_handles(w);
}

static void on_signal(uv_signal_t *h, int signum)
{
    worker *w = h->data;
    if (w->stopping)
        return;
    ride_log_info("stopping", "signal=%s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    shut_down(w);
}

static void on_stalled_exit(uv_timer_t *t)
{
    worker *w = t->data;
    if (w->stopping)
        return;
    ride_log_info("stopping", "reason=stalled");
    w->code = EXIT_RUNTIME;
    shut_down(w);
}

/* Reports the stall in the heartbeats for two intervals, so the leader reads why
 * while the worker is still registered, then exits for the service manager to
 * restart it (docs/worker.md, "Stalls"). */
static void report_stall(worker *w, int64_t stuck_ms)
{
    w->stalled = true;
    ride_log_error("worker_stalled", "id=%s stalled_ms=%" PRId64 " timeout_ms=%d", w->id,
                   stuck_ms, w->cfg->worker.stall_timeout_ms);
    ride_worker_report_stall(w->member, stuck_ms);
    uv_timer_start(&w->watch, on_stalled_exit, 2 * (uint64_t)w->cfg->heartbeat.interval_ms, 0);
}

static void on_watch(uv_timer_t *t)
{
    worker *w = t->data;
    bool has_work;
    uint64_t progress = ride_worker_processing_progress(w->processing, &has_work);
    int64_t stuck_ms =
        ride_worker_watchdog_look(&w->watchdog, progress, has_work, ride_clock_mono_ms());
    if (stuck_ms >= w->cfg->worker.stall_timeout_ms)
        report_stall(w, stuck_ms);
}

/* ---- the life ---- */

/* Everything the worker needs before it joins, then its run; the exit code. */
static int start(const ride_config *cfg)
{
    char default_id[RIDE_MEMBER_ID_MAX + 1];
    worker w = {.cfg = cfg};
    int code = EXIT_USAGE;
    if ((w.id = ride_daemon_member_id(&DAEMON, cfg->worker.id, default_id, sizeof default_id)) &&
        (w.registry = ride_task_registry_new()) && load_plugins(&w) && init_metrics(&w)) {
        ride_worker_gpus_select(&cfg->worker, &w.gpus);
        announce(&w);
        code = run_worker(&w);
    }
    ride_worker_presence_leave(w.presence);
    ride_metrics_free(w.metrics.reg);
    ride_task_registry_free(w.registry);
    return code;
}

int main(int argc, char **argv)
{
    ride_log_set_component(DAEMON.role);
    ride_daemon_options o;
    int parsed = parse_args(argc, argv, &o);
    if (parsed)
        return parsed > 0 ? 0 : EXIT_USAGE;
    ride_config cfg = {0};
    bool loaded = load_config(&o, &cfg);
    /* Kernel threads must not spin on cores the other stages and workers need. */
    if (loaded)
        ride_openmp_wait_passively(argv);
    int code = loaded ? start(&cfg) : EXIT_USAGE;
    ride_config_free(&cfg);
    return code;
}
