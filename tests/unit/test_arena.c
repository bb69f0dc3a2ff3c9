/* The arena (base/arena.h): zeroed, aligned allocations that stay valid and
 * separate until the one ride_arena_free(). */
#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "ride_test.h"
#include "base/arena.h"

static bool is_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i])
            return false;
    }
    return true;
}

/* Fills and frees an arena, so that the next one likely gets dirty memory back. */
static void dirty_the_heap(void)
{
    ride_arena *a = ride_arena_new();
    for (size_t size = 0; size < 300; size += 7)
        memset(ride_arena_alloc(a, size), 0xab, size);
    ride_arena_free(a);
}

static void test_allocations_are_zeroed_and_aligned(void **state)
{
    (void)state;
    dirty_the_heap();
    ride_arena *a = ride_arena_new();
    assert_non_null(a);
    for (size_t size = 0; size < 300; size += 7) {
        unsigned char *p = ride_arena_alloc(a, size);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
        assert_true(is_zero(p, size));
        memset(p, 0xab, size);
    }
    ride_arena_free(a);
}

/* Many blocks' worth of allocations, each filled with its own byte: none may
 * overlap another, across block boundaries included. */
static void test_allocations_do_not_overlap(void **state)
{
    (void)state;
    ride_arena *a = ride_arena_new();
    enum { COUNT = 2000 };
    unsigned char *ptrs[COUNT];
    size_t sizes[COUNT];
    for (size_t i = 0; i < COUNT; i++) {
        sizes[i] = (i * 37) % 200;
        ptrs[i] = ride_arena_alloc(a, sizes[i]);
        assert_non_null(ptrs[i]);
        memset(ptrs[i], (int)(i & 0xff), sizes[i]);
    }
    for (size_t i = 0; i < COUNT; i++) {
        for (size_t j = 0; j < sizes[i]; j++)
            assert_int_equal(ptrs[i][j], i & 0xff);
    }
    unsigned char *empty1 = ride_arena_alloc(a, 0);
    unsigned char *empty2 = ride_arena_alloc(a, 0);
    assert_non_null(empty1);
    assert_ptr_not_equal(empty1, empty2);
    ride_arena_free(a);
}

static void test_a_request_larger_than_a_block_fits(void **state)
{
    (void)state;
    ride_arena *a = ride_arena_new();
    char *small = ride_arena_strdup(a, "before");
    size_t big = (size_t)1 << 20;
    unsigned char *p = ride_arena_alloc(a, big);
    assert_non_null(p);
    assert_true(is_zero(p, big));
    memset(p, 0xff, big);
    char *after = ride_arena_strdup(a, "after");
    assert_string_equal(small, "before");
    assert_string_equal(after, "after");
    ride_arena_free(a);
}

static void test_arrays_refuse_overflow(void **state)
{
    (void)state;
    ride_arena *a = ride_arena_new();
    assert_null(ride_arena_array(a, SIZE_MAX / 2 + 1, 2));
    assert_null(ride_arena_alloc(a, SIZE_MAX));
    assert_null(ride_arena_alloc(a, SIZE_MAX - 8));
    int *ints = ride_arena_array(a, 100, sizeof *ints);
    assert_non_null(ints);
    assert_true(is_zero((const unsigned char *)ints, 100 * sizeof *ints));
    assert_non_null(ride_arena_array(a, 0, 8));
    ride_arena_free(a);
}

static void test_string_copies(void **state)
{
    (void)state;
    ride_arena *a = ride_arena_new();
    char text[] = "hello, arena";
    char *copy = ride_arena_strdup(a, text);
    char *prefix = ride_arena_strndup(a, text, 5);
    text[0] = 'J';
    assert_string_equal(copy, "hello, arena");
    assert_string_equal(prefix, "hello");
    assert_string_equal(ride_arena_strndup(a, text, 0), "");
    ride_arena_free(a);
    ride_arena_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocations_are_zeroed_and_aligned),
        cmocka_unit_test(test_allocations_do_not_overlap),
        cmocka_unit_test(test_a_request_larger_than_a_block_fits),
        cmocka_unit_test(test_arrays_refuse_overflow),
        cmocka_unit_test(test_string_copies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
