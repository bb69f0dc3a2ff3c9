/* kafka/share.h - one writer's share of a partition's byte budget: the bytes it
 * has written that the partition's reader has not committed yet, plus the bytes
 * it has reserved and not yet seen delivered (docs/kafka.md, "Backpressure").
 *
 * Each writer of a partition owns a fixed share (the budget divided among the
 * partition's writers, with one share to spare) and reserves a frame's bytes
 * before it produces them; a strict share never admits more than its limit, so
 * the writers together never have more unread bytes in the partition than the
 * budget. That is how a frame is never deleted unread on the embedded broker,
 * which keeps only RIDE_KAFKA_EMBEDDED_PARTITION_BYTES per partition. Bytes are
 * counted as the broker stores them: each message's payload plus
 * RIDE_SHARE_MESSAGE_OVERHEAD.
 *
 * A writer counts its messages by the offsets its delivery reports give and
 * releases them once the reader's committed offset (read by a ride_backlog) is
 * past them: a stale committed offset only keeps bytes counted longer. The share
 * of a writer that takes over from another (failover, a moved source) starts full
 * until the reader has committed everything written before it existed, so it does
 * not add its share to what its predecessors left unread.
 *
 * Every function may be called from any thread. */
#ifndef RIDE_SHARE_H
#define RIDE_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka/backlog.h"

/* What librdkafka's mock cluster (2.0.2) keeps per partition: it deletes the
 * oldest message sets, read or not, while the partition holds more bytes than
 * this (rdkafka_mock.c, rd_kafka_mock_msgset_new). */
#define RIDE_KAFKA_EMBEDDED_PARTITION_BYTES (5u * 1024u * 1024u)
/* More than a message set's bytes beyond its payload: the record batch header
 * (61 bytes) and one record's framing without key or headers (at most 26 bytes).
 * Embedded producers put one message in each message set (batch.num.messages 1),
 * so the broker deletes nothing coarser than one message. */
#define RIDE_SHARE_MESSAGE_OVERHEAD 128u

typedef struct ride_share ride_share;

typedef enum ride_share_admit {
    RIDE_SHARE_ADMITTED = 0, /* reserved: produce the frame now */
    RIDE_SHARE_FULL = 1,     /* no room now; there will be once the reader commits */
    RIDE_SHARE_NEVER = 2,    /* strict: the frame is larger than the whole share */
} ride_share_admit;

/* The share of `partition` of the topic b watches (b must outlive the share;
 * NULL: only reserved bytes count, as nothing tells when written ones are read).
 * limit: the most bytes it may count; strict: never more (else an empty share
 * admits any one frame, which bounds latency but guarantees nothing); successor:
 * the writer takes another's place (ride_share_restart). NULL when out of
 * memory. */
ride_share *ride_share_new(const ride_backlog *b, int32_t partition, uint64_t limit, bool strict,
                           bool successor);
void ride_share_free(ride_share *s);
/* The writer starts writing again after others may have written in its place:
 * full, like a new share, until the reader has consumed what is there now. */
void ride_share_restart(ride_share *s);

/* The share of a partition's budget each of its writers gets: the budget over
 * writers + 1, the spare share covering the messages a former writer still had
 * queued when another took its place. writers < 1 counts as 1. */
uint64_t ride_share_of_budget(uint64_t budget, int writers);

/* The bytes a frame of `messages` messages with `payload` bytes in all takes. */
uint64_t ride_share_frame_bytes(size_t messages, uint64_t payload);

/* Reserves bytes (ride_share_frame_bytes) when they fit. */
ride_share_admit ride_share_reserve(ride_share *s, uint64_t bytes);
/* Whether bytes would be admitted now; reserves nothing. */
bool ride_share_has_room(ride_share *s, uint64_t bytes);
/* Returns reserved bytes whose messages were never queued. */
void ride_share_unreserve(ride_share *s, uint64_t bytes);
/* A frame's reserved bytes were written: its messages are unread until the
 * reader's committed offset is past last_offset. last_offset < 0 (a message
 * failed, which the broker may still have stored): past everything this writer
 * knows to be written. */
void ride_share_written(ride_share *s, int64_t last_offset, uint64_t bytes);

/* Bytes counted now: reserved plus unread. */
uint64_t ride_share_used(ride_share *s);
uint64_t ride_share_limit(const ride_share *s);

#endif
