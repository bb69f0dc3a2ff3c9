/* cluster.c - one run's cluster for ride-bench-pipeline (a fresh ZooKeeper chroot,
 * ride-master, the workers and, in the paced mode, ride-producer), the application
 * it runs, and the paced mode's measurement at the sink. Every daemon is started
 * through the integration-test harness, whose exit handler stops what is left. */
#include "bench_pipeline.h"
#include "audit.h"
#include "base/clock.h"
#include "cluster/cluster.h"
#include "http/http_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PRODUCER_ID "p1"

void ride_bench_cluster_print_logs(const cluster *c)
{
    static const char *const names[] = {"master.log", "producer.log", "w1.log"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", c->dir, names[i]);
        char *text = ride_harness_read_file(path, NULL);
        if (!text)
            continue;
        size_t len = strlen(text);
        /* The end of each log is where the failure is. */
        fprintf(stderr, "---- %s (last 3000 bytes) ----\n%s\n", names[i],
                len > 3000 ? text + len - 3000 : text);
        free(text);
    }
}

void ride_bench_cluster_stop(cluster *c)
{
    ride_harness_proc_stop(c->producer, STOP_GRACE_MS);
    c->producer = NULL;
    for (int i = 0; c->workers && i < c->worker_count; i++)
        ride_harness_proc_stop(c->workers[i], STOP_GRACE_MS);
    free(c->workers);
    c->workers = NULL;
    free(c->metrics_ports);
    c->metrics_ports = NULL;
    c->worker_count = 0;
    ride_harness_proc_stop(c->master, STOP_GRACE_MS);
    c->master = NULL;
    ride_harness_kafka_stop(c->broker);
    c->broker = NULL;
    ride_zk_close(c->zk);
    c->zk = NULL;
    if (c->dir) {
        ride_harness_rmtree(c->dir);
        free(c->dir);
        c->dir = NULL;
    }
}

static ride_proc *spawn_logged(cluster *c, const char *const argv[], const char *log_name)
{
    char log[600];
    snprintf(log, sizeof log, "%s/%s", c->dir, log_name);
    ride_proc *p = ride_harness_spawn(argv, NULL, log);
    if (!p)
        fprintf(stderr, "cannot start %s: %s\n", argv[0], strerror(errno));
    return p;
}

static int write_in_dir(const cluster *c, const char *name, const char *text, char *path,
                        size_t pathlen)
{
    snprintf(path, pathlen, "%s/%s", c->dir, name);
    if (ride_harness_write_file(path, text)) {
        fprintf(stderr, "cannot write %s\n", path);
        return -1;
    }
    return 0;
}


static int spawn_master(cluster *c)
{
    char token_file[600], path[600], text[1024];
    snprintf(c->token, sizeof c->token, "bench-%ld-%lld", (long)getpid(),
             (long long)ride_clock_mono_ns());
    /* The master warns about a token others can read. */
    if (write_in_dir(c, "token", c->token, token_file, sizeof token_file) ||
        chmod(token_file, 0600))
        return -1;
    if (c->kafka)
        snprintf(text, sizeof text,
                 "zookeeper:\n  connect: \"%s\"\nkafka:\n  bootstrap.servers: \"%s\"\n",
                 c->connect, c->kafka);
    else
        snprintf(text, sizeof text, "zookeeper:\n  connect: \"%s\"\nkafka: embedded\n",
                 c->connect);
    if (write_in_dir(c, "master.yaml", text, path, sizeof path))
        return -1;
    const char *master[] = {RIDE_BIN_DIR "/ride-master", "--config", path, "--id", "m1",
                            "--api-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                            "--token-file", token_file, "--log-level", "warn", NULL};
    return (c->master = spawn_logged(c, master, "master.log")) ? 0 : -1;
}

/* Each worker's /metrics listens on a port chosen here, so that the end of a run
 * can scrape its step timers (steps.c). */
static int spawn_workers(cluster *c)
{
    /* On the embedded broker the whole partition (5 MiB) is the stage's budget: a
     * writer's half of it holds passthrough's raw 900x900 BGR frames (2.43 MB). */
    char text[1024];
    snprintf(text, sizeof text, "zookeeper:\n  connect: \"%s\"\nworker:\n  threads: %d\n%s",
             c->connect, c->o->worker_threads,
             c->kafka ? "" : "  max_backlog_bytes: 5242880\n");
    if (write_in_dir(c, "worker.yaml", text, c->worker_config, sizeof c->worker_config))
        return -1;
    c->workers = calloc((size_t)c->o->workers, sizeof *c->workers);
    c->metrics_ports = calloc((size_t)c->o->workers, sizeof *c->metrics_ports);
    if (!c->workers || !c->metrics_ports)
        return -1;
    for (int i = 0; i < c->o->workers; i++) {
        char id[16], log[32], listen[64];
        snprintf(id, sizeof id, "w%d", i + 1);
        snprintf(log, sizeof log, "%s.log", id);
        c->metrics_ports[i] = ride_harness_free_port();
        snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)c->metrics_ports[i]);
        const char *worker[] = {RIDE_BIN_DIR "/ride-worker", "--config", c->worker_config,
                                "--id", id, "--metrics-listen", listen, "--log-level", "warn",
                                NULL};
        if (!(c->workers[i] = spawn_logged(c, worker, log)))
            return -1;
        c->worker_count = i + 1;
    }
    return 0;
}

