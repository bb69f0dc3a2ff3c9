/* Daemon configs: the shipped config/master.yaml, worker.yaml and producer.yaml,
 * defaults, librdkafka properties passed through, bad configs with their exact
 * errors, and command-line overrides. */
#include "ride_test.h"

#include <string.h>

#include "spec/config.h"

static void load_ok(ride_daemon daemon, const char *relative, ride_config *cfg)
{
    char path[1024], msg[1024];
    ride_parse_error err;
    if (ride_config_load(daemon, ride_test_data(relative, path, sizeof path), cfg, &err) != 0)
        fail_msg("%s", ride_parse_error_format(&err, msg, sizeof msg));
    assert_int_equal(cfg->daemon, daemon);
}

static void parse_ok(ride_daemon daemon, const char *text, ride_config *cfg)
{
    char msg[1024];
    ride_parse_error err;
    if (ride_config_parse(daemon, "inline.yaml", text, strlen(text), cfg, &err) != 0)
        fail_msg("%s", ride_parse_error_format(&err, msg, sizeof msg));
}

static void test_shipped_master(void **state)
{
    (void)state;
    ride_config cfg;
    load_ok(RIDE_DAEMON_MASTER, "../../config/master.yaml", &cfg);
    assert_string_equal(cfg.zookeeper.connect, "127.0.0.1:2181/ride");
    assert_int_equal(cfg.zookeeper.session_timeout_ms, 6000);
    assert_null(cfg.zookeeper.digest_file);
    assert_true(cfg.kafka.embedded);
    assert_int_equal(cfg.kafka.prop_count, 0);
    assert_int_equal(cfg.embedded_kafka_brokers, 1);
    assert_string_equal(cfg.api.listen, "127.0.0.1:7480");
    assert_string_equal(cfg.api.token_file, "/etc/ride/api-token");
    assert_int_equal(cfg.topics.replication_factor, -1);
    assert_int_equal(cfg.topics.retention_ms, 600000);
    assert_int_equal(cfg.topics.partitions_max, 4096);
    assert_int_equal(cfg.heartbeat.interval_ms, 500);
    assert_int_equal(cfg.heartbeat.timeout_ms, 2000);
    assert_string_equal(cfg.metrics_listen, "127.0.0.1:9480");
    assert_int_equal(cfg.log_level, RIDE_LOG_INFO);
    ride_config_free(&cfg);
    assert_null(cfg.arena);
    ride_config_free(&cfg);
}

static void test_shipped_worker_and_producer(void **state)
{
    (void)state;
    ride_config cfg;
    load_ok(RIDE_DAEMON_WORKER, "../../config/worker.yaml", &cfg);
    assert_string_equal(cfg.zookeeper.connect, "127.0.0.1:2181/ride");
    assert_false(cfg.kafka.embedded);
    assert_int_equal(cfg.kafka.prop_count, 0);
    assert_null(cfg.worker.id);
    assert_int_equal(cfg.worker.threads, 0);
    assert_int_equal(cfg.worker.gpus, RIDE_GPUS_AUTO);
    assert_int_equal(cfg.worker.label_count, 1);
    assert_string_equal(cfg.worker.labels[0].key, "zone");
    assert_string_equal(cfg.worker.labels[0].value, "local");
    assert_int_equal(cfg.worker.plugin_dir_count, 1);
    assert_string_equal(cfg.worker.plugin_dirs[0], "/usr/lib/ride/plugins");
    assert_int_equal(cfg.worker.max_backlog_bytes, RIDE_CONFIG_BACKLOG_AUTO);
    assert_int_equal(cfg.worker.stall_timeout_ms, 20000);
    assert_int_equal(cfg.worker.transaction_interval_ms, 100);
    assert_int_equal(cfg.worker.transaction_max_frames, 64);
    assert_int_equal(cfg.worker.message_max_bytes, 1000000);
    assert_int_equal(cfg.worker.max_frame_bytes, 64 << 20);
    assert_string_equal(cfg.metrics_listen, "127.0.0.1:9481");
    ride_config_free(&cfg);

    load_ok(RIDE_DAEMON_PRODUCER, "../../config/producer.yaml", &cfg);
    assert_null(cfg.producer.id);
    assert_int_equal(cfg.producer.source_count, 0);
    assert_int_equal(cfg.producer.max_backlog_bytes, 4194304);
    assert_int_equal(cfg.producer.message_max_bytes, 1000000);
    assert_int_equal(cfg.producer.max_frame_bytes, 64 << 20);
    assert_string_equal(cfg.metrics_listen, "127.0.0.1:9482");
    ride_config_free(&cfg);
}

