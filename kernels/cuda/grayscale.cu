// grayscale.cu - BGR8/RGB8/BGRA8 -> GRAY8 on the GPU, bit-exact with OpenCV's
// cvtColor and ride_cpu_grayscale: one thread per pixel, integer arithmetic.
#include "cuda_common.cuh"

#include "kernels/gpu.h"

namespace {

using namespace ride_cuda;

// One thread per pixel; CH channels, red at R_AT, blue at B_AT, green always at 1.
// __host__ __device__ with explicit indices, so that without a GPU the thread can
// still be run on a host.
template <int CH, int R_AT, int B_AT>
__host__ __device__ inline void grayscale_thread(uint3 block, dim3 block_dim, uint3 thread,
                                                 const uint8_t *src, int width, int height,
                                                 uint8_t *dst)
{
    const int x = (int)(block.x * block_dim.x + thread.x);
    const int y = (int)(block.y * block_dim.y + thread.y);
    if (x >= width || y >= height)
        return;
    const size_t at = (size_t)y * (size_t)width + (size_t)x;
    const uint8_t *p = src + at * CH;
    dst[at] = gray_of(p[R_AT], p[1], p[B_AT]);
}

template <int CH, int R_AT, int B_AT>
__global__ void grayscale_kernel(const uint8_t *src, int width, int height, uint8_t *dst)
{
    grayscale_thread<CH, R_AT, B_AT>(blockIdx, blockDim, threadIdx, src, width, height, dst);
}

// 32 x 8 threads: a warp reads one run of 32 neighbouring pixels.
const dim3 kBlock(32, 8);

// GRAY8 is a copy.
bool queue_grayscale(cudaStream_t stream, const ride_task_device_image &src,
                     const ride_task_device_image &dst)
{
    const int width = (int)src.width, height = (int)src.height;
    const auto *in = (const uint8_t *)src.data;
    auto *out = (uint8_t *)dst.data;
    const dim3 grid((unsigned)(width + kBlock.x - 1) / kBlock.x,
                    (unsigned)(height + kBlock.y - 1) / kBlock.y);
    switch (src.format) {
    case RIDE_PIX_GRAY8:
        return queue_copy(stream, src, dst);
    case RIDE_PIX_BGR8:
        return launch(stream, "grayscale_kernel", grayscale_kernel<3, 2, 0>, grid, kBlock, in,
                      width, height, out);
    case RIDE_PIX_RGB8:
        return launch(stream, "grayscale_kernel", grayscale_kernel<3, 0, 2>, grid, kBlock, in,
                      width, height, out);
    case RIDE_PIX_BGRA8:
        return launch(stream, "grayscale_kernel", grayscale_kernel<4, 2, 0>, grid, kBlock, in,
                      width, height, out);
    default:
        return false;
    }
}

}  // namespace

extern "C" int ride_cuda_copy_device(const ride_task_device_image *src,
                                     const ride_task_device_image *dst, void *stream)
{
    if (!packed_device_image(src) || !packed_device_image(dst) || dst->format != src->format ||
        dst->width != src->width || dst->height != src->height)
        return -1;
    return queue_copy((cudaStream_t)stream, *src, *dst) ? 0 : -1;
}

extern "C" int ride_cuda_grayscale_device(const ride_task_device_image *src,
                                          const ride_task_device_image *dst, void *stream)
{
    if (!valid_same_size(src, dst, RIDE_PIX_GRAY8))
        return -1;
    return queue_grayscale((cudaStream_t)stream, *src, *dst) ? 0 : -1;
}

extern "C" int ride_cuda_grayscale(const ride_image *src, ride_image *dst)
{
    if (!valid_src_dst(src, dst))
        return -1;
    return run_on_host_images(src, dst, RIDE_PIX_GRAY8, src->width, src->height,
                              [](cudaStream_t stream, ride_cuda_scratch &,
                                 const ride_task_device_image &in,
                                 const ride_task_device_image &out) {
                                  return queue_grayscale(stream, in, out);
                              });
}
