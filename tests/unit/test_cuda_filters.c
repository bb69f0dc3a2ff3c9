/* The resize, gaussian and Sobel CUDA kernels against their CPU twins
 * (kernels/kernels.h): results must be identical, output buffers reused between calls
 * must be overwritten completely, and bad arguments refused.
 *
 * Without a usable CUDA device (or in a build without CUDA) every case prints one
 * "SKIPPED: <case> (<why>)" line and the program exits 77, which CTest reports as
 * skipped. */
#include "ride_test.h"

#include "kernels/gpu.h"
#include "kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shape {
    uint32_t width;
    uint32_t height;
} shape;

static const shape shapes[] = {
    {1, 1}, {1, 301}, {301, 1}, {17, 13}, {257, 129}, {901, 899}, {1920, 1080},
};
#define SHAPE_COUNT (sizeof shapes / sizeof shapes[0])

static const ride_pixel_format formats[] = {
    RIDE_PIX_GRAY8, RIDE_PIX_BGR8, RIDE_PIX_RGB8, RIDE_PIX_BGRA8,
};
#define FORMAT_COUNT (sizeof formats / sizeof formats[0])

static void make_input(ride_image *img, ride_pixel_format f, shape s, size_t pad, uint32_t seed)
{
    ride_test_random_image(img, f, s.width, s.height, pad, seed);
}

/* Marks a kept output so that pixels the kernel fails to write show up. */
static void poison(ride_image *img)
{
    if (img->data)
        memset(img->data, 0xA5, ride_image_size(img));
}

static void expect_identical(const ride_image *gpu, const ride_image *cpu, const char *label)
{
    int diff = ride_test_max_abs_diff_u8(gpu, cpu);
    if (diff != 0)
        fail_msg("%s: CUDA differs from the CPU kernel by up to %d (-1: shape differs)", label,
                 diff);
}

static void cuda_resize_matches_cpu(void **state)
{
    (void)state;
    static const ride_interp interps[] = {RIDE_INTERP_NEAREST, RIDE_INTERP_LINEAR,
                                          RIDE_INTERP_AREA};
    static const shape targets[] = {{1, 1}, {640, 360}, {33, 1201}, {1920, 1080}};
    ride_image gpu = {0}, cpu = {0};
    char label[160];
    for (size_t si = 0; si < SHAPE_COUNT; si++)
        for (size_t fi = 0; fi < FORMAT_COUNT; fi++) {
            ride_image src;
            make_input(&src, formats[fi], shapes[si], 7, (uint32_t)(si * 17 + fi));
            for (size_t ti = 0; ti < sizeof targets / sizeof targets[0]; ti++)
                for (size_t ii = 0; ii < 3; ii++) {
                    snprintf(label, sizeof label, "resize %ux%u -> %ux%u %s interp %d",
                             shapes[si].width, shapes[si].height, targets[ti].width,
                             targets[ti].height, ride_pixel_format_name(formats[fi]),
                             (int)interps[ii]);
                    poison(&gpu);
                    assert_int_equal(ride_cuda_resize(&src, &gpu, targets[ti].width,
                                                      targets[ti].height, interps[ii]), 0);
                    assert_int_equal(ride_cpu_resize(&src, &cpu, targets[ti].width,
                                                     targets[ti].height, interps[ii], 0), 0);
                    expect_identical(&gpu, &cpu, label);
                }
            ride_image_free(&src);
        }
    ride_image_free(&gpu);
    ride_image_free(&cpu);
}

