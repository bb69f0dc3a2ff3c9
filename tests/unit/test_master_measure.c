/* test_master_measure.c - the master's per-stage measures (src/master/measure.h) on
 * recorded traces of log-end offsets and heartbeats: rates over the window, the first
 * sample, counter resets when a partition moves or a worker restarts, clock steps,
 * the busy fraction and lag in seconds with no service. */
#include "ride_test.h"

#include <math.h>
#include <string.h>

#include "measure.h"

#define TOLERANCE 1e-9

/* A stage with one worker "w1" owning partitions 0 and 1, and two input partitions. */
typedef struct trace {
    ride_measure_stage *stage;
    int64_t ends[2];
    ride_measure_part parts[2];
    ride_measure_worker_sample worker;
    ride_measure_sample sample;
} trace;

static void trace_init(trace *t)
{
    memset(t, 0, sizeof *t);
    t->stage = ride_measure_stage_new();
    assert_non_null(t->stage);
    t->parts[0] = (ride_measure_part){0, 1, 0};
    t->parts[1] = (ride_measure_part){1, 1, 0};
    t->worker = (ride_measure_worker_sample){"w1", 0, 1700000000000, t->parts, 2, 0};
    t->sample = (ride_measure_sample){0, 0, t->ends, 2, 1.0, 0, &t->worker, 1};
}

/* Advances every clock by ms: both partitions get `in` messages each and the worker
 * processes `done` frames of each, busy for busy_ms, and reports it. */
static ride_measure_figures trace_step(trace *t, int64_t ms, int64_t in, int64_t done,
                                       int64_t busy_ms)
{
    t->sample.now_ms += ms;
    t->sample.offsets_ms = t->sample.now_ms;
    t->ends[0] += in;
    t->ends[1] += in;
    t->parts[0].processed += done;
    t->parts[1].processed += done;
    t->worker.seen_ms = t->sample.now_ms;
    t->worker.ts_ms += ms;
    t->worker.busy_ms += busy_ms;
    assert_int_equal(ride_measure_stage_update(t->stage, &t->sample), 0);
    return ride_measure_stage_figures(t->stage);
}

static void test_counter_window(void **state)
{
    (void)state;
    ride_measure_counter c = {0};
    assert_true(ride_measure_counter_rate(&c) < 0);
    ride_measure_counter_add(&c, 1000, 99); /* the first reading only starts the count */
    assert_true(ride_measure_counter_rate(&c) < 0);
    ride_measure_counter_add(&c, 2000, 10);
    assert_float_equal(ride_measure_counter_rate(&c), 10.0, TOLERANCE);
    ride_measure_counter_add(&c, 2000, 500); /* not later: ignored */
    ride_measure_counter_add(&c, 1500, 500);
    assert_float_equal(ride_measure_counter_rate(&c), 10.0, TOLERANCE);
    /* A burst long ago leaves the window: 30/s for 10 s, then 2/s for 10 s. */
    for (int64_t at = 3000; at <= 12000; at += 1000)
        ride_measure_counter_add(&c, at, 30);
    for (int64_t at = 13000; at <= 22000; at += 1000)
        ride_measure_counter_add(&c, at, 2);
    assert_float_equal(ride_measure_counter_rate(&c), 2.0, TOLERANCE);
    assert_true(c.at_ms[0] >= 22000 - RIDE_MEASURE_WINDOW_MS - 1000);
    /* A reading every millisecond: the oldest go, the rate stays right. */
    for (int64_t at = 22001; at <= 22000 + 2 * RIDE_MEASURE_READINGS; at++)
        ride_measure_counter_add(&c, at, 0.004);
    assert_int_equal(c.count, RIDE_MEASURE_READINGS);
    assert_float_equal(ride_measure_counter_rate(&c), 4.0, 1e-6);
}

static void test_growth_resets(void **state)
{
    (void)state;
    assert_int_equal(ride_measure_growth(100, 130), 30);
    assert_int_equal(ride_measure_growth(100, 100), 0);
    assert_int_equal(ride_measure_growth(100, 7), 7); /* restarted from 0 */
}

