/* ride-bench-kernels: frames/s of every built-in task on the CPU beside the same
 * operation in OpenCV (alternately, in one process, at the same thread count) and,
 * when a CUDA device is present, on the GPU: host frame to host frame through the
 * task's GPU stage, and the kernels alone through process_device on a frame kept
 * in device memory, with the bandwidth-bound kernels' GB/s as a fraction of the
 * card's peak. Prints Markdown tables; --json writes the numbers too.
 *
 *   ride-bench-kernels [--runs N] [--min-time MILLISECONDS] [--threads N]
 *                      [--sizes 900,1600,2500x1400] [--huge] [--huge-runs N]
 *                      [--tasks NAME,...] [--json FILE] [--scaled-decode]
 *
 * Each figure is the median over --runs runs; a run times as many back-to-back
 * frames as fill --min-time, so short kernels are not dominated by the clock.
 * --huge adds the 24160x25720 frame for the rows marked huge (stddev, fft), timed
 * --huge-runs times, one frame per run. --tasks keeps the rows of the named
 * built-in tasks only (gaussian,resize). A row or side whose estimated memory
 * exceeds the machine's (or the GPU's) is skipped with the reason printed. A
 * second table gives the synthetic source's rendering rate on one thread.
 * --scaled-decode prints instead the table of bench_decode.c: decode + resize of
 * a JPEG frame, full size against the decoder's scaled output. */
#include "bench.h"
#include "bench_machine.h"
#include "kernels/gpu.h"
#include "kernels/kernels.h"
#include "media/opencv_c.h"
#include "media/synthetic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZES 8
#define MAX_RUNS RIDE_BENCH_MAX_RUNS
#define HUGE_WIDTH 24160u
#define HUGE_HEIGHT 25720u
#define GIB (1024.0 * 1024.0 * 1024.0)

typedef struct frame_size {
    uint32_t width, height;
} frame_size;

typedef struct options {
    int runs;
    double min_time;
    int threads;
    frame_size sizes[MAX_SIZES];
    int nsizes;
    bool huge;
    bool scaled_decode;
    int huge_runs;
    const char *tasks; /* comma-separated task names; NULL: every task */
    const char *json;
} options;

typedef struct machine {
    char cpu[256];
    int cores;
    double memory; /* physical bytes */
    char date[32];
    int gpus;
    char gpu_why[256]; /* without a GPU: why */
    char gpu_name[256];
    double gpu_memory;
    double gpu_peak; /* bytes/s; 0 when unknown */
} machine;

static const char *const side_names[RIDE_BENCH_SIDE_COUNT] = {"RIDE CPU", "OpenCV",
                                                             "GPU stage", "GPU kernel"};
static const char *const side_keys[RIDE_BENCH_SIDE_COUNT] = {"ride_cpu", "opencv",
                                                            "gpu_stage", "gpu_kernel"};

/* One side's figures in a row; cell is what the table shows when it has none. */
typedef struct side_result {
    bool on;
    const char *cell;
    char why[200];
    double seconds;     /* median per frame */
    double frame_bytes; /* GPU kernel: read + written per frame */
} side_result;

typedef struct row {
    const ride_bench_task *task;
    frame_size size;
    int runs;
    side_result side[RIDE_BENCH_SIDE_COUNT];
} row;

typedef struct render_result {
    frame_size size;
    double frame_bytes;
    double seconds; /* median seconds per frame */
} render_result;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ride_bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static bool is_huge(frame_size s)
{
    return s.width == HUGE_WIDTH && s.height == HUGE_HEIGHT;
}

/* ---- the machine --------------------------------------------------------- */

