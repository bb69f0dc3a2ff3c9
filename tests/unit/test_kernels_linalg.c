/* The matmul and fft CPU kernels (BLAS, FFTW) against OpenCV references composed
 * from cv::gemm and cv::dft, and the matmul and fft tasks through the task API.
 *
 * Tolerances: matmul results agree with cv::gemm within 1e-5 of the largest
 * |value| of the product (float sums in different orders); the GRAY8 spectra
 * differ by at most 1 (float rounding before the 8-bit quantisation). */
#include "ride_test.h"
#include "test_linalg_util.h"

#include "kernels/kernels.h"
#include "media/opencv_c.h"
#include "tasks/host.h"

#include <stdlib.h>
#include <string.h>

/* Square and not, odd and even, single rows and columns. */
static const shape shapes[] = {{1, 1}, {1, 7}, {9, 1}, {2, 3}, {17, 13},
                               {64, 64}, {101, 67}, {129, 257}, {320, 240}};
#define SHAPE_COUNT (sizeof shapes / sizeof shapes[0])

static void matmul_transpose_matches_gemm(void **state)
{
    (void)state;
    for (size_t i = 0; i < SHAPE_COUNT; i++)
        for (int threads = 1; threads <= 3; threads += 2) {
            ride_image src, got = {0}, want = {0};
            make_frame(&src, shapes[i], 5, (uint32_t)i + 1);
            assert_int_equal(ride_cpu_matmul_transpose(&src, &got, threads), 0);
            assert_int_equal(ride_cv_ref_matmul(&src, NULL, 0, &want), 0);
            assert_int_equal(got.width, shapes[i].height);
            assert_close_f32(&got, &want);
            ride_image_free(&got);
            ride_image_free(&want);
            free_frame(&src);
        }
}

static void matmul_matrix_matches_gemm(void **state)
{
    (void)state;
    static const uint32_t cols[] = {1, 5, 64};
    for (size_t i = 0; i < SHAPE_COUNT; i++)
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
            ride_image src, got = {0}, want = {0};
            make_frame(&src, shapes[i], 3, (uint32_t)(i * 7 + c));
            float *m = malloc((size_t)shapes[i].width * cols[c] * sizeof *m);
            assert_non_null(m);
            ride_matmul_random_matrix(m, shapes[i].width, cols[c], 42);
            assert_int_equal(ride_cpu_matmul(&src, m, cols[c], &got, 0), 0);
            assert_int_equal(ride_cv_ref_matmul(&src, m, cols[c], &want), 0);
            assert_int_equal(got.width, cols[c]);
            assert_int_equal(got.height, shapes[i].height);
            assert_close_f32(&got, &want);
            free(m);
            ride_image_free(&got);
            ride_image_free(&want);
            free_frame(&src);
        }
}

static void random_matrix_is_deterministic(void **state)
{
    (void)state;
    float a[6 * 4], b[6 * 4], prefix[3 * 4], other[6 * 4];
    ride_matmul_random_matrix(a, 6, 4, 7);
    ride_matmul_random_matrix(b, 6, 4, 7);
    ride_matmul_random_matrix(prefix, 3, 4, 7);
    ride_matmul_random_matrix(other, 6, 4, 8);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(a, prefix, sizeof prefix);
    assert_memory_not_equal(a, other, sizeof a);
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
        assert_true(a[i] >= 0.0f && a[i] < 1.0f);
}

static void fft_matches_dft(void **state)
{
    (void)state;
    ride_cpu_fft *fft = ride_cpu_fft_new(2);
    assert_non_null(fft);
    for (size_t i = 0; i < SHAPE_COUNT; i++)
        for (int log_scale = 0; log_scale <= 1; log_scale++) {
            ride_image src, got = {0}, want = {0};
            make_frame(&src, shapes[i], 7, (uint32_t)i + 11);
            assert_int_equal(ride_cpu_fft_spectrum(fft, &src, &got, log_scale), 0);
            assert_int_equal(ride_cv_ref_spectrum(&src, log_scale, &want), 0);
            int diff = ride_test_max_abs_diff_u8(&got, &want);
            if (diff < 0 || diff > 1)
                fail_msg("%ux%u log=%d: max difference %d", shapes[i].width, shapes[i].height,
                         log_scale, diff);
            ride_image_free(&got);
            ride_image_free(&want);
            free_frame(&src);
        }
    ride_cpu_fft_free(fft);
}

/* For a frame of non-negative samples no |F(u, v)| exceeds F(0, 0), the sum: the
 * centre of the shifted spectrum is the maximum, 255. */