static void test_first_sample_unknown(void **state)
{
    (void)state;
    trace t;
    trace_init(&t);
    ride_measure_figures f = ride_measure_stage_figures(t.stage);
    assert_true(f.input_fps < 0 && f.service_fps < 0 && f.lag_seconds < 0);
    t.sample.lag_frames = 4;
    f = trace_step(&t, 1000, 10, 10, 0);
    assert_true(f.input_fps < 0);
    assert_true(f.service_fps < 0); /* a worker measured once: not yet */
    assert_true(f.busy_ratio < 0);
    assert_true(f.lag_seconds < 0); /* frames wait, the service is unknown */
    assert_int_equal(f.lag_frames, 4);
    assert_int_equal(f.worker_count, 1);
    assert_string_equal(f.workers[0].id, "w1");
    assert_int_equal(f.workers[0].partitions, 2);
    ride_measure_stage_free(t.stage);
}

static void test_steady_rates(void **state)
{
    (void)state;
    trace t;
    trace_init(&t);
    t.sample.lag_frames = 12;
    ride_measure_figures f = {0};
    /* 2 x 15 frames/s in, 2 x 10 frames/s out, busy 800 ms of each second. */
    for (int i = 0; i < 20; i++)
        f = trace_step(&t, 1000, 15, 10, 800);
    assert_float_equal(f.input_fps, 30.0, TOLERANCE);
    assert_float_equal(f.service_fps, 20.0, TOLERANCE);
    assert_float_equal(f.workers[0].service_fps, 20.0, TOLERANCE);
    assert_float_equal(f.workers[0].busy_ratio, 0.8, TOLERANCE);
    assert_float_equal(f.busy_ratio, 0.8, TOLERANCE);
    assert_float_equal(f.lag_seconds, 12.0 / 20.0, TOLERANCE);
    /* Frames in several messages each: the offsets count messages. */
    t.sample.messages_per_frame = 3;
    f = trace_step(&t, 1000, 15, 10, 800);
    assert_float_equal(f.input_fps, 10.0, TOLERANCE);
    t.sample.messages_per_frame = 0;
    f = trace_step(&t, 1000, 15, 10, 800);
    assert_true(f.input_fps < 0);
    for (int i = 0; i < 6; i++)
        f = trace_step(&t, 1000, 0, 0, 0);
    assert_float_equal(f.input_fps, 0.0, TOLERANCE); /* nothing comes: 0 in any unit */
    ride_measure_stage_free(t.stage);
}

static void test_stale_offsets(void **state)
{
    (void)state;
    trace t;
    trace_init(&t);
    ride_measure_figures f = {0};
    for (int i = 0; i < 5; i++)
        f = trace_step(&t, 1000, 10, 10, 0);
    assert_float_equal(f.input_fps, 20.0, TOLERANCE);
    /* Kafka stops answering: the last offsets age out. */
    int64_t read_at = t.sample.offsets_ms;
    t.sample.now_ms += RIDE_MEASURE_STALE_MS + 1;
    t.sample.offsets_ms = read_at;
    assert_int_equal(ride_measure_stage_update(t.stage, &t.sample), 0);
    assert_true(ride_measure_stage_figures(t.stage).input_fps < 0);
    ride_measure_stage_free(t.stage);
}

static void test_partition_unread_once(void **state)
{
    (void)state;
    trace t;
    trace_init(&t);
    for (int i = 0; i < 3; i++)
        trace_step(&t, 1000, 10, 10, 0);
    /* Partition 1's offset is unknown for one refresh: its growth counts at the next. */
    int64_t end1 = t.ends[1];
    t.sample.now_ms += 1000;
    t.sample.offsets_ms = t.sample.now_ms;
    t.ends[0] += 10;
    t.ends[1] = -1;
    assert_int_equal(ride_measure_stage_update(t.stage, &t.sample), 0);
    t.ends[1] = end1 + 10;
    ride_measure_figures f = trace_step(&t, 1000, 10, 10, 0);
    assert_float_equal(f.input_fps, 20.0, TOLERANCE);
    ride_measure_stage_free(t.stage);
}

/* Partition 1 moves from w1 to w2 (a new epoch, counted from 0 there); neither the
 * stage's rate nor w1's jumps. */
