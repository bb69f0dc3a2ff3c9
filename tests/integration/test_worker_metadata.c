/* Frame metadata through real daemons: a ride-worker runs a facedetect stage on
 * photographs with faces (opencv-doc's messi5.jpg), publishes the frames with their
 * boxes to the next stage's topic in the embedded Kafka cluster, and a grayscale
 * stage after it writes files. Every frame's boxes must reach the files sink as a
 * <seq>.json sidecar, unchanged by the stage in between, identical to the boxes
 * the facedetect task finds on the same photograph in this process, and every
 * image must be the grayscale of the photograph. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ride_harness_cluster.h"
#include "cluster/cluster.h"
#include "kernels/kernels.h"
#include "media/opencv_c.h"
#include "tasks/host.h"
#include "wire/frame.h"

#define PHOTO "/usr/share/doc/opencv-doc/examples/data/messi5.jpg"
#define FACES_TOPIC "ride.demo.faces"
#define FACES_GROUP "ride.demo.faces"
#define GRAY_TOPIC "ride.demo.gray"
#define GRAY_GROUP "ride.demo.gray"
#define PARTITIONS 2
#define FRAMES 3 /* per stream; stream s goes to partition s */
#define WAIT_MS 30000
#define EXIT_MS 10000

typedef struct fixture {
    ride_daemon_fx *d;
    char out[600];
    ride_frame photo;   /* BGR8 */
    char *boxes;        /* what facedetect attaches to the photo here */
} fixture;

/* The facedetect task with its default params, run in this process. */
static char *boxes_of(const ride_frame *photo)
{
    ride_task_registry *r = ride_task_registry_new();
    const ride_task_descriptor *d = ride_task_find(r, "facedetect");
    assert_non_null(d);
    ride_task_params *params = NULL;
    ride_parse_error perr;
    assert_int_equal(ride_task_params_parse(d, NULL, 0, "test", "params", (ride_pos){1, 1},
                                            &params, &perr),
                     0);
    char err[256];
    ride_task_runner *run = ride_task_runner_new(d, params, NULL, err, sizeof err);
    if (!run)
        fail_msg("facedetect: %s", err);
    ride_frame out = {0};
    if (ride_task_run(run, photo, &out, err, sizeof err) != 0)
        fail_msg("facedetect: %s", err);
    assert_non_null(out.metadata);
    char *boxes = strdup(out.metadata);
    ride_frame_free(&out);
    ride_task_runner_free(run);
    ride_task_registry_free(r);
    return boxes;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    char err[256];
    if (ride_cv_read_file(PHOTO, RIDE_PIX_BGR8, &fx->photo.image, err, sizeof err) != 0)
        fail_msg("%s (install opencv-doc: scripts/install-deps.sh): %s", PHOTO, err);
    fx->boxes = boxes_of(&fx->photo);
    fx->d = ride_daemon_fx_new("wm");
    snprintf(fx->out, sizeof fx->out, "%s/out", fx->d->dir);
    ride_test_kafka_topic(fx->d->mock, FACES_TOPIC, PARTITIONS);
    ride_test_kafka_topic(fx->d->mock, GRAY_TOPIC, PARTITIONS);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ride_daemon_fx_free(fx->d);
    ride_frame_free(&fx->photo);
    free(fx->boxes);
    free(fx);
    return 0;
}

/* Both stages of app demo on w1: faces (facedetect) into the gray stage's topic,
 * gray (grayscale) into PNG files under fx->out. */
static void assign(fixture *fx)
{
    ride_kv params[1] = {{0}};
    ride_cluster_partition_task parts[2 * PARTITIONS];
    for (int p = 0; p < PARTITIONS; p++) {
        parts[p] = (ride_cluster_partition_task){
            .app = "demo", .stage = "faces", .partition = p, .epoch = 1,
            .input_topic = FACES_TOPIC, .output_topic = GRAY_TOPIC,
            .output_partitions = PARTITIONS, .output_group = GRAY_GROUP, .group = FACES_GROUP,
            .delivery = RIDE_DELIVERY_AT_LEAST_ONCE, .task = "facedetect", .params = params,
            .device = RIDE_STAGE_CPU, .threads = 1};
        parts[PARTITIONS + p] = (ride_cluster_partition_task){
            .app = "demo", .stage = "gray", .partition = p, .epoch = 1,
            .input_topic = GRAY_TOPIC, .output_path = fx->out, .output_format = RIDE_ENC_PNG,
            .group = GRAY_GROUP, .delivery = RIDE_DELIVERY_AT_LEAST_ONCE, .task = "grayscale",
            .params = params, .device = RIDE_STAGE_CPU, .threads = 1};
    }
    ride_cluster_assignment a = {.generation = 1, .epoch = 1, .partitions = parts,
                                 .partition_count = 2 * PARTITIONS};
    ride_daemon_fx_assign(fx->d, "w1", &a);
}

