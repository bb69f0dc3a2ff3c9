/* The synthetic camera: strict URI parsing and deterministic frames. */
#include "ride_test.h"

#include "kernels/kernels.h"
#include "media/synthetic.h"

#include <stdlib.h>
#include <string.h>

static void assert_parses(const char *uri, uint32_t w, uint32_t h, double fps)
{
    ride_synthetic_spec spec;
    char why[160] = "";
    if (ride_synthetic_parse(uri, &spec, why, sizeof why) != 0)
        fail_msg("'%s' refused: %s", uri, why);
    assert_int_equal(spec.width, w);
    assert_int_equal(spec.height, h);
    assert_true(spec.fps > fps - 1e-9 && spec.fps < fps + 1e-9);
}

static void test_parse_accepts_valid_uris(void **state)
{
    (void)state;
    assert_parses("synthetic:900x900@30", 900, 900, 30.0);
    assert_parses("synthetic:1x1@1000", 1, 1, 1000.0);
    assert_parses("synthetic:65536x2@0.5", 65536, 2, 0.5);
    assert_parses("synthetic:640x480@29.97", 640, 480, 29.97);
    assert_parses("synthetic:3x65536@0.000001", 3, 65536, 0.000001);
    assert_parses("synthetic:10x20@1000.000000", 10, 20, 1000.0);
}

static void test_parse_rejects_malformed_uris(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "synthetic:", "synthetic", "Synthetic:5x5@30", " synthetic:5x5@30",
        "synthetic:5x5", "synthetic:5x5@", "synthetic:5x@30", "synthetic:x5@30",
        "synthetic:5X5@30", "synthetic:5*5@30", "synthetic:5x5@30 ", "synthetic:5x5@30fps",
        "synthetic:5x5@30@30", "synthetic:0x5@30", "synthetic:5x0@30", "synthetic:05x5@30",
        "synthetic:65537x5@30", "synthetic:5x65537@30", "synthetic:99999999999999999999x5@30",
        "synthetic:-5x5@30", "synthetic:+5x5@30", "synthetic:5x5@-1", "synthetic:5x5@+30",
        "synthetic:5x5@0", "synthetic:5x5@0.0", "synthetic:5x5@0.0000001", "synthetic:5x5@1000.5",
        "synthetic:5x5@1001", "synthetic:5x5@030", "synthetic:5x5@1e2", "synthetic:5x5@.5",
        "synthetic:5x5@5.", "synthetic:5x5@nan", "synthetic:5x5@inf", "synthetic:5x5@0x1E",
        "synthetic:5x5@3,5", "synthetic: 5x5@30", "synthetic:5 x5@30",
        "synthetic:5x5@99999999999999999999",
    };
    ride_synthetic_spec spec = {7, 7, 7.0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char why[160] = "";
        if (ride_synthetic_parse(bad[i], &spec, why, sizeof why) != -1)
            fail_msg("'%s' accepted", bad[i]);
        if (why[0] == '\0')
            fail_msg("'%s' refused without a reason", bad[i]);
    }
    assert_int_equal(spec.width, 7);
    assert_int_equal(ride_synthetic_parse(NULL, &spec, NULL, 0), -1);
    assert_int_equal(ride_synthetic_parse("synthetic:5x5@30", NULL, NULL, 0), -1);

    char why[160];
    ride_synthetic_parse("synthetic:5x5@1001", &spec, why, sizeof why);
    assert_non_null(strstr(why, "fps"));
    ride_synthetic_parse("synthetic:70000x5@1", &spec, why, sizeof why);
    assert_non_null(strstr(why, "width"));
    char tiny[8];
    ride_synthetic_parse("nope", &spec, tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
}

/* FNV-1a over the pixels (not the padding), to pin frames to known values. */
static uint64_t frame_hash(const ride_image *img)
{
    uint64_t h = 0xcbf29ce484222325u;
    size_t row = ride_image_row_bytes(img->format, img->width);
    for (uint32_t y = 0; y < img->height; y++)
        for (size_t i = 0; i < row; i++)
            h = (h ^ ride_image_row(img, y)[i]) * 0x100000001b3u;
    return h;
}

static uint64_t render_hash(uint64_t stream, uint64_t seq, uint32_t w, uint32_t h)
{
    ride_image img = {0};
    assert_int_equal(ride_synthetic_render(stream, seq, w, h, &img), 0);
    assert_int_equal(img.format, RIDE_PIX_BGR8);
    assert_int_equal(img.width, w);
    assert_int_equal(img.height, h);
    uint64_t hash = frame_hash(&img);
    ride_image_free(&img);
    return hash;
}

/* The bytes are part of the contract (consumers recompute frames): these values
 * must never change, whatever the compiler, CPU or vector width. */
static void test_frames_match_golden_hashes(void **state)
{
    (void)state;
    assert_int_equal(render_hash(7, 42, 64, 48), 0x7c81999185208378u);
    assert_int_equal(render_hash(0, 0, 37, 5), 0x35e56dc911537c83u);
    assert_int_equal(render_hash(UINT64_MAX, UINT64_MAX, 1, 1), 0xa35e9c1bb3c1175au);
    assert_int_equal(render_hash(3, 1000000007, 900, 900), 0xf4ac55cfd18e67d7u);
}

