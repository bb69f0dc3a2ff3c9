/* cluster_mode.c - ride-producer as a cluster member (cluster_mode.h).
 *
 * Everything here runs on the loop thread: the member's callbacks record the
 * latest assignment and Kafka address and reconcile the running sources with
 * them at once. Stopping a source joins its thread, which blocks at most one
 * read or publish step (runner.h), so the loop never stalls for long. */
#include "cluster_mode.h"

#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "runner.h"
#include "base/error.h"
#include "base/log.h"
#include "cluster/cluster.h"
#include "cluster/member.h"
#include "cluster/systemd.h"
#include "daemon/setup.h"
#include "http/http.h"
#include "http/metrics.h"
#include "kafka/backlog.h"

#ifndef RIDE_VERSION_STRING
#define RIDE_VERSION_STRING "unknown"
#endif

#define PROGRAM "ride-producer"
#define EXIT_USAGE 2
#define EXIT_RUNTIME 1
#define FLUSH_DEADLINE_MS 10000
/* A replaced Kafka cluster is usually gone: its backlog is not waited for long. */
#define SWITCH_FLUSH_MS 2000
#define DEFAULT_METRICS_LISTEN "127.0.0.1:9482"
#define FINGERPRINT_MAX 8192

static const ride_daemon_desc DAEMON = {RIDE_DAEMON_PRODUCER, PROGRAM, "producer"};

typedef struct metrics_set {
    ride_metrics *reg;
    ride_metric_family *up;
    ride_metric_family *sources;
    ride_metric_family *produced;
    ride_metric_family *messages;
    ride_metric_family *dropped;
} metrics_set;

/* One assigned source and its run under one epoch and one set of settings. */
typedef struct running_source {
    char app[RIDE_NAME_MAX + 1];
    char source[RIDE_NAME_MAX + 1];
    int64_t epoch;
    char *fingerprint;
    ride_source_runner *runner;
    ride_counter *produced;
    ride_counter *messages;
    uint64_t seen_produced;
    uint64_t seen_messages;
    uint64_t seen_dropped[RIDE_DROP_REASON_COUNT];
    bool unassigned; /* marked for stopping */
} running_source;

/* The heartbeat's copy of a source's names, stable until the next beat. */
typedef struct hb_names {
    char app[RIDE_NAME_MAX + 1];
    char source[RIDE_NAME_MAX + 1];
} hb_names;

typedef struct producer {
    const ride_config *cfg;
    const char *id;
    int64_t stats_interval_ms;
    metrics_set metrics;
    char *assignment; /* encoded; NULL: suspended or none yet */
    char *bootstrap;  /* from /cluster/kafka, or NULL */
    bool embedded;    /* likewise */
    ride_frame_sink *sink;
    running_source *run;
    size_t run_count;
    /* Stopped sources whose frames still await delivery reports: their summary
     * is logged once every report is in, so that it is final. */
    ride_source_runner **draining;
    size_t draining_count;
    ride_source_totals retired; /* sources stopped and settled before the end */
    ride_cluster_hb_source *hb;
    hb_names *hb_names;
    size_t hb_cap;
    ride_member *member;
    ride_http_server *http;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    bool stopping;
    int code;
} producer;

/* ---- metrics ---- */

static bool init_metrics(metrics_set *ms)
{
    char err[256];
    static const char *const source_labels[] = {"app", "source"};
    static const char *const drop_labels[] = {"app", "source", "reason"};
    ms->reg = ride_metrics_new();
    if (!ms->reg)
        return false;
    ms->up = ride_metrics_gauge(ms->reg, "ride_producer_up", "1 while the producer runs", NULL,
                                0, err, sizeof err);
    ms->sources = ride_metrics_gauge(ms->reg, "ride_producer_sources",
                                     "Sources this producer runs now", NULL, 0, err, sizeof err);
    ms->produced = ride_metrics_counter(ms->reg, "ride_frames_produced_total",
                                        "Frames queued to Kafka, per source", source_labels, 2,
                                        err, sizeof err);
    ms->messages = ride_metrics_counter(ms->reg, "ride_messages_produced_total",
                                        "Kafka messages (frame chunks) of the frames queued, "
                                        "per source",
                                        source_labels, 2, err, sizeof err);
    ms->dropped = ride_metrics_counter(ms->reg, "ride_frames_dropped_total",
                                       "Frames dropped, by reason", drop_labels, 3, err,
                                       sizeof err);
    if (!ms->up || !ms->sources || !ms->produced || !ms->messages || !ms->dropped) {
        fprintf(stderr, PROGRAM ": metrics: %s\n", err);
        return false;
    }
    ride_gauge_set(ride_gauge_get(ms->up, NULL, 0), 1);
    return true;
}

