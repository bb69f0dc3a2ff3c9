/* Built instead of the .cu files when RIDE is configured without CUDA: there is
 * then no device, and every CUDA entry point refuses. */
#include "kernels/gpu.h"

#include <stdio.h>

static int no_cuda(char *err, size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "RIDE was built without CUDA");
    return -1;
}

int ride_gpu_device_count(char *why, size_t len)
{
    no_cuda(why, len);
    return 0;
}

int ride_gpu_take_error(ride_gpu_error *e)
{
    (void)e;
    return 0;
}

int ride_gpu_device_name(int index, char *buf, size_t len)
{
    (void)index;
    if (buf && len)
        buf[0] = '\0';
    return -1;
}

int ride_gpu_device_info(int index, size_t *memory_bytes, int *cc_major, int *cc_minor)
{
    (void)index;
    (void)memory_bytes;
    (void)cc_major;
    (void)cc_minor;
    return -1;
}

int ride_gpu_device_peak_bandwidth(int index, double *bytes_per_s)
{
    (void)index;
    (void)bytes_per_s;
    return -1;
}

int ride_cuda_grayscale(const ride_image *src, ride_image *dst)
{
    (void)src;
    (void)dst;
    return -1;
}

int ride_cuda_stddev(const ride_image *src, ride_image *dst, int ksize)
{
    (void)src;
    (void)dst;
    (void)ksize;
    return -1;
}

ride_cuda_matmul *ride_cuda_matmul_new(void *stream)
{
    (void)stream;
    return NULL;
}

int ride_cuda_matmul_set_matrix(ride_cuda_matmul *mm, const float *matrix, uint32_t rows,
                                uint32_t cols)
{
    (void)mm;
    (void)matrix;
    (void)rows;
    (void)cols;
    return -1;
}

int ride_cuda_matmul_run(ride_cuda_matmul *mm, const ride_image *src, ride_image *dst)
{
    (void)mm;
    (void)src;
    (void)dst;
    return -1;
}

void ride_cuda_matmul_free(ride_cuda_matmul *mm)
{
    (void)mm;
}

ride_cuda_fft *ride_cuda_fft_new(void *stream)
{
    (void)stream;
    return NULL;
}

int ride_cuda_fft_spectrum(ride_cuda_fft *fft, const ride_image *src, ride_image *dst,
                           int log_scale)
{
    (void)fft;
    (void)src;
    (void)dst;
    (void)log_scale;
    return -1;
}

void ride_cuda_fft_free(ride_cuda_fft *fft)
{
    (void)fft;
}

ride_cuda_surf *ride_cuda_surf_new(void)
{
    return NULL;
}

int ride_cuda_surf_run(ride_cuda_surf *surf, const ride_image *src, const ride_surf_params *p,
                       ride_image *dst, char *err, size_t errlen)
{
    (void)surf;
    (void)src;
    (void)p;
    (void)dst;
    return no_cuda(err, errlen);
}

int ride_cuda_surf_run_device(ride_cuda_surf *surf, const ride_task_device_image *src,
                              void *stream, const ride_surf_params *p,
                              ride_task_device_output *out, char *err, size_t errlen)
{
    (void)surf;
    (void)src;
    (void)stream;
    (void)p;
    (void)out;
    return no_cuda(err, errlen);
}

void ride_cuda_surf_free(ride_cuda_surf *surf)
{
    (void)surf;
}

int ride_cuda_resize(const ride_image *src, ride_image *dst, uint32_t width, uint32_t height,
                     ride_interp interp)
{
    (void)src;
    (void)dst;
    (void)width;
    (void)height;
    (void)interp;
    return -1;
}

int ride_cuda_gaussian(const ride_image *src, ride_image *dst, int ksize, double sigma)
{
    (void)src;
    (void)dst;
    (void)ksize;
    (void)sigma;
    return -1;
}

int ride_cuda_sobel(const ride_image *src, ride_image *dst, int ksize)
{
    (void)src;
    (void)dst;
    (void)ksize;
    return -1;
}

ride_cuda_scratch *ride_cuda_scratch_new(void)
{
    return NULL;
}

