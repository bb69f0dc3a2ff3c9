// gaussian.cu - gaussian blur on the GPU, identical to ride_cpu_gaussian: the same
// 8-bit fixed-point taps (filter_taps.c), exact integer sums down the columns, then
// along the rows, rounded half up.
#include "separable.cuh"

#include "ride/gpu.h"

namespace {

using namespace ride_cuda;

constexpr int kShift = 2 * RIDE_GAUSSIAN_TAP_BITS;

template <int CH>
__host__ __device__ inline void gaussian_row_thread(uint3 block, dim3 block_dim, uint3 thread,
                                                    const int32_t *cols, int width, int height,
                                                    taps t, uint8_t *dst)
{
    const int x = (int)(block.x * block_dim.x + thread.x);
    const int y = (int)(block.y * block_dim.y + thread.y);
    if (x >= width || y >= height)
        return;
    const int32_t *row = cols + (size_t)y * (size_t)width * CH;
    uint8_t *out = dst + ((size_t)y * (size_t)width + (size_t)x) * CH;
    for (int c = 0; c < CH; c++)
        out[c] = (uint8_t)((row_sum<CH>(row, x, c, width, t) + (1 << (kShift - 1))) >> kShift);
}

template <int CH>
__global__ void gaussian_row_kernel(const int32_t *cols, int width, int height, taps t,
                                    uint8_t *dst)
{
    gaussian_row_thread<CH>(blockIdx, blockDim, threadIdx, cols, width, height, t, dst);
}

bool queue_gaussian_rows(workspace &ws, int channels, const int32_t *cols, int width, int height,
                         const taps &t, uint8_t *dst)
{
    const dim3 grid = filter_grid(width, height);
    switch (channels) {
    case 1:
        return launch(ws, "gaussian_row_kernel", gaussian_row_kernel<1>, grid, kFilterBlock, cols,
                      width, height, t, dst);
    case 3:
        return launch(ws, "gaussian_row_kernel", gaussian_row_kernel<3>, grid, kFilterBlock, cols,
                      width, height, t, dst);
    case 4:
        return launch(ws, "gaussian_row_kernel", gaussian_row_kernel<4>, grid, kFilterBlock, cols,
                      width, height, t, dst);
    default:
        return false;
    }
}

}  // namespace

extern "C" int ride_cuda_gaussian(const ride_image *src, ride_image *dst, int ksize, double sigma)
{
    int32_t k[RIDE_GAUSSIAN_MAX_KSIZE];
    if (!valid_src_dst(src, dst) || ride_gaussian_taps(ksize, sigma, k) != 0)
        return -1;
    const taps t = make_taps(k, ksize);
    workspace *ws = thread_workspace();
    if (!ws)
        return -1;
    // Lanes: one channel of one pixel column, each filtered down on its own.
    const size_t lanes = ride_image_row_bytes(src->format, src->width);
    const size_t samples = lanes * src->height;
    auto *d_src = (uint8_t *)device_buffer(*ws, BUF_SRC, samples);
    auto *d_dst = (uint8_t *)device_buffer(*ws, BUF_DST, samples);
    auto *d_cols = (int32_t *)device_buffer(*ws, BUF_SUM1, samples * sizeof(int32_t));
    if (!d_src || !d_dst || !d_cols ||
        ride_image_ensure(dst, src->format, src->width, src->height) != 0)
        return -1;
    const int height = (int)src->height;
    const bool queued =
        upload(*ws, src, d_src) && queue_column_pass(*ws, d_src, (int)lanes, height, t, d_cols) &&
        queue_gaussian_rows(*ws, u8_channels(src->format), d_cols, (int)src->width, height, t,
                            d_dst) &&
        download(*ws, d_dst, dst);
    return finish(*ws, queued);
}
