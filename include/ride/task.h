/* ride/task.h - the task SDK: a small, versioned C ABI for the kernels RIDE runs
 * (docs/tasks.md), plus the registry that holds the built-in and plugin tasks,
 * validates manifest params against each task's schema and runs one frame.
 *
 * A task is a ride_task_descriptor: its name, what it does, where it runs, the
 * parameters it takes and four callbacks. Built-in tasks are linked into libride;
 * plugins are shared objects loaded from worker.plugin_dirs that export
 * ride_task_plugin_entry(). A plugin never links libride: everything it needs from
 * the host reaches it through function pointers (ride_task_host, the output's
 * ensure), so the static libride needs no exported symbols.
 *
 * ABI rules (version RIDE_TASK_ABI_VERSION): every struct a task hands to the host
 * starts with the version and/or its own size; later versions only append fields,
 * and a host reads no field past the size it was given. Enumerations travel as
 * uint32_t. This header includes no CUDA, OpenCV or Kafka header: device memory
 * and streams are void pointers. */
#ifndef RIDE_TASK_H
#define RIDE_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ride/frame.h"
#include "ride/image.h"
#include "ride/manifest.h"
#include "ride/parse.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RIDE_TASK_ABI_VERSION 1u
/* Task and parameter names: [a-z][a-z0-9_]*, at most this many bytes. */
#define RIDE_TASK_NAME_MAX 63
#define RIDE_TASK_MAX_PARAMS 64
/* The name of the symbol every plugin exports (see ride_task_plugin_entry). */
#define RIDE_TASK_PLUGIN_ENTRY "ride_task_plugin_entry"

/* Where a task runs: bits of ride_task_descriptor.devices, values of ride_task_env.device. */
#define RIDE_TASK_CPU (1u << 0)
#define RIDE_TASK_GPU (1u << 1)

/* Parameter types (ride_task_param.type). */
#define RIDE_PARAM_INT 1u    /* 64-bit signed decimal integer */
#define RIDE_PARAM_FLOAT 2u  /* finite decimal number */
#define RIDE_PARAM_BOOL 3u   /* true / false (also True, TRUE, False, FALSE) */
#define RIDE_PARAM_STRING 4u /* any text */
#define RIDE_PARAM_ENUM 5u   /* one of `choices` */

/* Parameter flags (ride_task_param.flags). */
#define RIDE_PARAM_REQUIRED (1u << 0) /* must be given; then no default */
#define RIDE_PARAM_HAS_MIN (1u << 1)  /* numbers: value >= min */
#define RIDE_PARAM_HAS_MAX (1u << 2)  /* numbers: value <= max */
#define RIDE_PARAM_ODD (1u << 3)      /* integers: value is odd (window sizes) */

/* One parameter of a task's schema. */
typedef struct ride_task_param {
    const char *name;
    uint32_t type;  /* RIDE_PARAM_INT ... RIDE_PARAM_ENUM */
    uint32_t flags; /* RIDE_PARAM_REQUIRED | ... */
    /* Written as in a manifest ("5", "true", "fast"); validated like a manifest
     * value when the task is registered. NULL: no default (the getters then fail
     * when the manifest does not give the parameter). */
    const char *default_value;
    double min; /* with RIDE_PARAM_HAS_MIN; integers are compared exactly up to 2^53 */
    double max; /* with RIDE_PARAM_HAS_MAX */
    const char *const *choices; /* enum: NULL-terminated, at least one */
    const char *help;           /* one line, for `ridectl tasks` */
} ride_task_param;

/* Validated parameter values (opaque). A task reads them in init through the
 * getters of ride_task_host; they are valid only during init. */
typedef struct ride_task_params ride_task_params;

/* What the host offers a task. Each getter returns 0 with the value, or -1 when
 * the schema has no parameter of that name and type or it has no value. Strings
 * and enum choices stay valid until init returns: copy what you keep. */
