/* surf_core.h - the steps of SURF (Bay, Tuytelaars, Van Gool, CVIU 2008) that the
 * CPU kernel (kernels/cpu/surf.c, C) and the CUDA kernel (kernels/cuda/surf.cu, CUDA
 * C++) share: one box-filter response, one non-maximum test with its interpolation,
 * one orientation or descriptor sample, one sub-region sum. Both sides call these
 * functions in the same order with IEEE single precision and no fused multiply-add
 * (C11 does not contract; surf.cu is built with --fmad=false), so the responses,
 * keypoint positions and ranking agree exactly; only sinf, cosf, atan2f and expf
 * may differ in the last bit between host and device.
 *
 * Box sums read a uint32 integral image of (width + 1) x (height + 1) entries whose
 * additions wrap modulo 2^32: the difference of four entries is exact whenever the
 * true sum of the box fits in 32 bits, which holds for every box SURF uses (at most
 * 1632 x 1632 x 255 < 2^30). */
#ifndef RIDE_SURF_CORE_H
#define RIDE_SURF_CORE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

#ifdef __CUDACC__
#define SURF_FN static inline __host__ __device__
#else
#define SURF_FN static inline
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Filter side of layer 0 of octave 0, and the growth per layer (doubled per octave). */
#define SURF_BASE_SIZE 9
#define SURF_SIZE_STEP 6
/* Orientation: samples on a disc of radius 6 s, Gaussian weights of sigma 2.5 s, and
 * 72 sliding windows of pi/3 every 5 degrees. */
#define SURF_ORI_RADIUS 6
#define SURF_ORI_SAMPLES 113
#define SURF_ORI_SIGMA 2.5f
#define SURF_ORI_WINDOWS 72
/* Descriptor: 20 x 20 samples spaced s apart in 4 x 4 sub-regions, Gaussian
 * weights of sigma 3.3 s. */
#define SURF_PATCH 20
#define SURF_SUBREGION 5
#define SURF_DESC_SIGMA 3.3f
#define SURF_PI 3.14159265358979f

/* One rectangle of a box filter: pixels [x0, x1) x [y0, y1) relative to the
 * filter's top-left corner, weight already divided by its area. */
typedef struct surf_box {
    int x0, y0, x1, y1;
    float weight;
} surf_box;

/* One layer of the scale space: filter side, sampling step (1 << octave), its grid
 * (height / step rows, width / step columns), the grid offset of the filter's
 * top-left corner (grid cell (r, c) puts it at ((c - margin) step, (r - margin)
 * step)), the rows and columns where the filter lies inside the image, and the
 * Dxx, Dyy and Dxy boxes scaled from the 9 x 9 pattern. */
typedef struct surf_layer {
    int size, step, margin;
    int rows, cols;
    int first_row, last_row, first_col, last_col; /* inclusive; last < first: none */
    surf_box dxx[3], dyy[3], dxy[4];
} surf_layer;

/* A detected keypoint before orientation and description. */
typedef struct surf_point {
    float x, y;     /* image pixels, pixel centres at integers */
    float size;     /* filter side at the interpolated scale */
    float response; /* Hessian determinant at the maximum */
    float laplacian; /* sign of Dxx + Dyy: -1 (bright blob), 0 or +1 (dark blob) */
} surf_point;

/* Layer `layer` of octave `octave` of a width x height image. */
void ride_surf_layer_make(surf_layer *l, int octave, int layer, int width, int height);

/* Sorts points by response (strongest first), then y, x and size, and returns how
 * many of them to keep (at most max). */
size_t ride_surf_rank(surf_point *points, size_t count, size_t max);

/* Row 0 of the output table. */
void ride_surf_header(float *row, size_t count, uint32_t width, uint32_t height);

#ifdef __cplusplus
}
#endif

SURF_FN uint32_t surf_box_sum(const uint32_t *sum, size_t stride, int x0, int y0, int x1, int y1)
{
    return sum[(size_t)y1 * stride + (size_t)x1] - sum[(size_t)y0 * stride + (size_t)x1] -
           sum[(size_t)y1 * stride + (size_t)x0] + sum[(size_t)y0 * stride + (size_t)x0];
}

