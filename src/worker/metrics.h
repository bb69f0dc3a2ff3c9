/* metrics.h - the worker's /metrics families (docs/metrics.md). The stages update
 * them from the processing thread; the registry serves them from the loop. */
#ifndef RIDE_WORKER_METRICS_H
#define RIDE_WORKER_METRICS_H

#include <stddef.h>

#include "http/metrics.h"

typedef struct ride_worker_metrics {
    ride_metrics *reg;
    ride_metric_family *up;
    ride_metric_family *owned;
    ride_metric_family *processed;
    ride_metric_family *messages_written;
    ride_metric_family *dropped;
    ride_metric_family *sink_errors;
    ride_metric_family *paused;
    ride_metric_family *latency;
    ride_metric_family *transactions;
    ride_metric_family *steps; /* labels app, stage, step (ride_pipeline_step_name) */
    ride_metric_family *cpu;
} ride_worker_metrics;

/* The outcome label of ride_worker_transactions_total, in this order. */
#define RIDE_WORKER_TRANSACTION_OUTCOMES 3
extern const char *const ride_worker_transaction_outcomes[RIDE_WORKER_TRANSACTION_OUTCOMES];

/* Bounds of ride_worker_step_seconds: 25 us .. 2 s, about doubling (their number
 * in *n). */
const double *ride_worker_step_buckets(size_t *n);

/* Registers every family in a new registry (ms->reg, for ride_metrics_free) and
 * sets ride_worker_up to 1; ride_worker_cpu_seconds_total reads the process's CPU
 * time at each scrape. 0, or -1 with err filled. */
int ride_worker_metrics_init(ride_worker_metrics *ms, char *err, size_t errlen);

#endif
