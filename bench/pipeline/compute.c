/* compute.c - the compute ceiling of ride-bench-pipeline: the stages' work in this
 * process, on the wire messages the run sends (frame_set, also the drain mode's
 * pre-fill), with the workers' kernel threads. It times what a first stage does
 * with a message (assembly: CRC and JPEG decode), the kernels, and one copy of
 * every byte the two stages read and write; CPU time is the process's, so kernel
 * threads count. */
#include "bench_pipeline.h"
#include "base/clock.h"
#include "kernels/kernels.h"
#include "media/synthetic.h"
#include "wire/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The manifest's default JPEG quality, which the drain mode's sources would use. */
#define SOURCE_JPEG_QUALITY 90
/* Distinct frames: enough that caches do not hold one frame's result for the next. */
#define IN_PROCESS_FRAMES 8
/* Lets the thread pool and caches settle before the timed frames. */
#define IN_PROCESS_WARMUP_S 0.5

static int collect_message(void *ctx, const uint8_t *msg, size_t len)
{
    struct wire_frame *f = ctx;
    uint8_t **m = realloc(f->msg, (size_t)(f->messages + 1) * sizeof *m);
    if (!m)
        return -1;
    f->msg = m;
    size_t *l = realloc(f->len, (size_t)(f->messages + 1) * sizeof *l);
    if (!l)
        return -1;
    f->len = l;
    if (!(f->msg[f->messages] = malloc(len)))
        return -1;
    memcpy(f->msg[f->messages], msg, len);
    f->len[f->messages++] = len;
    f->bytes += len;
    return 0;
}

int ride_bench_frame_set_make(frame_set *s, int count, bool raw, char *err, size_t errlen)
{
    *s = (frame_set){.frames = calloc((size_t)count, sizeof *s->frames)};
    if (!s->frames)
        return snprintf(err, errlen, "out of memory"), -1;
    s->count = count;
    ride_frame_write_opts wo = {.encoding = raw ? RIDE_ENC_RAW : RIDE_ENC_JPEG,
                                .quality = raw ? -1 : SOURCE_JPEG_QUALITY,
                                .max_message_bytes = RIDE_FRAME_DEFAULT_MAX_MESSAGE};
    for (int i = 0; i < count; i++) {
        ride_frame f = {.stream_id = 1, .seq = (uint64_t)i};
        if (ride_synthetic_render(1, (uint64_t)i, FRAME_SIZE, FRAME_SIZE, &f.image))
            return snprintf(err, errlen, "cannot render a synthetic frame"), -1;
        int rc = ride_frame_write(&f, &wo, collect_message, &s->frames[i], err, errlen);
        ride_frame_free(&f);
        if (rc)
            return -1;
    }
    return 0;
}

