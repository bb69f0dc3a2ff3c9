/* The SURF CPU kernel (ride_cpu_surf, ride_cpu_surf_hessian) and the surf task:
 * box-filter responses against OpenCV's filter2D, blobs found where and as large as
 * they are, descriptors unchanged by brightness and contrast, matched across exact
 * 90-degree and 30-degree-plus-scaling rotations, the table's layout and order, and
 * clear refusals of bad input. */
#include "test_surf_util.h"

#include "../../kernels/surf_core.h"
#include "media/opencv_c.h"
#include "tasks/host.h"
#include "wire/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* det and trace of every filter that fits, within 1e-5 of the largest |det| and
 * |trace| (filter2D sums floats in another order, through a DFT for large kernels;
 * measured: under 1e-6); 0 where it does not fit. */
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
        assert_true(max_det > 0 && max_trace > 0);
        if (err_det > 1e-5 * max_det || err_trace > 1e-5 * max_trace)
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

/* The integral image surf_hessian reads: (w + 1) x (h + 1), row and column 0 zero. */
static uint32_t *integral_of(const ride_image *src)
{
    const size_t stride = (size_t)src->width + 1;
    uint32_t *sum = calloc(stride * (src->height + 1), sizeof *sum);
    assert_non_null(sum);
    for (uint32_t y = 0; y < src->height; y++) {
        const uint8_t *row = ride_image_row(src, y);
        uint32_t run = 0;
        for (uint32_t x = 0; x < src->width; x++) {
            run += row[x];
            sum[(y + 1) * stride + x + 1] = sum[y * stride + x + 1] + run;
        }
    }
    return sum;
}

/* The CPU fills whole rows of responses at once; the GPU computes each cell with
 * surf_hessian. Both must give the same floats, bit for bit, so that the two
 * find the same keypoints. */
static void surf_hessian_rows_are_the_per_cell_formula(void **state)
{
    (void)state;
    ride_image src = {0}, det = {0}, trace = {0};
    surf_scene(&src, 203, 149, 90, 11);
    uint32_t *sum = integral_of(&src);
    for (int layer = 0; layer < 4; layer++) {
        surf_layer l;
        ride_surf_layer_make(&l, 0, layer, (int)src.width, (int)src.height);
        assert_int_equal(ride_cpu_surf_hessian(&src, (uint32_t)l.size, &det, &trace, 2), 0);
        size_t checked = 0;
        for (uint32_t y = 0; y < src.height; y++)
            for (uint32_t x = 0; x < src.width; x++) {
                float d, t;
                surf_hessian(sum, (size_t)src.width + 1, &l, (int)y, (int)x, &d, &t);
                float got_d = pixel_f32(&det, x, y), got_t = pixel_f32(&trace, x, y);
                if (memcmp(&got_d, &d, sizeof d) != 0 || memcmp(&got_t, &t, sizeof t) != 0)
                    fail_msg("size %d at (%u, %u): det %.9g, per cell %.9g; trace %.9g, per "
                             "cell %.9g", l.size, x, y, got_d, d, got_t, t);
                checked += d != 0;
            }
        assert_true(checked > src.width * src.height / 2);
    }
    free(sum);
    ride_image_free(&src);
    ride_image_free(&det);
    ride_image_free(&trace);
}

/* Every blob of sigma >= 3 is found within 0.5 px of its centre by its strongest
 * keypoint nearby, with a filter size of 4.5 to 7.5 sigma (measured: 5.2 to 7.3;
 * the 9 x 9 filter matches sigma 1.2 only roughly for Gaussian blobs) and the
 * Laplacian sign of its polarity; no keypoint lies off the blobs. A blob of sigma 2
 * is below the smallest middle-layer filter (15) and is not found. */
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
    for (size_t b = 0; b < n; b++) {
        const float *best = NULL;
        for (size_t k = 0; k < count && !best; k++) {
            const float *r = surf_row(&table, k);
            if (hypot(r[0] - blobs[b].x, r[1] - blobs[b].y) < 2 * blobs[b].sigma)
                best = r; /* rows are sorted: the first is the strongest */
        }
        if (blobs[b].sigma < 3) {
            assert_null(best);
            continue;
        }
        if (!best)
            fail_msg("blob %zu (sigma %.1f) not found", b, blobs[b].sigma);
        double dist = hypot(best[0] - blobs[b].x, best[1] - blobs[b].y);
        double ratio = best[RIDE_SURF_COL_SIZE] / blobs[b].sigma;
        if (dist > 0.5 || ratio < 4.5 || ratio > 7.5)
            fail_msg("blob %zu (sigma %.1f): found %.2f px away, size %.1f sigma", b,
                     blobs[b].sigma, dist, ratio);
        assert_true(best[RIDE_SURF_COL_LAPLACIAN] == (blobs[b].amplitude > 0 ? -1.0f : 1.0f));
    }
    for (size_t k = 0; k < count; k++) {
        const float *r = surf_row(&table, k);
        double nearest = INFINITY;
        for (size_t b = 0; b < n; b++)
            nearest = fmin(nearest, hypot(r[0] - blobs[b].x, r[1] - blobs[b].y));
        if (nearest > 1.5)
            fail_msg("keypoint %zu at (%.1f, %.1f) is off every blob", k, r[0], r[1]);
    }
    ride_image_free(&src);
    ride_image_free(&table);
}

