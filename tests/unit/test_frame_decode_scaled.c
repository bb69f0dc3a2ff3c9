/* ride_frame_decode at 1/2, 1/4 or 1/8 scale decodes a JPEG frame to the header's
 * size scaled (rounded up), and a shrinking task's output from it stays within the
 * bounds docs/tasks.md states of the output from the full-size decode; raw and PNG
 * frames are decoded full size whatever the scale. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_frame_util.h"
#include "kernels/kernels.h"
#include "media/synthetic.h"

#define SIDE 900
#define QUALITY 90

static void camera_frame(uint32_t width, uint32_t height, ride_frame *f)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(ride_synthetic_render(1, 7, width, height, &f->image), 0);
    f->stream_id = 1;
    f->seq = 7;
}

/* f written with enc, then handed out undecoded as an assembler with defer_decode
 * hands it out. */
static void undecoded(const ride_frame *f, ride_encoding enc, ride_frame *out)
{
    msgs l = {0};
    msgs_write(&l, f, enc, enc == RIDE_ENC_JPEG ? QUALITY : -1, (size_t)1 << 24);
    rejects rs = {0};
    ride_frame_assembler_opts o = {.max_frame_bytes = (size_t)1 << 24, .on_reject = rejects_record,
                                   .ctx = &rs, .defer_decode = true};
    ride_frame_assembler *a = ride_frame_assembler_new_opts(&o);
    assert_non_null(a);
    assert_int_equal(l.count, 1);
    assert_int_equal(ride_frame_assembler_push(a, l.data[0], l.len[0], out), RIDE_FRAME_OK);
    ride_frame_assembler_free(a);
    msgs_free(&l);
}

static ride_frame_status decode_at(const ride_frame *f, ride_encoding enc,
                                   ride_pixel_format decode_as, unsigned scale, ride_frame *out)
{
    undecoded(f, enc, out);
    if (enc != RIDE_ENC_RAW)
        assert_true(out->encoded.pending);
    return ride_frame_decode(out, (size_t)1 << 24, decode_as, scale);
}

static void test_scaled_jpeg_is_the_header_size_rounded_up(void **state)
{
    (void)state;
    ride_frame f, got = {0};
    camera_frame(901, 601, &f);
    static const unsigned scales[] = {1, 2, 4, 8};
    static const uint32_t widths[] = {901, 451, 226, 113}, heights[] = {601, 301, 151, 76};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(decode_at(&f, RIDE_ENC_JPEG, 0, scales[i], &got), RIDE_FRAME_OK);
        assert_int_equal(got.image.format, RIDE_PIX_BGR8);
        assert_int_equal(got.image.width, widths[i]);
        assert_int_equal(got.image.height, heights[i]);
        assert_int_equal(decode_at(&f, RIDE_ENC_JPEG, RIDE_PIX_GRAY8, scales[i], &got),
                         RIDE_FRAME_OK);
        assert_int_equal(got.image.format, RIDE_PIX_GRAY8);
        assert_int_equal(got.image.width, widths[i]);
        assert_int_equal(got.image.height, heights[i]);
    }
    assert_int_equal(decode_at(&f, RIDE_ENC_JPEG, 0, 3, &got), RIDE_FRAME_DECODE_FAILED);
    ride_frame_free(&got);
    ride_frame_free(&f);
}

static void test_raw_and_png_are_decoded_full_size(void **state)
{
    (void)state;
    ride_frame f, got = {0};
    camera_frame(97, 61, &f);
    assert_int_equal(decode_at(&f, RIDE_ENC_PNG, 0, 4, &got), RIDE_FRAME_OK);
    assert_int_equal(ride_test_max_abs_diff_u8(&got.image, &f.image), 0);
    assert_int_equal(decode_at(&f, RIDE_ENC_RAW, 0, 8, &got), RIDE_FRAME_OK);
    assert_int_equal(ride_test_max_abs_diff_u8(&got.image, &f.image), 0);
    ride_frame_free(&got);
    ride_frame_free(&f);
}

typedef struct difference {
    int max;
    double mean;
} difference;

static const char *interp_name(ride_interp interp)
{
    return interp == RIDE_INTERP_AREA ? "area" : "linear";
}

/* The frame decoded at 1/scale, then resized to side x side with interp, against
 * the frame decoded full size and resized with full_interp. */
static difference against_full(const ride_frame *f, unsigned scale, uint32_t side,
                               ride_interp interp, ride_interp full_interp)
{
    ride_frame full = {0}, scaled = {0};
    ride_image want = {0}, got = {0};
    assert_int_equal(decode_at(f, RIDE_ENC_JPEG, 0, 1, &full), RIDE_FRAME_OK);
    assert_int_equal(decode_at(f, RIDE_ENC_JPEG, 0, scale, &scaled), RIDE_FRAME_OK);
    assert_int_equal(scaled.image.width, (SIDE + scale - 1) / scale);
    assert_int_equal(ride_cpu_resize(&full.image, &want, side, side, full_interp, 1), 0);
    assert_int_equal(ride_cpu_resize(&scaled.image, &got, side, side, interp, 1), 0);
    difference d = {ride_test_max_abs_diff_u8(&got, &want), ride_test_mean_abs_diff_u8(&got, &want)};
    printf("# %ux%u q%d to %u: decoded at 1/%u + %s against full + %s: max %d, mean %.3f\n", SIDE,
           SIDE, QUALITY, side, scale, interp_name(interp), interp_name(full_interp), d.max,
           d.mean);
    ride_image_free(&got);
    ride_image_free(&want);
    ride_frame_free(&scaled);
    ride_frame_free(&full);
    return d;
}

/* The bounds docs/tasks.md states, measured on this frame (noise and a
 * checkerboard: the worst case for a decoder's scaling); a scale one step too
 * large (an enlarged 1/8 image for 225 x 225) breaks them. */
static void test_resize_from_scaled_decode_stays_near_full_decode(void **state)
{
    (void)state;
    ride_frame f;
    camera_frame(SIDE, SIDE, &f);
    const ride_interp area = RIDE_INTERP_AREA, linear = RIDE_INTERP_LINEAR;
    difference d = against_full(&f, 4, 225, area, area);
    assert_true(d.max <= 20 && d.mean < 0.7);
    d = against_full(&f, 2, 320, area, area);
    assert_true(d.max <= 36 && d.mean < 1.2);
    d = against_full(&f, 4, 225, linear, linear);
    assert_true(d.max <= 64 && d.mean < 3.0);
    d = against_full(&f, 2, 320, linear, linear);
    assert_true(d.max <= 100 && d.mean < 3.5);
    d = against_full(&f, 8, 225, area, area);
    assert_true(d.mean >= 2.0);
    /* Linear from the full image aliases; from the scaled one it is nearer the
     * anti-aliased (area) result. */
    double scaled_linear = against_full(&f, 4, 225, linear, area).mean;
    assert_true(scaled_linear < against_full(&f, 1, 225, linear, area).mean);
    ride_frame_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scaled_jpeg_is_the_header_size_rounded_up),
        cmocka_unit_test(test_raw_and_png_are_decoded_full_size),
        cmocka_unit_test(test_resize_from_scaled_decode_stays_near_full_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
