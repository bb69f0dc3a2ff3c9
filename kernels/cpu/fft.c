/* The centred magnitude spectrum of a GRAY8 frame with FFTW (single precision).
 *
 * A real frame's transform is conjugate-symmetric, F(u, v) = conj(F(-u, -v)), so
 * the r2c half spectrum (H x (W/2 + 1)) holds every magnitude: the output reads
 * the mirrored element for the columns it lacks. Min and max over the half are
 * those of the whole spectrum for the same reason. */
#include "kernels/kernels.h"

#include "cpu_internal.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

struct ride_cpu_fft {
    int threads;
    uint32_t width; /* size the plan and buffers were made for; 0: none yet */
    uint32_t height;
    fftwf_plan plan;
    float *in;            /* H x W */
    fftwf_complex *out;   /* H x (W/2 + 1) */
    float *mag;           /* H x (W/2 + 1) */
};

/* FFTW's planner and its thread-count setting are process-wide and not thread-safe:
 * streams plan concurrently, so every planner call takes this lock. */
static pthread_mutex_t planner_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t threads_once = PTHREAD_ONCE_INIT;
static int threads_ready;

static void init_fftw_threads(void)
{
    threads_ready = fftwf_init_threads() != 0;
}

ride_cpu_fft *ride_cpu_fft_new(int threads)
{
    int nthreads = ride_cpu_threads(threads);
    if (nthreads < 1)
        return NULL;
    pthread_once(&threads_once, init_fftw_threads);
    ride_cpu_fft *fft = calloc(1, sizeof *fft);
    if (fft)
        fft->threads = threads_ready ? nthreads : 1;
    return fft;
}

static void release_plan(ride_cpu_fft *fft)
{
    pthread_mutex_lock(&planner_lock);
    if (fft->plan)
        fftwf_destroy_plan(fft->plan);
    pthread_mutex_unlock(&planner_lock);
    fftwf_free(fft->in);
    fftwf_free(fft->out);
    fftwf_free(fft->mag);
    fft->plan = NULL;
    fft->in = fft->mag = NULL;
    fft->out = NULL;
    fft->width = fft->height = 0;
}

void ride_cpu_fft_free(ride_cpu_fft *fft)
{
    if (!fft)
        return;
    release_plan(fft);
    free(fft);
}

/* A plan and buffers for width x height, kept while the size repeats. */
static int ensure_plan(ride_cpu_fft *fft, uint32_t width, uint32_t height)
{
    if (fft->plan && fft->width == width && fft->height == height)
        return 0;
    release_plan(fft);
    size_t pixels = (size_t)width * height, half = (size_t)(width / 2 + 1) * height;
    fft->in = fftwf_alloc_real(pixels);
    fft->out = fftwf_alloc_complex(half);
    fft->mag = fftwf_alloc_real(half);
    if (!fft->in || !fft->out || !fft->mag) {
        release_plan(fft);
        return -1;
    }
    pthread_mutex_lock(&planner_lock);
    if (threads_ready)
        fftwf_plan_with_nthreads(fft->threads);
    /* FFTW_ESTIMATE: planning takes no time and leaves the buffers alone. */
    fft->plan = fftwf_plan_dft_r2c_2d((int)height, (int)width, fft->in, fft->out, FFTW_ESTIMATE);
    pthread_mutex_unlock(&planner_lock);
    if (!fft->plan) {
        release_plan(fft);
        return -1;
    }
    fft->width = width;
    fft->height = height;
    return 0;
}

static void load_frame(ride_cpu_fft *fft, const ride_image *src)
{
    size_t w = src->width;
    int bands = ride_cpu_band_count(fft->threads, src->height);
#pragma omp parallel for num_threads(bands) schedule(static)
    for (int b = 0; b < bands; b++) {
        uint32_t end = ride_cpu_band_start(b + 1, bands, src->height);
        for (uint32_t y = ride_cpu_band_start(b, bands, src->height); y < end; y++) {
            const uint8_t *row = ride_image_row(src, y);
            for (size_t x = 0; x < w; x++)
                fft->in[(size_t)y * w + x] = row[x];
        }
    }
}

