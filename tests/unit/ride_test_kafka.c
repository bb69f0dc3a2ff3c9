/* The mock Kafka cluster helpers for tests. */
#include "ride_test_kafka.h"

#define TOPIC_TIMEOUT_MS 10000

ride_kafka_mock *ride_test_kafka_mock(void)
{
    char err[512];
    ride_kafka_mock *mock = ride_kafka_mock_start(1, err, sizeof err);
    if (!mock)
        fail_msg("mock cluster: %s", err);
    return mock;
}

rd_kafka_conf_t *ride_test_kafka_conf(ride_kafka_mock *mock, ride_kafka_role role)
{
    ride_parse_error perr;
    rd_kafka_conf_t *conf =
        ride_kafka_conf_new(role, ride_kafka_mock_bootstraps(mock), true, NULL, 0, NULL, &perr);
    if (!conf)
        fail_msg("conf: %s", perr.message);
    return conf;
}

void ride_test_kafka_topic(ride_kafka_mock *mock, const char *topic, int partitions)
{
    char err[512];
    ride_kafka_topic_spec spec = {.name = topic, .partitions = partitions, .replication_factor = -1};
    if (ride_kafka_topic_ensure(mock, NULL, &spec, TOPIC_TIMEOUT_MS, err, sizeof err))
        fail_msg("create %s: %s", topic, err);
}
