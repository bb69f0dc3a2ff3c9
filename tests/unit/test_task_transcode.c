/* The built-in task `transcode`: output sizes (kept, given, one side following the
 * other), pixels against OpenCV's resize, the encoding it hands the host and what
 * ride_frame_write then publishes, bad params and formats; and the host's check of
 * a task's chosen encoding. */
#include "ride_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/opencv_c.h"
#include "tasks/host.h"
#include "wire/frame.h"

typedef struct fixture {
    ride_task_registry *reg;
} fixture;

static int setup(void **state)
{
    static fixture fx;
    fx.reg = ride_task_registry_new();
    assert_non_null(fx.reg);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ride_task_registry_free(fx->reg);
    return 0;
}

/* Parses "key=value" pairs; returns -1 with the formatted error in msg. */
static int parse_params(const ride_task_descriptor *d, const char *const *pairs, size_t count,
                        ride_task_params **out, char *msg, size_t len)
{
    char keys[8][32], values[8][32];
    ride_kv kv[8];
    assert_true(count <= 8);
    for (size_t i = 0; i < count; i++) {
        const char *eq = strchr(pairs[i], '=');
        assert_non_null(eq);
        snprintf(keys[i], sizeof keys[i], "%.*s", (int)(eq - pairs[i]), pairs[i]);
        snprintf(values[i], sizeof values[i], "%s", eq + 1);
        kv[i] = (ride_kv){.key = keys[i], .value = values[i], .key_pos = {1, 1}, .value_pos = {1, 5}};
    }
    ride_parse_error err;
    if (ride_task_params_parse(d, kv, count, "app.yaml", "params", (ride_pos){1, 1}, out, &err)) {
        ride_parse_error_format(&err, msg, len);
        return -1;
    }
    return 0;
}

static ride_task_runner *transcoder(fixture *fx, const char *const *pairs, size_t count)
{
    const ride_task_descriptor *d = ride_task_find(fx->reg, "transcode");
    assert_non_null(d);
    ride_task_params *p = NULL;
    char msg[512], err[256];
    if (parse_params(d, pairs, count, &p, msg, sizeof msg))
        fail_msg("%s", msg);
    ride_task_runner *run = ride_task_runner_new(d, p, NULL, err, sizeof err);
    if (!run)
        fail_msg("%s", err);
    return run;
}

static void input_frame(ride_frame *f, ride_pixel_format fmt, uint32_t w, uint32_t h)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(ride_image_alloc(&f->image, fmt, w, h), 0);
    ride_test_fill_random(&f->image, 7);
    f->stream_id = 3;
    f->seq = 42;
}

