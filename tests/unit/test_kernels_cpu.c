/* CPU kernels against OpenCV (tests/unit links the OpenCV shim) and against a
 * textbook reference written here: a direct double loop over the window. */
#include "ride_test.h"

#include "kernels/kernels.h"
#include "media/opencv_c.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An image in a caller-owned buffer with `pad` bytes of random padding after
 * every row, so that kernels must honour the stride. */
static void make_padded(ride_image *img, ride_pixel_format f, uint32_t w, uint32_t h, size_t pad,
                        uint32_t seed)
{
    size_t stride = ride_image_row_bytes(f, w) + pad;
    uint8_t *data = malloc(stride * h);
    assert_non_null(data);
    ride_image_wrap(img, f, w, h, stride, data);
    ride_test_fill_random(img, seed);
}

static void free_padded(ride_image *img)
{
    free(img->data);
    memset(img, 0, sizeof *img);
}

/* ---- textbook stddev -------------------------------------------------------- */

/* OpenCV's borderInterpolate(BORDER_REFLECT_101), reflecting until inside. */
static int ref_reflect101(int p, int len)
{
    if (len == 1)
        return 0;
    while (p < 0 || p >= len)
        p = p < 0 ? -p : 2 * len - 2 - p;
    return p;
}

/* round-half-up(sqrt(V) / n) decided with integers: the r with
 * (2r - 1)^2 n^2 <= 4V < (2r + 1)^2 n^2. */
static int ref_round_stddev(int64_t v, int64_t n)
{
    int64_t r = (int64_t)(sqrt((double)v) / (double)n + 0.5);
    while ((2 * r + 1) * (2 * r + 1) * n * n <= 4 * v)
        r++;
    while (r > 0 && (2 * r - 1) * (2 * r - 1) * n * n > 4 * v)
        r--;
    return (int)r;
}

static int ref_stddev_at(const ride_image *src, int ksize, int x, int y, unsigned c)
{
    int r = ksize / 2;
    unsigned ch = ride_pixel_channels(src->format);
    int64_t s1 = 0, s2 = 0;
    for (int dy = -r; dy <= r; dy++) {
        const uint8_t *row = ride_image_row(src, (uint32_t)ref_reflect101(y + dy, (int)src->height));
        for (int dx = -r; dx <= r; dx++) {
            int64_t v = row[(size_t)ref_reflect101(x + dx, (int)src->width) * ch + c];
            s1 += v;
            s2 += v * v;
        }
    }
    int64_t n = (int64_t)ksize * ksize;
    return ref_round_stddev(n * s2 - s1 * s1, n);
}

/* Compares every sample of the rows and columns next to the border (where the
 * window is reflected), and every `step`-th row and column inside (step 1:
 * everything). */
static int checked(int i, int len, int ksize, int step)
{
    int zone = ksize / 2 + 1 < 8 ? ksize / 2 + 1 : 8;
    return i < zone || i >= len - zone || i % step == 0;
}

static void assert_stddev_matches_textbook(const ride_image *src, const ride_image *out, int ksize,
                                           int step)
{
    unsigned ch = ride_pixel_channels(src->format);
    for (int y = 0; y < (int)src->height; y++) {
        if (!checked(y, (int)src->height, ksize, step))
            continue;
        const uint8_t *row = ride_image_row(out, (uint32_t)y);
        for (int x = 0; x < (int)src->width; x++) {
            if (!checked(x, (int)src->width, ksize, step))
                continue;
            for (unsigned c = 0; c < ch; c++) {
                int want = ref_stddev_at(src, ksize, x, y, c);
                if (row[(size_t)x * ch + c] != want)
                    fail_msg("%ux%u %s k=%d at (%d,%d,%u): got %d, textbook %d", src->width,
                             src->height, ride_pixel_format_name(src->format), ksize, x, y, c,
                             row[(size_t)x * ch + c], want);
            }
        }
    }
}

/* OpenCV's float boxFilter reference loses precision in E[x^2] - E[x]^2, so
 * after rounding it may differ from the exact result by one, never more. */
