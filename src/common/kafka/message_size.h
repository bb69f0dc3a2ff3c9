/* kafka/message_size.h - how large a frame message may be on a topic
 * (docs/kafka.md, "Message sizes"): the brokers' limit read with DescribeConfigs
 * once per topic, the record batch overhead on top of a message, and the
 * producer settings that keep every batch under that limit; and how much of a
 * topic's retention a backlog budget may take.
 *
 * Error reporting as kafka/kafka.h. */
#ifndef RIDE_KAFKA_MESSAGE_SIZE_H
#define RIDE_KAFKA_MESSAGE_SIZE_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "base/parse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest message value that fits alone in a record batch of batch_limit
 * bytes, as the broker counts it: message format v2 (61 bytes of batch header)
 * with one record without key or headers (attributes, timestamp and offset
 * deltas, key length and header count: 5 bytes; the record length and the value
 * length as zigzag varints of 1 to 5 bytes each). A 1,000,012-byte limit (Kafka
 * before 2.5) leaves 999,940 bytes. 0 when nothing fits. */
size_t ride_kafka_message_room(int64_t batch_limit);

/* The largest record batch the brokers take on topic: the topic's effective
 * max.message.bytes (its own setting, else the brokers' default), else the
 * message.max.bytes of the broker that answers; each asked with DescribeConfigs
 * and bounded by timeout_ms. Returns 1 with *limit set; 0 when the brokers
 * cannot tell (the embedded broker answers no DescribeConfigs); -1 with err on
 * a failure (no answer, no permission). A 1 or 0 answer is kept for the rest of
 * the process, per bootstrap.servers of rk and topic. */
int ride_kafka_topic_message_limit(rd_kafka_t *rk, const char *topic, int timeout_ms,
                                   int64_t *limit, char *err, size_t errlen);

/* The message size to use on topic: configured, lowered to what the topic's
 * limit leaves when the brokers tell it. A failed lookup is logged (warn,
 * message_limit_unknown) and leaves configured. *limit gets the brokers' limit, 0
 * when unknown. */
size_t ride_kafka_message_size(rd_kafka_t *rk, const char *topic, size_t configured,
                               int timeout_ms, int64_t *limit);

/* Fits a producer configuration to frame messages of max_message bytes on topics
 * whose brokers take batches of up to limit bytes (0: unknown): a message above
 * RIDE_FRAME_DEFAULT_MAX_MESSAGE raises the client's message.max.bytes, unless
 * props (the user's map) set it; a batch.size above limit is lowered to it, so
 * that several messages batched together stay under the brokers' limit too. */
int ride_kafka_conf_fit_messages(rd_kafka_conf_t *conf, const ride_kv *props, size_t count,
                                 size_t max_message, int64_t limit, char *err, size_t errlen);

/* ---- The backlog budget within retention (docs/kafka.md, "Backpressure") ---- */

/* Budget lowered to a quarter of retention_bytes (<= 0: no limit, budget kept),
 * at least 1: a partition's unread outputs then stay well inside what the broker
 * keeps of it, whatever its segments. */
uint64_t ride_kafka_budget_within_retention(uint64_t budget, int64_t retention_bytes);

/* ride_kafka_budget_within_retention with the topic's retention.bytes, asked with
 * DescribeConfigs (bounded by timeout_ms). Budget unchanged when the brokers
 * cannot tell (the embedded broker), or on a failure, logged (warn,
 * retention_unknown). */
uint64_t ride_kafka_backlog_budget(rd_kafka_t *rk, const char *topic, uint64_t budget,
                                   int timeout_ms);

/* For a producer that exists already: -1 with err when its batch.size is above
 * limit (> 0), so that batches of several messages could be refused. */
int ride_kafka_check_batch(rd_kafka_t *rk, const char *topic, int64_t limit, char *err,
                           size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
