/* invert.c - a test plugin: "invert" replaces each 8-bit sample v by 255 - v.
 * Built as a MODULE by tests/CMakeLists.txt; it links nothing from RIDE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ride/task.h"

typedef struct invert_state {
    bool all; /* channels: all, or none (a plain copy) */
    bool keep_alpha;
} invert_state;

static int invert_init(const ride_task_params *params, const ride_task_env *env, void **state,
                       char *err, size_t errlen)
{
    const char *channels = NULL;
    bool keep_alpha = false;
    if (env->host->get_string(params, "channels", &channels) < 0 ||
        env->host->get_bool(params, "keep_alpha", &keep_alpha) < 0)
        return snprintf(err, errlen, "invert: parameters missing"), -1;
    invert_state *s = malloc(sizeof *s);
    if (!s)
        return snprintf(err, errlen, "out of memory"), -1;
    s->all = strcmp(channels, "all") == 0;
    s->keep_alpha = keep_alpha;
    *state = s;
    return 0;
}

static int invert_process(void *state, const ride_task_input *in, ride_task_output *out,
                          char *err, size_t errlen)
{
    const invert_state *s = state;
    const ride_image *src = in->image;
    unsigned channels = src->format == RIDE_PIX_GRAY8 ? 1
                        : src->format == RIDE_PIX_BGRA8 ? 4
                        : (src->format == RIDE_PIX_BGR8 || src->format == RIDE_PIX_RGB8) ? 3 : 0;
    if (!channels)
        return snprintf(err, errlen, "invert takes 8-bit images"), -1;
    if (out->ensure(out->image, src->format, src->width, src->height) < 0)
        return snprintf(err, errlen, "cannot allocate the output"), -1;
    for (uint32_t y = 0; y < src->height; y++) {
        const uint8_t *a = src->data + (size_t)y * src->stride;
        uint8_t *b = out->image->data + (size_t)y * out->image->stride;
        for (size_t x = 0; x < (size_t)src->width * channels; x++) {
            bool alpha = channels == 4 && x % 4 == 3;
            b[x] = (s->all && !(alpha && s->keep_alpha)) ? (uint8_t)(255 - a[x]) : a[x];
        }
    }
    return 0;
}

static void invert_destroy(void *state)
{
    free(state);
}

static const char *const channel_choices[] = {"all", "none", NULL};

static const ride_task_param invert_params[] = {
    {.name = "channels", .type = RIDE_PARAM_ENUM, .default_value = "all",
     .choices = channel_choices, .help = "which samples to invert"},
    {.name = "keep_alpha", .type = RIDE_PARAM_BOOL, .default_value = "true",
     .help = "leave the alpha channel of bgra8 frames alone"},
    {.name = "gain", .type = RIDE_PARAM_FLOAT, .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX,
     .min = 0.0, .max = 1.0, .help = "unused; exercises float validation"},
    {.name = "label", .type = RIDE_PARAM_STRING, .help = "unused; exercises strings"},
};

static const ride_task_descriptor invert_task = {
    .abi_version = RIDE_TASK_ABI_VERSION,
    .struct_size = sizeof(ride_task_descriptor),
    .name = "invert",
    .description = "inverts 8-bit samples",
    .devices = RIDE_TASK_CPU,
    .param_size = sizeof(ride_task_param),
    .params = invert_params,
    .param_count = sizeof invert_params / sizeof invert_params[0],
    .init = invert_init,
    .process = invert_process,
    .destroy = invert_destroy,
};

const ride_task_descriptor *const *ride_task_plugin_entry(uint32_t host_abi, size_t *count)
{
    static const ride_task_descriptor *const tasks[] = {&invert_task};
    if (host_abi != RIDE_TASK_ABI_VERSION)
        return NULL;
    *count = 1;
    return tasks;
}
