/* kernels/kernels.h - multicore CPU kernels (kernels/cpu/), parallel over row bands.
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

/* Largest output side ride_cpu_resize / ride_cuda_resize accept. */
#define RIDE_RESIZE_MAX_DIM 16384

/* Interpolations of the resize kernels; the values are OpenCV's INTER_* codes. */
typedef enum ride_interp {
    RIDE_INTERP_NEAREST = 0,
    RIDE_INTERP_LINEAR = 1,
    RIDE_INTERP_AREA = 3,
} ride_interp;

/* Resizes 8-bit src (GRAY8, BGR8, RGB8, BGRA8) to width x height (1..RIDE_RESIZE_MAX_DIM)
 * in src's format, with the sampling positions of OpenCV's cv::resize: nearest is
 * identical to it; linear and area weigh the same source pixels with weights in
 * 16-bit fixed point per axis and round half up, so they differ from OpenCV's
 * (11-bit or float) weights by at most 1. */
int ride_cpu_resize(const ride_image *src, ride_image *dst, uint32_t width, uint32_t height,
                    ride_interp interp, int threads);

/* Largest window of the gaussian kernels (odd sizes 1..31). */
#define RIDE_GAUSSIAN_MAX_KSIZE 31

/* Gaussian blur of 8-bit src (GRAY8, BGR8, RGB8, BGRA8) over a ksize x ksize window,
 * per channel, into dst of src's format; sigma 0 derives it from ksize as OpenCV
 * does (0.3 ((ksize - 1) / 2 - 1) + 0.8). Separable, borders BORDER_REFLECT_101,
 * taps in 8-bit fixed point summing to 1 and exact integer sums rounded half up,
 * as cv::GaussianBlur computes 8-bit images. */
int ride_cpu_gaussian(const ride_image *src, ride_image *dst, int ksize, double sigma,
                      int threads);

/* Sobel gradient magnitude of a GRAY8 image into GRAY8: saturate(|dx| + |dy|) with
 * dx, dy the exact responses of OpenCV's Sobel kernels of size ksize (1, 3, 5 or 7;
 * 1 is the 3x1 / 1x3 central difference), borders BORDER_REFLECT_101. Identical to
 * cv::Sobel (CV_16S) + cv::convertScaleAbs on each + a saturating cv::add. */
int ride_cpu_sobel(const ride_image *src, ride_image *dst, int ksize, int threads);

/* SURF keypoints and descriptors (Bay, Tuytelaars and Van Gool, CVIU 2008) of a
 * GRAY8 image, into a GRAY32F table RIDE_SURF_COLUMNS wide (docs/tasks.md): row 0
 * is a header (keypoint count, descriptor length, source width, source height, then
 * zeros), each further row one keypoint: the RIDE_SURF_COL_* columns, then the
 * unit-length 64-value descriptor. Keypoints are sorted by response (strongest
 * first), then y, x and size; at most max_keypoints are kept. */
#define RIDE_SURF_MAX_OCTAVES 6
#define RIDE_SURF_MAX_INTERVALS 6
#define RIDE_SURF_MAX_KEYPOINTS 100000
#define RIDE_SURF_DESC_LEN 64

enum {
    RIDE_SURF_COL_X,         /* image pixels, pixel centres at integers */
    RIDE_SURF_COL_Y,
    RIDE_SURF_COL_SIZE,      /* box filter side in pixels (as OpenCV's KeyPoint.size) */
    RIDE_SURF_COL_ANGLE,     /* radians in [0, 2 pi) from +x towards +y (down); 0 upright */
    RIDE_SURF_COL_RESPONSE,  /* Hessian determinant */
    RIDE_SURF_COL_LAPLACIAN, /* sign of the trace: -1 bright blob, +1 dark blob */
    RIDE_SURF_COL_DESC,      /* first of the RIDE_SURF_DESC_LEN descriptor values */
    RIDE_SURF_COLUMNS = RIDE_SURF_COL_DESC + RIDE_SURF_DESC_LEN,
};

typedef struct ride_surf_params {
    float hessian_threshold; /* >= 0: smallest determinant kept */
    int octaves;             /* 1..RIDE_SURF_MAX_OCTAVES */
    int intervals;           /* maxima layers per octave, 1..RIDE_SURF_MAX_INTERVALS */
    int upright;             /* nonzero: no orientation (angle 0) */
    uint32_t max_keypoints;  /* 1..RIDE_SURF_MAX_KEYPOINTS */
} ride_surf_params;

/* 1 when every field of p is in range. */
int ride_surf_params_valid(const ride_surf_params *p);

int ride_cpu_surf(const ride_image *src, const ride_surf_params *p, ride_image *dst, int threads);

/* The box-filter Hessian of side `size` (a multiple of 3, at least 9) at every
 * pixel of a GRAY8 image, as the detector computes it for octave 0: det and trace
 * (GRAY32F, src's size) hold Dxx Dyy - 0.81 Dxy^2 and Dxx + Dyy of the filter whose
 * top-left corner is at (x - size / 2, y - size / 2), and 0 where it does not fit
 * in the image. */
int ride_cpu_surf_hessian(const ride_image *src, uint32_t size, ride_image *det,
                          ride_image *trace, int threads);

#ifdef __cplusplus
}
#endif

#endif