static void test_kafka_properties_pass_through(void **state)
{
    (void)state;
    ride_config cfg;
    load_ok(RIDE_DAEMON_MASTER, "config/master-kafka.yaml", &cfg);
    assert_string_equal(cfg.zookeeper.connect, "zk1:2181,zk2:2181,[::1]:2181/prod/ride");
    assert_int_equal(cfg.zookeeper.session_timeout_ms, 10000);
    assert_string_equal(cfg.zookeeper.digest_file, "/etc/ride/zk-digest");
    assert_false(cfg.kafka.embedded);
    static const char *const expected[][2] = {
        {"bootstrap.servers", "kafka1:9093,kafka2:9093"},
        {"security.protocol", "SASL_SSL"},
        {"sasl.mechanism", "SCRAM-SHA-512"},
        {"sasl.username", "ride"},
        {"sasl.password", "s3cr:et #1"},
        {"ssl.ca.location", "/etc/ride/kafka-ca.pem"},
        {"enable.idempotence", "true"},
        {"batch.size", "1000000"},
        {"linger.ms", "5"},
        {"client.id", ""},
        {"ssl.ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"},
    };
    size_t n = sizeof expected / sizeof expected[0];
    assert_int_equal(cfg.kafka.prop_count, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(cfg.kafka.props[i].key, expected[i][0]);
        assert_string_equal(cfg.kafka.props[i].value, expected[i][1]);
        assert_int_equal(cfg.kafka.props[i].key_pos.line, 7 + (int)i);
        assert_int_equal(cfg.kafka.props[i].key_pos.column, 3);
    }
    assert_string_equal(ride_kv_find(cfg.kafka.props, n, "linger.ms")->value, "5");
    assert_null(ride_kv_find(cfg.kafka.props, n, "linger"));
    assert_string_equal(cfg.api.listen, "0.0.0.0:7480");
    assert_int_equal(cfg.topics.replication_factor, 3);
    assert_int_equal(cfg.topics.retention_ms, 3600000);
    assert_int_equal(cfg.topics.partitions_max, 64);
    assert_int_equal(cfg.heartbeat.interval_ms, 250);
    assert_int_equal(cfg.heartbeat.timeout_ms, 1500);
    assert_string_equal(cfg.metrics_listen, "[::]:9480");
    assert_int_equal(cfg.log_level, RIDE_LOG_DEBUG);
    ride_config_free(&cfg);
}

static void test_worker_and_producer_sections(void **state)
{
    (void)state;
    ride_config cfg;
    load_ok(RIDE_DAEMON_WORKER, "config/worker-full.yaml", &cfg);
    assert_int_equal(cfg.kafka.prop_count, 2);
    assert_string_equal(cfg.kafka.props[1].key, "max.partition.fetch.bytes");
    assert_string_equal(cfg.kafka.props[1].value, "10485760");
    assert_string_equal(cfg.worker.id, "gpu-node-7.example");
    assert_int_equal(cfg.worker.threads, 16);
    assert_int_equal(cfg.worker.label_count, 2);
    assert_string_equal(cfg.worker.labels[1].value, "a100");
    assert_int_equal(cfg.worker.gpus, RIDE_GPUS_LIST);
    assert_int_equal(cfg.worker.gpu_count, 3);
    assert_int_equal(cfg.worker.gpu_indices[0], 1);
    assert_int_equal(cfg.worker.gpu_indices[1], 0);
    assert_int_equal(cfg.worker.gpu_indices[2], 3);
    assert_int_equal(cfg.worker.plugin_dir_count, 2);
    assert_string_equal(cfg.worker.plugin_dirs[1], "plugins");
    assert_int_equal(cfg.worker.max_backlog_bytes, 0);
    assert_int_equal(cfg.worker.stall_timeout_ms, 5000);
    assert_int_equal(cfg.worker.message_max_bytes, 999940);
    assert_int_equal(cfg.worker.max_frame_bytes, 268435456);
    /* A worker only sends heartbeats: a slow interval needs no timeout to match. */
    assert_int_equal(cfg.heartbeat.interval_ms, 5000);
    assert_int_equal(cfg.log_level, RIDE_LOG_WARN);
    ride_config_free(&cfg);

    parse_ok(RIDE_DAEMON_WORKER, "zookeeper: {connect: \"h:1\"}\nworker: {gpus: none}\n", &cfg);
    assert_int_equal(cfg.worker.gpus, RIDE_GPUS_NONE);
    assert_int_equal(cfg.worker.gpu_count, 0);
    ride_config_free(&cfg);

    load_ok(RIDE_DAEMON_PRODUCER, "config/producer-full.yaml", &cfg);
    assert_string_equal(cfg.producer.id, "edge-cam-host");
    assert_int_equal(cfg.producer.source_count, 2);
    assert_string_equal(cfg.producer.sources[0], "v4l2:/dev/video0");
    assert_string_equal(cfg.producer.sources[1], "file:/srv/clips/door.mp4");
    assert_int_equal(cfg.producer.max_backlog_bytes, 0);
    assert_int_equal(cfg.producer.message_max_bytes, 8388608);
    assert_int_equal(cfg.producer.max_frame_bytes, 33554432);
    assert_string_equal(cfg.metrics_listen, "127.0.0.1:0");
    assert_int_equal(cfg.log_level, RIDE_LOG_ERROR);
    ride_config_free(&cfg);
}

