/* publisher.c - round-robin frame publishing with backpressure (publisher.h). */
#include "publisher.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/failure_log.h"
#include "kafka/share.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_PRODUCE_TIMEOUT_MS 5000
#define WAIT_POLL_MS 5

struct ride_publisher {
    ride_kafka_producer *producer;
    char *topic;
    int partitions;
    uint64_t counter; /* frames offered so far, for round-robin */
    int start;
    ride_frame_write_opts write;
    size_t max_frame_bytes;
    uint64_t budget;
    bool wait_when_full;
    int produce_timeout_ms;
    uint64_t last_need; /* publishing thread only: the last frame's bytes in a share */

    /* Shared with the thread that serves delivery reports. */
    atomic_int refs; /* the owner plus one per frame in flight */
    ride_share **shares; /* per partition */
    _Atomic uint64_t offered, produced, delivered, bytes, produced_messages;
    _Atomic uint64_t dropped[RIDE_DROP_REASON_COUNT];
    pthread_mutex_t log_lock; /* guards failures */
    ride_failure_log failures;
    /* Publishing thread only: a failed produce names the frame, so its lines are
     * throttled as one cause. */
    ride_log_throttle produce_throttle;
};

/* Bookkeeping of one frame, the opaque of each of its messages. It lives while
 * the publishing call or any of its messages' delivery reports is pending: the
 * call holds CALL_REFS references until it knows how many messages were queued,
 * then keeps one for each of their reports, which may run on another thread
 * before the call learns that their message was queued. */
typedef struct frame_record {
    ride_publisher *pub;
    int32_t partition;
    atomic_int refs;
    atomic_bool delivery_failed;
    atomic_bool possibly_written; /* a failed message may be in Kafka all the same */
    _Atomic int64_t last_offset; /* the highest delivered, -1 before any */
    int queued;          /* written before the publishing call drops its references */
    uint64_t bytes;      /* likewise */
    uint64_t reserved;   /* likewise: held in the partition's share */
    bool produce_failed; /* likewise */
    ride_share_admit admission; /* publishing thread only */
} frame_record;

/* More than the most messages of a frame (RIDE_FRAME_MAX_CHUNKS). */
#define CALL_REFS (1 << 20)

static const char *const drop_reason_names[RIDE_DROP_REASON_COUNT] = {
    [RIDE_DROP_BACKPRESSURE] = "backpressure",
    [RIDE_DROP_PRODUCE_FAILED] = "produce_failed",
    [RIDE_DROP_DELIVERY_FAILED] = "delivery_failed",
    [RIDE_DROP_DELIVERY_UNKNOWN] = "delivery_unknown",
};

const char *ride_drop_reason_name(ride_drop_reason reason)
{
    return (unsigned)reason < RIDE_DROP_REASON_COUNT ? drop_reason_names[reason] : "invalid";
}

static void destroy(ride_publisher *pub)
{
    pthread_mutex_destroy(&pub->log_lock);
    for (int i = 0; pub->shares && i < pub->partitions; i++)
        ride_share_free(pub->shares[i]);
    free(pub->shares);
    free(pub->topic);
    free(pub);
}

static void unref(ride_publisher *pub)
{
    if (atomic_fetch_sub(&pub->refs, 1) == 1)
        destroy(pub);
}

/* One share per partition: this publisher is one of the partition's writers. */
static bool open_shares(ride_publisher *pub, const ride_publisher_opts *opts)
{
    pub->budget =
        opts->max_backlog_bytes ? opts->max_backlog_bytes : RIDE_PUBLISHER_DEFAULT_BACKLOG;
    uint64_t limit = ride_share_of_budget(pub->budget, opts->writers);
    pub->shares = calloc((size_t)opts->partitions, sizeof *pub->shares);
    for (int i = 0; pub->shares && i < opts->partitions; i++)
        if (!(pub->shares[i] =
                  ride_share_new(opts->backlog, i, limit, opts->strict, opts->successor)))
            return false;
    return pub->shares != NULL;
}

