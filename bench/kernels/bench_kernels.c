/* ride-bench-kernels: frames/s and MB/s of RIDE's CPU kernels and of the same
 * operation in OpenCV, measured alternately in one process at the same thread
 * count. Prints a Markdown table; --json writes the numbers too.
 *
 *   ride-bench-kernels [--runs N] [--min-time MILLISECONDS] [--threads N]
 *                      [--sizes 900,1600,2500] [--json FILE]
 *
 * Each figure is the median over --runs runs; a run times as many back-to-back
 * calls as fill --min-time, so short kernels are not dominated by the clock.
 * A second table gives the synthetic source's rendering rate on one thread. */
#include "opencv_c.h"
#include "ride/kernels.h"
#include "ride/synthetic.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SIZES 8
#define MAX_RUNS 101

typedef struct options {
    int runs;
    double min_time;
    int threads;
    uint32_t sizes[MAX_SIZES];
    int nsizes;
    const char *json;
} options;

typedef enum op_kind {
    OP_GRAYSCALE,
    OP_STDDEV,
    OP_RESIZE,
    OP_GAUSSIAN,
    OP_SOBEL,
    OP_MATMUL,
    OP_FFT
} op_kind;

/* Columns of the fixed matrix the matmul rows multiply by (the task's default size). */
#define MATMUL_COLS 64

typedef struct bench_op {
    const char *name;
    op_kind kind;
    ride_pixel_format input;
    int ksize;
} bench_op;

static const bench_op ops[] = {
    {"grayscale", OP_GRAYSCALE, RIDE_PIX_BGR8, 0},
    {"stddev k=5", OP_STDDEV, RIDE_PIX_GRAY8, 5},
    {"stddev k=31", OP_STDDEV, RIDE_PIX_GRAY8, 31},
    {"stddev k=5", OP_STDDEV, RIDE_PIX_BGR8, 5},
    {"resize linear to half", OP_RESIZE, RIDE_PIX_BGR8, 0},
    {"gaussian k=5", OP_GAUSSIAN, RIDE_PIX_BGR8, 5},
    {"sobel k=3", OP_SOBEL, RIDE_PIX_GRAY8, 3},
    {"matmul by 64 columns", OP_MATMUL, RIDE_PIX_GRAY8, 0},
    {"fft log spectrum", OP_FFT, RIDE_PIX_GRAY8, 0},
};

/* What an operation keeps between calls, made before the timing starts. */
typedef struct op_state {
    float *matrix;     /* matmul: width x MATMUL_COLS */
    ride_cpu_fft *fft; /* fft: RIDE's plan and buffers */
} op_state;
#define NOPS (sizeof ops / sizeof ops[0])

typedef struct result {
    const bench_op *op;
    uint32_t size;
    double input_bytes;
    double ride_s, cv_s; /* median seconds per frame */
} result;

