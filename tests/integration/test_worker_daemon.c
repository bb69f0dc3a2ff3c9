/* ride-worker as a real process: a real ZooKeeper server, the embedded Kafka
 * cluster hosted by this test, and assignments written by the test itself (in
 * place of a master). Checks that every frame comes out exactly once as the
 * grayscale of its input, that commits reach the input's end, that heartbeats
 * carry the partitions, that a partition taken away stops being committed, that
 * SIGTERM hands everything back and removes the registration at once, and that
 * a spare taking over a killed worker loses no frame. Also that a worker started
 * without OMP_WAIT_POLICY runs with it PASSIVE, and keeps an operator's value. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ride_harness_cluster.h"
#include "cluster/cluster.h"
#include "cluster/zk.h"
#include "kafka/kafka.h"
#include "kernels/kernels.h"
#include "media/synthetic.h"
#include "wire/frame.h"

#define INPUT "ride.demo.gray"
#define OUTPUT "ride.demo.sd"
#define GROUP "ride.demo.gray"
#define PARTITIONS 4
#define STREAMS 4
#define W 64
#define H 48
#define MAX_SEQ 64
#define WAIT_MS 20000
#define EXIT_MS 10000

typedef struct fixture {
    ride_daemon_fx *d;
    ride_daemon_reader *reader; /* the output read back so far */
    unsigned char seen[STREAMS][MAX_SEQ];
    int unique;
    int duplicates;
    int mismatched;
} fixture;

static void count_reject(void *ctx, const ride_frame_reject *r)
{
    (void)r;
    ((fixture *)ctx)->mismatched++;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->d = ride_daemon_fx_new("wd");
    ride_test_kafka_topic(fx->d->mock, INPUT, PARTITIONS);
    ride_test_kafka_topic(fx->d->mock, OUTPUT, PARTITIONS);
    fx->reader = ride_daemon_fx_reader(fx->d, OUTPUT, PARTITIONS, count_reject, fx);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ride_daemon_reader_free(fx->reader);
    ride_daemon_fx_free(fx->d);
    free(fx);
    return 0;
}

/* Assigns `mask`'s partitions of stage demo/gray to worker id under epoch. */
static void assign(fixture *fx, const char *id, unsigned mask, int64_t epoch)
{
    ride_kv params[1] = {{0}};
    ride_cluster_partition_task parts[PARTITIONS];
    size_t n = 0;
    for (int p = 0; p < PARTITIONS; p++) {
        if (!(mask & (1u << p)))
            continue;
        parts[n++] = (ride_cluster_partition_task){
            .app = "demo", .stage = "gray", .partition = p, .epoch = epoch,
            .input_topic = INPUT, .output_topic = OUTPUT, .output_partitions = PARTITIONS,
            .output_format = RIDE_ENC_PNG, .group = GROUP,
            .delivery = RIDE_DELIVERY_AT_LEAST_ONCE, .task = "grayscale", .params = params,
            .param_count = 0, .device = RIDE_STAGE_CPU, .threads = 1};
    }
    ride_cluster_assignment a = {.generation = 1, .epoch = epoch, .partitions = parts,
                                 .partition_count = n};
    ride_daemon_fx_assign(fx->d, id, &a);
}

typedef struct node_probe {
    fixture *fx;
    char path[RIDE_ZK_PATH_MAX];
    bool want;
} node_probe;

static bool node_state(void *ctx)
{
    node_probe *np = ctx;
    return (ride_zk_exists(np->fx->d->zk, np->path, NULL) == RIDE_ZK_OK) == np->want;
}

static void wait_registered(fixture *fx, const char *id, bool want)
{
    node_probe np = {.fx = fx, .want = want};
    assert_int_equal(ride_cluster_path_worker(np.path, sizeof np.path, id), 0);
    if (!ride_harness_wait_until(node_state, &np, WAIT_MS)) {
        ride_daemon_fx_print_log(fx->d);
        fail_msg("%s %s", np.path, want ? "never appeared" : "still there");
    }
}

