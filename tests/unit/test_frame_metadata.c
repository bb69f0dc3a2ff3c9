/* Frame metadata in the wire format (docs/wire-format.md, "Metadata"): the layout
 * of the first chunk's header extension, round trips through single and chunked
 * frames, and the rejects of misplaced, malformed and oversized metadata. */
#include "test_frame_util.h"

#define W_METADATA_LEN 72
#define W_METADATA 76
#define FLAG_METADATA 0x0001

static const char boxes[] = "{\"faces\":[{\"x\":1,\"y\":2,\"width\":30,\"height\":40}]}";

static void frame_with_metadata(ride_frame *f, uint32_t w, uint32_t h, const char *json,
                                uint32_t seed)
{
    frame_make(f, RIDE_PIX_GRAY8, w, h, 0, seed);
    char err[256] = "";
    if (ride_frame_set_metadata(f, json, strlen(json), err, sizeof err) != 0)
        fail_msg("ride_frame_set_metadata: %s", err);
}

/* Pushes every message; returns the last status. */
static ride_frame_status push_all(ride_frame_assembler *a, const msgs *l, ride_frame *out)
{
    ride_frame_status st = RIDE_FRAME_INCOMPLETE;
    for (size_t i = 0; i < l->count; i++)
        st = ride_frame_assembler_push(a, l->data[i], l->len[i], out);
    return st;
}

static void test_first_chunk_header_carries_the_text(void **state)
{
    (void)state;
    ride_frame f;
    frame_with_metadata(&f, 4, 2, boxes, 1);
    msgs l = {0};
    msgs_write(&l, &f, RIDE_ENC_RAW, -1, RIDE_FRAME_DEFAULT_MAX_MESSAGE);
    assert_int_equal(l.count, 1);
    size_t n = strlen(boxes);
    const uint8_t *m = l.data[0];
    assert_int_equal(wire_get16(m, W_FLAGS), FLAG_METADATA);
    assert_int_equal(wire_get16(m, W_HEADER_LEN), W_METADATA + n);
    assert_int_equal(wire_get32(m, W_METADATA_LEN), n);
    assert_memory_equal(m + W_METADATA, boxes, n);
    assert_int_equal(l.len[0], W_METADATA + n + 8);
    assert_memory_equal(m + W_METADATA + n, f.image.data, 8);
    /* The header CRC covers the metadata: a flipped byte is caught. */
    uint32_t crc = ride_crc32c(ride_crc32c(0, m, W_HEADER_CRC), m + W_HEADER_LEN_V1, 4 + n);
    assert_int_equal(wire_get32(m, W_HEADER_CRC), crc);
    l.data[0][W_METADATA + 3] ^= 0x01;
    ride_frame_header h;
    assert_int_equal(ride_frame_header_parse(l.data[0], l.len[0], &h, NULL),
                     RIDE_FRAME_BAD_HEADER_CRC);
    msgs_free(&l);
    ride_frame_free(&f);
}

static void test_frame_without_metadata_keeps_the_plain_header(void **state)
{
    (void)state;
    ride_frame f;
    frame_with_metadata(&f, 4, 2, boxes, 2);
    assert_int_equal(ride_frame_set_metadata(&f, NULL, 0, NULL, 0), 0);
    assert_null(f.metadata);
    msgs l = {0};
    msgs_write(&l, &f, RIDE_ENC_RAW, -1, RIDE_FRAME_DEFAULT_MAX_MESSAGE);
    assert_int_equal(l.len[0], W_HEADER_LEN_V1 + 8);
    assert_int_equal(wire_get16(l.data[0], W_HEADER_LEN), W_HEADER_LEN_V1);
    assert_int_equal(wire_get16(l.data[0], W_FLAGS), 0);
    msgs_free(&l);
    ride_frame_free(&f);
}

