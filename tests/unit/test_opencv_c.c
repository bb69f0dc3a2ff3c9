/* The OpenCV shim: codecs, files, resize, video writer and capture, and that bad
 * input comes back as -1 with a message instead of an exception or a crash. */
#include "ride_test.h"

#include "media/opencv_c.h"
#include "media/synthetic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void make_random(ride_image *img, ride_pixel_format f, uint32_t w, uint32_t h,
                        uint32_t seed)
{
    assert_int_equal(ride_image_alloc(img, f, w, h), 0);
    ride_test_fill_random(img, seed);
}

static void assert_images_equal(const ride_image *a, const ride_image *b)
{
    assert_int_equal(a->format, b->format);
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->height, b->height);
    size_t row = ride_image_row_bytes(a->format, a->width);
    for (uint32_t y = 0; y < a->height; y++)
        assert_memory_equal(ride_image_row(a, y), ride_image_row(b, y), row);
}

static void encode_ok(const ride_image *img, ride_cv_codec codec, int quality, uint8_t **buf,
                      size_t *len)
{
    char err[256] = "";
    if (ride_cv_encode(img, codec, quality, buf, len, err, sizeof err) != 0)
        fail_msg("encode failed: %s", err);
    assert_true(*len > 0);
}

/* ---- codecs ------------------------------------------------------------------ */

static void test_png_round_trip_is_exact(void **state)
{
    (void)state;
    static const ride_pixel_format formats[] = {RIDE_PIX_GRAY8, RIDE_PIX_BGR8, RIDE_PIX_BGRA8,
                                                RIDE_PIX_GRAY16};
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
        ride_image src, back = {0};
        make_random(&src, formats[f], 57, 31, 10 + (uint32_t)f);
        uint8_t *buf;
        size_t len;
        encode_ok(&src, RIDE_CV_PNG, 3, &buf, &len);
        assert_memory_equal(buf, "\x89PNG", 4);
        char err[256] = "";
        if (ride_cv_decode(buf, len, formats[f], 1u << 20, &back, err, sizeof err) != 0)
            fail_msg("decode %s: %s", ride_pixel_format_name(formats[f]), err);
        assert_images_equal(&src, &back);
        free(buf);
        ride_image_free(&back);
        ride_image_free(&src);
    }
}

static void test_jpeg_round_trip_is_close(void **state)
{
    (void)state;
    ride_image src = {0}, back = {0};
    assert_int_equal(ride_synthetic_render(1, 2, 320, 240, &src), 0);
    uint8_t *fine, *coarse;
    size_t fine_len, coarse_len;
    encode_ok(&src, RIDE_CV_JPEG, 95, &fine, &fine_len);
    encode_ok(&src, RIDE_CV_JPEG, 20, &coarse, &coarse_len);
    assert_memory_equal(fine, "\xff\xd8", 2);
    assert_true(coarse_len < fine_len);

    char err[256] = "";
    if (ride_cv_decode(fine, fine_len, RIDE_PIX_BGR8, 1u << 20, &back, err, sizeof err) != 0)
        fail_msg("decode: %s", err);
    assert_int_equal(back.width, 320);
    assert_int_equal(back.height, 240);
    /* The frame's per-pixel noise is what JPEG loses most of. */
    double fine_err = ride_test_mean_abs_diff_u8(&src, &back);
    assert_true(fine_err > 0.0 && fine_err < 8.0);
    assert_int_equal(ride_cv_decode(coarse, coarse_len, RIDE_PIX_BGR8, 1u << 20, &back, err,
                                    sizeof err),
                     0);
    assert_true(ride_test_mean_abs_diff_u8(&src, &back) > fine_err);

    /* A colour JPEG decodes to grey and to BGRA on request. */
    assert_int_equal(ride_cv_decode(fine, fine_len, RIDE_PIX_GRAY8, 1u << 20, &back, err,
                                    sizeof err),
                     0);
    assert_int_equal(back.format, RIDE_PIX_GRAY8);
    assert_int_equal(ride_cv_decode(fine, fine_len, RIDE_PIX_BGRA8, 1u << 20, &back, err,
                                    sizeof err),
                     0);
    assert_int_equal(back.format, RIDE_PIX_BGRA8);
    assert_int_equal(ride_image_row(&back, 7)[4 * 9 + 3], 255);
    free(fine);
    free(coarse);
    ride_image_free(&back);
    ride_image_free(&src);
}

