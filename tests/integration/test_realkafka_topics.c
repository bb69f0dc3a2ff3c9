/* realkafka topics: a master configured with a real Kafka broker creates an
 * application's topics through the Admin API (the broker creates none by itself)
 * with each stage's partition count and the master's topic settings, and
 * publishes that broker for the workers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "ride_harness_cluster.h"

#define WAIT_MS 30000
#define ADMIN_TIMEOUT_MS 10000
#define PARTITIONS 3
#define RETENTION_MS "4321000"

static const ride_cluster_app APP = {
    .name = "rkt", .fps = 5, .partitions = PARTITIONS, .max_workers = 1, .stddev = true};

static rd_kafka_t *admin_client(const char *bootstrap)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk)
        fail_msg("admin client: %s", err);
    return rk;
}

/* The entry `name` of the topic's configuration as the broker describes it. */
typedef struct topic_setting {
    char value[64];
    rd_kafka_ConfigSource_t source;
    bool found;
} topic_setting;

static void copy_setting(const rd_kafka_ConfigResource_t *res, const char *name,
                         topic_setting *out)
{
    size_t n = 0;
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res, &n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rd_kafka_ConfigEntry_name(entries[i]), name) != 0)
            continue;
        const char *v = rd_kafka_ConfigEntry_value(entries[i]);
        snprintf(out->value, sizeof out->value, "%s", v ? v : "");
        out->source = rd_kafka_ConfigEntry_source(entries[i]);
        out->found = true;
    }
}

static topic_setting describe_setting(rd_kafka_t *rk, const char *topic, const char *name)
{
    topic_setting s = {.found = false};
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(o, ADMIN_TIMEOUT_MS, NULL, 0);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConfigs(rk, &res, 1, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 5000);
    assert_non_null(ev);
    if (rd_kafka_event_error(ev))
        fail_msg("DescribeConfigs %s: %s", topic, rd_kafka_event_error_string(ev));
    size_t n = 0;
    const rd_kafka_ConfigResource_t **described = rd_kafka_DescribeConfigs_result_resources(
        rd_kafka_event_DescribeConfigs_result(ev), &n);
    assert_int_equal(n, 1);
    if (rd_kafka_ConfigResource_error(described[0]))
        fail_msg("DescribeConfigs %s: %s", topic,
                 rd_kafka_ConfigResource_error_string(described[0]));
    copy_setting(described[0], name, &s);
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ConfigResource_destroy(res);
    return s;
}

static void test_topics_created_through_admin_api(void **state)
{
    (void)state;
    const char *bootstrap = ride_harness_kafka_bootstrap(ride_harness_kafka_shared());
    ride_cluster_fx *fx = ride_cluster_fx_start_on(
        "rktopics", bootstrap, "topics:\n  retention_ms: " RETENTION_MS "\n", 1, NULL, WAIT_MS);
    /* The master publishes the configured broker, not an embedded one. */
    assert_string_equal(fx->bootstrap, bootstrap);
    assert_false(fx->embedded);
    ride_cluster_fx_run_app(fx, &APP, WAIT_MS);

    rd_kafka_t *rk = admin_client(bootstrap);
    static const char *const topics[] = {"ride.rkt.gray", "ride.rkt.sd", "rkt.sd.out"};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        char err[512];
        int have = ride_kafka_partition_count(rk, topics[i], ADMIN_TIMEOUT_MS, err, sizeof err);
        if (have != PARTITIONS)
            ride_cluster_fx_fail(fx, "topic %s: %d partitions, want %d (%s)", topics[i], have,
                                 PARTITIONS, have < 0 ? err : "");
        topic_setting retention = describe_setting(rk, topics[i], "retention.ms");
        printf("%s: partitions=%d retention.ms=%s source=%s\n", topics[i], have,
               retention.value, rd_kafka_ConfigSource_name(retention.source));
        assert_true(retention.found);
        assert_string_equal(retention.value, RETENTION_MS);
        assert_int_equal(retention.source, RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG);
    }
    rd_kafka_destroy(rk);
    ride_cluster_fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topics_created_through_admin_api),
    };
    return cmocka_run_group_tests(tests, ride_harness_kafka_group_setup,
                                  ride_harness_kafka_group_teardown);
}
