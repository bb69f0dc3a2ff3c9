/* realkafka pipeline: the two-stage application (grayscale, then stddev) on a real
 * Kafka broker: one master configured with it, two workers, one producer with two
 * synthetic 160x120 sources (57,600-byte frames, far below the broker's 1 MB
 * message limit). Every frame the producer delivered reaches the sink, checked
 * by sequence number; without faults none arrives twice.
 *
 * Frames larger than the broker's limit: two 1600x1200 sources (5,760,000-byte
 * raw frames) through grayscale (1,920,000-byte outputs) on a Kafka 2.4 broker,
 * whose message.max.bytes is 1,000,012: the producer and the worker read it with
 * DescribeConfigs and chunk at 999,940 bytes, and every delivered frame reaches
 * the sink whole.
 *
 * The workers' default stage-to-stage budget on a real Kafka is 64 MiB. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ride_harness_cluster.h"

#define STREAMS 2
#define WAIT_MS 30000

static const ride_cluster_app APP = {
    .name = "rkpipe", .fps = 40, .partitions = 4, .max_workers = 2, .stddev = true};

/* The log of the daemon spawned as name: "<name>-<n>.log" in the cluster's dir. */
static char *daemon_log(const ride_cluster_fx *fx, const char *name)
{
    char prefix[64], path[700];
    snprintf(prefix, sizeof prefix, "%s-", name);
    path[0] = '\0';
    DIR *d = opendir(fx->dir);
    assert_non_null(d);
    for (struct dirent *e = readdir(d); e; e = readdir(d))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && strstr(e->d_name, ".log"))
            snprintf(path, sizeof path, "%s/%s", fx->dir, e->d_name);
    closedir(d);
    char *text = path[0] ? ride_harness_read_file(path, NULL) : NULL;
    return text ? text : strdup("");
}

/* Whether a line of event in the daemon's log contains text. */
static bool logged(const ride_cluster_fx *fx, const char *name, const char *event,
                   const char *text)
{
    char *log = daemon_log(fx, name);
    char ev[64];
    snprintf(ev, sizeof ev, " event=%s ", event);
    bool found = false;
    for (const char *line = strstr(log, ev); line && !found; line = strstr(line + 1, ev)) {
        const char *end = strchr(line, '\n');
        const char *hit = strstr(line, text);
        found = hit && (!end || hit < end);
    }
    free(log);
    return found;
}

static void test_pipeline_loses_nothing(void **state)
{
    (void)state;
    const char *bootstrap = ride_harness_kafka_bootstrap(ride_harness_kafka_shared());
    ride_cluster_fx *fx = ride_cluster_fx_start_on("rkpipeline", bootstrap, NULL, 2, NULL,
                                                   WAIT_MS);
    ride_cluster_fx_run_app(fx, &APP, WAIT_MS);

    ride_audit_reader *r = ride_cluster_fx_reader(fx, "rkpipe.sd.out", NULL, NULL);
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    ride_cluster_fx_wait_sink(fx, r, 200, WAIT_MS);
    /* The gray stage's default budget on a real Kafka: 64 MiB, a quarter of the
     * topics' default 256 MiB retention.bytes. */
    if (!logged(fx, "w1", "output_share", "budget_bytes=67108864") &&
        !logged(fx, "w2", "output_share", "budget_bytes=67108864"))
        ride_cluster_fx_fail(fx, "no worker logged the 64 MiB default budget");

    uint64_t duplicates = ride_cluster_fx_finish(fx, r, producer, "p1", STREAMS, WAIT_MS);
    assert_int_equal(duplicates, 0);
}

/* Kafka before 2.5: message.max.bytes 1000012, which leaves 999,940 bytes for a
 * message alone in its record batch (kafka/message_size.h). */
#define BROKER_LIMIT "topic_message_limit=1000012"
#define CHUNK "message_bytes=999940"

static const ride_cluster_app BIG = {.name = "rkbig",
                                     .fps = 5,
                                     .partitions = 2,
                                     .max_workers = 2,
                                     .size = "1600x1200"};

/* The lines of event in the daemon's log, each checked to name the broker's
 * limit and the chunk size. */
static int sized_lines(const ride_cluster_fx *fx, const char *name, const char *event)
{
    char *log = daemon_log(fx, name);
    char ev[64];
    snprintf(ev, sizeof ev, " event=%s ", event);
    int lines = 0;
    for (const char *line = strstr(log, ev); line; line = strstr(line + 1, ev)) {
        const char *end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        char buf[2048];
        snprintf(buf, sizeof buf, "%.*s", len, line);
        if (!strstr(buf, BROKER_LIMIT) || !strstr(buf, CHUNK))
            ride_cluster_fx_fail(fx, "%s: %s", name, buf);
        lines++;
    }
    free(log);
    return lines;
}

static void test_frames_over_the_broker_limit(void **state)
{
    (void)state;
    const char *bootstrap = ride_harness_kafka_bootstrap(ride_harness_kafka_shared());
    ride_cluster_fx *fx = ride_cluster_fx_start_on("rkbig", bootstrap, NULL, 2, NULL, WAIT_MS);
    ride_cluster_fx_run_app(fx, &BIG, WAIT_MS);

    ride_audit_reader *r = ride_cluster_fx_reader(fx, "rkbig.gray.out", NULL, NULL);
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    ride_cluster_fx_wait_sink(fx, r, 10, WAIT_MS);
    if (sized_lines(fx, "p1", "source_start") != STREAMS)
        ride_cluster_fx_fail(fx, "p1: expected %d source_start lines", STREAMS);
    if (sized_lines(fx, "w1", "output_message_size") + sized_lines(fx, "w2", "output_message_size") == 0)
        ride_cluster_fx_fail(fx, "no worker logged output_message_size");

    uint64_t duplicates = ride_cluster_fx_finish(fx, r, producer, "p1", STREAMS, WAIT_MS);
    assert_int_equal(duplicates, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_loses_nothing),
        cmocka_unit_test(test_frames_over_the_broker_limit),
    };
    return cmocka_run_group_tests(tests, ride_harness_kafka_group_setup,
                                  ride_harness_kafka_group_teardown);
}