static void describe_gpu(machine *m)
{
    m->gpus = ride_gpu_device_count(m->gpu_why, sizeof m->gpu_why);
    if (m->gpus <= 0)
        return;
    size_t bytes = 0;
    int major = 0, minor = 0;
    if (ride_gpu_device_name(0, m->gpu_name, sizeof m->gpu_name) != 0 ||
        ride_gpu_device_info(0, &bytes, &major, &minor) != 0) {
        snprintf(m->gpu_why, sizeof m->gpu_why, "CUDA device 0 cannot be queried");
        m->gpus = 0;
        return;
    }
    m->gpu_memory = (double)bytes;
    if (ride_gpu_device_peak_bandwidth(0, &m->gpu_peak) != 0)
        m->gpu_peak = 0;
}

static void describe_machine(machine *m)
{
    *m = (machine){0};
    ride_bench_cpu_model(m->cpu, sizeof m->cpu);
    m->cores = ride_cpu_threads(0);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    m->memory = pages > 0 && page > 0 ? (double)pages * (double)page : 0;
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(m->date, sizeof m->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    describe_gpu(m);
}

/* ---- planning a row: which sides run, within memory ------------------------ */

static void skip_side(row *r, ride_bench_side_kind k, const char *cell, const char *why)
{
    side_result *s = &r->side[k];
    s->on = false;
    s->cell = cell;
    snprintf(s->why, sizeof s->why, "%s", why);
}

static double host_bytes(const row *r, double input_bytes)
{
    const ride_bench_memory *m = &r->task->memory;
    double per_byte = (r->side[RIDE_BENCH_CPU].on ? m->cpu : 0) +
                      (r->side[RIDE_BENCH_OPENCV].on ? m->opencv : 0) +
                      (r->side[RIDE_BENCH_GPU_HOST].on || r->side[RIDE_BENCH_GPU_DEVICE].on
                           ? m->gpu_host
                           : 0);
    return input_bytes * (1 + per_byte);
}

static void skip_for_memory(row *r, ride_bench_side_kind k, const char *what, double need,
                            double have)
{
    char why[200];
    snprintf(why, sizeof why, "skipped: needs ~%.1f GiB of %s, %s has %.1f GiB", need / GIB,
             what, k >= RIDE_BENCH_GPU_HOST ? "the GPU" : "the machine", have / GIB);
    skip_side(r, k, "skipped", why);
}

/* Turns off the sides the machine cannot hold: the GPU sides when the device memory
 * is short, then OpenCV (the largest working set), then the whole row. */
static void plan_row(const machine *m, row *r)
{
    double input = (double)ride_image_row_bytes(r->task->input, r->size.width) * r->size.height;
    for (int k = 0; k < RIDE_BENCH_SIDE_COUNT; k++)
        r->side[k] = (side_result){.on = true};
    double device = input * r->task->memory.device;
    for (int k = RIDE_BENCH_GPU_HOST; k <= RIDE_BENCH_GPU_DEVICE; k++)
        if (m->gpus <= 0)
            skip_side(r, (ride_bench_side_kind)k, "no GPU", "no GPU");
        else if (device > m->gpu_memory)
            skip_for_memory(r, (ride_bench_side_kind)k, "GPU memory", device, m->gpu_memory);
    double need = host_bytes(r, input);
    if (need > m->memory && r->side[RIDE_BENCH_OPENCV].on) {
        skip_for_memory(r, RIDE_BENCH_OPENCV, "memory with the other sides", need, m->memory);
        need = host_bytes(r, input);
    }
    for (int k = 0; k < RIDE_BENCH_SIDE_COUNT; k++)
        if (need > m->memory && r->side[k].on)
            skip_for_memory(r, (ride_bench_side_kind)k, "memory", need, m->memory);
}

static bool row_runs(const row *r)
{
    for (int k = 0; k < RIDE_BENCH_SIDE_COUNT; k++)
        if (r->side[k].on)
            return true;
    return false;
}

/* ---- measuring a row ------------------------------------------------------- */

/* Warms up (allocations, plans, the first upload) and picks the frames per run;
 * 0 when the side failed. */
static long calibrate(ride_bench_side *s, double min_time)
{
    double once = ride_bench_side_time(s, 1);
    if (once < 0)
        return 0;
    if (once >= min_time)
        return 1;
    once = ride_bench_side_time(s, 3);
    return once < 0 ? 0 : (long)(min_time / once) + 1;
}

static void keep_result(const ride_bench_side *s, side_result *out, double *times, int runs)
{
    if (!s->on) {
        out->on = false;
        snprintf(out->why, sizeof out->why, "%s", s->why);
        out->cell = strncmp(s->why, "failed", 6) == 0 ? "failed" : "-";
        return;
    }
    out->seconds = ride_bench_median(times, runs);
    out->frame_bytes = s->frame_bytes;
}

static void measure_row(const options *o, row *r, const ride_image *in)
{
    ride_bench_side sides[RIDE_BENCH_SIDE_COUNT];
    double times[RIDE_BENCH_SIDE_COUNT][MAX_RUNS];
    for (int k = 0; k < RIDE_BENCH_SIDE_COUNT; k++) {
        sides[k] = (ride_bench_side){.on = false};
        if (r->side[k].on) {
            ride_bench_side_open(&sides[k], (ride_bench_side_kind)k, r->task, in, o->threads, 0);
            if (sides[k].on)
                sides[k].iters = calibrate(&sides[k], o->min_time);
        }
    }
    /* Alternating keeps slow drifts (clock, neighbours) from favouring one side. */
    for (int i = 0; i < r->runs; i++)
        for (int k = 0; k < RIDE_BENCH_SIDE_COUNT; k++)
            if (sides[k].on)
                times[k][i] = ride_bench_side_time(&sides[k], sides[k].iters);
    for (int k = 0; k < RIDE_BENCH_SIDE_COUNT; k++) {
        if (r->side[k].on)
            keep_result(&sides[k], &r->side[k], times[k], r->runs);
        ride_bench_side_close(&sides[k]);
    }
}

/* ---- inputs ---------------------------------------------------------------- */

static double time_renders(ride_image *frame, uint64_t *seq, long iters)
{
    double t0 = now_s();
    for (long i = 0; i < iters; i++)
        ride_synthetic_render_into(1, (*seq)++, frame);
    return (now_s() - t0) / (double)iters;
}

static void measure_render(const options *o, const ride_image *frame, render_result *r)
{
    ride_image target = *frame;
    uint64_t seq = 0;
    double once = time_renders(&target, &seq, 3);
    long iters = (long)(o->min_time / once) + 1;
    double t[MAX_RUNS];
    for (int i = 0; i < o->runs; i++)
        t[i] = time_renders(&target, &seq, iters);
    r->size = (frame_size){frame->width, frame->height};
    r->frame_bytes = (double)ride_image_size(frame);
    r->seconds = ride_bench_median(t, o->runs);
}

/* The grayscale kernels must agree before their speed means anything. */
static int check_grayscale(const ride_image *bgr, int threads)
{
    ride_image a = {0}, b = {0};
    int rc = ride_cpu_grayscale(bgr, &a, threads) == 0 && ride_cv_ref_grayscale(bgr, &b) == 0 &&
                     memcmp(a.data, b.data, ride_image_size(&a)) == 0
                 ? 0
                 : -1;
    if (rc != 0)
        fprintf(stderr, "grayscale differs from OpenCV at %ux%u\n", bgr->width, bgr->height);
    ride_image_free(&a);
    ride_image_free(&b);
    return rc;
}

/* The synthetic frame in BGR8 and GRAY8; BGR8 is dropped again when no row of this
 * size reads it (the huge frame). */
static int make_inputs(const options *o, frame_size size, bool need_bgr, ride_image *bgr,
                       ride_image *gray)
{
    if (ride_synthetic_render(1, 0, size.width, size.height, bgr) != 0 ||
        ride_cpu_grayscale(bgr, gray, o->threads) != 0) {
        fprintf(stderr, "cannot make a %ux%u input (out of memory?)\n", size.width, size.height);
        return -1;
    }
    if (!need_bgr)
        ride_image_free(bgr);
    return 0;
}

/* ---- output ---------------------------------------------------------------- */

/* Three significant digits below 100 frames/s (the huge frame runs well below one). */
static void print_fps(const side_result *s)
{
    if (!s->on)
        printf(" %s |", s->cell);
    else if (1.0 / s->seconds < 100)
        printf(" %.3g |", 1.0 / s->seconds);
    else
        printf(" %.1f |", 1.0 / s->seconds);
}

static bool has_bandwidth(const row *r, const machine *m)
{
    return r->task->bandwidth_bound && r->side[RIDE_BENCH_GPU_DEVICE].on &&
           r->side[RIDE_BENCH_GPU_DEVICE].frame_bytes > 0 && m->gpu_peak > 0;
}

static double gpu_gb_s(const row *r)
{
    const side_result *s = &r->side[RIDE_BENCH_GPU_DEVICE];
    return s->frame_bytes / s->seconds / 1e9;
}

static void print_row(const row *r, const machine *m)
{
    const side_result *cpu = &r->side[RIDE_BENCH_CPU], *cv = &r->side[RIDE_BENCH_OPENCV];
    printf("| %s | %s | %ux%u |", r->task->label, ride_pixel_format_name(r->task->input),
           r->size.width, r->size.height);
    print_fps(cpu);
    print_fps(cv);
    if (cpu->on && cv->on)
        printf(" %.2f |", cv->seconds / cpu->seconds);
    else
        printf(" - |");
    print_fps(&r->side[RIDE_BENCH_GPU_HOST]);
    print_fps(&r->side[RIDE_BENCH_GPU_DEVICE]);
    if (has_bandwidth(r, m))
        printf(" %.1f | %.0f%% |\n", gpu_gb_s(r), 100.0 * gpu_gb_s(r) * 1e9 / m->gpu_peak);
    else if (m->gpus <= 0)
        printf(" no GPU | no GPU |\n");
    else
        printf(" - | - |\n");
}

/* Why each empty cell is empty, each reason once per row label; "no GPU" is said
 * above the table. */
static void print_notes(const row *rows, int n)
{
    bool any = false;
    char seen[64][320];
    int nseen = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < RIDE_BENCH_SIDE_COUNT; k++) {
            const side_result *s = &rows[i].side[k];
            if (s->on || strcmp(s->cell, "no GPU") == 0)
                continue;
            char note[320];
            if (strcmp(s->cell, "-") == 0)
                snprintf(note, sizeof note, "%s (%s), %s: %s", rows[i].task->label,
                         ride_pixel_format_name(rows[i].task->input), side_names[k], s->why);
            else
                snprintf(note, sizeof note, "%s (%s) %ux%u, %s: %s", rows[i].task->label,
                         ride_pixel_format_name(rows[i].task->input), rows[i].size.width,
                         rows[i].size.height, side_names[k], s->why);
            bool dup = false;
            for (int j = 0; j < nseen && !dup; j++)
                dup = strcmp(seen[j], note) == 0;
            if (dup)
                continue;
            if (nseen < 64)
                snprintf(seen[nseen++], sizeof seen[0], "%s", note);
            if (!any)
                printf("\nEmpty cells:\n\n");
            any = true;
            printf("- %s\n", note);
        }
}

