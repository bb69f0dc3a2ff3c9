/* Fuzz target for the frame wire format.
 *
 * The input is one options byte, then a sequence of messages, each preceded
 * by its length in 2 little-endian bytes (a length that runs past the end takes
 * what is left). Options bit 0 recomputes every message's payload and header
 * CRCs before use, so that mutated fields reach the checks behind the CRCs;
 * bit 1 pushes the messages interleaved, first half with second half (as two
 * writers sharing a partition would); bits 2-4, when not 0, are how many frames
 * the assembler keeps in progress, so that eviction is explored.
 * The whole input is parsed as one message; then every message is parsed on
 * its own and pushed, tagged with its position, into one assembler, so that
 * chunk sequences are explored as well as single headers. Besides memory
 * errors, the target aborts when the assembler breaks its reporting contract:
 * every error status comes with at least one reported frame, OK with an image
 * and, when the frame carries metadata, a NUL-terminated JSON object within the
 * bound, OK and INCOMPLETE with tags that include the pushed message's, and once the frames still in progress are flushed, every pushed message has
 * come back exactly once (in a completed frame's tags, a rejection's tags or a
 * SKIPPED status). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/frame.h"

/* Small enough that a header claiming a big frame cannot exhaust the fuzzer. */
#define FUZZ_MAX_FRAME_BYTES ((size_t)4 << 20)

#define OPT_FIX_CRCS 0x01
#define OPT_INTERLEAVE 0x02
#define OPT_PENDING_SHIFT 2
#define OPT_PENDING_MASK 0x07

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Offsets as in docs/wire-format.md: header_len at 6, payload_len at 56,
 * payload CRC at 64, header CRC at 68 over [0, 68) and [72, header_len). */
static void fix_crcs(uint8_t *msg, size_t len)
{
    if (len < RIDE_FRAME_HEADER_LEN)
        return;
    size_t header_len = (size_t)msg[6] | (size_t)msg[7] << 8;
    if (header_len < RIDE_FRAME_HEADER_LEN || header_len > len)
        return;
    size_t payload_len = get_u32(msg + 56);
    if (payload_len <= len - header_len)
        put_u32(msg + 64, ride_crc32c(0, msg + header_len, payload_len));
    uint32_t crc = ride_crc32c(0, msg, 68);
    put_u32(msg + 68, ride_crc32c(crc, msg + RIDE_FRAME_HEADER_LEN,
                                  header_len - RIDE_FRAME_HEADER_LEN));
}

/* What came back from the assembler. */
typedef struct tally {
    size_t rejected;
    uint64_t messages; /* counted in completions' and rejections' tags, and SKIPPED */
    int flushing;
} tally;

static void check_tags(const ride_frame_tags *t)
{
    if (t->count == 0 || t->first > t->last)
        abort();
}

static void count_reject(void *ctx, const ride_frame_reject *r)
{
    tally *t = ctx;
    int flushed = t->flushing && r->status == RIDE_FRAME_INCOMPLETE;
    if (!flushed && (r->status < RIDE_FRAME_TRUNCATED || r->status >= RIDE_FRAME_STATUS_COUNT))
        abort();
    check_tags(&r->tags);
    t->rejected++;
    t->messages += r->tags.count;
}

static void parse_alone(const uint8_t *msg, size_t len)
{
    ride_frame_header h;
    const uint8_t *payload = NULL;
    if (ride_frame_header_parse(msg, len, &h, &payload) == RIDE_FRAME_OK &&
        (payload != msg + h.header_len || (size_t)h.header_len + h.payload_len != len))
        abort();
}

static void push_checked(ride_frame_assembler *a, const uint8_t *msg, size_t len, uint64_t tag,
                         ride_frame *out, tally *t)
{
    size_t before = t->rejected;
    ride_frame_tags tags = {0};
    ride_frame_status st = ride_frame_assembler_push_tagged(a, msg, len, tag, out, &tags);
    if (st >= RIDE_FRAME_TRUNCATED && t->rejected == before)
        abort();
    if (st == RIDE_FRAME_OK) {
        if (!out->image.data || out->image.width == 0)
            abort();
        if ((out->metadata == NULL) != (out->metadata_len == 0))
            abort();
        if (out->metadata && (out->metadata[out->metadata_len] != '\0' ||
                              ride_frame_metadata_check(out->metadata, out->metadata_len, NULL,
                                                        0) != 0))
            abort();
        check_tags(&tags);
        if (tag < tags.first || tag > tags.last)
            abort();
        t->messages += tags.count;
    }
    if (st == RIDE_FRAME_INCOMPLETE) {
        check_tags(&tags);
        if (tag < tags.first || tag > tags.last)
            abort();
    }
    if (st == RIDE_FRAME_SKIPPED)
        t->messages++;
}

/* Where each message lies in the input. */
typedef struct span {
    size_t off, len;
} span;

static size_t split_messages(const uint8_t *data, size_t size, span *spans)
{
    size_t n = 0;
    size_t off = size > 0 ? 1 : 0;
    while (size - off >= 2) {
        size_t len = (size_t)data[off] | (size_t)data[off + 1] << 8;
        off += 2;
        if (len > size - off)
            len = size - off;
        if (spans)
            spans[n] = (span){off, len};
        n++;
        off += len;
    }
    return n;
}

/* Position k of the push order: in order, or alternating between halves. */
static size_t message_at(size_t k, size_t n, int interleave)
{
    if (!interleave)
        return k;
    size_t half = (n + 1) / 2;
    return k % 2 == 0 ? k / 2 : half + k / 2;
}

/* Returns 1 when the message was pushed. */
static int push_copy(ride_frame_assembler *a, const uint8_t *data, span sp, int fix,
                     uint64_t tag, ride_frame *out, tally *t)
{
    /* An exact-size copy, so that any read past the message is caught. */
    uint8_t *msg = malloc(sp.len ? sp.len : 1);
    if (!msg)
        return 0;
    memcpy(msg, data + sp.off, sp.len);
    if (fix)
        fix_crcs(msg, sp.len);
    parse_alone(msg, sp.len);
    push_checked(a, msg, sp.len, tag, out, t);
    free(msg);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_alone(data, size);
    uint8_t opts = size > 0 ? data[0] : 0;
    size_t n = split_messages(data, size, NULL);
    span *spans = malloc((n ? n : 1) * sizeof *spans);
    if (!spans)
        return 0;
    split_messages(data, size, spans);
    tally t = {0};
    ride_frame_assembler_opts ao = {
        .max_frame_bytes = FUZZ_MAX_FRAME_BYTES,
        .max_pending = (opts >> OPT_PENDING_SHIFT) & OPT_PENDING_MASK,
        .on_reject = count_reject,
        .ctx = &t,
    };
    ride_frame_assembler *a = ride_frame_assembler_new_opts(&ao);
    if (!a) {
        free(spans);
        return 0;
    }
    ride_frame out = {0};
    size_t pushed = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = message_at(k, n, opts & OPT_INTERLEAVE);
        pushed += (size_t)push_copy(a, data, spans[i], opts & OPT_FIX_CRCS, i, &out, &t);
    }
    t.flushing = 1;
    ride_frame_assembler_flush(a);
    if (ride_frame_assembler_pending(a) != 0 || t.messages != pushed)
        abort();
    ride_frame_free(&out);
    ride_frame_assembler_free(a);
    free(spans);
    return 0;
}