static void test_partition_moves(void **state)
{
    (void)state;
    trace t;
    trace_init(&t);
    for (int i = 0; i < 10; i++)
        trace_step(&t, 1000, 10, 10, 0);
    ride_measure_part w2_parts[1] = {{1, 2, 0}};
    ride_measure_worker_sample workers[2] = {t.worker, {"w2", 0, 5000, w2_parts, 1, -1}};
    t.sample.workers = workers;
    t.sample.worker_count = 2;
    ride_measure_figures f = {0};
    for (int i = 0; i < 10; i++) {
        t.sample.now_ms += 1000;
        t.sample.offsets_ms = t.sample.now_ms;
        t.ends[0] += 10;
        t.ends[1] += 10;
        t.parts[0].processed += 10;
        w2_parts[0].processed += 10;
        workers[0].parts = t.parts;
        workers[0].part_count = 1; /* w1 keeps partition 0 only */
        workers[0].seen_ms = workers[1].seen_ms = t.sample.now_ms;
        workers[0].ts_ms += 1000;
        workers[1].ts_ms += 1000;
        assert_int_equal(ride_measure_stage_update(t.stage, &t.sample), 0);
        f = ride_measure_stage_figures(t.stage);
        if (i == 0) /* w2 is new: measured from its second heartbeat */
            assert_true(f.workers[1].service_fps < 0);
    }
    assert_int_equal(f.worker_count, 2);
    assert_string_equal(f.workers[0].id, "w1");
    assert_string_equal(f.workers[1].id, "w2");
    assert_float_equal(f.workers[0].service_fps, 10.0, TOLERANCE);
    assert_float_equal(f.workers[1].service_fps, 10.0, TOLERANCE);
    assert_true(f.workers[1].busy_ratio < 0); /* w2 does not report busy_ms */
    assert_float_equal(f.service_fps, 20.0, TOLERANCE);
    assert_float_equal(f.input_fps, 20.0, TOLERANCE);
    /* Partition 1 moves back to w1 under epoch 3, counted from 0 again. */
    t.parts[1] = (ride_measure_part){1, 3, 4};
    workers[0].part_count = 2;
    t.sample.worker_count = 1;
    t.sample.now_ms += 1000;
    workers[0].seen_ms = t.sample.now_ms;
    workers[0].ts_ms += 1000;
    t.parts[0].processed += 10;
    assert_int_equal(ride_measure_stage_update(t.stage, &t.sample), 0);
    f = ride_measure_stage_figures(t.stage);
    assert_int_equal(f.worker_count, 1);
    assert_true(f.workers[0].service_fps > 10.0 && f.workers[0].service_fps < 11.0);
    ride_measure_stage_free(t.stage);
}

/* The worker restarts under the same id: every counter starts at 0 again. */
static void test_worker_restarts(void **state)
{
    (void)state;
    trace t;
    trace_init(&t);
    ride_measure_figures f = {0};
    for (int i = 0; i < 10; i++)
        f = trace_step(&t, 1000, 10, 10, 500);
    t.parts[0].processed = t.parts[1].processed = 0;
    t.worker.busy_ms = 0;
    for (int i = 0; i < 6; i++) {
        f = trace_step(&t, 1000, 10, 10, 500);
        assert_float_equal(f.workers[0].service_fps, 20.0, TOLERANCE);
        assert_float_equal(f.workers[0].busy_ratio, 0.5, TOLERANCE);
    }
    ride_measure_stage_free(t.stage);
}

/* The worker's wall clock steps back an hour, then forward a day: its intervals
 * are replaced by the master's for that heartbeat. */
static void test_clock_steps(void **state)
{
    (void)state;
    trace t;
    trace_init(&t);
    ride_measure_figures f = {0};
    for (int i = 0; i < 6; i++)
        f = trace_step(&t, 1000, 10, 10, 250);
    t.worker.ts_ms -= 3600 * 1000;
    f = trace_step(&t, 1000, 10, 10, 250);
    assert_float_equal(f.workers[0].service_fps, 20.0, TOLERANCE);
    assert_float_equal(f.workers[0].busy_ratio, 0.25, TOLERANCE);
    t.worker.ts_ms += 86400 * 1000;
    f = trace_step(&t, 1000, 10, 10, 250);
    assert_float_equal(f.workers[0].service_fps, 20.0, TOLERANCE);
    /* The worker's own intervals count when they agree within the slack: beats seen
     * 1.5 s and 0.5 s apart, written 1 s apart each. */
    t.worker.ts_ms += 1000;
    t.parts[0].processed += 10;
    t.parts[1].processed += 10;
    t.worker.seen_ms += 1500;
    t.sample.now_ms = t.worker.seen_ms;
    assert_int_equal(ride_measure_stage_update(t.stage, &t.sample), 0);
    t.worker.ts_ms += 1000;
    t.parts[0].processed += 10;
    t.parts[1].processed += 10;
    t.worker.seen_ms += 500;
    t.sample.now_ms = t.worker.seen_ms;
    assert_int_equal(ride_measure_stage_update(t.stage, &t.sample), 0);
    assert_float_equal(ride_measure_stage_figures(t.stage).workers[0].service_fps, 20.0,
                       TOLERANCE);
    ride_measure_stage_free(t.stage);
}

