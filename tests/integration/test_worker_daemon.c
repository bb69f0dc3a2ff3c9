/* ride-worker as a real process: a real ZooKeeper server, the embedded Kafka
 * cluster hosted by this test, and assignments written by the test itself (in
 * place of a master). Checks that every frame comes out exactly once as the
 * grayscale of its input, that commits reach the input's end, that heartbeats
 * carry the partitions, that a partition taken away stops being committed, that
 * SIGTERM hands everything back and removes the registration at once, and that
 * a spare taking over a killed worker loses no frame. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ride/cluster.h"
#include "ride/frame.h"
#include "ride/kafka.h"
#include "ride/kernels.h"
#include "ride/synthetic.h"
#include "ride/zk.h"
#include "ride_harness.h"

#define WORKER RIDE_BIN_DIR "/ride-worker"
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
    ride_kafka_mock *mock;
    ride_zk *zk;
    char connect[256];
    char *dir;
    int runs;
    char log[512];
    ride_kafka_producer *input;
    ride_kafka_consumer *admin; /* committed offsets and watermarks */
    /* the output read back so far */
    ride_kafka_consumer *reader;
    ride_frame_assembler *as[PARTITIONS];
    unsigned char seen[STREAMS][MAX_SEQ];
    int unique;
    int duplicates;
    int mismatched;
    char err[512];
} fixture;

static rd_kafka_conf_t *conf_for(fixture *fx, ride_kafka_role role)
{
    ride_parse_error perr;
    rd_kafka_conf_t *c =
        ride_kafka_conf_new(role, ride_kafka_mock_bootstraps(fx->mock), true, NULL, 0, NULL, &perr);
    assert_non_null(c);
    return c;
}

static void count_reject(void *ctx, const ride_frame_reject *r)
{
    (void)r;
    ((fixture *)ctx)->mismatched++;
}

static void create_topic(fixture *fx, const char *topic)
{
    ride_kafka_topic_spec spec = {topic, PARTITIONS, -1, 0, 0};
    if (ride_kafka_topic_ensure(fx->mock, NULL, &spec, 10000, fx->err, sizeof fx->err))
        fail_msg("topic %s: %s", topic, fx->err);
}

static void write_node(fixture *fx, const char *path, const char *data)
{
    ride_zk_err rc = ride_zk_set(fx->zk, path, data, strlen(data), -1, NULL);
    if (rc == RIDE_ZK_NONODE)
        rc = ride_zk_create(fx->zk, path, data, strlen(data), 0, NULL, 0);
    assert_int_equal(rc, RIDE_ZK_OK);
}

static int setup(void **state)
{
    static int instance;
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->mock = ride_kafka_mock_start(1, fx->err, sizeof fx->err);
    if (!fx->mock)
        fail_msg("mock: %s", fx->err);
    fx->dir = ride_harness_tempdir("ride-worker-daemon-");
    assert_non_null(fx->dir);
    snprintf(fx->connect, sizeof fx->connect, "%s/wd%d", ride_harness_zk_connect(ride_harness_zk_shared()),
             instance++);
    ride_zk_options zo = {.connect = fx->connect};
    if (ride_zk_connect(&zo, &fx->zk, fx->err, sizeof fx->err) != RIDE_ZK_OK)
        fail_msg("zk: %s", fx->err);
    assert_int_equal(ride_zk_ensure_path(fx->zk, "/cluster"), RIDE_ZK_OK);
    assert_int_equal(ride_zk_ensure_path(fx->zk, RIDE_CLUSTER_PATH_ASSIGNMENTS), RIDE_ZK_OK);
    ride_cluster_kafka k = {ride_kafka_mock_bootstraps(fx->mock), true, NULL};
    char *json = ride_cluster_kafka_encode(&k, fx->err, sizeof fx->err);
    assert_non_null(json);
    write_node(fx, RIDE_CLUSTER_PATH_KAFKA, json);
    free(json);
    create_topic(fx, INPUT);
    create_topic(fx, OUTPUT);
    fx->input = ride_kafka_producer_new(conf_for(fx, RIDE_KAFKA_PRODUCER), NULL, NULL, fx->err,
                                        sizeof fx->err);
    fx->admin = ride_kafka_consumer_new(conf_for(fx, RIDE_KAFKA_CONSUMER), GROUP, fx->err,
                                        sizeof fx->err);
    fx->reader = ride_kafka_consumer_new(conf_for(fx, RIDE_KAFKA_CONSUMER), "ride.test.reader",
                                         fx->err, sizeof fx->err);
    assert_true(fx->input && fx->admin && fx->reader);
    ride_kafka_tp tps[PARTITIONS];
    for (int p = 0; p < PARTITIONS; p++) {
        tps[p] = (ride_kafka_tp){OUTPUT, p, RIDE_KAFKA_OFFSET_BEGINNING};
        assert_non_null(fx->as[p] = ride_frame_assembler_new(1u << 22, count_reject, fx));
    }
    assert_int_equal(ride_kafka_consumer_add(fx->reader, tps, PARTITIONS, fx->err, sizeof fx->err),
                     0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    for (int p = 0; p < PARTITIONS; p++)
        ride_frame_assembler_free(fx->as[p]);
    ride_kafka_consumer_free(fx->reader);
    ride_kafka_consumer_free(fx->admin);
    ride_kafka_producer_free(fx->input);
    ride_zk_close(fx->zk);
    ride_kafka_mock_stop(fx->mock);
    ride_harness_rmtree(fx->dir);
    free(fx->dir);
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
    char *json = ride_cluster_assignment_encode(&a, fx->err, sizeof fx->err);
    if (!json)
        fail_msg("assignment: %s", fx->err);
    char path[RIDE_ZK_PATH_MAX];
    assert_int_equal(ride_cluster_path_assignment(path, sizeof path, id), 0);
    write_node(fx, path, json);
    free(json);
}

static ride_proc *spawn_worker(fixture *fx, const char *id)
{
    char config[600];
    snprintf(config, sizeof config, "%s/%s.yaml", fx->dir, id);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "zookeeper:\n  connect: \"%s\"\nheartbeat:\n  interval_ms: 50\n"
             "metrics:\n  listen: \"127.0.0.1:0\"\nworker:\n  threads: 1\n",
             fx->connect);
    assert_int_equal(ride_harness_write_file(config, yaml), 0);
    snprintf(fx->log, sizeof fx->log, "%s/%s-%d.log", fx->dir, id, fx->runs++);
    const char *argv[] = {WORKER, "--config", config, "--id", id, NULL};
    ride_proc *p = ride_harness_spawn(argv, NULL, fx->log);
    assert_non_null(p);
    return p;
}

