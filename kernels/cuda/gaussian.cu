// gaussian.cu - gaussian blur on the GPU, identical to ride_cpu_gaussian: the same
// 8-bit fixed-point taps (filter_taps.c), exact integer sums down the columns, then
// along the rows, rounded half up.
#include "separable.cuh"

#include "kernels/gpu.h"

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

bool queue_gaussian_rows(cudaStream_t stream, int channels, const int32_t *cols, int width,
                         int height, const taps &t, uint8_t *dst)
{
    const dim3 grid = filter_grid(width, height);
    switch (channels) {
    case 1:
        return launch(stream, "gaussian_row_kernel", gaussian_row_kernel<1>, grid, kFilterBlock,
                      cols, width, height, t, dst);
    case 3:
        return launch(stream, "gaussian_row_kernel", gaussian_row_kernel<3>, grid, kFilterBlock,
                      cols, width, height, t, dst);
    case 4:
        return launch(stream, "gaussian_row_kernel", gaussian_row_kernel<4>, grid, kFilterBlock,
                      cols, width, height, t, dst);
    default:
        return false;
    }
}

bool queue_gaussian(cudaStream_t stream, ride_cuda_scratch &scratch,
                    const ride_task_device_image &src, const ride_task_device_image &dst,
                    const taps &t)
{
    // Lanes: one channel of one pixel column, each filtered down on its own.
    const int lanes = (int)src.pitch, height = (int)src.height;
    auto *cols = (int32_t *)scratch_buffer(scratch, SCRATCH_A,
                                           src.pitch * src.height * sizeof(int32_t));
    return cols && queue_column_pass(stream, (const uint8_t *)src.data, lanes, height, t, cols) &&
           queue_gaussian_rows(stream, u8_channels(src.format), cols, (int)src.width, height, t,
                               (uint8_t *)dst.data);
}

}  // namespace

extern "C" int ride_cuda_gaussian_device(const ride_task_device_image *src,
                                         const ride_task_device_image *dst, int ksize,
                                         double sigma, void *stream, ride_cuda_scratch *scratch)
{
    int32_t k[RIDE_GAUSSIAN_MAX_KSIZE];
    if (!valid_same_size(src, dst, 0) || !scratch || ride_gaussian_taps(ksize, sigma, k) != 0)
        return -1;
    return queue_gaussian((cudaStream_t)stream, *scratch, *src, *dst, make_taps(k, ksize)) ? 0
                                                                                          : -1;
}

extern "C" int ride_cuda_gaussian(const ride_image *src, ride_image *dst, int ksize, double sigma)
{
    int32_t k[RIDE_GAUSSIAN_MAX_KSIZE];
    if (!valid_src_dst(src, dst) || ride_gaussian_taps(ksize, sigma, k) != 0)
        return -1;
    const taps t = make_taps(k, ksize);
    return run_on_host_images(src, dst, src->format, src->width, src->height,
                              [&t](cudaStream_t stream, ride_cuda_scratch &scratch,
                                   const ride_task_device_image &in,
                                   const ride_task_device_image &out) {
                                  return queue_gaussian(stream, scratch, in, out, t);
                              });
}
