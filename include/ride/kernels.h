/* ride/kernels.h - multicore CPU kernels (kernels/cpu/), parallel over row bands.
 *
 * `threads` is the number of worker threads; 0 means one per online core.
 * Outputs are (re)allocated with ride_image_ensure(), so a caller that keeps its
 * output image between frames allocates once. Each returns 0, or -1 on invalid
 * arguments or allocation failure (dst then holds no result). */
#ifndef RIDE_KERNELS_H
#define RIDE_KERNELS_H

#include "ride/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest window accepted by the stddev kernels (odd sizes 1..255). */
#define RIDE_STDDEV_MAX_KSIZE 255

/* BGR8, RGB8 or BGRA8 -> GRAY8, bit-exact with OpenCV's cvtColor
 * (Y = 0.299 R + 0.587 G + 0.114 B in OpenCV 4's 15-bit fixed point:
 * (9798 R + 19235 G + 3735 B + 2^14) >> 15). GRAY8 is copied. */
int ride_cpu_grayscale(const ride_image *src, ride_image *dst, int threads);

/* Local standard deviation over a ksize x ksize window centred on each pixel, per
 * channel, borders reflected as OpenCV's BORDER_REFLECT_101. src is 8-bit (GRAY8,
 * BGR8, RGB8, BGRA8); dst has src's format and holds round(stddev) (half up).
 * Exact integer window sums: the cost per pixel does not depend on ksize. */
int ride_cpu_stddev(const ride_image *src, ride_image *dst, int ksize, int threads);

/* Copies src into dst (same format, tightly packed). */
int ride_cpu_passthrough(const ride_image *src, ride_image *dst);

/* The thread count a kernel uses for `threads`: 0 resolves to the online core
 * count, counts above 256 are capped at 256, a negative count gives -1. */
int ride_cpu_threads(int threads);

/* Fills the rows x cols row-major matrix m with pseudo-random floats in [0, 1)
 * from seed (splitmix64, 24 bits per value): the same seed gives the same matrix
 * on every host, and the matrix for fewer rows is a prefix of the one for more. */
void ride_matmul_random_matrix(float *m, uint32_t rows, uint32_t cols, uint64_t seed);

/* Matrix products of a GRAY8 frame F (H x W, read as floats) into GRAY32F, with
 * single-precision BLAS (cblas_sgemm) over row bands:
 *   ride_cpu_matmul_transpose: dst = F * F^T, H x H;
 *   ride_cpu_matmul: dst = F * M, H x cols, M row-major W x cols. */
int ride_cpu_matmul_transpose(const ride_image *src, ride_image *dst, int threads);
int ride_cpu_matmul(const ride_image *src, const float *matrix, uint32_t cols, ride_image *dst,
                    int threads);

/* The centred 2-D magnitude spectrum of a GRAY8 frame as GRAY8 of the same size:
 * |F(u, v)| (or log(1 + |F(u, v)|) with log_scale) moved so that DC lies at
 * (W / 2, H / 2) (fftshift), then min-max scaled to 0..255 rounding half up (all
 * zeros when every value is equal). A ride_cpu_fft keeps the FFTW plan and
 * buffers of the last frame size: one per stream, used by one thread at a time. */
typedef struct ride_cpu_fft ride_cpu_fft;

ride_cpu_fft *ride_cpu_fft_new(int threads);
int ride_cpu_fft_spectrum(ride_cpu_fft *fft, const ride_image *src, ride_image *dst,
                          int log_scale);
void ride_cpu_fft_free(ride_cpu_fft *fft);

#ifdef __cplusplus
}
#endif

#endif