static void print_header(const options *o, const machine *m)
{
    printf("Machine: %s, %d online cores, %.1f GiB; RIDE and OpenCV (setNumThreads) on %d "
           "thread(s); OpenCV %s; %s\n",
           m->cpu, m->cores, m->memory / GIB, o->threads, ride_cv_version(), m->date);
    if (m->gpus > 0 && m->gpu_peak > 0)
        printf("GPU: %s, %.1f GiB, peak memory bandwidth %.1f GB/s (memory clock x bus width x "
               "2)\n",
               m->gpu_name, m->gpu_memory / GIB, m->gpu_peak / 1e9);
    else if (m->gpus > 0)
        printf("GPU: %s, %.1f GiB, peak memory bandwidth unknown\n", m->gpu_name,
               m->gpu_memory / GIB);
    else
        printf("GPU: no GPU (%s): the GPU columns are empty\n", m->gpu_why);
    printf("Median of %d runs (the huge frame: %d, of one frame each), each >= %.2f s of "
           "back-to-back frames. GB/s: bytes read + written per frame (input and output "
           "once) over the kernel time.\n\n",
           o->runs, o->huge_runs, o->min_time);
}

static void print_table(const options *o, const machine *m, const row *rows, int n)
{
    print_header(o, m);
    printf("| task | input | size | RIDE CPU frames/s | OpenCV frames/s | RIDE/OpenCV | GPU "
           "stage frames/s | GPU kernel frames/s | GPU kernel GB/s | of peak |\n");
    printf("|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < n; i++)
        print_row(&rows[i], m);
    print_notes(rows, n);
}

static void print_render_table(const render_result *res, int n)
{
    if (n == 0)
        return;
    printf("\n| synthetic source (1 thread) | size | frames/s | MB/s written |\n");
    printf("|---|---|---:|---:|\n");
    for (int i = 0; i < n; i++)
        printf("| render BGR8 | %ux%u | %.1f | %.0f |\n", res[i].size.width, res[i].size.height,
               1.0 / res[i].seconds, res[i].frame_bytes / res[i].seconds / 1e6);
}

/* Free text is written with quotes and backslashes escaped and control characters
 * dropped. */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    }
    fputc('"', f);
}

