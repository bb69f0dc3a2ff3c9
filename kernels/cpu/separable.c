/* Exact integer separable filtering over row bands (see separable.h). */
#include "separable.h"

#include "cpu_internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SEP_MAX_FILTERS 2

typedef struct sep_plan {
    const ride_image *src;
    ride_image *dst;
    const ride_sep_taps (*filters)[2];
    int filter_count;
    ride_sep_finish_fn finish;
    unsigned channels;
    size_t samples;        /* width x channels */
    uint32_t radius;       /* widest horizontal radius of the filters */
    const uint32_t *border; /* source column of each border column: left, then right */
} sep_plan;

/* Taps mirrored about the centre: equal (smoothing) or opposite (derivative) pairs
 * take one multiply per pair instead of two. */
typedef enum sep_symmetry { SEP_GENERAL, SEP_EVEN, SEP_ODD } sep_symmetry;

static sep_symmetry sep_symmetry_of(ride_sep_taps v)
{
    bool even = true, odd = v.taps[v.count / 2] == 0;
    for (uint32_t t = 0; t < v.count / 2; t++) {
        even &= v.taps[t] == v.taps[v.count - 1 - t];
        odd &= v.taps[t] == -v.taps[v.count - 1 - t];
    }
    return even ? SEP_EVEN : odd ? SEP_ODD : SEP_GENERAL;
}

/* out[i] += ka a[i] + kb b[i] for a pair of inputs at mirrored taps; T is the
 * sample type (uint8_t rows or int32_t sums). */
#define SEP_ADD_PAIR(T, out, a, b, ka, kb, n, sym)                                               \
    do {                                                                                       \
        const T *restrict pa_ = (a), *restrict pb_ = (b);                                      \
        if ((sym) == SEP_EVEN)                                                                 \
            for (size_t i_ = 0; i_ < (n); i_++)                                                \
                (out)[i_] += (ka) * (pa_[i_] + pb_[i_]);                                       \
        else if ((sym) == SEP_ODD)                                                             \
            for (size_t i_ = 0; i_ < (n); i_++)                                                \
                (out)[i_] += (ka) * (pa_[i_] - pb_[i_]);                                       \
        else                                                                                   \
            for (size_t i_ = 0; i_ < (n); i_++)                                                \
                (out)[i_] += (ka) * pa_[i_] + (kb) * pb_[i_];                                  \
    } while (0)

/* Column pass at row y: out[i] = sum over the taps of tap x sample i of the row. */
RIDE_CPU_CLONES
static void sep_column(const sep_plan *p, uint32_t y, ride_sep_taps v, int32_t *restrict out)
{
    int64_t r = v.count / 2;
    sep_symmetry sym = sep_symmetry_of(v);
    const uint8_t *restrict centre = ride_image_row(p->src, y);
    int32_t kc = v.taps[r];
    for (size_t i = 0; i < p->samples; i++)
        out[i] = kc * centre[i];
    for (int64_t t = 0; t < r; t++) {
        const uint8_t *a = ride_image_row(p->src, ride_cpu_reflect101((int64_t)y + t - r, p->src->height));
        const uint8_t *b = ride_image_row(p->src, ride_cpu_reflect101((int64_t)y + r - t, p->src->height));
        int32_t ka = v.taps[t], kb = v.taps[v.count - 1 - (uint32_t)t];
        SEP_ADD_PAIR(uint8_t, out, a, b, ka, kb, p->samples, sym);
    }
}

static void sep_fill_border(const sep_plan *p, int32_t *ext)
{
    unsigned ch = p->channels;
    size_t left = (size_t)p->radius * ch, right = left + p->samples;
    for (uint32_t j = 0; j < p->radius; j++)
        for (unsigned c = 0; c < ch; c++) {
            ext[(size_t)j * ch + c] = ext[left + (size_t)p->border[j] * ch + c];
            ext[right + (size_t)j * ch + c] = ext[left + (size_t)p->border[p->radius + j] * ch + c];
        }
}

RIDE_CPU_CLONES
static void sep_row(const sep_plan *p, const int32_t *restrict ext, ride_sep_taps h,
                    int32_t *restrict out)
{
    unsigned ch = p->channels;
    uint32_t r = h.count / 2;
    sep_symmetry sym = sep_symmetry_of(h);
    const int32_t *base = ext + (size_t)(p->radius - r) * ch;
    const int32_t *restrict centre = base + (size_t)r * ch;
    int32_t kc = h.taps[r];
    for (size_t i = 0; i < p->samples; i++)
        out[i] = kc * centre[i];
    for (uint32_t t = 0; t < r; t++) {
        const int32_t *a = base + (size_t)t * ch, *b = base + (size_t)(h.count - 1 - t) * ch;
        int32_t ka = h.taps[t], kb = h.taps[h.count - 1 - t];
        SEP_ADD_PAIR(int32_t, out, a, b, ka, kb, p->samples, sym);
    }
}

static void sep_band(const sep_plan *p, uint32_t y0, uint32_t y1, int32_t *scratch)
{
    size_t ext_samples = p->samples + (size_t)2 * p->radius * p->channels;
    int32_t *ext = scratch;
    const int32_t *rows[SEP_MAX_FILTERS];
    int32_t *outs[SEP_MAX_FILTERS];
    for (int f = 0; f < p->filter_count; f++) {
        outs[f] = scratch + ext_samples + (size_t)f * p->samples;
        rows[f] = outs[f];
    }
    for (uint32_t y = y0; y < y1; y++) {
        for (int f = 0; f < p->filter_count; f++) {
            sep_column(p, y, p->filters[f][0], ext + (size_t)p->radius * p->channels);
            sep_fill_border(p, ext);
            sep_row(p, ext, p->filters[f][1], outs[f]);
        }
        p->finish(rows, ride_image_row(p->dst, y), p->samples);
    }
}

int ride_sep_run(const ride_image *src, ride_image *dst, const ride_sep_taps (*filters)[2],
                 int filter_count, ride_sep_finish_fn finish, int threads)
{
    if (filter_count < 1 || filter_count > SEP_MAX_FILTERS)
        return -1;
    sep_plan p = {
        .src = src,
        .dst = dst,
        .filters = filters,
        .filter_count = filter_count,
        .finish = finish,
        .channels = ride_pixel_channels(src->format),
        .samples = ride_image_row_bytes(src->format, src->width),
    };
    for (int f = 0; f < filter_count; f++)
        if (filters[f][1].count / 2 > p.radius)
            p.radius = filters[f][1].count / 2;
    int bands = ride_cpu_band_count(threads, src->height);
    size_t per_band = p.samples * (size_t)(filter_count + 1) + (size_t)2 * p.radius * p.channels;
    int32_t *scratch = malloc((per_band * (size_t)bands + (size_t)2 * p.radius) * sizeof *scratch);
    if (!scratch)
        return -1;
    uint32_t *border = (uint32_t *)(scratch + per_band * (size_t)bands);
    ride_cpu_reflect_border(border, p.radius, src->width);
    p.border = border;

#pragma omp parallel for num_threads(bands) schedule(static)
    for (int b = 0; b < bands; b++)
        sep_band(&p, ride_cpu_band_start(b, bands, src->height),
                 ride_cpu_band_start(b + 1, bands, src->height), scratch + per_band * (size_t)b);

    free(scratch);
    return 0;
}
