/* task_facedetect.c - the facedetect task: OpenCV's cascade classifier
 * (CascadeClassifier::detectMultiScale, through the OpenCV shim) finds faces; the
 * frame goes on unchanged, the boxes travel as its metadata (docs/tasks.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "media/opencv_c.h"
#include "ride/task.h"
#include "tasks/task_support.h"

/* Debian's opencv-data ships the cascade here. */
#define FACEDETECT_DEFAULT_CASCADE                                                              \
    "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"
/* Boxes kept per frame: the largest ones when more are found. Each box is at
 * most 52 bytes of JSON, so 256 of them stay within RIDE_TASK_MAX_METADATA. */
#define FACEDETECT_MAX_FACES 256

typedef struct facedetect_state {
    ride_cv_cascade *cascade;
    ride_cv_detect_opts opts;
    ride_cv_rect kept[FACEDETECT_MAX_FACES];
    char json[RIDE_TASK_MAX_METADATA + 1];
} facedetect_state;

static void facedetect_destroy(void *state)
{
    facedetect_state *s = state;
    if (s)
        ride_cv_cascade_free(s->cascade);
    free(s);
}

static int read_opts(const ride_task_params *params, const ride_task_host *host,
                     ride_cv_detect_opts *o, char *err, size_t errlen)
{
    int64_t neighbors = 0, min_size = 0, max_size = 0;
    if (host->get_double(params, "scale_factor", &o->scale_factor) != 0 ||
        host->get_int(params, "min_neighbors", &neighbors) != 0 ||
        host->get_int(params, "min_size", &min_size) != 0 ||
        host->get_int(params, "max_size", &max_size) != 0)
        return snprintf(err, errlen, "facedetect: parameters missing"), -1;
    if (max_size != 0 && max_size < min_size)
        return snprintf(err, errlen, "facedetect: max_size %lld is below min_size %lld",
                        (long long)max_size, (long long)min_size),
               -1;
    o->min_neighbors = (int)neighbors;
    o->min_size = (int)min_size;
    o->max_size = (int)max_size;
    return 0;
}

/* A missing file is told apart from one OpenCV cannot read as a cascade. */
static ride_cv_cascade *load_cascade(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "facedetect: cascade '%s': %s", path, strerror(errno));
        return NULL;
    }
    fclose(f);
    char why[200];
    ride_cv_cascade *c = ride_cv_cascade_load(path, why, sizeof why);
    if (!c)
        snprintf(err, errlen, "facedetect: cascade '%s': %s", path, why);
    return c;
}

static int facedetect_init(const ride_task_params *params, const ride_task_env *env,
                           void **state, char *err, size_t errlen)
{
    const char *path = NULL;
    if (env->host->get_string(params, "cascade", &path) != 0)
        return snprintf(err, errlen, "facedetect: parameter 'cascade' missing"), -1;
    facedetect_state *s = calloc(1, sizeof *s);
    if (!s)
        return snprintf(err, errlen, "out of memory"), -1;
    if (read_opts(params, env->host, &s->opts, err, errlen) != 0 ||
        !(s->cascade = load_cascade(path, err, errlen))) {
        facedetect_destroy(s);
        return -1;
    }
    *state = s;
    return 0;
}

/* Largest first, then top to bottom and left to right: detectMultiScale's own
 * order depends on how its threads interleave, and the same frame must give the
 * same document every time. */
static int larger_first(const void *a, const void *b)
{
    const ride_cv_rect *x = a, *y = b;
    int64_t ax = (int64_t)x->width * x->height, ay = (int64_t)y->width * y->height;
    if (ax != ay)
        return (ax < ay) - (ax > ay);
    if (x->y != y->y)
        return (x->y > y->y) - (x->y < y->y);
    if (x->x != y->x)
        return (x->x > y->x) - (x->x < y->x);
    return (x->width > y->width) - (x->width < y->width);
}

/* The boxes to report, in larger_first order: all of them, or the
 * FACEDETECT_MAX_FACES largest. */
static size_t keep_faces(facedetect_state *s, const ride_cv_rect *found, size_t count)
{
    if (count <= FACEDETECT_MAX_FACES) {
        /* No boxes may come as a NULL array. */
        if (count > 0)
            memcpy(s->kept, found, count * sizeof *found);
        qsort(s->kept, count, sizeof *s->kept, larger_first);
        return count;
    }
    ride_cv_rect *all = malloc(count * sizeof *all);
    if (!all)
        return 0;
    memcpy(all, found, count * sizeof *found);
    qsort(all, count, sizeof *all, larger_first);
    memcpy(s->kept, all, sizeof s->kept);
    free(all);
    return FACEDETECT_MAX_FACES;
}