static void test_defaults(void **state)
{
    (void)state;
    ride_config cfg;
    parse_ok(RIDE_DAEMON_MASTER, "zookeeper: {connect: \"127.0.0.1:2181\"}\nkafka: embedded\n",
             &cfg);
    assert_true(cfg.kafka.embedded);
    assert_int_equal(cfg.embedded_kafka_brokers, 1);
    assert_string_equal(cfg.api.listen, "127.0.0.1:7480");
    assert_null(cfg.api.token_file);
    assert_int_equal(cfg.heartbeat.timeout_ms, 2000);
    assert_string_equal(cfg.file, "inline.yaml");
    ride_config_free(&cfg);

    parse_ok(RIDE_DAEMON_PRODUCER, "zookeeper:\n  connect: zk:2181\n", &cfg);
    assert_int_equal(cfg.zookeeper.session_timeout_ms, 6000);
    assert_int_equal(cfg.kafka.prop_count, 0);
    assert_int_equal(cfg.heartbeat.interval_ms, 500);
    assert_int_equal(cfg.producer.max_backlog_bytes, 4 << 20);
    assert_int_equal(cfg.log_level, RIDE_LOG_INFO);
    ride_config_free(&cfg);

    assert_string_equal(ride_daemon_name(RIDE_DAEMON_WORKER), "ride-worker");
    assert_string_equal(ride_daemon_name((ride_daemon)7), "invalid");
}

typedef struct bad_config {
    ride_daemon daemon;
    const char *text;
    int line;
    int column;
    const char *message;
} bad_config;

#define ZK "zookeeper: {connect: \"127.0.0.1:2181/ride\"}\n"

