/* wire/frame.h - the frame wire format: one Kafka message per frame, or per chunk
 * of a frame too large for one message (docs/wire-format.md, SPEC section 5).
 *
 * Every message is a fixed little-endian header (RIDE_FRAME_HEADER_LEN bytes in
 * version 1) followed by payload bytes. Producers call ride_frame_write(); workers
 * push every message of a partition into one ride_frame_assembler, which validates
 * it, reassembles chunks and decodes the payload. Nothing in a message is trusted:
 * every failure has its own ride_frame_status and a stable reason string. */
#ifndef RIDE_FRAME_H
#define RIDE_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ride/image.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RIDE_FRAME_MAGIC "RIDF"
#define RIDE_FRAME_VERSION 1u
/* Size of the version 1 header; later headers may be longer (header_len). */
#define RIDE_FRAME_HEADER_LEN 72u
#define RIDE_FRAME_MAX_CHUNKS 65535u
/* No version 1 frame is larger than 65536 x 65536 pixels of 4 bytes (16 GiB),
 * raw or encoded; receivers usually set a much smaller limit of their own. */
#define RIDE_FRAME_MAX_FRAME_BYTES (UINT64_C(1) << 34)
/* The Kafka producer's default message.max.bytes. */
#define RIDE_FRAME_DEFAULT_MAX_MESSAGE 1000000u

/* Frame metadata (docs/wire-format.md, "Metadata"): a JSON object as UTF-8 text,
 * carried by the first chunk only. The flag bit says it is there; the header
 * extension then starts with its length (4 bytes at byte 72) followed by the text
 * at RIDE_FRAME_METADATA_OFFSET. */
#define RIDE_FRAME_FLAG_METADATA 0x0001u
#define RIDE_FRAME_METADATA_OFFSET 76u
/* The largest metadata document, in bytes: a few hundred annotations such as
 * bounding boxes, small beside the pixels and far below header_len's 65535. */
#define RIDE_FRAME_MAX_METADATA 16384u

/* A frame's JPEG or PNG payload kept undecoded (ride_frame_assembler_opts'
 * defer_decode) until ride_frame_decode: what the header says it holds. */
typedef struct ride_frame_encoded {
    bool pending; /* image is not decoded yet */
    uint16_t encoding;
    ride_pixel_format format;
    uint32_t width, height;
    uint8_t *bytes; /* owned, kept between frames */
    size_t len, cap;
} ride_frame_encoded;

/* A frame: pixels plus where and when they were captured. */
typedef struct ride_frame {
    ride_image image;
    ride_frame_encoded encoded;
    uint32_t stream_id;
    uint64_t seq;
    uint64_t capture_ns; /* capture time, ns since the Unix epoch */
    /* A JSON object, NUL-terminated, metadata_len bytes before the NUL; owned by
     * the frame. NULL and 0 when the frame carries none. */
    char *metadata;
    size_t metadata_len;
} ride_frame;

/* Releases the image's pixels when the frame owns them, the metadata, and zeroes
 * the frame. */
void ride_frame_free(ride_frame *f);

/* Checks a metadata document: 1..RIDE_FRAME_MAX_METADATA bytes of UTF-8 text that
 * is one JSON object without duplicate keys. Returns 0, or -1 with the reason in
 * err. */
int ride_frame_metadata_check(const char *json, size_t len, char *err, size_t errlen);

/* Checks json (ride_frame_metadata_check) and copies it into f, replacing what f
 * carried; json NULL or len 0 removes f's metadata. Returns 0, or -1 with the
 * reason in err (f is then unchanged). */
int ride_frame_set_metadata(ride_frame *f, const char *json, size_t len, char *err,
                            size_t errlen);

/* Copies src's metadata (already checked when it was set) into dst, or removes
 * dst's when src has none. Returns 0, or -1 when out of memory. */
int ride_frame_copy_metadata(ride_frame *dst, const ride_frame *src);

/* Outcome of parsing or assembling a message. Values below RIDE_FRAME_TRUNCATED
 * are not errors; every other value names one reason a frame was rejected.
 * RIDE_FRAME_INCOMPLETE is also the reason ride_frame_assembler_flush() gives
 * the frames it rejects. */
