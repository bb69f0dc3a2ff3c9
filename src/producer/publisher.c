/* publisher.c - round-robin frame publishing with backpressure (publisher.h). */
#include "publisher.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/failure_log.h"

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
    ride_publisher_lag_fn lag;
    void *lag_ctx;

    /* Publishing thread only. */
    uint64_t messages;
    uint64_t message_bytes;
    uint64_t last_frame_bytes;

    /* Shared with the thread that serves delivery reports. */
    atomic_int refs; /* the owner plus one per frame in flight */
    _Atomic uint64_t *in_flight;
    _Atomic int64_t *acked_end; /* per partition: last acknowledged offset + 1 */
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
    int queued;          /* written before the publishing call drops its references */
    uint64_t bytes;      /* likewise */
    bool produce_failed; /* likewise */
} frame_record;

/* More than the most messages of a frame (RIDE_FRAME_MAX_CHUNKS). */
#define CALL_REFS (1 << 20)

static const char *const drop_reason_names[RIDE_DROP_REASON_COUNT] = {
    [RIDE_DROP_BACKPRESSURE] = "backpressure",
    [RIDE_DROP_PRODUCE_FAILED] = "produce_failed",
    [RIDE_DROP_DELIVERY_FAILED] = "delivery_failed",
};

const char *ride_drop_reason_name(ride_drop_reason reason)
{
    return (unsigned)reason < RIDE_DROP_REASON_COUNT ? drop_reason_names[reason] : "invalid";
}

static void destroy(ride_publisher *pub)
{
    pthread_mutex_destroy(&pub->log_lock);
    free(pub->in_flight);
    free(pub->acked_end);
    free(pub->topic);
    free(pub);
}

