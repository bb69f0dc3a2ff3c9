/* ride-bench-pipeline: frames/s, CPU and latency of the two-stage pipeline
 * (grayscale, then stddev k=5) at 900x900 on a real cluster on loopback, side by
 * side in one run with its ceilings and the alternative a user would write:
 *   passthrough: the same topology and topics with the passthrough task in both
 *                stages (RIDE's own transport);
 *   in_process:  the stages' work in this process on the same frames and threads:
 *                assembly and JPEG decode, grayscale + stddev, and one copy of the
 *                bytes each stage reads and writes (the compute ceiling, compute.c);
 *   pipeline_exactly_once (--exactly-once): the pipeline with Kafka transactions;
 * and in the drain mode (--drain N: N frames pre-filled into the first topic, then
 * drained, drain.c) also
 *   relay:  librdkafka alone moving the same messages through the same hops (the
 *           transport ceiling, relay.c);
 *   python: bench/python/ride_py_worker.py, confluent-kafka + OpenCV doing the
 *           same decode, kernels and produce.
 *
 *   ride-bench-pipeline [--runs N] [--seconds S] [--warmup S] [--workers N]
 *                       [--partitions P] [--sources N] [--fps F]
 *                       [--worker-threads N] [--threads N] [--json FILE]
 *                       [--kafka BROKERS | --kafka-start] [--exactly-once]
 *                       [--drain N [--raw] [--python N]] [--hop-latency]
 *
 * Every cluster run starts its own ride-master and workers (and, paced, the
 * producer) in a fresh ZooKeeper chroot, applies the application through the
 * control API, reads the sink topic and stops everything again; one ZooKeeper
 * server serves all runs. The master hosts the embedded broker, or uses the real
 * Kafka at --kafka (each run's application has a name of its own there), or one
 * started for each run from $RIDE_KAFKA_HOME or ../shared/kafka with --kafka-start
 * (its data deleted after the run). Runs alternate between the configurations so
 * that a noisy period of a shared machine hits all of them. Each figure is the
 * median over the runs. See docs/performance.md ("Pipeline"). */
#include "bench_pipeline.h"
#include "bench_machine.h"
#include "base/log.h"
#include "media/synthetic.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const ride_bench_config_names[CFG_COUNT] = {
    "pipeline", "passthrough", "in_process", "pipeline_exactly_once", "relay", "python"};

volatile sig_atomic_t ride_bench_interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    ride_bench_interrupted = 1;
}

static bool config_runs(const options *o, int kind)
{
    switch (kind) {
    case CFG_PIPELINE_EXACTLY_ONCE: return o->exactly_once;
    case CFG_RELAY: return o->drain > 0;
    case CFG_PYTHON: return o->drain > 0 && o->python_workers > 0;
    default: return true;
    }
}

/* Configurations whose work is done by ride-workers. */
static bool config_has_workers(int kind)
{
    return kind == CFG_PIPELINE || kind == CFG_PASSTHROUGH || kind == CFG_PIPELINE_EXACTLY_ONCE;
}

/* ---- report ---- */

typedef struct summary {
    run_result m; /* medians of the per-run figures */
    uint64_t gaps, duplicates, rejected;
    int64_t dropped;
} summary;

#define MEDIAN_OF(field)                                                                  \
    do {                                                                                  \
        for (int i_ = 0; i_ < n; i_++)                                                    \
            v[i_] = r[i_].field;                                                          \
        s.m.field = ride_bench_median(v, n);                                              \
    } while (0)

