/* embedded_backlog: on the embedded broker, which deletes the oldest messages of a
 * partition beyond 5 MiB whether they were read or not, no frame is ever deleted
 * unread. Two raw 640x480 sources feed stage gray (four partitions, one worker and
 * a spare), whose 300 KB outputs feed stage sd (two partitions on a worker of its
 * own): each of sd's partitions has two writers. Two busy-looping processes take
 * the cores. Twice, sd's worker is stopped (SIGSTOP), so that gray's outputs pile
 * up in sd's input, then gray's active worker is killed, so that its spare takes
 * over with gray's input piled up behind the backpressure, and sd's worker goes
 * on. The sink names its reader's group (spec.sink.group), so sd writes no
 * further ahead of the test's reader than the broker keeps. Every frame the
 * producer delivered must reach the sink (by sequence number), and no worker may
 * log input_expired.
 *
 * sink_waits_for_its_group: an application whose sink names its reader's group
 * (spec.sink.group) with a reader that reads nothing at first: the sink stage
 * pauses and stays paused while its reader is idle, then every delivered frame
 * reaches the sink once the reader reads (and commits) again. */
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ride_harness_cluster.h"
#include "base/clock.h"

#define STREAMS 2
#define WAIT_MS 30000
#define DRAIN_MS 15000
#define HOGS 2
#define ROUNDS 2
#define FILL_MS 1000
#define RUNNING_MS 3000
#define IDLE_READER_MS 3000
#define SINK_GROUP "sg.reader"
/* The 640x480 grey frames an embedded partition holds (5 MiB). */
#define SINK_PARTITION_FRAMES (5242880 / (640 * 480))

static const char MANIFEST[] =
    "apiVersion: ride/v1\n"
    "kind: Application\n"
    "metadata: {name: eb}\n"
    "spec:\n"
    "  sources:\n"
    "    - {name: cam0, uri: \"synthetic:640x480@30\", encoding: raw}\n"
    "    - {name: cam1, uri: \"synthetic:640x480@30\", encoding: raw}\n"
    "  stages:\n"
    "    - name: gray\n"
    "      input: [cam0, cam1]\n"
    "      task: grayscale\n"
    "      partitions: 4\n"
    "      workers: {min: 1, max: 1, spares: 1}\n"
    "      selector: {role: gray}\n"
    "    - name: sd\n"
    "      input: [gray]\n"
    "      task: stddev\n"
    "      params: {ksize: 5}\n"
    "      partitions: 2\n"
    "      workers: {min: 1, max: 1, spares: 0}\n"
    "      selector: {role: sd}\n"
    "  sink: {type: kafka, stage: sd, group: eb.reader}\n";

/* Reads (and commits, as the sink's group) for ms: the sink stage writes at most
 * its budget ahead of what was read, whatever the test does in between. */
static void read_sink(ride_cluster_fx *fx, ride_audit_reader *r, int ms)
{
    char err[256];
    int64_t until = ride_clock_mono_ms() + ms;
    for (int64_t now = ride_clock_mono_ms(); now < until; now = ride_clock_mono_ms())
        if (ride_audit_reader_poll(r, (int)(until - now), 0, err, sizeof err) < 0)
            ride_cluster_fx_fail(fx, "sink reader: %s", err);
}

/* How often the cluster's logs say that the broker deleted input unread. */
static int count_expired(const ride_cluster_fx *fx)
{
    DIR *d = opendir(fx->dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strstr(e->d_name, ".log"))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", fx->dir, e->d_name);
        char *log = ride_harness_read_file(path, NULL);
        for (const char *at = log; at && (at = strstr(at, "event=input_expired")); at++)
            n++;
        free(log);
    }
    closedir(d);
    return n;
}