ride_publisher *ride_publisher_new(ride_kafka_producer *producer, const ride_publisher_opts *opts,
                                   char *err, size_t errlen)
{
    if (!producer || !opts || !opts->topic || !opts->topic[0]) {
        ride_set_error(err, errlen, "publisher: a producer and a topic are required");
        return NULL;
    }
    if (opts->partitions < 1 || opts->partitions > RIDE_KAFKA_MAX_PARTITIONS) {
        ride_set_error(err, errlen, "publisher %s: %d partitions, expected 1..%d", opts->topic,
                opts->partitions, RIDE_KAFKA_MAX_PARTITIONS);
        return NULL;
    }
    if (opts->write.max_message_bytes != 0 &&
        opts->write.max_message_bytes <= RIDE_FRAME_HEADER_LEN) {
        ride_set_error(err, errlen,
                "publisher %s: max message size %zu leaves no room after the %u-byte header",
                opts->topic, opts->write.max_message_bytes, RIDE_FRAME_HEADER_LEN);
        return NULL;
    }
    if (opts->strict && (!opts->backlog || opts->max_backlog_bytes == 0 ||
                         opts->max_backlog_bytes > RIDE_KAFKA_EMBEDDED_PARTITION_BYTES)) {
        ride_set_error(err, errlen,
                       "publisher %s: on the embedded broker, which keeps %u bytes per "
                       "partition, max_backlog_bytes must be 1..%u and the stage's backlog "
                       "known, so that no frame is deleted unread",
                       opts->topic, RIDE_KAFKA_EMBEDDED_PARTITION_BYTES,
                       RIDE_KAFKA_EMBEDDED_PARTITION_BYTES);
        return NULL;
    }
    ride_publisher *pub = calloc(1, sizeof *pub);
    if (pub) {
        pthread_mutex_init(&pub->log_lock, NULL);
        pub->partitions = opts->partitions;
    }
    if (!pub || !(pub->topic = strdup(opts->topic)) ||
        !open_shares(pub, opts)) {
        if (pub)
            destroy(pub);
        ride_set_error(err, errlen, "publisher %s: out of memory", opts->topic);
        return NULL;
    }
    pub->producer = producer;
    pub->start = ((opts->start_partition % opts->partitions) + opts->partitions) % opts->partitions;
    pub->write = opts->write;
    if (pub->write.max_message_bytes == 0)
        pub->write.max_message_bytes = RIDE_FRAME_DEFAULT_MAX_MESSAGE;
    pub->max_frame_bytes = opts->max_frame_bytes;
    pub->wait_when_full = opts->wait_when_full;
    pub->produce_timeout_ms =
        opts->produce_timeout_ms > 0 ? opts->produce_timeout_ms : DEFAULT_PRODUCE_TIMEOUT_MS;
    atomic_init(&pub->refs, 1);
    return pub;
}

void ride_publisher_free(ride_publisher *pub)
{
    if (pub)
        unref(pub);
}

/* Drops n references; the last one settles the frame: its bytes leave the
 * partition's backlog and its outcome is counted. */
static void release_record(frame_record *rec, int n)
{
    if (atomic_fetch_sub(&rec->refs, n) != n)
        return;
    ride_publisher *pub = rec->pub;
    int64_t last = atomic_load(&rec->last_offset);
    ride_share_written(pub->shares[rec->partition],
                       atomic_load(&rec->delivery_failed) ? -1 : last, rec->reserved);
    if (!rec->produce_failed) {
        if (atomic_load(&rec->delivery_failed))
            atomic_fetch_add(&pub->dropped[atomic_load(&rec->possibly_written)
                                               ? RIDE_DROP_DELIVERY_UNKNOWN
                                               : RIDE_DROP_DELIVERY_FAILED],
                             1);
        else
            atomic_fetch_add(&pub->delivered, 1);
    }
    free(rec);
    unref(pub);
}

/* Any thread: delivery reports run wherever the producer is polled. */
static void log_failure(ride_publisher *pub, ride_log_level level, const char *event,
                        int32_t partition, const char *error)
{
    char context[300];
    snprintf(context, sizeof context, "topic=%s partition=%" PRId32, pub->topic, partition);
    pthread_mutex_lock(&pub->log_lock);
    ride_failure_log_write(&pub->failures, level, event, context, error);
    pthread_mutex_unlock(&pub->log_lock);
}

static void log_produce_failure(ride_publisher *pub, int32_t partition, const char *error)
{
    uint64_t suppressed;
    if (!ride_log_throttle_pass(&pub->produce_throttle, RIDE_LOG_THROTTLE_MS, &suppressed))
        return;
    char quoted[600];
    ride_log_warn("produce_failed", "topic=%s partition=%" PRId32 " error=%s suppressed=%" PRIu64,
                  pub->topic, partition, ride_log_quote(error, quoted, sizeof quoted),
                  suppressed);
}

static void raise_last_offset(frame_record *rec, int64_t offset)
{
    int64_t cur = atomic_load(&rec->last_offset);
    while (cur < offset && !atomic_compare_exchange_weak(&rec->last_offset, &cur, offset))
        ;
}

void ride_publisher_on_delivery(void *ctx, void *opaque, const ride_kafka_delivery *d)
{
    (void)ctx;
    frame_record *rec = opaque;
    if (!rec)
        return;
    if (d->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_store(&rec->delivery_failed, true);
        if (d->possibly_written)
            atomic_store(&rec->possibly_written, true);
        log_failure(rec->pub, RIDE_LOG_WARN, "delivery_failed", d->partition,
                    d->reason ? d->reason : rd_kafka_err2str(d->err));
    } else
        raise_last_offset(rec, d->offset);
    release_record(rec, 1);
}

