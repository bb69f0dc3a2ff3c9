/* Malformed messages and broken chunk sequences: each case asserts its own
 * status, that exactly one rejected frame is reported (with its identity when
 * the header could be trusted), and that the assembler then reads a good frame. */
#include <stdlib.h>
#include <string.h>

#include "test_frame_util.h"

#define LIMIT ((size_t)1 << 20)

typedef struct fixture {
    ride_frame raw_frame;
    msgs raw;   /* 5x4 GRAY8, one message of 72 + 20 bytes */
    msgs multi; /* 10x10 GRAY8 in four chunks of 25 bytes */
    msgs other; /* 10x10 GRAY8, another frame of the same stream, four chunks */
    msgs png;   /* 12x9 BGR8 PNG, one message */
    msgs jpeg;  /* 40x30 BGR8 JPEG, one message */
    ride_frame_assembler *a;
    rejects rs;
    ride_frame out;
} fixture;

static void write_frame(msgs *l, ride_pixel_format fmt, uint32_t w, uint32_t h, uint32_t seed,
                        ride_encoding enc, size_t max_msg)
{
    ride_frame f;
    frame_make(&f, fmt, w, h, 3, seed);
    msgs_write(l, &f, enc, -1, max_msg);
    ride_frame_free(&f);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    frame_make(&fx->raw_frame, RIDE_PIX_GRAY8, 5, 4, 0, 1);
    msgs_write(&fx->raw, &fx->raw_frame, RIDE_ENC_RAW, -1, 1000);
    write_frame(&fx->multi, RIDE_PIX_GRAY8, 10, 10, 2, RIDE_ENC_RAW, 72 + 25);
    write_frame(&fx->other, RIDE_PIX_GRAY8, 10, 10, 3, RIDE_ENC_RAW, 72 + 25);
    write_frame(&fx->png, RIDE_PIX_BGR8, 12, 9, 4, RIDE_ENC_PNG, 100000);
    write_frame(&fx->jpeg, RIDE_PIX_BGR8, 40, 30, 5, RIDE_ENC_JPEG, 100000);
    assert_int_equal(fx->raw.count, 1);
    assert_int_equal(fx->multi.count, 4);
    assert_int_equal(fx->png.count, 1);
    assert_int_equal(fx->jpeg.count, 1);
    fx->a = ride_frame_assembler_new(LIMIT, rejects_record, &fx->rs);
    assert_non_null(fx->a);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    msgs_free(&fx->raw);
    msgs_free(&fx->multi);
    msgs_free(&fx->other);
    msgs_free(&fx->png);
    msgs_free(&fx->jpeg);
    ride_frame_free(&fx->raw_frame);
    ride_frame_free(&fx->out);
    ride_frame_assembler_free(fx->a);
    free(fx);
    return 0;
}

static uint8_t *dup_msg(const msgs *l, size_t i)
{
    uint8_t *m = malloc(l->len[i] + 16); /* room for tests that append bytes */
    assert_non_null(m);
    memcpy(m, l->data[i], l->len[i]);
    return m;
}

static ride_frame_status push(fixture *fx, const msgs *l, size_t i)
{
    return ride_frame_assembler_push(fx->a, l->data[i], l->len[i], &fx->out);
}

static uint64_t seq_of(const msgs *l) { return wire_get64(l->data[0], W_SEQ); }

/* Asserts the reports since the last call: `count` of them, the last with `st`. */
static void expect_reports(fixture *fx, size_t count, ride_frame_status st)
{
    assert_int_equal(fx->rs.count, count);
    if (count)
        assert_string_equal(ride_frame_status_reason(fx->rs.r[count - 1].status),
                            ride_frame_status_reason(st));
    fx->rs.count = 0;
}

static void expect_identity(const fixture *fx, size_t i, uint64_t seq)
{
    assert_true(fx->rs.r[i].id_known);
    assert_int_equal(fx->rs.r[i].stream_id, 7);
    assert_int_equal(fx->rs.r[i].seq, seq);
}

/* The assembler reads a good frame after whatever came before. */
static void expect_recovers(fixture *fx)
{
    assert_int_equal(push(fx, &fx->raw, 0), RIDE_FRAME_OK);
    assert_true(images_equal(&fx->out.image, &fx->raw_frame.image));
    assert_int_equal(fx->out.seq, fx->raw_frame.seq);
    assert_int_equal(fx->rs.count, 0);
}

/* One bad message on its own: the header parser and the assembler agree on
 * the reason, one frame is reported, and the next frame is read. */
