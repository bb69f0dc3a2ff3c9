/* CUDA kernels against the CPU kernels (kernels/kernels.h), against naive exact
 * references written here from the contracts and, for grayscale, against OpenCV's
 * cvtColor. Results must be identical.
 *
 * Without a usable CUDA device (or in a build without CUDA) every case prints one
 * "SKIPPED: <case> (<why>)" line and the program exits 77, which CTest reports as
 * skipped. */
#include "ride_test.h"

#include "kernels/gpu.h"
#include "kernels/kernels.h"

#include "media/opencv_c.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shape {
    uint32_t width;
    uint32_t height;
} shape;

static const shape shapes[] = {
    {1, 1}, {1, 301}, {301, 1}, {17, 13}, {257, 129}, {901, 899}, {1600, 1600},
};
#define SHAPE_COUNT (sizeof shapes / sizeof shapes[0])

/* 255 is wider than every shape up to 257x129 in at least one direction, and many
 * times wider than the small ones (the reflection folds back repeatedly). */
static const int ksizes[] = {1, 3, 5, 31, 255};
#define KSIZE_COUNT (sizeof ksizes / sizeof ksizes[0])

static const ride_pixel_format formats[] = {
    RIDE_PIX_GRAY8, RIDE_PIX_BGR8, RIDE_PIX_RGB8, RIDE_PIX_BGRA8,
};
#define FORMAT_COUNT (sizeof formats / sizeof formats[0])

/* The naive stddev reference costs O(k) per pixel: keep it to the smaller shapes. */
static int naive_affordable(shape s) { return (uint64_t)s.width * s.height <= 257u * 129u; }

/* ---- naive references, written from the contracts ---- */

/* OpenCV's borderInterpolate for BORDER_REFLECT_101, literally. */
static int ref_reflect101(int p, int len)
{
    if (len == 1)
        return 0;
    do {
        if (p < 0)
            p = -p;
        else
            p = len - 1 - (p - len) - 1;
    } while ((unsigned)p >= (unsigned)len);
    return p;
}

/* OpenCV 4's 8-bit cvtColor: 15-bit fixed point, rounded. */
static uint8_t ref_gray(const uint8_t *px, ride_pixel_format f)
{
    unsigned r = f == RIDE_PIX_RGB8 ? px[0] : px[2];
    unsigned b = f == RIDE_PIX_RGB8 ? px[2] : px[0];
    return (uint8_t)((r * 9798 + px[1] * 19235 + b * 3735 + (1 << 14)) >> 15);
}

static void ref_grayscale(const ride_image *src, ride_image *dst)
{
    unsigned channels = ride_pixel_channels(src->format);
    assert_int_equal(ride_image_alloc(dst, RIDE_PIX_GRAY8, src->width, src->height), 0);
    for (uint32_t y = 0; y < src->height; y++)
        for (uint32_t x = 0; x < src->width; x++) {
            const uint8_t *px = ride_image_row(src, y) + (size_t)x * channels;
            ride_image_row(dst, y)[x] =
                src->format == RIDE_PIX_GRAY8 ? px[0] : ref_gray(px, src->format);
        }
}

/* round half up of sqrt(num) / n, in integers only: the largest r with
 * (r - 1/2)^2 <= num / n^2, i.e. (2r - 1)^2 n^2 <= 4 num. */
static uint8_t ref_rounded_sqrt(uint64_t num, uint64_t n)
{
    uint64_t r = 0;
    while ((2 * r + 1) * (2 * r + 1) * n * n <= 4 * num)
        r++;
    return (uint8_t)r;
}

