/* Sobel gradient magnitude saturate(|dx| + |dy|) of GRAY8 images, dx and dy the
 * exact integer responses of OpenCV's Sobel kernels. */
#include "kernels/kernels.h"

#include "cpu_internal.h"
#include "filter_taps.h"
#include "separable.h"

#include <stdlib.h>

RIDE_CPU_CLONES
static void sobel_finish(const int32_t *const *rows, uint8_t *out, size_t samples)
{
    const int32_t *restrict dx = rows[0], *restrict dy = rows[1];
    for (size_t i = 0; i < samples; i++) {
        int32_t v = abs(dx[i]) + abs(dy[i]);
        out[i] = (uint8_t)(v > 255 ? 255 : v);
    }
}

int ride_cpu_sobel(const ride_image *src, ride_image *dst, int ksize, int threads)
{
    int nthreads = ride_cpu_threads(threads);
    int32_t deriv[RIDE_SOBEL_MAX_TAPS], smooth[RIDE_SOBEL_MAX_TAPS];
    uint32_t nd, ns;
    if (nthreads < 1 || ride_sobel_taps(ksize, deriv, &nd, smooth, &ns) != 0 ||
        !ride_cpu_image_valid(src) || src->format != RIDE_PIX_GRAY8 ||
        !ride_cpu_output_distinct(src, dst) ||
        ride_image_ensure(dst, RIDE_PIX_GRAY8, src->width, src->height) != 0)
        return -1;
    const ride_sep_taps d = {deriv, nd}, s = {smooth, ns};
    /* dx: smoothed down the columns, differentiated along the row; dy the other way. */
    const ride_sep_taps filters[2][2] = {{s, d}, {d, s}};
    return ride_sep_run(src, dst, filters, 2, sobel_finish, nthreads);
}
