/* The device path of the built-in tasks where no GPU is needed: which tasks have a
 * process_device, the checks every process_device makes before it touches the
 * device, the slot API refusing to start without a device, and the one log line that
 * says so. test_cuda_device runs the same path on a GPU. */
#include "ride_test.h"

#include "kernels/gpu.h"
#include "tasks/host.h"
#include "tasks/task_support.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void gpu_tasks_have_process_device(void **unused)
{
    (void)unused;
    size_t count = 0;
    const ride_task_descriptor *const *all = ride_task_builtins(&count);
    for (size_t i = 0; i < count; i++) {
        bool gpu = (all[i]->devices & RIDE_TASK_GPU) != 0;
        if (gpu != (all[i]->process_device != NULL))
            fail_msg("%s: devices %#x but process_device %s", all[i]->name, all[i]->devices,
                     all[i]->process_device ? "set" : "missing");
    }
    assert_non_null(ride_test_builtin_task("gaussian")->process_device);
    assert_null(ride_test_builtin_task("transcode")->process_device);
}

/* A stand-in for the host's ensure: shapes the image as asked, with the pitch in
 * host_ctx (0: tightly packed), and no real memory behind it. */
static int fake_ensure(void *host_ctx, ride_task_device_image *image, uint32_t format,
                       uint32_t width, uint32_t height)
{
    size_t pitch = *(const size_t *)host_ctx;
    *image = (ride_task_device_image){format, width, height,
                                      pitch ? pitch : ride_image_row_bytes(format, width),
                                      (void *)image};
    return width > 1000 ? -1 : 0;
}

typedef struct device_call {
    uint8_t pixels[1];
    ride_task_device_image src;
    ride_task_device_image dst;
    size_t dst_pitch;
    ride_task_device_input in;
    ride_task_device_output out;
    char err[256];
} device_call;

/* A BGR8 width x 4 device frame on a stream that exists only by name: every check
 * below fails before anything reaches a device. */
static void device_call_init(device_call *c, uint32_t width)
{
    memset(c, 0, sizeof *c);
    c->src = (ride_task_device_image){RIDE_PIX_BGR8, width, 4, (size_t)width * 3, c->pixels};
    c->in = (ride_task_device_input){
        .struct_size = sizeof c->in, .image = &c->src, .cuda_stream = c->pixels};
    c->out = (ride_task_device_output){.struct_size = sizeof c->out,
                                       .image = &c->dst,
                                       .ensure = fake_ensure,
                                       .host_ctx = &c->dst_pitch};
}

static int passthrough_device(device_call *c)
{
    return ride_test_builtin_task("passthrough")->process_device(NULL, &c->in, &c->out, c->err, sizeof c->err);
}

static void process_device_checks_frames(void **unused)
{
    (void)unused;
    device_call c;
    device_call_init(&c, 8);
    c.src.pitch = 25;
    assert_int_equal(passthrough_device(&c), -1);
    assert_string_equal(c.err, "passthrough: device frames must be tightly packed (pitch 25, "
                               "rows of 24 bytes)");

    device_call_init(&c, 8);
    c.in.cuda_stream = NULL;
    assert_int_equal(passthrough_device(&c), -1);
    assert_string_equal(c.err, "passthrough: device frames need a CUDA stream (env.cuda_stream)");

    device_call_init(&c, 8);
    c.src.format = RIDE_PIX_FORMAT_COUNT;
    assert_int_equal(passthrough_device(&c), -1);
    assert_string_equal(c.err, "passthrough: invalid device frame (format 7, 8x4)");

    device_call_init(&c, 8);
    c.src.data = NULL;
    assert_int_equal(passthrough_device(&c), -1);
    assert_string_equal(c.err, "passthrough: no device frame");

    device_call_init(&c, 8);
    c.dst_pitch = 32;
    assert_int_equal(passthrough_device(&c), -1);
    assert_string_equal(c.err, "the host shaped a device output of pitch 32: the CUDA kernels "
                               "need tightly packed rows of 24 bytes");

    device_call_init(&c, 2000);
    assert_int_equal(passthrough_device(&c), -1);
    assert_string_equal(c.err, "cannot allocate a 2000x4 device output");
}

/* A state made for the CPU has no stream: its process_device refuses device frames. */
static void cpu_state_refuses_device_frames(void **unused)
{
    (void)unused;
    const ride_task_descriptor *d = ride_test_builtin_task("grayscale");
    ride_task_params *params = NULL;
    ride_parse_error perr;
    assert_int_equal(
        ride_task_params_parse(d, NULL, 0, "test", "params", (ride_pos){1, 1}, &params, &perr), 0);
    ride_task_env env = {.struct_size = sizeof env,
                         .device = RIDE_TASK_CPU,
                         .gpu_index = -1,
                         .host = ride_task_host_api()};
    void *state = NULL;
    device_call c;
    device_call_init(&c, 8);
    assert_int_equal(d->init(params, &env, &state, c.err, sizeof c.err), 0);
    ride_task_params_free(params);
    assert_int_equal(d->process_device(state, &c.in, &c.out, c.err, sizeof c.err), -1);
    assert_string_equal(c.err, "grayscale: device frames need a CUDA stream (env.cuda_stream)");
    d->destroy(state);
}

