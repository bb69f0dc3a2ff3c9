/* The worker's stall test (watchdog.h): a progress mark that stands still counts
 * only while the thread has work, and only from the last look that saw it move. */
#include "ride_test.h"
#include "watchdog.h"

static void test_moving_thread_never_stalls(void **state)
{
    (void)state;
    ride_worker_watchdog w = {0};
    for (int64_t t = 0; t < 100000; t += 1000)
        assert_int_equal(ride_worker_watchdog_look(&w, (uint64_t)t, true, t), 0);
}

static void test_still_mark_with_work_counts_from_the_last_move(void **state)
{
    (void)state;
    ride_worker_watchdog w = {0};
    assert_int_equal(ride_worker_watchdog_look(&w, 7, true, 1000), 0);
    assert_int_equal(ride_worker_watchdog_look(&w, 8, true, 2000), 0);
    assert_int_equal(ride_worker_watchdog_look(&w, 8, true, 2500), 500);
    assert_int_equal(ride_worker_watchdog_look(&w, 8, true, 32000), 30000);
    /* It moves again: healthy. */
    assert_int_equal(ride_worker_watchdog_look(&w, 9, true, 33000), 0);
    assert_int_equal(ride_worker_watchdog_look(&w, 9, true, 33100), 100);
}

static void test_still_mark_without_work_is_idle(void **state)
{
    (void)state;
    ride_worker_watchdog w = {0};
    assert_int_equal(ride_worker_watchdog_look(&w, 3, false, 0), 0);
    assert_int_equal(ride_worker_watchdog_look(&w, 3, false, 60000), 0);
    /* Work arrives for a thread stuck while idle: counted from then on. */
    assert_int_equal(ride_worker_watchdog_look(&w, 3, true, 61000), 1000);
    assert_int_equal(ride_worker_watchdog_look(&w, 3, true, 64000), 4000);
    /* The work goes away (moved to another worker): idle again. */
    assert_int_equal(ride_worker_watchdog_look(&w, 3, false, 65000), 0);
    assert_int_equal(ride_worker_watchdog_look(&w, 3, true, 65500), 500);
}

static void test_first_look_starts_the_clock(void **state)
{
    (void)state;
    ride_worker_watchdog w = {0};
    /* A mark of 0 at the first look is not "unchanged since time 0". */
    assert_int_equal(ride_worker_watchdog_look(&w, 0, true, 50000), 0);
    assert_int_equal(ride_worker_watchdog_look(&w, 0, true, 52000), 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moving_thread_never_stalls),
        cmocka_unit_test(test_still_mark_with_work_counts_from_the_last_move),
        cmocka_unit_test(test_still_mark_without_work_is_idle),
        cmocka_unit_test(test_first_look_starts_the_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
