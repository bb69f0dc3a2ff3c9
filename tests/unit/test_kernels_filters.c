/* The resize, gaussian and Sobel CPU kernels against OpenCV (through the shim in
 * src/common/opencv_c.cpp), their argument checks, and the tasks that run them
 * (schema, formats, results) through the task registry.
 *
 * Tolerances (max abs diff against OpenCV): resize nearest 0, linear and area 1
 * (fixed-point weights of different precision and rounding), gaussian 0, sobel 0. */
#include "ride_test.h"

#include "kernels/kernels.h"
#include "media/opencv_c.h"
#include "tasks/host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shape {
    uint32_t width;
    uint32_t height;
} shape;

static const ride_pixel_format formats[] = {
    RIDE_PIX_GRAY8, RIDE_PIX_BGR8, RIDE_PIX_RGB8, RIDE_PIX_BGRA8,
};
#define FORMAT_COUNT (sizeof formats / sizeof formats[0])

static void make_input(ride_image *img, ride_pixel_format f, shape s, size_t pad, uint32_t seed)
{
    ride_test_random_image(img, f, s.width, s.height, pad, seed);
}

/* One-pixel lines, odd sizes, one frame big enough for several row bands, and
 * rows longer than the separable filters' chunks of 2048 samples: 4097 pixels
 * end in a one-pixel chunk in gray8 and bgra8, 4093 in bgr8. */
static const shape sources[] = {
    {1, 1}, {1, 9}, {9, 1}, {2, 3}, {17, 13}, {333, 97}, {640, 481}, {4097, 5}, {4093, 4},
};
#define SOURCE_COUNT (sizeof sources / sizeof sources[0])

/* Fails with `label` when got and want differ by more than `tolerance`; returns
 * the difference so that callers can report the largest one seen. */
static int expect_close(const ride_image *got, const ride_image *want, int tolerance,
                        const char *label)
{
    int diff = ride_test_max_abs_diff_u8(got, want);
    if (diff < 0 || diff > tolerance)
        fail_msg("%s: max abs diff %d against OpenCV, tolerance %d (-1: shape differs)", label,
                 diff, tolerance);
    return diff;
}

/* ---- resize ----------------------------------------------------------------- */

static const char *interp_name(ride_interp i)
{
    return i == RIDE_INTERP_NEAREST ? "nearest" : i == RIDE_INTERP_LINEAR ? "linear" : "area";
}

/* Output sizes relative to each source: shrinking by integer and fractional
 * factors, enlarging, mixed, and down to one pixel. */
static shape resize_target(shape s, int which)
{
    switch (which) {
    case 0: return (shape){1, 1};
    case 1: return (shape){s.width * 3, s.height * 2};
    case 2: return (shape){(s.width + 1) / 2, (s.height + 1) / 2};
    case 3: return (shape){s.width * 2 / 7 + 1, s.height * 5 / 3 + 1};
    default: return (shape){s.width / 3 + 1, s.height / 4 + 1};
    }
}
#define TARGET_COUNT 5