void ride_cuda_scratch_free(ride_cuda_scratch *scratch)
{
    (void)scratch;
}

int ride_cuda_copy_device(const ride_task_device_image *src, const ride_task_device_image *dst,
                          void *stream)
{
    (void)src;
    (void)dst;
    (void)stream;
    return -1;
}

int ride_cuda_grayscale_device(const ride_task_device_image *src,
                               const ride_task_device_image *dst, void *stream)
{
    (void)src;
    (void)dst;
    (void)stream;
    return -1;
}

int ride_cuda_stddev_device(const ride_task_device_image *src, const ride_task_device_image *dst,
                            int ksize, void *stream, ride_cuda_scratch *scratch)
{
    (void)src;
    (void)dst;
    (void)ksize;
    (void)stream;
    (void)scratch;
    return -1;
}

int ride_cuda_resize_device(const ride_task_device_image *src, const ride_task_device_image *dst,
                            ride_interp interp, void *stream, ride_cuda_scratch *scratch)
{
    (void)src;
    (void)dst;
    (void)interp;
    (void)stream;
    (void)scratch;
    return -1;
}

int ride_cuda_gaussian_device(const ride_task_device_image *src,
                              const ride_task_device_image *dst, int ksize, double sigma,
                              void *stream, ride_cuda_scratch *scratch)
{
    (void)src;
    (void)dst;
    (void)ksize;
    (void)sigma;
    (void)stream;
    (void)scratch;
    return -1;
}

int ride_cuda_sobel_device(const ride_task_device_image *src, const ride_task_device_image *dst,
                           int ksize, void *stream, ride_cuda_scratch *scratch)
{
    (void)src;
    (void)dst;
    (void)ksize;
    (void)stream;
    (void)scratch;
    return -1;
}

int ride_cuda_matmul_device(ride_cuda_matmul *mm, const ride_task_device_image *src,
                            const ride_task_device_image *dst)
{
    (void)mm;
    (void)src;
    (void)dst;
    return -1;
}

int ride_cuda_fft_device(ride_cuda_fft *fft, const ride_task_device_image *src,
                         const ride_task_device_image *dst, int log_scale)
{
    (void)fft;
    (void)src;
    (void)dst;
    (void)log_scale;
    return -1;
}

ride_gpu_slot *ride_gpu_slot_new(int device, char *err, size_t errlen)
{
    (void)device;
    no_cuda(err, errlen);
    return NULL;
}

void ride_gpu_slot_free(ride_gpu_slot *slot)
{
    (void)slot;
}

int ride_gpu_slot_device(const ride_gpu_slot *slot)
{
    (void)slot;
    return -1;
}

void *ride_gpu_slot_stream(const ride_gpu_slot *slot)
{
    (void)slot;
    return NULL;
}

int ride_gpu_slot_activate(ride_gpu_slot *slot, char *err, size_t errlen)
{
    (void)slot;
    return no_cuda(err, errlen);
}

int ride_gpu_slot_upload(ride_gpu_slot *slot, const ride_image *src, ride_task_device_image *dev,
                         char *err, size_t errlen)
{
    (void)slot;
    (void)src;
    (void)dev;
    return no_cuda(err, errlen);
}

int ride_gpu_slot_ensure_output(void *slot, ride_task_device_image *image, uint32_t format,
                                uint32_t width, uint32_t height)
{
    (void)slot;
    (void)image;
    (void)format;
    (void)width;
    (void)height;
    return -1;
}

int ride_gpu_slot_download(ride_gpu_slot *slot, char *err, size_t errlen)
{
    (void)slot;
    return no_cuda(err, errlen);
}

int ride_gpu_slot_poll(ride_gpu_slot *slot, char *err, size_t errlen)
{
    (void)slot;
    return no_cuda(err, errlen);
}

int ride_gpu_slot_wait(ride_gpu_slot *slot, char *err, size_t errlen)
{
    (void)slot;
    return no_cuda(err, errlen);
}

int ride_gpu_slot_output(ride_gpu_slot *slot, ride_image *dst, char *err, size_t errlen)
{
    (void)slot;
    (void)dst;
    return no_cuda(err, errlen);
}