/* Adds what the source's publisher counted since the last call. */
static void sync_metrics(producer *p, running_source *rs)
{
    ride_publisher_stats ps;
    ride_source_runner_counts(rs->runner, &ps);
    ride_counter_add(rs->produced, ps.produced - rs->seen_produced);
    rs->seen_produced = ps.produced;
    ride_counter_add(rs->messages, ps.messages - rs->seen_messages);
    rs->seen_messages = ps.messages;
    for (int r = 0; r < RIDE_DROP_REASON_COUNT; r++) {
        if (ps.dropped[r] == rs->seen_dropped[r])
            continue;
        const char *labels[] = {rs->app, rs->source, ride_drop_reason_name(r)};
        ride_counter_add(ride_counter_get(p->metrics.dropped, labels, 3),
                         ps.dropped[r] - rs->seen_dropped[r]);
        rs->seen_dropped[r] = ps.dropped[r];
    }
}

static void count_sources(producer *p)
{
    ride_gauge_set(ride_gauge_get(p->metrics.sources, NULL, 0), (double)p->run_count);
}

/* ---- starting and stopping sources ---- */

/* Every setting a run was started with: a change of any restarts the source. */
static bool fingerprint(const ride_cluster_source_task *t, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%" PRId64 "|%" PRIu32 "|%s|%.17g|%d|%d|%d|%d|%s|%d", t->epoch,
                     t->stream_id, t->uri, t->fps, (int)t->encoding, t->quality, (int)t->loop,
                     (int)t->pace, t->topic, t->partitions);
    return n >= 0 && (size_t)n < len;
}

static bool same_source(const running_source *rs, const ride_cluster_source_task *t)
{
    return strcmp(rs->app, t->app) == 0 && strcmp(rs->source, t->source) == 0;
}

static bool still_assigned(const running_source *rs, const ride_cluster_assignment *a)
{
    char fp[FINGERPRINT_MAX];
    for (size_t i = 0; a && i < a->source_count; i++)
        if (same_source(rs, &a->sources[i]))
            return fingerprint(&a->sources[i], fp, sizeof fp) && strcmp(fp, rs->fingerprint) == 0;
    return false;
}

static bool settled(const ride_source_runner *r)
{
    ride_publisher_stats ps;
    ride_source_runner_counts(r, &ps);
    return ps.produced == ps.delivered + ps.dropped[RIDE_DROP_DELIVERY_FAILED] +
                             ps.dropped[RIDE_DROP_DELIVERY_UNKNOWN];
}

/* Logs the summary of, and releases, every stopped source whose reports are all
 * in (all of them with `all`). */
static void release_settled(producer *p, bool all)
{
    size_t kept = 0;
    for (size_t i = 0; i < p->draining_count; i++) {
        ride_source_runner *r = p->draining[i];
        if (!all && !settled(r)) {
            p->draining[kept++] = r;
            continue;
        }
        ride_source_runner_log_summary(r, &p->retired);
        ride_source_runner_free(r);
    }
    p->draining_count = kept;
}

/* Keeps a stopped source until its reports are in; released at once when it
 * cannot be kept. */
static void drain(producer *p, ride_source_runner *r)
{
    ride_source_runner **grown =
        realloc(p->draining, (p->draining_count + 1) * sizeof *grown);
    if (!grown) {
        ride_source_runner_log_summary(r, &p->retired);
        ride_source_runner_free(r);
        return;
    }
    p->draining = grown;
    p->draining[p->draining_count++] = r;
}

/* Stops the marked sources: all are asked first, so that they stop together,
 * then each is joined and counted. */
