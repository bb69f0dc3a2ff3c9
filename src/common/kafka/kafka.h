/* kafka/kafka.h - RIDE's use of Kafka through librdkafka (docs/kafka.md): client
 * configuration with user pass-through, the embedded broker (librdkafka's mock
 * cluster), topic creation, a producer with delivery reports, and a consumer with
 * manual assignment and explicit offset commits.
 *
 * Error reporting: functions returning int give 0 on success and -1 on failure
 * with a sentence in err (when err is not NULL). Nothing here starts threads of
 * its own beyond librdkafka's; delivery reports run inside ride_kafka_producer_poll()
 * and ride_kafka_producer_flush(), on the caller's thread. */
#ifndef RIDE_KAFKA_H
#define RIDE_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "base/parse.h"
#include "wire/frame.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Configuration ---- */

typedef enum ride_kafka_role {
    RIDE_KAFKA_PRODUCER,
    RIDE_KAFKA_CONSUMER,
    RIDE_KAFKA_ADMIN, /* metadata, watermarks, topic creation */
} ride_kafka_role;

/* A librdkafka configuration: RIDE's defaults for `role` (docs/kafka.md), with
 * those for the embedded broker when `embedded` (it is librdkafka's mock
 * cluster), then bootstrap.servers = bootstrap (when not NULL), then every user property in
 * order, unchanged, so that the user can override anything; its log lines and errors
 * go to RIDE's log (ride_kafka_conf_set_logging). `file` names where
 * props came from in errors (NULL: "<kafka>"). Returns NULL with *err naming the
 * property, its value (hidden for a secret: a key naming a password, a secret or a
 * private key), its position and librdkafka's reason. */
rd_kafka_conf_t *ride_kafka_conf_new(ride_kafka_role role, const char *bootstrap,
                                     bool embedded, const ride_kv *props, size_t prop_count,
                                     const char *file, ride_parse_error *err);

/* ---- Logging (kafka_log.c) ---- */

/* How often one cause of a librdkafka warning or error is logged at most. */
#define RIDE_KAFKA_ERROR_LOG_INTERVAL_MS 60000

/* Sends conf's log lines (event=kafka_log) and errors (event=kafka_error) to
 * RIDE's log; ride_kafka_conf_new() does it for every client. Warnings and errors
 * pass at most once per cause (ride_kafka_error_cause) per
 * RIDE_KAFKA_ERROR_LOG_INTERVAL_MS in the whole process, whichever client and
 * callback reports them; the line that passes carries suppressed=N, the repeats
 * held back since the previous one. */
void ride_kafka_conf_set_logging(rd_kafka_conf_t *conf);

/* The cause of a librdkafka message into buf: reason without the broker name
 * librdkafka puts before it ("PROTO://HOST:PORT/ID: ") and the connection's
 * timing after it (" (after 3ms in state ...)"), which vary between reconnects
 * and brokers. Returns the length written (truncated to fit). */
size_t ride_kafka_error_cause(const char *reason, char *buf, size_t len);

/* True when a line for cause may be written now; *suppressed is then the number
 * of calls for it held back since the previous line. Thread-safe and
 * process-wide; the 64 most recently seen causes are remembered. */
bool ride_kafka_cause_pass(const char *cause, int interval_ms, uint64_t *suppressed);

/* The cause of the latest error any client of the process reported (a broker
 * refusing the credentials, all brokers down) within the last within_ms, into
 * buf; false when there was none. A request that failed with a generic local
 * error ("Broker transport failure") is explained by it. */
bool ride_kafka_recent_error(int within_ms, char *buf, size_t len);

/* ---- Embedded broker (librdkafka's mock cluster, in this process) ---- */

typedef struct ride_kafka_mock ride_kafka_mock;

/* Starts a mock cluster of `brokers` (1..16) brokers on loopback. */
ride_kafka_mock *ride_kafka_mock_start(int brokers, char *err, size_t errlen);
/* "127.0.0.1:port,..." for any client; valid until ride_kafka_mock_stop(). */
const char *ride_kafka_mock_bootstraps(const ride_kafka_mock *m);
/* librdkafka's handle of the cluster, for its fault injection
 * (rd_kafka_mock_push_request_errors() and the like). */
rd_kafka_mock_cluster_t *ride_kafka_mock_cluster(ride_kafka_mock *m);
/* Stops the cluster; its messages are gone. NULL is a no-op. */
void ride_kafka_mock_stop(ride_kafka_mock *m);

/* ---- Topics ---- */