/* Whether a frame like the last one fits in the partition's share now. */
static bool has_room(const ride_publisher *pub, int32_t partition, uint64_t bytes)
{
    return ride_share_has_room(pub->shares[partition], bytes);
}

/* One more message of the frame is queued (ride_kafka_queued_fn). */
static void count_queued(void *opaque, size_t len)
{
    frame_record *rec = opaque;
    rec->queued++;
    rec->bytes += len;
}

/* Reserves the encoded frame's bytes in its partition's share (ride_kafka_admit_fn). */
static bool admit_frame(void *opaque, size_t messages, uint64_t bytes)
{
    frame_record *rec = opaque;
    uint64_t need = ride_share_frame_bytes(messages, bytes);
    rec->pub->last_need = need;
    rec->admission = ride_share_reserve(rec->pub->shares[rec->partition], need);
    if (rec->admission == RIDE_SHARE_ADMITTED)
        rec->reserved = need;
    return rec->admission == RIDE_SHARE_ADMITTED;
}

static void count_drop(ride_publisher *pub, ride_drop_reason reason)
{
    atomic_fetch_add(&pub->dropped[reason], 1);
    atomic_fetch_add(&pub->offered, 1);
    pub->counter++;
}

/* Waits for room for a frame like the last one while serving delivery reports. */
static bool wait_for_room(ride_publisher *pub, int32_t partition, int64_t deadline_ms)
{
    while (!has_room(pub, partition, pub->last_need)) {
        if (deadline_ms >= 0 && ride_clock_mono_ms() >= deadline_ms)
            return false;
        ride_kafka_producer_poll(pub->producer, WAIT_POLL_MS);
    }
    return true;
}

/* A frame larger than the whole share: the guarantee that nothing is deleted
 * unread cannot hold for it, so it never leaves the source. */
static void refuse_over_share(ride_publisher *pub, const ride_frame *f, int32_t partition,
                              char *err, size_t errlen)
{
    count_drop(pub, RIDE_DROP_PRODUCE_FAILED);
    uint64_t limit = ride_share_limit(pub->shares[partition]);
    ride_set_error(err, errlen,
                   "frame %" PRIu32 "/%" PRIu64 " takes %" PRIu64 " bytes, more than this "
                   "source's share of a partition (%" PRIu64 " bytes of max_backlog_bytes %" PRIu64
                   ")",
                   f->stream_id, f->seq, pub->last_need, limit, pub->budget);
    char refused[300];
    snprintf(refused, sizeof refused,
             "frames larger than this source's share of a partition (%" PRIu64
             " bytes of max_backlog_bytes %" PRIu64 ") could be deleted unread by the embedded "
             "broker",
             limit, pub->budget);
    log_failure(pub, RIDE_LOG_ERROR, "frame_refused", partition, refused);
}

/* Produces the frame when its share admits it; RIDE_PUBLISH_FULL (nothing
 * counted) when it has no room now. */
static ride_publish_result produce(ride_publisher *pub, const ride_frame *f, int32_t partition,
                                   char *err, size_t errlen)
{
    frame_record *rec = calloc(1, sizeof *rec);
    if (!rec) {
        count_drop(pub, RIDE_DROP_PRODUCE_FAILED);
        ride_set_error(err, errlen, "%s[%" PRId32 "]: out of memory", pub->topic, partition);
        return RIDE_PUBLISH_DROPPED;
    }
    rec->pub = pub;
    rec->partition = partition;
    atomic_init(&rec->refs, CALL_REFS);
    atomic_init(&rec->delivery_failed, false);
    atomic_init(&rec->possibly_written, false);
    atomic_init(&rec->last_offset, -1);
    atomic_fetch_add(&pub->refs, 1);

    int rc = ride_kafka_produce_frame_admitted(pub->producer, pub->topic, partition, f,
                                               &pub->write, rec, count_queued, admit_frame,
                                               pub->produce_timeout_ms, err, errlen);
    ride_publish_result result = RIDE_PUBLISH_QUEUED;
    if (rc == 1) {
        rec->produce_failed = true;
        result = RIDE_PUBLISH_FULL;
        if (rec->admission == RIDE_SHARE_NEVER) {
            refuse_over_share(pub, f, partition, err, errlen);
            result = RIDE_PUBLISH_DROPPED;
        }
    } else if (rc != 0) {
        /* Messages already queued still get reports; receivers reject the
         * incomplete frame, and it is counted here once. */
        rec->produce_failed = true;
        count_drop(pub, RIDE_DROP_PRODUCE_FAILED);
        log_produce_failure(pub, partition, err);
        result = RIDE_PUBLISH_DROPPED;
    } else {
        atomic_fetch_add(&pub->bytes, rec->bytes);
        atomic_fetch_add(&pub->produced, 1);
        atomic_fetch_add(&pub->produced_messages, (uint64_t)rec->queued);
        atomic_fetch_add(&pub->offered, 1);
        pub->counter++;
    }
    /* What was reserved for messages never queued is free again. */
    uint64_t queued = ride_share_frame_bytes((size_t)rec->queued, rec->bytes);
    if (rec->reserved > queued) {
        ride_share_unreserve(pub->shares[partition], rec->reserved - queued);
        rec->reserved = queued;
    }
    release_record(rec, CALL_REFS - rec->queued);
    return result;
}

