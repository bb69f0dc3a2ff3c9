/* Resize of 8-bit images with OpenCV's sampling positions (filter_taps.c builds
 * them): each output row accumulates its source rows, each resampled along x, in
 * exact integer arithmetic with 16-bit weights per axis, rounded half up once. */
#include "ride/kernels.h"

#include "cpu_internal.h"
#include "filter_taps.h"

#include <stdlib.h>
#include <string.h>

enum { RESIZE_SHIFT = 2 * RIDE_RESIZE_WEIGHT_BITS };

typedef struct rs_plan {
    const ride_image *src;
    ride_image *dst;
    unsigned channels;
    size_t samples; /* output row: width x channels */
    ride_resize_axis x, y;
} rs_plan;

/* One source row resampled along x: at most 255 x 2^16 per sample. */
static void rs_row_x(const rs_plan *p, const uint8_t *restrict row, int32_t *restrict out)
{
    unsigned ch = p->channels, taps = p->x.taps;
    for (uint32_t i = 0; i < p->x.length; i++) {
        const int32_t *idx = p->x.index + (size_t)i * taps, *w = p->x.weight + (size_t)i * taps;
        for (unsigned c = 0; c < ch; c++) {
            int32_t sum = 0;
            for (unsigned t = 0; t < taps; t++)
                sum += w[t] * row[(size_t)idx[t] * ch + c];
            out[(size_t)i * ch + c] = sum;
        }
    }
}

RIDE_CPU_CLONES
static void rs_accumulate(int64_t *restrict acc, const int32_t *restrict row, int64_t w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        acc[i] += w * row[i];
}

RIDE_CPU_CLONES
static void rs_finish(const int64_t *restrict acc, uint8_t *restrict out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)((acc[i] + ((int64_t)1 << (RESIZE_SHIFT - 1))) >> RESIZE_SHIFT);
}

static void rs_band(const rs_plan *p, uint32_t y0, uint32_t y1, int64_t *acc, int32_t *row)
{
    unsigned taps = p->y.taps;
    for (uint32_t y = y0; y < y1; y++) {
        memset(acc, 0, p->samples * sizeof *acc);
        for (unsigned t = 0; t < taps; t++) {
            int32_t w = p->y.weight[(size_t)y * taps + t];
            if (w == 0)
                continue;
            rs_row_x(p, ride_image_row(p->src, (uint32_t)p->y.index[(size_t)y * taps + t]), row);
            rs_accumulate(acc, row, w, p->samples);
        }
        rs_finish(acc, ride_image_row(p->dst, y), p->samples);
    }
}

static int rs_format_supported(ride_pixel_format f)
{
    return f == RIDE_PIX_GRAY8 || f == RIDE_PIX_BGR8 || f == RIDE_PIX_RGB8 || f == RIDE_PIX_BGRA8;
}

int ride_cpu_resize(const ride_image *src, ride_image *dst, uint32_t width, uint32_t height,
                    ride_interp interp, int threads)
{
    int nthreads = ride_cpu_threads(threads);
    if (nthreads < 1 || !ride_cpu_image_valid(src) || !rs_format_supported(src->format) ||
        !ride_cpu_output_distinct(src, dst))
        return -1;
    rs_plan p = {.src = src, .channels = ride_pixel_channels(src->format)};
    if (ride_resize_axes(src->width, src->height, width, height, interp, &p.x, &p.y) != 0)
        return -1;
    p.samples = (size_t)width * p.channels;
    int bands = ride_cpu_band_count(nthreads, height);
    int64_t *acc = malloc(p.samples * (size_t)bands * sizeof *acc);
    int32_t *rows = malloc(p.samples * (size_t)bands * sizeof *rows);
    int rc = -1;
    if (acc && rows && ride_image_ensure(dst, src->format, width, height) == 0) {
        p.dst = dst;
#pragma omp parallel for num_threads(bands) schedule(static)
        for (int b = 0; b < bands; b++)
            rs_band(&p, ride_cpu_band_start(b, bands, height),
                    ride_cpu_band_start(b + 1, bands, height), acc + p.samples * (size_t)b,
                    rows + p.samples * (size_t)b);
        rc = 0;
    }
    free(acc);
    free(rows);
    ride_resize_axis_free(&p.x);
    ride_resize_axis_free(&p.y);
    return rc;
}
