/* bench_pipeline.h - what the files of ride-bench-pipeline share: the options, the
 * configurations, one run's result, the cluster of one run and the measurements
 * each file adds (drain.c, compute.c, relay.c, hops.c, steps.c). */
#ifndef RIDE_BENCH_PIPELINE_H
#define RIDE_BENCH_PIPELINE_H

#include "audit.h"
#include "ride_harness.h"
#include "cluster/zk.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FRAME_SIZE 900
#define STDDEV_KSIZE 5
#define MAX_RUNS 51
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
    int threads; /* in_process kernel threads; -1: as worker_threads */
    const char *json;
    const char *kafka;  /* a real Kafka's brokers, or NULL */
    bool kafka_start;   /* start one for each run */
    bool exactly_once;  /* also run CFG_PIPELINE_EXACTLY_ONCE */
    int drain;          /* frames pre-filled and drained; 0: the paced mode */
    bool raw_input;     /* drain: the pre-filled frames are raw BGR, not JPEG */
    int python_workers; /* drain: Python worker processes; 0: no python column */
    bool hop_latency;   /* paced: time each hop from Kafka message timestamps */
} options;

enum config_kind {
    CFG_PIPELINE,
    CFG_PASSTHROUGH,
    CFG_IN_PROCESS,
    CFG_PIPELINE_EXACTLY_ONCE,
    CFG_RELAY,  /* drain: librdkafka alone through the same hops */
    CFG_PYTHON, /* drain: the Python worker */
    CFG_COUNT
};
extern const char *const ride_bench_config_names[CFG_COUNT];

/* The workers' step timers (ride_worker_step_seconds) of the two stages. */
#define BENCH_STAGES 2
#define BENCH_STEPS 9
extern const char *const ride_bench_stage_names[BENCH_STAGES];
extern const char *const ride_bench_step_names[BENCH_STEPS];

typedef struct step_means {
    double ms[BENCH_STAGES][BENCH_STEPS]; /* mean per observation; < 0: absent */
    double cpu_s;                         /* ride_worker_cpu_seconds_total; < 0: absent */
} step_means;

/* The hops a frame takes in the paced mode, timed from Kafka message timestamps. */
enum hop { HOP_PRODUCER, HOP_STAGE1, HOP_STAGE2, HOP_READER, HOP_COUNT };
extern const char *const ride_bench_hop_names[HOP_COUNT];

typedef struct hop_latency {
    double p50_ms[HOP_COUNT], p99_ms[HOP_COUNT];
    uint64_t joined; /* frames whose every timestamp was seen; 0: not measured */
} hop_latency;

/* What the compute ceiling measured per frame, CPU ms. */
typedef struct compute_cost {
    double decode_ms;  /* assembling the input messages: CRC and decode */
    double kernels_ms; /* grayscale + stddev */
    double bytes_ms;   /* one read and one write of each stage's input and output */
    double kernels_fps;
} compute_cost;

/* One measured run of one configuration. */
typedef struct run_result {
    double fps;
    double p50_ms, p99_ms; /* paced: capture to sink; in_process: per frame */
    uint64_t frames;       /* distinct frames in the window (drain: drained) */
    uint64_t gaps;         /* sequence gaps at the sink over the whole run: frames the
                              producer dropped (counted) or lost */
    uint64_t duplicates;   /* frames read twice at the sink */
    uint64_t rejected;     /* messages at the sink that made no valid frame */
    int64_t dropped;       /* the producer's counted drops (backpressure); -1: unknown */
    double cpu_ms;         /* CPU per frame of the workers (drain); < 0: not measured */
    double drain_s;        /* drain: from the workers' start to the last frame */
    compute_cost compute;  /* in_process only */
    step_means steps;
    hop_latency hops;
} run_result;

extern volatile sig_atomic_t ride_bench_interrupted;

/* Whether the frames entering the first stage are raw BGR (else JPEG): the drain
 * mode's --raw; in the paced mode the sources' encoding (cluster.c). */
static inline bool ride_bench_raw_input(const options *o)
{
    return o->drain ? o->raw_input : o->kafka || o->kafka_start;
}

/* ---- stats.c ---- */

typedef struct samples {
    double *v;
    size_t n, cap;
    bool oom;
} samples;

void ride_bench_samples_add(samples *s, double x);
/* Nearest-rank quantile of an unsorted sample (sorted in place); -1 when empty. */
double ride_bench_quantile(double *v, size_t n, double q);
/* Median of n values (n <= MAX_RUNS); values < 0 (not measured) are left out, and
 * the result is -1 when none is left. */
