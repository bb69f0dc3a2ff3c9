// surf.cu - SURF on the GPU, the same steps as ride_cpu_surf through the shared
// kernels/surf_core.h: the integral image (one thread per row, then per column),
// each Hessian layer (one thread per sample), maxima and their interpolation (one
// thread per sample of a middle layer, appended with an atomic counter), then,
// after the host has ranked the candidates exactly as the CPU does, orientation
// and descriptor with one block per keypoint.
#include "cuda_common.cuh"

#include "../surf_core.h"
#include "kernels/gpu.h"

#include <cstdio>
#include <cstring>
#include <new>
#include <vector>

namespace {

using namespace ride_cuda;

enum surf_buffer { SB_INPUT, SB_SUM, SB_DET, SB_TRACE, SB_POINTS, SB_COUNTER, SB_TABLE, SB_N };

// Candidates the first frame makes room for; the buffer grows to the largest count seen.
const size_t kFirstCapacity = 4096;
const dim3 kGridBlock(32, 8);
const unsigned kLineBlock = 128;
// Threads of the block that describes one keypoint.
const unsigned kDescribeBlock = 128;

}  // namespace

struct ride_cuda_surf {
    int device = -1;
    cudaStream_t stream = nullptr;  // for ride_cuda_surf_run only
    void *buffer[SB_N] = {};
    size_t capacity[SB_N] = {};
    std::vector<surf_point> points;  // the candidates, ranked on the host
    float header[RIDE_SURF_COLUMNS] = {};
};