static summary summarize(const run_result *r, int n)
{
    double v[MAX_RUNS];
    summary s = {0};
    for (int i = 0; i < n; i++) {
        s.gaps += r[i].gaps;
        s.duplicates += r[i].duplicates;
        s.rejected += r[i].rejected;
        if (s.dropped >= 0)
            s.dropped = r[i].dropped < 0 ? -1 : s.dropped + r[i].dropped;
    }
    MEDIAN_OF(fps);
    MEDIAN_OF(p50_ms);
    MEDIAN_OF(p99_ms);
    MEDIAN_OF(cpu_ms);
    MEDIAN_OF(drain_s);
    MEDIAN_OF(compute.decode_ms);
    MEDIAN_OF(compute.kernels_ms);
    MEDIAN_OF(compute.bytes_ms);
    MEDIAN_OF(compute.kernels_fps);
    MEDIAN_OF(steps.cpu_s);
    for (int st = 0; st < BENCH_STAGES; st++)
        for (int k = 0; k < BENCH_STEPS; k++)
            MEDIAN_OF(steps.ms[st][k]);
    for (int h = 0; h < HOP_COUNT; h++) {
        MEDIAN_OF(hops.p50_ms[h]);
        MEDIAN_OF(hops.p99_ms[h]);
    }
    for (int i = 0; i < n; i++)
        s.m.hops.joined += r[i].hops.joined;
    return s;
}

static double ratio(double a, double b)
{
    return a > 0 && b > 0 ? a / b : -1;
}

/* A figure, or "-" when it was not measured. */
static const char *fig(char *buf, size_t len, double v, int decimals)
{
    if (v < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.*f", decimals, v);
    return buf;
}

static void print_paced_table(const options *o, const summary *s)
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
        printf("| %s | %.1f | %.1f | %.1f | %d | %llu | %llu | %s |\n",
               ride_bench_config_names[k], s[k].m.fps, s[k].m.p50_ms, s[k].m.p99_ms, o->runs,
               (unsigned long long)s[k].gaps, (unsigned long long)s[k].duplicates, drops);
    }
    printf("\npipeline / passthrough frames/s: %.3f\npipeline / in_process frames/s: %.3f\n",
           ratio(s[CFG_PIPELINE].m.fps, s[CFG_PASSTHROUGH].m.fps),
           ratio(s[CFG_PIPELINE].m.fps, s[CFG_IN_PROCESS].m.fps));
    if (o->exactly_once)
        printf("exactly-once / at-least-once: frames/s %.3f, p50 %.3f, p99 %.3f\n",
               ratio(s[CFG_PIPELINE_EXACTLY_ONCE].m.fps, s[CFG_PIPELINE].m.fps),
               ratio(s[CFG_PIPELINE_EXACTLY_ONCE].m.p50_ms, s[CFG_PIPELINE].m.p50_ms),
               ratio(s[CFG_PIPELINE_EXACTLY_ONCE].m.p99_ms, s[CFG_PIPELINE].m.p99_ms));
}

static void print_drain_table(const options *o, const summary *s)
{
    char a[32], b[32], c[32], d[32];
    printf("\n| config | frames/s | CPU ms/frame | frames per CPU-s | drain s | runs | gaps | "
           "duplicates |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < CFG_COUNT; k++) {
        if (!config_runs(o, k))
            continue;
        const run_result *m = &s[k].m;
        printf("| %s | %s | %s | %s | %s | %d | %llu | %llu |\n", ride_bench_config_names[k],
               fig(a, sizeof a, m->fps, 1), fig(b, sizeof b, m->cpu_ms, 2),
               fig(c, sizeof c, m->cpu_ms > 0 ? 1e3 / m->cpu_ms : -1, 1),
               fig(d, sizeof d, k == CFG_IN_PROCESS ? -1 : m->drain_s, 2), o->runs,
               (unsigned long long)s[k].gaps, (unsigned long long)s[k].duplicates);
    }
    double compute = s[CFG_IN_PROCESS].m.fps, transport = s[CFG_RELAY].m.fps;
    double lower = compute < transport ? compute : transport;
    printf("\nceilings: compute (in_process) %.1f frames/s, transport (relay) %.1f frames/s; "
           "pipeline / the lower (%s): %.3f\n",
           compute, transport, compute < transport ? "compute" : "transport",
           ratio(s[CFG_PIPELINE].m.fps, lower));
    /* Each ceiling was measured with the machine to itself; a pipeline whose
     * workers and broker share these cores pays both on the same cores. */
    double shared = compute > 0 && transport > 0 ? 1.0 / (1.0 / compute + 1.0 / transport) : -1;
    printf("both on the same cores: 1 / (1/compute + 1/transport) = %.1f frames/s; "
           "pipeline / that: %.3f\n",
           shared, ratio(s[CFG_PIPELINE].m.fps, shared));
    if (config_runs(o, CFG_PYTHON))
        printf("python: pipeline frames per CPU-second / python's: %.2f; pipeline frames/s / "
               "python's: %.2f\n",
               ratio(s[CFG_PYTHON].m.cpu_ms, s[CFG_PIPELINE].m.cpu_ms),
               ratio(s[CFG_PIPELINE].m.fps, s[CFG_PYTHON].m.fps));
}

