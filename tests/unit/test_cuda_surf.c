/* The CUDA SURF (ride_cuda_surf_run, the surf task's process and process_device on
 * a GPU) against its CPU twin ride_cpu_surf. Both compute responses, positions and
 * ranking with the same float operations (kernels/surf_core.h, no fused
 * multiply-add on the device), so the keypoints must agree: the same count, and
 * per row position and size within 1e-3 px, response within 1e-5 of it relative,
 * the same Laplacian sign. Orientation and descriptor go through sinf, cosf,
 * atan2f and expf, whose device versions may differ in the last bit: 99 % of the
 * descriptors lie within 0.01 of the CPU's and all within 0.5 (a sample on the
 * edge of an orientation window may fall on the other side).
 *
 * Without a usable CUDA device (or in a build without CUDA) every case prints one
 * "SKIPPED: <case> (<why>)" line and the program exits 77, which CTest reports as
 * skipped. */
#include "test_surf_util.h"

#include "kernels/gpu.h"
#include "tasks/host.h"
#include "wire/frame.h"

#ifdef RIDE_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#include <stdio.h>

static void cuda_surf_matches_cpu(void **state)
{
    (void)state;
    static const uint32_t sizes[][3] = {
        {400, 300, 260}, {1280, 720, 1500}, {97, 61, 20}, {8, 8, 1}, {1, 300, 4},
    };
    ride_cuda_surf *s = ride_cuda_surf_new();
    assert_non_null(s);
    ride_image src = {0}, gpu = {0}, cpu = {0};
    char label[96];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        surf_scene(&src, sizes[i][0], sizes[i][1], sizes[i][2], (uint32_t)i + 1);
        ride_surf_params p = surf_defaults;
        for (int variant = 0; variant < 4; variant++) {
            p.upright = variant == 1;
            p.max_keypoints = variant == 2 ? 25 : 2000;
            p.octaves = variant == 3 ? 6 : 4;
            p.intervals = variant == 3 ? 6 : 3;
            assert_int_equal(ride_cpu_surf(&src, &p, &cpu, 2), 0);
            assert_int_equal(ride_cuda_surf_run(s, &src, &p, &gpu, NULL, 0), 0);
            snprintf(label, sizeof label, "%ux%u variant %d", sizes[i][0], sizes[i][1], variant);
            surf_expect_close(&gpu, &cpu, label);
        }
        ride_image_free(&src);
    }
    ride_image_free(&gpu);
    ride_image_free(&cpu);
    ride_cuda_surf_free(s);
}

/* bgr8, rgb8 and bgra8 frames are converted on the device exactly as ride_cpu_grayscale
 * does; padded rows are honoured. */
static void cuda_surf_converts_colour(void **state)
{
    (void)state;
    static const ride_pixel_format formats[] = {RIDE_PIX_BGR8, RIDE_PIX_RGB8, RIDE_PIX_BGRA8};
    ride_cuda_surf *s = ride_cuda_surf_new();
    assert_non_null(s);
    ride_image colour = {0}, gray = {0}, gpu = {0}, cpu = {0};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        ride_test_random_image(&colour, formats[i], 333, 211, 7, (uint32_t)i);
        assert_int_equal(ride_cpu_grayscale(&colour, &gray, 1), 0);
        assert_int_equal(ride_cpu_surf(&gray, &surf_defaults, &cpu, 2), 0);
        assert_int_equal(ride_cuda_surf_run(s, &colour, &surf_defaults, &gpu, NULL, 0), 0);
        surf_expect_close(&gpu, &cpu, ride_pixel_format_name(formats[i]));
        ride_image_free(&colour);
    }
    ride_image_free(&gray);
    ride_image_free(&gpu);
    ride_image_free(&cpu);
    ride_cuda_surf_free(s);
}

/* A context reused for a large, a small and the large frame again gives the first
 * result again (its buffers only grow). */
