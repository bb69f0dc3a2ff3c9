/* Fuzz target for the frame wire format.
 *
 * The input is one options byte, then a sequence of messages, each preceded
 * by its length in 2 little-endian bytes (a length that runs past the end takes
 * what is left). Options bit 0 recomputes every message's payload and header
 * CRCs before use, so that mutated fields reach the checks behind the CRCs.
 * The whole input is parsed as one message; then every message is parsed on
 * its own and pushed, in order, into one assembler, so that chunk sequences
 * are explored as well as single headers. Besides memory errors, the target
 * aborts when the assembler breaks its reporting contract: every error status
 * comes with at least one reported frame, and OK with an image. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ride/frame.h"

/* Small enough that a header claiming a big frame cannot exhaust the fuzzer. */
#define FUZZ_MAX_FRAME_BYTES ((size_t)4 << 20)

#define OPT_FIX_CRCS 0x01

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

static void count_reject(void *ctx, const ride_frame_reject *r)
{
    if (r->status < RIDE_FRAME_TRUNCATED || r->status >= RIDE_FRAME_STATUS_COUNT)
        abort();
    ++*(size_t *)ctx;
}

static void parse_alone(const uint8_t *msg, size_t len)
{
    ride_frame_header h;
    const uint8_t *payload = NULL;
    if (ride_frame_header_parse(msg, len, &h, &payload) == RIDE_FRAME_OK &&
        (payload != msg + h.header_len || (size_t)h.header_len + h.payload_len != len))
        abort();
}

static void push_checked(ride_frame_assembler *a, const uint8_t *msg, size_t len, ride_frame *out,
                         const size_t *rejected)
{
    size_t before = *rejected;
    ride_frame_status st = ride_frame_assembler_push(a, msg, len, out);
    if (st >= RIDE_FRAME_TRUNCATED && *rejected == before)
        abort();
    if (st == RIDE_FRAME_OK && (!out->image.data || out->image.width == 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_alone(data, size);
    size_t rejected = 0;
    ride_frame_assembler *a = ride_frame_assembler_new(FUZZ_MAX_FRAME_BYTES, count_reject,
                                                       &rejected);
    if (!a)
        return 0;
    ride_frame out = {0};
    int fix = size > 0 && (data[0] & OPT_FIX_CRCS);
    size_t off = size > 0 ? 1 : 0;
    while (size - off >= 2) {
        size_t n = (size_t)data[off] | (size_t)data[off + 1] << 8;
        off += 2;
        if (n > size - off)
            n = size - off;
        /* An exact-size copy, so that any read past the message is caught. */
        uint8_t *msg = malloc(n ? n : 1);
        if (!msg)
            break;
        memcpy(msg, data + off, n);
        if (fix)
            fix_crcs(msg, n);
        parse_alone(msg, n);
        push_checked(a, msg, n, &out, &rejected);
        free(msg);
        off += n;
    }
    ride_frame_free(&out);
    ride_frame_assembler_free(a);
    return 0;
}
