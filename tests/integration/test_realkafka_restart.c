/* realkafka restart: the broker SIGKILLed while the two-stage application runs,
 * kept down for 10 s, then started again on the same port and data. Every daemon
 * stays up through the outage and recovers by itself: frames reach the sink again
 * within RECOVERY_LIMIT_MS of the restart, and every frame is accounted for: at
 * the sink by sequence number, or counted as dropped by the producer. The
 * workers' stall timeout is a little above the outage: no call of a processing
 * thread may wait out the whole of it (a synchronous offset commit did). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ride_harness_cluster.h"

#define STREAMS 2
#define WAIT_MS 30000
#define DOWN_MS 10000
#define RECOVERY_LIMIT_MS 25000
#define STALL_TIMEOUT_MS 12000

static const ride_cluster_app APP = {.name = "rkrs",
                                     .fps = 20,
                                     .partitions = 2,
                                     .max_workers = 2,
                                     .stddev = true,
                                     .topics = "{segment.bytes: 1048576, retention.bytes: 8388608}"};

static const char *const DAEMON_IDS[] = {"w1", "w2", "p1"};

typedef struct outage {
    ride_proc **daemons;
    size_t count;
    int64_t until_ms;
    const char *died; /* the first daemon found dead */
} outage;

/* Done when the outage is over; a daemon that exits meanwhile ends it early. */
static bool outage_over(void *ctx)
{
    outage *o = ctx;
    for (size_t i = 0; i < o->count; i++)
        if (!ride_harness_proc_alive(o->daemons[i])) {
            o->died = DAEMON_IDS[i];
            return true;
        }
    return ride_clock_mono_ms() >= o->until_ms;
}

static void test_broker_restart(void **state)
{
    (void)state;
    ride_kafka_server *broker = ride_harness_kafka_shared();
    const char *bootstrap = ride_harness_kafka_bootstrap(broker);
    ride_proc *daemons[3];
    ride_cluster_fx *fx = ride_cluster_fx_new("rkrestart");
    ride_cluster_fx_use_kafka(fx, bootstrap, NULL);
    /* Above the outage and the restart together: a worker whose processing
     * thread waits out the whole outage in one call is reported stalled, and
     * exits. */
    snprintf(fx->worker_extra, sizeof fx->worker_extra, "  stall_timeout_ms: %d\n",
             STALL_TIMEOUT_MS);
    ride_cluster_fx_master(fx, "m1", false);
    ride_cluster_fx_wait_api(fx, NULL, WAIT_MS);
    ride_cluster_fx_workers(fx, 2, daemons, WAIT_MS);
    ride_cluster_fx_run_app(fx, &APP, WAIT_MS);
    ride_audit_reader *r = ride_cluster_fx_reader(fx, "rkrs.sd.out", NULL, NULL);
    daemons[2] = ride_cluster_fx_producer(fx, "p1");
    ride_cluster_fx_wait_sink(fx, r, 40, WAIT_MS);

    ride_harness_kafka_kill(broker);
    outage o = {.daemons = daemons, .count = 3, .until_ms = ride_clock_mono_ms() + DOWN_MS};
    assert_true(ride_harness_wait_until(outage_over, &o, DOWN_MS + 5000));
    if (o.died)
        ride_cluster_fx_fail(fx, "%s exited while the broker was down", o.died);
    if (ride_harness_kafka_restart(broker))
        ride_cluster_fx_fail(fx, "the broker did not start again");

    int64_t restarted = ride_clock_mono_ms();
    ride_cluster_fx_wait_sink(fx, r, 40, RECOVERY_LIMIT_MS);
    printf("frames_again_ms=%" PRId64 " after the restart\n", ride_clock_mono_ms() - restarted);
    uint64_t duplicates = ride_cluster_fx_finish(fx, r, daemons[2], "p1", STREAMS, WAIT_MS);
    printf("duplicates_after_broker_restart=%" PRIu64 "\n", duplicates);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_restart),
    };
    return cmocka_run_group_tests(tests, ride_harness_kafka_group_setup,
                                  ride_harness_kafka_group_teardown);
}
