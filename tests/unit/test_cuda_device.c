/* The built-in GPU tasks on device frames: each task's process_device, driven
 * through the slot API (kernels/gpu.h) as the task runner drives it, against the same
 * task's CPU path. Tolerances as the CUDA twin tests: identical bytes for
 * grayscale, stddev, resize, gaussian, sobel and passthrough; matmul within 1e-5
 * of the largest |value| (float sums in another order); fft spectra within 1 per
 * pixel (float rounding before the quantisation).
 *
 * Without a usable CUDA device (or in a build without CUDA) every case prints one
 * "SKIPPED: <case> (<why>)" line and the program exits 77, which CTest reports as
 * skipped. */
#include "ride_test.h"

#include "kernels/gpu.h"
#include "tasks/host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MATMUL_REL_TOL 1e-5
/* tolerance of a case whose output is GRAY32F, compared relatively */
#define RELATIVE (-1)

typedef struct task_case {
    const char *task;
    ride_kv params[3];
    size_t param_count;
    ride_pixel_format format; /* of the input frames */
    int tolerance;            /* largest abs diff of 8-bit outputs, or RELATIVE */
} task_case;

static const task_case cases[] = {
    {"grayscale", {{0}}, 0, RIDE_PIX_BGR8, 0},
    {"grayscale", {{0}}, 0, RIDE_PIX_GRAY8, 0},
    {"stddev", {{.key = "ksize", .value = "7"}}, 1, RIDE_PIX_BGRA8, 0},
    {"resize",
     {{.key = "width", .value = "131"}, {.key = "height", .value = "97"}},
     2,
     RIDE_PIX_BGR8,
     0},
    {"resize",
     {{.key = "width", .value = "50"},
      {.key = "height", .value = "400"},
      {.key = "interpolation", .value = "area"}},
     3,
     RIDE_PIX_GRAY8,
     0},
    {"gaussian",
     {{.key = "ksize", .value = "9"}, {.key = "sigma", .value = "2.5"}},
     2,
     RIDE_PIX_RGB8,
     0},
    {"sobel", {{.key = "ksize", .value = "5"}}, 1, RIDE_PIX_GRAY8, 0},
    {"matmul", {{0}}, 0, RIDE_PIX_GRAY8, RELATIVE},
    {"matmul",
     {{.key = "with", .value = "matrix"}, {.key = "size", .value = "48"}},
     2,
     RIDE_PIX_GRAY8,
     RELATIVE},
    {"fft", {{0}}, 0, RIDE_PIX_GRAY8, 1},
    {"passthrough", {{0}}, 0, RIDE_PIX_BGRA8, 0},
};
#define CASE_COUNT (sizeof cases / sizeof cases[0])

typedef struct shape {
    uint32_t width;
    uint32_t height;
} shape;

/* From one pixel to frames larger than the others, odd sizes throughout. */
static const shape shapes[] = {{1, 1}, {17, 13}, {640, 480}, {1021, 769}};
#define SHAPE_COUNT (sizeof shapes / sizeof shapes[0])

/* ---- tasks ---- */

/* A state of the case's task on the CPU, or on GPU 0 bound to `stream`. */
static void *task_init(const task_case *c, uint32_t device, void *stream)
{
    const ride_task_descriptor *d = ride_test_builtin_task(c->task);
    ride_task_params *params = NULL;
    ride_parse_error perr;
    if (ride_task_params_parse(d, c->params, c->param_count, "test", "params", (ride_pos){1, 1},
                               &params, &perr) != 0)
        fail_msg("%s params: %s", c->task, perr.message);
    ride_task_env env = {.struct_size = sizeof env,
                         .device = device,
                         .gpu_index = device == RIDE_TASK_GPU ? 0 : -1,
                         .cuda_stream = stream,
                         .host = ride_task_host_api()};
    void *state = NULL;
    char err[256];
    int rc = d->init ? d->init(params, &env, &state, err, sizeof err) : 0;
    ride_task_params_free(params);
    if (rc != 0)
        fail_msg("%s init: %s", c->task, err);
    return state;
}

static void task_destroy(const task_case *c, void *state)
{
    const ride_task_descriptor *d = ride_test_builtin_task(c->task);
    if (d->destroy)
        d->destroy(state);
}

