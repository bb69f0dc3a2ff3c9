/* task_support.h - what the built-in tasks share: the checks of 8-bit input formats,
 * the choice of a shrinking task's decode scale, for process_device the checks of the device frame and the shaping of the device
 * output, and (with the runners) the logging of what the CUDA kernels report. */
#ifndef RIDE_TASK_SUPPORT_H
#define RIDE_TASK_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/gpu.h"
#include "ride/task.h"

/* 0 when format is gray8, bgr8, rgb8 or bgra8 (what the 8-bit kernels take), else
 * -1 with the reason in err, naming `task`. */
int ride_task_check_8bit(const char *task, uint32_t format, char *err, size_t errlen);

/* 0 when format is gray8, else -1 with the reason in err, naming `task`, followed
 * by " (<advice>)" when advice is not NULL. */
int ride_task_check_gray8(const char *task, uint32_t format, const char *advice, char *err,
                          size_t errlen);

/* true when a CUDA device can be used. The first time the answer is no, logs once
 * per process (event=gpu_unavailable) why, and that the CPU path is left. */
bool ride_task_gpu_available(void);

/* Logs the calling thread's pending CUDA failure (ride_gpu_take_error), if any, as
 * event=cuda_error call=<call or kernel> error=<error name>. The kernels log
 * nothing: whoever calls them on a thread reports what they noted there. */
void ride_task_log_cuda_error(void);

/* For a state on a GPU (env->device RIDE_TASK_GPU): the stream its device frames
 * come on (env->cuda_stream) and scratch memory on the current device; NULL for
 * both on the CPU. 0, or -1 with the reason in err. */
int ride_task_gpu_scratch(const ride_task_env *env, void **stream, ride_cuda_scratch **scratch,
                          char *err, size_t errlen);

/* 0 when in carries a tightly packed device image queued on `stream`, the stream
 * the task's state was made for (its scratch memory, cuBLAS handle or cuFFT plan
 * belong to that stream); else -1 with the reason in err, naming `task`. */
int ride_task_device_check_input(const char *task, const void *stream,
                                 const ride_task_device_input *in, char *err, size_t errlen);

/* Shapes the host output through out->ensure: 0, or -1 with the reason in err. */
int ride_task_shape_output(ride_task_output *out, uint32_t format, uint32_t width,
                           uint32_t height, char *err, size_t errlen);

/* Whether a task, with this state, makes the same output from a frame of
 * width x height as from that frame decoded at scaled_width x scaled_height, and
 * only shrinks the scaled one to make it. */
typedef bool (*ride_task_scale_fits_fn)(const void *state, uint32_t width, uint32_t height,
                                        uint32_t scaled_width, uint32_t scaled_height);

/* A decode_scale for a shrinking task: the largest d in {1, 2, 4, 8} for which
 * fits accepts the JPEG decoder's 1/d image, ceil(width / d) x ceil(height / d). */
uint32_t ride_task_largest_scale(const void *state, uint32_t width, uint32_t height,
                                 ride_task_scale_fits_fn fits);

/* Shapes the device output through out->ensure, which must give tightly packed rows
 * (the kernels need them): 0, or -1 with the reason in err. */
int ride_task_device_shape_output(ride_task_device_output *out, uint32_t format, uint32_t width,
                                  uint32_t height, char *err, size_t errlen);

#endif