/* The id of stage gray's active worker (GET /v1/apps/eb), in id. */
static bool gray_active(ride_cluster_fx *fx, char *id, size_t len)
{
    json_t *j = ride_cluster_fx_get(fx, "/v1/apps/eb");
    size_t i;
    json_t *s;
    bool found = false;
    json_array_foreach(json_object_get(j, "stages"), i, s)
    {
        json_t *active = json_object_get(s, "active");
        if (strcmp(json_string_value(json_object_get(s, "name")), "gray") == 0 &&
            json_array_size(active) == 1) {
            snprintf(id, len, "%s", json_string_value(json_array_get(active, 0)));
            found = true;
        }
    }
    json_decref(j);
    return found;
}

typedef struct moved_probe {
    ride_cluster_fx *fx;
    const char *from;
} moved_probe;

/* Every partition of gray is owned by another worker than `from`. */
static bool gray_moved(void *ctx)
{
    moved_probe *mp = ctx;
    char owner[130];
    for (int p = 0; p < 4; p++)
        if (!ride_cluster_fx_owner(mp->fx, "eb", "gray", p, owner, sizeof owner) ||
            strcmp(owner, mp->from) == 0)
            return false;
    return true;
}

static void test_nothing_deleted_unread(void **state)
{
    (void)state;
    ride_cluster_fx *fx = ride_cluster_fx_new("embedded_backlog");
    ride_cluster_fx_master(fx, "m1", false);
    ride_cluster_fx_wait_api(fx, NULL, WAIT_MS);
    const char *gray_ids[] = {"wg1", "wg2"};
    ride_proc *gray[2];
    for (int i = 0; i < 2; i++)
        gray[i] = ride_cluster_fx_labeled_worker(fx, gray_ids[i], "{role: gray}");
    ride_proc *reader_worker = ride_cluster_fx_labeled_worker(fx, "ws", "{role: sd}");
    ride_cluster_fx_wait_members(fx, true, 3, WAIT_MS);
    char *body = NULL;
    int status = ride_cluster_fx_apply(fx, MANIFEST, &body);
    if (status != 201)
        ride_cluster_fx_fail(fx, "apply: HTTP %d %s", status, body ? body : "");
    free(body);
    ride_cluster_fx_wait_owned(fx, "eb", WAIT_MS);

    ride_audit_reader *r = ride_cluster_fx_group_reader(fx, "eb.sd.out", "eb.reader");
    const char *hog_argv[] = {"/bin/sh", "-c", "while :; do :; done", NULL};
    ride_proc *hogs[HOGS];
    for (int i = 0; i < HOGS; i++)
        assert_non_null(hogs[i] = ride_harness_spawn(hog_argv, NULL, NULL));
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    ride_cluster_fx_wait_sink(fx, r, 20, WAIT_MS);

    for (int round = 0; round < ROUNDS; round++) {
        char victim[130];
        if (!gray_active(fx, victim, sizeof victim))
            ride_cluster_fx_fail(fx, "stage gray has no single active worker");
        int k = strcmp(victim, gray_ids[0]) == 0 ? 0 : 1;
        assert_int_equal(ride_harness_proc_signal(reader_worker, SIGSTOP), 0);
        read_sink(fx, r, FILL_MS);
        assert_int_equal(ride_harness_proc_signal(gray[k], SIGKILL), 0);
        moved_probe mp = {fx, victim};
        if (!ride_harness_wait_until(gray_moved, &mp, WAIT_MS))
            ride_cluster_fx_fail(fx, "gray's partitions did not leave %s", victim);
        assert_int_equal(ride_harness_proc_signal(reader_worker, SIGCONT), 0);
        ride_harness_proc_wait(gray[k], 1000);
        gray[k] = ride_cluster_fx_labeled_worker(fx, gray_ids[k], "{role: gray}");
        read_sink(fx, r, RUNNING_MS);
    }
    for (int i = 0; i < HOGS; i++)
        ride_harness_proc_stop(hogs[i], 1000);

    ride_cluster_stream_counts counts[STREAMS] = {{0}};
    ride_cluster_fx_stop_producer(fx, producer, "p1", counts, STREAMS);
    int expired_before_drain = count_expired(fx);
    printf("input_expired lines: %d\n", expired_before_drain);
    ride_cluster_fx_drain(fx, r, counts, STREAMS, DRAIN_MS);
    int expired = count_expired(fx);
    if (expired)
        ride_cluster_fx_fail(fx, "%d input_expired lines: the broker deleted frames unread",
                             expired);
    ride_audit_reader_free(r);
    ride_cluster_fx_free(fx);
}

