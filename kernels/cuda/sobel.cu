// sobel.cu - Sobel gradient magnitude on the GPU, identical to ride_cpu_sobel:
// columns smoothed and differentiated in one pass each, then dx (differentiated
// along the rows) and dy (smoothed along them) combined as saturate(|dx| + |dy|).
#include "separable.cuh"

#include "ride/gpu.h"

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

}  // namespace

extern "C" int ride_cuda_sobel(const ride_image *src, ride_image *dst, int ksize)
{
    int32_t dk[RIDE_SOBEL_MAX_TAPS], sk[RIDE_SOBEL_MAX_TAPS];
    uint32_t nd = 0, ns = 0;
    if (!valid_src_dst(src, dst) || src->format != RIDE_PIX_GRAY8 ||
        ride_sobel_taps(ksize, dk, &nd, sk, &ns) != 0)
        return -1;
    const taps deriv = make_taps(dk, (int)nd), smooth = make_taps(sk, (int)ns);
    workspace *ws = thread_workspace();
    if (!ws)
        return -1;
    const int width = (int)src->width, height = (int)src->height;
    const size_t pixels = (size_t)width * (size_t)height;
    auto *d_src = (uint8_t *)device_buffer(*ws, BUF_SRC, pixels);
    auto *d_dst = (uint8_t *)device_buffer(*ws, BUF_DST, pixels);
    auto *d_smoothed = (int32_t *)device_buffer(*ws, BUF_SUM1, pixels * sizeof(int32_t));
    auto *d_derived = (int32_t *)device_buffer(*ws, BUF_SUM2, pixels * sizeof(int32_t));
    if (!d_src || !d_dst || !d_smoothed || !d_derived)
        return -1;
    if (ride_image_ensure(dst, RIDE_PIX_GRAY8, src->width, src->height) != 0)
        return -1;
    const bool queued =
        upload(*ws, src, d_src) &&
        queue_column_pass(*ws, d_src, width, height, smooth, d_smoothed) &&
        queue_column_pass(*ws, d_src, width, height, deriv, d_derived) &&
        launch(*ws, "sobel_row_kernel", sobel_row_kernel, filter_grid(width, height),
               kFilterBlock, d_smoothed, d_derived, width, height, deriv, smooth, d_dst) &&
        download(*ws, d_dst, dst);
    return finish(*ws, queued);
}
