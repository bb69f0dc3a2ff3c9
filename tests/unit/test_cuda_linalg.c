/* The cuBLAS matmul and cuFFT spectrum against their CPU twins (BLAS, FFTW), and the
 * matmul and fft tasks on the GPU path. Tolerances as for the CPU kernels against
 * OpenCV: matmul within 1e-5 of the largest |value|, spectra within 1 per pixel.
 *
 * Without a usable CUDA device (or in a build without CUDA) every case prints one
 * "SKIPPED: <case> (<why>)" line and the program exits 77, which CTest reports as
 * skipped. */
#include "ride_test.h"
#include "test_linalg_util.h"

#include "kernels/gpu.h"
#include "kernels/kernels.h"
#include "tasks/host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const shape shapes[] = {{1, 1}, {1, 7}, {9, 1}, {17, 13}, {101, 67}, {129, 257},
                               {640, 480}, {1021, 769}};
#define SHAPE_COUNT (sizeof shapes / sizeof shapes[0])

static void cuda_matmul_transpose_matches_cpu(void **state)
{
    (void)state;
    ride_cuda_matmul *mm = ride_cuda_matmul_new(NULL);
    assert_non_null(mm);
    for (size_t i = 0; i < SHAPE_COUNT; i++) {
        ride_image src, got = {0}, want = {0};
        make_frame(&src, shapes[i], 3, (uint32_t)i + 1);
        assert_int_equal(ride_cuda_matmul_run(mm, &src, &got), 0);
        assert_int_equal(ride_cpu_matmul_transpose(&src, &want, 0), 0);
        assert_close_f32(&got, &want);
        ride_image_free(&got);
        ride_image_free(&want);
        free_frame(&src);
    }
    ride_cuda_matmul_free(mm);
}

static void cuda_matmul_matrix_matches_cpu(void **state)
{
    (void)state;
    static const uint32_t cols[] = {1, 64, 333};
    for (size_t i = 0; i < SHAPE_COUNT; i++)
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
            ride_cuda_matmul *mm = ride_cuda_matmul_new(NULL);
            assert_non_null(mm);
            ride_image src, got = {0}, want = {0};
            make_frame(&src, shapes[i], 1, (uint32_t)(i * 3 + c));
            float *m = malloc((size_t)shapes[i].width * cols[c] * sizeof *m);
            assert_non_null(m);
            ride_matmul_random_matrix(m, shapes[i].width, cols[c], 5);
            assert_int_equal(ride_cuda_matmul_set_matrix(mm, m, shapes[i].width, cols[c]), 0);
            assert_int_equal(ride_cuda_matmul_run(mm, &src, &got), 0);
            assert_int_equal(ride_cpu_matmul(&src, m, cols[c], &want, 0), 0);
            assert_close_f32(&got, &want);
            free(m);
            ride_image_free(&got);
            ride_image_free(&want);
            free_frame(&src);
            ride_cuda_matmul_free(mm);
        }
}

static void cuda_fft_matches_cpu(void **state)
{
    (void)state;
    ride_cuda_fft *gpu = ride_cuda_fft_new(NULL);
    ride_cpu_fft *cpu = ride_cpu_fft_new(0);
    assert_non_null(gpu);
    assert_non_null(cpu);
    /* One context over every size: plans are replaced as the size changes. */
    for (size_t i = 0; i < SHAPE_COUNT; i++)
        for (int log_scale = 0; log_scale <= 1; log_scale++) {
            ride_image src, got = {0}, want = {0};
            make_frame(&src, shapes[i], 5, (uint32_t)i + 21);
            assert_int_equal(ride_cuda_fft_spectrum(gpu, &src, &got, log_scale), 0);
            assert_int_equal(ride_cpu_fft_spectrum(cpu, &src, &want, log_scale), 0);
            int diff = ride_test_max_abs_diff_u8(&got, &want);
            if (diff < 0 || diff > 1)
                fail_msg("%ux%u log=%d: max difference %d", shapes[i].width, shapes[i].height,
                         log_scale, diff);
            ride_image_free(&got);
            ride_image_free(&want);
            free_frame(&src);
        }
    ride_cuda_fft_free(gpu);
    ride_cpu_fft_free(cpu);
}

