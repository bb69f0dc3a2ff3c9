/* task_builtin.c - the built-in tasks (grayscale, stddev, passthrough): thin
 * adapters from the task ABI to the CPU kernels (kernels/kernels.h) and, when the
 * environment gives a GPU, the CUDA kernels (kernels/gpu.h), on host frames (process)
 * or device frames (process_device). */
#include <stdio.h>
#include <stdlib.h>

#include "kernels/gpu.h"
#include "kernels/kernels.h"
#include "ride/task.h"
#include "tasks/host.h"
#include "tasks/task_support.h"

typedef struct builtin_state {
    int threads;
    bool gpu;
    int ksize;                  /* stddev */
    void *stream;               /* env.cuda_stream on a GPU */
    ride_cuda_scratch *scratch; /* stddev's sums on a GPU */
} builtin_state;

static int builtin_init(const ride_task_params *params, const ride_task_env *env, void **state,
                        char *err, size_t errlen)
{
    builtin_state *s = calloc(1, sizeof *s);
    if (!s)
        return snprintf(err, errlen, "out of memory"), -1;
    s->threads = env->threads;
    s->gpu = env->device == RIDE_TASK_GPU;
    int64_t ksize = 0;
    if (env->host->get_int(params, "ksize", &ksize) == 0)
        s->ksize = (int)ksize;
    if (s->gpu && !ride_task_gpu_available()) {
        free(s);
        return snprintf(err, errlen, "no usable CUDA device"), -1;
    }
    if (ride_task_gpu_scratch(env, &s->stream, &s->scratch, err, errlen) != 0) {
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

static void builtin_destroy(void *state)
{
    builtin_state *s = state;
    ride_cuda_scratch_free(s->scratch);
    free(s);
}

static int grayscale_process(void *state, const ride_task_input *in, ride_task_output *out,
                             char *err, size_t errlen)
{
    const builtin_state *s = state;
    const ride_image *src = in->image;
    if (ride_task_check_8bit("grayscale", src->format, err, errlen) != 0)
        return -1;
    if (ride_task_shape_output(out, RIDE_PIX_GRAY8, src->width, src->height, err, errlen) != 0)
        return -1;
    int rc = s->gpu ? ride_cuda_grayscale(src, out->image)
                    : ride_cpu_grayscale(src, out->image, s->threads);
    if (rc < 0)
        return snprintf(err, errlen, "grayscale %s kernel failed", s->gpu ? "CUDA" : "CPU"), -1;
    return 0;
}

static int stddev_process(void *state, const ride_task_input *in, ride_task_output *out,
                          char *err, size_t errlen)
{
    const builtin_state *s = state;
    const ride_image *src = in->image;
    if (ride_task_check_8bit("stddev", src->format, err, errlen) != 0)
        return -1;
    if (ride_task_shape_output(out, src->format, src->width, src->height, err, errlen) != 0)
        return -1;
    int rc = s->gpu ? ride_cuda_stddev(src, out->image, s->ksize)
                    : ride_cpu_stddev(src, out->image, s->ksize, s->threads);
    if (rc < 0)
        return snprintf(err, errlen, "stddev %s kernel failed", s->gpu ? "CUDA" : "CPU"), -1;
    return 0;
}

static int grayscale_process_device(void *state, const ride_task_device_input *in,
                                    ride_task_device_output *out, char *err, size_t errlen)
{
    const builtin_state *s = state;
    const ride_task_device_image *src = in ? in->image : NULL;
    if (ride_task_device_check_input("grayscale", s->stream, in, err, errlen) != 0 ||
        ride_task_check_8bit("grayscale", src->format, err, errlen) != 0 ||
        ride_task_device_shape_output(out, RIDE_PIX_GRAY8, src->width, src->height, err,
                                      errlen) != 0)
        return -1;
    if (ride_cuda_grayscale_device(src, out->image, s->stream) != 0)
        return snprintf(err, errlen, "grayscale CUDA kernel failed"), -1;
    return 0;
}

static int stddev_process_device(void *state, const ride_task_device_input *in,
                                 ride_task_device_output *out, char *err, size_t errlen)
{
    const builtin_state *s = state;
    const ride_task_device_image *src = in ? in->image : NULL;
    if (ride_task_device_check_input("stddev", s->stream, in, err, errlen) != 0 ||
        ride_task_check_8bit("stddev", src->format, err, errlen) != 0 ||
        ride_task_device_shape_output(out, src->format, src->width, src->height, err, errlen) != 0)
        return -1;
    if (ride_cuda_stddev_device(src, out->image, s->ksize, s->stream, s->scratch) != 0)
        return snprintf(err, errlen, "stddev CUDA kernel failed"), -1;
    return 0;
}

/* A copy costs the same on either device once the frame is in host memory, so
 * passthrough always copies on the CPU. */
static int passthrough_process(void *state, const ride_task_input *in, ride_task_output *out,
                               char *err, size_t errlen)
{
    (void)state;
    const ride_image *src = in->image;
    if (ride_task_shape_output(out, src->format, src->width, src->height, err, errlen) != 0)
        return -1;
    if (ride_cpu_passthrough(src, out->image) < 0)
        return snprintf(err, errlen, "passthrough copy failed"), -1;
    return 0;
}

/* Stateless: the copy keeps nothing, so it goes on whatever stream the frame came on. */
static int passthrough_process_device(void *state, const ride_task_device_input *in,
                                      ride_task_device_output *out, char *err, size_t errlen)
{
    (void)state;
    const ride_task_device_image *src = in ? in->image : NULL;
    void *stream = in ? in->cuda_stream : NULL;
    if (ride_task_device_check_input("passthrough", stream, in, err, errlen) != 0 ||
        ride_task_device_shape_output(out, src->format, src->width, src->height, err, errlen) != 0)
        return -1;
    if (ride_cuda_copy_device(src, out->image, stream) != 0)
        return snprintf(err, errlen, "passthrough CUDA copy failed"), -1;
    return 0;
}

static const ride_task_param stddev_params[] = {
    {
        .name = "ksize",
        .type = RIDE_PARAM_INT,
        .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX | RIDE_PARAM_ODD,
        .default_value = "5",
        .min = 1,
        .max = RIDE_STDDEV_MAX_KSIZE,
        .help = "side of the square window, in pixels",
    },
};

/* Built-in tasks defined in their own files (task_<name>.c). */
extern const ride_task_descriptor ride_task_resize;
extern const ride_task_descriptor ride_task_gaussian;
extern const ride_task_descriptor ride_task_sobel;
extern const ride_task_descriptor ride_task_matmul;
extern const ride_task_descriptor ride_task_fft;
extern const ride_task_descriptor ride_task_transcode;
extern const ride_task_descriptor ride_task_surf;
extern const ride_task_descriptor ride_task_facedetect;

static const ride_task_descriptor grayscale_task = {
    .abi_version = RIDE_TASK_ABI_VERSION,
    .struct_size = sizeof(ride_task_descriptor),
    .name = "grayscale",
    .description = "converts bgr8, rgb8 and bgra8 frames to gray8 (gray8 is copied)",
    .devices = RIDE_TASK_CPU | RIDE_TASK_GPU,
    .param_size = sizeof(ride_task_param),
    .init = builtin_init,
    .process = grayscale_process,
    .process_device = grayscale_process_device,
    .destroy = builtin_destroy,
    .input_format = RIDE_PIX_GRAY8,
};

static const ride_task_descriptor stddev_task = {
    .abi_version = RIDE_TASK_ABI_VERSION,
    .struct_size = sizeof(ride_task_descriptor),
    .name = "stddev",
    .description = "local standard deviation over a ksize x ksize window, per channel",
    .devices = RIDE_TASK_CPU | RIDE_TASK_GPU,
    .param_size = sizeof(ride_task_param),
    .params = stddev_params,
    .param_count = sizeof stddev_params / sizeof stddev_params[0],
    .init = builtin_init,
    .process = stddev_process,
    .process_device = stddev_process_device,
    .destroy = builtin_destroy,
};

static const ride_task_descriptor passthrough_task = {
    .abi_version = RIDE_TASK_ABI_VERSION,
    .struct_size = sizeof(ride_task_descriptor),
    .name = "passthrough",
    .description = "forwards frames unchanged",
    .devices = RIDE_TASK_CPU | RIDE_TASK_GPU,
    .param_size = sizeof(ride_task_param),
    .process = passthrough_process,
    .process_device = passthrough_process_device,
};

const ride_task_descriptor *const *ride_task_builtins(size_t *count)
{
    static const ride_task_descriptor *const tasks[] = {
        &grayscale_task,     &stddev_task,     &passthrough_task, &ride_task_resize,
        &ride_task_gaussian, &ride_task_sobel, &ride_task_matmul, &ride_task_fft,
        &ride_task_transcode, &ride_task_surf, &ride_task_facedetect,
    };
    *count = sizeof tasks / sizeof tasks[0];
    return tasks;
}
