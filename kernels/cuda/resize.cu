// resize.cu - resize on the GPU, identical to ride_cpu_resize: the same sampling
// tables (filter_taps.c), uploaded with the frame; one thread per output pixel
// sums its source rows, each resampled along x, in exact integer arithmetic.
#include "cuda_common.cuh"

#include "../cpu/filter_taps.h"
#include "kernels/gpu.h"

namespace {

using namespace ride_cuda;

// One axis's table in device memory: index[] then weight[], taps per output, the
// weights' fixed-point bits.
struct axis_view {
    const int32_t *index;
    const int32_t *weight;
    int taps;
    int bits;
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
    const int shift = ax.bits + ay.bits;
    for (int c = 0; c < CH; c++)
        out[c] = (uint8_t)((acc[c] + ((int64_t)1 << (shift - 1))) >> shift);
}

template <int CH>
__global__ void resize_kernel(const uint8_t *src, int src_width, axis_view ax, axis_view ay,
                              int width, int height, uint8_t *dst)
{
    resize_thread<CH>(blockIdx, blockDim, threadIdx, src, src_width, ax, ay, width, height, dst);
}

bool queue_resize(cudaStream_t stream, int channels, const uint8_t *src, int src_width,
                  axis_view ax, axis_view ay, int width, int height, uint8_t *dst)
{
    const dim3 grid((unsigned)(width + kBlock.x - 1) / kBlock.x,
                    (unsigned)(height + kBlock.y - 1) / kBlock.y);
    switch (channels) {
    case 1:
        return launch(stream, "resize_kernel", resize_kernel<1>, grid, kBlock, src, src_width,
                      ax, ay, width, height, dst);
    case 3:
        return launch(stream, "resize_kernel", resize_kernel<3>, grid, kBlock, src, src_width,
                      ax, ay, width, height, dst);
    case 4:
        return launch(stream, "resize_kernel", resize_kernel<4>, grid, kBlock, src, src_width,
                      ax, ay, width, height, dst);
    default:
        return false;
    }
}

// Copies a host table into scratch buffer `which`: index[] then weight[].
bool upload_axis(cudaStream_t stream, ride_cuda_scratch &scratch, ride_cuda_scratch_buffer which,
                 const ride_resize_axis &a)
{
    const size_t entries = (size_t)a.length * a.taps, bytes = entries * sizeof(int32_t);
    auto *d = (int32_t *)scratch_buffer(scratch, which, 2 * bytes);
    return d &&
           ok(cudaMemcpyAsync(d, a.index, bytes, cudaMemcpyHostToDevice, stream),
              "cudaMemcpyAsync") &&
           ok(cudaMemcpyAsync(d + entries, a.weight, bytes, cudaMemcpyHostToDevice, stream),
              "cudaMemcpyAsync");
}

// scratch.kept while it holds the tables of a resize: the sizes and interpolation
// they were made for, then the taps of each axis.
enum kept_entry { KEPT_SRC_W, KEPT_SRC_H, KEPT_DST_W, KEPT_DST_H, KEPT_INTERP, KEPT_TAPS_X,
                  KEPT_TAPS_Y, KEPT_COUNT };
static_assert(KEPT_COUNT <= sizeof(ride_cuda_scratch::kept) / sizeof(uint32_t),
              "scratch.kept holds the resize tables' description");

axis_view view_of(const ride_cuda_scratch &scratch, ride_cuda_scratch_buffer which,
                  uint32_t length, uint32_t taps, ride_interp interp)
{
    const auto *d = (const int32_t *)scratch.buffer[which];
    return axis_view{d, d + (size_t)length * taps, (int)taps,
                     (int)ride_resize_weight_bits(interp)};
}

// The sampling tables for src_w x src_h -> dst_w x dst_h in scratch, computed and
// uploaded only when they differ from the ones already there. The upload waits for
// the stream, so the host tables can go: it happens only when a size changes.
bool ensure_tables(cudaStream_t stream, ride_cuda_scratch &scratch, uint32_t src_w,
                   uint32_t src_h, uint32_t dst_w, uint32_t dst_h, ride_interp interp,
                   axis_view *ax, axis_view *ay)
{
    const uint32_t key[] = {src_w, src_h, dst_w, dst_h, (uint32_t)interp};
    bool kept = true;
    for (int i = 0; i < KEPT_TAPS_X; i++)
        kept = kept && scratch.kept[i] == key[i];
    if (!kept) {
        ride_resize_axis x, y;
        if (ride_resize_axes(src_w, src_h, dst_w, dst_h, interp, &x, &y) != 0)
            return false;
        const bool uploaded = upload_axis(stream, scratch, SCRATCH_A, x) &&
                              upload_axis(stream, scratch, SCRATCH_B, y) &&
                              ok(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
        const uint32_t taps_x = x.taps, taps_y = y.taps;
        ride_resize_axis_free(&x);
        ride_resize_axis_free(&y);
        if (!uploaded)
            return false;
        for (int i = 0; i < KEPT_TAPS_X; i++)
            scratch.kept[i] = key[i];
        scratch.kept[KEPT_TAPS_X] = taps_x;
        scratch.kept[KEPT_TAPS_Y] = taps_y;
    }
    *ax = view_of(scratch, SCRATCH_A, dst_w, scratch.kept[KEPT_TAPS_X], interp);
    *ay = view_of(scratch, SCRATCH_B, dst_h, scratch.kept[KEPT_TAPS_Y], interp);
    return true;
}

bool queue_resize_of(cudaStream_t stream, ride_cuda_scratch &scratch,
                     const ride_task_device_image &src, const ride_task_device_image &dst,
                     ride_interp interp)
{
    axis_view ax = {}, ay = {};
    return ensure_tables(stream, scratch, src.width, src.height, dst.width, dst.height, interp,
                         &ax, &ay) &&
           queue_resize(stream, u8_channels(src.format), (const uint8_t *)src.data,
                        (int)src.width, ax, ay, (int)dst.width, (int)dst.height,
                        (uint8_t *)dst.data);
}

bool valid_resize(uint32_t width, uint32_t height, ride_interp interp)
{
    return width >= 1 && height >= 1 && width <= RIDE_RESIZE_MAX_DIM &&
           height <= RIDE_RESIZE_MAX_DIM &&
           (interp == RIDE_INTERP_NEAREST || interp == RIDE_INTERP_LINEAR ||
            interp == RIDE_INTERP_AREA);
}

}  // namespace

extern "C" int ride_cuda_resize_device(const ride_task_device_image *src,
                                       const ride_task_device_image *dst, ride_interp interp,
                                       void *stream, ride_cuda_scratch *scratch)
{
    if (!packed_device_image(src) || !packed_device_image(dst) || !u8_channels(src->format) ||
        dst->format != src->format || !valid_resize(dst->width, dst->height, interp) || !scratch)
        return -1;
    return queue_resize_of((cudaStream_t)stream, *scratch, *src, *dst, interp) ? 0 : -1;
}

extern "C" int ride_cuda_resize(const ride_image *src, ride_image *dst, uint32_t width,
                                uint32_t height, ride_interp interp)
{
    if (!valid_src_dst(src, dst) || !valid_resize(width, height, interp))
        return -1;
    return run_on_host_images(src, dst, src->format, width, height,
                              [interp](cudaStream_t stream, ride_cuda_scratch &scratch,
                                       const ride_task_device_image &in,
                                       const ride_task_device_image &out) {
                                  return queue_resize_of(stream, scratch, in, out, interp);
                              });
}