/* |F| of elements [i0, i1) into mag, with their range: the root of the squared
 * parts, as OpenCV's magnitude (|F| <= 255 W H, far from overflowing), so that the
 * loop vectorizes. */
RIDE_CPU_CLONES
static void magnitude_span(const fftwf_complex *restrict out, float *restrict mag, size_t i0,
                           size_t i1, float *lo, float *hi)
{
    float mn = INFINITY, mx = -INFINITY;
    for (size_t i = i0; i < i1; i++) {
        float m = sqrtf(out[i][0] * out[i][0] + out[i][1] * out[i][1]);
        mag[i] = m;
        mn = fminf(m, mn);
        mx = fmaxf(m, mx);
    }
    *lo = mn;
    *hi = mx;
}

static void log_span(float *restrict mag, size_t i0, size_t i1)
{
    for (size_t i = i0; i < i1; i++)
        mag[i] = log1pf(mag[i]);
}

/* Magnitudes (log-scaled on request) into fft->mag, with their range, in bands of
 * rows on the fft's threads. log1p never decreases, so the range of the logs is
 * the logs of the range. */
static void magnitudes(ride_cpu_fft *fft, int log_scale, float *lo, float *hi)
{
    size_t row = fft->width / 2 + 1;
    int bands = ride_cpu_band_count(fft->threads, fft->height);
    float mn = INFINITY, mx = -INFINITY;
#pragma omp parallel for num_threads(bands) schedule(static) reduction(min : mn) reduction(max : mx)
    for (int b = 0; b < bands; b++) {
        size_t i0 = row * ride_cpu_band_start(b, bands, fft->height);
        size_t i1 = row * ride_cpu_band_start(b + 1, bands, fft->height);
        float band_lo, band_hi;
        magnitude_span((const fftwf_complex *)fft->out, fft->mag, i0, i1, &band_lo, &band_hi);
        if (log_scale)
            log_span(fft->mag, i0, i1);
        mn = fminf(mn, band_lo);
        mx = fmaxf(mx, band_hi);
    }
    *lo = log_scale ? log1pf(mn) : mn;
    *hi = log_scale ? log1pf(mx) : mx;
}

/* Output (x, y) shows frequency ((x - W/2) mod W, (y - H/2) mod H). */
static void write_shifted(const ride_cpu_fft *fft, float lo, float hi, ride_image *dst,
                          int nthreads)
{
    const uint32_t w = fft->width, h = fft->height, half = w / 2 + 1;
    const float scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
    int bands = ride_cpu_band_count(nthreads, h);
#pragma omp parallel for num_threads(bands) schedule(static)
    for (int b = 0; b < bands; b++) {
        uint32_t end = ride_cpu_band_start(b + 1, bands, h);
        for (uint32_t y = ride_cpu_band_start(b, bands, h); y < end; y++) {
            uint32_t u = (y + h - h / 2) % h, mirror_u = (h - u) % h;
            uint8_t *row = ride_image_row(dst, y);
            for (uint32_t x = 0; x < w; x++) {
                uint32_t v = (x + w - w / 2) % w;
                float m = v < half ? fft->mag[(size_t)u * half + v]
                                   : fft->mag[(size_t)mirror_u * half + (w - v)];
                row[x] = (uint8_t)(int)((m - lo) * scale + 0.5f);
            }
        }
    }
}

int ride_cpu_fft_spectrum(ride_cpu_fft *fft, const ride_image *src, ride_image *dst,
                          int log_scale)
{
    if (!fft || !ride_cpu_image_valid(src) || src->format != RIDE_PIX_GRAY8 ||
        !ride_cpu_output_distinct(src, dst) || src->width > RIDE_IMAGE_MAX_DIM)
        return -1;
    if (ensure_plan(fft, src->width, src->height) != 0 ||
        ride_image_ensure(dst, RIDE_PIX_GRAY8, src->width, src->height) != 0)
        return -1;
    load_frame(fft, src);
    fftwf_execute(fft->plan);
    float lo, hi;
    magnitudes(fft, log_scale, &lo, &hi);
    write_shifted(fft, lo, hi, dst, fft->threads);
    return 0;
}