static int spawn_producer(cluster *c)
{
    char path[600], text[1024];
    snprintf(text, sizeof text,
             "zookeeper:\n  connect: \"%s\"\nmetrics:\n  listen: \"127.0.0.1:0\"\n"
             "producer:\n  id: \"" PRODUCER_ID "\"\nlog:\n  level: warn\n",
             c->connect);
    if (write_in_dir(c, "producer.yaml", text, path, sizeof path))
        return -1;
    const char *producer[] = {RIDE_BIN_DIR "/ride-producer", "-c", path, NULL};
    return (c->producer = spawn_logged(c, producer, "producer.log")) ? 0 : -1;
}

bool ride_bench_cluster_alive(cluster *c)
{
    if (!ride_harness_proc_alive(c->master) || (c->producer && !ride_harness_proc_alive(c->producer)))
        return false;
    for (int i = 0; i < c->worker_count; i++)
        if (!ride_harness_proc_alive(c->workers[i]))
            return false;
    return true;
}

static size_t children(cluster *c, const char *path)
{
    ride_zk_strings s = {0};
    if (ride_zk_get_children(c->zk, path, &s) != RIDE_ZK_OK)
        return 0;
    size_t n = s.count;
    ride_zk_strings_free(&s);
    return n;
}

/* True once the broker and the API are published and every worker and the producer
 * have registered, so the first assignment already spreads over all of them. */

/* True once the broker and the API are published and every worker and the producer
 * started so far have registered, so the first assignment already spreads over all
 * of them. */
static bool cluster_ready(void *ctx)
{
    cluster *c = ctx;
    if (ride_bench_interrupted || !ride_bench_cluster_alive(c))
        return true;
    char err[256], *data = NULL;
    size_t len = 0;
    if (!c->bootstrap[0] &&
        ride_zk_get(c->zk, RIDE_CLUSTER_PATH_KAFKA, &data, &len, NULL) == RIDE_ZK_OK) {
        ride_cluster_kafka k;
        if (ride_cluster_kafka_decode(RIDE_CLUSTER_PATH_KAFKA, data, len, &k, err, sizeof err) == 0) {
            snprintf(c->bootstrap, sizeof c->bootstrap, "%s", k.bootstrap_servers);
            ride_cluster_kafka_free(&k);
        }
        free(data);
    }
    if (!c->api_url[0] &&
        ride_zk_get(c->zk, RIDE_CLUSTER_PATH_API, &data, &len, NULL) == RIDE_ZK_OK) {
        ride_cluster_api a;
        if (ride_cluster_api_decode(RIDE_CLUSTER_PATH_API, data, len, &a, err, sizeof err) == 0) {
            snprintf(c->api_url, sizeof c->api_url, "%s", a.url);
            ride_cluster_api_free(&a);
        }
        free(data);
    }
    return c->bootstrap[0] && c->api_url[0] &&
           children(c, RIDE_CLUSTER_PATH_WORKERS) >= (size_t)c->worker_count &&
           children(c, RIDE_CLUSTER_PATH_PRODUCERS) >= (c->producer ? 1u : 0u);
}