static void cuda_gaussian_matches_cpu(void **state)
{
    (void)state;
    static const int ksizes[] = {1, 3, 5, 9, 15, 31};
    static const double sigmas[] = {0, 0.7, 4};
    ride_image gpu = {0}, cpu = {0};
    char label[160];
    for (size_t si = 0; si < SHAPE_COUNT; si++)
        for (size_t fi = 0; fi < FORMAT_COUNT; fi++) {
            ride_image src;
            make_input(&src, formats[fi], shapes[si], 5, (uint32_t)(si * 13 + fi));
            for (size_t ki = 0; ki < sizeof ksizes / sizeof ksizes[0]; ki++)
                for (size_t gi = 0; gi < sizeof sigmas / sizeof sigmas[0]; gi++) {
                    snprintf(label, sizeof label, "gaussian %ux%u %s ksize %d sigma %g",
                             shapes[si].width, shapes[si].height,
                             ride_pixel_format_name(formats[fi]), ksizes[ki], sigmas[gi]);
                    poison(&gpu);
                    assert_int_equal(ride_cuda_gaussian(&src, &gpu, ksizes[ki], sigmas[gi]), 0);
                    assert_int_equal(ride_cpu_gaussian(&src, &cpu, ksizes[ki], sigmas[gi], 0), 0);
                    expect_identical(&gpu, &cpu, label);
                }
            ride_image_free(&src);
        }
    ride_image_free(&gpu);
    ride_image_free(&cpu);
}

static void cuda_sobel_matches_cpu(void **state)
{
    (void)state;
    static const int ksizes[] = {1, 3, 5, 7};
    ride_image gpu = {0}, cpu = {0};
    char label[160];
    for (size_t si = 0; si < SHAPE_COUNT; si++) {
        ride_image src;
        make_input(&src, RIDE_PIX_GRAY8, shapes[si], 3, (uint32_t)si);
        for (size_t ki = 0; ki < sizeof ksizes / sizeof ksizes[0]; ki++) {
            snprintf(label, sizeof label, "sobel %ux%u ksize %d", shapes[si].width,
                     shapes[si].height, ksizes[ki]);
            poison(&gpu);
            assert_int_equal(ride_cuda_sobel(&src, &gpu, ksizes[ki]), 0);
            assert_int_equal(ride_cpu_sobel(&src, &cpu, ksizes[ki], 0), 0);
            expect_identical(&gpu, &cpu, label);
        }
        ride_image_free(&src);
    }
    ride_image_free(&gpu);
    ride_image_free(&cpu);
}

static void cuda_filters_reject_invalid_arguments(void **state)
{
    (void)state;
    ride_image gray, bgr, g16, out = {0};
    make_input(&gray, RIDE_PIX_GRAY8, (shape){8, 8}, 0, 1);
    make_input(&bgr, RIDE_PIX_BGR8, (shape){8, 8}, 0, 2);
    assert_int_equal(ride_image_alloc(&g16, RIDE_PIX_GRAY16, 8, 8), 0);
    assert_int_equal(ride_cuda_resize(&gray, &out, 0, 4, RIDE_INTERP_LINEAR), -1);
    assert_int_equal(ride_cuda_resize(&gray, &out, 4, RIDE_RESIZE_MAX_DIM + 1, RIDE_INTERP_AREA), -1);
    assert_int_equal(ride_cuda_resize(&gray, &out, 4, 4, (ride_interp)2), -1);
    assert_int_equal(ride_cuda_resize(&g16, &out, 4, 4, RIDE_INTERP_LINEAR), -1);
    assert_int_equal(ride_cuda_resize(&gray, &gray, 4, 4, RIDE_INTERP_LINEAR), -1);
    assert_int_equal(ride_cuda_gaussian(&bgr, &out, 4, 0), -1);
    assert_int_equal(ride_cuda_gaussian(&bgr, &out, 33, 0), -1);
    assert_int_equal(ride_cuda_gaussian(&bgr, &out, 5, -1), -1);
    assert_int_equal(ride_cuda_gaussian(&g16, &out, 5, 0), -1);
    assert_int_equal(ride_cuda_sobel(&gray, &out, 9), -1);
    assert_int_equal(ride_cuda_sobel(&bgr, &out, 3), -1);
    assert_int_equal(ride_cuda_sobel(NULL, &out, 3), -1);
    ride_image_free(&gray);
    ride_image_free(&bgr);
    ride_image_free(&g16);
    ride_image_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cuda_resize_matches_cpu),
        cmocka_unit_test(cuda_gaussian_matches_cpu),
        cmocka_unit_test(cuda_sobel_matches_cpu),
        cmocka_unit_test(cuda_filters_reject_invalid_arguments),
    };
    if (ride_test_gpu_missing(tests, sizeof tests / sizeof tests[0]))
        return RIDE_TEST_SKIP;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
