/* message_size.c - the brokers' message size limit per topic and what it leaves
 * for a frame message, and the backlog budget a topic's retention leaves
 * (kafka/message_size.h). The limit is asked once per topic
 * and kept: a topic's max.message.bytes changed later is seen after a restart. */
#include "kafka/message_size.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "wire/frame.h"

/* ---- The record batch overhead ---- */

/* Batch header of message format v2: base offset 8, length 4, leader epoch 4,
 * magic 1, CRC 4, attributes 2, last offset delta 4, first and max timestamps
 * 8 + 8, producer id 8, producer epoch 2, base sequence 4, record count 4. */
#define BATCH_HEADER 61
/* A record's fixed one-byte fields: attributes, timestamp delta 0, offset delta 0,
 * key length -1 (no key), header count 0. */
#define RECORD_FIXED 5
/* Above RIDE's default message.max.bytes 1048576 a larger frame message raises it
 * by as much (1048576 - 1000000), room for librdkafka's own accounting. */
#define CLIENT_OVERHEAD 48576

/* Bytes of a signed varint (zigzag) holding n >= 0. */
static size_t varint_len(uint64_t n)
{
    uint64_t z = n << 1;
    size_t len = 1;
    while (z >= 0x80) {
        z >>= 7;
        len++;
    }
    return len;
}

static uint64_t batch_bytes(uint64_t value)
{
    uint64_t body = RECORD_FIXED + varint_len(value) + value;
    return BATCH_HEADER + varint_len(body) + body;
}

size_t ride_kafka_message_room(int64_t batch_limit)
{
    if (batch_limit <= BATCH_HEADER + RECORD_FIXED + 2)
        return 0;
    /* Each varint is 1..5 bytes: start as if both were 1 and step down. */
    uint64_t v = (uint64_t)batch_limit - BATCH_HEADER - RECORD_FIXED - 2;
    while (v > 0 && batch_bytes(v) > (uint64_t)batch_limit)
        v--;
    return v > SIZE_MAX ? SIZE_MAX : (size_t)v;
}

/* ---- DescribeConfigs ---- */

typedef enum describe_result {
    DESCRIBE_FAILED = -1,
    DESCRIBE_ABSENT = 0, /* answered without the key */
    DESCRIBE_FOUND = 1,
    DESCRIBE_UNSUPPORTED = 2, /* the brokers have no DescribeConfigs */
} describe_result;

/* A value of a key: a size of 1..INT32_MAX bytes (max.message.bytes), or of -1
 * ("no limit") up (retention.bytes). */
typedef struct config_key {
    const char *name;
    int64_t min, max;
} config_key;

static const config_key MAX_MESSAGE_BYTES = {"max.message.bytes", 1, INT32_MAX};
static const config_key MESSAGE_MAX_BYTES = {"message.max.bytes", 1, INT32_MAX};
static const config_key RETENTION_BYTES = {"retention.bytes", -1, INT64_MAX};

static describe_result read_entry(const rd_kafka_ConfigResource_t *res, const config_key *key,
                                  int64_t *value, const char *what, char *err, size_t errlen)
{
    if (rd_kafka_ConfigResource_error(res)) {
        ride_set_error(err, errlen, "%s: %s", what, rd_kafka_ConfigResource_error_string(res));
        return DESCRIBE_FAILED;
    }
    size_t n = 0;
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res, &n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), key->name) != 0)
            continue;
        const char *v = rd_kafka_ConfigEntry_value(entries[i]);
        unsigned signs = key->min < 0 ? RIDE_PARSE_MINUS : 0; /* retention.bytes -1: unbounded */
        if (!v || !ride_parse_int64(v, signs, key->min, key->max, value)) {
            ride_set_error(err, errlen, "%s: %s = \"%s\" is not a size", what, key->name,
                           v ? v : "");
            return DESCRIBE_FAILED;
        }
        return DESCRIBE_FOUND;
    }
    return DESCRIBE_ABSENT;
}