namespace {

void *grow(ride_cuda_surf &s, surf_buffer b, size_t bytes)
{
    return grow_buffer(s.buffer[b], s.capacity[b], bytes);
}

unsigned blocks_for(size_t n, unsigned per_block)
{
    return (unsigned)((n + per_block - 1) / per_block);
}

dim3 grid_for(int cols, int rows)
{
    return dim3(blocks_for((size_t)cols, kGridBlock.x), blocks_for((size_t)rows, kGridBlock.y));
}

// Row y of the integral image: running sums of the gray values along the row (a
// colour pixel converted as ride_cpu_grayscale does), column 0 left at 0.
template <int CH, int R_AT, int B_AT>
__global__ void integral_rows_kernel(const uint8_t *src, size_t pitch, int width, int height,
                                     uint32_t *sum)
{
    const int y = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (y >= height)
        return;
    const uint8_t *in = src + (size_t)y * pitch;
    uint32_t *out = sum + (size_t)(y + 1) * (size_t)(width + 1);
    uint32_t acc = 0;
    out[0] = 0;
    for (int x = 0; x < width; x++) {
        const uint8_t *p = in + (size_t)x * CH;
        acc += CH == 1 ? p[0] : gray_of(p[R_AT], p[1], p[B_AT]);
        out[x + 1] = acc;
    }
}

// Column x of the integral image: the row sums accumulated downwards.
__global__ void integral_columns_kernel(int width, int height, uint32_t *sum)
{
    const int x = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (x > width)
        return;
    const size_t stride = (size_t)width + 1;
    for (int y = 1; y <= height; y++)
        sum[(size_t)y * stride + (size_t)x] += sum[(size_t)(y - 1) * stride + (size_t)x];
}

__global__ void hessian_kernel(const uint32_t *sum, size_t stride, surf_layer l, float *det,
                               float *trace)
{
    const int c = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    const int r = (int)(blockIdx.y * blockDim.y + threadIdx.y);
    if (c >= l.cols || r >= l.rows)
        return;
    const size_t at = (size_t)r * (size_t)l.cols + (size_t)c;
    surf_hessian(sum, stride, &l, r, c, &det[at], &trace[at]);
}

// The layers below, at and above a middle layer.
struct layer_triple {
    surf_layer l[3];
};

__global__ void maxima_kernel(layer_triple t, const float *below, const float *middle,
                              const float *above, const float *trace, float threshold,
                              surf_point *out, unsigned capacity, unsigned *count)
{
    const int c = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    const int r = (int)(blockIdx.y * blockDim.y + threadIdx.y);
    if (c >= t.l[1].cols || r >= t.l[1].rows)
        return;
    const float *const dets[3] = {below, middle, above};
    surf_point p;
    if (!surf_keypoint_at(t.l, dets, trace, threshold, r, c, &p))
        return;
    const unsigned k = atomicAdd(count, 1u);
    if (k < capacity)
        out[k] = p;
}

// Block k: keypoint k into table row k + 1 (row_floats apart).
__global__ void describe_kernel(const uint32_t *sum, size_t stride, int width, int height,
                                const surf_point *points, int upright, float *table,
                                size_t row_floats)
{
    __shared__ float gx[SURF_ORI_SAMPLES], gy[SURF_ORI_SAMPLES], angle[SURF_ORI_SAMPLES];
    __shared__ float sx[SURF_ORI_WINDOWS], sy[SURF_ORI_WINDOWS];
    __shared__ float du[SURF_PATCH * SURF_PATCH], dv[SURF_PATCH * SURF_PATCH];
    __shared__ float desc[RIDE_SURF_DESC_LEN];
    __shared__ float direction, inverse_norm;
    const surf_point p = points[blockIdx.x];
    const int t = (int)threadIdx.x, n = (int)blockDim.x;
    if (!upright) {
        for (int k = t; k < SURF_ORI_SAMPLES; k += n)
            surf_ori_sample(sum, stride, width, height, &p, k, &gx[k], &gy[k], &angle[k]);
        __syncthreads();
        for (int k = t; k < SURF_ORI_WINDOWS; k += n)
            surf_ori_window(gx, gy, angle, k, &sx[k], &sy[k]);
        __syncthreads();
    }
    if (t == 0)
        direction = upright ? 0.0f : surf_ori_pick(sx, sy);
    __syncthreads();
    const float c = cosf(direction), s = sinf(direction);
    for (int k = t; k < SURF_PATCH * SURF_PATCH; k += n)
        surf_desc_sample(sum, stride, width, height, &p, c, s, k / SURF_PATCH, k % SURF_PATCH,
                         &du[k], &dv[k]);
    __syncthreads();
    for (int k = t; k < RIDE_SURF_DESC_LEN / 4; k += n)
        surf_desc_subregion(du, dv, k, &desc[4 * k]);
    __syncthreads();
    if (t == 0)
        inverse_norm = surf_desc_inverse_norm(desc);
    __syncthreads();
    float *row = table + (size_t)(blockIdx.x + 1) * row_floats;
    for (int k = t; k < RIDE_SURF_DESC_LEN; k += n)
        row[RIDE_SURF_COL_DESC + k] = desc[k] * inverse_norm;
    if (t == 0) {
        row[RIDE_SURF_COL_X] = p.x;
        row[RIDE_SURF_COL_Y] = p.y;
        row[RIDE_SURF_COL_SIZE] = p.size;
        row[RIDE_SURF_COL_ANGLE] = direction;
        row[RIDE_SURF_COL_RESPONSE] = p.response;
        row[RIDE_SURF_COL_LAPLACIAN] = p.laplacian;
    }
}

// What one frame's work needs to know.
struct frame {
    ride_cuda_surf &s;
    cudaStream_t stream;
    const ride_surf_params &p;
    int width, height;
    uint32_t *sum;
};

template <int CH, int R_AT, int B_AT>
bool queue_integral_rows(frame &f, const ride_task_device_image *src)
{
    return launch(f.stream, "integral_rows_kernel", integral_rows_kernel<CH, R_AT, B_AT>,
                  dim3(blocks_for((size_t)f.height, kLineBlock)), dim3(kLineBlock),
                  (const uint8_t *)src->data, src->pitch, f.width, f.height, f.sum);
}

bool queue_integral(frame &f, const ride_task_device_image *src)
{
    const size_t stride = (size_t)f.width + 1;
    if (!ok(cudaMemsetAsync(f.sum, 0, stride * sizeof(uint32_t), f.stream), "cudaMemsetAsync"))
        return false;
    bool rows = false;
    switch (src->format) {
    case RIDE_PIX_GRAY8:
        rows = queue_integral_rows<1, 0, 0>(f, src);
        break;
    case RIDE_PIX_BGR8:
        rows = queue_integral_rows<3, 2, 0>(f, src);
        break;
    case RIDE_PIX_RGB8:
        rows = queue_integral_rows<3, 0, 2>(f, src);
        break;
    case RIDE_PIX_BGRA8:
        rows = queue_integral_rows<4, 2, 0>(f, src);
        break;
    default:
        break;
    }
    return rows && launch(f.stream, "integral_columns_kernel", integral_columns_kernel,
                          dim3(blocks_for(stride, kLineBlock)), dim3(kLineBlock), f.width,
                          f.height, f.sum);
}

// Queues one octave: its layers, then the maxima of its middle layers. false with
// *done when the octave's largest filter no longer fits in the image.
bool queue_octave(frame &f, int octave, float *det, float *trace, size_t cells,
                  surf_point *points, unsigned capacity, unsigned *counter, bool *done)
{
    const int nl = f.p.intervals + 2;
    surf_layer layer[RIDE_SURF_MAX_INTERVALS + 2];
    ride_surf_layer_make(&layer[nl - 1], octave, nl - 1, f.width, f.height);
    if (layer[nl - 1].size > f.width || layer[nl - 1].size > f.height) {
        *done = true;
        return true;
    }
    const size_t stride = (size_t)f.width + 1;
    for (int k = 0; k < nl; k++) {
        ride_surf_layer_make(&layer[k], octave, k, f.width, f.height);
        if (!launch(f.stream, "hessian_kernel", hessian_kernel,
                    grid_for(layer[k].cols, layer[k].rows), kGridBlock, (const uint32_t *)f.sum,
                    stride, layer[k], det + (size_t)k * cells, trace + (size_t)k * cells))
            return false;
    }
    for (int m = 1; m <= f.p.intervals; m++) {
        layer_triple t;
        t.l[0] = layer[m - 1];
        t.l[1] = layer[m];
        t.l[2] = layer[m + 1];
        if (!launch(f.stream, "maxima_kernel", maxima_kernel,
                    grid_for(layer[m].cols, layer[m].rows), kGridBlock, t,
                    (const float *)(det + (size_t)(m - 1) * cells),
                    (const float *)(det + (size_t)m * cells),
                    (const float *)(det + (size_t)(m + 1) * cells),
                    (const float *)(trace + (size_t)m * cells), f.p.hessian_threshold, points,
                    capacity, counter))
            return false;
    }
    return true;
}

// Every octave's candidates into the points buffer; their number in *total (the
// buffer holds min(total, capacity) of them).
bool detect(frame &f, size_t capacity, unsigned *total)
{
    const size_t cells = (size_t)f.width * (size_t)f.height;
    const size_t layers = (size_t)f.p.intervals + 2;
    auto *det = (float *)grow(f.s, SB_DET, layers * cells * sizeof(float));
    auto *trace = (float *)grow(f.s, SB_TRACE, layers * cells * sizeof(float));
    auto *points = (surf_point *)grow(f.s, SB_POINTS, capacity * sizeof(surf_point));
    auto *counter = (unsigned *)grow(f.s, SB_COUNTER, sizeof(unsigned));
    if (!det || !trace || !points || !counter ||
        !ok(cudaMemsetAsync(counter, 0, sizeof(unsigned), f.stream), "cudaMemsetAsync"))
        return false;
    bool done = false;
    for (int octave = 0; octave < f.p.octaves && !done; octave++)
        if (!queue_octave(f, octave, det, trace, cells, points, (unsigned)capacity, counter, &done))
            return false;
    return ok(cudaMemcpyAsync(total, counter, sizeof(unsigned), cudaMemcpyDeviceToHost,
                              f.stream),
              "cudaMemcpyAsync") &&
           ok(cudaStreamSynchronize(f.stream), "cudaStreamSynchronize");
}

// Detects, ranks on the host and puts the kept keypoints back at the start of the
// points buffer; their number in *kept.
bool detect_and_rank(frame &f, size_t *kept)
{
    size_t capacity = f.s.capacity[SB_POINTS] / sizeof(surf_point);
    if (capacity < kFirstCapacity)
        capacity = kFirstCapacity;
    unsigned total = 0;
    if (!detect(f, capacity, &total))
        return false;
    // The count is exact even when the buffer overflowed: one more pass with room for all.
    if (total > capacity) {
        capacity = total;
        if (!detect(f, capacity, &total))
            return false;
    }
    const size_t found = total < capacity ? total : capacity;
    *kept = 0;
    if (found == 0)
        return true;
    f.s.points.resize(found);
    if (!ok(cudaMemcpyAsync(f.s.points.data(), f.s.buffer[SB_POINTS], found * sizeof(surf_point),
                            cudaMemcpyDeviceToHost, f.stream),
            "cudaMemcpyAsync") ||
        !ok(cudaStreamSynchronize(f.stream), "cudaStreamSynchronize"))
        return false;
    *kept = ride_surf_rank(f.s.points.data(), found, f.p.max_keypoints);
    return *kept == 0 ||
           ok(cudaMemcpyAsync(f.s.buffer[SB_POINTS], f.s.points.data(), *kept * sizeof(surf_point),
                              cudaMemcpyHostToDevice, f.stream),
              "cudaMemcpyAsync");
}

bool valid_device_image(const ride_task_device_image *img)
{
    if (!img || !img->data || u8_channels((ride_pixel_format)img->format) == 0 ||
        img->width == 0 || img->width > RIDE_IMAGE_MAX_DIM || img->height == 0 ||
        img->height > RIDE_IMAGE_MAX_DIM)
        return false;
    return img->pitch >= ride_image_row_bytes((ride_pixel_format)img->format, img->width);
}

int fail(char *err, size_t errlen, const char *what)
{
    if (err && errlen)
        snprintf(err, errlen, "surf: %s", what);
    return -1;
}

int run_on_stream(ride_cuda_surf &s, const ride_task_device_image *src, cudaStream_t stream,
                  const ride_surf_params *p, ride_task_device_output *out, char *err,
                  size_t errlen)
{
    if (!ride_surf_params_valid(p))
        return fail(err, errlen, "parameters out of range");
    if (!valid_device_image(src))
        return fail(err, errlen, "takes gray8, bgr8, rgb8 or bgra8 device images with a pitch of "
                                 "at least one row");
    if (!out || !out->image || !out->ensure)
        return fail(err, errlen, "no device output");
    const int width = (int)src->width, height = (int)src->height;
    const size_t sum_bytes = ((size_t)width + 1) * ((size_t)height + 1) * sizeof(uint32_t);
    frame f{s, stream, *p, width, height, (uint32_t *)grow(s, SB_SUM, sum_bytes)};
    size_t kept = 0;
    if (!f.sum || !queue_integral(f, src) || !detect_and_rank(f, &kept))
        return fail(err, errlen, "CUDA detection failed (see the cuda_error log line)");
    if (out->ensure(out->host_ctx, out->image, RIDE_PIX_GRAY32F, RIDE_SURF_COLUMNS,
                    (uint32_t)kept + 1) != 0)
        return fail(err, errlen, "cannot allocate the device output table");
    ride_surf_header(s.header, kept, src->width, src->height);
    const size_t row_floats = out->image->pitch / sizeof(float);
    const bool queued =
        ok(cudaMemcpyAsync(out->image->data, s.header, sizeof s.header, cudaMemcpyHostToDevice,
                           stream),
           "cudaMemcpyAsync") &&
        (kept == 0 ||
         launch(stream, "describe_kernel", describe_kernel, dim3((unsigned)kept),
                dim3(kDescribeBlock), (const uint32_t *)f.sum, (size_t)width + 1, width, height,
                (const surf_point *)s.buffer[SB_POINTS], p->upright ? 1 : 0,
                (float *)out->image->data, row_floats));
    return queued ? 0 : fail(err, errlen, "CUDA description failed (see the cuda_error log line)");
}

// The ensure of ride_cuda_surf_run: the table in the context's own buffer.
int table_ensure(void *host_ctx, ride_task_device_image *image, uint32_t format, uint32_t width,
                 uint32_t height)
{
    auto *s = (ride_cuda_surf *)host_ctx;
    const size_t row = ride_image_row_bytes((ride_pixel_format)format, width);
    if (row == 0 || height == 0 || height > RIDE_IMAGE_MAX_DIM)
        return -1;
    void *data = grow(*s, SB_TABLE, row * height);
    if (!data)
        return -1;
    *image = ride_task_device_image{format, width, height, row, data};
    return 0;
}

bool ensure_own_stream(ride_cuda_surf &s)
{
    if (s.stream)
        return true;
    if (!ok(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking),
            "cudaStreamCreateWithFlags")) {
        s.stream = nullptr;
        return false;
    }
    return true;
}

}  // namespace

