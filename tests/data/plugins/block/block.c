/* block.c - a test plugin: "block" copies 8-bit frames through unchanged, except in
 * a process whose environment sets RIDE_TEST_BLOCK_AFTER=N: there its process()
 * copies N frames, then blocks forever on the next, as a task stuck in a call
 * that never returns. Workers without the variable run it normally, so a spare
 * can take over the stuck worker's partitions (tests/integration/test_worker_stall.c).
 * Built as a MODULE by tests/CMakeLists.txt; it links nothing from RIDE. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ride/task.h"

typedef struct block_state {
    long left; /* frames to copy before blocking; < 0: never block */
} block_state;

static int block_init(const ride_task_params *params, const ride_task_env *env, void **state,
                      char *err, size_t errlen)
{
    (void)params;
    (void)env;
    block_state *s = malloc(sizeof *s);
    if (!s)
        return snprintf(err, errlen, "out of memory"), -1;
    const char *after = getenv("RIDE_TEST_BLOCK_AFTER");
    s->left = after ? strtol(after, NULL, 10) : -1;
    *state = s;
    return 0;
}

/* Says so on stderr (the test waits for the line), then waits on a condition
 * nobody signals. */
static void block_forever(void)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
    fputs("block: blocking forever\n", stderr);
    fflush(stderr);
    pthread_mutex_lock(&mu);
    for (;;)
        pthread_cond_wait(&never, &mu);
}

static int block_process(void *state, const ride_task_input *in, ride_task_output *out,
                         char *err, size_t errlen)
{
    block_state *s = state;
    if (s->left == 0)
        block_forever();
    if (s->left > 0)
        s->left--;
    const ride_image *src = in->image;
    unsigned channels = src->format == RIDE_PIX_GRAY8 ? 1
                        : src->format == RIDE_PIX_BGRA8 ? 4
                        : (src->format == RIDE_PIX_BGR8 || src->format == RIDE_PIX_RGB8) ? 3 : 0;
    if (!channels)
        return snprintf(err, errlen, "block takes 8-bit images"), -1;
    if (out->ensure(out->image, src->format, src->width, src->height) < 0)
        return snprintf(err, errlen, "cannot allocate the output"), -1;
    for (uint32_t y = 0; y < src->height; y++)
        memcpy(out->image->data + (size_t)y * out->image->stride,
               src->data + (size_t)y * src->stride, (size_t)src->width * channels);
    return 0;
}

static void block_destroy(void *state)
{
    free(state);
}

static const ride_task_descriptor block_task = {
    .abi_version = RIDE_TASK_ABI_VERSION,
    .struct_size = sizeof(ride_task_descriptor),
    .name = "block",
    .description = "copies frames; blocks forever after RIDE_TEST_BLOCK_AFTER of them",
    .devices = RIDE_TASK_CPU,
    .param_size = sizeof(ride_task_param),
    .init = block_init,
    .process = block_process,
    .destroy = block_destroy,
};

const ride_task_descriptor *const *ride_task_plugin_entry(uint32_t host_abi, size_t *count)
{
    static const ride_task_descriptor *const tasks[] = {&block_task};
    if (host_abi != RIDE_TASK_ABI_VERSION)
        return NULL;
    *count = 1;
    return tasks;
}