/* One resource's value of key, asked and waited for (up to timeout_ms). */
static describe_result describe(rd_kafka_t *rk, rd_kafka_ResourceType_t type, const char *name,
                                const config_key *key, int timeout_ms, int64_t *value,
                                char *err, size_t errlen)
{
    char what[300];
    snprintf(what, sizeof what, "%s %s: DescribeConfigs %s",
             type == RD_KAFKA_RESOURCE_TOPIC ? "topic" : "broker", name, key->name);
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(type, name);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, NULL, 0);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConfigs(rk, &res, 1, o, q);
    /* The request times out on its own; the margin lets that answer come first. */
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
    describe_result r = DESCRIBE_FAILED;
    size_t n = 0;
    const rd_kafka_ConfigResource_t **rs = NULL;
    if (!ev)
        ride_set_error(err, errlen, "%s: no answer within %d ms", what, timeout_ms);
    else if (rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE)
        r = DESCRIBE_UNSUPPORTED;
    else if (rd_kafka_event_error(ev))
        ride_set_error(err, errlen, "%s: %s", what, rd_kafka_event_error_string(ev));
    else if (!(rs = rd_kafka_DescribeConfigs_result_resources(
                   rd_kafka_event_DescribeConfigs_result(ev), &n)) || n != 1)
        ride_set_error(err, errlen, "%s: %zu resources in the answer", what, n);
    else
        r = read_entry(rs[0], key, value, what, err, errlen);
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ConfigResource_destroy(res);
    return r;
}

/* Topic configurations are asked of the controller, which every Kafka broker
 * names among the brokers of its metadata. The embedded broker names one that
 * does not exist (librdkafka's mock cluster reports 0 for brokers numbered from
 * 1), and would leave the request waiting for it until the timeout. *broker gets
 * the id of the broker that answered the metadata request. */
static describe_result find_controller(rd_kafka_t *rk, const char *topic, int timeout_ms,
                                       int32_t *broker, char *err, size_t errlen)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
    if (e) {
        ride_set_error(err, errlen, "topic %s: cannot read metadata: %s", topic,
                       rd_kafka_err2str(e));
        return DESCRIBE_FAILED;
    }
    *broker = md->orig_broker_id;
    int32_t controller = rd_kafka_controllerid(rk, 0);
    describe_result r = DESCRIBE_UNSUPPORTED;
    for (int i = 0; i < md->broker_cnt; i++)
        if (md->brokers[i].id == controller)
            r = DESCRIBE_FOUND;
    rd_kafka_metadata_destroy(md);
    return r;
}

static int ask_limit(rd_kafka_t *rk, const char *topic, int timeout_ms, int64_t *limit,
                     char *err, size_t errlen)
{
    int32_t broker = -1;
    describe_result r = find_controller(rk, topic, timeout_ms, &broker, err, errlen);
    if (r == DESCRIBE_FOUND)
        r = describe(rk, RD_KAFKA_RESOURCE_TOPIC, topic, &MAX_MESSAGE_BYTES, timeout_ms, limit,
                     err, errlen);
    if (r == DESCRIBE_ABSENT) {
        char id[16];
        snprintf(id, sizeof id, "%" PRId32, broker);
        r = describe(rk, RD_KAFKA_RESOURCE_BROKER, id, &MESSAGE_MAX_BYTES, timeout_ms, limit,
                     err, errlen);
    }
    if (r == DESCRIBE_ABSENT)
        ride_set_error(err, errlen, "topic %s: neither max.message.bytes nor the broker's "
                       "message.max.bytes in the answers", topic);
    return r == DESCRIBE_FOUND ? 1 : r == DESCRIBE_UNSUPPORTED ? 0 : -1;
}

/* ---- The cache ---- */

#define CACHE_ENTRIES 64

typedef struct cached_limit {
    char *key; /* bootstrap.servers, a newline, the topic */
    int known; /* ride_kafka_topic_message_limit's 1 or 0 */
    int64_t limit;
} cached_limit;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cached_limit cache[CACHE_ENTRIES];
static size_t cache_next; /* the slot the next answer takes once the cache is full */

static char *cache_key(rd_kafka_t *rk, const char *topic)
{
    char servers[1024] = "";
    size_t len = sizeof servers;
    if (rd_kafka_conf_get(rd_kafka_conf(rk), "bootstrap.servers", servers, &len) !=
        RD_KAFKA_CONF_OK)
        servers[0] = '\0';
    size_t n = strlen(servers) + strlen(topic) + 2;
    char *key = malloc(n);
    if (key)
        snprintf(key, n, "%s\n%s", servers, topic);
    return key;
}

static bool cache_find(const char *key, int *known, int64_t *limit)
{
    bool hit = false;
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < CACHE_ENTRIES && !hit; i++)
        if (cache[i].key && strcmp(cache[i].key, key) == 0) {
            *known = cache[i].known;
            *limit = cache[i].limit;
            hit = true;
        }
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

/* Takes key over. */
static void cache_store(char *key, int known, int64_t limit)
{
    pthread_mutex_lock(&cache_lock);
    cached_limit *c = &cache[cache_next];
    cache_next = (cache_next + 1) % CACHE_ENTRIES;
    free(c->key);
    *c = (cached_limit){key, known, limit};
    pthread_mutex_unlock(&cache_lock);
}

