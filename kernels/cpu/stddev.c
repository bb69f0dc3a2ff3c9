/* Local standard deviation with exact integer window sums.
 *
 * Per channel, each band of rows keeps two running column sums over the k rows
 * of the window (sum of x and of x^2): moving down one row adds the entering row
 * and subtracts the leaving one. A horizontal sliding window over those column
 * sums gives the window sums S1 and S2, so the work per pixel does not depend on
 * k. Borders follow OpenCV's BORDER_REFLECT_101 for any k and image size.
 *
 * Ranges, for k <= 255 and n = k^2 <= 65025 samples of at most 255:
 *   column sum of x  <= 255 * 255        (uint32)
 *   column sum of x^2 <= 255 * 255^2
 *   S1 <= n * 255     < 2^24
 *   S2 <= n * 255^2   = 4228250625 < 2^32 (uint32: the running updates wrap
 *                       modulo 2^32 but every true value fits, so the result is exact)
 *   V = n*S2 - S1^2   = n^2 * variance, an integer < 2^48.
 * The output is round-half-up(sqrt(V) / n). With t = sqrt(4V), that is
 * floor((t + n) / (2n)) = floor((floor(t) + n) / (2n)), and floor(t) is the
 * integer square root of 4V (< 2^50), which the correctly rounded double sqrt
 * gives exactly for arguments below 2^50. All products above are exact in double
 * (they are integers below 2^53). */
#include "kernels/kernels.h"

#include "cpu_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The quotient (floor(t) + n) / (2n) is either an integer or at least 1/(2n) >=
 * 1/130050 below the next one; multiplying by a rounded 1/(2n) errs by far less
 * than 1e-12. Adding SD_EPS (well inside both margins) makes the truncation
 * exact without a division per sample. */
#define SD_EPS (1.0 / (1 << 20))

/* What every band of one call shares. */
typedef struct sd_plan {
    const ride_image *src;
    ride_image *dst;
    unsigned channels;
    uint32_t ksize;
    uint32_t radius;
    size_t samples;          /* samples in a row: width x channels */
    size_t ext_samples;      /* samples in a row widened by the border: (width + 2 radius) x channels */
    const uint32_t *border;  /* source column of each border column, left then right */
    double n;
    double inv_two_n;
} sd_plan;

static const uint8_t *sd_src_row(const sd_plan *p, int64_t y)
{
    return ride_image_row(p->src, ride_cpu_reflect101(y, p->src->height));
}

RIDE_CPU_CLONES
static void sd_add_row(uint32_t *restrict c1, uint32_t *restrict c2, const uint8_t *restrict row,
                       size_t samples)
{
    for (size_t i = 0; i < samples; i++) {
        uint32_t v = row[i];
        c1[i] += v;
        c2[i] += v * v;
    }
}

/* Moves the column sums one row down. Unsigned arithmetic: intermediate values
 * may wrap, the sums themselves stay exact (see the ranges above). */
RIDE_CPU_CLONES
static void sd_slide_rows(uint32_t *restrict c1, uint32_t *restrict c2, const uint8_t *restrict in,
                          const uint8_t *restrict out, size_t samples)
{
    for (size_t i = 0; i < samples; i++) {
        uint32_t a = in[i], b = out[i];
        c1[i] += a - b;
        c2[i] += a * a - b * b;
    }
}

/* Copies the column sums of the reflected source columns into the border. */
static void sd_fill_border(const sd_plan *p, uint32_t *c1, uint32_t *c2)
{
    unsigned ch = p->channels;
    size_t left = (size_t)p->radius * ch;
    size_t right = left + p->samples;
    for (uint32_t j = 0; j < p->radius; j++) {
        size_t from_l = left + (size_t)p->border[j] * ch;
        size_t from_r = left + (size_t)p->border[p->radius + j] * ch;
        for (unsigned c = 0; c < ch; c++) {
            c1[(size_t)j * ch + c] = c1[from_l + c];
            c2[(size_t)j * ch + c] = c2[from_l + c];
            c1[right + (size_t)j * ch + c] = c1[from_r + c];
            c2[right + (size_t)j * ch + c] = c2[from_r + c];
        }
    }
}

