/* kernels/gpu.h - CUDA devices and the CUDA kernels (kernels/cuda/).
 *
 * A build without CUDA, or a machine without a usable device or driver, reports
 * zero devices; callers then take the CPU path (kernels/kernels.h). Nothing here
 * logs: a failure is a -1 (or NULL), with its reason in err where the function
 * takes one, and every failed CUDA, cuBLAS or cuFFT call is noted for
 * ride_gpu_take_error, for the caller to report. */
#ifndef RIDE_GPU_H
#define RIDE_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "ride/image.h"
#include "ride/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The first failed CUDA, cuBLAS or cuFFT call on the calling thread since the last
 * ride_gpu_take_error (the task runner logs it: event=cuda_error call=... error=...).
 * Only the first is kept: it is the cause, and the failures after it are its
 * consequences (a sticky error fails every later call) or the cleanup after it. */
typedef struct ride_gpu_error {
    /* The call, or the kernel launched; "scratch_buffer" for a scratch used on
     * another device than its own. */
    char call[64];
    /* The error's name (cudaErrorMemoryAllocation, CUBLAS_STATUS_ALLOC_FAILED,
     * cufftResult_2), or for scratch_buffer what went wrong. */
    char error[96];
} ride_gpu_error;

/* 1 with that failure in *e, which is then forgotten; 0 when there was none. Only
 * the calling thread's failures: each thread has its own. */
int ride_gpu_take_error(ride_gpu_error *e);

/* Usable CUDA devices. 0 when none, with the reason in why (when not NULL). Any
 * CUDA error counts as "no device" (without a driver CUDA reports an error, not 0). */
int ride_gpu_device_count(char *why, size_t len);

/* Name of device `index` into buf; -1 if there is no such device. */
int ride_gpu_device_name(int index, char *buf, size_t len);

/* Total memory (bytes) and compute capability of device `index`; -1 if there is
 * no such device. */
int ride_gpu_device_info(int index, size_t *memory_bytes, int *cc_major, int *cc_minor);

/* Peak memory bandwidth of device `index` in bytes per second: memory clock x bus
 * width x 2 (double data rate), as the device reports them. -1 if there is no such
 * device or it reports no clock or width. */
int ride_gpu_device_peak_bandwidth(int index, double *bytes_per_s);

/* Same contracts and results as ride_cpu_grayscale / ride_cpu_stddev, computed on
 * the current CUDA device from host images. -1 on invalid arguments or CUDA errors. */
int ride_cuda_grayscale(const ride_image *src, ride_image *dst);
int ride_cuda_stddev(const ride_image *src, ride_image *dst, int ksize);

/* ride_cpu_matmul(_transpose) on the current CUDA device with cuBLAS (cublasSgemm).
 * A ride_cuda_matmul keeps its cuBLAS handle, the matrix and the frame buffers in
 * device memory between frames; one per stream, used by one thread at a time, on
 * the device that was current when it was made. It works on `stream` (a
 * cudaStream_t the caller keeps), or on a stream of its own when that is NULL.
 * set_matrix uploads the rows x cols row-major matrix M (run then computes F * M
 * and needs frames rows wide); without one, run computes F * F^T. */
typedef struct ride_cuda_matmul ride_cuda_matmul;

ride_cuda_matmul *ride_cuda_matmul_new(void *stream);
int ride_cuda_matmul_set_matrix(ride_cuda_matmul *mm, const float *matrix, uint32_t rows,
                                uint32_t cols);
int ride_cuda_matmul_run(ride_cuda_matmul *mm, const ride_image *src, ride_image *dst);
void ride_cuda_matmul_free(ride_cuda_matmul *mm);

/* ride_cpu_fft_spectrum on the current CUDA device with cuFFT (R2C, the plan kept
 * while the frame size repeats); same contract, one per stream as above. */
typedef struct ride_cuda_fft ride_cuda_fft;