/* Direct sums over the k rows, then over k of those column sums. */
static void ref_stddev(const ride_image *src, ride_image *dst, int ksize)
{
    const int w = (int)src->width, h = (int)src->height, r = ksize / 2;
    const int ch = (int)ride_pixel_channels(src->format);
    const size_t lanes = (size_t)w * ch;
    uint64_t *col1 = calloc(lanes * h, sizeof *col1);
    uint64_t *col2 = calloc(lanes * h, sizeof *col2);
    assert_non_null(col1);
    assert_non_null(col2);
    assert_int_equal(ride_image_alloc(dst, src->format, src->width, src->height), 0);
    for (int y = 0; y < h; y++)
        for (size_t l = 0; l < lanes; l++)
            for (int i = -r; i <= r; i++) {
                uint64_t v = ride_image_row(src, (uint32_t)ref_reflect101(y + i, h))[l];
                col1[y * lanes + l] += v;
                col2[y * lanes + l] += v * v;
            }
    const uint64_t n = (uint64_t)ksize * ksize;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                uint64_t s1 = 0, s2 = 0;
                for (int i = -r; i <= r; i++) {
                    size_t at = y * lanes + (size_t)ref_reflect101(x + i, w) * ch + c;
                    s1 += col1[at];
                    s2 += col2[at];
                }
                ride_image_row(dst, (uint32_t)y)[(size_t)x * ch + c] =
                    ref_rounded_sqrt(n * s2 - s1 * s1, n);
            }
    free(col1);
    free(col2);
}

/* ---- helpers ---- */

/* A random image whose rows are `pad` bytes longer than the pixels, padding random
 * too. Release with ride_image_free(). */
static void make_input(ride_image *img, ride_pixel_format f, shape s, size_t pad, uint32_t seed)
{
    size_t stride = ride_image_row_bytes(f, s.width) + pad;
    void *data = malloc(stride * s.height);
    assert_non_null(data);
    ride_image_wrap(img, f, s.width, s.height, stride, data);
    img->owns_data = 1;
    ride_test_fill_random(img, seed);
}

/* An output image the kernels must overwrite completely: when it is kept between
 * calls its old pixels get a marker, so leftovers show (0xEE is above any stddev,
 * at most 128; in grayscale it hides only a pixel whose true value is 238). */
static void poison(ride_image *img)
{
    if (img->data)
        memset(img->data, 0xEE, ride_image_size(img));
}

static void expect_identical(const ride_image *got, const ride_image *want, const char *what,
                             const char *label)
{
    int diff = ride_test_max_abs_diff_u8(got, want);
    if (diff != 0)
        fail_msg("%s differs from %s: max abs diff %d (-1: shape differs)", label, what, diff);
}

/* ---- cases ---- */

static void cuda_grayscale_matches_cpu(void **state)
{
    (void)state;
    ride_image gpu = {0}, cpu = {0}, opencv = {0};
    for (size_t si = 0; si < SHAPE_COUNT; si++)
        for (size_t fi = 0; fi < FORMAT_COUNT; fi++)
            for (size_t pad = 0; pad <= 13; pad += 13) {
                char label[128];
                snprintf(label, sizeof label, "grayscale %ux%u %s pad %zu", shapes[si].width,
                         shapes[si].height, ride_pixel_format_name(formats[fi]), pad);
                ride_image src, ref;
                make_input(&src, formats[fi], shapes[si], pad, (uint32_t)(si * 131 + fi + pad));
                poison(&gpu);
                assert_int_equal(ride_cuda_grayscale(&src, &gpu), 0);
                assert_int_equal(ride_cpu_grayscale(&src, &cpu, 0), 0);
                ref_grayscale(&src, &ref);
                expect_identical(&gpu, &cpu, "ride_cpu_grayscale", label);
                expect_identical(&gpu, &ref, "the naive reference", label);
                if (formats[fi] != RIDE_PIX_GRAY8) {
                    assert_int_equal(ride_cv_ref_grayscale(&src, &opencv), 0);
                    expect_identical(&gpu, &opencv, "OpenCV's cvtColor", label);
                }
                ride_image_free(&ref);
                ride_image_free(&src);
            }
    ride_image_free(&gpu);
    ride_image_free(&cpu);
    ride_image_free(&opencv);
}