static void cuda_linalg_rejects_invalid_arguments(void **state)
{
    (void)state;
    ride_image src, bgr = {0}, dst = {0};
    make_frame(&src, (shape){8, 8}, 0, 1);
    assert_int_equal(ride_image_alloc(&bgr, RIDE_PIX_BGR8, 8, 8), 0);
    ride_cuda_matmul *mm = ride_cuda_matmul_new(NULL);
    ride_cuda_fft *fft = ride_cuda_fft_new(NULL);
    assert_non_null(mm);
    assert_non_null(fft);
    float m[9];
    ride_matmul_random_matrix(m, 9, 1, 1);
    assert_int_equal(ride_cuda_matmul_run(mm, &bgr, &dst), -1);
    assert_int_equal(ride_cuda_matmul_run(NULL, &src, &dst), -1);
    assert_int_equal(ride_cuda_matmul_set_matrix(mm, NULL, 9, 1), -1);
    assert_int_equal(ride_cuda_matmul_set_matrix(mm, m, 9, 0), -1);
    /* A 9-row matrix does not fit 8-pixel-wide frames. */
    assert_int_equal(ride_cuda_matmul_set_matrix(mm, m, 9, 1), 0);
    assert_int_equal(ride_cuda_matmul_run(mm, &src, &dst), -1);
    assert_int_equal(ride_cuda_fft_spectrum(fft, &bgr, &dst, 1), -1);
    assert_int_equal(ride_cuda_fft_spectrum(NULL, &src, &dst, 1), -1);
    assert_int_equal(ride_cuda_fft_spectrum(fft, &src, &src, 1), -1);
    ride_cuda_matmul_free(mm);
    ride_cuda_fft_free(fft);
    ride_image_free(&bgr);
    ride_image_free(&dst);
    free_frame(&src);
}

/* Runs `task` (default params) on the GPU path over src into out. */
static void run_gpu_task(const char *task, const ride_image *src, ride_frame *out)
{
    ride_task_registry *r = ride_task_registry_new();
    assert_non_null(r);
    const ride_task_descriptor *d = ride_task_find(r, task);
    assert_non_null(d);
    ride_task_params *p = NULL;
    ride_parse_error perr;
    assert_int_equal(ride_task_params_parse(d, NULL, 0, "t", "params", (ride_pos){1, 1}, &p, &perr),
                     0);
    ride_task_env env = {.struct_size = sizeof env, .device = RIDE_TASK_GPU, .gpu_index = 0};
    char err[256];
    ride_task_runner *run = ride_task_runner_new(d, p, &env, err, sizeof err);
    if (!run)
        fail_msg("%s", err);
    ride_frame in = {.image = *src};
    memset(out, 0, sizeof *out);
    if (ride_task_run(run, &in, out, err, sizeof err) != 0)
        fail_msg("%s", err);
    ride_task_runner_free(run);
    ride_task_registry_free(r);
}

static void cuda_tasks_match_cpu(void **state)
{
    (void)state;
    ride_image src, want = {0};
    make_frame(&src, (shape){77, 55}, 2, 4);
    ride_frame out;
    run_gpu_task("matmul", &src, &out);
    assert_int_equal(ride_cpu_matmul_transpose(&src, &want, 1), 0);
    assert_close_f32(&out.image, &want);
    ride_frame_free(&out);
    ride_image_free(&want);
    run_gpu_task("fft", &src, &out);
    ride_cpu_fft *cpu = ride_cpu_fft_new(1);
    assert_non_null(cpu);
    assert_int_equal(ride_cpu_fft_spectrum(cpu, &src, &want, 1), 0);
    int diff = ride_test_max_abs_diff_u8(&out.image, &want);
    assert_true(diff >= 0 && diff <= 1);
    ride_cpu_fft_free(cpu);
    ride_frame_free(&out);
    ride_image_free(&want);
    free_frame(&src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cuda_matmul_transpose_matches_cpu),
        cmocka_unit_test(cuda_matmul_matrix_matches_cpu),
        cmocka_unit_test(cuda_fft_matches_cpu),
        cmocka_unit_test(cuda_linalg_rejects_invalid_arguments),
        cmocka_unit_test(cuda_tasks_match_cpu),
    };
    char why[256];
    if (ride_gpu_device_count(why, sizeof why) == 0) {
        for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
            printf("SKIPPED: %s (%s)\n", tests[i].name, why);
        return RIDE_TEST_SKIP;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