static void check_malformed(fixture *fx, const uint8_t *m, size_t len, ride_frame_status want)
{
    ride_frame_header h;
    const uint8_t *payload = NULL;
    assert_string_equal(ride_frame_status_reason(ride_frame_header_parse(m, len, &h, &payload)),
                        ride_frame_status_reason(want));
    assert_null(payload);
    assert_string_equal(
        ride_frame_status_reason(ride_frame_assembler_push(fx->a, m, len, &fx->out)),
        ride_frame_status_reason(want));
    assert_int_equal(fx->rs.count, 1);
    assert_int_equal(fx->rs.r[0].status, want);
    assert_int_equal(fx->rs.r[0].id_known, want > RIDE_FRAME_BAD_HEADER_CRC);
    if (fx->rs.r[0].id_known)
        assert_int_equal(fx->rs.r[0].seq, fx->raw_frame.seq);
    fx->rs.count = 0;
    expect_recovers(fx);
}

/* The single raw message with one field changed and its header CRC fixed. */
static void check_field(fixture *fx, size_t off, int width, uint64_t v, ride_frame_status want)
{
    uint8_t *m = dup_msg(&fx->raw, 0);
    if (width == 2)
        wire_put16(m, off, (uint16_t)v);
    else if (width == 4)
        wire_put32(m, off, (uint32_t)v);
    else
        wire_put64(m, off, v);
    wire_fix_header_crc(m, 72);
    check_malformed(fx, m, fx->raw.len[0], want);
    free(m);
}

/* ---- One message on its own ---- */

static void test_truncated_empty(void **state)
{
    fixture *fx = *state;
    check_malformed(fx, NULL, 0, RIDE_FRAME_TRUNCATED);
    check_malformed(fx, fx->raw.data[0], 0, RIDE_FRAME_TRUNCATED);
}

static void test_truncated_inside_magic_and_header(void **state)
{
    fixture *fx = *state;
    check_malformed(fx, fx->raw.data[0], 3, RIDE_FRAME_TRUNCATED);
    check_malformed(fx, fx->raw.data[0], 5, RIDE_FRAME_TRUNCATED);
    check_malformed(fx, fx->raw.data[0], 40, RIDE_FRAME_TRUNCATED);
    check_malformed(fx, fx->raw.data[0], 71, RIDE_FRAME_TRUNCATED);
}

static void test_truncated_inside_payload(void **state)
{
    fixture *fx = *state;
    check_malformed(fx, fx->raw.data[0], 72, RIDE_FRAME_TRUNCATED);
    check_malformed(fx, fx->raw.data[0], fx->raw.len[0] - 1, RIDE_FRAME_TRUNCATED);
}

static void test_bad_magic(void **state)
{
    fixture *fx = *state;
    uint8_t *m = dup_msg(&fx->raw, 0);
    m[3] = 'G';
    check_malformed(fx, m, fx->raw.len[0], RIDE_FRAME_BAD_MAGIC);
    check_malformed(fx, (const uint8_t *)"{\"not\": \"a frame\"}", 18, RIDE_FRAME_BAD_MAGIC);
    free(m);
}

static void test_unsupported_version(void **state)
{
    fixture *fx = *state;
    check_field(fx, W_VERSION, 2, 2, RIDE_FRAME_UNSUPPORTED_VERSION);
    check_field(fx, W_VERSION, 2, 0, RIDE_FRAME_UNSUPPORTED_VERSION);
    /* A later version may be shorter than 72 bytes: the version is read first. */
    check_malformed(fx, (const uint8_t *)"RIDF\x02\x00\x10\x00", 8,
                    RIDE_FRAME_UNSUPPORTED_VERSION);
}

static void test_header_len_too_small(void **state)
{
    fixture *fx = *state;
    check_field(fx, W_HEADER_LEN, 2, 71, RIDE_FRAME_BAD_HEADER_LEN);
    check_field(fx, W_HEADER_LEN, 2, 0, RIDE_FRAME_BAD_HEADER_LEN);
}

static void test_header_len_beyond_message(void **state)
{
    fixture *fx = *state;
    uint8_t *m = dup_msg(&fx->raw, 0);
    wire_put16(m, W_HEADER_LEN, (uint16_t)(fx->raw.len[0] + 1));
    check_malformed(fx, m, fx->raw.len[0], RIDE_FRAME_TRUNCATED);
    free(m);
}

static void test_bad_header_crc(void **state)
{
    fixture *fx = *state;
    uint8_t *m = dup_msg(&fx->raw, 0);
    m[W_SEQ] ^= 0x10;
    check_malformed(fx, m, fx->raw.len[0], RIDE_FRAME_BAD_HEADER_CRC);
    m[W_SEQ] ^= 0x10;
    m[W_HEADER_CRC + 3] ^= 0x80;
    check_malformed(fx, m, fx->raw.len[0], RIDE_FRAME_BAD_HEADER_CRC);
    free(m);
}

static void test_bad_flags(void **state)
{
    fixture *fx = *state;
    check_field(fx, W_FLAGS, 2, 0x8000, RIDE_FRAME_BAD_FLAGS);
}

