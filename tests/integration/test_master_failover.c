/* master_failover: SIGKILL of the leading master while frames flow. The embedded
 * broker lives in a third, broker-only master, so Kafka survives; the standby
 * takes over with the applications and assignments intact (the same owner and
 * epoch for every partition), processing goes on and no frame is lost. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ride_harness_cluster.h"
#include "cluster/cluster.h"

#define STREAMS 2
#define WAIT_MS 30000

static const ride_cluster_app APP = {
    .name = "mfo", .fps = 30, .partitions = 4, .max_workers = 3, .stddev = true};

/* "stage/partition=owner:epoch ..." for every partition of the application. */
static void ownership(ride_cluster_fx *fx, char *buf, size_t len)
{
    json_t *j = ride_cluster_fx_get(fx, "/v1/partitions?app=mfo");
    size_t i, n = 0;
    json_t *p;
    buf[0] = '\0';
    json_array_foreach(json_object_get(j, "partitions"), i, p)
    {
        const char *owner = json_string_value(json_object_get(p, "owner"));
        n += (size_t)snprintf(buf + n, len - n, "%s/%" JSON_INTEGER_FORMAT "=%s:%" JSON_INTEGER_FORMAT " ",
                              json_string_value(json_object_get(p, "stage")),
                              json_integer_value(json_object_get(p, "partition")),
                              owner ? owner : "-",
                              json_integer_value(json_object_get(p, "epoch")));
    }
    json_decref(j);
}

static bool broker_published(void *ctx)
{
    ride_cluster_fx *fx = ctx;
    return ride_zk_exists(fx->zk, RIDE_CLUSTER_PATH_KAFKA, NULL) == RIDE_ZK_OK;
}

static void test_master_failover(void **state)
{
    (void)state;
    ride_cluster_fx *fx = ride_cluster_fx_new("mfailover");
    ride_cluster_fx_master(fx, "broker", true);
    if (!ride_harness_wait_until(broker_published, fx, WAIT_MS))
        ride_cluster_fx_fail(fx, "the broker-only master did not publish /cluster/kafka");
    ride_proc *m1 = ride_cluster_fx_master(fx, "m1", false);
    ride_cluster_fx_wait_api(fx, NULL, WAIT_MS);
    assert_string_equal(fx->leader, "m1");
    ride_cluster_fx_master(fx, "m2", false);
    ride_cluster_fx_workers(fx, 3, NULL, WAIT_MS);
    ride_cluster_fx_run_app(fx, &APP, WAIT_MS);
    char before[2048], after[2048];
    ownership(fx, before, sizeof before);

    ride_audit_reader *r = ride_cluster_fx_reader(fx, "mfo.sd.out", NULL, NULL);
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    ride_cluster_fx_wait_sink(fx, r, 60, WAIT_MS);

    int64_t kill_ns = ride_clock_mono_ns();
    assert_int_equal(ride_harness_proc_signal(m1, SIGKILL), 0);
    ride_cluster_fx_wait_api(fx, "m1", WAIT_MS);
    printf("takeover_seconds=%.3f new_leader=%s\n", (double)(ride_clock_mono_ns() - kill_ns) / 1e9,
           fx->leader);
    assert_string_equal(fx->leader, "m2");
    ride_cluster_fx_wait_owned(fx, "mfo", WAIT_MS);
    ownership(fx, after, sizeof after);
    printf("before: %s\nafter:  %s\n", before, after);
    if (strcmp(before, after) != 0)
        ride_cluster_fx_fail(fx, "ownership changed across the master failover");

    ride_cluster_fx_wait_sink(fx, r, 60, WAIT_MS);
    ride_cluster_fx_finish(fx, r, producer, "p1", STREAMS, WAIT_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_master_failover),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup,
                                  ride_harness_zk_group_teardown);
}