static const bad_config bad_configs[] = {
    {RIDE_DAEMON_WORKER, ZK "api:\n  listen: \"127.0.0.1:7480\"\n", 2, 1,
     "unknown key 'api' in ride-worker config"},
    {RIDE_DAEMON_PRODUCER, ZK "worker: {threads: 2}\n", 2, 1,
     "unknown key 'worker' in ride-producer config"},
    {RIDE_DAEMON_MASTER, ZK "kafka: embedded\nproducer: {}\n", 3, 1,
     "unknown key 'producer' in ride-master config"},
    {RIDE_DAEMON_WORKER, ZK "heartbeat: {interval_ms: 100, timeout_ms: 900}\n", 2, 31,
     "heartbeat: unknown key 'timeout_ms'; expected one of interval_ms"},
    {RIDE_DAEMON_WORKER, ZK "kafka: embedded\n", 2, 8,
     "kafka: 'embedded' is valid only in ride-master config"},
    {RIDE_DAEMON_MASTER, ZK, 1, 1, "missing required key 'kafka' in ride-master config"},
    {RIDE_DAEMON_MASTER, ZK "kafka:\n  security.protocol: SSL\n", 3, 3,
     "kafka: missing 'bootstrap.servers' (or use kafka: embedded)"},
    {RIDE_DAEMON_MASTER, ZK "kafka: external\n", 2, 8,
     "kafka: expected embedded or a mapping of librdkafka properties, got \"external\""},
    {RIDE_DAEMON_WORKER, ZK "kafka:\n  ssl:\n    ca: x\n", 4, 5,
     "kafka.ssl: expected a scalar value, got a mapping"},
    {RIDE_DAEMON_WORKER, ZK "kafka:\n  client.id: a\n  client.id: b\n", 4, 3,
     "kafka: duplicate key 'client.id' (first at line 3, column 3)"},
    {RIDE_DAEMON_WORKER, ZK "kafka:\n  linger.ms:\n", 3, 13,
     "kafka.linger.ms: expected a scalar value, got null"},
    {RIDE_DAEMON_WORKER, "log: {level: info}\n", 1, 1,
     "missing required key 'zookeeper' in ride-worker config"},
    {RIDE_DAEMON_WORKER, "zookeeper: {session_timeout_ms: 6000}\n", 1, 12,
     "zookeeper: missing required key 'connect'"},
    {RIDE_DAEMON_WORKER, "zookeeper: {connect: \"127.0.0.1\"}\n", 1, 22,
     "zookeeper.connect: expected HOST:PORT[,HOST:PORT...][/CHROOT]"},
    {RIDE_DAEMON_WORKER, "zookeeper: {connect: \"a:2181,b:70000\"}\n", 1, 22,
     "zookeeper.connect: expected HOST:PORT"},
    {RIDE_DAEMON_WORKER, "zookeeper: {connect: \"a:2181,\"}\n", 1, 22,
     "zookeeper.connect: expected HOST:PORT"},
    {RIDE_DAEMON_WORKER, "zookeeper: {connect: \"a:2181/ride/\"}\n", 1, 22,
     "zookeeper.connect: expected HOST:PORT"},
    {RIDE_DAEMON_WORKER, "zookeeper: {connect: \"a:2181/ride/../x\"}\n", 1, 22,
     "zookeeper.connect: expected HOST:PORT"},
    {RIDE_DAEMON_WORKER, "zookeeper:\n  connect: \"a:2181\"\n  session_timeout_ms: 10\n", 3, 23,
     "zookeeper.session_timeout_ms: expected an integer in 1000..600000, got \"10\""},
    {RIDE_DAEMON_WORKER, ZK "log: {level: verbose}\n", 2, 14,
     "log.level: expected one of debug, info, warn, error, got \"verbose\""},
    {RIDE_DAEMON_WORKER, ZK "metrics: {listen: localhost}\n", 2, 19,
     "metrics.listen: expected HOST:PORT"},
    {RIDE_DAEMON_WORKER, ZK "metrics: {listen: \"127.0.0.1:http\"}\n", 2, 19,
     "metrics.listen: expected HOST:PORT"},
    {RIDE_DAEMON_WORKER, ZK "metrics: []\n", 2, 10, "metrics: expected a mapping, got a sequence"},
    {RIDE_DAEMON_MASTER, ZK "kafka: embedded\nheartbeat: {interval_ms: 500, timeout_ms: 500}\n", 3,
     43, "heartbeat.timeout_ms: must be greater than interval_ms (500)"},
    {RIDE_DAEMON_MASTER, ZK "kafka: embedded\nheartbeat: {interval_ms: 3000}\n", 3, 26,
     "heartbeat.interval_ms: must be less than timeout_ms (2000)"},
    {RIDE_DAEMON_MASTER,
     ZK "kafka: {bootstrap.servers: \"k:9092\"}\nembedded_kafka: {brokers: 3}\n", 3, 17,
     "embedded_kafka: applies only with kafka: embedded"},
    {RIDE_DAEMON_MASTER, ZK "kafka: embedded\nembedded_kafka: {brokers: 0}\n", 3, 27,
     "embedded_kafka.brokers: expected an integer in 1..16, got \"0\""},
    {RIDE_DAEMON_MASTER, ZK "kafka: embedded\ntopics: {replication_factor: 3}\n", 3, 30,
     "topics.replication_factor: exceeds embedded_kafka.brokers (1)"},
    {RIDE_DAEMON_MASTER, ZK "kafka: embedded\ntopics: {retention_ms: 1.5}\n", 3, 24,
     "topics.retention_ms: expected an integer >= 1000, got \"1.5\""},
    {RIDE_DAEMON_MASTER, ZK "kafka: embedded\napi: {listen: \"127.0.0.1:7480\", token: x}\n", 3, 33,
     "api: unknown key 'token'; expected one of listen, token_file"},
    {RIDE_DAEMON_WORKER, ZK "worker: {gpus: [0, 0]}\n", 2, 20,
     "worker.gpus[1]: gpu 0 is listed twice"},
    {RIDE_DAEMON_WORKER, ZK "worker: {gpus: all}\n", 2, 16,
     "worker.gpus: expected auto, none or a list of device indices, got \"all\""},
    {RIDE_DAEMON_WORKER, ZK "worker: {gpus: []}\n", 2, 16, "worker.gpus: must not be empty"},
    {RIDE_DAEMON_WORKER, ZK "worker: {gpus: [64]}\n", 2, 17,
     "worker.gpus[0]: expected an integer in 0..63"},
    {RIDE_DAEMON_WORKER, ZK "worker: {threads: -1}\n", 2, 19,
     "worker.threads: expected an integer in 0..1024, got \"-1\""},
    {RIDE_DAEMON_WORKER, ZK "worker: {id: \"a/b\"}\n", 2, 14, "worker.id: invalid id"},
    {RIDE_DAEMON_WORKER, ZK "worker: {stall_timeout_ms: 50}\n", 2, 28,
     "worker.stall_timeout_ms: expected an integer in 100..3600000, got \"50\""},
    {RIDE_DAEMON_WORKER, ZK "worker: {transaction_max_frames: 0}\n", 2, 34,
     "worker.transaction_max_frames: expected an integer in 1..100000, got \"0\""},
    {RIDE_DAEMON_WORKER, ZK "worker: {plugin_dirs: /opt/plugins}\n", 2, 23,
     "worker.plugin_dirs: expected a sequence, got \"/opt/plugins\""},
    {RIDE_DAEMON_WORKER, ZK "worker: {labels: {zone: [a]}}\n", 2, 25,
     "worker.labels.zone: expected a scalar value, got a sequence"},
    {RIDE_DAEMON_PRODUCER, ZK "producer: {sources: [\"synthetic:0x1@1\"]}\n", 2, 22,
     "producer.sources[0]: invalid synthetic uri"},
    {RIDE_DAEMON_PRODUCER, ZK "producer: {message_max_bytes: 100}\n", 2, 31,
     "producer.message_max_bytes: expected an integer in 4096..1000000000, got \"100\""},
    {RIDE_DAEMON_WORKER, ZK "worker: {message_max_bytes: 4000}\n", 2, 29,
     "worker.message_max_bytes: expected an integer in 4096..1000000000, got \"4000\""},
    {RIDE_DAEMON_WORKER, ZK "worker: {max_frame_bytes: 0}\n", 2, 27,
     "worker.max_frame_bytes: expected an integer in 1..17179869184, got \"0\""},
    {RIDE_DAEMON_PRODUCER, ZK "producer: {max_frame_bytes: 17179869185}\n", 2, 29,
     "producer.max_frame_bytes: expected an integer in 1..17179869184"},
    {RIDE_DAEMON_PRODUCER, ZK "producer: {max_backlog_bytes: -1}\n", 2, 31,
     "producer.max_backlog_bytes: expected an integer in 0..1099511627776"},
    {RIDE_DAEMON_PRODUCER, ZK "producer: {max_backlog_bytes: 99999999999999999999}\n", 2, 31,
     "got \"99999999999999999999\""},
    {RIDE_DAEMON_PRODUCER, "zookeeper: [\n", 2, 1, "invalid YAML"},
    {RIDE_DAEMON_PRODUCER, "", 1, 1, "ride-producer config is empty"},
    {RIDE_DAEMON_PRODUCER, "just text\n", 1, 1,
     "top level of ride-producer config: expected a mapping, got \"just text\""},
    {RIDE_DAEMON_PRODUCER, ZK "producer: &p {id: a}\n", 2, 11,
     "anchors and aliases are not supported"},
    {RIDE_DAEMON_PRODUCER, ZK "---\n" ZK, 2, 1, "a second YAML document starts here"},
};