/* Without a device no slot starts, and the reason says why. */
static void slot_needs_a_device(void **unused)
{
    (void)unused;
    char why[256];
    if (ride_gpu_device_count(why, sizeof why) > 0) {
        printf("SKIPPED: slot_needs_a_device (this machine has a CUDA device)\n");
        return;
    }
    char err[256] = "";
    assert_null(ride_gpu_slot_new(0, err, sizeof err));
    assert_string_equal(err, why);
}

/* What the process writes to stderr between capture_begin and capture_end. */
typedef struct stderr_capture {
    FILE *file;
    int saved;
} stderr_capture;

static void capture_begin(stderr_capture *c)
{
    c->file = tmpfile();
    assert_non_null(c->file);
    fflush(stderr);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

static void capture_end(stderr_capture *c, char *text, size_t len)
{
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    rewind(c->file);
    size_t n = fread(text, 1, len - 1, c->file);
    text[n] = '\0';
    fclose(c->file);
}

/* The stderr lines written while a GPU state of `task` is refused twice. */
static void refuse_gpu_state_twice(const char *task, char *logged, size_t len)
{
    const ride_task_descriptor *d = ride_test_builtin_task(task);
    ride_task_env env = {.struct_size = sizeof env, .threads = 1, .device = RIDE_TASK_GPU};
    stderr_capture capture;
    capture_begin(&capture);
    for (int i = 0; i < 2; i++) {
        ride_task_params *params = NULL;
        ride_parse_error perr;
        assert_int_equal(ride_task_params_parse(d, NULL, 0, "test", "params", (ride_pos){1, 1},
                                                &params, &perr),
                         0);
        char err[256] = "";
        assert_null(ride_task_runner_new(d, params, &env, err, sizeof err));
        assert_string_equal(err, "no usable CUDA device");
    }
    capture_end(&capture, logged, len);
}

/* Without a device a GPU state is refused, and the process says once why the CPU
 * path is left (the kernels log nothing themselves). */
static void gpu_unavailable_logged_once(void **unused)
{
    (void)unused;
    char why[256];
    if (ride_gpu_device_count(why, sizeof why) > 0) {
        printf("SKIPPED: gpu_unavailable_logged_once (this machine has a CUDA device)\n");
        return;
    }
    char logged[4096];
    refuse_gpu_state_twice("grayscale", logged, sizeof logged);
    char expected[512];
    snprintf(expected, sizeof expected, "event=gpu_unavailable reason=\"%s\" path=cpu\n", why);
    const char *line = strstr(logged, expected);
    assert_non_null(line);
    assert_null(strstr(line + 1, "event=gpu_unavailable"));
    refuse_gpu_state_twice("matmul", logged, sizeof logged);
    assert_null(strstr(logged, "event=gpu_unavailable"));
}

/* The kernels log nothing: a failed CUDA call is noted on the calling thread, and the
 * caller takes it once and logs it (event=cuda_error). Without a device the CUDA
 * runtime fails the first call of a scratch; a build without CUDA makes no call. */
static void cuda_failure_logged_by_caller(void **unused)
{
    (void)unused;
    char why[256];
    if (ride_gpu_device_count(why, sizeof why) > 0) {
        printf("SKIPPED: cuda_failure_logged_by_caller (this machine has a CUDA device)\n");
        return;
    }
    ride_gpu_error e;
    assert_int_equal(ride_gpu_take_error(&e), 0);
    char logged[4096];
    stderr_capture capture;
    capture_begin(&capture);
    assert_null(ride_cuda_scratch_new());
    assert_null(ride_cuda_scratch_new());
    ride_task_log_cuda_error();
    ride_task_log_cuda_error();
    capture_end(&capture, logged, sizeof logged);
    assert_int_equal(ride_gpu_take_error(&e), 0);
#ifdef RIDE_HAVE_CUDA
    const char *line = strstr(logged, "event=cuda_error call=cudaGetDevice error=cudaError");
    assert_non_null(line);
    assert_null(strstr(line + 1, "event=cuda_error"));
#else
    assert_string_equal(logged, "");
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gpu_tasks_have_process_device),
        cmocka_unit_test(process_device_checks_frames),
        cmocka_unit_test(cpu_state_refuses_device_frames),
        cmocka_unit_test(slot_needs_a_device),
        cmocka_unit_test(gpu_unavailable_logged_once),
        cmocka_unit_test(cuda_failure_logged_by_caller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