static void json_side(FILE *f, const row *r, int k)
{
    const side_result *s = &r->side[k];
    fprintf(f, "\"%s\": ", side_keys[k]);
    if (!s->on) {
        fprintf(f, "{\"fps\": null, \"why\": ");
        json_string(f, s->why);
        fprintf(f, "}");
        return;
    }
    fprintf(f, "{\"fps\": %.6g", 1.0 / s->seconds);
    if (k == RIDE_BENCH_GPU_DEVICE && s->frame_bytes > 0)
        fprintf(f, ", \"gb_s\": %.3f", gpu_gb_s(r));
    fprintf(f, "}");
}

static void json_machine(FILE *f, const options *o, const machine *m)
{
    fprintf(f, "{\n  \"cpu\": ");
    json_string(f, m->cpu);
    fprintf(f, ",\n  \"cores\": %d,\n  \"memory_bytes\": %.0f,\n  \"threads\": %d,\n"
               "  \"opencv\": ",
            m->cores, m->memory, o->threads);
    json_string(f, ride_cv_version());
    fprintf(f, ",\n  \"gpu\": ");
    if (m->gpus > 0) {
        fprintf(f, "{\"name\": ");
        json_string(f, m->gpu_name);
        fprintf(f, ", \"memory_bytes\": %.0f, \"peak_bytes_per_s\": %.0f}", m->gpu_memory,
                m->gpu_peak);
    } else {
        fprintf(f, "null,\n  \"gpu_why\": ");
        json_string(f, m->gpu_why);
    }
    fprintf(f, ",\n  \"date\": \"%s\",\n  \"runs\": %d,\n  \"huge_runs\": %d,\n"
               "  \"min_time_s\": %.3f,\n",
            m->date, o->runs, o->huge_runs, o->min_time);
}