typedef enum ride_frame_status {
    RIDE_FRAME_OK = 0,          /* a complete frame was produced */
    RIDE_FRAME_INCOMPLETE,      /* chunk accepted, more chunks are needed */
    RIDE_FRAME_SKIPPED,         /* chunk of a frame already reported as rejected */
    RIDE_FRAME_TRUNCATED,       /* message ends inside its header or payload */
    RIDE_FRAME_BAD_MAGIC,
    RIDE_FRAME_UNSUPPORTED_VERSION,
    RIDE_FRAME_BAD_HEADER_LEN,
    RIDE_FRAME_BAD_HEADER_CRC,
    RIDE_FRAME_BAD_FLAGS,
    RIDE_FRAME_BAD_PIXEL_FORMAT,
    RIDE_FRAME_BAD_ENCODING,
    RIDE_FRAME_ENCODING_FORMAT_MISMATCH, /* encoding cannot carry the pixel format */
    RIDE_FRAME_CHANNEL_MISMATCH,
    RIDE_FRAME_BAD_DIMENSIONS,
    RIDE_FRAME_BAD_STRIDE,
    RIDE_FRAME_SIZE_OVERFLOW,   /* a size does not fit this host's size_t */
    RIDE_FRAME_TOO_LARGE,
    RIDE_FRAME_PAYLOAD_LEN_MISMATCH,
    RIDE_FRAME_BAD_PAYLOAD_CRC,
    RIDE_FRAME_BAD_CHUNK_INDEX,
    RIDE_FRAME_BAD_CHUNK_COUNT,
    RIDE_FRAME_MISSING_CHUNK,
    RIDE_FRAME_REPEATED_CHUNK,
    RIDE_FRAME_CHUNK_MISMATCH,  /* chunk's frame fields differ from its frame's */
    RIDE_FRAME_FRAME_LEN_MISMATCH,
    RIDE_FRAME_DECODE_FAILED,
    RIDE_FRAME_DIMENSION_MISMATCH, /* decoded image size differs from the header */
    RIDE_FRAME_OUT_OF_MEMORY,
    RIDE_FRAME_BAD_METADATA,      /* metadata section malformed or not a JSON object */
    RIDE_FRAME_METADATA_TOO_LARGE, /* metadata above RIDE_FRAME_MAX_METADATA */
    RIDE_FRAME_STATUS_COUNT
} ride_frame_status;

/* Stable snake_case name ("bad_payload_crc"), usable as a Prometheus label value;
 * "unknown" for a value outside the enum. */
const char *ride_frame_status_reason(ride_frame_status st);
/* One human sentence describing the status, for logs and error messages. */
const char *ride_frame_status_message(ride_frame_status st);

/* A decoded header, field for field as on the wire (docs/wire-format.md). */
typedef struct ride_frame_header {
    uint16_t version;
    uint16_t header_len;
    uint16_t pixel_format; /* a ride_pixel_format */
    uint16_t encoding;     /* a ride_encoding */
    uint16_t channels;
    uint16_t flags;
    uint32_t width;
    uint32_t height;
    uint32_t stride;
    uint32_t stream_id;
    uint64_t seq;
    uint64_t capture_ns;
    uint64_t frame_len;   /* payload bytes of the whole frame */
    uint32_t payload_len; /* payload bytes in this message */
    uint16_t chunk_index;
    uint16_t chunk_count;
    uint32_t payload_crc;
    uint32_t header_crc;
    /* Bytes of metadata at msg + RIDE_FRAME_METADATA_OFFSET when flags has
     * RIDE_FRAME_FLAG_METADATA, else 0. */
    uint32_t metadata_len;
} ride_frame_header;

/* Validates one message on its own (everything but the cross-chunk rules and the
 * payload decoding) and decodes its header into *out. On RIDE_FRAME_OK, *payload
 * (when not NULL) points at the message's payload_len payload bytes inside msg.
 * On an error *out holds what was decoded before the failing check; its fields
 * are CRC-verified only when the status comes after RIDE_FRAME_BAD_HEADER_CRC. */
ride_frame_status ride_frame_header_parse(const uint8_t *msg, size_t len, ride_frame_header *out,
                                          const uint8_t **payload);

/* CRC32C (Castagnoli, as iSCSI), the checksum of the wire format. Start with
 * crc = 0; pass the previous result to continue over further bytes. */
uint32_t ride_crc32c(uint32_t crc, const void *buf, size_t len);

/* ---- Encoder ---- */

typedef struct ride_frame_write_opts {
    ride_encoding encoding;
    int quality;              /* JPEG 1..100, PNG compression 0..9, -1: codec default */
    size_t max_message_bytes; /* header + payload of every message; > RIDE_FRAME_HEADER_LEN */
} ride_frame_write_opts;

