/* The worker's offset tracker: the committable offset is the oldest message not
 * done, whatever order messages complete in and whatever gaps the offsets have. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "offsets.h"
#include "ride_test.h"

static ride_offset_tracker *tracker(int64_t start)
{
    ride_offset_tracker *t = ride_offset_tracker_new(start);
    assert_non_null(t);
    return t;
}

static void test_in_order(void **state)
{
    (void)state;
    ride_offset_tracker *t = tracker(10);
    assert_int_equal(ride_offset_tracker_committable(t), 10);
    for (int64_t o = 10; o < 20; o++)
        assert_int_equal(ride_offset_tracker_take(t, o), 0);
    assert_int_equal(ride_offset_tracker_pending(t), 10);
    assert_int_equal(ride_offset_tracker_position(t), 20);
    for (int64_t o = 10; o < 20; o++) {
        assert_int_equal(ride_offset_tracker_committable(t), o);
        assert_int_equal(ride_offset_tracker_done(t, o), 0);
    }
    assert_int_equal(ride_offset_tracker_committable(t), 20);
    assert_int_equal(ride_offset_tracker_pending(t), 0);
    ride_offset_tracker_free(t);
}

static void test_out_of_order(void **state)
{
    (void)state;
    ride_offset_tracker *t = tracker(0);
    for (int64_t o = 0; o < 5; o++)
        assert_int_equal(ride_offset_tracker_take(t, o), 0);
    assert_int_equal(ride_offset_tracker_done(t, 3), 0);
    assert_int_equal(ride_offset_tracker_done(t, 1), 0);
    assert_int_equal(ride_offset_tracker_committable(t), 0);
    assert_int_equal(ride_offset_tracker_done(t, 0), 0);
    assert_int_equal(ride_offset_tracker_committable(t), 2);
    assert_int_equal(ride_offset_tracker_done(t, 4), 0);
    assert_int_equal(ride_offset_tracker_committable(t), 2);
    assert_int_equal(ride_offset_tracker_done(t, 2), 0);
    assert_int_equal(ride_offset_tracker_committable(t), 5);
    ride_offset_tracker_free(t);
}

static void test_gaps(void **state)
{
    (void)state;
    ride_offset_tracker *t = tracker(100);
    const int64_t offs[] = {103, 104, 110, 111, 250};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(ride_offset_tracker_take(t, offs[i]), 0);
    assert_int_equal(ride_offset_tracker_committable(t), 103);
    assert_int_equal(ride_offset_tracker_done(t, 105), -1); /* in a gap */
    assert_int_equal(ride_offset_tracker_done(t, 111), 0);
    assert_int_equal(ride_offset_tracker_done(t, 103), 0);
    assert_int_equal(ride_offset_tracker_committable(t), 104);
    assert_int_equal(ride_offset_tracker_done(t, 104), 0);
    assert_int_equal(ride_offset_tracker_committable(t), 110);
    assert_int_equal(ride_offset_tracker_done(t, 110), 0);
    assert_int_equal(ride_offset_tracker_committable(t), 250);
    assert_int_equal(ride_offset_tracker_done(t, 250), 0);
    assert_int_equal(ride_offset_tracker_committable(t), 251);
    ride_offset_tracker_free(t);
}

/* Frame A has chunks at 0, 2, 4 and frame B at 1, 3; B completes first. */
static void test_interleaved_frames(void **state)
{
    (void)state;
    ride_offset_tracker *t = tracker(0);
    for (int64_t o = 0; o < 5; o++)
        assert_int_equal(ride_offset_tracker_take(t, o), 0);
    assert_int_equal(ride_offset_tracker_done(t, 1), 0);
    assert_int_equal(ride_offset_tracker_done(t, 3), 0);
    assert_int_equal(ride_offset_tracker_committable(t), 0);
    assert_int_equal(ride_offset_tracker_done(t, 0), 0);
    assert_int_equal(ride_offset_tracker_done(t, 2), 0);
    assert_int_equal(ride_offset_tracker_committable(t), 4);
    assert_int_equal(ride_offset_tracker_done(t, 4), 0);
    assert_int_equal(ride_offset_tracker_committable(t), 5);
    ride_offset_tracker_free(t);
}