/* The compute ceiling's parts and the CPU goal per frame: 1.25 x (decode +
 * kernels + one read and one write of the bytes), beside what the workers used. */
static void print_compute(const options *o, const summary *s)
{
    const compute_cost *cc = &s[CFG_IN_PROCESS].m.compute;
    double goal = 1.25 * (cc->decode_ms + cc->kernels_ms + cc->bytes_ms);
    printf("\ncompute per frame (in_process, %d threads): assembly + decode %.2f ms, kernels "
           "%.2f ms (kernels alone %.1f frames/s), one copy of the bytes read and written "
           "%.2f ms\n",
           o->threads < 0 ? o->worker_threads : o->threads, cc->decode_ms, cc->kernels_ms,
           cc->kernels_fps, cc->bytes_ms);
    char buf[32];
    printf("CPU goal per frame, both stages: 1.25 x %.2f = %.2f ms; pipeline measured: %s ms\n",
           goal / 1.25, goal, fig(buf, sizeof buf, s[CFG_PIPELINE].m.cpu_ms, 2));
}

static void print_steps(const options *o, const summary *s)
{
    printf("\nworker steps, mean ms per frame (ride_worker_step_seconds; - : not exported)\n\n"
           "| config | stage |");
    for (int k = 0; k < BENCH_STEPS; k++)
        printf(" %s |", ride_bench_step_names[k]);
    printf(" worker CPU s |\n|---|---|");
    for (int k = 0; k <= BENCH_STEPS; k++)
        printf("---:|");
    printf("\n");
    for (int c = 0; c < CFG_COUNT; c++) {
        if (!config_runs(o, c) || !config_has_workers(c))
            continue;
        for (int st = 0; st < BENCH_STAGES; st++) {
            char buf[32];
            printf("| %s | %s |", ride_bench_config_names[c], ride_bench_stage_names[st]);
            for (int k = 0; k < BENCH_STEPS; k++)
                printf(" %s |", fig(buf, sizeof buf, s[c].m.steps.ms[st][k], 3));
            printf(" %s |\n", st ? "" : fig(buf, sizeof buf, s[c].m.steps.cpu_s, 2));
        }
    }
}

/* Where the paced mode's latency is, and the hop that holds p99. */
static void print_hops(const options *o, const summary *s)
{
    printf("\nhops (Kafka CreateTime), ms\n\n| config | frames |");
    for (int h = 0; h < HOP_COUNT; h++)
        printf(" %s p50 | %s p99 |", ride_bench_hop_names[h], ride_bench_hop_names[h]);
    printf(" p99 held by |\n|---|---:|");
    for (int h = 0; h < HOP_COUNT; h++)
        printf("---:|---:|");
    printf("---|\n");
    for (int c = 0; c < CFG_COUNT; c++) {
        if (!config_runs(o, c) || !config_has_workers(c))
            continue;
        const hop_latency *hl = &s[c].m.hops;
        int worst = 0;
        char a[32], b[32];
        printf("| %s | %llu |", ride_bench_config_names[c], (unsigned long long)hl->joined);
        for (int h = 0; h < HOP_COUNT; h++) {
            printf(" %s | %s |", fig(a, sizeof a, hl->p50_ms[h], 1),
                   fig(b, sizeof b, hl->p99_ms[h], 1));
            if (hl->p99_ms[h] > hl->p99_ms[worst])
                worst = h;
        }
        printf(" %s |\n", hl->joined ? ride_bench_hop_names[worst] : "-");
    }
}

