/* Built instead of the .cu files when RIDE is configured without CUDA: there is
 * then no device, and every CUDA entry point refuses. */
#include "ride/gpu.h"
#include "ride/log.h"

#include <stdio.h>

int ride_gpu_device_count(char *why, size_t len)
{
    if (why && len)
        snprintf(why, len, "RIDE was built without CUDA");
    return 0;
}

int ride_gpu_available(void)
{
    static int logged;
    if (!logged) {
        logged = 1;
        ride_log_info("gpu_unavailable", "reason=\"built without CUDA\" path=cpu");
    }
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
