/* test_surf_util.h - what the SURF tests share: synthetic images (Gaussian blobs at
 * known places, a textured scene), access to the output table, and descriptor
 * matching between two tables. */
#ifndef RIDE_TEST_SURF_UTIL_H
#define RIDE_TEST_SURF_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ride_test.h"

#include "kernels/kernels.h"

/* The defaults of the surf task. */
static const ride_surf_params surf_defaults = {
    .hessian_threshold = 100.0f, .octaves = 4, .intervals = 3, .upright = 0, .max_keypoints = 2000,
};

typedef struct surf_blob {
    double x, y, sigma, amplitude;
} surf_blob;

/* A GRAY8 width x height image of `background` plus Gaussian blobs (amplitude > 0:
 * bright), rounded and clamped to 0..255; release with ride_image_free. */
static inline void surf_blob_image(ride_image *img, uint32_t width, uint32_t height,
                                   double background, const surf_blob *blobs, size_t count)
{
    memset(img, 0, sizeof *img);
    assert_int_equal(ride_image_ensure(img, RIDE_PIX_GRAY8, width, height), 0);
    for (uint32_t y = 0; y < height; y++) {
        uint8_t *row = ride_image_row(img, y);
        for (uint32_t x = 0; x < width; x++) {
            double v = background;
            for (size_t k = 0; k < count; k++) {
                const surf_blob *b = &blobs[k];
                double d2 = (x - b->x) * (x - b->x) + (y - b->y) * (y - b->y);
                if (d2 < 16 * b->sigma * b->sigma)
                    v += b->amplitude * exp(-d2 / (2 * b->sigma * b->sigma));
            }
            v = floor(v + 0.5);
            row[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

/* A textured scene: `count` blobs of random place, size (sigma 1.5..9) and
 * contrast (+-25..70) around 128, from seed. */
static inline void surf_scene(ride_image *img, uint32_t width, uint32_t height, size_t count,
                              uint32_t seed)
{
    surf_blob *blobs = calloc(count, sizeof *blobs);
    assert_non_null(blobs);
    uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t k = 0; k < count; k++) {
        double r[4];
        for (int i = 0; i < 4; i++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            r[i] = (double)(state >> 11) / 9007199254740992.0;
        }
        blobs[k] = (surf_blob){r[0] * width, r[1] * height, 1.5 + 7.5 * r[2],
                               (r[3] < 0.5 ? -1 : 1) * (25 + 90 * fabs(r[3] - 0.5))};
    }
    surf_blob_image(img, width, height, 128, blobs, count);
    free(blobs);
}

static inline size_t surf_count(const ride_image *table)
{
    assert_int_equal(table->format, RIDE_PIX_GRAY32F);
    assert_int_equal(table->width, RIDE_SURF_COLUMNS);
    const float *header = (const float *)ride_image_row(table, 0);
    assert_int_equal((size_t)header[0] + 1, table->height);
    return (size_t)header[0];
}

/* Row of keypoint k (0-based). */
static inline const float *surf_row(const ride_image *table, size_t k)
{
    return (const float *)ride_image_row(table, (uint32_t)(k + 1));
}

/* Asserts two tables hold the same bytes. */
static inline void surf_expect_identical(const ride_image *a, const ride_image *b)
{
    assert_int_equal(a->height, b->height);
    for (uint32_t y = 0; y < a->height; y++)
        assert_memory_equal(ride_image_row(a, y), ride_image_row(b, y),
                            RIDE_SURF_COLUMNS * sizeof(float));
}

static inline double surf_desc_distance(const float *a, const float *b)
{
    double d = 0;
    for (int k = 0; k < RIDE_SURF_DESC_LEN; k++) {
        double e = (double)a[RIDE_SURF_COL_DESC + k] - b[RIDE_SURF_COL_DESC + k];
        d += e * e;
    }
    return sqrt(d);
}

/* Where a point of the first image lies in the second: x' = m0 x + m1 y + m2,
 * y' = m3 x + m4 y + m5. */
typedef struct surf_map {
    double m[6];
} surf_map;

/* Of the first `limit` keypoints of a that map inside b's image (margin pixels in),
 * the fraction whose nearest descriptor in b (same Laplacian sign) is a keypoint
 * within tol pixels of where the map puts them; *considered receives how many were
 * looked at. */
static inline double surf_match_ratio(const ride_image *a, const ride_image *b, surf_map map,
                                      size_t limit, double margin, double tol, size_t *considered)
{
    const size_t na = surf_count(a), nb = surf_count(b);
    const float *hb = (const float *)ride_image_row(b, 0);
    size_t looked = 0, good = 0;
    for (size_t i = 0; i < na && looked < limit; i++) {
        const float *ra = surf_row(a, i);
        double x = map.m[0] * ra[0] + map.m[1] * ra[1] + map.m[2];
        double y = map.m[3] * ra[0] + map.m[4] * ra[1] + map.m[5];
        if (x < margin || y < margin || x > hb[2] - 1 - margin || y > hb[3] - 1 - margin)
            continue;
        looked++;
        double best = INFINITY;
        const float *match = NULL;
        for (size_t j = 0; j < nb; j++) {
            const float *rb = surf_row(b, j);
            if (rb[RIDE_SURF_COL_LAPLACIAN] != ra[RIDE_SURF_COL_LAPLACIAN])
                continue;
            double d = surf_desc_distance(ra, rb);
            if (d < best) {
                best = d;
                match = rb;
            }
        }
        if (match && hypot(match[0] - x, match[1] - y) <= tol)
            good++;
    }
    *considered = looked;
    return looked ? (double)good / (double)looked : 0.0;
}

/* A GPU table against the CPU's: the same keypoints (position and size within
 * 1e-3 px, response within 1e-5 relative, same Laplacian sign) and descriptors
 * within 0.5, 99% of them within 0.01 (sinf, cosf and atan2f may differ in the last
 * bits on the device). */
static inline void surf_expect_close(const ride_image *gpu, const ride_image *cpu,
                                     const char *label)
{
    size_t n = surf_count(cpu);
    if (surf_count(gpu) != n)
        fail_msg("%s: %zu keypoints on the GPU, %zu on the CPU", label, surf_count(gpu), n);
    assert_memory_equal(ride_image_row(gpu, 0), ride_image_row(cpu, 0),
                        RIDE_SURF_COLUMNS * sizeof(float));
    size_t close = 0;
    for (size_t k = 0; k < n; k++) {
        const float *g = surf_row(gpu, k), *c = surf_row(cpu, k);
        if (fabsf(g[0] - c[0]) > 1e-3f || fabsf(g[1] - c[1]) > 1e-3f ||
            fabsf(g[2] - c[2]) > 1e-3f ||
            fabsf(g[RIDE_SURF_COL_RESPONSE] - c[RIDE_SURF_COL_RESPONSE]) >
                1e-5f * fabsf(c[RIDE_SURF_COL_RESPONSE]) ||
            g[RIDE_SURF_COL_LAPLACIAN] != c[RIDE_SURF_COL_LAPLACIAN])
            fail_msg("%s: keypoint %zu is (%.3f, %.3f, size %.3f, response %g) on the GPU, "
                     "(%.3f, %.3f, size %.3f, response %g) on the CPU",
                     label, k, g[0], g[1], g[2], g[4], c[0], c[1], c[2], c[4]);
        double d = surf_desc_distance(g, c);
        if (d > 0.5)
            fail_msg("%s: keypoint %zu: descriptors %.3f apart", label, k, d);
        close += d <= 0.01;
    }
    if (n && (double)close < 0.99 * (double)n)
        fail_msg("%s: only %zu of %zu descriptors within 0.01", label, close, n);
}

#endif