ride_cuda_fft *ride_cuda_fft_new(void *stream);
int ride_cuda_fft_spectrum(ride_cuda_fft *fft, const ride_image *src, ride_image *dst,
                           int log_scale);
void ride_cuda_fft_free(ride_cuda_fft *fft);

/* Same contracts and results as ride_cpu_resize / ride_cpu_gaussian / ride_cpu_sobel,
 * bit-identical to them, computed on the current CUDA device from host images. */
int ride_cuda_resize(const ride_image *src, ride_image *dst, uint32_t width, uint32_t height,
                     ride_interp interp);
int ride_cuda_gaussian(const ride_image *src, ride_image *dst, int ksize, double sigma);
int ride_cuda_sobel(const ride_image *src, ride_image *dst, int ksize);

/* ride_cpu_surf on the current CUDA device (kernels/cuda/surf.cu): the same table,
 * with the same keypoints (positions, sizes, responses and order are computed with
 * the CPU's float operations) and descriptors equal up to the last bits of sinf,
 * cosf, atan2f and expf. Colour frames (bgr8, rgb8, bgra8) are converted to gray on
 * the device as ride_cpu_grayscale does. A ride_cuda_surf keeps its device buffers
 * between frames: one per stream, used by one thread at a time, on the device that
 * was current when it was made. Both return 0, or -1 with a one-line reason in err
 * (a failed CUDA call is also noted for ride_gpu_take_error).
 *   run: host images, on a stream of its own; synchronizes before returning.
 *   run_device: a device image, work queued on `stream` (a cudaStream_t; the call
 *     synchronizes it once to learn the keypoint count), the table shaped through
 *     out->ensure and written on the device. Call it only when earlier work on
 *     the stream has completed. */
typedef struct ride_cuda_surf ride_cuda_surf;

ride_cuda_surf *ride_cuda_surf_new(void);
int ride_cuda_surf_run(ride_cuda_surf *surf, const ride_image *src, const ride_surf_params *p,
                       ride_image *dst, char *err, size_t errlen);
int ride_cuda_surf_run_device(ride_cuda_surf *surf, const ride_task_device_image *src,
                              void *stream, const ride_surf_params *p,
                              ride_task_device_output *out, char *err, size_t errlen);
void ride_cuda_surf_free(ride_cuda_surf *surf);

/* ---- the kernels on device images (process_device) --------------------------------
 *
 * The same kernels on frames already in the current device's memory: src and dst
 * are tightly packed device images (pitch = row bytes), dst shaped as the result
 * (format and size as the host-image entry points above make it). The work is
 * queued on `stream` (a cudaStream_t; matmul and fft: the context's) and the call
 * returns without waiting for it. The host-image entry points are these between an
 * upload and a download. Kernels with intermediate results keep them in a
 * ride_cuda_scratch: device memory grown to the largest frame and reused after
 * that, one per stream, used only once the stream's earlier work has completed.
 * -1 on invalid arguments or CUDA errors (noted for ride_gpu_take_error). */
typedef struct ride_cuda_scratch ride_cuda_scratch;

/* Scratch on the current device (nothing allocated before the first frame); NULL
 * on CUDA errors. */
ride_cuda_scratch *ride_cuda_scratch_new(void);
/* Frees the buffers; the stream that used them must be idle. NULL is a no-op. */
void ride_cuda_scratch_free(ride_cuda_scratch *scratch);

/* dst = src (same format and size). */
int ride_cuda_copy_device(const ride_task_device_image *src, const ride_task_device_image *dst,
                          void *stream);
int ride_cuda_grayscale_device(const ride_task_device_image *src,
                               const ride_task_device_image *dst, void *stream);
int ride_cuda_stddev_device(const ride_task_device_image *src, const ride_task_device_image *dst,
                            int ksize, void *stream, ride_cuda_scratch *scratch);
/* To dst's size. Keeps the sampling tables in scratch while the sizes repeat. */
int ride_cuda_resize_device(const ride_task_device_image *src, const ride_task_device_image *dst,
                            ride_interp interp, void *stream, ride_cuda_scratch *scratch);
