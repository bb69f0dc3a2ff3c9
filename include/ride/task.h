/* ride/task.h - the task SDK: a small, versioned C ABI for the kernels RIDE runs
 * (docs/tasks.md). This and ride/image.h are the only headers RIDE installs: the
 * host's registry and runners are internal (src/common/tasks/host.h).
 *
 * A task is a ride_task_descriptor: its name, what it does, where it runs, the
 * parameters it takes and four callbacks. Built-in tasks are linked into the daemons;
 * plugins are shared objects loaded from worker.plugin_dirs that export
 * ride_task_plugin_entry(). A plugin links nothing from RIDE: everything it needs from
 * the host reaches it through function pointers (ride_task_host, the output's
 * ensure), so the daemons export no symbols.
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

#include "ride/image.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RIDE_TASK_ABI_VERSION 1u
/* Task and parameter names: [a-z][a-z0-9_]*, at most this many bytes. */
#define RIDE_TASK_NAME_MAX 63
#define RIDE_TASK_MAX_PARAMS 64
/* The largest metadata document a frame carries, in bytes (set_metadata). */
#define RIDE_TASK_MAX_METADATA 16384u
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
     * RIDE_ENC_RAW before every frame, and its quality
     * (JPEG 1..100, PNG compression 0..9, -1: codec default), preset to -1. The
     * encoding must carry the output's pixel format, or the frame fails. */
    uint32_t encoding;
    int32_t quality;
    /* Present when struct_size >= RIDE_TASK_OUTPUT_METADATA_SIZE: gives the output
     * frame metadata of its own instead of the input's. json is a JSON object of
     * at most RIDE_TASK_MAX_METADATA bytes (len, no NUL needed), copied before
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
    /* Present when struct_size >= RIDE_TASK_DESCRIPTOR_INPUT_FORMAT_SIZE. 0 (any):
     * the input arrives in the pixel format it was sent in. RIDE_PIX_GRAY8: the
     * task reads only the luma of 8-bit colour input, so a stage that runs it
     * decodes colour JPEG frames straight to gray8 (their luma plane, without
     * the chroma); raw and PNG frames arrive as sent. A hint: process() must
     * still accept every format it accepted before. */
    uint32_t input_format;
    /* Present when struct_size >= RIDE_TASK_DESCRIPTOR_DECODE_SCALE_SIZE; optional
     * (NULL: always 1). For a task that shrinks its input: the largest
     * denominator d in {1, 2, 4, 8} such that, given an image of width x height
     * (the frame as sent), the task's output is the same size whether it gets
     * that image or the image scaled by 1/d. A stage running the task on CPU
     * lanes then decodes JPEG frames at 1/d scale, ceil(width / d) x
     * ceil(height / d) pixels, from the DCT coefficients (libjpeg's scaled
     * decode), rounding an answer outside {1, 2, 4, 8} down to the nearest of
     * them; raw and PNG frames, and frames for GPU stages, arrive full size. A
     * hint: process() must still accept full-size input. Called from the lane
     * that owns state, concurrently for different states. */
    uint32_t (*decode_scale)(void *state, uint32_t width, uint32_t height);
} ride_task_descriptor;

/* The struct_size of a descriptor without input_format (the first release). */
#define RIDE_TASK_DESCRIPTOR_BASE_SIZE (offsetof(ride_task_descriptor, destroy) + sizeof(void (*)(void *)))
/* The struct_size from which ride_task_descriptor has input_format. */
#define RIDE_TASK_DESCRIPTOR_INPUT_FORMAT_SIZE (offsetof(ride_task_descriptor, input_format) + sizeof(uint32_t))
/* The struct_size from which ride_task_descriptor has decode_scale. */
#define RIDE_TASK_DESCRIPTOR_DECODE_SCALE_SIZE                                                  \
    (offsetof(ride_task_descriptor, decode_scale) + sizeof(void (*)(void)))

/* Every plugin exports this function. It gets the host's ABI version and returns
 * its tasks (*count of them, in static storage), or NULL when it cannot work with
 * that host. Called once per load, before anything else in the plugin. */
const ride_task_descriptor *const *ride_task_plugin_entry(uint32_t host_abi, size_t *count);

#ifdef __cplusplus
}
#endif

#endif