/* What worker w1 exports for stage gray of app sg: its paused partitions, and
 * the frames each of its two partitions wrote to the sink. */
typedef struct gray_figures {
    double paused;
    double processed[2];
} gray_figures;

static double sample(const char *text, const char *key)
{
    const char *at = text ? strstr(text, key) : NULL;
    return at ? strtod(at + strlen(key), NULL) : -1;
}

static bool read_gray(ride_cluster_fx *fx, gray_figures *g)
{
    char *text = ride_cluster_fx_scrape(fx, "w1-1");
    g->paused = sample(text, "\nride_worker_paused_partitions{app=\"sg\",stage=\"gray\"} ");
    for (int p = 0; p < 2; p++) {
        char key[128];
        snprintf(key, sizeof key,
                 "\nride_frames_processed_total{app=\"sg\",stage=\"gray\",partition=\"%d\"} ",
                 p);
        g->processed[p] = sample(text, key);
    }
    free(text);
    return text != NULL;
}

/* Both partitions wrote frames to the sink and are paused now: held back by the
 * sink's reader, not by the wait for the first offsets that pauses them at start. */
static bool gray_held_back(void *ctx)
{
    gray_figures g;
    return read_gray(ctx, &g) && g.paused == 2 && g.processed[0] >= 1 && g.processed[1] >= 1;
}

static bool gray_resumed(void *ctx)
{
    gray_figures g;
    return read_gray(ctx, &g) && g.paused == 0;
}

static void test_sink_waits_for_its_group(void **state)
{
    (void)state;
    ride_cluster_fx *fx = ride_cluster_fx_start("embedded_sink_group", 1, NULL, WAIT_MS);
    /* 300 KB outputs at 60 frames/s: without the group, 5 MiB a partition reach
     * the sink in well under a second of the reader's idleness. */
    ride_cluster_app app = {.name = "sg", .fps = 30, .partitions = 2, .max_workers = 1,
                            .size = "640x480", .sink_group = SINK_GROUP};
    ride_cluster_fx_run_app(fx, &app, WAIT_MS);
    ride_audit_reader *r = ride_cluster_fx_group_reader(fx, "sg.gray.out", SINK_GROUP);
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");

    if (!ride_harness_wait_until(gray_held_back, fx, WAIT_MS))
        ride_cluster_fx_fail(fx, "stage gray was never held back by its sink's idle reader");
    if (ride_harness_wait_until(gray_resumed, fx, IDLE_READER_MS))
        ride_cluster_fx_fail(fx, "stage gray resumed while its sink's reader read nothing");
    gray_figures g;
    if (!read_gray(fx, &g))
        ride_cluster_fx_fail(fx, "no metrics from worker w1");
    printf("frames at the sink per partition while its reader was idle: %.0f, %.0f\n",
           g.processed[0], g.processed[1]);
    for (int p = 0; p < 2; p++)
        if (g.processed[p] > SINK_PARTITION_FRAMES)
            ride_cluster_fx_fail(fx, "partition %d wrote %.0f frames to the idle sink", p,
                                 g.processed[p]);

    /* Reading (and committing) lets the stage go on. */
    ride_cluster_fx_wait_sink(fx, r, 4 * SINK_PARTITION_FRAMES, WAIT_MS);
    ride_cluster_stream_counts counts[STREAMS] = {{0}};
    ride_cluster_fx_stop_producer(fx, producer, "p1", counts, STREAMS);
    ride_cluster_fx_drain(fx, r, counts, STREAMS, WAIT_MS);
    ride_audit_reader_free(r);
    ride_cluster_fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_deleted_unread),
        cmocka_unit_test(test_sink_waits_for_its_group),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup,
                                  ride_harness_zk_group_teardown);
}