static void test_encode_rejects_unsupported_input(void **state)
{
    (void)state;
    ride_image img;
    make_random(&img, RIDE_PIX_GRAY16, 8, 8, 3);
    uint8_t *buf = (uint8_t *)&img;
    size_t len = 99;
    char err[256] = "";
    assert_int_equal(ride_cv_encode(&img, RIDE_CV_JPEG, -1, &buf, &len, err, sizeof err), -1);
    assert_null(buf);
    assert_int_equal(len, 0);
    assert_non_null(strstr(err, "gray16"));
    img.format = RIDE_PIX_GRAY32F;
    img.width = 4;
    assert_int_equal(ride_cv_encode(&img, RIDE_CV_PNG, -1, &buf, &len, err, sizeof err), -1);
    assert_int_equal(ride_cv_encode(NULL, RIDE_CV_PNG, -1, &buf, &len, err, sizeof err), -1);
    assert_int_equal(ride_cv_encode(&img, RIDE_CV_PNG, -1, NULL, &len, err, sizeof err), -1);
    ride_image_free(&img);
}

static void assert_decode_fails(const uint8_t *buf, size_t len, ride_pixel_format want,
                                uint64_t max_pixels, const char *expect)
{
    ride_image out = {0};
    char err[256] = "";
    assert_int_equal(ride_cv_decode(buf, len, want, max_pixels, &out, err, sizeof err), -1);
    assert_null(out.data);
    if (!strstr(err, expect))
        fail_msg("expected an error mentioning '%s', got '%s'", expect, err);
}

static void test_decode_rejects_bad_payloads(void **state)
{
    (void)state;
    uint8_t garbage[512];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)(i * 131 + 7);
    assert_decode_fails(garbage, sizeof garbage, RIDE_PIX_BGR8, 1u << 20, "not a PNG or JPEG");
    assert_decode_fails(garbage, 0, RIDE_PIX_BGR8, 1u << 20, "not a PNG or JPEG");
    assert_decode_fails(NULL, 10, RIDE_PIX_BGR8, 1u << 20, "not a PNG or JPEG");

    ride_image src = {0};
    assert_int_equal(ride_synthetic_render(4, 4, 64, 48, &src), 0);
    uint8_t *png, *jpg;
    size_t png_len, jpg_len;
    encode_ok(&src, RIDE_CV_PNG, -1, &png, &png_len);
    encode_ok(&src, RIDE_CV_JPEG, -1, &jpg, &jpg_len);

    assert_decode_fails(png, png_len / 2, RIDE_PIX_BGR8, 1u << 20, "corrupt or truncated");
    assert_decode_fails(png, 30, RIDE_PIX_BGR8, 1u << 20, "corrupt or truncated");
    assert_decode_fails(png, 16, RIDE_PIX_BGR8, 1u << 20, "not a PNG or JPEG");
    /* A JPEG cut off before its scan data: the size is readable, the pixels are not. */
    size_t sos = 2;
    while (sos + 1 < jpg_len && !(jpg[sos] == 0xFF && jpg[sos + 1] == 0xDA))
        sos++;
    assert_true(sos + 1 < jpg_len);
    assert_decode_fails(jpg, sos, RIDE_PIX_BGR8, 1u << 20, "corrupt or truncated");

    /* Unsupported target formats and a too small pixel budget. */
    assert_decode_fails(png, png_len, RIDE_PIX_RGB8, 1u << 20, "unsupported target format");
    assert_decode_fails(png, png_len, RIDE_PIX_GRAY32F, 1u << 20, "unsupported target format");
    assert_decode_fails(png, png_len, RIDE_PIX_GRAY16, 1u << 20, "16-bit");
    assert_decode_fails(png, png_len, RIDE_PIX_BGR8, 64 * 48 - 1, "dimensions");
    char err[64];
    assert_int_equal(ride_cv_decode(png, png_len, RIDE_PIX_BGR8, 1u << 20, NULL, err, sizeof err),
                     -1);
    free(png);
    free(jpg);
    ride_image_free(&src);
}

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A well-formed PNG signature and IHDR (8-bit RGB, valid CRC) claiming w x h,
 * followed by an empty IEND: decoding it honestly would allocate w x h x 3 bytes. */