/* Every colour once, against OpenCV: a wrong weight shows up on some colour. */
static void cuda_grayscale_all_colours(void **state)
{
    (void)state;
    const shape s = {4096, 4096};
    ride_image src, gpu = {0}, opencv = {0};
    make_input(&src, RIDE_PIX_BGR8, s, 0, 1);
    for (uint32_t i = 0; i < s.width * s.height; i++) {
        uint8_t *px = src.data + (size_t)i * 3;
        px[0] = (uint8_t)i;
        px[1] = (uint8_t)(i >> 8);
        px[2] = (uint8_t)(i >> 16);
    }
    assert_int_equal(ride_cuda_grayscale(&src, &gpu), 0);
    assert_int_equal(ride_cv_ref_grayscale(&src, &opencv), 0);
    expect_identical(&gpu, &opencv, "OpenCV's cvtColor", "grayscale of all 2^24 colours");
    ride_image_free(&opencv);
    ride_image_free(&gpu);
    ride_image_free(&src);
}

static void cuda_stddev_matches_cpu(void **state)
{
    (void)state;
    ride_image gpu = {0}, cpu = {0};
    for (size_t si = 0; si < SHAPE_COUNT; si++)
        for (size_t fi = 0; fi < FORMAT_COUNT; fi++)
            for (size_t ki = 0; ki < KSIZE_COUNT; ki++) {
                /* Odd and even cases alternate between a padded and a tight stride. */
                size_t pad = (si + fi + ki) % 2 ? 7 : 0;
                char label[128];
                snprintf(label, sizeof label, "stddev %ux%u %s ksize %d pad %zu",
                         shapes[si].width, shapes[si].height,
                         ride_pixel_format_name(formats[fi]), ksizes[ki], pad);
                ride_image src;
                make_input(&src, formats[fi], shapes[si], pad,
                           (uint32_t)(si * 1009 + fi * 31 + ki + 1));
                poison(&gpu);
                assert_int_equal(ride_cuda_stddev(&src, &gpu, ksizes[ki]), 0);
                assert_int_equal(ride_cpu_stddev(&src, &cpu, ksizes[ki], 0), 0);
                expect_identical(&gpu, &cpu, "ride_cpu_stddev", label);
                if (naive_affordable(shapes[si])) {
                    ride_image ref;
                    ref_stddev(&src, &ref, ksizes[ki]);
                    expect_identical(&gpu, &ref, "the naive reference", label);
                    ride_image_free(&ref);
                }
                ride_image_free(&src);
            }
    ride_image_free(&gpu);
    ride_image_free(&cpu);
}

/* Extremes of the variance: constant windows give 0, a checkerboard of 0 and 255
 * gives the largest values, where rounding and the integer sums are most at risk. */
static void cuda_stddev_extreme_values(void **state)
{
    (void)state;
    const shape s = {300, 260};
    ride_image src, gpu = {0}, ref;
    make_input(&src, RIDE_PIX_GRAY8, s, 5, 1);
    for (uint32_t y = 0; y < s.height; y++)
        for (uint32_t x = 0; x < s.width; x++)
            ride_image_row(&src, y)[x] = (x + y) % 2 ? 255 : (x < 40 ? 255 : 0);
    for (size_t ki = 0; ki < KSIZE_COUNT; ki++) {
        char label[64];
        snprintf(label, sizeof label, "stddev extremes ksize %d", ksizes[ki]);
        assert_int_equal(ride_cuda_stddev(&src, &gpu, ksizes[ki]), 0);
        ref_stddev(&src, &ref, ksizes[ki]);
        expect_identical(&gpu, &ref, "the naive reference", label);
        ride_image_free(&ref);
    }
    ride_image_free(&gpu);
    ride_image_free(&src);
}

