// fft.cu - the centred magnitude spectrum of a GRAY8 frame with cuFFT, as
// ride_cpu_fft_spectrum computes it: R2C transform, magnitudes (log-scaled on
// request) and their range over the half spectrum, then min-max quantisation with
// the shift and the conjugate-symmetric mirror for the columns the half lacks.
#include "cuda_common.cuh"

#include "kernels/gpu.h"

#include <cufft.h>

#include <cstdio>
#include <new>

using namespace ride_cuda;

namespace {

// The context's scratch. The float frame becomes the magnitudes once transformed
// (H x (W/2 + 1) <= H x W floats).
const ride_cuda_scratch_buffer kReal = SCRATCH_A;
const ride_cuda_scratch_buffer kComplex = SCRATCH_B;
const ride_cuda_scratch_buffer kRange = SCRATCH_C;
const int kThreads = 256;
const dim3 kBlock(32, 8);

bool fft_ok(cufftResult rc, const char *call)
{
    if (rc == CUFFT_SUCCESS)
        return true;
    char error[32];
    std::snprintf(error, sizeof error, "cufftResult_%d", (int)rc);
    note_error(call, error);
    return false;
}

unsigned blocks(size_t items, unsigned per_block)
{
    return (unsigned)((items + per_block - 1) / per_block);
}

__global__ void u8_to_f32_kernel(const uint8_t *src, size_t n, float *dst)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        dst[i] = src[i];
}

// Non-negative floats order as their bit patterns do, so the range is kept as
// unsigned integers: range[0] the minimum, range[1] the maximum. One atomic pair
// per warp.
__global__ void magnitude_kernel(const cufftComplex *spectrum, size_t n, int log_scale,
                                 float *mag, unsigned *range)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    unsigned lo = 0xFFFFFFFFu, hi = 0;
    if (i < n) {
        float m = hypotf(spectrum[i].x, spectrum[i].y);
        if (log_scale)
            m = log1pf(m);
        mag[i] = m;
        lo = hi = __float_as_uint(m);
    }
    lo = __reduce_min_sync(0xFFFFFFFFu, lo);
    hi = __reduce_max_sync(0xFFFFFFFFu, hi);
    if ((threadIdx.x & 31) == 0) {
        atomicMin(&range[0], lo);
        atomicMax(&range[1], hi);
    }
}

// Output (x, y) shows frequency ((x - W/2) mod W, (y - H/2) mod H).
__global__ void shift_quantise_kernel(const float *mag, const unsigned *range, int width,
                                      int height, uint8_t *dst)
{
    const int x = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    const int y = (int)(blockIdx.y * blockDim.y + threadIdx.y);
    if (x >= width || y >= height)
        return;
    const float lo = __uint_as_float(range[0]), hi = __uint_as_float(range[1]);
    const float scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
    const int half = width / 2 + 1;
    const int u = (y + height - height / 2) % height, v = (x + width - width / 2) % width;
    const float m = v < half ? mag[(size_t)u * half + v]
                             : mag[(size_t)((height - u) % height) * half + (width - v)];
    dst[(size_t)y * width + x] = (uint8_t)(int)((m - lo) * scale + 0.5f);
}

}  // namespace

struct ride_cuda_fft {
    workspace ws;  // its stream and buffers, on the device current at creation
    cufftHandle plan = 0;
    uint32_t width = 0;  // size of the plan; 0: none
    uint32_t height = 0;
};

static void destroy_plan(ride_cuda_fft *fft)
{
    if (fft->width)
        fft_ok(cufftDestroy(fft->plan), "cufftDestroy");
    fft->width = fft->height = 0;
}

extern "C" void ride_cuda_fft_free(ride_cuda_fft *fft)
{
    if (!fft)
        return;
    if (fft->width && ok(cudaSetDevice(fft->ws.io.device), "cudaSetDevice"))
        destroy_plan(fft);
    delete fft;
}

extern "C" ride_cuda_fft *ride_cuda_fft_new(void *stream)
{
    ride_cuda_fft *fft = new (std::nothrow) ride_cuda_fft;
    if (!fft)
        return nullptr;
    if (!bind_to_current_device(fft->ws, (cudaStream_t)stream)) {
        delete fft;
        return nullptr;
    }
    return fft;
}