static int wait_ready(cluster *c)
{
    if (!ride_harness_wait_until(cluster_ready, c, START_TIMEOUT_MS) || ride_bench_interrupted ||
        !ride_bench_cluster_alive(c)) {
        fprintf(stderr, "the cluster did not come up (broker %s, API %s)\n",
                c->bootstrap[0] ? c->bootstrap : "unpublished",
                c->api_url[0] ? c->api_url : "unpublished");
        return -1;
    }
    return 0;
}

int ride_bench_cluster_start(cluster *c, const options *o, const ride_zk_server *zk,
                             const char *name, bool with_producer)
{
    *c = (cluster){.o = o, .kafka = o->kafka};
    snprintf(c->connect, sizeof c->connect, "%s/%s", ride_harness_zk_connect(zk), name);
    /* A real Kafka keeps every run's topics: each run names its own. */
    snprintf(c->app, sizeof c->app, "%s", o->kafka ? name : "bench");
    snprintf(c->sink_topic, sizeof c->sink_topic, "%s.sink", c->app);
    /* The embedded broker deletes what is over 5 MiB a partition, read or not: a
     * drain outruns the sink reader, which must hold the sink stage back. A real
     * Kafka's drain keeps everything (retention.bytes -1) and runs unbounded. */
    if (o->drain && !c->kafka)
        snprintf(c->sink_group, sizeof c->sink_group, "ride-bench.sink");
    if (!(c->dir = ride_harness_tempdir("ride-bench-pipeline-")))
        return -1;
    if (o->kafka_start) {
        if (!(c->broker = ride_harness_kafka_start(zk)))
            return -1;
        c->kafka = ride_harness_kafka_bootstrap(c->broker);
    }
    char err[256];
    ride_zk_options zo = {.connect = c->connect};
    if (ride_zk_connect(&zo, &c->zk, err, sizeof err) != RIDE_ZK_OK) {
        fprintf(stderr, "ZooKeeper: %s\n", err);
        return -1;
    }
    if (spawn_master(c) || (with_producer && (spawn_workers(c) || spawn_producer(c))))
        return -1;
    return wait_ready(c);
}

int ride_bench_cluster_start_workers(cluster *c)
{
    return spawn_workers(c) ? -1 : wait_ready(c);
}

void ride_bench_stage_topic(const cluster *c, const char *stage, char *buf, size_t len)
{
    snprintf(buf, len, "ride.%s.%s", c->app, stage);
}

/* The embedded broker keeps 5 MiB per partition and gives each writer a fixed
 * share of it (docs/kafka.md): a raw 900x900 BGR frame (2.43 MB) is larger than
 * a source's share, so its sources send JPEG, as the demo's do. */
static const char *source_encoding(const cluster *c)
{
    return ride_bench_raw_input(c->o) ? "raw" : "jpeg";
}

int ride_bench_apply_manifest(cluster *c, const char *task1, const char *task2)
{
    const options *o = c->o;
    char sources[1024] = "", inputs[512] = "";
    size_t sl = 0, il = 0;
    for (int i = 0; i < o->sources; i++) {
        sl += (size_t)snprintf(sources + sl, sizeof sources - sl,
                               "    - {name: cam%d, uri: \"synthetic:%dx%d@%g\", encoding: %s}\n",
                               i + 1, FRAME_SIZE, FRAME_SIZE, o->fps, source_encoding(c));
        il += (size_t)snprintf(inputs + il, sizeof inputs - il, "%scam%d", i ? ", " : "", i + 1);
    }
    char yaml[4096];
    int n = snprintf(yaml, sizeof yaml,
                     "apiVersion: ride/v1\nkind: Application\nmetadata: {name: %s}\n"
                     "spec:\n  delivery: %s\n  sources:\n%s"
                     "  stages:\n"
                     "    - name: first\n      input: [%s]\n      task: %s\n"
                     "      partitions: %d\n      workers: {min: 1, max: %d}\n"
                     "      resources: {device: cpu}\n"
                     "    - name: second\n      input: [first]\n      task: %s\n%s"
                     "      partitions: %d\n      workers: {min: 1, max: %d}\n"
                     "      resources: {device: cpu}\n"
                     "  sink: {type: kafka, stage: second, topic: %s%s%s}\n%s",
                     c->app, c->exactly_once ? "exactly-once" : "at-least-once", sources,
                     inputs, task1, o->partitions, o->workers, task2,
                     strcmp(task2, "stddev") == 0 ? "      params: {ksize: 5}\n" : "",
                     o->partitions, o->workers, c->sink_topic,
                     c->sink_group[0] ? ", group: " : "", c->sink_group,
                     /* A drain's pre-filled frames must all stay until they are read. */
                     o->drain ? "  topics: {retention.bytes: -1}\n" : "");
    if (n < 0 || (size_t)n >= sizeof yaml || sl >= sizeof sources || il >= sizeof inputs) {
        fprintf(stderr, "manifest too long\n");
        return -1;
    }
    char url[600], err[256];
    snprintf(url, sizeof url, "%s/v1/apps", c->api_url);
    ride_http_client_request req = {.url = url, .method = "POST", .token = c->token,
                                    .body = yaml, .body_len = (size_t)n,
                                    .content_type = "application/yaml", .timeout_ms = 10000};
    ride_http_client_response res = {0};
    if (ride_http_client_do(&req, &res, err, sizeof err) != RIDE_HTTP_CLIENT_OK) {
        fprintf(stderr, "POST %s: %s\n", url, err);
        return -1;
    }
    int status = res.status;
    if (status != 201 && status != 200)
        fprintf(stderr, "POST %s: HTTP %d: %s\n", url, status, res.body ? res.body : "");
    free(res.body);
    return status == 201 || status == 200 ? 0 : -1;
}