typedef struct ride_task_host {
    uint32_t struct_size;
    int (*get_int)(const ride_task_params *p, const char *name, int64_t *out);
    int (*get_double)(const ride_task_params *p, const char *name, double *out); /* int too */
    int (*get_bool)(const ride_task_params *p, const char *name, bool *out);
    int (*get_string)(const ride_task_params *p, const char *name, const char **out); /* enum too */
} ride_task_host;

/* Where and how a task instance runs. */
typedef struct ride_task_env {
    uint32_t struct_size;
    int threads;      /* CPU threads the task may use; 0 = one per online core */
    uint32_t device;  /* RIDE_TASK_CPU or RIDE_TASK_GPU (one of the task's devices) */
    int gpu_index;    /* CUDA device with RIDE_TASK_GPU, else -1 */
    void *cuda_stream; /* cudaStream_t with RIDE_TASK_GPU (NULL: the default stream) */
    const ride_task_host *host;
} ride_task_env;

/* A frame in host memory handed to process(). The task reads, never writes, it. */
typedef struct ride_task_input {
    uint32_t struct_size;
    const ride_image *image;
    uint32_t stream_id;
    uint64_t seq;
    uint64_t capture_ns;
    /* Present when struct_size >= RIDE_TASK_INPUT_METADATA_SIZE: the frame's
     * metadata, a JSON object as NUL-terminated UTF-8 text of metadata_len bytes
     * (docs/wire-format.md), or NULL and 0 when the frame carries none. */
    const char *metadata;
    size_t metadata_len;
} ride_task_input;

/* The struct_size from which ride_task_input has metadata and metadata_len. */
#define RIDE_TASK_INPUT_METADATA_SIZE (offsetof(ride_task_input, metadata_len) + sizeof(size_t))

/* Where process() writes its result. The host owns the image (kept between frames
 * so that its buffer is reused); the task shapes it with ensure(), which
 * reallocates only when format or size change, then fills image->data. The host
 * copies the input's stream id, seq and capture time to the output frame, and its
 * metadata unless the task calls set_metadata. */
typedef struct ride_task_output {
    uint32_t struct_size;
    ride_image *image;
    /* 0, or -1 on bad dimensions or allocation failure. */
    int (*ensure)(ride_image *image, ride_pixel_format format, uint32_t width, uint32_t height);
    /* Present when struct_size >= RIDE_TASK_OUTPUT_ENCODING_SIZE: the payload
     * encoding of the output frame the host publishes (a ride_encoding), preset to
     * RIDE_ENC_RAW before every frame, and its quality as in ride_frame_write_opts
     * (JPEG 1..100, PNG compression 0..9, -1: codec default), preset to -1. The
     * encoding must carry the output's pixel format, or the frame fails. */
    uint32_t encoding;
    int32_t quality;
    /* Present when struct_size >= RIDE_TASK_OUTPUT_METADATA_SIZE: gives the output
     * frame metadata of its own instead of the input's. json is a JSON object of
     * at most RIDE_FRAME_MAX_METADATA bytes (len, no NUL needed), copied before
     * this returns; NULL or len 0: the output carries no metadata. The last call
     * of a frame wins. Pass metadata_ctx back. Returns 0, or -1 with the reason
     * in err (not a JSON object, too large). */
    int (*set_metadata)(void *metadata_ctx, const char *json, size_t len, char *err,
                        size_t errlen);
    void *metadata_ctx;
} ride_task_output;

/* The struct_size from which ride_task_output has encoding and quality. */
#define RIDE_TASK_OUTPUT_ENCODING_SIZE                                                          \
    (offsetof(ride_task_output, quality) + sizeof(int32_t))
/* The struct_size from which ride_task_output has set_metadata and metadata_ctx. */
#define RIDE_TASK_OUTPUT_METADATA_SIZE                                                          \
    (offsetof(ride_task_output, metadata_ctx) + sizeof(void *))