static void cuda_surf_reuses_buffers(void **state)
{
    (void)state;
    ride_cuda_surf *s = ride_cuda_surf_new();
    assert_non_null(s);
    ride_image big = {0}, small = {0}, first = {0}, again = {0}, other = {0};
    surf_scene(&big, 800, 600, 900, 21);
    surf_scene(&small, 120, 90, 30, 22);
    assert_int_equal(ride_cuda_surf_run(s, &big, &surf_defaults, &first, NULL, 0), 0);
    assert_int_equal(ride_cuda_surf_run(s, &small, &surf_defaults, &other, NULL, 0), 0);
    assert_int_equal(ride_cuda_surf_run(s, &big, &surf_defaults, &again, NULL, 0), 0);
    surf_expect_identical(&first, &again);
    ride_image_free(&big);
    ride_image_free(&small);
    ride_image_free(&first);
    ride_image_free(&again);
    ride_image_free(&other);
    ride_cuda_surf_free(s);
}

static void cuda_surf_rejects_bad_arguments(void **state)
{
    (void)state;
    ride_cuda_surf *s = ride_cuda_surf_new();
    assert_non_null(s);
    ride_image src = {0}, out = {0}, g16 = {0};
    ride_test_random_image(&src, RIDE_PIX_GRAY8, 64, 48, 0, 1);
    assert_int_equal(ride_image_alloc(&g16, RIDE_PIX_GRAY16, 64, 48), 0);
    ride_surf_params bad = surf_defaults;
    bad.octaves = 7;
    char err[256];
    assert_int_equal(ride_cuda_surf_run(NULL, &src, &surf_defaults, &out, err, sizeof err), -1);
    assert_string_equal(err, "surf: no CUDA context");
    assert_int_equal(ride_cuda_surf_run(s, NULL, &surf_defaults, &out, err, sizeof err), -1);
    assert_int_equal(ride_cuda_surf_run(s, &src, NULL, &out, err, sizeof err), -1);
    assert_int_equal(ride_cuda_surf_run(s, &src, &bad, &out, err, sizeof err), -1);
    assert_int_equal(ride_cuda_surf_run(s, &src, &surf_defaults, &src, err, sizeof err), -1);
    assert_int_equal(ride_cuda_surf_run(s, &g16, &surf_defaults, &out, NULL, 0), -1);
    assert_int_equal(ride_cuda_surf_run(s, &g16, &surf_defaults, &out, err, sizeof err), -1);
    assert_string_equal(err, "surf: invalid arguments");
    ride_task_device_image dev = {RIDE_PIX_GRAY16, 64, 48, 128, src.data};
    ride_task_device_image table = {0};
    ride_task_device_output dout = {.struct_size = sizeof dout, .image = &table};
    assert_int_equal(ride_cuda_surf_run_device(s, &dev, NULL, &surf_defaults, &dout, err,
                                               sizeof err), -1);
    assert_string_equal(err, "surf: takes gray8, bgr8, rgb8 or bgra8 device images with a pitch "
                             "of at least one row");
    assert_int_equal(ride_cuda_surf_run_device(s, &dev, NULL, &bad, &dout, err, sizeof err), -1);
    assert_string_equal(err, "surf: parameters out of range");
    ride_image_free(&src);
    ride_image_free(&g16);
    ride_image_free(&out);
    ride_cuda_surf_free(s);
}

/* The surf task on the GPU: process (host frames) gives ride_cuda_surf_run's table. */
static void cuda_surf_task_process(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    assert_non_null(r);
    const ride_task_descriptor *d = ride_task_find(r, "surf");
    char err[256];
    ride_task_params *params = NULL;
    ride_parse_error perr;
    assert_int_equal(ride_task_params_parse(d, NULL, 0, "app.yaml", "spec.stages[0].params",
                                            (ride_pos){1, 1}, &params, &perr),
                     0);
    ride_task_env env = {.struct_size = sizeof env, .threads = 2, .device = RIDE_TASK_GPU,
                         .gpu_index = 0};
    ride_task_runner *run = ride_task_runner_new(d, params, &env, err, sizeof err);
    assert_non_null(run);
    ride_frame in = {0}, out = {0};
    surf_scene(&in.image, 320, 240, 150, 4);
    ride_image want = {0};
    ride_cuda_surf *s = ride_cuda_surf_new();
    assert_non_null(s);
    assert_int_equal(ride_cuda_surf_run(s, &in.image, &surf_defaults, &want, NULL, 0), 0);
    assert_int_equal(ride_task_run(run, &in, &out, err, sizeof err), 0);
    surf_expect_identical(&out.image, &want);
    ride_cuda_surf_free(s);
    ride_image_free(&want);
    ride_frame_free(&in);
    ride_frame_free(&out);
    ride_task_runner_free(run);
    ride_task_registry_free(r);
}

