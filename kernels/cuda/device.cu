// device.cu - CUDA device discovery. Any CUDA error means "no usable device":
// without a driver cudaGetDeviceCount fails (error 35) instead of returning 0.
#include "base/log.h"
#include "kernels/gpu.h"

#include <cuda_runtime.h>

#include <atomic>
#include <cstdio>

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

extern "C" int ride_gpu_available(void)
{
    static std::atomic<int> logged{0};
    char why[256];
    if (ride_gpu_device_count(why, sizeof why) > 0)
        return 1;
    if (logged.exchange(1) == 0) {
        char quoted[300];
        ride_log_info("gpu_unavailable", "reason=%s path=cpu",
                      ride_log_quote(why, quoted, sizeof quoted));
    }
    return 0;
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