static void print_report(const options *o, const summary *s)
{
    if (o->drain)
        print_drain_table(o, s);
    else
        print_paced_table(o, s);
    print_compute(o, s);
    print_steps(o, s);
    if (!o->drain && o->hop_latency)
        print_hops(o, s);
}

static json_t *json_steps(const step_means *st)
{
    json_t *stages = json_object();
    for (int s = 0; s < BENCH_STAGES; s++) {
        json_t *steps = json_object();
        for (int k = 0; k < BENCH_STEPS; k++)
            if (st->ms[s][k] >= 0)
                json_object_set_new(steps, ride_bench_step_names[k], json_real(st->ms[s][k]));
        json_object_set_new(stages, ride_bench_stage_names[s], steps);
    }
    return json_pack("{s:o, s:f}", "mean_ms", stages, "worker_cpu_s", st->cpu_s);
}

static json_t *json_hops(const hop_latency *h)
{
    json_t *hops = json_object();
    for (int i = 0; i < HOP_COUNT; i++)
        json_object_set_new(hops, ride_bench_hop_names[i],
                            json_pack("{s:f, s:f}", "p50_ms", h->p50_ms[i], "p99_ms",
                                      h->p99_ms[i]));
    json_object_set_new(hops, "frames", json_integer((json_int_t)h->joined));
    return hops;
}

static json_t *json_result(const run_result *r)
{
    return json_pack("{s:f, s:f, s:f, s:I, s:f, s:f}", "fps", r->fps, "p50_ms", r->p50_ms,
                     "p99_ms", r->p99_ms, "frames", (json_int_t)r->frames, "cpu_ms_per_frame",
                     r->cpu_ms, "drain_s", r->drain_s);
}

