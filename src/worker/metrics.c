/* metrics.c - registers the worker's metric families. Label sets are fixed here:
 * a stage's families are looked up by (app, stage[, partition | reason]) in
 * stages.c, so the label order below is the order the lookups pass. */
#include "metrics.h"

#include "base/error.h"

const char *const ride_worker_transaction_outcomes[RIDE_WORKER_TRANSACTION_OUTCOMES] = {
    "committed", "aborted", "fenced"};

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
                                    "Input partitions held back because the next stage's "
                                    "backlog is full",
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
        !ms->sink_errors || !ms->paused || !ms->latency || !ms->transactions)
        return -1;
    ride_gauge_set(ride_gauge_get(ms->up, NULL, 0), 1);
    return 0;
}