static void stop_marked(producer *p)
{
    for (size_t i = 0; i < p->run_count; i++)
        if (p->run[i].unassigned)
            ride_source_runner_request_stop(p->run[i].runner);
    size_t kept = 0;
    for (size_t i = 0; i < p->run_count; i++) {
        running_source *rs = &p->run[i];
        if (!rs->unassigned) {
            p->run[kept++] = *rs;
            continue;
        }
        ride_source_runner_join(rs->runner);
        sync_metrics(p, rs);
        ride_log_info("source_stopped", "app=%s source=%s epoch=%" PRId64 " stream=%" PRIu32,
                      rs->app, rs->source, rs->epoch, ride_source_runner_stream(rs->runner));
        drain(p, rs->runner);
        free(rs->fingerprint);
    }
    p->run_count = kept;
    count_sources(p);
    release_settled(p, false);
}

static void stop_all(producer *p)
{
    for (size_t i = 0; i < p->run_count; i++)
        p->run[i].unassigned = true;
    stop_marked(p);
}

static bool source_from_task(const ride_cluster_source_task *t, ride_source *src, char *err,
                             size_t errlen)
{
    *src = (ride_source){.name = t->source,
                         .uri = t->uri,
                         .fps = t->fps,
                         .encoding = t->encoding,
                         .quality = t->quality,
                         .loop = t->loop,
                         .pace = t->pace};
    char why[256];
    if (ride_source_uri_parse(t->uri, &src->target, why, sizeof why) != 0) {
        ride_set_error(err, errlen, "uri: %s", why);
        return false;
    }
    return true;
}

/* The configuration that reads the stage group's committed offsets for the
 * backlog bound, or NULL without a bound. */
static bool backlog_conf(const producer *p, rd_kafka_conf_t **conf, char *err, size_t errlen)
{
    *conf = NULL;
    if (p->cfg->producer.max_backlog_bytes == 0)
        return true;
    ride_parse_error perr;
    *conf = ride_kafka_conf_new(RIDE_KAFKA_CONSUMER, p->bootstrap, p->embedded, p->cfg->kafka.props,
                                p->cfg->kafka.prop_count, p->cfg->file, &perr);
    if (!*conf)
        ride_set_error(err, errlen, "%s", perr.message);
    return *conf != NULL;
}

static bool open_runner(producer *p, const ride_cluster_source_task *t, running_source *rs,
                        char *err, size_t errlen)
{
    ride_source src;
    rd_kafka_conf_t *bc;
    if (!source_from_task(t, &src, err, errlen) || !backlog_conf(p, &bc, err, errlen))
        return false;
    ride_source_runner_opts ro = {
        .src = &src,
        .stream_id = t->stream_id,
        .topic = t->topic,
        .partitions = t->partitions,
        .max_message = (size_t)p->cfg->producer.message_max_bytes,
        .max_frame = (uint64_t)p->cfg->producer.max_frame_bytes,
        .max_backlog = (uint64_t)p->cfg->producer.max_backlog_bytes,
        .backlog_conf = bc,
        /* A stage's group is named like its input topic (docs/architecture.md). */
        .group = t->topic,
        .backlog_refresh_ms =
            p->embedded ? RIDE_BACKLOG_EMBEDDED_REFRESH_MS : RIDE_BACKLOG_DEFAULT_REFRESH_MS,
        .writers = t->writers,
        .strict = p->embedded,
        /* The first owner of a source gets epoch 1. */
        .successor = t->epoch > 1,
        .stats_interval_ms = p->stats_interval_ms,
    };
    rs->runner = ride_source_runner_open(p->sink, &ro, err, errlen);
    if (!rs->runner)
        return false;
    if (!ride_source_runner_start(rs->runner)) {
        ride_set_error(err, errlen, "cannot start its thread");
        ride_source_runner_free(rs->runner);
        return false;
    }
    return true;
}

