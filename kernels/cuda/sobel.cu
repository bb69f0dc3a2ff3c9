// sobel.cu - Sobel gradient magnitude on the GPU, identical to ride_cpu_sobel:
// columns smoothed and differentiated in one pass each, then dx (differentiated
// along the rows) and dy (smoothed along them) combined as saturate(|dx| + |dy|).
#include "separable.cuh"

#include "kernels/gpu.h"

namespace {

using namespace ride_cuda;

__host__ __device__ inline void sobel_row_thread(uint3 block, dim3 block_dim, uint3 thread,
                                                 const int32_t *smoothed, const int32_t *derived,
                                                 int width, int height, taps deriv, taps smooth,
                                                 uint8_t *dst)
{
    const int x = (int)(block.x * block_dim.x + thread.x);
    const int y = (int)(block.y * block_dim.y + thread.y);
    if (x >= width || y >= height)
        return;
    const size_t row = (size_t)y * (size_t)width;
    const int32_t dx = row_sum<1>(smoothed + row, x, 0, width, deriv);
    const int32_t dy = row_sum<1>(derived + row, x, 0, width, smooth);
    const int32_t v = (dx < 0 ? -dx : dx) + (dy < 0 ? -dy : dy);
    dst[row + (size_t)x] = (uint8_t)(v > 255 ? 255 : v);
}

__global__ void sobel_row_kernel(const int32_t *smoothed, const int32_t *derived, int width,
                                 int height, taps deriv, taps smooth, uint8_t *dst)
{
    sobel_row_thread(blockIdx, blockDim, threadIdx, smoothed, derived, width, height, deriv,
                     smooth, dst);
}

bool queue_sobel(cudaStream_t stream, ride_cuda_scratch &scratch, const ride_task_device_image &src,
                 const ride_task_device_image &dst, const taps &deriv, const taps &smooth)
{
    const int width = (int)src.width, height = (int)src.height;
    const size_t sum_bytes = (size_t)width * (size_t)height * sizeof(int32_t);
    auto *smoothed = (int32_t *)scratch_buffer(scratch, SCRATCH_A, sum_bytes);
    auto *derived = (int32_t *)scratch_buffer(scratch, SCRATCH_B, sum_bytes);
    const auto *in = (const uint8_t *)src.data;
    return smoothed && derived &&
           queue_column_pass(stream, in, width, height, smooth, smoothed) &&
           queue_column_pass(stream, in, width, height, deriv, derived) &&
           launch(stream, "sobel_row_kernel", sobel_row_kernel, filter_grid(width, height),
                  kFilterBlock, (const int32_t *)smoothed, (const int32_t *)derived, width,
                  height, deriv, smooth, (uint8_t *)dst.data);
}

// The derivative and smoothing taps of ksize; false for a size Sobel does not have.
bool sobel_taps(int ksize, taps *deriv, taps *smooth)
{
    int32_t dk[RIDE_SOBEL_MAX_TAPS], sk[RIDE_SOBEL_MAX_TAPS];
    uint32_t nd = 0, ns = 0;
    if (ride_sobel_taps(ksize, dk, &nd, sk, &ns) != 0)
        return false;
    *deriv = make_taps(dk, (int)nd);
    *smooth = make_taps(sk, (int)ns);
    return true;
}

}  // namespace

extern "C" int ride_cuda_sobel_device(const ride_task_device_image *src,
                                      const ride_task_device_image *dst, int ksize, void *stream,
                                      ride_cuda_scratch *scratch)
{
    taps deriv, smooth;
    if (!valid_same_size(src, dst, RIDE_PIX_GRAY8) || src->format != RIDE_PIX_GRAY8 ||
        !scratch || !sobel_taps(ksize, &deriv, &smooth))
        return -1;
    return queue_sobel((cudaStream_t)stream, *scratch, *src, *dst, deriv, smooth) ? 0 : -1;
}

extern "C" int ride_cuda_sobel(const ride_image *src, ride_image *dst, int ksize)
{
    taps deriv, smooth;
    if (!valid_src_dst(src, dst) || src->format != RIDE_PIX_GRAY8 ||
        !sobel_taps(ksize, &deriv, &smooth))
        return -1;
    return run_on_host_images(src, dst, RIDE_PIX_GRAY8, src->width, src->height,
                              [&deriv, &smooth](cudaStream_t stream, ride_cuda_scratch &scratch,
                                                const ride_task_device_image &in,
                                                const ride_task_device_image &out) {
                                  return queue_sobel(stream, scratch, in, out, deriv, smooth);
                              });
}
