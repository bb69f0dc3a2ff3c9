/* ride-bench-pipeline: end-to-end frames/s and capture-to-result latency of the
 * two-stage pipeline (grayscale, then stddev k=5) at 900x900 on a real cluster on
 * loopback, side by side in one run with
 *   passthrough: the same topology, sources and topics with the passthrough task in
 *                both stages (the transport ceiling), and
 *   in_process:  grayscale + stddev back to back in this process (the compute ceiling).
 *
 * and, with --exactly-once, pipeline_exactly_once: the pipeline with `delivery:
 * exactly-once` (Kafka transactions; a real broker only).
 *
 *   ride-bench-pipeline [--runs N] [--seconds S] [--warmup S] [--workers N]
 *                       [--partitions P] [--sources N] [--fps F]
 *                       [--worker-threads N] [--threads N] [--json FILE]
 *                       [--kafka BROKERS | --kafka-start] [--exactly-once]
 *
 * Every cluster run starts its own ride-master, workers and producer in a fresh
 * ZooKeeper chroot, applies the application through the control API, reads the
 * sink topic with the frame audit and stops everything again; one ZooKeeper server
 * serves all runs. The master hosts the embedded broker, or uses the real Kafka at
 * --kafka (each run's application has a name of its own there), or one started for
 * each run from $RIDE_KAFKA_HOME or ../shared/kafka with --kafka-start (its data
 * deleted after the run). Runs alternate between the configurations so that a
 * noisy period of a shared machine hits all of them. Each figure is the median
 * over the runs. See docs/performance.md ("Pipeline"). */
#include "bench_machine.h"
#include "audit.h"
#include "ride_harness.h"
#include "base/clock.h"
#include "base/log.h"
#include "cluster/cluster.h"
#include "cluster/zk.h"
#include "http/http_client.h"
#include "kernels/kernels.h"
#include "media/synthetic.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FRAME_SIZE 900
#define STDDEV_KSIZE 5
#define MAX_RUNS 51
#define PRODUCER_ID "p1"
/* Bounds on the cluster's start-up steps (daemons starting, the application
 * becoming visible at the sink); a run that exceeds one fails. */
#define START_TIMEOUT_MS 30000
#define STOP_GRACE_MS 3000

typedef struct options {
    int runs;
    double seconds;
    double warmup;
    int workers;
    int partitions;
    int sources;
    double fps;
    int worker_threads;
    int threads;
    const char *json;
    const char *kafka; /* a real Kafka's brokers, or NULL */
    bool kafka_start;  /* start one for each run */
    bool exactly_once; /* also run CFG_PIPELINE_EXACTLY_ONCE */
} options;

enum config_kind {
    CFG_PIPELINE,
    CFG_PASSTHROUGH,
    CFG_IN_PROCESS,
    CFG_PIPELINE_EXACTLY_ONCE,
    CFG_COUNT
};
static const char *const config_names[CFG_COUNT] = {"pipeline", "passthrough", "in_process",
                                                     "pipeline_exactly_once"};

static bool config_runs(const options *o, int kind)
{
    return kind != CFG_PIPELINE_EXACTLY_ONCE || o->exactly_once;
}

