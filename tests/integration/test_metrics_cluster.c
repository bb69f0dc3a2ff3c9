/* metrics_cluster: every daemon of a running cluster (master, two workers, producer with a
 * two-stage application) serves /metrics that `promtool check metrics` accepts
 * without a warning; the master exports Kafka's offsets of every stage partition
 * with log-end >= committed >= 0 and drops them once the application is deleted;
 * the workers observe frame latencies, time every step of the first stage's frames
 * (fetch to delivery, and commits) and export their CPU time. The producer sends
 * each frame in CHUNKS messages, so the lag and ridectl top's frames/s must count
 * frames, not messages.
 * Skipped (77) without promtool. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ride_harness_cluster.h"
#include "http/http_client.h"

#define PROMTOOL "/usr/bin/promtool"
#define RIDECTL RIDE_BIN_DIR "/ridectl"
#define WAIT_MS 30000
#define STREAMS 2
#define PARTITIONS 2
/* The producer's messages, and the chunks of one 160x120 bgr8 frame in them. */
#define MAX_MESSAGE 8192
#define FRAME_BYTES (160 * 120 * 3)
#define CHUNK_PAYLOAD (MAX_MESSAGE - 72)
#define CHUNKS ((FRAME_BYTES + CHUNK_PAYLOAD - 1) / CHUNK_PAYLOAD)

static const ride_cluster_app APP = {
    .name = "met", .fps = 20, .partitions = PARTITIONS, .max_workers = 2, .stddev = true};
static const char *const STAGES[] = {"gray", "sd"};

/* The daemons in spawn order: their logs are <dir>/<id>-<n>.log. */
static const char *const DAEMONS[] = {"m1-0", "w1-1", "w2-2", "p1-3"};

/* The value of the sample `name{labels}`, or -1 when absent. */
static double sample(const char *text, const char *name, const char *labels)
{
    char key[256];
    snprintf(key, sizeof key, "\n%s{%s} ", name, labels);
    const char *p = text ? strstr(text, key) : NULL;
    return p ? strtod(p + strlen(key), NULL) : -1;
}

static void partition_labels(char *buf, size_t len, const char *stage, int p)
{
    snprintf(buf, len, "app=\"met\",stage=\"%s\",partition=\"%d\"", stage, p);
}

/* Messages waiting, in frames of per_frame messages (the master's rounding). */
static double in_frames(double messages, double per_frame)
{
    double frames = round(messages / per_frame);
    return messages > 0 && frames < 1 ? 1 : frames;
}

/* Every partition of both stages has its offset gauges, log-end >= committed >= 0,
 * lag in messages = log-end - committed, and lag in frames = that over the stage's
 * messages per frame: CHUNKS into gray (the producer's), 1 into sd (a worker's). */
static bool offsets_sane(const char *text)
{
    static const double per_frame[] = {CHUNKS, 1};
    for (size_t s = 0; s < 2; s++) {
        char sl[96];
        snprintf(sl, sizeof sl, "app=\"met\",stage=\"%s\"", STAGES[s]);
        if (sample(text, "ride_stage_messages_per_frame", sl) != per_frame[s])
            return false;
        for (int p = 0; p < PARTITIONS; p++) {
            char l[160];
            partition_labels(l, sizeof l, STAGES[s], p);
            double end = sample(text, "ride_partition_log_end_offset", l);
            double committed = sample(text, "ride_partition_committed_offset", l);
            double messages = sample(text, "ride_partition_lag_messages", l);
            double frames = sample(text, "ride_partition_lag_frames", l);
            if (committed < 0 || end < committed || messages != end - committed ||
                frames != in_frames(messages, per_frame[s]))
                return false;
        }
    }
    return true;
}

static bool master_offsets_sane(void *ctx)
{
    char *text = ride_cluster_fx_scrape(ctx, "m1-0");
    bool ok = offsets_sane(text) &&
              sample(text, "ride_stage_lag_frames", "app=\"met\",stage=\"gray\"") >= 0 &&
              sample(text, "ride_stage_lag_frames", "app=\"met\",stage=\"sd\"") >= 0 &&
              sample(text, "ride_stage_lag_messages", "app=\"met\",stage=\"gray\"") >= 0;
    free(text);
    return ok;
}

/* ridectl top's frames/s of stage gray over two seconds: the sources' frames, not
 * CHUNKS times as many messages. Its backlog (the producer's budget, 4 MiB per
 * partition: about 73 frames each) bounds a catching-up worker well below the
 * message rate. */
static void check_top_rate(ride_cluster_fx *fx)
{
    const char *argv[] = {RIDECTL, "--server", fx->api, "top", "--app", "met", "--iterations",
                          "2", "--interval", "2", "-o", "json", NULL};
    char *out = NULL;
    int rc = ride_cluster_fx_run(fx, "ridectl-top", argv, &out, WAIT_MS);
    const char *second = out ? strchr(out, '\n') : NULL;
    json_error_t je;
    json_t *view = rc == 0 && second ? json_loads(second + 1, JSON_DISABLE_EOF_CHECK, &je) : NULL;
    const json_t *gray = json_array_get(json_object_get(view, "stages"), 0);
    const json_t *rate = json_object_get(gray, "frames_per_s");
    double frames_per_s = json_is_number(rate) ? json_number_value(rate) : -1;
    double message_rate = (double)APP.fps * STREAMS * CHUNKS;
    json_decref(view);
    free(out);
    if (frames_per_s < 0 || frames_per_s >= message_rate / 2)
        ride_cluster_fx_fail(fx, "ridectl top: stage gray at %.1f frames/s (exit %d); its "
                                 "sources send %d frames/s in %.0f messages/s",
                             frames_per_s, rc, APP.fps * STREAMS, message_rate);
}

