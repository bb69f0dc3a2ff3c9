/* Resize of 8-bit images with OpenCV's sampling positions (filter_taps.c builds
 * them): each output row accumulates its source rows, each resampled along x, in
 * exact integer arithmetic with fixed-point weights per axis (11 bits, 16 for
 * area), rounded half up once. */
#include "kernels/kernels.h"

#include "cpu_internal.h"
#include "filter_taps.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct rs_plan {
    const ride_image *src;
    ride_image *dst;
    unsigned channels;
    size_t samples; /* output row: width x channels */
    ride_resize_axis x, y;
    uint32_t shift; /* both axes' weight bits */
    bool halves;    /* both axes halve (rs_axis_halves) */
    bool wide;      /* the sums need 64 bits (area's 16-bit weights) */
    bool rows_first; /* each output row combines its source rows, then resamples x */
    size_t src_samples; /* source row: width x channels */
} rs_plan;

/* One source row resampled along x: at most 255 << bits per sample. Inlined into
 * callers with constant channels and taps, so that the common cases (2 taps, 1, 3
 * or 4 channels) compile to straight-line code. */
static inline __attribute__((always_inline)) void
rs_row_x_n(const ride_resize_axis *x, const uint8_t *restrict row, int32_t *restrict out,
           unsigned ch, unsigned taps)
{
    for (uint32_t i = 0; i < x->length; i++) {
        const int32_t *idx = x->index + (size_t)i * taps, *w = x->weight + (size_t)i * taps;
        for (unsigned c = 0; c < ch; c++) {
            int32_t sum = 0;
            for (unsigned t = 0; t < taps; t++)
                sum += w[t] * row[(size_t)idx[t] * ch + c];
            out[(size_t)i * ch + c] = sum;
        }
    }
}

RIDE_CPU_CLONES
static void rs_row_x(const rs_plan *p, const uint8_t *restrict row, int32_t *restrict out)
{
    const ride_resize_axis *x = &p->x;
    if (x->taps == 2 && p->channels == 1)
        rs_row_x_n(x, row, out, 1, 2);
    else if (x->taps == 2 && p->channels == 3)
        rs_row_x_n(x, row, out, 3, 2);
    else if (x->taps == 2 && p->channels == 4)
        rs_row_x_n(x, row, out, 4, 2);
    else
        rs_row_x_n(x, row, out, p->channels, x->taps);
}

/* Halving: every output sample is the mean of a 2 x 2 block, weights 1/2 per axis. */
static bool rs_axis_halves(const ride_resize_axis *a)
{
    const int32_t half = 1 << (a->bits - 1);
    if (a->taps != 2)
        return false;
    for (uint32_t i = 0; i < a->length; i++)
        if (a->index[2 * i] != (int32_t)(2 * i) || a->index[2 * i + 1] != (int32_t)(2 * i + 1) ||
            a->weight[2 * i] != half || a->weight[2 * i + 1] != half)
            return false;
    return true;
}

/* With both axes halving (n weight bits per axis), the general sum
 * (2^(2n-2) (a + b + c + d) + 2^(2n-1)) >> 2n is exactly (a + b + c + d + 2) >> 2:
 * the same result, without the per-tap work.
 * Each sample is first summed with the one below it and the next pixel's (all
 * contiguous, so it vectorizes), then every other pixel of those sums is kept;
 * ch is a constant in every caller. */
static inline __attribute__((always_inline)) void
rs_halve_row_n(const uint8_t *restrict r0, const uint8_t *restrict r1, uint16_t *restrict sum,
               uint8_t *restrict out, uint32_t width, unsigned ch)
{
    size_t n = (size_t)2 * width * ch - ch;
    for (size_t k = 0; k < n; k++)
        sum[k] = (uint16_t)(r0[k] + r1[k] + r0[k + ch] + r1[k + ch] + 2);
    for (uint32_t i = 0; i < width; i++)
        for (unsigned c = 0; c < ch; c++)
            out[(size_t)i * ch + c] = (uint8_t)(sum[(size_t)2 * i * ch + c] >> 2);
}