static void test_rejects_misuse(void **state)
{
    (void)state;
    assert_null(ride_offset_tracker_new(-5));
    ride_offset_tracker *t = tracker(10);
    assert_int_equal(ride_offset_tracker_take(t, 9), -1); /* below the start */
    assert_int_equal(ride_offset_tracker_take(t, -1), -1);
    assert_int_equal(ride_offset_tracker_take(t, 12), 0);
    assert_int_equal(ride_offset_tracker_take(t, 12), -1); /* not increasing */
    assert_int_equal(ride_offset_tracker_take(t, 11), -1);
    assert_int_equal(ride_offset_tracker_done(t, 13), -1); /* never taken */
    assert_int_equal(ride_offset_tracker_done(t, 12), 0);
    assert_int_equal(ride_offset_tracker_done(t, 12), -1); /* twice */
    assert_int_equal(ride_offset_tracker_committable(t), 13);
    ride_offset_tracker_free(t);
}

static void test_unknown_start(void **state)
{
    (void)state;
    ride_offset_tracker *t = tracker(RIDE_OFFSET_UNKNOWN);
    assert_int_equal(ride_offset_tracker_committable(t), RIDE_OFFSET_UNKNOWN);
    assert_int_equal(ride_offset_tracker_take(t, 42), 0);
    assert_int_equal(ride_offset_tracker_committable(t), 42);
    assert_int_equal(ride_offset_tracker_done(t, 42), 0);
    assert_int_equal(ride_offset_tracker_committable(t), 43);
    ride_offset_tracker_free(t);
}

static void test_huge_offsets(void **state)
{
    (void)state;
    const int64_t base = INT64_MAX - 1000;
    ride_offset_tracker *t = tracker(base);
    for (int64_t o = base; o < base + 10; o++)
        assert_int_equal(ride_offset_tracker_take(t, o), 0);
    assert_int_equal(ride_offset_tracker_take(t, INT64_MAX - 1), 0);
    assert_int_equal(ride_offset_tracker_done(t, INT64_MAX - 1), 0);
    for (int64_t o = base + 9; o >= base; o--)
        assert_int_equal(ride_offset_tracker_done(t, o), 0);
    assert_int_equal(ride_offset_tracker_committable(t), INT64_MAX);
    ride_offset_tracker_free(t);
}

/* A million messages, completed in windows of 64 in reverse order, with a gap
 * every 1000 offsets; the committable offset never passes an open message. */
static void test_many_messages(void **state)
{
    (void)state;
    enum { N = 1000000, W = 64 };
    int64_t *offs = malloc(N * sizeof *offs);
    assert_non_null(offs);
    int64_t o = 0;
    for (int i = 0; i < N; i++) {
        offs[i] = o;
        o += (i % 1000 == 999) ? 7 : 1;
    }
    ride_offset_tracker *t = tracker(0);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int w = 0; w < N; w += W) {
        for (int i = w; i < w + W; i++)
            if (ride_offset_tracker_take(t, offs[i]) != 0)
                fail_msg("take %lld", (long long)offs[i]);
        for (int i = w + W - 1; i > w; i--)
            if (ride_offset_tracker_done(t, offs[i]) != 0)
                fail_msg("done %lld", (long long)offs[i]);
        if (ride_offset_tracker_committable(t) != offs[w])
            fail_msg("committable %lld, want %lld", (long long)ride_offset_tracker_committable(t),
                     (long long)offs[w]);
        assert_int_equal(ride_offset_tracker_done(t, offs[w]), 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_int_equal(ride_offset_tracker_committable(t), offs[N - 1] + 1);
    assert_int_equal(ride_offset_tracker_pending(t), 0);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("offset tracker: %d messages taken and done in %.3f s (%.1f ns each)\n", N, s,
           s * 1e9 / N);
    ride_offset_tracker_free(t);
    free(offs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),         cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_gaps),             cmocka_unit_test(test_interleaved_frames),
        cmocka_unit_test(test_rejects_misuse),   cmocka_unit_test(test_unknown_start),
        cmocka_unit_test(test_huge_offsets),     cmocka_unit_test(test_many_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
