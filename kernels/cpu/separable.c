/* Exact integer separable filtering over row bands, each row in chunks (see
 * separable.h). */
#include "separable.h"

#include "cpu_internal.h"

#include <stdbool.h>
#include <stdlib.h>

#define SEP_MAX_FILTERS 2
/* Samples of a row filtered at a time: the chunk's 16-bit column sums and 32-bit
 * row sums stay in the L1 cache whatever the frame's width. */
#define SEP_CHUNK_SAMPLES 2048

/* How a filter's column sums are kept: in 16 bits, read back as unsigned
 * (non-negative taps, gaussian) or as signed (derivative taps, Sobel). */
typedef enum sep_column_kind { SEP_COLUMN_UNSIGNED, SEP_COLUMN_SIGNED } sep_column_kind;

typedef struct sep_plan {
    const ride_image *src;
    ride_image *dst;
    const ride_sep_taps (*filters)[2];
    sep_column_kind column_kind[SEP_MAX_FILTERS];
    int filter_count;
    ride_sep_finish_fn finish;
    unsigned channels;
    uint32_t radius;       /* widest horizontal radius of the filters */
    uint32_t chunk_pixels; /* pixels per chunk of a row */
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

/* The 16-bit reading that holds every column sum of 8-bit samples under taps v
 * exactly; -1 when neither does. */
static int sep_column_kind_of(ride_sep_taps v, sep_column_kind *kind)
{
    int64_t low = 0, high = 0;
    for (uint32_t t = 0; t < v.count; t++)
        *(v.taps[t] < 0 ? &low : &high) += (int64_t)v.taps[t] * 255;
    if (low == 0 && high <= UINT16_MAX)
        *kind = SEP_COLUMN_UNSIGNED;
    else if (low >= INT16_MIN && high <= INT16_MAX)
        *kind = SEP_COLUMN_SIGNED;
    else
        return -1;
    return 0;
}

/* out[i] += ka a[i] + kb b[i] for a pair of inputs at mirrored taps; T is the
 * sample type (uint8_t rows or 16-bit column sums). */
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

/* A run of pixels [x0, x1) of one output row, and the pixels its row pass reads:
 * [x0 - radius, x1 + radius), those outside the frame mirrored back into it. */
typedef struct sep_chunk {
    uint32_t y, x0, x1;
    int64_t first; /* x0 - radius: the pixel at ext[0] */
} sep_chunk;

/* Column pass at row y over samples [s0, s1): out[i] = sum over the taps of tap x
 * sample s0 + i of the rows, modulo 2^16. The true sum fits the column kind, so
 * the wrapped 16 bits are it: 16-bit lanes hold twice the samples of 32-bit ones. */
RIDE_CPU_CLONES
static void sep_column(const sep_plan *p, uint32_t y, ride_sep_taps v, size_t s0, size_t s1,
                       uint16_t *restrict out)
{
    int64_t r = v.count / 2;
    size_t n = s1 - s0;
    sep_symmetry sym = sep_symmetry_of(v);
    const uint8_t *restrict centre = ride_image_row(p->src, y) + s0;
    int32_t kc = v.taps[r];
    for (size_t i = 0; i < n; i++)
        out[i] = (uint16_t)(kc * centre[i]);
    for (int64_t t = 0; t < r; t++) {
        const uint8_t *a = ride_image_row(p->src, ride_cpu_reflect101((int64_t)y + t - r, p->src->height)) + s0;
        const uint8_t *b = ride_image_row(p->src, ride_cpu_reflect101((int64_t)y + r - t, p->src->height)) + s0;
        int32_t ka = v.taps[t], kb = v.taps[v.count - 1 - (uint32_t)t];
        SEP_ADD_PAIR(uint8_t, out, a, b, ka, kb, n, sym);
    }
}

static void sep_mirror(const sep_plan *p, const sep_chunk *c, int64_t x0, int64_t x1,
                       uint16_t *ext)
{
    unsigned ch = p->channels;
    for (int64_t x = x0; x < x1; x++) {
        int64_t from = ride_cpu_reflect101(x, p->src->width);
        for (unsigned k = 0; k < ch; k++)
            ext[(size_t)(x - c->first) * ch + k] = ext[(size_t)(from - c->first) * ch + k];
    }
}

/* The column sums of the chunk's pixels in ext; those outside the frame are
 * copies of the pixels they mirror, which the chunk holds: it spans that edge. */
static void sep_chunk_columns(const sep_plan *p, const sep_chunk *c, ride_sep_taps v,
                              uint16_t *ext)
{
    unsigned ch = p->channels;
    int64_t width = p->src->width, end = (int64_t)c->x1 + p->radius;
    int64_t lo = c->first < 0 ? 0 : c->first, hi = end > width ? width : end;
    sep_column(p, c->y, v, (size_t)lo * ch, (size_t)hi * ch, ext + (size_t)(lo - c->first) * ch);
    sep_mirror(p, c, c->first, lo, ext);
    sep_mirror(p, c, hi, end, ext);
}

/* Row pass over the column sums in ext read as T (uint16_t or int16_t), into n
 * exact 32-bit sums. */
#define SEP_ROW(T, p, ext, h, out, n)                                                          \
    do {                                                                                       \
        unsigned ch_ = (p)->channels;                                                          \
        uint32_t r_ = (h).count / 2;                                                           \
        sep_symmetry sym_ = sep_symmetry_of(h);                                                \
        const T *base_ = (const T *)(ext) + (size_t)((p)->radius - r_) * ch_;                  \
        const T *restrict centre_ = base_ + (size_t)r_ * ch_;                                  \
        int32_t kc_ = (h).taps[r_];                                                            \
        for (size_t i_ = 0; i_ < (n); i_++)                                                    \
            (out)[i_] = kc_ * centre_[i_];                                                     \
        for (uint32_t t_ = 0; t_ < r_; t_++) {                                                 \
            const T *a_ = base_ + (size_t)t_ * ch_, *b_ = base_ + (size_t)((h).count - 1 - t_) * ch_; \
            int32_t ka_ = (h).taps[t_], kb_ = (h).taps[(h).count - 1 - t_];                    \
            SEP_ADD_PAIR(T, out, a_, b_, ka_, kb_, (n), sym_);                                 \
        }                                                                                      \
    } while (0)

RIDE_CPU_CLONES
static void sep_row_unsigned(const sep_plan *p, const uint16_t *ext, ride_sep_taps h, size_t n,
                             int32_t *restrict out)
{
    SEP_ROW(uint16_t, p, ext, h, out, n);
}

RIDE_CPU_CLONES
static void sep_row_signed(const sep_plan *p, const uint16_t *ext, ride_sep_taps h, size_t n,
                           int32_t *restrict out)
{
    SEP_ROW(int16_t, p, ext, h, out, n);
}

static void sep_filter_chunk(const sep_plan *p, const sep_chunk *c, uint16_t *ext,
                             int32_t *const *outs)
{
    size_t n = (size_t)(c->x1 - c->x0) * p->channels;
    for (int f = 0; f < p->filter_count; f++) {
        sep_chunk_columns(p, c, p->filters[f][0], ext);
        if (p->column_kind[f] == SEP_COLUMN_UNSIGNED)
            sep_row_unsigned(p, ext, p->filters[f][1], n, outs[f]);
        else
            sep_row_signed(p, ext, p->filters[f][1], n, outs[f]);
    }
    p->finish((const int32_t *const *)outs, ride_image_row(p->dst, c->y) + (size_t)c->x0 * p->channels, n);
}

/* Per band, in 32-bit units: each filter's row sums of a chunk, then the chunk's
 * 16-bit column sums with their borders (rounded up). */
static size_t sep_band_words(const sep_plan *p)
{
    size_t chunk = (size_t)p->chunk_pixels * p->channels;
    size_t ext = chunk + (size_t)2 * p->radius * p->channels;
    return chunk * (size_t)p->filter_count + (ext + 1) / 2;
}

static void sep_band(const sep_plan *p, uint32_t y0, uint32_t y1, int32_t *scratch)
{
    size_t chunk = (size_t)p->chunk_pixels * p->channels;
    int32_t *outs[SEP_MAX_FILTERS];
    for (int f = 0; f < p->filter_count; f++)
        outs[f] = scratch + (size_t)f * chunk;
    uint16_t *ext = (uint16_t *)(scratch + (size_t)p->filter_count * chunk);
    for (uint32_t y = y0; y < y1; y++)
        for (uint32_t x0 = 0; x0 < p->src->width; x0 += p->chunk_pixels) {
            uint32_t x1 = p->src->width - x0 < p->chunk_pixels ? p->src->width : x0 + p->chunk_pixels;
            sep_chunk c = {y, x0, x1, (int64_t)x0 - p->radius};
            sep_filter_chunk(p, &c, ext, outs);
        }
}

int ride_sep_run(const ride_image *src, ride_image *dst, const ride_sep_taps (*filters)[2],
                 int filter_count, ride_sep_finish_fn finish, int threads)
{
    if (filter_count < 1 || filter_count > SEP_MAX_FILTERS)
        return -1;
    unsigned channels = ride_pixel_channels(src->format);
    sep_plan p = {
        .src = src,
        .dst = dst,
        .filters = filters,
        .filter_count = filter_count,
        .finish = finish,
        .channels = channels,
        .chunk_pixels = SEP_CHUNK_SAMPLES / channels,
    };
    for (int f = 0; f < filter_count; f++) {
        if (sep_column_kind_of(filters[f][0], &p.column_kind[f]) != 0)
            return -1;
        if (filters[f][1].count / 2 > p.radius)
            p.radius = filters[f][1].count / 2;
    }
    int bands = ride_cpu_band_count(threads, src->height);
    size_t per_band = sep_band_words(&p);
    int32_t *scratch = malloc(per_band * (size_t)bands * sizeof *scratch);
    if (!scratch)
        return -1;

#pragma omp parallel for num_threads(bands) schedule(static)
    for (int b = 0; b < bands; b++)
        sep_band(&p, ride_cpu_band_start(b, bands, src->height),
                 ride_cpu_band_start(b + 1, bands, src->height), scratch + per_band * (size_t)b);

    free(scratch);
    return 0;
}