static size_t craft_png_header(uint8_t *out, uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(out, sig, 8);
    put_be32(out + 8, 13);
    memcpy(out + 12, "IHDR", 4);
    put_be32(out + 16, w);
    put_be32(out + 20, h);
    out[24] = 8; /* bit depth */
    out[25] = 2; /* colour type: RGB */
    out[26] = out[27] = out[28] = 0;
    put_be32(out + 29, crc32_png(out + 12, 17));
    put_be32(out + 33, 0);
    memcpy(out + 37, "IEND", 4);
    put_be32(out + 41, crc32_png(out + 37, 4));
    return 45;
}

static void test_decode_refuses_huge_dimensions_before_allocating(void **state)
{
    (void)state;
    uint8_t png[64];
    size_t len = craft_png_header(png, 60000, 60000);
    assert_decode_fails(png, len, RIDE_PIX_BGR8, 100000000u, "dimensions");
    /* Above RIDE_IMAGE_MAX_DIM whatever the pixel budget. */
    len = craft_png_header(png, 70000, 1);
    assert_decode_fails(png, len, RIDE_PIX_GRAY8, UINT64_MAX, "dimensions");
    len = craft_png_header(png, 0, 10);
    assert_decode_fails(png, len, RIDE_PIX_GRAY8, UINT64_MAX, "dimensions");

    /* A JPEG start-of-frame claiming 65535 x 65535. */
    static const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0xFF, 0xFF, 0xFF,
                                   0xFF, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11,
                                   0x01, 0xFF, 0xD9};
    assert_decode_fails(jpeg, sizeof jpeg, RIDE_PIX_BGR8, 100000000u, "dimensions");
}

/* ---- files ------------------------------------------------------------------- */

typedef struct temp_dir {
    char path[256];
} temp_dir;