void ride_bench_frame_set_free(frame_set *s)
{
    for (int i = 0; s->frames && i < s->count; i++) {
        for (int m = 0; m < s->frames[i].messages; m++)
            free(s->frames[i].msg[m]);
        free(s->frames[i].msg);
        free(s->frames[i].len);
    }
    free(s->frames);
    *s = (frame_set){0};
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void count_reject(void *ctx, const ride_frame_reject *r)
{
    (void)r;
    ++*(int *)ctx;
}

/* What one pass over a frame costs, CPU seconds, summed over the timed frames. */
typedef struct compute_totals {
    double decode, kernels, bytes, wall;
    uint64_t frames;
    samples latency; /* wall ms per frame */
} compute_totals;

typedef struct compute_state {
    ride_frame_assembler *assembler;
    int rejected;
    ride_frame in;
    ride_image gray, sd;
    uint8_t *copy; /* where the bytes go in the copy that stands for a read and a write */
    size_t copy_len;
} compute_state;

/* Stage 1's input messages, its output and stage 2's input (the gray frame), and
 * stage 2's output, each copied once. */
static void copy_bytes(compute_state *st, const struct wire_frame *wf)
{
    for (int m = 0; m < wf->messages; m++)
        memcpy(st->copy, wf->msg[m], wf->len[m]);
    for (int i = 0; i < 2; i++)
        memcpy(st->copy, st->gray.data, st->gray.stride * st->gray.height);
    memcpy(st->copy, st->sd.data, st->sd.stride * st->sd.height);
}

static int one_frame(compute_state *st, const struct wire_frame *wf, int threads, bool timed,
                     compute_totals *t)
{
    double c0 = cpu_s();
    int64_t w0 = ride_clock_mono_ns();
    ride_frame_status status = RIDE_FRAME_INCOMPLETE;
    for (int m = 0; m < wf->messages; m++)
        status = ride_frame_assembler_push(st->assembler, wf->msg[m], wf->len[m], &st->in);
    if (status != RIDE_FRAME_OK)
        return -1;
    double c1 = cpu_s();
    if (ride_cpu_grayscale(&st->in.image, &st->gray, threads) ||
        ride_cpu_stddev(&st->gray, &st->sd, STDDEV_KSIZE, threads))
        return -1;
    double c2 = cpu_s();
    int64_t w1 = ride_clock_mono_ns();
    copy_bytes(st, wf);
    double c3 = cpu_s();
    if (timed) {
        t->decode += c1 - c0;
        t->kernels += c2 - c1;
        t->bytes += c3 - c2;
        t->wall += (double)(w1 - w0) * 1e-9;
        t->frames++;
        ride_bench_samples_add(&t->latency, (double)(w1 - w0) / 1e6);
    }
    return 0;
}

/* Grayscale + stddev alone, back to back on the decoded frames: the kernels-only
 * figure. */
static double kernels_fps(const frame_set *fs, compute_state *st, int threads, double seconds)
{
    ride_frame frames[IN_PROCESS_FRAMES] = {0};
    double fps = -1;
    int n = 0;
    for (; n < fs->count && n < IN_PROCESS_FRAMES; n++) {
        ride_frame_status status = RIDE_FRAME_INCOMPLETE;
        for (int m = 0; m < fs->frames[n].messages; m++)
            status = ride_frame_assembler_push(st->assembler, fs->frames[n].msg[m],
                                               fs->frames[n].len[m], &frames[n]);
        if (status != RIDE_FRAME_OK)
            goto done;
    }
    double end = ride_bench_mono_s() + seconds;
    uint64_t count = 0;
    double start = ride_bench_mono_s();
    while (ride_bench_mono_s() < end && !ride_bench_interrupted) {
        if (ride_cpu_grayscale(&frames[count % (uint64_t)n].image, &st->gray, threads) ||
            ride_cpu_stddev(&st->gray, &st->sd, STDDEV_KSIZE, threads))
            goto done;
        count++;
    }
    fps = (double)count / (ride_bench_mono_s() - start);
done:
    for (int i = 0; i < n; i++)
        ride_frame_free(&frames[i]);
    return fps;
}

int ride_bench_run_in_process(const options *o, run_result *out)
{
    int threads = o->threads < 0 ? o->worker_threads : o->threads;
    frame_set fs;
    compute_state st = {0};
    compute_totals t = {0};
    char err[256];
    int rc = -1;
    if (ride_bench_frame_set_make(&fs, IN_PROCESS_FRAMES, ride_bench_raw_input(o), err,
                                  sizeof err)) {
        fprintf(stderr, "in_process: %s\n", err);
        goto done;
    }
    st.copy_len = (size_t)FRAME_SIZE * FRAME_SIZE * 4;
    st.copy = malloc(st.copy_len);
    st.assembler = ride_frame_assembler_new((size_t)FRAME_SIZE * FRAME_SIZE * 4, count_reject,
                                            &st.rejected);
    if (!st.copy || !st.assembler)
        goto done;
    double measure_from = ride_bench_mono_s() + IN_PROCESS_WARMUP_S;
    double end = measure_from + o->seconds;
    for (uint64_t i = 0; !ride_bench_interrupted; i++) {
        double now = ride_bench_mono_s();
        if (now >= end)
            break;
        if (one_frame(&st, &fs.frames[i % IN_PROCESS_FRAMES], threads, now >= measure_from,
                      &t)) {
            fprintf(stderr, "in_process: a frame failed\n");
            goto done;
        }
    }
    if (t.latency.oom || ride_bench_interrupted || t.frames == 0)
        goto done;
    double n = (double)t.frames;
    *out = (run_result){.fps = n / t.wall,
                        .p50_ms = ride_bench_quantile(t.latency.v, t.latency.n, 0.50),
                        .p99_ms = ride_bench_quantile(t.latency.v, t.latency.n, 0.99),
                        .frames = t.frames,
                        .cpu_ms = (t.decode + t.kernels) * 1e3 / n,
                        .compute = {.decode_ms = t.decode * 1e3 / n,
                                    .kernels_ms = t.kernels * 1e3 / n,
                                    .bytes_ms = t.bytes * 1e3 / n,
                                    .kernels_fps = kernels_fps(&fs, &st, threads, o->seconds)}};
    rc = out->compute.kernels_fps > 0 ? 0 : -1;
done:
    ride_bench_frame_set_free(&fs);
    ride_frame_assembler_free(st.assembler);
    ride_frame_free(&st.in);
    ride_image_free(&st.gray);
    ride_image_free(&st.sd);
    free(st.copy);
    free(t.latency.v);
    return rc;
}
