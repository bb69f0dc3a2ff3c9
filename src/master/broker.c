/* broker.c - Kafka topics for the stages, and the embedded broker.
 *
 * With `kafka: embedded` one master hosts librdkafka's mock cluster: the first to
 * create the ephemeral /cluster/kafka node. Hosting is separate from leading (a
 * master started with --broker-only hosts and never leads), so a leader can die
 * without taking the broker's data with it. The mock cluster can only create
 * topics in its own process, so the leader asks for a topic by writing
 * /cluster/topics/<topic> (the partition count) and the host creates it; the
 * leader then waits until Kafka's metadata shows the topic. With a real Kafka the
 * leader creates topics itself through the Admin API. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master.h"
#include "base/log.h"

#define METADATA_TIMEOUT_MS 2000
#define CREATE_TIMEOUT_MS 10000

static bool topic_created(const ride_master *m, const char *topic)
{
    for (size_t i = 0; i < m->created_topic_count; i++)
        if (strcmp(m->created_topics[i], topic) == 0)
            return true;
    return false;
}

static void remember_topic(ride_master *m, const char *topic)
{
    char **grown = realloc(m->created_topics, (m->created_topic_count + 1) * sizeof *grown);
    if (!grown)
        return;
    m->created_topics = grown;
    if ((grown[m->created_topic_count] = strdup(topic)))
        m->created_topic_count++;
}

static int parse_partitions(const char *data, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(data, &end, 10);
    if (errno || end == data || *end || v < 1 || v > RIDE_KAFKA_MAX_PARTITIONS)
        return -1;
    *out = (int)v;
    return 0;
}

static void create_requested(ride_master *m, const char *topic)
{
    char path[RIDE_ZK_PATH_MAX];
    char *data = NULL;
    size_t len = 0;
    int partitions = 0;
    snprintf(path, sizeof path, "%s/%s", RIDE_MASTER_PATH_TOPICS, topic);
    if (ride_zk_get(m->zk, path, &data, &len, NULL) != RIDE_ZK_OK)
        return;
    if (parse_partitions(data, &partitions)) {
        ride_log_warn("bad_topic_request", "path=%s expected=integer_in_1..%d", path,
                      RIDE_KAFKA_MAX_PARTITIONS);
        remember_topic(m, topic); /* reported once */
        free(data);
        return;
    }
    free(data);
    ride_kafka_topic_spec spec = {.name = topic, .partitions = partitions,
                                  .replication_factor = m->cfg->topics.replication_factor};
    char err[512];
    if (ride_kafka_topic_ensure(m->mock, NULL, &spec, CREATE_TIMEOUT_MS, err, sizeof err)) {
        ride_log_error("topic_not_created", "topic=%s error=%s", topic,
                       ride_log_quote(err, (char[600]){0}, 600));
        return;
    }
    ride_log_info("topic_created", "topic=%s partitions=%d broker=embedded", topic, partitions);
    remember_topic(m, topic);
}

static void serve_topic_requests(ride_master *m)
{
    ride_zk_strings topics = {0};
    if (ride_zk_get_children(m->zk, RIDE_MASTER_PATH_TOPICS, &topics) != RIDE_ZK_OK)
        return;
    for (size_t i = 0; i < topics.count; i++)
        if (!topic_created(m, topics.items[i]))
            create_requested(m, topics.items[i]);
    ride_zk_strings_free(&topics);
}

static ride_zk_err publish_broker(ride_master *m)
{
    ride_cluster_kafka k = {.bootstrap_servers = ride_kafka_mock_bootstraps(m->mock),
                            .embedded = true};
    char err[256];
    char *json = ride_cluster_kafka_encode(&k, err, sizeof err);
    if (!json)
        return RIDE_ZK_ERROR;
    ride_zk_err rc = ride_zk_create(m->zk, RIDE_CLUSTER_PATH_KAFKA, json, strlen(json),
                                    RIDE_ZK_EPHEMERAL, NULL, 0);
    free(json);
    return rc;
}

static void try_host(ride_master *m)
{
    if (ride_zk_exists(m->zk, RIDE_CLUSTER_PATH_KAFKA, NULL) != RIDE_ZK_NONODE)
        return;
    char err[512];
    int brokers = m->cfg->embedded_kafka_brokers > 0 ? m->cfg->embedded_kafka_brokers : 1;
    m->mock = ride_kafka_mock_start(brokers, err, sizeof err);
    if (!m->mock) {
        ride_log_error("broker_not_started", "error=%s", ride_log_quote(err, (char[600]){0}, 600));
        return;
    }
    if (publish_broker(m) != RIDE_ZK_OK) {
        ride_kafka_mock_stop(m->mock); /* another master was faster */
        m->mock = NULL;
        return;
    }
    ride_log_info("broker_hosting", "bootstrap=%s brokers=%d", ride_kafka_mock_bootstraps(m->mock),
                  brokers);
}

void ride_master_broker_tick(ride_master *m)
{
    if (!m->cfg->kafka.embedded || ride_zk_state(m->zk) != RIDE_ZK_SESSION_CONNECTED)
        return;
    if (!m->mock) {
        try_host(m);
        return;
    }
    /* A new session lost the ephemeral node: publish the address again. */
    if (ride_zk_exists(m->zk, RIDE_CLUSTER_PATH_KAFKA, NULL) == RIDE_ZK_NONODE)
        publish_broker(m);
    serve_topic_requests(m);
}

