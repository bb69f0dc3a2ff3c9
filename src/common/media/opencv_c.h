/* opencv_c.h - the only door to OpenCV (C++), for C callers.
 *
 * Every function catches OpenCV's exceptions and reports them as -1 plus a
 * message in err (when err is not NULL): bad input never unwinds into C. */
#ifndef RIDE_OPENCV_C_H
#define RIDE_OPENCV_C_H

#include <stddef.h>
#include <stdint.h>

#include "ride/image.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ride_cv_codec {
    RIDE_CV_JPEG = 1,
    RIDE_CV_PNG = 2,
} ride_cv_codec;

/* Encodes img (GRAY8, BGR8, BGRA8 or GRAY16 for PNG) into a malloc'd buffer.
 * quality: JPEG quality 1..100, or PNG compression level 0..9; -1 for the default. */
int ride_cv_encode(const ride_image *img, ride_cv_codec codec, int quality, uint8_t **out,
                   size_t *out_len, char *err, size_t errlen);

/* Decodes a JPEG or PNG into `want` (GRAY8, BGR8, BGRA8 or GRAY16), reusing out's
 * buffer when it fits. Images larger than RIDE_IMAGE_MAX_DIM or max_pixels are
 * refused before their pixels are allocated. */
int ride_cv_decode(const uint8_t *buf, size_t len, ride_pixel_format want, uint64_t max_pixels,
                   ride_image *out, char *err, size_t errlen);

/* ride_cv_decode, a JPEG at 1/scale of its size (scale 1, 2, 4 or 8): libjpeg's
 * DCT scaling decodes ceil(width / scale) x ceil(height / scale) pixels without
 * decoding the full image. A PNG is decoded full size whatever the scale. */
int ride_cv_decode_scaled(const uint8_t *buf, size_t len, ride_pixel_format want,
                          unsigned scale, uint64_t max_pixels, ride_image *out, char *err,
                          size_t errlen);

/* Reads an image file (any format OpenCV knows) into `want`. */
int ride_cv_read_file(const char *path, ride_pixel_format want, ride_image *out, char *err,
                      size_t errlen);
/* Writes img to path; the extension (.png, .jpg, ...) picks the codec. */
int ride_cv_write_file(const char *path, const ride_image *img, char *err, size_t errlen);

typedef enum ride_cv_interp {
    RIDE_CV_INTER_NEAREST = 0,
    RIDE_CV_INTER_LINEAR = 1,
    RIDE_CV_INTER_AREA = 3,
} ride_cv_interp;

/* Resizes src into dst, which the caller has sized (ride_image_ensure) in src's format. */
int ride_cv_resize(const ride_image *src, ride_image *dst, ride_cv_interp interp, char *err,
                   size_t errlen);

/* Video capture: a file path, rtsp://..., or v4l2:/dev/videoN. Frames come out BGR8. */
typedef struct ride_cv_capture ride_cv_capture;

/* timeout_ms bounds opening and each read of network streams (0: OpenCV's default). */
ride_cv_capture *ride_cv_capture_open(const char *uri, int timeout_ms, char *err, size_t errlen);
/* 1: a frame was read into out; 0: end of stream; -1: error. */
int ride_cv_capture_read(ride_cv_capture *cap, ride_image *out, char *err, size_t errlen);
/* Frames per second the stream declares, or 0 when unknown. */
double ride_cv_capture_fps(const ride_cv_capture *cap);
void ride_cv_capture_close(ride_cv_capture *cap);

/* Video writer: Motion-JPEG in an AVI container, through OpenCV's own encoder
 * (no FFmpeg needed), e.g. for test fixtures. Frames go in BGR8. */
typedef struct ride_cv_writer ride_cv_writer;

/* path should end in .avi; width, height in 1..RIDE_IMAGE_MAX_DIM, fps > 0. */
ride_cv_writer *ride_cv_writer_open(const char *path, uint32_t width, uint32_t height, double fps,
                                    char *err, size_t errlen);
/* frame must be BGR8 of the size given to ride_cv_writer_open. */
int ride_cv_writer_write(ride_cv_writer *w, const ride_image *frame, char *err, size_t errlen);
/* Finishes the file (writes the index) and frees w. NULL is ignored. */
void ride_cv_writer_close(ride_cv_writer *w);

/* Object detection with a cascade classifier (cv::CascadeClassifier), e.g. the
 * Haar face cascades of Debian's opencv-data. */