/* Four uint32 lanes: every x86-64 vector unit shifts them within one register
 * (wider generic vectors need cross-lane shuffles that SSE2 and AVX2 lack). */
typedef uint32_t sd_lanes __attribute__((vector_size(16)));

#define SD_LANES 4

/* Window sums of one channel, w[i] = w[i - 1] + c[i - 1 + k] - c[i - 1]: a prefix
 * sum of the differences, four at a time with a log-step scan in a vector
 * (the running sum alone would take one dependent step per sample). */
RIDE_CPU_CLONES
static void sd_window_sums_1(const sd_plan *p, const uint32_t *restrict c, uint32_t *restrict w)
{
    size_t k = p->ksize, n = p->samples - 1, j = 0;
    uint32_t first = 0;
    for (size_t i = 0; i < k; i++)
        first += c[i];
    w[0] = first;
    const sd_lanes zero = {0};
    sd_lanes carry = zero + first;
    for (; j + SD_LANES <= n; j += SD_LANES) {
        sd_lanes enter, leave;
        memcpy(&enter, c + j + k, sizeof enter);
        memcpy(&leave, c + j, sizeof leave);
        sd_lanes sums = enter - leave;
        sums += __builtin_shufflevector(sums, zero, 4, 0, 1, 2);
        sums += __builtin_shufflevector(sums, zero, 4, 4, 0, 1);
        sums += carry;
        memcpy(w + j + 1, &sums, sizeof sums);
        carry = __builtin_shufflevector(sums, sums, 3, 3, 3, 3);
    }
    for (; j < n; j++)
        w[j + 1] = w[j] + c[j + k] - c[j];
}

/* Three channels: three independent running sums, one per channel. */
RIDE_CPU_CLONES
static void sd_window_sums_3(const sd_plan *p, const uint32_t *restrict c, uint32_t *restrict w)
{
    size_t span = (size_t)p->ksize * 3;
    uint32_t s0 = 0, s1 = 0, s2 = 0;
    for (size_t i = 0; i < span; i += 3) {
        s0 += c[i];
        s1 += c[i + 1];
        s2 += c[i + 2];
    }
    w[0] = s0;
    w[1] = s1;
    w[2] = s2;
    for (size_t i = 3; i < p->samples; i += 3) {
        s0 += c[i - 3 + span] - c[i - 3];
        s1 += c[i - 2 + span] - c[i - 2];
        s2 += c[i - 1 + span] - c[i - 1];
        w[i] = s0;
        w[i + 1] = s1;
        w[i + 2] = s2;
    }
}

/* Four channels: one pixel per vector, the four running sums side by side. */
RIDE_CPU_CLONES
static void sd_window_sums_4(const sd_plan *p, const uint32_t *restrict c, uint32_t *restrict w)
{
    size_t span = (size_t)p->ksize * 4;
    sd_lanes sums = {0};
    for (size_t i = 0; i < span; i += 4) {
        sd_lanes v;
        memcpy(&v, c + i, sizeof v);
        sums += v;
    }
    memcpy(w, &sums, sizeof sums);
    for (size_t i = 4; i < p->samples; i += 4) {
        sd_lanes enter, leave;
        memcpy(&enter, c + i - 4 + span, sizeof enter);
        memcpy(&leave, c + i - 4, sizeof leave);
        sums += enter - leave;
        memcpy(w + i, &sums, sizeof sums);
    }
}

typedef void (*sd_window_fn)(const sd_plan *, const uint32_t *restrict, uint32_t *restrict);

RIDE_CPU_CLONES
static void sd_finish_row(const sd_plan *p, const uint32_t *restrict w1,
                          const uint32_t *restrict w2, uint8_t *restrict out)
{
    double n = p->n, inv_two_n = p->inv_two_n;
    for (size_t i = 0; i < p->samples; i++) {
        double s1 = w1[i], s2 = w2[i];
        double isqrt = (double)(int32_t)sqrt(4.0 * (n * s2 - s1 * s1));
        out[i] = (uint8_t)(int32_t)((isqrt + n) * inv_two_n + SD_EPS);
    }
}