SURF_FN float surf_filter(const uint32_t *sum, size_t stride, int x, int y, const surf_box *b,
                          int n)
{
    float r = 0.0f;
    for (int k = 0; k < n; k++)
        r += b[k].weight *
             (float)surf_box_sum(sum, stride, x + b[k].x0, y + b[k].y0, x + b[k].x1, y + b[k].y1);
    return r;
}

/* Determinant (with Bay's 0.9 weight on Dxy, squared: 0.81) and trace of the
 * Hessian at grid cell (row, col) of a layer; 0 and 0 outside the image. */
SURF_FN void surf_hessian(const uint32_t *sum, size_t stride, const surf_layer *l, int row,
                          int col, float *det, float *trace)
{
    *det = 0.0f;
    *trace = 0.0f;
    if (row < l->first_row || row > l->last_row || col < l->first_col || col > l->last_col)
        return;
    const int x = (col - l->margin) * l->step, y = (row - l->margin) * l->step;
    const float dxx = surf_filter(sum, stride, x, y, l->dxx, 3);
    const float dyy = surf_filter(sum, stride, x, y, l->dyy, 3);
    const float dxy = surf_filter(sum, stride, x, y, l->dxy, 4);
    *det = dxx * dyy - 0.81f * dxy * dxy;
    *trace = dxx + dyy;
}

SURF_FN int surf_max_i(int a, int b)
{
    return a > b ? a : b;
}

SURF_FN int surf_min_i(int a, int b)
{
    return a < b ? a : b;
}

/* 1 when grid cell (row, col) has its 3 x 3 x 3 neighbourhood inside all three
 * layers' valid areas. */
SURF_FN int surf_has_neighbourhood(const surf_layer *l, int row, int col)
{
    for (int k = 0; k < 3; k++)
        if (row - 1 < l[k].first_row || row + 1 > l[k].last_row || col - 1 < l[k].first_col ||
            col + 1 > l[k].last_col)
            return 0;
    return 1;
}

/* Solves the 3 x 3 system a x = b by Cramer's rule; 0 when a is singular. */
SURF_FN int surf_solve3(const float a[9], const float b[3], float x[3])
{
    const float c0 = a[4] * a[8] - a[5] * a[7];
    const float c1 = a[5] * a[6] - a[3] * a[8];
    const float c2 = a[3] * a[7] - a[4] * a[6];
    const float det = a[0] * c0 + a[1] * c1 + a[2] * c2;
    if (!(fabsf(det) > 1e-30f))
        return 0;
    x[0] = (b[0] * c0 + b[1] * (a[2] * a[7] - a[1] * a[8]) + b[2] * (a[1] * a[5] - a[2] * a[4])) /
           det;
    x[1] = (b[0] * c1 + b[1] * (a[0] * a[8] - a[2] * a[6]) + b[2] * (a[2] * a[3] - a[0] * a[5])) /
           det;
    x[2] = (b[0] * c2 + b[1] * (a[1] * a[6] - a[0] * a[7]) + b[2] * (a[0] * a[4] - a[1] * a[3])) /
           det;
    return 1;
}

/* The keypoint at grid cell (row, col) of the middle layer l[1] (l[0] below, l[2]
 * above, dets their determinants, each l->cols wide; trace of the middle layer):
 * 1 with *p filled when its determinant exceeds threshold and every one of its 26
 * neighbours, and the quadratic fit of the neighbourhood moves it by at most one
 * sample along x, y and scale. */
