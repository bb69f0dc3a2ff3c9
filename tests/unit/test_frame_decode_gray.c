/* An assembler asked for gray8 (decode_as) decodes JPEG colour frames straight to
 * their luma, which matches decode-then-convert within the tolerance
 * docs/wire-format.md states; raw, PNG and grey frames arrive as sent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_frame_util.h"
#include "kernels/kernels.h"
#include "media/synthetic.h"

#define WIDTH 320
#define HEIGHT 240

/* Assembles one single-message frame with decode_as; asserts it was accepted. */
static void assemble_as(const msgs *l, ride_pixel_format decode_as, ride_frame *out)
{
    rejects rs = {0};
    ride_frame_assembler_opts o = {.max_frame_bytes = (size_t)1 << 22, .on_reject = rejects_record,
                                   .ctx = &rs, .decode_as = decode_as};
    ride_frame_assembler *a = ride_frame_assembler_new_opts(&o);
    assert_non_null(a);
    assert_int_equal(l->count, 1);
    assert_int_equal(ride_frame_assembler_push(a, l->data[0], l->len[0], out), RIDE_FRAME_OK);
    assert_int_equal(rs.count, 0);
    ride_frame_assembler_free(a);
}

static void camera_frame(ride_frame *f)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(ride_synthetic_render(1, 7, WIDTH, HEIGHT, &f->image), 0);
    f->stream_id = 1;
    f->seq = 7;
}

/* Decodes the same message both ways: grey directly, and colour then the grayscale
 * kernel. Returns the largest difference; *mean gets the mean one. */
static int compare_to_convert(int quality, double *mean)
{
    ride_frame f, direct = {0}, colour = {0};
    camera_frame(&f);
    msgs l = {0};
    msgs_write(&l, &f, RIDE_ENC_JPEG, quality, (size_t)1 << 22);
    assemble_as(&l, RIDE_PIX_GRAY8, &direct);
    assemble_as(&l, 0, &colour);
    assert_int_equal(direct.image.format, RIDE_PIX_GRAY8);
    assert_int_equal(direct.image.width, WIDTH);
    assert_int_equal(direct.image.height, HEIGHT);
    assert_int_equal(direct.seq, 7);
    assert_int_equal(colour.image.format, RIDE_PIX_BGR8);
    ride_image converted = {0};
    assert_int_equal(ride_cpu_grayscale(&colour.image, &converted, 1), 0);
    int max = ride_test_max_abs_diff_u8(&direct.image, &converted);
    *mean = ride_test_mean_abs_diff_u8(&direct.image, &converted);
    printf("# jpeg q%d: luma vs decode-then-convert: max %d, mean %.4f\n", quality, max, *mean);
    ride_image_free(&converted);
    ride_frame_free(&colour);
    ride_frame_free(&direct);
    ride_frame_free(&f);
    msgs_free(&l);
    return max;
}

static void test_jpeg_decodes_to_its_luma(void **state)
{
    (void)state;
    static const int qualities[] = {75, 90, 100};
    for (size_t i = 0; i < sizeof qualities / sizeof qualities[0]; i++) {
        double mean;
        int max = compare_to_convert(qualities[i], &mean);
        assert_true(max <= 8);
        assert_true(mean < 0.05);
    }
}

static void test_raw_png_and_grey_frames_arrive_as_sent(void **state)
{
    (void)state;
    ride_frame f, got = {0};
    camera_frame(&f);
    msgs l = {0};
    msgs_write(&l, &f, RIDE_ENC_RAW, -1, (size_t)1 << 22);
    assemble_as(&l, RIDE_PIX_GRAY8, &got);
    assert_int_equal(got.image.format, RIDE_PIX_BGR8);
    assert_int_equal(ride_test_max_abs_diff_u8(&got.image, &f.image), 0);
    msgs_free(&l);
    msgs_write(&l, &f, RIDE_ENC_PNG, -1, (size_t)1 << 22);
    assemble_as(&l, RIDE_PIX_GRAY8, &got);
    assert_int_equal(got.image.format, RIDE_PIX_BGR8);
    assert_int_equal(ride_test_max_abs_diff_u8(&got.image, &f.image), 0);
    msgs_free(&l);

    ride_image grey = {0};
    assert_int_equal(ride_cpu_grayscale(&f.image, &grey, 1), 0);
    ride_frame g = {.image = grey, .stream_id = 1, .seq = 8};
    msgs_write(&l, &g, RIDE_ENC_PNG, -1, (size_t)1 << 22);
    assemble_as(&l, RIDE_PIX_GRAY8, &got);
    assert_int_equal(got.image.format, RIDE_PIX_GRAY8);
    assert_int_equal(ride_test_max_abs_diff_u8(&got.image, &grey), 0);
    msgs_free(&l);
    ride_frame_free(&g);
    ride_frame_free(&got);
    ride_frame_free(&f);
}

static void test_unknown_decode_format_is_refused(void **state)
{
    (void)state;
    rejects rs = {0};
    ride_frame_assembler_opts o = {.max_frame_bytes = 1024, .on_reject = rejects_record,
                                   .ctx = &rs, .decode_as = RIDE_PIX_BGR8};
    assert_null(ride_frame_assembler_new_opts(&o));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jpeg_decodes_to_its_luma),
        cmocka_unit_test(test_raw_png_and_grey_frames_arrive_as_sent),
        cmocka_unit_test(test_unknown_decode_format_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