static void test_bad_pixel_format(void **state)
{
    fixture *fx = *state;
    check_field(fx, W_PIXEL_FORMAT, 2, 0, RIDE_FRAME_BAD_PIXEL_FORMAT);
    check_field(fx, W_PIXEL_FORMAT, 2, RIDE_PIX_FORMAT_COUNT, RIDE_FRAME_BAD_PIXEL_FORMAT);
    check_field(fx, W_PIXEL_FORMAT, 2, 0xFFFF, RIDE_FRAME_BAD_PIXEL_FORMAT);
}

static void test_bad_encoding(void **state)
{
    fixture *fx = *state;
    check_field(fx, W_ENCODING, 2, 3, RIDE_FRAME_BAD_ENCODING);
}

static void test_encoding_cannot_carry_format(void **state)
{
    fixture *fx = *state;
    uint8_t *m = dup_msg(&fx->png, 0);
    wire_put16(m, W_PIXEL_FORMAT, RIDE_PIX_GRAY32F);
    wire_put16(m, W_CHANNELS, 1);
    wire_fix_header_crc(m, 72);
    assert_int_equal(ride_frame_header_parse(m, fx->png.len[0], &(ride_frame_header){0}, NULL),
                     RIDE_FRAME_ENCODING_FORMAT_MISMATCH);
    free(m);
    m = dup_msg(&fx->jpeg, 0);
    wire_put16(m, W_PIXEL_FORMAT, RIDE_PIX_GRAY16);
    wire_put16(m, W_CHANNELS, 1);
    wire_fix_header_crc(m, 72);
    assert_int_equal(ride_frame_assembler_push(fx->a, m, fx->jpeg.len[0], &fx->out),
                     RIDE_FRAME_ENCODING_FORMAT_MISMATCH);
    expect_reports(fx, 1, RIDE_FRAME_ENCODING_FORMAT_MISMATCH);
    expect_recovers(fx);
    free(m);
}

static void test_channel_mismatch(void **state)
{
    fixture *fx = *state;
    check_field(fx, W_CHANNELS, 2, 3, RIDE_FRAME_CHANNEL_MISMATCH);
    check_field(fx, W_CHANNELS, 2, 0, RIDE_FRAME_CHANNEL_MISMATCH);
}

static void test_zero_width(void **state)
{
    fixture *fx = *state;
    check_field(fx, W_WIDTH, 4, 0, RIDE_FRAME_BAD_DIMENSIONS);
}

static void test_zero_height(void **state)
{
    fixture *fx = *state;
    check_field(fx, W_HEIGHT, 4, 0, RIDE_FRAME_BAD_DIMENSIONS);
}

static void test_dimensions_above_maximum(void **state)
{
    fixture *fx = *state;
    check_field(fx, W_WIDTH, 4, RIDE_IMAGE_MAX_DIM + 1, RIDE_FRAME_BAD_DIMENSIONS);
    check_field(fx, W_HEIGHT, 4, UINT32_MAX, RIDE_FRAME_BAD_DIMENSIONS);
}

static void test_stride_below_row_bytes(void **state)
{
    fixture *fx = *state;
    check_field(fx, W_STRIDE, 4, 4, RIDE_FRAME_BAD_STRIDE);
    check_field(fx, W_STRIDE, 4, 0, RIDE_FRAME_BAD_STRIDE);
}

static void test_stride_on_encoded_payload(void **state)
{
    fixture *fx = *state;
    uint8_t *m = dup_msg(&fx->png, 0);
    wire_put32(m, W_STRIDE, 36);
    wire_fix_header_crc(m, 72);
    assert_int_equal(ride_frame_header_parse(m, fx->png.len[0], &(ride_frame_header){0}, NULL),
                     RIDE_FRAME_BAD_STRIDE);
    free(m);
}

/* The largest stride and height multiply to 2^48 - 2^16: computed without
 * overflow and refused by size (a 32-bit size_t overflows instead). */
static void test_stride_times_height_at_field_limits(void **state)
{
    fixture *fx = *state;
    uint8_t *m = dup_msg(&fx->raw, 0);
    wire_put32(m, W_STRIDE, UINT32_MAX);
    wire_put32(m, W_HEIGHT, RIDE_IMAGE_MAX_DIM);
    wire_put64(m, W_FRAME_LEN, (uint64_t)UINT32_MAX * RIDE_IMAGE_MAX_DIM);
    wire_fix_header_crc(m, 72);
    check_malformed(fx, m, fx->raw.len[0],
                    sizeof(size_t) < 8 ? RIDE_FRAME_SIZE_OVERFLOW : RIDE_FRAME_TOO_LARGE);
    free(m);
}

