/* frame.c - encodes frames into RIDF messages and validates and reassembles them
 * (wire/frame.h, docs/wire-format.md). Nothing in a message is trusted: the checks
 * run in a fixed order (magic, version, header CRC, fields, payload CRC), and each
 * failure has its own status. */
#include "wire/frame.h"

#include "base/clock.h"
#include "base/error.h"

#include <isa-l/crc.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "media/opencv_c.h"

/* Byte offsets of the version 1 header fields (docs/wire-format.md). */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 4,
    OFF_HEADER_LEN = 6,
    OFF_PIXEL_FORMAT = 8,
    OFF_ENCODING = 10,
    OFF_CHANNELS = 12,
    OFF_FLAGS = 14,
    OFF_WIDTH = 16,
    OFF_HEIGHT = 20,
    OFF_STRIDE = 24,
    OFF_STREAM_ID = 28,
    OFF_SEQ = 32,
    OFF_CAPTURE_NS = 40,
    OFF_FRAME_LEN = 48,
    OFF_PAYLOAD_LEN = 56,
    OFF_CHUNK_INDEX = 60,
    OFF_CHUNK_COUNT = 62,
    OFF_PAYLOAD_CRC = 64,
    OFF_HEADER_CRC = 68,
    OFF_METADATA_LEN = 72, /* with RIDE_FRAME_FLAG_METADATA */
};

typedef struct status_text {
    const char *reason;
    const char *message;
} status_text;

static const status_text status_texts[RIDE_FRAME_STATUS_COUNT] = {
    [RIDE_FRAME_OK] = {"ok", "complete frame"},
    [RIDE_FRAME_INCOMPLETE] = {"incomplete", "chunk accepted, frame needs more chunks"},
    [RIDE_FRAME_SKIPPED] = {"skipped", "chunk of a frame already rejected"},
    [RIDE_FRAME_TRUNCATED] = {"truncated", "message ends inside its header or payload"},
    [RIDE_FRAME_BAD_MAGIC] = {"bad_magic", "message does not start with the RIDF magic"},
    [RIDE_FRAME_UNSUPPORTED_VERSION] = {"unsupported_version",
                                        "header version is not one this reader knows"},
    [RIDE_FRAME_BAD_HEADER_LEN] = {"bad_header_len", "header length is below the minimum"},
    [RIDE_FRAME_BAD_HEADER_CRC] = {"bad_header_crc", "header checksum does not match"},
    [RIDE_FRAME_BAD_FLAGS] = {"bad_flags", "reserved flags are set"},
    [RIDE_FRAME_BAD_PIXEL_FORMAT] = {"bad_pixel_format", "unknown pixel format"},
    [RIDE_FRAME_BAD_ENCODING] = {"bad_encoding", "unknown payload encoding"},
    [RIDE_FRAME_ENCODING_FORMAT_MISMATCH] = {"encoding_format_mismatch",
                                             "payload encoding cannot carry the pixel format"},
    [RIDE_FRAME_CHANNEL_MISMATCH] = {"channel_mismatch",
                                     "channel count differs from the pixel format's"},
    [RIDE_FRAME_BAD_DIMENSIONS] = {"bad_dimensions", "width or height is zero or too large"},
    [RIDE_FRAME_BAD_STRIDE] = {"bad_stride", "row stride is invalid for the encoding"},
    [RIDE_FRAME_SIZE_OVERFLOW] = {"size_overflow", "frame size does not fit in memory sizes"},
    [RIDE_FRAME_TOO_LARGE] = {"too_large", "frame is larger than the configured limit"},
    [RIDE_FRAME_PAYLOAD_LEN_MISMATCH] = {"payload_len_mismatch",
                                         "payload length disagrees with the message or frame"},
    [RIDE_FRAME_BAD_PAYLOAD_CRC] = {"bad_payload_crc", "payload checksum does not match"},
    [RIDE_FRAME_BAD_CHUNK_INDEX] = {"bad_chunk_index", "chunk index is not below the count"},
    [RIDE_FRAME_BAD_CHUNK_COUNT] = {"bad_chunk_count", "chunk count is zero"},
    [RIDE_FRAME_MISSING_CHUNK] = {"missing_chunk", "a chunk of the frame never arrived"},
    [RIDE_FRAME_REPEATED_CHUNK] = {"repeated_chunk", "a chunk of the frame arrived twice"},
    [RIDE_FRAME_CHUNK_MISMATCH] = {"chunk_mismatch",
                                   "chunk describes the frame differently from earlier chunks"},
    [RIDE_FRAME_FRAME_LEN_MISMATCH] = {"frame_len_mismatch",
                                       "payload bytes do not add up to the frame length"},
    [RIDE_FRAME_DECODE_FAILED] = {"decode_failed", "JPEG or PNG payload cannot be decoded"},
    [RIDE_FRAME_DIMENSION_MISMATCH] = {"dimension_mismatch",
                                       "decoded image size differs from the header"},
    [RIDE_FRAME_OUT_OF_MEMORY] = {"out_of_memory", "no memory for the frame"},
    [RIDE_FRAME_BAD_METADATA] = {"bad_metadata",
                                 "metadata is misplaced, cut short or not a JSON object"},
    [RIDE_FRAME_METADATA_TOO_LARGE] = {"metadata_too_large",
                                       "metadata is larger than the format allows"},
};

const char *ride_frame_status_reason(ride_frame_status st)
{
    if ((unsigned)st >= RIDE_FRAME_STATUS_COUNT)
        return "unknown";
    return status_texts[st].reason;
}

const char *ride_frame_status_message(ride_frame_status st)
{
    if ((unsigned)st >= RIDE_FRAME_STATUS_COUNT)
        return "unknown status";
    return status_texts[st].message;
}

void ride_frame_free(ride_frame *f)
{
    ride_image_free(&f->image);
    free(f->encoded.bytes);
    free(f->metadata);
    memset(f, 0, sizeof *f);
}

/* Replaces f's metadata with len bytes of text (none when len is 0), reusing
 * its buffer when it is large enough. */
static int store_metadata(ride_frame *f, const char *text, size_t len)
{
    if (len == 0) {
        free(f->metadata);
        f->metadata = NULL;
        f->metadata_len = 0;
        return 0;
    }
    if (len > f->metadata_len) {
        char *grown = realloc(f->metadata, len + 1);
        if (!grown)
            return -1;
        f->metadata = grown;
    }
    memcpy(f->metadata, text, len);
    f->metadata[len] = '\0';
    f->metadata_len = len;
    return 0;
}

int ride_frame_metadata_check(const char *json, size_t len, char *err, size_t errlen)
{
    if (!json || len == 0)
        return ride_set_error(err, errlen, "metadata is empty");
    if (len > RIDE_FRAME_MAX_METADATA)
        return ride_set_error(err, errlen, "metadata of %zu bytes is above the limit of %u",
                              len, RIDE_FRAME_MAX_METADATA);
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return ride_set_error(err, errlen, "metadata is not valid JSON: %s at line %d column %d",
                              jerr.text, jerr.line, jerr.column);
    int is_object = json_is_object(doc);
    json_decref(doc);
    if (!is_object)
        return ride_set_error(err, errlen, "metadata must be a JSON object");
    return 0;
}

