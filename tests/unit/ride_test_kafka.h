/* ride_test_kafka.h - librdkafka's in-process mock cluster for tests: each helper
 * fails the running cmocka test with the reason instead of returning an error. */
#ifndef RIDE_TEST_KAFKA_H
#define RIDE_TEST_KAFKA_H

#include "ride_test.h"
#include "kafka/kafka.h"

/* A mock cluster of one broker. */
ride_kafka_mock *ride_test_kafka_mock(void);
/* A client configuration for role against the mock, as the daemons configure theirs. */
rd_kafka_conf_t *ride_test_kafka_conf(ride_kafka_mock *mock, ride_kafka_role role);
/* Creates topic with `partitions` partitions (nothing to do when it exists). */
void ride_test_kafka_topic(ride_kafka_mock *mock, const char *topic, int partitions);

#endif
