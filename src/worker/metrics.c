/* metrics.c - registers the worker's metric families. Label sets are fixed here:
 * a stage's families are looked up by (app, stage[, partition | reason]) in
 * stages.c, so the label order below is the order the lookups pass. */
#include "metrics.h"

#include "base/clock.h"
#include "base/error.h"

const char *const ride_worker_transaction_outcomes[RIDE_WORKER_TRANSACTION_OUTCOMES] = {
    "committed", "aborted", "fenced"};

/* A 1-2-5 series: a checksum of a small frame takes tens of microseconds, a JPEG
 * decode milliseconds, a commit on a slow broker hundreds of milliseconds. */
static const double step_buckets[] = {25e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3,
                                      2e-3,  5e-3,  10e-3,  20e-3,  50e-3,  100e-3,
                                      200e-3, 500e-3, 1.0,  2.0};

const double *ride_worker_step_buckets(size_t *n)
{
    *n = sizeof step_buckets / sizeof step_buckets[0];
    return step_buckets;
}

static void collect_cpu(ride_metric_family *fam, void *ctx)
{
    (void)ctx;
    ride_counter_set(ride_counter_get(fam, NULL, 0), (uint64_t)ride_clock_process_cpu_ns());
}

/* Per-step seconds of a frame, and the process's CPU time beside them. */
static int register_steps(ride_worker_metrics *ms, char *err, size_t errlen)
{
    static const char *const step_labels[] = {"app", "stage", "step"};
    size_t n_buckets;
    const double *buckets = ride_worker_step_buckets(&n_buckets);
    ms->steps = ride_metrics_histogram(
        ms->reg, "ride_worker_step_seconds",
        "Seconds a frame spent in each step of a stage: fetch, assemble, checksum, decode, "
        "kernel, encode, produce, delivery; commit per commit call",
        step_labels, 3, buckets, n_buckets, err, errlen);
    ms->cpu = ride_metrics_counter_seconds(ms->reg, "ride_worker_cpu_seconds_total",
                                           "CPU seconds of the worker process, every thread",
                                           NULL, 0, err, errlen);
    if (!ms->steps || !ms->cpu)
        return -1;
    ride_metric_family_set_collect(ms->cpu, collect_cpu, NULL);
    return 0;
}

int ride_worker_metrics_init(ride_worker_metrics *ms, char *err, size_t errlen)
{
    static const char *const part_labels[] = {"app", "stage", "partition"};
    static const char *const drop_labels[] = {"app", "stage", "reason"};
    ms->reg = ride_metrics_new();
    if (!ms->reg)
        return ride_set_error(err, errlen, "out of memory");
    ms->up = ride_metrics_gauge(ms->reg, "ride_worker_up", "1 while the worker runs", NULL, 0,
                                err, errlen);
    ms->owned = ride_metrics_gauge(ms->reg, "ride_worker_owned_partitions",
                                   "Stage partitions this worker runs now", NULL, 0, err, errlen);
    ms->processed = ride_metrics_counter(ms->reg, "ride_frames_processed_total",
                                         "Frames whose output was durably written", part_labels,
                                         3, err, errlen);
    ms->messages_written = ride_metrics_counter(
        ms->reg, "ride_messages_written_total",
        "Kafka messages (frame chunks) of the outputs durably written to the next topic",
        part_labels, 3, err, errlen);
    ms->dropped = ride_metrics_counter(ms->reg, "ride_frames_dropped_total",
                                       "Frames dropped, by reason", drop_labels, 3, err, errlen);
    ms->sink_errors = ride_metrics_counter(ms->reg, "ride_worker_sink_errors_total",
                                           "Failed writes of the files sink, by reason",
                                           drop_labels, 3, err, errlen);
    ms->paused = ride_metrics_gauge(ms->reg, "ride_worker_paused_partitions",
                                    "Input partitions held back because the group reading "
                                    "their output (the next stage, or spec.sink.group) is a "
                                    "full backlog behind",
                                    drop_labels, 2, err, errlen);
    size_t n_buckets;
    const double *buckets = ride_metrics_latency_buckets(&n_buckets);
    ms->latency = ride_metrics_histogram(ms->reg, "ride_frame_latency_seconds",
                                         "Seconds from a frame's capture to the end of this "
                                         "stage's task on it",
                                         drop_labels, 2, buckets, n_buckets, err, errlen);
    static const char *const txn_labels[] = {"app", "stage", "outcome"};
    ms->transactions = ride_metrics_counter(
        ms->reg, "ride_worker_transactions_total",
        "Kafka transactions of exactly-once stages, by outcome: committed, aborted (the "
        "partition re-reads from its committed offset), fenced (a newer owner took the "
        "partition over)",
        txn_labels, 3, err, errlen);
    if (!ms->up || !ms->owned || !ms->processed || !ms->messages_written || !ms->dropped ||
        !ms->sink_errors || !ms->paused || !ms->latency || !ms->transactions ||
        register_steps(ms, err, errlen) != 0)
        return -1;
    ride_gauge_set(ride_gauge_get(ms->up, NULL, 0), 1);
    return 0;
}
