/* Identity task: a tightly packed copy, for pipelines that only move frames. */
#include "kernels/kernels.h"

#include "cpu_internal.h"

#include <string.h>

int ride_cpu_passthrough(const ride_image *src, ride_image *dst)
{
    if (!ride_cpu_image_valid(src) || !ride_cpu_output_distinct(src, dst))
        return -1;
    if (ride_image_ensure(dst, src->format, src->width, src->height) != 0)
        return -1;
    size_t row = ride_image_row_bytes(src->format, src->width);
    for (uint32_t y = 0; y < src->height; y++)
        memcpy(ride_image_row(dst, y), ride_image_row(src, y), row);
    return 0;
}