static void test_single_message_round_trip(void **state)
{
    (void)state;
    rejects rs = {0};
    ride_frame_assembler *a = ride_frame_assembler_new(1 << 20, rejects_record, &rs);
    ride_frame f, plain, out = {0};
    frame_with_metadata(&f, 16, 8, boxes, 3);
    frame_make(&plain, RIDE_PIX_GRAY8, 16, 8, 0, 4);
    msgs l = {0}, p = {0};
    msgs_write(&l, &f, RIDE_ENC_PNG, -1, RIDE_FRAME_DEFAULT_MAX_MESSAGE);
    msgs_write(&p, &plain, RIDE_ENC_RAW, -1, RIDE_FRAME_DEFAULT_MAX_MESSAGE);
    assert_int_equal(push_all(a, &l, &out), RIDE_FRAME_OK);
    assert_true(images_equal(&out.image, &f.image));
    assert_int_equal(out.metadata_len, strlen(boxes));
    assert_string_equal(out.metadata, boxes);
    /* The next frame has none: the output frame does not keep the last one's. */
    assert_int_equal(push_all(a, &p, &out), RIDE_FRAME_OK);
    assert_null(out.metadata);
    assert_int_equal(out.metadata_len, 0);
    assert_int_equal(rs.count, 0);
    msgs_free(&l);
    msgs_free(&p);
    ride_frame_free(&out);
    ride_frame_free(&f);
    ride_frame_free(&plain);
    ride_frame_assembler_free(a);
}

static void test_chunked_round_trip_only_first_chunk_carries_it(void **state)
{
    (void)state;
    rejects rs = {0};
    ride_frame_assembler *a = ride_frame_assembler_new(1 << 20, rejects_record, &rs);
    ride_frame f, out = {0};
    frame_with_metadata(&f, 40, 10, boxes, 5);
    size_t n = strlen(boxes);
    /* 100 payload bytes per later chunk, 100 - 4 - n in the first. */
    size_t max_message = W_HEADER_LEN_V1 + 100;
    msgs l = {0};
    msgs_write(&l, &f, RIDE_ENC_RAW, -1, max_message);
    size_t first = max_message - W_METADATA - n;
    size_t later = (400 - first + 99) / 100;
    assert_int_equal(l.count, 1 + later);
    assert_int_equal(l.len[0], max_message);
    assert_int_equal(wire_get32(l.data[0], W_PAYLOAD_LEN), first);
    for (size_t i = 1; i < l.count; i++) {
        assert_int_equal(wire_get16(l.data[i], W_FLAGS), 0);
        assert_int_equal(wire_get16(l.data[i], W_HEADER_LEN), W_HEADER_LEN_V1);
        assert_int_equal(wire_get16(l.data[i], W_CHUNK_COUNT), l.count);
        assert_true(l.len[i] <= max_message);
    }
    assert_int_equal(push_all(a, &l, &out), RIDE_FRAME_OK);
    assert_true(images_equal(&out.image, &f.image));
    assert_string_equal(out.metadata, boxes);
    assert_int_equal(rs.count, 0);
    msgs_free(&l);
    ride_frame_free(&out);
    ride_frame_free(&f);
    ride_frame_assembler_free(a);
}

static void test_interleaved_frames_keep_their_own_metadata(void **state)
{
    (void)state;
    rejects rs = {0};
    ride_frame_assembler *a = ride_frame_assembler_new(1 << 20, rejects_record, &rs);
    ride_frame f1, f2, out = {0};
    frame_with_metadata(&f1, 30, 10, "{\"camera\":\"north\"}", 6);
    frame_with_metadata(&f2, 30, 10, "{\"camera\":\"south\",\"n\":[1,2,3]}", 7);
    msgs l1 = {0}, l2 = {0};
    msgs_write(&l1, &f1, RIDE_ENC_RAW, -1, W_HEADER_LEN_V1 + 120);
    msgs_write(&l2, &f2, RIDE_ENC_RAW, -1, W_HEADER_LEN_V1 + 120);
    assert_true(l1.count > 2 && l1.count == l2.count);
    int done = 0;
    for (size_t i = 0; i < l1.count; i++) {
        ride_frame_status st = ride_frame_assembler_push(a, l1.data[i], l1.len[i], &out);
        if (st == RIDE_FRAME_OK) {
            assert_string_equal(out.metadata, f1.metadata);
            done++;
        }
        st = ride_frame_assembler_push(a, l2.data[i], l2.len[i], &out);
        if (st == RIDE_FRAME_OK) {
            assert_string_equal(out.metadata, f2.metadata);
            done++;
        }
    }
    assert_int_equal(done, 2);
    assert_int_equal(rs.count, 0);
    msgs_free(&l1);
    msgs_free(&l2);
    ride_frame_free(&out);
    ride_frame_free(&f1);
    ride_frame_free(&f2);
    ride_frame_assembler_free(a);
}

