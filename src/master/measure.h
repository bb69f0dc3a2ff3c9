/* measure.h - the figures the master keeps per stage (docs/master.md, "Measures"):
 * the input rate, each worker's service rate and busy fraction, the lag in frames
 * and in seconds. The autoscaler decides from them.
 *
 * Pure: the master's glue (measures.c) reads Kafka's offsets and the heartbeats
 * into a sample and folds it in here, so that recorded traces test the arithmetic
 * without Kafka or ZooKeeper. Rates are per second over the readings of the last
 * RIDE_MEASURE_WINDOW_MS; a counter that went back restarted from 0. */
#ifndef RIDE_MASTER_MEASURE_H
#define RIDE_MASTER_MEASURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/cluster.h"

/* Rates span the readings of this many milliseconds before the newest one. */
#define RIDE_MEASURE_WINDOW_MS 5000
/* The input rate is unknown once the offsets are older than this. */
#define RIDE_MEASURE_STALE_MS 15000
/* Two heartbeats whose own times (the worker's wall clock) differ from the master's
 * reading times by more than this: the worker's clock stepped, and the master's
 * interval counts instead. */
#define RIDE_MEASURE_CLOCK_SLACK_MS 2000
/* Readings kept per counter: more than a window holds at the fastest heartbeat. */
#define RIDE_MEASURE_READINGS 64

/* A counter read now and then, as a rate. */
typedef struct ride_measure_counter {
    int64_t at_ms[RIDE_MEASURE_READINGS];
    double total[RIDE_MEASURE_READINGS]; /* growth since the first reading, resets undone */
    size_t count;
} ride_measure_counter;

/* Adds that the counter grew by `growth` up to at_ms; a reading not later than the
 * newest is ignored. The first reading only starts the count. */
void ride_measure_counter_add(ride_measure_counter *c, int64_t at_ms, double growth);
/* Growth per second over the window ending at the newest reading; -1 with fewer
 * than two readings. */
double ride_measure_counter_rate(const ride_measure_counter *c);
/* How much a counter read `before`, now reading `now`, grew: now - before, or all
 * of now when it went back (it restarted from 0). */
int64_t ride_measure_growth(int64_t before, int64_t now);

/* One stage partition in a worker's heartbeat. */
typedef struct ride_measure_part {
    int partition;
    int64_t epoch;
    int64_t processed; /* frames_processed: restarts at 0 when the partition is re-added */
} ride_measure_part;

/* One worker's last heartbeat, as far as the stage goes. */
typedef struct ride_measure_worker_sample {
    const char *worker;
    int64_t seen_ms; /* the master's monotonic clock when it read this heartbeat */
    int64_t ts_ms;   /* the heartbeat's own time: the worker's wall clock */
    const ride_measure_part *parts;
    size_t part_count;
    int64_t busy_ms; /* the stage's busy_ms in that heartbeat; -1: not reported */
} ride_measure_worker_sample;

/* What the master knows about a stage at one tick. */
typedef struct ride_measure_sample {
    int64_t now_ms;      /* the master's monotonic clock */
    int64_t offsets_ms;  /* when Kafka's offsets below were read (monotonic); -1: never */
    const int64_t *ends; /* log-end offset of each input partition, -1 unknown */
    size_t partition_count;
    double messages_per_frame; /* of the input topic; <= 0 unknown */
    int64_t lag_frames;        /* -1 unknown */
    /* The live workers whose heartbeat lists a partition of the stage. */
    const ride_measure_worker_sample *workers;
    size_t worker_count;
} ride_measure_sample;

/* One worker's figures for the stage; rates < 0: unknown (one heartbeat so far). */
typedef struct ride_measure_worker {
    char id[RIDE_MEMBER_ID_MAX + 1];
    size_t partitions;
    double service_fps; /* frames it processed per second */
    double busy_ratio;  /* share of its processing thread's time spent on the stage */
} ride_measure_worker;

/* The stage's figures; numbers < 0: unknown. lag_seconds is +INFINITY while frames
 * wait and the workers processed none in the window, or none serves the stage. */
typedef struct ride_measure_figures {
    double input_fps;   /* frames per second entering the input topic */
    double service_fps; /* summed over the workers with a known rate */
    double busy_ratio;  /* the mean of the workers' known busy ratios */
    int64_t lag_frames;
    double lag_seconds; /* lag_frames / service_fps; 0 while nothing waits */
    const ride_measure_worker *workers; /* by id; valid until the next update */
    size_t worker_count;
} ride_measure_figures;

typedef struct ride_measure_stage ride_measure_stage;

/* A stage measured from nothing yet; NULL when out of memory. */
ride_measure_stage *ride_measure_stage_new(void);
void ride_measure_stage_free(ride_measure_stage *s);
/* Folds one sample in. A worker missing from the sample is forgotten (its rates
 * start again from its next two heartbeats); a heartbeat already folded in adds
 * nothing. Returns 0, or -1 when out of memory (the figures are then unknown). */
int ride_measure_stage_update(ride_measure_stage *s, const ride_measure_sample *sample);
/* The figures as of the last update. */
ride_measure_figures ride_measure_stage_figures(const ride_measure_stage *s);

#endif