static json_t *json_config(const options *o, int k, const summary *s, const run_result *runs)
{
    json_t *per_run = json_array();
    for (int i = 0; i < o->runs; i++)
        json_array_append_new(per_run, json_result(&runs[i]));
    json_t *c = json_result(&s->m);
    json_object_set_new(c, "config", json_string(ride_bench_config_names[k]));
    json_object_set_new(c, "runs", json_integer(o->runs));
    json_object_set_new(c, "gaps", json_integer((json_int_t)s->gaps));
    json_object_set_new(c, "duplicates", json_integer((json_int_t)s->duplicates));
    json_object_set_new(c, "rejected", json_integer((json_int_t)s->rejected));
    json_object_set_new(c, "producer_dropped", json_integer((json_int_t)s->dropped));
    json_object_set_new(c, "per_run", per_run);
    if (k == CFG_IN_PROCESS)
        json_object_set_new(c, "compute",
                            json_pack("{s:f, s:f, s:f, s:f}", "decode_ms",
                                      s->m.compute.decode_ms, "kernels_ms",
                                      s->m.compute.kernels_ms, "bytes_ms", s->m.compute.bytes_ms,
                                      "kernels_fps", s->m.compute.kernels_fps));
    if (config_has_workers(k)) {
        json_object_set_new(c, "steps", json_steps(&s->m.steps));
        if (!o->drain && o->hop_latency)
            json_object_set_new(c, "hops", json_hops(&s->m.hops));
    }
    return c;
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
    json_t *opts = json_pack(
        "{s:i, s:f, s:f, s:i, s:i, s:i, s:f, s:i, s:i, s:i, s:i, s:s, s:b}", "runs", o->runs,
        "seconds", o->seconds, "warmup", o->warmup, "workers", o->workers, "partitions",
        o->partitions, "sources", o->sources, "fps_per_source", o->fps, "worker_threads",
        o->worker_threads, "in_process_threads", o->threads < 0 ? o->worker_threads : o->threads,
        "width", FRAME_SIZE, "height", FRAME_SIZE, "kafka",
        o->kafka_start ? "started per run" : o->kafka ? o->kafka : "embedded", "exactly_once",
        o->exactly_once);
    json_object_set_new(opts, "drain", json_integer(o->drain));
    json_object_set_new(opts, "input", json_string(ride_bench_raw_input(o) ? "raw" : "jpeg"));
    json_object_set_new(opts, "python_workers", json_integer(o->python_workers));
    json_object_set_new(opts, "hop_latency", json_boolean(o->hop_latency));
    json_object_set_new(root, "options", opts);
    for (int k = 0; k < CFG_COUNT; k++)
        if (config_runs(o, k))
            json_array_append_new(configs, json_config(o, k, &s[k], res[k]));
    json_object_set_new(root, "results", configs);
    double lower = s[CFG_IN_PROCESS].m.fps;
    if (o->drain && s[CFG_RELAY].m.fps < lower)
        lower = s[CFG_RELAY].m.fps;
    json_t *ratios = json_pack("{s:f, s:f, s:f}", "pipeline_over_passthrough",
                               ratio(s[CFG_PIPELINE].m.fps, s[CFG_PASSTHROUGH].m.fps),
                               "pipeline_over_in_process",
                               ratio(s[CFG_PIPELINE].m.fps, s[CFG_IN_PROCESS].m.fps),
                               "pipeline_over_lower_ceiling", ratio(s[CFG_PIPELINE].m.fps, lower));
    const compute_cost *cc = &s[CFG_IN_PROCESS].m.compute;
    json_object_set_new(ratios, "cpu_goal_ms_per_frame",
                        json_real(1.25 * (cc->decode_ms + cc->kernels_ms + cc->bytes_ms)));
    if (config_runs(o, CFG_PYTHON))
        json_object_set_new(ratios, "pipeline_over_python_frames_per_cpu_s",
                            json_real(ratio(s[CFG_PYTHON].m.cpu_ms, s[CFG_PIPELINE].m.cpu_ms)));
    if (o->exactly_once)
        json_object_set_new(
            ratios, "exactly_once_over_at_least_once",
            json_pack("{s:f, s:f, s:f}", "fps",
                      ratio(s[CFG_PIPELINE_EXACTLY_ONCE].m.fps, s[CFG_PIPELINE].m.fps), "p50_ms",
                      ratio(s[CFG_PIPELINE_EXACTLY_ONCE].m.p50_ms, s[CFG_PIPELINE].m.p50_ms),
                      "p99_ms",
                      ratio(s[CFG_PIPELINE_EXACTLY_ONCE].m.p99_ms, s[CFG_PIPELINE].m.p99_ms)));
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
            "  --threads N         kernel threads in_process, 0 = all cores (default: as\n"
            "                      --worker-threads)\n"
            "  --json FILE         also write the results as JSON\n"
            "  --kafka BROKERS     use this real Kafka instead of the embedded broker\n"
            "  --kafka-start       start a real Kafka for each run ($RIDE_KAFKA_HOME, else\n"
            "                      ../shared/kafka beside the sources) and delete its data\n"
            "  --exactly-once      also run the pipeline with delivery: exactly-once\n"
            "                      (needs a real Kafka)\n"
            "  --drain N           drain mode: pre-fill the first topic with N frames, then\n"
            "                      time the workers draining it; adds relay and python\n"
            "  --raw               drain: raw BGR frames instead of JPEG\n"
            "  --python N          drain: Python worker processes (default: --workers;\n"
            "                      0: no python column)\n"
            "  --hop-latency       paced: split the latency into hops (Kafka timestamps)\n");
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

