/* bench.h - the parts of ride-bench-kernels: the tasks it measures (bench_tasks.c),
 * the ways it runs one frame of a task (bench_sides.c) and the scaled decode's
 * table (bench_decode.c). */
#ifndef RIDE_BENCH_H
#define RIDE_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ride/image.h"

/* What the OpenCV equivalents keep between calls, made on first use. */
typedef struct ride_bench_cv_scratch {
    float *matrix; /* matmul: matrix_rows x RIDE_BENCH_MATMUL_COLS, the task's own matrix */
    uint32_t matrix_rows;
    struct ride_cv_cascade *cascade; /* facedetect: the face cascade */
} ride_bench_cv_scratch;

/* The most runs a figure is the median of. */
#define RIDE_BENCH_MAX_RUNS 101

/* The median of v[0..n-1] (sorts v). */
double ride_bench_median(double *v, int n);

/* Prints the table of decode + resize of a 900x900 JPEG frame, full-size decode
 * against scaled decode (bench_decode.c), each figure the median of runs runs of
 * at least min_time seconds. 0, or -1 with the reason on stderr. */
int ride_bench_scaled_decode(int runs, double min_time);

/* Columns and seed of the matrix the matmul row multiplies by (its params say the same). */
#define RIDE_BENCH_MATMUL_COLS 64
#define RIDE_BENCH_MATMUL_SEED 1

typedef struct ride_bench_task ride_bench_task;

/* One frame of the task done with OpenCV; 0, or -1 with a reason in err. */
typedef int (*ride_bench_cv_fn)(const ride_bench_task *t, ride_bench_cv_scratch *s,
                                const ride_image *in, ride_image *out, char *err, size_t errlen);

/* Estimated bytes each side holds beyond the input, per input byte (output,
 * intermediates, library buffers), so that frames that do not fit are skipped
 * before they are allocated. */
typedef struct ride_bench_memory {
    double cpu;      /* RIDE's CPU task */
    double opencv;   /* the OpenCV equivalent */
    double gpu_host; /* host buffers of both GPU sides (outputs, pinned slot buffers) */
    double device;   /* device memory of both GPU sides */
} ride_bench_memory;

/* One row of the table: a built-in task with its params on one input format. */
struct ride_bench_task {
    const char *label; /* what the row says, e.g. "stddev k=5" */
    const char *task;  /* descriptor name (ride_task_builtins) */
    /* "key=value,..."; {out_w} and {out_h} stand for the input's width and height
     * times out_num / out_den, rounded up. */
    const char *params;
    unsigned out_num, out_den; /* both 0: one half */
    ride_pixel_format input;
    int cv_arg;              /* for the OpenCV equivalent: the window, or the JPEG quality */
    ride_bench_cv_fn opencv; /* NULL: no OpenCV equivalent, opencv_none says why */
    const char *opencv_none;
    bool encodes;            /* the host encodes the output (ride_frame_write), as a worker does */
    bool bandwidth_bound;    /* GB/s and the fraction of the card's peak are printed */
    bool huge;               /* also measured on the huge frame (--huge) */
    const char *no_gpu_path; /* why the task's GPU stage does not use the GPU, or NULL */
    ride_bench_memory memory;
};

/* A side of the input scaled as the row's {out_w} and {out_h} ask. */
uint32_t ride_bench_out_side(const ride_bench_task *t, uint32_t side);
/* The rows, in table order. */
const ride_bench_task *ride_bench_tasks(size_t *count);
/* The built-in task of that name, or NULL. */
const struct ride_task_descriptor *ride_bench_builtin(const char *name);
void ride_bench_cv_scratch_free(ride_bench_cv_scratch *s);

/* The ways a frame is run, one column group each. */
typedef enum ride_bench_side_kind {
    RIDE_BENCH_CPU,        /* the task on a CPU stage (ride_task_run) */
    RIDE_BENCH_OPENCV,     /* the OpenCV equivalent */
    RIDE_BENCH_GPU_HOST,   /* the task on a GPU stage: host frames in and out, several in flight */
    RIDE_BENCH_GPU_DEVICE, /* process_device on a frame already in device memory */
    RIDE_BENCH_SIDE_COUNT
} ride_bench_side_kind;

typedef struct ride_bench_side_state ride_bench_side_state;

typedef struct ride_bench_side {
    ride_bench_side_kind kind;
    bool on;
    char why[200];      /* when off: why, for the notes under the table */
    double frame_bytes; /* bytes read + written per frame (RIDE_BENCH_GPU_DEVICE) */
    long iters;         /* calls per timed run */
    ride_bench_side_state *state;
} ride_bench_side;

/* Makes the side ready to run task t on in (threads for the CPU side; device for
 * the GPU sides). A side that cannot run is left off with the reason in why. */
void ride_bench_side_open(ride_bench_side *s, ride_bench_side_kind kind,
                          const ride_bench_task *t, const ride_image *in, int threads, int device);
/* Seconds per frame over `iters` back-to-back frames (a device side waits for
 * them at the end); -1 with the side turned off and why set when a frame fails. */
double ride_bench_side_time(ride_bench_side *s, long iters);
void ride_bench_side_close(ride_bench_side *s);

#endif
