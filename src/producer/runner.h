/* runner.h - what both modes of ride-producer run (docs/producer.md): the
 * shared Kafka producer with the thread that serves its delivery reports
 * (ride_frame_sink), and one thread per source that reads frames and publishes
 * them (ride_source_runner). Command-line mode and cluster mode differ only in
 * where the sources and their settings come from.
 *
 * Threads: a runner's thread is the only one touching its reader while it runs;
 * its publisher's counters are atomic, so ride_source_runner_counts() may be
 * called from any thread at any time. Everything else is for the one thread that
 * owns the runner. */
#ifndef RIDE_PRODUCER_RUNNER_H
#define RIDE_PRODUCER_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "publisher.h"
#include "source.h"
#include "kafka/kafka.h"
#include "spec/config.h"
#include "spec/manifest.h"

/* ---- the shared Kafka producer ---- */

/* A producer configuration: RIDE's producer defaults (those for the embedded
 * broker when embedded), bootstrap (when not NULL), then props in order. A frame message larger than Kafka's default also raises the
 * client's message.max.bytes, unless props set it. NULL with the reason in err. */
rd_kafka_conf_t *ride_frame_sink_conf(const char *bootstrap, bool embedded, const ride_kv *props,
                                      size_t count, const char *file, size_t max_message,
                                      char *err, size_t errlen);

typedef struct ride_frame_sink ride_frame_sink;

/* Creates the producer from conf (taken over, also on failure) with
 * ride_publisher_on_delivery as its delivery callback, and starts the thread that
 * serves its reports. NULL with the reason in err. */
ride_frame_sink *ride_frame_sink_new(rd_kafka_conf_t *conf, char *err, size_t errlen);
ride_kafka_producer *ride_frame_sink_producer(ride_frame_sink *s);

/* Called while a flush waits, every few milliseconds (command-line mode takes a
 * second signal there). */
typedef void (*ride_frame_sink_wait_fn)(void *ctx, int ms);

/* Waits up to deadline_ms for every queued message's delivery report; what is
 * left then is purged and reported failed (so the publishers count it as
 * dropped, reason delivery_failed). Stops the report thread. Returns the number of
 * messages purged (0: everything was delivered or failed on its own). wait may be
 * NULL (then it sleeps). Call once, after every runner using it has stopped. */
int ride_frame_sink_flush(ride_frame_sink *s, int deadline_ms, ride_frame_sink_wait_fn wait,
                          void *ctx);
/* Frees the producer (flushing first when ride_frame_sink_flush was not called).
 * Free the publishers first. NULL is a no-op. */
void ride_frame_sink_free(ride_frame_sink *s);

/* ---- one source ---- */

typedef struct ride_source_runner_opts {
    const ride_source *src;  /* name, uri, target, fps, encoding, quality, loop, pace */
    uint32_t stream_id;
    const char *topic;
    int partitions;          /* the first frame goes to partition stream_id mod partitions */
    /* Largest Kafka message (0: RIDE_FRAME_DEFAULT_MAX_MESSAGE), lowered to what
     * the topic's brokers take (kafka/message_size.h). */
    size_t max_message;
    uint64_t max_frame;      /* largest frame's pixels (larger ones are refused); 0: none */
    uint64_t max_backlog;    /* per partition; 0: unbounded */
    /* With both, the backlog also counts what the stage's group has not read
     * (kafka/backlog.h), not only what Kafka has not acknowledged yet. The
     * configuration is a consumer's, taken over (also on failure). */
    rd_kafka_conf_t *backlog_conf;
    const char *group;
    int backlog_refresh_ms; /* 0: RIDE_BACKLOG_DEFAULT_REFRESH_MS */
    int writers;             /* of each partition of topic, this source included; 0: 1 */
    bool strict;             /* a hard budget (the embedded broker; publisher.h) */
    bool successor;          /* another producer ran the source before */
    uint64_t frame_limit;    /* stop after this many frames; 0: none */
    int64_t stats_interval_ms;
} ride_source_runner_opts;

typedef struct ride_source_runner ride_source_runner;

/* Opens the source's reader and publisher (copying what it needs from opts);
 * nothing is read before ride_source_runner_start. Asks the brokers the topic's
 * message size limit first (once per topic and process), and refuses a producer
 * whose batch.size is above it. The sink must outlive the
 * runner. NULL with the reason in err. */
ride_source_runner *ride_source_runner_open(ride_frame_sink *sink,
                                            const ride_source_runner_opts *opts, char *err,
                                            size_t errlen);
/* Starts the thread; false when it cannot be created. */
bool ride_source_runner_start(ride_source_runner *r);
/* Asks the thread to stop: it publishes at most the frame it holds. */
void ride_source_runner_request_stop(ride_source_runner *r);
/* Waits for the thread (a no-op when it never started or was joined already). */
void ride_source_runner_join(ride_source_runner *r);
/* True while the thread reads and publishes. */
bool ride_source_runner_running(const ride_source_runner *r);
/* True when the source failed for good (a file that cannot be read). */
bool ride_source_runner_failed(const ride_source_runner *r);
/* Stops and joins first when running. NULL is a no-op. */
void ride_source_runner_free(ride_source_runner *r);

const char *ride_source_runner_name(const ride_source_runner *r);
uint32_t ride_source_runner_stream(const ride_source_runner *r);
/* The publisher's counters (any thread). */
void ride_source_runner_counts(const ride_source_runner *r, ride_publisher_stats *out);
/* Figures summed over the runners of a run. */
typedef struct ride_source_totals {
    size_t sources;
    uint64_t frames; /* read from the sources */
    ride_publisher_stats pub;
} ride_source_totals;

/* Logs the source_summary line and adds the runner's figures to totals (may be
 * NULL); after the thread was joined. */
void ride_source_runner_log_summary(const ride_source_runner *r, ride_source_totals *totals);
/* Logs the summary line: the totals and the exit code. */
void ride_source_totals_log(const ride_source_totals *t, int exit_code);

#endif