static void start_source(producer *p, const ride_cluster_source_task *t)
{
    for (size_t i = 0; i < p->run_count; i++)
        if (same_source(&p->run[i], t))
            return;
    char fp[FINGERPRINT_MAX], err[512];
    running_source rs = {.epoch = t->epoch};
    snprintf(rs.app, sizeof rs.app, "%s", t->app);
    snprintf(rs.source, sizeof rs.source, "%s", t->source);
    const char *labels[] = {t->app, t->source};
    running_source *grown = realloc(p->run, (p->run_count + 1) * sizeof *grown);
    if (grown)
        p->run = grown;
    if (!grown || !fingerprint(t, fp, sizeof fp) || !(rs.fingerprint = strdup(fp)) ||
        !(rs.produced = ride_counter_get(p->metrics.produced, labels, 2)) ||
        !(rs.messages = ride_counter_get(p->metrics.messages, labels, 2))) {
        snprintf(err, sizeof err, "out of memory or settings too long");
    } else if (open_runner(p, t, &rs, err, sizeof err)) {
        p->run[p->run_count++] = rs;
        ride_log_info("source_assigned",
                      "app=%s source=%s epoch=%" PRId64 " stream=%" PRIu32 " topic=%s "
                      "partitions=%d",
                      t->app, t->source, t->epoch, t->stream_id, t->topic, t->partitions);
        return;
    }
    free(rs.fingerprint);
    ride_log_error("source_skipped", "app=%s source=%s epoch=%" PRId64 " error=\"%s\"", t->app,
                   t->source, t->epoch, err);
}

/* Makes the running sources equal to the assignment in force: stops those no
 * longer assigned or assigned with other settings (a new epoch among them),
 * then starts the missing ones. Nothing runs while suspended or without Kafka. */
static void reconcile(producer *p)
{
    ride_cluster_assignment a = {0};
    bool have = false;
    char err[512];
    if (p->assignment) {
        have = ride_cluster_assignment_decode(RIDE_CLUSTER_PATH_ASSIGNMENTS, p->assignment,
                                              strlen(p->assignment), &a, err, sizeof err) == 0;
        if (!have)
            ride_log_error("assignment_invalid", "error=\"%s\"", err);
    }
    for (size_t i = 0; i < p->run_count; i++)
        p->run[i].unassigned = !have || !p->sink || !still_assigned(&p->run[i], &a);
    stop_marked(p);
    if (have && !p->sink && a.source_count)
        ride_log_warn("kafka_unknown", "reason=\"no usable /cluster/kafka\" sources=%zu",
                      a.source_count);
    for (size_t i = 0; have && p->sink && i < a.source_count; i++)
        start_source(p, &a.sources[i]);
    count_sources(p);
    if (have)
        ride_cluster_assignment_free(&a);
}

/* ---- Kafka ---- */

static rd_kafka_conf_t *kafka_conf(const producer *p, const char *bootstrap, char *err,
                                   size_t errlen)
{
    return ride_frame_sink_conf(bootstrap, p->embedded, p->cfg->kafka.props,
                                p->cfg->kafka.prop_count,
                                p->cfg->file, (size_t)p->cfg->producer.message_max_bytes, err,
                                errlen);
}

/* Flushes what the sources produced (they must be stopped) and releases the
 * Kafka producer; returns the messages purged at the deadline. */
static int drop_sink(producer *p, int deadline_ms)
{
    if (!p->sink)
        return 0;
    int purged = ride_frame_sink_flush(p->sink, deadline_ms, NULL, NULL);
    ride_frame_sink_free(p->sink);
    p->sink = NULL;
    return purged;
}

/* A new Kafka address: every source restarts on a producer for it. */
static void switch_kafka(producer *p, char *bootstrap)
{
    stop_all(p);
    drop_sink(p, SWITCH_FLUSH_MS);
    release_settled(p, true);
    free(p->bootstrap);
    p->bootstrap = bootstrap;
    if (!bootstrap)
        return;
    char err[1024];
    rd_kafka_conf_t *conf = kafka_conf(p, bootstrap, err, sizeof err);
    p->sink = conf ? ride_frame_sink_new(conf, err, sizeof err) : NULL;
    if (!p->sink)
        ride_log_error("kafka_failed", "bootstrap_servers=%s error=\"%s\"", bootstrap, err);
}

/* ---- membership callbacks ---- */

