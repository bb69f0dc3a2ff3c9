/* bench_sides.c - the ways ride-bench-kernels runs a frame of a task: through a task
 * runner on a CPU or a GPU stage (host frames in and out, as a worker does), with the
 * OpenCV equivalent (a GPU stage with frames in flight through slots), and through the task's process_device on a frame uploaded once
 * into a GPU slot (the kernels alone). */
#include "bench.h"
#include "kernels/gpu.h"
#include "tasks/host.h"
#include "wire/frame.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PARAMS 16

struct ride_bench_side_state {
    const ride_bench_task *task;
    const ride_task_descriptor *descriptor;
    const ride_image *src;
    /* RIDE_BENCH_CPU, RIDE_BENCH_GPU_HOST */
    ride_task_runner *runner;
    ride_frame in, out;
    /* RIDE_BENCH_OPENCV */
    ride_bench_cv_scratch scratch;
    ride_image cv_out;
    /* RIDE_BENCH_GPU_DEVICE */
    ride_gpu_slot *slot;
    void *task_state;
    bool task_ready; /* init succeeded: destroy is owed */
    ride_task_device_image dev_in, dev_out;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Leaves the side off with the reason; returns -1. */
static int turn_off(ride_bench_side *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int turn_off(ride_bench_side *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
    s->on = false;
    return -1;
}

/* The row's params with {out_w} and {out_h} filled in, into buf. */
static int expand_params(const ride_bench_task *t, const ride_image *in, char *buf, size_t len)
{
    size_t used = 0;
    for (const char *p = t->params; *p;) {
        int n;
        if (strncmp(p, "{out_w}", 7) == 0) {
            n = snprintf(buf + used, len - used, "%u", ride_bench_out_side(t, in->width));
            p += 7;
        } else if (strncmp(p, "{out_h}", 7) == 0) {
            n = snprintf(buf + used, len - used, "%u", ride_bench_out_side(t, in->height));
            p += 7;
        } else {
            n = snprintf(buf + used, len - used, "%c", *p++);
        }
        if (n < 0 || (size_t)n >= len - used)
            return -1;
        used += (size_t)n;
    }
    buf[used] = '\0';
    return 0;
}

/* The row's params validated against the task's schema, defaults filled in. */
static int make_params(const ride_bench_task *t, const ride_task_descriptor *d,
                       const ride_image *in, ride_task_params **out, char *err, size_t errlen)
{
    char text[512];
    ride_kv kv[MAX_PARAMS];
    size_t count = 0;
    if (expand_params(t, in, text, sizeof text) != 0)
        return snprintf(err, errlen, "params of %s too long", t->label), -1;
    for (char *save = NULL, *item = strtok_r(text, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq || count == MAX_PARAMS)
            return snprintf(err, errlen, "params of %s: bad item '%s'", t->label, item), -1;
        *eq = '\0';
        kv[count++] = (ride_kv){
            .key = item, .value = eq + 1, .key_pos = {1, 1}, .value_pos = {1, 1}};
    }
    ride_parse_error perr;
    if (ride_task_params_parse(d, kv, count, "ride-bench-kernels", "params", (ride_pos){1, 1}, out,
                               &perr) != 0)
        return snprintf(err, errlen, "%s", perr.message), -1;
    return 0;
}

static int open_runner(ride_bench_side *s, int threads, int device)
{
    ride_bench_side_state *st = s->state;
    bool gpu = s->kind == RIDE_BENCH_GPU_HOST;
    if (gpu && !(st->descriptor->devices & RIDE_TASK_GPU))
        return turn_off(s, "a CPU-only task");
    if (gpu && st->task->no_gpu_path)
        return turn_off(s, "%s", st->task->no_gpu_path);
    ride_task_params *params;
    char err[512];
    if (make_params(st->task, st->descriptor, st->src, &params, err, sizeof err) != 0)
        return turn_off(s, "%s", err);
    ride_task_env env = {
        .struct_size = sizeof env, .threads = threads, .device = RIDE_TASK_CPU, .gpu_index = -1};
    /* A GPU stage runs as a worker runs it: frames in flight through slots. */
    st->runner = gpu ? ride_task_runner_new_gpu(st->descriptor, params, &device, 1,
                                                RIDE_TASK_GPU_FRAMES_IN_FLIGHT, err, sizeof err)
                     : ride_task_runner_new(st->descriptor, params, &env, err, sizeof err);
    if (!st->runner)
        return turn_off(s, "%s", err);
    st->in.image = *st->src;
    st->in.image.owns_data = 0;
    return 0;
}

static int open_opencv(ride_bench_side *s)
{
    return s->state->task->opencv ? 0 : turn_off(s, "%s", s->state->task->opencv_none);
}

/* The GPU kernel side: everything that touches a GPU slot. */
static int open_device(ride_bench_side *s, int threads, int device)
{
    ride_bench_side_state *st = s->state;
    const ride_task_descriptor *d = st->descriptor;
    char err[512];
    if (!d->process_device)
        return turn_off(s, "%s has no process_device", d->name);
    if (!(st->slot = ride_gpu_slot_new(device, err, sizeof err)) ||
        ride_gpu_slot_activate(st->slot, err, sizeof err) != 0)
        return turn_off(s, "%s", err);
    ride_task_params *params;
    if (make_params(st->task, d, st->src, &params, err, sizeof err) != 0)
        return turn_off(s, "%s", err);
    ride_task_env env = {
        .struct_size = sizeof env,
        .threads = threads,
        .device = RIDE_TASK_GPU,
        .gpu_index = device,
        .cuda_stream = ride_gpu_slot_stream(st->slot),
        .host = ride_task_host_api(),
    };
    int rc = d->init ? d->init(params, &env, &st->task_state, err, sizeof err) : 0;
    ride_task_params_free(params);
    if (rc != 0)
        return turn_off(s, "%s", err);
    st->task_ready = true;
    if (ride_gpu_slot_upload(st->slot, st->src, &st->dev_in, err, sizeof err) != 0 ||
        ride_gpu_slot_wait(st->slot, err, sizeof err) != 0)
        return turn_off(s, "%s", err);
    return 0;
}

static int run_device(ride_bench_side_state *st, char *err, size_t errlen)
{
    ride_task_device_input din = {
        .struct_size = sizeof din,
        .image = &st->dev_in,
        .cuda_stream = ride_gpu_slot_stream(st->slot),
    };
    ride_task_device_output dout = {
        .struct_size = sizeof dout,
        .image = &st->dev_out,
        .ensure = ride_gpu_slot_ensure_output,
        .host_ctx = st->slot,
    };
    return st->descriptor->process_device(st->task_state, &din, &dout, err, errlen);
}

static int wait_device(ride_bench_side_state *st, char *err, size_t errlen)
{
    return ride_gpu_slot_wait(st->slot, err, errlen);
}

/* Waits for the queued work before the task frees what it may use. */
static void close_device(ride_bench_side_state *st)
{
    char err[512];
    if (st->slot)
        ride_gpu_slot_wait(st->slot, err, sizeof err);
    if (st->task_ready && st->descriptor->destroy)
        st->descriptor->destroy(st->task_state);
    ride_gpu_slot_free(st->slot);
}

void ride_bench_side_open(ride_bench_side *s, ride_bench_side_kind kind,
                          const ride_bench_task *t, const ride_image *in, int threads, int device)
{
    *s = (ride_bench_side){.kind = kind, .on = true};
    if (!(s->state = calloc(1, sizeof *s->state))) {
        turn_off(s, "out of memory");
        return;
    }
    s->state->task = t;
    s->state->src = in;
    if (!(s->state->descriptor = ride_bench_builtin(t->task)))
        turn_off(s, "no built-in task '%s'", t->task);
    else if (kind == RIDE_BENCH_CPU || kind == RIDE_BENCH_GPU_HOST)
        open_runner(s, threads, device);
    else if (kind == RIDE_BENCH_OPENCV)
        open_opencv(s);
    else
        open_device(s, threads, device);
}

static int discard_message(void *ctx, const uint8_t *msg, size_t len)
{
    (void)ctx;
    (void)msg;
    (void)len;
    return 0;
}

static int run_task(ride_bench_side_state *st, char *err, size_t errlen)
{
    if (ride_task_run(st->runner, &st->in, &st->out, err, errlen) != 0)
        return -1;
    if (!st->task->encodes)
        return 0;
    ride_frame_write_opts opts = {RIDE_ENC_RAW, -1, SIZE_MAX};
    ride_task_runner_write_opts(st->runner, &opts);
    return ride_frame_write(&st->out, &opts, discard_message, NULL, err, errlen);
}

/* Submits the frame, first collecting the oldest when the runner is full, as the
 * worker's pipeline does. */
static int run_gpu_stage(ride_bench_side_state *st, char *err, size_t errlen)
{
    if (ride_task_runner_in_flight(st->runner) == ride_task_runner_depth(st->runner) &&
        ride_task_collect(st->runner, 1, &st->out, err, errlen) != 1)
        return -1;
    return ride_task_submit(st->runner, &st->in, err, errlen);
}

static int drain_gpu_stage(ride_bench_side_state *st, char *err, size_t errlen)
{
    while (ride_task_runner_in_flight(st->runner) > 0)
        if (ride_task_collect(st->runner, 1, &st->out, err, errlen) != 1)
            return -1;
    return 0;
}

static int run_once(ride_bench_side *s, char *err, size_t errlen)
{
    ride_bench_side_state *st = s->state;
    switch (s->kind) {
    case RIDE_BENCH_CPU:
        return run_task(st, err, errlen);
    case RIDE_BENCH_GPU_HOST:
        return run_gpu_stage(st, err, errlen);
    case RIDE_BENCH_OPENCV:
        return st->task->opencv(st->task, &st->scratch, st->src, &st->cv_out, err, errlen);
    case RIDE_BENCH_GPU_DEVICE:
        return run_device(st, err, errlen);
    case RIDE_BENCH_SIDE_COUNT:
        break;
    }
    return -1;
}

static double image_bytes(uint32_t format, uint32_t width, uint32_t height)
{
    return (double)ride_image_row_bytes((ride_pixel_format)format, width) * height;
}

/* A device side queues its frames back to back and waits once at the end: the
 * slot's stream runs them in order, and the same frame every time never makes a
 * task regrow its scratch or read results back, so nothing a task keeps is reused
 * while an earlier frame still needs it. */
double ride_bench_side_time(ride_bench_side *s, long iters)
{
    char err[512] = "";
    double t0 = now_s();
    for (long i = 0; i < iters; i++)
        if (run_once(s, err, sizeof err) != 0)
            return turn_off(s, "failed: %s", err[0] ? err : "no reason given");
    if (s->kind == RIDE_BENCH_GPU_DEVICE && wait_device(s->state, err, sizeof err) != 0)
        return turn_off(s, "failed: %s", err);
    if (s->kind == RIDE_BENCH_GPU_HOST && drain_gpu_stage(s->state, err, sizeof err) != 0)
        return turn_off(s, "failed: %s", err);
    double seconds = (now_s() - t0) / (double)iters;
    if (s->kind == RIDE_BENCH_GPU_DEVICE) {
        const ride_task_device_image *a = &s->state->dev_in, *b = &s->state->dev_out;
        s->frame_bytes = image_bytes(a->format, a->width, a->height) +
                         image_bytes(b->format, b->width, b->height);
    }
    return seconds;
}

void ride_bench_side_close(ride_bench_side *s)
{
    ride_bench_side_state *st = s->state;
    if (!st)
        return;
    ride_task_runner_free(st->runner);
    ride_frame_free(&st->out);
    ride_bench_cv_scratch_free(&st->scratch);
    ride_image_free(&st->cv_out);
    close_device(st);
    free(st);
    s->state = NULL;
}