static void resize_matches_opencv(void **state)
{
    (void)state;
    static const ride_interp interps[] = {RIDE_INTERP_NEAREST, RIDE_INTERP_LINEAR,
                                          RIDE_INTERP_AREA};
    int worst[4] = {0};
    ride_image got = {0}, want = {0};
    char label[160], err[256];
    for (size_t si = 0; si < SOURCE_COUNT; si++)
        for (size_t fi = 0; fi < FORMAT_COUNT; fi++) {
            ride_image src;
            make_input(&src, formats[fi], sources[si], 5, (uint32_t)(si * 7 + fi));
            for (int ti = 0; ti < TARGET_COUNT; ti++)
                for (size_t ii = 0; ii < 3; ii++) {
                    shape t = resize_target(sources[si], ti);
                    ride_interp interp = interps[ii];
                    snprintf(label, sizeof label, "resize %ux%u -> %ux%u %s %s",
                             sources[si].width, sources[si].height, t.width, t.height,
                             ride_pixel_format_name(formats[fi]), interp_name(interp));
                    assert_int_equal(ride_cpu_resize(&src, &got, t.width, t.height, interp, 0), 0);
                    assert_int_equal(ride_image_ensure(&want, formats[fi], t.width, t.height), 0);
                    if (ride_cv_resize(&src, &want, (ride_cv_interp)interp, err, sizeof err) != 0)
                        fail_msg("%s: %s", label, err);
                    int d = expect_close(&got, &want, interp == RIDE_INTERP_NEAREST ? 0 : 1, label);
                    worst[interp] = d > worst[interp] ? d : worst[interp];
                }
            ride_image_free(&src);
        }
    printf("resize max abs diff vs OpenCV: nearest %d, linear %d, area %d\n", worst[0], worst[1],
           worst[3]);
    ride_image_free(&got);
    ride_image_free(&want);
}

/* Halving (linear or area, exactly half each way) weighs a 2 x 2 block by 1/4 on
 * both paths: the shortcut must give the general sum's rounding, (sum + 2) >> 2. */
static void resize_halving_is_the_rounded_block_mean(void **state)
{
    (void)state;
    static const ride_interp interps[] = {RIDE_INTERP_LINEAR, RIDE_INTERP_AREA};
    ride_image src, got = {0};
    for (size_t fi = 0; fi < FORMAT_COUNT; fi++)
        for (size_t ii = 0; ii < 2; ii++) {
            make_input(&src, formats[fi], (shape){902, 36}, 3, (uint32_t)fi + 40);
            assert_int_equal(ride_cpu_resize(&src, &got, 451, 18, interps[ii], 2), 0);
            unsigned ch = ride_pixel_channels(formats[fi]);
            for (uint32_t y = 0; y < got.height; y++) {
                const uint8_t *r0 = ride_image_row(&src, 2 * y), *r1 = ride_image_row(&src, 2 * y + 1);
                const uint8_t *o = ride_image_row(&got, y);
                for (size_t k = 0; k < (size_t)got.width * ch; k++) {
                    size_t a = (k / ch) * 2 * ch + k % ch;
                    int want = (r0[a] + r0[a + ch] + r1[a] + r1[a + ch] + 2) >> 2;
                    if (o[k] != want)
                        fail_msg("%s %s: sample %zu of row %u is %d, not %d",
                                 ride_pixel_format_name(formats[fi]), interp_name(interps[ii]),
                                 k, y, o[k], want);
                }
            }
            ride_image_free(&src);
        }
    ride_image_free(&got);
}

/* Any thread count gives the same bytes (the bands only split the rows). */
static void resize_independent_of_threads(void **state)
{
    (void)state;
    ride_image src, one = {0}, many = {0};
    make_input(&src, RIDE_PIX_BGR8, (shape){901, 899}, 0, 3);
    assert_int_equal(ride_cpu_resize(&src, &one, 1280, 720, RIDE_INTERP_AREA, 1), 0);
    assert_int_equal(ride_cpu_resize(&src, &many, 1280, 720, RIDE_INTERP_AREA, 7), 0);
    assert_int_equal(ride_test_max_abs_diff_u8(&one, &many), 0);
    assert_int_equal(ride_cpu_resize(&src, &one, 300, 200, RIDE_INTERP_AREA, 1), 0);
    assert_int_equal(ride_cpu_resize(&src, &many, 300, 200, RIDE_INTERP_AREA, 3), 0);
    assert_int_equal(ride_test_max_abs_diff_u8(&one, &many), 0);
    ride_image_free(&src);
    ride_image_free(&one);
    ride_image_free(&many);
}

/* ---- gaussian --------------------------------------------------------------- */