extern "C" ride_cuda_surf *ride_cuda_surf_new(void)
{
    int device = -1;
    if (!ok(cudaGetDevice(&device), "cudaGetDevice"))
        return nullptr;
    auto *s = new (std::nothrow) ride_cuda_surf;
    if (s)
        s->device = device;
    return s;
}

extern "C" void ride_cuda_surf_free(ride_cuda_surf *s)
{
    if (!s)
        return;
    int current = -1;
    const bool switched = ok(cudaGetDevice(&current), "cudaGetDevice") && current != s->device &&
                          ok(cudaSetDevice(s->device), "cudaSetDevice");
    for (int b = 0; b < SB_N; b++)
        if (s->buffer[b])
            ok(cudaFree(s->buffer[b]), "cudaFree");
    if (s->stream)
        ok(cudaStreamDestroy(s->stream), "cudaStreamDestroy");
    if (switched)
        ok(cudaSetDevice(current), "cudaSetDevice");
    delete s;
}

extern "C" int ride_cuda_surf_run_device(ride_cuda_surf *s, const ride_task_device_image *src,
                                         void *stream, const ride_surf_params *p,
                                         ride_task_device_output *out, char *err, size_t errlen)
{
    if (!s)
        return fail(err, errlen, "no CUDA context");
    return run_on_stream(*s, src, (cudaStream_t)stream, p, out, err, errlen);
}

