/* kafka/backlog.h - how far a topic's consumers are behind its writers, per
 * partition: the log end minus the consumer group's committed offset (or minus
 * the log start when nothing is committed yet or the committed offset was
 * deleted), in messages.
 *
 * Writers bound what they put ahead of their consumers with it (backpressure,
 * docs/kafka.md): the embedded broker keeps only about 5 MB per partition and
 * deletes older messages whether they were read or not, and on a real cluster an
 * unbounded backlog only grows latency. A thread of its own reads the offsets
 * from Kafka every refresh_ms (three requests: log starts, log ends, committed
 * offsets), so that a writer's thread only reads cached numbers. A writer
 * also passes the log end its own delivery reports showed, so that its messages
 * count from the moment Kafka acknowledges them, not from the next refresh.
 *
 * Every function may be called from any thread. */
#ifndef RIDE_BACKLOG_H
#define RIDE_BACKLOG_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#define RIDE_BACKLOG_DEFAULT_REFRESH_MS 100
/* With the embedded broker, whose ~5 MB per partition leave a budget of a few
 * frames: a stale committed offset counts frames already read as waiting, so
 * the figures are read four times as often (the requests stay on loopback). */
#define RIDE_BACKLOG_EMBEDDED_REFRESH_MS 25

typedef struct ride_backlog_opts {
    const char *topic;     /* copied */
    const char *group;     /* the consumers' group (ride.<app>.<stage>), copied */
    int partitions;        /* 1..RIDE_KAFKA_MAX_PARTITIONS */
    int refresh_ms;        /* 0: RIDE_BACKLOG_DEFAULT_REFRESH_MS */
    rd_kafka_conf_t *conf; /* a consumer configuration, taken over (also on failure) */
} ride_backlog_opts;

typedef struct ride_backlog ride_backlog;

/* Starts the refresh thread; the first figures arrive after one refresh. NULL
 * with the reason in err. */
ride_backlog *ride_backlog_new(const ride_backlog_opts *opts, char *err, size_t errlen);
/* Stops the thread (waiting for a refresh in progress). NULL is a no-op. */
void ride_backlog_free(ride_backlog *b);

/* Unconsumed messages of the partition, or -1 when not known (no refresh has
 * succeeded yet, or the partition is out of range). written_end: the caller's
 * own knowledge of the log end (its last acknowledged offset + 1), or -1; the
 * later of it and the refreshed log end counts. */
int64_t ride_backlog_messages(const ride_backlog *b, int32_t partition, int64_t written_end);

/* Refreshes that failed since creation (Kafka unreachable, no such topic). */
uint64_t ride_backlog_errors(const ride_backlog *b);

#endif
