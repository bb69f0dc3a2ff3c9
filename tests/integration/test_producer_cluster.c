/* ride-producer in cluster mode as a real process: a real ZooKeeper server, the
 * embedded Kafka cluster hosted by this test, and the producer's assignment
 * written by the test itself (in place of a master). Checks that it registers,
 * runs the two assigned synthetic sources with their stream ids, round-robin over
 * the topic's partitions with contiguous sequence numbers, stops the source taken
 * out of its assignment while the other goes on, reports the running source in its
 * heartbeat, and on SIGTERM exits 0 with every frame it counted as produced in
 * Kafka. */
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
#include "media/synthetic.h"
#include "wire/frame.h"

#define ID "p1"
#define TOPIC "ride.demo.cams"
#define PARTITIONS 3
#define W 64
#define H 48
#define URI "synthetic:64x48@50"
#define LOCAL_SOURCE "v4l2:/dev/video9"
#define MAX_SEQ 10000
#define WAIT_MS 20000
#define EXIT_MS 20000

/* The two assigned sources: cam-a keeps running, cam-b is taken away. */
enum { CAM_A, CAM_B, CAMS };
static const char *const cam_names[CAMS] = {"cam-a", "cam-b"};
static const uint32_t cam_streams[CAMS] = {7, 11};

typedef struct stream_seen {
    int frames;
    int duplicates;
    int misplaced; /* not on the partition round-robin puts it on */
    int64_t max_seq;
    unsigned char seen[MAX_SEQ];
} stream_seen;

typedef struct fixture {
    ride_daemon_fx *d;
    ride_daemon_reader *reader;
    stream_seen cams[CAMS];
    int foreign; /* frames of an unknown stream, rejected or with wrong pixels */
    ride_image want;
} fixture;

static void count_reject(void *ctx, const ride_frame_reject *r)
{
    (void)r;
    ((fixture *)ctx)->foreign++;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->d = ride_daemon_fx_new("pc");
    ride_test_kafka_topic(fx->d->mock, TOPIC, PARTITIONS);
    fx->reader = ride_daemon_fx_reader(fx->d, TOPIC, PARTITIONS, count_reject, fx);
    for (int c = 0; c < CAMS; c++)
        fx->cams[c].max_seq = -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ride_image_free(&fx->want);
    ride_daemon_reader_free(fx->reader);
    ride_daemon_fx_free(fx->d);
    free(fx);
    return 0;
}

/* Writes the producer's assignment: the sources whose bit is set in mask. */
static void assign(fixture *fx, unsigned mask, int64_t epoch)
{
    ride_cluster_source_task tasks[CAMS];
    size_t n = 0;
    for (int c = 0; c < CAMS; c++)
        if (mask & (1u << c))
            tasks[n++] = (ride_cluster_source_task){
                .app = "demo", .source = cam_names[c], .epoch = 1,
                .stream_id = cam_streams[c], .uri = URI, .fps = 0, .encoding = RIDE_ENC_RAW,
                .quality = 90, .loop = false, .pace = RIDE_PACE_SOURCE, .topic = TOPIC,
                .partitions = PARTITIONS};
    ride_cluster_assignment a = {.generation = 1, .epoch = epoch, .sources = tasks,
                                 .source_count = n};
    ride_daemon_fx_assign(fx->d, ID, &a);
}

/* ---- registration ---- */

static bool registered(void *ctx)
{
    fixture *fx = ctx;
    char path[RIDE_ZK_PATH_MAX];
    assert_int_equal(ride_cluster_path_producer(path, sizeof path, ID), 0);
    return ride_zk_exists(fx->d->zk, path, NULL) == RIDE_ZK_OK;
}

static void check_registration(fixture *fx)
{
    if (!ride_harness_wait_until(registered, fx, WAIT_MS)) {
        ride_daemon_fx_print_log(fx->d);
        fail_msg("/producers/" ID " never appeared");
    }
    char path[RIDE_ZK_PATH_MAX];
    assert_int_equal(ride_cluster_path_producer(path, sizeof path, ID), 0);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(ride_zk_get(fx->d->zk, path, &data, &len, NULL), RIDE_ZK_OK);
    ride_cluster_producer me;
    int rc = ride_cluster_producer_decode(path, data, len, &me, fx->d->err, sizeof fx->d->err);
    free(data);
    if (rc)
        fail_msg("registration: %s", fx->d->err);
    assert_string_equal(me.id, ID);
    assert_true(me.pid > 1);
    assert_int_equal(me.local_source_count, 1);
    assert_string_equal(me.local_sources[0], LOCAL_SOURCE);
    ride_cluster_producer_free(&me);
}

/* ---- reading the topic ---- */

static void record(fixture *fx, const ride_frame *f, int32_t partition)
{
    int c = f->stream_id == cam_streams[CAM_A] ? CAM_A
            : f->stream_id == cam_streams[CAM_B] ? CAM_B
                                                 : -1;
    if (c < 0 || f->seq >= MAX_SEQ || ride_synthetic_render(f->stream_id, f->seq, W, H, &fx->want) ||
        ride_test_max_abs_diff_u8(&f->image, &fx->want)) {
        fx->foreign++;
        return;
    }
    stream_seen *s = &fx->cams[c];
    s->frames++;
    if (s->seen[f->seq]++)
        s->duplicates++;
    /* The i-th frame of stream id S goes to partition (S + i) mod P. */
    if ((uint64_t)partition != (f->stream_id + f->seq) % PARTITIONS)
        s->misplaced++;
    if ((int64_t)f->seq > s->max_seq)
        s->max_seq = (int64_t)f->seq;
}

