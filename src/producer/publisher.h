/* publisher.h - publishes the frames of one source to a stage's input topic
 * (ride.<app>.<stage>), round-robin over its partitions: the i-th frame offered
 * goes to partition (start + i) mod P, dropped frames included, so a source's
 * frames spread evenly whatever is dropped.
 *
 * Backpressure. Each partition has a byte budget (max_backlog_bytes), divided
 * among the partition's writers (every source of the stage publishes round-robin
 * to every partition; `writers`) into shares with one to spare (kafka/share.h).
 * This publisher's share of a partition counts the bytes it has queued but not
 * seen delivered and, when a backlog monitor is given, the bytes it wrote that
 * the stage's group has not committed yet. A frame is encoded, then admitted
 * when its bytes fit in its partition's share; with `strict` (the embedded
 * broker, which deletes the oldest messages beyond about 5 MB per partition,
 * read or not) never beyond it, so no frame is deleted before the stage read
 * it, and a frame larger than the whole share is refused (dropped,
 * produce_failed, logged); otherwise an empty share also admits any one frame.
 * A frame that does not fit is dropped at once and counted with reason
 * "backpressure" (a camera cannot wait); with wait_when_full (files read with
 * pace max) the publisher waits, serving delivery reports, instead.
 *
 * Accounting. Every offered frame ends in exactly one of: produced (all its
 * messages queued) or dropped with a reason; a produced frame then ends as
 * delivered or dropped with reason "delivery_failed" ("delivery_unknown" when a
 * failed message may have been written all the same, so that a reader may find
 * the frame). So offered == produced + dropped[backpressure] +
 * dropped[produce_failed] and, once reports are in, produced == delivered +
 * dropped[delivery_failed] + dropped[delivery_unknown].
 * A frame whose pixels are larger than max_frame_bytes is refused before
 * anything is queued (dropped, produce_failed): no receiver would take it.
 *
 * Failures are logged here, each cause (event and reason: the broker's for a
 * failed delivery) once per RIDE_LOG_THROTTLE_MS with the count of repeats held
 * back (base/failure_log.h): frame_refused (error) and delivery_failed (warn);
 * produce_failed (warn), whose reason names the frame, once per interval.
 *
 * Threading: publish from one thread; delivery reports may run on another
 * (whichever polls the producer). Several publishers may share one producer:
 * create it with ride_publisher_on_delivery as its delivery callback. */
#ifndef RIDE_PRODUCER_PUBLISHER_H
#define RIDE_PRODUCER_PUBLISHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka/backlog.h"
#include "kafka/kafka.h"
#include "wire/frame.h"

#define RIDE_PUBLISHER_DEFAULT_BACKLOG (4u << 20)

typedef enum ride_drop_reason {
    RIDE_DROP_BACKPRESSURE = 0, /* the partition's backlog was over budget */
    RIDE_DROP_PRODUCE_FAILED,   /* encoding failed or Kafka refused the messages */
    RIDE_DROP_DELIVERY_FAILED,  /* Kafka reported a message of the frame as failed */
    /* Likewise, but a failed message may have been written all the same (the broker
     * died before it answered): a reader may find the frame or not. */
    RIDE_DROP_DELIVERY_UNKNOWN,
    RIDE_DROP_REASON_COUNT
} ride_drop_reason;

/* "backpressure", "produce_failed", "delivery_failed", "delivery_unknown" (metric
 * label values). */
const char *ride_drop_reason_name(ride_drop_reason reason);

typedef struct ride_publisher_opts {
    const char *topic;           /* copied */
    int partitions;              /* 1..RIDE_KAFKA_MAX_PARTITIONS */
    int start_partition;         /* first frame's partition (taken mod partitions) */
    ride_frame_write_opts write; /* encoding, quality, message size (0: Kafka default) */
    size_t max_frame_bytes;      /* largest frame's pixels; 0: no limit */
    size_t max_backlog_bytes;    /* per partition; 0: RIDE_PUBLISHER_DEFAULT_BACKLOG */
    int writers;                 /* of each partition, this one included; 0: 1 */
    bool strict;                 /* a hard budget: requires backlog */
    bool successor;              /* another producer ran the source before */
    bool wait_when_full;         /* wait for room instead of dropping */
    int produce_timeout_ms;      /* bound on queueing one frame; 0: 5000 */
    /* The stage group's consumption of the topic (must outlive the publisher);
     * NULL: only bytes in flight count. */
    const ride_backlog *backlog;
} ride_publisher_opts;

typedef struct ride_publisher_stats {
    uint64_t offered;   /* frames decided: produced or dropped before producing */
    uint64_t produced;  /* frames whose messages were all queued */
    uint64_t delivered; /* produced frames whose messages were all delivered */
    uint64_t messages;  /* Kafka messages (chunks) of the produced frames */
    uint64_t bytes;     /* message bytes queued */
    uint64_t dropped[RIDE_DROP_REASON_COUNT];
} ride_publisher_stats;

typedef struct ride_publisher ride_publisher;

/* The producer must outlive the publisher's frames in flight. */
ride_publisher *ride_publisher_new(ride_kafka_producer *producer, const ride_publisher_opts *opts,
                                   char *err, size_t errlen);
/* Releases the publisher; frames still in flight keep their bookkeeping alive
 * until their delivery reports run. NULL is a no-op. */
void ride_publisher_free(ride_publisher *pub);

/* The delivery callback to give ride_kafka_producer_new() (ctx unused): it
 * routes each report to the publisher that queued the message. */
void ride_publisher_on_delivery(void *ctx, void *opaque, const ride_kafka_delivery *d);

typedef enum ride_publish_result {
    RIDE_PUBLISH_QUEUED = 0,  /* the frame is on its way */
    RIDE_PUBLISH_DROPPED = 1, /* counted as dropped (reason in err) */
    RIDE_PUBLISH_FULL = 2,    /* wait_when_full: no room within max_wait_ms; the frame
                                 was not taken, offer it again */
} ride_publish_result;

/* Offers one frame (NULL arguments: RIDE_PUBLISH_DROPPED, nothing counted).
 * With wait_when_full, waits up to max_wait_ms (< 0: no
 * limit) for room in the frame's partition. */
ride_publish_result ride_publisher_publish(ride_publisher *pub, const ride_frame *f,
                                           int max_wait_ms, char *err, size_t errlen);

void ride_publisher_stats_get(const ride_publisher *pub, ride_publisher_stats *out);
/* Bytes the partition's share counts now: queued and not yet reported delivered,
 * plus, with a backlog, delivered and not yet consumed (0 when out of range). */
uint64_t ride_publisher_in_flight(const ride_publisher *pub, int32_t partition);
/* The partition the next frame goes to. */
int32_t ride_publisher_next_partition(const ride_publisher *pub);

#endif