static void test_bad_configs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_configs / sizeof bad_configs[0]; i++) {
        const bad_config *c = &bad_configs[i];
        ride_config cfg;
        ride_parse_error err;
        char msg[1024];
        if (ride_config_parse(c->daemon, "bad.yaml", c->text, strlen(c->text), &cfg, &err) == 0)
            fail_msg("case %zu: parsed, expected an error", i);
        ride_parse_error_format(&err, msg, sizeof msg);
        if (err.line != c->line || err.column != c->column || !strstr(err.message, c->message))
            fail_msg("case %zu: got \"%s\", expected %d:%d: ...%s...", i, msg, c->line, c->column,
                     c->message);
        assert_string_equal(err.file, "bad.yaml");
        assert_null(cfg.arena);
    }
}

/* Loading the master's file as a worker's names the first master-only key. */
static void test_master_file_as_worker(void **state)
{
    (void)state;
    char path[1024];
    ride_config cfg;
    ride_parse_error err;
    assert_int_equal(ride_config_load(RIDE_DAEMON_WORKER,
                                      ride_test_data("../../config/master.yaml", path, sizeof path),
                                      &cfg, &err),
                     -1);
    assert_int_equal(err.line, 15);
    assert_int_equal(err.column, 1);
    assert_non_null(strstr(err.message, "unknown key 'embedded_kafka' in ride-worker config"));

    assert_int_equal(ride_config_load(RIDE_DAEMON_MASTER, "/nonexistent.yaml", &cfg, &err), -1);
    assert_int_equal(err.line, 0);
    assert_non_null(strstr(err.message, "cannot open"));
    assert_int_equal(ride_config_parse((ride_daemon)9, "x.yaml", "", 0, &cfg, &err), -1);
    assert_non_null(strstr(err.message, "unknown daemon kind"));
}