static void gaussian_matches_opencv(void **state)
{
    (void)state;
    static const int ksizes[] = {1, 3, 5, 7, 9, 11, 15, 31};
    static const double sigmas[] = {0, 0.5, 1.7, 6};
    int worst = 0;
    ride_image got = {0}, want = {0};
    char label[160];
    for (size_t si = 0; si < SOURCE_COUNT; si++)
        for (size_t fi = 0; fi < FORMAT_COUNT; fi++) {
            ride_image src;
            make_input(&src, formats[fi], sources[si], 3, (uint32_t)(si * 5 + fi));
            for (size_t ki = 0; ki < sizeof ksizes / sizeof ksizes[0]; ki++)
                for (size_t gi = 0; gi < sizeof sigmas / sizeof sigmas[0]; gi++) {
                    snprintf(label, sizeof label, "gaussian %ux%u %s ksize %d sigma %g",
                             sources[si].width, sources[si].height,
                             ride_pixel_format_name(formats[fi]), ksizes[ki], sigmas[gi]);
                    assert_int_equal(
                        ride_cpu_gaussian(&src, &got, ksizes[ki], sigmas[gi], 0), 0);
                    assert_int_equal(ride_cv_ref_gaussian(&src, ksizes[ki], sigmas[gi], &want), 0);
                    int d = expect_close(&got, &want, 0, label);
                    worst = d > worst ? d : worst;
                }
            ride_image_free(&src);
        }
    printf("gaussian max abs diff vs OpenCV: %d\n", worst);
    ride_image_free(&got);
    ride_image_free(&want);
}

/* The taps sum to exactly 1, so a flat image stays flat. */
static void gaussian_keeps_flat_image(void **state)
{
    (void)state;
    ride_image src, got = {0};
    make_input(&src, RIDE_PIX_BGRA8, (shape){31, 7}, 0, 1);
    memset(src.data, 200, ride_image_size(&src));
    static const int ksizes[] = {5, 31};
    static const double sigmas[] = {0, 0.3, 3};
    for (size_t k = 0; k < 2; k++)
        for (size_t g = 0; g < 3; g++) {
            assert_int_equal(ride_cpu_gaussian(&src, &got, ksizes[k], sigmas[g], 2), 0);
            assert_int_equal(ride_test_max_abs_diff_u8(&got, &src), 0);
        }
    ride_image_free(&src);
    ride_image_free(&got);
}

/* ---- sobel ------------------------------------------------------------------ */

static void sobel_matches_opencv(void **state)
{
    (void)state;
    static const int ksizes[] = {1, 3, 5, 7};
    ride_image got = {0}, want = {0};
    char label[160];
    for (size_t si = 0; si < SOURCE_COUNT; si++) {
        ride_image src;
        make_input(&src, RIDE_PIX_GRAY8, sources[si], 7, (uint32_t)si);
        for (size_t ki = 0; ki < sizeof ksizes / sizeof ksizes[0]; ki++) {
            snprintf(label, sizeof label, "sobel %ux%u ksize %d", sources[si].width,
                     sources[si].height, ksizes[ki]);
            assert_int_equal(ride_cpu_sobel(&src, &got, ksizes[ki], 0), 0);
            assert_int_equal(ride_cv_ref_sobel(&src, ksizes[ki], &want), 0);
            expect_close(&got, &want, 0, label);
        }
        ride_image_free(&src);
    }
    ride_image_free(&got);
    ride_image_free(&want);
}

/* A vertical step edge: a gradient along x only, none on flat ground. */
static void sobel_finds_an_edge(void **state)
{
    (void)state;
    ride_image src, got = {0};
    make_input(&src, RIDE_PIX_GRAY8, (shape){16, 8}, 0, 1);
    for (uint32_t y = 0; y < 8; y++)
        for (uint32_t x = 0; x < 16; x++)
            ride_image_row(&src, y)[x] = x < 8 ? 10 : 50;
    assert_int_equal(ride_cpu_sobel(&src, &got, 3, 1), 0);
    for (uint32_t y = 0; y < 8; y++) {
        assert_int_equal(ride_image_row(&got, y)[2], 0);
        assert_int_equal(ride_image_row(&got, y)[7], 160); /* 4 x 40 */
        assert_int_equal(ride_image_row(&got, y)[8], 160);
        assert_int_equal(ride_image_row(&got, y)[13], 0);
    }
    ride_image_free(&src);
    ride_image_free(&got);
}