/* Checks opts for a frame of pixel format f: a known encoding that carries f, a
 * quality in the encoding's range, room for payload in a message. Returns 0, or
 * -1 with a reason in err. ride_frame_write() runs the same check. */
int ride_frame_write_opts_check(const ride_frame_write_opts *o, ride_pixel_format f, char *err,
                                size_t errlen);

/* Receives one complete message; a non-zero return aborts ride_frame_write(). */
typedef int (*ride_frame_emit_fn)(void *ctx, const uint8_t *msg, size_t len);

/* Encodes f (raw: rows without padding; JPEG/PNG through OpenCV), splits the
 * payload into as many chunks as needed for every message to fit in
 * opts->max_message_bytes, and emits the messages in order. f's metadata, when it
 * has some, goes into the first message's header, which must leave room for it. opts NULL means raw
 * with RIDE_FRAME_DEFAULT_MAX_MESSAGE. Returns 0, or -1 with a reason in err. */
int ride_frame_write(const ride_frame *f, const ride_frame_write_opts *opts,
                     ride_frame_emit_fn emit, void *ctx, char *err, size_t errlen);

/* Receives one complete message in a malloc'd buffer it takes over, also when it
 * fails (a non-zero return aborts ride_frame_write_owned()). */
typedef int (*ride_frame_emit_owned_fn)(void *ctx, uint8_t *msg, size_t len);

/* ride_frame_write, each message built in a buffer of its own that emit takes
 * over: a caller keeping the messages copies nothing. */
int ride_frame_write_owned(const ride_frame *f, const ride_frame_write_opts *opts,
                           ride_frame_emit_owned_fn emit, void *ctx, char *err, size_t errlen);

/* Nanoseconds (monotonic clock) the calling thread's last ride_frame_write() spent
 * encoding its frame as JPEG or PNG; 0 after a raw one. */
int64_t ride_frame_write_last_encode_ns(void);

/* ---- Reassembly ---- */

/* Frames in progress one assembler keeps at once by default: one per writer
 * that interleaves chunked frames into the partition, with room to spare. */
#define RIDE_FRAME_DEFAULT_PENDING 16u
/* The most frames in progress an assembler may be configured for. */
#define RIDE_FRAME_MAX_PENDING 1024u

/* The caller's tags (e.g. Kafka offsets) of the messages a frame was assembled
 * from, has so far, or was rejected with: the lowest, the highest and how many
 * messages. With offsets as tags, `first` is where a reader that has not finished
 * the frame must resume (docs/wire-format.md, "Tags and offsets"). */
typedef struct ride_frame_tags {
    uint64_t first;
    uint64_t last;
    uint32_t count;
} ride_frame_tags;

/* A rejected frame. The identity is known when the header that caused the
 * rejection (or the frame's earlier chunks) passed the header CRC. tags covers
 * every message of the frame pushed so far, the rejecting one included; a
 * message that cannot be attributed to a frame is rejected with its own tag. */
typedef struct ride_frame_reject {
    ride_frame_status status;
    int id_known;
    uint32_t stream_id;
    uint64_t seq;
    ride_frame_tags tags;
} ride_frame_reject;

/* Called exactly once per rejected frame, from inside ride_frame_assembler_push()
 * or ride_frame_assembler_flush(); it must not call back into the assembler. */
typedef void (*ride_frame_reject_fn)(void *ctx, const ride_frame_reject *reject);

typedef struct ride_frame_assembler ride_frame_assembler;

typedef struct ride_frame_assembler_opts {
    /* Frames whose payload or decoded pixels exceed this are rejected (too_large)
     * before anything is allocated for them. Required (> 0). */
    size_t max_frame_bytes;
    /* Frames in progress at once, 1..RIDE_FRAME_MAX_PENDING; 0 means
     * RIDE_FRAME_DEFAULT_PENDING. Starting one more rejects the oldest. */
    unsigned max_pending;
    /* Bytes of chunk buffers kept for frames in progress, all together; at least
     * max_frame_bytes. 0 means max_frame_bytes x max_pending (saturating). */
    size_t max_pending_bytes;
    /* Required: where rejected frames are counted. */
    ride_frame_reject_fn on_reject;
    void *ctx;
    /* Encoded frames are handed out undecoded (ride_frame.encoded), to be
     * decoded by ride_frame_decode where the task runs; decoding errors are
     * then that call's to report, not on_reject's. */
    bool defer_decode;
    /* 0: frames arrive in the pixel format they were sent in. RIDE_PIX_GRAY8:
     * JPEG colour frames are decoded to gray8, their luma plane alone (the chroma
     * is neither decoded nor upsampled); raw and PNG frames arrive as sent. */
    ride_pixel_format decode_as;
} ride_frame_assembler_opts;

