// slot.cu - frames in flight (kernels/gpu.h): one frame's way through a GPU task on a
// stream of its own. The host copies a frame into pinned memory (a plain memcpy), so
// that its upload and the result's download are true asynchronous DMA on the slot's
// stream and overlap the kernels of the frames in the other slots. Every buffer is
// kept and grown (never shrunk) as frames need: once frame sizes repeat a slot
// allocates nothing.
#include "cuda_common.cuh"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <new>

using namespace ride_cuda;

namespace {

enum memory_kind { PINNED_HOST, DEVICE };

// Pinned host or device memory, grown as frames need.
struct grown {
    void *data = nullptr;
    size_t capacity = 0;
};

__attribute__((format(printf, 3, 4))) int refuse(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

// A CUDA call's result: true, or false with the call and its error in err (and
// noted by ok()).
bool cuda_ok(cudaError_t rc, const char *call, char *err, size_t errlen)
{
    if (ok(rc, call))
        return true;
    refuse(err, errlen, "%s failed: %s", call, cudaGetErrorName(rc));
    return false;
}

void release(grown &b, memory_kind kind)
{
    if (b.data)
        ok(kind == PINNED_HOST ? cudaFreeHost(b.data) : cudaFree(b.data),
           kind == PINNED_HOST ? "cudaFreeHost" : "cudaFree");
    b = grown{};
}

// Frees and reallocates b when it holds fewer than `bytes`. Only called while no
// queued copy or kernel uses b.
bool grow(grown &b, memory_kind kind, size_t bytes, char *err, size_t errlen)
{
    if (b.capacity >= bytes)
        return true;
    release(b, kind);
    void *p = nullptr;
    const bool allocated =
        kind == PINNED_HOST
            ? cuda_ok(cudaHostAlloc(&p, bytes, cudaHostAllocDefault), "cudaHostAlloc", err,
                      errlen)
            : cuda_ok(cudaMalloc(&p, bytes), "cudaMalloc", err, errlen);
    if (!allocated)
        return false;
    b.data = p;
    b.capacity = bytes;
    return true;
}

// Row bytes of a tightly packed format x width x height image; 0 when the format is
// not one or a side is 0 or above RIDE_IMAGE_MAX_DIM.
size_t packed_row_bytes(uint32_t format, uint32_t width, uint32_t height)
{
    if (height < 1 || height > RIDE_IMAGE_MAX_DIM || format >= RIDE_PIX_FORMAT_COUNT)
        return 0;
    return ride_image_row_bytes((ride_pixel_format)format, width);
}

bool valid_host_image(const ride_image *img)
{
    if (!img || !img->data)
        return false;
    const size_t row = packed_row_bytes(img->format, img->width, img->height);
    return row != 0 && img->stride >= row;
}

// Copies `height` rows of `row` bytes between strided buffers.
void copy_rows(void *dst, size_t dst_stride, const void *src, size_t src_stride, size_t row,
               uint32_t height)
{
    if (dst_stride == row && src_stride == row) {
        std::memcpy(dst, src, row * height);
        return;
    }
    for (uint32_t y = 0; y < height; y++)
        std::memcpy((uint8_t *)dst + (size_t)y * dst_stride,
                    (const uint8_t *)src + (size_t)y * src_stride, row);
}

}  // namespace

struct ride_gpu_slot {
    int device = -1;
    cudaStream_t stream = nullptr;
    cudaEvent_t downloaded_event = nullptr;  // recorded after each download
    grown pinned_in, pinned_out, device_in, device_out;
    // The device output as last shaped for the current frame; data NULL: not yet.
    ride_task_device_image output = {};
    // The shape of the result the last download brings into pinned_out; data NULL:
    // no download since the last upload.
    ride_task_device_image downloaded = {};
};

extern "C" void ride_gpu_slot_free(ride_gpu_slot *slot)
{
    if (!slot)
        return;
    ok(cudaSetDevice(slot->device), "cudaSetDevice");
    if (slot->stream)
        ok(cudaStreamSynchronize(slot->stream), "cudaStreamSynchronize");
    release(slot->pinned_in, PINNED_HOST);
    release(slot->pinned_out, PINNED_HOST);
    release(slot->device_in, DEVICE);
    release(slot->device_out, DEVICE);
    if (slot->downloaded_event)
        ok(cudaEventDestroy(slot->downloaded_event), "cudaEventDestroy");
    if (slot->stream)
        ok(cudaStreamDestroy(slot->stream), "cudaStreamDestroy");
    delete slot;
}

extern "C" ride_gpu_slot *ride_gpu_slot_new(int device, char *err, size_t errlen)
{
    char why[256];
    const int count = ride_gpu_device_count(why, sizeof why);
    if (count == 0) {
        refuse(err, errlen, "%s", why);
        return nullptr;
    }
    if (device < 0 || device >= count) {
        refuse(err, errlen, "no CUDA device %d (devices: 0..%d)", device, count - 1);
        return nullptr;
    }
    ride_gpu_slot *slot = new (std::nothrow) ride_gpu_slot;
    if (!slot) {
        refuse(err, errlen, "out of memory");
        return nullptr;
    }
    slot->device = device;
    if (!cuda_ok(cudaSetDevice(device), "cudaSetDevice", err, errlen) ||
        !cuda_ok(cudaStreamCreateWithFlags(&slot->stream, cudaStreamNonBlocking),
                 "cudaStreamCreateWithFlags", err, errlen)) {
        slot->stream = nullptr;
        ride_gpu_slot_free(slot);
        return nullptr;
    }
    if (!cuda_ok(cudaEventCreateWithFlags(&slot->downloaded_event, cudaEventDisableTiming),
                 "cudaEventCreateWithFlags", err, errlen)) {
        slot->downloaded_event = nullptr;
        ride_gpu_slot_free(slot);
        return nullptr;
    }
    return slot;
}

extern "C" int ride_gpu_slot_device(const ride_gpu_slot *slot)
{
    return slot ? slot->device : -1;
}

extern "C" void *ride_gpu_slot_stream(const ride_gpu_slot *slot)
{
    return slot ? (void *)slot->stream : nullptr;
}

extern "C" int ride_gpu_slot_activate(ride_gpu_slot *slot, char *err, size_t errlen)
{
    if (!slot)
        return refuse(err, errlen, "no slot");
    return cuda_ok(cudaSetDevice(slot->device), "cudaSetDevice", err, errlen) ? 0 : -1;
}

// The pinned input is overwritten by the next upload: refused while the slot's
// stream still has work queued (the last upload may not have been read yet).
static int refuse_unless_idle(ride_gpu_slot *slot, char *err, size_t errlen)
{
    const cudaError_t rc = cudaStreamQuery(slot->stream);
    if (rc == cudaErrorNotReady)
        return refuse(err, errlen, "slot busy: its last frame has not finished (poll or wait "
                      "for it first)");
    return cuda_ok(rc, "cudaStreamQuery", err, errlen) ? 0 : -1;
}

extern "C" int ride_gpu_slot_upload(ride_gpu_slot *slot, const ride_image *src,
                                    ride_task_device_image *dev, char *err, size_t errlen)
{
    if (!dev)
        return refuse(err, errlen, "no device image to describe the upload");
    if (!valid_host_image(src))
        return refuse(err, errlen, "invalid input image (%s %ux%u, stride %zu%s)",
                      src ? ride_pixel_format_name(src->format) : "none", src ? src->width : 0,
                      src ? src->height : 0, src ? src->stride : 0,
                      src && !src->data ? ", no pixels" : "");
    if (ride_gpu_slot_activate(slot, err, errlen) != 0 ||
        refuse_unless_idle(slot, err, errlen) != 0)
        return -1;
    // A new frame: the last one's output is neither shaped nor downloaded for it.
    slot->output = ride_task_device_image{};
    slot->downloaded = ride_task_device_image{};
    const size_t row = ride_image_row_bytes(src->format, src->width);
    const size_t bytes = row * src->height;
    if (!grow(slot->pinned_in, PINNED_HOST, bytes, err, errlen) ||
        !grow(slot->device_in, DEVICE, bytes, err, errlen))
        return -1;
    copy_rows(slot->pinned_in.data, row, src->data, src->stride, row, src->height);
    if (!cuda_ok(cudaMemcpyAsync(slot->device_in.data, slot->pinned_in.data, bytes,
                                 cudaMemcpyHostToDevice, slot->stream),
                 "cudaMemcpyAsync", err, errlen))
        return -1;
    *dev = ride_task_device_image{(uint32_t)src->format, src->width, src->height, row,
                                  slot->device_in.data};
    return 0;
}

extern "C" int ride_gpu_slot_ensure_output(void *host_ctx, ride_task_device_image *image,
                                           uint32_t format, uint32_t width, uint32_t height)
{
    auto *slot = (ride_gpu_slot *)host_ctx;
    const size_t row = packed_row_bytes(format, width, height);
    char err[256];
    if (!slot || !image || row == 0 ||
        ride_gpu_slot_activate(slot, err, sizeof err) != 0 ||
        !grow(slot->device_out, DEVICE, row * height, err, sizeof err))
        return -1;
    *image = ride_task_device_image{format, width, height, row, slot->device_out.data};
    slot->output = *image;
    return 0;
}

extern "C" int ride_gpu_slot_download(ride_gpu_slot *slot, char *err, size_t errlen)
{
    if (ride_gpu_slot_activate(slot, err, errlen) != 0)
        return -1;
    const ride_task_device_image out = slot->output;
    if (!out.data)
        return refuse(err, errlen, "no output to download: the task shaped none for this frame");
    const size_t bytes = out.pitch * out.height;
    if (!grow(slot->pinned_out, PINNED_HOST, bytes, err, errlen) ||
        !cuda_ok(cudaMemcpyAsync(slot->pinned_out.data, out.data, bytes, cudaMemcpyDeviceToHost,
                                 slot->stream),
                 "cudaMemcpyAsync", err, errlen) ||
        !cuda_ok(cudaEventRecord(slot->downloaded_event, slot->stream), "cudaEventRecord", err,
                 errlen))
        return -1;
    slot->downloaded = out;
    return 0;
}

extern "C" int ride_gpu_slot_poll(ride_gpu_slot *slot, char *err, size_t errlen)
{
    if (ride_gpu_slot_activate(slot, err, errlen) != 0)
        return -1;
    const cudaError_t rc = cudaEventQuery(slot->downloaded_event);
    if (rc == cudaErrorNotReady)
        return 0;
    return cuda_ok(rc, "cudaEventQuery", err, errlen) ? 1 : -1;
}

extern "C" int ride_gpu_slot_wait(ride_gpu_slot *slot, char *err, size_t errlen)
{
    if (ride_gpu_slot_activate(slot, err, errlen) != 0)
        return -1;
    return cuda_ok(cudaStreamSynchronize(slot->stream), "cudaStreamSynchronize", err, errlen)
               ? 0
               : -1;
}

extern "C" int ride_gpu_slot_output(ride_gpu_slot *slot, ride_image *dst, char *err,
                                    size_t errlen)
{
    if (!slot || !dst)
        return refuse(err, errlen, "no %s", slot ? "image to receive the output" : "slot");
    const ride_task_device_image out = slot->downloaded;
    if (!out.data)
        return refuse(err, errlen, "no output downloaded since the last upload");
    const int finished = ride_gpu_slot_poll(slot, err, errlen);
    if (finished <= 0)
        return finished < 0 ? -1
                            : refuse(err, errlen,
                                     "the frame has not finished: poll or wait for it first");
    const auto format = (ride_pixel_format)out.format;
    if (ride_image_ensure(dst, format, out.width, out.height) != 0)
        return refuse(err, errlen, "cannot allocate a %ux%u %s output", out.width, out.height,
                      ride_pixel_format_name(format));
    copy_rows(dst->data, dst->stride, slot->pinned_out.data, out.pitch, out.pitch, out.height);
    return 0;
}