static void print_log(const fixture *fx)
{
    char *log = ride_harness_read_file(fx->log, NULL);
    fprintf(stderr, "---- %s ----\n%s\n", fx->log, log ? log : "(none)");
    free(log);
}

typedef struct node_probe {
    fixture *fx;
    char path[RIDE_ZK_PATH_MAX];
    bool want;
} node_probe;

static bool node_state(void *ctx)
{
    node_probe *np = ctx;
    return (ride_zk_exists(np->fx->zk, np->path, NULL) == RIDE_ZK_OK) == np->want;
}

static void wait_registered(fixture *fx, const char *id, bool want)
{
    node_probe np = {.fx = fx, .want = want};
    assert_int_equal(ride_cluster_path_worker(np.path, sizeof np.path, id), 0);
    if (!ride_harness_wait_until(node_state, &np, WAIT_MS)) {
        print_log(fx);
        fail_msg("%s %s", np.path, want ? "never appeared" : "still there");
    }
}

static void produce(fixture *fx, uint64_t seq_from, uint64_t seq_to)
{
    for (uint64_t q = seq_from; q < seq_to; q++) {
        for (uint32_t s = 0; s < STREAMS; s++) {
            ride_frame f = {0};
            assert_int_equal(ride_synthetic_render(s, q, W, H, &f.image), 0);
            f.stream_id = s;
            f.seq = q;
            f.capture_ns = 1000 + q;
            ride_frame_write_opts wo = {RIDE_ENC_RAW, -1, 4096};
            if (ride_kafka_produce_frame(fx->input, INPUT, (int32_t)s, &f, &wo, NULL, 10000,
                                         fx->err, sizeof fx->err))
                fail_msg("produce: %s", fx->err);
            ride_frame_free(&f);
        }
    }
    if (ride_kafka_producer_flush(fx->input, 10000, fx->err, sizeof fx->err))
        fail_msg("flush: %s", fx->err);
}

/* Reads the output for up to ms; records every frame and checks its pixels. */
static void read_output(fixture *fx, int ms)
{
    ride_frame f = {0};
    ride_image src = {0}, want = {0};
    int64_t deadline = ride_clock_mono_ms() + ms;
    while (ride_clock_mono_ms() < deadline) {
        ride_kafka_message m;
        int rc = ride_kafka_consumer_poll(fx->reader, 20, &m, fx->err, sizeof fx->err);
        if (rc <= 0)
            continue;
        ride_frame_status st = ride_frame_assembler_push(fx->as[m.partition], m.payload, m.len, &f);
        ride_kafka_message_release(&m);
        if (st != RIDE_FRAME_OK)
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
        print_log(fx);
        fail_msg("output has %d distinct frames, expected %d", fx->unique, unique);
    }
}

