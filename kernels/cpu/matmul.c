/* Matrix products of a GRAY8 frame with single-precision BLAS.
 *
 * The frame is widened to floats once, then each row band of the result is one
 * cblas_sgemm call on its own thread. Inside an OpenMP parallel region the OpenMP
 * build of OpenBLAS runs each call on the calling thread, so `threads` bounds the
 * threads used; any other CBLAS gives the same results, single-threaded per band. */
#include "kernels/kernels.h"

#include "cpu_internal.h"

#include <cblas.h>
#include <stdlib.h>

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void ride_matmul_random_matrix(float *m, uint32_t rows, uint32_t cols, uint64_t seed)
{
    uint64_t state = seed;
    size_t n = (size_t)rows * cols;
    for (size_t i = 0; i < n; i++)
        m[i] = (float)(splitmix64(&state) >> 40) * (1.0f / 16777216.0f);
}

/* The frame as a tightly packed H x W float matrix; NULL on allocation failure. */
static float *frame_to_floats(const ride_image *src)
{
    size_t w = src->width;
    float *f = malloc(w * src->height * sizeof *f);
    if (!f)
        return NULL;
    for (uint32_t y = 0; y < src->height; y++) {
        const uint8_t *row = ride_image_row(src, y);
        for (size_t x = 0; x < w; x++)
            f[(size_t)y * w + x] = row[x];
    }
    return f;
}

static int matmul_args_valid(const ride_image *src, const ride_image *dst, int nthreads)
{
    return nthreads >= 1 && ride_cpu_image_valid(src) && src->format == RIDE_PIX_GRAY8 &&
           ride_cpu_output_distinct(src, dst);
}

/* dst = F * op(B) where op(B) is W x cols: B^T of F itself (b == f, ldb = W), or
 * M (ldb = cols). */
static int matmul_bands(const ride_image *src, const float *b, int transpose_b, uint32_t cols,
                        ride_image *dst, int nthreads)
{
    float *f = frame_to_floats(src);
    if (!f)
        return -1;
    if (transpose_b)
        b = f;
    if (ride_image_ensure(dst, RIDE_PIX_GRAY32F, cols, src->height) != 0) {
        free(f);
        return -1;
    }
    const int w = (int)src->width, ldc = (int)(dst->stride / sizeof(float));
    const int ldb = transpose_b ? w : (int)cols;
    int bands = ride_cpu_band_count(nthreads, src->height);
#pragma omp parallel for num_threads(bands) schedule(static)
    for (int band = 0; band < bands; band++) {
        uint32_t y0 = ride_cpu_band_start(band, bands, src->height);
        uint32_t y1 = ride_cpu_band_start(band + 1, bands, src->height);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
                    (int)(y1 - y0), (int)cols, w, 1.0f, f + (size_t)y0 * (size_t)w, w, b, ldb,
                    0.0f, (float *)(void *)ride_image_row(dst, y0), ldc);
    }
    free(f);
    return 0;
}

int ride_cpu_matmul_transpose(const ride_image *src, ride_image *dst, int threads)
{
    int nthreads = ride_cpu_threads(threads);
    if (!matmul_args_valid(src, dst, nthreads))
        return -1;
    return matmul_bands(src, NULL, 1, src->height, dst, nthreads);
}

int ride_cpu_matmul(const ride_image *src, const float *matrix, uint32_t cols, ride_image *dst,
                    int threads)
{
    int nthreads = ride_cpu_threads(threads);
    if (!matmul_args_valid(src, dst, nthreads) || !matrix || cols < 1 ||
        cols > RIDE_IMAGE_MAX_DIM)
        return -1;
    return matmul_bands(src, matrix, 0, cols, dst, nthreads);
}