static void sd_band(const sd_plan *p, uint32_t y0, uint32_t y1, uint32_t *scratch)
{
    uint32_t *c1 = scratch, *c2 = c1 + p->ext_samples;
    uint32_t *w1 = c2 + p->ext_samples, *w2 = w1 + p->samples;
    size_t left = (size_t)p->radius * p->channels;
    int64_t r = p->radius;
    sd_window_fn window = p->channels == 1   ? sd_window_sums_1
                          : p->channels == 3 ? sd_window_sums_3
                                             : sd_window_sums_4;

    memset(c1, 0, p->ext_samples * sizeof *c1);
    memset(c2, 0, p->ext_samples * sizeof *c2);
    for (int64_t dy = -r; dy <= r; dy++)
        sd_add_row(c1 + left, c2 + left, sd_src_row(p, (int64_t)y0 + dy), p->samples);

    for (uint32_t y = y0; y < y1; y++) {
        if (y > y0)
            sd_slide_rows(c1 + left, c2 + left, sd_src_row(p, (int64_t)y + r),
                          sd_src_row(p, (int64_t)y - r - 1), p->samples);
        sd_fill_border(p, c1, c2);
        window(p, c1, w1);
        window(p, c2, w2);
        sd_finish_row(p, w1, w2, ride_image_row(p->dst, y));
    }
}

static int sd_format_supported(ride_pixel_format f)
{
    return f == RIDE_PIX_GRAY8 || f == RIDE_PIX_BGR8 || f == RIDE_PIX_RGB8 || f == RIDE_PIX_BGRA8;
}

/* Scratch for `bands` bands (two column-sum rows and two window-sum rows each)
 * plus the border map; NULL on overflow or allocation failure. */
static uint32_t *sd_alloc_scratch(const sd_plan *p, int bands, size_t *per_band)
{
    size_t band, total, bytes;
    if (__builtin_add_overflow(p->ext_samples, p->samples, &band) ||
        __builtin_mul_overflow(band, (size_t)2, &band) ||
        __builtin_mul_overflow(band, (size_t)bands, &total) ||
        __builtin_add_overflow(total, (size_t)2 * p->radius, &total) ||
        __builtin_mul_overflow(total, sizeof(uint32_t), &bytes) ||
        __builtin_add_overflow(bytes, (size_t)63, &bytes))
        return NULL;
    *per_band = band;
    return aligned_alloc(64, bytes & ~(size_t)63);
}

int ride_cpu_stddev(const ride_image *src, ride_image *dst, int ksize, int threads)
{
    int nthreads = ride_cpu_threads(threads);
    if (nthreads < 1 || ksize < 1 || ksize > RIDE_STDDEV_MAX_KSIZE || ksize % 2 == 0 ||
        !ride_cpu_image_valid(src) || !sd_format_supported(src->format) ||
        !ride_cpu_output_distinct(src, dst))
        return -1;

    sd_plan p = {
        .src = src,
        .channels = ride_pixel_channels(src->format),
        .ksize = (uint32_t)ksize,
        .radius = (uint32_t)ksize / 2,
        .samples = ride_image_row_bytes(src->format, src->width),
        .n = (double)ksize * ksize,
    };
    p.ext_samples = p.samples + (size_t)2 * p.radius * p.channels;
    p.inv_two_n = 1.0 / (2.0 * p.n);

    int bands = ride_cpu_band_count(nthreads, src->height);
    size_t per_band;
    uint32_t *scratch = sd_alloc_scratch(&p, bands, &per_band);
    if (!scratch)
        return -1;
    if (ride_image_ensure(dst, src->format, src->width, src->height) != 0) {
        free(scratch);
        return -1;
    }
    p.dst = dst;

    uint32_t *border = scratch + per_band * (size_t)bands;
    ride_cpu_reflect_border(border, p.radius, src->width);
    p.border = border;

#pragma omp parallel for num_threads(bands) schedule(static)
    for (int b = 0; b < bands; b++)
        sd_band(&p, ride_cpu_band_start(b, bands, src->height),
                ride_cpu_band_start(b + 1, bands, src->height), scratch + per_band * (size_t)b);

    free(scratch);
    return 0;
}