typedef struct ride_kafka_topic_spec {
    const char *name;
    int partitions;         /* 1..RIDE_KAFKA_MAX_PARTITIONS */
    int replication_factor; /* -1: the brokers' default (mock: 1) */
    /* Topic configurations by Kafka's names ("retention.ms" = "600000"): set at
     * creation, and on an existing topic where they differ (see below). Ignored
     * by the mock. */
    const ride_kv *configs;
    size_t config_count;
    int grow; /* an existing topic with fewer partitions is grown */
} ride_kafka_topic_spec;

#define RIDE_KAFKA_MAX_PARTITIONS 4096

/* Makes sure the topic exists with spec->partitions partitions: through the mock
 * cluster when mock is not NULL, else with the Admin API over rk (any handle).
 * An existing topic with the same count is success; with more partitions, or
 * with fewer and grow == 0, it is an error naming both counts. On a real broker an
 * existing topic whose configurations differ from spec->configs gets them with
 * AlterConfigs; the topic's other dynamic configurations are sent along
 * unchanged, since AlterConfigs replaces them all. */
int ride_kafka_topic_ensure(ride_kafka_mock *mock, rd_kafka_t *rk,
                            const ride_kafka_topic_spec *spec, int timeout_ms, char *err,
                            size_t errlen);

/* The topic's partition count from the cluster's metadata (0 when the topic
 * does not exist), or -1 with err set. Never creates the topic. */
int ride_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err,
                               size_t errlen);

/* Low (log start) and high (log end: next offset to be written) watermarks as
 * the partition's leader reports them now. */
int ride_kafka_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                          int64_t *low, int64_t *high, char *err, size_t errlen);

/* The log start (which = RIDE_KAFKA_OFFSET_BEGINNING) or log end
 * (RIDE_KAFKA_OFFSET_END) of partitions 0..count-1 of topic, in one request per
 * leader (ListOffsets), into out[]. */
int ride_kafka_log_offsets(rd_kafka_t *rk, const char *topic, int count, int64_t which,
                           int64_t *out, int timeout_ms, char *err, size_t errlen);

/* ---- Producer ---- */

typedef struct ride_kafka_producer ride_kafka_producer;

/* One delivery report per produced message: err is RD_KAFKA_RESP_ERR_NO_ERROR when
 * the message is durably written (with acks=all under idempotence), and offset is
 * then its offset. reason is librdkafka's text (NULL on success). A failed message
 * that may have been written all the same (sent, and the broker's answer lost: a
 * broker killed while it wrote) has possibly_written set: a reader may or may not
 * find it. */
typedef struct ride_kafka_delivery {
    rd_kafka_resp_err_t err;
    const char *reason;
    const char *topic;
    int32_t partition;
    int64_t offset;
    bool possibly_written;
} ride_kafka_delivery;

typedef void (*ride_kafka_delivery_fn)(void *ctx, void *opaque, const ride_kafka_delivery *d);

/* Takes ownership of conf (also on failure). on_delivery may be NULL.
 * Before the first message to a topic, call ride_kafka_partition_count() on
 * ride_kafka_producer_handle(): besides checking the topic's partitions it
 * primes the producer's metadata, without which the first message waits for
 * librdkafka's next periodic refresh (up to a second). */
ride_kafka_producer *ride_kafka_producer_new(rd_kafka_conf_t *conf,
                                             ride_kafka_delivery_fn on_delivery, void *ctx,
                                             char *err, size_t errlen);
void ride_kafka_producer_free(ride_kafka_producer *p); /* flushes up to 5 s first */
/* Frees at once: what is queued or in flight is dropped without a delivery report
 * (for a producer whose transaction is abandoned). NULL is a no-op. */
void ride_kafka_producer_discard(ride_kafka_producer *p);
rd_kafka_t *ride_kafka_producer_handle(ride_kafka_producer *p);

/* Queues one message for (topic, partition); the bytes are copied. Returns
 * RD_KAFKA_RESP_ERR_NO_ERROR or librdkafka's reason, e.g.
 * RD_KAFKA_RESP_ERR__QUEUE_FULL: poll, then try again. */
rd_kafka_resp_err_t ride_kafka_produce(ride_kafka_producer *p, const char *topic,
                                       int32_t partition, const void *buf, size_t len,
                                       void *opaque, char *err, size_t errlen);

/* ride_kafka_produce(), but while librdkafka's local queue is full it serves delivery
 * reports and tries again until deadline_ms (ride_clock_mono_ms() time), then gives up
 * with RD_KAFKA_RESP_ERR__QUEUE_FULL. This keeps a frame's messages back to back. */
