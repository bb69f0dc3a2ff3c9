/* ride-producer as a real process against an embedded Kafka cluster hosted by
 * this test: bounded runs publish every frame exactly once with the synthetic
 * content, round-robin over the partitions; SIGTERM flushes everything the
 * summary reports as produced; bad usage exits 2, and a missing topic or an
 * unreachable cluster exits 1, each with a clear message; frames read that did
 * not reach Kafka (refused as too large, or failed by the broker) exit 3, with
 * each cause logged once. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ride_harness.h"
#include "ride_test_kafka.h"
#include "kafka/kafka.h"
#include "media/synthetic.h"
#include "wire/frame.h"

#define PRODUCER RIDE_BIN_DIR "/ride-producer"
#define PARTITIONS 4
#define SOURCES 2
#define W 64
#define H 48
#define FRAMES 50
#define EXIT_MS 20000
#define READ_MS 20000
#define MAX_SEQ 100000
/* Kafka's Produce request (librdkafka's RD_KAFKAP_Produce, not in its public headers). */
#define PRODUCE_API_KEY 0

typedef struct fixture {
    ride_kafka_mock *mock;
    char *dir;
    int runs;
    char log[512];
    char err[512];
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->mock = ride_test_kafka_mock();
    fx->dir = ride_harness_tempdir("ride-producer-cli-");
    assert_non_null(fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ride_kafka_mock_stop(fx->mock);
    ride_harness_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* Starts ride-producer with args (NULL-terminated) and a fresh log file. */
static ride_proc *spawn(fixture *fx, const char *const *args)
{
    const char *argv[32] = {PRODUCER};
    size_t n = 1;
    while (args[n - 1]) {
        assert_true(n < 31);
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    snprintf(fx->log, sizeof fx->log, "%s/run%d.log", fx->dir, fx->runs++);
    ride_proc *p = ride_harness_spawn(argv, NULL, fx->log);
    assert_non_null(p);
    return p;
}

static char *read_log(const fixture *fx)
{
    char *text = ride_harness_read_file(fx->log, NULL);
    return text ? text : strdup("");
}

/* Waits for the exit and checks its code, printing the log when it differs. */
static void expect_exit(fixture *fx, ride_proc *p, int code)
{
    int status = ride_harness_proc_wait(p, EXIT_MS);
    ride_harness_proc_stop(p, 1000);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != code) {
        char *log = read_log(fx);
        fail_msg("expected exit %d, got status %d; log:\n%s", code, status, log);
    }
}

static void expect_log_contains(fixture *fx, const char *needle)
{
    char *log = read_log(fx);
    if (!strstr(log, needle))
        fail_msg("log lacks \"%s\":\n%s", needle, log);
    free(log);
}

/* The value of key=N in the first log line holding `event`. */
static uint64_t log_field(const char *log, const char *event, const char *key, uint32_t stream)
{
    char ev[64], st[32], k[64];
    snprintf(ev, sizeof ev, " event=%s ", event);
    snprintf(st, sizeof st, " stream=%" PRIu32 " ", stream);
    snprintf(k, sizeof k, " %s=", key);
    for (const char *line = strstr(log, ev); line; line = strstr(line + 1, ev)) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[2048];
        assert_true(len < sizeof buf);
        memcpy(buf, line, len);
        buf[len] = '\0';
        if (strcmp(event, "source_summary") == 0 && !strstr(buf, st))
            continue;
        const char *v = strstr(buf, k);
        assert_non_null(v);
        return strtoull(v + strlen(k), NULL, 10);
    }
    fail_msg("no %s line in log:\n%s", event, log);
    return 0;
}

/* ---- reading the topic back ---- */

typedef struct readback {
    int frames;
    int rejected;
    int mismatched;   /* content differs from ride_synthetic_render */
    int duplicates;   /* (stream, seq) seen twice */
    int per_stream[SOURCES];
    int per_partition[SOURCES][PARTITIONS];
    uint64_t max_seq[SOURCES];
    unsigned char *seen[SOURCES]; /* MAX_SEQ flags each */
} readback;

static void count_reject(void *ctx, const ride_frame_reject *reject)
{
    (void)reject;
    ((readback *)ctx)->rejected++;
}

static void record_frame(readback *rb, const ride_frame *f, int32_t partition, ride_image *want)
{
    rb->frames++;
    if (f->stream_id >= SOURCES || f->seq >= MAX_SEQ) {
        rb->mismatched++;
        return;
    }
    uint32_t s = f->stream_id;
    if (rb->seen[s][f->seq]++)
        rb->duplicates++;
    rb->per_stream[s]++;
    rb->per_partition[s][partition]++;
    if (f->seq > rb->max_seq[s])
        rb->max_seq[s] = f->seq;
    if (ride_synthetic_render(s, f->seq, W, H, want) != 0 ||
        ride_test_max_abs_diff_u8(&f->image, want) != 0)
        rb->mismatched++;
}

/* Consumes every partition from the beginning until `expect` frames came, then
 * checks that nothing more arrives. */
static void read_topic(fixture *fx, const char *topic, int expect, readback *rb)
{
    memset(rb, 0, sizeof *rb);
    for (int s = 0; s < SOURCES; s++)
        assert_non_null(rb->seen[s] = calloc(MAX_SEQ, 1));
    rd_kafka_conf_t *conf = ride_test_kafka_conf(fx->mock, RIDE_KAFKA_CONSUMER);
    ride_kafka_consumer *c = ride_kafka_consumer_new(conf, "ride.test.cli", fx->err, sizeof fx->err);
    if (!c)
        fail_msg("consumer: %s", fx->err);
    assert_int_equal(ride_kafka_partition_count(ride_kafka_consumer_handle(c), topic, 10000,
                                                fx->err, sizeof fx->err),
                     PARTITIONS);
    ride_kafka_tp tps[PARTITIONS];
    ride_frame_assembler *as[PARTITIONS];
    for (int p = 0; p < PARTITIONS; p++) {
        tps[p] = (ride_kafka_tp){topic, p, RIDE_KAFKA_OFFSET_BEGINNING};
        assert_non_null(as[p] = ride_frame_assembler_new(1u << 24, count_reject, rb));
    }
    assert_int_equal(ride_kafka_consumer_add(c, tps, PARTITIONS, fx->err, sizeof fx->err), 0);
    ride_frame f = {0};
    ride_image want = {0};
    int64_t deadline = ride_clock_mono_ms() + READ_MS;
    bool draining = false;
    for (;;) {
        if (rb->frames >= expect && !draining) {
            /* Anything beyond the expected frames would come now. */
            draining = true;
            deadline = ride_clock_mono_ms() + 300;
        }
        if (ride_clock_mono_ms() >= deadline)
            break;
        ride_kafka_message m;
        if (ride_kafka_consumer_poll(c, 50, &m, fx->err, sizeof fx->err) != 1)
            continue;
        assert_in_range(m.partition, 0, PARTITIONS - 1);
        if (ride_frame_assembler_push(as[m.partition], m.payload, m.len, &f) == RIDE_FRAME_OK)
            record_frame(rb, &f, m.partition, &want);
        ride_kafka_message_release(&m);
    }
    ride_frame_free(&f);
    ride_image_free(&want);
    for (int p = 0; p < PARTITIONS; p++)
        ride_frame_assembler_free(as[p]);
    ride_kafka_consumer_free(c);
    for (int s = 0; s < SOURCES; s++)
        free(rb->seen[s]);
    assert_int_equal(rb->rejected, 0);
    assert_int_equal(rb->mismatched, 0);
    assert_int_equal(rb->duplicates, 0);
    assert_int_equal(rb->frames, expect);
}

/* ---- tests ---- */

static void test_bounded_run_publishes_every_frame_once(void **state)
{
    fixture *fx = *state;
    const char *topic = "ride.cli.bounded";
    ride_test_kafka_topic(fx->mock, topic, PARTITIONS);
    const char *args[] = {"--bootstrap", ride_kafka_mock_bootstraps(fx->mock), "--topic", topic,
                          "--source", "cam-a=synthetic:64x48@200", "--source",
                          "cam-b=synthetic:64x48@200", "--frames", "50", NULL};
    ride_proc *p = spawn(fx, args);
    expect_exit(fx, p, 0);
    expect_log_contains(fx, "event=start ");
    expect_log_contains(fx, "partitions=4");

    readback rb;
    read_topic(fx, topic, SOURCES * FRAMES, &rb);
    for (int s = 0; s < SOURCES; s++) {
        /* With exactly FRAMES distinct seqs, all below FRAMES: 0..49 once each. */
        assert_int_equal(rb.per_stream[s], FRAMES);
        assert_int_equal(rb.max_seq[s], FRAMES - 1);
        for (int part = 0; part < PARTITIONS; part++)
            assert_in_range(rb.per_partition[s][part], FRAMES / PARTITIONS,
                            (FRAMES + PARTITIONS - 1) / PARTITIONS);
    }
    char *log = read_log(fx);
    assert_int_equal(log_field(log, "summary", "produced", 0), SOURCES * FRAMES);
    assert_int_equal(log_field(log, "summary", "delivered", 0), SOURCES * FRAMES);
    free(log);
}

static bool log_has_stats(void *ctx)
{
    char *text = ride_harness_read_file(ctx, NULL);
    bool ok = text && strstr(text, "event=source_stats ");
    free(text);
    return ok;
}

static void test_sigterm_flushes_what_was_produced(void **state)
{
    fixture *fx = *state;
    const char *topic = "ride.cli.sigterm";
    ride_test_kafka_topic(fx->mock, topic, PARTITIONS);
    const char *args[] = {"--bootstrap", ride_kafka_mock_bootstraps(fx->mock), "--topic", topic,
                          "--source", "cam-a=synthetic:64x48@200", "--source",
                          "cam-b=synthetic:64x48@200", "--stats-interval-ms", "100", NULL};
    ride_proc *p = spawn(fx, args);
    /* A stats line means the sources are running and publishing. */
    if (!ride_harness_wait_until(log_has_stats, fx->log, EXIT_MS)) {
        char *log = read_log(fx);
        ride_harness_proc_stop(p, 1000);
        fail_msg("no stats line; log:\n%s", log);
    }
    assert_int_equal(ride_harness_proc_signal(p, SIGTERM), 0);
    expect_exit(fx, p, 0);
    expect_log_contains(fx, "event=stopping signal=SIGTERM");

    char *log = read_log(fx);
    uint64_t produced = log_field(log, "summary", "produced", 0);
    assert_int_equal(log_field(log, "summary", "delivered", 0), produced);
    assert_true(produced > 0);
    uint64_t per_stream[SOURCES];
    for (uint32_t s = 0; s < SOURCES; s++)
        per_stream[s] = log_field(log, "source_summary", "produced", s);
    free(log);

    readback rb;
    read_topic(fx, topic, (int)produced, &rb);
    for (int s = 0; s < SOURCES; s++) {
        assert_int_equal(rb.per_stream[s], per_stream[s]);
        /* Nothing was dropped, so the seqs are 0..produced-1. */
        assert_int_equal(rb.max_seq[s] + 1, per_stream[s]);
    }
}

static void expect_usage_error(fixture *fx, const char *const *args, const char *message)
{
    ride_proc *p = spawn(fx, args);
    expect_exit(fx, p, 2);
    expect_log_contains(fx, message);
}

static void test_bad_usage_exits_2(void **state)
{
    fixture *fx = *state;
    const char *bs = ride_kafka_mock_bootstraps(fx->mock);
    const char *unknown[] = {"--bootstrap", bs, "--topic", "t", "--source", "a=synthetic:8x8@30",
                             "--colour", "red", NULL};
    expect_usage_error(fx, unknown, "unknown option '--colour'");
    const char *bad_uri[] = {"--bootstrap", bs, "--topic", "t", "--source", "a=synthetic:0x0@30",
                             NULL};
    expect_usage_error(fx, bad_uri, "--source a: invalid synthetic uri");
    const char *no_topic[] = {"--bootstrap", bs, "--source", "a=synthetic:8x8@30", NULL};
    expect_usage_error(fx, no_topic, "missing --topic");
    const char *bad_number[] = {"--bootstrap", bs,    "--topic", "t", "--source",
                                "a=synthetic:8x8@30", "--frames", "12x", NULL};
    expect_usage_error(fx, bad_number, "--frames: expected an integer");
    const char *loop_live[] = {"--bootstrap", bs, "--topic", "t", "--source",
                               "a=rtsp://127.0.0.1/cam", "--loop", NULL};
    expect_usage_error(fx, loop_live, "--loop needs video file or image sources");
}

static void test_missing_topic_exits_1(void **state)
{
    fixture *fx = *state;
    const char *args[] = {"--bootstrap", ride_kafka_mock_bootstraps(fx->mock), "--topic",
                          "ride.cli.absent", "--source", "a=synthetic:8x8@30", "--frames", "1",
                          NULL};
    ride_proc *p = spawn(fx, args);
    expect_exit(fx, p, 1);
    expect_log_contains(fx, "topic ride.cli.absent does not exist");
}

static void test_unreachable_kafka_exits_1(void **state)
{
    fixture *fx = *state;
    char bootstrap[64];
    uint16_t port = ride_harness_free_port();
    assert_int_not_equal(port, 0);
    snprintf(bootstrap, sizeof bootstrap, "127.0.0.1:%u", (unsigned)port);
    const char *args[] = {"--bootstrap", bootstrap, "--topic", "t", "--source",
                          "a=synthetic:8x8@30", "--connect-timeout-ms", "500", NULL};
    int64_t start = ride_clock_mono_ms();
    ride_proc *p = spawn(fx, args);
    expect_exit(fx, p, 1);
    /* The bounded wait (500 ms) is honoured, with room for a slow start. */
    assert_true(ride_clock_mono_ms() - start < 5000);
    expect_log_contains(fx, "cannot reach Kafka at 127.0.0.1:");
}

/* Lines of the log holding every needle. */
static int count_lines(const char *log, const char *a, const char *b)
{
    int n = 0;
    for (const char *line = log; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[2048];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
        if (strstr(buf, a) && strstr(buf, b))
            n++;
        line = end ? end + 1 : NULL;
    }
    return n;
}

static void test_frame_over_max_frame_refused_exits_3(void **state)
{
    fixture *fx = *state;
    const char *topic = "ride.cli.toolarge";
    ride_test_kafka_topic(fx->mock, topic, PARTITIONS);
    /* 64x48 BGR frames are 9216 bytes. */
    const char *args[] = {"--bootstrap", ride_kafka_mock_bootstraps(fx->mock), "--topic", topic,
                          "--source", "cam-a=synthetic:64x48@200", "--max-frame", "9000",
                          "--frames", "20", NULL};
    ride_proc *p = spawn(fx, args);
    expect_exit(fx, p, 3);
    char *log = read_log(fx);
    /* One line for the cause, not one per frame. */
    assert_int_equal(count_lines(log, " event=frame_refused ", "above max_frame_bytes 9000"), 1);
    assert_int_equal(count_lines(log, " event=frame_refused ", "level=error"), 1);
    assert_int_equal(log_field(log, "summary", "dropped_produce_failed", 0), 20);
    assert_int_equal(log_field(log, "summary", "delivered", 0), 0);
    assert_int_equal(log_field(log, "summary", "exit_code", 0), 3);
    free(log);
}

static void test_delivery_failures_logged_once_exits_3(void **state)
{
    fixture *fx = *state;
    const char *topic = "ride.cli.refused";
    ride_test_kafka_topic(fx->mock, topic, PARTITIONS);
    /* The broker refuses the first produce requests as a 2.4 broker refuses a
     * message over its limit. */
    rd_kafka_mock_push_request_errors(ride_kafka_mock_cluster(fx->mock), PRODUCE_API_KEY, 3,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    const char *args[] = {"--bootstrap", ride_kafka_mock_bootstraps(fx->mock), "--topic", topic,
                          "--source", "cam-a=synthetic:64x48@100", "--frames", "20", NULL};
    ride_proc *p = spawn(fx, args);
    expect_exit(fx, p, 3);
    char *log = read_log(fx);
    uint64_t failed = log_field(log, "summary", "dropped_delivery_failed", 0);
    printf("delivery failures: %" PRIu64 " frames, %d lines\n", failed,
           count_lines(log, " event=delivery_failed ", "Message size too large"));
    assert_true(failed >= 1);
    assert_int_equal(log_field(log, "summary", "delivered", 0) + failed, 20);
    /* The broker's reason, once for the cause however many frames it failed. */
    assert_int_equal(count_lines(log, " event=delivery_failed ", "Broker: Message size too large"),
                     1);
    assert_int_equal(log_field(log, "summary", "exit_code", 0), 3);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounded_run_publishes_every_frame_once),
        cmocka_unit_test(test_sigterm_flushes_what_was_produced),
        cmocka_unit_test(test_bad_usage_exits_2),
        cmocka_unit_test(test_missing_topic_exits_1),
        cmocka_unit_test(test_unreachable_kafka_exits_1),
        cmocka_unit_test(test_frame_over_max_frame_refused_exits_3),
        cmocka_unit_test(test_delivery_failures_logged_once_exits_3),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
