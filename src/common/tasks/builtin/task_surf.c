/* task_surf.c - the built-in `surf` task: SURF keypoints and descriptors as a
 * GRAY32F table (docs/tasks.md). CPU: ride_cpu_surf after ride_cpu_grayscale for
 * colour frames; GPU: a ride_cuda_surf per task state (one per CUDA stream), from
 * host frames in process and from device frames in process_device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "kernels/gpu.h"
#include "kernels/kernels.h"
#include "ride/task.h"
#include "tasks/task_support.h"

typedef struct surf_state {
    int threads;
    ride_surf_params params;
    ride_cuda_surf *cuda; /* NULL on the CPU path */
    ride_image gray;      /* colour frames converted on the CPU path */
    ride_image table;     /* the result before it is copied into the output */
} surf_state;

static void surf_destroy(void *state)
{
    surf_state *s = state;
    ride_cuda_surf_free(s->cuda);
    ride_image_free(&s->gray);
    ride_image_free(&s->table);
    free(s);
}

static int read_params(const ride_task_params *params, const ride_task_env *env,
                       ride_surf_params *p, char *err, size_t errlen)
{
    double threshold = 0;
    int64_t octaves = 0, intervals = 0, max_keypoints = 0;
    bool upright = false;
    if (env->host->get_double(params, "hessian_threshold", &threshold) != 0 ||
        env->host->get_int(params, "octaves", &octaves) != 0 ||
        env->host->get_int(params, "intervals", &intervals) != 0 ||
        env->host->get_bool(params, "upright", &upright) != 0 ||
        env->host->get_int(params, "max_keypoints", &max_keypoints) != 0)
        return snprintf(err, errlen, "surf: missing parameters"), -1;
    *p = (ride_surf_params){.hessian_threshold = (float)threshold,
                            .octaves = (int)octaves,
                            .intervals = (int)intervals,
                            .upright = upright,
                            .max_keypoints = (uint32_t)max_keypoints};
    if (!ride_surf_params_valid(p))
        return snprintf(err, errlen, "surf: parameters out of range"), -1;
    return 0;
}

static int surf_init(const ride_task_params *params, const ride_task_env *env, void **state,
                     char *err, size_t errlen)
{
    ride_surf_params p;
    if (read_params(params, env, &p, err, errlen) != 0)
        return -1;
    if (env->device == RIDE_TASK_GPU && !ride_task_gpu_available())
        return snprintf(err, errlen, "no usable CUDA device"), -1;
    surf_state *s = calloc(1, sizeof *s);
    if (!s)
        return snprintf(err, errlen, "out of memory"), -1;
    s->threads = env->threads;
    s->params = p;
    if (env->device == RIDE_TASK_GPU && !(s->cuda = ride_cuda_surf_new())) {
        free(s);
        return snprintf(err, errlen, "surf: cannot set up the CUDA context"), -1;
    }
    *state = s;
    return 0;
}

static bool is_8bit_colour_or_gray(ride_pixel_format f)
{
    return f == RIDE_PIX_GRAY8 || f == RIDE_PIX_BGR8 || f == RIDE_PIX_RGB8 || f == RIDE_PIX_BGRA8;
}

static int run_cpu(surf_state *s, const ride_image *src)
{
    if (src->format == RIDE_PIX_GRAY8)
        return ride_cpu_surf(src, &s->params, &s->table, s->threads);
    if (ride_cpu_grayscale(src, &s->gray, s->threads) != 0)
        return -1;
    return ride_cpu_surf(&s->gray, &s->params, &s->table, s->threads);
}

/* The reason of a failure goes to its own log line, after the CUDA failure behind
 * it: the frame's error only says which frame failed. */
static int run_cuda(surf_state *s, const ride_image *src)
{
    char why[160];
    if (ride_cuda_surf_run(s->cuda, src, &s->params, &s->table, why, sizeof why) == 0)
        return 0;
    ride_task_log_cuda_error();
    char quoted[200];
    ride_log_warn("cuda_surf_failed", "reason=%s", ride_log_quote(why, quoted, sizeof quoted));
    return -1;
}

static int surf_process(void *state, const ride_task_input *in, ride_task_output *out,
                        char *err, size_t errlen)
{
    surf_state *s = state;
    const ride_image *src = in->image;
    if (!is_8bit_colour_or_gray(src->format))
        return snprintf(err, errlen, "surf takes gray8, bgr8, rgb8 or bgra8 images, got %s",
                        ride_pixel_format_name(src->format)),
               -1;
    int rc = s->cuda ? run_cuda(s, src) : run_cpu(s, src);
    if (rc != 0)
        return snprintf(err, errlen, "surf %s kernel failed on a %ux%u frame",
                        s->cuda ? "CUDA" : "CPU", src->width, src->height),
               -1;
    const uint32_t rows = s->table.height;
    if (ride_task_shape_output(out, RIDE_PIX_GRAY32F, RIDE_SURF_COLUMNS, rows, err, errlen) != 0)
        return -1;
    const size_t row_bytes = RIDE_SURF_COLUMNS * sizeof(float);
    for (uint32_t y = 0; y < rows; y++)
        memcpy(ride_image_row(out->image, y), ride_image_row(&s->table, y), row_bytes);
    return 0;
}

static int surf_process_device(void *state, const ride_task_device_input *in,
                               ride_task_device_output *out, char *err, size_t errlen)
{
    surf_state *s = state;
    if (!s->cuda)
        return snprintf(err, errlen, "surf: device frames need a task on the GPU"), -1;
    return ride_cuda_surf_run_device(s->cuda, in->image, in->cuda_stream, &s->params, out, err,
                                     errlen);
}

static const ride_task_param surf_params[] = {
    {
        .name = "hessian_threshold",
        .type = RIDE_PARAM_FLOAT,
        .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX,
        .default_value = "100",
        .min = 0,
        .max = 1e30,
        .help = "smallest Hessian determinant a keypoint may have (OpenCV's hessianThreshold)",
    },
    {
        .name = "octaves",
        .type = RIDE_PARAM_INT,
        .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX,
        .default_value = "4",
        .min = 1,
        .max = RIDE_SURF_MAX_OCTAVES,
        .help = "octaves of the scale space (filter sizes double per octave)",
    },
    {
        .name = "intervals",
        .type = RIDE_PARAM_INT,
        .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX,
        .default_value = "3",
        .min = 1,
        .max = RIDE_SURF_MAX_INTERVALS,
        .help = "layers per octave searched for maxima (OpenCV's nOctaveLayers)",
    },
    {
        .name = "upright",
        .type = RIDE_PARAM_BOOL,
        .default_value = "false",
        .help = "skip the orientation (U-SURF): descriptors in image axes, angle 0",
    },
    {
        .name = "max_keypoints",
        .type = RIDE_PARAM_INT,
        .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX,
        .default_value = "2000",
        .min = 1,
        .max = RIDE_SURF_MAX_KEYPOINTS,
        .help = "keypoints kept per frame, the strongest first",
    },
};

const ride_task_descriptor ride_task_surf = {
    .abi_version = RIDE_TASK_ABI_VERSION,
    .struct_size = sizeof(ride_task_descriptor),
    .name = "surf",
    .description = "SURF keypoints and 64-value descriptors as a gray32f table, one row each",
    .devices = RIDE_TASK_CPU | RIDE_TASK_GPU,
    .param_size = sizeof(ride_task_param),
    .params = surf_params,
    .param_count = sizeof surf_params / sizeof surf_params[0],
    .init = surf_init,
    .process = surf_process,
    .process_device = surf_process_device,
    .destroy = surf_destroy,
};