/* Reads the output for up to ms; records every frame and checks its pixels. */
static void read_output(fixture *fx, int ms)
{
    ride_frame f = {0};
    ride_image src = {0}, want = {0};
    int64_t deadline = ride_clock_mono_ms() + ms;
    while (ride_clock_mono_ms() < deadline) {
        int32_t partition;
        if (!ride_daemon_reader_next(fx->reader, 20, &f, &partition))
            continue;
        if (f.stream_id >= STREAMS || f.seq >= MAX_SEQ) {
            fx->mismatched++;
            continue;
        }
        if (fx->seen[f.stream_id][f.seq]++)
            fx->duplicates++;
        else
            fx->unique++;
        assert_int_equal(ride_synthetic_render(f.stream_id, f.seq, W, H, &src), 0);
        if (ride_cpu_grayscale(&src, &want, 1) || ride_test_max_abs_diff_u8(&f.image, &want))
            fx->mismatched++;
    }
    ride_frame_free(&f);
    ride_image_free(&src);
    ride_image_free(&want);
}

typedef struct output_probe {
    fixture *fx;
    int unique;
} output_probe;

static bool output_reached(void *ctx)
{
    output_probe *op = ctx;
    read_output(op->fx, 20);
    return op->fx->unique >= op->unique;
}

static void wait_output(fixture *fx, int unique)
{
    output_probe op = {fx, unique};
    if (!ride_harness_wait_until(output_reached, &op, WAIT_MS)) {
        ride_daemon_fx_print_log(fx->d);
        fail_msg("output has %d distinct frames, expected %d", fx->unique, unique);
    }
}

static int64_t committed_of(fixture *fx, int p)
{
    return ride_daemon_fx_committed(fx->d, GROUP, INPUT, p);
}

static int64_t high_of(fixture *fx, int p) { return ride_daemon_fx_high(fx->d, GROUP, INPUT, p); }

static void wait_commits(fixture *fx, unsigned mask)
{
    ride_daemon_fx_wait_commits(fx->d, GROUP, INPUT, mask, WAIT_MS);
}

typedef struct heartbeat_probe {
    fixture *fx;
    const char *id;
    unsigned mask;
    int64_t epoch;
    bool committed_at_end;
} heartbeat_probe;

/* The heartbeat names exactly mask's partitions under epoch (and, when asked,
 * with committed at the input's end). */
static bool heartbeat_matches(void *ctx)
{
    heartbeat_probe *hp = ctx;
    ride_cluster_heartbeat hb;
    if (!ride_daemon_fx_heartbeat(hp->fx->d, hp->id, &hb))
        return false;
    unsigned got = 0;
    bool ok = true;
    for (size_t i = 0; i < hb.partition_count; i++) {
        const ride_cluster_hb_partition *p = &hb.partitions[i];
        got |= 1u << p->partition;
        ok = ok && p->epoch == hp->epoch && strcmp(p->app, "demo") == 0 &&
             (!hp->committed_at_end || p->committed == high_of(hp->fx, p->partition));
    }
    ride_cluster_heartbeat_free(&hb);
    return ok && got == hp->mask;
}

static void wait_heartbeat(fixture *fx, const char *id, unsigned mask, int64_t epoch, bool at_end)
{
    heartbeat_probe hp = {fx, id, mask, epoch, at_end};
    if (!ride_harness_wait_until(heartbeat_matches, &hp, WAIT_MS)) {
        ride_daemon_fx_print_log(fx->d);
        fail_msg("heartbeat of %s never showed partitions 0x%x at epoch %" PRId64, id, mask,
                 epoch);
    }
}

static void produce(fixture *fx, uint64_t seq_from, uint64_t seq_to)
{
    ride_daemon_fx_produce(fx->d, INPUT, STREAMS, W, H, seq_from, seq_to);
}