#ifdef RIDE_HAVE_CUDA
/* A device output for process_device: one cudaMalloc'd table, grown as needed. */
typedef struct test_device_table {
    void *data;
    size_t capacity;
} test_device_table;

static int test_device_ensure(void *host_ctx, ride_task_device_image *image, uint32_t format,
                              uint32_t width, uint32_t height)
{
    test_device_table *t = host_ctx;
    size_t row = ride_image_row_bytes((ride_pixel_format)format, width), bytes = row * height;
    if (bytes > t->capacity) {
        cudaFree(t->data);
        t->data = NULL;
        t->capacity = 0;
        if (cudaMalloc(&t->data, bytes) != cudaSuccess)
            return -1;
        t->capacity = bytes;
    }
    *image = (ride_task_device_image){format, width, height, row, t->data};
    return 0;
}

/* process_device on a stream of the test's own, from a frame in device memory,
 * gives the table of process. */
static void cuda_surf_task_process_device(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    assert_non_null(r);
    const ride_task_descriptor *d = ride_task_find(r, "surf");
    ride_task_params *params = NULL;
    ride_parse_error perr;
    assert_int_equal(ride_task_params_parse(d, NULL, 0, "app.yaml", "spec.stages[0].params",
                                            (ride_pos){1, 1}, &params, &perr),
                     0);
    cudaStream_t stream = NULL;
    assert_int_equal(cudaStreamCreate(&stream), cudaSuccess);
    ride_task_env env = {.struct_size = sizeof env, .threads = 2, .device = RIDE_TASK_GPU,
                         .gpu_index = 0, .cuda_stream = stream, .host = ride_task_host_api()};
    void *task = NULL;
    char err[256];
    assert_int_equal(d->init(params, &env, &task, err, sizeof err), 0);

    ride_image frame = {0}, want = {0}, got = {0};
    surf_scene(&frame, 640, 480, 400, 8);
    assert_int_equal(ride_cpu_surf(&frame, &surf_defaults, &want, 2), 0);
    void *dev_in = NULL;
    assert_int_equal(cudaMalloc(&dev_in, 640 * 480), cudaSuccess);
    assert_int_equal(cudaMemcpy2D(dev_in, 640, frame.data, frame.stride, 640, 480,
                                  cudaMemcpyHostToDevice),
                     cudaSuccess);
    ride_task_device_image dimg = {RIDE_PIX_GRAY8, 640, 480, 640, dev_in};
    ride_task_device_input in = {.struct_size = sizeof in, .image = &dimg, .cuda_stream = stream};
    ride_task_device_image table = {0};
    test_device_table backing = {0};
    ride_task_device_output out = {.struct_size = sizeof out, .image = &table,
                                   .ensure = test_device_ensure, .host_ctx = &backing};
    for (int round = 0; round < 2; round++) {
        assert_int_equal(d->process_device(task, &in, &out, err, sizeof err), 0);
        assert_int_equal(cudaStreamSynchronize(stream), cudaSuccess);
        assert_int_equal(ride_image_ensure(&got, RIDE_PIX_GRAY32F, table.width, table.height), 0);
        assert_int_equal(cudaMemcpy2D(got.data, got.stride, table.data, table.pitch,
                                      RIDE_SURF_COLUMNS * sizeof(float), table.height,
                                      cudaMemcpyDeviceToHost),
                         cudaSuccess);
        surf_expect_close(&got, &want, "process_device");
    }
    d->destroy(task);
    ride_task_params_free(params);
    cudaFree(dev_in);
    cudaFree(backing.data);
    cudaStreamDestroy(stream);
    ride_image_free(&frame);
    ride_image_free(&want);
    ride_image_free(&got);
    ride_task_registry_free(r);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cuda_surf_matches_cpu),
        cmocka_unit_test(cuda_surf_converts_colour),
        cmocka_unit_test(cuda_surf_reuses_buffers),
        cmocka_unit_test(cuda_surf_rejects_bad_arguments),
        cmocka_unit_test(cuda_surf_task_process),
#ifdef RIDE_HAVE_CUDA
        cmocka_unit_test(cuda_surf_task_process_device),
#endif
    };
    if (ride_test_gpu_missing(tests, sizeof tests / sizeof tests[0]))
        return RIDE_TEST_SKIP;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