/* One measured run of one configuration. */
typedef struct run_result {
    double fps;
    double p50_ms, p99_ms;
    uint64_t frames;     /* distinct frames in the window */
    uint64_t gaps;       /* sequence gaps at the sink over the whole run: frames the
                            producer dropped (counted) or lost */
    uint64_t duplicates; /* frames read twice at the sink */
    uint64_t rejected;   /* messages at the sink that made no valid frame */
    int64_t dropped;     /* the producer's counted drops (backpressure); -1: unknown */
} run_result;

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double mono_s(void)
{
    return (double)ride_clock_mono_ns() * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[MAX_RUNS];
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/* Nearest-rank quantile of an unsorted sample (sorted in place); -1 when empty. */
static double quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return -1;
    qsort(v, n, sizeof *v, cmp_double);
    size_t rank = (size_t)(q * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    return v[(rank > n ? n : rank) - 1];
}

/* A growing array of latencies in ms. */
typedef struct samples {
    double *v;
    size_t n, cap;
    bool oom;
} samples;

static void samples_add(samples *s, double x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        double *v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            s->oom = true;
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
}

/* ---- the compute ceiling: the kernels in this process ---- */

#define IN_PROCESS_FRAMES 8
/* Lets the thread pool and caches settle before the timed frames. */
#define IN_PROCESS_WARMUP_S 0.5

static int run_in_process(const options *o, run_result *out)
{
    ride_image frames[IN_PROCESS_FRAMES] = {0};
    ride_image gray = {0}, sd = {0};
    samples lat = {0};
    int rc = -1;
    /* Distinct frames rendered beforehand: the ceiling is the kernels alone, and the
     * synthetic source's own cost is in bench/kernels. */
    for (int i = 0; i < IN_PROCESS_FRAMES; i++)
        if (ride_synthetic_render(1, (uint64_t)i, FRAME_SIZE, FRAME_SIZE, &frames[i]))
            goto done;
    double start = mono_s(), measure_from = start + IN_PROCESS_WARMUP_S;
    double end = measure_from + o->seconds;
    uint64_t counted = 0;
    for (uint64_t i = 0;; i++) {
        int64_t t0 = ride_clock_mono_ns();
        if (ride_cpu_grayscale(&frames[i % IN_PROCESS_FRAMES], &gray, o->threads) ||
            ride_cpu_stddev(&gray, &sd, STDDEV_KSIZE, o->threads))
            goto done;
        int64_t t1 = ride_clock_mono_ns();
        double now = (double)t1 * 1e-9;
        if (now >= end || interrupted)
            break;
        if (now >= measure_from) {
            counted++;
            samples_add(&lat, (double)(t1 - t0) / 1e6);
        }
    }
    if (lat.oom || interrupted || counted == 0)
        goto done;
    *out = (run_result){.fps = (double)counted / o->seconds,
                        .p50_ms = quantile(lat.v, lat.n, 0.50),
                        .p99_ms = quantile(lat.v, lat.n, 0.99),
                        .frames = counted,
                        .dropped = 0};
    rc = 0;
done:
    for (int i = 0; i < IN_PROCESS_FRAMES; i++)
        ride_image_free(&frames[i]);
    ride_image_free(&gray);
    ride_image_free(&sd);
    free(lat.v);
    return rc;
}

/* ---- the cluster ---- */

typedef struct cluster {
    const options *o;
    char *dir;
    char connect[256]; /* ZooKeeper with this run's chroot */
    ride_zk *zk;
    ride_kafka_server *broker; /* started for this run (--kafka-start) */
    const char *kafka;         /* the real Kafka's brokers, or NULL: embedded */
    char app[64];
    char sink_topic[96];
    bool exactly_once;
    ride_proc *master;
    ride_proc *producer;
    ride_proc **workers;
    char bootstrap[512];
    char api_url[512];
    char token[64];
} cluster;

static void cluster_print_logs(const cluster *c)
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

static void cluster_stop(cluster *c)
{
    ride_harness_proc_stop(c->producer, STOP_GRACE_MS);
    c->producer = NULL;
    for (int i = 0; c->workers && i < c->o->workers; i++)
        ride_harness_proc_stop(c->workers[i], STOP_GRACE_MS);
    free(c->workers);
    c->workers = NULL;
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

static int spawn_daemons(cluster *c)
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
    if (!(c->master = spawn_logged(c, master, "master.log")))
        return -1;

    /* On the embedded broker the whole partition (5 MiB) is the stage's budget: a
     * writer's half of it holds passthrough's raw 900x900 BGR frames (2.43 MB). */
    snprintf(text, sizeof text, "zookeeper:\n  connect: \"%s\"\nworker:\n  threads: %d\n%s",
             c->connect, c->o->worker_threads,
             c->kafka ? "" : "  max_backlog_bytes: 5242880\n");
    if (write_in_dir(c, "worker.yaml", text, path, sizeof path))
        return -1;
    c->workers = calloc((size_t)c->o->workers, sizeof *c->workers);
    if (!c->workers)
        return -1;
    for (int i = 0; i < c->o->workers; i++) {
        char id[16], log[32];
        snprintf(id, sizeof id, "w%d", i + 1);
        snprintf(log, sizeof log, "%s.log", id);
        const char *worker[] = {RIDE_BIN_DIR "/ride-worker", "--config", path, "--id", id,
                                "--metrics-listen", "127.0.0.1:0", "--log-level", "warn", NULL};
        if (!(c->workers[i] = spawn_logged(c, worker, log)))
            return -1;
    }

    snprintf(text, sizeof text,
             "zookeeper:\n  connect: \"%s\"\nmetrics:\n  listen: \"127.0.0.1:0\"\n"
             "producer:\n  id: \"" PRODUCER_ID "\"\nlog:\n  level: warn\n",
             c->connect);
    if (write_in_dir(c, "producer.yaml", text, path, sizeof path))
        return -1;
    const char *producer[] = {RIDE_BIN_DIR "/ride-producer", "-c", path, NULL};
    if (!(c->producer = spawn_logged(c, producer, "producer.log")))
        return -1;
    return 0;
}

static bool daemons_alive(cluster *c)
{
    if (!ride_harness_proc_alive(c->master) || !ride_harness_proc_alive(c->producer))
        return false;
    for (int i = 0; i < c->o->workers; i++)
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
static bool cluster_ready(void *ctx)
{
    cluster *c = ctx;
    if (interrupted || !daemons_alive(c))
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
           children(c, RIDE_CLUSTER_PATH_WORKERS) >= (size_t)c->o->workers &&
           children(c, RIDE_CLUSTER_PATH_PRODUCERS) >= 1;
}

static int cluster_start(cluster *c, const options *o, const ride_zk_server *zk,
                         const char *name)
{
    *c = (cluster){.o = o, .kafka = o->kafka};
    snprintf(c->connect, sizeof c->connect, "%s/%s", ride_harness_zk_connect(zk), name);
    /* A real Kafka keeps every run's topics: each run names its own. */
    snprintf(c->app, sizeof c->app, "%s", o->kafka ? name : "bench");
    snprintf(c->sink_topic, sizeof c->sink_topic, "%s.sink", c->app);
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
    if (spawn_daemons(c))
        return -1;
    if (!ride_harness_wait_until(cluster_ready, c, START_TIMEOUT_MS) || interrupted ||
        !daemons_alive(c)) {
        fprintf(stderr, "the cluster did not come up (broker %s, API %s)\n",
                c->bootstrap[0] ? c->bootstrap : "unpublished",
                c->api_url[0] ? c->api_url : "unpublished");
        return -1;
    }
    return 0;
}

/* The embedded broker keeps 5 MiB per partition and gives each writer a fixed
 * share of it (docs/kafka.md): a raw 900x900 BGR frame (2.43 MB) is larger than
 * a source's share, so its sources send JPEG, as the demo's do. */
static const char *source_encoding(const cluster *c)
{
    return c->kafka ? "raw" : "jpeg";
}

static int apply_manifest(cluster *c, const char *task1, const char *task2)
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
                     "  sink: {type: kafka, stage: second, topic: %s}\n",
                     c->app, c->exactly_once ? "exactly-once" : "at-least-once", sources, inputs, task1, o->partitions, o->workers, task2,
                     strcmp(task2, "stddev") == 0 ? "      params: {ksize: 5}\n" : "",
                     o->partitions, o->workers, c->sink_topic);
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
typedef struct window {
    int64_t first_ns;     /* monotonic time of the first fresh frame, 0 before */
    int64_t from_ns, to_ns; /* the measured window, set at the first frame */
    int64_t warmup_ns, length_ns;
    uint64_t frames;      /* fresh frames read inside the window */
    samples latency;      /* their capture-to-read latency, ms */
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
    samples_add(&w->latency, (double)(read_ns - (int64_t)frame->capture_ns) / 1e6);
}

/* Frames of aborted transactions are not the application's output. */
static const ride_kv READ_COMMITTED[] = {{"isolation.level", "read_committed", {0, 0}, {0, 0}}};

static ride_audit_reader *open_sink(cluster *c, window *w)
{
    ride_audit_options ao = {.bootstrap = c->bootstrap,
                             .embedded = c->kafka == NULL,
                             .props = c->exactly_once ? READ_COMMITTED : NULL,
                             .prop_count = c->exactly_once ? 1 : 0,
                             .topic = c->sink_topic,
                             .on_frame = on_sink_frame,
                             .ctx = w};
    char err[256] = "";
    int64_t deadline = ride_clock_mono_ms() + START_TIMEOUT_MS;
    /* The master creates the sink topic once the application is applied. */
    while (!interrupted && ride_clock_mono_ms() < deadline) {
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

static int measure_sink(cluster *c, run_result *out)
{
    const options *o = c->o;
    window w = {.warmup_ns = (int64_t)(o->warmup * 1e9), .length_ns = (int64_t)(o->seconds * 1e9)};
    ride_audit_reader *r = open_sink(c, &w);
    if (!r)
        return -1;
    int rc = -1;
    char err[256];
    int64_t first_deadline = ride_clock_mono_ns() + (int64_t)START_TIMEOUT_MS * 1000000;
    for (;;) {
        if (interrupted)
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
        if (!daemons_alive(c)) {
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
                        .p50_ms = quantile(w.latency.v, w.latency.n, 0.50),
                        .p99_ms = quantile(w.latency.v, w.latency.n, 0.99),
                        .frames = w.frames,
                        .gaps = totals.missing,
                        .duplicates = totals.duplicates,
                        .rejected = ride_audit_reader_rejected(r),
                        .dropped = producer_dropped(c)};
    rc = 0;
done:
    ride_audit_reader_free(r);
    free(w.latency.v);
    return rc;
}

static int run_cluster(const options *o, const ride_zk_server *zk, enum config_kind kind, int run,
                       run_result *out)
{
    char name[64];
    snprintf(name, sizeof name, "bench-%s-%d-%ld", kind == CFG_PASSTHROUGH ? "passthrough"
                                                   : kind == CFG_PIPELINE ? "pipeline"
                                                                          : "exactly-once",
             run, (long)getpid());
    bool passthrough = kind == CFG_PASSTHROUGH;
    const char *task1 = passthrough ? "passthrough" : "grayscale";
    const char *task2 = passthrough ? "passthrough" : "stddev";
    cluster c;
    int rc = -1;
    int started = cluster_start(&c, o, zk, name);
    c.exactly_once = kind == CFG_PIPELINE_EXACTLY_ONCE;
    if (started == 0 && apply_manifest(&c, task1, task2) == 0 &&
        measure_sink(&c, out) == 0)
        rc = 0;
    if (rc && !interrupted)
        cluster_print_logs(&c);
    cluster_stop(&c);
    return rc;
}

/* ---- report ---- */

typedef struct summary {
    double fps, p50_ms, p99_ms;
    uint64_t gaps, duplicates, rejected;
    int64_t dropped;
} summary;

static summary summarize(const run_result *r, int n)
{
    double fps[MAX_RUNS], p50[MAX_RUNS], p99[MAX_RUNS];
    summary s = {0};
    for (int i = 0; i < n; i++) {
        fps[i] = r[i].fps;
        p50[i] = r[i].p50_ms;
        p99[i] = r[i].p99_ms;
        s.gaps += r[i].gaps;
        s.duplicates += r[i].duplicates;
        s.rejected += r[i].rejected;
        if (s.dropped >= 0)
            s.dropped = r[i].dropped < 0 ? -1 : s.dropped + r[i].dropped;
    }
    s.fps = median(fps, n);
    s.p50_ms = median(p50, n);
    s.p99_ms = median(p99, n);
    return s;
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

static void print_table(const options *o, const summary *s)
{
    printf("\n| config | frames/s | p50 ms | p99 ms | runs | gaps | duplicates | "
           "producer drops |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < CFG_COUNT; k++) {
        if (!config_runs(o, k))
            continue;
        char drops[32];
        if (s[k].dropped < 0)
            snprintf(drops, sizeof drops, "n/a");
        else
            snprintf(drops, sizeof drops, "%lld", (long long)s[k].dropped);
        printf("| %s | %.1f | %.1f | %.1f | %d | %llu | %llu | %s |\n", config_names[k], s[k].fps,
               s[k].p50_ms, s[k].p99_ms, o->runs, (unsigned long long)s[k].gaps,
               (unsigned long long)s[k].duplicates, drops);
    }
    printf("\npipeline / passthrough frames/s: %.3f\npipeline / in_process frames/s: %.3f\n",
           ratio(s[CFG_PIPELINE].fps, s[CFG_PASSTHROUGH].fps),
           ratio(s[CFG_PIPELINE].fps, s[CFG_IN_PROCESS].fps));
    if (o->exactly_once)
        printf("exactly-once / at-least-once: frames/s %.3f, p50 %.3f, p99 %.3f\n",
               ratio(s[CFG_PIPELINE_EXACTLY_ONCE].fps, s[CFG_PIPELINE].fps),
               ratio(s[CFG_PIPELINE_EXACTLY_ONCE].p50_ms, s[CFG_PIPELINE].p50_ms),
               ratio(s[CFG_PIPELINE_EXACTLY_ONCE].p99_ms, s[CFG_PIPELINE].p99_ms));
}

static int write_json(const options *o, const summary *s, run_result res[CFG_COUNT][MAX_RUNS],
                      const char *command)
{
    char model[256];
    ride_bench_cpu_model(model, sizeof model);
    json_t *root = json_object(), *configs = json_array();
    json_object_set_new(root, "benchmark", json_string("pipeline"));
    json_object_set_new(root, "command", json_string(command));
    json_object_set_new(root, "machine",
                        json_pack("{s:s, s:I}", "cpu_model", model, "cores",
                                  (json_int_t)sysconf(_SC_NPROCESSORS_ONLN)));
    json_object_set_new(
        root, "options",
        json_pack("{s:i, s:f, s:f, s:i, s:i, s:i, s:f, s:i, s:i, s:i, s:i, s:s, s:b}", "runs",
                  o->runs,
                  "seconds", o->seconds, "warmup", o->warmup, "workers", o->workers,
                  "partitions", o->partitions, "sources", o->sources, "fps_per_source", o->fps,
                  "worker_threads", o->worker_threads, "in_process_threads", o->threads,
                  "width", FRAME_SIZE, "height", FRAME_SIZE, "kafka",
                  o->kafka_start ? "started per run" : o->kafka ? o->kafka : "embedded",
                  "exactly_once", o->exactly_once));
    for (int k = 0; k < CFG_COUNT; k++) {
        if (!config_runs(o, k))
            continue;
        json_t *per_run = json_array();
        for (int i = 0; i < o->runs; i++)
            json_array_append_new(per_run, json_pack("{s:f, s:f, s:f, s:I}", "fps", res[k][i].fps,
                                                     "p50_ms", res[k][i].p50_ms, "p99_ms",
                                                     res[k][i].p99_ms, "frames",
                                                     (json_int_t)res[k][i].frames));
        json_t *c = json_pack("{s:s, s:f, s:f, s:f, s:i, s:I, s:I, s:I, s:I, s:o}", "config",
                              config_names[k], "fps", s[k].fps, "p50_ms", s[k].p50_ms, "p99_ms",
                              s[k].p99_ms, "runs", o->runs, "gaps", (json_int_t)s[k].gaps,
                              "duplicates", (json_int_t)s[k].duplicates, "rejected",
                              (json_int_t)s[k].rejected, "producer_dropped",
                              (json_int_t)s[k].dropped, "per_run", per_run);
        json_array_append_new(configs, c);
    }
    json_object_set_new(root, "results", configs);
    json_t *ratios = json_pack("{s:f, s:f}", "pipeline_over_passthrough",
                               ratio(s[CFG_PIPELINE].fps, s[CFG_PASSTHROUGH].fps),
                               "pipeline_over_in_process",
                               ratio(s[CFG_PIPELINE].fps, s[CFG_IN_PROCESS].fps));
    if (o->exactly_once)
        json_object_set_new(ratios, "exactly_once_over_at_least_once",
                            json_pack("{s:f, s:f, s:f}", "fps",
                                      ratio(s[CFG_PIPELINE_EXACTLY_ONCE].fps, s[CFG_PIPELINE].fps),
                                      "p50_ms",
                                      ratio(s[CFG_PIPELINE_EXACTLY_ONCE].p50_ms,
                                            s[CFG_PIPELINE].p50_ms),
                                      "p99_ms",
                                      ratio(s[CFG_PIPELINE_EXACTLY_ONCE].p99_ms,
                                            s[CFG_PIPELINE].p99_ms)));
    json_object_set_new(root, "ratios", ratios);
    int rc = json_dump_file(root, o->json, JSON_INDENT(2));
    json_decref(root);
    if (rc)
        fprintf(stderr, "cannot write %s\n", o->json);
    return rc;
}

/* ---- options ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ride-bench-pipeline [options]\n"
            "  --runs N            runs per configuration, median reported (default 3)\n"
            "  --seconds S         measured window per run (default 10)\n"
            "  --warmup S          ignored after the first frame reaches the sink (default 3)\n"
            "  --workers N         ride-worker processes (default 3)\n"
            "  --partitions P      partitions of each stage (default 6)\n"
            "  --sources N         synthetic 900x900 sources (default 2)\n"
            "  --fps F             offered frames/s per source, up to 1000 (default 30)\n"
            "  --worker-threads N  kernel threads per worker, 0 = all cores (default 1)\n"
            "  --threads N         kernel threads in_process, 0 = all cores (default 0)\n"
            "  --json FILE         also write the results as JSON\n"
            "  --kafka BROKERS     use this real Kafka instead of the embedded broker\n"
            "  --kafka-start       start a real Kafka for each run ($RIDE_KAFKA_HOME, else\n"
            "                      ../shared/kafka beside the sources) and delete its data\n"
            "  --exactly-once      also run the pipeline with delivery: exactly-once\n"
            "                      (needs a real Kafka)\n");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static int parse_options(int argc, char **argv, options *o)
{
    static const struct option longs[] = {
        {"runs", required_argument, NULL, 'r'},     {"seconds", required_argument, NULL, 's'},
        {"warmup", required_argument, NULL, 'W'},   {"workers", required_argument, NULL, 'w'},
        {"partitions", required_argument, NULL, 'p'}, {"sources", required_argument, NULL, 'S'},
        {"fps", required_argument, NULL, 'f'},      {"worker-threads", required_argument, NULL, 'T'},
        {"threads", required_argument, NULL, 't'},  {"json", required_argument, NULL, 'j'},
        {"kafka", required_argument, NULL, 'k'},    {"kafka-start", no_argument, NULL, 'K'},
        {"exactly-once", no_argument, NULL, 'E'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    *o = (options){.runs = 3, .seconds = 10, .warmup = 3, .workers = 3, .partitions = 6,
                   .sources = 2, .fps = 30, .worker_threads = 1, .threads = 0};
    int c, bad = 0;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'r': bad |= parse_int(optarg, 1, MAX_RUNS, &o->runs); break;
        case 's': bad |= parse_double(optarg, 1, 3600, &o->seconds); break;
        case 'W': bad |= parse_double(optarg, 0, 600, &o->warmup); break;
        case 'w': bad |= parse_int(optarg, 1, 32, &o->workers); break;
        case 'p': bad |= parse_int(optarg, 1, 64, &o->partitions); break;
        case 'S': bad |= parse_int(optarg, 1, 16, &o->sources); break;
        case 'f': bad |= parse_double(optarg, 0.1, RIDE_SYNTHETIC_MAX_FPS, &o->fps); break;
        case 'T': bad |= parse_int(optarg, 0, 1024, &o->worker_threads); break;
        case 't': bad |= parse_int(optarg, 0, 1024, &o->threads); break;
        case 'j': o->json = optarg; break;
        case 'k': o->kafka = optarg; break;
        case 'K': o->kafka_start = true; break;
        case 'E': o->exactly_once = true; break;
        case 'h': usage(stdout); exit(0);
        default: bad = 1;
        }
        if (bad) {
            if (optarg)
                fprintf(stderr, "ride-bench-pipeline: bad value '%s'\n", optarg);
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return -1;
    }
    const char *conflict = o->kafka && o->kafka_start ? "--kafka and --kafka-start exclude each other"
                           : o->exactly_once && !o->kafka && !o->kafka_start
                               ? "--exactly-once needs a real Kafka (--kafka or --kafka-start): "
                                 "the embedded broker has no transactions"
                               : NULL;
    if (conflict) {
        fprintf(stderr, "ride-bench-pipeline: %s\n", conflict);
        return -1;
    }
    return 0;
}

static void join_command(int argc, char **argv, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < argc && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? " " : "", argv[i]);
}

int main(int argc, char **argv)
{
    options o;
    if (parse_options(argc, argv, &o))
        return 2;
    const char *why = ride_harness_zk_unavailable();
    if (why) {
        fprintf(stderr, "ride-bench-pipeline: ZooKeeper cannot run here: %s\n", why);
        return 1;
    }
    /* An interrupt ends the current run through the normal path, so that the
     * harness's exit handler stops every process and removes every temp dir. */
    struct sigaction sa = {.sa_handler = on_interrupt};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    ride_log_set_level(RIDE_LOG_WARN);

    char no_kafka[1200];
    if (o.kafka_start && ride_launch_kafka_unavailable(ride_launch_kafka_home(RIDE_SOURCE_DIR
                                                                              "/../shared/kafka"),
                                                       no_kafka, sizeof no_kafka)) {
        fprintf(stderr, "ride-bench-pipeline: no Kafka broker can run here: %s\n", no_kafka);
        return 1;
    }
    ride_zk_server *zk = ride_harness_zk_start();
    if (!zk)
        return 1;
    static run_result res[CFG_COUNT][MAX_RUNS];
    int failed = 0;
    for (int run = 0; run < o.runs && !failed; run++) {
        for (int k = 0; k < CFG_COUNT && !failed; k++) {
            if (!config_runs(&o, k))
                continue;
            run_result *r = &res[k][run];
            failed = k == CFG_IN_PROCESS ? run_in_process(&o, r)
                                         : run_cluster(&o, zk, (enum config_kind)k, run, r);
            if (failed)
                fprintf(stderr, "run %d of %s failed\n", run + 1, config_names[k]);
            else
                fprintf(stderr,
                        "run %d %-11s %8.1f frames/s  p50 %7.1f ms  p99 %7.1f ms  gaps %llu  "
                        "drops %lld\n",
                        run + 1, config_names[k], r->fps, r->p50_ms, r->p99_ms,
                        (unsigned long long)r->gaps, (long long)r->dropped);
        }
    }
    ride_harness_zk_stop(zk);
    if (failed || interrupted)
        return 1;

    summary s[CFG_COUNT];
    for (int k = 0; k < CFG_COUNT; k++)
        s[k] = config_runs(&o, k) ? summarize(res[k], o.runs) : (summary){0};
    char model[256];
    ride_bench_cpu_model(model, sizeof model);
    printf("machine: %s, %ld cores; %d x synthetic:%dx%d@%g, %d workers x %d threads, "
           "%d partitions per stage; %d runs of %g s (median); Kafka: %s\n",
           model, sysconf(_SC_NPROCESSORS_ONLN), o.sources, FRAME_SIZE, FRAME_SIZE, o.fps,
           o.workers, o.worker_threads, o.partitions, o.runs, o.seconds,
           o.kafka_start ? "a real broker started for each run" : o.kafka ? o.kafka : "embedded");
    print_table(&o, s);
    char command[2048];
    join_command(argc, argv, command, sizeof command);
    return o.json && write_json(&o, s, res, command) ? 1 : 0;
}
