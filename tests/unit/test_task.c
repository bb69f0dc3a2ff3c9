/* The task host: built-in tasks against their kernels, the runners, stage
 * validation with exact parameter errors, and plugins that load, run or are
 * refused. */
#include "ride_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/gpu.h"
#include "kernels/kernels.h"
#include "tasks/host.h"

#ifndef RIDE_TEST_PLUGIN_DIR
#error "RIDE_TEST_PLUGIN_DIR must name the directory of the test plugins"
#endif

/* Line 9 of every manifest below is the stage under test, stages[1]. */
static const char manifest_head[] =
    "apiVersion: ride/v1\n"
    "kind: Application\n"
    "metadata: {name: t}\n"
    "spec:\n"
    "  sources:\n"
    "    - {name: cam, uri: \"synthetic:64x48@10\"}\n"
    "  stages:\n"
    "    - {name: gray, input: [cam], task: grayscale}\n";

static void parse_manifest(const char *stage_line, ride_manifest *m, char *text, size_t len)
{
    snprintf(text, len, "%s%s\n", manifest_head, stage_line);
    ride_parse_error err;
    char msg[1024];
    if (ride_manifest_parse("app.yaml", text, strlen(text), m, &err) != 0)
        fail_msg("manifest does not parse: %s", ride_parse_error_format(&err, msg, sizeof msg));
}

/* Validates stages[1] given as stage_line and expects the error `message` at line 9,
 * at the column where `marker` starts in stage_line. */
static void expect_stage_error(const ride_task_registry *r, const char *stage_line,
                               const char *marker, const char *message)
{
    ride_manifest m;
    char text[2048];
    parse_manifest(stage_line, &m, text, sizeof text);
    ride_parse_error err;
    ride_task_params *params = (ride_task_params *)&err;
    assert_int_equal(ride_task_validate_stage(r, &m, 1, &params, &err), -1);
    assert_null(params);
    const char *at = strstr(stage_line, marker);
    assert_non_null(at);
    assert_string_equal(err.file, "app.yaml");
    assert_int_equal(err.line, 9);
    assert_int_equal(err.column, (int)(at - stage_line) + 1);
    assert_string_equal(err.message, message);
    assert_int_equal(ride_task_validate_manifest(r, &m, &err), -1);
    assert_string_equal(err.message, message);
    ride_manifest_free(&m);
}

static ride_task_params *valid_params(const ride_task_registry *r, const char *stage_line)
{
    ride_manifest m;
    char text[2048], msg[1024];
    parse_manifest(stage_line, &m, text, sizeof text);
    ride_parse_error err;
    ride_task_params *params = NULL;
    if (ride_task_validate_stage(r, &m, 1, &params, &err) != 0)
        fail_msg("%s", ride_parse_error_format(&err, msg, sizeof msg));
    ride_manifest_free(&m);
    return params;
}

static size_t builtin_count(void)
{
    size_t n = 0;
    ride_task_builtins(&n);
    return n;
}

static ride_task_registry *registry_with_plugins(void)
{
    ride_task_registry *r = ride_task_registry_new();
    assert_non_null(r);
    char err[512];
    /* invert.so loads; bad_abi.so and no_entry.so are rejected and skipped. */
    int added = ride_task_registry_load_dir(r, RIDE_TEST_PLUGIN_DIR, err, sizeof err);
    assert_int_equal(added, 1);
    return r;
}

static void test_builtins_listed(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    assert_non_null(r);
    assert_int_equal(ride_task_count(r), 11);
    assert_string_equal(ride_task_at(r, 0)->name, "facedetect");
    assert_string_equal(ride_task_at(r, 1)->name, "fft");
    assert_string_equal(ride_task_at(r, 2)->name, "gaussian");
    assert_string_equal(ride_task_at(r, 3)->name, "grayscale");
    assert_string_equal(ride_task_at(r, 4)->name, "matmul");
    assert_string_equal(ride_task_at(r, 5)->name, "passthrough");
    assert_string_equal(ride_task_at(r, 6)->name, "resize");
    assert_string_equal(ride_task_at(r, 7)->name, "sobel");
    assert_string_equal(ride_task_at(r, 8)->name, "stddev");
    assert_string_equal(ride_task_at(r, 9)->name, "surf");
    assert_string_equal(ride_task_at(r, 9)->name, "surf");
    assert_string_equal(ride_task_at(r, 10)->name, "transcode");
    assert_null(ride_task_at(r, 11));
    char names[160];
    assert_string_equal(ride_task_names(r, names, sizeof names),
                        "facedetect, fft, gaussian, grayscale, matmul, passthrough, resize, sobel, "
                        "stddev, surf, transcode");
    assert_ptr_equal(ride_task_find(r, "stddev"), ride_task_at(r, 8));
    assert_null(ride_task_find(r, "nope"));
    ride_task_registry_free(r);
}

