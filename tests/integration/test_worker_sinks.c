/* ride-worker's last-stage outputs as a real process: a real ZooKeeper server,
 * the embedded Kafka cluster hosted by this test, and assignments written by the
 * test itself. Checks that the files sink holds exactly one PNG per (stream,
 * seq), each the grayscale of its input, with commits at the input's end; that a
 * sink directory that cannot be created commits nothing, is counted and logged
 * once per partition while the worker keeps retrying, and that the frames arrive
 * once it is fixed; and that a stage with no output acknowledges its frames. */
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "opencv_c.h"
#include "ride/cluster.h"
#include "ride/frame.h"
#include "ride/http_client.h"
#include "ride/kafka.h"
#include "ride/kernels.h"
#include "ride/synthetic.h"
#include "ride/zk.h"
#include "ride_harness.h"

#define WORKER RIDE_BIN_DIR "/ride-worker"
#define INPUT "ride.demo.gray"
#define GROUP "ride.demo.gray"
#define PARTITIONS 4
#define STREAMS 4
#define W 64
#define H 48
#define WAIT_MS 20000
#define EXIT_MS 10000

typedef struct fixture {
    ride_kafka_mock *mock;
    ride_zk *zk;
    char connect[256];
    char *dir;
    char out[600];
    char log[600];
    ride_kafka_producer *input;
    ride_kafka_consumer *admin; /* committed offsets and watermarks */
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
    fx->dir = ride_harness_tempdir("ride-worker-files-");
    assert_non_null(fx->dir);
    snprintf(fx->out, sizeof fx->out, "%s/out", fx->dir);
    snprintf(fx->connect, sizeof fx->connect, "%s/wf%d",
             ride_harness_zk_connect(ride_harness_zk_shared()), instance++);
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
    ride_kafka_topic_spec spec = {INPUT, PARTITIONS, -1, 0, 0};
    if (ride_kafka_topic_ensure(fx->mock, NULL, &spec, 10000, fx->err, sizeof fx->err))
        fail_msg("topic: %s", fx->err);
    fx->input = ride_kafka_producer_new(conf_for(fx, RIDE_KAFKA_PRODUCER), NULL, NULL, fx->err,
                                        sizeof fx->err);
    fx->admin = ride_kafka_consumer_new(conf_for(fx, RIDE_KAFKA_CONSUMER), GROUP, fx->err,
                                        sizeof fx->err);
    assert_true(fx->input && fx->admin);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ride_kafka_consumer_free(fx->admin);
    ride_kafka_producer_free(fx->input);
    ride_zk_close(fx->zk);
    ride_kafka_mock_stop(fx->mock);
    ride_harness_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* Assigns every partition of stage demo/gray to w1: output to the files sink
 * under output_path, or nowhere when it is NULL. */
static void assign(fixture *fx, const char *output_path)
{
    ride_kv params[1] = {{0}};
    ride_cluster_partition_task parts[PARTITIONS];
    for (int p = 0; p < PARTITIONS; p++)
        parts[p] = (ride_cluster_partition_task){
            .app = "demo", .stage = "gray", .partition = p, .epoch = 1, .input_topic = INPUT,
            .output_path = output_path, .output_format = RIDE_ENC_PNG, .group = GROUP,
            .delivery = RIDE_DELIVERY_AT_LEAST_ONCE, .task = "grayscale", .params = params,
            .device = RIDE_STAGE_CPU, .threads = 1};
    ride_cluster_assignment a = {.generation = 1, .epoch = 1, .partitions = parts,
                                 .partition_count = PARTITIONS};
    char *json = ride_cluster_assignment_encode(&a, fx->err, sizeof fx->err);
    if (!json)
        fail_msg("assignment: %s", fx->err);
    char path[RIDE_ZK_PATH_MAX];
    assert_int_equal(ride_cluster_path_assignment(path, sizeof path, "w1"), 0);
    write_node(fx, path, json);
    free(json);
}

static ride_proc *spawn_worker(fixture *fx)
{
    char config[700];
    snprintf(config, sizeof config, "%s/w1.yaml", fx->dir);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "zookeeper:\n  connect: \"%s\"\nheartbeat:\n  interval_ms: 50\n"
             "metrics:\n  listen: \"127.0.0.1:0\"\nworker:\n  threads: 1\n",
             fx->connect);
    assert_int_equal(ride_harness_write_file(config, yaml), 0);
    snprintf(fx->log, sizeof fx->log, "%s/w1.log", fx->dir);
    const char *argv[] = {WORKER, "--config", config, "--id", "w1", NULL};
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

/* Occurrences of needle in the worker's log. */
static int log_count(const fixture *fx, const char *needle)
{
    char *log = ride_harness_read_file(fx->log, NULL);
    int n = 0;
    for (const char *p = log; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(log);
    return n;
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

static int64_t committed_of(fixture *fx, int p)
{
    ride_kafka_tp tp = {INPUT, p, 0};
    assert_int_equal(ride_kafka_committed(fx->admin, &tp, 1, 5000, fx->err, sizeof fx->err), 0);
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

static bool commits_at_end(void *ctx)
{
    fixture *fx = ctx;
    for (int p = 0; p < PARTITIONS; p++)
        if (committed_of(fx, p) != high_of(fx, p))
            return false;
    return true;
}

static void wait_commits(fixture *fx)
{
    if (!ride_harness_wait_until(commits_at_end, fx, WAIT_MS)) {
        print_log(fx);
        for (int p = 0; p < PARTITIONS; p++)
            fprintf(stderr, "partition %d: committed %" PRId64 " high %" PRId64 "\n", p,
                    committed_of(fx, p), high_of(fx, p));
        fail_msg("commits did not reach the input's end");
    }
}

/* Entries of the directory of one stream (with hidden ones: temporary files, or
 * without); -1 when absent. */
static int stream_entries(const fixture *fx, uint32_t stream, bool hidden)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%u", fx->out, stream);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
             (hidden || e->d_name[0] != '.');
    closedir(d);
    return n;
}

typedef struct files_probe {
    fixture *fx;
    int per_stream;
} files_probe;

static bool files_complete(void *ctx)
{
    files_probe *fp = ctx;
    for (uint32_t s = 0; s < STREAMS; s++)
        if (stream_entries(fp->fx, s, false) < fp->per_stream)
            return false;
    return true;
}

/* Once every input is committed: exactly one file per (stream, seq) below
 * per_stream, nothing else (no temporary file either), and each decodes to the
 * grayscale of the synthetic input frame. */
static void expect_files(fixture *fx, int per_stream)
{
    files_probe fp = {fx, per_stream};
    if (!ride_harness_wait_until(files_complete, &fp, WAIT_MS)) {
        print_log(fx);
        fail_msg("the sink never held %d files per stream", per_stream);
    }
    wait_commits(fx);
    ride_image src = {0}, want = {0}, got = {0};
    for (uint32_t s = 0; s < STREAMS; s++) {
        assert_int_equal(stream_entries(fx, s, true), per_stream);
        for (int q = 0; q < per_stream; q++) {
            char path[700];
            snprintf(path, sizeof path, "%s/%u/%020d.png", fx->out, s, q);
            if (ride_cv_read_file(path, RIDE_PIX_GRAY8, &got, fx->err, sizeof fx->err))
                fail_msg("%s: %s", path, fx->err);
            assert_int_equal(ride_synthetic_render(s, (uint64_t)q, W, H, &src), 0);
            assert_int_equal(ride_cpu_grayscale(&src, &want, 1), 0);
            assert_int_equal(ride_test_max_abs_diff_u8(&got, &want), 0);
        }
    }
    ride_image_free(&src);
    ride_image_free(&want);
    ride_image_free(&got);
}

static void expect_clean_exit(fixture *fx, ride_proc *p)
{
    assert_int_equal(ride_harness_proc_signal(p, SIGTERM), 0);
    int status = ride_harness_proc_wait(p, EXIT_MS);
    ride_harness_proc_stop(p, 1000);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        print_log(fx);
        fail_msg("SIGTERM: status %d", status);
    }
}

/* The worker's metrics port, from its "started" log line; 0 before it. */
static int metrics_port(const fixture *fx)
{
    char *log = ride_harness_read_file(fx->log, NULL);
    const char *p = log ? strstr(log, "metrics_port=") : NULL;
    int port = p ? atoi(p + strlen("metrics_port=")) : 0;
    free(log);
    return port;
}

/* The value of one sample line of the worker's /metrics, or -1 when absent. */
static double metric_value(fixture *fx, const char *sample)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", metrics_port(fx));
    ride_http_client_request req = {.url = url, .timeout_ms = 2000};
    ride_http_client_response res = {0};
    if (ride_http_client_do(&req, &res, fx->err, sizeof fx->err) != RIDE_HTTP_CLIENT_OK)
        return -1;
    const char *p = res.status == 200 ? strstr(res.body, sample) : NULL;
    double v = p ? strtod(p + strlen(sample), NULL) : -1;
    free(res.body);
    return v;
}

#define SINK_ERRORS_PATH \
    "ride_worker_sink_errors_total{app=\"demo\",stage=\"gray\",reason=\"path\"} "

typedef struct errors_probe {
    fixture *fx;
    double at_least;
} errors_probe;

static bool sink_errors_reached(void *ctx)
{
    errors_probe *ep = ctx;
    return metric_value(ep->fx, SINK_ERRORS_PATH) >= ep->at_least;
}

static void test_files_sink_one_file_per_frame(void **state)
{
    fixture *fx = *state;
    /* A copy left by an earlier owner (a re-delivery after a failover) is replaced. */
    char stale[700];
    snprintf(stale, sizeof stale, "%s/2", fx->out);
    assert_int_equal(mkdir(fx->out, 0755), 0);
    assert_int_equal(mkdir(stale, 0755), 0);
    snprintf(stale, sizeof stale, "%s/2/%020d.png", fx->out, 3);
    assert_int_equal(ride_harness_write_file(stale, "partial"), 0);
    assign(fx, fx->out);
    ride_proc *w = spawn_worker(fx);
    produce(fx, 0, 8);
    expect_files(fx, 8);
    produce(fx, 8, 12);
    expect_files(fx, 12);
    expect_clean_exit(fx, w);
}

static void test_unwritable_sink_retries_until_fixed(void **state)
{
    fixture *fx = *state;
    /* A regular file where a directory must be created: mkdir fails with
     * ENOTDIR even for root, which chmod would not stop. */
    char blocker[700];
    snprintf(blocker, sizeof blocker, "%s/out", fx->dir);
    assert_int_equal(ride_harness_write_file(blocker, "not a directory\n"), 0);
    assign(fx, fx->out);
    ride_proc *w = spawn_worker(fx);
    produce(fx, 0, 5);
    /* Three failures per partition: the retries go on past the first. */
    errors_probe ep = {fx, 3 * PARTITIONS};
    if (!ride_harness_wait_until(sink_errors_reached, &ep, WAIT_MS)) {
        print_log(fx);
        fail_msg("sink errors never reached %g", ep.at_least);
    }
    assert_true(ride_harness_proc_alive(w));
    /* Nothing acknowledged: at most the start offset (the first frame) committed. */
    for (int p = 0; p < PARTITIONS; p++) {
        int64_t c = committed_of(fx, p);
        assert_true(c == RIDE_KAFKA_OFFSET_NONE || c == 0);
        assert_true(high_of(fx, p) > 0);
    }
    assert_int_equal(log_count(fx, "event=sink_write_failed"), PARTITIONS);

    assert_int_equal(unlink(blocker), 0);
    expect_files(fx, 5);
    assert_int_equal(log_count(fx, "event=sink_write_failed"), PARTITIONS);
    assert_int_equal(log_count(fx, "event=sink_recovered"), PARTITIONS);
    expect_clean_exit(fx, w);
}

static void test_no_output_acknowledges(void **state)
{
    fixture *fx = *state;
    assign(fx, NULL);
    ride_proc *w = spawn_worker(fx);
    produce(fx, 0, 6);
    wait_commits(fx);
    assert_int_equal(stream_entries(fx, 0, true), -1);
    expect_clean_exit(fx, w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_files_sink_one_file_per_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_sink_retries_until_fixed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_output_acknowledges, setup, teardown),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup,
                                  ride_harness_zk_group_teardown);
}
