/* kafka.c - librdkafka configuration, the embedded broker, topics and metadata
 * (kafka/kafka.h). The producer and the consumer are in kafka_client.c. */
#include "kafka/kafka.h"

#include "base/error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Configuration ---- */

typedef struct kafka_default {
    const char *key;
    const char *value;
} kafka_default;

/* Why each value is chosen is in docs/kafka.md. */
static const kafka_default common_defaults[] = {
    {"client.id", "ride"},
    /* Idle connections are closed by brokers routinely; not worth a log line. */
    {"log.connection.close", "false"},
};

static const kafka_default producer_defaults[] = {
    {"enable.idempotence", "true"},
    {"linger.ms", "1"},
    {"message.max.bytes", "1048576"},
    {"compression.codec", "none"},
};

static const kafka_default consumer_defaults[] = {
    {"enable.auto.commit", "false"},
    {"enable.auto.offset.store", "false"},
    {"auto.offset.reset", "earliest"},
    {"max.partition.fetch.bytes", "4194304"},
    {"enable.partition.eof", "false"},
    {"fetch.wait.max.ms", "100"},
};

/* The embedded broker parks a fetch that finds no data for the whole
 * fetch.wait.max.ms, even when data arrives meanwhile, and answers at most one
 * message set per partition: each hop would wait up to the full time. */
static const kafka_default embedded_consumer_defaults[] = {
    {"fetch.wait.max.ms", "5"},
};

/* The embedded broker deletes whole message sets: with one message in each, it
 * never deletes a message a reader has not consumed along with one it has
 * (kafka/share.h). */
static const kafka_default embedded_producer_defaults[] = {
    {"batch.num.messages", "1"},
};

/* Values that must not reach a log: librdkafka's passwords, client secrets,
 * private keys and OAUTHBEARER settings. */
static const char *shown_value(const char *key, const char *value)
{
    static const char *const secret_words[] = {"password", "secret", "key.pem",
                                               "oauthbearer.config"};
    for (size_t i = 0; i < sizeof secret_words / sizeof secret_words[0]; i++)
        if (strstr(key, secret_words[i]))
            return "(hidden)";
    return value;
}

static int apply_defaults(rd_kafka_conf_t *conf, const kafka_default *d, size_t n,
                          ride_parse_error *err)
{
    char reason[256];
    for (size_t i = 0; i < n; i++) {
        if (rd_kafka_conf_set(conf, d[i].key, d[i].value, reason, sizeof reason) !=
            RD_KAFKA_CONF_OK)
            return ride_parse_fail(err, "<ride defaults>", (ride_pos){0, 0},
                                   "kafka property \"%s\" = \"%s\": %s", d[i].key, d[i].value,
                                   reason);
    }
    return 0;
}

rd_kafka_conf_t *ride_kafka_conf_new(ride_kafka_role role, const char *bootstrap,
                                     bool embedded, const ride_kv *props, size_t prop_count,
                                     const char *file, ride_parse_error *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    ride_kafka_conf_set_logging(conf);
    int rc = apply_defaults(conf, common_defaults,
                            sizeof common_defaults / sizeof common_defaults[0], err);
    if (rc == 0 && role == RIDE_KAFKA_PRODUCER)
        rc = apply_defaults(conf, producer_defaults,
                            sizeof producer_defaults / sizeof producer_defaults[0], err);
    if (rc == 0 && role == RIDE_KAFKA_CONSUMER)
        rc = apply_defaults(conf, consumer_defaults,
                            sizeof consumer_defaults / sizeof consumer_defaults[0], err);
    if (rc == 0 && role == RIDE_KAFKA_CONSUMER && embedded)
        rc = apply_defaults(conf, embedded_consumer_defaults,
                            sizeof embedded_consumer_defaults / sizeof embedded_consumer_defaults[0],
                            err);
    if (rc == 0 && role == RIDE_KAFKA_PRODUCER && embedded)
        rc = apply_defaults(conf, embedded_producer_defaults,
                            sizeof embedded_producer_defaults / sizeof embedded_producer_defaults[0],
                            err);
    if (rc == 0 && bootstrap) {
        kafka_default b = {"bootstrap.servers", bootstrap};
        rc = apply_defaults(conf, &b, 1, err);
    }
    char reason[256];
    for (size_t i = 0; rc == 0 && i < prop_count; i++) {
        const ride_kv *kv = &props[i];
        if (!kv->key || !kv->value) {
            rc = ride_parse_fail(err, file ? file : "<kafka>", kv->key_pos,
                                 "kafka property without a key or value");
            break;
        }
        rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, kv->key, kv->value, reason,
                                                    sizeof reason);
        if (res != RD_KAFKA_CONF_OK)
            rc = ride_parse_fail(err, file ? file : "<kafka>",
                                 res == RD_KAFKA_CONF_UNKNOWN ? kv->key_pos : kv->value_pos,
                                 "kafka property \"%s\" = \"%s\": %s", kv->key,
                                 shown_value(kv->key, kv->value), reason);
    }
    if (rc != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

/* ---- Embedded broker ---- */

struct ride_kafka_mock {
    rd_kafka_t *host;   /* the handle the mock cluster lives in */
    rd_kafka_t *client; /* a client of the cluster, for metadata */
    rd_kafka_mock_cluster_t *cluster;
    int brokers;
};

static rd_kafka_t *new_handle(rd_kafka_type_t type, const char *bootstrap, char *err,
                              size_t errlen)
{
    /* The mock's host handle has no bootstrap servers on purpose: warnings
     * only, so that librdkafka's notice about that is not logged. */
    ride_kv quiet = {"log_level", "4", {0, 0}, {0, 0}};
    ride_parse_error perr;
    rd_kafka_conf_t *conf = ride_kafka_conf_new(RIDE_KAFKA_ADMIN, bootstrap, true, &quiet,
                                                bootstrap ? 0 : 1, NULL, &perr);
    if (!conf) {
        ride_set_error(err, errlen, "%s", perr.message);
        return NULL;
    }
    char reason[256];
    rd_kafka_t *rk = rd_kafka_new(type, conf, reason, sizeof reason);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        ride_set_error(err, errlen, "cannot create a Kafka client: %s", reason);
    }
    return rk;
}