static void test_raw_frame_len_differs_from_stride_times_height(void **state)
{
    fixture *fx = *state;
    check_field(fx, W_FRAME_LEN, 8, 21, RIDE_FRAME_FRAME_LEN_MISMATCH);
    check_field(fx, W_STRIDE, 4, 6, RIDE_FRAME_FRAME_LEN_MISMATCH);
    check_field(fx, W_FRAME_LEN, 8, UINT64_MAX, RIDE_FRAME_FRAME_LEN_MISMATCH);
}

static void test_encoded_frame_len_above_protocol_limit(void **state)
{
    fixture *fx = *state;
    uint8_t *m = dup_msg(&fx->jpeg, 0);
    wire_put64(m, W_FRAME_LEN, RIDE_FRAME_MAX_FRAME_BYTES + 1);
    wire_put16(m, W_CHUNK_COUNT, 2);
    wire_fix_header_crc(m, 72);
    assert_int_equal(ride_frame_assembler_push(fx->a, m, fx->jpeg.len[0], &fx->out),
                     RIDE_FRAME_TOO_LARGE);
    expect_reports(fx, 1, RIDE_FRAME_TOO_LARGE);
    expect_identity(fx, 0, seq_of(&fx->jpeg));
    expect_recovers(fx);
    free(m);
}

static void test_payload_len_shorter_than_message(void **state)
{
    fixture *fx = *state;
    uint8_t *m = dup_msg(&fx->raw, 0);
    m[fx->raw.len[0]] = 0xAB;
    check_malformed(fx, m, fx->raw.len[0] + 1, RIDE_FRAME_PAYLOAD_LEN_MISMATCH);
    free(m);
}

static void test_payload_len_zero(void **state)
{
    fixture *fx = *state;
    uint8_t *m = dup_msg(&fx->raw, 0);
    wire_put32(m, W_PAYLOAD_LEN, 0);
    wire_fix_crcs(m);
    check_malformed(fx, m, 72, RIDE_FRAME_PAYLOAD_LEN_MISMATCH);
    free(m);
}

static void test_payload_len_above_frame_len(void **state)
{
    fixture *fx = *state;
    uint8_t *m = dup_msg(&fx->png, 0);
    wire_put64(m, W_FRAME_LEN, wire_get32(m, W_PAYLOAD_LEN) - 1);
    wire_fix_header_crc(m, 72);
    assert_int_equal(ride_frame_assembler_push(fx->a, m, fx->png.len[0], &fx->out),
                     RIDE_FRAME_PAYLOAD_LEN_MISMATCH);
    expect_reports(fx, 1, RIDE_FRAME_PAYLOAD_LEN_MISMATCH);
    expect_recovers(fx);
    free(m);
}

static void test_single_chunk_shorter_than_frame(void **state)
{
    fixture *fx = *state;
    uint8_t *m = dup_msg(&fx->multi, 0);
    wire_put16(m, W_CHUNK_COUNT, 1);
    wire_fix_header_crc(m, 72);
    assert_int_equal(ride_frame_assembler_push(fx->a, m, fx->multi.len[0], &fx->out),
                     RIDE_FRAME_FRAME_LEN_MISMATCH);
    expect_reports(fx, 1, RIDE_FRAME_FRAME_LEN_MISMATCH);
    expect_recovers(fx);
    free(m);
}

static void test_bad_payload_crc(void **state)
{
    fixture *fx = *state;
    uint8_t *m = dup_msg(&fx->raw, 0);
    m[72 + 11] ^= 0x04;
    check_malformed(fx, m, fx->raw.len[0], RIDE_FRAME_BAD_PAYLOAD_CRC);
    m[72 + 11] ^= 0x04;
    m[W_PAYLOAD_CRC] ^= 0x01;
    wire_fix_header_crc(m, 72);
    check_malformed(fx, m, fx->raw.len[0], RIDE_FRAME_BAD_PAYLOAD_CRC);
    free(m);
}

static void test_chunk_index_not_below_count(void **state)
{
    fixture *fx = *state;
    check_field(fx, W_CHUNK_INDEX, 2, 1, RIDE_FRAME_BAD_CHUNK_INDEX);
    check_field(fx, W_CHUNK_INDEX, 2, 0xFFFF, RIDE_FRAME_BAD_CHUNK_INDEX);
}

static void test_chunk_count_zero(void **state)
{
    fixture *fx = *state;
    check_field(fx, W_CHUNK_COUNT, 2, 0, RIDE_FRAME_BAD_CHUNK_COUNT);
}

/* ---- Limits of the assembler ---- */

