/* The growable buffer (base/buffer.h): content kept whole and NUL-terminated
 * across growth, limits refused without a change, capacity bounded by the limit. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "ride_test.h"
#include "base/buffer.h"

static void test_appends_grow_and_stay_terminated(void **state)
{
    (void)state;
    ride_buffer b = {0};
    char expected[10000];
    for (size_t i = 0; i < sizeof expected; i++) {
        char c = (char)('a' + i % 26);
        expected[i] = c;
        assert_int_equal(ride_buffer_append(&b, &c, 1, SIZE_MAX), 0);
        assert_int_equal(b.data[b.len], '\0');
    }
    assert_int_equal(b.len, sizeof expected);
    assert_memory_equal(b.data, expected, sizeof expected);
    assert_true(b.cap > b.len);
    /* Doubling: ten thousand one-byte appends need no more than twice the room. */
    assert_true(b.cap <= 2 * (b.len + 1));
    ride_buffer_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

static void test_nothing_appended_is_an_empty_string(void **state)
{
    (void)state;
    ride_buffer b = {0};
    assert_int_equal(ride_buffer_append(&b, "", 0, 100), 0);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    ride_buffer_free(&b);
}

static void test_limit_refuses_and_keeps_the_content(void **state)
{
    (void)state;
    ride_buffer b = {0};
    assert_int_equal(ride_buffer_append(&b, "hello", 5, 8), 0);
    errno = 0;
    assert_int_equal(ride_buffer_append(&b, "world", 5, 8), -1);
    assert_int_equal(errno, EMSGSIZE);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "hello");
    /* Exactly up to the limit is fine. */
    assert_int_equal(ride_buffer_append(&b, "abc", 3, 8), 0);
    assert_string_equal(b.data, "helloabc");
    assert_int_equal(ride_buffer_append(&b, "", 0, 8), 0);
    assert_int_equal(ride_buffer_append(&b, "x", 1, 8), -1);
    ride_buffer_free(&b);
}

static void test_capacity_never_passes_the_limit(void **state)
{
    (void)state;
    ride_buffer b = {0};
    assert_int_equal(ride_buffer_append(&b, "x", 1, 100), 0);
    assert_int_equal(b.cap, 101);
    ride_buffer_free(&b);

    char chunk[700];
    memset(chunk, 'y', sizeof chunk);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ride_buffer_append(&b, chunk, sizeof chunk, 3000), 0);
    assert_int_equal(b.len, 2800);
    assert_true(b.cap >= 2801 && b.cap <= 3001);
    ride_buffer_free(&b);
}

static void test_clear_keeps_the_memory(void **state)
{
    (void)state;
    ride_buffer b = {0};
    assert_int_equal(ride_buffer_append(&b, "first body", 10, SIZE_MAX), 0);
    char *data = b.data;
    size_t cap = b.cap;
    ride_buffer_clear(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_int_equal(ride_buffer_append(&b, "2nd", 3, SIZE_MAX), 0);
    assert_string_equal(b.data, "2nd");
    ride_buffer_free(&b);
    ride_buffer_clear(&b);
    assert_null(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_appends_grow_and_stay_terminated),
        cmocka_unit_test(test_nothing_appended_is_an_empty_string),
        cmocka_unit_test(test_limit_refuses_and_keeps_the_content),
        cmocka_unit_test(test_capacity_never_passes_the_limit),
        cmocka_unit_test(test_clear_keeps_the_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
