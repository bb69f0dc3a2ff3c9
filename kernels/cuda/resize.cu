// resize.cu - resize on the GPU, identical to ride_cpu_resize: the same sampling
// tables (filter_taps.c), uploaded with the frame; one thread per output pixel
// sums its source rows, each resampled along x, in exact integer arithmetic.
#include "cuda_common.cuh"

#include "../cpu/filter_taps.h"
#include "ride/gpu.h"

namespace {

using namespace ride_cuda;

constexpr int kShift = 2 * RIDE_RESIZE_WEIGHT_BITS;

// One axis's table in device memory: index[] then weight[], taps per output.
struct axis_view {
    const int32_t *index;
    const int32_t *weight;
    int taps;
};

const dim3 kBlock(32, 8);

template <int CH>
__host__ __device__ inline void resize_thread(uint3 block, dim3 block_dim, uint3 thread,
                                              const uint8_t *src, int src_width, axis_view ax,
                                              axis_view ay, int width, int height, uint8_t *dst)
{
    const int x = (int)(block.x * block_dim.x + thread.x);
    const int y = (int)(block.y * block_dim.y + thread.y);
    if (x >= width || y >= height)
        return;
    int64_t acc[CH] = {};
    for (int ty = 0; ty < ay.taps; ty++) {
        const int64_t wy = ay.weight[(size_t)y * ay.taps + ty];
        if (wy == 0)
            continue;
        const uint8_t *row = src + (size_t)ay.index[(size_t)y * ay.taps + ty] * src_width * CH;
        int32_t h[CH] = {};
        for (int tx = 0; tx < ax.taps; tx++) {
            const int32_t wx = ax.weight[(size_t)x * ax.taps + tx];
            const uint8_t *px = row + (size_t)ax.index[(size_t)x * ax.taps + tx] * CH;
            for (int c = 0; c < CH; c++)
                h[c] += wx * px[c];
        }
        for (int c = 0; c < CH; c++)
            acc[c] += wy * h[c];
    }
    uint8_t *out = dst + ((size_t)y * (size_t)width + (size_t)x) * CH;
    for (int c = 0; c < CH; c++)
        out[c] = (uint8_t)((acc[c] + ((int64_t)1 << (kShift - 1))) >> kShift);
}

template <int CH>
__global__ void resize_kernel(const uint8_t *src, int src_width, axis_view ax, axis_view ay,
                              int width, int height, uint8_t *dst)
{
    resize_thread<CH>(blockIdx, blockDim, threadIdx, src, src_width, ax, ay, width, height, dst);
}

bool queue_resize(workspace &ws, int channels, const uint8_t *src, int src_width, axis_view ax,
                  axis_view ay, int width, int height, uint8_t *dst)
{
    const dim3 grid((unsigned)(width + kBlock.x - 1) / kBlock.x,
                    (unsigned)(height + kBlock.y - 1) / kBlock.y);
    switch (channels) {
    case 1:
        return launch(ws, "resize_kernel", resize_kernel<1>, grid, kBlock, src, src_width, ax, ay,
                      width, height, dst);
    case 3:
        return launch(ws, "resize_kernel", resize_kernel<3>, grid, kBlock, src, src_width, ax, ay,
                      width, height, dst);
    case 4:
        return launch(ws, "resize_kernel", resize_kernel<4>, grid, kBlock, src, src_width, ax, ay,
                      width, height, dst);
    default:
        return false;
    }
}

// Copies a host table into a device buffer of `slot`; *view points into it.
bool upload_axis(workspace &ws, buffer_slot slot, const ride_resize_axis &a, axis_view *view)
{
    const size_t entries = (size_t)a.length * a.taps, bytes = entries * sizeof(int32_t);
    auto *d = (int32_t *)device_buffer(ws, slot, 2 * bytes);
    if (!d)
        return false;
    *view = axis_view{d, d + entries, (int)a.taps};
    return ok(cudaMemcpyAsync(d, a.index, bytes, cudaMemcpyHostToDevice, ws.stream),
              "cudaMemcpyAsync") &&
           ok(cudaMemcpyAsync(d + entries, a.weight, bytes, cudaMemcpyHostToDevice, ws.stream),
              "cudaMemcpyAsync");
}

int resize_with(workspace &ws, const ride_image *src, ride_image *dst, uint32_t width,
                uint32_t height, const ride_resize_axis &x, const ride_resize_axis &y)
{
    const int channels = u8_channels(src->format);
    const size_t in = ride_image_row_bytes(src->format, src->width) * src->height;
    const size_t out = (size_t)width * height * (size_t)channels;
    auto *d_src = (uint8_t *)device_buffer(ws, BUF_SRC, in);
    auto *d_dst = (uint8_t *)device_buffer(ws, BUF_DST, out);
    if (!d_src || !d_dst || ride_image_ensure(dst, src->format, width, height) != 0)
        return -1;
    axis_view ax = {}, ay = {};
    // The tables are host memory of this call: finish() drains the stream before
    // the caller frees them.
    const bool queued = upload_axis(ws, BUF_SUM1, x, &ax) && upload_axis(ws, BUF_SUM2, y, &ay) &&
                        upload(ws, src, d_src) &&
                        queue_resize(ws, channels, d_src, (int)src->width, ax, ay, (int)width,
                                     (int)height, d_dst) &&
                        download(ws, d_dst, dst);
    return finish(ws, queued);
}

}  // namespace

extern "C" int ride_cuda_resize(const ride_image *src, ride_image *dst, uint32_t width,
                                uint32_t height, ride_interp interp)
{
    if (!valid_src_dst(src, dst))
        return -1;
    ride_resize_axis x, y;
    if (ride_resize_axes(src->width, src->height, width, height, interp, &x, &y) != 0)
        return -1;
    workspace *ws = thread_workspace();
    const int rc = ws ? resize_with(*ws, src, dst, width, height, x, y) : -1;
    ride_resize_axis_free(&x);
    ride_resize_axis_free(&y);
    return rc;
}
