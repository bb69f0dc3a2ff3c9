/* task_fft.c - the built-in fft task: the centred 2-D magnitude spectrum of a
 * GRAY8 frame, min-max scaled to GRAY8. CPU: FFTW (kernels/kernels.h); GPU: cuFFT
 * (kernels/gpu.h). Plans live in the state and are kept while the frame size repeats. */
#include <stdio.h>
#include <stdlib.h>

#include "kernels/gpu.h"
#include "kernels/kernels.h"
#include "ride/task.h"
#include "tasks/task_support.h"

typedef struct fft_state {
    bool log_scale;
    ride_cpu_fft *cpu;  /* exactly one of cpu and cuda is set */
    ride_cuda_fft *cuda;
    void *stream; /* env.cuda_stream on a GPU: cuda's stream */
} fft_state;

static void fft_destroy(void *state)
{
    fft_state *s = state;
    ride_cpu_fft_free(s->cpu);
    ride_cuda_fft_free(s->cuda);
    free(s);
}

static int fft_init(const ride_task_params *params, const ride_task_env *env, void **state,
                    char *err, size_t errlen)
{
    bool log_scale = true;
    if (env->host->get_bool(params, "log", &log_scale) != 0)
        return snprintf(err, errlen, "fft: missing parameter 'log'"), -1;
    bool gpu = env->device == RIDE_TASK_GPU;
    if (gpu && !ride_task_gpu_available())
        return snprintf(err, errlen, "no usable CUDA device"), -1;
    fft_state *s = calloc(1, sizeof *s);
    if (!s)
        return snprintf(err, errlen, "out of memory"), -1;
    s->log_scale = log_scale;
    if (gpu) {
        s->stream = env->cuda_stream;
        s->cuda = ride_cuda_fft_new(s->stream);
    } else
        s->cpu = ride_cpu_fft_new(env->threads);
    if (!s->cpu && !s->cuda) {
        free(s);
        return snprintf(err, errlen, "fft: cannot set up %s", gpu ? "cuFFT" : "FFTW"), -1;
    }
    *state = s;
    return 0;
}

static int fft_process(void *state, const ride_task_input *in, ride_task_output *out, char *err,
                       size_t errlen)
{
    fft_state *s = state;
    const ride_image *src = in->image;
    if (ride_task_check_gray8("fft", src->format, NULL, err, errlen) != 0)
        return -1;
    if (ride_task_shape_output(out, RIDE_PIX_GRAY8, src->width, src->height, err, errlen) != 0)
        return -1;
    int rc = s->cuda ? ride_cuda_fft_spectrum(s->cuda, src, out->image, s->log_scale)
                     : ride_cpu_fft_spectrum(s->cpu, src, out->image, s->log_scale);
    if (rc < 0)
        return snprintf(err, errlen, "fft %s kernel failed", s->cuda ? "CUDA" : "CPU"), -1;
    return 0;
}

static int fft_process_device(void *state, const ride_task_device_input *in,
                              ride_task_device_output *out, char *err, size_t errlen)
{
    const fft_state *s = state;
    const ride_task_device_image *src = in ? in->image : NULL;
    if (ride_task_device_check_input("fft", s->stream, in, err, errlen) != 0 ||
        ride_task_check_gray8("fft", src->format, NULL, err, errlen) != 0 ||
        ride_task_device_shape_output(out, RIDE_PIX_GRAY8, src->width, src->height, err,
                                      errlen) != 0)
        return -1;
    if (ride_cuda_fft_device(s->cuda, src, out->image, s->log_scale) != 0)
        return snprintf(err, errlen, "fft CUDA kernel failed"), -1;
    return 0;
}

static const ride_task_param fft_params[] = {
    {
        .name = "log",
        .type = RIDE_PARAM_BOOL,
        .default_value = "true",
        .help = "show log(1 + |F|) rather than |F|",
    },
};

const ride_task_descriptor ride_task_fft = {
    .abi_version = RIDE_TASK_ABI_VERSION,
    .struct_size = sizeof(ride_task_descriptor),
    .name = "fft",
    .description = "centred 2-D magnitude spectrum of gray8 frames, min-max scaled to gray8",
    .devices = RIDE_TASK_CPU | RIDE_TASK_GPU,
    .param_size = sizeof(ride_task_param),
    .params = fft_params,
    .param_count = sizeof fft_params / sizeof fft_params[0],
    .init = fft_init,
    .process = fft_process,
    .process_device = fft_process_device,
    .destroy = fft_destroy,
};
