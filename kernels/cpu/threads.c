/* Thread counts, row bands and the argument checks every CPU kernel shares. */
#include "kernels/kernels.h"

#include "cpu_internal.h"

#include <unistd.h>

/* More threads than this never pays for a per-frame kernel, and a typo in a
 * manifest (threads: 20000) must not ask OpenMP for a thread per row. */
#define RIDE_CPU_MAX_THREADS 256

int ride_cpu_threads(int threads)
{
    if (threads < 0)
        return -1;
    if (threads > 0)
        return threads < RIDE_CPU_MAX_THREADS ? threads : RIDE_CPU_MAX_THREADS;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1)
        return 1;
    return online < RIDE_CPU_MAX_THREADS ? (int)online : RIDE_CPU_MAX_THREADS;
}

int ride_cpu_image_valid(const ride_image *img)
{
    if (!img || !img->data || img->height == 0 || img->height > RIDE_IMAGE_MAX_DIM)
        return 0;
    size_t row = ride_image_row_bytes(img->format, img->width);
    return row != 0 && img->stride >= row && ride_image_size(img) != 0;
}

/* Byte span [begin, end) that the rows of a valid image occupy. */
static void image_span(const ride_image *img, uintptr_t *begin, uintptr_t *end)
{
    size_t row = ride_image_row_bytes(img->format, img->width);
    *begin = (uintptr_t)img->data;
    *end = *begin + img->stride * (img->height - 1) + row;
}

int ride_cpu_output_distinct(const ride_image *src, const ride_image *dst)
{
    if (!dst || src == dst)
        return 0;
    if (!dst->owns_data || !ride_cpu_image_valid(dst))
        return 1;
    uintptr_t sb, se, db, de;
    image_span(src, &sb, &se);
    image_span(dst, &db, &de);
    return se <= db || de <= sb;
}

int ride_cpu_band_count(int threads, uint32_t height)
{
    return (uint32_t)threads < height ? threads : (int)height;
}

uint32_t ride_cpu_band_start(int band, int bands, uint32_t height)
{
    return (uint32_t)((uint64_t)height * (uint64_t)band / (uint64_t)bands);
}

/* OpenCV's borderInterpolate for BORDER_REFLECT_101 (... 2 1 | 0 1 2 ... len-1 |
 * len-2 ...), closed form over its period 2 len - 2 so that any offset works. */
uint32_t ride_cpu_reflect101(int64_t p, uint32_t len)
{
    if (len == 1)
        return 0;
    int64_t period = 2 * (int64_t)len - 2;
    int64_t m = p % period;
    if (m < 0)
        m += period;
    return (uint32_t)(m < (int64_t)len ? m : period - m);
}

void ride_cpu_reflect_border(uint32_t *border, uint32_t radius, uint32_t len)
{
    for (uint32_t j = 0; j < radius; j++) {
        border[j] = ride_cpu_reflect101((int64_t)j - radius, len);
        border[radius + j] = ride_cpu_reflect101((int64_t)len + j, len);
    }
}