static const char *option_conflict(const options *o)
{
    if (o->kafka && o->kafka_start)
        return "--kafka and --kafka-start exclude each other";
    if (o->exactly_once && !o->kafka && !o->kafka_start)
        return "--exactly-once needs a real Kafka (--kafka or --kafka-start): the embedded "
               "broker has no transactions";
    if (!o->drain && (o->raw_input || o->python_workers >= 0))
        return "--raw and --python belong to the drain mode (--drain N)";
    if (o->drain && o->hop_latency)
        return "--hop-latency belongs to the paced mode";
    return NULL;
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
        {"exactly-once", no_argument, NULL, 'E'},   {"drain", required_argument, NULL, 'D'},
        {"raw", no_argument, NULL, 'R'},            {"python", required_argument, NULL, 'P'},
        {"hop-latency", no_argument, NULL, 'H'},    {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    *o = (options){.runs = 3, .seconds = 10, .warmup = 3, .workers = 3, .partitions = 6,
                   .sources = 2, .fps = 30, .worker_threads = 1, .threads = -1,
                   .python_workers = -1};
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
        case 'D': bad |= parse_int(optarg, 2, 1000000, &o->drain); break;
        case 'R': o->raw_input = true; break;
        case 'P': bad |= parse_int(optarg, 0, 32, &o->python_workers); break;
        case 'H': o->hop_latency = true; break;
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
    const char *conflict = option_conflict(o);
    if (conflict) {
        fprintf(stderr, "ride-bench-pipeline: %s\n", conflict);
        return -1;
    }
    if (o->drain && o->python_workers < 0)
        o->python_workers = o->workers;
    return 0;
}

static void join_command(int argc, char **argv, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < argc && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? " " : "", argv[i]);
}

static int run_one(const options *o, const ride_zk_server *zk, int kind, int run, run_result *r)
{
    if (kind == CFG_IN_PROCESS)
        return ride_bench_run_in_process(o, r);
    return o->drain ? ride_bench_run_drain(o, zk, (enum config_kind)kind, run, r)
                    : ride_bench_run_paced(o, zk, (enum config_kind)kind, run, r);
}

static void print_run(const options *o, int run, int kind, const run_result *r)
{
    if (o->drain)
        fprintf(stderr, "run %d %-21s %8.1f frames/s  %7.2f CPU ms/frame  drain %6.2f s  gaps %llu\n",
                run + 1, ride_bench_config_names[kind], r->fps, r->cpu_ms, r->drain_s,
                (unsigned long long)r->gaps);
    else
        fprintf(stderr,
                "run %d %-21s %8.1f frames/s  p50 %7.1f ms  p99 %7.1f ms  gaps %llu  drops %lld\n",
                run + 1, ride_bench_config_names[kind], r->fps, r->p50_ms, r->p99_ms,
                (unsigned long long)r->gaps, (long long)r->dropped);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--relay") == 0) {
        struct sigaction sa = {.sa_handler = on_interrupt};
        sigaction(SIGTERM, &sa, NULL);
        return ride_bench_relay_main(argc, argv);
    }
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
            failed = run_one(&o, zk, k, run, &res[k][run]);
            if (failed)
                fprintf(stderr, "run %d of %s failed\n", run + 1, ride_bench_config_names[k]);
            else
                print_run(&o, run, k, &res[k][run]);
        }
    }
    ride_harness_zk_stop(zk);
    if (failed || ride_bench_interrupted)
        return 1;

    summary s[CFG_COUNT] = {0};
    for (int k = 0; k < CFG_COUNT; k++)
        if (config_runs(&o, k))
            s[k] = summarize(res[k], o.runs);
    char model[256], mode[128];
    ride_bench_cpu_model(model, sizeof model);
    if (o.drain)
        snprintf(mode, sizeof mode, "drain of %d %s frames 900x900", o.drain,
                 o.raw_input ? "raw BGR" : "JPEG");
    else
        snprintf(mode, sizeof mode, "%d x synthetic:%dx%d@%g (%s)", o.sources, FRAME_SIZE,
                 FRAME_SIZE, o.fps, ride_bench_raw_input(&o) ? "raw" : "JPEG");
    printf("machine: %s, %ld cores; %s, %d workers x %d threads, %d partitions per stage; "
           "%d runs (median); Kafka: %s\n",
           model, sysconf(_SC_NPROCESSORS_ONLN), mode, o.workers, o.worker_threads,
           o.partitions, o.runs,
           o.kafka_start ? "a real broker started for each run" : o.kafka ? o.kafka : "embedded");
    print_report(&o, s);
    char command[2048];
    join_command(argc, argv, command, sizeof command);
    return o.json && write_json(&o, s, res, command) ? 1 : 0;
}
