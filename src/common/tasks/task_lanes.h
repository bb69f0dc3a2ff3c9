/* task_lanes.h - frames in flight through a GPU task (private to the task runner).
 *
 * A lane is one frame's way through the GPU: a slot (kernels/gpu.h: stream, event,
 * pinned host buffers, device images) and a task state bound to the slot's stream.
 * Lanes are dealt frames in turn and give their outputs back in the same order, so
 * while one lane's frame is being computed the next one's is uploaded and the
 * previous one's downloaded, on another stream or another device. */
#ifndef RIDE_TASK_LANES_H
#define RIDE_TASK_LANES_H

#include <stddef.h>

#include "tasks/host.h"
#include "wire/frame.h"

typedef struct ride_task_lanes ride_task_lanes;

/* per_gpu lanes on each of the gpu_count devices, interleaved (lane i runs on
 * gpus[i % gpu_count]), each with a state from d->init (params, host). d must have
 * process_device. NULL with the reason in err. */
ride_task_lanes *ride_task_lanes_new(const ride_task_descriptor *d,
                                     const ride_task_params *params,
                                     const ride_task_host *host, const int *gpus,
                                     size_t gpu_count, int per_gpu, char *err, size_t errlen);
/* Waits for every lane, destroys the states and frees the slots. */
void ride_task_lanes_free(ride_task_lanes *lanes);

int ride_task_lanes_depth(const ride_task_lanes *lanes);
int ride_task_lanes_in_flight(const ride_task_lanes *lanes);

/* ride_task_submit / ride_task_collect for a GPU runner (tasks/host.h). */
int ride_task_lanes_submit(ride_task_lanes *lanes, const ride_frame *in, char *err,
                           size_t errlen);
int ride_task_lanes_collect(ride_task_lanes *lanes, int wait, ride_frame *out, char *err,
                            size_t errlen);

#endif
