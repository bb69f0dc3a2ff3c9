/* Host images: the pixel-format table, allocation refusing bad shapes, buffer
 * reuse by ride_image_ensure, and wrapped memory the image does not own. */
#include "ride_test.h"

#include <string.h>

static void test_format_table(void **state)
{
    (void)state;
    assert_int_equal(ride_pixel_channels(RIDE_PIX_BGR8), 3);
    assert_int_equal(ride_pixel_bytes(RIDE_PIX_GRAY16), 2);
    assert_int_equal(ride_pixel_bytes(RIDE_PIX_GRAY32F), 4);
    assert_int_equal(ride_pixel_bytes((ride_pixel_format)99), 0);
    assert_string_equal(ride_pixel_format_name(RIDE_PIX_BGRA8), "bgra8");
    assert_int_equal(ride_pixel_format_from_name("gray8"), RIDE_PIX_GRAY8);
    assert_int_equal(ride_pixel_format_from_name("yuv420"), RIDE_PIX_INVALID);
    assert_int_equal(ride_pixel_format_from_name(NULL), RIDE_PIX_INVALID);
}

static void test_alloc_rejects_bad_shapes(void **state)
{
    (void)state;
    ride_image img;
    assert_int_equal(ride_image_alloc(&img, RIDE_PIX_GRAY8, 0, 10), -1);
    assert_int_equal(ride_image_alloc(&img, RIDE_PIX_GRAY8, 10, 0), -1);
    assert_int_equal(ride_image_alloc(&img, RIDE_PIX_BGR8, RIDE_IMAGE_MAX_DIM + 1, 1), -1);
    assert_int_equal(ride_image_alloc(&img, RIDE_PIX_INVALID, 10, 10), -1);
    assert_null(img.data);
}

static void test_ensure_reuses_buffer(void **state)
{
    (void)state;
    ride_image img;
    assert_int_equal(ride_image_alloc(&img, RIDE_PIX_BGR8, 33, 7), 0);
    assert_int_equal(img.stride, 99);
    assert_int_equal(ride_image_size(&img), 99 * 7);
    uint8_t *before = img.data;
    assert_int_equal(ride_image_ensure(&img, RIDE_PIX_BGR8, 33, 7), 0);
    assert_ptr_equal(img.data, before);
    assert_int_equal(ride_image_ensure(&img, RIDE_PIX_GRAY8, 64, 64), 0);
    assert_int_equal(img.stride, 64);
    ride_image_free(&img);
    assert_null(img.data);
}

static void test_wrap_does_not_own(void **state)
{
    (void)state;
    uint8_t pixels[4 * 3];
    ride_image img;
    ride_image_wrap(&img, RIDE_PIX_GRAY8, 3, 3, 4, pixels);
    assert_ptr_equal(ride_image_row(&img, 2), pixels + 8);
    ride_image_free(&img);  /* must not free the stack buffer */
    assert_null(img.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_table),
        cmocka_unit_test(test_alloc_rejects_bad_shapes),
        cmocka_unit_test(test_ensure_reuses_buffer),
        cmocka_unit_test(test_wrap_does_not_own),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