/* {"faces":[{"x":..,"y":..,"width":..,"height":..},...],"truncated":false}. */
static size_t format_faces(facedetect_state *s, size_t kept, int truncated)
{
    size_t cap = sizeof s->json, n = (size_t)snprintf(s->json, cap, "{\"faces\":[");
    for (size_t i = 0; i < kept && n < cap; i++) {
        const ride_cv_rect *r = &s->kept[i];
        n += (size_t)snprintf(s->json + n, cap - n,
                              "%s{\"x\":%d,\"y\":%d,\"width\":%d,\"height\":%d}", i ? "," : "",
                              (int)r->x, (int)r->y, (int)r->width, (int)r->height);
    }
    if (n < cap)
        n += (size_t)snprintf(s->json + n, cap - n, "],\"truncated\":%s}",
                              truncated ? "true" : "false");
    return n;
}

static int facedetect_process(void *state, const ride_task_input *in, ride_task_output *out,
                              char *err, size_t errlen)
{
    facedetect_state *s = state;
    const ride_image *src = in->image;
    if (out->struct_size < RIDE_TASK_OUTPUT_METADATA_SIZE)
        return snprintf(err, errlen, "facedetect: this host cannot attach metadata to frames"),
               -1;
    const ride_cv_rect *found = NULL;
    size_t count = 0;
    char why[200];
    if (ride_cv_cascade_detect(s->cascade, src, &s->opts, &found, &count, why, sizeof why) != 0)
        return snprintf(err, errlen, "facedetect: %s, got %s", why,
                        ride_pixel_format_name(src->format)),
               -1;
    size_t kept = keep_faces(s, found, count);
    if (count > 0 && kept == 0)
        return snprintf(err, errlen, "facedetect: out of memory for %zu boxes", count), -1;
    size_t len = format_faces(s, kept, kept < count);
    if (out->set_metadata(out->metadata_ctx, s->json, len, why, sizeof why) != 0)
        return snprintf(err, errlen, "facedetect: %s", why), -1;
    if (ride_task_shape_output(out, src->format, src->width, src->height, err, errlen) != 0)
        return -1;
    if (ride_cpu_passthrough(src, out->image) < 0)
        return snprintf(err, errlen, "facedetect: copying the image failed"), -1;
    return 0;
}

static const ride_task_param facedetect_params[] = {
    {
        .name = "scale_factor",
        .type = RIDE_PARAM_FLOAT,
        .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX,
        .default_value = "1.1",
        .min = 1.01,
        .max = 2,
        .help = "size step between the searched face sizes (smaller: slower, finer)",
    },
    {
        .name = "min_neighbors",
        .type = RIDE_PARAM_INT,
        .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX,
        .default_value = "3",
        .min = 0,
        .max = 100,
        .help = "overlapping detections a face needs to be kept (0: every raw detection)",
    },
    {
        .name = "min_size",
        .type = RIDE_PARAM_INT,
        .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX,
        .default_value = "30",
        .min = 0,
        .max = RIDE_IMAGE_MAX_DIM,
        .help = "smallest face side in pixels (0: the cascade's own window)",
    },
    {
        .name = "max_size",
        .type = RIDE_PARAM_INT,
        .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX,
        .default_value = "0",
        .min = 0,
        .max = RIDE_IMAGE_MAX_DIM,
        .help = "largest face side in pixels (0: unbounded)",
    },
    {
        .name = "cascade",
        .type = RIDE_PARAM_STRING,
        .default_value = FACEDETECT_DEFAULT_CASCADE,
        .help = "cascade classifier file (OpenCV XML); default: opencv-data's frontal faces",
    },
};

const ride_task_descriptor ride_task_facedetect = {
    .abi_version = RIDE_TASK_ABI_VERSION,
    .struct_size = sizeof(ride_task_descriptor),
    .name = "facedetect",
    .description = "finds faces with a Haar cascade; the frame passes unchanged, the boxes "
                   "travel as its metadata",
    .devices = RIDE_TASK_CPU,
    .param_size = sizeof(ride_task_param),
    .params = facedetect_params,
    .param_count = sizeof facedetect_params / sizeof facedetect_params[0],
    .init = facedetect_init,
    .process = facedetect_process,
    .destroy = facedetect_destroy,
};