SURF_FN int surf_keypoint_at(const surf_layer *l, const float *const dets[3], const float *trace,
                             float threshold, int row, int col, surf_point *p)
{
    const size_t cols = (size_t)l[1].cols;
    const size_t at = (size_t)row * cols + (size_t)col;
    const float v = dets[1][at];
    if (!(v > threshold) || !surf_has_neighbourhood(l, row, col))
        return 0;
    float n[3][9];
    for (int k = 0; k < 3; k++)
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++)
                n[k][(dy + 1) * 3 + dx + 1] = dets[k][at + (size_t)((ptrdiff_t)dy * (ptrdiff_t)cols + dx)];
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 9; i++)
            if ((k != 1 || i != 4) && !(v > n[k][i]))
                return 0;
    const float b[3] = {-(n[1][5] - n[1][3]) / 2, -(n[1][7] - n[1][1]) / 2,
                        -(n[2][4] - n[0][4]) / 2};
    const float dxy = (n[1][8] - n[1][6] - n[1][2] + n[1][0]) / 4;
    const float dxs = (n[2][5] - n[2][3] - n[0][5] + n[0][3]) / 4;
    const float dys = (n[2][7] - n[2][1] - n[0][7] + n[0][1]) / 4;
    const float a[9] = {n[1][3] - 2 * v + n[1][5], dxy, dxs,
                        dxy, n[1][1] - 2 * v + n[1][7], dys,
                        dxs, dys, n[0][4] - 2 * v + n[2][4]};
    float x[3];
    if (!surf_solve3(a, b, x) || !(fabsf(x[0]) <= 1.0f && fabsf(x[1]) <= 1.0f && fabsf(x[2]) <= 1.0f))
        return 0;
    const float half = (float)(l[1].size - 1) * 0.5f, step = (float)l[1].step;
    p->x = (float)((col - l[1].margin) * l[1].step) + half + x[0] * step;
    p->y = (float)((row - l[1].margin) * l[1].step) + half + x[1] * step;
    p->size = (float)l[1].size + x[2] * (float)(l[1].size - l[0].size);
    p->response = v;
    p->laplacian = (float)((trace[at] > 0.0f) - (trace[at] < 0.0f));
    return 1;
}

/* Scale s of a keypoint: 1.2 for the 9 x 9 filter. */
SURF_FN float surf_scale(float size)
{
    return size * 1.2f / 9.0f;
}

SURF_FN int surf_round(float v)
{
    return (int)floorf(v + 0.5f);
}

/* Haar wavelet responses (right minus left, bottom minus top) of side `side`
 * centred at (x, y); the parts outside the image are left out. */
SURF_FN void surf_haar(const uint32_t *sum, size_t stride, int width, int height, float x,
                       float y, int side, float *dx, float *dy)
{
    const int x0 = surf_round(x - (float)(side - 1) * 0.5f);
    const int y0 = surf_round(y - (float)(side - 1) * 0.5f);
    const int h = side / 2;
    const int l = surf_min_i(surf_max_i(x0, 0), width), r = surf_min_i(surf_max_i(x0 + side, 0), width);
    const int t = surf_min_i(surf_max_i(y0, 0), height), b = surf_min_i(surf_max_i(y0 + side, 0), height);
    const int mx = surf_min_i(surf_max_i(x0 + h, 0), width), my = surf_min_i(surf_max_i(y0 + h, 0), height);
    *dx = (float)surf_box_sum(sum, stride, mx, t, r, b) - (float)surf_box_sum(sum, stride, l, t, mx, b);
    *dy = (float)surf_box_sum(sum, stride, l, my, r, b) - (float)surf_box_sum(sum, stride, l, t, r, my);
}

/* Offset (i, j) of orientation sample k: the points of the disc of radius 6, row
 * by row. */
SURF_FN void surf_ori_offset(int k, int *i, int *j)
{
    for (int row = -SURF_ORI_RADIUS; row <= SURF_ORI_RADIUS; row++) {
        int half = 0;
        while ((half + 1) * (half + 1) + row * row <= SURF_ORI_RADIUS * SURF_ORI_RADIUS)
            half++;
        if (k < 2 * half + 1) {
            *i = row;
            *j = k - half;
            return;
        }
        k -= 2 * half + 1;
    }
    *i = 0;
    *j = 0;
}

/* Orientation sample k of the keypoint p: Gaussian-weighted Haar responses of side
 * 4 s and their angle in [0, 2 pi); a sample whose wavelet leaves the image
 * weighs 0. */
SURF_FN void surf_ori_sample(const uint32_t *sum, size_t stride, int width, int height,
                             const surf_point *p, int k, float *gx, float *gy, float *angle)
{
    const float s = surf_scale(p->size);
    const int side = 2 * surf_round(2.0f * s);
    int i, j;
    surf_ori_offset(k, &i, &j);
    const int x0 = surf_round(p->x + (float)j * s - (float)(side - 1) * 0.5f);
    const int y0 = surf_round(p->y + (float)i * s - (float)(side - 1) * 0.5f);
    *gx = 0.0f;
    *gy = 0.0f;
    *angle = 0.0f;
    if (x0 < 0 || y0 < 0 || x0 + side > width || y0 + side > height)
        return;
    float dx, dy;
    surf_haar(sum, stride, width, height, p->x + (float)j * s, p->y + (float)i * s, side, &dx, &dy);
    const float w = expf(-(float)(i * i + j * j) / (2.0f * SURF_ORI_SIGMA * SURF_ORI_SIGMA));
    *gx = dx * w;
    *gy = dy * w;
    float a = atan2f(*gy, *gx);
    *angle = a < 0.0f ? a + 2.0f * SURF_PI : a;
}

