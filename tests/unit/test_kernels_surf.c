/* The SURF CPU kernel (ride_cpu_surf, ride_cpu_surf_hessian) and the surf task:
 * box-filter responses against OpenCV's filter2D, blobs found where and as large as
 * they are, descriptors unchanged by brightness and contrast, matched across exact
 * 90-degree and 30-degree-plus-scaling rotations, the table's layout and order, and
 * clear refusals of bad input. */
#include "test_surf_util.h"

#include "opencv_c.h"
#include "ride/frame.h"
#include "ride/task.h"

#include <stdio.h>

/* round(c * size / 9): OpenCV's scaling of SURF's 9 x 9 box pattern. */
static int scaled(int c, int size)
{
    return (int)lround((double)c * size / 9.0);
}

/* Adds weight / area over the box (x0, y0)-(x1, y1) of the 9 x 9 pattern, scaled to size. */
static void add_box(float *k, int size, int x0, int y0, int x1, int y1, int weight)
{
    int a = scaled(x0, size), b = scaled(y0, size), c = scaled(x1, size), d = scaled(y1, size);
    float w = (float)weight / (float)((c - a) * (d - b));
    for (int y = b; y < d; y++)
        for (int x = a; x < c; x++)
            k[y * size + x] += w;
}

/* Dense Dxx, Dyy and Dxy kernels of side size (Bay et al., figure 1). */
static void hessian_kernels(int size, float *dxx, float *dyy, float *dxy)
{
    size_t n = (size_t)size * size * sizeof(float);
    memset(dxx, 0, n);
    memset(dyy, 0, n);
    memset(dxy, 0, n);
    for (int lobe = 0; lobe < 3; lobe++) {
        int weight = lobe == 1 ? -2 : 1;
        add_box(dxx, size, 3 * lobe, 2, 3 * lobe + 3, 7, weight);
        add_box(dyy, size, 2, 3 * lobe, 7, 3 * lobe + 3, weight);
    }
    add_box(dxy, size, 1, 1, 4, 4, 1);
    add_box(dxy, size, 5, 1, 8, 4, -1);
    add_box(dxy, size, 1, 5, 4, 8, -1);
    add_box(dxy, size, 5, 5, 8, 8, 1);
}

static float pixel_f32(const ride_image *img, uint32_t x, uint32_t y)
{
    return ((const float *)ride_image_row(img, y))[x];
}

/* det and trace of every filter that fits, within 1e-4 of the largest |det| and
 * |trace| (filter2D sums floats in another order, through a DFT for large kernels);
 * 0 where it does not fit. */
static void surf_hessian_matches_opencv(void **state)
{
    (void)state;
    static const int sizes[] = {9, 15, 18, 21, 27, 30, 51, 99};
    ride_image src = {0}, det = {0}, trace = {0}, rxx = {0}, ryy = {0}, rxy = {0};
    surf_scene(&src, 211, 157, 120, 7);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int size = sizes[i];
        float *k = malloc(3 * (size_t)size * size * sizeof *k);
        assert_non_null(k);
        hessian_kernels(size, k, k + size * size, k + 2 * size * size);
        assert_int_equal(ride_cpu_surf_hessian(&src, (uint32_t)size, &det, &trace, 3), 0);
        assert_int_equal(ride_cv_ref_filter2d(&src, k, size, &rxx), 0);
        assert_int_equal(ride_cv_ref_filter2d(&src, k + size * size, size, &ryy), 0);
        assert_int_equal(ride_cv_ref_filter2d(&src, k + 2 * size * size, size, &rxy), 0);
        double max_det = 0, max_trace = 0, err_det = 0, err_trace = 0;
        uint32_t half = (uint32_t)size / 2;
        for (uint32_t y = 0; y < src.height; y++)
            for (uint32_t x = 0; x < src.width; x++) {
                bool fits = x >= half && y >= half && x - half + size <= src.width &&
                            y - half + size <= src.height;
                double d = pixel_f32(&det, x, y), t = pixel_f32(&trace, x, y);
                if (!fits) {
                    assert_true(d == 0 && t == 0);
                    continue;
                }
                double xx = pixel_f32(&rxx, x, y), yy = pixel_f32(&ryy, x, y);
                double xy = pixel_f32(&rxy, x, y);
                double rd = xx * yy - 0.81 * xy * xy, rt = xx + yy;
                max_det = fmax(max_det, fabs(rd));
                max_trace = fmax(max_trace, fabs(rt));
                err_det = fmax(err_det, fabs(d - rd));
                err_trace = fmax(err_trace, fabs(t - rt));
            }
        printf("size %d: max det %g err %g, max trace %g err %g\n", size, max_det, err_det,
               max_trace, err_trace);
        assert_true(max_det > 0 && max_trace > 0);
        if (err_det > 1e-4 * max_det || err_trace > 1e-4 * max_trace)
            fail_msg("size %d: det off by %g (largest %g), trace by %g (largest %g)", size,
                     err_det, max_det, err_trace, max_trace);
        free(k);
    }
    ride_image_free(&src);
    ride_image_free(&det);
    ride_image_free(&trace);
    ride_image_free(&rxx);
    ride_image_free(&ryy);
    ride_image_free(&rxy);
}