/* A frame whose pixels are above max_frame_bytes is refused: receivers with the
 * same limit would reject it after it crossed Kafka. */
static bool fits_receivers(ride_publisher *pub, const ride_frame *f, int32_t partition,
                           char *err, size_t errlen)
{
    const ride_image *img = &f->image;
    uint64_t bytes = (uint64_t)ride_image_row_bytes(img->format, img->width) * img->height;
    if (pub->max_frame_bytes == 0 || bytes <= pub->max_frame_bytes)
        return true;
    count_drop(pub, RIDE_DROP_PRODUCE_FAILED);
    ride_set_error(err, errlen,
                   "frame %" PRIu32 "/%" PRIu64 " of %ux%u is %" PRIu64
                   " bytes, above max_frame_bytes %zu",
                   f->stream_id, f->seq, img->width, img->height, bytes, pub->max_frame_bytes);
    char refused[300];
    snprintf(refused, sizeof refused,
             "%ux%u %s frames of %" PRIu64 " bytes are above max_frame_bytes %zu", img->width,
             img->height, ride_pixel_format_name(img->format), bytes,
             pub->max_frame_bytes);
    log_failure(pub, RIDE_LOG_ERROR, "frame_refused", partition, refused);
    return false;
}

ride_publish_result ride_publisher_publish(ride_publisher *pub, const ride_frame *f,
                                           int max_wait_ms, char *err, size_t errlen)
{
    if (!pub || !f) {
        ride_set_error(err, errlen, "publisher: no publisher or frame");
        return RIDE_PUBLISH_DROPPED;
    }
    int32_t partition = ride_publisher_next_partition(pub);
    if (!fits_receivers(pub, f, partition, err, errlen))
        return RIDE_PUBLISH_DROPPED;
    int64_t deadline = max_wait_ms >= 0 ? ride_clock_mono_ms() + max_wait_ms : -1;
    for (;;) {
        /* A frame like the last that would not fit is not encoded in vain; one
         * larger than the share goes on to be refused. */
        bool may_fit = pub->last_need > ride_share_limit(pub->shares[partition]) ||
                       has_room(pub, partition, pub->last_need);
        ride_publish_result r =
            may_fit ? produce(pub, f, partition, err, errlen) : RIDE_PUBLISH_FULL;
        if (r != RIDE_PUBLISH_FULL)
            return r;
        if (!pub->wait_when_full) {
            count_drop(pub, RIDE_DROP_BACKPRESSURE);
            ride_set_error(err, errlen,
                           "%s[%" PRId32 "]: frame %" PRIu32 "/%" PRIu64
                           " dropped: backlog over this source's share of %" PRIu64 " bytes",
                           pub->topic, partition, f->stream_id, f->seq, pub->budget);
            return RIDE_PUBLISH_DROPPED;
        }
        if (!wait_for_room(pub, partition, deadline)) {
            ride_set_error(err, errlen, "%s[%" PRId32 "]: no room within %d ms", pub->topic,
                           partition, max_wait_ms);
            return RIDE_PUBLISH_FULL;
        }
    }
}

void ride_publisher_stats_get(const ride_publisher *pub, ride_publisher_stats *out)
{
    ride_publisher *p = (ride_publisher *)pub;
    out->offered = atomic_load(&p->offered);
    out->produced = atomic_load(&p->produced);
    out->delivered = atomic_load(&p->delivered);
    out->messages = atomic_load(&p->produced_messages);
    out->bytes = atomic_load(&p->bytes);
    for (int i = 0; i < RIDE_DROP_REASON_COUNT; i++)
        out->dropped[i] = atomic_load(&p->dropped[i]);
}

uint64_t ride_publisher_in_flight(const ride_publisher *pub, int32_t partition)
{
    if (partition < 0 || partition >= pub->partitions)
        return 0;
    return ride_share_used(pub->shares[partition]);
}

int32_t ride_publisher_next_partition(const ride_publisher *pub)
{
    return (int32_t)((pub->start + pub->counter) % (uint64_t)pub->partitions);
}
