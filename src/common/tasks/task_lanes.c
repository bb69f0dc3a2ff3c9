/* task_lanes.c - frames in flight through a GPU task (task_lanes.h). */
#include "tasks/task_lanes.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/error.h"
#include "kernels/gpu.h"

typedef struct lane {
    ride_gpu_slot *slot;
    void *state;
    bool has_state; /* init succeeded: destroy is owed */
    ride_task_device_image out;
    bool busy;
    /* The input's identity and metadata, which its output carries: process_device
     * gets no metadata, so it passes through a GPU task unchanged. */
    ride_frame meta;
} lane;

struct ride_task_lanes {
    const ride_task_descriptor *task;
    lane *lanes;
    int count;
    int next_submit;
    int next_collect;
    int in_flight;
};

static int init_lane(ride_task_lanes *ls, lane *l, const ride_task_params *params,
                     const ride_task_host *host, int gpu, char *err, size_t errlen)
{
    l->slot = ride_gpu_slot_new(gpu, err, errlen);
    if (!l->slot || ride_gpu_slot_activate(l->slot, err, errlen) != 0)
        return -1;
    ride_task_env env = {
        .struct_size = sizeof env,
        .threads = 1,
        .device = RIDE_TASK_GPU,
        .gpu_index = gpu,
        .cuda_stream = ride_gpu_slot_stream(l->slot),
        .host = host,
    };
    if (!ls->task->init)
        return 0;
    err[0] = '\0';
    if (ls->task->init(params, &env, &l->state, err, errlen) != 0) {
        if (!err[0])
            ride_set_error(err, errlen, "task '%s' failed to initialize on GPU %d",
                           ls->task->name, gpu);
        return -1;
    }
    l->has_state = true;
    return 0;
}

ride_task_lanes *ride_task_lanes_new(const ride_task_descriptor *d,
                                     const ride_task_params *params,
                                     const ride_task_host *host, const int *gpus,
                                     size_t gpu_count, int per_gpu, char *err, size_t errlen)
{
    if (!d || !d->process_device || !gpus || gpu_count == 0 || per_gpu < 1 ||
        gpu_count * (size_t)per_gpu > 4096)
        return ride_set_error(err, errlen, "frames in flight need a task with process_device, "
                                           "GPUs and a positive depth"),
               NULL;
    ride_task_lanes *ls = calloc(1, sizeof *ls);
    int count = (int)gpu_count * per_gpu;
    if (ls)
        ls->lanes = calloc((size_t)count, sizeof *ls->lanes);
    if (!ls || !ls->lanes) {
        free(ls);
        return ride_set_error(err, errlen, "out of memory"), NULL;
    }
    ls->task = d;
    ls->count = count;
    for (int i = 0; i < count; i++) {
        if (init_lane(ls, &ls->lanes[i], params, host, gpus[(size_t)i % gpu_count], err,
                      errlen) != 0) {
            ride_task_lanes_free(ls);
            return NULL;
        }
    }
    return ls;
}

void ride_task_lanes_free(ride_task_lanes *ls)
{
    if (!ls)
        return;
    char err[256];
    for (int i = 0; i < ls->count; i++) {
        lane *l = &ls->lanes[i];
        /* The state's buffers may still be in use by queued work until the slot drains. */
        if (l->slot)
            (void)ride_gpu_slot_wait(l->slot, err, sizeof err);
        if (l->has_state && ls->task->destroy) {
            (void)ride_gpu_slot_activate(l->slot, err, sizeof err);
            ls->task->destroy(l->state);
        }
        ride_gpu_slot_free(l->slot);
        ride_frame_free(&l->meta);
    }
    free(ls->lanes);
    free(ls);
}

int ride_task_lanes_depth(const ride_task_lanes *ls)
{
    return ls->count;
}

int ride_task_lanes_in_flight(const ride_task_lanes *ls)
{
    return ls->in_flight;
}

/* Uploads the frame, queues the task's kernels and the download on the lane's
 * stream: nothing waits here. */
static int queue_frame(const ride_task_descriptor *d, lane *l, const ride_frame *in, char *err,
                       size_t errlen)
{
    ride_task_device_image src;
    if (ride_gpu_slot_activate(l->slot, err, errlen) != 0 ||
        ride_gpu_slot_upload(l->slot, &in->image, &src, err, errlen) != 0)
        return -1;
    void *stream = ride_gpu_slot_stream(l->slot);
    ride_task_device_input input = {
        .struct_size = sizeof input,
        .image = &src,
        .stream_id = in->stream_id,
        .seq = in->seq,
        .capture_ns = in->capture_ns,
        .cuda_stream = stream,
    };
    ride_task_device_output output = {
        .struct_size = sizeof output,
        .image = &l->out,
        .ensure = ride_gpu_slot_ensure_output,
        .host_ctx = l->slot,
    };
    err[0] = '\0';
    if (d->process_device(l->state, &input, &output, err, errlen) != 0) {
        if (!err[0])
            ride_set_error(err, errlen, "task '%s' failed", d->name);
        return -1;
    }
    if (!l->out.data)
        return ride_set_error(err, errlen, "task '%s' produced no image", d->name);
    return ride_gpu_slot_download(l->slot, err, errlen);
}

int ride_task_lanes_submit(ride_task_lanes *ls, const ride_frame *in, char *err, size_t errlen)
{
    lane *l = &ls->lanes[ls->next_submit];
    if (l->busy)
        return ride_set_error(err, errlen, "%d frames are in flight already: collect one first",
                              ls->in_flight);
    l->out.data = NULL;
    if (queue_frame(ls->task, l, in, err, errlen) != 0) {
        /* Whatever was queued before the failure must be done before the lane and
         * its state take the next frame. */
        char ignored[256];
        (void)ride_gpu_slot_wait(l->slot, ignored, sizeof ignored);
        return -1;
    }
    if (ride_frame_copy_metadata(&l->meta, in) != 0) {
        char ignored[256];
        (void)ride_gpu_slot_wait(l->slot, ignored, sizeof ignored);
        return ride_set_error(err, errlen, "out of memory");
    }
    l->busy = true;
    l->meta.stream_id = in->stream_id;
    l->meta.seq = in->seq;
    l->meta.capture_ns = in->capture_ns;
    ls->next_submit = (ls->next_submit + 1) % ls->count;
    ls->in_flight++;
    return 0;
}

int ride_task_lanes_collect(ride_task_lanes *ls, int wait, ride_frame *out, char *err,
                            size_t errlen)
{
    lane *l = &ls->lanes[ls->next_collect];
    if (!l->busy)
        return 0;
    int done = wait ? (ride_gpu_slot_wait(l->slot, err, errlen) == 0 ? 1 : -1)
                    : ride_gpu_slot_poll(l->slot, err, errlen);
    if (done == 0)
        return 0;
    l->busy = false;
    ls->next_collect = (ls->next_collect + 1) % ls->count;
    ls->in_flight--;
    if (done < 0 || ride_gpu_slot_output(l->slot, &out->image, err, errlen) != 0)
        return -1;
    if (ride_frame_copy_metadata(out, &l->meta) != 0)
        return ride_set_error(err, errlen, "out of memory");
    out->stream_id = l->meta.stream_id;
    out->seq = l->meta.seq;
    out->capture_ns = l->meta.capture_ns;
    return 1;
}
