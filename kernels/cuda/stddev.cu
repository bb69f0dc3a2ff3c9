// stddev.cu - local standard deviation on the GPU, identical to ride_cpu_stddev.
//
// Two passes of exact integer box sums, borders BORDER_REFLECT_101:
//   1. columns: one thread per lane (one channel of one pixel column) and strip of
//      rows keeps running sums of x and x^2 over the ksize rows around each row and
//      writes them out (uint32: at most 255 * 255^2 per entry);
//   2. rows: one thread per row and strip of pixels slides the same window along
//      the column sums of each channel, giving S1 = sum x and S2 = sum x^2 over
//      the ksize x ksize window, and writes round(sqrt(var)).
// A strip is never shorter than ksize, so filling a window costs no more than
// sliding it along the strip: the cost per pixel does not depend on ksize.
#include "cuda_common.cuh"

#include "kernels/gpu.h"
#include "kernels/kernels.h"

namespace {

using namespace ride_cuda;

constexpr int kThreads = 128;
constexpr int kMinStrip = 32;

// round(sqrt(var)) half up, var = (n*S2 - S1^2) / n^2 from exact sums. Both terms are
// below 2^53 and so exact in double, and IEEE division and sqrt round the same on
// host and device. An exact half cannot occur (it would need 4*num = (2r+1)^2 * n^2
// with n odd), so this is the exactly rounded value whatever the order of operations.
__host__ __device__ inline uint8_t rounded_stddev(uint32_t s1, uint64_t s2, uint32_t n)
{
    const uint64_t num = (uint64_t)n * s2 - (uint64_t)s1 * s1;
    const uint64_t n2 = (uint64_t)n * n;
    return (uint8_t)(sqrt((double)num / (double)n2) + 0.5);
}

// The bodies of the kernels' threads are __host__ __device__ and take their indices as
// arguments, so that without a GPU they can still be run, thread by thread, on a host.

// Pass 1, grid x over lanes and y over strips of `strip` rows: one thread's window
// sums down its lane for the rows of its strip. Unsigned wrap-around in the sliding
// updates is harmless: every true sum is in range.
__host__ __device__ inline void column_sums_thread(uint3 block, dim3 block_dim, uint3 thread,
                                                   const uint8_t *src, int lanes, int height,
                                                   int radius, int strip, uint32_t *sum1,
                                                   uint32_t *sum2)
{
    const int lane = (int)(block.x * block_dim.x + thread.x);
    if (lane >= lanes)
        return;
    const int y0 = (int)block.y * strip;
    const int y1 = y0 + strip < height ? y0 + strip : height;
    const uint8_t *column = src + lane;
    uint32_t s1 = 0, s2 = 0;
    for (int i = y0 - radius; i <= y0 + radius; i++) {
        const uint32_t v = column[(size_t)reflect101(i, height) * (size_t)lanes];
        s1 += v;
        s2 += v * v;
    }
    for (int y = y0; y < y1; y++) {
        if (y > y0) {
            const uint32_t in = column[(size_t)reflect101(y + radius, height) * (size_t)lanes];
            const uint32_t out =
                column[(size_t)reflect101(y - 1 - radius, height) * (size_t)lanes];
            s1 += in - out;
            s2 += in * in - out * out;
        }
        const size_t at = (size_t)y * (size_t)lanes + (size_t)lane;
        sum1[at] = s1;
        sum2[at] = s2;
    }
}

// Pass 2, grid x over rows (neighbouring threads take neighbouring rows and so branch
// alike at the borders) and y over strips of `strip` pixels: one thread's CH-channel
// window sums along its row for the pixels of its strip, and the output.
template <int CH>
__host__ __device__ inline void row_stddev_thread(uint3 block, dim3 block_dim, uint3 thread,
                                                  const uint32_t *sum1, const uint32_t *sum2,
                                                  int width, int height, int radius, int strip,
                                                  uint8_t *dst)
{
    const int y = (int)(block.x * block_dim.x + thread.x);
    if (y >= height)
        return;
    const int x0 = (int)block.y * strip;
    const int x1 = x0 + strip < width ? x0 + strip : width;
    const size_t row = (size_t)y * (size_t)width * CH;
    const uint32_t *c1 = sum1 + row, *c2 = sum2 + row;
    uint8_t *out = dst + row;
    const uint32_t k = 2u * (uint32_t)radius + 1u;
    uint32_t s1[CH] = {};
    uint64_t s2[CH] = {};
    for (int i = x0 - radius; i <= x0 + radius; i++) {
        const size_t px = (size_t)reflect101(i, width) * CH;
        for (int c = 0; c < CH; c++) {
            s1[c] += c1[px + c];
            s2[c] += c2[px + c];
        }
    }
    for (int x = x0; x < x1; x++) {
        if (x > x0) {
            const size_t in = (size_t)reflect101(x + radius, width) * CH;
            const size_t gone = (size_t)reflect101(x - 1 - radius, width) * CH;
            for (int c = 0; c < CH; c++) {
                s1[c] += c1[in + c] - c1[gone + c];
                s2[c] += (uint64_t)c2[in + c] - c2[gone + c];
            }
        }
        for (int c = 0; c < CH; c++)
            out[(size_t)x * CH + c] = rounded_stddev(s1[c], s2[c], k * k);
    }
}

__global__ void column_sums_kernel(const uint8_t *src, int lanes, int height, int radius,
                                   int strip, uint32_t *sum1, uint32_t *sum2)
{
    column_sums_thread(blockIdx, blockDim, threadIdx, src, lanes, height, radius, strip, sum1,
                       sum2);
}

template <int CH>
__global__ void row_stddev_kernel(const uint32_t *sum1, const uint32_t *sum2, int width,
                                  int height, int radius, int strip, uint8_t *dst)
{
    row_stddev_thread<CH>(blockIdx, blockDim, threadIdx, sum1, sum2, width, height, radius,
                          strip, dst);
}

unsigned blocks(int items, int per_block) { return (unsigned)((items + per_block - 1) / per_block); }

// At most 65536 / kMinStrip = 2048 strips: within gridDim.y's limit of 65535.
int strip_length(int ksize) { return ksize > kMinStrip ? ksize : kMinStrip; }

bool queue_column_sums(cudaStream_t stream, const uint8_t *src, int lanes, int height, int ksize,
                       uint32_t *sum1, uint32_t *sum2)
{
    const int strip = strip_length(ksize);
    const dim3 grid(blocks(lanes, kThreads), blocks(height, strip));
    return launch(stream, "column_sums_kernel", column_sums_kernel, grid, dim3(kThreads), src,
                  lanes, height, ksize / 2, strip, sum1, sum2);
}

// One instance per channel count, so each thread's sums stay in registers.
template <int CH>
bool queue_row_stddev_for(cudaStream_t stream, const uint32_t *sum1, const uint32_t *sum2,
                          int width, int height, int ksize, uint8_t *dst)
{
    const int strip = strip_length(ksize);
    const dim3 grid(blocks(height, kThreads), blocks(width, strip));
    return launch(stream, "row_stddev_kernel", row_stddev_kernel<CH>, grid, dim3(kThreads), sum1,
                  sum2, width, height, ksize / 2, strip, dst);
}

bool queue_row_stddev(cudaStream_t stream, int channels, const uint32_t *sum1,
                      const uint32_t *sum2, int width, int height, int ksize, uint8_t *dst)
{
    switch (channels) {
    case 1:
        return queue_row_stddev_for<1>(stream, sum1, sum2, width, height, ksize, dst);
    case 3:
        return queue_row_stddev_for<3>(stream, sum1, sum2, width, height, ksize, dst);
    case 4:
        return queue_row_stddev_for<4>(stream, sum1, sum2, width, height, ksize, dst);
    default:
        return false;
    }
}

bool valid_ksize(int ksize) { return ksize >= 1 && ksize <= RIDE_STDDEV_MAX_KSIZE && ksize % 2 == 1; }

bool queue_stddev(cudaStream_t stream, ride_cuda_scratch &scratch,
                  const ride_task_device_image &src, const ride_task_device_image &dst, int ksize)
{
    const int channels = u8_channels(src.format);
    const int width = (int)src.width, height = (int)src.height;
    const int lanes = width * channels;
    const size_t sum_bytes = (size_t)lanes * (size_t)height * sizeof(uint32_t);
    auto *sum1 = (uint32_t *)scratch_buffer(scratch, SCRATCH_A, sum_bytes);
    auto *sum2 = (uint32_t *)scratch_buffer(scratch, SCRATCH_B, sum_bytes);
    return sum1 && sum2 &&
           queue_column_sums(stream, (const uint8_t *)src.data, lanes, height, ksize, sum1,
                             sum2) &&
           queue_row_stddev(stream, channels, sum1, sum2, width, height, ksize,
                            (uint8_t *)dst.data);
}

}  // namespace

extern "C" int ride_cuda_stddev_device(const ride_task_device_image *src,
                                       const ride_task_device_image *dst, int ksize, void *stream,
                                       ride_cuda_scratch *scratch)
{
    if (!valid_same_size(src, dst, 0) || !valid_ksize(ksize) || !scratch)
        return -1;
    return queue_stddev((cudaStream_t)stream, *scratch, *src, *dst, ksize) ? 0 : -1;
}

extern "C" int ride_cuda_stddev(const ride_image *src, ride_image *dst, int ksize)
{
    if (!valid_src_dst(src, dst) || !valid_ksize(ksize))
        return -1;
    return run_on_host_images(src, dst, src->format, src->width, src->height,
                              [ksize](cudaStream_t stream, ride_cuda_scratch &scratch,
                                      const ride_task_device_image &in,
                                      const ride_task_device_image &out) {
                                  return queue_stddev(stream, scratch, in, out, ksize);
                              });
}
