/* The built-in task `facedetect`: its boxes against OpenCV's own detectMultiScale
 * on a photograph with faces (opencv-doc's messi5.jpg) and on images without any,
 * for every input format; the cap on boxes; params, cascade and format errors;
 * and the host side of metadata: the input's is copied unless the task sets its
 * own, set_metadata's checks, and tasks that see an older ride_task_output. */
#include "ride_test.h"

#include <jansson.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/opencv_c.h"
#include "tasks/host.h"
#include "wire/frame.h"

/* Debian's opencv-doc: a football photograph with players' faces. */
#define PHOTO "/usr/share/doc/opencv-doc/examples/data/messi5.jpg"
#define CASCADE "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"
#define MAX_BOXES 4096
#define KEPT_FACES 256

typedef struct fixture {
    ride_task_registry *reg;
    ride_image photo; /* bgr8 */
} fixture;

static int setup(void **state)
{
    static fixture fx;
    fx.reg = ride_task_registry_new();
    assert_non_null(fx.reg);
    char err[256];
    if (ride_cv_read_file(PHOTO, RIDE_PIX_BGR8, &fx.photo, err, sizeof err) != 0)
        fail_msg("%s (install opencv-doc: scripts/install-deps.sh): %s", PHOTO, err);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ride_image_free(&fx->photo);
    ride_task_registry_free(fx->reg);
    return 0;
}

/* Validates "key=value" pairs against facedetect's schema; -1 with the error. */
static int facedetect_params(fixture *fx, const char *const *pairs, size_t count,
                             ride_task_params **out, char *msg, size_t len)
{
    const ride_task_descriptor *d = ride_task_find(fx->reg, "facedetect");
    assert_non_null(d);
    char text[8][160];
    ride_kv kv[8];
    assert_true(count <= 8);
    for (size_t i = 0; i < count; i++) {
        snprintf(text[i], sizeof text[i], "%s", pairs[i]);
        char *eq = strchr(text[i], '=');
        assert_non_null(eq);
        *eq = '\0';
        kv[i] = (ride_kv){.key = text[i], .value = eq + 1, .key_pos = {1, 1}, .value_pos = {1, 5}};
    }
    ride_parse_error err;
    if (ride_task_params_parse(d, kv, count, "app.yaml", "params", (ride_pos){1, 1}, out, &err)) {
        ride_parse_error_format(&err, msg, len);
        return -1;
    }
    return 0;
}

/* A runner, or NULL with init's error in err. */
static ride_task_runner *detector(fixture *fx, const char *const *pairs, size_t count, char *err,
                                  size_t errlen)
{
    ride_task_params *p = NULL;
    char msg[512];
    if (facedetect_params(fx, pairs, count, &p, msg, sizeof msg))
        fail_msg("%s", msg);
    return ride_task_runner_new(ride_task_find(fx->reg, "facedetect"), p, NULL, err, errlen);
}

typedef struct boxes {
    size_t count;
    int truncated;
    ride_cv_rect r[MAX_BOXES];
} boxes;

static int int_field(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    return (int)json_integer_value(v);
}

/* Reads {"faces":[{"x","y","width","height"}...],"truncated":bool}. */
static void parse_faces(const char *text, size_t len, boxes *b)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        fail_msg("metadata is not JSON: %s: %.*s", jerr.text, (int)len, text);
    assert_int_equal(json_object_size(doc), 2);
    const json_t *faces = json_object_get(doc, "faces");
    const json_t *truncated = json_object_get(doc, "truncated");
    assert_true(json_is_array(faces));
    assert_true(json_is_boolean(truncated));
    b->truncated = json_is_true(truncated);
    b->count = json_array_size(faces);
    assert_true(b->count <= MAX_BOXES);
    for (size_t i = 0; i < b->count; i++) {
        const json_t *f = json_array_get(faces, i);
        assert_int_equal(json_object_size(f), 4);
        b->r[i] = (ride_cv_rect){int_field(f, "x"), int_field(f, "y"), int_field(f, "width"),
                                 int_field(f, "height")};
    }
    json_decref(doc);
}