/* Runs `task` with params from stage_line on a random bgr8 frame with padded rows. */
static void run_builtin(const ride_task_registry *r, const char *stage_line, ride_frame *in,
                        ride_frame *out)
{
    assert_int_equal(ride_image_ensure(&in->image, RIDE_PIX_BGR8, 333, 97), 0);
    ride_test_fill_random(&in->image, 7);
    in->stream_id = 42;
    in->seq = 1234567890123ull;
    in->capture_ns = 1700000000123456789ull;
    ride_task_params *params = valid_params(r, stage_line);
    ride_manifest m;
    char text[2048], err[256];
    parse_manifest(stage_line, &m, text, sizeof text);
    const ride_task_descriptor *d = ride_task_find(r, m.stages[1].task);
    ride_manifest_free(&m);
    ride_task_env env = {.struct_size = sizeof env, .threads = 2, .device = RIDE_TASK_CPU,
                         .gpu_index = -1};
    ride_task_runner *run = ride_task_runner_new(d, params, &env, err, sizeof err);
    assert_non_null(run);
    assert_ptr_equal(ride_task_runner_task(run), d);
    memset(out, 0, sizeof *out);
    /* Twice: the second call reuses the output buffer. */
    for (int i = 0; i < 2; i++)
        if (ride_task_run(run, in, out, err, sizeof err) != 0)
            fail_msg("%s", err);
    assert_int_equal(out->stream_id, 42);
    assert_true(out->seq == in->seq);
    assert_true(out->capture_ns == in->capture_ns);
    ride_task_runner_free(run);
}

static void test_stddev_matches_kernel(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    ride_frame in = {0}, out = {0};
    ride_image expected = {0};
    run_builtin(r, "    - {name: sd, input: [gray], task: stddev, params: {ksize: 5}}", &in, &out);
    assert_int_equal(ride_cpu_stddev(&in.image, &expected, 5, 1), 0);
    assert_int_equal(out.image.format, RIDE_PIX_BGR8);
    assert_int_equal(ride_test_max_abs_diff_u8(&out.image, &expected), 0);
    ride_frame_free(&out);
    /* The default ksize is 5 too. */
    run_builtin(r, "    - {name: sd, input: [gray], task: stddev}", &in, &out);
    assert_int_equal(ride_test_max_abs_diff_u8(&out.image, &expected), 0);
    ride_frame_free(&out);
    /* A different window gives a different result. */
    run_builtin(r, "    - {name: sd, input: [gray], task: stddev, params: {ksize: 9}}", &in, &out);
    assert_true(ride_test_max_abs_diff_u8(&out.image, &expected) > 0);
    ride_image_free(&expected);
    assert_int_equal(ride_cpu_stddev(&in.image, &expected, 9, 1), 0);
    assert_int_equal(ride_test_max_abs_diff_u8(&out.image, &expected), 0);
    ride_image_free(&expected);
    ride_frame_free(&out);
    ride_frame_free(&in);
    ride_task_registry_free(r);
}

static void test_grayscale_and_passthrough_match_kernels(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    ride_frame in = {0}, out = {0};
    ride_image expected = {0};
    run_builtin(r, "    - {name: g2, input: [gray], task: grayscale}", &in, &out);
    assert_int_equal(ride_cpu_grayscale(&in.image, &expected, 1), 0);
    assert_int_equal(out.image.format, RIDE_PIX_GRAY8);
    assert_int_equal(ride_test_max_abs_diff_u8(&out.image, &expected), 0);
    ride_image_free(&expected);
    ride_frame_free(&out);
    ride_frame_free(&in);

    run_builtin(r, "    - {name: p, input: [gray], task: passthrough}", &in, &out);
    assert_int_equal(ride_test_max_abs_diff_u8(&out.image, &in.image), 0);
    ride_frame_free(&out);
    ride_frame_free(&in);
    ride_task_registry_free(r);
}

