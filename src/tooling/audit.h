/* audit.h - reads the frames of a topic (a stage's output or a sink) and
 * accounts for them by sequence number per stream: distinct frames, duplicates and
 * gaps, plus capture-to-read latency. The demo, the benchmarks and the integration
 * tests prove "nothing lost" with it.
 *
 * A reader consumes every partition of one topic from the beginning (or from the
 * end, with from_end) with its own consumer; each whole frame (after reassembly)
 * is recorded and, when a callback is given, handed to it. It commits only with
 * a group: then, as a sink's reader (spec.sink.group), it tells the sink stage
 * how far it has read, and the stage writes at most its backlog budget ahead.
 *
 * Threads: one reader is used by one thread at a time. */
#ifndef RIDE_AUDIT_H
#define RIDE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/parse.h"
#include "wire/frame.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sequence accounting ---- */

typedef struct ride_seqtrack ride_seqtrack;

typedef struct ride_seqtrack_stream {
    uint32_t stream;
    uint64_t unique;     /* distinct sequence numbers seen */
    uint64_t duplicates; /* frames seen again */
    uint64_t first_seq;  /* lowest seen */
    uint64_t last_seq;   /* highest seen */
    uint64_t missing;    /* sequence numbers between first_seq and last_seq not seen */
} ride_seqtrack_stream;

ride_seqtrack *ride_seqtrack_new(void);
void ride_seqtrack_free(ride_seqtrack *t);
/* Records one frame; returns 1 when (stream, seq) is new, 0 for a duplicate, -1 when
 * out of memory. */
int ride_seqtrack_add(ride_seqtrack *t, uint32_t stream, uint64_t seq);
/* True when (stream, seq) was recorded. */
bool ride_seqtrack_has(const ride_seqtrack *t, uint32_t stream, uint64_t seq);
/* The streams seen, in stream order: fills up to cap entries, returns how many exist. */
size_t ride_seqtrack_streams(const ride_seqtrack *t, ride_seqtrack_stream *out, size_t cap);
/* Sums over every stream (stream field 0, first/last unused). */
void ride_seqtrack_totals(const ride_seqtrack *t, ride_seqtrack_stream *out);

/* ---- reading a topic ---- */

typedef struct ride_audit_reader ride_audit_reader;

/* Called for every whole frame read (duplicates included); `fresh` tells whether
 * it was new. The frame is valid during the call only. */
typedef void (*ride_audit_frame_fn)(void *ctx, const ride_frame *frame, bool fresh,
                                    int64_t read_ns);

typedef struct ride_audit_options {
    const char *bootstrap; /* Kafka brokers, required */
    bool embedded;         /* they are the embedded broker (ride_kafka_conf_new) */
    const ride_kv *props;  /* more librdkafka properties, e.g. security; applied last */
    size_t prop_count;
    const char *topic;     /* required; must exist */
    bool from_end;         /* start at the log end instead of the beginning */
    /* Optional consumer group: the reader commits what it has read for it
     * (asynchronously after each poll that read something, synchronously when
     * freed), keeping its own assignment; NULL: it never commits. */
    const char *group;
    size_t max_frame_bytes; /* 0: 256 MiB */
    ride_audit_frame_fn on_frame; /* optional */
    void *ctx;
} ride_audit_options;

/* Subscribes to every partition of the topic. NULL with err filled on failure. */
ride_audit_reader *ride_audit_reader_new(const ride_audit_options *opts, char *err,
                                         size_t errlen);
void ride_audit_reader_free(ride_audit_reader *r);
/* Reads for up to timeout_ms (returns early after `max_frames` whole frames when
 * max_frames > 0). Returns the whole frames read, or -1 with err filled. */
int ride_audit_reader_poll(ride_audit_reader *r, int timeout_ms, int max_frames, char *err,
                           size_t errlen);
/* The accounting so far. */
const ride_seqtrack *ride_audit_reader_seqs(const ride_audit_reader *r);
/* Messages that did not make a valid frame (corrupt, truncated, interleaved away). */
uint64_t ride_audit_reader_rejected(const ride_audit_reader *r);
/* Capture-to-read latency of the fresh frames, in ms, at quantile q in [0, 1]
 * (nearest rank); -1 when none was read. Uses the wall clock both sides. */
double ride_audit_reader_latency_ms(const ride_audit_reader *r, double q);

#ifdef __cplusplus
}
#endif

#endif