static bool master_offsets_gone(void *ctx)
{
    char *text = ride_cluster_fx_scrape(ctx, "m1-0");
    bool gone = text && !strstr(text, "app=\"met\"");
    free(text);
    return gone;
}

/* Both stages observed latencies on some worker. */
static bool latencies_observed(void *ctx)
{
    double count[2] = {0, 0};
    for (int w = 1; w <= 2; w++) {
        char *text = ride_cluster_fx_scrape(ctx, DAEMONS[w]);
        for (size_t s = 0; s < 2; s++) {
            char l[96];
            snprintf(l, sizeof l, "app=\"met\",stage=\"%s\"", STAGES[s]);
            double c = sample(text, "ride_frame_latency_seconds_count", l);
            count[s] += c > 0 ? c : 0;
        }
        free(text);
    }
    return count[0] > 0 && count[1] > 0;
}

/* On some worker, the gray stage (raw frames in, a topic out) timed every step its
 * frames take, and each worker exports its CPU time. */
static bool steps_observed(void *ctx)
{
    static const char *const steps[] = {"fetch",   "assemble", "checksum", "kernel",
                                        "produce", "delivery", "commit"};
    double count[sizeof steps / sizeof *steps] = {0};
    bool cpu = true;
    for (int w = 1; w <= 2; w++) {
        char *text = ride_cluster_fx_scrape(ctx, DAEMONS[w]);
        for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
            char l[96];
            snprintf(l, sizeof l, "app=\"met\",stage=\"gray\",step=\"%s\"", steps[s]);
            double c = sample(text, "ride_worker_step_seconds_count", l);
            count[s] += c > 0 ? c : 0;
        }
        const char *at = text ? strstr(text, "\nride_worker_cpu_seconds_total ") : NULL;
        cpu = cpu && at && strtod(at + strlen("\nride_worker_cpu_seconds_total "), NULL) > 0;
        free(text);
    }
    for (size_t s = 0; s < sizeof steps / sizeof *steps; s++)
        if (count[s] <= 0)
            return false;
    return cpu;
}

/* promtool reads the text on stdin and prints nothing when it has no complaint. */
static void check_with_promtool(ride_cluster_fx *fx, const char *daemon)
{
    char *text = ride_cluster_fx_scrape(fx, daemon);
    if (!text)
        ride_cluster_fx_fail(fx, "%s: /metrics cannot be scraped", daemon);
    char path[700], name[64], cmd[800];
    snprintf(path, sizeof path, "%s/%s.metrics", fx->dir, daemon);
    assert_int_equal(ride_harness_write_file(path, text), 0);
    free(text);
    snprintf(name, sizeof name, "promtool-%s", daemon);
    snprintf(cmd, sizeof cmd, PROMTOOL " check metrics < '%s'", path);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    char *out = NULL;
    int rc = ride_cluster_fx_run(fx, name, argv, &out, WAIT_MS);
    bool clean = rc == 0 && (!out || !*out);
    free(out);
    if (!clean)
        ride_cluster_fx_fail(fx, "%s: promtool check metrics complained", daemon);
}

static void test_metrics(void **state)
{
    (void)state;
    if (access(PROMTOOL, X_OK) != 0)
        skip();
    ride_cluster_fx *fx = ride_cluster_fx_start("metrics", 2, NULL, WAIT_MS);
    ride_cluster_fx_run_app(fx, &APP, WAIT_MS);
    ride_audit_reader *r = ride_cluster_fx_reader(fx, "met.sd.out", NULL, NULL);
    ride_proc *producer = ride_cluster_fx_chunking_producer(fx, "p1", MAX_MESSAGE);
    ride_cluster_fx_wait_sink(fx, r, 40, WAIT_MS);

    if (!ride_harness_wait_until(master_offsets_sane, fx, WAIT_MS))
        ride_cluster_fx_fail(fx, "the master's partition offsets are missing or insane");
    check_top_rate(fx);
    if (!ride_harness_wait_until(latencies_observed, fx, WAIT_MS))
        ride_cluster_fx_fail(fx, "no frame latency observed for both stages");
    if (!ride_harness_wait_until(steps_observed, fx, WAIT_MS))
        ride_cluster_fx_fail(fx, "the gray stage's steps or the workers' CPU time are missing");
    for (size_t d = 0; d < sizeof DAEMONS / sizeof *DAEMONS; d++)
        check_with_promtool(fx, DAEMONS[d]);

    ride_cluster_stream_counts counts[STREAMS] = {{0}};
    ride_cluster_fx_stop_producer(fx, producer, "p1", counts, STREAMS);
    assert_int_equal(ride_cluster_fx_drain(fx, r, counts, STREAMS, WAIT_MS), 0);
    ride_audit_reader_free(r);
    assert_int_equal(ride_cluster_fx_call(fx, "DELETE", "/v1/apps/met", NULL,
                                          RIDE_CLUSTER_TOKEN, NULL) / 100, 2);
    if (!ride_harness_wait_until(master_offsets_gone, fx, WAIT_MS))
        ride_cluster_fx_fail(fx, "the deleted application's offsets are still exported");
    ride_cluster_fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup,
                                  ride_harness_zk_group_teardown);
}
