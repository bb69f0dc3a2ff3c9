// device.cu - CUDA device discovery, and the per-thread note of the first failed
// call (ride_gpu_take_error). Any CUDA error means "no usable device": without a
// driver cudaGetDeviceCount fails (error 35) instead of returning 0.
#include "cuda_common.cuh"

#include <cuda_runtime.h>

#include <cstdio>

namespace {

// Plain data, so that it needs no destructor: the kernels' per-thread workspaces
// may still note failures while the thread exits.
struct noted_error {
    bool set;
    ride_gpu_error error;
};

thread_local noted_error noted;

}  // namespace

void ride_cuda::note_error(const char *call, const char *error)
{
    if (noted.set)
        return;
    noted.set = true;
    std::snprintf(noted.error.call, sizeof noted.error.call, "%s", call);
    std::snprintf(noted.error.error, sizeof noted.error.error, "%s", error);
}

extern "C" int ride_gpu_take_error(ride_gpu_error *e)
{
    if (!noted.set)
        return 0;
    noted.set = false;
    if (e)
        *e = noted.error;
    return 1;
}

extern "C" int ride_gpu_device_count(char *why, size_t len)
{
    int n = 0;
    cudaError_t rc = cudaGetDeviceCount(&n);
    if (rc != cudaSuccess) {
        if (why && len)
            std::snprintf(why, len, "no CUDA device (CUDA error %d: %s)", (int)rc,
                          cudaGetErrorString(rc));
        return 0;
    }
    if (n == 0 && why && len)
        std::snprintf(why, len, "no CUDA device");
    return n;
}

extern "C" int ride_gpu_device_name(int index, char *buf, size_t len)
{
    cudaDeviceProp prop;
    if (buf && len)
        buf[0] = '\0';
    if (cudaGetDeviceProperties(&prop, index) != cudaSuccess)
        return -1;
    if (buf && len)
        std::snprintf(buf, len, "%s", prop.name);
    return 0;
}

extern "C" int ride_gpu_device_info(int index, size_t *memory_bytes, int *cc_major,
                                    int *cc_minor)
{
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, index) != cudaSuccess)
        return -1;
    *memory_bytes = prop.totalGlobalMem;
    *cc_major = prop.major;
    *cc_minor = prop.minor;
    return 0;
}

// CUDA 13 dropped memoryClockRate from cudaDeviceProp; the attribute remains.
extern "C" int ride_gpu_device_peak_bandwidth(int index, double *bytes_per_s)
{
    int clock_khz = 0, bus_bits = 0;
    if (!bytes_per_s ||
        cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, index) != cudaSuccess ||
        cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, index) != cudaSuccess ||
        clock_khz <= 0 || bus_bits <= 0)
        return -1;
    *bytes_per_s = 2.0 * (double)clock_khz * 1e3 * (double)bus_bits / 8.0;
    return 0;
}