extern "C" int ride_cuda_surf_run(ride_cuda_surf *s, const ride_image *src,
                                  const ride_surf_params *p, ride_image *dst, char *err,
                                  size_t errlen)
{
    if (!s)
        return fail(err, errlen, "no CUDA context");
    if (!valid_src_dst(src, dst) || !ride_surf_params_valid(p))
        return fail(err, errlen, "invalid arguments");
    if (!ensure_own_stream(*s))
        return fail(err, errlen, "cannot create a CUDA stream (see the cuda_error log line)");
    const size_t row = ride_image_row_bytes(src->format, src->width);
    void *input = grow(*s, SB_INPUT, row * src->height);
    if (!input)
        return fail(err, errlen, "cannot allocate the device input (see the cuda_error log line)");
    const ride_task_device_image dev{(uint32_t)src->format, src->width, src->height, row, input};
    ride_task_device_image table{};
    ride_task_device_output out{sizeof out, &table, table_ensure, s};
    if (!upload(s->stream, src, dev)) {
        (void)finish(s->stream, false);
        return fail(err, errlen, "CUDA upload failed (see the cuda_error log line)");
    }
    if (run_on_stream(*s, &dev, s->stream, p, &out, err, errlen) != 0)
        return finish(s->stream, false);
    if (ride_image_ensure(dst, RIDE_PIX_GRAY32F, table.width, table.height) != 0) {
        (void)finish(s->stream, false);
        return fail(err, errlen, "cannot allocate the output table");
    }
    if (finish(s->stream, download(s->stream, table, dst)) != 0)
        return fail(err, errlen, "CUDA download failed (see the cuda_error log line)");
    return 0;
}
