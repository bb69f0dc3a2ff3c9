/* The GPU task runner with frames in flight (ride_task_runner_new_gpu) against the
 * CPU runner: every built-in GPU task, on every device, several frames in flight
 * per device, frames of changing sizes; outputs must come back in submission
 * order, with their input's metadata, and match the CPU path: identical, but
 * within 1 per pixel for fft and 1e-5 of the largest |value| for matmul (as in
 * test_cuda_linalg), and surf's table as test_cuda_surf compares it.
 *
 * Without a usable CUDA device (or in a build without CUDA) every case prints one
 * "SKIPPED: <case> (<why>)" line and the program exits 77, which CTest reports as
 * skipped. */
#include "ride_test.h"
#include "test_surf_util.h"

#include "kernels/gpu.h"
#include "kernels/kernels.h"
#include "tasks/host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAMES 12
#define MAX_DEVICES 16

/* The input each task is given: sobel, matmul and fft read gray frames. */
static ride_pixel_format input_format(const char *task)
{
    if (!strcmp(task, "sobel") || !strcmp(task, "matmul") || !strcmp(task, "fft"))
        return RIDE_PIX_GRAY8;
    return RIDE_PIX_BGR8;
}

static ride_task_params *default_params(const ride_task_descriptor *d)
{
    ride_task_params *p = NULL;
    ride_parse_error perr;
    ride_pos pos = {0, 0};
    if (ride_task_params_parse(d, NULL, 0, "test", "params", pos, &p, &perr) != 0)
        fail_msg("%s: default params rejected", d->name);
    return p;
}

/* Frame i: one of three sizes, so that slots and outputs regrow and get reused. */
static void make_frame(ride_frame *f, ride_pixel_format format, int i)
{
    static const uint32_t sizes[3][2] = {{640, 480}, {257, 129}, {1021, 769}};
    ride_test_random_image(&f->image, format, sizes[i % 3][0], sizes[i % 3][1], 5,
                           (uint32_t)i + 11);
    f->stream_id = 3;
    f->seq = (uint64_t)i;
    f->capture_ns = 1000 + (uint64_t)i;
    char json[32], err[128];
    int n = snprintf(json, sizeof json, "{\"frame\":%d}", i);
    assert_int_equal(ride_frame_set_metadata(f, json, (size_t)n, err, sizeof err), 0);
}

static void expect_same(const char *task, const ride_image *got, const ride_image *want, int i)
{
    if (got->format != want->format || got->width != want->width ||
        got->height != want->height)
        fail_msg("%s frame %d: shape differs from the CPU path", task, i);
    if (strcmp(task, "surf") == 0) {
        char label[64];
        snprintf(label, sizeof label, "surf frame %d", i);
        surf_expect_close(got, want, label);
        return;
    }
    if (want->format == RIDE_PIX_GRAY32F) {
        double rel = ride_test_max_rel_diff_f32(got, want);
        if (rel < 0 || rel > 1e-5)
            fail_msg("%s frame %d: relative difference %g", task, i, rel);
        return;
    }
    int limit = strcmp(task, "fft") == 0 ? 1 : 0;
    int diff = ride_test_max_abs_diff_u8(got, want);
    if (diff < 0 || diff > limit)
        fail_msg("%s frame %d: max difference %d", task, i, diff);
}

