/* metrics_cluster: every daemon of a running cluster (master, two workers, producer with a
 * two-stage application) serves /metrics that `promtool check metrics` accepts
 * without a warning; the master exports Kafka's offsets of every stage partition
 * with log-end >= committed >= 0 and drops them once the application is deleted;
 * the workers observe frame latencies. Skipped (77) without promtool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ride_harness_cluster.h"
#include "http/http_client.h"

#define PROMTOOL "/usr/bin/promtool"
#define WAIT_MS 30000
#define STREAMS 2
#define PARTITIONS 2

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

/* Every partition of both stages has its three offset gauges, log-end >= committed
 * >= 0, and lag = log-end - committed. */
static bool offsets_sane(const char *text)
{
    for (size_t s = 0; s < 2; s++)
        for (int p = 0; p < PARTITIONS; p++) {
            char l[160];
            partition_labels(l, sizeof l, STAGES[s], p);
            double end = sample(text, "ride_partition_log_end_offset", l);
            double committed = sample(text, "ride_partition_committed_offset", l);
            double lag = sample(text, "ride_partition_lag_frames", l);
            if (committed < 0 || end < committed || lag != end - committed)
                return false;
        }
    return true;
}

static bool master_offsets_sane(void *ctx)
{
    char *text = ride_cluster_fx_scrape(ctx, "m1-0");
    bool ok = offsets_sane(text) &&
              sample(text, "ride_stage_lag_frames", "app=\"met\",stage=\"gray\"") >= 0 &&
              sample(text, "ride_stage_lag_frames", "app=\"met\",stage=\"sd\"") >= 0;
    free(text);
    return ok;
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
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    ride_cluster_fx_wait_sink(fx, r, 40, WAIT_MS);

    if (!ride_harness_wait_until(master_offsets_sane, fx, WAIT_MS))
        ride_cluster_fx_fail(fx, "the master's partition offsets are missing or insane");
    if (!ride_harness_wait_until(latencies_observed, fx, WAIT_MS))
        ride_cluster_fx_fail(fx, "no frame latency observed for both stages");
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
