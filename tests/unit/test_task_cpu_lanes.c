/* A CPU-lanes runner runs frames on several threads at once and hands them back in
 * submission order, with the same outputs as a runner that runs them one by one;
 * it decodes frames handed over undecoded, at the scale a shrinking task chose,
 * and names the frames it cannot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_frame_util.h"
#include "base/clock.h"
#include "kernels/kernels.h"
#include "media/synthetic.h"
#include "tasks/host.h"
#include "tasks/task_cpu_lanes.h"

#define LANES 3
#define FRAMES 12
#define SIZE 96

static ride_task_params *params_of(const ride_task_descriptor *d, const ride_kv *kv, size_t n)
{
    ride_task_params *p = NULL;
    ride_parse_error perr;
    assert_int_equal(ride_task_params_parse(d, kv, n, "test", "params", (ride_pos){1, 1}, &p, &perr),
                     0);
    return p;
}

static void camera_frame(uint64_t seq, ride_frame *f)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(ride_synthetic_render(1, seq, SIZE, SIZE, &f->image), 0);
    f->stream_id = 1;
    f->seq = seq;
}

/* The frame as an assembler with defer_decode hands it out: JPEG, undecoded. */
static void undecoded_frame(uint64_t seq, ride_frame *out)
{
    ride_frame f;
    camera_frame(seq, &f);
    msgs l = {0};
    msgs_write(&l, &f, RIDE_ENC_JPEG, 90, (size_t)1 << 20);
    rejects rs = {0};
    ride_frame_assembler_opts o = {.max_frame_bytes = (size_t)1 << 20, .on_reject = rejects_record,
                                   .ctx = &rs, .defer_decode = true};
    ride_frame_assembler *a = ride_frame_assembler_new_opts(&o);
    assert_int_equal(ride_frame_assembler_push(a, l.data[0], l.len[0], out), RIDE_FRAME_OK);
    assert_true(out->encoded.pending);
    ride_frame_assembler_free(a);
    msgs_free(&l);
    ride_frame_free(&f);
}

static void test_lanes_match_one_by_one_in_order(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    const ride_task_descriptor *d = ride_task_find(r, "stddev");
    ride_kv kv = {.key = "ksize", .value = "5"};
    ride_task_env env = {.struct_size = sizeof env, .threads = 1, .device = RIDE_TASK_CPU,
                         .gpu_index = -1};
    char err[256];
    ride_task_runner *lanes =
        ride_task_runner_new_cpu_lanes(d, params_of(d, &kv, 1), &env, LANES, (size_t)1 << 20, 0,
                                       err, sizeof err);
    assert_non_null(lanes);
    assert_true(ride_task_runner_decodes(lanes));
    assert_int_equal(ride_task_runner_depth(lanes), LANES * RIDE_TASK_CPU_FRAMES_PER_LANE);
    ride_task_runner *one = ride_task_runner_new(d, params_of(d, &kv, 1), &env, err, sizeof err);
    assert_non_null(one);

    ride_frame in = {0}, out = {0}, want = {0};
    uint64_t next_out = 0;
    for (uint64_t seq = 0; seq < FRAMES; seq++) {
        if (ride_task_runner_in_flight(lanes) == ride_task_runner_depth(lanes)) {
            assert_int_equal(ride_task_collect(lanes, 1, &out, err, sizeof err), 1);
            ride_frame src;
            camera_frame(next_out, &src);
            assert_int_equal(ride_task_run(one, &src, &want, err, sizeof err), 0);
            assert_int_equal(out.seq, next_out);
            assert_int_equal(ride_test_max_abs_diff_u8(&out.image, &want.image), 0);
            ride_frame_free(&src);
            next_out++;
        }
        ride_frame_free(&in);
        camera_frame(seq, &in);
        assert_int_equal(ride_task_submit_exchange(lanes, &in, err, sizeof err), 0);
    }
    while (ride_task_collect(lanes, 1, &out, err, sizeof err) == 1) {
        assert_int_equal(out.seq, next_out);
        next_out++;
    }
    assert_int_equal(next_out, FRAMES);
    assert_int_equal(ride_task_runner_in_flight(lanes), 0);
    ride_frame_free(&in);
    ride_frame_free(&out);
    ride_frame_free(&want);
    ride_task_runner_free(one);
    ride_task_runner_free(lanes);
    ride_task_registry_free(r);
}