/* A CPU runner of the grayscale task with its default params. */
static ride_task_runner *new_grayscale_runner(const ride_task_registry *r)
{
    ride_task_params *params = valid_params(r, "    - {name: g2, input: [gray], task: grayscale}");
    char err[256];
    ride_task_runner *run =
        ride_task_runner_new(ride_task_find(r, "grayscale"), params, NULL, err, sizeof err);
    if (!run)
        fail_msg("grayscale runner: %s", err);
    return run;
}

static void test_unsupported_format_is_an_error(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    ride_task_runner *run = new_grayscale_runner(r);
    char err[256];
    ride_frame in = {0}, out = {0};
    assert_int_equal(ride_image_alloc(&in.image, RIDE_PIX_GRAY16, 8, 8), 0);
    assert_int_equal(ride_task_run(run, &in, &out, err, sizeof err), -1);
    assert_string_equal(err, "grayscale takes gray8, bgr8, rgb8 or bgra8 images, got gray16");
    ride_frame empty = {0};
    assert_int_equal(ride_task_run(run, &empty, &out, err, sizeof err), -1);
    ride_frame_free(&in);
    ride_frame_free(&out);
    ride_task_runner_free(run);
    ride_task_registry_free(r);
}

/* A CPU runner has one frame in flight: submit processes it, collect hands the
 * output over (the caller's buffers stay for the next frame), a failing frame
 * fails at submit. */
static void test_submit_and_collect(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    ride_task_runner *run = new_grayscale_runner(r);
    char err[256];
    assert_int_equal(ride_task_runner_depth(run), 1);
    ride_frame in = {0}, out = {0};
    ride_image expected = {0};
    assert_int_equal(ride_task_collect(run, 1, &out, err, sizeof err), 0);
    for (uint64_t seq = 1; seq <= 3; seq++) {
        assert_int_equal(ride_image_ensure(&in.image, RIDE_PIX_BGR8, 40 + (uint32_t)seq, 30), 0);
        ride_test_fill_random(&in.image, (uint32_t)seq);
        in.stream_id = 9;
        in.seq = seq;
        in.capture_ns = 1000 + seq;
        assert_int_equal(ride_task_submit(run, &in, err, sizeof err), 0);
        assert_int_equal(ride_task_runner_in_flight(run), 1);
        assert_int_equal(ride_task_submit(run, &in, err, sizeof err), -1);
        assert_non_null(strstr(err, "collect it first"));
        assert_int_equal(ride_task_collect(run, 0, &out, err, sizeof err), 1);
        assert_int_equal(ride_task_runner_in_flight(run), 0);
        assert_int_equal(out.stream_id, 9);
        assert_true(out.seq == seq && out.capture_ns == 1000 + seq);
        assert_int_equal(ride_cpu_grayscale(&in.image, &expected, 1), 0);
        assert_int_equal(ride_test_max_abs_diff_u8(&out.image, &expected), 0);
    }
    assert_int_equal(ride_task_collect(run, 0, &out, err, sizeof err), 0);
    ride_frame bad = {0};
    assert_int_equal(ride_image_alloc(&bad.image, RIDE_PIX_GRAY16, 8, 8), 0);
    assert_int_equal(ride_task_submit(run, &bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "got gray16"));
    assert_int_equal(ride_task_runner_in_flight(run), 0);
    ride_frame_free(&bad);
    ride_image_free(&expected);
    ride_frame_free(&in);
    ride_frame_free(&out);
    ride_task_runner_free(run);
    ride_task_registry_free(r);
}