void ride_master_broker_stop(ride_master *m)
{
    ride_kafka_mock_stop(m->mock);
    m->mock = NULL;
    for (size_t i = 0; i < m->created_topic_count; i++)
        free(m->created_topics[i]);
    free(m->created_topics);
    m->created_topics = NULL;
    m->created_topic_count = 0;
}

rd_kafka_conf_t *ride_master_kafka_conf(const ride_config *cfg, ride_kafka_role role,
                                        const char *bootstrap)
{
    ride_parse_error perr;
    char err[1024];
    const ride_config_kafka *k = &cfg->kafka;
    rd_kafka_conf_t *conf = ride_kafka_conf_new(role, bootstrap, k->embedded, k->embedded ? NULL : k->props,
                                                k->embedded ? 0 : k->prop_count, cfg->file, &perr);
    if (!conf)
        ride_log_error("kafka_config_failed", "error=%s",
                       ride_log_quote(ride_parse_error_format(&perr, err, sizeof err),
                                      (char[1100]){0}, 1100));
    return conf;
}

rd_kafka_t *ride_master_kafka_admin(const ride_config *cfg, const char *bootstrap)
{
    rd_kafka_conf_t *conf = ride_master_kafka_conf(cfg, RIDE_KAFKA_ADMIN, bootstrap);
    char err[512];
    rd_kafka_t *rk = conf ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err) : NULL;
    if (conf && !rk) {
        rd_kafka_conf_destroy(conf);
        ride_log_error("kafka_client_failed", "error=%s", ride_log_quote(err, (char[600]){0}, 600));
    }
    return rk;
}

static int request_topic(ride_master *m, const char *topic, int partitions)
{
    char path[RIDE_ZK_PATH_MAX];
    char data[16];
    snprintf(path, sizeof path, "%s/%s", RIDE_MASTER_PATH_TOPICS, topic);
    snprintf(data, sizeof data, "%d", partitions);
    ride_zk_err rc = ride_zk_create(m->zk, path, data, strlen(data), 0, NULL, 0);
    if (rc == RIDE_ZK_NONODE && ride_zk_ensure_path(m->zk, RIDE_MASTER_PATH_TOPICS) == RIDE_ZK_OK)
        rc = ride_zk_create(m->zk, path, data, strlen(data), 0, NULL, 0);
    return rc == RIDE_ZK_OK || rc == RIDE_ZK_NODEEXISTS ? 0 : -1;
}

/* Room for the text of each topic setting's value. */
typedef struct topic_configs {
    ride_kv kv[4];
    char text[4][24];
    size_t count;
} topic_configs;

static void add_config(topic_configs *c, const char *name, int64_t value)
{
    if (!value)
        return;
    snprintf(c->text[c->count], sizeof c->text[c->count], "%" PRId64, value);
    c->kv[c->count] = (ride_kv){.key = name, .value = c->text[c->count]};
    c->count++;
}

/* The manifest's topic settings over RIDE's defaults: retention.ms from the
 * master's topics.retention_ms, retention.bytes and segment.bytes bounded so that
 * whole frames cannot fill a broker's disk (docs/decisions.md). */
static void topic_configs_of(const ride_master *m, const ride_topic_settings *t, topic_configs *c)
{
    c->count = 0;
    add_config(c, "retention.ms", t->retention_ms ? t->retention_ms : m->cfg->topics.retention_ms);
    add_config(c, "retention.bytes",
               t->retention_bytes ? t->retention_bytes : RIDE_TOPIC_DEFAULT_RETENTION_BYTES);
    add_config(c, "segment.bytes",
               t->segment_bytes ? t->segment_bytes : RIDE_TOPIC_DEFAULT_SEGMENT_BYTES);
    add_config(c, "segment.ms", t->segment_ms);
}

int ride_master_topic_ready(ride_master *m, const char *topic, int partitions,
                            const ride_topic_settings *settings, char *err, size_t errlen)
{
    if (!m->bootstrap)
        return 0;
    if (!m->bootstrap_embedded) {
        topic_configs c;
        topic_configs_of(m, settings, &c);
        /* Growing is safe here: an application's partition count can only change
         * when it is applied anew, and its producers and writers start over then. */
        ride_kafka_topic_spec spec = {.name = topic,
                                      .partitions = partitions,
                                      .replication_factor = m->cfg->topics.replication_factor,
                                      .configs = c.kv,
                                      .config_count = c.count,
                                      .grow = 1};
        return ride_master_topics_ready(m->topics, m->bootstrap, &spec, err, errlen);
    }
    if (!m->admin || request_topic(m, topic, partitions))
        return 0;
    int have = ride_kafka_partition_count(m->admin, topic, METADATA_TIMEOUT_MS, err, errlen);
    if (have < 0 || have == 0)
        return 0;
    if (have != partitions) {
        snprintf(err, errlen, "topic %s has %d partitions, the stage needs %d", topic, have,
                 partitions);
        return -1;
    }
    return 1;
}