static void test_frames_are_deterministic_and_distinct(void **state)
{
    (void)state;
    uint64_t base = render_hash(11, 100, 160, 120);
    assert_int_equal(render_hash(11, 100, 160, 120), base);
    assert_int_not_equal(render_hash(11, 101, 160, 120), base);
    assert_int_not_equal(render_hash(12, 100, 160, 120), base);
    assert_int_not_equal(render_hash(11, 100 + (1ull << 32), 160, 120), base);
    assert_int_not_equal(render_hash(11 + (1ull << 32), 100, 160, 120), base);

    /* Every pair among a few streams and sequence numbers differs. */
    uint64_t seen[4 * 8];
    size_t n = 0;
    for (uint64_t s = 0; s < 4; s++)
        for (uint64_t q = 0; q < 8; q++) {
            uint64_t h = render_hash(s, q, 32, 24);
            for (size_t i = 0; i < n; i++)
                assert_int_not_equal(seen[i], h);
            seen[n++] = h;
        }
}

/* Rendering into a caller's buffer (with row padding) gives the same pixels and
 * leaves the padding alone. */
static void test_render_into_caller_buffer(void **state)
{
    (void)state;
    const uint32_t w = 75, h = 41;
    const size_t stride = 75 * 3 + 13;
    uint8_t *buf = malloc(stride * h);
    assert_non_null(buf);
    memset(buf, 0xA5, stride * h);
    ride_image wrapped, own = {0};
    ride_image_wrap(&wrapped, RIDE_PIX_BGR8, w, h, stride, buf);
    assert_int_equal(ride_synthetic_render_into(5, 9, &wrapped), 0);
    assert_int_equal(ride_synthetic_render(5, 9, w, h, &own), 0);
    assert_int_equal(ride_test_max_abs_diff_u8(&wrapped, &own), 0);
    for (uint32_t y = 0; y < h; y++)
        for (size_t i = 75 * 3; i < stride; i++)
            assert_int_equal(buf[y * stride + i], 0xA5);

    uint8_t *before = own.data;
    assert_int_equal(ride_synthetic_render(5, 10, w, h, &own), 0);
    assert_ptr_equal(own.data, before);
    ride_image_free(&own);
    free(buf);
}

static void test_render_odd_sizes(void **state)
{
    (void)state;
    static const uint32_t sizes[][2] = {{1, 1}, {1, 300}, {300, 1}, {2, 2}, {3, 7}, {1023, 3}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (uint64_t seq = 0; seq < 3; seq++)
            (void)render_hash(seq, UINT64_MAX - seq, sizes[i][0], sizes[i][1]);
}

static void test_render_rejects_bad_targets(void **state)
{
    (void)state;
    ride_image img = {0};
    assert_int_equal(ride_synthetic_render(1, 1, 0, 10, &img), -1);
    assert_int_equal(ride_synthetic_render(1, 1, 10, RIDE_IMAGE_MAX_DIM + 1, &img), -1);
    assert_int_equal(ride_synthetic_render(1, 1, 10, 10, NULL), -1);
    assert_int_equal(ride_synthetic_render_into(1, 1, NULL), -1);
    assert_int_equal(ride_image_alloc(&img, RIDE_PIX_BGRA8, 4, 4), 0);
    assert_int_equal(ride_synthetic_render_into(1, 1, &img), -1);
    img.format = RIDE_PIX_BGR8;
    img.stride = 11;
    assert_int_equal(ride_synthetic_render_into(1, 1, &img), -1);
    img.stride = 12;
    img.height = 0;
    assert_int_equal(ride_synthetic_render_into(1, 1, &img), -1);
    img.height = 4;
    assert_int_equal(ride_synthetic_render_into(1, 1, &img), 0);
    ride_image_free(&img);
}

/* The content gives the stddev kernel something to measure: flat shapes (zero),
 * gradients with noise (a floor of a few levels) and edges (large values). */
static void test_frames_have_structure(void **state)
{
    (void)state;
    ride_image frame = {0}, gray = {0}, sd = {0};
    assert_int_equal(ride_synthetic_render(2, 77, 320, 240, &frame), 0);
    assert_int_equal(ride_cpu_grayscale(&frame, &gray, 1), 0);
    assert_int_equal(ride_cpu_stddev(&gray, &sd, 5, 1), 0);
    size_t flat = 0, noisy = 0, edges = 0, total = (size_t)320 * 240;
    for (uint32_t y = 0; y < 240; y++)
        for (uint32_t x = 0; x < 320; x++) {
            uint8_t v = ride_image_row(&sd, y)[x];
            flat += v == 0;
            noisy += v >= 3 && v <= 20;
            edges += v >= 40;
        }
    assert_true(flat > total / 50);
    assert_true(noisy > total / 3);
    assert_true(edges > total / 200);

    /* The shapes move: the flat area is not in the same place one frame later. */
    ride_image next = {0}, next_gray = {0}, next_sd = {0};
    assert_int_equal(ride_synthetic_render(2, 78, 320, 240, &next), 0);
    assert_int_equal(ride_cpu_grayscale(&next, &next_gray, 1), 0);
    assert_int_equal(ride_cpu_stddev(&next_gray, &next_sd, 5, 1), 0);
    size_t moved = 0;
    for (uint32_t y = 0; y < 240; y++)
        for (uint32_t x = 0; x < 320; x++)
            moved += (ride_image_row(&sd, y)[x] == 0) != (ride_image_row(&next_sd, y)[x] == 0);
    assert_true(moved > 0);

    ride_image_free(&next_sd);
    ride_image_free(&next_gray);
    ride_image_free(&next);
    ride_image_free(&sd);
    ride_image_free(&gray);
    ride_image_free(&frame);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_accepts_valid_uris),
        cmocka_unit_test(test_parse_rejects_malformed_uris),
        cmocka_unit_test(test_frames_match_golden_hashes),
        cmocka_unit_test(test_frames_are_deterministic_and_distinct),
        cmocka_unit_test(test_render_into_caller_buffer),
        cmocka_unit_test(test_render_odd_sizes),
        cmocka_unit_test(test_render_rejects_bad_targets),
        cmocka_unit_test(test_frames_have_structure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
