/* Taps and sampling tables of the filter kernels, built once per call on the
 * host and used unchanged by the CPU and CUDA paths. */
#include "filter_taps.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* OpenCV's fixed tables for sigma 0 (getFixedpointGaussianKernel), in 1/256. */
static const int32_t gaussian_table[5][9] = {
    {256},
    {64, 128, 64},
    {16, 64, 96, 64, 16},
    {8, 28, 56, 72, 56, 28, 8},
    {4, 13, 30, 51, 60, 51, 30, 13, 4},
};

int ride_gaussian_taps(int ksize, double sigma, int32_t taps[RIDE_GAUSSIAN_MAX_KSIZE])
{
    if (ksize < 1 || ksize > RIDE_GAUSSIAN_MAX_KSIZE || ksize % 2 == 0 || !(sigma >= 0))
        return -1;
    if (sigma == 0 && ksize <= 9) {
        memcpy(taps, gaussian_table[ksize / 2], (size_t)ksize * sizeof *taps);
        return 0;
    }
    double s = sigma > 0 ? sigma : ksize * 0.15 + 0.35;
    double scale = -0.125 / (s * s);
    int half = ksize / 2;
    double values[RIDE_GAUSSIAN_MAX_KSIZE / 2], sum = 0;
    for (int i = 0, x = 1 - ksize; i < half; i++, x += 2) {
        values[i] = exp((double)(x * x) * scale);
        sum += values[i];
    }
    double norm = 1.0 / (2 * sum + 1);
    /* Error diffusion from the outer taps inwards, the centre taking what is
     * left, as OpenCV's getGaussianKernelFixedPoint_ED: the taps sum to exactly 1. */
    double err = 0;
    int32_t outer = 0;
    for (int i = 0; i < half; i++) {
        double v = values[i] * norm * (1 << RIDE_GAUSSIAN_TAP_BITS) + err;
        int32_t q = (int32_t)lrint(v);
        err = v - q;
        taps[i] = taps[ksize - 1 - i] = q;
        outer += q;
    }
    taps[half] = (1 << RIDE_GAUSSIAN_TAP_BITS) - 2 * outer;
    return 0;
}

int ride_sobel_taps(int ksize, int32_t deriv[RIDE_SOBEL_MAX_TAPS], uint32_t *deriv_count,
                    int32_t smooth[RIDE_SOBEL_MAX_TAPS], uint32_t *smooth_count)
{
    static const int32_t derivs[4][RIDE_SOBEL_MAX_TAPS] = {
        {-1, 0, 1}, {-1, 0, 1}, {-1, -2, 0, 2, 1}, {-1, -4, -5, 0, 5, 4, 1}};
    static const int32_t smooths[4][RIDE_SOBEL_MAX_TAPS] = {
        {1}, {1, 2, 1}, {1, 4, 6, 4, 1}, {1, 6, 15, 20, 15, 6, 1}};
    if (ksize != 1 && ksize != 3 && ksize != 5 && ksize != 7)
        return -1;
    int i = ksize / 2;
    *deriv_count = ksize == 1 ? 3 : (uint32_t)ksize;
    *smooth_count = (uint32_t)ksize;
    memcpy(deriv, derivs[i], sizeof derivs[i]);
    memcpy(smooth, smooths[i], sizeof smooths[i]);
    return 0;
}

void ride_resize_axis_free(ride_resize_axis *axis)
{
    free(axis->index);
    free(axis->weight);
    memset(axis, 0, sizeof *axis);
}

uint32_t ride_resize_weight_bits(ride_interp interp)
{
    return interp == RIDE_INTERP_AREA ? RIDE_RESIZE_AREA_BITS : RIDE_RESIZE_POINT_BITS;
}

static int axis_alloc(ride_resize_axis *a, uint32_t length, uint32_t taps)
{
    a->taps = taps;
    a->length = length;
    a->index = calloc((size_t)length * taps, sizeof *a->index);
    a->weight = calloc((size_t)length * taps, sizeof *a->weight);
    if (a->index && a->weight)
        return 0;
    ride_resize_axis_free(a);
    return -1;
}

/* Rounds output i's weights (summing to 1) to fixed point and puts the rounding
 * error on the heaviest tap, so that every output's weights sum to exactly 1. */
static void axis_quantise(ride_resize_axis *a, uint32_t i, const double *w)
{
    int32_t *q = a->weight + (size_t)i * a->taps;
    int64_t sum = 0;
    uint32_t heaviest = 0;
    for (uint32_t t = 0; t < a->taps; t++) {
        q[t] = (int32_t)lrint(w[t] * (1 << a->bits));
        sum += q[t];
        if (q[t] > q[heaviest])
            heaviest = t;
    }
    q[heaviest] += (int32_t)((1 << a->bits) - sum);
}

/* Two taps at sx and sx + 1 with weights 1 - f and f, clamped at the ends as
 * OpenCV's resizeGeneric clamps them. */
static void axis_set_pair(ride_resize_axis *a, uint32_t i, int64_t sx, double f, uint32_t src_len)
{
    if (sx < 0) {
        sx = 0;
        f = 0;
    }
    if (sx >= (int64_t)src_len - 1) {
        sx = src_len - 1;
        f = 0;
    }
    int32_t *idx = a->index + (size_t)i * 2;
    idx[0] = (int32_t)sx;
    idx[1] = (int32_t)(f > 0 ? sx + 1 : sx);
    double w[2] = {1 - f, f};
    axis_quantise(a, i, w);
}