static void assert_stddev_close_to_opencv(const ride_image *src, const ride_image *out, int ksize)
{
    ride_image ref = {0};
    assert_int_equal(ride_cv_ref_stddev(src, ksize, &ref), 0);
    size_t samples = ride_image_row_bytes(src->format, src->width);
    for (uint32_t y = 0; y < src->height; y++) {
        const float *rf = (const float *)(const void *)ride_image_row(&ref, y);
        const uint8_t *ro = ride_image_row(out, y);
        for (size_t i = 0; i < samples; i++) {
            double diff = fabs(floor(rf[i] + 0.5) - ro[i]);
            if (diff > 1.0)
                fail_msg("%ux%u k=%d sample (%zu,%u): ours %d, OpenCV %f", src->width,
                         src->height, ksize, i, y, ro[i], (double)rf[i]);
        }
    }
    ride_image_free(&ref);
}

typedef struct sd_case {
    ride_pixel_format format;
    uint32_t w, h;
    int ksize;
    int step;
} sd_case;

static void run_sd_case(const sd_case *tc, uint32_t seed)
{
    ride_image src, out = {0};
    make_padded(&src, tc->format, tc->w, tc->h, 5, seed);
    assert_int_equal(ride_cpu_stddev(&src, &out, tc->ksize, 2), 0);
    assert_int_equal(out.format, tc->format);
    assert_int_equal(out.width, tc->w);
    assert_int_equal(out.height, tc->h);
    assert_stddev_matches_textbook(&src, &out, tc->ksize, tc->step);
    assert_stddev_close_to_opencv(&src, &out, tc->ksize);
    ride_image_free(&out);
    free_padded(&src);
}

static void test_stddev_small_and_degenerate_sizes(void **state)
{
    (void)state;
    static const uint32_t sizes[][2] = {{1, 1}, {1, 40}, {40, 1}, {2, 2}, {3, 2}, {17, 13}};
    static const int ksizes[] = {1, 3, 5, 7, 31, 255};
    uint32_t seed = 1;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t k = 0; k < sizeof ksizes / sizeof ksizes[0]; k++) {
            sd_case tc = {RIDE_PIX_GRAY8, sizes[s][0], sizes[s][1], ksizes[k], 1};
            run_sd_case(&tc, seed++);
        }
}

static void test_stddev_multichannel(void **state)
{
    (void)state;
    static const ride_pixel_format formats[] = {RIDE_PIX_BGR8, RIDE_PIX_RGB8, RIDE_PIX_BGRA8};
    static const int ksizes[] = {1, 3, 5, 7, 31};
    uint32_t seed = 100;
    for (size_t f = 0; f < 3; f++)
        for (size_t k = 0; k < sizeof ksizes / sizeof ksizes[0]; k++) {
            sd_case small = {formats[f], 17, 13, ksizes[k], 1};
            run_sd_case(&small, seed++);
            sd_case tiny = {formats[f], 2, 3, ksizes[k], 1};
            run_sd_case(&tiny, seed++);
        }
    sd_case wide = {RIDE_PIX_BGRA8, 257, 129, 31, 9};
    run_sd_case(&wide, seed);
}

static void test_stddev_odd_and_large_sizes(void **state)
{
    (void)state;
    static const int ksizes[] = {1, 3, 5, 7, 31};
    for (size_t k = 0; k < sizeof ksizes / sizeof ksizes[0]; k++) {
        sd_case odd = {RIDE_PIX_GRAY8, 257, 129, ksizes[k], ksizes[k] < 31 ? 1 : 5};
        run_sd_case(&odd, 200 + (uint32_t)k);
        sd_case big = {RIDE_PIX_GRAY8, 900, 900, ksizes[k], ksizes[k] < 31 ? 7 : 61};
        run_sd_case(&big, 300 + (uint32_t)k);
    }
    sd_case bgr = {RIDE_PIX_BGR8, 900, 900, 5, 97};
    run_sd_case(&bgr, 400);
}

/* Every row length from 1 to 40 pixels, so that the vectorised horizontal pass
 * meets every remainder of its vector width. */
static void test_stddev_every_width(void **state)
{
    (void)state;
    static const ride_pixel_format formats[] = {RIDE_PIX_GRAY8, RIDE_PIX_BGR8, RIDE_PIX_BGRA8};
    for (size_t f = 0; f < 3; f++)
        for (uint32_t w = 1; w <= 40; w++) {
            sd_case tc = {formats[f], w, 3, w % 2 ? 3 : 7, 1};
            run_sd_case(&tc, 1000 + w);
        }
}

/* Windows of 255^2 saturated samples reach the largest window sums (S2 close to
 * 2^32) and the largest variance (half 0, half 255). */