RIDE_CPU_CLONES
static void rs_halve_row(const uint8_t *restrict r0, const uint8_t *restrict r1,
                         uint16_t *restrict sum, uint8_t *restrict out, uint32_t width,
                         unsigned ch)
{
    if (ch == 1)
        rs_halve_row_n(r0, r1, sum, out, width, 1);
    else if (ch == 3)
        rs_halve_row_n(r0, r1, sum, out, width, 3);
    else
        rs_halve_row_n(r0, r1, sum, out, width, 4);
}

/* sum: room for two source rows' worth of samples (the band's x-pass buffer). */
static void rs_halve_band(const rs_plan *p, uint32_t y0, uint32_t y1, uint16_t *sum)
{
    for (uint32_t y = y0; y < y1; y++)
        rs_halve_row(ride_image_row(p->src, 2 * y), ride_image_row(p->src, 2 * y + 1), sum,
                     ride_image_row(p->dst, y), p->x.length, p->channels);
}

/* A source row's weighted samples added to the output row's sums; acc holds int32_t
 * sums, or int64_t ones for wide plans. */
RIDE_CPU_CLONES
static void rs_accumulate(const rs_plan *p, void *acc, const int32_t *restrict row, int32_t w)
{
    size_t n = p->samples;
    if (p->wide) {
        int64_t *restrict sum = acc;
        for (size_t i = 0; i < n; i++)
            sum[i] += (int64_t)w * row[i];
    } else {
        int32_t *restrict sum = acc;
        for (size_t i = 0; i < n; i++)
            sum[i] += w * row[i];
    }
}

RIDE_CPU_CLONES
static void rs_finish(const rs_plan *p, const void *acc, uint8_t *restrict out)
{
    size_t n = p->samples;
    uint32_t shift = p->shift;
    if (p->wide) {
        const int64_t *restrict sum = acc;
        for (size_t i = 0; i < n; i++)
            out[i] = (uint8_t)((sum[i] + ((int64_t)1 << (shift - 1))) >> shift);
    } else {
        const int32_t *restrict sum = acc;
        for (size_t i = 0; i < n; i++)
            out[i] = (uint8_t)((sum[i] + (1 << (shift - 1))) >> shift);
    }
}

/* Shrinking vertically, an output row first combines its source rows over the
 * whole width (contiguous, so it vectorizes), then resamples that one row along
 * x: one x pass per output row instead of one per source row. The same exact
 * sum in another order; narrow plans only, where it fits 32 bits. */
RIDE_CPU_CLONES
static void rs_combine_rows(const rs_plan *p, uint32_t y, int32_t *restrict sum)
{
    unsigned taps = p->y.taps;
    const int32_t *w = p->y.weight + (size_t)y * taps, *idx = p->y.index + (size_t)y * taps;
    const uint8_t *restrict first = ride_image_row(p->src, (uint32_t)idx[0]);
    for (size_t k = 0; k < p->src_samples; k++)
        sum[k] = w[0] * first[k];
    for (unsigned t = 1; t < taps; t++) {
        if (w[t] == 0)
            continue;
        const uint8_t *restrict row = ride_image_row(p->src, (uint32_t)idx[t]);
        int32_t wt = w[t];
        for (size_t k = 0; k < p->src_samples; k++)
            sum[k] += wt * row[k];
    }
}

/* The combined row resampled along x and rounded into the output row; inlined
 * with constant channels and taps, as rs_row_x_n. */
static inline __attribute__((always_inline)) void
rs_finish_x_n(const rs_plan *p, const int32_t *restrict sum, uint8_t *restrict out, unsigned ch,
              unsigned taps)
{
    const ride_resize_axis *x = &p->x;
    const uint32_t shift = p->shift;
    for (uint32_t i = 0; i < x->length; i++) {
        const int32_t *idx = x->index + (size_t)i * taps, *w = x->weight + (size_t)i * taps;
        for (unsigned c = 0; c < ch; c++) {
            int32_t v = 1 << (shift - 1);
            for (unsigned t = 0; t < taps; t++)
                v += w[t] * sum[(size_t)idx[t] * ch + c];
            out[(size_t)i * ch + c] = (uint8_t)(v >> shift);
        }
    }
}

