// separable.cuh - the column pass the gaussian and Sobel CUDA kernels share: exact
// integer sums of an odd number of taps down each lane (one channel of one pixel
// column), borders BORDER_REFLECT_101, as kernels/cpu/separable.c computes them.
#ifndef RIDE_CUDA_SEPARABLE_CUH
#define RIDE_CUDA_SEPARABLE_CUH

#include "cuda_common.cuh"

#include "../cpu/filter_taps.h"

namespace ride_cuda {

// Taps travel by value in the launch parameters: no device copy to manage.
struct taps {
    int32_t k[RIDE_GAUSSIAN_MAX_KSIZE];
    int count;
};

inline taps make_taps(const int32_t *k, int count)
{
    taps t = {};
    for (int i = 0; i < count; i++)
        t.k[i] = k[i];
    t.count = count;
    return t;
}

// 32 x 8 threads: a warp reads 32 neighbouring samples of one row.
const dim3 kFilterBlock(32, 8);

inline dim3 filter_grid(int columns, int rows)
{
    return dim3((unsigned)(columns + kFilterBlock.x - 1) / kFilterBlock.x,
                (unsigned)(rows + kFilterBlock.y - 1) / kFilterBlock.y);
}

// One thread per sample; __host__ __device__ with explicit indices, so that the
// body can also run on a host.
__host__ __device__ inline void column_pass_thread(uint3 block, dim3 block_dim, uint3 thread,
                                                   const uint8_t *src, int lanes, int height,
                                                   taps t, int32_t *out)
{
    const int lane = (int)(block.x * block_dim.x + thread.x);
    const int y = (int)(block.y * block_dim.y + thread.y);
    if (lane >= lanes || y >= height)
        return;
    const int r = t.count / 2;
    int32_t sum = 0;
    for (int i = 0; i < t.count; i++)
        sum += t.k[i] * (int32_t)src[(size_t)reflect101(y + i - r, height) * (size_t)lanes + lane];
    out[(size_t)y * (size_t)lanes + lane] = sum;
}

// static: every .cu that includes this header gets its own copy of the kernel.
static __global__ void column_pass_kernel(const uint8_t *src, int lanes, int height, taps t, int32_t *out)
{
    column_pass_thread(blockIdx, blockDim, threadIdx, src, lanes, height, t, out);
}

inline bool queue_column_pass(cudaStream_t stream, const uint8_t *src, int lanes, int height,
                              const taps &t, int32_t *out)
{
    return launch(stream, "column_pass_kernel", column_pass_kernel, filter_grid(lanes, height),
                  kFilterBlock, src, lanes, height, t, out);
}

// The sum of the taps along a row at sample (x, c) of `columns` pixels of CH channels.
template <int CH>
__host__ __device__ inline int32_t row_sum(const int32_t *row, int x, int c, int columns,
                                           const taps &t)
{
    const int r = t.count / 2;
    int32_t sum = 0;
    for (int i = 0; i < t.count; i++)
        sum += t.k[i] * row[(size_t)reflect101(x + i - r, columns) * CH + c];
    return sum;
}

}  // namespace ride_cuda

#endif