static void on_assignment(const ride_cluster_assignment *a, void *ctx)
{
    producer *p = ctx;
    char *enc;
    if (p->stopping || !ride_member_assignment_encode(a, &enc))
        return;
    free(p->assignment);
    p->assignment = enc;
    reconcile(p);
}

static void on_kafka(const ride_cluster_kafka *k, void *ctx)
{
    producer *p = ctx;
    if (p->stopping)
        return;
    const char *now = k ? k->bootstrap_servers : NULL;
    if ((!now && !p->bootstrap) || (now && p->bootstrap && strcmp(now, p->bootstrap) == 0))
        return;
    char *b = now ? strdup(now) : NULL;
    ride_log_info("kafka", "bootstrap_servers=%s", b ? b : "(none)");
    p->embedded = k && k->embedded;
    switch_kafka(p, b);
    reconcile(p);
}

static bool reserve_heartbeat(producer *p, size_t n)
{
    if (n <= p->hb_cap)
        return true;
    ride_cluster_hb_source *hb = realloc(p->hb, n * sizeof *hb);
    if (hb)
        p->hb = hb;
    hb_names *names = hb ? realloc(p->hb_names, n * sizeof *names) : NULL;
    if (!names)
        return false;
    p->hb_names = names;
    p->hb_cap = n;
    return true;
}

static int fill_heartbeat(ride_cluster_heartbeat *hb, void *ctx)
{
    producer *p = ctx;
    if (!reserve_heartbeat(p, p->run_count))
        return -1;
    for (size_t i = 0; i < p->run_count; i++) {
        running_source *rs = &p->run[i];
        sync_metrics(p, rs);
        uint64_t dropped = 0;
        for (int r = 0; r < RIDE_DROP_REASON_COUNT; r++)
            dropped += rs->seen_dropped[r];
        hb_names *nm = &p->hb_names[i];
        memcpy(nm->app, rs->app, sizeof nm->app);
        memcpy(nm->source, rs->source, sizeof nm->source);
        p->hb[i] = (ride_cluster_hb_source){nm->app, nm->source, rs->epoch,
                                            (int64_t)rs->seen_produced, (int64_t)dropped,
                                            (int64_t)rs->seen_messages};
    }
    hb->sources = p->hb;
    hb->source_count = p->run_count;
    release_settled(p, false);
    return 0;
}

/* ---- stopping ---- */

/* Stops the sources, flushes, logs the summaries; returns the exit code. */
static int finish(producer *p)
{
    for (size_t i = 0; i < p->run_count; i++)
        ride_source_runner_request_stop(p->run[i].runner);
    for (size_t i = 0; i < p->run_count; i++)
        ride_source_runner_join(p->run[i].runner);
    int code = drop_sink(p, FLUSH_DEADLINE_MS) > 0 ? EXIT_RUNTIME : 0;
    release_settled(p, true);
    ride_source_totals totals = p->retired;
    for (size_t i = 0; i < p->run_count; i++)
        ride_source_runner_log_summary(p->run[i].runner, &totals);
    ride_source_totals_log(&totals, code);
    for (size_t i = 0; i < p->run_count; i++) {
        ride_source_runner_free(p->run[i].runner);
        free(p->run[i].fingerprint);
    }
    p->run_count = 0;
    return code;
}

static void on_signal(uv_signal_t *h, int signum)
{
    producer *p = h->data;
    if (p->stopping)
        return;
    p->stopping = true;
    ride_systemd_stopping();
    ride_log_info("stopping", "signal=%s flush_deadline_ms=%d",
                  signum == SIGTERM ? "SIGTERM" : "SIGINT", FLUSH_DEADLINE_MS);
    int code = finish(p);
    if (p->code == 0)
        p->code = code;
    /* The session ends after the sources stopped: the registration node vanishes
     * at once and the master can move the sources without waiting. */
    ride_member_close(p->member);
    p->member = NULL;
    ride_http_server_free(p->http);
    p->http = NULL;
    uv_close((uv_handle_t *)&p->sigterm, NULL);
    uv_close((uv_handle_t *)&p->sigint, NULL);
}

/* ---- setup ---- */