RIDE_CPU_CLONES
static void rs_finish_x(const rs_plan *p, const int32_t *restrict sum, uint8_t *restrict out)
{
    if (p->x.taps == 2 && p->channels == 1)
        rs_finish_x_n(p, sum, out, 1, 2);
    else if (p->x.taps == 2 && p->channels == 3)
        rs_finish_x_n(p, sum, out, 3, 2);
    else if (p->x.taps == 2 && p->channels == 4)
        rs_finish_x_n(p, sum, out, 4, 2);
    else
        rs_finish_x_n(p, sum, out, p->channels, p->x.taps);
}

/* The source rows a band has resampled along x, by source row index: consecutive
 * output rows share source rows (an upscale reads each one for several), and
 * indices only grow down the band, so the slot with the smallest index is the one
 * no longer needed. */
typedef struct rs_cache {
    int32_t *rows;   /* slots x samples */
    int64_t *source; /* the source row in each slot; -1: empty */
    unsigned slots;
} rs_cache;

static const int32_t *rs_cached_row(const rs_plan *p, rs_cache *c, int32_t source)
{
    unsigned oldest = 0;
    for (unsigned k = 0; k < c->slots; k++) {
        if (c->source[k] == source)
            return c->rows + (size_t)k * p->samples;
        if (c->source[k] < c->source[oldest])
            oldest = k;
    }
    int32_t *row = c->rows + (size_t)oldest * p->samples;
    rs_row_x(p, ride_image_row(p->src, (uint32_t)source), row);
    c->source[oldest] = source;
    return row;
}

static void rs_band(const rs_plan *p, uint32_t y0, uint32_t y1, void *acc, rs_cache *c)
{
    if (p->halves) {
        rs_halve_band(p, y0, y1, acc);
        return;
    }
    if (p->rows_first) {
        for (uint32_t y = y0; y < y1; y++) {
            rs_combine_rows(p, y, c->rows);
            rs_finish_x(p, c->rows, ride_image_row(p->dst, y));
        }
        return;
    }
    unsigned taps = p->y.taps;
    for (unsigned k = 0; k < c->slots; k++)
        c->source[k] = -1;
    for (uint32_t y = y0; y < y1; y++) {
        memset(acc, 0, p->samples * (p->wide ? sizeof(int64_t) : sizeof(int32_t)));
        for (unsigned t = 0; t < taps; t++) {
            int32_t w = p->y.weight[(size_t)y * taps + t];
            if (w != 0)
                rs_accumulate(p, acc, rs_cached_row(p, c, p->y.index[(size_t)y * taps + t]), w);
        }
        rs_finish(p, acc, ride_image_row(p->dst, y));
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
    p.halves = rs_axis_halves(&p.x) && rs_axis_halves(&p.y);
    p.shift = p.x.bits + p.y.bits;
    p.wide = p.shift + 8 > 31;
    p.src_samples = (size_t)src->width * p.channels;
    p.rows_first = !p.halves && !p.wide && height < src->height;
    int bands = ride_cpu_band_count(nthreads, height);
    /* Every tap's row plus the next one: enough that a row still needed is never evicted. */
    unsigned slots = p.y.taps + 1;
    /* A band's cached rows, or its combined source row when rows come first. */
    size_t row_words = p.rows_first ? p.src_samples : p.samples * slots;
    /* 64-bit sums hold the narrow ones, and the halving's two rows of 16-bit sums. */
    int64_t *acc = malloc(p.samples * (size_t)bands * sizeof *acc);
    int32_t *rows = malloc(row_words * (size_t)bands * sizeof *rows);
    int64_t *source = malloc((size_t)slots * (size_t)bands * sizeof *source);
    int rc = -1;
    if (acc && rows && source && ride_image_ensure(dst, src->format, width, height) == 0) {
        p.dst = dst;
#pragma omp parallel for num_threads(bands) schedule(static)
        for (int b = 0; b < bands; b++) {
            rs_cache c = {rows + row_words * (size_t)b, source + (size_t)slots * b, slots};
            rs_band(&p, ride_cpu_band_start(b, bands, height),
                    ride_cpu_band_start(b + 1, bands, height), acc + p.samples * (size_t)b, &c);
        }
        rc = 0;
    }
    free(acc);
    free(rows);
    free(source);
    ride_resize_axis_free(&p.x);
    ride_resize_axis_free(&p.y);
    return rc;
}
