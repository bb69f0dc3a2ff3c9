/* bench_tasks.c - the rows of ride-bench-kernels: each built-in task with the
 * params it is measured with and the OpenCV calls that do the same work. Adding a
 * task is adding one entry to `tasks`. */
#include "bench.h"
#include "kernels/kernels.h"
#include "media/opencv_c.h"
#include "tasks/host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cv_failed(const ride_bench_task *t, char *err, size_t errlen)
{
    snprintf(err, errlen, "OpenCV %s failed", t->label);
    return -1;
}

static int cv_grayscale(const ride_bench_task *t, ride_bench_cv_scratch *s, const ride_image *in,
                        ride_image *out, char *err, size_t errlen)
{
    (void)s;
    return ride_cv_ref_grayscale(in, out) == 0 ? 0 : cv_failed(t, err, errlen);
}

static int cv_stddev(const ride_bench_task *t, ride_bench_cv_scratch *s, const ride_image *in,
                     ride_image *out, char *err, size_t errlen)
{
    (void)s;
    return ride_cv_ref_stddev(in, t->cv_arg, out) == 0 ? 0 : cv_failed(t, err, errlen);
}

uint32_t ride_bench_out_side(const ride_bench_task *t, uint32_t side)
{
    uint64_t num = t->out_den ? t->out_num : 1, den = t->out_den ? t->out_den : 2;
    return (uint32_t)((side * num + den - 1) / den);
}

/* cv::resize to the size the resize and transcode rows ask. */
static int cv_resize_to(const ride_bench_task *t, const ride_image *in, ride_image *out,
                        ride_cv_interp interp, char *err, size_t errlen)
{
    if (ride_image_ensure(out, in->format, ride_bench_out_side(t, in->width),
                          ride_bench_out_side(t, in->height)) != 0)
        return cv_failed(t, err, errlen);
    return ride_cv_resize(in, out, interp, err, errlen);
}

static int cv_resize(const ride_bench_task *t, ride_bench_cv_scratch *s, const ride_image *in,
                     ride_image *out, char *err, size_t errlen)
{
    (void)s;
    return cv_resize_to(t, in, out, RIDE_CV_INTER_LINEAR, err, errlen);
}

static int cv_gaussian(const ride_bench_task *t, ride_bench_cv_scratch *s, const ride_image *in,
                       ride_image *out, char *err, size_t errlen)
{
    (void)s;
    return ride_cv_ref_gaussian(in, t->cv_arg, 0, out) == 0 ? 0 : cv_failed(t, err, errlen);
}

static int cv_sobel(const ride_bench_task *t, ride_bench_cv_scratch *s, const ride_image *in,
                    ride_image *out, char *err, size_t errlen)
{
    (void)s;
    return ride_cv_ref_sobel(in, t->cv_arg, out) == 0 ? 0 : cv_failed(t, err, errlen);
}

/* The same matrix the matmul task makes for frames of this width. */
static int cv_matmul(const ride_bench_task *t, ride_bench_cv_scratch *s, const ride_image *in,
                     ride_image *out, char *err, size_t errlen)
{
    if (s->matrix_rows != in->width) {
        free(s->matrix);
        s->matrix_rows = 0;
        s->matrix = malloc((size_t)in->width * RIDE_BENCH_MATMUL_COLS * sizeof *s->matrix);
        if (!s->matrix)
            return snprintf(err, errlen, "%s: out of memory", t->label), -1;
        ride_matmul_random_matrix(s->matrix, in->width, RIDE_BENCH_MATMUL_COLS,
                                  RIDE_BENCH_MATMUL_SEED);
        s->matrix_rows = in->width;
    }
    return ride_cv_ref_matmul(in, s->matrix, RIDE_BENCH_MATMUL_COLS, out) == 0
               ? 0
               : cv_failed(t, err, errlen);
}

static int cv_spectrum(const ride_bench_task *t, ride_bench_cv_scratch *s, const ride_image *in,
                       ride_image *out, char *err, size_t errlen)
{
    (void)s;
    return ride_cv_ref_spectrum(in, 1, out) == 0 ? 0 : cv_failed(t, err, errlen);
}

/* cv::resize (area, as the task shrinks) and cv::imencode to JPEG. */
static int cv_transcode(const ride_bench_task *t, ride_bench_cv_scratch *s, const ride_image *in,
                        ride_image *out, char *err, size_t errlen)
{
    (void)s;
    uint8_t *jpeg = NULL;
    size_t len = 0;
    if (cv_resize_to(t, in, out, RIDE_CV_INTER_AREA, err, errlen) != 0 ||
        ride_cv_encode(out, RIDE_CV_JPEG, t->cv_arg, &jpeg, &len, err, errlen) != 0)
        return -1;
    free(jpeg);
    return 0;
}

/* The cascade the facedetect task loads by default: its schema's default. */
static const char *facedetect_cascade(void)
{
    const ride_task_descriptor *d = ride_bench_builtin("facedetect");
    for (uint32_t p = 0; d && p < d->param_count; p++)
        if (strcmp(d->params[p].name, "cascade") == 0)
            return d->params[p].default_value;
    return NULL;
}

/* cv::CascadeClassifier::detectMultiScale with the task's default parameters,
 * the cascade loaded once; the frame passes through as the task's does. */