static void test_lanes_decode_and_name_undecodable_frames(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    const ride_task_descriptor *d = ride_task_find(r, "grayscale");
    ride_task_env env = {.struct_size = sizeof env, .threads = 1, .device = RIDE_TASK_CPU,
                         .gpu_index = -1};
    char err[256];
    ride_task_runner *run = ride_task_runner_new_cpu_lanes(
        d, params_of(d, NULL, 0), &env, 2, (size_t)1 << 20, RIDE_PIX_GRAY8, err, sizeof err);
    assert_non_null(run);

    ride_frame good = {0}, bad = {0}, out = {0};
    undecoded_frame(1, &good);
    undecoded_frame(2, &bad);
    memset(bad.encoded.bytes + bad.encoded.len / 2, 0, bad.encoded.len / 2);
    bad.encoded.len = 16;
    assert_int_equal(ride_task_submit_exchange(run, &good, err, sizeof err), 0);
    assert_int_equal(ride_task_submit_exchange(run, &bad, err, sizeof err), 0);

    assert_int_equal(ride_task_collect(run, 1, &out, err, sizeof err), 1);
    assert_int_equal(out.seq, 1);
    assert_int_equal(out.image.format, RIDE_PIX_GRAY8);
    assert_int_equal(out.image.width, SIZE);
    assert_int_equal(ride_task_collect(run, 1, &out, err, sizeof err), -1);
    assert_int_equal(ride_task_runner_rejected(run), RIDE_FRAME_DECODE_FAILED);

    /* A runner that does not decode refuses an undecoded frame as a task failure. */
    ride_task_runner *one = ride_task_runner_new(d, params_of(d, NULL, 0), &env, err, sizeof err);
    ride_frame pending = {0};
    undecoded_frame(3, &pending);
    ride_frame stale;
    camera_frame(0, &stale);
    pending.image = stale.image; /* an earlier frame's pixels, still in the buffer */
    assert_int_equal(ride_task_submit(one, &pending, err, sizeof err), -1);
    assert_non_null(strstr(err, "not decoded"));
    ride_frame_free(&pending);
    ride_task_runner_free(one);

    ride_frame_free(&good);
    ride_frame_free(&bad);
    ride_frame_free(&out);
    ride_task_runner_free(run);
    ride_task_registry_free(r);
}

/* The frame decoded at 1/scale and resized to side x side by area. */
static void resized_from(const ride_frame *undecoded, unsigned scale, uint32_t side,
                         ride_image *out)
{
    ride_frame f = {0};
    ride_frame_encoded e = undecoded->encoded;
    f.encoded = e;
    f.encoded.bytes = malloc(e.len);
    assert_non_null(f.encoded.bytes);
    memcpy(f.encoded.bytes, e.bytes, e.len);
    assert_int_equal(ride_frame_decode(&f, (size_t)1 << 20, 0, scale), RIDE_FRAME_OK);
    assert_int_equal(ride_cpu_resize(&f.image, out, side, side, RIDE_INTERP_AREA, 1), 0);
    ride_frame_free(&f);
}

/* A lane decodes a JPEG frame for a shrinking task at the scale the task chose
 * (resize to a quarter: 1/4), and a frame already decoded as it is. */
