/* realkafka failover: the two-stage application on a real Kafka broker, with a
 * fault while frames flow. A worker SIGKILLed: the stage's spare takes its
 * partitions and resumes at their committed offsets. The leading master
 * SIGKILLed: the standby takes over with every partition's owner and epoch
 * intact. Either way nothing is lost by sequence number (every frame the producer
 * delivered reaches the sink) and the duplicates are counted. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ride_harness_cluster.h"

#define STREAMS 2
#define PARTITIONS 4
#define WAIT_MS 30000
/* Small segments and retention keep the broker's data small. */
#define SMALL_TOPICS "{segment.bytes: 1048576, retention.bytes: 8388608}"

static const ride_cluster_app WORKERS_APP = {.name = "rkwf",
                                             .fps = 30,
                                             .partitions = PARTITIONS,
                                             .max_workers = 2,
                                             .spares = 1,
                                             .stddev = true,
                                             .topics = SMALL_TOPICS};

static const ride_cluster_app MASTERS_APP = {.name = "rkmf",
                                             .fps = 30,
                                             .partitions = PARTITIONS,
                                             .max_workers = 2,
                                             .stddev = true,
                                             .topics = SMALL_TOPICS};

/* The first id in one stage's "active" or "spare" list of GET /v1/apps/<app>. */
static void first_member(ride_cluster_fx *fx, const char *app, const char *stage,
                         const char *role, char *out, size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/apps/%s", app);
    json_t *j = ride_cluster_fx_get(fx, path);
    size_t i;
    json_t *s;
    out[0] = '\0';
    json_array_foreach(json_object_get(j, "stages"), i, s)
    {
        const char *id = json_string_value(json_array_get(json_object_get(s, role), 0));
        if (strcmp(json_string_value(json_object_get(s, "name")), stage) == 0 && id)
            snprintf(out, len, "%s", id);
    }
    json_decref(j);
    if (!out[0])
        ride_cluster_fx_fail(fx, "stage %s of %s has no %s worker", stage, app, role);
}

typedef struct takeover_probe {
    ride_cluster_fx *fx;
    const bool *victim;
    const char *spare;
} takeover_probe;

static bool spare_owns_victims(void *ctx)
{
    takeover_probe *tp = ctx;
    char owner[130];
    for (int p = 0; p < PARTITIONS; p++)
        if (tp->victim[p] &&
            strcmp(ride_cluster_fx_owner(tp->fx, "rkwf", "gray", p, owner, sizeof owner),
                   tp->spare) != 0)
            return false;
    return true;
}

static void test_worker_failover(void **state)
{
    (void)state;
    const char *bootstrap = ride_harness_kafka_bootstrap(ride_harness_kafka_shared());
    ride_proc *workers[3];
    const char *ids[] = {"w1", "w2", "w3"};
    ride_cluster_fx *fx = ride_cluster_fx_start_on("rkwfail", bootstrap, NULL, 3, workers,
                                                   WAIT_MS);
    ride_cluster_fx_run_app(fx, &WORKERS_APP, WAIT_MS);
    char active[130], spare[130], owner[130];
    first_member(fx, "rkwf", "gray", "active", active, sizeof active);
    first_member(fx, "rkwf", "gray", "spare", spare, sizeof spare);

    ride_audit_reader *r = ride_cluster_fx_reader(fx, "rkwf.sd.out", NULL, NULL);
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    ride_cluster_fx_wait_sink(fx, r, 100, WAIT_MS);

    bool victim[PARTITIONS];
    for (int p = 0; p < PARTITIONS; p++)
        victim[p] = strcmp(ride_cluster_fx_owner(fx, "rkwf", "gray", p, owner, sizeof owner),
                           active) == 0;
    int k = 0;
    while (strcmp(ids[k], active) != 0)
        k++;
    int64_t kill_ms = ride_clock_mono_ms();
    assert_int_equal(ride_harness_proc_signal(workers[k], SIGKILL), 0);
    takeover_probe tp = {fx, victim, spare};
    if (!ride_harness_wait_until(spare_owns_victims, &tp, WAIT_MS))
        ride_cluster_fx_fail(fx, "the spare %s did not take %s's partitions", spare, active);
    printf("takeover_ms=%" PRId64 " (killed %s, spare %s)\n", ride_clock_mono_ms() - kill_ms,
           active, spare);
    ride_cluster_fx_wait_sink(fx, r, 100, WAIT_MS);
    printf("frames_again_ms=%" PRId64 "\n", ride_clock_mono_ms() - kill_ms);

    uint64_t duplicates = ride_cluster_fx_finish(fx, r, producer, "p1", STREAMS, WAIT_MS);
    printf("duplicates_after_worker_failover=%" PRIu64 "\n", duplicates);
}