static void expect_set_refused(const char *json, const char *reason)
{
    size_t len = strlen(json);
    ride_frame f;
    frame_with_metadata(&f, 2, 2, "{\"kept\":true}", 8);
    char err[256] = "";
    assert_int_equal(ride_frame_set_metadata(&f, json, len, err, sizeof err), -1);
    if (!strstr(err, reason))
        fail_msg("expected '%s' in '%s'", reason, err);
    assert_string_equal(f.metadata, "{\"kept\":true}");
    ride_frame_free(&f);
}

static void test_set_metadata_refuses_what_readers_would_reject(void **state)
{
    (void)state;
    expect_set_refused("[1,2]", "must be a JSON object");
    expect_set_refused("\"text\"", "not valid JSON");
    expect_set_refused("{\"a\":1", "not valid JSON");
    expect_set_refused("{\"a\":1} x", "not valid JSON");
    expect_set_refused("{\"a\":1,\"a\":2}", "not valid JSON");
    expect_set_refused("{\"a\":\"\xff\"}", "not valid JSON");
    char *big = malloc(RIDE_FRAME_MAX_METADATA + 2);
    assert_non_null(big);
    /* {"p":"xxx...x"} of exactly the limit is accepted, one byte more is not. */
    size_t fill = RIDE_FRAME_MAX_METADATA - 8;
    memcpy(big, "{\"p\":\"", 6);
    memset(big + 6, 'x', fill);
    memcpy(big + 6 + fill, "\"}", 3);
    ride_frame f;
    frame_make(&f, RIDE_PIX_GRAY8, 2, 2, 0, 9);
    assert_int_equal(ride_frame_set_metadata(&f, big, RIDE_FRAME_MAX_METADATA, NULL, 0), 0);
    msgs l = {0};
    msgs_write(&l, &f, RIDE_ENC_RAW, -1, RIDE_FRAME_DEFAULT_MAX_MESSAGE);
    assert_int_equal(wire_get16(l.data[0], W_HEADER_LEN), W_METADATA + RIDE_FRAME_MAX_METADATA);
    msgs_free(&l);
    ride_frame_free(&f);
    memcpy(big + 6 + fill, "x\"}", 4);
    expect_set_refused(big, "above the limit of 16384");
    free(big);
}

static void test_write_needs_room_for_metadata_and_checks_it(void **state)
{
    (void)state;
    ride_frame f;
    frame_with_metadata(&f, 4, 4, boxes, 10);
    ride_frame_write_opts o = {RIDE_ENC_RAW, -1, W_METADATA + strlen(boxes)};
    msgs l = {0};
    char err[256] = "";
    assert_int_equal(ride_frame_write(&f, &o, msgs_collect, &l, err, sizeof err), -1);
    assert_non_null(strstr(err, "leaves no room for payload"));
    assert_int_equal(l.count, 0);
    /* Metadata placed in the frame without ride_frame_set_metadata is checked too. */
    memcpy(f.metadata, "[", 1);
    o.max_message_bytes = RIDE_FRAME_DEFAULT_MAX_MESSAGE;
    assert_int_equal(ride_frame_write(&f, &o, msgs_collect, &l, err, sizeof err), -1);
    assert_non_null(strstr(err, "frame metadata is not valid JSON"));
    assert_int_equal(l.count, 0);
    ride_frame_free(&f);
}

/* Pushes one message into a fresh assembler and checks it is rejected, once,
 * for the reason given. */
