/* tasks/host.h - the host half of the task SDK: the registry that holds the
 * built-in and plugin tasks and validates manifest params against each task's
 * schema, and the runners that take frames through a task (docs/tasks.md). */
#ifndef RIDE_TASKS_HOST_H
#define RIDE_TASKS_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/parse.h"
#include "ride/task.h"
#include "spec/manifest.h"
#include "wire/frame.h"

#ifdef __cplusplus
extern "C" {
#endif

_Static_assert(RIDE_TASK_MAX_METADATA == RIDE_FRAME_MAX_METADATA,
               "the SDK's metadata limit is the wire format's");

/* ---- the registry ----------------------------------------------------------- */

typedef struct ride_task_registry ride_task_registry;

/* A registry with the built-in tasks (ride_task_builtins). NULL on
 * allocation failure. */
ride_task_registry *ride_task_registry_new(void);
/* The built-in tasks (static storage), as ride_task_plugin_entry returns them. */
const ride_task_descriptor *const *ride_task_builtins(size_t *count);
/* Frees the registry and unloads its plugins: free every runner first. */
void ride_task_registry_free(ride_task_registry *r);

/* Checks a descriptor (ABI version and size, name, devices, callbacks, schema and
 * defaults) and adds it. `origin` names where it comes from in errors and logs
 * ("built-in" or a plugin path). Returns 0, or -1 with the reason in err. */
int ride_task_registry_add(ride_task_registry *r, const ride_task_descriptor *d,
                           const char *origin, char *err, size_t errlen);

/* Loads one plugin file: a regular file that is not world-writable, opened with
 * dlopen(RTLD_NOW | RTLD_LOCAL), whose every task passes ride_task_registry_add.
 * All or nothing: a rejected plugin adds no task and is unloaded. Returns the
 * number of tasks added, or -1 with the reason in err. */
int ride_task_registry_load_plugin(ride_task_registry *r, const char *path, char *err,
                                   size_t errlen);

/* Loads every *.so file of an absolute directory (name order). A rejected plugin
 * is logged (event=task_plugin_rejected) and skipped; a loaded one is logged
 * (event=task_plugin_loaded). Returns the number of tasks added, or -1 with the
 * reason in err when the directory is relative or cannot be read. */
int ride_task_registry_load_dir(ride_task_registry *r, const char *dir, char *err, size_t errlen);

/* The pixel format the task wants its input decoded to (input_format), 0 when it
 * has no preference or its descriptor predates the field. */
uint32_t ride_task_input_format(const ride_task_descriptor *d);

/* The scale (1, 2, 4 or 8) at which the task, with this state, takes a JPEG frame
 * of width x height (decode_scale, rounded down to one of those); 1 for a task
 * without decode_scale. */
uint32_t ride_task_decode_scale(const ride_task_descriptor *d, void *state, uint32_t width,
                                uint32_t height);
/* The task with this name, or NULL. */
const ride_task_descriptor *ride_task_find(const ride_task_registry *r, const char *name);
/* Tasks in name order: index 0 .. count - 1. */
size_t ride_task_count(const ride_task_registry *r);
const ride_task_descriptor *ride_task_at(const ride_task_registry *r, size_t index);
/* The task names in order, ", "-separated, into buf; returns buf. */
const char *ride_task_names(const ride_task_registry *r, char *buf, size_t len);

/* Validates stage `index` of m: the task exists, runs on the stage's device, and
 * its params fit the schema. On success *out (when not NULL) receives the values
 * with defaults filled in (free with ride_task_params_free). Returns 0, or -1
 * with err at the offending position, e.g.
 *   app.yaml:21:17: spec.stages[1].params.ksize: expected an odd integer in 1..255, got "4" */
int ride_task_validate_stage(const ride_task_registry *r, const ride_manifest *m, size_t index,
                             ride_task_params **out, ride_parse_error *err);
/* Every stage, in file order; the first error wins. */
int ride_task_validate_manifest(const ride_task_registry *r, const ride_manifest *m,
                                ride_parse_error *err);

/* Validates params given directly (ridectl, tests): `file`/`path` name them in
 * errors, path being e.g. "spec.stages[0].params"; `pos` is used for a missing
 * parameter. */
int ride_task_params_parse(const ride_task_descriptor *d, const ride_kv *kv, size_t count,
                           const char *file, const char *path, ride_pos pos,
                           ride_task_params **out, ride_parse_error *err);
void ride_task_params_free(ride_task_params *p);

/* The getters of ride_task_host, for the host's own use. */
int ride_task_params_get_int(const ride_task_params *p, const char *name, int64_t *out);
int ride_task_params_get_double(const ride_task_params *p, const char *name, double *out);
int ride_task_params_get_bool(const ride_task_params *p, const char *name, bool *out);
int ride_task_params_get_string(const ride_task_params *p, const char *name, const char **out);
/* The table handed to tasks in ride_task_env.host. */
const ride_task_host *ride_task_host_api(void);

/* ---- running a task -------------------------------------------------------- */

/* One task instance: descriptor, validated params and state. One per partition,
 * used by one thread at a time. The CUDA kernels log nothing: each function below
 * that calls into the task logs the CUDA failure they noted on its thread
 * (event=cuda_error), if any, before it returns. */
typedef struct ride_task_runner ride_task_runner;

/* Calls the task's init with env (env->host is filled in by the runner; env NULL:
 * the CPU with all cores). Takes ownership of params (also on failure). Returns
 * NULL with the reason in err. */
ride_task_runner *ride_task_runner_new(const ride_task_descriptor *d, ride_task_params *params,
                                       const ride_task_env *env, char *err, size_t errlen);
/* Processes one frame. out must be zeroed or hold the output of an earlier call
 * (its image buffer is reused); it receives in's stream id, seq and capture time,
 * and the metadata the task set or else in's.
 * Returns 0, or -1 with the reason in err (out's image content is then unspecified). */
int ride_task_run(ride_task_runner *runner, const ride_frame *in, ride_frame *out, char *err,
                  size_t errlen);
const ride_task_descriptor *ride_task_runner_task(const ride_task_runner *runner);
/* Sets opts' encoding and quality to what the task chose for the output of the
 * last successful ride_task_run (raw and -1 until then, or when it chose none);
 * leaves max_message_bytes alone. */
void ride_task_runner_write_opts(const ride_task_runner *runner, ride_frame_write_opts *opts);
/* Waits for the frames still in flight, calls destroy (for every state) and frees
 * the runner; NULL is a no-op. */
void ride_task_runner_free(ride_task_runner *runner);

/* ---- frames in flight -------------------------------------------------------- */

/* Frames a GPU runner keeps in flight per device by default: one being uploaded,
 * one computed, one downloaded. */
#define RIDE_TASK_GPU_FRAMES_IN_FLIGHT 3
#define RIDE_TASK_GPU_MAX_FRAMES_IN_FLIGHT 16

/* A runner for a GPU stage over gpu_count devices (their CUDA indices in gpus),
 * frames_in_flight (1..RIDE_TASK_GPU_MAX_FRAMES_IN_FLIGHT) frames per device.
 * When the task has process_device, the runner makes one slot per frame in flight
 * (kernels/gpu.h: stream, pinned host buffers, device images) and one task state per
 * slot (init with that slot's device and stream), and deals frames to the slots in
 * turn, so consecutive frames run on different devices and streams at once. A task
 * without process_device runs through process on gpus[0], one frame at a time.
 * Takes ownership of params (also on failure). NULL with the reason in err. */
ride_task_runner *ride_task_runner_new_gpu(const ride_task_descriptor *d,
                                           ride_task_params *params, const int *gpus,
                                           size_t gpu_count, int frames_in_flight, char *err,
                                           size_t errlen);

#define RIDE_TASK_CPU_MAX_LANES 256

/* A runner for a CPU stage that processes `lanes` frames at once (1..
 * RIDE_TASK_CPU_MAX_LANES), each on a thread of its own with a task state of its
 * own (init with env, whose threads are each frame's kernel threads). A frame
 * handed over with its payload still encoded (ride_frame_assembler_opts'
 * defer_decode) is decoded on its lane, as an assembler with max_frame_bytes and
 * decode_as would have. Takes ownership of params (also on failure). NULL with
 * the reason in err. */
ride_task_runner *ride_task_runner_new_cpu_lanes(const ride_task_descriptor *d,
                                                 ride_task_params *params,
                                                 const ride_task_env *env, int lanes,
                                                 size_t max_frame_bytes,
                                                 ride_pixel_format decode_as, char *err,
                                                 size_t errlen);

/* Whether the runner decodes frames handed over undecoded (CPU lanes). */
bool ride_task_runner_decodes(const ride_task_runner *runner);
/* CPU lanes: how long one lane has been busy decoding and running frames
 * (ride_task_cpu_lanes_busy_ns); 0 for other runners. */
int64_t ride_task_runner_lane_busy_ns(const ride_task_runner *runner);

/* How many frames may be submitted before the oldest is collected: 1 for a runner
 * that processes each frame in ride_task_submit. */
int ride_task_runner_depth(const ride_task_runner *runner);
/* Frames submitted and not yet collected. */
int ride_task_runner_in_flight(const ride_task_runner *runner);

/* Hands a frame to the task; the caller may reuse in as soon as this returns.
 * Fails (the frame then never comes out) when depth frames are in flight already,
 * or with the task's reason when a runner without frames in flight fails it.
 * Returns 0, or -1 with the reason in err. */
int ride_task_submit(ride_task_runner *runner, const ride_frame *in, char *err, size_t errlen);
/* ride_task_submit, except that a CPU-lanes runner takes in's buffers, leaving
 * in with buffers of an earlier frame to reuse (content unspecified), so that
 * nothing is copied. */
int ride_task_submit_exchange(ride_task_runner *runner, ride_frame *in, char *err,
                              size_t errlen);

/* The output of the oldest frame in flight, in submission order. With wait, blocks
 * until it is done; without, returns 0 at once while it is not. Returns 1 with out
 * filled (its image reused as by ride_task_run; stream id, seq and capture time
 * those of the input), 0 when nothing was collected (none in flight, or not done
 * without wait), or -1 when that frame failed (it is gone; err says why). */
int ride_task_collect(ride_task_runner *runner, int wait, ride_frame *out, char *err,
                      size_t errlen);
/* ride_task_collect that waits up to wait_ms for a CPU-lanes runner's oldest frame
 * (0: not at all; < 0: until it is done), returning 0 when it is not done by
 * then; any other runner waits until done whenever wait_ms is not 0. */
int ride_task_collect_within(ride_task_runner *runner, int wait_ms, ride_frame *out, char *err,
                             size_t errlen);
/* After a collect that returned -1: the reason the frame could not be decoded,
 * or RIDE_FRAME_OK when the task itself failed it. */
ride_frame_status ride_task_runner_rejected(const ride_task_runner *runner);

#ifdef __cplusplus
}
#endif

#endif