static int write_json(const char *path, const options *o, const machine *m, const row *rows,
                      int n, const render_result *renders, int nrenders)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    json_machine(f, o, m);
    fprintf(f, "  \"results\": [\n");
    for (int i = 0; i < n; i++) {
        const row *r = &rows[i];
        fprintf(f, "    {\"task\": \"%s\", \"label\": \"%s\", \"input\": \"%s\", \"width\": %u, "
                   "\"height\": %u, \"bandwidth_bound\": %s",
                r->task->task, r->task->label, ride_pixel_format_name(r->task->input),
                r->size.width, r->size.height, r->task->bandwidth_bound ? "true" : "false");
        for (int k = 0; k < RIDE_BENCH_SIDE_COUNT; k++) {
            fprintf(f, ", ");
            json_side(f, r, k);
        }
        fprintf(f, "}%s\n", i + 1 < n ? "," : "");
    }
    fprintf(f, "  ],\n  \"synthetic_render_1_thread\": [\n");
    for (int i = 0; i < nrenders; i++)
        fprintf(f, "    {\"width\": %u, \"height\": %u, \"fps\": %.3f, \"mb_s\": %.3f}%s\n",
                renders[i].size.width, renders[i].size.height, 1.0 / renders[i].seconds,
                renders[i].frame_bytes / renders[i].seconds / 1e6, i + 1 < nrenders ? "," : "");
    fprintf(f, "  ]\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- options --------------------------------------------------------------- */

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* "W" (square) or "WxH". */
static int parse_size(char *tok, frame_size *out)
{
    long w, h;
    char *x = strchr(tok, 'x');
    if (x)
        *x = '\0';
    if (parse_long(tok, 1, RIDE_IMAGE_MAX_DIM, &w) != 0 ||
        parse_long(x ? x + 1 : tok, 1, RIDE_IMAGE_MAX_DIM, &h) != 0)
        return -1;
    *out = (frame_size){(uint32_t)w, (uint32_t)h};
    return 0;
}

static int parse_sizes(const char *s, options *o)
{
    char buf[256];
    if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf)
        return -1;
    o->nsizes = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save))
        if (o->nsizes == MAX_SIZES || parse_size(tok, &o->sizes[o->nsizes++]) != 0)
            return -1;
    return o->nsizes > 0 ? 0 : -1;
}