static void produce_photos(fixture *fx)
{
    for (uint64_t q = 0; q < FRAMES; q++)
        for (uint32_t s = 0; s < PARTITIONS; s++) {
            fx->photo.stream_id = s;
            fx->photo.seq = q;
            fx->photo.capture_ns = 1000 + q;
            ride_daemon_fx_produce_frame(fx->d, FACES_TOPIC, (int32_t)s, &fx->photo);
        }
    ride_daemon_fx_flush(fx->d);
}

/* Visible files (no temporaries) in the directory of one stream; -1 when absent. */
static int stream_files(const fixture *fx, uint32_t stream)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%u", fx->out, stream);
    return ride_harness_dir_entries(path, false);
}

static bool sink_complete(void *ctx)
{
    const fixture *fx = ctx;
    for (uint32_t s = 0; s < PARTITIONS; s++)
        if (stream_files(fx, s) < 2 * FRAMES)
            return false;
    return true;
}

static int face_count(const char *json)
{
    json_error_t jerr;
    json_t *doc = json_loads(json, 0, &jerr);
    if (!doc)
        fail_msg("not JSON (%s): %s", jerr.text, json);
    json_t *faces = json_object_get(doc, "faces");
    int n = json_is_array(faces) ? (int)json_array_size(faces) : -1;
    json_decref(doc);
    return n;
}

static void expect_sidecars_and_images(fixture *fx)
{
    ride_image want = {0}, got = {0};
    assert_int_equal(ride_cpu_grayscale(&fx->photo.image, &want, 1), 0);
    for (uint32_t s = 0; s < PARTITIONS; s++) {
        assert_int_equal(stream_files(fx, s), 2 * FRAMES);
        for (int q = 0; q < FRAMES; q++) {
            char path[700];
            snprintf(path, sizeof path, "%s/%u/%020d.json", fx->out, s, q);
            char *json = ride_harness_read_file(path, NULL);
            if (!json)
                fail_msg("%s missing", path);
            assert_string_equal(json, fx->boxes);
            free(json);
            snprintf(path, sizeof path, "%s/%u/%020d.png", fx->out, s, q);
            if (ride_cv_read_file(path, RIDE_PIX_GRAY8, &got, fx->d->err, sizeof fx->d->err))
                fail_msg("%s: %s", path, fx->d->err);
            assert_int_equal(ride_test_max_abs_diff_u8(&got, &want), 0);
        }
    }
    ride_image_free(&want);
    ride_image_free(&got);
}

static void test_face_boxes_reach_the_sink(void **state)
{
    fixture *fx = *state;
    int faces = face_count(fx->boxes);
    assert_true(faces >= 1);
    assign(fx);
    ride_proc *w = ride_daemon_fx_worker(fx->d, "w1");
    produce_photos(fx);
    if (!ride_harness_wait_until(sink_complete, fx, WAIT_MS)) {
        ride_daemon_fx_print_log(fx->d);
        fail_msg("the sink never held %d images and sidecars per stream", FRAMES);
    }
    unsigned all = (1u << PARTITIONS) - 1;
    ride_daemon_fx_wait_commits(fx->d, FACES_GROUP, FACES_TOPIC, all, WAIT_MS);
    ride_daemon_fx_wait_commits(fx->d, GRAY_GROUP, GRAY_TOPIC, all, WAIT_MS);
    expect_sidecars_and_images(fx);
    printf("%d face box(es) per frame reached the sink with all %d frames\n", faces,
           PARTITIONS * FRAMES);
    ride_daemon_fx_expect_clean_exit(fx->d, w, EXIT_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_face_boxes_reach_the_sink, setup, teardown),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup,
                                  ride_harness_zk_group_teardown);
}
