/* task_matmul.c - the built-in matmul task: a GRAY8 frame F (H x W) as a float
 * matrix times its own transpose (H x H) or a fixed pseudo-random W x size matrix
 * (H x size), out as GRAY32F. CPU: BLAS (kernels/kernels.h); GPU: cuBLAS (kernels/gpu.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gpu.h"
#include "kernels/kernels.h"
#include "ride/task.h"
#include "tasks/task_support.h"

#define MATMUL_MAX_SIZE 4096

typedef struct matmul_state {
    int threads;
    bool transpose;
    uint32_t cols;
    uint64_t seed;
    /* The W x cols matrix of the last frame width (it depends on W, which init
     * does not know); matrix_rows 0: none yet. */
    float *matrix;
    uint32_t matrix_rows;
    ride_cuda_matmul *cuda; /* NULL on the CPU path */
    void *stream;           /* env.cuda_stream on a GPU: cuda's stream */
} matmul_state;

static void matmul_destroy(void *state)
{
    matmul_state *s = state;
    ride_cuda_matmul_free(s->cuda);
    free(s->matrix);
    free(s);
}

static int matmul_init(const ride_task_params *params, const ride_task_env *env, void **state,
                       char *err, size_t errlen)
{
    const char *with = NULL;
    int64_t size = 0, seed = 0;
    if (env->host->get_string(params, "with", &with) != 0 ||
        env->host->get_int(params, "size", &size) != 0 ||
        env->host->get_int(params, "seed", &seed) != 0)
        return snprintf(err, errlen, "matmul: missing parameters"), -1;
    if (env->device == RIDE_TASK_GPU && !ride_task_gpu_available())
        return snprintf(err, errlen, "no usable CUDA device"), -1;
    matmul_state *s = calloc(1, sizeof *s);
    if (!s)
        return snprintf(err, errlen, "out of memory"), -1;
    s->threads = env->threads;
    s->transpose = strcmp(with, "transpose") == 0;
    s->cols = (uint32_t)size;
    s->seed = (uint64_t)seed;
    if (env->device == RIDE_TASK_GPU) {
        s->stream = env->cuda_stream;
        if (!(s->cuda = ride_cuda_matmul_new(s->stream))) {
            free(s);
            return snprintf(err, errlen, "matmul: cannot set up cuBLAS"), -1;
        }
    }
    *state = s;
    return 0;
}

/* Regenerates the matrix when the frame width changes (same seed: same values). */
static int ensure_matrix(matmul_state *s, uint32_t rows, char *err, size_t errlen)
{
    if (s->matrix_rows == rows)
        return 0;
    float *m = realloc(s->matrix, (size_t)rows * s->cols * sizeof *m);
    if (!m)
        return snprintf(err, errlen, "matmul: out of memory for a %ux%u matrix", rows, s->cols),
               -1;
    s->matrix = m;
    s->matrix_rows = 0;
    ride_matmul_random_matrix(m, rows, s->cols, s->seed);
    if (s->cuda && ride_cuda_matmul_set_matrix(s->cuda, m, rows, s->cols) != 0)
        return snprintf(err, errlen, "matmul: cannot upload the matrix to the GPU"), -1;
    s->matrix_rows = rows;
    return 0;
}

/* Checks a frame's format and makes the matrix for its width (with: matrix). */
static int prepare_frame(matmul_state *s, uint32_t format, uint32_t width, char *err,
                         size_t errlen)
{
    if (ride_task_check_gray8("matmul", format, NULL, err, errlen) != 0)
        return -1;
    return s->transpose ? 0 : ensure_matrix(s, width, err, errlen);
}

static uint32_t product_cols(const matmul_state *s, uint32_t height)
{
    return s->transpose ? height : s->cols;
}

static int matmul_process(void *state, const ride_task_input *in, ride_task_output *out,
                          char *err, size_t errlen)
{
    matmul_state *s = state;
    const ride_image *src = in->image;
    if (prepare_frame(s, src->format, src->width, err, errlen) != 0)
        return -1;
    uint32_t cols = product_cols(s, src->height);
    if (ride_task_shape_output(out, RIDE_PIX_GRAY32F, cols, src->height, err, errlen) != 0)
        return -1;
    int rc;
    if (s->cuda)
        rc = ride_cuda_matmul_run(s->cuda, src, out->image);
    else if (s->transpose)
        rc = ride_cpu_matmul_transpose(src, out->image, s->threads);
    else
        rc = ride_cpu_matmul(src, s->matrix, s->cols, out->image, s->threads);
    if (rc < 0)
        return snprintf(err, errlen, "matmul %s kernel failed", s->cuda ? "CUDA" : "CPU"), -1;
    return 0;
}

static int matmul_process_device(void *state, const ride_task_device_input *in,
                                 ride_task_device_output *out, char *err, size_t errlen)
{
    matmul_state *s = state;
    const ride_task_device_image *src = in ? in->image : NULL;
    if (ride_task_device_check_input("matmul", s->stream, in, err, errlen) != 0 ||
        prepare_frame(s, src->format, src->width, err, errlen) != 0 ||
        ride_task_device_shape_output(out, RIDE_PIX_GRAY32F, product_cols(s, src->height),
                                      src->height, err, errlen) != 0)
        return -1;
    if (ride_cuda_matmul_device(s->cuda, src, out->image) != 0)
        return snprintf(err, errlen, "matmul CUDA kernel failed"), -1;
    return 0;
}

static const char *const matmul_with[] = {"transpose", "matrix", NULL};

static const ride_task_param matmul_params[] = {
    {
        .name = "with",
        .type = RIDE_PARAM_ENUM,
        .default_value = "transpose",
        .choices = matmul_with,
        .help = "right operand: the frame's transpose (H x H out) or a W x size matrix",
    },
    {
        .name = "size",
        .type = RIDE_PARAM_INT,
        .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX,
        .default_value = "64",
        .min = 1,
        .max = MATMUL_MAX_SIZE,
        .help = "columns of the matrix (with: matrix)",
    },
    {
        .name = "seed",
        .type = RIDE_PARAM_INT,
        .flags = RIDE_PARAM_HAS_MIN,
        .default_value = "1",
        .min = 0,
        .help = "seed of the pseudo-random matrix (with: matrix)",
    },
};

const ride_task_descriptor ride_task_matmul = {
    .abi_version = RIDE_TASK_ABI_VERSION,
    .struct_size = sizeof(ride_task_descriptor),
    .name = "matmul",
    .description = "gray8 frame as a float matrix times its transpose or a fixed matrix (gray32f)",
    .devices = RIDE_TASK_CPU | RIDE_TASK_GPU,
    .param_size = sizeof(ride_task_param),
    .params = matmul_params,
    .param_count = sizeof matmul_params / sizeof matmul_params[0],
    .init = matmul_init,
    .process = matmul_process,
    .process_device = matmul_process_device,
    .destroy = matmul_destroy,
};