typedef struct ride_cv_cascade ride_cv_cascade;

/* A detected object's box, in pixels of the searched image. */
typedef struct ride_cv_rect {
    int32_t x, y, width, height;
} ride_cv_rect;

/* detectMultiScale's parameters: the scale step between searched sizes (> 1),
 * the neighbours a candidate needs to be kept, and the smallest and largest
 * object sides in pixels (0: no bound). */
typedef struct ride_cv_detect_opts {
    double scale_factor;
    int min_neighbors;
    int min_size;
    int max_size;
} ride_cv_detect_opts;

/* Loads a cascade file (OpenCV's XML format); NULL with the reason in err when
 * it cannot be read or is not a cascade. */
ride_cv_cascade *ride_cv_cascade_load(const char *path, char *err, size_t errlen);
/* Runs the cascade over img (GRAY8, or BGR8/RGB8/BGRA8 converted to gray first).
 * On success *rects points at *count boxes, valid until the next call on c. */
int ride_cv_cascade_detect(ride_cv_cascade *c, const ride_image *img,
                           const ride_cv_detect_opts *opts, const ride_cv_rect **rects,
                           size_t *count, char *err, size_t errlen);
void ride_cv_cascade_free(ride_cv_cascade *c);

/* The OpenCV version RIDE runs against ("4.6.0"). */
const char *ride_cv_version(void);

/* Reference implementations, for tests and benchmarks only. */
void ride_cv_set_threads(int threads);
/* BGR8/RGB8/BGRA8 -> GRAY8 with cv::cvtColor. */
int ride_cv_ref_grayscale(const ride_image *src, ride_image *dst);
/* Local standard deviation over ksize x ksize (BORDER_REFLECT_101), through
 * cv::boxFilter on float: sqrt(E[x^2] - E[x]^2). dst is GRAY32F with src's channels
 * folded into width (one float per sample), src must be 8-bit. */
int ride_cv_ref_stddev(const ride_image *src, int ksize, ride_image *dst);
/* F * F^T (matrix NULL) or F * M (M row-major, src->width x cols) with cv::gemm,
 * F being the GRAY8 src as floats; dst is GRAY32F. */
int ride_cv_ref_matmul(const ride_image *src, const float *matrix, uint32_t cols,
                       ride_image *dst);
/* The centred magnitude spectrum of a GRAY8 src as ride_cpu_fft_spectrum defines it,
 * composed from cv::dft, cv::magnitude, cv::log and cv::normalize (NORM_MINMAX to
 * 8 bits); dst is GRAY8. */
int ride_cv_ref_spectrum(const ride_image *src, int log_scale, ride_image *dst);

/* cv::GaussianBlur(ksize x ksize, sigma, BORDER_REFLECT_101) of an 8-bit image
 * into dst (src's format). */
int ride_cv_ref_gaussian(const ride_image *src, int ksize, double sigma, ride_image *dst);
/* GRAY8 -> GRAY8: cv::Sobel (CV_16S, dx and dy, ksize, BORDER_REFLECT_101), then
 * cv::convertScaleAbs of each and their saturating cv::add. */
int ride_cv_ref_sobel(const ride_image *src, int ksize, ride_image *dst);
/* GRAY8 -> GRAY32F: cv::filter2D of src (as float) with the ksize x ksize row-major
 * kernel, anchored at (ksize / 2, ksize / 2), BORDER_REFLECT_101. */
int ride_cv_ref_filter2d(const ride_image *src, const float *kernel, int ksize, ride_image *dst);
/* GRAY8 -> GRAY8 of width x height: cv::warpAffine with the 2 x 3 row-major matrix m
 * (destination = m * source), INTER_LINEAR, BORDER_REPLICATE. */
int ride_cv_ref_warp_affine(const ride_image *src, const double m[6], uint32_t width,
                            uint32_t height, ride_image *dst);
/* A fresh cv::CascadeClassifier loaded from cascade_path, its detectMultiScale
 * on the GRAY8 gray with opts; the first cap boxes go to out, how many were found
 * to *count. */
int ride_cv_ref_detect(const char *cascade_path, const ride_image *gray,
                       const ride_cv_detect_opts *opts, ride_cv_rect *out, size_t cap,
                       size_t *count);
#ifdef __cplusplus
}
#endif

#endif