static void fft_dc_is_centred(void **state)
{
    (void)state;
    ride_cpu_fft *fft = ride_cpu_fft_new(1);
    assert_non_null(fft);
    static const shape odd_even[] = {{31, 17}, {32, 18}, {5, 8}};
    for (size_t i = 0; i < sizeof odd_even / sizeof odd_even[0]; i++) {
        ride_image src, got = {0};
        make_frame(&src, odd_even[i], 0, 99);
        assert_int_equal(ride_cpu_fft_spectrum(fft, &src, &got, 0), 0);
        assert_int_equal(ride_image_row(&got, got.height / 2)[got.width / 2], 255);
        ride_image_free(&got);
        free_frame(&src);
    }
    ride_cpu_fft_free(fft);
}

/* One context over changing sizes gives what fresh contexts give. */
static void fft_replans_when_the_size_changes(void **state)
{
    (void)state;
    ride_cpu_fft *kept = ride_cpu_fft_new(2);
    assert_non_null(kept);
    static const shape sizes[] = {{64, 48}, {33, 21}, {64, 48}};
    for (size_t i = 0; i < 3; i++) {
        ride_image src, a = {0}, b = {0};
        make_frame(&src, sizes[i], 1, (uint32_t)i);
        ride_cpu_fft *fresh = ride_cpu_fft_new(1);
        assert_non_null(fresh);
        assert_int_equal(ride_cpu_fft_spectrum(kept, &src, &a, 1), 0);
        assert_int_equal(ride_cpu_fft_spectrum(fresh, &src, &b, 1), 0);
        assert_int_equal(ride_test_max_abs_diff_u8(&a, &b), 0);
        ride_cpu_fft_free(fresh);
        ride_image_free(&a);
        ride_image_free(&b);
        free_frame(&src);
    }
    ride_cpu_fft_free(kept);
}

static void kernels_reject_invalid_arguments(void **state)
{
    (void)state;
    ride_image src, bgr = {0}, dst = {0};
    make_frame(&src, (shape){8, 8}, 0, 1);
    assert_int_equal(ride_image_alloc(&bgr, RIDE_PIX_BGR8, 8, 8), 0);
    float m[8];
    ride_matmul_random_matrix(m, 8, 1, 1);
    assert_int_equal(ride_cpu_matmul_transpose(&bgr, &dst, 1), -1);
    assert_int_equal(ride_cpu_matmul_transpose(NULL, &dst, 1), -1);
    assert_int_equal(ride_cpu_matmul_transpose(&src, &src, 1), -1);
    assert_int_equal(ride_cpu_matmul_transpose(&src, &dst, -1), -1);
    assert_int_equal(ride_cpu_matmul(&src, NULL, 1, &dst, 1), -1);
    assert_int_equal(ride_cpu_matmul(&src, m, 0, &dst, 1), -1);
    assert_int_equal(ride_cpu_matmul(&bgr, m, 1, &dst, 1), -1);
    assert_null(ride_cpu_fft_new(-1));
    ride_cpu_fft *fft = ride_cpu_fft_new(1);
    assert_non_null(fft);
    assert_int_equal(ride_cpu_fft_spectrum(fft, &bgr, &dst, 1), -1);
    assert_int_equal(ride_cpu_fft_spectrum(NULL, &src, &dst, 1), -1);
    assert_int_equal(ride_cpu_fft_spectrum(fft, &src, &src, 1), -1);
    ride_cpu_fft_free(fft);
    ride_cpu_fft_free(NULL);
    assert_null(dst.data);
    ride_image_free(&bgr);
    free_frame(&src);
}

/* ---- the tasks ---- */

/* Validated params for `task` from key/value pairs; NULL (with perr) when rejected. */
static ride_task_params *task_params(const ride_task_descriptor *d, const ride_kv *kv,
                                     size_t count, ride_parse_error *perr)
{
    ride_task_params *p = NULL;
    if (ride_task_params_parse(d, kv, count, "app.yaml", "params", (ride_pos){1, 1}, &p, perr) !=
        0)
        return NULL;
    return p;
}

/* Runs `task` with params kv on in (twice: the output buffer is reused) into out;
 * the return value of the last run, err holding the reason. */
static int run_task(const char *task, const ride_kv *kv, size_t count, const ride_image *in,
                    ride_frame *out, char *err, size_t errlen)
{
    ride_task_registry *r = ride_task_registry_new();
    assert_non_null(r);
    const ride_task_descriptor *d = ride_task_find(r, task);
    assert_non_null(d);
    ride_parse_error perr;
    ride_task_params *p = task_params(d, kv, count, &perr);
    if (!p)
        fail_msg("%s", perr.message);
    ride_task_env env = {.struct_size = sizeof env, .threads = 2, .device = RIDE_TASK_CPU,
                         .gpu_index = -1};
    ride_task_runner *run = ride_task_runner_new(d, p, &env, err, errlen);
    assert_non_null(run);
    ride_frame frame = {.image = *in, .stream_id = 3, .seq = 9};
    memset(out, 0, sizeof *out);
    int rc = 0;
    for (int i = 0; i < 2; i++)
        rc = ride_task_run(run, &frame, out, err, errlen);
    ride_task_runner_free(run);
    ride_task_registry_free(r);
    return rc;
}