static void temp_dir_make(temp_dir *d)
{
    const char *base = getenv("TMPDIR");
    snprintf(d->path, sizeof d->path, "%s/ride-test-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(d->path));
}

static const char *temp_file(const temp_dir *d, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", d->path, name);
    return buf;
}

static void temp_dir_remove(temp_dir *d, const char *const *names, size_t count)
{
    char path[320];
    for (size_t i = 0; i < count; i++)
        unlink(temp_file(d, names[i], path, sizeof path));
    assert_int_equal(rmdir(d->path), 0);
}

static void test_read_write_files(void **state)
{
    (void)state;
    temp_dir dir;
    temp_dir_make(&dir);
    char png_path[320], jpg_path[320], path[320], err[256] = "";
    temp_file(&dir, "frame.png", png_path, sizeof png_path);
    temp_file(&dir, "frame.jpg", jpg_path, sizeof jpg_path);

    ride_image src = {0}, back = {0};
    assert_int_equal(ride_synthetic_render(8, 1, 90, 70, &src), 0);
    if (ride_cv_write_file(png_path, &src, err, sizeof err) != 0)
        fail_msg("write png: %s", err);
    assert_int_equal(ride_cv_read_file(png_path, RIDE_PIX_BGR8, &back, err, sizeof err), 0);
    assert_images_equal(&src, &back);
    assert_int_equal(ride_cv_write_file(jpg_path, &src, err, sizeof err), 0);
    assert_int_equal(ride_cv_read_file(jpg_path, RIDE_PIX_BGR8, &back, err, sizeof err), 0);
    assert_true(ride_test_mean_abs_diff_u8(&src, &back) < 8.0);
    assert_int_equal(ride_cv_read_file(jpg_path, RIDE_PIX_GRAY8, &back, err, sizeof err), 0);
    assert_int_equal(back.format, RIDE_PIX_GRAY8);

    assert_int_equal(ride_cv_read_file(temp_file(&dir, "missing.png", path, sizeof path),
                                       RIDE_PIX_BGR8, &back, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "missing.png"));
    assert_int_equal(ride_cv_write_file(temp_file(&dir, "no/such/dir.png", path, sizeof path),
                                        &src, err, sizeof err),
                     -1);
    err[0] = '\0';
    assert_int_equal(ride_cv_write_file(temp_file(&dir, "frame.unknown", path, sizeof path),
                                        &src, err, sizeof err),
                     -1);
    assert_true(err[0] != '\0');
    assert_int_equal(ride_cv_read_file(png_path, RIDE_PIX_GRAY32F, &back, err, sizeof err), -1);
    assert_int_equal(ride_cv_read_file(NULL, RIDE_PIX_BGR8, &back, err, sizeof err), -1);
    assert_int_equal(ride_cv_write_file(NULL, &src, err, sizeof err), -1);

    ride_image_free(&back);
    ride_image_free(&src);
    static const char *const names[] = {"frame.png", "frame.jpg", "frame.unknown"};
    temp_dir_remove(&dir, names, 3);
}

/* ---- resize ------------------------------------------------------------------ */

static void test_resize(void **state)
{
    (void)state;
    char err[256] = "";
    /* 2x2 blocks of one value each: area and nearest downscaling give the blocks. */
    ride_image src, dst;
    assert_int_equal(ride_image_alloc(&src, RIDE_PIX_GRAY8, 8, 6), 0);
    for (uint32_t y = 0; y < 6; y++)
        for (uint32_t x = 0; x < 8; x++)
            ride_image_row(&src, y)[x] = (uint8_t)(10 * (y / 2) + x / 2);
    assert_int_equal(ride_image_alloc(&dst, RIDE_PIX_GRAY8, 4, 3), 0);
    static const ride_cv_interp interps[] = {RIDE_CV_INTER_AREA, RIDE_CV_INTER_NEAREST};
    for (size_t i = 0; i < 2; i++) {
        memset(dst.data, 0, ride_image_size(&dst));
        if (ride_cv_resize(&src, &dst, interps[i], err, sizeof err) != 0)
            fail_msg("resize: %s", err);
        for (uint32_t y = 0; y < 3; y++)
            for (uint32_t x = 0; x < 4; x++)
                assert_int_equal(ride_image_row(&dst, y)[x], 10 * y + x);
    }

    /* Upscaling a constant colour keeps it. */
    ride_image bgr, big;
    assert_int_equal(ride_image_alloc(&bgr, RIDE_PIX_BGR8, 5, 3), 0);
    for (size_t i = 0; i < ride_image_size(&bgr); i++)
        bgr.data[i] = (uint8_t)(i % 3 == 0 ? 40 : i % 3 == 1 ? 120 : 200);
    assert_int_equal(ride_image_alloc(&big, RIDE_PIX_BGR8, 17, 11), 0);
    assert_int_equal(ride_cv_resize(&bgr, &big, RIDE_CV_INTER_LINEAR, err, sizeof err), 0);
    for (uint32_t y = 0; y < 11; y++)
        for (uint32_t x = 0; x < 17; x++)
            assert_memory_equal(ride_image_row(&big, y) + 3 * x, "\x28\x78\xc8", 3);

    assert_int_equal(ride_cv_resize(&bgr, &dst, RIDE_CV_INTER_LINEAR, err, sizeof err), -1);
    assert_int_equal(ride_cv_resize(NULL, &dst, RIDE_CV_INTER_LINEAR, err, sizeof err), -1);
    assert_int_equal(ride_cv_resize(&src, NULL, RIDE_CV_INTER_LINEAR, err, sizeof err), -1);
    err[0] = '\0';
    assert_int_equal(ride_cv_resize(&src, &dst, (ride_cv_interp)99, err, sizeof err), -1);
    assert_true(err[0] != '\0');
    ride_image_free(&big);
    ride_image_free(&bgr);
    ride_image_free(&dst);
    ride_image_free(&src);
}

/* ---- video ------------------------------------------------------------------- */

static void test_video_write_then_capture(void **state)
{
    (void)state;
    enum { FRAMES = 12, W = 96, H = 64 };
    temp_dir dir;
    temp_dir_make(&dir);
    char path[320], err[256] = "";
    temp_file(&dir, "clip.avi", path, sizeof path);

    ride_cv_writer *w = ride_cv_writer_open(path, W, H, 25.0, err, sizeof err);
    if (!w)
        fail_msg("writer: %s", err);
    ride_image frame = {0};
    for (uint64_t i = 0; i < FRAMES; i++) {
        assert_int_equal(ride_synthetic_render(6, i, W, H, &frame), 0);
        if (ride_cv_writer_write(w, &frame, err, sizeof err) != 0)
            fail_msg("write: %s", err);
    }
    ride_image wrong = {0};
    assert_int_equal(ride_synthetic_render(6, 0, W + 1, H, &wrong), 0);
    assert_int_equal(ride_cv_writer_write(w, &wrong, err, sizeof err), -1);
    assert_int_equal(ride_image_ensure(&wrong, RIDE_PIX_BGRA8, W, H), 0);
    assert_int_equal(ride_cv_writer_write(w, &wrong, err, sizeof err), -1);
    assert_int_equal(ride_cv_writer_write(NULL, &frame, err, sizeof err), -1);
    ride_image_free(&wrong);
    ride_cv_writer_close(w);

    ride_cv_capture *cap = ride_cv_capture_open(path, 0, err, sizeof err);
    if (!cap)
        fail_msg("capture: %s", err);
    double fps = ride_cv_capture_fps(cap);
    assert_true(fps > 24.9 && fps < 25.1);
    /* Frames come back in order: each is closer to its own source (JPEG loses
     * about half of the noise) than to the frame before it. */
    ride_image got = {0}, previous = {0};
    int frames = 0, rc;
    while ((rc = ride_cv_capture_read(cap, &got, err, sizeof err)) == 1) {
        assert_int_equal(got.format, RIDE_PIX_BGR8);
        assert_int_equal(got.width, W);
        assert_int_equal(got.height, H);
        assert_int_equal(ride_synthetic_render(6, (uint64_t)frames, W, H, &frame), 0);
        double own = ride_test_mean_abs_diff_u8(&frame, &got);
        assert_true(own < 10.0);
        if (frames > 0)
            assert_true(ride_test_mean_abs_diff_u8(&previous, &got) > own + 3.0);
        assert_int_equal(ride_synthetic_render(6, (uint64_t)frames, W, H, &previous), 0);
        frames++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(frames, FRAMES);
    ride_cv_capture_close(cap);
    ride_image_free(&previous);
    ride_image_free(&got);
    ride_image_free(&frame);
    static const char *const names[] = {"clip.avi"};
    temp_dir_remove(&dir, names, 1);
}

static void test_video_errors(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(ride_cv_capture_open("/nonexistent/ride/clip.avi", 0, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/ride/clip.avi"));
    assert_null(ride_cv_capture_open(NULL, 0, err, sizeof err));
    ride_image out = {0};
    assert_int_equal(ride_cv_capture_read(NULL, &out, err, sizeof err), -1);
    assert_true(ride_cv_capture_fps(NULL) == 0.0);
    ride_cv_capture_close(NULL);

    err[0] = '\0';
    assert_null(ride_cv_writer_open("/nonexistent/ride/out.avi", 8, 8, 10.0, err, sizeof err));
    assert_true(err[0] != '\0');
    assert_null(ride_cv_writer_open("x.avi", 0, 8, 10.0, err, sizeof err));
    assert_null(ride_cv_writer_open("x.avi", 8, 8, 0.0, err, sizeof err));
    assert_null(ride_cv_writer_open(NULL, 8, 8, 10.0, err, sizeof err));
    ride_cv_writer_close(NULL);
    assert_int_equal(access("x.avi", F_OK), -1);
}

static void test_version(void **state)
{
    (void)state;
    assert_memory_equal(ride_cv_version(), "4.", 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_round_trip_is_exact),
        cmocka_unit_test(test_jpeg_round_trip_is_close),
        cmocka_unit_test(test_encode_rejects_unsupported_input),
        cmocka_unit_test(test_decode_rejects_bad_payloads),
        cmocka_unit_test(test_decode_refuses_huge_dimensions_before_allocating),
        cmocka_unit_test(test_read_write_files),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_video_write_then_capture),
        cmocka_unit_test(test_video_errors),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
