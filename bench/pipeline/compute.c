/* compute.c - the compute ceiling of ride-bench-pipeline: the stages' work in this
 * process, on the wire messages the run sends (frame_set, also the drain mode's
 * pre-fill), on the workers' kernel threads, whole frames in parallel as a CPU
 * stage's lanes run them. It times what a first stage does with a message
 * (assembly: CRC, and the JPEG decoded straight to grey as the grayscale stage
 * decodes it), the kernels, and one copy of every byte the two stages read and
 * write; the CPU per frame is the process's, so every thread counts. */
#include "bench_pipeline.h"
#include "base/clock.h"
#include "kernels/kernels.h"
#include "media/synthetic.h"
#include "wire/frame.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The manifest's default JPEG quality, which the drain mode's sources would use. */
#define SOURCE_JPEG_QUALITY 90
/* Below a real Kafka's default topic limit (max.message.bytes 1000012 with its
 * record overhead: 999,940 bytes of value on Kafka 2.4), which the drain mode's
 * pre-fill must fit, as ride-producer's messages do (kafka/message_size.h). */
#define FRAME_SET_MAX_MESSAGE 900000u
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
                                .max_message_bytes = FRAME_SET_MAX_MESSAGE};
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

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double process_cpu_s(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }
static double thread_cpu_s(void) { return clock_s(CLOCK_THREAD_CPUTIME_ID); }

static void count_reject(void *ctx, const ride_frame_reject *r)
{
    (void)r;
    ++*(int *)ctx;
}

/* What one thread's frames cost, CPU seconds of that thread. */
typedef struct compute_totals {
    double decode, kernels, bytes;
    uint64_t frames;
    samples latency; /* wall ms per frame */
} compute_totals;

/* One thread of the ceiling: frames in parallel, one per thread, as a CPU stage's
 * lanes run them (docs/worker.md), each decoded as the first stage decodes it. */
typedef struct compute_thread {
    pthread_t thread;
    const frame_set *fs;
    int index;
    double measure_from, end;
    bool failed;
    ride_frame_assembler *assembler;
    int rejected;
    ride_frame in;
    ride_image gray, sd;
    uint8_t *copy; /* where the bytes go in the copy that stands for a read and a write */
    compute_totals t;
} compute_thread;

/* Stage 1's input messages, its output and stage 2's input (the gray frame), and
 * stage 2's output, each copied once. */
static void copy_bytes(compute_thread *ct, const struct wire_frame *wf)
{
    for (int m = 0; m < wf->messages; m++)
        memcpy(ct->copy, wf->msg[m], wf->len[m]);
    for (int i = 0; i < 2; i++)
        memcpy(ct->copy, ct->gray.data, ct->gray.stride * ct->gray.height);
    memcpy(ct->copy, ct->sd.data, ct->sd.stride * ct->sd.height);
}

static int one_frame(compute_thread *ct, const struct wire_frame *wf, bool timed)
{
    double c0 = thread_cpu_s();
    int64_t w0 = ride_clock_mono_ns();
    ride_frame_status status = RIDE_FRAME_INCOMPLETE;
    for (int m = 0; m < wf->messages; m++)
        status = ride_frame_assembler_push(ct->assembler, wf->msg[m], wf->len[m], &ct->in);
    if (status != RIDE_FRAME_OK)
        return -1;
    double c1 = thread_cpu_s();
    if (ride_cpu_grayscale(&ct->in.image, &ct->gray, 1) ||
        ride_cpu_stddev(&ct->gray, &ct->sd, STDDEV_KSIZE, 1))
        return -1;
    double c2 = thread_cpu_s();
    int64_t w1 = ride_clock_mono_ns();
    copy_bytes(ct, wf);
    double c3 = thread_cpu_s();
    if (timed) {
        ct->t.decode += c1 - c0;
        ct->t.kernels += c2 - c1;
        ct->t.bytes += c3 - c2;
        ct->t.frames++;
        ride_bench_samples_add(&ct->t.latency, (double)(w1 - w0) / 1e6);
    }
    return 0;
}

static void *compute_main(void *arg)
{
    compute_thread *ct = arg;
    for (uint64_t i = (uint64_t)ct->index; !ride_bench_interrupted; i++) {
        double now = ride_bench_mono_s();
        if (now >= ct->end)
            break;
        if (one_frame(ct, &ct->fs->frames[i % IN_PROCESS_FRAMES], now >= ct->measure_from)) {
            ct->failed = true;
            break;
        }
    }
    return NULL;
}

/* Grayscale + stddev alone on one thread, back to back on decoded frames: the
 * kernels-only figure per thread. */