/* One assembler per partition, used by one thread at a time. Returns NULL on an
 * invalid option or allocation failure. */
ride_frame_assembler *ride_frame_assembler_new_opts(const ride_frame_assembler_opts *opts);

/* ride_frame_assembler_new_opts() with the default max_pending and
 * max_pending_bytes. */
/* Decodes f's pending payload (f->encoded) into f->image, as an assembler with
 * these max_frame_bytes and decode_as would have; a frame with nothing pending is
 * left as it is. scale (1, 2, 4 or 8) decodes a JPEG at 1/scale of its size:
 * f->image is then ceil(width / scale) x ceil(height / scale) of the header's
 * width x height (f->encoded); raw and PNG frames are decoded full size. Returns
 * RIDE_FRAME_OK, or decode_failed (also for another scale), dimension_mismatch
 * or out_of_memory (the frame is then to be dropped). */
ride_frame_status ride_frame_decode(ride_frame *f, size_t max_frame_bytes,
                                    ride_pixel_format decode_as, unsigned scale);

ride_frame_assembler *ride_frame_assembler_new(size_t max_frame_bytes,
                                               ride_frame_reject_fn on_reject, void *ctx);
void ride_frame_assembler_free(ride_frame_assembler *a);

/* Consumes one message, tagged with `tag` (any value the caller wants back,
 * usually the message's Kafka offset). Returns RIDE_FRAME_OK with the complete
 * frame (its metadata included, or none) in *out; RIDE_FRAME_INCOMPLETE or
 * RIDE_FRAME_SKIPPED when there is nothing to deliver yet; or the error that
 * rejected the pushed message's frame. After RIDE_FRAME_OK and
 * RIDE_FRAME_INCOMPLETE, when tags is not NULL, *tags holds the tags of the
 * pushed message's frame: all of them, or those pushed so far. Every rejected
 * frame - including an older frame in progress evicted to make room for a new
 * one - has been passed to on_reject before this returns; a caller counts
 * drops there and only there. After any status the assembler is ready for the
 * next message.
 * Every message is accounted for exactly once: in the tags of one completed
 * frame, in the tags of one rejection, or by a SKIPPED return (a message of a
 * frame already rejected), unless it still belongs to a frame in progress.
 * *out must be zeroed or hold a frame from an earlier push: its image buffer is
 * reused when the shape repeats. Its content is unspecified after an error. */
ride_frame_status ride_frame_assembler_push_tagged(ride_frame_assembler *a, const uint8_t *msg,
                                                   size_t len, uint64_t tag, ride_frame *out,
                                                   ride_frame_tags *tags);

/* ride_frame_assembler_push_tagged() with tag 0 and no tags wanted. */
ride_frame_status ride_frame_assembler_push(ride_frame_assembler *a, const uint8_t *msg,
                                            size_t len, ride_frame *out);

/* Where the last push's time went (monotonic clock), for a caller timing each step
 * of a frame's work. */
typedef struct ride_frame_timing {
    int64_t checksum_ns; /* checking the message's header and its CRC32C checksums */
    int64_t decode_ns;   /* decoding the JPEG or PNG frame the push completed; else 0 */
} ride_frame_timing;

ride_frame_timing ride_frame_assembler_last_timing(const ride_frame_assembler *a);

/* How many frames have some but not all of their chunks. */
int ride_frame_assembler_pending(const ride_frame_assembler *a);

/* Rejects every frame in progress, oldest first, with status
 * RIDE_FRAME_INCOMPLETE (reason "incomplete"), for a caller that will not read
 * their remaining chunks and counts them as lost. Returns how many. */
unsigned ride_frame_assembler_flush(ride_frame_assembler *a);

/* Forgets the frames in progress and the rejected frames without reporting
 * anything, for when the partition is released or re-read from an earlier
 * offset (their chunks will be read again). */
void ride_frame_assembler_reset(ride_frame_assembler *a);

#ifdef __cplusplus
}
#endif

#endif