static void unref(ride_publisher *pub)
{
    if (atomic_fetch_sub(&pub->refs, 1) == 1)
        destroy(pub);
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
    ride_publisher *pub = calloc(1, sizeof *pub);
    if (pub)
        pthread_mutex_init(&pub->log_lock, NULL);
    if (!pub || !(pub->topic = strdup(opts->topic)) ||
        !(pub->in_flight = calloc((size_t)opts->partitions, sizeof *pub->in_flight)) ||
        !(pub->acked_end = calloc((size_t)opts->partitions, sizeof *pub->acked_end))) {
        if (pub)
            destroy(pub);
        ride_set_error(err, errlen, "publisher %s: out of memory", opts->topic);
        return NULL;
    }
    pub->producer = producer;
    pub->partitions = opts->partitions;
    pub->start = ((opts->start_partition % opts->partitions) + opts->partitions) % opts->partitions;
    pub->write = opts->write;
    if (pub->write.max_message_bytes == 0)
        pub->write.max_message_bytes = RIDE_FRAME_DEFAULT_MAX_MESSAGE;
    pub->max_frame_bytes = opts->max_frame_bytes;
    pub->budget =
        opts->max_backlog_bytes ? opts->max_backlog_bytes : RIDE_PUBLISHER_DEFAULT_BACKLOG;
    pub->wait_when_full = opts->wait_when_full;
    pub->produce_timeout_ms =
        opts->produce_timeout_ms > 0 ? opts->produce_timeout_ms : DEFAULT_PRODUCE_TIMEOUT_MS;
    pub->lag = opts->lag;
    pub->lag_ctx = opts->lag_ctx;
    for (int i = 0; i < opts->partitions; i++)
        atomic_init(&pub->acked_end[i], -1);
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
    atomic_fetch_sub(&pub->in_flight[rec->partition], rec->bytes);
    if (!rec->produce_failed) {
        if (atomic_load(&rec->delivery_failed))
            atomic_fetch_add(&pub->dropped[RIDE_DROP_DELIVERY_FAILED], 1);
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

static void raise_acked_end(ride_publisher *pub, int32_t partition, int64_t end)
{
    _Atomic int64_t *v = &pub->acked_end[partition];
    int64_t cur = atomic_load(v);
    while (cur < end && !atomic_compare_exchange_weak(v, &cur, end))
        ;
}

void ride_publisher_on_delivery(void *ctx, void *opaque, rd_kafka_resp_err_t err,
                                const char *reason, const char *topic, int32_t partition,
                                int64_t offset)
{
    (void)ctx;
    (void)topic;
    frame_record *rec = opaque;
    if (!rec)
        return;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_store(&rec->delivery_failed, true);
        log_failure(rec->pub, RIDE_LOG_WARN, "delivery_failed", partition,
                    reason ? reason : rd_kafka_err2str(err));
    } else
        raise_acked_end(rec->pub, rec->partition, offset + 1);
    release_record(rec, 1);
}

/* The partition's backlog in bytes (see publisher.h). */
static uint64_t backlog(const ride_publisher *pub, int32_t partition)
{
    uint64_t bytes = atomic_load(&pub->in_flight[partition]);
    if (pub->lag && pub->messages > 0) {
        int64_t lag =
            pub->lag(pub->lag_ctx, partition, atomic_load(&pub->acked_end[partition]));
        if (lag > 0)
            bytes += (uint64_t)lag * (pub->message_bytes / pub->messages);
    }
    return bytes;
}

static bool has_room(const ride_publisher *pub, int32_t partition)
{
    uint64_t b = backlog(pub, partition);
    return b == 0 || b + pub->last_frame_bytes <= pub->budget;
}

/* One more message of the frame is queued (ride_kafka_queued_fn). */
static void count_queued(void *opaque, size_t len)
{
    frame_record *rec = opaque;
    ride_publisher *pub = rec->pub;
    rec->queued++;
    rec->bytes += len;
    atomic_fetch_add(&pub->in_flight[rec->partition], len);
    pub->messages++;
    pub->message_bytes += len;
}

static void count_drop(ride_publisher *pub, ride_drop_reason reason)
{
    atomic_fetch_add(&pub->dropped[reason], 1);
    atomic_fetch_add(&pub->offered, 1);
    pub->counter++;
}

/* Waits for room in the partition while serving delivery reports. */
static bool wait_for_room(ride_publisher *pub, int32_t partition, int max_wait_ms)
{
    int64_t deadline = ride_clock_mono_ms() + max_wait_ms;
    while (!has_room(pub, partition)) {
        if (max_wait_ms >= 0 && ride_clock_mono_ms() >= deadline)
            return false;
        ride_kafka_producer_poll(pub->producer, WAIT_POLL_MS);
    }
    return true;
}

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
    atomic_fetch_add(&pub->refs, 1);

    int rc = ride_kafka_produce_frame(pub->producer, pub->topic, partition, f, &pub->write, rec,
                                      count_queued, pub->produce_timeout_ms, err, errlen);
    ride_publish_result result = RIDE_PUBLISH_QUEUED;
    if (rc != 0) {
        /* Messages already queued still get reports; receivers reject the
         * incomplete frame, and it is counted here once. */
        rec->produce_failed = true;
        count_drop(pub, RIDE_DROP_PRODUCE_FAILED);
        log_produce_failure(pub, partition, err);
        result = RIDE_PUBLISH_DROPPED;
    } else {
        pub->last_frame_bytes = rec->bytes;
        atomic_fetch_add(&pub->bytes, rec->bytes);
        atomic_fetch_add(&pub->produced, 1);
        atomic_fetch_add(&pub->produced_messages, (uint64_t)rec->queued);
        atomic_fetch_add(&pub->offered, 1);
        pub->counter++;
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
    if (!has_room(pub, partition)) {
        if (!pub->wait_when_full) {
            count_drop(pub, RIDE_DROP_BACKPRESSURE);
            ride_set_error(err, errlen,
                    "%s[%" PRId32 "]: frame %" PRIu32 "/%" PRIu64
                    " dropped: backlog over %" PRIu64 " bytes",
                    pub->topic, partition, f->stream_id, f->seq, pub->budget);
            return RIDE_PUBLISH_DROPPED;
        }
        if (!wait_for_room(pub, partition, max_wait_ms)) {
            ride_set_error(err, errlen, "%s[%" PRId32 "]: no room within %d ms", pub->topic, partition,
                    max_wait_ms);
            return RIDE_PUBLISH_FULL;
        }
    }
    return produce(pub, f, partition, err, errlen);
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
    return atomic_load(&((ride_publisher *)pub)->in_flight[partition]);
}

int32_t ride_publisher_next_partition(const ride_publisher *pub)
{
    return (int32_t)((pub->start + pub->counter) % (uint64_t)pub->partitions);
}