/* "stage/partition=owner:epoch ..." for every partition of the application. */
static void ownership(ride_cluster_fx *fx, char *buf, size_t len)
{
    json_t *j = ride_cluster_fx_get(fx, "/v1/partitions?app=rkmf");
    size_t i, n = 0;
    json_t *p;
    buf[0] = '\0';
    json_array_foreach(json_object_get(j, "partitions"), i, p)
    {
        const char *owner = json_string_value(json_object_get(p, "owner"));
        n += (size_t)snprintf(buf + n, len - n,
                              "%s/%" JSON_INTEGER_FORMAT "=%s:%" JSON_INTEGER_FORMAT " ",
                              json_string_value(json_object_get(p, "stage")),
                              json_integer_value(json_object_get(p, "partition")),
                              owner ? owner : "-",
                              json_integer_value(json_object_get(p, "epoch")));
    }
    json_decref(j);
}

static void test_master_failover(void **state)
{
    (void)state;
    const char *bootstrap = ride_harness_kafka_bootstrap(ride_harness_kafka_shared());
    ride_cluster_fx *fx = ride_cluster_fx_new("rkmfail");
    ride_cluster_fx_use_kafka(fx, bootstrap, NULL);
    ride_proc *m1 = ride_cluster_fx_master(fx, "m1", false);
    ride_cluster_fx_wait_api(fx, NULL, WAIT_MS);
    assert_string_equal(fx->leader, "m1");
    ride_cluster_fx_master(fx, "m2", false);
    ride_cluster_fx_workers(fx, 2, NULL, WAIT_MS);
    ride_cluster_fx_run_app(fx, &MASTERS_APP, WAIT_MS);
    char before[2048], after[2048];
    ownership(fx, before, sizeof before);

    ride_audit_reader *r = ride_cluster_fx_reader(fx, "rkmf.sd.out", NULL, NULL);
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    ride_cluster_fx_wait_sink(fx, r, 60, WAIT_MS);

    int64_t kill_ms = ride_clock_mono_ms();
    assert_int_equal(ride_harness_proc_signal(m1, SIGKILL), 0);
    ride_cluster_fx_wait_api(fx, "m1", WAIT_MS);
    printf("takeover_ms=%" PRId64 " new_leader=%s\n", ride_clock_mono_ms() - kill_ms, fx->leader);
    assert_string_equal(fx->leader, "m2");
    ride_cluster_fx_wait_owned(fx, "rkmf", WAIT_MS);
    ownership(fx, after, sizeof after);
    printf("before: %s\nafter:  %s\n", before, after);
    if (strcmp(before, after) != 0)
        ride_cluster_fx_fail(fx, "ownership changed across the master failover");

    ride_cluster_fx_wait_sink(fx, r, 60, WAIT_MS);
    uint64_t duplicates = ride_cluster_fx_finish(fx, r, producer, "p1", STREAMS, WAIT_MS);
    printf("duplicates_after_master_failover=%" PRIu64 "\n", duplicates);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worker_failover),
        cmocka_unit_test(test_master_failover),
    };
    return cmocka_run_group_tests(tests, ride_harness_kafka_group_setup,
                                  ride_harness_kafka_group_teardown);
}