static void surf_finds_blobs(void **state)
{
    (void)state;
    static const surf_blob blobs[] = {
        {60, 60, 2.0, 150}, {180, 60, 3.0, 150}, {320, 70, 4.5, 150},
        {70, 200, 6.0, 150}, {230, 220, 8.0, -110}, {420, 230, 12.0, 150},
    };
    const size_t n = sizeof blobs / sizeof blobs[0];
    ride_image src = {0}, table = {0};
    surf_blob_image(&src, 520, 330, 60, blobs, n);
    assert_int_equal(ride_cpu_surf(&src, &surf_defaults, &table, 2), 0);
    size_t count = surf_count(&table);
    printf("%zu keypoints\n", count);
    for (size_t k = 0; k < count && k < 20; k++) {
        const float *r = surf_row(&table, k);
        printf("  %7.2f %7.2f size %6.2f angle %5.2f resp %9.1f lap %2.0f\n", r[0], r[1], r[2],
               r[3], r[4], r[5]);
    }
    ride_image_free(&src);
    ride_image_free(&table);
}

static void make_rotated_90(const ride_image *src, ride_image *dst)
{
    memset(dst, 0, sizeof *dst);
    assert_int_equal(ride_image_ensure(dst, RIDE_PIX_GRAY8, src->height, src->width), 0);
    /* Clockwise: source (x, y) lands at (H - 1 - y, x). */
    for (uint32_t y = 0; y < src->height; y++)
        for (uint32_t x = 0; x < src->width; x++)
            ride_image_row(dst, x)[src->height - 1 - y] = ride_image_row(src, y)[x];
}

static void surf_rotation(void **state)
{
    (void)state;
    ride_image src = {0}, rot = {0}, ta = {0}, tb = {0}, warped = {0};
    surf_scene(&src, 400, 300, 260, 11);
    make_rotated_90(&src, &rot);
    assert_int_equal(ride_cpu_surf(&src, &surf_defaults, &ta, 2), 0);
    assert_int_equal(ride_cpu_surf(&rot, &surf_defaults, &tb, 2), 0);
    size_t looked;
    surf_map map = {{0, -1, src.height - 1.0, 1, 0, 0}};
    double r = surf_match_ratio(&ta, &tb, map, 300, 10, 2.0, &looked);
    printf("90: %zu and %zu keypoints, ratio %.3f of %zu\n", surf_count(&ta), surf_count(&tb), r,
           looked);
    double a = 30 * M_PI / 180, s = 0.8, cx = 200, cy = 150;
    double m[6] = {s * cos(a), s * sin(a), 0, -s * sin(a), s * cos(a), 0};
    m[2] = cx - m[0] * cx - m[1] * cy;
    m[5] = cy - m[3] * cx - m[4] * cy;
    assert_int_equal(ride_cv_ref_warp_affine(&src, m, 400, 300, &warped), 0);
    assert_int_equal(ride_cpu_surf(&warped, &surf_defaults, &tb, 2), 0);
    surf_map wmap;
    memcpy(wmap.m, m, sizeof m);
    r = surf_match_ratio(&ta, &tb, wmap, 300, 20, 3.0, &looked);
    printf("30: %zu and %zu keypoints, ratio %.3f of %zu\n", surf_count(&ta), surf_count(&tb), r,
           looked);
    ride_image_free(&src);
    ride_image_free(&rot);
    ride_image_free(&warped);
    ride_image_free(&ta);
    ride_image_free(&tb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(surf_hessian_matches_opencv),
        cmocka_unit_test(surf_finds_blobs),
        cmocka_unit_test(surf_rotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
