/* Several writers interleaving chunked frames in one partition: every frame is
 * assembled beside the others, losses cost only the frame concerned, the table
 * of frames in progress is bounded, and the tags of every message come back
 * exactly once with its frame's completion or rejection. */
#include <stdlib.h>
#include <string.h>

#include "test_frame_util.h"

/* One writer's frame: its source image and its messages in order. */
typedef struct wframe {
    ride_frame f;
    msgs l;
} wframe;

/* A w x h GRAY8 frame of stream `stream`, in chunks of `chunk` payload bytes. */
static void wframe_make(wframe *w, uint32_t stream, uint64_t seq, uint32_t width,
                        uint32_t height, size_t chunk)
{
    memset(w, 0, sizeof *w);
    frame_make(&w->f, RIDE_PIX_GRAY8, width, height, 0, stream * 1000 + (uint32_t)seq);
    w->f.stream_id = stream;
    w->f.seq = seq;
    msgs_write(&w->l, &w->f, RIDE_ENC_RAW, -1, 72 + chunk);
}

static void wframe_free(wframe *w)
{
    msgs_free(&w->l);
    ride_frame_free(&w->f);
}

typedef struct tester {
    ride_frame_assembler *a;
    rejects rs;
    ride_frame out;
    ride_frame_tags tags;
    uint64_t next_tag; /* every push is tagged with its position, like a Kafka offset */
} tester;

/* A byte budget comes with a 100-byte frame limit, so that it holds a few frames. */
static void tester_init(tester *t, unsigned max_pending, size_t max_pending_bytes)
{
    memset(t, 0, sizeof *t);
    ride_frame_assembler_opts o = {.max_frame_bytes = max_pending_bytes ? 100 : 1 << 20,
                                   .max_pending = max_pending,
                                   .max_pending_bytes = max_pending_bytes,
                                   .on_reject = rejects_record,
                                   .ctx = &t->rs};
    t->a = ride_frame_assembler_new_opts(&o);
    assert_non_null(t->a);
}

static void tester_free(tester *t)
{
    ride_frame_free(&t->out);
    ride_frame_assembler_free(t->a);
}

static ride_frame_status push(tester *t, const wframe *w, size_t i)
{
    return ride_frame_assembler_push_tagged(t->a, w->l.data[i], w->l.len[i], t->next_tag++,
                                            &t->out, &t->tags);
}

static void expect_frame(const tester *t, const wframe *w)
{
    assert_int_equal(t->out.stream_id, w->f.stream_id);
    assert_int_equal(t->out.seq, w->f.seq);
    assert_true(images_equal(&t->out.image, &w->f.image));
}

static void expect_tags(const ride_frame_tags *got, uint64_t first, uint64_t last, uint32_t count)
{
    assert_int_equal(got->first, first);
    assert_int_equal(got->last, last);
    assert_int_equal(got->count, count);
}

static void expect_reject(const tester *t, size_t i, ride_frame_status st, const wframe *w)
{
    assert_true(i < t->rs.count);
    assert_string_equal(ride_frame_status_reason(t->rs.r[i].status),
                        ride_frame_status_reason(st));
    assert_true(t->rs.r[i].id_known);
    assert_int_equal(t->rs.r[i].stream_id, w->f.stream_id);
    assert_int_equal(t->rs.r[i].seq, w->f.seq);
}

/* A0 B0 A1 B1 ...: both frames complete, each with the tags of its own messages. */
static void test_two_writers_chunk_by_chunk(void **state)
{
    (void)state;
    tester t;
    tester_init(&t, 0, 0);
    wframe w[2];
    wframe_make(&w[0], 1, 10, 10, 10, 25);
    wframe_make(&w[1], 2, 10, 10, 10, 25); /* same seq, another stream: another frame */
    assert_int_equal(w[0].l.count, 4);
    for (size_t i = 0; i < 4; i++) {
        /* Incomplete or not, the tags are those of the pushed message's frame so far. */
        assert_int_equal(push(&t, &w[0], i), i < 3 ? RIDE_FRAME_INCOMPLETE : RIDE_FRAME_OK);
        expect_tags(&t.tags, 0, 2 * i, (uint32_t)i + 1);
        if (i == 3)
            expect_frame(&t, &w[0]);
        assert_int_equal(push(&t, &w[1], i), i < 3 ? RIDE_FRAME_INCOMPLETE : RIDE_FRAME_OK);
        expect_tags(&t.tags, 1, 2 * i + 1, (uint32_t)i + 1);
        assert_int_equal(ride_frame_assembler_pending(t.a), i < 3 ? 2 : 0);
        if (i == 3)
            expect_frame(&t, &w[1]);
    }
    assert_int_equal(t.rs.count, 0);
    for (size_t k = 0; k < 2; k++)
        wframe_free(&w[k]);
    tester_free(&t);
}