rd_kafka_resp_err_t ride_kafka_produce_wait(ride_kafka_producer *p, const char *topic,
                                            int32_t partition, const void *buf, size_t len,
                                            void *opaque, int64_t deadline_ms, char *err,
                                            size_t errlen);

/* The sender's bookkeeping of one frame's messages: called after each message is
 * queued, with the frame's opaque and the message's size in bytes. The message's
 * delivery report, carrying the same opaque, may already have run on a thread
 * that polls the producer. */
typedef void (*ride_kafka_queued_fn)(void *opaque, size_t len);

/* Sends one frame: encodes f with ride_frame_write (opts NULL: raw,
 * RIDE_FRAME_DEFAULT_MAX_MESSAGE) and queues its messages to one partition, in
 * order and back to back (a full queue is drained by polling, for up to
 * timeout_ms in all; a queue still full then counts as a failed produce call).
 * Each message gets its own delivery report carrying opaque, and is passed to
 * on_queued (when not NULL) once queued. After a failure some of the frame's
 * messages may be queued already; receivers reject that frame as incomplete.
 * The error names the topic, partition and frame. */
int ride_kafka_produce_frame(ride_kafka_producer *p, const char *topic, int32_t partition,
                             const ride_frame *f, const ride_frame_write_opts *opts,
                             void *opaque, ride_kafka_queued_fn on_queued, int timeout_ms,
                             char *err, size_t errlen);

/* Whether a frame may be sent, asked before any of its messages is queued: the
 * count of its encoded messages and their bytes in all. */
typedef bool (*ride_kafka_admit_fn)(void *opaque, size_t messages, uint64_t bytes);

/* ride_kafka_produce_frame(), but the frame is encoded whole first and admit
 * (with opaque) decides whether it is sent: 1 when it refused, nothing queued. */
int ride_kafka_produce_frame_admitted(ride_kafka_producer *p, const char *topic,
                                      int32_t partition, const ride_frame *f,
                                      const ride_frame_write_opts *opts, void *opaque,
                                      ride_kafka_queued_fn on_queued, ride_kafka_admit_fn admit,
                                      int timeout_ms, char *err, size_t errlen);

/* Serves delivery reports for up to timeout_ms; returns how many events ran. */
int ride_kafka_producer_poll(ride_kafka_producer *p, int timeout_ms);
/* Waits until every queued message has its delivery report, or fails at timeout. */
int ride_kafka_producer_flush(ride_kafka_producer *p, int timeout_ms, char *err, size_t errlen);
/* Messages queued or in flight, not yet reported. */
int ride_kafka_producer_outstanding(ride_kafka_producer *p);
/* Failed produce calls plus failed delivery reports since creation. */
uint64_t ride_kafka_producer_errors(const ride_kafka_producer *p);

/* ---- Consumer (manual assignment, explicit commits) ---- */

/* A partition and an offset. As an assignment's start, offset is an offset,
 * RIDE_KAFKA_OFFSET_BEGINNING, or RIDE_KAFKA_OFFSET_COMMITTED (the group's
 * committed offset, else the earliest kept). As a committed offset it is the
 * next offset to read (last processed + 1), or RIDE_KAFKA_OFFSET_NONE. */
typedef struct ride_kafka_tp {
    const char *topic;
    int32_t partition;
    int64_t offset;
} ride_kafka_tp;

#define RIDE_KAFKA_OFFSET_BEGINNING RD_KAFKA_OFFSET_BEGINNING
#define RIDE_KAFKA_OFFSET_END RD_KAFKA_OFFSET_END
#define RIDE_KAFKA_OFFSET_COMMITTED RD_KAFKA_OFFSET_STORED
#define RIDE_KAFKA_OFFSET_NONE RD_KAFKA_OFFSET_INVALID

typedef struct ride_kafka_consumer ride_kafka_consumer;

/* Takes ownership of conf (also on failure). group is the consumer group whose
 * offsets are committed and read (docs/architecture.md: ride.<app>.<stage>); it
 * overrides any group.id in conf. The consumer never joins the group: it
 * only consumes what it is assigned. A consumer with nothing assigned is a
 * cheap way to read a group's committed offsets from another process. */
ride_kafka_consumer *ride_kafka_consumer_new(rd_kafka_conf_t *conf, const char *group, char *err,
                                             size_t errlen);