static int64_t committed_of(fixture *fx, int p)
{
    ride_kafka_tp tp = {INPUT, p, 0};
    if (ride_kafka_committed(fx->admin, &tp, 1, 5000, fx->err, sizeof fx->err))
        return -2;
    return tp.offset;
}

static int64_t high_of(fixture *fx, int p)
{
    int64_t low, high;
    assert_int_equal(ride_kafka_watermarks(ride_kafka_consumer_handle(fx->admin), INPUT, p, 5000,
                                           &low, &high, fx->err, sizeof fx->err),
                     0);
    return high;
}

typedef struct commit_probe {
    fixture *fx;
    unsigned mask;
} commit_probe;

static bool commits_at_end(void *ctx)
{
    commit_probe *cp = ctx;
    for (int p = 0; p < PARTITIONS; p++)
        if ((cp->mask & (1u << p)) && committed_of(cp->fx, p) != high_of(cp->fx, p))
            return false;
    return true;
}

static void wait_commits(fixture *fx, unsigned mask)
{
    commit_probe cp = {fx, mask};
    if (!ride_harness_wait_until(commits_at_end, &cp, WAIT_MS)) {
        print_log(fx);
        for (int p = 0; p < PARTITIONS; p++)
            fprintf(stderr, "partition %d: committed %" PRId64 " high %" PRId64 "\n", p,
                    committed_of(fx, p), high_of(fx, p));
        fail_msg("commits did not reach the input's end");
    }
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
    char path[RIDE_ZK_PATH_MAX];
    assert_int_equal(ride_cluster_path_heartbeat(path, sizeof path, hp->id), 0);
    char *data = NULL;
    size_t len = 0;
    if (ride_zk_get(hp->fx->zk, path, &data, &len, NULL) != RIDE_ZK_OK)
        return false;
    ride_cluster_heartbeat hb;
    int rc = ride_cluster_heartbeat_decode(path, data, len, &hb, hp->fx->err, sizeof hp->fx->err);
    free(data);
    assert_int_equal(rc, 0);
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
        print_log(fx);
        fail_msg("heartbeat of %s never showed partitions 0x%x at epoch %" PRId64, id, mask,
                 epoch);
    }
}

static void expect_clean_exit(fixture *fx, ride_proc *p)
{
    int64_t t0 = ride_clock_mono_ms();
    assert_int_equal(ride_harness_proc_signal(p, SIGTERM), 0);
    int status = ride_harness_proc_wait(p, EXIT_MS);
    ride_harness_proc_stop(p, 1000);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        print_log(fx);
        fail_msg("SIGTERM: status %d", status);
    }
    printf("SIGTERM to exit: %" PRId64 " ms\n", ride_clock_mono_ms() - t0);
}

static void test_assignment_lifecycle(void **state)
{
    fixture *fx = *state;
    assign(fx, "w1", 0xf, 1);
    ride_proc *w = spawn_worker(fx, "w1");
    wait_registered(fx, "w1", true);
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

    expect_clean_exit(fx, w);
    /* The session is closed before the exit: no wait for its timeout. */
    node_probe np = {.fx = fx, .want = false};
    assert_int_equal(ride_cluster_path_worker(np.path, sizeof np.path, "w1"), 0);
    assert_true(node_state(&np));
}

static void test_spare_takes_over(void **state)
{
    fixture *fx = *state;
    assign(fx, "w1", 0xf, 1);
    ride_proc *w1 = spawn_worker(fx, "w1");
    wait_registered(fx, "w1", true);
    produce(fx, 0, 10);
    wait_output(fx, 5);
    assert_int_equal(ride_harness_proc_signal(w1, SIGKILL), 0);
    assert_true(ride_harness_proc_wait(w1, EXIT_MS) != -1);
    ride_harness_proc_stop(w1, 0);
    produce(fx, 10, 20);

    /* A master would now give the dead worker's partitions to a spare. */
    assign(fx, "w2", 0xf, 2);
    ride_proc *w2 = spawn_worker(fx, "w2");
    wait_registered(fx, "w2", true);
    wait_output(fx, STREAMS * 20);
    wait_commits(fx, 0xf);
    read_output(fx, 200);
    printf("spare takeover: %d distinct frames, %d duplicates\n", fx->unique, fx->duplicates);
    assert_int_equal(fx->unique, STREAMS * 20);
    assert_int_equal(fx->mismatched, 0);
    expect_clean_exit(fx, w2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_assignment_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spare_takes_over, setup, teardown),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup, ride_harness_zk_group_teardown);
}
