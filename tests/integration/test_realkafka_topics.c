/* realkafka topics: a master configured with a real Kafka broker creates an
 * application's topics through the Admin API (the broker creates none by itself)
 * with each stage's partition count and the manifest's topic settings over RIDE's
 * defaults, and publishes that broker for the workers. Applied again with other
 * settings, the application's existing topics get them (the settings an operator
 * gave a topic stay); deleted and applied with more partitions, its topics grow
 * through CreatePartitions. Checked with the broker's metadata and DescribeConfigs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "ride_harness_cluster.h"

#define WAIT_MS 30000
#define ADMIN_TIMEOUT_MS 10000
#define PARTITIONS 3
#define GROWN 5
/* The master's topics.retention_ms: the default where the manifest sets none. */
#define RETENTION_MS "4321000"
#define OPERATOR_KEY "delete.retention.ms"
#define OPERATOR_VALUE "86400001"

static const char *const TOPICS[] = {"ride.rkt.gray", "ride.rkt.sd", "rkt.sd.out"};
#define TOPIC_COUNT (sizeof TOPICS / sizeof TOPICS[0])

static const ride_cluster_app APP = {.name = "rkt",
                                     .fps = 5,
                                     .partitions = PARTITIONS,
                                     .max_workers = 1,
                                     .stddev = true,
                                     .topics = "{segment.bytes: 1048576, retention.bytes: 8388608}"};

static const ride_cluster_app CHANGED = {
    .name = "rkt",
    .fps = 5,
    .partitions = PARTITIONS,
    .max_workers = 1,
    .stddev = true,
    .topics = "{segment.bytes: 2097152, retention.bytes: 8388608, retention.ms: 5432000}"};

static const ride_cluster_app GROWN_APP = {.name = "rkt",
                                           .fps = 5,
                                           .partitions = GROWN,
                                           .max_workers = 1,
                                           .stddev = true,
                                           .topics = CHANGED.topics};

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

/* One expected setting of every topic. */
typedef struct expected_setting {
    const char *name;
    const char *value;
} expected_setting;

typedef struct topics_probe {
    rd_kafka_t *rk;
    int partitions;
    const expected_setting *settings;
    size_t count;
    char last[1024]; /* what differed last */
} topics_probe;

static bool topics_as_expected(void *ctx)
{
    topics_probe *p = ctx;
    for (size_t t = 0; t < TOPIC_COUNT; t++) {
        char err[512];
        int have = ride_kafka_partition_count(p->rk, TOPICS[t], ADMIN_TIMEOUT_MS, err, sizeof err);
        if (have != p->partitions) {
            snprintf(p->last, sizeof p->last, "%s: %d partitions, want %d %s", TOPICS[t], have,
                     p->partitions, have < 0 ? err : "");
            return false;
        }
        for (size_t i = 0; i < p->count; i++) {
            topic_setting s = describe_setting(p->rk, TOPICS[t], p->settings[i].name);
            if (!s.found || strcmp(s.value, p->settings[i].value) != 0 ||
                s.source != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG) {
                snprintf(p->last, sizeof p->last, "%s: %s=%s (%s), want %s set on the topic",
                         TOPICS[t], p->settings[i].name, s.value,
                         rd_kafka_ConfigSource_name(s.source), p->settings[i].value);
                return false;
            }
        }
    }
    return true;
}

static void expect_topics(ride_cluster_fx *fx, rd_kafka_t *rk, int partitions,
                          const expected_setting *settings, size_t count)
{
    topics_probe p = {.rk = rk, .partitions = partitions, .settings = settings, .count = count};
    if (!ride_harness_wait_until(topics_as_expected, &p, WAIT_MS))
        ride_cluster_fx_fail(fx, "topics not as expected within %d ms: %s", WAIT_MS, p.last);
    for (size_t i = 0; i < count; i++)
        printf("every topic: partitions=%d %s=%s\n", partitions, settings[i].name,
               settings[i].value);
}

/* An operator's own setting, given with the non-incremental AlterConfigs, which
 * drops the topic's other dynamic settings, RIDE's included. */
static void operator_sets(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_ConfigResource_set_config(res, OPERATOR_KEY, OPERATOR_VALUE);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(o, ADMIN_TIMEOUT_MS, NULL, 0);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AlterConfigs(rk, &res, 1, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 5000);
    assert_non_null(ev);
    if (rd_kafka_event_error(ev))
        fail_msg("AlterConfigs %s: %s", topic, rd_kafka_event_error_string(ev));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ConfigResource_destroy(res);
}

static void apply_expecting(ride_cluster_fx *fx, const ride_cluster_app *app, int status)
{
    char buf[2048], *body = NULL;
    int got = ride_cluster_fx_apply(fx, ride_cluster_app_manifest(app, buf, sizeof buf), &body);
    if (got != status)
        ride_cluster_fx_fail(fx, "apply %s: HTTP %d %s, want %d", app->name, got,
                             body ? body : "", status);
    free(body);
}

static bool app_gone(void *ctx)
{
    return ride_cluster_fx_call(ctx, "GET", "/v1/apps/rkt", NULL, NULL, NULL) == 404;
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
    const expected_setting created[] = {{"retention.ms", RETENTION_MS},
                                        {"retention.bytes", "8388608"},
                                        {"segment.bytes", "1048576"}};
    expect_topics(fx, rk, PARTITIONS, created, 3);

    /* Changed settings reach the existing topics; the operator's stays. */
    operator_sets(rk, TOPICS[0]);
    apply_expecting(fx, &CHANGED, 200);
    const expected_setting changed[] = {{"retention.ms", "5432000"},
                                        {"retention.bytes", "8388608"},
                                        {"segment.bytes", "2097152"}};
    expect_topics(fx, rk, PARTITIONS, changed, 3);
    topic_setting kept = describe_setting(rk, TOPICS[0], OPERATOR_KEY);
    if (!kept.found || strcmp(kept.value, OPERATOR_VALUE) != 0)
        ride_cluster_fx_fail(fx, "%s: the operator's %s is %s now", TOPICS[0], OPERATOR_KEY,
                             kept.value);

    /* A running application's partitions cannot change; applied anew they grow. */
    apply_expecting(fx, &GROWN_APP, 400);
    assert_int_equal(ride_cluster_fx_call(fx, "DELETE", "/v1/apps/rkt", NULL, RIDE_CLUSTER_TOKEN,
                                          NULL) / 100, 2);
    if (!ride_harness_wait_until(app_gone, fx, WAIT_MS))
        ride_cluster_fx_fail(fx, "application rkt not deleted within %d ms", WAIT_MS);
    ride_cluster_fx_run_app(fx, &GROWN_APP, WAIT_MS);
    expect_topics(fx, rk, GROWN, changed, 3);
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