void ride_kafka_consumer_free(ride_kafka_consumer *c);
rd_kafka_t *ride_kafka_consumer_handle(ride_kafka_consumer *c);
/* Has librdkafka write a byte to fd (a non-blocking pipe) whenever a message
 * arrives in the consumer's empty queue, so that one poll() can wait on several
 * consumers. -1 when the queue cannot be had. */
int ride_kafka_consumer_wake_fd(ride_kafka_consumer *c, int fd);

/* Adds partitions to the assignment, each starting at its offset, without
 * touching the others. Adding an assigned partition is an error. */
int ride_kafka_consumer_add(ride_kafka_consumer *c, const ride_kafka_tp *tps, size_t count,
                            char *err, size_t errlen);
/* Removes partitions (offsets ignored); messages already fetched for them are
 * no longer returned. */
int ride_kafka_consumer_remove(ride_kafka_consumer *c, const ride_kafka_tp *tps, size_t count,
                               char *err, size_t errlen);

/* The log start offset of an assigned partition as the last fetch reported it
 * (no request is made), or -1 before any. */
int64_t ride_kafka_consumer_log_start(ride_kafka_consumer *c, const char *topic,
                                      int32_t partition);

typedef struct ride_kafka_message {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const uint8_t *payload;
    size_t len;
    rd_kafka_message_t *rkm; /* owns the above */
} ride_kafka_message;

/* Waits up to timeout_ms for a message of the assignment. Returns 1 with *msg
 * filled (release it with ride_kafka_message_release), 0 when none came, -1 on a
 * consumer error (reported in err; the consumer stays usable). */
int ride_kafka_consumer_poll(ride_kafka_consumer *c, int timeout_ms, ride_kafka_message *msg,
                             char *err, size_t errlen);
void ride_kafka_message_release(ride_kafka_message *msg);

/* Longest ride_kafka_commit() waits for the coordinator's answer: commits are
 * repeated every pass of a worker's loop, so a slow one is better reported and
 * sent again than waited for on a thread the stall watchdog watches. */
#define RIDE_KAFKA_COMMIT_TIMEOUT_MS 3000

/* Commits the given offsets (each the next offset to read) for the group, and
 * waits up to RIDE_KAFKA_COMMIT_TIMEOUT_MS for the coordinator's answer; without
 * one it fails (the commit may still land: committing again is harmless). */
int ride_kafka_commit(ride_kafka_consumer *c, const ride_kafka_tp *tps, size_t count, char *err,
                      size_t errlen);
/* Reads the group's committed offsets into tps[i].offset (RIDE_KAFKA_OFFSET_NONE
 * where nothing is committed). Works for partitions not assigned here. */
int ride_kafka_committed(ride_kafka_consumer *c, ride_kafka_tp *tps, size_t count,
                         int timeout_ms, char *err, size_t errlen);

/* ---- Transactions (a producer configured with transactional.id) ---- */

/* What a transactional call left behind. Each call blocks at most its timeout. */
typedef enum ride_kafka_txn_result {
    RIDE_KAFKA_TXN_OK,
    RIDE_KAFKA_TXN_RETRY,  /* retriable (a timeout): the transaction's state is unknown */
    RIDE_KAFKA_TXN_ABORT,  /* the transaction failed: abort it, then start again */
    RIDE_KAFKA_TXN_FENCED, /* a newer producer took over the transactional.id */
    RIDE_KAFKA_TXN_FATAL,  /* the producer is unusable */
} ride_kafka_txn_result;

/* Registers the transactional.id with its coordinator: fences any older producer
 * with the same id and completes (aborts) its open transaction. */
ride_kafka_txn_result ride_kafka_txn_init(ride_kafka_producer *p, int timeout_ms, char *err,
                                          size_t errlen);
/* Starts a transaction (local, does not block). */
ride_kafka_txn_result ride_kafka_txn_begin(ride_kafka_producer *p, char *err, size_t errlen);
/* Adds the consumer group's input offsets (each the next offset to read) to the
 * open transaction, then commits it: its messages (all delivered first, their
 * reports served here) and those offsets become visible together. Both calls
 * together take at most timeout_ms. */
ride_kafka_txn_result ride_kafka_txn_commit(ride_kafka_producer *p, ride_kafka_consumer *c,
                                            const ride_kafka_tp *offsets, size_t count,
                                            int timeout_ms, char *err, size_t errlen);
/* Aborts the open transaction: its messages are never read by read_committed
 * consumers. */
ride_kafka_txn_result ride_kafka_txn_abort(ride_kafka_producer *p, int timeout_ms, char *err,
                                           size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