/* The CPU path's result, the reference. */
static void run_cpu(const task_case *c, const ride_image *src, ride_image *want)
{
    void *state = task_init(c, RIDE_TASK_CPU, NULL);
    ride_task_input in = {.struct_size = sizeof in, .image = src};
    ride_task_output out = {.struct_size = sizeof out, .image = want, .ensure = ride_image_ensure};
    char err[256];
    if (ride_test_builtin_task(c->task)->process(state, &in, &out, err, sizeof err) != 0)
        fail_msg("%s on the CPU: %s", c->task, err);
    task_destroy(c, state);
}

/* ---- the slot cycle ---- */

static ride_gpu_slot *slot_new(void)
{
    char err[256];
    ride_gpu_slot *slot = ride_gpu_slot_new(0, err, sizeof err);
    if (!slot)
        fail_msg("ride_gpu_slot_new: %s", err);
    return slot;
}

/* A frame uploaded into a slot, with the input and output process_device takes. */
typedef struct slot_frame {
    ride_task_device_image dev_in;
    ride_task_device_image dev_out;
    ride_task_device_input in;
    ride_task_device_output out;
} slot_frame;

static void upload_frame(ride_gpu_slot *slot, const ride_image *src, slot_frame *f)
{
    char err[256];
    memset(f, 0, sizeof *f);
    if (ride_gpu_slot_upload(slot, src, &f->dev_in, err, sizeof err) != 0)
        fail_msg("upload: %s", err);
    f->in = (ride_task_device_input){.struct_size = sizeof f->in,
                                     .image = &f->dev_in,
                                     .cuda_stream = ride_gpu_slot_stream(slot)};
    f->out = (ride_task_device_output){.struct_size = sizeof f->out,
                                       .image = &f->dev_out,
                                       .ensure = ride_gpu_slot_ensure_output,
                                       .host_ctx = slot};
}

/* Uploads src, queues the task's process_device and the download; returns without
 * waiting for any of it. */
static void submit(ride_gpu_slot *slot, const task_case *c, void *state, const ride_image *src)
{
    char err[256];
    slot_frame f;
    upload_frame(slot, src, &f);
    const ride_task_descriptor *d = ride_test_builtin_task(c->task);
    if (d->process_device(state, &f.in, &f.out, err, sizeof err) != 0)
        fail_msg("%s process_device: %s", c->task, err);
    if (ride_gpu_slot_download(slot, err, sizeof err) != 0)
        fail_msg("download: %s", err);
}

/* Waits for the slot's frame and copies its output into got, whose old pixels are
 * first overwritten with a marker so that a pixel left unwritten shows. */
static void collect(ride_gpu_slot *slot, ride_image *got)
{
    char err[256];
    if (ride_gpu_slot_wait(slot, err, sizeof err) != 0)
        fail_msg("wait: %s", err);
    assert_int_equal(ride_gpu_slot_poll(slot, err, sizeof err), 1);
    if (got->data)
        memset(got->data, 0xEE, ride_image_size(got));
    if (ride_gpu_slot_output(slot, got, err, sizeof err) != 0)
        fail_msg("output: %s", err);
}

static void expect_match(const task_case *c, const ride_image *got, const ride_image *want,
                         shape s)
{
    if (c->tolerance == RELATIVE) {
        double rel = ride_test_max_rel_diff_f32(got, want);
        if (rel < 0 || rel > MATMUL_REL_TOL)
            fail_msg("%s %ux%u: relative difference %g (-1: shape differs)", c->task, s.width,
                     s.height, rel);
        return;
    }
    int diff = ride_test_max_abs_diff_u8(got, want);
    if (diff < 0 || diff > c->tolerance)
        fail_msg("%s %ux%u %s: max abs diff %d, allowed %d (-1: shape differs)", c->task,
                 s.width, s.height, ride_pixel_format_name(c->format), diff, c->tolerance);
}

/* Random frames of the case's format in every shape (rows padded by 5 bytes, so the
 * upload must honour the stride) and the CPU path's result for each. */
static void make_frames(const task_case *c, ride_image *frames, ride_image *wants)
{
    for (size_t i = 0; i < SHAPE_COUNT; i++) {
        ride_test_random_image(&frames[i], c->format, shapes[i].width, shapes[i].height, 5,
                               (uint32_t)(i * 7919 + 1));
        memset(&wants[i], 0, sizeof wants[i]);
        run_cpu(c, &frames[i], &wants[i]);
    }
}

static void free_frames(ride_image *frames, ride_image *wants)
{
    for (size_t i = 0; i < SHAPE_COUNT; i++) {
        ride_image_free(&frames[i]);
        ride_image_free(&wants[i]);
    }
}