int ride_frame_set_metadata(ride_frame *f, const char *json, size_t len, char *err,
                            size_t errlen)
{
    if (json && len > 0 && ride_frame_metadata_check(json, len, err, errlen) != 0)
        return -1;
    if (store_metadata(f, json, json ? len : 0) != 0)
        return ride_set_error(err, errlen, "out of memory for %zu bytes of metadata", len);
    return 0;
}

int ride_frame_copy_metadata(ride_frame *dst, const ride_frame *src)
{
    return store_metadata(dst, src->metadata, src->metadata ? src->metadata_len : 0);
}

/* ISA-L's crc32_iscsi takes an int length and leaves the bit inversions of
 * standard CRC32C to the caller. */
#define CRC_PIECE ((size_t)1 << 30)

uint32_t ride_crc32c(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        size_t n = len < CRC_PIECE ? len : CRC_PIECE;
        crc = ~crc32_iscsi((unsigned char *)p, (int)n, ~crc);
        p += n;
        len -= n;
    }
    return crc;
}

static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (unsigned)p[1] << 8); }

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p) { return get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

/* Covers every header byte but the checksum itself, extension bytes of longer
 * headers included, so a reader can trust fields it does not even know. */
static uint32_t header_crc(const uint8_t *msg, size_t header_len)
{
    uint32_t crc = ride_crc32c(0, msg, OFF_HEADER_CRC);
    return ride_crc32c(crc, msg + RIDE_FRAME_HEADER_LEN, header_len - RIDE_FRAME_HEADER_LEN);
}

/* Writes h's header_len bytes; with the metadata flag, the extension holds the
 * metadata length and the h->metadata_len bytes of text. */
static void encode_header(const ride_frame_header *h, const char *metadata, uint8_t *msg)
{
    memcpy(msg + OFF_MAGIC, RIDE_FRAME_MAGIC, 4);
    put_u16(msg + OFF_VERSION, RIDE_FRAME_VERSION);
    put_u16(msg + OFF_HEADER_LEN, h->header_len);
    put_u16(msg + OFF_PIXEL_FORMAT, h->pixel_format);
    put_u16(msg + OFF_ENCODING, h->encoding);
    put_u16(msg + OFF_CHANNELS, h->channels);
    put_u16(msg + OFF_FLAGS, h->flags);
    put_u32(msg + OFF_WIDTH, h->width);
    put_u32(msg + OFF_HEIGHT, h->height);
    put_u32(msg + OFF_STRIDE, h->stride);
    put_u32(msg + OFF_STREAM_ID, h->stream_id);
    put_u64(msg + OFF_SEQ, h->seq);
    put_u64(msg + OFF_CAPTURE_NS, h->capture_ns);
    put_u64(msg + OFF_FRAME_LEN, h->frame_len);
    put_u32(msg + OFF_PAYLOAD_LEN, h->payload_len);
    put_u16(msg + OFF_CHUNK_INDEX, h->chunk_index);
    put_u16(msg + OFF_CHUNK_COUNT, h->chunk_count);
    put_u32(msg + OFF_PAYLOAD_CRC, h->payload_crc);
    if (h->flags & RIDE_FRAME_FLAG_METADATA) {
        put_u32(msg + OFF_METADATA_LEN, h->metadata_len);
        memcpy(msg + RIDE_FRAME_METADATA_OFFSET, metadata, h->metadata_len);
    }
    put_u32(msg + OFF_HEADER_CRC, header_crc(msg, h->header_len));
}

static void decode_fields(const uint8_t *msg, ride_frame_header *h)
{
    h->version = get_u16(msg + OFF_VERSION);
    h->header_len = get_u16(msg + OFF_HEADER_LEN);
    h->pixel_format = get_u16(msg + OFF_PIXEL_FORMAT);
    h->encoding = get_u16(msg + OFF_ENCODING);
    h->channels = get_u16(msg + OFF_CHANNELS);
    h->flags = get_u16(msg + OFF_FLAGS);
    h->width = get_u32(msg + OFF_WIDTH);
    h->height = get_u32(msg + OFF_HEIGHT);
    h->stride = get_u32(msg + OFF_STRIDE);
    h->stream_id = get_u32(msg + OFF_STREAM_ID);
    h->seq = get_u64(msg + OFF_SEQ);
    h->capture_ns = get_u64(msg + OFF_CAPTURE_NS);
    h->frame_len = get_u64(msg + OFF_FRAME_LEN);
    h->payload_len = get_u32(msg + OFF_PAYLOAD_LEN);
    h->chunk_index = get_u16(msg + OFF_CHUNK_INDEX);
    h->chunk_count = get_u16(msg + OFF_CHUNK_COUNT);
    h->payload_crc = get_u32(msg + OFF_PAYLOAD_CRC);
    h->header_crc = get_u32(msg + OFF_HEADER_CRC);
}

static int pixel_format_known(uint32_t f)
{
    return f > RIDE_PIX_INVALID && f < RIDE_PIX_FORMAT_COUNT;
}

/* Pixel formats an encoding carries: those OpenCV's codec decodes back into the
 * same format (JPEG has neither alpha nor 16-bit samples). */
static int encoding_carries(uint32_t enc, uint32_t f)
{
    switch (enc) {
    case RIDE_ENC_RAW:
        return 1;
    case RIDE_ENC_JPEG:
        return f == RIDE_PIX_GRAY8 || f == RIDE_PIX_BGR8;
    case RIDE_ENC_PNG:
        return f == RIDE_PIX_GRAY8 || f == RIDE_PIX_BGR8 || f == RIDE_PIX_BGRA8 ||
               f == RIDE_PIX_GRAY16;
    default:
        return 0;
    }
}

/* Magic and version come first: a later version may lay out everything else,
 * the checksum included, differently. */
static ride_frame_status check_framing(const uint8_t *msg, size_t len, ride_frame_header *h)
{
    memset(h, 0, sizeof *h);
    if (!msg || len < 4)
        return RIDE_FRAME_TRUNCATED;
    if (memcmp(msg + OFF_MAGIC, RIDE_FRAME_MAGIC, 4) != 0)
        return RIDE_FRAME_BAD_MAGIC;
    if (len < OFF_VERSION + 2)
        return RIDE_FRAME_TRUNCATED;
    h->version = get_u16(msg + OFF_VERSION);
    if (h->version != RIDE_FRAME_VERSION)
        return RIDE_FRAME_UNSUPPORTED_VERSION;
    if (len < RIDE_FRAME_HEADER_LEN)
        return RIDE_FRAME_TRUNCATED;
    decode_fields(msg, h);
    if (h->header_len < RIDE_FRAME_HEADER_LEN)
        return RIDE_FRAME_BAD_HEADER_LEN;
    if (h->header_len > len)
        return RIDE_FRAME_TRUNCATED;
    if (header_crc(msg, h->header_len) != h->header_crc)
        return RIDE_FRAME_BAD_HEADER_CRC;
    return RIDE_FRAME_OK;
}

static ride_frame_status check_message_len(const ride_frame_header *h, size_t len)
{
    size_t available = len - h->header_len;
    if (h->payload_len > available)
        return RIDE_FRAME_TRUNCATED;
    if (h->payload_len < available)
        return RIDE_FRAME_PAYLOAD_LEN_MISMATCH;
    return RIDE_FRAME_OK;
}

static ride_frame_status check_image_fields(const ride_frame_header *h)
{
    if (h->flags & ~RIDE_FRAME_FLAG_METADATA)
        return RIDE_FRAME_BAD_FLAGS;
    if (!pixel_format_known(h->pixel_format))
        return RIDE_FRAME_BAD_PIXEL_FORMAT;
    if (h->encoding > RIDE_ENC_PNG)
        return RIDE_FRAME_BAD_ENCODING;
    if (!encoding_carries(h->encoding, h->pixel_format))
        return RIDE_FRAME_ENCODING_FORMAT_MISMATCH;
    if (h->channels != ride_pixel_channels((ride_pixel_format)h->pixel_format))
        return RIDE_FRAME_CHANNEL_MISMATCH;
    if (h->width == 0 || h->height == 0 || h->width > RIDE_IMAGE_MAX_DIM ||
        h->height > RIDE_IMAGE_MAX_DIM)
        return RIDE_FRAME_BAD_DIMENSIONS;
    return RIDE_FRAME_OK;
}

static ride_frame_status check_chunking(const ride_frame_header *h)
{
    if (h->chunk_count == 0)
        return RIDE_FRAME_BAD_CHUNK_COUNT;
    if (h->chunk_index >= h->chunk_count)
        return RIDE_FRAME_BAD_CHUNK_INDEX;
    return RIDE_FRAME_OK;
}

/* Metadata belongs to the frame, so only its first chunk carries it; the section
 * must lie within the header, whose CRC has already covered it. */
static ride_frame_status check_metadata(const uint8_t *msg, ride_frame_header *h)
{
    if (!(h->flags & RIDE_FRAME_FLAG_METADATA))
        return RIDE_FRAME_OK;
    if (h->chunk_index != 0 || h->header_len < RIDE_FRAME_METADATA_OFFSET)
        return RIDE_FRAME_BAD_METADATA;
    uint32_t n = get_u32(msg + OFF_METADATA_LEN);
    if (n > RIDE_FRAME_MAX_METADATA)
        return RIDE_FRAME_METADATA_TOO_LARGE;
    if (n > h->header_len - RIDE_FRAME_METADATA_OFFSET)
        return RIDE_FRAME_BAD_METADATA;
    h->metadata_len = n;
    if (ride_frame_metadata_check((const char *)msg + RIDE_FRAME_METADATA_OFFSET, n, NULL, 0) != 0)
        return RIDE_FRAME_BAD_METADATA;
    return RIDE_FRAME_OK;
}

/* Raw frames are exactly stride x height bytes; encoded ones carry no stride. */
static ride_frame_status check_frame_size(const ride_frame_header *h)
{
    if (h->encoding != RIDE_ENC_RAW) {
        if (h->stride != 0)
            return RIDE_FRAME_BAD_STRIDE;
        return h->frame_len > RIDE_FRAME_MAX_FRAME_BYTES ? RIDE_FRAME_TOO_LARGE : RIDE_FRAME_OK;
    }
    size_t row = ride_image_row_bytes((ride_pixel_format)h->pixel_format, h->width);
    size_t size;
    if (h->stride < row)
        return RIDE_FRAME_BAD_STRIDE;
    if (__builtin_mul_overflow((size_t)h->stride, (size_t)h->height, &size))
        return RIDE_FRAME_SIZE_OVERFLOW;
    if (size > RIDE_FRAME_MAX_FRAME_BYTES)
        return RIDE_FRAME_TOO_LARGE;
    if (h->frame_len != size)
        return RIDE_FRAME_FRAME_LEN_MISMATCH;
    return RIDE_FRAME_OK;
}

static ride_frame_status check_payload_len(const ride_frame_header *h)
{
    if (h->payload_len == 0 || h->payload_len > h->frame_len)
        return RIDE_FRAME_PAYLOAD_LEN_MISMATCH;
    if (h->chunk_count == 1 && h->payload_len != h->frame_len)
        return RIDE_FRAME_FRAME_LEN_MISMATCH;
    return RIDE_FRAME_OK;
}

static ride_frame_status parse_message(const uint8_t *msg, size_t len, ride_frame_header *h)
{
    ride_frame_status st = check_framing(msg, len, h);
    if (st == RIDE_FRAME_OK)
        st = check_message_len(h, len);
    if (st == RIDE_FRAME_OK)
        st = check_image_fields(h);
    if (st == RIDE_FRAME_OK)
        st = check_chunking(h);
    if (st == RIDE_FRAME_OK)
        st = check_metadata(msg, h);
    if (st == RIDE_FRAME_OK)
        st = check_frame_size(h);
    if (st == RIDE_FRAME_OK)
        st = check_payload_len(h);
    if (st == RIDE_FRAME_OK &&
        ride_crc32c(0, msg + h->header_len, h->payload_len) != h->payload_crc)
        st = RIDE_FRAME_BAD_PAYLOAD_CRC;
    return st;
}

/* Fields of a header whose checksum failed (or was never reached) may be noise. */
static int header_trusted(ride_frame_status st)
{
    return st == RIDE_FRAME_OK || st > RIDE_FRAME_BAD_HEADER_CRC;
}

ride_frame_status ride_frame_header_parse(const uint8_t *msg, size_t len, ride_frame_header *out,
                                          const uint8_t **payload)
{
    ride_frame_status st = parse_message(msg, len, out);
    if (st == RIDE_FRAME_OK && payload)
        *payload = msg + out->header_len;
    return st;
}

/* ---- Encoder ---- */

static int check_source_image(const ride_image *img, char *err, size_t errlen)
{
    if (!img->data) {
        ride_set_error(err, errlen, "frame has no pixels");
        return -1;
    }
    if (!pixel_format_known(img->format)) {
        ride_set_error(err, errlen, "frame has an unknown pixel format (%d)", (int)img->format);
        return -1;
    }
    if (img->width == 0 || img->height == 0 || img->width > RIDE_IMAGE_MAX_DIM ||
        img->height > RIDE_IMAGE_MAX_DIM) {
        ride_set_error(err, errlen, "frame size %ux%u is outside 1..%u", img->width, img->height,
                RIDE_IMAGE_MAX_DIM);
        return -1;
    }
    size_t row = ride_image_row_bytes(img->format, img->width);
    if (img->stride < row) {
        ride_set_error(err, errlen, "frame stride %zu is below its row size %zu", img->stride, row);
        return -1;
    }
    return 0;
}

int ride_frame_write_opts_check(const ride_frame_write_opts *o, ride_pixel_format f, char *err,
                                size_t errlen)
{
    if ((unsigned)o->encoding > RIDE_ENC_PNG) {
        ride_set_error(err, errlen, "unknown encoding %d", (int)o->encoding);
        return -1;
    }
    if (!encoding_carries(o->encoding, f)) {
        ride_set_error(err, errlen, "%s cannot carry %s frames", ride_encoding_name(o->encoding),
                ride_pixel_format_name(f));
        return -1;
    }
    int jpeg_ok = o->quality == -1 || (o->quality >= 1 && o->quality <= 100);
    int png_ok = o->quality == -1 || (o->quality >= 0 && o->quality <= 9);
    if ((o->encoding == RIDE_ENC_JPEG && !jpeg_ok) || (o->encoding == RIDE_ENC_PNG && !png_ok)) {
        ride_set_error(err, errlen, "quality %d is out of range for %s (jpeg 1..100, png 0..9, -1)",
                o->quality, ride_encoding_name(o->encoding));
        return -1;
    }
    if (o->max_message_bytes <= RIDE_FRAME_HEADER_LEN) {
        ride_set_error(err, errlen,
                "max_message_bytes %zu leaves no room for payload after the %u-byte header",
                o->max_message_bytes, RIDE_FRAME_HEADER_LEN);
        return -1;
    }
    return 0;
}

/* The payload as one byte sequence: a contiguous buffer, or image rows whose
 * padding is left out. */
typedef struct payload_source {
    const uint8_t *bytes;
    const ride_image *img;
    size_t row_bytes;
} payload_source;

static void copy_payload(const payload_source *src, size_t off, uint8_t *dst, size_t n)
{
    if (src->bytes) {
        memcpy(dst, src->bytes + off, n);
        return;
    }
    while (n > 0) {
        size_t y = off / src->row_bytes, x = off % src->row_bytes;
        size_t take = src->row_bytes - x < n ? src->row_bytes - x : n;
        memcpy(dst, ride_image_row(src->img, (uint32_t)y) + x, take);
        dst += take;
        off += take;
        n -= take;
    }
}

/* OpenCV wants rows aligned to the sample size, ride_image does not: such
 * images are packed first. */
static int encode_image(const ride_image *img, const ride_frame_write_opts *o, uint8_t **out,
                        size_t *len, char *err, size_t errlen)
{
    ride_cv_codec codec = o->encoding == RIDE_ENC_JPEG ? RIDE_CV_JPEG : RIDE_CV_PNG;
    if (img->stride % ride_pixel_sample_bytes(img->format) == 0)
        return ride_cv_encode(img, codec, o->quality, out, len, err, errlen);
    ride_image packed;
    if (ride_image_alloc(&packed, img->format, img->width, img->height) != 0) {
        ride_set_error(err, errlen, "out of memory for a %ux%u image", img->width, img->height);
        return -1;
    }
    for (uint32_t y = 0; y < img->height; y++)
        memcpy(ride_image_row(&packed, y), ride_image_row(img, y), packed.stride);
    int rc = ride_cv_encode(&packed, codec, o->quality, out, len, err, errlen);
    ride_image_free(&packed);
    return rc;
}

/* How a payload is cut: the first message's header may carry metadata, so its
 * chunk can be smaller than the others. */
typedef struct chunk_plan {
    size_t first; /* payload bytes a first message has room for */
    size_t rest;  /* payload bytes of every later message */
    size_t count;
} chunk_plan;

static size_t cap_u32(size_t n) { return n > UINT32_MAX ? UINT32_MAX : n; }

static int plan_chunks(const ride_frame_header *h, size_t max_message_bytes, chunk_plan *p,
                       char *err, size_t errlen)
{
    size_t frame_len = (size_t)h->frame_len;
    if (h->frame_len > RIDE_FRAME_MAX_FRAME_BYTES)
        return ride_set_error(err, errlen,
                              "frame payload of %zu bytes is above the format's limit of %llu",
                              frame_len, (unsigned long long)RIDE_FRAME_MAX_FRAME_BYTES);
    if (max_message_bytes <= h->header_len)
        return ride_set_error(err, errlen,
                              "max_message_bytes %zu leaves no room for payload after the "
                              "%u-byte header with %u bytes of metadata",
                              max_message_bytes, h->header_len, h->metadata_len);
    p->first = cap_u32(max_message_bytes - h->header_len);
    p->rest = cap_u32(max_message_bytes - RIDE_FRAME_HEADER_LEN);
    size_t after_first = frame_len > p->first ? frame_len - p->first : 0;
    p->count = 1 + after_first / p->rest + (after_first % p->rest != 0);
    if (p->count > RIDE_FRAME_MAX_CHUNKS)
        return ride_set_error(err, errlen,
                              "frame payload of %zu bytes needs %zu chunks of %zu bytes, more "
                              "than %u; raise max_message_bytes",
                              frame_len, p->count, p->rest, RIDE_FRAME_MAX_CHUNKS);
    return 0;
}

/* The first chunk (index 0) keeps h's header_len and flags; later ones have the
 * plain header. */
/* Where emit_chunks sends each message: to emit, from one buffer reused for every
 * message, or (emit_owned) in a buffer of its own that emit_owned takes over. */
typedef struct chunk_sink {
    ride_frame_emit_fn emit;
    ride_frame_emit_owned_fn emit_owned;
    void *ctx;
} chunk_sink;

static int emit_chunks(ride_frame_header *h, const char *metadata, const payload_source *src,
                       size_t max_message_bytes, const chunk_sink *sink, char *err,
                       size_t errlen)
{
    chunk_plan plan = {0};
    if (plan_chunks(h, max_message_bytes, &plan, err, errlen) != 0)
        return -1;
    size_t frame_len = (size_t)h->frame_len;
    size_t first = plan.first < frame_len ? plan.first : frame_len;
    size_t later = plan.rest < frame_len - first ? plan.rest : frame_len - first;
    size_t capacity = h->header_len + (first > later ? first : later);
    uint8_t *reused = sink->emit_owned ? NULL : malloc(capacity);
    if (!sink->emit_owned && !reused)
        return ride_set_error(err, errlen, "out of memory for a %zu-byte message", capacity);
    h->chunk_count = (uint16_t)plan.count;
    int rc = 0;
    size_t off = 0;
    for (size_t i = 0; i < plan.count && rc == 0; i++) {
        if (i == 1) {
            h->header_len = RIDE_FRAME_HEADER_LEN;
            h->flags = 0;
            h->metadata_len = 0;
        }
        size_t room = i == 0 ? plan.first : plan.rest;
        size_t n = frame_len - off < room ? frame_len - off : room;
        uint8_t *msg = reused ? reused : malloc(h->header_len + n);
        if (!msg)
            return ride_set_error(err, errlen, "out of memory for a %zu-byte message",
                                  h->header_len + n);
        uint8_t *payload = msg + h->header_len;
        copy_payload(src, off, payload, n);
        h->chunk_index = (uint16_t)i;
        h->payload_len = (uint32_t)n;
        h->payload_crc = ride_crc32c(0, payload, n);
        encode_header(h, metadata, msg);
        rc = reused ? sink->emit(sink->ctx, msg, h->header_len + n)
                    : sink->emit_owned(sink->ctx, msg, h->header_len + n);
        if (rc != 0)
            ride_set_error(err, errlen, "emit failed (%d) on chunk %zu of %zu", rc, i,
                           plan.count);
        off += n;
    }
    free(reused);
    return rc == 0 ? 0 : -1;
}

/* Sets h's header length and flags for f's metadata, after checking it. */
static int describe_metadata(const ride_frame *f, ride_frame_header *h, char *err, size_t errlen)
{
    h->header_len = RIDE_FRAME_HEADER_LEN;
    if (!f->metadata || f->metadata_len == 0)
        return 0;
    char why[200];
    if (ride_frame_metadata_check(f->metadata, f->metadata_len, why, sizeof why) != 0)
        return ride_set_error(err, errlen, "frame %s", why);
    h->flags = RIDE_FRAME_FLAG_METADATA;
    h->metadata_len = (uint32_t)f->metadata_len;
    h->header_len = (uint16_t)(RIDE_FRAME_METADATA_OFFSET + f->metadata_len);
    return 0;
}

/* Per thread, since ride_frame_write() keeps no state between calls. */
static _Thread_local int64_t last_encode_ns;

int64_t ride_frame_write_last_encode_ns(void) { return last_encode_ns; }

static int write_frame(const ride_frame *f, const ride_frame_write_opts *opts,
                       const chunk_sink *sink, char *err, size_t errlen)
{
    last_encode_ns = 0;
    const ride_frame_write_opts defaults = {RIDE_ENC_RAW, -1, RIDE_FRAME_DEFAULT_MAX_MESSAGE};
    if (!opts)
        opts = &defaults;
    if (!f || !(sink->emit || sink->emit_owned)) {
        ride_set_error(err, errlen, "frame and emit function are required");
        return -1;
    }
    const ride_image *img = &f->image;
    if (check_source_image(img, err, errlen) != 0 ||
        ride_frame_write_opts_check(opts, img->format, err, errlen) != 0)
        return -1;

    ride_frame_header h = {
        .pixel_format = (uint16_t)img->format,
        .encoding = (uint16_t)opts->encoding,
        .channels = (uint16_t)ride_pixel_channels(img->format),
        .width = img->width,
        .height = img->height,
        .stream_id = f->stream_id,
        .seq = f->seq,
        .capture_ns = f->capture_ns,
    };
    if (describe_metadata(f, &h, err, errlen) != 0)
        return -1;
    payload_source src = {.img = img, .row_bytes = ride_image_row_bytes(img->format, img->width)};
    uint8_t *encoded = NULL;
    size_t frame_len;
    if (opts->encoding == RIDE_ENC_RAW) {
        if (__builtin_mul_overflow(src.row_bytes, (size_t)img->height, &frame_len)) {
            ride_set_error(err, errlen, "frame of %ux%u does not fit in memory sizes", img->width,
                    img->height);
            return -1;
        }
        h.stride = (uint32_t)src.row_bytes;
        if (img->stride == src.row_bytes)
            src.bytes = img->data;
    } else {
        int64_t t0 = ride_clock_mono_ns();
        if (encode_image(img, opts, &encoded, &frame_len, err, errlen) != 0)
            return -1;
        last_encode_ns = ride_clock_mono_ns() - t0;
        src.bytes = encoded;
    }
    h.frame_len = frame_len;
    int rc = emit_chunks(&h, f->metadata, &src, opts->max_message_bytes, sink, err, errlen);
    free(encoded);
    return rc;
}

int ride_frame_write(const ride_frame *f, const ride_frame_write_opts *opts,
                     ride_frame_emit_fn emit, void *ctx, char *err, size_t errlen)
{
    chunk_sink sink = {.emit = emit, .ctx = ctx};
    return write_frame(f, opts, &sink, err, errlen);
}

int ride_frame_write_owned(const ride_frame *f, const ride_frame_write_opts *opts,
                           ride_frame_emit_owned_fn emit, void *ctx, char *err, size_t errlen)
{
    chunk_sink sink = {.emit_owned = emit, .ctx = ctx};
    return write_frame(f, opts, &sink, err, errlen);
}

/* ---- Reassembly ---- */

/* Rejected frames remembered per frame in progress the assembler allows. */
#define DISCARDED_PER_SLOT 4

typedef struct frame_id {
    int used;
    uint32_t stream_id;
    uint64_t seq;
    uint64_t touched; /* when a message of it last came: the stalest is forgotten first */
} frame_id;

/* One frame in progress. Slots and their buffers outlive the frames, so that
 * steady-state assembly allocates nothing. */
typedef struct pending_frame {
    int busy;
    uint64_t started; /* order of its first chunk among all frames: lowest = oldest */
    ride_frame_header hdr; /* its first chunk's header */
    uint32_t next_chunk;
    size_t received;
    ride_frame_tags tags;
    uint8_t *buf;
    size_t cap;
    /* The first chunk's metadata (hdr.metadata_len bytes), outside the byte
     * budget: at most RIDE_FRAME_MAX_METADATA per slot. */
    char *metadata;
    size_t metadata_cap;
} pending_frame;

struct ride_frame_assembler {
    size_t max_frame_bytes;
    size_t max_buffer_bytes;
    size_t buffer_bytes; /* sum of every slot's cap */
    ride_frame_reject_fn on_reject;
    void *ctx;
    ride_pixel_format decode_as;
    bool defer_decode;

    pending_frame *slots;
    unsigned nslots;
    unsigned busy;
    uint64_t starts;
    ride_frame_timing timing; /* of the last push */

    /* Recently rejected frames: their remaining chunks are skipped, not reported
     * again (every rejected frame is reported exactly once). A frame is forgotten
     * when its last chunk goes by, else when it is the stalest of a full table:
     * a frame whose chunks are still arriving is touched by each of them. */
    frame_id *discarded;
    unsigned ndiscarded;
    uint64_t clock;
};

static size_t default_buffer_bytes(size_t max_frame_bytes, unsigned slots)
{
    size_t total;
    return __builtin_mul_overflow(max_frame_bytes, (size_t)slots, &total) ? SIZE_MAX : total;
}

ride_frame_assembler *ride_frame_assembler_new_opts(const ride_frame_assembler_opts *o)
{
    if (!o || o->max_frame_bytes == 0 || !o->on_reject || o->max_pending > RIDE_FRAME_MAX_PENDING ||
        (o->decode_as != 0 && o->decode_as != RIDE_PIX_GRAY8))
        return NULL;
    unsigned slots = o->max_pending ? o->max_pending : RIDE_FRAME_DEFAULT_PENDING;
    size_t budget = o->max_pending_bytes ? o->max_pending_bytes
                                         : default_buffer_bytes(o->max_frame_bytes, slots);
    if (budget < o->max_frame_bytes)
        return NULL;
    ride_frame_assembler *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->slots = calloc(slots, sizeof *a->slots);
    a->discarded = calloc((size_t)slots * DISCARDED_PER_SLOT, sizeof *a->discarded);
    if (!a->slots || !a->discarded) {
        ride_frame_assembler_free(a);
        return NULL;
    }
    a->nslots = slots;
    a->ndiscarded = slots * DISCARDED_PER_SLOT;
    a->max_frame_bytes = o->max_frame_bytes;
    a->max_buffer_bytes = budget;
    a->on_reject = o->on_reject;
    a->ctx = o->ctx;
    a->decode_as = o->decode_as;
    a->defer_decode = o->defer_decode;
    return a;
}

ride_frame_assembler *ride_frame_assembler_new(size_t max_frame_bytes,
                                               ride_frame_reject_fn on_reject, void *ctx)
{
    ride_frame_assembler_opts o = {
        .max_frame_bytes = max_frame_bytes, .on_reject = on_reject, .ctx = ctx};
    return ride_frame_assembler_new_opts(&o);
}

void ride_frame_assembler_free(ride_frame_assembler *a)
{
    if (!a)
        return;
    if (a->slots)
        for (unsigned i = 0; i < a->nslots; i++) {
            free(a->slots[i].buf);
            free(a->slots[i].metadata);
        }
    free(a->slots);
    free(a->discarded);
    free(a);
}

void ride_frame_assembler_reset(ride_frame_assembler *a)
{
    for (unsigned i = 0; i < a->nslots; i++)
        a->slots[i].busy = 0;
    a->busy = 0;
    memset(a->discarded, 0, a->ndiscarded * sizeof *a->discarded);
}

int ride_frame_assembler_pending(const ride_frame_assembler *a) { return (int)a->busy; }

ride_frame_timing ride_frame_assembler_last_timing(const ride_frame_assembler *a)
{
    return a->timing;
}

static ride_frame_tags tags_of_one(uint64_t tag) { return (ride_frame_tags){tag, tag, 1}; }

static void tags_add(ride_frame_tags *t, uint64_t tag)
{
    if (tag < t->first)
        t->first = tag;
    if (tag > t->last)
        t->last = tag;
    t->count++;
}

static int same_frame_id(const ride_frame_header *x, const ride_frame_header *y)
{
    return x->stream_id == y->stream_id && x->seq == y->seq;
}

static int same_frame_fields(const ride_frame_header *x, const ride_frame_header *y)
{
    return x->pixel_format == y->pixel_format && x->encoding == y->encoding &&
           x->channels == y->channels && x->width == y->width && x->height == y->height &&
           x->stride == y->stride && x->capture_ns == y->capture_ns &&
           x->frame_len == y->frame_len && x->chunk_count == y->chunk_count;
}

static frame_id *find_discarded(ride_frame_assembler *a, const ride_frame_header *h)
{
    for (unsigned i = 0; i < a->ndiscarded; i++) {
        frame_id *d = &a->discarded[i];
        if (d->used && d->stream_id == h->stream_id && d->seq == h->seq)
            return d;
    }
    return NULL;
}

static void remember_discarded(ride_frame_assembler *a, const ride_frame_header *h)
{
    frame_id *d = find_discarded(a, h);
    for (unsigned i = 0; !d && i < a->ndiscarded; i++)
        if (!a->discarded[i].used)
            d = &a->discarded[i];
    if (!d) {
        d = &a->discarded[0];
        for (unsigned i = 1; i < a->ndiscarded; i++)
            if (a->discarded[i].touched < d->touched)
                d = &a->discarded[i];
    }
    *d = (frame_id){1, h->stream_id, h->seq, a->clock++};
}

/* A chunk of a frame already rejected: nothing to report. */
static ride_frame_status skip_chunk(ride_frame_assembler *a, frame_id *d,
                                    const ride_frame_header *h)
{
    d->touched = a->clock++;
    if (h->chunk_index + 1 == h->chunk_count)
        d->used = 0;
    return RIDE_FRAME_SKIPPED;
}

static pending_frame *find_pending(ride_frame_assembler *a, const ride_frame_header *h)
{
    for (unsigned i = 0; i < a->nslots; i++)
        if (a->slots[i].busy && same_frame_id(&a->slots[i].hdr, h))
            return &a->slots[i];
    return NULL;
}

static pending_frame *oldest_pending(ride_frame_assembler *a)
{
    pending_frame *oldest = NULL;
    for (unsigned i = 0; i < a->nslots; i++) {
        pending_frame *s = &a->slots[i];
        if (s->busy && (!oldest || s->started < oldest->started))
            oldest = s;
    }
    return oldest;
}

/* h is NULL when the frame's identity is unknown (its header cannot be trusted). */
static ride_frame_status reject(ride_frame_assembler *a, ride_frame_status st,
                                const ride_frame_header *h, const ride_frame_tags *tags)
{
    ride_frame_reject r = {.status = st, .id_known = h != NULL, .tags = *tags};
    if (h) {
        r.stream_id = h->stream_id;
        r.seq = h->seq;
        remember_discarded(a, h);
    }
    a->on_reject(a->ctx, &r);
    return st;
}

static ride_frame_status reject_pending(ride_frame_assembler *a, pending_frame *s,
                                        ride_frame_status st)
{
    s->busy = 0;
    a->busy--;
    return reject(a, st, &s->hdr, &s->tags);
}

unsigned ride_frame_assembler_flush(ride_frame_assembler *a)
{
    unsigned n = 0;
    for (pending_frame *s; (s = oldest_pending(a)) != NULL; n++)
        reject_pending(a, s, RIDE_FRAME_INCOMPLETE);
    return n;
}

static void release_buffer(ride_frame_assembler *a, pending_frame *s)
{
    free(s->buf);
    a->buffer_bytes -= s->cap;
    s->buf = NULL;
    s->cap = 0;
}

/* A free slot for a new frame, preferably one whose buffer is big enough. When
 * every slot is busy the oldest frame in progress is rejected: with one writer's
 * chunks in order, it is the one most likely never to complete. */
static pending_frame *claim_slot(ride_frame_assembler *a, size_t need)
{
    pending_frame *best = NULL;
    for (unsigned i = 0; i < a->nslots; i++) {
        pending_frame *s = &a->slots[i];
        if (s->busy)
            continue;
        if (s->cap >= need)
            return s;
        if (!best || s->cap > best->cap)
            best = s;
    }
    if (best)
        return best;
    best = oldest_pending(a);
    reject_pending(a, best, RIDE_FRAME_MISSING_CHUNK);
    return best;
}

/* buffer_bytes never exceeds the budget, so the subtraction cannot wrap. */
static int buffer_fits(const ride_frame_assembler *a, const pending_frame *s, size_t want)
{
    return want <= a->max_buffer_bytes - (a->buffer_bytes - s->cap);
}

/* Grows s's buffer to hold need bytes within the byte budget: geometrically
 * while the budget allows it, so that frames of slowly growing size do not
 * reallocate each time; when it does not, idle slots' buffers are given up
 * before frames in progress, and those go oldest first. The budget is at least max_frame_bytes, so a
 * frame within the limit always fits once the others are gone. */
static int reserve(ride_frame_assembler *a, pending_frame *s, size_t need)
{
    if (need <= s->cap)
        return 0;
    size_t want = s->cap > a->max_frame_bytes / 2 ? a->max_frame_bytes : s->cap * 2;
    if (want < need)
        want = need;
    if (!buffer_fits(a, s, want))
        want = need;
    for (unsigned i = 0; i < a->nslots && !buffer_fits(a, s, want); i++)
        if (!a->slots[i].busy && &a->slots[i] != s)
            release_buffer(a, &a->slots[i]);
    pending_frame *oldest;
    while (!buffer_fits(a, s, want) && (oldest = oldest_pending(a)) != NULL) {
        reject_pending(a, oldest, RIDE_FRAME_MISSING_CHUNK);
        release_buffer(a, oldest);
    }
    release_buffer(a, s);
    s->buf = malloc(want);
    if (!s->buf)
        return -1;
    s->cap = want;
    a->buffer_bytes += want;
    return 0;
}

/* Bytes of the decoded image, bounded like the payload: a small JPEG may
 * claim a huge picture. */
static ride_frame_status check_limits(const ride_frame_assembler *a, const ride_frame_header *h)
{
    if (h->frame_len > a->max_frame_bytes)
        return RIDE_FRAME_TOO_LARGE;
    size_t pixels, bytes;
    if (__builtin_mul_overflow((size_t)h->width, (size_t)h->height, &pixels) ||
        __builtin_mul_overflow(pixels, (size_t)ride_pixel_bytes((ride_pixel_format)h->pixel_format),
                               &bytes))
        return RIDE_FRAME_SIZE_OVERFLOW;
    if (bytes > a->max_frame_bytes)
        return RIDE_FRAME_TOO_LARGE;
    return RIDE_FRAME_OK;
}

static ride_frame_status copy_raw(const ride_frame_header *h, const uint8_t *bytes,
                                  ride_image *img)
{
    ride_pixel_format f = (ride_pixel_format)h->pixel_format;
    if (ride_image_ensure(img, f, h->width, h->height) != 0)
        return RIDE_FRAME_OUT_OF_MEMORY;
    size_t row = ride_image_row_bytes(f, h->width);
    for (uint32_t y = 0; y < h->height; y++)
        memcpy(ride_image_row(img, y), bytes + (size_t)y * h->stride, row);
    return RIDE_FRAME_OK;
}

/* The format an encoded frame is decoded to: gray8 for a colour JPEG when asked
 * for, so that only its luma is decoded; else its own. A PNG has no luma plane:
 * libpng's own colour-to-grey conversion would differ from the grayscale task's. */
static ride_pixel_format decode_format(const ride_frame_encoded *e, ride_pixel_format decode_as)
{
    int colour_jpeg = e->encoding == RIDE_ENC_JPEG && e->format == RIDE_PIX_BGR8;
    return decode_as == RIDE_PIX_GRAY8 && colour_jpeg ? RIDE_PIX_GRAY8 : e->format;
}

/* A side of the image a 1/scale JPEG decode yields (libjpeg rounds up). */
static uint32_t scaled_side(uint32_t side, unsigned scale)
{
    return (uint32_t)(((uint64_t)side + scale - 1) / scale);
}

/* stream_id and seq name the frame in the log line of a failed decode. Only a
 * JPEG is decoded at 1/scale; the image must then be the header's size scaled. */
static ride_frame_status decode_payload(const ride_frame_encoded *e, const uint8_t *bytes,
                                        size_t len, size_t max_frame_bytes,
                                        ride_pixel_format decode_as, unsigned scale,
                                        uint32_t stream_id, uint64_t seq, ride_image *img)
{
    ride_pixel_format f = decode_format(e, decode_as);
    unsigned s = e->encoding == RIDE_ENC_JPEG ? scale : 1;
    /* Allows images larger than the header claims up to the limit, so that such
     * a frame is reported as a dimension mismatch rather than a decode failure. */
    uint64_t max_pixels = max_frame_bytes / ride_pixel_bytes(e->format);
    char err[160];
    if (ride_cv_decode_scaled(bytes, len, f, s, max_pixels, img, err, sizeof err) != 0) {
        char quoted[200];
        ride_log_debug("frame_decode_failed", "stream=%u seq=%llu error=%s", stream_id,
                       (unsigned long long)seq, ride_log_quote(err, quoted, sizeof quoted));
        return RIDE_FRAME_DECODE_FAILED;
    }
    if (img->width != scaled_side(e->width, s) || img->height != scaled_side(e->height, s))
        return RIDE_FRAME_DIMENSION_MISMATCH;
    return RIDE_FRAME_OK;
}

static ride_frame_encoded describe_payload(const ride_frame_header *h)
{
    return (ride_frame_encoded){.encoding = h->encoding,
                                .format = (ride_pixel_format)h->pixel_format,
                                .width = h->width,
                                .height = h->height};
}

/* Keeps the payload in out->encoded, whose buffer outlives the frames. */
static ride_frame_status keep_encoded(const ride_frame_header *h, const uint8_t *bytes,
                                      ride_frame *out)
{
    ride_frame_encoded *e = &out->encoded;
    size_t len = (size_t)h->frame_len;
    if (len > e->cap) {
        uint8_t *grown = realloc(e->bytes, len);
        if (!grown)
            return RIDE_FRAME_OUT_OF_MEMORY;
        e->bytes = grown;
        e->cap = len;
    }
    ride_frame_encoded kept = describe_payload(h);
    kept.bytes = e->bytes;
    kept.cap = e->cap;
    kept.len = len;
    kept.pending = true;
    memcpy(kept.bytes, bytes, len);
    *e = kept;
    return RIDE_FRAME_OK;
}

static ride_frame_status take_payload(const ride_frame_assembler *a, const ride_frame_header *h,
                                      const uint8_t *bytes, ride_frame *out)
{
    out->encoded.pending = false;
    if (h->encoding == RIDE_ENC_RAW)
        return copy_raw(h, bytes, &out->image);
    if (a->defer_decode)
        return keep_encoded(h, bytes, out);
    ride_frame_encoded e = describe_payload(h);
    return decode_payload(&e, bytes, (size_t)h->frame_len, a->max_frame_bytes, a->decode_as, 1,
                          h->stream_id, h->seq, &out->image);
}

ride_frame_status ride_frame_decode(ride_frame *f, size_t max_frame_bytes,
                                    ride_pixel_format decode_as, unsigned scale)
{
    ride_frame_encoded *e = &f->encoded;
    if (!e->pending)
        return RIDE_FRAME_OK;
    e->pending = false;
    return decode_payload(e, e->bytes, e->len, max_frame_bytes, decode_as, scale, f->stream_id,
                          f->seq, &f->image);
}

static ride_frame_status finish_frame(ride_frame_assembler *a, const ride_frame_header *h,
                                      const uint8_t *bytes, const char *metadata,
                                      const ride_frame_tags *tags, ride_frame *out,
                                      ride_frame_tags *tags_out)
{
    int64_t t0 = ride_clock_mono_ns();
    ride_frame_status st = take_payload(a, h, bytes, out);
    if (h->encoding != RIDE_ENC_RAW && !a->defer_decode)
        a->timing.decode_ns = ride_clock_mono_ns() - t0;
    if (st == RIDE_FRAME_OK && store_metadata(out, metadata, h->metadata_len) != 0)
        st = RIDE_FRAME_OUT_OF_MEMORY;
    if (st != RIDE_FRAME_OK)
        return reject(a, st, h, tags);
    out->stream_id = h->stream_id;
    out->seq = h->seq;
    out->capture_ns = h->capture_ns;
    if (tags_out)
        *tags_out = *tags;
    return RIDE_FRAME_OK;
}

/* Keeps a chunked frame's metadata in its slot until the last chunk. */
static int keep_metadata(pending_frame *s, const char *metadata, size_t len)
{
    if (len > s->metadata_cap) {
        char *grown = realloc(s->metadata, len);
        if (!grown)
            return -1;
        s->metadata = grown;
        s->metadata_cap = len;
    }
    if (len > 0)
        memcpy(s->metadata, metadata, len);
    return 0;
}

static ride_frame_status start_frame(ride_frame_assembler *a, const ride_frame_header *h,
                                     const uint8_t *msg, uint64_t tag, ride_frame *out,
                                     ride_frame_tags *tags_out)
{
    const uint8_t *payload = msg + h->header_len;
    const char *metadata = (const char *)msg + RIDE_FRAME_METADATA_OFFSET;
    ride_frame_tags tags = tags_of_one(tag);
    ride_frame_status st = check_limits(a, h);
    if (st != RIDE_FRAME_OK)
        return reject(a, st, h, &tags);
    frame_id *restarted = find_discarded(a, h);
    if (restarted)
        restarted->used = 0;
    if (h->chunk_count == 1)
        return finish_frame(a, h, payload, metadata, &tags, out, tags_out);
    pending_frame *s = claim_slot(a, (size_t)h->frame_len);
    if (reserve(a, s, (size_t)h->frame_len) != 0 || keep_metadata(s, metadata, h->metadata_len) != 0)
        return reject(a, RIDE_FRAME_OUT_OF_MEMORY, h, &tags);
    memcpy(s->buf, payload, h->payload_len);
    s->busy = 1;
    s->started = a->starts++;
    s->hdr = *h;
    s->next_chunk = 1;
    s->received = h->payload_len;
    s->tags = tags;
    a->busy++;
    if (tags_out)
        *tags_out = tags;
    return RIDE_FRAME_INCOMPLETE;
}

static ride_frame_status continue_frame(ride_frame_assembler *a, pending_frame *s,
                                        ride_frame_status st, const ride_frame_header *h,
                                        const uint8_t *payload, uint64_t tag, ride_frame *out,
                                        ride_frame_tags *tags_out)
{
    tags_add(&s->tags, tag);
    if (st != RIDE_FRAME_OK)
        return reject_pending(a, s, st);
    if (!same_frame_fields(&s->hdr, h))
        return reject_pending(a, s, RIDE_FRAME_CHUNK_MISMATCH);
    if (h->chunk_index < s->next_chunk)
        return reject_pending(a, s, RIDE_FRAME_REPEATED_CHUNK);
    if (h->chunk_index > s->next_chunk)
        return reject_pending(a, s, RIDE_FRAME_MISSING_CHUNK);
    if (h->payload_len > s->hdr.frame_len - s->received)
        return reject_pending(a, s, RIDE_FRAME_FRAME_LEN_MISMATCH);
    memcpy(s->buf + s->received, payload, h->payload_len);
    s->received += h->payload_len;
    s->next_chunk++;
    if (s->next_chunk < s->hdr.chunk_count) {
        if (tags_out)
            *tags_out = s->tags;
        return RIDE_FRAME_INCOMPLETE;
    }
    if (s->received != s->hdr.frame_len)
        return reject_pending(a, s, RIDE_FRAME_FRAME_LEN_MISMATCH);
    s->busy = 0;
    a->busy--;
    return finish_frame(a, &s->hdr, s->buf, s->metadata, &s->tags, out, tags_out);
}

ride_frame_status ride_frame_assembler_push_tagged(ride_frame_assembler *a, const uint8_t *msg,
                                                   size_t len, uint64_t tag, ride_frame *out,
                                                   ride_frame_tags *tags)
{
    ride_frame_header h;
    int64_t t0 = ride_clock_mono_ns();
    ride_frame_status st = parse_message(msg, len, &h);
    a->timing = (ride_frame_timing){.checksum_ns = ride_clock_mono_ns() - t0};
    ride_frame_tags own = tags_of_one(tag);
    /* With several writers interleaved, an untrusted message could belong to any
     * frame in progress, or to none: it is reported on its own, and a frame
     * that loses a chunk to it fails later as missing_chunk. */
    if (!header_trusted(st))
        return reject(a, st, NULL, &own);
    pending_frame *s = find_pending(a, &h);
    if (s)
        return continue_frame(a, s, st, &h, msg + h.header_len, tag, out, tags);
    frame_id *discarded = h.chunk_index > 0 ? find_discarded(a, &h) : NULL;
    if (discarded)
        return skip_chunk(a, discarded, &h);
    if (st != RIDE_FRAME_OK)
        return reject(a, st, &h, &own);
    if (h.chunk_index > 0)
        return reject(a, RIDE_FRAME_MISSING_CHUNK, &h, &own);
    return start_frame(a, &h, msg, tag, out, tags);
}

ride_frame_status ride_frame_assembler_push(ride_frame_assembler *a, const uint8_t *msg,
                                            size_t len, ride_frame *out)
{
    return ride_frame_assembler_push_tagged(a, msg, len, 0, out, NULL);
}
