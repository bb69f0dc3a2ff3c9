/* A writer's share of a partition's budget (kafka/share.h) against librdkafka's
 * in-process mock cluster: what the mock really keeps per partition, a strict
 * share's limit, its start behind what was written before it, room coming back
 * as the reader commits, frames larger than the share, and a lenient share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ride_test_kafka.h"
#include "base/clock.h"
#include "kafka/backlog.h"
#include "kafka/kafka.h"
#include "kafka/share.h"

#define TIMEOUT_MS 10000
#define GROUP "ride.app.reader"
#define MESSAGE 100000

typedef struct fixture {
    ride_kafka_mock *mock;
    ride_kafka_producer *producer;
    ride_backlog *backlog;
    char topic[64];
    char err[512];
} fixture;

static int setup(void **state)
{
    static int topics;
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->mock = ride_test_kafka_mock();
    snprintf(fx->topic, sizeof fx->topic, "ride.app.share%d", topics++);
    ride_test_kafka_topic(fx->mock, fx->topic, 1);
    fx->producer = ride_kafka_producer_new(ride_test_kafka_conf(fx->mock, RIDE_KAFKA_PRODUCER),
                                           NULL, NULL, fx->err, sizeof fx->err);
    assert_non_null(fx->producer);
    ride_backlog_opts o = {fx->topic, GROUP, 1, 10,
                           ride_test_kafka_conf(fx->mock, RIDE_KAFKA_CONSUMER)};
    fx->backlog = ride_backlog_new(&o, fx->err, sizeof fx->err);
    if (!fx->backlog)
        fail_msg("backlog: %s", fx->err);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ride_backlog_free(fx->backlog);
    ride_kafka_producer_free(fx->producer);
    ride_kafka_mock_stop(fx->mock);
    free(fx);
    return 0;
}

static void write_messages(fixture *fx, int count, size_t size)
{
    unsigned char *buf = calloc(1, size);
    assert_non_null(buf);
    for (int i = 0; i < count; i++) {
        assert_int_equal(ride_kafka_produce_wait(fx->producer, fx->topic, 0, buf, size, NULL,
                                                 ride_clock_mono_ms() + TIMEOUT_MS, fx->err,
                                                 sizeof fx->err),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(
            ride_kafka_producer_flush(fx->producer, TIMEOUT_MS, fx->err, sizeof fx->err), 0);
    }
    free(buf);
}

static int64_t log_start(fixture *fx)
{
    int64_t low = -1, high = -1;
    assert_int_equal(ride_kafka_watermarks(ride_kafka_producer_handle(fx->producer), fx->topic,
                                           0, TIMEOUT_MS, &low, &high, fx->err, sizeof fx->err),
                     0);
    return low;
}

static void commit(fixture *fx, int64_t offset)
{
    ride_kafka_consumer *c = ride_kafka_consumer_new(
        ride_test_kafka_conf(fx->mock, RIDE_KAFKA_CONSUMER), GROUP, fx->err, sizeof fx->err);
    assert_non_null(c);
    ride_kafka_tp tp = {fx->topic, 0, offset};
    if (ride_kafka_commit(c, &tp, 1, fx->err, sizeof fx->err))
        fail_msg("commit: %s", fx->err);
    ride_kafka_consumer_free(c);
}

/* Two refreshes after now: figures read after this call. */
static void wait_refreshes(fixture *fx)
{
    int64_t end, consumed;
    uint64_t first, now;
    assert_true(ride_backlog_figures(fx->backlog, 0, &end, &consumed, &first));
    int64_t deadline = ride_clock_mono_ms() + TIMEOUT_MS;
    do {
        ride_clock_sleep_until_ns(ride_clock_mono_ns() + 2 * INT64_C(1000000));
        assert_true(ride_backlog_figures(fx->backlog, 0, &end, &consumed, &now));
    } while (now < first + 2 && ride_clock_mono_ms() < deadline);
    assert_true(now >= first + 2);
}

/* The mock keeps every message while the shares' count of them fits
 * RIDE_KAFKA_EMBEDDED_PARTITION_BYTES, and deletes unread ones once their payload
 * alone is over it: the limit and the per-message overhead hold. */
static void test_mock_keeps_what_shares_count(void **state)
{
    fixture *fx = *state;
    int fit = (int)(RIDE_KAFKA_EMBEDDED_PARTITION_BYTES / ride_share_frame_bytes(1, MESSAGE));
    write_messages(fx, fit, MESSAGE);
    assert_int_equal(log_start(fx), 0);
    int over = (int)(RIDE_KAFKA_EMBEDDED_PARTITION_BYTES / MESSAGE) + 1;
    write_messages(fx, over - fit, MESSAGE);
    assert_true(log_start(fx) > 0);
    printf("mock: %d messages of %d bytes kept, %d delete the oldest\n", fit, MESSAGE, over);
}

