// cuda_common.cuh - what the CUDA kernels share: CUDA error noting, argument
// checks, scratch device memory kept between frames, a per-thread workspace for the
// host-image entry points (stream, staging buffers and scratch kept between calls,
// so a worker processing frames of one size allocates once), and the run of a
// device entry point between an upload and a download.
#ifndef RIDE_CUDA_COMMON_CUH
#define RIDE_CUDA_COMMON_CUH

#include "kernels/gpu.h"
#include "ride/image.h"

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>

namespace ride_cuda {

// Notes a failure for ride_gpu_take_error (device.cu): the kernels log nothing, their
// callers report it.
void note_error(const char *call, const char *error);

// Every failed CUDA call is noted here; callers only pass -1 up.
inline bool ok(cudaError_t rc, const char *call)
{
    if (rc == cudaSuccess)
        return true;
    note_error(call, cudaGetErrorName(rc));
    return false;
}

// Channels of the 8-bit interleaved formats the kernels accept; 0 for the others.
inline int u8_channels(uint32_t f)
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

// A device image the kernels can read or write: pixels present, size within
// RIDE_IMAGE_MAX_DIM, rows tightly packed (pitch = row bytes).
inline bool packed_device_image(const ride_task_device_image *img)
{
    if (!img || !img->data || img->height < 1 || img->height > RIDE_IMAGE_MAX_DIM)
        return false;
    const size_t row = ride_image_row_bytes((ride_pixel_format)img->format, img->width);
    return row != 0 && img->pitch == row;
}

// The arguments of a device entry point whose output has src's size: both packed,
// src 8-bit, dst of dst_format (0: src's).
inline bool valid_same_size(const ride_task_device_image *src, const ride_task_device_image *dst,
                            uint32_t dst_format)
{
    return packed_device_image(src) && packed_device_image(dst) && u8_channels(src->format) &&
           dst->format == (dst_format ? dst_format : src->format) && dst->width == src->width &&
           dst->height == src->height && dst->data != src->data;
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

// Makes `device` current and gives the device that was current before in *previous;
// false on CUDA errors.
inline bool switch_device(int device, int *previous)
{
    return ok(cudaGetDevice(previous), "cudaGetDevice") &&
           (*previous == device || ok(cudaSetDevice(device), "cudaSetDevice"));
}

}  // namespace ride_cuda

// The buffers of a ride_cuda_scratch.
enum ride_cuda_scratch_buffer { SCRATCH_A, SCRATCH_B, SCRATCH_C, SCRATCH_COUNT };

// Device buffers kept between calls on one device, grown (never shrunk) as frames
// need. Growing frees the old buffer at once, which is safe because every user
// queues on one stream and is called only once that stream's earlier work is done.
struct ride_cuda_scratch {
    int device = -1;
    void *buffer[SCRATCH_COUNT] = {};
    size_t capacity[SCRATCH_COUNT] = {};
    // What the buffers hold for the kernel that filled them, so that it can skip
    // refilling them (resize: its sampling tables); all zero: nothing known. Cleared
    // by every scratch_buffer call: a scratch may serve several kernels.
    uint32_t kept[8] = {};

