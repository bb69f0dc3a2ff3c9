// matmul.cu - F * F^T and F * M of a GRAY8 frame with cuBLAS (cublasSgemm).
//
// cuBLAS is column-major: a row-major H x W frame is, read column-major, F^T
// (W x H, leading dimension W). Hence F * F^T = (F^T)^T (F^T) is gemm(T, N) on the
// frame twice, and the row-major H x cols product F * M is, column-major,
// M^T F^T = gemm(N, N) with M first.
#include "cuda_common.cuh"

#include "ride/gpu.h"

#include <cublas_v2.h>

#include <new>

using namespace ride_cuda;

// The context's buffers in the workspace slots: the frame as bytes and as floats,
// the matrix, the result.
namespace {

const buffer_slot kFrameU8 = BUF_SRC;
const buffer_slot kFrameF32 = BUF_SUM1;
const buffer_slot kMatrix = BUF_SUM2;
const buffer_slot kResult = BUF_DST;
const int kThreads = 256;

bool blas_ok(cublasStatus_t rc, const char *call)
{
    if (rc == CUBLAS_STATUS_SUCCESS)
        return true;
    ride_log_warn("cuda_error", "call=%s error=%s", call, cublasGetStatusName(rc));
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
    workspace ws;  // its own stream and buffers, on the device current at creation
    cublasHandle_t handle = nullptr;
    uint32_t rows = 0;  // of the uploaded matrix; 0: none, F * F^T
    uint32_t cols = 0;
};

extern "C" void ride_cuda_matmul_free(ride_cuda_matmul *mm)
{
    if (!mm)
        return;
    if (mm->handle && ok(cudaSetDevice(mm->ws.device), "cudaSetDevice"))
        blas_ok(cublasDestroy(mm->handle), "cublasDestroy");
    delete mm;
}

extern "C" ride_cuda_matmul *ride_cuda_matmul_new(void)
{
    ride_cuda_matmul *mm = new (std::nothrow) ride_cuda_matmul;
    if (!mm)
        return nullptr;
    if (!bind_to_current_device(mm->ws)) {
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
        cols > RIDE_IMAGE_MAX_DIM || !ok(cudaSetDevice(mm->ws.device), "cudaSetDevice"))
        return -1;
    mm->rows = 0;
    const size_t bytes = (size_t)rows * cols * sizeof(float);
    void *d = device_buffer(mm->ws, kMatrix, bytes);
    const bool queued =
        d && ok(cudaMemcpyAsync(d, matrix, bytes, cudaMemcpyHostToDevice, mm->ws.stream),
                "cudaMemcpyAsync");
    if (finish(mm->ws, queued) != 0)
        return -1;
    mm->rows = rows;
    mm->cols = cols;
    return 0;
}

extern "C" int ride_cuda_matmul_run(ride_cuda_matmul *mm, const ride_image *src, ride_image *dst)
{
    if (!mm || !valid_src_dst(src, dst) || src->format != RIDE_PIX_GRAY8 ||
        (mm->rows && mm->rows != src->width) || !ok(cudaSetDevice(mm->ws.device), "cudaSetDevice"))
        return -1;
    workspace &ws = mm->ws;
    const int w = (int)src->width, h = (int)src->height;
    const int cols = mm->rows ? (int)mm->cols : h;
    const size_t pixels = (size_t)w * (size_t)h;
    auto *frame8 = (uint8_t *)device_buffer(ws, kFrameU8, pixels);
    auto *frame = (float *)device_buffer(ws, kFrameF32, pixels * sizeof(float));
    auto *result = (float *)device_buffer(ws, kResult, (size_t)h * (size_t)cols * sizeof(float));
    if (!frame8 || !frame || !result ||
        ride_image_ensure(dst, RIDE_PIX_GRAY32F, (uint32_t)cols, src->height) != 0)
        return -1;
    const float one = 1.0f, zero = 0.0f;
    const dim3 grid((unsigned)((pixels + kThreads - 1) / kThreads));
    bool queued = upload(ws, src, frame8) &&
                  launch(ws, "u8_to_f32_kernel", u8_to_f32_kernel, grid, dim3(kThreads),
                         (const uint8_t *)frame8, pixels, frame);
    if (queued && mm->rows)
        queued = blas_ok(cublasSgemm(mm->handle, CUBLAS_OP_N, CUBLAS_OP_N, cols, h, w, &one,
                                     (const float *)ws.buffer[kMatrix], cols, frame, w, &zero,
                                     result, cols),
                         "cublasSgemm");
    else if (queued)
        queued = blas_ok(cublasSgemm(mm->handle, CUBLAS_OP_T, CUBLAS_OP_N, h, h, w, &one, frame, w,
                                     frame, w, &zero, result, h),
                         "cublasSgemm");
    queued = queued && download(ws, result, dst);
    return finish(ws, queued);
}
