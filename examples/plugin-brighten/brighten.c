/* brighten.c: adds `amount` to every 8-bit sample, saturating. */
#include <stdio.h>
#include <stdlib.h>

#include "ride/task.h"

typedef struct brighten { int amount; } brighten;

static int brighten_init(const ride_task_params *params, const ride_task_env *env,
                         void **state, char *err, size_t errlen)
{
    int64_t amount;
    env->host->get_int(params, "amount", &amount); /* has a default: always set */
    brighten *s = malloc(sizeof *s);
    if (!s)
        return snprintf(err, errlen, "out of memory"), -1;
    s->amount = (int)amount;
    *state = s;
    return 0;
}

static int brighten_process(void *state, const ride_task_input *in, ride_task_output *out,
                            char *err, size_t errlen)
{
    const brighten *s = state;
    const ride_image *src = in->image;
    if (src->format != RIDE_PIX_GRAY8 && src->format != RIDE_PIX_BGR8)
        return snprintf(err, errlen, "brighten takes gray8 or bgr8 images"), -1;
    if (out->ensure(out->image, src->format, src->width, src->height) < 0)
        return snprintf(err, errlen, "cannot allocate the output"), -1;
    size_t row = (size_t)src->width * (src->format == RIDE_PIX_BGR8 ? 3 : 1);
    for (uint32_t y = 0; y < src->height; y++) {
        const uint8_t *a = src->data + (size_t)y * src->stride;
        uint8_t *b = out->image->data + (size_t)y * out->image->stride;
        for (size_t x = 0; x < row; x++) {
            int v = a[x] + s->amount;
            b[x] = (uint8_t)(v > 255 ? 255 : v < 0 ? 0 : v);
        }
    }
    return 0;
}

static void brighten_destroy(void *state) { free(state); }

static const ride_task_param brighten_params[] = {
    {.name = "amount", .type = RIDE_PARAM_INT,
     .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX,
     .default_value = "16", .min = -255, .max = 255, .help = "added to every sample"},
};

static const ride_task_descriptor brighten_task = {
    .abi_version = RIDE_TASK_ABI_VERSION,
    .struct_size = sizeof(ride_task_descriptor),
    .name = "brighten",
    .description = "adds a constant to every sample",
    .devices = RIDE_TASK_CPU,
    .param_size = sizeof(ride_task_param),
    .params = brighten_params,
    .param_count = 1,
    .init = brighten_init,
    .process = brighten_process,
    .destroy = brighten_destroy,
};

const ride_task_descriptor *const *ride_task_plugin_entry(uint32_t host_abi, size_t *count)
{
    static const ride_task_descriptor *const tasks[] = {&brighten_task};
    if (host_abi != RIDE_TASK_ABI_VERSION)
        return NULL;
    *count = 1;
    return tasks;
}