    ride_cuda_scratch() = default;
    ride_cuda_scratch(const ride_cuda_scratch &) = delete;
    ride_cuda_scratch &operator=(const ride_cuda_scratch &) = delete;
    ~ride_cuda_scratch();
};

namespace ride_cuda {

// Binds s to the current device; false on CUDA errors.
inline bool bind_scratch(ride_cuda_scratch &s)
{
    return ok(cudaGetDevice(&s.device), "cudaGetDevice");
}

// Frees s's buffers on its device, leaving the current device as it was. false when
// the current device could not be set back: the caller must not go on as if it had
// been.
inline bool release_scratch(ride_cuda_scratch &s)
{
    if (s.device < 0)
        return true;
    int previous = -1;
    const bool switched = switch_device(s.device, &previous);
    for (int i = 0; i < SCRATCH_COUNT; i++) {
        if (s.buffer[i])
            ok(cudaFree(s.buffer[i]), "cudaFree");
        s.buffer[i] = nullptr;
        s.capacity[i] = 0;
    }
    for (uint32_t &k : s.kept)
        k = 0;
    return !switched || previous == s.device || ok(cudaSetDevice(previous), "cudaSetDevice");
}

}  // namespace ride_cuda

inline ride_cuda_scratch::~ride_cuda_scratch() { (void)ride_cuda::release_scratch(*this); }

namespace ride_cuda {

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

// A device buffer of at least `bytes` in buffer `which`, grown as needed, for the
// caller to overwrite; nullptr on CUDA errors, or when the current device is not
// the scratch's.
inline void *scratch_buffer(ride_cuda_scratch &s, ride_cuda_scratch_buffer which, size_t bytes)
{
    int device = -1;
    if (!ok(cudaGetDevice(&device), "cudaGetDevice"))
        return nullptr;
    if (device != s.device) {
        char error[64];
        std::snprintf(error, sizeof error, "scratch of device %d used on device %d", s.device,
                      device);
        note_error("scratch_buffer", error);
        return nullptr;
    }
    // Whoever asks for a buffer may overwrite it.
    for (uint32_t &k : s.kept)
        k = 0;
    return grow_buffer(s.buffer[which], s.capacity[which], bytes);
}

// The stream and buffers behind the entry points that take host images: the frame
// is staged in `io` (IO_SRC, IO_DST), the kernels' own intermediates in `scratch`.
enum io_buffer { IO_SRC = SCRATCH_A, IO_DST = SCRATCH_B };

struct workspace {
    cudaStream_t stream = nullptr;
    bool owns_stream = false;
    ride_cuda_scratch io;
    ride_cuda_scratch scratch;