/* ---- cases ---- */

/* Every case on one slot, the shapes in `order`; one output image for all. */
static void run_cases_on_one_slot(const size_t *order, size_t count)
{
    ride_gpu_slot *slot = slot_new();
    for (size_t ci = 0; ci < CASE_COUNT; ci++) {
        const task_case *c = &cases[ci];
        ride_image frames[SHAPE_COUNT], wants[SHAPE_COUNT], got = {0};
        make_frames(c, frames, wants);
        void *state = task_init(c, RIDE_TASK_GPU, ride_gpu_slot_stream(slot));
        for (size_t k = 0; k < count; k++) {
            submit(slot, c, state, &frames[order[k]]);
            collect(slot, &got);
            expect_match(c, &got, &wants[order[k]], shapes[order[k]]);
        }
        task_destroy(c, state);
        ride_image_free(&got);
        free_frames(frames, wants);
    }
    ride_gpu_slot_free(slot);
}

static void device_tasks_match_cpu(void **unused)
{
    (void)unused;
    static const size_t order[] = {0, 1, 2, 3};
    run_cases_on_one_slot(order, sizeof order / sizeof order[0]);
}

/* Three slots, one task state each, every frame uploaded and queued before any is
 * waited for; the shapes rotate between the slots from round to round, so each
 * slot's buffers shrink in use and grow again. Overlapping frames must not mix. */
#define SLOT_COUNT 3
#define ROUNDS 4

static void interleaved_slots_keep_frames_apart(void **unused)
{
    (void)unused;
    ride_gpu_slot *slots[SLOT_COUNT];
    for (int i = 0; i < SLOT_COUNT; i++)
        slots[i] = slot_new();
    for (size_t ci = 0; ci < CASE_COUNT; ci++) {
        const task_case *c = &cases[ci];
        ride_image frames[SHAPE_COUNT], wants[SHAPE_COUNT], got[SLOT_COUNT] = {{0}};
        make_frames(c, frames, wants);
        void *states[SLOT_COUNT];
        for (int i = 0; i < SLOT_COUNT; i++)
            states[i] = task_init(c, RIDE_TASK_GPU, ride_gpu_slot_stream(slots[i]));
        for (int round = 0; round < ROUNDS; round++) {
            size_t shape_of[SLOT_COUNT];
            for (int i = 0; i < SLOT_COUNT; i++) {
                shape_of[i] = (size_t)(i + round) % SHAPE_COUNT;
                submit(slots[i], c, states[i], &frames[shape_of[i]]);
            }
            for (int i = 0; i < SLOT_COUNT; i++) {
                collect(slots[i], &got[i]);
                expect_match(c, &got[i], &wants[shape_of[i]], shapes[shape_of[i]]);
            }
        }
        for (int i = 0; i < SLOT_COUNT; i++) {
            task_destroy(c, states[i]);
            ride_image_free(&got[i]);
        }
        free_frames(frames, wants);
    }
    for (int i = 0; i < SLOT_COUNT; i++)
        ride_gpu_slot_free(slots[i]);
}

/* One slot and one output image through large, small, larger and repeated sizes:
 * the slot's buffers and the output are reused (and grown) without stale pixels. */
static void outputs_reused_across_sizes(void **unused)
{
    (void)unused;
    static const size_t order[] = {2, 0, 1, 3, 3, 1, 2};
    run_cases_on_one_slot(order, sizeof order / sizeof order[0]);
}

static void expect_refused(int rc, const char *err, const char *what)
{
    if (rc != -1)
        fail_msg("%s: accepted", what);
    if (err[0] == '\0')
        fail_msg("%s: refused without a reason", what);
}

