/* task_support.c - the checks the built-in tasks share, and the log lines of the
 * CUDA kernels, which report failures to their callers rather than logging them. */
#include "tasks/task_support.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

int ride_task_check_8bit(const char *task, uint32_t format, char *err, size_t errlen)
{
    if (format == RIDE_PIX_GRAY8 || format == RIDE_PIX_BGR8 || format == RIDE_PIX_RGB8 ||
        format == RIDE_PIX_BGRA8)
        return 0;
    snprintf(err, errlen, "%s takes gray8, bgr8, rgb8 or bgra8 images, got %s", task,
             ride_pixel_format_name((ride_pixel_format)format));
    return -1;
}

int ride_task_check_gray8(const char *task, uint32_t format, const char *advice, char *err,
                          size_t errlen)
{
    if (format == RIDE_PIX_GRAY8)
        return 0;
    snprintf(err, errlen, "%s takes gray8 images, got %s%s%s%s", task,
             ride_pixel_format_name((ride_pixel_format)format), advice ? " (" : "",
             advice ? advice : "", advice ? ")" : "");
    return -1;
}

bool ride_task_gpu_available(void)
{
    static atomic_bool logged;
    char why[256];
    if (ride_gpu_device_count(why, sizeof why) > 0)
        return true;
    if (!atomic_exchange(&logged, true)) {
        char quoted[300];
        ride_log_info("gpu_unavailable", "reason=%s path=cpu",
                      ride_log_quote(why, quoted, sizeof quoted));
    }
    return false;
}

void ride_task_log_cuda_error(void)
{
    ride_gpu_error e;
    if (!ride_gpu_take_error(&e))
        return;
    /* CUDA's error names are single words; a reason in words is quoted. */
    char quoted[sizeof e.error + 8];
    ride_log_warn("cuda_error", "call=%s error=%s", e.call,
                  strchr(e.error, ' ') ? ride_log_quote(e.error, quoted, sizeof quoted)
                                       : e.error);
}

int ride_task_gpu_scratch(const ride_task_env *env, void **stream, ride_cuda_scratch **scratch,
                          char *err, size_t errlen)
{
    *stream = NULL;
    *scratch = NULL;
    if (env->device != RIDE_TASK_GPU)
        return 0;
    if (!(*scratch = ride_cuda_scratch_new()))
        return snprintf(err, errlen, "cannot set up CUDA scratch memory"), -1;
    *stream = env->cuda_stream;
    return 0;
}

int ride_task_device_check_input(const char *task, const void *stream,
                                 const ride_task_device_input *in, char *err, size_t errlen)
{
    if (!in || !in->image || !in->image->data)
        return snprintf(err, errlen, "%s: no device frame", task), -1;
    if (!stream)
        return snprintf(err, errlen, "%s: device frames need a CUDA stream (env.cuda_stream)",
                        task),
               -1;
    if (in->cuda_stream != stream)
        return snprintf(err, errlen,
                        "%s: the frame is queued on another CUDA stream than the one the "
                        "task was initialised on",
                        task),
               -1;
    const ride_task_device_image *img = in->image;
    size_t row = ride_image_row_bytes((ride_pixel_format)img->format, img->width);
    if (row == 0 || img->height == 0 || img->height > RIDE_IMAGE_MAX_DIM)
        return snprintf(err, errlen, "%s: invalid device frame (format %u, %ux%u)", task,
                        img->format, img->width, img->height),
               -1;
    if (img->pitch != row)
        return snprintf(err, errlen,
                        "%s: device frames must be tightly packed (pitch %zu, rows of %zu bytes)",
                        task, img->pitch, row),
               -1;
    return 0;
}

int ride_task_shape_output(ride_task_output *out, uint32_t format, uint32_t width,
                           uint32_t height, char *err, size_t errlen)
{
    if (out->ensure(out->image, (ride_pixel_format)format, width, height) < 0)
        return snprintf(err, errlen, "cannot allocate a %ux%u output", width, height), -1;
    return 0;
}

uint32_t ride_task_largest_scale(const void *state, uint32_t width, uint32_t height,
                                 ride_task_scale_fits_fn fits)
{
    uint32_t d = 8;
    for (; d > 1; d /= 2)
        if (fits(state, width, height, (width + d - 1) / d, (height + d - 1) / d))
            break;
    return d;
}

int ride_task_device_shape_output(ride_task_device_output *out, uint32_t format, uint32_t width,
                                  uint32_t height, char *err, size_t errlen)
{
    if (out->ensure(out->host_ctx, out->image, format, width, height) < 0)
        return snprintf(err, errlen, "cannot allocate a %ux%u device output", width, height), -1;
    size_t row = ride_image_row_bytes((ride_pixel_format)format, width);
    if (out->image->pitch != row)
        return snprintf(err, errlen,
                        "the host shaped a device output of pitch %zu: the CUDA kernels need "
                        "tightly packed rows of %zu bytes",
                        out->image->pitch, row),
               -1;
    return 0;
}