static void cuda_rejects_invalid_arguments(void **state)
{
    (void)state;
    uint8_t pixels[4 * 4 * 4] = {0};
    ride_image src, dst = {0};
    ride_image_wrap(&src, RIDE_PIX_BGR8, 4, 4, 12, pixels);
    assert_int_equal(ride_cuda_grayscale(NULL, &dst), -1);
    assert_int_equal(ride_cuda_grayscale(&src, NULL), -1);
    assert_int_equal(ride_cuda_grayscale(&src, &src), -1);
    assert_int_equal(ride_cuda_stddev(&src, &dst, 0), -1);
    assert_int_equal(ride_cuda_stddev(&src, &dst, 4), -1);
    assert_int_equal(ride_cuda_stddev(&src, &dst, -3), -1);
    assert_int_equal(ride_cuda_stddev(&src, &dst, RIDE_STDDEV_MAX_KSIZE + 2), -1);
    assert_int_equal(ride_cuda_stddev(&src, &src, 3), -1);

    ride_image_wrap(&src, RIDE_PIX_BGR8, 4, 4, 11, pixels); /* stride below a row */
    assert_int_equal(ride_cuda_grayscale(&src, &dst), -1);
    assert_int_equal(ride_cuda_stddev(&src, &dst, 3), -1);
    ride_image_wrap(&src, RIDE_PIX_GRAY16, 4, 4, 8, pixels);
    assert_int_equal(ride_cuda_grayscale(&src, &dst), -1);
    assert_int_equal(ride_cuda_stddev(&src, &dst, 3), -1);
    ride_image_wrap(&src, RIDE_PIX_GRAY8, 0, 4, 4, pixels);
    assert_int_equal(ride_cuda_stddev(&src, &dst, 3), -1);
    ride_image_wrap(&src, RIDE_PIX_GRAY8, 4, 0, 4, pixels);
    assert_int_equal(ride_cuda_stddev(&src, &dst, 3), -1);
    ride_image_wrap(&src, RIDE_PIX_GRAY8, 4, 4, 4, NULL);
    assert_int_equal(ride_cuda_stddev(&src, &dst, 3), -1);
    assert_null(dst.data);
}

/* Each thread keeps its own stream and device buffers; threads working at once on
 * different shapes must not disturb one another. */
#define WORKER_COUNT 4

typedef struct worker_job {
    shape size;
    ride_pixel_format format;
    int ksize;
    int mismatches;
    int failures;
} worker_job;

static void *run_worker(void *arg)
{
    worker_job *job = arg;
    ride_image src, ref, gray_ref, gpu = {0}, gray = {0};
    make_input(&src, job->format, job->size, 3, (uint32_t)job->ksize);
    ref_stddev(&src, &ref, job->ksize);
    ref_grayscale(&src, &gray_ref);
    for (int round = 0; round < 20; round++) {
        poison(&gpu);
        poison(&gray);
        if (ride_cuda_stddev(&src, &gpu, job->ksize) != 0 ||
            ride_cuda_grayscale(&src, &gray) != 0)
            job->failures++;
        else if (ride_test_max_abs_diff_u8(&gpu, &ref) != 0 ||
                 ride_test_max_abs_diff_u8(&gray, &gray_ref) != 0)
            job->mismatches++;
    }
    ride_image_free(&gpu);
    ride_image_free(&gray);
    ride_image_free(&gray_ref);
    ride_image_free(&ref);
    ride_image_free(&src);
    return NULL;
}

static void cuda_kernels_from_many_threads(void **state)
{
    (void)state;
    worker_job jobs[WORKER_COUNT] = {
        {{640, 480}, RIDE_PIX_BGR8, 5, 0, 0},
        {{333, 211}, RIDE_PIX_GRAY8, 31, 0, 0},
        {{128, 720}, RIDE_PIX_BGRA8, 3, 0, 0},
        {{95, 97}, RIDE_PIX_RGB8, 255, 0, 0},
    };
    pthread_t threads[WORKER_COUNT];
    for (int i = 0; i < WORKER_COUNT; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, run_worker, &jobs[i]), 0);
    for (int i = 0; i < WORKER_COUNT; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    for (int i = 0; i < WORKER_COUNT; i++) {
        assert_int_equal(jobs[i].failures, 0);
        assert_int_equal(jobs[i].mismatches, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cuda_grayscale_matches_cpu),
        cmocka_unit_test(cuda_grayscale_all_colours),
        cmocka_unit_test(cuda_stddev_matches_cpu),
        cmocka_unit_test(cuda_stddev_extreme_values),
        cmocka_unit_test(cuda_rejects_invalid_arguments),
        cmocka_unit_test(cuda_kernels_from_many_threads),
    };
    char why[256];
    if (ride_gpu_device_count(why, sizeof why) == 0) {
        for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
            printf("SKIPPED: %s (%s)\n", tests[i].name, why);
        return RIDE_TEST_SKIP;
    }
    char name[256];
    if (ride_gpu_device_name(0, name, sizeof name) == 0)
        printf("CUDA device 0: %s\n", name);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