typedef struct render_result {
    uint32_t size;
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

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* One call of the operation; RIDE's kernel or OpenCV's. */
static int run_once(const bench_op *op, const op_state *st, int opencv, const ride_image *in,
                    ride_image *out, int threads)
{
    switch (op->kind) {
    case OP_GRAYSCALE:
        return opencv ? ride_cv_ref_grayscale(in, out) : ride_cpu_grayscale(in, out, threads);
    case OP_STDDEV:
        return opencv ? ride_cv_ref_stddev(in, op->ksize, out)
                      : ride_cpu_stddev(in, out, op->ksize, threads);
    case OP_RESIZE: {
        uint32_t w = (in->width + 1) / 2, h = (in->height + 1) / 2;
        if (!opencv)
            return ride_cpu_resize(in, out, w, h, RIDE_INTERP_LINEAR, threads);
        return ride_image_ensure(out, in->format, w, h) != 0
                   ? -1
                   : ride_cv_resize(in, out, RIDE_CV_INTER_LINEAR, NULL, 0);
    }
    case OP_GAUSSIAN:
        return opencv ? ride_cv_ref_gaussian(in, op->ksize, 0, out)
                      : ride_cpu_gaussian(in, out, op->ksize, 0, threads);
    case OP_SOBEL:
        return opencv ? ride_cv_ref_sobel(in, op->ksize, out)
                      : ride_cpu_sobel(in, out, op->ksize, threads);
    case OP_MATMUL:
        return opencv ? ride_cv_ref_matmul(in, st->matrix, MATMUL_COLS, out)
                      : ride_cpu_matmul(in, st->matrix, MATMUL_COLS, out, threads);
    case OP_FFT:
        return opencv ? ride_cv_ref_spectrum(in, 1, out)
                      : ride_cpu_fft_spectrum(st->fft, in, out, 1);
    }
    return -1;
}

/* Seconds per call over `iters` back-to-back calls. */
static double time_calls(const bench_op *op, const op_state *st, int opencv, const ride_image *in,
                         ride_image *out, int threads, long iters)
{
    double t0 = now_s();
    for (long i = 0; i < iters; i++)
        if (run_once(op, st, opencv, in, out, threads) != 0) {
            fprintf(stderr, "%s (%s) failed\n", op->name, opencv ? "OpenCV" : "RIDE");
            exit(1);
        }
    return (now_s() - t0) / (double)iters;
}

/* Warms up (first call allocates the output) and picks the calls per run. */
static long calibrate(const bench_op *op, const op_state *st, int opencv, const ride_image *in,
                      ride_image *out, int threads, double min_time)
{
    time_calls(op, st, opencv, in, out, threads, 1);
    double once = time_calls(op, st, opencv, in, out, threads, 3);
    long iters = (long)(min_time / once) + 1;
    return iters < 1 ? 1 : iters;
}

static void open_state(const bench_op *op, const ride_image *in, int threads, op_state *st)
{
    *st = (op_state){0};
    if (op->kind == OP_MATMUL) {
        st->matrix = malloc((size_t)in->width * MATMUL_COLS * sizeof *st->matrix);
        if (st->matrix)
            ride_matmul_random_matrix(st->matrix, in->width, MATMUL_COLS, 1);
    } else if (op->kind == OP_FFT) {
        st->fft = ride_cpu_fft_new(threads);
    }
    if ((op->kind == OP_MATMUL && !st->matrix) || (op->kind == OP_FFT && !st->fft)) {
        fprintf(stderr, "%s: out of memory\n", op->name);
        exit(1);
    }
}

static void measure(const options *o, const bench_op *op, const ride_image *in, result *r)
{
    ride_image ride_out = {0}, cv_out = {0};
    op_state st;
    open_state(op, in, o->threads, &st);
    long ride_iters = calibrate(op, &st, 0, in, &ride_out, o->threads, o->min_time);
    long cv_iters = calibrate(op, &st, 1, in, &cv_out, o->threads, o->min_time);
    double ride_t[MAX_RUNS], cv_t[MAX_RUNS];
    /* Alternating keeps slow drifts (clock, neighbours) from favouring one side. */
    for (int i = 0; i < o->runs; i++) {
        ride_t[i] = time_calls(op, &st, 0, in, &ride_out, o->threads, ride_iters);
        cv_t[i] = time_calls(op, &st, 1, in, &cv_out, o->threads, cv_iters);
    }
    r->ride_s = median(ride_t, o->runs);
    r->cv_s = median(cv_t, o->runs);
    ride_image_free(&ride_out);
    ride_image_free(&cv_out);
    free(st.matrix);
    ride_cpu_fft_free(st.fft);
}

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
    r->size = frame->width;
    r->frame_bytes = (double)ride_image_size(frame);
    r->seconds = median(t, o->runs);
}

/* The grayscale kernels must agree before their speed means anything. */
static void check_grayscale(const ride_image *bgr, int threads)
{
    ride_image a = {0}, b = {0};
    if (ride_cpu_grayscale(bgr, &a, threads) != 0 || ride_cv_ref_grayscale(bgr, &b) != 0 ||
        memcmp(a.data, b.data, ride_image_size(&a)) != 0) {
        fprintf(stderr, "grayscale differs from OpenCV at %ux%u\n", bgr->width, bgr->height);
        exit(1);
    }
    ride_image_free(&a);
    ride_image_free(&b);
}

static void cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            colon += 1 + strspn(colon + 1, " \t");
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(buf, len, "%s", colon);
            break;
        }
    }
    fclose(f);
}

typedef struct machine {
    char cpu[256];
    int cores;
    char date[32];
} machine;