/* The registration node: who and where this producer is, and its local sources. */
static char *registration(const producer *p, char *err, size_t errlen)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !host[0])
        snprintf(host, sizeof host, "unknown");
    ride_cluster_producer me = {
        .id = p->id,
        .host = host,
        .pid = getpid(),
        .version = RIDE_VERSION_STRING,
        .local_sources = p->cfg->producer.sources,
        .local_source_count = p->cfg->producer.source_count,
    };
    return ride_cluster_producer_encode(&me, err, errlen);
}

static bool start_services(producer *p, uv_loop_t *loop, const char *reg_json)
{
    char err[512];
    char digest[512];
    const ride_config *cfg = p->cfg;
    const char *listen = cfg->metrics_listen ? cfg->metrics_listen : DEFAULT_METRICS_LISTEN;
    if (!ride_daemon_read_digest(&DAEMON, &cfg->zookeeper, digest, sizeof digest) ||
        !(p->http = ride_daemon_serve_metrics(&DAEMON, loop, listen, p->metrics.reg)))
        return false;
    ride_member_options mo = {
        .loop = loop,
        .connect = cfg->zookeeper.connect,
        .session_timeout_ms = cfg->zookeeper.session_timeout_ms,
        .digest = digest[0] ? digest : NULL,
        .id = p->id,
        .role = RIDE_MEMBER_PRODUCER,
        .registration = reg_json,
        .heartbeat_interval_ms = cfg->heartbeat.interval_ms,
        .on_assignment = on_assignment,
        .on_kafka = on_kafka,
        .fill_heartbeat = fill_heartbeat,
        .ctx = p,
    };
    p->member = ride_member_start(&mo, err, sizeof err);
    if (!p->member) {
        fprintf(stderr, PROGRAM ": zookeeper: %s\n", err);
        return false;
    }
    ride_log_info("start", "mode=cluster id=%s zookeeper=%s metrics_port=%d "
                  "max_message_bytes=%d max_frame_bytes=%" PRId64 " max_backlog_bytes=%" PRId64,
                  p->id, cfg->zookeeper.connect, ride_http_server_port(p->http),
                  cfg->producer.message_max_bytes, cfg->producer.max_frame_bytes,
                  cfg->producer.max_backlog_bytes);
    return true;
}

static int run_loop(producer *p, const char *reg_json)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_signal_init(&loop, &p->sigterm);
    uv_signal_init(&loop, &p->sigint);
    p->sigterm.data = p->sigint.data = p;
    uv_signal_start(&p->sigterm, on_signal, SIGTERM);
    uv_signal_start(&p->sigint, on_signal, SIGINT);
    if (!start_services(p, &loop, reg_json)) {
        p->code = EXIT_RUNTIME;
        on_signal(&p->sigterm, SIGTERM);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    ride_log_info("stopped", "id=%s exit=%d", p->id, p->code);
    return p->code;
}

/* The Kafka properties are checked before joining, so that a bad config is a
 * usage error at start rather than a failure at the first assignment. */
static bool kafka_props_valid(const producer *p)
{
    char err[1024];
    rd_kafka_conf_t *conf = kafka_conf(p, NULL, err, sizeof err);
    if (!conf) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        return false;
    }
    rd_kafka_conf_destroy(conf);
    return true;
}

int ride_producer_cluster_run(const ride_config *cfg, int64_t stats_interval_ms)
{
    char default_id[RIDE_MEMBER_ID_MAX + 1];
    producer p = {.cfg = cfg,
                  .id = ride_daemon_member_id(&DAEMON, cfg->producer.id, default_id,
                                              sizeof default_id),
                  .stats_interval_ms = stats_interval_ms};
    if (!p.id)
        return EXIT_USAGE;
    if (!kafka_props_valid(&p))
        return EXIT_USAGE;
    char err[512];
    char *reg_json = registration(&p, err, sizeof err);
    int code = EXIT_RUNTIME;
    if (!reg_json)
        fprintf(stderr, PROGRAM ": registration: %s\n", err);
    else if (init_metrics(&p.metrics))
        code = run_loop(&p, reg_json);
    free(reg_json);
    free(p.assignment);
    free(p.bootstrap);
    free(p.run);
    free(p.draining);
    free(p.hb);
    free(p.hb_names);
    ride_metrics_free(p.metrics.reg);
    return code;
}