int ride_kafka_topic_message_limit(rd_kafka_t *rk, const char *topic, int timeout_ms,
                                   int64_t *limit, char *err, size_t errlen)
{
    *limit = 0;
    char *key = cache_key(rk, topic);
    int known;
    if (key && cache_find(key, &known, limit)) {
        free(key);
        return known;
    }
    known = ask_limit(rk, topic, timeout_ms, limit, err, errlen);
    if (known < 0 || !key)
        free(key);
    else
        cache_store(key, known, *limit);
    return known;
}

size_t ride_kafka_message_size(rd_kafka_t *rk, const char *topic, size_t configured,
                               int timeout_ms, int64_t *limit)
{
    char err[512];
    int known = ride_kafka_topic_message_limit(rk, topic, timeout_ms, limit, err, sizeof err);
    if (known < 0) {
        char quoted[600];
        ride_log_warn("message_limit_unknown", "topic=%s message_bytes=%zu reason=%s", topic,
                      configured, ride_log_quote(err, quoted, sizeof quoted));
    }
    size_t room = known > 0 ? ride_kafka_message_room(*limit) : configured;
    return room < configured ? room : configured;
}

/* ---- The backlog budget within retention ---- */

uint64_t ride_kafka_budget_within_retention(uint64_t budget, int64_t retention_bytes)
{
    if (retention_bytes <= 0)
        return budget;
    uint64_t quarter = (uint64_t)retention_bytes / 4;
    return budget < quarter ? budget : quarter > 0 ? quarter : 1;
}

uint64_t ride_kafka_backlog_budget(rd_kafka_t *rk, const char *topic, uint64_t budget,
                                   int timeout_ms)
{
    char err[512] = "";
    int32_t broker = -1;
    int64_t retention = -1;
    describe_result r = find_controller(rk, topic, timeout_ms, &broker, err, sizeof err);
    if (r == DESCRIBE_FOUND)
        r = describe(rk, RD_KAFKA_RESOURCE_TOPIC, topic, &RETENTION_BYTES, timeout_ms,
                     &retention, err, sizeof err);
    if (r == DESCRIBE_FAILED) {
        char quoted[600];
        ride_log_warn("retention_unknown", "topic=%s budget_bytes=%" PRIu64 " reason=%s", topic,
                      budget, ride_log_quote(err, quoted, sizeof quoted));
    }
    return ride_kafka_budget_within_retention(budget, r == DESCRIBE_FOUND ? retention : -1);
}

/* ---- The producer's settings ---- */

static int conf_set_size(rd_kafka_conf_t *conf, const char *key, int64_t value, char *err,
                         size_t errlen)
{
    char text[32], why[256];
    snprintf(text, sizeof text, "%" PRId64, value);
    if (rd_kafka_conf_set(conf, key, text, why, sizeof why) == RD_KAFKA_CONF_OK)
        return 0;
    ride_set_error(err, errlen, "%s=%s: %s", key, text, why);
    return -1;
}

/* The configuration's batch.size, or 0 when it cannot be read. */
static int64_t batch_size(const rd_kafka_conf_t *conf)
{
    char text[32] = "";
    size_t len = sizeof text;
    int64_t batch = 0;
    if (rd_kafka_conf_get(conf, "batch.size", text, &len) != RD_KAFKA_CONF_OK ||
        !ride_parse_int64(text, 0, 1, INT64_MAX, &batch))
        return 0;
    return batch;
}

int ride_kafka_conf_fit_messages(rd_kafka_conf_t *conf, const ride_kv *props, size_t count,
                                 size_t max_message, int64_t limit, char *err, size_t errlen)
{
    if (max_message > RIDE_FRAME_DEFAULT_MAX_MESSAGE &&
        !ride_kv_find(props, count, "message.max.bytes") &&
        conf_set_size(conf, "message.max.bytes", (int64_t)max_message + CLIENT_OVERHEAD, err,
                      errlen) != 0)
        return -1;
    if (limit <= 0 || batch_size(conf) <= limit)
        return 0;
    return conf_set_size(conf, "batch.size", limit, err, errlen);
}

int ride_kafka_check_batch(rd_kafka_t *rk, const char *topic, int64_t limit, char *err,
                           size_t errlen)
{
    int64_t batch = batch_size(rd_kafka_conf(rk));
    if (limit <= 0 || batch <= limit)
        return 0;
    ride_set_error(err, errlen,
                   "topic %s takes record batches of at most %" PRId64 " bytes "
                   "(max.message.bytes), but this producer batches up to %" PRId64
                   " (batch.size): set batch.size to at most %" PRId64 " in the kafka map",
                   topic, limit, batch, limit);
    return -1;
}