// A plan for width x height on the context's stream, kept while the size repeats.
static bool ensure_plan(ride_cuda_fft *fft, uint32_t width, uint32_t height)
{
    if (fft->width == width && fft->height == height)
        return true;
    destroy_plan(fft);
    if (!fft_ok(cufftPlan2d(&fft->plan, (int)height, (int)width, CUFFT_R2C), "cufftPlan2d"))
        return false;
    fft->width = width;
    fft->height = height;
    if (fft_ok(cufftSetStream(fft->plan, fft->ws.stream), "cufftSetStream"))
        return true;
    destroy_plan(fft);
    return false;
}

static bool queue_spectrum(ride_cuda_fft *fft, const ride_task_device_image &src,
                           const ride_task_device_image &dst, int log_scale)
{
    workspace &ws = fft->ws;
    const int w = (int)src.width, h = (int)src.height;
    const size_t pixels = (size_t)w * (size_t)h, half = (size_t)(w / 2 + 1) * (size_t)h;
    auto *real = (float *)scratch_buffer(ws.scratch, kReal, pixels * sizeof(float));
    auto *spectrum =
        (cufftComplex *)scratch_buffer(ws.scratch, kComplex, half * sizeof(cufftComplex));
    auto *range = (unsigned *)scratch_buffer(ws.scratch, kRange, 2 * sizeof(unsigned));
    if (!real || !spectrum || !range || !ensure_plan(fft, src.width, src.height))
        return false;
    const dim3 grid2d(blocks((size_t)w, kBlock.x), blocks((size_t)h, kBlock.y));
    return launch(ws.stream, "u8_to_f32_kernel", u8_to_f32_kernel,
                  dim3(blocks(pixels, kThreads)), dim3(kThreads), (const uint8_t *)src.data,
                  pixels, real) &&
           fft_ok(cufftExecR2C(fft->plan, real, spectrum), "cufftExecR2C") &&
           ok(cudaMemsetAsync(range, 0xFF, sizeof(unsigned), ws.stream), "cudaMemsetAsync") &&
           ok(cudaMemsetAsync(range + 1, 0, sizeof(unsigned), ws.stream), "cudaMemsetAsync") &&
           launch(ws.stream, "magnitude_kernel", magnitude_kernel, dim3(blocks(half, kThreads)),
                  dim3(kThreads), (const cufftComplex *)spectrum, half, log_scale, real, range) &&
           launch(ws.stream, "shift_quantise_kernel", shift_quantise_kernel, grid2d, kBlock,
                  (const float *)real, (const unsigned *)range, w, h, (uint8_t *)dst.data);
}

static bool valid_fft(const ride_cuda_fft *fft, const ride_task_device_image *src,
                      const ride_task_device_image *dst)
{
    return fft && valid_same_size(src, dst, RIDE_PIX_GRAY8) && src->format == RIDE_PIX_GRAY8;
}

extern "C" int ride_cuda_fft_device(ride_cuda_fft *fft, const ride_task_device_image *src,
                                    const ride_task_device_image *dst, int log_scale)
{
    if (!valid_fft(fft, src, dst))
        return -1;
    return queue_spectrum(fft, *src, *dst, log_scale) ? 0 : -1;
}

extern "C" int ride_cuda_fft_spectrum(ride_cuda_fft *fft, const ride_image *src, ride_image *dst,
                                      int log_scale)
{
    if (!fft || !valid_src_dst(src, dst) || src->format != RIDE_PIX_GRAY8 ||
        !ok(cudaSetDevice(fft->ws.io.device), "cudaSetDevice"))
        return -1;
    return run_on_host_images(fft->ws, src, dst, RIDE_PIX_GRAY8, src->width, src->height,
                              [fft, log_scale](cudaStream_t, ride_cuda_scratch &,
                                               const ride_task_device_image &in,
                                               const ride_task_device_image &out) {
                                  return queue_spectrum(fft, in, out, log_scale);
                              });
}