static void test_stddev_extreme_values(void **state)
{
    (void)state;
    ride_image src, out = {0};
    assert_int_equal(ride_image_alloc(&src, RIDE_PIX_GRAY8, 40, 30), 0);
    memset(src.data, 255, ride_image_size(&src));
    assert_int_equal(ride_cpu_stddev(&src, &out, 255, 2), 0);
    for (uint32_t y = 0; y < out.height; y++)
        for (uint32_t x = 0; x < out.width; x++)
            assert_int_equal(ride_image_row(&out, y)[x], 0);

    for (uint32_t y = 0; y < src.height; y++)
        for (uint32_t x = 0; x < src.width; x++)
            ride_image_row(&src, y)[x] = (uint8_t)(((x / 3) ^ (y / 5)) & 1 ? 255 : 0);
    assert_int_equal(ride_cpu_stddev(&src, &out, 255, 3), 0);
    assert_stddev_matches_textbook(&src, &out, 255, 7);
    assert_int_equal(ride_cpu_stddev(&src, &out, 3, 3), 0);
    assert_stddev_matches_textbook(&src, &out, 3, 1);
    ride_image_free(&out);
    ride_image_free(&src);
}

static void test_stddev_threads_identical(void **state)
{
    (void)state;
    static const int threads[] = {1, 2, 3, 7};
    static const sd_case cases[] = {
        {RIDE_PIX_BGR8, 257, 129, 31, 0},
        {RIDE_PIX_GRAY8, 900, 900, 5, 0},
        {RIDE_PIX_BGRA8, 33, 2, 7, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ride_image src, one = {0}, many = {0};
        make_padded(&src, cases[c].format, cases[c].w, cases[c].h, 3, 500 + (uint32_t)c);
        assert_int_equal(ride_cpu_stddev(&src, &one, cases[c].ksize, 1), 0);
        for (size_t t = 1; t < sizeof threads / sizeof threads[0]; t++) {
            assert_int_equal(ride_cpu_stddev(&src, &many, cases[c].ksize, threads[t]), 0);
            assert_int_equal(ride_test_max_abs_diff_u8(&one, &many), 0);
        }
        assert_int_equal(ride_cpu_stddev(&src, &many, cases[c].ksize, 0), 0);
        assert_int_equal(ride_test_max_abs_diff_u8(&one, &many), 0);
        ride_image_free(&many);
        ride_image_free(&one);
        free_padded(&src);
    }
}

/* A padded source and the same pixels tightly packed give the same result. */
static void test_stddev_ignores_padding(void **state)
{
    (void)state;
    ride_image padded, tight = {0}, a = {0}, b = {0};
    make_padded(&padded, RIDE_PIX_BGR8, 61, 47, 29, 600);
    assert_int_equal(ride_cpu_passthrough(&padded, &tight), 0);
    assert_int_equal(tight.stride, 61 * 3);
    assert_int_equal(ride_cpu_stddev(&padded, &a, 7, 2), 0);
    assert_int_equal(ride_cpu_stddev(&tight, &b, 7, 2), 0);
    assert_int_equal(ride_test_max_abs_diff_u8(&a, &b), 0);
    ride_image_free(&a);
    ride_image_free(&b);
    ride_image_free(&tight);
    free_padded(&padded);
}

static void test_stddev_rejects_bad_arguments(void **state)
{
    (void)state;
    ride_image src, out = {0};
    assert_int_equal(ride_image_alloc(&src, RIDE_PIX_GRAY8, 8, 8), 0);
    memset(src.data, 7, ride_image_size(&src));
    static const int bad_ksizes[] = {0, -1, 2, 4, 256, 257, 1000};
    for (size_t k = 0; k < sizeof bad_ksizes / sizeof bad_ksizes[0]; k++)
        assert_int_equal(ride_cpu_stddev(&src, &out, bad_ksizes[k], 1), -1);
    assert_int_equal(ride_cpu_stddev(&src, &out, 3, -1), -1);
    assert_int_equal(ride_cpu_stddev(NULL, &out, 3, 1), -1);
    assert_int_equal(ride_cpu_stddev(&src, NULL, 3, 1), -1);
    assert_int_equal(ride_cpu_stddev(&src, &src, 3, 1), -1);

    ride_image bad = src;
    bad.stride = 7;
    assert_int_equal(ride_cpu_stddev(&bad, &out, 3, 1), -1);
    bad = src;
    bad.width = 0;
    assert_int_equal(ride_cpu_stddev(&bad, &out, 3, 1), -1);
    bad = src;
    bad.height = 0;
    assert_int_equal(ride_cpu_stddev(&bad, &out, 3, 1), -1);
    bad = src;
    bad.data = NULL;
    assert_int_equal(ride_cpu_stddev(&bad, &out, 3, 1), -1);
    bad = src;
    bad.stride = SIZE_MAX / 2;
    assert_int_equal(ride_cpu_stddev(&bad, &out, 3, 1), -1);
    static const ride_pixel_format unsupported[] = {RIDE_PIX_INVALID, RIDE_PIX_GRAY16,
                                                    RIDE_PIX_GRAY32F, RIDE_PIX_FORMAT_COUNT};
    for (size_t f = 0; f < 4; f++) {
        bad = src;
        bad.format = unsupported[f];
        bad.width = 2;
        assert_int_equal(ride_cpu_stddev(&bad, &out, 3, 1), -1);
    }
    assert_null(out.data);

    /* An output that owns a buffer overlapping the source would be overwritten
     * while it is read. */
    ride_image alias = src;
    alias.owns_data = 1;
    assert_int_equal(ride_cpu_stddev(&src, &alias, 3, 1), -1);

    assert_int_equal(ride_cpu_stddev(&src, &out, 3, 1), 0);
    assert_int_equal(ride_image_row(&out, 4)[4], 0);
    ride_image_free(&out);
    ride_image_free(&src);
}

/* ---- grayscale ------------------------------------------------------------- */

/* Every BGR colour once: 4096 x 4096 pixels. */
static void test_grayscale_all_colours_bit_exact(void **state)
{
    (void)state;
    ride_image src, ours = {0}, cv = {0};
    assert_int_equal(ride_image_alloc(&src, RIDE_PIX_BGR8, 4096, 4096), 0);
    for (uint32_t i = 0; i < 4096u * 4096u; i++) {
        src.data[3 * (size_t)i] = (uint8_t)i;
        src.data[3 * (size_t)i + 1] = (uint8_t)(i >> 8);
        src.data[3 * (size_t)i + 2] = (uint8_t)(i >> 16);
    }
    assert_int_equal(ride_cpu_grayscale(&src, &ours, 0), 0);
    assert_int_equal(ride_cv_ref_grayscale(&src, &cv), 0);
    assert_int_equal(ride_test_max_abs_diff_u8(&ours, &cv), 0);
    ride_image_free(&cv);
    ride_image_free(&ours);
    ride_image_free(&src);
}

static void test_grayscale_formats_bit_exact(void **state)
{
    (void)state;
    static const ride_pixel_format formats[] = {RIDE_PIX_BGR8, RIDE_PIX_RGB8, RIDE_PIX_BGRA8};
    static const uint32_t sizes[][2] = {{1, 1}, {1, 9}, {9, 1}, {17, 13}, {257, 129}, {900, 900}};
    for (size_t f = 0; f < 3; f++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            ride_image src, ours = {0}, cv = {0};
            make_padded(&src, formats[f], sizes[s][0], sizes[s][1], 7, (uint32_t)(f * 10 + s + 1));
            assert_int_equal(ride_cpu_grayscale(&src, &ours, 3), 0);
            assert_int_equal(ride_cv_ref_grayscale(&src, &cv), 0);
            assert_int_equal(ours.format, RIDE_PIX_GRAY8);
            assert_int_equal(ride_test_max_abs_diff_u8(&ours, &cv), 0);
            ride_image_free(&cv);
            ride_image_free(&ours);
            free_padded(&src);
        }
}

static void test_grayscale_gray_is_copied(void **state)
{
    (void)state;
    ride_image src, out = {0};
    make_padded(&src, RIDE_PIX_GRAY8, 31, 9, 4, 700);
    assert_int_equal(ride_cpu_grayscale(&src, &out, 2), 0);
    assert_int_equal(out.stride, 31);
    assert_int_equal(ride_test_max_abs_diff_u8(&src, &out), 0);
    ride_image_free(&out);
    free_padded(&src);
}

static void test_grayscale_threads_identical(void **state)
{
    (void)state;
    static const int threads[] = {2, 3, 7, 0};
    ride_image src, one = {0}, many = {0};
    make_padded(&src, RIDE_PIX_BGRA8, 301, 203, 1, 800);
    assert_int_equal(ride_cpu_grayscale(&src, &one, 1), 0);
    for (size_t t = 0; t < 4; t++) {
        assert_int_equal(ride_cpu_grayscale(&src, &many, threads[t]), 0);
        assert_int_equal(ride_test_max_abs_diff_u8(&one, &many), 0);
    }
    ride_image_free(&many);
    ride_image_free(&one);
    free_padded(&src);
}

static void test_grayscale_rejects_bad_arguments(void **state)
{
    (void)state;
    ride_image src, out = {0};
    assert_int_equal(ride_image_alloc(&src, RIDE_PIX_GRAY16, 4, 4), 0);
    assert_int_equal(ride_cpu_grayscale(&src, &out, 1), -1);
    src.format = RIDE_PIX_GRAY32F;
    src.width = 2;
    assert_int_equal(ride_cpu_grayscale(&src, &out, 1), -1);
    src.format = RIDE_PIX_BGR8;
    assert_int_equal(ride_cpu_grayscale(&src, &out, -2), -1);
    assert_int_equal(ride_cpu_grayscale(NULL, &out, 1), -1);
    assert_int_equal(ride_cpu_grayscale(&src, NULL, 1), -1);
    assert_int_equal(ride_cpu_grayscale(&src, &src, 1), -1);
    ride_image bad = src;
    bad.stride = 5;
    assert_int_equal(ride_cpu_grayscale(&bad, &out, 1), -1);
    bad = src;
    bad.height = RIDE_IMAGE_MAX_DIM + 1;
    assert_int_equal(ride_cpu_grayscale(&bad, &out, 1), -1);
    assert_null(out.data);
    ride_image_free(&src);
}

/* ---- passthrough and threads ----------------------------------------------- */

static void test_passthrough_copies_any_format(void **state)
{
    (void)state;
    static const ride_pixel_format formats[] = {RIDE_PIX_GRAY8, RIDE_PIX_BGR8, RIDE_PIX_BGRA8,
                                                RIDE_PIX_GRAY16, RIDE_PIX_GRAY32F};
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
        ride_image src, out = {0};
        make_padded(&src, formats[f], 23, 11, 9, 900 + (uint32_t)f);
        assert_int_equal(ride_cpu_passthrough(&src, &out), 0);
        size_t row = ride_image_row_bytes(formats[f], 23);
        assert_int_equal(out.format, formats[f]);
        assert_int_equal(out.stride, row);
        for (uint32_t y = 0; y < 11; y++)
            assert_memory_equal(ride_image_row(&out, y), ride_image_row(&src, y), row);
        ride_image_free(&out);
        free_padded(&src);
    }
    ride_image src = {0}, out = {0};
    assert_int_equal(ride_cpu_passthrough(&src, &out), -1);
    assert_int_equal(ride_cpu_passthrough(NULL, &out), -1);
}