static void matmul_task_runs_the_kernels(void **state)
{
    (void)state;
    ride_image src, want = {0};
    make_frame(&src, (shape){45, 31}, 2, 5);
    char err[256];
    ride_frame out;
    assert_int_equal(run_task("matmul", NULL, 0, &src, &out, err, sizeof err), 0);
    assert_int_equal(ride_cpu_matmul_transpose(&src, &want, 1), 0);
    assert_close_f32(&out.image, &want);
    assert_int_equal(out.stream_id, 3);
    ride_frame_free(&out);
    ride_image_free(&want);

    ride_kv kv[] = {{.key = "with", .value = "matrix"},
                    {.key = "size", .value = "7"},
                    {.key = "seed", .value = "1234"}};
    assert_int_equal(run_task("matmul", kv, 3, &src, &out, err, sizeof err), 0);
    float m[45 * 7];
    ride_matmul_random_matrix(m, 45, 7, 1234);
    assert_int_equal(ride_cpu_matmul(&src, m, 7, &want, 1), 0);
    assert_int_equal(out.image.width, 7);
    assert_close_f32(&out.image, &want);
    ride_frame_free(&out);
    ride_image_free(&want);
    free_frame(&src);
}

static void fft_task_runs_the_kernel(void **state)
{
    (void)state;
    ride_image src, want = {0};
    make_frame(&src, (shape){50, 37}, 4, 8);
    ride_cpu_fft *fft = ride_cpu_fft_new(1);
    assert_non_null(fft);
    char err[256];
    ride_frame out;
    for (int log_scale = 0; log_scale <= 1; log_scale++) {
        ride_kv kv = {.key = "log", .value = log_scale ? "true" : "false"};
        assert_int_equal(run_task("fft", &kv, 1, &src, &out, err, sizeof err), 0);
        assert_int_equal(ride_cpu_fft_spectrum(fft, &src, &want, log_scale), 0);
        assert_int_equal(ride_test_max_abs_diff_u8(&out.image, &want), 0);
        ride_frame_free(&out);
    }
    /* log defaults to true. */
    assert_int_equal(run_task("fft", NULL, 0, &src, &out, err, sizeof err), 0);
    assert_int_equal(ride_test_max_abs_diff_u8(&out.image, &want), 0);
    ride_frame_free(&out);
    ride_cpu_fft_free(fft);
    ride_image_free(&want);
    free_frame(&src);
}

static void tasks_reject_bad_params(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    assert_non_null(r);
    const ride_task_descriptor *mm = ride_task_find(r, "matmul"), *fft = ride_task_find(r, "fft");
    static const ride_kv bad_matmul[] = {
        {.key = "with", .value = "inverse"}, {.key = "size", .value = "0"},
        {.key = "size", .value = "4097"},    {.key = "size", .value = "2.5"},
        {.key = "seed", .value = "-1"},      {.key = "ksize", .value = "3"},
    };
    ride_parse_error perr;
    for (size_t i = 0; i < sizeof bad_matmul / sizeof bad_matmul[0]; i++) {
        assert_null(task_params(mm, &bad_matmul[i], 1, &perr));
        assert_non_null(strstr(perr.message, bad_matmul[i].key));
    }
    ride_kv bad_log = {.key = "log", .value = "maybe"};
    assert_null(task_params(fft, &bad_log, 1, &perr));
    assert_non_null(strstr(perr.message, "params.log"));
    ride_task_registry_free(r);
}

static void tasks_reject_other_formats(void **state)
{
    (void)state;
    static const struct {
        const char *task;
        const char *message;
    } cases[] = {
        {"matmul", "matmul takes gray8 images, got bgr8"},
        {"fft", "fft takes gray8 images, got bgr8"},
    };
    ride_image bgr = {0};
    assert_int_equal(ride_image_alloc(&bgr, RIDE_PIX_BGR8, 16, 9), 0);
    for (size_t i = 0; i < 2; i++) {
        char err[256];
        ride_frame out;
        assert_int_equal(run_task(cases[i].task, NULL, 0, &bgr, &out, err, sizeof err), -1);
        assert_string_equal(err, cases[i].message);
        ride_frame_free(&out);
    }
    ride_image_free(&bgr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matmul_transpose_matches_gemm),
        cmocka_unit_test(matmul_matrix_matches_gemm),
        cmocka_unit_test(random_matrix_is_deterministic),
        cmocka_unit_test(fft_matches_dft),
        cmocka_unit_test(fft_dc_is_centred),
        cmocka_unit_test(fft_replans_when_the_size_changes),
        cmocka_unit_test(kernels_reject_invalid_arguments),
        cmocka_unit_test(matmul_task_runs_the_kernels),
        cmocka_unit_test(fft_task_runs_the_kernel),
        cmocka_unit_test(tasks_reject_bad_params),
        cmocka_unit_test(tasks_reject_other_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
