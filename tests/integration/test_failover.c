/* failover: SIGKILL of a worker while a spare waits. The spare takes the dead
 * worker's partitions and resumes at their committed offsets: no frame is lost
 * (duplicates are counted and printed). Prints recovery_seconds, from the kill to
 * the first frame the spare commits on a partition of the dead worker; with the
 * default timeouts (heartbeat every 500 ms, failed after 2 s) it must be < 3 s. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ride_harness_cluster.h"
#include "cluster/cluster.h"
#include "kafka/kafka.h"

#define STREAMS 2
#define PARTITIONS 6
#define WAIT_MS 30000
#define RECOVERY_LIMIT_S 3.0

static const ride_cluster_app APP = {
    .name = "fail", .fps = 40, .partitions = PARTITIONS, .max_workers = 3, .spares = 1,
    .stddev = true};

/* The ids in one stage's "active" or "spare" list of GET /v1/apps/fail. */
static size_t stage_members(ride_cluster_fx *fx, const char *stage, const char *role,
                            char ids[][130], size_t cap)
{
    json_t *j = ride_cluster_fx_get(fx, "/v1/apps/fail");
    size_t i, n = 0;
    json_t *s;
    json_array_foreach(json_object_get(j, "stages"), i, s)
    {
        if (strcmp(json_string_value(json_object_get(s, "name")), stage) != 0)
            continue;
        size_t k;
        json_t *id;
        json_array_foreach(json_object_get(s, role), k, id)
        {
            if (n < cap)
                snprintf(ids[n++], 130, "%s", json_string_value(id));
        }
    }
    json_decref(j);
    return n;
}

static void committed(ride_cluster_fx *fx, ride_kafka_consumer *c, int64_t *out)
{
    ride_kafka_tp tps[PARTITIONS];
    char err[256];
    for (int p = 0; p < PARTITIONS; p++)
        tps[p] = (ride_kafka_tp){"ride.fail.gray", p, RIDE_KAFKA_OFFSET_NONE};
    if (ride_kafka_committed(c, tps, PARTITIONS, 5000, err, sizeof err))
        ride_cluster_fx_fail(fx, "committed offsets: %s", err);
    for (int p = 0; p < PARTITIONS; p++)
        out[p] = tps[p].offset;
}

typedef struct recovery_probe {
    ride_cluster_fx *fx;
    ride_kafka_consumer *c;
    const bool *victim;
    const int64_t *at_kill;
} recovery_probe;

static bool spare_committed(void *ctx)
{
    recovery_probe *rp = ctx;
    int64_t now[PARTITIONS];
    committed(rp->fx, rp->c, now);
    for (int p = 0; p < PARTITIONS; p++)
        if (rp->victim[p] && now[p] > rp->at_kill[p])
            return true;
    return false;
}

static ride_kafka_consumer *group_reader(ride_cluster_fx *fx)
{
    ride_parse_error perr;
    char err[256];
    rd_kafka_conf_t *conf =
        ride_kafka_conf_new(RIDE_KAFKA_CONSUMER, fx->bootstrap, true, NULL, 0, NULL, &perr);
    ride_kafka_consumer *c =
        conf ? ride_kafka_consumer_new(conf, "ride.fail.gray", err, sizeof err) : NULL;
    assert_non_null(c);
    return c;
}

static void test_failover(void **state)
{
    (void)state;
    const char *ids[] = {"w1", "w2", "w3", "w4"};
    ride_proc *workers[4];
    ride_cluster_fx *fx = ride_cluster_fx_start("failover", 4, workers, WAIT_MS);
    ride_cluster_fx_run_app(fx, &APP, WAIT_MS);

    char active[4][130], spare[4][130];
    assert_int_equal(stage_members(fx, "gray", "active", active, 4), 3);
    assert_int_equal(stage_members(fx, "gray", "spare", spare, 4), 1);
    ride_audit_reader *r = ride_cluster_fx_reader(fx, "fail.sd.out", NULL, NULL);
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    ride_cluster_fx_wait_sink(fx, r, 100, WAIT_MS);

    /* Kill the first active worker of stage gray. */
    bool victim[PARTITIONS];
    char owner[130];
    for (int p = 0; p < PARTITIONS; p++)
        victim[p] = strcmp(ride_cluster_fx_owner(fx, "fail", "gray", p, owner, sizeof owner),
                           active[0]) == 0;
    int k = 0;
    while (strcmp(ids[k], active[0]) != 0)
        k++;
    ride_kafka_consumer *c = group_reader(fx);
    int64_t kill_ns = ride_clock_mono_ns();
    assert_int_equal(ride_harness_proc_signal(workers[k], SIGKILL), 0);
    int64_t at_kill[PARTITIONS];
    committed(fx, c, at_kill);
    recovery_probe rp = {fx, c, victim, at_kill};
    if (!ride_harness_wait_until(spare_committed, &rp, WAIT_MS))
        ride_cluster_fx_fail(fx, "no partition of %s was committed again after its death",
                             active[0]);
    double recovery = (double)(ride_clock_mono_ns() - kill_ns) / 1e9;
    printf("recovery_seconds=%.3f (killed %s, spare %s)\n", recovery, active[0], spare[0]);
    for (int p = 0; p < PARTITIONS; p++)
        if (victim[p])
            assert_string_equal(ride_cluster_fx_owner(fx, "fail", "gray", p, owner, sizeof owner),
                                spare[0]);

    ride_cluster_fx_wait_sink(fx, r, 100, WAIT_MS);
    if (recovery >= RECOVERY_LIMIT_S)
        ride_cluster_fx_fail(fx, "recovery took %.3f s, limit %.1f s", recovery,
                             RECOVERY_LIMIT_S);
    ride_kafka_consumer_free(c);
    uint64_t duplicates = ride_cluster_fx_finish(fx, r, producer, "p1", STREAMS, WAIT_MS);
    printf("duplicates_after_failover=%" PRIu64 "\n", duplicates);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup,
                                  ride_harness_zk_group_teardown);
}