static void test_same_heartbeat_twice(void **state)
{
    (void)state;
    trace t;
    trace_init(&t);
    for (int i = 0; i < 6; i++)
        trace_step(&t, 1000, 10, 10, 100);
    /* Ticks without a new heartbeat (seen_ms and ts_ms unchanged) add nothing. */
    for (int i = 0; i < 3; i++) {
        t.sample.now_ms += 300;
        assert_int_equal(ride_measure_stage_update(t.stage, &t.sample), 0);
    }
    ride_measure_figures f = ride_measure_stage_figures(t.stage);
    assert_float_equal(f.workers[0].service_fps, 20.0, TOLERANCE);
    assert_float_equal(f.workers[0].busy_ratio, 0.1, TOLERANCE);
    ride_measure_stage_free(t.stage);
}

static void test_lag_seconds(void **state)
{
    (void)state;
    trace t;
    trace_init(&t);
    ride_measure_figures f = {0};
    for (int i = 0; i < 6; i++)
        f = trace_step(&t, 1000, 10, 0, 0);
    assert_float_equal(f.service_fps, 0.0, TOLERANCE);
    assert_float_equal(f.busy_ratio, 0.0, TOLERANCE);
    assert_float_equal(f.lag_seconds, 0.0, TOLERANCE); /* nothing waits */
    t.sample.lag_frames = 60;
    f = trace_step(&t, 1000, 10, 0, 0);
    assert_true(isinf(f.lag_seconds) && f.lag_seconds > 0); /* waits, never served */
    t.sample.lag_frames = -1;
    f = trace_step(&t, 1000, 10, 0, 0);
    assert_true(f.lag_seconds < 0);
    /* No worker serves the stage: frames wait for ever. */
    t.sample.worker_count = 0;
    t.sample.lag_frames = 5;
    f = trace_step(&t, 1000, 10, 0, 0);
    assert_int_equal(f.worker_count, 0);
    assert_float_equal(f.service_fps, 0.0, TOLERANCE);
    assert_true(f.busy_ratio < 0);
    assert_true(isinf(f.lag_seconds));
    /* It comes back: forgotten, so measured afresh from its next two heartbeats. */
    t.sample.worker_count = 1;
    f = trace_step(&t, 1000, 10, 10, 0);
    assert_true(f.service_fps < 0 && f.lag_seconds < 0);
    f = trace_step(&t, 1000, 10, 10, 0);
    assert_float_equal(f.service_fps, 20.0, TOLERANCE);
    assert_float_equal(f.lag_seconds, 0.25, TOLERANCE);
    ride_measure_stage_free(t.stage);
}

/* The stage's partition count changes (a re-applied manifest): counted afresh. */
static void test_partition_count_changes(void **state)
{
    (void)state;
    trace t;
    trace_init(&t);
    for (int i = 0; i < 6; i++)
        trace_step(&t, 1000, 10, 10, 0);
    t.sample.partition_count = 1;
    ride_measure_figures f = trace_step(&t, 1000, 10, 10, 0);
    assert_true(f.input_fps < 0);
    f = trace_step(&t, 1000, 10, 10, 0);
    assert_float_equal(f.input_fps, 10.0, TOLERANCE);
    ride_measure_stage_free(t.stage);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_window),
        cmocka_unit_test(test_growth_resets),
        cmocka_unit_test(test_first_sample_unknown),
        cmocka_unit_test(test_steady_rates),
        cmocka_unit_test(test_stale_offsets),
        cmocka_unit_test(test_partition_unread_once),
        cmocka_unit_test(test_partition_moves),
        cmocka_unit_test(test_worker_restarts),
        cmocka_unit_test(test_clock_steps),
        cmocka_unit_test(test_same_heartbeat_twice),
        cmocka_unit_test(test_lag_seconds),
        cmocka_unit_test(test_partition_count_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