static void expect_rejected(const uint8_t *m, size_t len, ride_frame_status want)
{
    rejects rs = {0};
    ride_frame_assembler *a = ride_frame_assembler_new(1 << 20, rejects_record, &rs);
    ride_frame out = {0};
    ride_frame_status st = ride_frame_assembler_push(a, m, len, &out);
    if (st != want)
        fail_msg("expected %s, got %s", ride_frame_status_reason(want),
                 ride_frame_status_reason(st));
    assert_int_equal(rs.count, 1);
    assert_int_equal(rs.r[0].status, want);
    assert_true(rs.r[0].id_known);
    ride_frame_free(&out);
    ride_frame_assembler_free(a);
}

/* One message of a frame with metadata of the given length, text replaced. */
static msgs message_with_text(const char *text)
{
    size_t n = strlen(text);
    char *filler = malloc(n + 1);
    assert_non_null(filler);
    memset(filler, ' ', n);
    memcpy(filler, "{}", 2);
    filler[n] = '\0';
    ride_frame f;
    frame_with_metadata(&f, 4, 2, filler, 11);
    msgs l = {0};
    msgs_write(&l, &f, RIDE_ENC_RAW, -1, RIDE_FRAME_DEFAULT_MAX_MESSAGE);
    memcpy(l.data[0] + W_METADATA, text, n);
    wire_fix_header_crc(l.data[0], W_METADATA + n);
    ride_frame_free(&f);
    free(filler);
    return l;
}

static void test_reader_rejects_malformed_metadata(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[1,2,3]", "{\"a\":", "{\"a\":1}}", "{\"a\":1,\"a\":1}", "{\"\xc3\x28\":1}", "null",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msgs l = message_with_text(bad[i]);
        expect_rejected(l.data[0], l.len[0], RIDE_FRAME_BAD_METADATA);
        msgs_free(&l);
    }
    assert_string_equal(ride_frame_status_reason(RIDE_FRAME_BAD_METADATA), "bad_metadata");
    assert_string_equal(ride_frame_status_reason(RIDE_FRAME_METADATA_TOO_LARGE),
                        "metadata_too_large");
}

static void test_reader_rejects_lengths_outside_the_header_or_bound(void **state)
{
    (void)state;
    msgs l = message_with_text("{\"a\":1}");
    uint8_t *m = l.data[0];
    size_t header_len = wire_get16(m, W_HEADER_LEN);
    /* One byte more than the extension holds. */
    wire_put32(m, W_METADATA_LEN, (uint32_t)(header_len - W_METADATA + 1));
    wire_fix_header_crc(m, header_len);
    expect_rejected(m, l.len[0], RIDE_FRAME_BAD_METADATA);
    wire_put32(m, W_METADATA_LEN, RIDE_FRAME_MAX_METADATA + 1);
    wire_fix_header_crc(m, header_len);
    expect_rejected(m, l.len[0], RIDE_FRAME_METADATA_TOO_LARGE);
    wire_put32(m, W_METADATA_LEN, UINT32_MAX);
    wire_fix_header_crc(m, header_len);
    expect_rejected(m, l.len[0], RIDE_FRAME_METADATA_TOO_LARGE);
    msgs_free(&l);

    /* The flag on a plain 72-byte header: no room even for the length. */
    ride_frame f;
    frame_make(&f, RIDE_PIX_GRAY8, 4, 2, 0, 12);
    msgs p = {0};
    msgs_write(&p, &f, RIDE_ENC_RAW, -1, RIDE_FRAME_DEFAULT_MAX_MESSAGE);
    wire_put16(p.data[0], W_FLAGS, FLAG_METADATA);
    wire_fix_header_crc(p.data[0], W_HEADER_LEN_V1);
    expect_rejected(p.data[0], p.len[0], RIDE_FRAME_BAD_METADATA);
    /* Flags other than metadata stay reserved. */
    wire_put16(p.data[0], W_FLAGS, 0x0002);
    wire_fix_header_crc(p.data[0], W_HEADER_LEN_V1);
    expect_rejected(p.data[0], p.len[0], RIDE_FRAME_BAD_FLAGS);
    msgs_free(&p);
    ride_frame_free(&f);
}

