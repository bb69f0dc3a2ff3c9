/* task_cpu_lanes.h - frames in flight through a CPU task: one thread per lane,
 * RIDE_TASK_CPU_FRAMES_PER_LANE frames per lane, handed back in the order they
 * were submitted. */
#ifndef RIDE_TASK_CPU_LANES_H
#define RIDE_TASK_CPU_LANES_H

#include <stddef.h>
#include <stdint.h>

#include "wire/frame.h"

/* Runs one frame through the task of one lane: 0, or -1 with the reason in err. */
typedef int (*ride_task_cpu_lane_fn)(void *lane_ctx, const ride_frame *in, ride_frame *out,
                                     char *err, size_t errlen);

/* The scale (1, 2, 4 or 8) at which a lane's task wants a JPEG frame of width x
 * height decoded. */
typedef unsigned (*ride_task_cpu_lane_scale_fn)(void *lane_ctx, uint32_t width, uint32_t height);

/* Frames each lane holds: one running, one waiting, so that the lane never waits
 * for the caller between two frames. */
#define RIDE_TASK_CPU_FRAMES_PER_LANE 2

typedef struct ride_task_cpu_lanes ride_task_cpu_lanes;

/* count lanes (1..RIDE_TASK_CPU_MAX_LANES), lane i calling fn with lane_ctx[i].
 * A lane first decodes a frame whose payload is still encoded (ride_frame_decode
 * with max_frame_bytes, decode_as and the scale that scale, when not NULL, gives
 * for lane_ctx[i] and the frame's size). Returns NULL with the reason in err. */
ride_task_cpu_lanes *ride_task_cpu_lanes_new(int count, ride_task_cpu_lane_fn fn,
                                             ride_task_cpu_lane_scale_fn scale,
                                             void *const *lane_ctx, size_t max_frame_bytes,
                                             ride_pixel_format decode_as, char *err,
                                             size_t errlen);
/* Stops the threads once their frames are done and frees everything. */
void ride_task_cpu_lanes_free(ride_task_cpu_lanes *ls);

/* Frames that may be in flight: lanes x RIDE_TASK_CPU_FRAMES_PER_LANE. */
int ride_task_cpu_lanes_depth(const ride_task_cpu_lanes *ls);
int ride_task_cpu_lanes_in_flight(const ride_task_cpu_lanes *ls);
/* The lanes' time decoding and running frames since they started, over the
 * lanes: how long one lane would have been busy, so that its growth over wall
 * time is the share of the lanes' capacity in use (1: every lane always busy). */
int64_t ride_task_cpu_lanes_busy_ns(ride_task_cpu_lanes *ls);

/* Hands *in to the next slot, giving the caller that slot's previous input in
 * exchange (buffers to reuse, content unspecified). -1 when every slot is taken
 * (depth frames in flight). */
int ride_task_cpu_lanes_submit(ride_task_cpu_lanes *ls, ride_frame *in, char *err,
                               size_t errlen);

/* The oldest frame's output, exchanged with *out, waiting for it up to wait_ms
 * (0: not at all, < 0: until it is done): 1, 0 when it is not done in that time or
 * nothing is in flight, -1 when it failed: *rejected then says why the frame could
 * not be decoded, or is RIDE_FRAME_OK when the task failed it. *lane_ctx gets the
 * context of the lane that ran it. */
int ride_task_cpu_lanes_collect(ride_task_cpu_lanes *ls, int wait_ms, ride_frame *out,
                                ride_frame_status *rejected, void **lane_ctx, char *err,
                                size_t errlen);

#endif