static void test_frame_len_above_assembler_limit(void **state)
{
    fixture *fx = *state;
    rejects rs = {0};
    ride_frame_assembler *a = ride_frame_assembler_new(99, rejects_record, &rs);
    assert_int_equal(ride_frame_assembler_push(a, fx->multi.data[0], fx->multi.len[0], &fx->out),
                     RIDE_FRAME_TOO_LARGE);
    for (size_t i = 1; i < 4; i++)
        assert_int_equal(ride_frame_assembler_push(a, fx->multi.data[i], fx->multi.len[i],
                                                   &fx->out),
                         RIDE_FRAME_SKIPPED);
    assert_int_equal(rs.count, 1);
    assert_int_equal(rs.r[0].status, RIDE_FRAME_TOO_LARGE);
    assert_int_equal(rs.r[0].seq, seq_of(&fx->multi));
    assert_int_equal(ride_frame_assembler_push(a, fx->raw.data[0], fx->raw.len[0], &fx->out),
                     RIDE_FRAME_OK);
    ride_frame_assembler_free(a);
}

/* A few hundred bytes of PNG may claim 65536 x 65536 pixels: refused before decoding. */
static void test_decoded_size_above_assembler_limit(void **state)
{
    fixture *fx = *state;
    uint8_t *m = dup_msg(&fx->png, 0);
    wire_put32(m, W_WIDTH, RIDE_IMAGE_MAX_DIM);
    wire_put32(m, W_HEIGHT, RIDE_IMAGE_MAX_DIM);
    wire_fix_header_crc(m, 72);
    assert_int_equal(ride_frame_header_parse(m, fx->png.len[0], &(ride_frame_header){0}, NULL),
                     RIDE_FRAME_OK);
    assert_int_equal(ride_frame_assembler_push(fx->a, m, fx->png.len[0], &fx->out),
                     RIDE_FRAME_TOO_LARGE);
    expect_reports(fx, 1, RIDE_FRAME_TOO_LARGE);
    assert_null(fx->out.image.data);
    expect_recovers(fx);
    free(m);
}

static void test_assembler_new_rejects_bad_arguments(void **state)
{
    (void)state;
    rejects rs = {0};
    assert_null(ride_frame_assembler_new(0, rejects_record, &rs));
    assert_null(ride_frame_assembler_new(100, NULL, &rs));
    assert_null(ride_frame_assembler_new_opts(NULL));
    ride_frame_assembler_opts o = {.max_frame_bytes = 100, .on_reject = rejects_record};
    o.max_pending = RIDE_FRAME_MAX_PENDING + 1;
    assert_null(ride_frame_assembler_new_opts(&o));
    o.max_pending = 2;
    o.max_pending_bytes = 99; /* below one frame */
    assert_null(ride_frame_assembler_new_opts(&o));
    o.max_pending_bytes = 100;
    ride_frame_assembler *a = ride_frame_assembler_new_opts(&o);
    assert_non_null(a);
    ride_frame_assembler_free(a);
}

/* ---- Chunk sequences ---- */