static void slot_refuses_bad_arguments(void **unused)
{
    (void)unused;
    char err[256] = "";
    assert_null(ride_gpu_slot_new(-1, err, sizeof err));
    assert_true(err[0] != '\0');
    err[0] = '\0';
    assert_null(ride_gpu_slot_new(ride_gpu_device_count(NULL, 0), err, sizeof err));
    assert_true(err[0] != '\0');

    ride_gpu_slot *slot = slot_new();
    ride_task_device_image dev;
    uint8_t pixels[4 * 4 * 3] = {0};
    ride_image img;
    ride_image_wrap(&img, RIDE_PIX_BGR8, 4, 4, 12, pixels);
    expect_refused(ride_gpu_slot_upload(slot, NULL, &dev, err, sizeof err), err, "no image");
    expect_refused(ride_gpu_slot_upload(slot, &img, NULL, err, sizeof err), err,
                   "no device image");
    ride_image_wrap(&img, RIDE_PIX_BGR8, 4, 4, 11, pixels);
    expect_refused(ride_gpu_slot_upload(slot, &img, &dev, err, sizeof err), err,
                   "stride below a row");
    ride_image_wrap(&img, RIDE_PIX_INVALID, 4, 4, 12, pixels);
    expect_refused(ride_gpu_slot_upload(slot, &img, &dev, err, sizeof err), err,
                   "invalid format");
    ride_image_wrap(&img, RIDE_PIX_GRAY8, 0, 4, 4, pixels);
    expect_refused(ride_gpu_slot_upload(slot, &img, &dev, err, sizeof err), err, "zero width");
    ride_image_wrap(&img, RIDE_PIX_GRAY8, 4, 0, 4, pixels);
    expect_refused(ride_gpu_slot_upload(slot, &img, &dev, err, sizeof err), err, "zero height");
    ride_image_wrap(&img, RIDE_PIX_GRAY8, 4, 4, 4, NULL);
    expect_refused(ride_gpu_slot_upload(slot, &img, &dev, err, sizeof err), err, "no pixels");

    assert_int_equal(ride_gpu_slot_ensure_output(slot, &dev, RIDE_PIX_INVALID, 4, 4), -1);
    assert_int_equal(ride_gpu_slot_ensure_output(slot, &dev, RIDE_PIX_FORMAT_COUNT, 4, 4), -1);
    assert_int_equal(ride_gpu_slot_ensure_output(slot, &dev, RIDE_PIX_GRAY8, 0, 4), -1);
    assert_int_equal(ride_gpu_slot_ensure_output(slot, &dev, RIDE_PIX_GRAY8, 4, 0), -1);
    assert_int_equal(
        ride_gpu_slot_ensure_output(slot, &dev, RIDE_PIX_GRAY8, RIDE_IMAGE_MAX_DIM + 1, 4), -1);
    assert_int_equal(ride_gpu_slot_ensure_output(NULL, &dev, RIDE_PIX_GRAY8, 4, 4), -1);
    assert_int_equal(ride_gpu_slot_ensure_output(slot, NULL, RIDE_PIX_GRAY8, 4, 4), -1);

    /* Out of order: no output shaped before the download, nothing downloaded before
     * the output is asked for. */
    ride_image_wrap(&img, RIDE_PIX_GRAY8, 4, 4, 4, pixels);
    assert_int_equal(ride_gpu_slot_upload(slot, &img, &dev, err, sizeof err), 0);
    expect_refused(ride_gpu_slot_download(slot, err, sizeof err), err, "download unshaped");
    ride_image got = {0};
    expect_refused(ride_gpu_slot_output(slot, &got, err, sizeof err), err, "output undownloaded");
    assert_int_equal(ride_gpu_slot_wait(slot, err, sizeof err), 0);
    expect_refused(ride_gpu_slot_output(slot, NULL, err, sizeof err), err, "output into NULL");

    expect_refused(ride_gpu_slot_activate(NULL, err, sizeof err), err, "activate NULL");
    expect_refused(ride_gpu_slot_download(NULL, err, sizeof err), err, "download NULL");
    expect_refused(ride_gpu_slot_poll(NULL, err, sizeof err), err, "poll NULL");
    expect_refused(ride_gpu_slot_wait(NULL, err, sizeof err), err, "wait NULL");
    expect_refused(ride_gpu_slot_output(NULL, &got, err, sizeof err), err, "output NULL");
    assert_int_equal(ride_gpu_slot_device(NULL), -1);
    assert_null(ride_gpu_slot_stream(NULL));
    assert_int_equal(ride_gpu_slot_device(slot), 0);
    assert_non_null(ride_gpu_slot_stream(slot));
    ride_gpu_slot_free(NULL);
    ride_gpu_slot_free(slot);
}