/* Runs one frame; checks the size and that the pixels are OpenCV's resize. */
static void expect_resized(ride_task_runner *run, const ride_frame *in, uint32_t w, uint32_t h,
                           ride_cv_interp interp, ride_frame *out)
{
    char err[256];
    if (ride_task_run(run, in, out, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(out->image.width, w);
    assert_int_equal(out->image.height, h);
    assert_int_equal(out->image.format, in->image.format);
    assert_int_equal(out->seq, 42);
    ride_image want = {0};
    assert_int_equal(ride_image_alloc(&want, in->image.format, w, h), 0);
    assert_int_equal(ride_cv_resize(&in->image, &want, interp, err, sizeof err), 0);
    assert_int_equal(ride_test_max_abs_diff_u8(&want, &out->image), 0);
    ride_image_free(&want);
}

static void test_sizes_and_pixels(void **state)
{
    fixture *fx = *state;
    ride_frame in, out = {0};
    input_frame(&in, RIDE_PIX_BGR8, 64, 48);
    static const struct {
        const char *w, *h;
        uint32_t ow, oh;
        ride_cv_interp interp;
    } cases[] = {
        {"width=0", "height=0", 64, 48, RIDE_CV_INTER_AREA},    /* kept: a copy */
        {"width=32", "height=0", 32, 24, RIDE_CV_INTER_AREA},   /* height follows */
        {"width=0", "height=12", 16, 12, RIDE_CV_INTER_AREA},   /* width follows */
        {"width=20", "height=30", 20, 30, RIDE_CV_INTER_AREA},  /* both given: aspect ignored */
        {"width=128", "height=0", 128, 96, RIDE_CV_INTER_LINEAR}, /* enlarged */
        {"width=1", "height=0", 1, 1, RIDE_CV_INTER_AREA},      /* at least one pixel */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *pairs[] = {cases[i].w, cases[i].h};
        ride_task_runner *run = transcoder(fx, pairs, 2);
        expect_resized(run, &in, cases[i].ow, cases[i].oh, cases[i].interp, &out);
        ride_task_runner_free(run);
    }
    ride_frame_free(&out);
    ride_frame_free(&in);
}

typedef struct message {
    uint8_t *bytes;
    size_t len;
} message;

static int keep_message(void *ctx, const uint8_t *msg, size_t len)
{
    message *m = ctx;
    assert_null(m->bytes);
    m->bytes = malloc(len);
    assert_non_null(m->bytes);
    memcpy(m->bytes, msg, len);
    m->len = len;
    return 0;
}

/* What the worker does with the output: the runner's write opts, then
 * ride_frame_write; the published payload decodes back to the resized frame. */
static void publish_and_decode(const ride_task_runner *run, const ride_frame *out,
                               ride_encoding want_enc, int want_quality, double tolerance)
{
    ride_frame_write_opts wo = {RIDE_ENC_RAW, -1, SIZE_MAX};
    ride_task_runner_write_opts(run, &wo);
    assert_int_equal(wo.encoding, want_enc);
    assert_int_equal(wo.quality, want_quality);
    assert_int_equal(wo.max_message_bytes, SIZE_MAX);
    message m = {0};
    char err[256];
    if (ride_frame_write(out, &wo, keep_message, &m, err, sizeof err))
        fail_msg("%s", err);
    ride_frame_header h;
    const uint8_t *payload;
    assert_int_equal(ride_frame_header_parse(m.bytes, m.len, &h, &payload), RIDE_FRAME_OK);
    assert_int_equal(h.encoding, want_enc);
    assert_int_equal(h.width, out->image.width);
    assert_int_equal(h.height, out->image.height);
    ride_image back = {0};
    assert_int_equal(ride_cv_decode(payload, h.payload_len, out->image.format, UINT64_MAX, &back,
                                    err, sizeof err),
                     0);
    assert_true(ride_test_mean_abs_diff_u8(&back, &out->image) <= tolerance);
    ride_image_free(&back);
    free(m.bytes);
}

static void test_publishes_jpeg_and_png(void **state)
{
    fixture *fx = *state;
    ride_frame in, out = {0};
    input_frame(&in, RIDE_PIX_GRAY8, 320, 240);
    const char *jpeg[] = {"width=160"};
    ride_task_runner *run = transcoder(fx, jpeg, 1);
    /* Before any frame the runner asks for nothing but raw. */
    ride_frame_write_opts wo = {RIDE_ENC_PNG, 3, 1000};
    ride_task_runner_write_opts(run, &wo);
    assert_int_equal(wo.encoding, RIDE_ENC_RAW);
    assert_int_equal(wo.quality, -1);
    expect_resized(run, &in, 160, 120, RIDE_CV_INTER_AREA, &out);
    /* Random noise is JPEG's worst case: the default quality 85 still stays close. */
    publish_and_decode(run, &out, RIDE_ENC_JPEG, 85, 40.0);
    ride_task_runner_free(run);

    const char *png[] = {"encoding=png", "height=60"};
    run = transcoder(fx, png, 2);
    expect_resized(run, &in, 80, 60, RIDE_CV_INTER_AREA, &out);
    publish_and_decode(run, &out, RIDE_ENC_PNG, -1, 0.0); /* lossless */
    ride_task_runner_free(run);

    const char *quality[] = {"quality=100"};
    run = transcoder(fx, quality, 1);
    expect_resized(run, &in, 320, 240, RIDE_CV_INTER_AREA, &out);
    publish_and_decode(run, &out, RIDE_ENC_JPEG, 100, 10.0);
    ride_task_runner_free(run);
    ride_frame_free(&out);
    ride_frame_free(&in);
}

static void test_formats_the_encoding_cannot_carry(void **state)
{
    fixture *fx = *state;
    ride_frame in, out = {0};
    char err[256];
    input_frame(&in, RIDE_PIX_RGB8, 8, 8);
    ride_task_runner *run = transcoder(fx, NULL, 0);
    assert_int_equal(ride_task_run(run, &in, &out, err, sizeof err), -1);
    assert_string_equal(err, "transcode: jpeg cannot carry rgb8 frames");
    ride_frame_free(&in);
    input_frame(&in, RIDE_PIX_BGRA8, 8, 8);
    assert_int_equal(ride_task_run(run, &in, &out, err, sizeof err), -1);
    assert_string_equal(err, "transcode: jpeg cannot carry bgra8 frames");
    ride_task_runner_free(run);
    /* PNG carries alpha. */
    const char *png[] = {"encoding=png", "width=4"};
    run = transcoder(fx, png, 2);
    expect_resized(run, &in, 4, 4, RIDE_CV_INTER_AREA, &out);
    ride_task_runner_free(run);
    ride_frame_free(&out);
    ride_frame_free(&in);
}

static void test_bad_params(void **state)
{
    fixture *fx = *state;
    const ride_task_descriptor *d = ride_task_find(fx->reg, "transcode");
    static const struct {
        const char *pair, *message;
    } cases[] = {
        {"quality=0", "app.yaml:1:5: params.quality: expected an integer in 1..100, got \"0\""},
        {"width=-1", "app.yaml:1:5: params.width: expected an integer in 0..65536, got \"-1\""},
        {"height=65537",
         "app.yaml:1:5: params.height: expected an integer in 0..65536, got \"65537\""},
        {"encoding=gif", "app.yaml:1:5: params.encoding: expected one of: jpeg, png, got \"gif\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ride_task_params *p = NULL;
        char msg[512];
        assert_int_equal(parse_params(d, &cases[i].pair, 1, &p, msg, sizeof msg), -1);
        assert_string_equal(msg, cases[i].message);
        assert_null(p);
    }
}

/* A task whose choice the host must refuse: jpeg for a bgra8 output. */
static int jpeg_alpha_process(void *state, const ride_task_input *in, ride_task_output *out,
                              char *err, size_t errlen)
{
    (void)state, (void)err, (void)errlen;
    if (out->ensure(out->image, RIDE_PIX_BGRA8, in->image->width, in->image->height) < 0)
        return -1;
    memset(out->image->data, 0, ride_image_size(out->image));
    out->encoding = in->seq == 1 ? RIDE_ENC_JPEG : in->seq == 2 ? 7u : RIDE_ENC_PNG;
    out->quality = in->seq == 3 ? 10 : -1;
    return 0;
}

static void test_host_refuses_bad_choices(void **state)
{
    (void)state;
    static const ride_task_descriptor d = {
        .abi_version = RIDE_TASK_ABI_VERSION,
        .struct_size = sizeof(ride_task_descriptor),
        .name = "alpha",
        .description = "asks for encodings its output cannot have",
        .devices = RIDE_TASK_CPU,
        .param_size = sizeof(ride_task_param),
        .process = jpeg_alpha_process,
    };
    char err[256];
    ride_task_params *p = NULL;
    assert_int_equal(parse_params(&d, NULL, 0, &p, err, sizeof err), 0);
    ride_task_runner *run = ride_task_runner_new(&d, p, NULL, err, sizeof err);
    assert_non_null(run);
    ride_frame in, out = {0};
    input_frame(&in, RIDE_PIX_GRAY8, 4, 4);
    static const char *const reasons[] = {
        "task 'alpha' chose an output encoding that fails: jpeg cannot carry bgra8 frames",
        "task 'alpha' chose an output encoding that fails: unknown encoding 7",
        "task 'alpha' chose an output encoding that fails: quality 10 is out of range for png "
        "(jpeg 1..100, png 0..9, -1)",
    };
    for (uint64_t seq = 1; seq <= 3; seq++) {
        in.seq = seq;
        assert_int_equal(ride_task_run(run, &in, &out, err, sizeof err), -1);
        assert_string_equal(err, reasons[seq - 1]);
    }
    /* A refused choice leaves the write opts of the last good frame: raw here. */
    ride_frame_write_opts wo = {RIDE_ENC_PNG, 5, 1000};
    ride_task_runner_write_opts(run, &wo);
    assert_int_equal(wo.encoding, RIDE_ENC_RAW);
    in.seq = 4;
    assert_int_equal(ride_task_run(run, &in, &out, err, sizeof err), 0);
    ride_task_runner_write_opts(run, &wo);
    assert_int_equal(wo.encoding, RIDE_ENC_PNG);
    assert_int_equal(wo.quality, -1);
    ride_task_runner_free(run);
    ride_frame_free(&out);
    ride_frame_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_and_pixels),
        cmocka_unit_test(test_publishes_jpeg_and_png),
        cmocka_unit_test(test_formats_the_encoding_cannot_carry),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_host_refuses_bad_choices),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
