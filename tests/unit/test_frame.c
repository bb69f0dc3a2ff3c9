/* Frame wire format: checksum, reason strings, byte layout, encoder, and round
 * trips through ride_frame_write and the assembler. Malformed input is in
 * test_frame_malformed.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_frame_util.h"

/* Plenty for any test frame, so that it travels as a single message. */
#define ONE_MESSAGE ((size_t)64 << 20)

static void test_crc32c_check_value(void **state)
{
    (void)state;
    assert_int_equal(ride_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(ride_crc32c(ride_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
    assert_int_equal(ride_crc32c(0, "", 0), 0);
}

static void test_status_reasons_are_distinct_snake_case(void **state)
{
    (void)state;
    for (int i = 0; i < RIDE_FRAME_STATUS_COUNT; i++) {
        const char *r = ride_frame_status_reason((ride_frame_status)i);
        assert_non_null(r);
        assert_true(r[0] != '\0');
        for (const char *c = r; *c; c++)
            assert_true(islower((unsigned char)*c) || *c == '_');
        assert_true(strlen(ride_frame_status_message((ride_frame_status)i)) > 5);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(r, ride_frame_status_reason((ride_frame_status)j));
    }
    assert_string_equal(ride_frame_status_reason(RIDE_FRAME_OK), "ok");
    assert_string_equal(ride_frame_status_reason(RIDE_FRAME_BAD_PAYLOAD_CRC), "bad_payload_crc");
    assert_string_equal(ride_frame_status_reason(RIDE_FRAME_MISSING_CHUNK), "missing_chunk");
    assert_string_equal(ride_frame_status_reason(RIDE_FRAME_STATUS_COUNT), "unknown");
    assert_string_equal(ride_frame_status_reason((ride_frame_status)-1), "unknown");
}

static void test_header_layout_matches_documentation(void **state)
{
    (void)state;
    ride_frame f;
    frame_make(&f, RIDE_PIX_GRAY8, 4, 2, 3, 1);
    f.stream_id = 0xA1B2C3D4u;
    f.seq = 0x0102030405060708ull;
    f.capture_ns = 0x1122334455667788ull;
    msgs l = {0};
    msgs_write(&l, &f, RIDE_ENC_RAW, -1, ONE_MESSAGE);
    assert_int_equal(l.count, 1);
    const uint8_t *m = l.data[0];
    assert_int_equal(l.len[0], 72 + 8);
    assert_memory_equal(m, "RIDF", 4);
    assert_int_equal(wire_get16(m, W_VERSION), 1);
    assert_int_equal(wire_get16(m, W_HEADER_LEN), 72);
    assert_int_equal(wire_get16(m, W_PIXEL_FORMAT), RIDE_PIX_GRAY8);
    assert_int_equal(wire_get16(m, W_ENCODING), RIDE_ENC_RAW);
    assert_int_equal(wire_get16(m, W_CHANNELS), 1);
    assert_int_equal(wire_get16(m, W_FLAGS), 0);
    assert_int_equal(wire_get32(m, W_WIDTH), 4);
    assert_int_equal(wire_get32(m, W_HEIGHT), 2);
    assert_int_equal(wire_get32(m, W_STRIDE), 4); /* sent without the source's padding */
    assert_memory_equal(m + W_STREAM_ID, "\xD4\xC3\xB2\xA1", 4);
    assert_memory_equal(m + W_SEQ, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
    assert_int_equal(wire_get64(m, W_CAPTURE_NS), 0x1122334455667788ull);
    assert_int_equal(wire_get64(m, W_FRAME_LEN), 8);
    assert_int_equal(wire_get32(m, W_PAYLOAD_LEN), 8);
    assert_int_equal(wire_get16(m, W_CHUNK_INDEX), 0);
    assert_int_equal(wire_get16(m, W_CHUNK_COUNT), 1);
    assert_int_equal(wire_get32(m, W_PAYLOAD_CRC), ride_crc32c(0, m + 72, 8));
    assert_int_equal(wire_get32(m, W_HEADER_CRC), ride_crc32c(0, m, 68));
    assert_memory_equal(m + 72, f.image.data, 4);
    assert_memory_equal(m + 76, f.image.data + f.image.stride, 4);

    ride_frame_header h;
    const uint8_t *payload = NULL;
    assert_int_equal(ride_frame_header_parse(m, l.len[0], &h, &payload), RIDE_FRAME_OK);
    assert_ptr_equal(payload, m + 72);
    assert_int_equal(h.stream_id, 0xA1B2C3D4u);
    assert_int_equal(h.seq, 0x0102030405060708ull);
    assert_int_equal(h.capture_ns, 0x1122334455667788ull);
    assert_int_equal(h.frame_len, 8);
    assert_int_equal(h.chunk_count, 1);
    msgs_free(&l);
    ride_frame_free(&f);
}

/* Pushes every message; all but the last must be INCOMPLETE, the last OK. */
static void assemble(const msgs *l, size_t max_frame_bytes, ride_frame *out)
{
    rejects rs = {0};
    ride_frame_assembler *a = ride_frame_assembler_new(max_frame_bytes, rejects_record, &rs);
    assert_non_null(a);
    for (size_t i = 0; i < l->count; i++) {
        ride_frame_status st = ride_frame_assembler_push(a, l->data[i], l->len[i], out);
        assert_int_equal(st, i + 1 < l->count ? RIDE_FRAME_INCOMPLETE : RIDE_FRAME_OK);
        assert_int_equal(ride_frame_assembler_pending(a), i + 1 < l->count);
    }
    assert_int_equal(rs.count, 0);
    ride_frame_assembler_free(a);
}

static void assert_identity(const ride_frame *got, const ride_frame *want)
{
    assert_int_equal(got->stream_id, want->stream_id);
    assert_int_equal(got->seq, want->seq);
    assert_int_equal(got->capture_ns, want->capture_ns);
}

static void round_trip_raw(ride_pixel_format fmt, uint32_t w, uint32_t h, size_t max_msg,
                           size_t want_chunks)
{
    ride_frame f, got = {0};
    frame_make(&f, fmt, w, h, 13, w * 31 + h);
    msgs l = {0};
    msgs_write(&l, &f, RIDE_ENC_RAW, -1, max_msg);
    if (want_chunks)
        assert_int_equal(l.count, want_chunks);
    for (size_t i = 0; i < l.count; i++)
        assert_true(l.len[i] <= max_msg);
    assemble(&l, (size_t)64 << 20, &got);
    assert_true(images_equal(&got.image, &f.image));
    assert_int_equal(got.image.stride, ride_image_row_bytes(fmt, w));
    assert_identity(&got, &f);
    msgs_free(&l);
    ride_frame_free(&got);
    ride_frame_free(&f);
}

static void test_raw_round_trip_every_format(void **state)
{
    (void)state;
    static const ride_pixel_format formats[] = {RIDE_PIX_GRAY8,  RIDE_PIX_BGR8,   RIDE_PIX_RGB8,
                                                RIDE_PIX_BGRA8,  RIDE_PIX_GRAY16, RIDE_PIX_GRAY32F};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        round_trip_raw(formats[i], 1, 1, ONE_MESSAGE, 1);
        round_trip_raw(formats[i], 3, 7, ONE_MESSAGE, 1);
        round_trip_raw(formats[i], 901, 899, ONE_MESSAGE, 1);
        round_trip_raw(formats[i], 901, 899, RIDE_FRAME_DEFAULT_MAX_MESSAGE, 0);
    }
}

static void test_raw_round_trip_many_chunks(void **state)
{
    (void)state;
    /* 64x48 BGR8 = 9216 bytes in chunks of 97: 95 full chunks and one of 1 byte. */
    round_trip_raw(RIDE_PIX_BGR8, 64, 48, 72 + 97, 96);
    /* Rows of 3x7 GRAY16 are 6 bytes: chunks of 4 straddle row ends. */
    round_trip_raw(RIDE_PIX_GRAY16, 3, 7, 72 + 4, 11);
    round_trip_raw(RIDE_PIX_GRAY8, 1, 1, 72 + 1, 1);
}

static void test_frame_exactly_at_chunk_boundary(void **state)
{
    (void)state;
    ride_frame f, got = {0};
    frame_make(&f, RIDE_PIX_GRAY8, 32, 32, 0, 5);
    msgs l = {0};
    msgs_write(&l, &f, RIDE_ENC_RAW, -1, 72 + 256);
    assert_int_equal(l.count, 4);
    for (size_t i = 0; i < l.count; i++) {
        assert_int_equal(l.len[i], 72 + 256);
        assert_int_equal(wire_get16(l.data[i], W_CHUNK_INDEX), i);
        assert_int_equal(wire_get16(l.data[i], W_CHUNK_COUNT), 4);
        assert_int_equal(wire_get64(l.data[i], W_FRAME_LEN), 1024);
    }
    assemble(&l, 1024, &got);
    assert_true(images_equal(&got.image, &f.image));
    msgs_free(&l);
    ride_frame_free(&got);
    ride_frame_free(&f);
}

/* Smooth content, as from a camera: JPEG keeps it close. */
static void fill_gradient(ride_image *img)
{
    unsigned ch = ride_pixel_channels(img->format);
    for (uint32_t y = 0; y < img->height; y++)
        for (uint32_t x = 0; x < img->width; x++)
            for (unsigned c = 0; c < ch; c++)
                ride_image_row(img, y)[(size_t)x * ch + c] =
                    (uint8_t)((x * 2 + y + c * 40) % 256);
}

static void test_jpeg_round_trip(void **state)
{
    (void)state;
    static const ride_pixel_format formats[] = {RIDE_PIX_GRAY8, RIDE_PIX_BGR8};
    for (size_t i = 0; i < 2; i++) {
        ride_frame f, got = {0};
        frame_make(&f, formats[i], 97, 61, 5, 9);
        fill_gradient(&f.image);
        static const size_t max_msgs[] = {ONE_MESSAGE, 72 + 64};
        for (size_t k = 0; k < 2; k++) {
            msgs l = {0};
            msgs_write(&l, &f, RIDE_ENC_JPEG, 90, max_msgs[k]);
            assert_true(k == 0 ? l.count == 1 : l.count > 5);
            assert_int_equal(wire_get32(l.data[0], W_STRIDE), 0);
            assemble(&l, (size_t)1 << 20, &got);
            assert_int_equal(got.image.format, formats[i]);
            assert_int_equal(got.image.width, 97);
            assert_int_equal(got.image.height, 61);
            assert_true(ride_test_mean_abs_diff_u8(&got.image, &f.image) < 3.0);
            assert_identity(&got, &f);
            msgs_free(&l);
        }
        ride_frame_free(&got);
        ride_frame_free(&f);
    }
}

static void test_png_round_trip_is_exact(void **state)
{
    (void)state;
    static const ride_pixel_format formats[] = {RIDE_PIX_GRAY8, RIDE_PIX_BGR8, RIDE_PIX_BGRA8,
                                                RIDE_PIX_GRAY16};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        ride_frame f, got = {0};
        frame_make(&f, formats[i], 45, 23, 7, (uint32_t)i + 3);
        static const size_t max_msgs[] = {ONE_MESSAGE, 72 + 333};
        for (size_t k = 0; k < 2; k++) {
            msgs l = {0};
            msgs_write(&l, &f, RIDE_ENC_PNG, k == 0 ? -1 : 9, max_msgs[k]);
            assert_true(k == 0 ? l.count == 1 : l.count > 3);
            assemble(&l, (size_t)1 << 20, &got);
            assert_true(images_equal(&got.image, &f.image));
            assert_identity(&got, &f);
            msgs_free(&l);
        }
        ride_frame_free(&got);
        ride_frame_free(&f);
    }
}

/* Steady state: a frame of the same shape reuses the caller's image buffer. */
static void test_output_buffer_is_reused(void **state)
{
    (void)state;
    rejects rs = {0};
    ride_frame_assembler *a = ride_frame_assembler_new(1 << 20, rejects_record, &rs);
    ride_frame out = {0};
    uint8_t *first = NULL;
    for (uint32_t seed = 1; seed <= 3; seed++) {
        ride_frame f;
        frame_make(&f, RIDE_PIX_BGR8, 40, 30, 0, seed);
        msgs l = {0};
        msgs_write(&l, &f, RIDE_ENC_RAW, -1, 72 + 1000);
        for (size_t i = 0; i < l.count; i++)
            ride_frame_assembler_push(a, l.data[i], l.len[i], &out);
        assert_true(images_equal(&out.image, &f.image));
        if (!first)
            first = out.image.data;
        assert_ptr_equal(out.image.data, first);
        msgs_free(&l);
        ride_frame_free(&f);
    }
    assert_int_equal(rs.count, 0);
    ride_frame_free(&out);
    ride_frame_assembler_free(a);
}

/* A later header may append fields: a version 1 reader skips them, but the
 * header CRC covers them. */
static void test_longer_header_is_read_and_checked(void **state)
{
    (void)state;
    ride_frame f, got = {0};
    frame_make(&f, RIDE_PIX_GRAY8, 6, 5, 0, 4);
    msgs l = {0};
    msgs_write(&l, &f, RIDE_ENC_RAW, -1, ONE_MESSAGE);
    size_t len = l.len[0] + 8;
    uint8_t *m = malloc(len);
    memcpy(m, l.data[0], 72);
    memcpy(m + 72, "EXTENDED", 8);
    memcpy(m + 80, l.data[0] + 72, l.len[0] - 72);
    wire_put16(m, W_HEADER_LEN, 80);
    wire_fix_header_crc(m, 80);

    ride_frame_header h;
    const uint8_t *payload = NULL;
    assert_int_equal(ride_frame_header_parse(m, len, &h, &payload), RIDE_FRAME_OK);
    assert_int_equal(h.header_len, 80);
    assert_ptr_equal(payload, m + 80);
    rejects rs = {0};
    ride_frame_assembler *a = ride_frame_assembler_new(1 << 20, rejects_record, &rs);
    assert_int_equal(ride_frame_assembler_push(a, m, len, &got), RIDE_FRAME_OK);
    assert_true(images_equal(&got.image, &f.image));

    m[75] ^= 0x01;
    assert_int_equal(ride_frame_header_parse(m, len, &h, NULL), RIDE_FRAME_BAD_HEADER_CRC);
    ride_frame_assembler_free(a);
    free(m);
    msgs_free(&l);
    ride_frame_free(&got);
    ride_frame_free(&f);
}

static int count_messages(void *ctx, const uint8_t *msg, size_t len)
{
    (void)msg;
    (void)len;
    ++*(size_t *)ctx;
    return 0;
}

static int write_counting(const ride_frame *f, ride_encoding enc, int quality, size_t max_msg,
                          char *err, size_t errlen, size_t *emitted)
{
    ride_frame_write_opts o = {enc, quality, max_msg};
    err[0] = '\0';
    *emitted = 0;
    return ride_frame_write(f, &o, count_messages, emitted, err, errlen);
}

static void assert_write_refused(const ride_frame *f, ride_encoding enc, int quality,
                                 size_t max_msg, const char *why)
{
    char err[256];
    size_t emitted;
    assert_int_equal(write_counting(f, enc, quality, max_msg, err, sizeof err, &emitted), -1);
    assert_int_equal(emitted, 0);
    if (!strstr(err, why))
        fail_msg("error \"%s\" does not mention \"%s\"", err, why);
}

static void test_write_refuses_bad_requests(void **state)
{
    (void)state;
    ride_frame gray, f32, rgb, bgra;
    frame_make(&gray, RIDE_PIX_GRAY8, 1000, 1000, 0, 1);
    frame_make(&f32, RIDE_PIX_GRAY32F, 4, 4, 0, 1);
    frame_make(&rgb, RIDE_PIX_RGB8, 4, 4, 0, 1);
    frame_make(&bgra, RIDE_PIX_BGRA8, 4, 4, 0, 1);

    assert_write_refused(&gray, RIDE_ENC_RAW, -1, 72, "no room for payload");
    assert_write_refused(&gray, RIDE_ENC_RAW, -1, 72 + 1, "more than 65535");
    assert_write_refused(&f32, RIDE_ENC_JPEG, -1, ONE_MESSAGE, "jpeg cannot carry gray32f");
    assert_write_refused(&f32, RIDE_ENC_PNG, -1, ONE_MESSAGE, "png cannot carry gray32f");
    assert_write_refused(&rgb, RIDE_ENC_PNG, -1, ONE_MESSAGE, "png cannot carry rgb8");
    assert_write_refused(&bgra, RIDE_ENC_JPEG, -1, ONE_MESSAGE, "jpeg cannot carry bgra8");
    assert_write_refused(&gray, (ride_encoding)3, -1, ONE_MESSAGE, "unknown encoding");
    assert_write_refused(&gray, RIDE_ENC_JPEG, 101, ONE_MESSAGE, "quality 101");
    assert_write_refused(&gray, RIDE_ENC_PNG, 10, ONE_MESSAGE, "quality 10");

    ride_frame bad = rgb;
    bad.image.stride = 11;
    assert_write_refused(&bad, RIDE_ENC_RAW, -1, ONE_MESSAGE, "below its row size");
    bad = rgb;
    bad.image.data = NULL;
    assert_write_refused(&bad, RIDE_ENC_RAW, -1, ONE_MESSAGE, "no pixels");
    bad = rgb;
    bad.image.width = 0;
    assert_write_refused(&bad, RIDE_ENC_RAW, -1, ONE_MESSAGE, "outside 1..65536");
    bad = rgb;
    bad.image.format = (ride_pixel_format)42;
    assert_write_refused(&bad, RIDE_ENC_RAW, -1, ONE_MESSAGE, "unknown pixel format");

    /* Exactly 65535 chunks is still allowed. */
    ride_frame small;
    frame_make(&small, RIDE_PIX_GRAY8, 65535, 1, 0, 2);
    char err[256];
    size_t emitted;
    assert_int_equal(write_counting(&small, RIDE_ENC_RAW, -1, 73, err, sizeof err, &emitted), 0);
    assert_int_equal(emitted, 65535);

    ride_frame_free(&small);
    ride_frame_free(&gray);
    ride_frame_free(&f32);
    ride_frame_free(&rgb);
    ride_frame_free(&bgra);
}

static int emit_refuse_second(void *ctx, const uint8_t *msg, size_t len)
{
    (void)msg;
    (void)len;
    int *calls = ctx;
    return ++*calls == 2 ? -5 : 0;
}

static void test_write_stops_when_emit_fails(void **state)
{
    (void)state;
    ride_frame f;
    frame_make(&f, RIDE_PIX_GRAY8, 10, 10, 0, 1);
    ride_frame_write_opts o = {RIDE_ENC_RAW, -1, 72 + 10};
    int calls = 0;
    char err[128];
    assert_int_equal(ride_frame_write(&f, &o, emit_refuse_second, &calls, err, sizeof err), -1);
    assert_int_equal(calls, 2);
    assert_non_null(strstr(err, "emit failed (-5) on chunk 1 of 10"));
    ride_frame_free(&f);
}

static void test_write_defaults_without_opts(void **state)
{
    (void)state;
    ride_frame f;
    frame_make(&f, RIDE_PIX_BGR8, 640, 480, 0, 1);
    size_t n = 0;
    assert_int_equal(ride_frame_write(&f, NULL, count_messages, &n, NULL, 0), 0);
    /* 921600 bytes of raw payload in messages of at most 1000000 bytes. */
    assert_int_equal(n, 1);
    ride_frame_free(&f);
    frame_make(&f, RIDE_PIX_BGRA8, 640, 480, 0, 1);
    n = 0;
    assert_int_equal(ride_frame_write(&f, NULL, count_messages, &n, NULL, 0), 0);
    assert_int_equal(n, 2);
    ride_frame_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_check_value),
        cmocka_unit_test(test_status_reasons_are_distinct_snake_case),
        cmocka_unit_test(test_header_layout_matches_documentation),
        cmocka_unit_test(test_raw_round_trip_every_format),
        cmocka_unit_test(test_raw_round_trip_many_chunks),
        cmocka_unit_test(test_frame_exactly_at_chunk_boundary),
        cmocka_unit_test(test_jpeg_round_trip),
        cmocka_unit_test(test_png_round_trip_is_exact),
        cmocka_unit_test(test_output_buffer_is_reused),
        cmocka_unit_test(test_longer_header_is_read_and_checked),
        cmocka_unit_test(test_write_refuses_bad_requests),
        cmocka_unit_test(test_write_stops_when_emit_fails),
        cmocka_unit_test(test_write_defaults_without_opts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