/* Submits until the runner is full, collecting the oldest whenever it is. */
static void run_task_in_flight(const ride_task_descriptor *d, const int *gpus, size_t gpu_count)
{
    char err[256];
    ride_task_runner *gpu =
        ride_task_runner_new_gpu(d, default_params(d), gpus, gpu_count, 3, err, sizeof err);
    if (!gpu)
        fail_msg("%s: %s", d->name, err);
    ride_task_runner *cpu = ride_task_runner_new(d, default_params(d), NULL, err, sizeof err);
    assert_non_null(cpu);
    int depth = ride_task_runner_depth(gpu);
    if (d->process_device)
        assert_int_equal(depth, 3 * (int)gpu_count);
    ride_frame in[FRAMES], out = {0}, want = {0};
    memset(in, 0, sizeof in);
    int collected = 0;
    for (int i = 0; i < FRAMES || collected < FRAMES; ) {
        if (i < FRAMES && ride_task_runner_in_flight(gpu) < depth) {
            make_frame(&in[i], input_format(d->name), i);
            if (ride_task_submit(gpu, &in[i], err, sizeof err) != 0)
                fail_msg("%s submit %d: %s", d->name, i, err);
            i++;
            continue;
        }
        if (ride_task_collect(gpu, 1, &out, err, sizeof err) != 1)
            fail_msg("%s collect %d: %s", d->name, collected, err);
        assert_true(out.seq == (uint64_t)collected);
        assert_true(out.capture_ns == 1000 + (uint64_t)collected);
        assert_non_null(out.metadata);
        assert_string_equal(out.metadata, in[collected].metadata);
        if (ride_task_run(cpu, &in[collected], &want, err, sizeof err) != 0)
            fail_msg("%s on the CPU: %s", d->name, err);
        expect_same(d->name, &out.image, &want.image, collected);
        collected++;
    }
    assert_int_equal(ride_task_collect(gpu, 0, &out, err, sizeof err), 0);
    for (int i = 0; i < FRAMES; i++)
        ride_frame_free(&in[i]);
    ride_frame_free(&out);
    ride_frame_free(&want);
    ride_task_runner_free(gpu);
    ride_task_runner_free(cpu);
}

static void gpu_tasks_in_flight_match_cpu(void **state)
{
    (void)state;
    int gpus[MAX_DEVICES];
    int n = ride_gpu_device_count(NULL, 0);
    size_t gpu_count = 0;
    for (int g = 0; g < n && g < MAX_DEVICES; g++)
        gpus[gpu_count++] = g;
    size_t count = 0;
    const ride_task_descriptor *const *tasks = ride_task_builtins(&count);
    for (size_t t = 0; t < count; t++) {
        if (!(tasks[t]->devices & RIDE_TASK_GPU) || !strcmp(tasks[t]->name, "passthrough"))
            continue;
        printf("%s: %s on %zu device(s)\n", tasks[t]->name,
               tasks[t]->process_device ? "frames in flight" : "one frame at a time",
               gpu_count);
        run_task_in_flight(tasks[t], gpus, gpu_count);
    }
}

/* Freeing a runner with frames still in flight waits for them and leaks nothing. */
static void runner_freed_with_frames_in_flight(void **state)
{
    (void)state;
    const int gpus[] = {0};
    char err[256];
    size_t count = 0;
    const ride_task_descriptor *const *tasks = ride_task_builtins(&count);
    for (size_t t = 0; t < count; t++) {
        const ride_task_descriptor *d = tasks[t];
        if (!d->process_device)
            continue;
        ride_task_runner *gpu = ride_task_runner_new_gpu(d, default_params(d), gpus, 1, 2, err,
                                                         sizeof err);
        if (!gpu)
            fail_msg("%s: %s", d->name, err);
        ride_frame in = {0};
        make_frame(&in, input_format(d->name), 2);
        for (int i = 0; i < 2; i++)
            if (ride_task_submit(gpu, &in, err, sizeof err) != 0)
                fail_msg("%s submit: %s", d->name, err);
        assert_int_equal(ride_task_submit(gpu, &in, err, sizeof err), -1);
        assert_non_null(strstr(err, "collect one first"));
        ride_task_runner_free(gpu);
        ride_frame_free(&in);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gpu_tasks_in_flight_match_cpu),
        cmocka_unit_test(runner_freed_with_frames_in_flight),
    };
    if (ride_test_gpu_missing(tests, sizeof tests / sizeof tests[0]))
        return RIDE_TEST_SKIP;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