/* What the sink reader records while a run lasts. */

/* Frames of aborted transactions are not the application's output. */
static const ride_kv READ_COMMITTED[] = {{"isolation.level", "read_committed", {0, 0}, {0, 0}}};

ride_audit_reader *ride_bench_open_sink(cluster *c, ride_audit_frame_fn on_frame, void *ctx)
{
    ride_audit_options ao = {.bootstrap = c->bootstrap,
                             .embedded = c->kafka == NULL,
                             .props = c->exactly_once ? READ_COMMITTED : NULL,
                             .prop_count = c->exactly_once ? 1 : 0,
                             .topic = c->sink_topic,
                             .group = c->sink_group[0] ? c->sink_group : NULL,
                             .on_frame = on_frame,
                             .ctx = ctx};
    char err[256] = "";
    int64_t deadline = ride_clock_mono_ms() + START_TIMEOUT_MS;
    /* The master creates the sink topic once the application is applied. */
    while (!ride_bench_interrupted && ride_clock_mono_ms() < deadline) {
        ride_audit_reader *r = ride_audit_reader_new(&ao, err, sizeof err);
        if (r)
            return r;
        usleep(100 * 1000);
    }
    fprintf(stderr, "sink topic %s: %s\n", c->sink_topic, err);
    return NULL;
}

/* The producer's counted drops, from its last heartbeat; -1 when unreadable. */
static int64_t producer_dropped(cluster *c)
{
    char path[RIDE_ZK_PATH_MAX], err[256], *data = NULL;
    size_t len = 0;
    if (ride_cluster_path_heartbeat(path, sizeof path, PRODUCER_ID) ||
        ride_zk_get(c->zk, path, &data, &len, NULL) != RIDE_ZK_OK)
        return -1;
    ride_cluster_heartbeat hb;
    int rc = ride_cluster_heartbeat_decode(path, data, len, &hb, err, sizeof err);
    free(data);
    if (rc)
        return -1;
    int64_t dropped = 0;
    for (size_t i = 0; i < hb.source_count; i++)
        dropped += hb.sources[i].frames_dropped;
    ride_cluster_heartbeat_free(&hb);
    return dropped;
}

/* What the sink reader records while a paced run lasts. */
typedef struct window {
    int64_t first_ns;       /* monotonic time of the first fresh frame, 0 before */
    int64_t from_ns, to_ns; /* the measured window, set at the first frame */
    int64_t warmup_ns, length_ns;
    uint64_t frames;        /* fresh frames read inside the window */
    samples latency;        /* their capture-to-read latency, ms */
    hop_taps *taps;         /* with --hop-latency */
} window;