static void test_strict_share(void **state)
{
    fixture *fx = *state;
    write_messages(fx, 2, 100);
    ride_share *s = ride_share_new(fx->backlog, 0, 3000, true, true);
    assert_non_null(s);
    /* Full until the reader has consumed what was there when it was made. */
    wait_refreshes(fx);
    assert_int_equal(ride_share_reserve(s, 1000), RIDE_SHARE_FULL);
    commit(fx, 2);
    wait_refreshes(fx);
    assert_int_equal(ride_share_reserve(s, 1000), RIDE_SHARE_ADMITTED);
    assert_int_equal(ride_share_reserve(s, 2000), RIDE_SHARE_ADMITTED);
    assert_int_equal(ride_share_reserve(s, 1), RIDE_SHARE_FULL);
    assert_int_equal(ride_share_reserve(s, 3001), RIDE_SHARE_NEVER);
    assert_int_equal(ride_share_used(s), 3000);
    /* Delivered at offsets 2 and 3: unread until the reader commits past them. */
    ride_share_written(s, 2, 1000);
    ride_share_written(s, 3, 2000);
    wait_refreshes(fx);
    assert_int_equal(ride_share_used(s), 3000);
    commit(fx, 3);
    wait_refreshes(fx);
    assert_int_equal(ride_share_used(s), 2000);
    assert_true(ride_share_has_room(s, 1000));
    assert_false(ride_share_has_room(s, 1001));
    /* A failed frame counts until the reader is past what was written when it
     * failed (the log end is 5 by then). */
    assert_int_equal(ride_share_reserve(s, 500), RIDE_SHARE_ADMITTED);
    write_messages(fx, 3, 100);
    wait_refreshes(fx);
    ride_share_written(s, -1, 500);
    commit(fx, 4);
    wait_refreshes(fx);
    assert_int_equal(ride_share_used(s), 500);
    commit(fx, 5);
    wait_refreshes(fx);
    assert_int_equal(ride_share_used(s), 0);
    /* Restarted: full again until the reader is past the log end (5). */
    ride_share_restart(s);
    assert_int_equal(ride_share_reserve(s, 1), RIDE_SHARE_FULL);
    commit(fx, 5);
    wait_refreshes(fx);
    assert_int_equal(ride_share_reserve(s, 1), RIDE_SHARE_ADMITTED);
    ride_share_free(s);
    /* A first writer has no predecessor to wait for, only the figures. */
    write_messages(fx, 1, 100);
    s = ride_share_new(fx->backlog, 0, 3000, true, false);
    assert_int_equal(ride_share_reserve(s, 1), RIDE_SHARE_ADMITTED);
    ride_share_free(s);
    assert_int_equal(ride_share_of_budget(3000, 2), 1000);
    assert_int_equal(ride_share_of_budget(3000, 0), 1500);
}

/* Without strictness an empty share admits any one frame; without a backlog
 * only reserved bytes count. */
static void test_lenient_share(void **state)
{
    (void)state;
    ride_share *s = ride_share_new(NULL, 0, 100, false, false);
    assert_non_null(s);
    assert_int_equal(ride_share_reserve(s, 5000), RIDE_SHARE_ADMITTED);
    assert_int_equal(ride_share_reserve(s, 1), RIDE_SHARE_FULL);
    ride_share_written(s, 7, 5000);
    assert_int_equal(ride_share_used(s), 0);
    assert_int_equal(ride_share_reserve(s, 60), RIDE_SHARE_ADMITTED);
    assert_int_equal(ride_share_reserve(s, 40), RIDE_SHARE_ADMITTED);
    assert_int_equal(ride_share_reserve(s, 1), RIDE_SHARE_FULL);
    ride_share_free(s);
}

/* What the pipeline's bookkeeping asks of a share per output frame: a look for
 * room in a step before and after the frame (sync_partitions), the reservation
 * and the delivery. Printed against the 11 ms a tuned worker spends on a 900x900
 * JPEG frame (docs/performance.md), not asserted: the machine decides it. */
static void test_bookkeeping_cost(void **state)
{
    fixture *fx = *state;
    write_messages(fx, 1, 100);
    commit(fx, 1);
    wait_refreshes(fx);
    const uint64_t frame = ride_share_frame_bytes(1, 810000);
    ride_share *s = ride_share_new(fx->backlog, 0, 64 * frame, false, false);
    assert_non_null(s);
    const int frames = 200000;
    uint64_t t0 = ride_clock_mono_ns();
    int admitted = 0;
    for (int i = 0; i < frames; i++) {
        admitted += ride_share_has_room(s, frame);
        if (ride_share_reserve(s, frame) == RIDE_SHARE_ADMITTED) {
            ride_share_written(s, 1 + i, frame);
            admitted++;
        }
        admitted += ride_share_has_room(s, frame);
    }
    double ns = (double)(ride_clock_mono_ns() - t0) / frames;
    printf("share bookkeeping: %.0f ns per frame (%d admitted), %.4f %% of 11 ms\n", ns,
           admitted, ns / 11e6 * 100);
    assert_true(admitted > 0);
    ride_share_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mock_keeps_what_shares_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_share, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lenient_share, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bookkeeping_cost, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