static void test_command_line_defaults_and_overrides(void **state)
{
    (void)state;
    ride_config cfg;
    char err[256];
    ride_config_defaults(RIDE_DAEMON_MASTER, &cfg);
    assert_true(cfg.kafka.embedded);
    assert_string_equal(cfg.metrics_listen, "127.0.0.1:9480");
    assert_int_equal(cfg.heartbeat.timeout_ms, 2000);
    ride_config_overrides none = {0};
    assert_int_equal(ride_config_override(&cfg, &none, err, sizeof err), -1);
    assert_string_equal(err, "missing --zookeeper (or zookeeper.connect in --config)");

    ride_config_defaults(RIDE_DAEMON_WORKER, &cfg);
    assert_false(cfg.kafka.embedded);
    ride_config_overrides bad = {"127.0.0.1:2181/ride", NULL, "loud"};
    assert_int_equal(ride_config_override(&cfg, &bad, err, sizeof err), -1);
    assert_string_equal(err, "invalid --log-level 'loud'");
    ride_config_overrides ok = {"127.0.0.1:2181/ride", "127.0.0.1:0", "debug"};
    assert_int_equal(ride_config_override(&cfg, &ok, err, sizeof err), 0);
    assert_string_equal(cfg.zookeeper.connect, "127.0.0.1:2181/ride");
    assert_string_equal(cfg.metrics_listen, "127.0.0.1:0");
    assert_int_equal(cfg.log_level, RIDE_LOG_DEBUG);
    assert_int_equal(cfg.zookeeper.session_timeout_ms, 6000);
    ride_config_free(&cfg);

    /* The same through one call, with and without a file. */
    assert_int_equal(ride_config_resolve(RIDE_DAEMON_WORKER, NULL, &ok, &cfg, err, sizeof err), 0);
    assert_string_equal(cfg.zookeeper.connect, "127.0.0.1:2181/ride");
    assert_int_equal(cfg.log_level, RIDE_LOG_DEBUG);
    ride_config_free(&cfg);
    assert_int_equal(ride_config_resolve(RIDE_DAEMON_MASTER, NULL, &none, &cfg, err, sizeof err),
                     -1);
    assert_string_equal(err, "missing --zookeeper (or zookeeper.connect in --config)");
    ride_config_free(&cfg);
    assert_int_equal(ride_config_resolve(RIDE_DAEMON_WORKER, "no/such/worker.yaml", &ok, &cfg,
                                         err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "no/such/worker.yaml"));
    ride_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_master),
        cmocka_unit_test(test_shipped_worker_and_producer),
        cmocka_unit_test(test_kafka_properties_pass_through),
        cmocka_unit_test(test_worker_and_producer_sections),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_master_file_as_worker),
        cmocka_unit_test(test_command_line_defaults_and_overrides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