static void on_sink_frame(void *ctx, const ride_frame *frame, bool fresh, int64_t read_ns)
{
    window *w = ctx;
    if (!fresh)
        return;
    int64_t now = ride_clock_mono_ns();
    if (!w->first_ns) {
        w->first_ns = now;
        w->from_ns = now + w->warmup_ns;
        w->to_ns = w->from_ns + w->length_ns;
    }
    if (now < w->from_ns || now >= w->to_ns)
        return;
    w->frames++;
    ride_bench_samples_add(&w->latency, (double)(read_ns - (int64_t)frame->capture_ns) / 1e6);
    if (w->taps)
        ride_bench_hop_taps_frame(w->taps, frame->stream_id, frame->seq, frame->capture_ns,
                                  read_ns);
}

static int measure_sink(cluster *c, run_result *out)
{
    const options *o = c->o;
    window w = {.warmup_ns = (int64_t)(o->warmup * 1e9), .length_ns = (int64_t)(o->seconds * 1e9)};
    ride_audit_reader *r = ride_bench_open_sink(c, on_sink_frame, &w);
    if (!r)
        return -1;
    int rc = -1;
    char err[256];
    if (o->hop_latency && !(w.taps = ride_bench_hop_taps_start(c)))
        goto done;
    int64_t first_deadline = ride_clock_mono_ns() + (int64_t)START_TIMEOUT_MS * 1000000;
    for (;;) {
        if (ride_bench_interrupted)
            goto done;
        if (ride_audit_reader_poll(r, 100, 0, err, sizeof err) < 0) {
            fprintf(stderr, "reading %s: %s\n", c->sink_topic, err);
            goto done;
        }
        int64_t now = ride_clock_mono_ns();
        if (w.first_ns && now >= w.to_ns)
            break;
        if (!w.first_ns && now > first_deadline) {
            fprintf(stderr, "no frame reached %s\n", c->sink_topic);
            goto done;
        }
        if (!ride_bench_cluster_alive(c)) {
            fprintf(stderr, "a daemon exited during the run\n");
            goto done;
        }
    }
    if (w.latency.oom || w.frames == 0) {
        fprintf(stderr, "no frame in the measured window\n");
        goto done;
    }
    ride_seqtrack_stream totals;
    ride_seqtrack_totals(ride_audit_reader_seqs(r), &totals);
    *out = (run_result){.fps = (double)w.frames / o->seconds,
                        .p50_ms = ride_bench_quantile(w.latency.v, w.latency.n, 0.50),
                        .p99_ms = ride_bench_quantile(w.latency.v, w.latency.n, 0.99),
                        .frames = w.frames,
                        .gaps = totals.missing,
                        .duplicates = totals.duplicates,
                        .rejected = ride_audit_reader_rejected(r),
                        .dropped = producer_dropped(c),
                        .cpu_ms = -1};
    ride_bench_scrape_steps(c, &out->steps);
    rc = 0;
done:
    if (w.taps)
        ride_bench_hop_taps_finish(w.taps, rc == 0 ? &out->hops : &(hop_latency){0});
    ride_audit_reader_free(r);
    free(w.latency.v);
    return rc;
}

void ride_bench_run_name(enum config_kind kind, int run, char *buf, size_t len)
{
    snprintf(buf, len, "bench-%s-%d-%ld", ride_bench_config_names[kind], run, (long)getpid());
    for (char *p = buf; *p; p++)
        if (*p == '_')
            *p = '-';
}

void ride_bench_tasks(enum config_kind kind, const char **task1, const char **task2)
{
    bool passthrough = kind == CFG_PASSTHROUGH;
    *task1 = passthrough ? "passthrough" : "grayscale";
    *task2 = passthrough ? "passthrough" : "stddev";
}

int ride_bench_run_paced(const options *o, const ride_zk_server *zk, enum config_kind kind,
                         int run, run_result *out)
{
    char name[64];
    ride_bench_run_name(kind, run, name, sizeof name);
    const char *task1, *task2;
    ride_bench_tasks(kind, &task1, &task2);
    cluster c;
    int rc = -1;
    int started = ride_bench_cluster_start(&c, o, zk, name, true);
    c.exactly_once = kind == CFG_PIPELINE_EXACTLY_ONCE;
    if (started == 0 && ride_bench_apply_manifest(&c, task1, task2) == 0 &&
        measure_sink(&c, out) == 0)
        rc = 0;
    if (rc && !ride_bench_interrupted)
        ride_bench_cluster_print_logs(&c);
    ride_bench_cluster_stop(&c);
    return rc;
}