static void test_thread_count_resolution(void **state)
{
    (void)state;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int all = ride_cpu_threads(0);
    assert_true(all >= 1);
    if (online >= 1 && online <= 256)
        assert_int_equal(all, online);
    assert_int_equal(ride_cpu_threads(3), 3);
    assert_int_equal(ride_cpu_threads(-1), -1);
    assert_int_equal(ride_cpu_threads(1 << 20), 256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stddev_small_and_degenerate_sizes),
        cmocka_unit_test(test_stddev_multichannel),
        cmocka_unit_test(test_stddev_odd_and_large_sizes),
        cmocka_unit_test(test_stddev_every_width),
        cmocka_unit_test(test_stddev_extreme_values),
        cmocka_unit_test(test_stddev_threads_identical),
        cmocka_unit_test(test_stddev_ignores_padding),
        cmocka_unit_test(test_stddev_rejects_bad_arguments),
        cmocka_unit_test(test_grayscale_all_colours_bit_exact),
        cmocka_unit_test(test_grayscale_formats_bit_exact),
        cmocka_unit_test(test_grayscale_gray_is_copied),
        cmocka_unit_test(test_grayscale_threads_identical),
        cmocka_unit_test(test_grayscale_rejects_bad_arguments),
        cmocka_unit_test(test_passthrough_copies_any_format),
        cmocka_unit_test(test_thread_count_resolution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
