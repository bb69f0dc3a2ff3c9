/* ride/gpu.h - CUDA devices and the CUDA kernels (kernels/cuda/).
 *
 * A build without CUDA, or a machine without a usable device or driver, reports
 * zero devices; callers then take the CPU path (ride/kernels.h). */
#ifndef RIDE_GPU_H
#define RIDE_GPU_H

#include <stddef.h>

#include "ride/image.h"
#include "ride/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Usable CUDA devices. 0 when none, with the reason in why (when not NULL). Any
 * CUDA error counts as "no device" (without a driver CUDA reports an error, not 0). */
int ride_gpu_device_count(char *why, size_t len);

/* 1 when a CUDA device can be used. The first time the answer is no, logs once
 * (event=gpu_unavailable) that the CPU path is used and why. */
int ride_gpu_available(void);

/* Name of device `index` into buf; -1 if there is no such device. */
int ride_gpu_device_name(int index, char *buf, size_t len);

/* Total memory (bytes) and compute capability of device `index`; -1 if there is
 * no such device. */
int ride_gpu_device_info(int index, size_t *memory_bytes, int *cc_major, int *cc_minor);

/* Same contracts and results as ride_cpu_grayscale / ride_cpu_stddev, computed on
 * the current CUDA device from host images. -1 on invalid arguments or CUDA errors. */
int ride_cuda_grayscale(const ride_image *src, ride_image *dst);
int ride_cuda_stddev(const ride_image *src, ride_image *dst, int ksize);

/* Same contracts and results as ride_cpu_resize / ride_cpu_gaussian / ride_cpu_sobel,
 * bit-identical to them, computed on the current CUDA device from host images. */
int ride_cuda_resize(const ride_image *src, ride_image *dst, uint32_t width, uint32_t height,
                     ride_interp interp);
int ride_cuda_gaussian(const ride_image *src, ride_image *dst, int ksize, double sigma);
int ride_cuda_sobel(const ride_image *src, ride_image *dst, int ksize);

#ifdef __cplusplus
}
#endif

#endif