/* The value of OMP_WAIT_POLICY in the running process's environment, or "". */
static void omp_wait_policy(ride_proc *p, char *out, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/environ", (long)ride_launch_pid(p));
    size_t n = 0;
    char *env = ride_harness_read_file(path, &n);
    assert_non_null(env);
    out[0] = '\0';
    for (size_t at = 0; at < n; at += strlen(env + at) + 1)
        if (strncmp(env + at, "OMP_WAIT_POLICY=", 16) == 0)
            snprintf(out, len, "%s", env + at + 16);
    free(env);
}

static void test_assignment_lifecycle(void **state)
{
    fixture *fx = *state;
    assign(fx, "w1", 0xf, 1);
    assert_int_equal(unsetenv("OMP_WAIT_POLICY"), 0);
    ride_proc *w = ride_daemon_fx_worker(fx->d, "w1");
    wait_registered(fx, "w1", true);
    char policy[32];
    omp_wait_policy(w, policy, sizeof policy);
    assert_string_equal(policy, "PASSIVE");
    produce(fx, 0, 10);
    wait_output(fx, STREAMS * 10);
    wait_commits(fx, 0xf);
    wait_heartbeat(fx, "w1", 0xf, 1, true);
    read_output(fx, 200);
    assert_int_equal(fx->unique, 40);
    assert_int_equal(fx->duplicates, 0);
    assert_int_equal(fx->mismatched, 0);

    /* Partition 3 goes away; the others continue under a new epoch. */
    assign(fx, "w1", 0x7, 2);
    wait_heartbeat(fx, "w1", 0x7, 2, false);
    int64_t before = committed_of(fx, 3);
    produce(fx, 10, 20);
    wait_commits(fx, 0x7);
    wait_output(fx, STREAMS * 10 + 30);
    assert_int_equal(committed_of(fx, 3), before);
    assert_true(high_of(fx, 3) > before);
    assert_int_equal(fx->seen[3][15], 0);

    ride_daemon_fx_expect_clean_exit(fx->d, w, EXIT_MS);
    /* The session is closed before the exit: no wait for its timeout. */
    node_probe np = {.fx = fx, .want = false};
    assert_int_equal(ride_cluster_path_worker(np.path, sizeof np.path, "w1"), 0);
    assert_true(node_state(&np));
}

static void test_spare_takes_over(void **state)
{
    fixture *fx = *state;
    assign(fx, "w1", 0xf, 1);
    ride_proc *w1 = ride_daemon_fx_worker(fx->d, "w1");
    wait_registered(fx, "w1", true);
    produce(fx, 0, 10);
    wait_output(fx, 5);
    assert_int_equal(ride_harness_proc_signal(w1, SIGKILL), 0);
    assert_true(ride_harness_proc_wait(w1, EXIT_MS) != -1);
    ride_harness_proc_stop(w1, 0);
    produce(fx, 10, 20);

    /* A master would now give the dead worker's partitions to a spare. */
    assign(fx, "w2", 0xf, 2);
    assert_int_equal(setenv("OMP_WAIT_POLICY", "ACTIVE", 1), 0);
    ride_proc *w2 = ride_daemon_fx_worker(fx->d, "w2");
    unsetenv("OMP_WAIT_POLICY");
    wait_registered(fx, "w2", true);
    char policy[32];
    omp_wait_policy(w2, policy, sizeof policy);
    assert_string_equal(policy, "ACTIVE");
    wait_output(fx, STREAMS * 20);
    wait_commits(fx, 0xf);
    read_output(fx, 200);
    printf("spare takeover: %d distinct frames, %d duplicates\n", fx->unique, fx->duplicates);
    assert_int_equal(fx->unique, STREAMS * 20);
    assert_int_equal(fx->mismatched, 0);
    ride_daemon_fx_expect_clean_exit(fx->d, w2, EXIT_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_assignment_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spare_takes_over, setup, teardown),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup, ride_harness_zk_group_teardown);
}
