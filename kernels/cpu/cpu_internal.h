/* cpu_internal.h - helpers shared by the CPU kernels in kernels/cpu/ (not public). */
#ifndef RIDE_CPU_INTERNAL_H
#define RIDE_CPU_INTERNAL_H

#include "ride/image.h"

/* Row loops marked RIDE_CPU_CLONES are compiled for AVX-512 and AVX2 next to the
 * x86-64 baseline, and the loader picks the best one for the running CPU
 * (function multiversioning): the baseline alone cannot vectorise the
 * de-interleaving of 3-byte pixels, and wider vectors double the throughput.
 * Every version computes the same bytes (integer or exact floating-point work). */
#if defined(__x86_64__) && defined(__GNUC__)
#define RIDE_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RIDE_CPU_CLONES
/* OpenCV's borderInterpolate for BORDER_REFLECT_101 (... 2 1 | 0 1 2 ... len-1 |
 * len-2 ...) for any offset p, len >= 1. */
uint32_t ride_cpu_reflect101(int64_t p, uint32_t len);

/* The source column of each of the `radius` columns left of a row of len pixels
 * (border[0 .. radius)), then of each right of it (border[radius .. 2 radius)). */
void ride_cpu_reflect_border(uint32_t *border, uint32_t radius, uint32_t len);

#endif

/* 1 when img describes a usable image: known format, dimensions within
 * 1..RIDE_IMAGE_MAX_DIM, pixels present, stride >= row bytes, stride x height
 * representable. */
int ride_cpu_image_valid(const ride_image *img);

/* 1 when dst may receive a kernel's output for src: distinct structs, and when
 * dst already owns a buffer (which ride_image_ensure() may reuse), that buffer
 * does not overlap src's pixels. */
int ride_cpu_output_distinct(const ride_image *src, const ride_image *dst);

/* Row bands to split `height` rows into for `threads` (already validated, >= 1). */
int ride_cpu_band_count(int threads, uint32_t height);

/* First row of band `band` out of `bands` over `height` rows; band `bands` gives height. */
uint32_t ride_cpu_band_start(int band, int bands, uint32_t height);

/* OpenCV's borderInterpolate for BORDER_REFLECT_101 (... 2 1 | 0 1 2 ... len-1 |
 * len-2 ...) for any offset p, len >= 1. */
uint32_t ride_cpu_reflect101(int64_t p, uint32_t len);

/* The source column of each of the `radius` columns left of a row of len pixels
 * (border[0 .. radius)), then of each right of it (border[radius .. 2 radius)). */
void ride_cpu_reflect_border(uint32_t *border, uint32_t radius, uint32_t len);

#endif
