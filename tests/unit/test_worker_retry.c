/* The worker's retry pacing: the backoff doubles from 10 ms to 1 s and ends with a
 * success; the failure log writes each distinct cause once per interval, a new
 * cause at once. */
#include <stdio.h>

#include "ride_test.h"
#include "retry.h"

static void test_backoff_doubles_to_its_bound(void **state)
{
    (void)state;
    ride_retry r = {0};
    assert_true(ride_retry_due(&r, 0));
    int64_t want[] = {10, 20, 40, 80, 160, 320, 640, 1000, 1000};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ride_retry_failed(&r, 5000);
        assert_int_equal(r.backoff_ms, want[i]);
        assert_false(ride_retry_due(&r, 5000 + want[i] - 1));
        assert_true(ride_retry_due(&r, 5000 + want[i]));
    }
    ride_retry_succeeded(&r);
    assert_true(ride_retry_due(&r, 0));
    ride_retry_failed(&r, 0);
    assert_int_equal(r.backoff_ms, RIDE_RETRY_MIN_MS);
}

static void test_each_cause_once_per_interval(void **state)
{
    (void)state;
    ride_failure_log l = {0};
    assert_true(ride_failure_log_warn(&l, "step_failed", "app=a", "Broker: Not leader"));
    for (int i = 0; i < 1000; i++)
        assert_false(ride_failure_log_warn(&l, "step_failed", "app=a", "Broker: Not leader"));
    /* Another reason, or the same reason for another event, is news. */
    assert_true(ride_failure_log_warn(&l, "step_failed", "app=a", "Broker: Message too large"));
    assert_true(ride_failure_log_warn(&l, "commit_failed", "app=a", "Broker: Not leader"));
    assert_false(ride_failure_log_warn(&l, "step_failed", "app=a", "Broker: Message too large"));
    /* More causes than it remembers: the least recent gives way. */
    char cause[32];
    for (int i = 0; i < RIDE_FAILURE_LOG_CAUSES; i++) {
        snprintf(cause, sizeof cause, "cause %d", i);
        assert_true(ride_failure_log_warn(&l, "step_failed", "app=a", cause));
    }
    assert_true(ride_failure_log_warn(&l, "step_failed", "app=a", "Broker: Not leader"));
    assert_false(ride_failure_log_warn(&l, "step_failed", "app=a", cause));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_doubles_to_its_bound),
        cmocka_unit_test(test_each_cause_once_per_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
