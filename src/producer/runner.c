/* runner.c - the shared Kafka producer and the per-source threads (runner.h). */
#include "runner.h"
#include "kafka/backlog.h"
#include "kafka/message_size.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"

/* Longest a thread blocks in one read, publish or poll call, so that a stop
 * request is seen promptly. */
#define STEP_MS 100
#define FLUSH_POLL_MS 10
/* Bound on asking the brokers a topic's message size limit. */
#define LIMIT_TIMEOUT_MS 10000
#define BACKLOG_READY_MS 2000
#define BACKLOG_POLL_NS (5 * INT64_C(1000000))
#define DEFAULT_STATS_INTERVAL_MS 10000

/* ---- the shared Kafka producer ---- */

struct ride_frame_sink {
    ride_kafka_producer *kafka;
    pthread_t poller;
    atomic_bool stop_poll;
    bool polling;
};

rd_kafka_conf_t *ride_frame_sink_conf(const char *bootstrap, bool embedded, const ride_kv *props,
                                      size_t count, const char *file, size_t max_message,
                                      char *err, size_t errlen)
{
    ride_parse_error perr;
    rd_kafka_conf_t *conf =
        ride_kafka_conf_new(RIDE_KAFKA_PRODUCER, bootstrap, embedded, props, count, file, &perr);
    if (!conf) {
        char buf[1024];
        ride_set_error(err, errlen, "%s", ride_parse_error_format(&perr, buf, sizeof buf));
        return NULL;
    }
    if (ride_kafka_conf_fit_messages(conf, props, count, max_message, 0, err, errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

/* A dedicated thread serves the reports, so that a source thread never stalls on
 * the reports of other sources and a paused source still gets its own. */
static void *serve_deliveries(void *arg)
{
    ride_frame_sink *s = arg;
    while (!atomic_load(&s->stop_poll))
        ride_kafka_producer_poll(s->kafka, STEP_MS);
    return NULL;
}

ride_frame_sink *ride_frame_sink_new(rd_kafka_conf_t *conf, char *err, size_t errlen)
{
    ride_frame_sink *s = calloc(1, sizeof *s);
    if (!s) {
        rd_kafka_conf_destroy(conf);
        ride_set_error(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&s->stop_poll, false);
    s->kafka = ride_kafka_producer_new(conf, ride_publisher_on_delivery, NULL, err, errlen);
    if (!s->kafka) {
        free(s);
        return NULL;
    }
    if (pthread_create(&s->poller, NULL, serve_deliveries, s) != 0) {
        ride_kafka_producer_free(s->kafka);
        free(s);
        ride_set_error(err, errlen, "cannot start the delivery thread");
        return NULL;
    }
    s->polling = true;
    return s;
}

ride_kafka_producer *ride_frame_sink_producer(ride_frame_sink *s)
{
    return s->kafka;
}

static void stop_polling(ride_frame_sink *s)
{
    if (!s->polling)
        return;
    atomic_store(&s->stop_poll, true);
    pthread_join(s->poller, NULL);
    s->polling = false;
}

int ride_frame_sink_flush(ride_frame_sink *s, int deadline_ms, ride_frame_sink_wait_fn wait,
                          void *ctx)
{
    int64_t deadline = ride_clock_mono_ms() + deadline_ms;
    while (ride_kafka_producer_outstanding(s->kafka) > 0 && ride_clock_mono_ms() < deadline) {
        if (wait)
            wait(ctx, FLUSH_POLL_MS);
        else
            ride_clock_sleep_until_ns(ride_clock_mono_ns() + FLUSH_POLL_MS * INT64_C(1000000));
    }
    stop_polling(s);
    int left = ride_kafka_producer_outstanding(s->kafka);
    if (left > 0) {
        ride_log_error("flush_incomplete", "undelivered_messages=%d deadline_ms=%d", left,
                       deadline_ms);
        rd_kafka_purge(ride_kafka_producer_handle(s->kafka),
                       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    }
    /* Serves the reports of anything purged, so that the publishers count it. */
    char err[256];
    ride_kafka_producer_flush(s->kafka, STEP_MS, err, sizeof err);
    return left;
}

void ride_frame_sink_free(ride_frame_sink *s)
{
    if (!s)
        return;
    stop_polling(s);
    ride_kafka_producer_free(s->kafka);
    free(s);
}

/* ---- one source ---- */

struct ride_source_runner {
    char *name;
    uint32_t stream_id;
    int partitions;
    uint64_t frame_limit;
    int64_t stats_interval_ms;
    ride_source_reader *reader;
    ride_publisher *publisher;
    ride_backlog *backlog; /* NULL: only bytes in flight count */
    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_bool running;
    bool failed; /* written by the thread before it ends */
};

static bool open_backlog(ride_source_runner *r, const ride_source_runner_opts *o, char *err,
                         size_t errlen)
{
    if (!o->backlog_conf)
        return true;
    ride_backlog_opts bo = {o->topic, o->group, o->partitions, o->backlog_refresh_ms,
                            o->backlog_conf};
    r->backlog = ride_backlog_new(&bo, err, errlen);
    return r->backlog != NULL;
}

/* The message size to write to the topic: the configured one, lowered to what
 * its brokers take; false when the producer's batches could be larger than that. */
static bool fit_topic(ride_frame_sink *sink, const ride_source_runner_opts *o, size_t *message,
                      int64_t *limit, char *err, size_t errlen)
{
    rd_kafka_t *rk = ride_kafka_producer_handle(ride_frame_sink_producer(sink));
    size_t configured = o->max_message ? o->max_message : RIDE_FRAME_DEFAULT_MAX_MESSAGE;
    *message = ride_kafka_message_size(rk, o->topic, configured, LIMIT_TIMEOUT_MS, limit);
    return ride_kafka_check_batch(rk, o->topic, *limit, err, errlen) == 0;
}

ride_source_runner *ride_source_runner_open(ride_frame_sink *sink,
                                            const ride_source_runner_opts *o, char *err,
                                            size_t errlen)
{
    size_t message;
    int64_t limit;
    if (!fit_topic(sink, o, &message, &limit, err, errlen)) {
        if (o->backlog_conf)
            rd_kafka_conf_destroy(o->backlog_conf);
        return NULL;
    }
    ride_source_runner *r = calloc(1, sizeof *r);
    if (!r || !(r->name = strdup(o->src->name))) {
        free(r);
        if (o->backlog_conf)
            rd_kafka_conf_destroy(o->backlog_conf);
        ride_set_error(err, errlen, "out of memory");
        return NULL;
    }
    r->stream_id = o->stream_id;
    r->partitions = o->partitions;
    r->frame_limit = o->frame_limit;
    r->stats_interval_ms =
        o->stats_interval_ms > 0 ? o->stats_interval_ms : DEFAULT_STATS_INTERVAL_MS;
    atomic_init(&r->stop, false);
    atomic_init(&r->running, false);
    ride_source_reader_opts ro = {.stream_id = o->stream_id};
    if (!open_backlog(r, o, err, errlen)) {
        ride_source_runner_free(r);
        return NULL;
    }
    r->reader = ride_source_reader_open(o->src, &ro, err, errlen);
    const ride_source *src = o->src;
    ride_publisher_opts po = {
        .topic = o->topic,
        .partitions = o->partitions,
        .start_partition = o->partitions > 0 ? (int)(o->stream_id % (uint32_t)o->partitions) : 0,
        .write = {src->encoding, src->encoding == RIDE_ENC_JPEG ? src->quality : -1, message},
        .max_frame_bytes = (size_t)o->max_frame,
        .max_backlog_bytes = o->max_backlog ? (size_t)o->max_backlog : SIZE_MAX,
        .writers = o->writers,
        .strict = o->strict,
        .successor = o->successor,
        .wait_when_full = src->pace == RIDE_PACE_MAX,
        .backlog = r->backlog,
    };
    if (r->reader)
        r->publisher = ride_publisher_new(ride_frame_sink_producer(sink), &po, err, errlen);
    if (!r->publisher) {
        ride_source_runner_free(r);
        return NULL;
    }
    char quoted[RIDE_PATH_MAX + 8];
    ride_log_info("source_start",
                  "source=%s stream=%" PRIu32 " kind=%s fps=%g message_bytes=%zu"
                  " topic_message_limit=%" PRId64 " max_frame_bytes=%" PRIu64 " uri=%s",
                  r->name, r->stream_id, ride_source_kind_name(src->target.kind),
                  ride_source_reader_fps(r->reader), message, limit, o->max_frame,
                  ride_log_quote(src->uri, quoted, sizeof quoted));
    return r;
}

static void log_source_stats(const ride_source_runner *r, const ride_source_reader_stats *rs,
                             uint64_t frames_before, int64_t elapsed_ns)
{
    ride_publisher_stats ps;
    ride_publisher_stats_get(r->publisher, &ps);
    uint64_t in_flight = 0;
    for (int32_t p = 0; p < r->partitions; p++)
        in_flight += ride_publisher_in_flight(r->publisher, p);
    double fps = elapsed_ns > 0 ? (double)(rs->frames - frames_before) * 1e9 / (double)elapsed_ns
                                : 0.0;
    ride_log_info("source_stats",
                  "source=%s stream=%" PRIu32 " frames=%" PRIu64 " fps=%.2f produced=%" PRIu64
                  " delivered=%" PRIu64 " dropped_backpressure=%" PRIu64
                  " dropped_produce_failed=%" PRIu64 " dropped_delivery_failed=%" PRIu64
                  " dropped_delivery_unknown=%" PRIu64
                  " in_flight_bytes=%" PRIu64 " late=%" PRIu64 " connected=%d reconnects=%" PRIu64,
                  r->name, r->stream_id, rs->frames, fps, ps.produced, ps.delivered,
                  ps.dropped[RIDE_DROP_BACKPRESSURE], ps.dropped[RIDE_DROP_PRODUCE_FAILED],
                  ps.dropped[RIDE_DROP_DELIVERY_FAILED], ps.dropped[RIDE_DROP_DELIVERY_UNKNOWN], in_flight, rs->late, rs->connected,
                  rs->reconnects);
}

/* Live sources: one line when a stream opens and one per failed attempt or
 * broken stream (the reader retries on its own with backoff). */
static void log_connection(const ride_source_runner *r, const ride_source_reader_stats *rs,
                           int *was_connected, ride_source_read rc, const char *err)
{
    char quoted[600];
    if (rs->connected && !*was_connected)
        ride_log_info("source_connected",
                      "source=%s stream=%" PRIu32 " reconnects=%" PRIu64 " disconnects=%" PRIu64,
                      r->name, r->stream_id, rs->reconnects, rs->disconnects);
    else if (rc == RIDE_SOURCE_AGAIN && err[0])
        ride_log_warn("source_unavailable",
                      "source=%s stream=%" PRIu32 " connect_failures=%" PRIu64
                      " disconnects=%" PRIu64 " retry_in_ms=%" PRId64 " reason=%s",
                      r->name, r->stream_id, rs->connect_failures, rs->disconnects,
                      rs->last_backoff_ms, ride_log_quote(err, quoted, sizeof quoted));
    *was_connected = rs->connected;
}

/* Offers the frame; a file source that waits for room (pace max) keeps offering
 * it until there is room or the runner stops. */
static void publish_frame(ride_source_runner *r, const ride_frame *f)
{
    char err[512] = "";
    for (;;) {
        ride_publish_result res = ride_publisher_publish(r->publisher, f, STEP_MS, err, sizeof err);
        if (res == RIDE_PUBLISH_DROPPED) {
            char quoted[600];
            ride_log_debug("frame_dropped", "source=%s stream=%" PRIu32 " seq=%" PRIu64 " reason=%s",
                           r->name, r->stream_id, f->seq,
                           ride_log_quote(err, quoted, sizeof quoted));
        }
        if (res != RIDE_PUBLISH_FULL || atomic_load(&r->stop))
            return;
    }
}

static bool keeps_reading(ride_source_runner *r, const ride_source_reader_stats *rs)
{
    return !atomic_load(&r->stop) && (r->frame_limit == 0 || rs->frames < r->frame_limit);
}

/* Waits (up to BACKLOG_READY_MS, or a stop) for the stage's first figures: until
 * two refreshes are in, a strict share admits nothing, and a live source would
 * drop its first frames for that alone. */
static void wait_for_backlog(ride_source_runner *r)
{
    int64_t deadline = ride_clock_mono_ms() + BACKLOG_READY_MS;
    int64_t end, consumed;
    uint64_t refreshes = 0;
    while (r->backlog && !atomic_load(&r->stop) && ride_clock_mono_ms() < deadline &&
           ride_backlog_figures(r->backlog, 0, &end, &consumed, &refreshes) && refreshes < 2)
        ride_clock_sleep_until_ns(ride_clock_mono_ns() + BACKLOG_POLL_NS);
}

static void *run_source(void *arg)
{
    ride_source_runner *r = arg;
    wait_for_backlog(r);
    ride_frame frame = {0};
    ride_source_reader_stats rs = {0};
    int connected = 0;
    int64_t stats_ns = r->stats_interval_ms * 1000000;
    int64_t stats_at = ride_clock_mono_ns();
    uint64_t frames_at_stats = 0;
    char err[512], quoted[600];
    while (keeps_reading(r, &rs)) {
        err[0] = '\0';
        ride_source_read rc = ride_source_reader_next(r->reader, &frame, STEP_MS, err, sizeof err);
        ride_source_reader_stats_get(r->reader, &rs);
        log_connection(r, &rs, &connected, rc, err);
        if (rc == RIDE_SOURCE_ERROR) {
            ride_log_error("source_failed", "source=%s stream=%" PRIu32 " reason=%s", r->name,
                           r->stream_id, ride_log_quote(err, quoted, sizeof quoted));
            r->failed = true;
            break;
        }
        if (rc == RIDE_SOURCE_EOF) {
            ride_log_info("source_ended", "source=%s stream=%" PRIu32 " frames=%" PRIu64, r->name,
                          r->stream_id, rs.frames);
            break;
        }
        if (rc == RIDE_SOURCE_FRAME)
            publish_frame(r, &frame);
        int64_t now = ride_clock_mono_ns();
        if (now - stats_at >= stats_ns) {
            log_source_stats(r, &rs, frames_at_stats, now - stats_at);
            stats_at = now;
            frames_at_stats = rs.frames;
        }
    }
    ride_frame_free(&frame);
    atomic_store(&r->running, false);
    return NULL;
}

bool ride_source_runner_start(ride_source_runner *r)
{
    atomic_store(&r->running, true);
    if (pthread_create(&r->thread, NULL, run_source, r) != 0) {
        atomic_store(&r->running, false);
        ride_log_error("source_thread_failed", "source=%s stream=%" PRIu32, r->name,
                       r->stream_id);
        return false;
    }
    r->started = true;
    return true;
}

void ride_source_runner_request_stop(ride_source_runner *r)
{
    atomic_store(&r->stop, true);
}

void ride_source_runner_join(ride_source_runner *r)
{
    if (!r->started)
        return;
    pthread_join(r->thread, NULL);
    r->started = false;
}

bool ride_source_runner_running(const ride_source_runner *r)
{
    return atomic_load(&((ride_source_runner *)r)->running);
}

bool ride_source_runner_failed(const ride_source_runner *r)
{
    return r->failed;
}

void ride_source_runner_free(ride_source_runner *r)
{
    if (!r)
        return;
    ride_source_runner_request_stop(r);
    ride_source_runner_join(r);
    ride_publisher_free(r->publisher);
    ride_backlog_free(r->backlog);
    ride_source_reader_close(r->reader);
    free(r->name);
    free(r);
}

const char *ride_source_runner_name(const ride_source_runner *r)
{
    return r->name;
}

uint32_t ride_source_runner_stream(const ride_source_runner *r)
{
    return r->stream_id;
}

void ride_source_runner_counts(const ride_source_runner *r, ride_publisher_stats *out)
{
    ride_publisher_stats_get(r->publisher, out);
}

static void add_totals(ride_source_totals *t, const ride_source_reader_stats *rs,
                       const ride_publisher_stats *ps)
{
    t->sources++;
    t->frames += rs->frames;
    t->pub.offered += ps->offered;
    t->pub.produced += ps->produced;
    t->pub.delivered += ps->delivered;
    t->pub.bytes += ps->bytes;
    t->pub.messages += ps->messages;
    for (int i = 0; i < RIDE_DROP_REASON_COUNT; i++)
        t->pub.dropped[i] += ps->dropped[i];
}

void ride_source_runner_log_summary(const ride_source_runner *r, ride_source_totals *totals)
{
    ride_source_reader_stats rs;
    ride_publisher_stats ps;
    ride_source_reader_stats_get(r->reader, &rs);
    ride_publisher_stats_get(r->publisher, &ps);
    ride_log_info("source_summary",
                  "source=%s stream=%" PRIu32 " frames=%" PRIu64 " offered=%" PRIu64
                  " produced=%" PRIu64 " delivered=%" PRIu64 " dropped_backpressure=%" PRIu64
                  " dropped_produce_failed=%" PRIu64 " dropped_delivery_failed=%" PRIu64
                  " dropped_delivery_unknown=%" PRIu64
                  " late=%" PRIu64 " failed=%s",
                  r->name, r->stream_id, rs.frames, ps.offered, ps.produced, ps.delivered,
                  ps.dropped[RIDE_DROP_BACKPRESSURE], ps.dropped[RIDE_DROP_PRODUCE_FAILED],
                  ps.dropped[RIDE_DROP_DELIVERY_FAILED], ps.dropped[RIDE_DROP_DELIVERY_UNKNOWN], rs.late, r->failed ? "true" : "false");
    if (totals)
        add_totals(totals, &rs, &ps);
}

void ride_source_totals_log(const ride_source_totals *t, int exit_code)
{
    ride_log_info("summary",
                  "sources=%zu frames=%" PRIu64 " offered=%" PRIu64 " produced=%" PRIu64
                  " delivered=%" PRIu64 " bytes=%" PRIu64 " dropped_backpressure=%" PRIu64
                  " dropped_produce_failed=%" PRIu64 " dropped_delivery_failed=%" PRIu64
                  " dropped_delivery_unknown=%" PRIu64
                  " exit_code=%d",
                  t->sources, t->frames, t->pub.offered, t->pub.produced, t->pub.delivered,
                  t->pub.bytes, t->pub.dropped[RIDE_DROP_BACKPRESSURE],
                  t->pub.dropped[RIDE_DROP_PRODUCE_FAILED],
                  t->pub.dropped[RIDE_DROP_DELIVERY_FAILED],
                  t->pub.dropped[RIDE_DROP_DELIVERY_UNKNOWN], exit_code);
}
