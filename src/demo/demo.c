/* ride-demo: RIDE's data path in one process.
 *
 * Synthetic cameras render frames; each frame is serialised into wire-format
 * messages (chunked when larger than a message), which are spread round-robin
 * over in-memory partitions; each partition reassembles and validates its frames,
 * which then run through grayscale and stddev (on a GPU when there is one).
 * Sequence numbers are checked per stream, every Nth result is written as PNG,
 * and the run ends with frames/s, per-step costs and latency percentiles. */
#include "ride/clock.h"
#include "ride/frame.h"
#include "ride/gpu.h"
#include "ride/image.h"
#include "ride/kernels.h"
#include "ride/log.h"
#include "ride/synthetic.h"

#include "opencv_c.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef struct demo_options {
    const char *out_dir;
    unsigned streams;
    uint64_t frames;  /* per stream */
    uint32_t width, height;
    int ksize;
    unsigned partitions;
    uint64_t png_every;
    ride_encoding encoding;
    size_t max_message;
    int threads;
} demo_options;

enum demo_step { STEP_RENDER, STEP_WIRE, STEP_GRAY, STEP_STDDEV, STEP_PNG, STEP_COUNT };
static const char *const step_names[STEP_COUNT] = {"render", "wire", "grayscale", "stddev",
                                                   "png"};

typedef struct demo_stream {
    uint64_t next_seq;
    uint64_t missing;
    uint64_t duplicates;
} demo_stream;

typedef struct demo_state {
    const demo_options *opt;
    int use_gpu;
    ride_frame_assembler **partitions;
    unsigned partition;  /* where the frame being written goes */
    demo_stream *streams;
    ride_image gray, sd;
    ride_frame received;
    uint64_t produced, processed, rejected, messages, wire_bytes, pngs;
    uint64_t rejected_by[RIDE_FRAME_STATUS_COUNT];
    double step_seconds[STEP_COUNT];
    double *latency_ms;
    int failed;
} demo_state;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ride-demo [options]\n"
            "  --out DIR          where result PNGs go (default demo-out)\n"
            "  --streams N        synthetic cameras (default 2)\n"
            "  --frames N         frames per camera (default 150)\n"
            "  --size WxH         frame size (default 900x900)\n"
            "  --ksize K          stddev window, odd 1..%d (default 5)\n"
            "  --partitions N     partitions the frames are spread over (default 6)\n"
            "  --png-every N      write every Nth result per camera (default 30; 0: none)\n"
            "  --encoding E       payload encoding: raw, jpeg or png (default raw)\n"
            "  --max-message B    largest message in bytes (default %u)\n"
            "  --threads N        CPU kernel threads, 0 = all cores (default 0)\n",
            RIDE_STDDEV_MAX_KSIZE, RIDE_FRAME_DEFAULT_MAX_MESSAGE);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_size(const char *s, uint32_t *w, uint32_t *h)
{
    unsigned long long a, b;
    char x, tail;
    if (sscanf(s, "%llu%c%llu%c", &a, &x, &b, &tail) != 3 || x != 'x' || a == 0 || b == 0 ||
        a > RIDE_IMAGE_MAX_DIM || b > RIDE_IMAGE_MAX_DIM)
        return -1;
    *w = (uint32_t)a;
    *h = (uint32_t)b;
    return 0;
}

static int parse_encoding(const char *s, ride_encoding *out)
{
    static const struct { const char *name; ride_encoding enc; } names[] = {
        {"raw", RIDE_ENC_RAW}, {"jpeg", RIDE_ENC_JPEG}, {"png", RIDE_ENC_PNG}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].enc;
            return 0;
        }
    }
    return -1;
}

