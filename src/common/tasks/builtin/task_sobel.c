/* task_sobel.c - the built-in `sobel` task: ride_cpu_sobel, or ride_cuda_sobel
 * (host frames) and ride_cuda_sobel_device (device frames) when the stage runs on
 * a GPU. Colour frames are refused rather than converted:
 * a grayscale stage in front says where the conversion happens and lets it run on
 * the GPU too. */
#include <stdio.h>
#include <stdlib.h>

#include "kernels/gpu.h"
#include "kernels/kernels.h"
#include "ride/task.h"
#include "tasks/task_support.h"

typedef struct sobel_state {
    int threads;
    bool gpu;
    int ksize;
    void *stream;               /* env.cuda_stream on a GPU */
    ride_cuda_scratch *scratch; /* the column passes on a GPU */
} sobel_state;

static void sobel_destroy(void *state)
{
    sobel_state *s = state;
    ride_cuda_scratch_free(s->scratch);
    free(s);
}

static int sobel_init(const ride_task_params *params, const ride_task_env *env, void **state,
                      char *err, size_t errlen)
{
    int64_t ksize = 0;
    if (env->host->get_int(params, "ksize", &ksize) != 0)
        return snprintf(err, errlen, "sobel needs ksize"), -1;
    if (env->device == RIDE_TASK_GPU && !ride_task_gpu_available())
        return snprintf(err, errlen, "no usable CUDA device"), -1;
    sobel_state *s = calloc(1, sizeof *s);
    if (!s)
        return snprintf(err, errlen, "out of memory"), -1;
    *s = (sobel_state){.threads = env->threads, .gpu = env->device == RIDE_TASK_GPU,
                       .ksize = (int)ksize};
    if (ride_task_gpu_scratch(env, &s->stream, &s->scratch, err, errlen) != 0) {
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

/* Colour frames are refused rather than converted (see above). */
static int check_gray8(uint32_t format, char *err, size_t errlen)
{
    return ride_task_check_gray8("sobel", format, "put a grayscale stage before it", err, errlen);
}

static int sobel_process(void *state, const ride_task_input *in, ride_task_output *out,
                         char *err, size_t errlen)
{
    const sobel_state *s = state;
    const ride_image *src = in->image;
    if (check_gray8(src->format, err, errlen) != 0)
        return -1;
    if (ride_task_shape_output(out, RIDE_PIX_GRAY8, src->width, src->height, err, errlen) != 0)
        return -1;
    int rc = s->gpu ? ride_cuda_sobel(src, out->image, s->ksize)
                    : ride_cpu_sobel(src, out->image, s->ksize, s->threads);
    if (rc < 0)
        return snprintf(err, errlen, "sobel %s kernel failed", s->gpu ? "CUDA" : "CPU"), -1;
    return 0;
}

static int sobel_process_device(void *state, const ride_task_device_input *in,
                                ride_task_device_output *out, char *err, size_t errlen)
{
    const sobel_state *s = state;
    const ride_task_device_image *src = in ? in->image : NULL;
    if (ride_task_device_check_input("sobel", s->stream, in, err, errlen) != 0 ||
        check_gray8(src->format, err, errlen) != 0 ||
        ride_task_device_shape_output(out, RIDE_PIX_GRAY8, src->width, src->height, err,
                                      errlen) != 0)
        return -1;
    if (ride_cuda_sobel_device(src, out->image, s->ksize, s->stream, s->scratch) != 0)
        return snprintf(err, errlen, "sobel CUDA kernel failed"), -1;
    return 0;
}

static const ride_task_param sobel_params[] = {
    {
        .name = "ksize",
        .type = RIDE_PARAM_INT,
        .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX | RIDE_PARAM_ODD,
        .default_value = "3",
        .min = 1,
        .max = 7,
        .help = "Sobel kernel size: 1 (central difference), 3, 5 or 7",
    },
};

const ride_task_descriptor ride_task_sobel = {
    .abi_version = RIDE_TASK_ABI_VERSION,
    .struct_size = sizeof(ride_task_descriptor),
    .name = "sobel",
    .description = "Sobel gradient magnitude |dx| + |dy| of gray8 frames, saturated",
    .devices = RIDE_TASK_CPU | RIDE_TASK_GPU,
    .param_size = sizeof(ride_task_param),
    .params = sobel_params,
    .param_count = sizeof sobel_params / sizeof sobel_params[0],
    .init = sobel_init,
    .process = sobel_process,
    .process_device = sobel_process_device,
    .destroy = sobel_destroy,
};
