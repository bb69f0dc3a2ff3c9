/* Structured logs: level names, quoting of values, and the throttle that keeps
 * events repeating with every frame to one line per interval. */
#include <string.h>

#include "ride_test.h"
#include "base/clock.h"
#include "base/failure_log.h"
#include "base/log.h"

static void test_level_names(void **state)
{
    (void)state;
    ride_log_level l;
    assert_int_equal(ride_log_level_parse("warn", &l), 0);
    assert_int_equal(l, RIDE_LOG_WARN);
    assert_int_equal(ride_log_level_parse("debug", &l), 0);
    assert_int_equal(l, RIDE_LOG_DEBUG);
    assert_int_equal(ride_log_level_parse("verbose", &l), -1);
}

static void test_quote_escapes(void **state)
{
    (void)state;
    char buf[64];
    /* A control character becomes a space: a value never breaks its line. */
    assert_string_equal(ride_log_quote("a \"b\"\\c\nd", buf, sizeof buf), "\"a \\\"b\\\"\\\\c d\"");
    /* Truncated values stay quoted. */
    char small[8];
    const char *q = ride_log_quote("abcdefghijkl", small, sizeof small);
    assert_int_equal(q[0], '"');
    assert_int_equal(q[strlen(q) - 1], '"');
}

static void test_throttle_counts_what_it_holds(void **state)
{
    (void)state;
    ride_log_throttle t = {0};
    uint64_t suppressed = 99;
    assert_true(ride_log_throttle_pass(&t, 50, &suppressed));
    assert_int_equal(suppressed, 0);
    int held = 0;
    while (!ride_log_throttle_pass(&t, 50, &suppressed)) {
        held++;
        ride_clock_sleep_until_ns(ride_clock_mono_ns() + 1000000);
        assert_true(held < 1000);
    }
    /* Every attempt that did not pass is reported by the one that did. */
    assert_true(held >= 1);
    assert_int_equal(suppressed, (uint64_t)held);
    assert_false(ride_log_throttle_pass(&t, 50, &suppressed));
}

/* A full table forgets the cause seen least recently: it passes again at once,
 * while the one seen since is still held back. */
static void test_cause_table_forgets_least_recent(void **state)
{
    (void)state;
    ride_failure_cause slots[2] = {0};
    ride_cause_table t = {slots, 2, 0};
    uint64_t suppressed = 0;
    assert_true(ride_cause_pass(&t, "a", 60000, &suppressed));
    assert_true(ride_cause_pass(&t, "b", 60000, &suppressed));
    assert_false(ride_cause_pass(&t, "a", 60000, &suppressed));
    assert_false(ride_cause_pass(&t, "b", 60000, &suppressed));
    assert_false(ride_cause_pass(&t, "a", 60000, &suppressed));
    assert_true(ride_cause_pass(&t, "c", 60000, &suppressed)); /* takes b's place */
    assert_false(ride_cause_pass(&t, "a", 60000, &suppressed));
    assert_true(ride_cause_pass(&t, "b", 60000, &suppressed)); /* forgotten: afresh */
    assert_int_equal(suppressed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_names),
        cmocka_unit_test(test_quote_escapes),
        cmocka_unit_test(test_throttle_counts_what_it_holds),
        cmocka_unit_test(test_cause_table_forgets_least_recent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