double ride_bench_median(const double *v, int n);
double ride_bench_mono_s(void);
/* user + system CPU seconds a process has used so far; -1 when unreadable. */
double ride_bench_proc_cpu_s(pid_t pid);

/* ---- cluster.c ---- */

typedef struct cluster {
    const options *o;
    char *dir;
    char connect[256]; /* ZooKeeper with this run's chroot */
    ride_zk *zk;
    ride_kafka_server *broker; /* started for this run (--kafka-start) */
    const char *kafka;         /* the real Kafka's brokers, or NULL: embedded */
    char app[64];
    char sink_topic[96];
    /* spec.sink.group, read and committed by the bench's sink reader; empty: none. */
    char sink_group[32];
    bool exactly_once;
    ride_proc *master;
    ride_proc *producer; /* the paced mode's; none in the drain mode */
    ride_proc **workers;
    int worker_count; /* started so far */
    uint16_t *metrics_ports;
    char worker_config[600];
    char bootstrap[512];
    char api_url[512];
    char token[64];
} cluster;

/* Starts the master (and with with_producer the producer and the workers) of a
 * fresh cluster named `name`, waiting until they have registered. */
int ride_bench_cluster_start(cluster *c, const options *o, const ride_zk_server *zk,
                             const char *name, bool with_producer);
/* Starts the workers of a cluster started without them, and waits until they
 * have registered. */
int ride_bench_cluster_start_workers(cluster *c);
void ride_bench_cluster_stop(cluster *c);
void ride_bench_cluster_print_logs(const cluster *c);
bool ride_bench_cluster_alive(cluster *c);
/* Applies the two-stage application with these tasks. */
int ride_bench_apply_manifest(cluster *c, const char *task1, const char *task2);
/* The input topic of the application's stage ("first", "second"). */
void ride_bench_stage_topic(const cluster *c, const char *stage, char *buf, size_t len);
/* Opens the sink topic's frame audit (read_committed for exactly-once), waiting
 * until the master has created the topic. */
ride_audit_reader *ride_bench_open_sink(cluster *c, ride_audit_frame_fn on_frame, void *ctx);
/* The run's application name on a real Kafka, which keeps every run's topics. */
void ride_bench_run_name(enum config_kind kind, int run, char *buf, size_t len);
/* The tasks of the two stages. */
void ride_bench_tasks(enum config_kind kind, const char **task1, const char **task2);
/* A cluster run of the paced mode. */
int ride_bench_run_paced(const options *o, const ride_zk_server *zk, enum config_kind kind,
                         int run, run_result *out);

/* ---- drain.c ---- */

/* A cluster run of the drain mode, for the RIDE configurations, the relay and the
 * Python worker. */
int ride_bench_run_drain(const options *o, const ride_zk_server *zk, enum config_kind kind,
                         int run, run_result *out);

/* ---- compute.c ---- */

/* The compute ceiling: the stages' work in this process on the frames the run
 * sends, with the workers' thread count. */
int ride_bench_run_in_process(const options *o, run_result *out);

/* The wire messages of a few distinct synthetic frames, JPEG or raw, as the
 * producer would write them; the drain mode sends copies of them. */
typedef struct frame_set {
    int count;
    struct wire_frame {
        int messages;
        uint8_t **msg;
        size_t *len;
        size_t bytes;
    } *frames;
} frame_set;

int ride_bench_frame_set_make(frame_set *s, int count, bool raw, char *err, size_t errlen);
void ride_bench_frame_set_free(frame_set *s);

/* ---- relay.c ---- */

/* The transport ceiling's process (`ride-bench-pipeline --relay ...`): moves
 * messages through the hops with librdkafka alone. Returns the exit code. */
int ride_bench_relay_main(int argc, char **argv);
/* Messages in a topic, all partitions together (sum of log ends); -1 on error. */
int64_t ride_bench_topic_messages(void *admin, const char *topic, int partitions);

/* ---- hops.c ---- */

typedef struct hop_taps hop_taps;
/* Starts one reader per topic a frame passes (stage inputs and sink) recording
 * each frame's Kafka message timestamp. */
hop_taps *ride_bench_hop_taps_start(const cluster *c);
/* Records a frame the sink reader has read (capture and read times, wall ns). */
void ride_bench_hop_taps_frame(hop_taps *t, uint32_t stream, uint64_t seq, uint64_t capture_ns,
                               int64_t read_ns);
/* Stops the readers and fills out with the hops' quantiles. */
void ride_bench_hop_taps_finish(hop_taps *t, hop_latency *out);

/* ---- steps.c ---- */

/* Scrapes every worker's /metrics for the step timers; absent ones stay < 0. */
void ride_bench_scrape_steps(const cluster *c, step_means *out);

#endif