/* dst = round(gain src + offset), which stays inside 0..255 for the scene. */
static void change_brightness(const ride_image *src, double gain, double offset, ride_image *dst)
{
    memset(dst, 0, sizeof *dst);
    assert_int_equal(ride_image_ensure(dst, RIDE_PIX_GRAY8, src->width, src->height), 0);
    for (uint32_t y = 0; y < src->height; y++)
        for (uint32_t x = 0; x < src->width; x++) {
            double v = floor(gain * ride_image_row(src, y)[x] + offset + 0.5);
            assert_true(v >= 0 && v <= 255);
            ride_image_row(dst, y)[x] = (uint8_t)v;
        }
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Brightness and contrast (gain 0.7, offset 50, rounded to 8 bits; the threshold
 * scales with gain^2, so it is lowered to match): at most 5 of the 200 strongest
 * keypoints move by more than 0.3 px (measured: 3); of the others, the median
 * descriptor distance is at most 0.05 and 90 % lie within 0.2 (measured: 0.02 and
 * 0.13; the rounding to 8 bits turns some orientations by a few degrees). */
static void surf_invariant_to_brightness_and_contrast(void **state)
{
    (void)state;
    ride_image src = {0}, bright = {0}, ta = {0}, tb = {0};
    surf_scene(&src, 400, 300, 260, 5);
    change_brightness(&src, 0.7, 50, &bright);
    ride_surf_params p = surf_defaults;
    assert_int_equal(ride_cpu_surf(&src, &p, &ta, 2), 0);
    p.hessian_threshold *= 0.49f;
    assert_int_equal(ride_cpu_surf(&bright, &p, &tb, 2), 0);
    size_t nb = surf_count(&tb), found = 0;
    double dist[200];
    assert_true(surf_count(&ta) >= 200);
    for (size_t i = 0; i < 200; i++) {
        const float *ra = surf_row(&ta, i), *match = NULL;
        for (size_t j = 0; j < nb && !match; j++) {
            const float *rb = surf_row(&tb, j);
            if (hypot(ra[0] - rb[0], ra[1] - rb[1]) <= 0.3 && fabsf(ra[2] - rb[2]) <= 0.5f)
                match = rb;
        }
        if (match)
            dist[found++] = surf_desc_distance(ra, match);
    }
    qsort(dist, found, sizeof dist[0], compare_double);
    if (found < 195 || dist[found / 2] > 0.05 || dist[found * 9 / 10] > 0.2)
        fail_msg("%zu of 200 found again, median distance %.3f, 90th percentile %.3f", found,
                 dist[found / 2], dist[found * 9 / 10]);
    ride_image_free(&src);
    ride_image_free(&bright);
    ride_image_free(&ta);
    ride_image_free(&tb);
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

/* An exact 90-degree rotation: of the 300 strongest keypoints (at least 10 px inside),
 * at least 90 % find their nearest descriptor at their rotated place, within 2 px
 * (measured: 99.7 %). */
static void surf_matches_across_90_degrees(void **state)
{
    (void)state;
    ride_image src = {0}, rot = {0}, ta = {0}, tb = {0};
    surf_scene(&src, 400, 300, 260, 11);
    make_rotated_90(&src, &rot);
    assert_int_equal(ride_cpu_surf(&src, &surf_defaults, &ta, 2), 0);
    assert_int_equal(ride_cpu_surf(&rot, &surf_defaults, &tb, 2), 0);
    size_t looked;
    surf_map map = {{0, -1, src.height - 1.0, 1, 0, 0}};
    double ratio = surf_match_ratio(&ta, &tb, map, 300, 10, 2.0, &looked);
    if (looked < 250 || ratio < 0.9)
        fail_msg("90 degrees: %.3f of %zu keypoints matched", ratio, looked);
    ride_image_free(&src);
    ride_image_free(&rot);
    ride_image_free(&ta);
    ride_image_free(&tb);
}

/* cv::warpAffine by 30 degrees and a scale of 0.8 about the centre (bilinear, so the
 * pixels change too): of the 300 strongest keypoints that stay 20 px inside, at least
 * 55 % find their nearest descriptor within 3 px of their mapped place (measured:
 * 69.8 %); upright descriptors, which ignore the rotation, match far fewer. */
static void surf_matches_across_rotation_and_scale(void **state)
{
    (void)state;
    ride_image src = {0}, warped = {0}, ta = {0}, tb = {0};
    surf_scene(&src, 400, 300, 260, 11);
    double a = 30 * M_PI / 180, s = 0.8, cx = 200, cy = 150;
    surf_map map = {{s * cos(a), s * sin(a), 0, -s * sin(a), s * cos(a), 0}};
    map.m[2] = cx - map.m[0] * cx - map.m[1] * cy;
    map.m[5] = cy - map.m[3] * cx - map.m[4] * cy;
    assert_int_equal(ride_cv_ref_warp_affine(&src, map.m, 400, 300, &warped), 0);
    assert_int_equal(ride_cpu_surf(&src, &surf_defaults, &ta, 2), 0);
    assert_int_equal(ride_cpu_surf(&warped, &surf_defaults, &tb, 2), 0);
    size_t looked;
    double ratio = surf_match_ratio(&ta, &tb, map, 300, 20, 3.0, &looked);
    ride_surf_params upright = surf_defaults;
    upright.upright = 1;
    assert_int_equal(ride_cpu_surf(&src, &upright, &ta, 2), 0);
    assert_int_equal(ride_cpu_surf(&warped, &upright, &tb, 2), 0);
    size_t looked_upright;
    double ratio_upright = surf_match_ratio(&ta, &tb, map, 300, 20, 3.0, &looked_upright);
    if (looked < 200 || ratio < 0.55)
        fail_msg("30 degrees, scale 0.8: %.3f of %zu keypoints matched", ratio, looked);
    assert_true(ratio_upright < ratio / 2);
    ride_image_free(&src);
    ride_image_free(&warped);
    ride_image_free(&ta);
    ride_image_free(&tb);
}

/* The header; rows sorted by response, then y and x; unit descriptors; angles in
 * [0, 2 pi) and 0 when upright; max_keypoints keeps a prefix; the thread count
 * changes nothing. */
static void surf_table_layout_and_order(void **state)
{
    (void)state;
    ride_image src = {0}, table = {0}, other = {0};
    surf_scene(&src, 300, 200, 150, 3);
    assert_int_equal(ride_cpu_surf(&src, &surf_defaults, &table, 1), 0);
    const float *header = (const float *)ride_image_row(&table, 0);
    size_t count = surf_count(&table);
    assert_true(count > 50);
    assert_true(header[1] == RIDE_SURF_DESC_LEN && header[2] == 300 && header[3] == 200);
    for (int k = 4; k < RIDE_SURF_COLUMNS; k++)
        assert_true(header[k] == 0);
    for (size_t k = 0; k < count; k++) {
        const float *r = surf_row(&table, k);
        double norm = 0;
        for (int d = 0; d < RIDE_SURF_DESC_LEN; d++)
            norm += (double)r[RIDE_SURF_COL_DESC + d] * r[RIDE_SURF_COL_DESC + d];
        assert_true(fabs(sqrt(norm) - 1) < 1e-5);
        assert_true(r[RIDE_SURF_COL_ANGLE] >= 0 && r[RIDE_SURF_COL_ANGLE] < 2 * M_PI);
        assert_true(r[RIDE_SURF_COL_RESPONSE] > surf_defaults.hessian_threshold);
        assert_true(fabsf(r[RIDE_SURF_COL_LAPLACIAN]) == 1.0f);
        if (k == 0)
            continue;
        const float *q = surf_row(&table, k - 1);
        assert_true(q[4] > r[4] || (q[4] == r[4] && (q[1] < r[1] || (q[1] == r[1] && q[0] <= r[0]))));
    }
    assert_int_equal(ride_cpu_surf(&src, &surf_defaults, &other, 4), 0);
    surf_expect_identical(&other, &table);
    ride_surf_params p = surf_defaults;
    p.max_keypoints = 10;
    assert_int_equal(ride_cpu_surf(&src, &p, &other, 2), 0);
    assert_int_equal(surf_count(&other), 10);
    for (uint32_t y = 1; y <= 10; y++)
        assert_memory_equal(ride_image_row(&other, y), ride_image_row(&table, y),
                            RIDE_SURF_COLUMNS * sizeof(float));
    p = surf_defaults;
    p.upright = 1;
    assert_int_equal(ride_cpu_surf(&src, &p, &other, 2), 0);
    assert_int_equal(surf_count(&other), count);
    for (size_t k = 0; k < count; k++)
        assert_true(surf_row(&other, k)[RIDE_SURF_COL_ANGLE] == 0.0f);
    ride_image_free(&src);
    ride_image_free(&table);
    ride_image_free(&other);
}

/* Images too small for any filter, flat images and a threshold above every response
 * give a header alone. */
static void surf_empty_tables(void **state)
{
    (void)state;
    static const uint32_t sides[][2] = {{1, 1}, {8, 8}, {30, 1}, {1, 40}, {20, 20}};
    ride_image src = {0}, table = {0};
    for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++) {
        ride_test_random_image(&src, RIDE_PIX_GRAY8, sides[i][0], sides[i][1], 3, (uint32_t)i);
        assert_int_equal(ride_cpu_surf(&src, &surf_defaults, &table, 2), 0);
        assert_int_equal(surf_count(&table), 0);
        assert_true(((const float *)ride_image_row(&table, 0))[2] == (float)sides[i][0]);
        ride_image_free(&src);
    }
    surf_blob_image(&src, 200, 150, 90, NULL, 0);
    assert_int_equal(ride_cpu_surf(&src, &surf_defaults, &table, 2), 0);
    assert_int_equal(surf_count(&table), 0);
    ride_image_free(&src);
    surf_scene(&src, 200, 150, 80, 2);
    ride_surf_params p = surf_defaults;
    p.hessian_threshold = 1e9f;
    assert_int_equal(ride_cpu_surf(&src, &p, &table, 2), 0);
    assert_int_equal(surf_count(&table), 0);
    ride_image_free(&src);
    ride_image_free(&table);
}

static void surf_rejects_bad_arguments(void **state)
{
    (void)state;
    ride_image src = {0}, bgr = {0}, out = {0}, out2 = {0};
    ride_test_random_image(&src, RIDE_PIX_GRAY8, 64, 48, 0, 1);
    ride_test_random_image(&bgr, RIDE_PIX_BGR8, 64, 48, 0, 1);
    ride_surf_params p = surf_defaults;
    assert_int_equal(ride_cpu_surf(NULL, &p, &out, 1), -1);
    assert_int_equal(ride_cpu_surf(&src, NULL, &out, 1), -1);
    assert_int_equal(ride_cpu_surf(&src, &p, NULL, 1), -1);
    assert_int_equal(ride_cpu_surf(&src, &p, &src, 1), -1);
    assert_int_equal(ride_cpu_surf(&bgr, &p, &out, 1), -1);
    assert_int_equal(ride_cpu_surf(&src, &p, &out, -1), -1);
    const ride_surf_params bad[] = {
        {-1, 4, 3, 0, 10}, {NAN, 4, 3, 0, 10}, {100, 0, 3, 0, 10}, {100, 7, 3, 0, 10},
        {100, 4, 0, 0, 10}, {100, 4, 7, 0, 10}, {100, 4, 3, 0, 0}, {100, 4, 3, 0, 100001},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(ride_surf_params_valid(&bad[i]));
        assert_int_equal(ride_cpu_surf(&src, &bad[i], &out, 1), -1);
    }
    static const uint32_t bad_sizes[] = {0, 3, 6, 10, 16};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++)
        assert_int_equal(ride_cpu_surf_hessian(&src, bad_sizes[i], &out, &out2, 1), -1);
    assert_int_equal(ride_cpu_surf_hessian(&src, 9, &out, &out, 1), -1);
    assert_int_equal(ride_cpu_surf_hessian(&bgr, 9, &out, &out2, 1), -1);
    ride_image_free(&src);
    ride_image_free(&bgr);
    ride_image_free(&out);
    ride_image_free(&out2);
}