/* Round-robin over writers whose frames have 2, 3 and 7 chunks. */
static void test_three_writers_different_chunk_counts(void **state)
{
    (void)state;
    tester t;
    tester_init(&t, 0, 0);
    wframe w[3];
    wframe_make(&w[0], 1, 5, 10, 5, 25);
    wframe_make(&w[1], 2, 6, 10, 3, 10);
    wframe_make(&w[2], 3, 7, 10, 7, 10);
    assert_int_equal(w[0].l.count, 2);
    assert_int_equal(w[1].l.count, 3);
    assert_int_equal(w[2].l.count, 7);
    int done[3] = {0};
    for (size_t i = 0; i < 7; i++)
        for (size_t k = 0; k < 3; k++) {
            if (i >= w[k].l.count)
                continue;
            uint64_t tag = t.next_tag;
            ride_frame_status st = push(&t, &w[k], i);
            if (i + 1 < w[k].l.count) {
                assert_int_equal(st, RIDE_FRAME_INCOMPLETE);
                continue;
            }
            assert_int_equal(st, RIDE_FRAME_OK);
            expect_frame(&t, &w[k]);
            assert_int_equal(t.tags.count, w[k].l.count);
            assert_int_equal(t.tags.first, k);
            assert_int_equal(t.tags.last, tag);
            done[k]++;
        }
    assert_true(done[0] == 1 && done[1] == 1 && done[2] == 1);
    assert_int_equal(t.rs.count, 0);
    assert_int_equal(ride_frame_assembler_pending(t.a), 0);
    for (size_t k = 0; k < 3; k++)
        wframe_free(&w[k]);
    tester_free(&t);
}

/* B loses chunk 1 while A and C interleave with it: only B is rejected, once,
 * with the tags of the B messages it did receive. */
static void test_missing_chunk_costs_only_its_frame(void **state)
{
    (void)state;
    tester t;
    tester_init(&t, 0, 0);
    wframe w[3];
    for (uint32_t k = 0; k < 3; k++)
        wframe_make(&w[k], k + 1, 100 + k, 10, 10, 25);
    uint64_t b_tags[4] = {0};
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 0; k < 3; k++) {
            if (k == 1 && i == 1)
                continue;
            if (k == 1)
                b_tags[i] = t.next_tag;
            ride_frame_status st = push(&t, &w[k], i);
            if (k == 1)
                assert_int_equal(st, i == 0   ? RIDE_FRAME_INCOMPLETE
                                     : i == 2 ? RIDE_FRAME_MISSING_CHUNK
                                              : RIDE_FRAME_SKIPPED);
            else if (i == 3) {
                assert_int_equal(st, RIDE_FRAME_OK);
                expect_frame(&t, &w[k]);
            } else
                assert_int_equal(st, RIDE_FRAME_INCOMPLETE);
        }
    assert_int_equal(t.rs.count, 1);
    expect_reject(&t, 0, RIDE_FRAME_MISSING_CHUNK, &w[1]);
    expect_tags(&t.rs.r[0].tags, b_tags[0], b_tags[2], 2);
    for (size_t k = 0; k < 3; k++)
        wframe_free(&w[k]);
    tester_free(&t);
}

/* With room for two frames, a third one evicts the oldest, reported once with
 * its identity and tags; its later chunks are skipped. */
