/* ride-worker's last-stage outputs as a real process: a real ZooKeeper server,
 * the embedded Kafka cluster hosted by this test, and assignments written by the
 * test itself. Checks that the files sink holds exactly one PNG per (stream,
 * seq), each the grayscale of its input, with commits at the input's end; that a
 * sink directory that cannot be created commits nothing, is counted and logged
 * once per partition while the worker keeps retrying, and that the frames arrive
 * once it is fixed; and that a stage with no output acknowledges its frames. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ride_harness_cluster.h"
#include "cluster/cluster.h"
#include "cluster/zk.h"
#include "http/http_client.h"
#include "kafka/kafka.h"
#include "kernels/kernels.h"
#include "media/opencv_c.h"
#include "media/synthetic.h"
#include "wire/frame.h"

#define INPUT "ride.demo.gray"
#define GROUP "ride.demo.gray"
#define PARTITIONS 4
#define STREAMS 4
#define W 64
#define H 48
#define WAIT_MS 20000
#define EXIT_MS 10000

typedef struct fixture {
    ride_daemon_fx *d;
    char out[600];
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->d = ride_daemon_fx_new("wf");
    snprintf(fx->out, sizeof fx->out, "%s/out", fx->d->dir);
    ride_test_kafka_topic(fx->d->mock, INPUT, PARTITIONS);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ride_daemon_fx_free(fx->d);
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
    ride_daemon_fx_assign(fx->d, "w1", &a);
}

/* Occurrences of needle in the worker's log. */
static int log_count(const fixture *fx, const char *needle)
{
    char *log = ride_harness_read_file(fx->d->log, NULL);
    int n = 0;
    for (const char *p = log; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(log);
    return n;
}

static void produce(fixture *fx, uint64_t seq_from, uint64_t seq_to)
{
    ride_daemon_fx_produce(fx->d, INPUT, STREAMS, W, H, seq_from, seq_to);
}

static int64_t committed_of(fixture *fx, int p)
{
    return ride_daemon_fx_committed(fx->d, GROUP, INPUT, p);
}

static void wait_commits(fixture *fx)
{
    ride_daemon_fx_wait_commits(fx->d, GROUP, INPUT, (1u << PARTITIONS) - 1, WAIT_MS);
}

/* Entries of the directory of one stream (with hidden ones: temporary files, or
 * without); -1 when absent. */
static int stream_entries(const fixture *fx, uint32_t stream, bool hidden)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%u", fx->out, stream);
    return ride_harness_dir_entries(path, hidden);
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
        ride_daemon_fx_print_log(fx->d);
        fail_msg("the sink never held %d files per stream", per_stream);
    }
    wait_commits(fx);
    ride_image src = {0}, want = {0}, got = {0};
    for (uint32_t s = 0; s < STREAMS; s++) {
        assert_int_equal(stream_entries(fx, s, true), per_stream);
        for (int q = 0; q < per_stream; q++) {
            char path[700];
            snprintf(path, sizeof path, "%s/%u/%020d.png", fx->out, s, q);
            if (ride_cv_read_file(path, RIDE_PIX_GRAY8, &got, fx->d->err, sizeof fx->d->err))
                fail_msg("%s: %s", path, fx->d->err);
            assert_int_equal(ride_synthetic_render(s, (uint64_t)q, W, H, &src), 0);
            assert_int_equal(ride_cpu_grayscale(&src, &want, 1), 0);
            assert_int_equal(ride_test_max_abs_diff_u8(&got, &want), 0);
        }
    }
    ride_image_free(&src);
    ride_image_free(&want);
    ride_image_free(&got);
}

/* The worker's metrics port, from its "started" log line; 0 before it. */
static int metrics_port(const fixture *fx)
{
    char *log = ride_harness_read_file(fx->d->log, NULL);
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
    if (ride_http_client_do(&req, &res, fx->d->err, sizeof fx->d->err) != RIDE_HTTP_CLIENT_OK)
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
    ride_proc *w = ride_daemon_fx_worker(fx->d, "w1");
    produce(fx, 0, 8);
    expect_files(fx, 8);
    produce(fx, 8, 12);
    expect_files(fx, 12);
    ride_daemon_fx_expect_clean_exit(fx->d, w, EXIT_MS);
}

static void test_unwritable_sink_retries_until_fixed(void **state)
{
    fixture *fx = *state;
    /* A regular file where a directory must be created: mkdir fails with
     * ENOTDIR even for root, which chmod would not stop. */
    char blocker[700];
    snprintf(blocker, sizeof blocker, "%s/out", fx->d->dir);
    assert_int_equal(ride_harness_write_file(blocker, "not a directory\n"), 0);
    assign(fx, fx->out);
    ride_proc *w = ride_daemon_fx_worker(fx->d, "w1");
    produce(fx, 0, 5);
    /* Three failures per partition: the retries go on past the first. */
    errors_probe ep = {fx, 3 * PARTITIONS};
    if (!ride_harness_wait_until(sink_errors_reached, &ep, WAIT_MS)) {
        ride_daemon_fx_print_log(fx->d);
        fail_msg("sink errors never reached %g", ep.at_least);
    }
    assert_true(ride_harness_proc_alive(w));
    /* Nothing acknowledged: at most the start offset (the first frame) committed. */
    for (int p = 0; p < PARTITIONS; p++) {
        int64_t c = committed_of(fx, p);
        assert_true(c == RIDE_KAFKA_OFFSET_NONE || c == 0);
        assert_true(ride_daemon_fx_high(fx->d, GROUP, INPUT, p) > 0);
    }
    assert_int_equal(log_count(fx, "event=sink_write_failed"), PARTITIONS);

    assert_int_equal(unlink(blocker), 0);
    expect_files(fx, 5);
    assert_int_equal(log_count(fx, "event=sink_write_failed"), PARTITIONS);
    assert_int_equal(log_count(fx, "event=sink_recovered"), PARTITIONS);
    ride_daemon_fx_expect_clean_exit(fx->d, w, EXIT_MS);
}

static void test_no_output_acknowledges(void **state)
{
    fixture *fx = *state;
    assign(fx, NULL);
    ride_proc *w = ride_daemon_fx_worker(fx->d, "w1");
    produce(fx, 0, 6);
    wait_commits(fx);
    assert_int_equal(stream_entries(fx, 0, true), -1);
    ride_daemon_fx_expect_clean_exit(fx->d, w, EXIT_MS);
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
