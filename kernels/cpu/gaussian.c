/* Gaussian blur of 8-bit images as OpenCV's GaussianBlur computes them: taps in
 * 8-bit fixed point, exact integer sums over both axes (16 fraction bits), then
 * rounded half up. */
#include "kernels/kernels.h"

#include "cpu_internal.h"
#include "filter_taps.h"
#include "separable.h"

enum { GAUSSIAN_SHIFT = 2 * RIDE_GAUSSIAN_TAP_BITS };

RIDE_CPU_CLONES
static void gaussian_finish(const int32_t *const *rows, uint8_t *out, size_t samples)
{
    const int32_t *restrict sum = rows[0];
    /* The taps sum to exactly 1 on both axes: the result never exceeds 255. */
    for (size_t i = 0; i < samples; i++)
        out[i] = (uint8_t)((sum[i] + (1 << (GAUSSIAN_SHIFT - 1))) >> GAUSSIAN_SHIFT);
}

static int gaussian_format_supported(ride_pixel_format f)
{
    return f == RIDE_PIX_GRAY8 || f == RIDE_PIX_BGR8 || f == RIDE_PIX_RGB8 || f == RIDE_PIX_BGRA8;
}

int ride_cpu_gaussian(const ride_image *src, ride_image *dst, int ksize, double sigma, int threads)
{
    int nthreads = ride_cpu_threads(threads);
    int32_t taps[RIDE_GAUSSIAN_MAX_KSIZE];
    if (nthreads < 1 || ride_gaussian_taps(ksize, sigma, taps) != 0 ||
        !ride_cpu_image_valid(src) || !gaussian_format_supported(src->format) ||
        !ride_cpu_output_distinct(src, dst) ||
        ride_image_ensure(dst, src->format, src->width, src->height) != 0)
        return -1;
    const ride_sep_taps t = {taps, (uint32_t)ksize};
    const ride_sep_taps filters[1][2] = {{t, t}};
    return ride_sep_run(src, dst, filters, 1, gaussian_finish, nthreads);
}