static int cv_facedetect(const ride_bench_task *t, ride_bench_cv_scratch *s,
                         const ride_image *in, ride_image *out, char *err, size_t errlen)
{
    if (!s->cascade) {
        const char *path = facedetect_cascade();
        if (!(s->cascade = ride_cv_cascade_load(path ? path : "", err, errlen)))
            return -1;
    }
    const ride_cv_detect_opts opts = {.scale_factor = 1.1, .min_neighbors = 3, .min_size = 30};
    const ride_cv_rect *rects;
    size_t found;
    if (ride_cv_cascade_detect(s->cascade, in, &opts, &rects, &found, err, errlen) != 0)
        return -1;
    return ride_cpu_passthrough(in, out) == 0 ? 0 : cv_failed(t, err, errlen);
}

/* Memory estimates (per input byte) read from the kernels: an OpenCV float
 * pipeline holds several full-size float images at once; FFTs hold the frame as
 * floats and the half spectrum as complex numbers. */
static const ride_bench_task tasks[] = {
    {.label = "grayscale", .task = "grayscale", .params = "", .input = RIDE_PIX_BGR8,
     .opencv = cv_grayscale, .bandwidth_bound = true,
     .memory = {.cpu = 0.34, .opencv = 0.34, .gpu_host = 1.7, .device = 2.7}},
    {.label = "stddev k=5", .task = "stddev", .params = "ksize=5", .input = RIDE_PIX_GRAY8,
     .cv_arg = 5, .opencv = cv_stddev, .bandwidth_bound = true, .huge = true,
     .memory = {.cpu = 1, .opencv = 24, .gpu_host = 3, .device = 20}},
    {.label = "stddev k=31", .task = "stddev", .params = "ksize=31", .input = RIDE_PIX_GRAY8,
     .cv_arg = 31, .opencv = cv_stddev, .bandwidth_bound = true,
     .memory = {.cpu = 1, .opencv = 24, .gpu_host = 3, .device = 20}},
    {.label = "stddev k=5", .task = "stddev", .params = "ksize=5", .input = RIDE_PIX_BGR8,
     .cv_arg = 5, .opencv = cv_stddev, .bandwidth_bound = true,
     .memory = {.cpu = 1, .opencv = 24, .gpu_host = 3, .device = 20}},
    {.label = "resize linear to half", .task = "resize", .params = "width={out_w},height={out_h}",
     .input = RIDE_PIX_BGR8, .opencv = cv_resize, .bandwidth_bound = true,
     .memory = {.cpu = 0.3, .opencv = 0.3, .gpu_host = 1.5, .device = 2.5}},
    {.label = "resize linear to 2/3", .task = "resize", .params = "width={out_w},height={out_h}",
     .out_num = 2, .out_den = 3, .input = RIDE_PIX_BGR8, .opencv = cv_resize,
     .bandwidth_bound = true, .memory = {.cpu = 0.5, .opencv = 0.5, .gpu_host = 1.9, .device = 2.9}},
    {.label = "gaussian k=5", .task = "gaussian", .params = "ksize=5", .input = RIDE_PIX_BGR8,
     .cv_arg = 5, .opencv = cv_gaussian, .bandwidth_bound = true,
     .memory = {.cpu = 1.1, .opencv = 2, .gpu_host = 3, .device = 6}},
    {.label = "sobel k=3", .task = "sobel", .params = "ksize=3", .input = RIDE_PIX_GRAY8,
     .cv_arg = 3, .opencv = cv_sobel, .bandwidth_bound = true,
     .memory = {.cpu = 1, .opencv = 7, .gpu_host = 3, .device = 6}},
    {.label = "matmul by 64 columns", .task = "matmul", .params = "with=matrix,size=64,seed=1",
     .input = RIDE_PIX_GRAY8, .opencv = cv_matmul,
     .memory = {.cpu = 4, .opencv = 5, .gpu_host = 1, .device = 10}},
    {.label = "fft log spectrum", .task = "fft", .params = "log=true", .input = RIDE_PIX_GRAY8,
     .opencv = cv_spectrum, .huge = true,
     .memory = {.cpu = 12, .opencv = 30, .gpu_host = 3, .device = 38}},
    {.label = "transcode half, JPEG q85", .task = "transcode",
     .params = "width={out_w},height={out_h},encoding=jpeg,quality=85", .input = RIDE_PIX_BGR8,
     .cv_arg = 85, .opencv = cv_transcode, .encodes = true,
     .memory = {.cpu = 0.5, .opencv = 0.5}},
    {.label = "surf, 2000 strongest", .task = "surf", .params = "", .input = RIDE_PIX_GRAY8,
     .opencv_none = "Debian's OpenCV has no SURF (its xfeatures2d module is not packaged)",
     .memory = {.cpu = 40, .gpu_host = 2, .device = 40}},
    {.label = "facedetect (no faces)", .task = "facedetect", .params = "", .input = RIDE_PIX_BGR8,
     .opencv = cv_facedetect, .no_gpu_path = "a CPU task (OpenCV's cascade)",
     .memory = {.cpu = 2, .opencv = 2}},
    {.label = "passthrough", .task = "passthrough", .params = "", .input = RIDE_PIX_BGR8,
     .opencv_none = "a copy, no OpenCV operation to compare", .bandwidth_bound = true,
     .no_gpu_path = "the task copies on the CPU on either device",
     .memory = {.cpu = 1, .gpu_host = 3, .device = 2}},
};

const ride_task_descriptor *ride_bench_builtin(const char *name)
{
    size_t n;
    const ride_task_descriptor *const *all = ride_task_builtins(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

const ride_bench_task *ride_bench_tasks(size_t *count)
{
    *count = sizeof tasks / sizeof tasks[0];
    return tasks;
}

void ride_bench_cv_scratch_free(ride_bench_cv_scratch *s)
{
    free(s->matrix);
    ride_cv_cascade_free(s->cascade);
    *s = (ride_bench_cv_scratch){0};
}