/* GPU runners refuse what cannot work with a reason, and free what they took. */
static void test_gpu_runner_arguments(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    const char *line = "    - {name: g2, input: [gray], task: grayscale}";
    const ride_task_descriptor *gray = ride_task_find(r, "grayscale");
    const int gpus[] = {0};
    char err[256];
    assert_null(ride_task_runner_new_gpu(gray, valid_params(r, line), NULL, 1, 3, err, sizeof err));
    assert_non_null(strstr(err, "at least one device"));
    assert_null(ride_task_runner_new_gpu(gray, valid_params(r, line), gpus, 1, 0, err, sizeof err));
    assert_null(ride_task_runner_new_gpu(gray, valid_params(r, line), gpus, 1,
                                         RIDE_TASK_GPU_MAX_FRAMES_IN_FLIGHT + 1, err, sizeof err));
    assert_non_null(strstr(err, "frames in flight"));
    const ride_task_descriptor *transcode = ride_task_find(r, "transcode");
    assert_false(transcode->devices & RIDE_TASK_GPU);
    assert_null(ride_task_runner_new_gpu(
        transcode, valid_params(r, "    - {name: t, input: [gray], task: transcode}"), gpus, 1, 3,
        err, sizeof err));
    assert_non_null(strstr(err, "GPU task"));
    if (ride_gpu_device_count(NULL, 0) == 0) {
        /* Without a device the runner cannot start, whichever path the task has. */
        err[0] = '\0';
        assert_null(ride_task_runner_new_gpu(gray, valid_params(r, line), gpus, 1, 3, err,
                                             sizeof err));
        assert_true(err[0] != '\0');
    }
    ride_task_registry_free(r);
}