static void test_missing_chunk(void **state)
{
    fixture *fx = *state;
    assert_int_equal(push(fx, &fx->multi, 0), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(push(fx, &fx->multi, 1), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(push(fx, &fx->multi, 3), RIDE_FRAME_MISSING_CHUNK);
    assert_false(ride_frame_assembler_pending(fx->a));
    expect_identity(fx, 0, seq_of(&fx->multi));
    expect_reports(fx, 1, RIDE_FRAME_MISSING_CHUNK);
    expect_recovers(fx);
}

static void test_repeated_chunk(void **state)
{
    fixture *fx = *state;
    assert_int_equal(push(fx, &fx->multi, 0), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(push(fx, &fx->multi, 1), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(push(fx, &fx->multi, 1), RIDE_FRAME_REPEATED_CHUNK);
    assert_int_equal(push(fx, &fx->multi, 2), RIDE_FRAME_SKIPPED);
    assert_int_equal(push(fx, &fx->multi, 3), RIDE_FRAME_SKIPPED);
    expect_identity(fx, 0, seq_of(&fx->multi));
    expect_reports(fx, 1, RIDE_FRAME_REPEATED_CHUNK);
    expect_recovers(fx);
}

/* A chunk of an unknown frame amid frame A's chunks (a writer whose first
 * chunk was not read) costs only its own frame, reported once; A completes. */
static void test_chunk_of_unknown_frame_amid_another(void **state)
{
    fixture *fx = *state;
    assert_int_equal(push(fx, &fx->multi, 0), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(push(fx, &fx->multi, 1), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(push(fx, &fx->other, 1), RIDE_FRAME_MISSING_CHUNK);
    expect_identity(fx, 0, seq_of(&fx->other));
    expect_reports(fx, 1, RIDE_FRAME_MISSING_CHUNK);
    assert_int_equal(push(fx, &fx->multi, 2), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(push(fx, &fx->other, 2), RIDE_FRAME_SKIPPED);
    assert_int_equal(push(fx, &fx->multi, 3), RIDE_FRAME_OK);
    assert_int_equal(fx->out.seq, seq_of(&fx->multi));
    assert_int_equal(push(fx, &fx->other, 3), RIDE_FRAME_SKIPPED);
    expect_reports(fx, 0, RIDE_FRAME_OK);
    assert_int_equal(ride_frame_assembler_pending(fx->a), 0);
    expect_recovers(fx);
}

/* A frame that starts while another is incomplete is assembled beside it, and a
 * single-message frame in between is delivered at once: nothing is lost. */
static void test_new_frame_while_one_is_incomplete(void **state)
{
    fixture *fx = *state;
    assert_int_equal(push(fx, &fx->multi, 0), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(push(fx, &fx->multi, 1), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(push(fx, &fx->other, 0), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(ride_frame_assembler_pending(fx->a), 2);
    for (size_t i = 1; i < 4; i++)
        assert_int_equal(push(fx, &fx->other, i), i < 3 ? RIDE_FRAME_INCOMPLETE : RIDE_FRAME_OK);
    assert_int_equal(fx->out.seq, seq_of(&fx->other));
    assert_int_equal(ride_frame_assembler_pending(fx->a), 1);
    assert_int_equal(push(fx, &fx->raw, 0), RIDE_FRAME_OK);
    assert_int_equal(fx->out.seq, fx->raw_frame.seq);
    assert_int_equal(push(fx, &fx->multi, 2), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(push(fx, &fx->multi, 3), RIDE_FRAME_OK);
    assert_int_equal(fx->out.seq, seq_of(&fx->multi));
    assert_int_equal(ride_frame_assembler_pending(fx->a), 0);
    expect_reports(fx, 0, RIDE_FRAME_OK);
}

static void test_chunk_fields_differ_from_first_chunk(void **state)
{
    fixture *fx = *state;
    static const size_t offsets[] = {W_CAPTURE_NS, W_WIDTH, W_CHUNK_COUNT};
    for (size_t k = 0; k < 3; k++) {
        uint8_t *m = dup_msg(&fx->multi, 2);
        if (offsets[k] == W_CHUNK_COUNT)
            wire_put16(m, W_CHUNK_COUNT, 5);
        else if (offsets[k] == W_WIDTH) {
            wire_put32(m, W_WIDTH, 20);
            wire_put32(m, W_STRIDE, 20);
            wire_put32(m, W_HEIGHT, 5);
        } else
            m[W_CAPTURE_NS] ^= 1;
        wire_fix_header_crc(m, 72);
        assert_int_equal(push(fx, &fx->multi, 0), RIDE_FRAME_INCOMPLETE);
        assert_int_equal(push(fx, &fx->multi, 1), RIDE_FRAME_INCOMPLETE);
        assert_int_equal(ride_frame_assembler_push(fx->a, m, fx->multi.len[2], &fx->out),
                         RIDE_FRAME_CHUNK_MISMATCH);
        assert_int_equal(push(fx, &fx->multi, 3), RIDE_FRAME_SKIPPED);
        expect_identity(fx, 0, seq_of(&fx->multi));
        expect_reports(fx, 1, RIDE_FRAME_CHUNK_MISMATCH);
        expect_recovers(fx);
        free(m);
    }
}

/* The PNG frame in three chunks, with frame_len changed in every chunk. */
static void check_png_frame_len(fixture *fx, int64_t delta, size_t fails_at)
{
    ride_frame f;
    frame_make(&f, RIDE_PIX_BGR8, 12, 9, 0, 4);
    msgs l = {0};
    msgs_write(&l, &f, RIDE_ENC_PNG, -1, 100000);
    uint64_t total = wire_get64(l.data[0], W_FRAME_LEN);
    size_t chunk = (size_t)(total + 2) / 3;
    msgs_free(&l);
    msgs_write(&l, &f, RIDE_ENC_PNG, -1, 72 + chunk);
    assert_int_equal(l.count, 3);
    for (size_t i = 0; i < 3; i++) {
        wire_put64(l.data[i], W_FRAME_LEN, (uint64_t)((int64_t)total + delta));
        wire_fix_header_crc(l.data[i], 72);
    }
    for (size_t i = 0; i < fails_at; i++)
        assert_int_equal(push(fx, &l, i), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(push(fx, &l, fails_at), RIDE_FRAME_FRAME_LEN_MISMATCH);
    expect_identity(fx, 0, f.seq);
    expect_reports(fx, 1, RIDE_FRAME_FRAME_LEN_MISMATCH);
    expect_recovers(fx);
    msgs_free(&l);
    ride_frame_free(&f);
}

static void test_chunks_add_up_to_less_than_frame_len(void **state)
{
    check_png_frame_len(*state, +1, 2);
}

static void test_chunks_add_up_to_more_than_frame_len(void **state)
{
    check_png_frame_len(*state, -1, 2);
}

static void test_last_chunk_short_of_raw_frame(void **state)
{
    fixture *fx = *state;
    uint8_t *m = dup_msg(&fx->multi, 3);
    wire_put32(m, W_PAYLOAD_LEN, 24);
    wire_fix_crcs(m);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(push(fx, &fx->multi, i), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(ride_frame_assembler_push(fx->a, m, fx->multi.len[3] - 1, &fx->out),
                     RIDE_FRAME_FRAME_LEN_MISMATCH);
    expect_reports(fx, 1, RIDE_FRAME_FRAME_LEN_MISMATCH);
    expect_recovers(fx);
    free(m);
}

/* A worker that starts reading mid-frame drops that frame once, then reads on. */
static void test_first_message_mid_frame(void **state)
{
    fixture *fx = *state;
    assert_int_equal(push(fx, &fx->multi, 2), RIDE_FRAME_MISSING_CHUNK);
    assert_int_equal(push(fx, &fx->multi, 3), RIDE_FRAME_SKIPPED);
    expect_identity(fx, 0, seq_of(&fx->multi));
    expect_reports(fx, 1, RIDE_FRAME_MISSING_CHUNK);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(push(fx, &fx->other, i), i < 3 ? RIDE_FRAME_INCOMPLETE : RIDE_FRAME_OK);
    expect_reports(fx, 0, RIDE_FRAME_OK);
}

/* A chunk whose payload is corrupt costs its frame, reported once. */
static void test_corrupt_chunk_mid_frame(void **state)
{
    fixture *fx = *state;
    uint8_t *m = dup_msg(&fx->multi, 1);
    m[80] ^= 0x20;
    assert_int_equal(push(fx, &fx->multi, 0), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(ride_frame_assembler_push(fx->a, m, fx->multi.len[1], &fx->out),
                     RIDE_FRAME_BAD_PAYLOAD_CRC);
    assert_int_equal(push(fx, &fx->multi, 2), RIDE_FRAME_SKIPPED);
    assert_int_equal(push(fx, &fx->multi, 3), RIDE_FRAME_SKIPPED);
    expect_identity(fx, 0, seq_of(&fx->multi));
    expect_reports(fx, 1, RIDE_FRAME_BAD_PAYLOAD_CRC);
    expect_recovers(fx);
    free(m);
}

/* A message with an untrusted header in the middle of a frame cannot be
 * attributed (another writer's message may sit there): it is reported on its
 * own, and the frame that lost a chunk to it fails at its next chunk. */
static void test_garbage_mid_frame(void **state)
{
    fixture *fx = *state;
    uint8_t *m = dup_msg(&fx->multi, 1);
    m[W_SEQ] ^= 0x01;
    assert_int_equal(push(fx, &fx->multi, 0), RIDE_FRAME_INCOMPLETE);
    assert_int_equal(ride_frame_assembler_push(fx->a, m, fx->multi.len[1], &fx->out),
                     RIDE_FRAME_BAD_HEADER_CRC);
    assert_false(fx->rs.r[0].id_known);
    expect_reports(fx, 1, RIDE_FRAME_BAD_HEADER_CRC);
    assert_int_equal(push(fx, &fx->multi, 2), RIDE_FRAME_MISSING_CHUNK);
    assert_int_equal(push(fx, &fx->multi, 3), RIDE_FRAME_SKIPPED);
    expect_identity(fx, 0, seq_of(&fx->multi));
    expect_reports(fx, 1, RIDE_FRAME_MISSING_CHUNK);
    expect_recovers(fx);
    free(m);
}

/* The single encoded message with its payload replaced by `bytes`. */
static void check_payload(fixture *fx, const msgs *l, const uint8_t *bytes, size_t n,
                          ride_frame_status want)
{
    uint8_t *m = malloc(72 + n);
    memcpy(m, l->data[0], 72);
    memcpy(m + 72, bytes, n);
    wire_put64(m, W_FRAME_LEN, n);
    wire_put32(m, W_PAYLOAD_LEN, (uint32_t)n);
    wire_fix_crcs(m);
    assert_int_equal(ride_frame_header_parse(m, 72 + n, &(ride_frame_header){0}, NULL),
                     RIDE_FRAME_OK);
    assert_int_equal(ride_frame_assembler_push(fx->a, m, 72 + n, &fx->out), want);
    expect_identity(fx, 0, seq_of(l));
    expect_reports(fx, 1, want);
    expect_recovers(fx);
    free(m);
}

static void test_garbage_jpeg_payload(void **state)
{
    fixture *fx = *state;
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    check_payload(fx, &fx->jpeg, junk, sizeof junk, RIDE_FRAME_DECODE_FAILED);
    /* Starts like a JPEG, ends after its first segment. */
    check_payload(fx, &fx->jpeg, fx->jpeg.data[0] + 72, 40, RIDE_FRAME_DECODE_FAILED);
}

static void test_garbage_png_payload(void **state)
{
    fixture *fx = *state;
    uint8_t junk[64];
    memset(junk, 0x5A, sizeof junk);
    check_payload(fx, &fx->png, junk, sizeof junk, RIDE_FRAME_DECODE_FAILED);
    /* A valid signature and IHDR, then nothing. */
    check_payload(fx, &fx->png, fx->png.data[0] + 72, 33, RIDE_FRAME_DECODE_FAILED);
}

static void test_jpeg_size_differs_from_header(void **state)
{
    fixture *fx = *state;
    static const uint32_t sizes[][2] = {{32, 24}, {40, 31}, {80, 60}};
    for (size_t k = 0; k < 3; k++) {
        uint8_t *m = dup_msg(&fx->jpeg, 0);
        wire_put32(m, W_WIDTH, sizes[k][0]);
        wire_put32(m, W_HEIGHT, sizes[k][1]);
        wire_fix_header_crc(m, 72);
        assert_int_equal(ride_frame_assembler_push(fx->a, m, fx->jpeg.len[0], &fx->out),
                         RIDE_FRAME_DIMENSION_MISMATCH);
        expect_identity(fx, 0, seq_of(&fx->jpeg));
        expect_reports(fx, 1, RIDE_FRAME_DIMENSION_MISMATCH);
        expect_recovers(fx);
        free(m);
    }
}

/* Reset forgets the frame in progress without a report: its chunks will be read again. */
static void test_reset_forgets_silently(void **state)
{
    fixture *fx = *state;
    assert_int_equal(push(fx, &fx->multi, 0), RIDE_FRAME_INCOMPLETE);
    assert_true(ride_frame_assembler_pending(fx->a));
    ride_frame_assembler_reset(fx->a);
    assert_false(ride_frame_assembler_pending(fx->a));
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(push(fx, &fx->multi, i), i < 3 ? RIDE_FRAME_INCOMPLETE : RIDE_FRAME_OK);
    expect_reports(fx, 0, RIDE_FRAME_OK);
}

/* A frame rejected at its first chunk and then sent again from chunk 0 is read. */
static void test_frame_sent_again_after_rejection(void **state)
{
    fixture *fx = *state;
    uint8_t *m = dup_msg(&fx->multi, 0);
    m[90] ^= 0x01;
    assert_int_equal(ride_frame_assembler_push(fx->a, m, fx->multi.len[0], &fx->out),
                     RIDE_FRAME_BAD_PAYLOAD_CRC);
    assert_int_equal(push(fx, &fx->multi, 1), RIDE_FRAME_SKIPPED);
    expect_reports(fx, 1, RIDE_FRAME_BAD_PAYLOAD_CRC);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(push(fx, &fx->multi, i), i < 3 ? RIDE_FRAME_INCOMPLETE : RIDE_FRAME_OK);
    expect_reports(fx, 0, RIDE_FRAME_OK);
    free(m);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_truncated_empty),
        T(test_truncated_inside_magic_and_header),
        T(test_truncated_inside_payload),
        T(test_bad_magic),
        T(test_unsupported_version),
        T(test_header_len_too_small),
        T(test_header_len_beyond_message),
        T(test_bad_header_crc),
        T(test_bad_flags),
        T(test_bad_pixel_format),
        T(test_bad_encoding),
        T(test_encoding_cannot_carry_format),
        T(test_channel_mismatch),
        T(test_zero_width),
        T(test_zero_height),
        T(test_dimensions_above_maximum),
        T(test_stride_below_row_bytes),
        T(test_stride_on_encoded_payload),
        T(test_stride_times_height_at_field_limits),
        T(test_raw_frame_len_differs_from_stride_times_height),
        T(test_encoded_frame_len_above_protocol_limit),
        T(test_payload_len_shorter_than_message),
        T(test_payload_len_zero),
        T(test_payload_len_above_frame_len),
        T(test_single_chunk_shorter_than_frame),
        T(test_bad_payload_crc),
        T(test_chunk_index_not_below_count),
        T(test_chunk_count_zero),
        T(test_frame_len_above_assembler_limit),
        T(test_decoded_size_above_assembler_limit),
        T(test_assembler_new_rejects_bad_arguments),
        T(test_missing_chunk),
        T(test_repeated_chunk),
        T(test_chunk_of_unknown_frame_amid_another),
        T(test_new_frame_while_one_is_incomplete),
        T(test_chunk_fields_differ_from_first_chunk),
        T(test_chunks_add_up_to_less_than_frame_len),
        T(test_chunks_add_up_to_more_than_frame_len),
        T(test_last_chunk_short_of_raw_frame),
        T(test_first_message_mid_frame),
        T(test_corrupt_chunk_mid_frame),
        T(test_garbage_mid_frame),
        T(test_garbage_jpeg_payload),
        T(test_garbage_png_payload),
        T(test_jpeg_size_differs_from_header),
        T(test_reset_forgets_silently),
        T(test_frame_sent_again_after_rejection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
