// matmul.cu - F * F^T and F * M of a GRAY8 frame with cuBLAS (cublasSgemm).
//
// cuBLAS is column-major: a row-major H x W frame is, read column-major, F^T
// (W x H, leading dimension W). Hence F * F^T = (F^T)^T (F^T) is gemm(T, N) on the
// frame twice, and the row-major H x cols product F * M is, column-major,
// M^T F^T = gemm(N, N) with M first.
#include "cuda_common.cuh"

#include "kernels/gpu.h"

#include <cublas_v2.h>

#include <new>

using namespace ride_cuda;

namespace {

// The context's scratch: the frame as floats, the matrix (kept between frames).
const ride_cuda_scratch_buffer kFrameF32 = SCRATCH_A;
const ride_cuda_scratch_buffer kMatrix = SCRATCH_B;
const int kThreads = 256;

bool blas_ok(cublasStatus_t rc, const char *call)
{
    if (rc == CUBLAS_STATUS_SUCCESS)
        return true;
    note_error(call, cublasGetStatusName(rc));
    return false;
}

__global__ void u8_to_f32_kernel(const uint8_t *src, size_t n, float *dst)
{
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        dst[i] = src[i];
}

}  // namespace

struct ride_cuda_matmul {
    workspace ws;  // its stream and buffers, on the device current at creation
    cublasHandle_t handle = nullptr;
    uint32_t rows = 0;  // of the uploaded matrix; 0: none, F * F^T
    uint32_t cols = 0;
};

extern "C" void ride_cuda_matmul_free(ride_cuda_matmul *mm)
{
    if (!mm)
        return;
    if (mm->handle && ok(cudaSetDevice(mm->ws.io.device), "cudaSetDevice"))
        blas_ok(cublasDestroy(mm->handle), "cublasDestroy");
    delete mm;
}

extern "C" ride_cuda_matmul *ride_cuda_matmul_new(void *stream)
{
    ride_cuda_matmul *mm = new (std::nothrow) ride_cuda_matmul;
    if (!mm)
        return nullptr;
    if (!bind_to_current_device(mm->ws, (cudaStream_t)stream)) {
        delete mm;
        return nullptr;
    }
    if (!blas_ok(cublasCreate(&mm->handle), "cublasCreate")) {
        mm->handle = nullptr;
        ride_cuda_matmul_free(mm);
        return nullptr;
    }
    if (!blas_ok(cublasSetStream(mm->handle, mm->ws.stream), "cublasSetStream")) {
        ride_cuda_matmul_free(mm);
        return nullptr;
    }
    return mm;
}

extern "C" int ride_cuda_matmul_set_matrix(ride_cuda_matmul *mm, const float *matrix,
                                           uint32_t rows, uint32_t cols)
{
    if (!mm || !matrix || rows < 1 || cols < 1 || rows > RIDE_IMAGE_MAX_DIM ||
        cols > RIDE_IMAGE_MAX_DIM || !ok(cudaSetDevice(mm->ws.io.device), "cudaSetDevice"))
        return -1;
    mm->rows = 0;
    const size_t bytes = (size_t)rows * cols * sizeof(float);
    void *d = scratch_buffer(mm->ws.scratch, kMatrix, bytes);
    const bool queued =
        d && ok(cudaMemcpyAsync(d, matrix, bytes, cudaMemcpyHostToDevice, mm->ws.stream),
                "cudaMemcpyAsync");
    if (finish(mm->ws.stream, queued) != 0)
        return -1;
    mm->rows = rows;
    mm->cols = cols;
    return 0;
}

// Columns of the product of an H x W frame.
static uint32_t product_cols(const ride_cuda_matmul *mm, uint32_t height)
{
    return mm->rows ? mm->cols : height;
}

// src GRAY8 (H x W), dst GRAY32F H x product_cols; with a matrix, W must be its rows.
static bool valid_frame(const ride_cuda_matmul *mm, uint32_t format, uint32_t width)
{
    return mm && format == RIDE_PIX_GRAY8 && (!mm->rows || mm->rows == width);
}

static bool queue_matmul(ride_cuda_matmul *mm, const ride_task_device_image &src,
                         const ride_task_device_image &dst)
{
    workspace &ws = mm->ws;
    const int w = (int)src.width, h = (int)src.height;
    const int cols = (int)product_cols(mm, src.height);
    const size_t pixels = (size_t)w * (size_t)h;
    auto *frame = (float *)scratch_buffer(ws.scratch, kFrameF32, pixels * sizeof(float));
    auto *result = (float *)dst.data;
    if (!frame)
        return false;
    const float one = 1.0f, zero = 0.0f;
    const dim3 grid((unsigned)((pixels + kThreads - 1) / kThreads));
    if (!launch(ws.stream, "u8_to_f32_kernel", u8_to_f32_kernel, grid, dim3(kThreads),
                (const uint8_t *)src.data, pixels, frame))
        return false;
    if (mm->rows)
        return blas_ok(cublasSgemm(mm->handle, CUBLAS_OP_N, CUBLAS_OP_N, cols, h, w, &one,
                                   (const float *)ws.scratch.buffer[kMatrix], cols, frame, w,
                                   &zero, result, cols),
                       "cublasSgemm");
    return blas_ok(cublasSgemm(mm->handle, CUBLAS_OP_T, CUBLAS_OP_N, h, h, w, &one, frame, w,
                               frame, w, &zero, result, h),
                   "cublasSgemm");
}

extern "C" int ride_cuda_matmul_device(ride_cuda_matmul *mm, const ride_task_device_image *src,
                                       const ride_task_device_image *dst)
{
    if (!packed_device_image(src) || !packed_device_image(dst) ||
        !valid_frame(mm, src->format, src->width) || dst->format != RIDE_PIX_GRAY32F ||
        dst->height != src->height || dst->width != product_cols(mm, src->height))
        return -1;
    return queue_matmul(mm, *src, *dst) ? 0 : -1;
}

extern "C" int ride_cuda_matmul_run(ride_cuda_matmul *mm, const ride_image *src, ride_image *dst)
{
    if (!valid_src_dst(src, dst) || !valid_frame(mm, src->format, src->width) ||
        !ok(cudaSetDevice(mm->ws.io.device), "cudaSetDevice"))
        return -1;
    return run_on_host_images(mm->ws, src, dst, RIDE_PIX_GRAY32F,
                              product_cols(mm, src->height), src->height,
                              [mm](cudaStream_t, ride_cuda_scratch &,
                                   const ride_task_device_image &in,
                                   const ride_task_device_image &out) {
                                  return queue_matmul(mm, in, out);
                              });
}
