/* task_resize.c - the built-in `resize` task: ride_cpu_resize, or ride_cuda_resize
 * (host frames) and ride_cuda_resize_device (device frames) when the stage runs on
 * a GPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gpu.h"
#include "kernels/kernels.h"
#include "ride/task.h"
#include "tasks/task_support.h"

typedef struct resize_state {
    int threads;
    bool gpu;
    uint32_t width;
    uint32_t height;
    ride_interp interp;
    void *stream;               /* env.cuda_stream on a GPU */
    ride_cuda_scratch *scratch; /* the sampling tables on a GPU */
} resize_state;

static void resize_destroy(void *state)
{
    resize_state *s = state;
    ride_cuda_scratch_free(s->scratch);
    free(s);
}

static const char *const resize_interps[] = {"linear", "nearest", "area", NULL};

static ride_interp interp_named(const char *name)
{
    if (strcmp(name, "nearest") == 0)
        return RIDE_INTERP_NEAREST;
    return strcmp(name, "area") == 0 ? RIDE_INTERP_AREA : RIDE_INTERP_LINEAR;
}

static int resize_init(const ride_task_params *params, const ride_task_env *env, void **state,
                       char *err, size_t errlen)
{
    int64_t width = 0, height = 0;
    const char *interp = "linear";
    if (env->host->get_int(params, "width", &width) != 0 ||
        env->host->get_int(params, "height", &height) != 0 ||
        env->host->get_string(params, "interpolation", &interp) != 0)
        return snprintf(err, errlen, "resize needs width, height and interpolation"), -1;
    if (env->device == RIDE_TASK_GPU && !ride_task_gpu_available())
        return snprintf(err, errlen, "no usable CUDA device"), -1;
    resize_state *s = calloc(1, sizeof *s);
    if (!s)
        return snprintf(err, errlen, "out of memory"), -1;
    *s = (resize_state){.threads = env->threads, .gpu = env->device == RIDE_TASK_GPU,
                        .width = (uint32_t)width, .height = (uint32_t)height,
                        .interp = interp_named(interp)};
    if (ride_task_gpu_scratch(env, &s->stream, &s->scratch, err, errlen) != 0) {
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int resize_process(void *state, const ride_task_input *in, ride_task_output *out,
                          char *err, size_t errlen)
{
    const resize_state *s = state;
    const ride_image *src = in->image;
    if (ride_task_check_8bit("resize", src->format, err, errlen) != 0)
        return -1;
    if (ride_task_shape_output(out, src->format, s->width, s->height, err, errlen) != 0)
        return -1;
    int rc = s->gpu ? ride_cuda_resize(src, out->image, s->width, s->height, s->interp)
                    : ride_cpu_resize(src, out->image, s->width, s->height, s->interp, s->threads);
    if (rc < 0)
        return snprintf(err, errlen, "resize %s kernel failed", s->gpu ? "CUDA" : "CPU"), -1;
    return 0;
}

/* On a GPU the frames come decoded full size (decode_scale is for CPU lanes):
 * it only has to hold. */
static bool resize_scale_fits(const void *state, uint32_t width, uint32_t height,
                              uint32_t scaled_width, uint32_t scaled_height)
{
    const resize_state *s = state;
    (void)width, (void)height;
    return !s->gpu && scaled_width >= s->width && scaled_height >= s->height;
}

static uint32_t resize_decode_scale(void *state, uint32_t width, uint32_t height)
{
    return ride_task_largest_scale(state, width, height, resize_scale_fits);
}

static int resize_process_device(void *state, const ride_task_device_input *in,
                                 ride_task_device_output *out, char *err, size_t errlen)
{
    const resize_state *s = state;
    const ride_task_device_image *src = in ? in->image : NULL;
    if (ride_task_device_check_input("resize", s->stream, in, err, errlen) != 0 ||
        ride_task_check_8bit("resize", src->format, err, errlen) != 0 ||
        ride_task_device_shape_output(out, src->format, s->width, s->height, err, errlen) != 0)
        return -1;
    if (ride_cuda_resize_device(src, out->image, s->interp, s->stream, s->scratch) != 0)
        return snprintf(err, errlen, "resize CUDA kernel failed"), -1;
    return 0;
}

static const ride_task_param resize_params[] = {
    {
        .name = "width",
        .type = RIDE_PARAM_INT,
        .flags = RIDE_PARAM_REQUIRED | RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX,
        .min = 1,
        .max = RIDE_RESIZE_MAX_DIM,
        .help = "output width, in pixels",
    },
    {
        .name = "height",
        .type = RIDE_PARAM_INT,
        .flags = RIDE_PARAM_REQUIRED | RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX,
        .min = 1,
        .max = RIDE_RESIZE_MAX_DIM,
        .help = "output height, in pixels",
    },
    {
        .name = "interpolation",
        .type = RIDE_PARAM_ENUM,
        .default_value = "linear",
        .choices = resize_interps,
        .help = "as OpenCV's INTER_LINEAR, INTER_NEAREST or INTER_AREA",
    },
};

const ride_task_descriptor ride_task_resize = {
    .abi_version = RIDE_TASK_ABI_VERSION,
    .struct_size = sizeof(ride_task_descriptor),
    .name = "resize",
    .description = "resizes 8-bit frames to width x height (linear, nearest or area)",
    .devices = RIDE_TASK_CPU | RIDE_TASK_GPU,
    .param_size = sizeof(ride_task_param),
    .params = resize_params,
    .param_count = sizeof resize_params / sizeof resize_params[0],
    .init = resize_init,
    .process = resize_process,
    .process_device = resize_process_device,
    .destroy = resize_destroy,
    .decode_scale = resize_decode_scale,
};