/* Sum of the samples whose angle lies within pi/6 of window w's centre (5 w degrees). */
SURF_FN void surf_ori_window(const float *gx, const float *gy, const float *angle, int w,
                             float *sx, float *sy)
{
    const float centre = (float)w * (2.0f * SURF_PI / SURF_ORI_WINDOWS);
    float x = 0.0f, y = 0.0f;
    for (int k = 0; k < SURF_ORI_SAMPLES; k++) {
        const float d = fabsf(angle[k] - centre);
        if (d < SURF_PI / 6.0f || d > 2.0f * SURF_PI - SURF_PI / 6.0f) {
            x += gx[k];
            y += gy[k];
        }
    }
    *sx = x;
    *sy = y;
}

/* The direction of the longest window sum (the first of equals), in [0, 2 pi);
 * 0 when every sum is zero. */
SURF_FN float surf_ori_pick(const float *sx, const float *sy)
{
    float best = 0.0f, bx = 0.0f, by = 0.0f;
    for (int w = 0; w < SURF_ORI_WINDOWS; w++) {
        const float m = sx[w] * sx[w] + sy[w] * sy[w];
        if (m > best) {
            best = m;
            bx = sx[w];
            by = sy[w];
        }
    }
    if (!(best > 0.0f))
        return 0.0f;
    const float a = atan2f(by, bx);
    return a < 0.0f ? a + 2.0f * SURF_PI : a;
}

/* Descriptor sample (i, j) of 20 x 20 around p, turned by the orientation (cos c,
 * sin n): Haar responses of side 2 s, Gaussian-weighted, in the keypoint's frame. */
SURF_FN void surf_desc_sample(const uint32_t *sum, size_t stride, int width, int height,
                              const surf_point *p, float c, float n, int i, int j, float *du,
                              float *dv)
{
    const float s = surf_scale(p->size);
    const int side = surf_max_i(2, 2 * surf_round(s));
    const float u = ((float)j - 9.5f) * s, v = ((float)i - 9.5f) * s;
    float dx, dy;
    surf_haar(sum, stride, width, height, p->x + u * c - v * n, p->y + u * n + v * c, side, &dx,
              &dy);
    const float r2 = ((float)j - 9.5f) * ((float)j - 9.5f) + ((float)i - 9.5f) * ((float)i - 9.5f);
    const float w = expf(-r2 / (2.0f * SURF_DESC_SIGMA * SURF_DESC_SIGMA));
    *du = (dx * c + dy * n) * w;
    *dv = (dy * c - dx * n) * w;
}

/* Sub-region r (row-major 4 x 4) of the 20 x 20 samples: sum du, sum dv, sum |du|,
 * sum |dv|. */
SURF_FN void surf_desc_subregion(const float *du, const float *dv, int r, float out[4])
{
    const int top = (r / 4) * SURF_SUBREGION, left = (r % 4) * SURF_SUBREGION;
    out[0] = out[1] = out[2] = out[3] = 0.0f;
    for (int i = top; i < top + SURF_SUBREGION; i++)
        for (int j = left; j < left + SURF_SUBREGION; j++) {
            const float a = du[i * SURF_PATCH + j], b = dv[i * SURF_PATCH + j];
            out[0] += a;
            out[1] += b;
            out[2] += fabsf(a);
            out[3] += fabsf(b);
        }
}

/* 1 / the Euclidean length of the descriptor; 0 for a zero descriptor. */
SURF_FN float surf_desc_inverse_norm(const float *d)
{
    float sq = 0.0f;
    for (int k = 0; k < RIDE_SURF_DESC_LEN; k++)
        sq += d[k] * d[k];
    return sq > 0.0f ? 1.0f / sqrtf(sq) : 0.0f;
}

#endif