/* Parses one parameter of the surf task (none when key is NULL). */
static int surf_params_parse(const ride_task_descriptor *d, const char *key, const char *value,
                             ride_task_params **params, char *err, size_t errlen)
{
    ride_kv kv = {.key = key, .value = value, .key_pos = {1, 1}, .value_pos = {1, 10}};
    ride_parse_error perr;
    int rc = ride_task_params_parse(d, &kv, key ? 1 : 0, "app.yaml", "spec.stages[0].params",
                                    (ride_pos){1, 1}, params, &perr);
    if (rc != 0)
        ride_parse_error_format(&perr, err, errlen);
    return rc;
}

static void expect_param_refused(const ride_task_descriptor *d, const char *key,
                                 const char *value, const char *needle)
{
    ride_task_params *params = NULL;
    char err[512];
    assert_int_equal(surf_params_parse(d, key, value, &params, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

/* The task with its defaults: a bgr8 frame gives the table of its gray conversion;
 * gray16 frames and out-of-range parameters are refused with clear messages. */
static void surf_task_runs_and_refuses(void **state)
{
    (void)state;
    ride_task_registry *r = ride_task_registry_new();
    assert_non_null(r);
    const ride_task_descriptor *d = ride_task_find(r, "surf");
    assert_non_null(d);
    char err[512];
    ride_task_params *params = NULL;
    assert_int_equal(surf_params_parse(d, NULL, NULL, &params, err, sizeof err), 0);
    ride_task_env env = {.struct_size = sizeof env, .threads = 2, .device = RIDE_TASK_CPU,
                         .gpu_index = -1};
    ride_task_runner *run = ride_task_runner_new(d, params, &env, err, sizeof err);
    assert_non_null(run);

    ride_image gray = {0}, want = {0};
    surf_scene(&gray, 160, 120, 60, 9);
    ride_frame in = {0}, out = {0};
    assert_int_equal(ride_image_ensure(&in.image, RIDE_PIX_BGR8, 160, 120), 0);
    for (uint32_t y = 0; y < 120; y++)
        for (uint32_t x = 0; x < 160; x++)
            memset(ride_image_row(&in.image, y) + 3 * x, ride_image_row(&gray, y)[x], 3);
    assert_int_equal(ride_task_run(run, &in, &out, err, sizeof err), 0);
    assert_int_equal(ride_cpu_surf(&gray, &surf_defaults, &want, 1), 0);
    assert_true(surf_count(&want) > 0);
    surf_expect_identical(&out.image, &want);

    ride_image_free(&in.image);
    assert_int_equal(ride_image_alloc(&in.image, RIDE_PIX_GRAY16, 32, 32), 0);
    assert_int_equal(ride_task_run(run, &in, &out, err, sizeof err), -1);
    assert_string_equal(err, "surf takes gray8, bgr8, rgb8 or bgra8 images, got gray16");

    expect_param_refused(d, "octaves", "7", "expected an integer in 1..6, got \"7\"");
    expect_param_refused(d, "intervals", "0", "expected an integer in 1..6, got \"0\"");
    expect_param_refused(d, "max_keypoints", "0", "expected an integer in 1..100000");
    expect_param_refused(d, "hessian_threshold", "-5", "got \"-5\"");
    expect_param_refused(d, "upright", "maybe", "maybe");
    expect_param_refused(d, "sigma", "1", "sigma");

    ride_task_runner_free(run);
    ride_frame_free(&in);
    ride_frame_free(&out);
    ride_image_free(&gray);
    ride_image_free(&want);
    ride_task_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(surf_hessian_matches_opencv),
        cmocka_unit_test(surf_hessian_rows_are_the_per_cell_formula),
        cmocka_unit_test(surf_finds_blobs),
        cmocka_unit_test(surf_invariant_to_brightness_and_contrast),
        cmocka_unit_test(surf_matches_across_90_degrees),
        cmocka_unit_test(surf_matches_across_rotation_and_scale),
        cmocka_unit_test(surf_table_layout_and_order),
        cmocka_unit_test(surf_empty_tables),
        cmocka_unit_test(surf_rejects_bad_arguments),
        cmocka_unit_test(surf_task_runs_and_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
