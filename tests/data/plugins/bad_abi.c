/* bad_abi.c - a test plugin whose task claims a future ABI version: the host must
 * reject it. */
#include "ride/task.h"

static int noop_process(void *state, const ride_task_input *in, ride_task_output *out, char *err,
                        size_t errlen)
{
    (void)state, (void)in, (void)out, (void)err, (void)errlen;
    return 0;
}

static const ride_task_descriptor future_task = {
    .abi_version = 99,
    .struct_size = sizeof(ride_task_descriptor),
    .name = "future",
    .description = "built against an ABI this host does not know",
    .devices = RIDE_TASK_CPU,
    .param_size = sizeof(ride_task_param),
    .process = noop_process,
};

const ride_task_descriptor *const *ride_task_plugin_entry(uint32_t host_abi, size_t *count)
{
    static const ride_task_descriptor *const tasks[] = {&future_task};
    (void)host_abi;
    *count = 1;
    return tasks;
}