/* A frame in device memory (process_device). */
typedef struct ride_task_device_image {
    uint32_t format; /* a ride_pixel_format */
    uint32_t width;
    uint32_t height;
    size_t pitch; /* bytes between rows */
    void *data;   /* device pointer */
} ride_task_device_image;

typedef struct ride_task_device_input {
    uint32_t struct_size;
    const ride_task_device_image *image;
    uint32_t stream_id;
    uint64_t seq;
    uint64_t capture_ns;
    void *cuda_stream; /* the work is queued on this stream; the host synchronizes it */
} ride_task_device_input;

typedef struct ride_task_device_output {
    uint32_t struct_size;
    ride_task_device_image *image;
    /* Shapes image in device memory, as ride_task_output.ensure; host_ctx is passed back. */
    int (*ensure)(void *host_ctx, ride_task_device_image *image, uint32_t format, uint32_t width,
                  uint32_t height);
    void *host_ctx;
} ride_task_device_output;

/* A task. Callbacks return 0, or -1 with a one-line reason in err (errlen bytes,
 * always > 0). The host creates one state per partition it owns and calls process
 * for a state from one thread at a time; different states run concurrently. */
typedef struct ride_task_descriptor {
    uint32_t abi_version; /* RIDE_TASK_ABI_VERSION */
    uint32_t struct_size; /* sizeof(ride_task_descriptor) */
    const char *name;        /* [a-z][a-z0-9_]*, unique among loaded tasks */
    const char *description; /* one line */
    uint32_t devices;        /* RIDE_TASK_CPU, optionally | RIDE_TASK_GPU */
    uint32_t param_size;     /* sizeof(ride_task_param): the stride of params */
    const ride_task_param *params;
    uint32_t param_count; /* at most RIDE_TASK_MAX_PARAMS */
    /* Optional (NULL: the state is NULL). Reads params, allocates the state. */
    int (*init)(const ride_task_params *params, const ride_task_env *env, void **state, char *err,
                size_t errlen);
    /* Required: the CPU path, host buffers; with RIDE_TASK_GPU in env it may
     * still copy to the device itself. */
    int (*process)(void *state, const ride_task_input *in, ride_task_output *out, char *err,
                   size_t errlen);
    /* Optional: frames already in device memory, for GPU pipelines. */
    int (*process_device)(void *state, const ride_task_device_input *in,
                          ride_task_device_output *out, char *err, size_t errlen);
    /* Optional: releases the state (called once per successful init). */
    void (*destroy)(void *state);
} ride_task_descriptor;

/* Every plugin exports this function. It gets the host's ABI version and returns
 * its tasks (*count of them, in static storage), or NULL when it cannot work with
 * that host. Called once per load, before anything else in the plugin. */
const ride_task_descriptor *const *ride_task_plugin_entry(uint32_t host_abi, size_t *count);

/* ---- the registry (host side, libride) ------------------------------------ */

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
 * used by one thread at a time. */
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
 * (ride/gpu.h: stream, pinned host buffers, device images) and one task state per
 * slot (init with that slot's device and stream), and deals frames to the slots in
 * turn, so consecutive frames run on different devices and streams at once. A task
 * without process_device runs through process on gpus[0], one frame at a time.
 * Takes ownership of params (also on failure). NULL with the reason in err. */
ride_task_runner *ride_task_runner_new_gpu(const ride_task_descriptor *d,
                                           ride_task_params *params, const int *gpus,
                                           size_t gpu_count, int frames_in_flight, char *err,
                                           size_t errlen);

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

/* The output of the oldest frame in flight, in submission order. With wait, blocks
 * until it is done; without, returns 0 at once while it is not. Returns 1 with out
 * filled (its image reused as by ride_task_run; stream id, seq and capture time
 * those of the input), 0 when nothing was collected (none in flight, or not done
 * without wait), or -1 when that frame failed (it is gone; err says why). */
int ride_task_collect(ride_task_runner *runner, int wait, ride_frame *out, char *err,
                      size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