/* process_device refuses frames it cannot take, with a reason, before any work. */
static void process_device_refuses_bad_frames(void **unused)
{
    (void)unused;
    ride_gpu_slot *slot = slot_new(), *other = slot_new();
    const task_case *sobel = NULL;
    for (size_t i = 0; i < CASE_COUNT; i++)
        if (strcmp(cases[i].task, "sobel") == 0)
            sobel = &cases[i];
    assert_non_null(sobel);
    void *state = task_init(sobel, RIDE_TASK_GPU, ride_gpu_slot_stream(slot));
    const ride_task_descriptor *d = ride_test_builtin_task("sobel");
    char err[256];
    ride_image bgr;
    ride_test_random_image(&bgr, RIDE_PIX_BGR8, 8, 8, 0, 3);
    slot_frame f;
    upload_frame(slot, &bgr, &f);
    assert_int_equal(d->process_device(state, &f.in, &f.out, err, sizeof err), -1);
    assert_string_equal(err,
                        "sobel takes gray8 images, got bgr8 (put a grayscale stage before it)");

    f.in.cuda_stream = ride_gpu_slot_stream(other);
    assert_int_equal(d->process_device(state, &f.in, &f.out, err, sizeof err), -1);
    assert_non_null(strstr(err, "another CUDA stream"));
    f.in.cuda_stream = ride_gpu_slot_stream(slot);

    ride_task_device_image padded = f.dev_in;
    padded.format = RIDE_PIX_GRAY8;
    padded.width = 20; /* pitch 24 */
    f.in.image = &padded;
    assert_int_equal(d->process_device(state, &f.in, &f.out, err, sizeof err), -1);
    assert_non_null(strstr(err, "tightly packed"));

    assert_int_equal(ride_gpu_slot_wait(slot, err, sizeof err), 0);
    task_destroy(sobel, state);
    ride_image_free(&bgr);
    ride_gpu_slot_free(other);
    ride_gpu_slot_free(slot);
}

/* The device entry points refuse what the kernels cannot take. */
static void device_entry_points_refuse_bad_arguments(void **unused)
{
    (void)unused;
    ride_gpu_slot *slot = slot_new();
    void *stream = ride_gpu_slot_stream(slot);
    ride_cuda_scratch *scratch = ride_cuda_scratch_new();
    assert_non_null(scratch);
    char err[256];
    ride_image gray;
    ride_test_random_image(&gray, RIDE_PIX_GRAY8, 8, 8, 0, 5);
    ride_task_device_image src, dst;
    assert_int_equal(ride_gpu_slot_upload(slot, &gray, &src, err, sizeof err), 0);
    assert_int_equal(ride_gpu_slot_ensure_output(slot, &dst, RIDE_PIX_GRAY8, 8, 8), 0);
    ride_task_device_image small = dst, pitched = src;
    small.width = 4;
    small.pitch = 4;
    pitched.pitch = 9;

    assert_int_equal(ride_cuda_grayscale_device(&src, &small, stream), -1);
    assert_int_equal(ride_cuda_grayscale_device(&pitched, &dst, stream), -1);
    assert_int_equal(ride_cuda_grayscale_device(NULL, &dst, stream), -1);
    assert_int_equal(ride_cuda_copy_device(&src, &small, stream), -1);
    assert_int_equal(ride_cuda_stddev_device(&src, &dst, 4, stream, scratch), -1);
    assert_int_equal(ride_cuda_stddev_device(&src, &dst, 3, stream, NULL), -1);
    assert_int_equal(ride_cuda_gaussian_device(&src, &dst, 33, 0, stream, scratch), -1);
    assert_int_equal(ride_cuda_sobel_device(&src, &dst, 9, stream, scratch), -1);
    assert_int_equal(ride_cuda_sobel_device(&src, &src, 3, stream, scratch), -1);
    assert_int_equal(ride_cuda_resize_device(&pitched, &dst, RIDE_INTERP_LINEAR, stream, scratch),
                     -1);
    assert_int_equal(ride_cuda_matmul_device(NULL, &src, &dst), -1);
    assert_int_equal(ride_cuda_fft_device(NULL, &src, &dst, 1), -1);

    assert_int_equal(ride_gpu_slot_wait(slot, err, sizeof err), 0);
    ride_cuda_scratch_free(scratch);
    ride_cuda_scratch_free(NULL);
    ride_image_free(&gray);
    ride_gpu_slot_free(slot);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(device_tasks_match_cpu),
        cmocka_unit_test(interleaved_slots_keep_frames_apart),
        cmocka_unit_test(outputs_reused_across_sizes),
        cmocka_unit_test(slot_refuses_bad_arguments),
        cmocka_unit_test(process_device_refuses_bad_frames),
        cmocka_unit_test(device_entry_points_refuse_bad_arguments),
    };
    if (ride_test_gpu_missing(tests, sizeof tests / sizeof tests[0]))
        return RIDE_TEST_SKIP;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