static void describe_machine(machine *m)
{
    cpu_model(m->cpu, sizeof m->cpu);
    m->cores = ride_cpu_threads(0);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(m->date, sizeof m->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void print_render_table(const render_result *res, int n)
{
    printf("\n| synthetic source (1 thread) | size | frames/s | MB/s written |\n");
    printf("|---|---|---:|---:|\n");
    for (int i = 0; i < n; i++)
        printf("| render BGR8 | %ux%u | %.1f | %.0f |\n", res[i].size, res[i].size,
               1.0 / res[i].seconds, res[i].frame_bytes / res[i].seconds / 1e6);
}

static void print_table(const options *o, const machine *m, const result *res, int n)
{
    printf("Machine: %s, %d online cores; RIDE and OpenCV (setNumThreads) on %d thread(s); "
           "OpenCV %s; %s\n",
           m->cpu, m->cores, o->threads, ride_cv_version(), m->date);
    printf("Median of %d runs, each >= %.2f s of back-to-back calls. MB/s counts input bytes.\n\n",
           o->runs, o->min_time);
    printf("| kernel | input | size | RIDE frames/s | RIDE MB/s | OpenCV frames/s | OpenCV MB/s "
           "| RIDE/OpenCV |\n");
    printf("|---|---|---|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < n; i++) {
        const result *r = &res[i];
        printf("| %s | %s | %ux%u | %.1f | %.0f | %.1f | %.0f | %.2f |\n", r->op->name,
               ride_pixel_format_name(r->op->input), r->size, r->size, 1.0 / r->ride_s,
               r->input_bytes / r->ride_s / 1e6, 1.0 / r->cv_s, r->input_bytes / r->cv_s / 1e6,
               r->cv_s / r->ride_s);
    }
}

/* The CPU name is the only free text; it is written with quotes and
 * backslashes escaped and control characters dropped. */
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

static int write_json(const char *path, const options *o, const machine *m, const result *res,
                      int n, const render_result *renders, int nrenders)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "{\n  \"cpu\": ");
    json_string(f, m->cpu);
    fprintf(f, ",\n  \"cores\": %d,\n  \"threads\": %d,\n  \"opencv\": ", m->cores, o->threads);
    json_string(f, ride_cv_version());
    fprintf(f, ",\n  \"date\": \"%s\",\n  \"runs\": %d,\n  \"min_time_s\": %.3f,\n  \"results\": [\n",
            m->date, o->runs, o->min_time);
    for (int i = 0; i < n; i++) {
        const result *r = &res[i];
        fprintf(f,
                "    {\"kernel\": \"%s\", \"input\": \"%s\", \"width\": %u, \"height\": %u, "
                "\"ride_fps\": %.3f, \"ride_mb_s\": %.3f, \"opencv_fps\": %.3f, "
                "\"opencv_mb_s\": %.3f, \"ratio\": %.4f}%s\n",
                r->op->name, ride_pixel_format_name(r->op->input), r->size, r->size,
                1.0 / r->ride_s, r->input_bytes / r->ride_s / 1e6, 1.0 / r->cv_s,
                r->input_bytes / r->cv_s / 1e6, r->cv_s / r->ride_s, i + 1 < n ? "," : "");
    }
    fprintf(f, "  ],\n  \"synthetic_render_1_thread\": [\n");
    for (int i = 0; i < nrenders; i++)
        fprintf(f, "    {\"width\": %u, \"height\": %u, \"fps\": %.3f, \"mb_s\": %.3f}%s\n",
                renders[i].size, renders[i].size, 1.0 / renders[i].seconds,
                renders[i].frame_bytes / renders[i].seconds / 1e6, i + 1 < nrenders ? "," : "");
    fprintf(f, "  ]\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

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

static int parse_sizes(const char *s, options *o)
{
    char buf[256];
    if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf)
        return -1;
    o->nsizes = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        long v;
        if (o->nsizes == MAX_SIZES || parse_long(tok, 1, 16384, &v) != 0)
            return -1;
        o->sizes[o->nsizes++] = (uint32_t)v;
    }
    return o->nsizes > 0 ? 0 : -1;
}

static int parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (!v)
            return -1;
        if (strcmp(a, "--runs") == 0 && parse_long(v, 1, MAX_RUNS, &n) == 0)
            o->runs = (int)n;
        else if (strcmp(a, "--threads") == 0 && parse_long(v, 0, 1024, &n) == 0)
            o->threads = (int)n;
        else if (strcmp(a, "--min-time") == 0 && parse_long(v, 1, 60000, &n) == 0)
            o->min_time = (double)n / 1000.0;
        else if (strcmp(a, "--sizes") == 0 && parse_sizes(v, o) == 0)
            ;
        else if (strcmp(a, "--json") == 0)
            o->json = v;
        else
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    options o = {.runs = 7, .min_time = 0.3, .sizes = {900, 1600, 2500}, .nsizes = 3};
    if (parse_args(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: %s [--runs 1..%d] [--min-time MILLISECONDS] [--threads N (0: all "
                        "cores)] [--sizes W,W,...] [--json FILE]\n",
                argv[0], MAX_RUNS);
        return 2;
    }
    o.threads = ride_cpu_threads(o.threads);
    ride_cv_set_threads(o.threads);
    machine m;
    describe_machine(&m);

    result res[MAX_SIZES * NOPS];
    render_result renders[MAX_SIZES];
    int n = 0;
    for (int s = 0; s < o.nsizes; s++) {
        uint32_t size = o.sizes[s];
        ride_image bgr = {0}, gray = {0};
        if (ride_synthetic_render(1, 0, size, size, &bgr) != 0 ||
            ride_cpu_grayscale(&bgr, &gray, o.threads) != 0) {
            fprintf(stderr, "cannot make a %ux%u input\n", size, size);
            return 1;
        }
        check_grayscale(&bgr, o.threads);
        measure_render(&o, &bgr, &renders[s]);
        for (size_t i = 0; i < NOPS; i++) {
            const ride_image *in = ops[i].input == RIDE_PIX_GRAY8 ? &gray : &bgr;
            result *r = &res[n++];
            r->op = &ops[i];
            r->size = size;
            r->input_bytes = (double)ride_image_size(in);
            measure(&o, &ops[i], in, r);
            fprintf(stderr, "%s %s %ux%u done\n", ops[i].name,
                    ride_pixel_format_name(ops[i].input), size, size);
        }
        ride_image_free(&gray);
        ride_image_free(&bgr);
    }
    print_table(&o, &m, res, n);
    print_render_table(renders, o.nsizes);
    if (o.json && write_json(o.json, &o, &m, res, n, renders, o.nsizes) != 0) {
        fprintf(stderr, "cannot write %s\n", o.json);
        return 1;
    }
    return 0;
}
