/* The backlog monitor against librdkafka's in-process mock cluster: unconsumed
 * messages follow what is written and what the group commits, refreshes are
 * counted, and messages deleted by the broker's retention are not counted as
 * waiting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ride_test_kafka.h"
#include "base/clock.h"
#include "kafka/backlog.h"
#include "kafka/kafka.h"

#define TIMEOUT_MS 10000
#define TOPIC "ride.app.stage"
#define GROUP "ride.app.stage"

typedef struct fixture {
    ride_kafka_mock *mock;
    ride_kafka_producer *producer;
    ride_backlog *backlog;
    char err[512];
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->mock = ride_test_kafka_mock();
    ride_test_kafka_topic(fx->mock, TOPIC, 2);
    fx->producer =
        ride_kafka_producer_new(ride_test_kafka_conf(fx->mock, RIDE_KAFKA_PRODUCER), NULL, NULL, fx->err, sizeof fx->err);
    assert_non_null(fx->producer);
    ride_backlog_opts o = {TOPIC, GROUP, 2, 20, ride_test_kafka_conf(fx->mock, RIDE_KAFKA_CONSUMER)};
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

static void write_messages(fixture *fx, int32_t partition, int count, size_t size)
{
    unsigned char *buf = calloc(1, size);
    assert_non_null(buf);
    for (int i = 0; i < count; i++)
        assert_int_equal(ride_kafka_produce_wait(fx->producer, TOPIC, partition, buf, size, NULL,
                                                 ride_clock_mono_ms() + TIMEOUT_MS, fx->err,
                                                 sizeof fx->err),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    free(buf);
    assert_int_equal(ride_kafka_producer_flush(fx->producer, TIMEOUT_MS, fx->err, sizeof fx->err), 0);
}

static void commit(fixture *fx, int32_t partition, int64_t offset)
{
    ride_kafka_consumer *c =
        ride_kafka_consumer_new(ride_test_kafka_conf(fx->mock, RIDE_KAFKA_CONSUMER), GROUP, fx->err, sizeof fx->err);
    assert_non_null(c);
    ride_kafka_tp tp = {TOPIC, partition, offset};
    if (ride_kafka_commit(c, &tp, 1, fx->err, sizeof fx->err))
        fail_msg("commit: %s", fx->err);
    ride_kafka_consumer_free(c);
}

/* Log end minus consumed, -1 before the first refresh. */
static int64_t unconsumed(fixture *fx, int32_t partition)
{
    int64_t end, consumed;
    assert_true(ride_backlog_figures(fx->backlog, partition, &end, &consumed, NULL));
    return end < 0 || consumed < 0 ? -1 : end - consumed;
}

/* The monitor's figure for the partition reaches want within the timeout. */
static void expect_backlog(fixture *fx, int32_t partition, int64_t want)
{
    int64_t deadline = ride_clock_mono_ms() + TIMEOUT_MS;
    int64_t have;
    while ((have = unconsumed(fx, partition)) != want && ride_clock_mono_ms() < deadline)
        ride_clock_sleep_until_ns(ride_clock_mono_ns() + 5 * INT64_C(1000000));
    if (have != want)
        fail_msg("partition %d: backlog %lld, expected %lld", (int)partition, (long long)have,
                 (long long)want);
}

static void test_follows_writes_and_commits(void **state)
{
    fixture *fx = *state;
    expect_backlog(fx, 0, 0);
    write_messages(fx, 0, 10, 100);
    expect_backlog(fx, 0, 10);
    expect_backlog(fx, 1, 0);
    commit(fx, 0, 4);
    expect_backlog(fx, 0, 6);
    commit(fx, 0, 10);
    expect_backlog(fx, 0, 0);
    assert_int_equal(ride_backlog_errors(fx->backlog), 0);
}

/* A refresh published after a caller looked reads the log end that caller
 * waits for. */
static void test_refreshes_are_counted(void **state)
{
    fixture *fx = *state;
    expect_backlog(fx, 1, 0);
    int64_t end, consumed;
    uint64_t before, after;
    write_messages(fx, 1, 3, 100);
    assert_true(ride_backlog_figures(fx->backlog, 1, &end, &consumed, &before));
    int64_t deadline = ride_clock_mono_ms() + TIMEOUT_MS;
    do {
        ride_clock_sleep_until_ns(ride_clock_mono_ns() + 5 * INT64_C(1000000));
        assert_true(ride_backlog_figures(fx->backlog, 1, &end, &consumed, &after));
    } while (after < before + 2 && ride_clock_mono_ms() < deadline);
    assert_true(after >= before + 2);
    assert_int_equal(end - consumed, 3);
    assert_false(ride_backlog_figures(fx->backlog, 2, &end, &consumed, NULL));
    assert_false(ride_backlog_figures(fx->backlog, -1, &end, &consumed, NULL));
}

/* The mock keeps about 5 MB per partition: 12 MB written after a commit at 0
 * leaves the committed offset below the log start. */
static void test_deleted_messages_are_not_waiting(void **state)
{
    fixture *fx = *state;
    commit(fx, 0, 0);
    write_messages(fx, 0, 60, 200000);
    rd_kafka_t *rk = ride_kafka_producer_handle(fx->producer);
    int64_t low = -1, high = -1;
    assert_int_equal(ride_kafka_watermarks(rk, TOPIC, 0, TIMEOUT_MS, &low, &high, fx->err,
                                           sizeof fx->err), 0);
    assert_true(low > 0);
    expect_backlog(fx, 0, high - low);
}

static void test_rejects_bad_options(void **state)
{
    fixture *fx = *state;
    char err[256] = "";
    ride_backlog_opts o = {TOPIC, GROUP, 0, 0, ride_test_kafka_conf(fx->mock, RIDE_KAFKA_CONSUMER)};
    assert_null(ride_backlog_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "partitions"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_follows_writes_and_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refreshes_are_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_messages_are_not_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejects_bad_options, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