static int rect_order(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(ride_cv_rect));
}

static int64_t area(const ride_cv_rect *r) { return (int64_t)r->width * r->height; }

/* The task's documented order: largest first, then top to bottom, left to right. */
static void expect_largest_first(const boxes *b)
{
    for (size_t i = 1; i < b->count; i++) {
        const ride_cv_rect *p = &b->r[i - 1], *q = &b->r[i];
        assert_true(area(p) >= area(q));
        if (area(p) == area(q))
            assert_true(p->y < q->y || (p->y == q->y && p->x <= q->x));
    }
}

/* The same set of boxes as OpenCV, in the task's order. */
static void expect_same_boxes(boxes *got, boxes *want)
{
    expect_largest_first(got);
    qsort(got->r, got->count, sizeof got->r[0], rect_order);
    qsort(want->r, want->count, sizeof want->r[0], rect_order);
    assert_int_equal(got->count, want->count);
    assert_memory_equal(got->r, want->r, got->count * sizeof got->r[0]);
}

/* OpenCV's own detectMultiScale on the gray version of img. */
static void reference(const ride_image *img, const ride_cv_detect_opts *o, boxes *b)
{
    ride_image gray = {0};
    const ride_image *g = img;
    if (img->format != RIDE_PIX_GRAY8) {
        assert_int_equal(ride_cv_ref_grayscale(img, &gray), 0);
        g = &gray;
    }
    assert_int_equal(ride_cv_ref_detect(CASCADE, g, o, b->r, MAX_BOXES, &b->count), 0);
    assert_true(b->count <= MAX_BOXES);
    b->truncated = 0;
    ride_image_free(&gray);
}