    workspace() = default;
    workspace(const workspace &) = delete;
    workspace &operator=(const workspace &) = delete;
    ~workspace();
};

// Frees what ws holds, on the device that owns it; false as release_scratch.
inline bool release(workspace &ws)
{
    // Both scratches are released even when the first cannot restore the device:
    // a scratch left holding buffers would hand them to the next device it binds to.
    const bool io_restored = release_scratch(ws.io);
    bool restored = release_scratch(ws.scratch) && io_restored;
    if (ws.owns_stream && ws.stream) {
        int previous = -1;
        const bool switched = switch_device(ws.io.device, &previous);
        ok(cudaStreamDestroy(ws.stream), "cudaStreamDestroy");
        restored = restored && (!switched || previous == ws.io.device ||
                                ok(cudaSetDevice(previous), "cudaSetDevice"));
    }
    ws.stream = nullptr;
    ws.owns_stream = false;
    ws.io.device = ws.scratch.device = -1;
    return restored;
}

inline workspace::~workspace() { (void)release(*this); }

// Binds ws to the current device: with `stream` when given (the caller keeps it),
// else with a non-blocking stream of its own. false on CUDA errors, with ws holding
// nothing.
inline bool bind_to_current_device(workspace &ws, cudaStream_t stream)
{
    if (!bind_scratch(ws.io) || !bind_scratch(ws.scratch))
        return false;
    if (stream) {
        ws.stream = stream;
        return true;
    }
    if (!ok(cudaStreamCreateWithFlags(&ws.stream, cudaStreamNonBlocking),
            "cudaStreamCreateWithFlags")) {
        ws.stream = nullptr;
        return false;
    }
    ws.owns_stream = true;
    return true;
}

// The calling thread's workspace, bound to its current device (rebuilt when the
// thread has switched devices since its last call). nullptr on CUDA errors.
inline workspace *thread_workspace()
{
    // At thread exit nobody is left to use the current device.
    thread_local workspace ws;
    int device = -1;
    if (!ok(cudaGetDevice(&device), "cudaGetDevice"))
        return nullptr;
    if (ws.stream && device != ws.io.device && !release(ws))
        return nullptr;
    if (!ws.stream && !bind_to_current_device(ws, nullptr))
        return nullptr;
    return &ws;
}

// A tightly packed device image of format x width x height in io buffer `which`.
inline bool staged_image(workspace &ws, io_buffer which, ride_pixel_format format,
                         uint32_t width, uint32_t height, ride_task_device_image *img)
{
    const size_t row = ride_image_row_bytes(format, width);
    void *data = scratch_buffer(ws.io, (ride_cuda_scratch_buffer)which, row * height);
    *img = ride_task_device_image{(uint32_t)format, width, height, row, data};
    return data != nullptr;
}

// Queues the copy of img's pixels into a tightly packed device image.
inline bool upload(cudaStream_t stream, const ride_image *img, const ride_task_device_image &dev)
{
    return ok(cudaMemcpy2DAsync(dev.data, dev.pitch, img->data, img->stride, dev.pitch,
                                img->height, cudaMemcpyHostToDevice, stream),
              "cudaMemcpy2DAsync");
}

// Queues the copy of a tightly packed device image into img's pixels.
inline bool download(cudaStream_t stream, const ride_task_device_image &dev, ride_image *img)
{
    return ok(cudaMemcpy2DAsync(img->data, img->stride, dev.data, dev.pitch, dev.pitch,
                                img->height, cudaMemcpyDeviceToHost, stream),
              "cudaMemcpy2DAsync");
}

// Queues the copy of one packed device image into another of the same shape.
inline bool queue_copy(cudaStream_t stream, const ride_task_device_image &src,
                       const ride_task_device_image &dst)
{
    return ok(cudaMemcpyAsync(dst.data, src.data, src.pitch * src.height,
                              cudaMemcpyDeviceToDevice, stream),
              "cudaMemcpyAsync");
}

// Queues kernel<<<grid, block, 0, stream>>>(args...). cudaLaunchKernelEx returns this
// launch's own status, where cudaGetLastError after <<<>>> could also report an
// earlier failure of any call on this thread.
template <typename... Params, typename... Args>
bool launch(cudaStream_t stream, const char *name, void (*kernel)(Params...), dim3 grid,
            dim3 block, Args... args)
{
    cudaLaunchConfig_t config = {};
    config.gridDim = grid;
    config.blockDim = block;
    config.stream = stream;
    return ok(cudaLaunchKernelEx(&config, kernel, args...), name);
}

// Waits for the queued work and returns 0, or -1 when anything failed. The stream is
// drained on failure too, so no queued copy touches the caller's images afterwards.
inline int finish(cudaStream_t stream, bool queued)
{
    if (queued)
        return ok(cudaStreamSynchronize(stream), "cudaStreamSynchronize") ? 0 : -1;
    // The failure that brought us here is noted already; a second one adds nothing.
    (void)cudaStreamSynchronize(stream);
    return -1;
}

// A host-image entry point: src staged into the device, `queue(stream, scratch,
// device src, device dst)` (a device entry point's work; false on failure), and the result
// brought back into dst, shaped format x width x height. Returns once dst holds it.
template <typename Queue>
int run_on_host_images(workspace &ws, const ride_image *src, ride_image *dst,
                       ride_pixel_format format, uint32_t width, uint32_t height, Queue queue)
{
    ride_task_device_image d_src, d_dst;
    if (!staged_image(ws, IO_SRC, src->format, src->width, src->height, &d_src) ||
        !staged_image(ws, IO_DST, format, width, height, &d_dst) ||
        ride_image_ensure(dst, format, width, height) != 0)
        return -1;
    const bool queued = upload(ws.stream, src, d_src) &&
                        queue(ws.stream, ws.scratch, d_src, d_dst) &&
                        download(ws.stream, d_dst, dst);
    return finish(ws.stream, queued);
}

// The same on the calling thread's workspace.
template <typename Queue>
int run_on_host_images(const ride_image *src, ride_image *dst, ride_pixel_format format,
                       uint32_t width, uint32_t height, Queue queue)
{
    workspace *ws = thread_workspace();
    return ws ? run_on_host_images(*ws, src, dst, format, width, height, queue) : -1;
}

}  // namespace ride_cuda

#endif