/* A later chunk that claims metadata rejects its frame: metadata belongs to the
 * first chunk only, so chunks cannot disagree about it. */
static void test_metadata_on_a_later_chunk_rejects_the_frame(void **state)
{
    (void)state;
    ride_frame f;
    frame_with_metadata(&f, 30, 10, boxes, 13);
    msgs l = {0};
    msgs_write(&l, &f, RIDE_ENC_RAW, -1, W_HEADER_LEN_V1 + 200);
    assert_int_equal(l.count, 2);
    /* Rebuild chunk 1 with the first chunk's metadata section. */
    size_t ext = wire_get16(l.data[0], W_HEADER_LEN) - W_HEADER_LEN_V1;
    size_t payload = l.len[1] - W_HEADER_LEN_V1;
    uint8_t *m = malloc(l.len[1] + ext);
    assert_non_null(m);
    memcpy(m, l.data[1], W_HEADER_LEN_V1);
    memcpy(m + W_HEADER_LEN_V1, l.data[0] + W_HEADER_LEN_V1, ext);
    memcpy(m + W_HEADER_LEN_V1 + ext, l.data[1] + W_HEADER_LEN_V1, payload);
    wire_put16(m, W_FLAGS, FLAG_METADATA);
    wire_put16(m, W_HEADER_LEN, (uint16_t)(W_HEADER_LEN_V1 + ext));
    wire_fix_header_crc(m, W_HEADER_LEN_V1 + ext);
    ride_frame_header h;
    assert_int_equal(ride_frame_header_parse(m, l.len[1] + ext, &h, NULL),
                     RIDE_FRAME_BAD_METADATA);

    rejects rs = {0};
    ride_frame_assembler *a = ride_frame_assembler_new(1 << 20, rejects_record, &rs);
    ride_frame out = {0};
    assert_int_equal(ride_frame_assembler_push(a, l.data[0], l.len[0], &out),
                     RIDE_FRAME_INCOMPLETE);
    assert_int_equal(ride_frame_assembler_push(a, m, l.len[1] + ext, &out),
                     RIDE_FRAME_BAD_METADATA);
    assert_int_equal(rs.count, 1);
    assert_int_equal(rs.r[0].tags.count, 2);
    assert_int_equal(ride_frame_assembler_pending(a), 0);
    free(m);
    msgs_free(&l);
    ride_frame_free(&out);
    ride_frame_free(&f);
    ride_frame_assembler_free(a);
}

static void test_copy_metadata_between_frames(void **state)
{
    (void)state;
    ride_frame src, dst;
    frame_with_metadata(&src, 2, 2, boxes, 14);
    frame_with_metadata(&dst, 2, 2, "{\"old\":1}", 15);
    assert_int_equal(ride_frame_copy_metadata(&dst, &src), 0);
    assert_string_equal(dst.metadata, boxes);
    assert_int_equal(dst.metadata_len, strlen(boxes));
    assert_int_equal(ride_frame_set_metadata(&src, NULL, 0, NULL, 0), 0);
    assert_int_equal(ride_frame_copy_metadata(&dst, &src), 0);
    assert_null(dst.metadata);
    assert_int_equal(dst.metadata_len, 0);
    ride_frame_free(&src);
    ride_frame_free(&dst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_chunk_header_carries_the_text),
        cmocka_unit_test(test_frame_without_metadata_keeps_the_plain_header),
        cmocka_unit_test(test_single_message_round_trip),
        cmocka_unit_test(test_chunked_round_trip_only_first_chunk_carries_it),
        cmocka_unit_test(test_interleaved_frames_keep_their_own_metadata),
        cmocka_unit_test(test_set_metadata_refuses_what_readers_would_reject),
        cmocka_unit_test(test_write_needs_room_for_metadata_and_checks_it),
        cmocka_unit_test(test_reader_rejects_malformed_metadata),
        cmocka_unit_test(test_reader_rejects_lengths_outside_the_header_or_bound),
        cmocka_unit_test(test_metadata_on_a_later_chunk_rejects_the_frame),
        cmocka_unit_test(test_copy_metadata_between_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