/* Runs the task on img and checks that the frame passes unchanged. */
static void detect(ride_task_runner *run, const ride_image *img, boxes *b)
{
    ride_frame in = {.image = *img, .stream_id = 3, .seq = 9}, out = {0};
    in.image.owns_data = 0;
    char err[256];
    if (ride_task_run(run, &in, &out, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(out.image.format, img->format);
    assert_int_equal(ride_test_max_abs_diff_u8(&out.image, img), 0);
    assert_non_null(out.metadata);
    parse_faces(out.metadata, out.metadata_len, b);
    ride_frame_free(&out);
}

static boxes got, want;

static void test_photo_boxes_match_opencv(void **state)
{
    fixture *fx = *state;
    char err[256];
    ride_task_runner *run = detector(fx, NULL, 0, err, sizeof err);
    assert_non_null(run);
    detect(run, &fx->photo, &got);
    ride_cv_detect_opts defaults = {1.1, 3, 30, 0};
    reference(&fx->photo, &defaults, &want);
    /* The photograph shows faces: the comparison is not one of empty lists. */
    assert_true(want.count >= 1);
    assert_false(got.truncated);
    expect_same_boxes(&got, &want);
    ride_task_runner_free(run);

    static const char *const tuned[] = {"scale_factor=1.05", "min_neighbors=5", "min_size=20",
                                        "max_size=200"};
    run = detector(fx, tuned, 4, err, sizeof err);
    assert_non_null(run);
    detect(run, &fx->photo, &got);
    ride_cv_detect_opts o = {1.05, 5, 20, 200};
    reference(&fx->photo, &o, &want);
    assert_true(want.count >= 1);
    expect_same_boxes(&got, &want);
    ride_task_runner_free(run);
}

/* gray8, rgb8 and bgra8 copies of the photo: the boxes OpenCV finds on its gray. */
static void test_every_input_format(void **state)
{
    fixture *fx = *state;
    const ride_image *bgr = &fx->photo;
    ride_image gray = {0}, rgb = {0}, bgra = {0};
    assert_int_equal(ride_cv_ref_grayscale(bgr, &gray), 0);
    assert_int_equal(ride_image_alloc(&rgb, RIDE_PIX_RGB8, bgr->width, bgr->height), 0);
    assert_int_equal(ride_image_alloc(&bgra, RIDE_PIX_BGRA8, bgr->width, bgr->height), 0);
    for (uint32_t y = 0; y < bgr->height; y++)
        for (uint32_t x = 0; x < bgr->width; x++) {
            const uint8_t *p = ride_image_row(bgr, y) + 3 * x;
            uint8_t *q = ride_image_row(&rgb, y) + 3 * x, *r = ride_image_row(&bgra, y) + 4 * x;
            q[0] = p[2], q[1] = p[1], q[2] = p[0];
            r[0] = p[0], r[1] = p[1], r[2] = p[2], r[3] = 255;
        }
    ride_cv_detect_opts defaults = {1.1, 3, 30, 0};
    reference(&gray, &defaults, &want);
    assert_true(want.count >= 1);
    char err[256];
    ride_task_runner *run = detector(fx, NULL, 0, err, sizeof err);
    const ride_image *inputs[] = {&gray, &rgb, &bgra};
    for (size_t i = 0; i < 3; i++) {
        boxes expected = want;
        detect(run, inputs[i], &got);
        expect_same_boxes(&got, &expected);
    }
    ride_task_runner_free(run);
    ride_image_free(&gray);
    ride_image_free(&rgb);
    ride_image_free(&bgra);
}

static void test_images_without_faces_give_an_empty_list(void **state)
{
    fixture *fx = *state;
    char err[256];
    ride_task_runner *run = detector(fx, NULL, 0, err, sizeof err);
    ride_image flat = {0}, noise = {0};
    assert_int_equal(ride_image_alloc(&flat, RIDE_PIX_GRAY8, 320, 240), 0);
    memset(flat.data, 128, ride_image_size(&flat));
    ride_test_random_image(&noise, RIDE_PIX_BGR8, 320, 240, 0, 5);
    const ride_image *inputs[] = {&flat, &noise};
    ride_cv_detect_opts defaults = {1.1, 3, 30, 0};
    for (size_t i = 0; i < 2; i++) {
        reference(inputs[i], &defaults, &want);
        assert_int_equal(want.count, 0);
        detect(run, inputs[i], &got);
        assert_int_equal(got.count, 0);
        assert_false(got.truncated);
    }
    ride_task_runner_free(run);
    ride_image_free(&flat);
    ride_image_free(&noise);
}

/* The photo four times, two by two. */
static void tile_2x2(const ride_image *src, ride_image *dst)
{
    assert_int_equal(ride_image_alloc(dst, src->format, 2 * src->width, 2 * src->height), 0);
    size_t row = ride_image_row_bytes(src->format, src->width);
    for (uint32_t y = 0; y < dst->height; y++) {
        const uint8_t *from = ride_image_row(src, y % src->height);
        memcpy(ride_image_row(dst, y), from, row);
        memcpy(ride_image_row(dst, y) + row, from, row);
    }
}

/* min_neighbors=0 keeps every raw detection: on four copies of the photo with
 * a fine scale step, far more than are reported, so the largest are kept and
 * the document says it was cut. */
static void test_many_boxes_keep_the_largest(void **state)
{
    fixture *fx = *state;
    static const char *const raw[] = {"min_neighbors=0", "min_size=0", "scale_factor=1.02"};
    char err[256];
    ride_task_runner *run = detector(fx, raw, 3, err, sizeof err);
    assert_non_null(run);
    ride_image tiled = {0};
    tile_2x2(&fx->photo, &tiled);
    detect(run, &tiled, &got);
    ride_cv_detect_opts o = {1.02, 0, 0, 0};
    reference(&tiled, &o, &want);
    ride_image_free(&tiled);
    assert_true(want.count > KEPT_FACES);
    assert_true(got.truncated);
    assert_int_equal(got.count, KEPT_FACES);
    expect_largest_first(&got);
    int64_t smallest_kept = INT64_MAX;
    for (size_t i = 0; i < got.count; i++)
        if (area(&got.r[i]) < smallest_kept)
            smallest_kept = area(&got.r[i]);
    size_t larger = 0;
    for (size_t i = 0; i < want.count; i++)
        larger += area(&want.r[i]) > smallest_kept;
    assert_true(larger < KEPT_FACES);
    ride_task_runner_free(run);
}

static void expect_params_error(fixture *fx, const char *pair, const char *message)
{
    ride_task_params *p = NULL;
    char msg[512];
    const char *const pairs[] = {pair};
    assert_int_equal(facedetect_params(fx, pairs, 1, &p, msg, sizeof msg), -1);
    assert_string_equal(msg, message);
}

static void test_params_are_validated(void **state)
{
    fixture *fx = *state;
    expect_params_error(fx, "scale_factor=1",
                        "app.yaml:1:5: params.scale_factor: expected a number in 1.01..2, got \"1\"");
    expect_params_error(fx, "scale_factor=2.5",
                        "app.yaml:1:5: params.scale_factor: expected a number in 1.01..2, got \"2.5\"");
    expect_params_error(fx, "min_neighbors=101",
                        "app.yaml:1:5: params.min_neighbors: expected an integer in 0..100, got \"101\"");
    expect_params_error(fx, "min_size=-1",
                        "app.yaml:1:5: params.min_size: expected an integer in 0..65536, got \"-1\"");
    expect_params_error(fx, "max_size=big",
                        "app.yaml:1:5: params.max_size: expected an integer in 0..65536, got \"big\"");
    char err[256];
    static const char *const inverted[] = {"min_size=50", "max_size=40"};
    assert_null(detector(fx, inverted, 2, err, sizeof err));
    assert_string_equal(err, "facedetect: max_size 40 is below min_size 50");
}

static void test_missing_or_bad_cascade_fails_init(void **state)
{
    fixture *fx = *state;
    char err[256];
    static const char *const missing[] = {"cascade=/nonexistent/faces.xml"};
    assert_null(detector(fx, missing, 1, err, sizeof err));
    assert_string_equal(err, "facedetect: cascade '/nonexistent/faces.xml': No such file or directory");
    char path[512];
    static const char *pairs[1];
    char pair[600];
    snprintf(pair, sizeof pair, "cascade=%s",
             ride_test_data("manifests/good/minimal.yaml", path, sizeof path));
    pairs[0] = pair;
    ride_task_params *p = NULL;
    char msg[512];
    assert_int_equal(facedetect_params(fx, pairs, 1, &p, msg, sizeof msg), 0);
    assert_null(ride_task_runner_new(ride_task_find(fx->reg, "facedetect"), p, NULL, err,
                                     sizeof err));
    char expected[700];
    snprintf(expected, sizeof expected,
             "facedetect: cascade '%s': not a cascade classifier file OpenCV can load", path);
    assert_string_equal(err, expected);
}

static void test_unsupported_format_fails_the_frame(void **state)
{
    fixture *fx = *state;
    char err[256];
    ride_task_runner *run = detector(fx, NULL, 0, err, sizeof err);
    ride_frame in = {0}, out = {0};
    ride_test_random_image(&in.image, RIDE_PIX_GRAY16, 64, 64, 0, 3);
    assert_int_equal(ride_task_run(run, &in, &out, err, sizeof err), -1);
    assert_string_equal(err, "facedetect: cascade detection takes a gray8, bgr8, rgb8 or bgra8 "
                             "image, got gray16");
    ride_frame_free(&in);
    ride_frame_free(&out);
    ride_task_runner_free(run);
}

/* ---- the host side of metadata ---- */

static int ensure_only(ride_image *image, ride_pixel_format format, uint32_t width,
                       uint32_t height)
{
    return ride_image_ensure(image, format, width, height);
}

/* A host built before metadata hands the task a shorter ride_task_output: the
 * task must not reach for set_metadata, and says why it cannot work. */
static void test_older_output_struct_is_refused_cleanly(void **state)
{
    fixture *fx = *state;
    char err[256];
    ride_task_runner *run = detector(fx, NULL, 0, err, sizeof err);
    const ride_task_descriptor *d = ride_task_runner_task(run);
    ride_task_params *p = NULL;
    char msg[256];
    assert_int_equal(facedetect_params(fx, NULL, 0, &p, msg, sizeof msg), 0);
    ride_task_env env = {.struct_size = sizeof env, .device = RIDE_TASK_CPU, .gpu_index = -1,
                         .host = ride_task_host_api()};
    void *st = NULL;
    assert_int_equal(d->init(p, &env, &st, err, sizeof err), 0);
    ride_image img = {0};
    ride_test_random_image(&img, RIDE_PIX_GRAY8, 32, 32, 0, 4);
    ride_task_input in = {.struct_size = offsetof(ride_task_input, metadata), .image = &img};
    /* Poisoned past the old size: reading it would crash or be caught by ASan. */
    ride_task_output out;
    memset(&out, 0xA5, sizeof out);
    ride_image result = {0};
    out.struct_size = RIDE_TASK_OUTPUT_ENCODING_SIZE;
    out.image = &result;
    out.ensure = ensure_only;
    out.encoding = RIDE_ENC_RAW;
    out.quality = -1;
    assert_int_equal(d->process(st, &in, &out, err, sizeof err), -1);
    assert_string_equal(err, "facedetect: this host cannot attach metadata to frames");
    d->destroy(st);
    ride_task_params_free(p);
    ride_image_free(&img);
    ride_image_free(&result);
    ride_task_runner_free(run);
}

static ride_task_runner *builtin(fixture *fx, const char *name)
{
    const ride_task_descriptor *d = ride_task_find(fx->reg, name);
    ride_task_params *p = NULL;
    ride_parse_error perr;
    assert_int_equal(ride_task_params_parse(d, NULL, 0, "app.yaml", "params", (ride_pos){1, 1},
                                            &p, &perr),
                     0);
    char err[256];
    ride_task_runner *run = ride_task_runner_new(d, p, NULL, err, sizeof err);
    assert_non_null(run);
    return run;
}

static const char upstream[] = "{\"camera\":\"gate 3\"}";

/* A task that knows nothing of metadata (built against the ABI before it) gets
 * the input's metadata copied to its output; facedetect replaces it. */
static void test_host_copies_input_metadata_unless_task_sets_it(void **state)
{
    fixture *fx = *state;
    ride_frame in = {0}, out = {0};
    ride_test_random_image(&in.image, RIDE_PIX_GRAY8, 64, 48, 0, 6);
    assert_int_equal(ride_frame_set_metadata(&in, upstream, strlen(upstream), NULL, 0), 0);
    char err[256];
    ride_task_runner *pass = builtin(fx, "passthrough");
    assert_int_equal(ride_task_run(pass, &in, &out, err, sizeof err), 0);
    assert_string_equal(out.metadata, upstream);
    assert_int_equal(out.metadata_len, strlen(upstream));
    ride_task_runner *faces = builtin(fx, "facedetect");
    assert_int_equal(ride_task_run(faces, &in, &out, err, sizeof err), 0);
    assert_string_equal(out.metadata, "{\"faces\":[],\"truncated\":false}");
    /* An input without metadata leaves the output without any. */
    assert_int_equal(ride_frame_set_metadata(&in, NULL, 0, NULL, 0), 0);
    assert_int_equal(ride_task_run(pass, &in, &out, err, sizeof err), 0);
    assert_null(out.metadata);
    ride_task_runner_free(pass);
    ride_task_runner_free(faces);
    ride_frame_free(&in);
    ride_frame_free(&out);
}

/* What the probe task saw and what it asks set_metadata to do. */
typedef struct probe {
    const char *seen;
    size_t seen_len;
    const char *set;
    size_t set_len;
    int set_rc;
    char set_err[200];
} probe;

static probe the_probe;

static int probe_process(void *state, const ride_task_input *in, ride_task_output *out,
                         char *err, size_t errlen)
{
    (void)state;
    probe *p = &the_probe;
    assert_true(in->struct_size >= RIDE_TASK_INPUT_METADATA_SIZE);
    assert_true(out->struct_size >= RIDE_TASK_OUTPUT_METADATA_SIZE);
    p->seen = in->metadata;
    p->seen_len = in->metadata_len;
    p->set_rc = out->set_metadata(out->metadata_ctx, p->set, p->set_len, p->set_err,
                                  sizeof p->set_err);
    if (p->set_rc != 0)
        return snprintf(err, errlen, "probe: %s", p->set_err), -1;
    if (out->ensure(out->image, RIDE_PIX_GRAY8, 1, 1) < 0)
        return -1;
    out->image->data[0] = 1;
    return 0;
}

static void test_set_metadata_checks_and_replaces(void **state)
{
    (void)state;
    static const ride_task_descriptor d = {
        .abi_version = RIDE_TASK_ABI_VERSION,
        .struct_size = sizeof(ride_task_descriptor),
        .name = "probe",
        .description = "sets the metadata it is told to",
        .devices = RIDE_TASK_CPU,
        .param_size = sizeof(ride_task_param),
        .process = probe_process,
    };
    ride_task_params *p = NULL;
    ride_parse_error perr;
    assert_int_equal(ride_task_params_parse(&d, NULL, 0, "app.yaml", "params", (ride_pos){1, 1},
                                            &p, &perr),
                     0);
    char err[256];
    ride_task_runner *run = ride_task_runner_new(&d, p, NULL, err, sizeof err);
    assert_non_null(run);
    ride_frame in = {0}, out = {0};
    ride_test_random_image(&in.image, RIDE_PIX_GRAY8, 4, 4, 0, 7);
    assert_int_equal(ride_frame_set_metadata(&in, upstream, strlen(upstream), NULL, 0), 0);

    the_probe = (probe){.set = "{\"k\":[1,2]}", .set_len = 11};
    assert_int_equal(ride_task_run(run, &in, &out, err, sizeof err), 0);
    assert_string_equal(the_probe.seen, upstream);
    assert_int_equal(the_probe.seen_len, strlen(upstream));
    assert_string_equal(out.metadata, "{\"k\":[1,2]}");

    /* NULL: the output carries none, not the input's. */
    the_probe = (probe){.set = NULL, .set_len = 0};
    assert_int_equal(ride_task_run(run, &in, &out, err, sizeof err), 0);
    assert_null(out.metadata);

    the_probe = (probe){.set = "[1]", .set_len = 3};
    assert_int_equal(ride_task_run(run, &in, &out, err, sizeof err), -1);
    assert_string_equal(err, "probe: metadata must be a JSON object");
    ride_task_runner_free(run);
    ride_frame_free(&in);
    ride_frame_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_photo_boxes_match_opencv),
        cmocka_unit_test(test_every_input_format),
        cmocka_unit_test(test_images_without_faces_give_an_empty_list),
        cmocka_unit_test(test_many_boxes_keep_the_largest),
        cmocka_unit_test(test_params_are_validated),
        cmocka_unit_test(test_missing_or_bad_cascade_fails_init),
        cmocka_unit_test(test_unsupported_format_fails_the_frame),
        cmocka_unit_test(test_older_output_struct_is_refused_cleanly),
        cmocka_unit_test(test_host_copies_input_metadata_unless_task_sets_it),
        cmocka_unit_test(test_set_metadata_checks_and_replaces),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