/* ---- argument checks -------------------------------------------------------- */

static void kernels_reject_bad_arguments(void **state)
{
    (void)state;
    ride_image gray, bgr, g16, out = {0};
    make_input(&gray, RIDE_PIX_GRAY8, (shape){8, 8}, 0, 1);
    make_input(&bgr, RIDE_PIX_BGR8, (shape){8, 8}, 0, 2);
    assert_int_equal(ride_image_alloc(&g16, RIDE_PIX_GRAY16, 8, 8), 0);

    assert_int_equal(ride_cpu_resize(&gray, &out, 0, 4, RIDE_INTERP_LINEAR, 0), -1);
    assert_int_equal(ride_cpu_resize(&gray, &out, 4, RIDE_RESIZE_MAX_DIM + 1, RIDE_INTERP_LINEAR, 0), -1);
    assert_int_equal(ride_cpu_resize(&gray, &out, 4, 4, (ride_interp)2, 0), -1);
    assert_int_equal(ride_cpu_resize(&g16, &out, 4, 4, RIDE_INTERP_LINEAR, 0), -1);
    assert_int_equal(ride_cpu_resize(&gray, &gray, 4, 4, RIDE_INTERP_LINEAR, 0), -1);
    assert_int_equal(ride_cpu_resize(&gray, NULL, 4, 4, RIDE_INTERP_LINEAR, 0), -1);
    assert_int_equal(ride_cpu_resize(NULL, &out, 4, 4, RIDE_INTERP_LINEAR, 0), -1);
    assert_int_equal(ride_cpu_resize(&gray, &out, 4, 4, RIDE_INTERP_LINEAR, -1), -1);

    assert_int_equal(ride_cpu_gaussian(&bgr, &out, 4, 0, 0), -1);
    assert_int_equal(ride_cpu_gaussian(&bgr, &out, 33, 0, 0), -1);
    assert_int_equal(ride_cpu_gaussian(&bgr, &out, -1, 0, 0), -1);
    assert_int_equal(ride_cpu_gaussian(&bgr, &out, 5, -1, 0), -1);
    assert_int_equal(ride_cpu_gaussian(&g16, &out, 5, 0, 0), -1);
    assert_int_equal(ride_cpu_gaussian(&bgr, &bgr, 5, 0, 0), -1);

    assert_int_equal(ride_cpu_sobel(&gray, &out, 9, 0), -1);
    assert_int_equal(ride_cpu_sobel(&gray, &out, 2, 0), -1);
    assert_int_equal(ride_cpu_sobel(&bgr, &out, 3, 0), -1);
    assert_int_equal(ride_cpu_sobel(&gray, &gray, 3, 0), -1);

    ride_image_free(&gray);
    ride_image_free(&bgr);
    ride_image_free(&g16);
    ride_image_free(&out);
}

/* ---- the tasks -------------------------------------------------------------- */

/* A one-stage application: the stage line completes it. */
static const char manifest_head[] = "apiVersion: ride/v1\n"
                                    "kind: Application\n"
                                    "metadata: {name: filters}\n"
                                    "spec:\n"
                                    "  sources: [{name: cam, uri: \"synthetic:64x48@10\"}]\n"
                                    "  stages:\n";

