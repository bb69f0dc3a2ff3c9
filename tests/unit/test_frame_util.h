/* test_frame_util.h - helpers shared by the frame wire format tests: collecting
 * emitted messages, patching header fields at their documented offsets and
 * recording rejected frames. */
#ifndef RIDE_TEST_FRAME_UTIL_H
#define RIDE_TEST_FRAME_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "ride_test.h"
#include "wire/frame.h"

/* Field offsets as docs/wire-format.md states them: written out again here so
 * that the tests check the documented layout, not the implementation's. */
enum {
    W_MAGIC = 0,
    W_VERSION = 4,
    W_HEADER_LEN = 6,
    W_PIXEL_FORMAT = 8,
    W_ENCODING = 10,
    W_CHANNELS = 12,
    W_FLAGS = 14,
    W_WIDTH = 16,
    W_HEIGHT = 20,
    W_STRIDE = 24,
    W_STREAM_ID = 28,
    W_SEQ = 32,
    W_CAPTURE_NS = 40,
    W_FRAME_LEN = 48,
    W_PAYLOAD_LEN = 56,
    W_CHUNK_INDEX = 60,
    W_CHUNK_COUNT = 62,
    W_PAYLOAD_CRC = 64,
    W_HEADER_CRC = 68,
    W_HEADER_LEN_V1 = 72,
};

typedef struct msgs {
    size_t count;
    uint8_t **data;
    size_t *len;
} msgs;

static inline int msgs_collect(void *ctx, const uint8_t *msg, size_t len)
{
    msgs *l = ctx;
    l->data = realloc(l->data, (l->count + 1) * sizeof *l->data);
    l->len = realloc(l->len, (l->count + 1) * sizeof *l->len);
    assert_non_null(l->data);
    assert_non_null(l->len);
    l->data[l->count] = malloc(len);
    assert_non_null(l->data[l->count]);
    memcpy(l->data[l->count], msg, len);
    l->len[l->count] = len;
    l->count++;
    return 0;
}

static inline void msgs_free(msgs *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->data[i]);
    free(l->data);
    free(l->len);
    memset(l, 0, sizeof *l);
}

/* Encodes f into l's messages, failing the test on any error. */
static inline void msgs_write(msgs *l, const ride_frame *f, ride_encoding enc, int quality,
                              size_t max_message_bytes)
{
    ride_frame_write_opts o = {enc, quality, max_message_bytes};
    char err[256] = "";
    int rc = ride_frame_write(f, &o, msgs_collect, l, err, sizeof err);
    if (rc != 0)
        fail_msg("ride_frame_write: %s", err);
}

/* An image with `pad` bytes of padding after every row, filled from seed. */
static inline void frame_make(ride_frame *f, ride_pixel_format fmt, uint32_t w, uint32_t h,
                              size_t pad, uint32_t seed)
{
    memset(f, 0, sizeof *f);
    size_t stride = ride_image_row_bytes(fmt, w) + pad;
    uint8_t *data = malloc(stride * h);
    assert_non_null(data);
    ride_image_wrap(&f->image, fmt, w, h, stride, data);
    f->image.owns_data = 1;
    ride_test_fill_random(&f->image, seed);
    f->stream_id = 7;
    f->seq = 0x0102030405060708ull + seed;
    f->capture_ns = 1700000000123456789ull + seed;
}

/* 1 when both images hold the same pixels (row padding ignored). */
static inline int images_equal(const ride_image *a, const ride_image *b)
{
    if (a->format != b->format || a->width != b->width || a->height != b->height)
        return 0;
    size_t row = ride_image_row_bytes(a->format, a->width);
    for (uint32_t y = 0; y < a->height; y++)
        if (memcmp(ride_image_row(a, y), ride_image_row(b, y), row) != 0)
            return 0;
    return 1;
}

static inline uint16_t wire_get16(const uint8_t *m, size_t off)
{
    return (uint16_t)(m[off] | m[off + 1] << 8);
}

static inline uint32_t wire_get32(const uint8_t *m, size_t off)
{
    return (uint32_t)m[off] | (uint32_t)m[off + 1] << 8 | (uint32_t)m[off + 2] << 16 |
           (uint32_t)m[off + 3] << 24;
}

static inline uint64_t wire_get64(const uint8_t *m, size_t off)
{
    return wire_get32(m, off) | (uint64_t)wire_get32(m, off + 4) << 32;
}

static inline void wire_put16(uint8_t *m, size_t off, uint16_t v)
{
    m[off] = (uint8_t)v;
    m[off + 1] = (uint8_t)(v >> 8);
}

static inline void wire_put32(uint8_t *m, size_t off, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        m[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static inline void wire_put64(uint8_t *m, size_t off, uint64_t v)
{
    wire_put32(m, off, (uint32_t)v);
    wire_put32(m, off + 4, (uint32_t)(v >> 32));
}

/* Recomputes the header CRC over [0, 68) and [72, header_len), so that a test
 * that changed a field reaches the validation of that field. */
static inline void wire_fix_header_crc(uint8_t *m, size_t header_len)
{
    uint32_t crc = ride_crc32c(0, m, W_HEADER_CRC);
    crc = ride_crc32c(crc, m + W_HEADER_LEN_V1, header_len - W_HEADER_LEN_V1);
    wire_put32(m, W_HEADER_CRC, crc);
}

/* Recomputes the payload CRC over the payload_len bytes after a 72-byte header,
 * then the header CRC. */
static inline void wire_fix_crcs(uint8_t *m)
{
    uint32_t payload_len = wire_get32(m, W_PAYLOAD_LEN);
    wire_put32(m, W_PAYLOAD_CRC, ride_crc32c(0, m + W_HEADER_LEN_V1, payload_len));
    wire_fix_header_crc(m, W_HEADER_LEN_V1);
}

/* Every rejected frame the assembler reported. */
typedef struct rejects {
    size_t count;
    ride_frame_reject r[64];
} rejects;

static inline void rejects_record(void *ctx, const ride_frame_reject *r)
{
    rejects *rs = ctx;
    assert_true(rs->count < sizeof rs->r / sizeof rs->r[0]);
    rs->r[rs->count++] = *r;
}

#endif
