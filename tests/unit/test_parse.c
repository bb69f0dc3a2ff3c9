/* The strict integer parser (base/parse.h): the whole text must be an optional
 * sign the caller allows, then digits, within the caller's range. */
#include <stdint.h>

#include "ride_test.h"
#include "base/parse.h"

#define ANY_SIGN (RIDE_PARSE_MINUS | RIDE_PARSE_PLUS)

/* Parses with the full int64 range; *out keeps 12345 when parsing fails. */
static bool parse(const char *s, unsigned signs, int64_t *out)
{
    *out = 12345;
    return ride_parse_int64(s, signs, INT64_MIN, INT64_MAX, out);
}

static void test_digits(void **state)
{
    (void)state;
    int64_t v;
    assert_true(parse("0", 0, &v));
    assert_int_equal(v, 0);
    assert_true(parse("42", 0, &v));
    assert_int_equal(v, 42);
    assert_true(parse("007", 0, &v));
    assert_int_equal(v, 7);
}

static void test_signs_follow_the_flags(void **state)
{
    (void)state;
    int64_t v;
    assert_false(parse("-5", 0, &v));
    assert_false(parse("+5", 0, &v));
    assert_int_equal(v, 12345);

    assert_true(parse("-5", RIDE_PARSE_MINUS, &v));
    assert_int_equal(v, -5);
    assert_false(parse("+5", RIDE_PARSE_MINUS, &v));

    assert_true(parse("+5", RIDE_PARSE_PLUS, &v));
    assert_int_equal(v, 5);
    assert_false(parse("-5", RIDE_PARSE_PLUS, &v));

    assert_true(parse("-0", ANY_SIGN, &v));
    assert_int_equal(v, 0);
    assert_true(parse("+7", ANY_SIGN, &v));
    assert_int_equal(v, 7);
}

static void test_a_sign_alone_or_doubled_is_refused(void **state)
{
    (void)state;
    int64_t v;
    assert_false(parse("-", ANY_SIGN, &v));
    assert_false(parse("+", ANY_SIGN, &v));
    assert_false(parse("--5", ANY_SIGN, &v));
    assert_false(parse("+-5", ANY_SIGN, &v));
    assert_false(parse("-+5", ANY_SIGN, &v));
    assert_int_equal(v, 12345);
}

static void test_empty_is_refused(void **state)
{
    (void)state;
    int64_t v;
    assert_false(parse("", ANY_SIGN, &v));
    assert_int_equal(v, 12345);
}

static void test_trailing_junk_is_refused(void **state)
{
    (void)state;
    int64_t v;
    assert_false(parse("12abc", ANY_SIGN, &v));
    assert_false(parse("0x10", ANY_SIGN, &v));
    assert_false(parse("1e3", ANY_SIGN, &v));
    assert_false(parse("1.0", ANY_SIGN, &v));
    assert_false(parse("1_000", ANY_SIGN, &v));
    assert_false(parse("abc", ANY_SIGN, &v));
    assert_int_equal(v, 12345);
}

/* strtoll alone would skip leading white space of every kind. */
static void test_whitespace_is_refused(void **state)
{
    (void)state;
    int64_t v;
    const char *const spaced[] = {" 5", "5 ", "\t5", "\n5", "5\n", "\v5", "\f5", "\r5",
                                  "- 5", "\t-5", "\t+5", "1 2"};
    for (size_t i = 0; i < sizeof spaced / sizeof *spaced; i++) {
        assert_false(parse(spaced[i], ANY_SIGN, &v));
        assert_int_equal(v, 12345);
    }
}

static void test_overflow_is_refused(void **state)
{
    (void)state;
    int64_t v;
    assert_true(parse("9223372036854775807", 0, &v));
    assert_int_equal(v, INT64_MAX);
    assert_true(parse("-9223372036854775808", RIDE_PARSE_MINUS, &v));
    assert_true(v == INT64_MIN);
    assert_false(parse("9223372036854775808", 0, &v));
    assert_false(parse("-9223372036854775809", RIDE_PARSE_MINUS, &v));
    assert_false(parse("99999999999999999999999999", 0, &v));
    assert_int_equal(v, 12345);
}

static void test_range_is_inclusive(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_true(ride_parse_int64("1", 0, 1, 4096, &v));
    assert_int_equal(v, 1);
    assert_true(ride_parse_int64("4096", 0, 1, 4096, &v));
    assert_int_equal(v, 4096);
    assert_false(ride_parse_int64("0", 0, 1, 4096, &v));
    assert_false(ride_parse_int64("4097", 0, 1, 4096, &v));
    assert_false(ride_parse_int64("-3", RIDE_PARSE_MINUS, -2, 2, &v));
    assert_true(ride_parse_int64("-2", RIDE_PARSE_MINUS, -2, 2, &v));
    assert_int_equal(v, -2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digits),
        cmocka_unit_test(test_signs_follow_the_flags),
        cmocka_unit_test(test_a_sign_alone_or_doubled_is_refused),
        cmocka_unit_test(test_empty_is_refused),
        cmocka_unit_test(test_trailing_junk_is_refused),
        cmocka_unit_test(test_whitespace_is_refused),
        cmocka_unit_test(test_overflow_is_refused),
        cmocka_unit_test(test_range_is_inclusive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
