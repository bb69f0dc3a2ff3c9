/* filter_taps.h - the integer taps and sampling tables the filter kernels share
 * between their CPU (kernels/cpu/) and CUDA (kernels/cuda/) paths, so that both
 * compute the same sums (not public). */
#ifndef RIDE_FILTER_TAPS_H
#define RIDE_FILTER_TAPS_H

#include "kernels/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fixed-point bits of the gaussian taps (OpenCV's ufixedpoint16 for 8-bit images). */
#define RIDE_GAUSSIAN_TAP_BITS 8

/* The ksize taps of the gaussian for sigma (0: derived from ksize) as OpenCV 4
 * builds them for 8-bit images: its tables for ksize <= 9 with sigma 0, otherwise
 * exp(-x^2 / (2 sigma^2)) normalised and rounded to RIDE_GAUSSIAN_TAP_BITS with
 * error diffusion, the centre tap making the sum exactly 1.
 * -1 on an even ksize outside 1..RIDE_GAUSSIAN_MAX_KSIZE or a negative sigma. */
int ride_gaussian_taps(int ksize, double sigma, int32_t taps[RIDE_GAUSSIAN_MAX_KSIZE]);

/* Largest Sobel kernel side (ksize 7). */
#define RIDE_SOBEL_MAX_TAPS 7

/* OpenCV's Sobel taps for ksize 1, 3, 5 or 7: the derivative (odd length) and
 * the smoothing across it (ksize 1: 3 derivative taps, 1 smoothing tap). -1 for
 * any other ksize. */
int ride_sobel_taps(int ksize, int32_t deriv[RIDE_SOBEL_MAX_TAPS], uint32_t *deriv_count,
                    int32_t smooth[RIDE_SOBEL_MAX_TAPS], uint32_t *smooth_count);

/* Fixed-point bits of the resize weights, per axis: 11 for nearest and linear,
 * as OpenCV's INTER_LINEAR, so that a pixel's whole sum (255 << 22) fits 32 bits;
 * 16 for area, whose many small weights need them. */
#define RIDE_RESIZE_POINT_BITS 11
#define RIDE_RESIZE_AREA_BITS 16

/* The weight bits of each axis for interp. */
uint32_t ride_resize_weight_bits(ride_interp interp);

/* How one axis of a resize samples the source: output i reads the `taps` source
 * positions index[i * taps ..] with weights weight[i * taps ..] that sum to
 * 1 << ride_resize_weight_bits(interp) (unused taps weigh 0 at position 0). */
typedef struct ride_resize_axis {
    uint32_t taps;
    uint32_t length; /* output positions */
    uint32_t bits;   /* ride_resize_weight_bits */
    int32_t *index;
    int32_t *weight;
} ride_resize_axis;

/* Builds both axes from src_w x src_h to dst_w x dst_h with OpenCV's cv::resize
 * sampling positions for interp. 0, or -1 on bad arguments or allocation failure
 * (nothing to free then). */
int ride_resize_axes(uint32_t src_w, uint32_t src_h, uint32_t dst_w, uint32_t dst_h,
                     ride_interp interp, ride_resize_axis *x, ride_resize_axis *y);
void ride_resize_axis_free(ride_resize_axis *axis);

#ifdef __cplusplus
}
#endif

#endif