ride_kafka_mock *ride_kafka_mock_start(int brokers, char *err, size_t errlen)
{
    if (brokers < 1 || brokers > 16) {
        ride_set_error(err, errlen, "embedded Kafka: %d brokers, expected 1..16", brokers);
        return NULL;
    }
    ride_kafka_mock *m = calloc(1, sizeof *m);
    if (!m) {
        ride_set_error(err, errlen, "embedded Kafka: out of memory");
        return NULL;
    }
    m->brokers = brokers;
    m->host = new_handle(RD_KAFKA_PRODUCER, NULL, err, errlen);
    if (!m->host)
        goto fail;
    m->cluster = rd_kafka_mock_cluster_new(m->host, brokers);
    if (!m->cluster) {
        ride_set_error(err, errlen, "embedded Kafka: cannot start the mock cluster");
        goto fail;
    }
    m->client = new_handle(RD_KAFKA_PRODUCER, rd_kafka_mock_cluster_bootstraps(m->cluster), err,
                           errlen);
    if (!m->client)
        goto fail;
    return m;
fail:
    ride_kafka_mock_stop(m);
    return NULL;
}

const char *ride_kafka_mock_bootstraps(const ride_kafka_mock *m)
{
    return rd_kafka_mock_cluster_bootstraps(m->cluster);
}

rd_kafka_mock_cluster_t *ride_kafka_mock_cluster(ride_kafka_mock *m)
{
    return m->cluster;
}

void ride_kafka_mock_stop(ride_kafka_mock *m)
{
    if (!m)
        return;
    /* Clients first: they are connected to the cluster's brokers. */
    if (m->client)
        rd_kafka_destroy(m->client);
    if (m->cluster)
        rd_kafka_mock_cluster_destroy(m->cluster);
    if (m->host)
        rd_kafka_destroy(m->host);
    free(m);
}

/* ---- Metadata ---- */

int ride_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *err,
                               size_t errlen)
{
    /* All topics rather than one: asking for a single topic lets the broker
     * auto-create it, which RIDE never wants. */
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (e) {
        ride_set_error(err, errlen, "topic %s: cannot read metadata: %s", topic, rd_kafka_err2str(e));
        return -1;
    }
    int count = 0;
    for (int i = 0; i < md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *t = &md->topics[i];
        if (strcmp(t->topic, topic) != 0)
            continue;
        if (t->err) {
            ride_set_error(err, errlen, "topic %s: %s", topic, rd_kafka_err2str(t->err));
            count = -1;
        } else {
            count = t->partition_cnt;
        }
        break;
    }
    rd_kafka_metadata_destroy(md);
    return count;
}