static int axis_nearest(ride_resize_axis *a, uint32_t src_len, uint32_t dst_len)
{
    if (axis_alloc(a, dst_len, 1) != 0)
        return -1;
    double inv = 1.0 / ((double)dst_len / src_len);
    for (uint32_t i = 0; i < dst_len; i++) {
        int64_t sx = (int64_t)floor(i * inv);
        a->index[i] = (int32_t)(sx < (int64_t)src_len - 1 ? sx : (int64_t)src_len - 1);
        a->weight[i] = 1 << a->bits;
    }
    return 0;
}

/* Bilinear positions; `area` gives the pairs OpenCV's INTER_AREA uses when it
 * enlarges along either axis. Both in float, as OpenCV computes them. */
static int axis_linear(ride_resize_axis *a, uint32_t src_len, uint32_t dst_len, int area)
{
    if (axis_alloc(a, dst_len, 2) != 0)
        return -1;
    double inv_scale = (double)dst_len / src_len, scale = 1.0 / inv_scale;
    for (uint32_t i = 0; i < dst_len; i++) {
        int64_t sx;
        float f;
        if (area) {
            sx = (int64_t)floor(i * scale);
            f = (float)((i + 1) - (sx + 1) * inv_scale);
            f = f <= 0 ? 0.f : f - floorf(f);
        } else {
            f = (float)((i + 0.5) * scale - 0.5);
            sx = (int64_t)floorf(f);
            f -= (float)sx;
        }
        axis_set_pair(a, i, sx, f, src_len);
    }
    return 0;
}

/* Shrinking by `scale` >= 1: output i averages the source cells under
 * [i scale, (i + 1) scale), partly covered cells by their share, as OpenCV's
 * computeResizeAreaTab. */
static int axis_area(ride_resize_axis *a, uint32_t src_len, uint32_t dst_len)
{
    double scale = (double)src_len / dst_len;
    uint32_t taps = (uint32_t)ceil(scale) + 1;
    if (axis_alloc(a, dst_len, taps) != 0)
        return -1;
    double *w = malloc(taps * sizeof *w);
    if (!w) {
        ride_resize_axis_free(a);
        return -1;
    }
    for (uint32_t i = 0; i < dst_len; i++) {
        double f1 = i * scale, f2 = f1 + scale;
        double cell = fmin(scale, src_len - f1);
        int64_t s1 = (int64_t)ceil(f1), s2 = (int64_t)floor(f2);
        s2 = s2 < (int64_t)src_len - 1 ? s2 : (int64_t)src_len - 1;
        s1 = s1 < s2 ? s1 : s2;
        int32_t *idx = a->index + (size_t)i * taps;
        uint32_t n = 0;
        memset(w, 0, taps * sizeof *w);
        if (s1 - f1 > 1e-3) {
            idx[n] = (int32_t)(s1 - 1);
            w[n++] = (s1 - f1) / cell;
        }
        for (int64_t s = s1; s < s2; s++) {
            idx[n] = (int32_t)s;
            w[n++] = 1.0 / cell;
        }
        if (f2 - s2 > 1e-3) {
            idx[n] = (int32_t)s2;
            w[n++] = fmin(fmin(f2 - s2, 1.0), cell) / cell;
        }
        axis_quantise(a, i, w);
    }
    free(w);
    return 0;
}

static int axis_build(ride_resize_axis *a, uint32_t src_len, uint32_t dst_len, ride_interp interp,
                      int shrinking)
{
    a->bits = ride_resize_weight_bits(interp);
    switch (interp) {
    case RIDE_INTERP_NEAREST: return axis_nearest(a, src_len, dst_len);
    case RIDE_INTERP_LINEAR: return axis_linear(a, src_len, dst_len, 0);
    case RIDE_INTERP_AREA:
        return shrinking ? axis_area(a, src_len, dst_len) : axis_linear(a, src_len, dst_len, 1);
    default: return -1;
    }
}

int ride_resize_axes(uint32_t src_w, uint32_t src_h, uint32_t dst_w, uint32_t dst_h,
                     ride_interp interp, ride_resize_axis *x, ride_resize_axis *y)
{
    memset(x, 0, sizeof *x);
    memset(y, 0, sizeof *y);
    if (src_w == 0 || src_h == 0 || src_w > RIDE_IMAGE_MAX_DIM || src_h > RIDE_IMAGE_MAX_DIM ||
        dst_w == 0 || dst_h == 0 || dst_w > RIDE_RESIZE_MAX_DIM || dst_h > RIDE_RESIZE_MAX_DIM)
        return -1;
    /* OpenCV averages cells only when neither axis grows; otherwise INTER_AREA
     * interpolates both axes with its own pairs. */
    int shrinking = src_w >= dst_w && src_h >= dst_h;
    if (axis_build(x, src_w, dst_w, interp, shrinking) != 0)
        return -1;
    if (axis_build(y, src_h, dst_h, interp, shrinking) != 0) {
        ride_resize_axis_free(x);
        return -1;
    }
    return 0;
}