static int parse_options(int argc, char **argv, demo_options *o)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},        {"streams", required_argument, NULL, 's'},
        {"frames", required_argument, NULL, 'n'},     {"size", required_argument, NULL, 'z'},
        {"ksize", required_argument, NULL, 'k'},      {"partitions", required_argument, NULL, 'p'},
        {"png-every", required_argument, NULL, 'e'},  {"encoding", required_argument, NULL, 'c'},
        {"max-message", required_argument, NULL, 'm'}, {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0}};
    *o = (demo_options){.out_dir = "demo-out", .streams = 2, .frames = 150, .width = 900,
                        .height = 900, .ksize = 5, .partitions = 6, .png_every = 30,
                        .encoding = RIDE_ENC_RAW, .max_message = RIDE_FRAME_DEFAULT_MAX_MESSAGE};
    int c, idx = 0;
    uint64_t v;
    while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
        int bad = 0;
        switch (c) {
        case 'o': o->out_dir = optarg; break;
        case 's': bad = parse_u64(optarg, 1024, &v) || v == 0; o->streams = (unsigned)v; break;
        case 'n': bad = parse_u64(optarg, 10000000, &v) || v == 0; o->frames = v; break;
        case 'z': bad = parse_size(optarg, &o->width, &o->height); break;
        case 'k':
            bad = parse_u64(optarg, RIDE_STDDEV_MAX_KSIZE, &v) || v % 2 == 0;
            o->ksize = (int)v;
            break;
        case 'p': bad = parse_u64(optarg, 4096, &v) || v == 0; o->partitions = (unsigned)v; break;
        case 'e': bad = parse_u64(optarg, UINT64_MAX, &o->png_every); break;
        case 'c': bad = parse_encoding(optarg, &o->encoding); break;
        case 'm':
            bad = parse_u64(optarg, SIZE_MAX, &v) || v <= RIDE_FRAME_HEADER_LEN;
            o->max_message = (size_t)v;
            break;
        case 't': bad = parse_u64(optarg, 1024, &v); o->threads = (int)v; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
        if (bad) {
            fprintf(stderr, "ride-demo: invalid value '%s' for --%s\n", optarg, longopts[idx].name);
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "ride-demo: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

static void count_reject(void *ctx, const ride_frame_reject *r)
{
    demo_state *st = ctx;
    st->rejected++;
    st->rejected_by[r->status]++;
    if (r->id_known)
        ride_log_warn("frame_rejected", "reason=%s stream=%" PRIu32 " seq=%" PRIu64,
                      ride_frame_status_reason(r->status), r->stream_id, r->seq);
    else
        ride_log_warn("frame_rejected", "reason=%s", ride_frame_status_reason(r->status));
}

static void track_sequence(demo_state *st, uint32_t stream_id, uint64_t seq)
{
    demo_stream *s = &st->streams[stream_id];
    if (seq < s->next_seq) {
        s->duplicates++;
        return;
    }
    s->missing += seq - s->next_seq;
    s->next_seq = seq + 1;
}

static int write_png(demo_state *st, const ride_frame *f)
{
    char path[4096], err[256];
    snprintf(path, sizeof path, "%s/gen%" PRIu32 "-%06" PRIu64 ".png", st->opt->out_dir,
             f->stream_id, f->seq);
    if (ride_cv_write_file(path, &st->sd, err, sizeof err) != 0) {
        fprintf(stderr, "ride-demo: %s\n", err);
        return -1;
    }
    st->pngs++;
    return 0;
}

static int run_kernels(demo_state *st, const ride_image *in)
{
    double t0 = now_seconds();
    int rc = st->use_gpu ? ride_cuda_grayscale(in, &st->gray)
                         : ride_cpu_grayscale(in, &st->gray, st->opt->threads);
    double t1 = now_seconds();
    if (rc == 0)
        rc = st->use_gpu ? ride_cuda_stddev(&st->gray, &st->sd, st->opt->ksize)
                         : ride_cpu_stddev(&st->gray, &st->sd, st->opt->ksize, st->opt->threads);
    double t2 = now_seconds();
    st->step_seconds[STEP_GRAY] += t1 - t0;
    st->step_seconds[STEP_STDDEV] += t2 - t1;
    return rc;
}

/* A partition's consumer: every message goes through the same validation a worker
 * applies to what it reads from Kafka. */
static int deliver_message(void *ctx, const uint8_t *msg, size_t len)
{
    demo_state *st = ctx;
    st->messages++;
    st->wire_bytes += len;
    ride_frame_status rc =
        ride_frame_assembler_push(st->partitions[st->partition], msg, len, &st->received);
    if (rc != RIDE_FRAME_OK)
        return 0;  /* INCOMPLETE, or a reject already counted through count_reject */
    const ride_frame *f = &st->received;
    if (run_kernels(st, &f->image) != 0) {
        fprintf(stderr, "ride-demo: kernel failed on stream %" PRIu32 " seq %" PRIu64 "\n",
                f->stream_id, f->seq);
        st->failed = 1;
        return -1;
    }
    st->latency_ms[st->processed] = (double)(ride_clock_wall_ns() - f->capture_ns) / 1e6;
    st->processed++;
    track_sequence(st, f->stream_id, f->seq);
    if (st->opt->png_every && f->seq % st->opt->png_every == 0) {
        double t0 = now_seconds();
        if (write_png(st, f) != 0) {
            st->failed = 1;
            return -1;
        }
        st->step_seconds[STEP_PNG] += now_seconds() - t0;
    }
    return 0;
}

static int produce_frame(demo_state *st, ride_image *canvas, uint32_t stream_id, uint64_t seq)
{
    const demo_options *o = st->opt;
    double t0 = now_seconds();
    if (ride_synthetic_render(stream_id, seq, o->width, o->height, canvas) != 0) {
        fprintf(stderr, "ride-demo: cannot render a %ux%u frame\n", o->width, o->height);
        return -1;
    }
    ride_frame f = {.image = *canvas, .stream_id = stream_id, .seq = seq, .capture_ns = ride_clock_wall_ns()};
    ride_frame_write_opts wo = {.encoding = o->encoding, .quality = -1,
                                .max_message_bytes = o->max_message};
    char err[256];
    double t1 = now_seconds();
    double kernels_before = st->step_seconds[STEP_GRAY] + st->step_seconds[STEP_STDDEV] +
                            st->step_seconds[STEP_PNG];
    int rc = ride_frame_write(&f, &wo, deliver_message, st, err, sizeof err);
    double kernels_after = st->step_seconds[STEP_GRAY] + st->step_seconds[STEP_STDDEV] +
                           st->step_seconds[STEP_PNG];
    st->step_seconds[STEP_RENDER] += t1 - t0;
    st->step_seconds[STEP_WIRE] += (now_seconds() - t1) - (kernels_after - kernels_before);
    st->produced++;
    st->partition = (st->partition + 1) % o->partitions;
    if (rc != 0 && !st->failed)
        fprintf(stderr, "ride-demo: cannot serialise frame: %s\n", err);
    return rc != 0 ? -1 : 0;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, uint64_t n, double p)
{
    if (n == 0)
        return 0;
    uint64_t i = (uint64_t)(p * (double)(n - 1) + 0.5);
    return sorted[i];
}

static uint64_t total_missing(const demo_state *st, uint64_t *duplicates)
{
    uint64_t missing = 0;
    *duplicates = 0;
    for (unsigned s = 0; s < st->opt->streams; s++) {
        /* Frames never seen at the end of a stream are missing too. */
        missing += st->streams[s].missing + (st->opt->frames - st->streams[s].next_seq);
        *duplicates += st->streams[s].duplicates;
    }
    return missing;
}

static void print_summary(demo_state *st, double elapsed)
{
    const demo_options *o = st->opt;
    uint64_t duplicates, missing = total_missing(st, &duplicates);
    char device[256] = "CPU";
    if (st->use_gpu && ride_gpu_device_name(0, device, sizeof device) != 0)
        snprintf(device, sizeof device, "GPU");
    qsort(st->latency_ms, st->processed, sizeof *st->latency_ms, compare_double);

    printf("\nRIDE demo: %u synthetic camera(s) %ux%u, %" PRIu64 " frames each, %u partitions, "
           "%s payload\n",
           o->streams, o->width, o->height, o->frames, o->partitions,
           o->encoding == RIDE_ENC_RAW ? "raw" : o->encoding == RIDE_ENC_JPEG ? "jpeg" : "png");
    printf("kernels: grayscale -> stddev (k=%d) on %s", o->ksize, device);
    if (!st->use_gpu)
        printf(" with %d thread(s)", ride_cpu_threads(o->threads));
    printf("\nframes: produced %" PRIu64 ", processed %" PRIu64 ", rejected %" PRIu64
           ", missing %" PRIu64 ", duplicates %" PRIu64 "\n",
           st->produced, st->processed, st->rejected, missing, duplicates);
    for (int r = 0; r < RIDE_FRAME_STATUS_COUNT; r++)
        if (st->rejected_by[r])
            printf("  rejected reason=%s: %" PRIu64 "\n",
                   ride_frame_status_reason((ride_frame_status)r), st->rejected_by[r]);
    printf("wire: %" PRIu64 " messages, %.2f per frame, %.2f MB per frame\n", st->messages,
           (double)st->messages / (double)(st->produced ? st->produced : 1),
           (double)st->wire_bytes / 1e6 / (double)(st->produced ? st->produced : 1));
    printf("throughput: %.1f frames/s end to end (%.1f s)\n", (double)st->processed / elapsed,
           elapsed);
    printf("mean cost per frame:");
    for (int s = 0; s < STEP_COUNT; s++) {
        uint64_t n = s == STEP_PNG ? st->pngs : st->produced;
        if (n)
            printf(" %s %.2f ms%s", step_names[s], st->step_seconds[s] * 1e3 / (double)n,
                   s + 1 < STEP_COUNT ? "," : "");
    }
    printf("\nlatency capture -> stddev done: p50 %.2f ms, p99 %.2f ms\n",
           percentile(st->latency_ms, st->processed, 0.50),
           percentile(st->latency_ms, st->processed, 0.99));
    printf("output: %" PRIu64 " PNG file(s) in %s/\n", st->pngs, o->out_dir);
}

static int make_out_dir(const char *dir)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "ride-demo: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int setup(demo_state *st, const demo_options *o)
{
    memset(st, 0, sizeof *st);
    st->opt = o;
    st->streams = calloc(o->streams, sizeof *st->streams);
    st->partitions = calloc(o->partitions, sizeof *st->partitions);
    st->latency_ms = calloc(o->frames * o->streams, sizeof *st->latency_ms);
    if (!st->streams || !st->partitions || !st->latency_ms)
        return -1;
    for (unsigned p = 0; p < o->partitions; p++) {
        st->partitions[p] = ride_frame_assembler_new(RIDE_FRAME_MAX_FRAME_BYTES, count_reject, st);
        if (!st->partitions[p])
            return -1;
    }
    st->use_gpu = ride_gpu_available();
    return 0;
}

static void teardown(demo_state *st)
{
    if (st->partitions)
        for (unsigned p = 0; p < st->opt->partitions; p++)
            ride_frame_assembler_free(st->partitions[p]);
    free(st->partitions);
    free(st->streams);
    free(st->latency_ms);
    ride_image_free(&st->gray);
    ride_image_free(&st->sd);
    ride_frame_free(&st->received);
}

int main(int argc, char **argv)
{
    demo_options o;
    setvbuf(stdout, NULL, _IOLBF, 0);  /* keep the summary in order with log lines */
    ride_log_set_component("demo");
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    if (o.png_every && make_out_dir(o.out_dir) != 0)
        return 1;
    demo_state st;
    if (setup(&st, &o) != 0) {
        fprintf(stderr, "ride-demo: out of memory\n");
        teardown(&st);
        return 1;
    }
    ride_image canvas = {0};
    double start = now_seconds();
    int rc = 0;
    for (uint64_t seq = 0; seq < o.frames && rc == 0; seq++)
        for (uint32_t s = 0; s < o.streams && rc == 0; s++)
            rc = produce_frame(&st, &canvas, s, seq);
    double elapsed = now_seconds() - start;
    ride_image_free(&canvas);
    if (rc == 0)
        print_summary(&st, elapsed);
    uint64_t duplicates, missing = total_missing(&st, &duplicates);
    int ok = rc == 0 && missing == 0 && duplicates == 0 && st.rejected == 0;
    teardown(&st);
    return ok ? 0 : 1;
}