int ride_kafka_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                          int64_t *low, int64_t *high, char *err, size_t errlen)
{
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(rk, topic, partition, low, high, timeout_ms);
    if (e) {
        ride_set_error(err, errlen, "%s[%" PRId32 "]: cannot read watermarks: %s", topic, partition,
                rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

int ride_kafka_log_offsets(rd_kafka_t *rk, const char *topic, int count, int64_t which,
                           int64_t *out, int timeout_ms, char *err, size_t errlen)
{
    if (count < 1 || (which != RIDE_KAFKA_OFFSET_BEGINNING && which != RIDE_KAFKA_OFFSET_END)) {
        ride_set_error(err, errlen, "%s: invalid log offsets query", topic);
        return -1;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(count);
    for (int i = 0; i < count; i++)
        rd_kafka_topic_partition_list_add(l, topic, i)->offset = which;
    /* ListOffsets takes a timestamp; the two negative ones mean log start and end. */
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, l, timeout_ms);
    int rc = 0;
    for (int i = 0; i < l->cnt && rc == 0; i++) {
        rd_kafka_resp_err_t pe = e ? e : l->elems[i].err;
        int32_t partition = l->elems[i].partition;
        if (!pe && (partition < 0 || partition >= count))
            pe = RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
        if (pe) {
            ride_set_error(err, errlen, "%s[%d]: cannot read log offsets: %s", topic, i,
                           rd_kafka_err2str(pe));
            rc = -1;
        } else {
            out[partition] = l->elems[i].offset;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* ---- Topics ---- */

/* Compares an existing topic's partition count with the spec. Returns 0 when it
 * matches, 1 when it should grow, -1 (with err) when it cannot be used. */
static int check_existing(const ride_kafka_topic_spec *spec, int have, int can_grow, char *err,
                          size_t errlen)
{
    if (have == spec->partitions)
        return 0;
    if (have < spec->partitions && spec->grow && can_grow)
        return 1;
    ride_set_error(err, errlen, "topic %s exists with %d partitions, %d wanted%s", spec->name, have,
            spec->partitions,
            have > spec->partitions ? " (Kafka cannot remove partitions)"
            : can_grow              ? " (growing not allowed)"
                                    : " (the embedded broker cannot grow topics)");
    return -1;
}

static int mock_topic_ensure(ride_kafka_mock *mock, rd_kafka_t *rk,
                             const ride_kafka_topic_spec *spec, int timeout_ms, char *err,
                             size_t errlen)
{
    int have = ride_kafka_partition_count(rk, spec->name, timeout_ms, err, errlen);
    if (have < 0)
        return -1;
    if (have > 0)
        return check_existing(spec, have, 0, err, errlen);
    int rf = spec->replication_factor < 1 ? 1 : spec->replication_factor;
    /* Kafka refuses more replicas than brokers; the mock would quietly place fewer. */
    if (rf > mock->brokers) {
        ride_set_error(err, errlen, "topic %s: replication factor %d, but embedded Kafka has %d "
                "broker(s)", spec->name, rf, mock->brokers);
        return -1;
    }
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mock->cluster, spec->name,
                                                       spec->partitions, rf);
    if (e) {
        ride_set_error(err, errlen, "topic %s: embedded Kafka cannot create it with %d partitions "
                "and replication %d: %s", spec->name, spec->partitions, rf, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

/* Runs one Admin API request already queued on q and returns its result event,
 * or NULL with err set. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, rd_kafka_event_type_t type,
                                    const char *what, int timeout_ms, char *err, size_t errlen)
{
    /* The request times out on its own at timeout_ms; the margin lets that
     * answer, which says more, arrive first. */
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
    if (!ev) {
        ride_set_error(err, errlen, "%s: no answer within %d ms", what, timeout_ms);
        return NULL;
    }
    if (rd_kafka_event_type(ev) != type || rd_kafka_event_error(ev)) {
        ride_set_error(err, errlen, "%s: %s", what, rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op,
                                              int timeout_ms)
{
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
    rd_kafka_AdminOptions_set_request_timeout(o, timeout_ms, NULL, 0);
    rd_kafka_AdminOptions_set_operation_timeout(o, timeout_ms, NULL, 0);
    return o;
}

/* Topic-level outcome of a CreateTopics or CreatePartitions request. */
static rd_kafka_resp_err_t admin_topic_result(const rd_kafka_topic_result_t **res, size_t n,
                                              const char **reason)
{
    *reason = NULL;
    if (n != 1)
        return RD_KAFKA_RESP_ERR__BAD_MSG;
    *reason = rd_kafka_topic_result_error_string(res[0]);
    return rd_kafka_topic_result_error(res[0]);
}

static int admin_create(rd_kafka_t *rk, const ride_kafka_topic_spec *spec, int timeout_ms,
                        rd_kafka_resp_err_t *topic_err, char *err, size_t errlen)
{
    char reason[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(spec->name, spec->partitions,
                                                    spec->replication_factor, reason,
                                                    sizeof reason);
    if (!nt) {
        ride_set_error(err, errlen, "topic %s: %s", spec->name, reason);
        return -1;
    }
    for (size_t i = 0; i < spec->config_count; i++)
        rd_kafka_NewTopic_set_config(nt, spec->configs[i].key, spec->configs[i].value);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms);
    rd_kafka_CreateTopics(rk, &nt, 1, o, q);
    char what[300];
    snprintf(what, sizeof what, "topic %s: CreateTopics", spec->name);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, what, timeout_ms,
                                      err, errlen);
    int rc = -1;
    if (ev) {
        size_t n = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        const char *why;
        *topic_err = admin_topic_result(res, n, &why);
        rc = 0;
        if (*topic_err && *topic_err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            ride_set_error(err, errlen, "%s: %s", what, why ? why : rd_kafka_err2str(*topic_err));
            rc = -1;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

static int admin_grow(rd_kafka_t *rk, const ride_kafka_topic_spec *spec, int timeout_ms,
                      char *err, size_t errlen)
{
    char reason[256];
    rd_kafka_NewPartitions_t *np =
        rd_kafka_NewPartitions_new(spec->name, (size_t)spec->partitions, reason, sizeof reason);
    if (!np) {
        ride_set_error(err, errlen, "topic %s: %s", spec->name, reason);
        return -1;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, timeout_ms);
    rd_kafka_CreatePartitions(rk, &np, 1, o, q);
    char what[300];
    snprintf(what, sizeof what, "topic %s: CreatePartitions to %d", spec->name, spec->partitions);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT, what,
                                      timeout_ms, err, errlen);
    int rc = -1;
    if (ev) {
        size_t n = 0;
        const rd_kafka_topic_result_t **res = rd_kafka_CreatePartitions_result_topics(
            rd_kafka_event_CreatePartitions_result(ev), &n);
        const char *why;
        rd_kafka_resp_err_t e = admin_topic_result(res, n, &why);
        rc = 0;
        if (e) {
            ride_set_error(err, errlen, "%s: %s", what, why ? why : rd_kafka_err2str(e));
            rc = -1;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewPartitions_destroy(np);
    return rc;
}

/* True, with err set, unless the answer holds one resource without an error. */
static bool resources_failed(const rd_kafka_ConfigResource_t **rs, size_t n, const char *what,
                             char *err, size_t errlen)
{
    if (n == 1 && !rd_kafka_ConfigResource_error(rs[0]))
        return false;
    ride_set_error(err, errlen, "%s: %s", what,
                   n == 1 ? rd_kafka_ConfigResource_error_string(rs[0]) : "no answer");
    return true;
}

/* The topic's configuration as the brokers describe it, or NULL with err set; the
 * caller destroys the event, which owns the resource. */
static rd_kafka_event_t *admin_describe(rd_kafka_t *rk, const char *topic, int timeout_ms,
                                        const rd_kafka_ConfigResource_t **out, char *err,
                                        size_t errlen)
{
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_ms);
    rd_kafka_DescribeConfigs(rk, &res, 1, o, q);
    char what[300];
    snprintf(what, sizeof what, "topic %s: DescribeConfigs", topic);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, what, timeout_ms,
                                      err, errlen);
    size_t n = 0;
    const rd_kafka_ConfigResource_t **rs =
        ev ? rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev),
                                                       &n)
           : NULL;
    if (ev && resources_failed(rs, n, what, err, errlen)) {
        rd_kafka_event_destroy(ev);
        ev = NULL;
    }
    if (ev)
        *out = rs[0];
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
    return ev;
}

static bool spec_sets(const ride_kafka_topic_spec *spec, const char *name)
{
    return ride_kv_find(spec->configs, spec->config_count, name) != NULL;
}

static bool configs_differ(const ride_kafka_topic_spec *spec,
                           const rd_kafka_ConfigEntry_t **entries, size_t n)
{
    for (size_t c = 0; c < spec->config_count; c++) {
        bool same = false;
        for (size_t i = 0; i < n && !same; i++) {
            const char *v = rd_kafka_ConfigEntry_value(entries[i]);
            same = strcmp(rd_kafka_ConfigEntry_name(entries[i]), spec->configs[c].key) == 0 &&
                   v && strcmp(v, spec->configs[c].value) == 0;
        }
        if (!same)
            return true;
    }
    return false;
}

/* AlterConfigs with the spec's configurations plus the topic's other dynamic ones. */
static int admin_alter(rd_kafka_t *rk, const ride_kafka_topic_spec *spec,
                       const rd_kafka_ConfigEntry_t **entries, size_t n, int timeout_ms,
                       char *err, size_t errlen)
{
    rd_kafka_ConfigResource_t *res =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, spec->name);
    for (size_t i = 0; i < n; i++)
        if (rd_kafka_ConfigEntry_source(entries[i]) == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG &&
            !spec_sets(spec, rd_kafka_ConfigEntry_name(entries[i])))
            rd_kafka_ConfigResource_set_config(res, rd_kafka_ConfigEntry_name(entries[i]),
                                               rd_kafka_ConfigEntry_value(entries[i]));
    for (size_t c = 0; c < spec->config_count; c++)
        rd_kafka_ConfigResource_set_config(res, spec->configs[c].key, spec->configs[c].value);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = admin_options(rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS, timeout_ms);
    rd_kafka_AlterConfigs(rk, &res, 1, o, q);
    char what[300];
    snprintf(what, sizeof what, "topic %s: AlterConfigs", spec->name);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_ALTERCONFIGS_RESULT, what, timeout_ms,
                                      err, errlen);
    int rc = ev ? 0 : -1;
    size_t m = 0;
    const rd_kafka_ConfigResource_t **rs =
        ev ? rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &m)
           : NULL;
    if (ev && resources_failed(rs, m, what, err, errlen))
        rc = -1;
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
    return rc;
}

/* Gives an existing topic the spec's configurations where they differ. */
static int admin_align_configs(rd_kafka_t *rk, const ride_kafka_topic_spec *spec, int timeout_ms,
                               char *err, size_t errlen)
{
    if (!spec->config_count)
        return 0;
    const rd_kafka_ConfigResource_t *res = NULL;
    rd_kafka_event_t *ev = admin_describe(rk, spec->name, timeout_ms, &res, err, errlen);
    if (!ev)
        return -1;
    size_t n = 0;
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res, &n);
    int rc = configs_differ(spec, entries, n)
                 ? admin_alter(rk, spec, entries, n, timeout_ms, err, errlen)
                 : 0;
    rd_kafka_event_destroy(ev);
    return rc;
}

static int admin_topic_ensure(rd_kafka_t *rk, const ride_kafka_topic_spec *spec, int timeout_ms,
                              char *err, size_t errlen)
{
    int have = ride_kafka_partition_count(rk, spec->name, timeout_ms, err, errlen);
    if (have < 0)
        return -1;
    if (have == 0) {
        rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_NO_ERROR;
        if (admin_create(rk, spec, timeout_ms, &topic_err, err, errlen) != 0)
            return -1;
        if (topic_err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            return 0;
        /* Created by someone else since the metadata was read: check it. */
        have = ride_kafka_partition_count(rk, spec->name, timeout_ms, err, errlen);
        if (have <= 0) {
            if (have == 0)
                ride_set_error(err, errlen, "topic %s: reported as existing but not in the metadata",
                        spec->name);
            return -1;
        }
    }
    int c = check_existing(spec, have, 1, err, errlen);
    if (c < 0 || (c > 0 && admin_grow(rk, spec, timeout_ms, err, errlen)))
        return -1;
    return admin_align_configs(rk, spec, timeout_ms, err, errlen);
}

int ride_kafka_topic_ensure(ride_kafka_mock *mock, rd_kafka_t *rk,
                            const ride_kafka_topic_spec *spec, int timeout_ms, char *err,
                            size_t errlen)
{
    if (!spec->name || !spec->name[0]) {
        ride_set_error(err, errlen, "topic without a name");
        return -1;
    }
    if (spec->partitions < 1 || spec->partitions > RIDE_KAFKA_MAX_PARTITIONS) {
        ride_set_error(err, errlen, "topic %s: %d partitions, expected 1..%d", spec->name,
                spec->partitions, RIDE_KAFKA_MAX_PARTITIONS);
        return -1;
    }
    if (mock)
        return mock_topic_ensure(mock, rk ? rk : mock->client, spec, timeout_ms, err, errlen);
    if (!rk) {
        ride_set_error(err, errlen, "topic %s: no Kafka client to create it with", spec->name);
        return -1;
    }
    return admin_topic_ensure(rk, spec, timeout_ms, err, errlen);
}
