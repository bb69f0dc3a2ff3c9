/* Colour to GRAY8, bit-exact with OpenCV 4's cvtColor(BGR2GRAY) for 8-bit input.
 *
 * OpenCV 4 rounds Y = 0.299 R + 0.587 G + 0.114 B in 15-bit fixed point
 * (RY15, GY15, BY15 and gray_shift in imgproc's color.hpp); a test compares
 * every one of the 2^24 colours with cv::cvtColor. */
#include "kernels/kernels.h"

#include "cpu_internal.h"

#include <string.h>

enum {
    GRAY_SHIFT = 15,
    GRAY_R = 9798,  /* round(0.299 * 2^15) */
    GRAY_G = 19235, /* round(0.587 * 2^15) */
    GRAY_B = 3735,  /* round(0.114 * 2^15) */
    GRAY_HALF = 1 << (GRAY_SHIFT - 1),
};

static inline uint8_t gray_of(unsigned b, unsigned g, unsigned r)
{
    return (uint8_t)((b * GRAY_B + g * GRAY_G + r * GRAY_R + GRAY_HALF) >> GRAY_SHIFT);
}

/* One loop per layout with constant offsets, so that the compiler sees fixed
 * strides and vectorises the de-interleaving. */
RIDE_CPU_CLONES
static void gray_row_bgr(const uint8_t *restrict s, uint8_t *restrict d, size_t w)
{
    for (size_t x = 0; x < w; x++)
        d[x] = gray_of(s[3 * x], s[3 * x + 1], s[3 * x + 2]);
}

RIDE_CPU_CLONES
static void gray_row_rgb(const uint8_t *restrict s, uint8_t *restrict d, size_t w)
{
    for (size_t x = 0; x < w; x++)
        d[x] = gray_of(s[3 * x + 2], s[3 * x + 1], s[3 * x]);
}

RIDE_CPU_CLONES
static void gray_row_bgra(const uint8_t *restrict s, uint8_t *restrict d, size_t w)
{
    for (size_t x = 0; x < w; x++)
        d[x] = gray_of(s[4 * x], s[4 * x + 1], s[4 * x + 2]);
}

static void gray_row_copy(const uint8_t *restrict s, uint8_t *restrict d, size_t w)
{
    memcpy(d, s, w);
}

typedef void (*gray_row_fn)(const uint8_t *restrict, uint8_t *restrict, size_t);

static gray_row_fn gray_row_for(ride_pixel_format f)
{
    switch (f) {
    case RIDE_PIX_BGR8: return gray_row_bgr;
    case RIDE_PIX_RGB8: return gray_row_rgb;
    case RIDE_PIX_BGRA8: return gray_row_bgra;
    case RIDE_PIX_GRAY8: return gray_row_copy;
    default: return NULL;
    }
}

int ride_cpu_grayscale(const ride_image *src, ride_image *dst, int threads)
{
    int nthreads = ride_cpu_threads(threads);
    if (nthreads < 1 || !ride_cpu_image_valid(src) || !ride_cpu_output_distinct(src, dst))
        return -1;
    gray_row_fn row_fn = gray_row_for(src->format);
    if (!row_fn || ride_image_ensure(dst, RIDE_PIX_GRAY8, src->width, src->height) != 0)
        return -1;
    int bands = ride_cpu_band_count(nthreads, src->height);
#pragma omp parallel for num_threads(bands) schedule(static)
    for (int b = 0; b < bands; b++) {
        uint32_t end = ride_cpu_band_start(b + 1, bands, src->height);
        for (uint32_t y = ride_cpu_band_start(b, bands, src->height); y < end; y++)
            row_fn(ride_image_row(src, y), ride_image_row(dst, y), src->width);
    }
    return 0;
}