/* Validates the stage line; on success *params holds the values, else err. */
static int validate_stage(const ride_task_registry *r, const char *stage_line,
                          ride_task_params **params, char *err, size_t errlen)
{
    char text[2048];
    snprintf(text, sizeof text, "%s%s\n", manifest_head, stage_line);
    ride_manifest m;
    ride_parse_error perr;
    if (ride_manifest_parse("app.yaml", text, strlen(text), &m, &perr) != 0)
        fail_msg("manifest does not parse: %s", ride_parse_error_format(&perr, err, errlen));
    int rc = ride_task_validate_stage(r, &m, 0, params, &perr);
    if (rc != 0)
        ride_parse_error_format(&perr, err, errlen);
    ride_manifest_free(&m);
    return rc;
}

static void expect_invalid(const ride_task_registry *r, const char *stage_line, const char *needle)
{
    ride_task_params *params = NULL;
    char err[1024];
    assert_int_equal(validate_stage(r, stage_line, &params, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

/* Runs `task` (params from stage_line) on src on the CPU. 0 with out filled, or -1
 * with the task's error in err. */
static int run_task(const ride_task_registry *r, const char *task, const char *stage_line,
                    const ride_image *src, ride_frame *out, char *err, size_t errlen)
{
    ride_task_params *params = NULL;
    if (validate_stage(r, stage_line, &params, err, errlen) != 0)
        fail_msg("%s", err);
    ride_task_env env = {.struct_size = sizeof env, .threads = 2, .device = RIDE_TASK_CPU,
                         .gpu_index = -1};
    ride_task_runner *run = ride_task_runner_new(ride_task_find(r, task), params, &env, err, errlen);
    assert_non_null(run);
    ride_frame in = {0};
    in.image = *src;
    in.image.owns_data = 0;
    int rc = ride_task_run(run, &in, out, err, errlen);
    ride_task_runner_free(run);
    return rc;
}

static void tasks_validate_and_run(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    assert_non_null(r);
    ride_image bgr, gray, want = {0};
    make_input(&bgr, RIDE_PIX_BGR8, (shape){333, 97}, 9, 11);
    make_input(&gray, RIDE_PIX_GRAY8, (shape){333, 97}, 9, 12);
    ride_frame out = {0};
    char err[512];

    assert_int_equal(run_task(r, "resize",
                              "    - {name: s, input: [cam], task: resize, params: "
                              "{width: 120, height: 45, interpolation: area}}",
                              &bgr, &out, err, sizeof err), 0);
    assert_int_equal(ride_cpu_resize(&bgr, &want, 120, 45, RIDE_INTERP_AREA, 1), 0);
    assert_int_equal(ride_test_max_abs_diff_u8(&out.image, &want), 0);
    /* linear is the default interpolation */
    assert_int_equal(run_task(r, "resize",
                              "    - {name: s, input: [cam], task: resize, params: "
                              "{width: 500, height: 200}}",
                              &bgr, &out, err, sizeof err), 0);
    assert_int_equal(ride_cpu_resize(&bgr, &want, 500, 200, RIDE_INTERP_LINEAR, 1), 0);
    assert_int_equal(ride_test_max_abs_diff_u8(&out.image, &want), 0);

    /* ksize 5 and sigma 0 are the defaults */
    assert_int_equal(run_task(r, "gaussian", "    - {name: s, input: [cam], task: gaussian}",
                              &bgr, &out, err, sizeof err), 0);
    assert_int_equal(ride_cpu_gaussian(&bgr, &want, 5, 0, 1), 0);
    assert_int_equal(ride_test_max_abs_diff_u8(&out.image, &want), 0);
    assert_int_equal(run_task(r, "gaussian",
                              "    - {name: s, input: [cam], task: gaussian, params: "
                              "{ksize: 9, sigma: 2.5}}",
                              &bgr, &out, err, sizeof err), 0);
    assert_int_equal(ride_cpu_gaussian(&bgr, &want, 9, 2.5, 1), 0);
    assert_int_equal(ride_test_max_abs_diff_u8(&out.image, &want), 0);

    /* ksize 3 is the default */
    assert_int_equal(run_task(r, "sobel", "    - {name: s, input: [cam], task: sobel}", &gray,
                              &out, err, sizeof err), 0);
    assert_int_equal(ride_cpu_sobel(&gray, &want, 3, 1), 0);
    assert_int_equal(ride_test_max_abs_diff_u8(&out.image, &want), 0);
    assert_int_equal(run_task(r, "sobel", "    - {name: s, input: [cam], task: sobel, params: {ksize: 7}}",
                              &bgr, &out, err, sizeof err), -1);
    assert_string_equal(err, "sobel takes gray8 images, got bgr8 (put a grayscale stage before it)");

    ride_image g16;
    assert_int_equal(ride_image_alloc(&g16, RIDE_PIX_GRAY16, 8, 8), 0);
    assert_int_equal(run_task(r, "resize",
                              "    - {name: s, input: [cam], task: resize, params: "
                              "{width: 4, height: 4}}",
                              &g16, &out, err, sizeof err), -1);
    assert_string_equal(err, "resize takes gray8, bgr8, rgb8 or bgra8 images, got gray16");
    assert_int_equal(run_task(r, "gaussian", "    - {name: s, input: [cam], task: gaussian}",
                              &g16, &out, err, sizeof err), -1);
    assert_string_equal(err, "gaussian takes gray8, bgr8, rgb8 or bgra8 images, got gray16");

    ride_image_free(&g16);
    ride_frame_free(&out);
    ride_image_free(&want);
    ride_image_free(&bgr);
    ride_image_free(&gray);
    ride_task_registry_free(r);
}

static void task_params_rejected(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    assert_non_null(r);
    expect_invalid(r, "    - {name: s, input: [cam], task: resize, params: {height: 4}}", "width");
    expect_invalid(r, "    - {name: s, input: [cam], task: resize, params: {width: 0, height: 4}}",
                   "expected an integer in 1..16384, got \"0\"");
    expect_invalid(r,
                   "    - {name: s, input: [cam], task: resize, params: {width: 16385, height: 4}}",
                   "expected an integer in 1..16384");
    expect_invalid(r,
                   "    - {name: s, input: [cam], task: resize, params: "
                   "{width: 4, height: 4, interpolation: cubic}}",
                   "expected one of: linear, nearest, area, got \"cubic\"");
    expect_invalid(r, "    - {name: s, input: [cam], task: gaussian, params: {ksize: 4}}",
                   "expected an odd integer in 1..31, got \"4\"");
    expect_invalid(r, "    - {name: s, input: [cam], task: gaussian, params: {ksize: 33}}",
                   "expected an odd integer in 1..31");
    expect_invalid(r, "    - {name: s, input: [cam], task: gaussian, params: {sigma: -1}}",
                   "expected a number in 0..1000, got \"-1\"");
    expect_invalid(r, "    - {name: s, input: [cam], task: sobel, params: {ksize: 9}}",
                   "expected an odd integer in 1..7, got \"9\"");
    expect_invalid(r, "    - {name: s, input: [cam], task: sobel, params: {ksize: 2}}",
                   "expected an odd integer in 1..7");
    expect_invalid(r, "    - {name: s, input: [cam], task: sobel, params: {sigma: 1}}", "sigma");
    ride_task_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resize_matches_opencv),
        cmocka_unit_test(resize_halving_is_the_rounded_block_mean),
        cmocka_unit_test(resize_independent_of_threads),
        cmocka_unit_test(gaussian_matches_opencv),
        cmocka_unit_test(gaussian_keeps_flat_image),
        cmocka_unit_test(sobel_matches_opencv),
        cmocka_unit_test(sobel_finds_an_edge),
        cmocka_unit_test(kernels_reject_bad_arguments),
        cmocka_unit_test(tasks_validate_and_run),
        cmocka_unit_test(task_params_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