static void test_param_errors(void **state)
{
    (void)state;
    ride_task_registry *r = registry_with_plugins();
    static const struct {
        const char *line, *marker, *message;
    } cases[] = {
        {"    - {name: sd, input: [gray], task: stddev, params: {ksize: 4}}", "4}",
         "spec.stages[1].params.ksize: expected an odd integer in 1..255, got \"4\""},
        {"    - {name: sd, input: [gray], task: stddev, params: {ksize: \"4\"}}", "\"4\"",
         "spec.stages[1].params.ksize: expected an odd integer in 1..255, got \"4\""},
        {"    - {name: sd, input: [gray], task: stddev, params: {ksize: 0}}", "0}",
         "spec.stages[1].params.ksize: expected an odd integer in 1..255, got \"0\""},
        {"    - {name: sd, input: [gray], task: stddev, params: {ksize: 256}}", "256",
         "spec.stages[1].params.ksize: expected an odd integer in 1..255, got \"256\""},
        {"    - {name: sd, input: [gray], task: stddev, params: {ksize: 257}}", "257",
         "spec.stages[1].params.ksize: expected an odd integer in 1..255, got \"257\""},
        {"    - {name: sd, input: [gray], task: stddev, params: {ksize: -3}}", "-3",
         "spec.stages[1].params.ksize: expected an odd integer in 1..255, got \"-3\""},
        {"    - {name: sd, input: [gray], task: stddev, params: {ksize: five}}", "five",
         "spec.stages[1].params.ksize: expected an odd integer in 1..255, got \"five\""},
        {"    - {name: sd, input: [gray], task: stddev, params: {ksize: 5.0}}", "5.0",
         "spec.stages[1].params.ksize: expected an odd integer in 1..255, got \"5.0\""},
        {"    - {name: sd, input: [gray], task: stddev, params: {ksize: 99999999999999999999}}",
         "9999",
         "spec.stages[1].params.ksize: expected an odd integer in 1..255, got "
         "\"99999999999999999999\""},
        {"    - {name: sd, input: [gray], task: stddev, params: {ksize: 5, size: 3}}", "size: 3",
         "spec.stages[1].params.size: unknown parameter of task 'stddev'; known parameters: ksize"},
        {"    - {name: sd, input: [gray], task: grayscale, params: {ksize: 3}}", "ksize",
         "spec.stages[1].params.ksize: task 'grayscale' takes no parameters"},
        {"    - {name: sd, input: [gray], task: invert, params: {channels: some}}", "some",
         "spec.stages[1].params.channels: expected one of: all, none, got \"some\""},
        {"    - {name: sd, input: [gray], task: invert, params: {keep_alpha: yes}}", "yes",
         "spec.stages[1].params.keep_alpha: expected true or false, got \"yes\""},
        {"    - {name: sd, input: [gray], task: invert, params: {gain: 1.5}}", "1.5",
         "spec.stages[1].params.gain: expected a number in 0..1, got \"1.5\""},
        {"    - {name: sd, input: [gray], task: invert, params: {gain: 0x1}}", "0x1",
         "spec.stages[1].params.gain: expected a number in 0..1, got \"0x1\""},
        {"    - {name: sd, input: [gray], task: invert, params: {gain: nan}}", "nan",
         "spec.stages[1].params.gain: expected a number in 0..1, got \"nan\""},
        {"    - {name: sd, input: [gray], task: foo}", "foo",
         "spec.stages[1].task: unknown task 'foo'; known tasks: facedetect, fft, gaussian, "
         "grayscale, invert, matmul, passthrough, resize, sobel, stddev, surf, transcode"},
        {"    - {name: sd, input: [gray], task: invert, resources: {device: gpu}}", "invert",
         "spec.stages[1].task: task 'invert' does not run on device gpu"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_stage_error(r, cases[i].line, cases[i].marker, cases[i].message);
    ride_task_registry_free(r);
}

static void test_unknown_task_lists_builtins(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    expect_stage_error(r, "    - {name: sd, input: [gray], task: foo}", "foo",
                       "spec.stages[1].task: unknown task 'foo'; known tasks: facedetect, fft, "
                       "gaussian, grayscale, matmul, passthrough, resize, sobel, stddev, surf, "
                       "transcode");
    ride_task_registry_free(r);
}

static int noop_process(void *st, const ride_task_input *in, ride_task_output *out, char *err,
                        size_t errlen)
{
    (void)st, (void)err, (void)errlen;
    return out->ensure(out->image, in->image->format, in->image->width, in->image->height);
}

static const ride_task_param radius_param[] = {
    {.name = "radius", .type = RIDE_PARAM_INT, .flags = RIDE_PARAM_REQUIRED | RIDE_PARAM_HAS_MIN,
     .min = 1, .help = "blur radius"},
};

static ride_task_descriptor blur_task(void)
{
    return (ride_task_descriptor){
        .abi_version = RIDE_TASK_ABI_VERSION,
        .struct_size = sizeof(ride_task_descriptor),
        .name = "blur",
        .description = "test task with a required parameter",
        .devices = RIDE_TASK_CPU,
        .param_size = sizeof(ride_task_param),
        .params = radius_param,
        .param_count = 1,
        .process = noop_process,
    };
}

static void test_required_param_and_getters(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    static ride_task_descriptor blur;
    blur = blur_task();
    char err[256];
    assert_int_equal(ride_task_registry_add(r, &blur, "test", err, sizeof err), 0);

    ride_manifest m;
    char text[2048];
    const char *line = "    - {name: sd, input: [gray], task: blur}";
    parse_manifest(line, &m, text, sizeof text);
    ride_parse_error perr;
    assert_int_equal(ride_task_validate_stage(r, &m, 1, NULL, &perr), -1);
    assert_int_equal(perr.line, m.stages[1].pos.line);
    assert_int_equal(perr.column, m.stages[1].pos.column);
    assert_string_equal(perr.message,
                        "spec.stages[1].params: missing required parameter 'radius' of task 'blur'");
    ride_manifest_free(&m);

    expect_stage_error(r, "    - {name: sd, input: [gray], task: blur, params: {radius: 0}}", "0}",
                       "spec.stages[1].params.radius: expected an integer >= 1, got \"0\"");
    ride_task_params *p = valid_params(r, "    - {name: sd, input: [gray], task: blur, "
                                          "params: {radius: 12}}");
    int64_t i = 0;
    double d = 0;
    bool b;
    const char *s;
    assert_int_equal(ride_task_params_get_int(p, "radius", &i), 0);
    assert_int_equal(i, 12);
    assert_int_equal(ride_task_params_get_double(p, "radius", &d), 0);
    assert_true(d == 12.0);
    assert_int_equal(ride_task_params_get_bool(p, "radius", &b), -1);
    assert_int_equal(ride_task_params_get_string(p, "radius", &s), -1);
    assert_int_equal(ride_task_params_get_int(p, "nope", &i), -1);
    ride_task_params_free(p);

    /* A duplicate key never reaches the registry: the manifest parser rejects it. */
    const char *dup = "apiVersion: ride/v1\nkind: Application\nmetadata: {name: t}\nspec:\n"
                      "  sources: [{name: cam, uri: \"synthetic:8x8@1\"}]\n"
                      "  stages: [{name: s, input: [cam], task: stddev, "
                      "params: {ksize: 3, ksize: 5}}]\n";
    assert_int_equal(ride_manifest_parse("app.yaml", dup, strlen(dup), &m, &perr), -1);
    assert_non_null(strstr(perr.message, "ksize"));
    /* ... and direct callers get the same protection. */
    ride_kv kv[2] = {{.key = "ksize", .value = "3", .key_pos = {1, 1}},
                     {.key = "ksize", .value = "5", .key_pos = {2, 3}}};
    assert_int_equal(ride_task_params_parse(ride_task_find(r, "stddev"), kv, 2, "x", "params",
                                            (ride_pos){1, 1}, &p, &perr),
                     -1);
    assert_int_equal(perr.line, 2);
    assert_string_equal(perr.message, "params.ksize: duplicate parameter");
    ride_task_registry_free(r);
}

static void test_bad_descriptors_rejected(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    char err[256];
    ride_task_descriptor d = blur_task();
    d.name = "Blur-1";
    assert_int_equal(ride_task_registry_add(r, &d, "test", err, sizeof err), -1);
    assert_string_equal(err, "invalid task name 'Blur-1': expected [a-z][a-z0-9_]* of at most 63 bytes");
    d = blur_task();
    d.name = "stddev";
    assert_int_equal(ride_task_registry_add(r, &d, "test", err, sizeof err), -1);
    assert_string_equal(err, "task 'stddev' is already registered (from built-in)");
    d = blur_task();
    d.abi_version = 2;
    assert_int_equal(ride_task_registry_add(r, &d, "test", err, sizeof err), -1);
    assert_string_equal(err, "a task has ABI version 2; this host supports 1");
    d = blur_task();
    d.struct_size = 8;
    assert_int_equal(ride_task_registry_add(r, &d, "test", err, sizeof err), -1);
    d = blur_task();
    d.process = NULL;
    assert_int_equal(ride_task_registry_add(r, &d, "test", err, sizeof err), -1);
    assert_string_equal(err, "task 'blur' has no process callback");
    static const ride_task_param bad_default[] = {
        {.name = "k", .type = RIDE_PARAM_INT, .flags = RIDE_PARAM_ODD, .default_value = "4"},
    };
    d = blur_task();
    d.params = bad_default;
    assert_int_equal(ride_task_registry_add(r, &d, "test", err, sizeof err), -1);
    assert_string_equal(err, "task 'blur': default of parameter 'k': expected an odd integer, got \"4\"");
    static const ride_task_param no_choices[] = {{.name = "mode", .type = RIDE_PARAM_ENUM}};
    d.params = no_choices;
    assert_int_equal(ride_task_registry_add(r, &d, "test", err, sizeof err), -1);
    assert_string_equal(err, "task 'blur': enum parameter 'mode' has no choices");
    assert_int_equal(ride_task_count(r), builtin_count());
    ride_task_registry_free(r);
}

static uint32_t wants_eighth_of_900x600(void *state, uint32_t width, uint32_t height)
{
    (void)state;
    return width == 900 && height == 600 ? 8 : width == 90 ? 100 : width == 9 ? 0 : 3;
}

/* A descriptor from before decode_scale (an old plugin) still registers, and its
 * memory past struct_size is never read as a callback. */
static void test_decode_scale_is_optional_and_rounded_down(void **state)
{
    (void)state;
    ride_task_descriptor d = blur_task();
    assert_int_equal(ride_task_decode_scale(&d, NULL, 900, 600), 1);
    d.decode_scale = wants_eighth_of_900x600;
    assert_int_equal(ride_task_decode_scale(&d, NULL, 900, 600), 8);
    assert_int_equal(ride_task_decode_scale(&d, NULL, 90, 60), 8);
    assert_int_equal(ride_task_decode_scale(&d, NULL, 50, 60), 2);
    assert_int_equal(ride_task_decode_scale(&d, NULL, 9, 6), 1);
    static const size_t older[] = {RIDE_TASK_DESCRIPTOR_BASE_SIZE,
                                   RIDE_TASK_DESCRIPTOR_INPUT_FORMAT_SIZE};
    for (size_t i = 0; i < 2; i++) {
        d.struct_size = (uint32_t)older[i];
        assert_int_equal(ride_task_decode_scale(&d, NULL, 900, 600), 1);
        ride_task_registry *r = ride_task_registry_new();
        char err[256];
        assert_int_equal(ride_task_registry_add(r, &d, "test", err, sizeof err), 0);
        ride_task_registry_free(r);
    }
}

/* The built-in task of stage_line's state, asked for a frame of width x height. */
static uint32_t builtin_scale(const ride_task_registry *r, const char *stage_line, uint32_t width,
                              uint32_t height)
{
    ride_manifest m;
    char text[2048], err[256];
    parse_manifest(stage_line, &m, text, sizeof text);
    const ride_task_descriptor *d = ride_task_find(r, m.stages[1].task);
    ride_manifest_free(&m);
    ride_task_params *params = valid_params(r, stage_line);
    ride_task_env env = {.struct_size = sizeof env, .threads = 1, .device = RIDE_TASK_CPU,
                         .gpu_index = -1, .host = ride_task_host_api()};
    void *st = NULL;
    assert_int_equal(d->init(params, &env, &st, err, sizeof err), 0);
    uint32_t scale = ride_task_decode_scale(d, st, width, height);
    d->destroy(st);
    ride_task_params_free(params);
    return scale;
}

/* resize and transcode take the largest scale whose image still holds their
 * output; transcode's side derived from the aspect ratio must come out the same. */
static void test_shrinking_builtins_choose_their_decode_scale(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    const char *quarter = "    - {name: s, input: [gray], task: resize, "
                          "params: {width: 225, height: 225, interpolation: area}}";
    assert_int_equal(builtin_scale(r, quarter, 900, 900), 4);
    assert_int_equal(builtin_scale(r, quarter, 896, 900), 2);
    assert_int_equal(builtin_scale(r, quarter, 1800, 1799), 8);
    assert_int_equal(builtin_scale(r, quarter, 225, 225), 1);
    assert_int_equal(builtin_scale(r, quarter, 100, 100), 1);
    const char *wide = "    - {name: s, input: [gray], task: transcode, params: {width: 320}}";
    assert_int_equal(builtin_scale(r, wide, 900, 900), 2);
    assert_int_equal(builtin_scale(r, wide, 1280, 720), 4);
    const char *narrow = "    - {name: s, input: [gray], task: transcode, params: {width: 100}}";
    /* 797 x 601 makes 100 x 75; its 1/8 (100 x 76) and 1/4 (200 x 151) would make
     * 100 x 76, its 1/2 (399 x 301) 100 x 75. */
    assert_int_equal(builtin_scale(r, narrow, 797, 601), 2);
    const char *fixed = "    - {name: s, input: [gray], task: resize, "
                        "params: {width: 100, height: 75}}";
    assert_int_equal(builtin_scale(r, fixed, 797, 601), 8);
    const char *keep = "    - {name: s, input: [gray], task: transcode, params: {quality: 80}}";
    assert_int_equal(builtin_scale(r, keep, 900, 900), 1);
    ride_task_registry_free(r);
}

static void test_plugin_loads_and_runs(void **state)
{
    (void)state;
    ride_task_registry *r = registry_with_plugins();
    assert_int_equal(ride_task_count(r), builtin_count() + 1);
    const ride_task_descriptor *inv = ride_task_find(r, "invert");
    assert_non_null(inv);
    ride_task_params *p = valid_params(r, "    - {name: sd, input: [gray], task: invert, "
                                          "params: {label: x}}");
    const char *s;
    bool b;
    assert_int_equal(ride_task_params_get_string(p, "channels", &s), 0);
    assert_string_equal(s, "all");
    assert_int_equal(ride_task_params_get_bool(p, "keep_alpha", &b), 0);
    assert_true(b);
    double gain;
    assert_int_equal(ride_task_params_get_double(p, "gain", &gain), -1); /* no default */
    char err[256];
    ride_task_runner *run = ride_task_runner_new(inv, p, NULL, err, sizeof err);
    assert_non_null(run);
    ride_frame in = {0}, out = {0};
    assert_int_equal(ride_image_alloc(&in.image, RIDE_PIX_BGRA8, 5, 3), 0);
    ride_test_fill_random(&in.image, 3);
    in.seq = 9;
    assert_int_equal(ride_task_run(run, &in, &out, err, sizeof err), 0);
    assert_true(out.seq == 9);
    for (uint32_t y = 0; y < 3; y++)
        for (uint32_t x = 0; x < 20; x++) {
            uint8_t a = ride_image_row(&in.image, y)[x], o = ride_image_row(&out.image, y)[x];
            assert_int_equal(o, x % 4 == 3 ? a : 255 - a);
        }
    ride_task_runner_free(run);
    ride_frame_free(&in);
    ride_frame_free(&out);
    ride_task_registry_free(r);
}

static void test_bad_plugins_rejected(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    char err[512];
    const char *dir = RIDE_TEST_PLUGIN_DIR;
    char path[1024];

    snprintf(path, sizeof path, "%s/bad_abi.so", dir);
    assert_int_equal(ride_task_registry_load_plugin(r, path, err, sizeof err), -1);
    char want[2200];
    snprintf(want, sizeof want, "plugin %s: a task has ABI version 99; this host supports 1", path);
    assert_string_equal(err, want);

    snprintf(path, sizeof path, "%s/no_entry.so", dir);
    assert_int_equal(ride_task_registry_load_plugin(r, path, err, sizeof err), -1);
    snprintf(want, sizeof want, "plugin %s: no ride_task_plugin_entry function", path);
    assert_string_equal(err, want);

    assert_int_equal(ride_task_registry_load_dir(r, "/nonexistent/ride-plugins", err, sizeof err), -1);
    assert_string_equal(err, "cannot read plugin directory '/nonexistent/ride-plugins': No such "
                             "file or directory");
    assert_int_equal(ride_task_registry_load_dir(r, "plugins", err, sizeof err), -1);
    assert_string_equal(err, "plugin directory 'plugins' is not an absolute path");

    snprintf(path, sizeof path, "%s/invert.so", dir);
    assert_int_equal(ride_task_registry_load_plugin(r, path, err, sizeof err), 1);
    assert_int_equal(ride_task_registry_load_plugin(r, path, err, sizeof err), -1);
    snprintf(want, sizeof want, "plugin %s: task 'invert' is already registered (from %s)", path,
             path);
    assert_string_equal(err, want);
    assert_int_equal(ride_task_count(r), builtin_count() + 1);
    ride_task_registry_free(r);
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    size_t n;
    int rc = in && out ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        rc = -1;
    return rc;
}

static void test_unsafe_plugin_files_rejected(void **state)
{
    (void)state;
    char dir[] = "/tmp/ride-test-plugins-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char src[1024], writable[1100], subdir[1100], err[512], want[1400];
    snprintf(src, sizeof src, "%s/invert.so", RIDE_TEST_PLUGIN_DIR);
    snprintf(writable, sizeof writable, "%s/writable.so", dir);
    snprintf(subdir, sizeof subdir, "%s/dir.so", dir);
    int copied = copy_file(src, writable);
    int made = chmod(writable, 0666) == 0 && mkdir(subdir, 0700) == 0;
    ride_task_registry *r = ride_task_registry_new();
    int writable_rc = ride_task_registry_load_plugin(r, writable, err, sizeof err);
    char writable_err[512];
    snprintf(writable_err, sizeof writable_err, "%s", err);
    int dir_rc = ride_task_registry_load_plugin(r, subdir, err, sizeof err);
    int dir_added = ride_task_registry_load_dir(r, dir, want, sizeof want);
    ride_task_registry_free(r);
    unlink(writable);
    rmdir(subdir);
    rmdir(dir);

    assert_int_equal(copied, 0);
    assert_true(made);
    assert_int_equal(writable_rc, -1);
    snprintf(want, sizeof want, "plugin %s: refusing a world-writable file", writable);
    assert_string_equal(writable_err, want);
    assert_int_equal(dir_rc, -1);
    snprintf(want, sizeof want, "plugin %s: not a regular file", subdir);
    assert_string_equal(err, want);
    assert_int_equal(dir_added, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins_listed),
        cmocka_unit_test(test_stddev_matches_kernel),
        cmocka_unit_test(test_grayscale_and_passthrough_match_kernels),
        cmocka_unit_test(test_unsupported_format_is_an_error),
        cmocka_unit_test(test_submit_and_collect),
        cmocka_unit_test(test_gpu_runner_arguments),
        cmocka_unit_test(test_param_errors),
        cmocka_unit_test(test_unknown_task_lists_builtins),
        cmocka_unit_test(test_required_param_and_getters),
        cmocka_unit_test(test_bad_descriptors_rejected),
        cmocka_unit_test(test_decode_scale_is_optional_and_rounded_down),
        cmocka_unit_test(test_shrinking_builtins_choose_their_decode_scale),
        cmocka_unit_test(test_plugin_loads_and_runs),
        cmocka_unit_test(test_bad_plugins_rejected),
        cmocka_unit_test(test_unsafe_plugin_files_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