int ride_cuda_gaussian_device(const ride_task_device_image *src,
                              const ride_task_device_image *dst, int ksize, double sigma,
                              void *stream, ride_cuda_scratch *scratch);
int ride_cuda_sobel_device(const ride_task_device_image *src, const ride_task_device_image *dst,
                           int ksize, void *stream, ride_cuda_scratch *scratch);
int ride_cuda_matmul_device(ride_cuda_matmul *mm, const ride_task_device_image *src,
                            const ride_task_device_image *dst);
int ride_cuda_fft_device(ride_cuda_fft *fft, const ride_task_device_image *src,
                         const ride_task_device_image *dst, int log_scale);

/* ---- frames in flight (kernels/cuda/slot.cu) --------------------------------------
 *
 * A slot carries one frame through a GPU task's process_device: a CUDA stream and
 * event of its own, pinned host buffers for the input and the output, and the device
 * images, all kept and reused (grown, never shrunk) from one frame to the next. The
 * task runner keeps several slots per device and cycles through them, so that one
 * frame's copies overlap another's kernels. A slot belongs to one device and is used
 * by one thread at a time; every function below makes that device current on the
 * calling thread. Functions returning int give 0, or -1 with a one-line reason in
 * err (a failed CUDA call is also noted for ride_gpu_take_error). */
typedef struct ride_gpu_slot ride_gpu_slot;

ride_gpu_slot *ride_gpu_slot_new(int device, char *err, size_t errlen);
/* Waits for the slot's queued work, then frees everything; NULL is a no-op. */
void ride_gpu_slot_free(ride_gpu_slot *slot);
int ride_gpu_slot_device(const ride_gpu_slot *slot);
/* The slot's cudaStream_t. */
void *ride_gpu_slot_stream(const ride_gpu_slot *slot);
/* Makes the slot's device current on the calling thread. */
int ride_gpu_slot_activate(ride_gpu_slot *slot, char *err, size_t errlen);

/* Copies src's pixels into the slot's pinned input buffer and queues their upload
 * into its device input image, which *dev then describes (tightly packed: pitch =
 * row bytes). src may be reused as soon as this returns. Call only while the slot
 * is idle (new, or after ride_gpu_slot_wait / a poll that returned 1): refused
 * ("slot busy") while work is still queued on its stream. */
int ride_gpu_slot_upload(ride_gpu_slot *slot, const ride_image *src, ride_task_device_image *dev,
                         char *err, size_t errlen);

/* The ensure callback of ride_task_device_output, with the slot as host_ctx: shapes
 * the slot's device output image (reallocated only when it must grow). 0, or -1 on
 * bad dimensions or allocation failure. */
int ride_gpu_slot_ensure_output(void *slot, ride_task_device_image *image, uint32_t format,
                                uint32_t width, uint32_t height);

/* Queues the download of the device output image (as last shaped by
 * ride_gpu_slot_ensure_output) into the pinned output buffer, then records the
 * slot's event: the frame is complete once the event has been reached. */
int ride_gpu_slot_download(ride_gpu_slot *slot, char *err, size_t errlen);

/* 1 when everything queued on the slot up to its last download has finished (the
 * event that download recorded), 0 while work is pending, -1 on a CUDA error. After
 * a frame that failed before its download, use ride_gpu_slot_wait. */
int ride_gpu_slot_poll(ride_gpu_slot *slot, char *err, size_t errlen);
/* Blocks until everything queued on the slot has finished. */
int ride_gpu_slot_wait(ride_gpu_slot *slot, char *err, size_t errlen);

/* After the slot finished: the downloaded output copied from pinned memory into dst
 * (shaped with ride_image_ensure, tightly packed). Refused when nothing was
 * downloaded since the last upload or the download has not finished. */
int ride_gpu_slot_output(ride_gpu_slot *slot, ride_image *dst, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
