/* task_gaussian.c - the built-in `gaussian` task: ride_cpu_gaussian, or
 * ride_cuda_gaussian (host frames) and ride_cuda_gaussian_device (device frames)
 * when the stage runs on a GPU. */
#include <stdio.h>
#include <stdlib.h>

#include "kernels/gpu.h"
#include "kernels/kernels.h"
#include "ride/task.h"
#include "tasks/task_support.h"

/* Far beyond any useful blur of a 31-pixel window, which is a box filter by then. */
#define GAUSSIAN_MAX_SIGMA 1000

typedef struct gaussian_state {
    int threads;
    bool gpu;
    int ksize;
    double sigma;
    void *stream;               /* env.cuda_stream on a GPU */
    ride_cuda_scratch *scratch; /* the column sums on a GPU */
} gaussian_state;

static void gaussian_destroy(void *state)
{
    gaussian_state *s = state;
    ride_cuda_scratch_free(s->scratch);
    free(s);
}

static int gaussian_init(const ride_task_params *params, const ride_task_env *env, void **state,
                         char *err, size_t errlen)
{
    int64_t ksize = 0;
    double sigma = 0;
    if (env->host->get_int(params, "ksize", &ksize) != 0 ||
        env->host->get_double(params, "sigma", &sigma) != 0)
        return snprintf(err, errlen, "gaussian needs ksize and sigma"), -1;
    if (env->device == RIDE_TASK_GPU && !ride_task_gpu_available())
        return snprintf(err, errlen, "no usable CUDA device"), -1;
    gaussian_state *s = calloc(1, sizeof *s);
    if (!s)
        return snprintf(err, errlen, "out of memory"), -1;
    *s = (gaussian_state){.threads = env->threads, .gpu = env->device == RIDE_TASK_GPU,
                          .ksize = (int)ksize, .sigma = sigma};
    if (ride_task_gpu_scratch(env, &s->stream, &s->scratch, err, errlen) != 0) {
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int gaussian_process(void *state, const ride_task_input *in, ride_task_output *out,
                            char *err, size_t errlen)
{
    const gaussian_state *s = state;
    const ride_image *src = in->image;
    if (ride_task_check_8bit("gaussian", src->format, err, errlen) != 0)
        return -1;
    if (ride_task_shape_output(out, src->format, src->width, src->height, err, errlen) != 0)
        return -1;
    int rc = s->gpu ? ride_cuda_gaussian(src, out->image, s->ksize, s->sigma)
                    : ride_cpu_gaussian(src, out->image, s->ksize, s->sigma, s->threads);
    if (rc < 0)
        return snprintf(err, errlen, "gaussian %s kernel failed", s->gpu ? "CUDA" : "CPU"), -1;
    return 0;
}

static int gaussian_process_device(void *state, const ride_task_device_input *in,
                                   ride_task_device_output *out, char *err, size_t errlen)
{
    const gaussian_state *s = state;
    const ride_task_device_image *src = in ? in->image : NULL;
    if (ride_task_device_check_input("gaussian", s->stream, in, err, errlen) != 0 ||
        ride_task_check_8bit("gaussian", src->format, err, errlen) != 0 ||
        ride_task_device_shape_output(out, src->format, src->width, src->height, err, errlen) != 0)
        return -1;
    if (ride_cuda_gaussian_device(src, out->image, s->ksize, s->sigma, s->stream, s->scratch) != 0)
        return snprintf(err, errlen, "gaussian CUDA kernel failed"), -1;
    return 0;
}

static const ride_task_param gaussian_params[] = {
    {
        .name = "ksize",
        .type = RIDE_PARAM_INT,
        .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX | RIDE_PARAM_ODD,
        .default_value = "5",
        .min = 1,
        .max = RIDE_GAUSSIAN_MAX_KSIZE,
        .help = "side of the square window, in pixels",
    },
    {
        .name = "sigma",
        .type = RIDE_PARAM_FLOAT,
        .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX,
        .default_value = "0",
        .min = 0,
        .max = GAUSSIAN_MAX_SIGMA,
        .help = "standard deviation in pixels; 0 derives it from ksize as OpenCV does",
    },
};

const ride_task_descriptor ride_task_gaussian = {
    .abi_version = RIDE_TASK_ABI_VERSION,
    .struct_size = sizeof(ride_task_descriptor),
    .name = "gaussian",
    .description = "gaussian blur over a ksize x ksize window, per channel",
    .devices = RIDE_TASK_CPU | RIDE_TASK_GPU,
    .param_size = sizeof(ride_task_param),
    .params = gaussian_params,
    .param_count = sizeof gaussian_params / sizeof gaussian_params[0],
    .init = gaussian_init,
    .process = gaussian_process,
    .process_device = gaussian_process_device,
    .destroy = gaussian_destroy,
};
