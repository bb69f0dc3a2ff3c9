/* bench_decode.c - ride-bench-kernels --scaled-decode: what a CPU lane spends on a
 * JPEG frame for a shrinking task, decoded full size then resized, against decoded
 * at the scale the task accepts (libjpeg's DCT scaling) then resized. One thread,
 * as a lane with one kernel thread; the two ways alternate within each run, so
 * that a busy machine slows both alike. */
#include "bench.h"
#include "kernels/kernels.h"
#include "media/opencv_c.h"
#include "media/synthetic.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SIDE 900u
#define QUALITY 90

typedef struct decode_row {
    const char *what;
    uint32_t side;    /* the output is side x side */
    unsigned scale;   /* the largest the task accepts for a SIDE x SIDE frame */
    bool opencv_area; /* transcode: cv::resize INTER_AREA; else ride_cpu_resize */
    ride_interp interp;
} decode_row;

static const decode_row rows[] = {
    {"transcode width=320 (area)", 320, 2, true, RIDE_INTERP_AREA},
    {"resize 225x225 area", 225, 4, false, RIDE_INTERP_AREA},
    {"resize 225x225 linear", 225, 4, false, RIDE_INTERP_LINEAR},
};

typedef struct jpeg {
    uint8_t *bytes;
    size_t len;
} jpeg;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int decode_and_resize(const decode_row *r, const jpeg *j, unsigned scale,
                             ride_image *decoded, ride_image *out)
{
    char err[160];
    if (ride_cv_decode_scaled(j->bytes, j->len, RIDE_PIX_BGR8, scale, UINT64_MAX, decoded, err,
                              sizeof err) != 0) {
        fprintf(stderr, "decode: %s\n", err);
        return -1;
    }
    if (!r->opencv_area)
        return ride_cpu_resize(decoded, out, r->side, r->side, r->interp, 1);
    if (ride_image_ensure(out, decoded->format, r->side, r->side) != 0 ||
        ride_cv_resize(decoded, out, RIDE_CV_INTER_AREA, err, sizeof err) != 0)
        return -1;
    return 0;
}

/* Seconds per frame over back-to-back frames filling min_time; < 0 on failure. */
static double time_frames(const decode_row *r, const jpeg *j, unsigned scale, double min_time)
{
    ride_image decoded = {0}, out = {0};
    long frames = 0;
    int rc = 0;
    double t0 = now_s(), t = t0;
    while (rc == 0 && t - t0 < min_time) {
        rc = decode_and_resize(r, j, scale, &decoded, &out);
        frames++;
        t = now_s();
    }
    ride_image_free(&out);
    ride_image_free(&decoded);
    return rc == 0 ? (t - t0) / (double)frames : -1.0;
}

static int encode_frame(jpeg *j)
{
    ride_image frame = {0};
    char err[160];
    int rc = ride_synthetic_render(1, 1, SIDE, SIDE, &frame) == 0 &&
                     ride_cv_encode(&frame, RIDE_CV_JPEG, QUALITY, &j->bytes, &j->len, err,
                                    sizeof err) == 0
                 ? 0
                 : -1;
    ride_image_free(&frame);
    return rc;
}

static int measure_row(const decode_row *r, const jpeg *j, int runs, double min_time)
{
    double full[RIDE_BENCH_MAX_RUNS], scaled[RIDE_BENCH_MAX_RUNS];
    for (int i = 0; i < runs; i++) {
        full[i] = time_frames(r, j, 1, min_time);
        scaled[i] = time_frames(r, j, r->scale, min_time);
        if (full[i] < 0 || scaled[i] < 0)
            return -1;
    }
    double f = ride_bench_median(full, runs), s = ride_bench_median(scaled, runs);
    printf("| %s | %ux%u | 1/%u | %.2f | %.2f | %.2f |\n", r->what, r->side, r->side, r->scale,
           f * 1e3, s * 1e3, f / s);
    return 0;
}

int ride_bench_scaled_decode(int runs, double min_time)
{
    jpeg j = {0};
    if (runs > RIDE_BENCH_MAX_RUNS || encode_frame(&j) != 0) {
        fprintf(stderr, "cannot encode the %ux%u JPEG frame\n", SIDE, SIDE);
        return -1;
    }
    ride_cv_set_threads(1);
    printf("Decode + resize of a %ux%u synthetic frame, JPEG quality %d (%zu bytes), BGR8, one "
           "thread; median of %d runs of >= %.2f s each.\n\n",
           SIDE, SIDE, QUALITY, j.len, runs, min_time);
    printf("| task | output | scale | full decode ms/frame | scaled decode ms/frame | full / "
           "scaled |\n|---|---|---:|---:|---:|---:|\n");
    int rc = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0] && rc == 0; i++)
        rc = measure_row(&rows[i], &j, runs, min_time);
    free(j.bytes);
    return rc;
}
