// grayscale.cu - BGR8/RGB8/BGRA8 -> GRAY8 on the GPU, bit-exact with OpenCV's
// cvtColor and ride_cpu_grayscale: one thread per pixel, integer arithmetic.
#include "cuda_common.cuh"

#include "ride/gpu.h"

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

bool queue_grayscale(workspace &ws, ride_pixel_format format, const uint8_t *src, int width,
                     int height, uint8_t *dst)
{
    const dim3 grid((unsigned)(width + kBlock.x - 1) / kBlock.x,
                    (unsigned)(height + kBlock.y - 1) / kBlock.y);
    switch (format) {
    case RIDE_PIX_BGR8:
        return launch(ws, "grayscale_kernel", grayscale_kernel<3, 2, 0>, grid, kBlock, src,
                      width, height, dst);
    case RIDE_PIX_RGB8:
        return launch(ws, "grayscale_kernel", grayscale_kernel<3, 0, 2>, grid, kBlock, src,
                      width, height, dst);
    case RIDE_PIX_BGRA8:
        return launch(ws, "grayscale_kernel", grayscale_kernel<4, 2, 0>, grid, kBlock, src,
                      width, height, dst);
    default:
        return false;
    }
}

}  // namespace

extern "C" int ride_cuda_grayscale(const ride_image *src, ride_image *dst)
{
    if (!valid_src_dst(src, dst))
        return -1;
    workspace *ws = thread_workspace();
    if (!ws)
        return -1;
    const int width = (int)src->width, height = (int)src->height;
    const size_t pixels = (size_t)width * (size_t)height;
    const bool is_gray = src->format == RIDE_PIX_GRAY8;
    void *d_src = device_buffer(*ws, BUF_SRC, pixels * (size_t)u8_channels(src->format));
    // GRAY8 is a copy: it goes up and comes back down from the same buffer.
    void *d_dst = is_gray ? d_src : device_buffer(*ws, BUF_DST, pixels);
    if (!d_src || !d_dst)
        return -1;
    if (ride_image_ensure(dst, RIDE_PIX_GRAY8, src->width, src->height) != 0)
        return -1;
    const bool queued =
        upload(*ws, src, d_src) &&
        (is_gray || queue_grayscale(*ws, src->format, (const uint8_t *)d_src, width, height,
                                    (uint8_t *)d_dst)) &&
        download(*ws, d_dst, dst);
    return finish(*ws, queued);
}