static void read_for(fixture *fx, int ms)
{
    ride_frame f = {0};
    int64_t deadline = ride_clock_mono_ms() + ms;
    do {
        int32_t partition;
        if (ride_daemon_reader_next(fx->reader, 10, &f, &partition))
            record(fx, &f, partition);
    } while (ride_clock_mono_ms() < deadline);
    ride_frame_free(&f);
}

typedef struct frames_probe {
    fixture *fx;
    int cam;
    int frames;
} frames_probe;

static bool has_frames(void *ctx)
{
    frames_probe *fp = ctx;
    read_for(fp->fx, 20);
    return fp->fx->cams[fp->cam].frames >= fp->frames;
}

static void wait_frames(fixture *fx, int cam, int frames)
{
    frames_probe fp = {fx, cam, frames};
    if (!ride_harness_wait_until(has_frames, &fp, WAIT_MS)) {
        ride_daemon_fx_print_log(fx->d);
        fail_msg("%s: %d frames, expected %d", cam_names[cam], fx->cams[cam].frames, frames);
    }
}

/* ---- heartbeat ---- */

/* The heartbeat lists exactly the sources of mask, each under epoch 1 with frames
 * produced. */
static bool heartbeat_lists(fixture *fx, unsigned mask)
{
    ride_cluster_heartbeat hb;
    if (!ride_daemon_fx_heartbeat(fx->d, ID, &hb))
        return false;
    unsigned got = 0;
    bool ok = hb.partition_count == 0;
    for (size_t i = 0; i < hb.source_count; i++) {
        const ride_cluster_hb_source *s = &hb.sources[i];
        for (int c = 0; c < CAMS; c++)
            if (strcmp(s->source, cam_names[c]) == 0)
                got |= 1u << c;
        ok = ok && strcmp(s->app, "demo") == 0 && s->epoch == 1 && s->frames_produced > 0 &&
             s->frames_dropped == 0;
    }
    ok = ok && hb.source_count == (size_t)__builtin_popcount(mask);
    ride_cluster_heartbeat_free(&hb);
    return ok && got == mask;
}

static bool heartbeat_only_cam_a(void *ctx)
{
    return heartbeat_lists(ctx, 1u << CAM_A);
}

/* ---- the log ---- */

/* The value of key=N in the source_summary line of stream (or, stream < 0, in the
 * summary line). */
static uint64_t log_field(const char *log, const char *key, int64_t stream)
{
    char ev[64], st[32], k[64];
    snprintf(ev, sizeof ev, " event=%s ", stream < 0 ? "summary" : "source_summary");
    snprintf(st, sizeof st, " stream=%" PRId64 " ", stream);
    snprintf(k, sizeof k, " %s=", key);
    for (const char *line = strstr(log, ev); line; line = strstr(line + 1, ev)) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[2048];
        assert_true(len < sizeof buf);
        memcpy(buf, line, len);
        buf[len] = '\0';
        if (stream >= 0 && !strstr(buf, st))
            continue;
        const char *v = strstr(buf, k);
        assert_non_null(v);
        return strtoull(v + strlen(k), NULL, 10);
    }
    fail_msg("no %s line for stream %" PRId64 " in log:\n%s", ev, stream, log);
    return 0;
}

/* ---- the test ---- */

static void test_runs_its_assignment(void **state)
{
    fixture *fx = *state;
    ride_proc *p = ride_daemon_fx_producer(fx->d, ID, LOCAL_SOURCE);
    check_registration(fx);

    assign(fx, (1u << CAM_A) | (1u << CAM_B), 1);
    wait_frames(fx, CAM_A, 20);
    wait_frames(fx, CAM_B, 20);

    /* cam-b leaves the assignment: once the heartbeat no longer lists it, its
     * thread has ended and every frame it produced is queued ahead of cam-a's
     * next ones, so after 25 more cam-a frames cam-b's count is final. */
    assign(fx, 1u << CAM_A, 2);
    if (!ride_harness_wait_until(heartbeat_only_cam_a, fx, WAIT_MS)) {
        ride_daemon_fx_print_log(fx->d);
        fail_msg("the heartbeat never listed cam-a alone");
    }
    wait_frames(fx, CAM_A, fx->cams[CAM_A].frames + 25);
    int cam_b_stopped = fx->cams[CAM_B].frames;
    wait_frames(fx, CAM_A, fx->cams[CAM_A].frames + 25);
    assert_int_equal(fx->cams[CAM_B].frames, cam_b_stopped);

    ride_daemon_fx_expect_clean_exit(fx->d, p, EXIT_MS);
    assert_false(registered(fx));

    /* Everything counted as produced is in Kafka, once, with seqs 0..n-1. */
    char *log = ride_harness_read_file(fx->d->log, NULL);
    assert_non_null(log);
    uint64_t produced[CAMS];
    for (int c = 0; c < CAMS; c++)
        produced[c] = log_field(log, "produced", cam_streams[c]);
    assert_int_equal(log_field(log, "produced", -1), produced[CAM_A] + produced[CAM_B]);
    assert_int_equal(log_field(log, "delivered", -1), produced[CAM_A] + produced[CAM_B]);
    free(log);
    wait_frames(fx, CAM_A, (int)produced[CAM_A]);
    read_for(fx, 300);
    for (int c = 0; c < CAMS; c++) {
        stream_seen *s = &fx->cams[c];
        printf("%s: %d frames in Kafka, %" PRIu64 " produced\n", cam_names[c], s->frames,
               produced[c]);
        assert_int_equal(s->frames, (int)produced[c]);
        assert_int_equal(s->max_seq + 1, (int64_t)produced[c]);
        assert_int_equal(s->duplicates, 0);
        assert_int_equal(s->misplaced, 0);
    }
    assert_int_equal(fx->foreign, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_runs_its_assignment, setup, teardown),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup,
                                  ride_harness_zk_group_teardown);
}