static double kernels_fps(const frame_set *fs, compute_thread *ct, double seconds)
{
    ride_frame frames[IN_PROCESS_FRAMES] = {0};
    double fps = -1;
    int n = 0;
    for (; n < fs->count && n < IN_PROCESS_FRAMES; n++) {
        ride_frame_status status = RIDE_FRAME_INCOMPLETE;
        for (int m = 0; m < fs->frames[n].messages; m++)
            status = ride_frame_assembler_push(ct->assembler, fs->frames[n].msg[m],
                                               fs->frames[n].len[m], &frames[n]);
        if (status != RIDE_FRAME_OK)
            goto done;
    }
    double end = ride_bench_mono_s() + seconds;
    uint64_t count = 0;
    double start = ride_bench_mono_s();
    while (ride_bench_mono_s() < end && !ride_bench_interrupted) {
        if (ride_cpu_grayscale(&frames[count % (uint64_t)n].image, &ct->gray, 1) ||
            ride_cpu_stddev(&ct->gray, &ct->sd, STDDEV_KSIZE, 1))
            goto done;
        count++;
    }
    fps = (double)count / (ride_bench_mono_s() - start);
done:
    for (int i = 0; i < n; i++)
        ride_frame_free(&frames[i]);
    return fps;
}

static int thread_open(compute_thread *ct, const frame_set *fs, int index)
{
    *ct = (compute_thread){.fs = fs, .index = index};
    ct->copy = malloc((size_t)FRAME_SIZE * FRAME_SIZE * 4);
    ride_frame_assembler_opts ao = {.max_frame_bytes = (size_t)FRAME_SIZE * FRAME_SIZE * 4,
                                    .on_reject = count_reject,
                                    .ctx = &ct->rejected,
                                    .decode_as = RIDE_PIX_GRAY8};
    ct->assembler = ride_frame_assembler_new_opts(&ao);
    return ct->copy && ct->assembler ? 0 : -1;
}

static void thread_close(compute_thread *ct)
{
    ride_frame_assembler_free(ct->assembler);
    ride_frame_free(&ct->in);
    ride_image_free(&ct->gray);
    ride_image_free(&ct->sd);
    free(ct->copy);
    free(ct->t.latency.v);
}

/* The threads' figures together; their latencies in one sample set. */
static int merge_totals(compute_thread *cts, int n, compute_totals *all)
{
    *all = (compute_totals){0};
    for (int i = 0; i < n; i++) {
        compute_totals *t = &cts[i].t;
        if (cts[i].failed || t->latency.oom)
            return -1;
        all->decode += t->decode;
        all->kernels += t->kernels;
        all->bytes += t->bytes;
        all->frames += t->frames;
        for (size_t k = 0; k < t->latency.n; k++)
            ride_bench_samples_add(&all->latency, t->latency.v[k]);
    }
    return all->latency.oom || all->frames == 0 ? -1 : 0;
}

int ride_bench_run_in_process(const options *o, run_result *out)
{
    int threads = ride_cpu_threads(o->threads < 0 ? o->worker_threads : o->threads);
    frame_set fs;
    compute_thread *cts = calloc((size_t)(threads > 0 ? threads : 1), sizeof *cts);
    compute_totals all = {0};
    char err[256];
    int rc = -1, opened = 0, started = 0;
    if (!cts || threads < 1 ||
        ride_bench_frame_set_make(&fs, IN_PROCESS_FRAMES, ride_bench_raw_input(o), err,
                                  sizeof err)) {
        fprintf(stderr, "in_process: %s\n", cts ? err : "out of memory");
        free(cts);
        return -1;
    }
    for (; opened < threads; opened++)
        if (thread_open(&cts[opened], &fs, opened))
            goto done;
    double c0 = process_cpu_s(), w0 = ride_bench_mono_s();
    double measure_from = w0 + IN_PROCESS_WARMUP_S, end = measure_from + o->seconds;
    for (; started < threads; started++) {
        cts[started].measure_from = measure_from;
        cts[started].end = end;
        if (pthread_create(&cts[started].thread, NULL, compute_main, &cts[started]))
            goto done;
    }
    for (; started > 0; started--)
        pthread_join(cts[started - 1].thread, NULL);
    double cpu = process_cpu_s() - c0, wall = ride_bench_mono_s() - measure_from;
    if (ride_bench_interrupted || merge_totals(cts, threads, &all))
        goto done;
    double n = (double)all.frames;
    /* The warm-up's frames are in the process CPU: scale it to the timed window. */
    double timed_cpu = cpu * o->seconds / (o->seconds + IN_PROCESS_WARMUP_S);
    *out = (run_result){.fps = n / wall,
                        .p50_ms = ride_bench_quantile(all.latency.v, all.latency.n, 0.50),
                        .p99_ms = ride_bench_quantile(all.latency.v, all.latency.n, 0.99),
                        .frames = all.frames,
                        .cpu_ms = timed_cpu * 1e3 / n,
                        .compute = {.decode_ms = all.decode * 1e3 / n,
                                    .kernels_ms = all.kernels * 1e3 / n,
                                    .bytes_ms = all.bytes * 1e3 / n,
                                    .kernels_fps = kernels_fps(&fs, &cts[0], o->seconds)}};
    rc = out->compute.kernels_fps > 0 ? 0 : -1;
done:
    /* Threads already started stop by themselves at the window's end. */
    for (; started > 0; started--)
        pthread_join(cts[started - 1].thread, NULL);
    for (int i = 0; i < opened; i++)
        thread_close(&cts[i]);
    free(cts);
    free(all.latency.v);
    ride_bench_frame_set_free(&fs);
    return rc;
}
