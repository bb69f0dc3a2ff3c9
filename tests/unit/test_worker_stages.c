/* The worker's stages against librdkafka's in-process mock cluster: applying an
 * assignment adds its partitions, and stops adding them once a newer assignment
 * waits (the master may have moved the rest meanwhile); the newer one, applied
 * next, adds what it names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "stages.h"
#include "ride_test_kafka.h"
#include "spec/config.h"
#include "tasks/host.h"

#define PARTITIONS 3
#define INPUT "ride.app.gray"
#define OUTPUT "app.gray.out"

typedef struct fixture {
    ride_kafka_mock *mock;
    ride_config cfg;
    ride_task_registry *registry;
    ride_worker_gpus gpus;
    ride_worker_metrics metrics;
    int superseded_after; /* looks answered "not superseded" before saying so */
    int looks;
} fixture;

static bool newer_waits(void *ctx)
{
    fixture *fx = ctx;
    return ++fx->looks > fx->superseded_after;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    char err[512];
    fx->mock = ride_test_kafka_mock();
    ride_test_kafka_topic(fx->mock, INPUT, PARTITIONS);
    ride_test_kafka_topic(fx->mock, OUTPUT, PARTITIONS);
    ride_config_defaults(RIDE_DAEMON_WORKER, &fx->cfg);
    assert_non_null(fx->registry = ride_task_registry_new());
    if (ride_worker_metrics_init(&fx->metrics, err, sizeof err) != 0)
        fail_msg("metrics: %s", err);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ride_metrics_free(fx->metrics.reg);
    ride_task_registry_free(fx->registry);
    ride_config_free(&fx->cfg);
    ride_kafka_mock_stop(fx->mock);
    free(fx);
    return 0;
}

static ride_worker_stages *stages_of(fixture *fx)
{
    ride_worker_stages_env env = {.cfg = &fx->cfg,
                                  .registry = fx->registry,
                                  .gpus = &fx->gpus,
                                  .metrics = &fx->metrics,
                                  .superseded = newer_waits,
                                  .superseded_ctx = fx};
    ride_worker_stages *s = ride_worker_stages_new(&env);
    assert_non_null(s);
    return s;
}

/* Every partition of the gray stage under epoch 1, writing to a sink topic. */
static void gray_assignment(ride_cluster_assignment *a, ride_cluster_partition_task *t)
{
    for (int p = 0; p < PARTITIONS; p++)
        t[p] = (ride_cluster_partition_task){.app = "app",
                                             .stage = "gray",
                                             .partition = p,
                                             .epoch = 1,
                                             .input_topic = INPUT,
                                             .output_topic = OUTPUT,
                                             .output_partitions = PARTITIONS,
                                             .group = INPUT,
                                             .task = "grayscale",
                                             .threads = 1};
    *a = (ride_cluster_assignment){.generation = 1, .epoch = 2, .partitions = t,
                                   .partition_count = PARTITIONS};
}

static void test_apply_adds_every_partition(void **state)
{
    fixture *fx = *state;
    fx->superseded_after = 1000;
    ride_worker_stages *s = stages_of(fx);
    ride_cluster_assignment a;
    ride_cluster_partition_task t[PARTITIONS];
    gray_assignment(&a, t);
    ride_worker_stages_apply(s, &a, ride_kafka_mock_bootstraps(fx->mock), true);
    assert_int_equal(ride_worker_stages_owned(s), PARTITIONS);
    ride_worker_stages_apply(s, NULL, NULL, true);
    assert_int_equal(ride_worker_stages_owned(s), 0);
    ride_worker_stages_free(s);
}

static void test_apply_stops_when_a_newer_assignment_waits(void **state)
{
    fixture *fx = *state;
    fx->superseded_after = 1; /* the first partition is added, then a newer one waits */
    ride_worker_stages *s = stages_of(fx);
    ride_cluster_assignment a;
    ride_cluster_partition_task t[PARTITIONS];
    gray_assignment(&a, t);
    const char *bootstrap = ride_kafka_mock_bootstraps(fx->mock);
    ride_worker_stages_apply(s, &a, bootstrap, true);
    assert_int_equal(ride_worker_stages_owned(s), 1);

    /* The newer assignment names partitions 1 and 2 only: 0 is released, the
     * others are added now that nothing newer waits. */
    fx->superseded_after = fx->looks + 1000;
    ride_cluster_assignment newer = a;
    newer.epoch = 3;
    newer.partitions = t + 1;
    newer.partition_count = PARTITIONS - 1;
    ride_worker_stages_apply(s, &newer, bootstrap, true);
    assert_int_equal(ride_worker_stages_owned(s), PARTITIONS - 1);
    ride_worker_partition_stats *st = ride_worker_stages_stats(s);
    assert_non_null(st);
    for (size_t i = 0; i < PARTITIONS - 1; i++)
        assert_int_not_equal(st[i].partition, 0);
    free(st);
    ride_worker_stages_apply(s, NULL, NULL, true);
    ride_worker_stages_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply_adds_every_partition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_stops_when_a_newer_assignment_waits, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
