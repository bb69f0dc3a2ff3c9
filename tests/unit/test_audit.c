/* test_audit.c - sequence accounting: distinct frames, duplicates and gaps per stream. */
#include "ride_test.h"

#include "audit.h"

static void test_counts_unique_duplicates_and_gaps(void **state)
{
    (void)state;
    ride_seqtrack *t = ride_seqtrack_new();
    assert_non_null(t);
    for (uint64_t s = 0; s < 5000; s++)
        if (s != 17 && s != 4000)
            assert_int_equal(ride_seqtrack_add(t, 3, s), 1);
    assert_int_equal(ride_seqtrack_add(t, 3, 10), 0);
    assert_int_equal(ride_seqtrack_add(t, 3, 10), 0);
    assert_int_equal(ride_seqtrack_add(t, 1, 7), 1);
    assert_true(ride_seqtrack_has(t, 3, 4999));
    assert_false(ride_seqtrack_has(t, 3, 17));
    assert_false(ride_seqtrack_has(t, 2, 0));

    ride_seqtrack_stream st[4];
    assert_int_equal(ride_seqtrack_streams(t, st, 4), 2);
    assert_int_equal(st[0].stream, 1);
    assert_int_equal(st[0].unique, 1);
    assert_int_equal(st[0].missing, 0);
    assert_int_equal(st[1].stream, 3);
    assert_int_equal(st[1].unique, 4998);
    assert_int_equal(st[1].duplicates, 2);
    assert_int_equal(st[1].missing, 2);
    assert_int_equal(st[1].first_seq, 0);
    assert_int_equal(st[1].last_seq, 4999);

    ride_seqtrack_stream total;
    ride_seqtrack_totals(t, &total);
    assert_int_equal(total.unique, 4999);
    assert_int_equal(total.duplicates, 2);
    assert_int_equal(total.missing, 2);

    /* A late frame fills its gap. */
    assert_int_equal(ride_seqtrack_add(t, 3, 17), 1);
    ride_seqtrack_totals(t, &total);
    assert_int_equal(total.missing, 1);
    ride_seqtrack_free(t);
}

static void test_gaps_count_from_the_first_seen(void **state)
{
    (void)state;
    ride_seqtrack *t = ride_seqtrack_new();
    assert_int_equal(ride_seqtrack_add(t, 0, 100), 1);
    assert_int_equal(ride_seqtrack_add(t, 0, 103), 1);
    ride_seqtrack_stream st;
    assert_int_equal(ride_seqtrack_streams(t, &st, 1), 1);
    assert_int_equal(st.first_seq, 100);
    assert_int_equal(st.missing, 2);
    assert_int_equal(ride_seqtrack_add(t, 0, UINT64_MAX), -1);
    ride_seqtrack_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_unique_duplicates_and_gaps),
        cmocka_unit_test(test_gaps_count_from_the_first_seen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