static int parse_option(const char *a, const char *v, options *o)
{
    long n;
    if (!v)
        return -1;
    if (strcmp(a, "--runs") == 0 && parse_long(v, 1, MAX_RUNS, &n) == 0)
        o->runs = (int)n;
    else if (strcmp(a, "--huge-runs") == 0 && parse_long(v, 1, MAX_RUNS, &n) == 0)
        o->huge_runs = (int)n;
    else if (strcmp(a, "--threads") == 0 && parse_long(v, 0, 1024, &n) == 0)
        o->threads = (int)n;
    else if (strcmp(a, "--min-time") == 0 && parse_long(v, 1, 60000, &n) == 0)
        o->min_time = (double)n / 1000.0;
    else if (strcmp(a, "--sizes") == 0 && parse_sizes(v, o) == 0)
        ;
    else if (strcmp(a, "--tasks") == 0 && *v)
        o->tasks = v;
    else if (strcmp(a, "--json") == 0)
        o->json = v;
    else
        return -1;
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--huge") == 0) {
            o->huge = true;
            continue;
        }
        if (strcmp(argv[i], "--scaled-decode") == 0) {
            o->scaled_decode = true;
            continue;
        }
        if (parse_option(argv[i], i + 1 < argc ? argv[i + 1] : NULL, o) != 0) {
            fprintf(stderr, "bad option or value: %s%s%s\n", argv[i], i + 1 < argc ? " " : "",
                    i + 1 < argc ? argv[i + 1] : "");
            return -1;
        }
        i++;
    }
    if (o->huge && o->nsizes < MAX_SIZES)
        o->sizes[o->nsizes++] = (frame_size){HUGE_WIDTH, HUGE_HEIGHT};
    return 0;
}

/* ---- main ------------------------------------------------------------------ */

static bool task_selected(const options *o, const char *name)
{
    if (!o->tasks)
        return true;
    size_t len = strlen(name);
    for (const char *p = o->tasks; *p;) {
        size_t tok = strcspn(p, ",");
        if (tok == len && strncmp(p, name, len) == 0)
            return true;
        p += tok + (p[tok] == ',');
    }
    return false;
}

