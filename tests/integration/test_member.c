/* The membership module (cluster/member.h) against a real ZooKeeper server: the
 * registration node, heartbeats, a missing assignment as the empty one, changes
 * delivered on the loop, bad data ignored with the previous assignment kept, the
 * Kafka address, and the registration vanishing at close. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "ride_harness.h"
#include "cluster/cluster.h"
#include "cluster/member.h"
#include "cluster/zk.h"

#define WAIT_MS 10000

typedef struct fixture {
    uv_loop_t loop;
    ride_zk *zk;
    char connect[256];
    ride_member *m;
    int deliveries;
    int suspensions;
    int64_t last_epoch;
    size_t last_partitions;
    int kafka_calls;
    char bootstrap[256];
    char err[512];
} fixture;

static void on_assignment(const ride_cluster_assignment *a, void *ctx)
{
    fixture *fx = ctx;
    if (!a) {
        fx->suspensions++;
        return;
    }
    fx->deliveries++;
    fx->last_epoch = a->epoch;
    fx->last_partitions = a->partition_count;
}

static void on_kafka(const ride_cluster_kafka *k, void *ctx)
{
    fixture *fx = ctx;
    fx->kafka_calls++;
    snprintf(fx->bootstrap, sizeof fx->bootstrap, "%s", k ? k->bootstrap_servers : "");
}

static int fill_heartbeat(ride_cluster_heartbeat *hb, void *ctx)
{
    static ride_cluster_hb_partition p = {"demo", "gray", 2, 7, 10, 9, 9, 9, 40};
    (void)ctx;
    hb->partitions = &p;
    hb->partition_count = 1;
    return 0;
}

static int setup(void **state)
{
    static int instance;
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    snprintf(fx->connect, sizeof fx->connect, "%s/member%d", ride_harness_zk_connect(ride_harness_zk_shared()),
             instance++);
    ride_zk_options zo = {.connect = fx->connect};
    if (ride_zk_connect(&zo, &fx->zk, fx->err, sizeof fx->err) != RIDE_ZK_OK)
        fail_msg("zk: %s", fx->err);
    assert_int_equal(ride_zk_ensure_path(fx->zk, RIDE_CLUSTER_PATH_ASSIGNMENTS), RIDE_ZK_OK);
    assert_int_equal(ride_zk_ensure_path(fx->zk, "/cluster"), RIDE_ZK_OK);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ride_member_close(fx->m);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    ride_zk_close(fx->zk);
    free(fx);
    return 0;
}

static void start_member(fixture *fx)
{
    ride_cluster_worker w = {.id = "m1", .host = "h", .pid = 1, .version = "1", .cores = 1,
                             .memory_mb = 1};
    char *reg = ride_cluster_worker_encode(&w, fx->err, sizeof fx->err);
    assert_non_null(reg);
    ride_member_options o = {
        .loop = &fx->loop, .connect = fx->connect, .id = "m1", .role = RIDE_MEMBER_WORKER,
        .registration = reg, .heartbeat_interval_ms = 20, .on_assignment = on_assignment,
        .on_kafka = on_kafka, .fill_heartbeat = fill_heartbeat, .ctx = fx};
    fx->m = ride_member_start(&o, fx->err, sizeof fx->err);
    free(reg);
    if (!fx->m)
        fail_msg("member: %s", fx->err);
}

typedef struct probe {
    fixture *fx;
    int deliveries;
    uint64_t heartbeats;
} probe;

static bool delivered(void *ctx)
{
    probe *p = ctx;
    uv_run(&p->fx->loop, UV_RUN_NOWAIT);
    return p->fx->deliveries >= p->deliveries && ride_member_heartbeats(p->fx->m) >= p->heartbeats;
}

static void wait_for(fixture *fx, int deliveries, uint64_t heartbeats)
{
    probe p = {fx, deliveries, heartbeats};
    if (!ride_harness_wait_until(delivered, &p, WAIT_MS))
        fail_msg("deliveries %d (want %d), heartbeats %llu", fx->deliveries, deliveries,
                 (unsigned long long)ride_member_heartbeats(fx->m));
}

static void write_assignment(fixture *fx, int64_t epoch, size_t partitions)
{
    ride_cluster_partition_task t = {
        .app = "demo", .stage = "gray", .partition = 0, .epoch = epoch,
        .input_topic = "ride.demo.gray", .output_topic = "ride.demo.sd", .output_partitions = 1,
        .output_format = RIDE_ENC_PNG, .group = "ride.demo.gray", .task = "grayscale"};
    ride_cluster_assignment a = {.generation = 1, .epoch = epoch, .partitions = &t,
                                 .partition_count = partitions};
    char *json = ride_cluster_assignment_encode(&a, fx->err, sizeof fx->err);
    assert_non_null(json);
    ride_zk_err rc = ride_zk_set(fx->zk, "/assignments/m1", json, strlen(json), -1, NULL);
    if (rc == RIDE_ZK_NONODE)
        rc = ride_zk_create(fx->zk, "/assignments/m1", json, strlen(json), 0, NULL, 0);
    free(json);
    assert_int_equal(rc, RIDE_ZK_OK);
}

static void test_membership(void **state)
{
    fixture *fx = *state;
    start_member(fx);
    /* No assignment node: the empty assignment; no /cluster/kafka: NULL. */
    wait_for(fx, 1, 1);
    assert_int_equal(fx->last_partitions, 0);
    assert_int_equal(fx->kafka_calls, 1);
    assert_string_equal(fx->bootstrap, "");
    assert_true(ride_member_active(fx->m));

    char *data = NULL;
    size_t len = 0;
    assert_int_equal(ride_zk_get(fx->zk, "/workers/m1", &data, &len, NULL), RIDE_ZK_OK);
    ride_cluster_worker w;
    assert_int_equal(ride_cluster_worker_decode("/workers/m1", data, len, &w, fx->err,
                                                sizeof fx->err), 0);
    assert_string_equal(w.id, "m1");
    ride_cluster_worker_free(&w);
    free(data);
    assert_int_equal(ride_zk_get(fx->zk, "/heartbeats/m1", &data, &len, NULL), RIDE_ZK_OK);
    ride_cluster_heartbeat hb;
    assert_int_equal(ride_cluster_heartbeat_decode("/heartbeats/m1", data, len, &hb, fx->err,
                                                   sizeof fx->err), 0);
    assert_int_equal(hb.partition_count, 1);
    assert_int_equal(hb.partitions[0].partition, 2);
    assert_true(hb.ts_ms > 0);
    ride_cluster_heartbeat_free(&hb);
    free(data);

    /* Changes are delivered; the watch is re-armed each time. */
    write_assignment(fx, 2, 1);
    wait_for(fx, 2, 0);
    assert_int_equal(fx->last_epoch, 2);
    assert_int_equal(fx->last_partitions, 1);
    write_assignment(fx, 3, 0);
    wait_for(fx, 3, 0);
    assert_int_equal(fx->last_epoch, 3);

    /* Bad data: counted, not delivered; the next good write is. */
    uint64_t bad = ride_cluster_bad_data_total(RIDE_CLUSTER_ASSIGNMENT);
    const char *junk = "{\"generation\": -1}";
    assert_int_equal(ride_zk_set(fx->zk, "/assignments/m1", junk, strlen(junk), -1, NULL),
                     RIDE_ZK_OK);
    probe p = {fx, 0, 0};
    for (int64_t end = ride_clock_mono_ms() + WAIT_MS;
         ride_cluster_bad_data_total(RIDE_CLUSTER_ASSIGNMENT) == bad &&
         ride_clock_mono_ms() < end;)
        delivered(&p);
    assert_true(ride_cluster_bad_data_total(RIDE_CLUSTER_ASSIGNMENT) > bad);
    assert_int_equal(fx->deliveries, 3);
    assert_true(ride_member_active(fx->m));
    write_assignment(fx, 4, 1);
    wait_for(fx, 4, 0);
    assert_int_equal(fx->deliveries, 4);
    assert_int_equal(fx->last_epoch, 4);

    /* The Kafka address, watched. */
    const char *k = "{\"bootstrap_servers\":\"127.0.0.1:9092\",\"embedded\":true}";
    assert_int_equal(ride_zk_create(fx->zk, RIDE_CLUSTER_PATH_KAFKA, k, strlen(k), 0, NULL, 0),
                     RIDE_ZK_OK);
    for (int64_t end = ride_clock_mono_ms() + WAIT_MS;
         fx->kafka_calls < 2 && ride_clock_mono_ms() < end;)
        delivered(&p);
    assert_string_equal(fx->bootstrap, "127.0.0.1:9092");
    assert_int_equal(fx->suspensions, 0);

    /* Closing ends the session: the registration vanishes at once. */
    ride_member_close(fx->m);
    fx->m = NULL;
    assert_int_equal(ride_zk_exists(fx->zk, "/workers/m1", NULL), RIDE_ZK_NONODE);
}

static void test_bad_options(void **state)
{
    fixture *fx = *state;
    ride_member_options o = {.loop = &fx->loop, .connect = fx->connect, .id = "bad/id",
                             .registration = "{}", .on_assignment = on_assignment};
    assert_null(ride_member_start(&o, fx->err, sizeof fx->err));
    assert_non_null(strstr(fx->err, "invalid id"));
    o.id = "m2";
    o.on_assignment = NULL;
    assert_null(ride_member_start(&o, fx->err, sizeof fx->err));
    o.on_assignment = on_assignment;
    o.connect = "127.0.0.1:not-a-port";
    assert_null(ride_member_start(&o, fx->err, sizeof fx->err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_membership, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup, ride_harness_zk_group_teardown);
}
