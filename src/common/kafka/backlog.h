/* kafka/backlog.h - how far a topic's consumers are behind its writers, per
 * partition: the log end and where the consumer group has consumed to (its
 * committed offset, or the log start when nothing is committed yet or the
 * committed offset was deleted).
 *
 * Writers bound what they put ahead of their consumers with it (backpressure,
 * kafka/share.h, docs/kafka.md): the embedded broker keeps only about 5 MB per
 * partition and deletes older messages whether they were read or not, and on a
 * real cluster an unbounded backlog only grows latency. A thread of its own reads
 * the offsets from Kafka every refresh_ms (three requests: log starts, log ends,
 * committed offsets), so that a writer's thread only reads cached numbers.
 *
 * Every function may be called from any thread. */
#ifndef RIDE_BACKLOG_H
#define RIDE_BACKLOG_H

#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#define RIDE_BACKLOG_DEFAULT_REFRESH_MS 100
/* With the embedded broker, whose ~5 MB per partition leave a budget of a few
 * frames: a stale committed offset counts frames already read as unread, so
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

/* The partition's figures from the last successful refresh: its log end and
 * where its group has consumed to (the committed offset, or the log start when
 * that is later), each -1 when not known; *refreshes (when not NULL) counts the
 * successful refreshes so far. A refresh published after a caller saw
 * refreshes == n read its figures after n + 1 was published: once refreshes >= n
 * + 2, the figures read afterwards were taken after that caller looked. Returns
 * false for a partition out of range. */
bool ride_backlog_figures(const ride_backlog *b, int32_t partition, int64_t *end,
                          int64_t *consumed, uint64_t *refreshes);

/* Refreshes that failed since creation (Kafka unreachable, no such topic). */
uint64_t ride_backlog_errors(const ride_backlog *b);

#endif