/* Plans the rows of one size (appended to rows); says which inputs they read. */
static int plan_size(const options *o, const machine *m, frame_size size, row *rows,
                     bool *need_bgr, bool *any)
{
    size_t ntasks;
    const ride_bench_task *tasks = ride_bench_tasks(&ntasks);
    int n = 0;
    *need_bgr = *any = false;
    for (size_t i = 0; i < ntasks; i++) {
        if ((is_huge(size) && !tasks[i].huge) || !task_selected(o, tasks[i].task))
            continue;
        row *r = &rows[n++];
        *r = (row){.task = &tasks[i], .size = size, .runs = is_huge(size) ? o->huge_runs : o->runs};
        plan_row(m, r);
        if (row_runs(r)) {
            *any = true;
            *need_bgr |= tasks[i].input != RIDE_PIX_GRAY8;
        }
    }
    return n;
}

static int measure_size(const options *o, row *rows, int n, const ride_image *bgr,
                        const ride_image *gray)
{
    for (int i = 0; i < n; i++) {
        row *r = &rows[i];
        if (!row_runs(r))
            continue;
        const ride_image *in = r->task->input == RIDE_PIX_GRAY8 ? gray : bgr;
        if (!in->data || in->format != r->task->input) {
            fprintf(stderr, "%s: no %s input\n", r->task->label,
                    ride_pixel_format_name(r->task->input));
            return -1;
        }
        measure_row(o, r, in);
        fprintf(stderr, "%s %s %ux%u done\n", r->task->label,
                ride_pixel_format_name(r->task->input), r->size.width, r->size.height);
    }
    return 0;
}

static int run_bench(const options *o, const machine *m, row *rows, int *nrows,
                     render_result *renders, int *nrenders)
{
    *nrows = *nrenders = 0;
    for (int s = 0; s < o->nsizes; s++) {
        frame_size size = o->sizes[s];
        bool need_bgr, any;
        int n = plan_size(o, m, size, rows + *nrows, &need_bgr, &any);
        ride_image bgr = {0}, gray = {0};
        int rc = 0;
        if (any && make_inputs(o, size, need_bgr || !is_huge(size), &bgr, &gray) != 0)
            return -1;
        if (any && !is_huge(size)) {
            rc = check_grayscale(&bgr, o->threads);
            if (rc == 0)
                measure_render(o, &bgr, &renders[(*nrenders)++]);
        }
        if (rc == 0)
            rc = measure_size(o, rows + *nrows, n, &bgr, &gray);
        ride_image_free(&gray);
        ride_image_free(&bgr);
        if (rc != 0)
            return -1;
        *nrows += n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    options o = {.runs = 7,
                 .min_time = 0.3,
                 .sizes = {{900, 900}, {1600, 1600}, {2500, 2500}},
                 .nsizes = 3,
                 .huge_runs = 3};
    if (parse_args(argc, argv, &o) != 0) {
        fprintf(stderr,
                "usage: %s [--runs 1..%d] [--min-time MILLISECONDS] [--threads N (0: all "
                "cores)] [--sizes W|WxH,...] [--huge (adds %ux%u for stddev and fft)] "
                "[--huge-runs 1..%d] [--tasks NAME,...] [--json FILE] [--scaled-decode]\n",
                argv[0], MAX_RUNS, HUGE_WIDTH, HUGE_HEIGHT, MAX_RUNS);
        return 2;
    }
    if (o.scaled_decode)
        return ride_bench_scaled_decode(o.runs, o.min_time) == 0 ? 0 : 1;
    o.threads = ride_cpu_threads(o.threads);
    ride_cv_set_threads(o.threads);
    machine m;
    describe_machine(&m);

    size_t ntasks;
    ride_bench_tasks(&ntasks);
    row *rows = calloc((size_t)MAX_SIZES * ntasks, sizeof *rows);
    render_result renders[MAX_SIZES];
    int nrows, nrenders;
    if (!rows || run_bench(&o, &m, rows, &nrows, renders, &nrenders) != 0) {
        free(rows);
        return 1;
    }
    print_table(&o, &m, rows, nrows);
    print_render_table(renders, nrenders);
    int rc = 0;
    if (o.json && write_json(o.json, &o, &m, rows, nrows, renders, nrenders) != 0) {
        fprintf(stderr, "cannot write %s\n", o.json);
        rc = 1;
    }
    free(rows);
    return rc;
}
