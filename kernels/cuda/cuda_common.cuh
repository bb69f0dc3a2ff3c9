// cuda_common.cuh - what the CUDA kernels share: CUDA error reporting, argument
// checks, a per-thread workspace (stream and device buffers kept between calls, so
// a worker processing frames of one size allocates once) and the copies of host
// images to and from it.
#ifndef RIDE_CUDA_COMMON_CUH
#define RIDE_CUDA_COMMON_CUH

#include "ride/image.h"
#include "ride/log.h"

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace ride_cuda {

// Every failed CUDA call logs exactly one line here; callers only pass -1 up.
inline bool ok(cudaError_t rc, const char *call)
{
    if (rc == cudaSuccess)
        return true;
    ride_log_warn("cuda_error", "call=%s error=%s", call, cudaGetErrorName(rc));
    return false;
}

// Channels of the 8-bit interleaved formats the kernels accept; 0 for the others.
inline int u8_channels(ride_pixel_format f)
{
    switch (f) {
    case RIDE_PIX_GRAY8:
        return 1;
    case RIDE_PIX_BGR8:
    case RIDE_PIX_RGB8:
        return 3;
    case RIDE_PIX_BGRA8:
        return 4;
    default:
        return 0;
    }
}

// Y = 0.299 R + 0.587 G + 0.114 B as OpenCV 4's cvtColor computes it for 8-bit
// images: 15-bit weights summing to 1 << 15, rounded. (The 14-bit weights 4899, 9617,
// 1868 of older releases differ by 1 on 43864 of the 2^24 colours.)
__host__ __device__ inline uint8_t gray_of(uint32_t r, uint32_t g, uint32_t b)
{
    return (uint8_t)((r * 9798u + g * 19235u + b * 3735u + (1u << 14)) >> 15);
}

inline bool valid_u8_image(const ride_image *img)
{
    if (!img || !img->data || u8_channels(img->format) == 0)
        return false;
    const size_t row = ride_image_row_bytes(img->format, img->width);
    return row != 0 && img->height >= 1 && img->height <= RIDE_IMAGE_MAX_DIM &&
           img->stride >= row;
}

// src is read after dst has been (re)allocated, so the two must not be one struct.
inline bool valid_src_dst(const ride_image *src, const ride_image *dst)
{
    return valid_u8_image(src) && dst && dst != src;
}

// OpenCV's borderInterpolate for BORDER_REFLECT_101, for any position: reflecting
// about 0 and len-1 repeats with period 2*(len-1), so a window wider than the image
// folds back as often as it needs; a one-pixel line maps everything to 0.
__host__ __device__ inline int reflect101(int p, int len)
{
    if (p >= 0 && p < len)
        return p;
    if (len == 1)
        return 0;
    const int period = 2 * (len - 1);
    p %= period;
    if (p < 0)
        p += period;
    return p < len ? p : period - p;
}

enum buffer_slot { BUF_SRC, BUF_DST, BUF_SUM1, BUF_SUM2, BUF_COUNT };

struct workspace {
    int device = -1;  // the device that owns stream and buffers; -1: holds nothing
    cudaStream_t stream = nullptr;
    void *buffer[BUF_COUNT] = {};
    size_t capacity[BUF_COUNT] = {};

    workspace() = default;
    workspace(const workspace &) = delete;
    workspace &operator=(const workspace &) = delete;
    ~workspace();
};

// Frees what ws holds, on the device that owns it. Returns false when the thread's
// current device could not be set back afterwards: the caller must not go on as if
// it had been.
inline bool release(workspace &ws)
{
    if (ws.device < 0)
        return true;
    int current = -1;
    const bool switched = ok(cudaGetDevice(&current), "cudaGetDevice") &&
                          current != ws.device && ok(cudaSetDevice(ws.device), "cudaSetDevice");
    for (int slot = 0; slot < BUF_COUNT; slot++) {
        if (ws.buffer[slot])
            ok(cudaFree(ws.buffer[slot]), "cudaFree");
        ws.buffer[slot] = nullptr;
        ws.capacity[slot] = 0;
    }
    if (ws.stream)
        ok(cudaStreamDestroy(ws.stream), "cudaStreamDestroy");
    ws.stream = nullptr;
    ws.device = -1;
    return !switched || ok(cudaSetDevice(current), "cudaSetDevice");
}

// At thread exit nobody is left to use the current device.
inline workspace::~workspace() { (void)release(*this); }

// The calling thread's workspace, bound to its current device (rebuilt when the
// thread has switched devices since its last call). nullptr on CUDA errors.
inline workspace *thread_workspace()
{
    thread_local workspace ws;
    int device = -1;
    if (!ok(cudaGetDevice(&device), "cudaGetDevice"))
        return nullptr;
    if (device != ws.device && !release(ws))
        return nullptr;
    if (!ws.stream) {
        if (!ok(cudaStreamCreateWithFlags(&ws.stream, cudaStreamNonBlocking),
                "cudaStreamCreateWithFlags")) {
            ws.stream = nullptr;
            return nullptr;
        }
        ws.device = device;
    }
    return &ws;
}

// Binds ws to the current device with a stream of its own, for contexts that keep
// their device buffers between calls (rather than the thread's workspace). false on
// CUDA errors, with ws holding nothing.
inline bool bind_to_current_device(workspace &ws)
{
    int device = -1;
    if (!ok(cudaGetDevice(&device), "cudaGetDevice") ||
        !ok(cudaStreamCreateWithFlags(&ws.stream, cudaStreamNonBlocking),
            "cudaStreamCreateWithFlags")) {
        ws.stream = nullptr;
        return false;
    }
    ws.device = device;
    return true;
}

// Grows a device buffer to at least `bytes` (never shrinks it): cudaFree waits for
// the device, so no queued work still reads the old one. nullptr on CUDA errors, with
// the buffer then holding nothing.
inline void *grow_buffer(void *&buffer, size_t &capacity, size_t bytes)
{
    if (capacity >= bytes)
        return buffer;
    if (buffer)
        ok(cudaFree(buffer), "cudaFree");
    buffer = nullptr;
    capacity = 0;
    void *p = nullptr;
    if (!ok(cudaMalloc(&p, bytes), "cudaMalloc"))
        return nullptr;
    buffer = p;
    capacity = bytes;
    return p;
}

// A device buffer of at least `bytes` in `slot`, grown (never shrunk) as needed.
// Safe to reallocate: every call drains the stream before returning.
inline void *device_buffer(workspace &ws, buffer_slot slot, size_t bytes)
{
    return grow_buffer(ws.buffer[slot], ws.capacity[slot], bytes);
}

// Queues the copy of img's pixels into a tightly packed device buffer.
inline bool upload(workspace &ws, const ride_image *img, void *device)
{
    const size_t row = ride_image_row_bytes(img->format, img->width);
    return ok(cudaMemcpy2DAsync(device, row, img->data, img->stride, row, img->height,
                                cudaMemcpyHostToDevice, ws.stream),
              "cudaMemcpy2DAsync");
}

// Queues the copy of a tightly packed device buffer into img's pixels.
inline bool download(workspace &ws, const void *device, ride_image *img)
{
    const size_t row = ride_image_row_bytes(img->format, img->width);
    return ok(cudaMemcpy2DAsync(img->data, img->stride, device, row, row, img->height,
                                cudaMemcpyDeviceToHost, ws.stream),
              "cudaMemcpy2DAsync");
}

// Queues kernel<<<grid, block, 0, ws.stream>>>(args...). cudaLaunchKernelEx returns
// this launch's own status, where cudaGetLastError after <<<>>> could also report an
// earlier failure of any call on this thread.
template <typename... Params, typename... Args>
bool launch(workspace &ws, const char *name, void (*kernel)(Params...), dim3 grid, dim3 block,
            Args... args)
{
    cudaLaunchConfig_t config = {};
    config.gridDim = grid;
    config.blockDim = block;
    config.stream = ws.stream;
    return ok(cudaLaunchKernelEx(&config, kernel, args...), name);
}

// Waits for the queued work and returns 0, or -1 when anything failed. The stream is
// drained on failure too, so no queued copy touches the caller's images afterwards.
inline int finish(workspace &ws, bool queued)
{
    if (queued)
        return ok(cudaStreamSynchronize(ws.stream), "cudaStreamSynchronize") ? 0 : -1;
    // The failure that brought us here is logged already; a second line adds nothing.
    (void)cudaStreamSynchronize(ws.stream);
    return -1;
}

}  // namespace ride_cuda

#endif