static void test_lanes_decode_at_the_task_scale(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    const ride_task_descriptor *d = ride_task_find(r, "resize");
    ride_kv kv[] = {{.key = "width", .value = "24"}, {.key = "height", .value = "24"},
                    {.key = "interpolation", .value = "area"}};
    ride_task_env env = {.struct_size = sizeof env, .threads = 1, .device = RIDE_TASK_CPU,
                         .gpu_index = -1};
    char err[256];
    ride_task_runner *run = ride_task_runner_new_cpu_lanes(d, params_of(d, kv, 3), &env, 2,
                                                           (size_t)1 << 20, 0, err, sizeof err);
    assert_non_null(run);
    ride_frame jpeg = {0}, raw, out = {0};
    undecoded_frame(1, &jpeg);
    ride_image quarter = {0}, full = {0};
    resized_from(&jpeg, 4, SIZE / 4, &quarter);
    resized_from(&jpeg, 1, SIZE / 4, &full);
    assert_true(ride_test_max_abs_diff_u8(&quarter, &full) > 0);
    assert_int_equal(ride_task_submit_exchange(run, &jpeg, err, sizeof err), 0);
    assert_int_equal(ride_task_collect(run, 1, &out, err, sizeof err), 1);
    assert_int_equal(out.image.width, SIZE / 4);
    assert_int_equal(ride_test_max_abs_diff_u8(&out.image, &quarter), 0);

    camera_frame(2, &raw);
    ride_image want = {0};
    assert_int_equal(ride_cpu_resize(&raw.image, &want, SIZE / 4, SIZE / 4, RIDE_INTERP_AREA, 1),
                     0);
    assert_int_equal(ride_task_submit_exchange(run, &raw, err, sizeof err), 0);
    assert_int_equal(ride_task_collect(run, 1, &out, err, sizeof err), 1);
    assert_int_equal(ride_test_max_abs_diff_u8(&out.image, &want), 0);
    ride_image_free(&want);
    ride_image_free(&full);
    ride_image_free(&quarter);
    ride_frame_free(&raw);
    ride_frame_free(&jpeg);
    ride_frame_free(&out);
    ride_task_runner_free(run);
    ride_task_registry_free(r);
}

/* A bounded collect gives up on a frame still running and leaves it in flight; the
 * lane's busy time is the frame's run, within the wall time around it. */
static void test_bounded_collect_returns_while_the_frame_runs(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    const ride_task_descriptor *d = ride_task_find(r, "stddev");
    ride_kv kv = {.key = "ksize", .value = "31"};
    ride_task_env env = {.struct_size = sizeof env, .threads = 1, .device = RIDE_TASK_CPU,
                         .gpu_index = -1};
    char err[256];
    ride_task_runner *run = ride_task_runner_new_cpu_lanes(d, params_of(d, &kv, 1), &env, 1,
                                                           (size_t)1 << 26, 0, err, sizeof err);
    assert_non_null(run);
    ride_frame big = {.stream_id = 1, .seq = 9}, out = {0};
    assert_int_equal(ride_synthetic_render(1, 9, 4000, 4000, &big.image), 0);
    assert_int_equal(ride_task_runner_lane_busy_ns(run), 0);
    int64_t t0 = ride_clock_mono_ns();
    assert_int_equal(ride_task_submit_exchange(run, &big, err, sizeof err), 0);
    assert_int_equal(ride_task_collect_within(run, 1, &out, err, sizeof err), 0);
    assert_int_equal(ride_task_runner_in_flight(run), 1);
    assert_int_equal(ride_task_collect_within(run, -1, &out, err, sizeof err), 1);
    int64_t wall_ns = ride_clock_mono_ns() - t0;
    int64_t busy_ns = ride_task_runner_lane_busy_ns(run);
    assert_true(busy_ns >= 1000000); /* it outlasted the 1 ms collect */
    assert_true(busy_ns <= wall_ns);
    assert_int_equal(out.seq, 9);
    assert_int_equal(out.image.width, 4000);
    ride_frame_free(&big);
    ride_frame_free(&out);
    ride_task_runner_free(run);
    ride_task_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lanes_match_one_by_one_in_order),
        cmocka_unit_test(test_lanes_decode_and_name_undecodable_frames),
        cmocka_unit_test(test_lanes_decode_at_the_task_scale),
        cmocka_unit_test(test_bounded_collect_returns_while_the_frame_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