static void test_full_table_evicts_oldest_once(void **state)
{
    (void)state;
    tester t;
    tester_init(&t, 2, 0);
    wframe w[3];
    for (uint32_t k = 0; k < 3; k++)
        wframe_make(&w[k], 1, 200 + k, 10, 10, 25);
    assert_int_equal(push(&t, &w[0], 0), RIDE_FRAME_INCOMPLETE); /* tag 0 */
    assert_int_equal(push(&t, &w[1], 0), RIDE_FRAME_INCOMPLETE); /* tag 1 */
    assert_int_equal(push(&t, &w[0], 1), RIDE_FRAME_INCOMPLETE); /* tag 2 */
    assert_int_equal(t.rs.count, 0);
    assert_int_equal(push(&t, &w[2], 0), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(t.rs.count, 1);
    expect_reject(&t, 0, RIDE_FRAME_MISSING_CHUNK, &w[0]);
    expect_tags(&t.rs.r[0].tags, 0, 2, 2);
    assert_int_equal(ride_frame_assembler_pending(t.a), 2);
    for (size_t i = 1; i < 4; i++) {
        ride_frame_status st = push(&t, &w[1], i);
        assert_int_equal(st, i < 3 ? RIDE_FRAME_INCOMPLETE : RIDE_FRAME_OK);
        if (i >= 2)
            assert_int_equal(push(&t, &w[0], i), RIDE_FRAME_SKIPPED);
        assert_int_equal(push(&t, &w[2], i), i < 3 ? RIDE_FRAME_INCOMPLETE : RIDE_FRAME_OK);
    }
    expect_frame(&t, &w[2]);
    assert_int_equal(t.rs.count, 1);
    for (size_t k = 0; k < 3; k++)
        wframe_free(&w[k]);
    tester_free(&t);
}

/* A byte budget of two frames evicts the oldest frame even with slots free. */
static void test_byte_budget_evicts_oldest(void **state)
{
    (void)state;
    tester t;
    tester_init(&t, 0, 250); /* 100-byte frames: room for two buffers, not three */
    wframe w[3];
    for (uint32_t k = 0; k < 3; k++)
        wframe_make(&w[k], k + 1, 300, 10, 10, 25);
    for (size_t k = 0; k < 3; k++)
        assert_int_equal(push(&t, &w[k], 0), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(t.rs.count, 1);
    expect_reject(&t, 0, RIDE_FRAME_MISSING_CHUNK, &w[0]);
    expect_tags(&t.rs.r[0].tags, 0, 0, 1);
    assert_int_equal(ride_frame_assembler_pending(t.a), 2);
    for (size_t i = 1; i < 4; i++)
        for (size_t k = 0; k < 3; k++)
            assert_int_equal(push(&t, &w[k], i), k == 0   ? RIDE_FRAME_SKIPPED
                                                 : i < 3 ? RIDE_FRAME_INCOMPLETE
                                                         : RIDE_FRAME_OK);
    assert_int_equal(t.rs.count, 1);
    /* Frames that finished leave their buffers for the next ones: a new pair
     * of frames completes without any eviction. */
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 1; k < 3; k++)
            assert_int_equal(push(&t, &w[k], i), i < 3 ? RIDE_FRAME_INCOMPLETE : RIDE_FRAME_OK);
    assert_int_equal(t.rs.count, 1);
    for (size_t k = 0; k < 3; k++)
        wframe_free(&w[k]);
    tester_free(&t);
}

/* A consumer starting mid-frame: the partial frame is reported once, its later
 * chunks are skipped, the interleaved frame beside it completes. */
static void test_unknown_frame_mid_stream_reported_once(void **state)
{
    (void)state;
    tester t;
    tester_init(&t, 0, 0);
    wframe a, b;
    wframe_make(&a, 1, 400, 10, 10, 25);
    wframe_make(&b, 2, 400, 10, 10, 25);
    assert_int_equal(push(&t, &b, 0), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(push(&t, &a, 1), RIDE_FRAME_MISSING_CHUNK);
    assert_int_equal(push(&t, &b, 1), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(push(&t, &a, 2), RIDE_FRAME_SKIPPED);
    assert_int_equal(push(&t, &b, 2), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(push(&t, &a, 3), RIDE_FRAME_SKIPPED);
    assert_int_equal(push(&t, &b, 3), RIDE_FRAME_OK);
    expect_frame(&t, &b);
    expect_tags(&t.tags, 0, 6, 4);
    assert_int_equal(t.rs.count, 1);
    expect_reject(&t, 0, RIDE_FRAME_MISSING_CHUNK, &a);
    expect_tags(&t.rs.r[0].tags, 1, 1, 1);
    wframe_free(&a);
    wframe_free(&b);
    tester_free(&t);
}

/* A message nobody can attribute is rejected with its own tag alone. */
static void test_untrusted_message_carries_its_own_tag(void **state)
{
    (void)state;
    tester t;
    tester_init(&t, 0, 0);
    wframe a;
    wframe_make(&a, 1, 500, 10, 10, 25);
    assert_int_equal(push(&t, &a, 0), RIDE_FRAME_INCOMPLETE);
    uint8_t junk[100];
    memset(junk, 0xA5, sizeof junk);
    assert_int_equal(
        ride_frame_assembler_push_tagged(t.a, junk, sizeof junk, 77, &t.out, &t.tags),
        RIDE_FRAME_BAD_MAGIC);
    assert_int_equal(t.rs.count, 1);
    assert_false(t.rs.r[0].id_known);
    expect_tags(&t.rs.r[0].tags, 77, 77, 1);
    /* The frame in progress is untouched. */
    for (size_t i = 1; i < 4; i++)
        assert_int_equal(push(&t, &a, i), i < 3 ? RIDE_FRAME_INCOMPLETE : RIDE_FRAME_OK);
    expect_tags(&t.tags, 0, 3, 4);
    assert_int_equal(t.rs.count, 1);
    wframe_free(&a);
    tester_free(&t);
}

/* Flush reports every frame in progress as incomplete, oldest first. */
static void test_flush_reports_incomplete_frames(void **state)
{
    (void)state;
    tester t;
    tester_init(&t, 0, 0);
    wframe a, b;
    wframe_make(&a, 1, 600, 10, 10, 25);
    wframe_make(&b, 1, 601, 10, 10, 25);
    assert_int_equal(ride_frame_assembler_flush(t.a), 0);
    assert_int_equal(push(&t, &a, 0), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(push(&t, &b, 0), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(push(&t, &a, 1), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(ride_frame_assembler_flush(t.a), 2);
    assert_int_equal(ride_frame_assembler_pending(t.a), 0);
    assert_int_equal(t.rs.count, 2);
    expect_reject(&t, 0, RIDE_FRAME_INCOMPLETE, &a);
    assert_string_equal(ride_frame_status_reason(t.rs.r[0].status), "incomplete");
    expect_tags(&t.rs.r[0].tags, 0, 2, 2);
    expect_reject(&t, 1, RIDE_FRAME_INCOMPLETE, &b);
    expect_tags(&t.rs.r[1].tags, 1, 1, 1);
    assert_int_equal(push(&t, &a, 2), RIDE_FRAME_SKIPPED);
    assert_int_equal(ride_frame_assembler_flush(t.a), 0);
    assert_int_equal(t.rs.count, 2);
    wframe_free(&a);
    wframe_free(&b);
    tester_free(&t);
}

/* ---- Randomised: many writers, drops, a small table ---- */

#define WRITERS 6
#define FRAMES_PER_WRITER 12

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Which frames were completed or rejected, and how many messages came back. */
typedef struct outcome {
    int seen[WRITERS][FRAMES_PER_WRITER];
    uint64_t messages;
} outcome;

static void outcome_add(outcome *o, uint32_t stream, uint64_t seq, const ride_frame_tags *tags)
{
    assert_in_range(stream, 1, WRITERS);
    assert_in_range(seq, 0, FRAMES_PER_WRITER - 1);
    o->seen[stream - 1][seq]++;
    assert_true(tags->first <= tags->last);
    o->messages += tags->count;
}

/* Interleaves the writers at random, keeping each writer's order, drops about
 * one message in 30 and checks the contract: every frame that lost nothing and
 * was not evicted completes intact, every frame is completed or rejected at
 * most once (exactly once if any of its messages was pushed), and every pushed
 * message comes back exactly once. */
/* Returns how many frames were rejected. */
static size_t run_random(uint32_t seed, unsigned max_pending)
{
    tester t;
    tester_init(&t, max_pending, 0);
    wframe *w = calloc(WRITERS * FRAMES_PER_WRITER, sizeof *w);
    assert_non_null(w);
    int pushed_any[WRITERS][FRAMES_PER_WRITER] = {{0}};
    size_t pos[WRITERS] = {0}; /* message index over the writer's frames */
    for (uint32_t k = 0; k < WRITERS; k++)
        for (uint32_t j = 0; j < FRAMES_PER_WRITER; j++)
            wframe_make(&w[k * FRAMES_PER_WRITER + j], k + 1, j, 8, 1 + lcg(&seed) % 12,
                        8 + lcg(&seed) % 24);
    outcome o = {0};
    uint64_t pushed = 0, skipped = 0;
    size_t rejected = 0;
    size_t left = WRITERS;
    while (left > 0) {
        uint32_t k = lcg(&seed) % WRITERS;
        size_t j = pos[k] >> 16, i = pos[k] & 0xFFFF;
        if (j >= FRAMES_PER_WRITER)
            continue;
        const wframe *wf = &w[k * FRAMES_PER_WRITER + j];
        pos[k] = i + 1 < wf->l.count ? pos[k] + 1 : (j + 1) << 16;
        if (pos[k] >> 16 >= FRAMES_PER_WRITER)
            left--;
        if (lcg(&seed) % 30 == 0)
            continue;
        pushed++;
        pushed_any[k][j] = 1;
        size_t before = t.rs.count;
        ride_frame_status st = push(&t, wf, i);
        if (st == RIDE_FRAME_OK) {
            assert_int_equal(t.out.stream_id, k + 1);
            assert_true(images_equal(&t.out.image, &w[k * FRAMES_PER_WRITER + t.out.seq].f.image));
            outcome_add(&o, t.out.stream_id, t.out.seq, &t.tags);
        } else if (st == RIDE_FRAME_SKIPPED)
            skipped++;
        else if (st != RIDE_FRAME_INCOMPLETE)
            assert_true(t.rs.count > before);
        rejected += t.rs.count - before;
        for (size_t r = before; r < t.rs.count; r++) {
            assert_true(t.rs.r[r].id_known);
            outcome_add(&o, t.rs.r[r].stream_id, t.rs.r[r].seq, &t.rs.r[r].tags);
        }
        t.rs.count = 0;
    }
    ride_frame_assembler_flush(t.a);
    for (size_t r = 0; r < t.rs.count; r++)
        outcome_add(&o, t.rs.r[r].stream_id, t.rs.r[r].seq, &t.rs.r[r].tags);
    assert_int_equal(o.messages + skipped, pushed);
    for (size_t k = 0; k < WRITERS; k++)
        for (size_t j = 0; j < FRAMES_PER_WRITER; j++)
            assert_int_equal(o.seen[k][j], pushed_any[k][j]);
    for (size_t n = 0; n < WRITERS * FRAMES_PER_WRITER; n++)
        wframe_free(&w[n]);
    free(w);
    tester_free(&t);
    return rejected;
}

static void test_random_interleavings_account_for_every_message(void **state)
{
    (void)state;
    size_t with_room = 0, overloaded = 0;
    for (uint32_t seed = 1; seed <= 40; seed++) {
        with_room += run_random(seed, 0);
        overloaded += run_random(seed, 3);
    }
    /* Drops alone cost some frames; a table of 3 for 6 writers costs more. */
    assert_true(with_room > 0);
    assert_true(overloaded > with_room);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_writers_chunk_by_chunk),
        cmocka_unit_test(test_three_writers_different_chunk_counts),
        cmocka_unit_test(test_missing_chunk_costs_only_its_frame),
        cmocka_unit_test(test_full_table_evicts_oldest_once),
        cmocka_unit_test(test_byte_budget_evicts_oldest),
        cmocka_unit_test(test_unknown_frame_mid_stream_reported_once),
        cmocka_unit_test(test_untrusted_message_carries_its_own_tag),
        cmocka_unit_test(test_flush_reports_incomplete_frames),
        cmocka_unit_test(test_random_interleavings_account_for_every_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
