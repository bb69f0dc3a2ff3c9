/* realkafka pipeline: the two-stage application (grayscale, then stddev) on a real
 * Kafka broker: one master configured with it, two workers, one producer with two
 * synthetic 160x120 sources (57,600-byte frames, far below the broker's 1 MB
 * message limit). Every frame the producer delivered reaches the sink, checked
 * by sequence number; without faults none arrives twice. */
#include <stdio.h>

#include "ride_harness_cluster.h"

#define STREAMS 2
#define WAIT_MS 30000

static const ride_cluster_app APP = {
    .name = "rkpipe", .fps = 40, .partitions = 4, .max_workers = 2, .stddev = true};

static void test_pipeline_loses_nothing(void **state)
{
    (void)state;
    const char *bootstrap = ride_harness_kafka_bootstrap(ride_harness_kafka_shared());
    ride_cluster_fx *fx = ride_cluster_fx_start_on("rkpipeline", bootstrap, NULL, 2, NULL,
                                                   WAIT_MS);
    ride_cluster_fx_run_app(fx, &APP, WAIT_MS);

    ride_audit_reader *r = ride_cluster_fx_reader(fx, "rkpipe.sd.out", NULL, NULL);
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    ride_cluster_fx_wait_sink(fx, r, 200, WAIT_MS);

    uint64_t duplicates = ride_cluster_fx_finish(fx, r, producer, "p1", STREAMS, WAIT_MS);
    assert_int_equal(duplicates, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_loses_nothing),
    };
    return cmocka_run_group_tests(tests, ride_harness_kafka_group_setup,
                                  ride_harness_kafka_group_teardown);
}
