/* task_transcode.c - the built-in task `transcode`: resizes a frame (OpenCV) and
 * has the host publish it JPEG- or PNG-encoded (ride_task_output.encoding).
 * Payloads arrive decoded whatever their encoding (a JPEG on CPU lanes maybe at the
 * smaller scale decode_scale accepts), so the task only shapes pixels; the encoding
 * itself happens where the host writes the output frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/opencv_c.h"
#include "ride/task.h"
#include "tasks/task_support.h"
#include "wire/frame.h"

typedef struct transcode_state {
    uint32_t width;  /* 0: derived from height, or kept */
    uint32_t height; /* 0: derived from width, or kept */
    ride_encoding encoding;
    int quality; /* -1 for PNG: the codec's default compression */
} transcode_state;

static const char *const transcode_encodings[] = {"jpeg", "png", NULL};

static int transcode_init(const ride_task_params *params, const ride_task_env *env, void **state,
                          char *err, size_t errlen)
{
    int64_t width, height, quality;
    const char *encoding;
    const ride_task_host *host = env->host;
    if (host->get_int(params, "width", &width) || host->get_int(params, "height", &height) ||
        host->get_int(params, "quality", &quality) ||
        host->get_string(params, "encoding", &encoding))
        return snprintf(err, errlen, "transcode: missing parameters"), -1;
    transcode_state *s = malloc(sizeof *s);
    if (!s)
        return snprintf(err, errlen, "out of memory"), -1;
    s->width = (uint32_t)width;
    s->height = (uint32_t)height;
    s->encoding = strcmp(encoding, "png") == 0 ? RIDE_ENC_PNG : RIDE_ENC_JPEG;
    s->quality = s->encoding == RIDE_ENC_JPEG ? (int)quality : -1;
    *state = s;
    return 0;
}

static void transcode_destroy(void *state)
{
    free(state);
}

/* The side given as 0 follows the other with the source's aspect ratio (at least
 * one pixel); both 0 keep the source size. */
static void target_size(const transcode_state *s, uint32_t src_w, uint32_t src_h, uint32_t *w,
                        uint32_t *h)
{
    *w = s->width ? s->width : src_w;
    *h = s->height ? s->height : src_h;
    if (s->width && !s->height) {
        uint64_t v = ((uint64_t)src_h * s->width + src_w / 2) / src_w;
        *h = v ? (uint32_t)(v > RIDE_IMAGE_MAX_DIM ? RIDE_IMAGE_MAX_DIM : v) : 1;
    } else if (s->height && !s->width) {
        uint64_t v = ((uint64_t)src_w * s->height + src_h / 2) / src_h;
        *w = v ? (uint32_t)(v > RIDE_IMAGE_MAX_DIM ? RIDE_IMAGE_MAX_DIM : v) : 1;
    }
}

/* A side derived from the aspect ratio may round differently on the scaled image:
 * the scale must leave the output size as it is. */
static bool transcode_scale_fits(const void *state, uint32_t width, uint32_t height,
                                 uint32_t scaled_width, uint32_t scaled_height)
{
    uint32_t w, h, sw, sh;
    target_size(state, width, height, &w, &h);
    target_size(state, scaled_width, scaled_height, &sw, &sh);
    return sw == w && sh == h && scaled_width >= w && scaled_height >= h;
}

static uint32_t transcode_decode_scale(void *state, uint32_t width, uint32_t height)
{
    return ride_task_largest_scale(state, width, height, transcode_scale_fits);
}

static int transcode_process(void *state, const ride_task_input *in, ride_task_output *out,
                             char *err, size_t errlen)
{
    const transcode_state *s = state;
    const ride_image *src = in->image;
    if (out->struct_size < RIDE_TASK_OUTPUT_ENCODING_SIZE)
        return snprintf(err, errlen, "transcode: this host cannot choose the output encoding"), -1;
    ride_frame_write_opts opts = {s->encoding, s->quality, RIDE_FRAME_DEFAULT_MAX_MESSAGE};
    char why[200];
    if (ride_frame_write_opts_check(&opts, src->format, why, sizeof why) != 0)
        return snprintf(err, errlen, "transcode: %s", why), -1;
    uint32_t w, h;
    target_size(s, src->width, src->height, &w, &h);
    if (ride_task_shape_output(out, src->format, w, h, err, errlen) != 0)
        return -1;
    /* Area averaging does not alias when shrinking; it is bilinear when enlarging. */
    bool shrinks = w <= src->width && h <= src->height;
    if (ride_cv_resize(src, out->image, shrinks ? RIDE_CV_INTER_AREA : RIDE_CV_INTER_LINEAR, err,
                       errlen) < 0)
        return -1;
    out->encoding = s->encoding;
    out->quality = s->quality;
    return 0;
}

static const ride_task_param transcode_params[] = {
    {
        .name = "width",
        .type = RIDE_PARAM_INT,
        .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX,
        .default_value = "0",
        .min = 0,
        .max = RIDE_IMAGE_MAX_DIM,
        .help = "output width in pixels; 0: keep, or follow height keeping the aspect ratio",
    },
    {
        .name = "height",
        .type = RIDE_PARAM_INT,
        .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX,
        .default_value = "0",
        .min = 0,
        .max = RIDE_IMAGE_MAX_DIM,
        .help = "output height in pixels; 0: keep, or follow width keeping the aspect ratio",
    },
    {
        .name = "encoding",
        .type = RIDE_PARAM_ENUM,
        .default_value = "jpeg",
        .choices = transcode_encodings,
        .help = "payload encoding of the output frames",
    },
    {
        .name = "quality",
        .type = RIDE_PARAM_INT,
        .flags = RIDE_PARAM_HAS_MIN | RIDE_PARAM_HAS_MAX,
        .default_value = "85",
        .min = 1,
        .max = 100,
        .help = "JPEG quality (png: lossless, ignored)",
    },
};

const ride_task_descriptor ride_task_transcode = {
    .abi_version = RIDE_TASK_ABI_VERSION,
    .struct_size = sizeof(ride_task_descriptor),
    .name = "transcode",
    .description = "resizes frames and publishes them JPEG- or PNG-encoded",
    .devices = RIDE_TASK_CPU,
    .param_size = sizeof(ride_task_param),
    .params = transcode_params,
    .param_count = sizeof transcode_params / sizeof transcode_params[0],
    .init = transcode_init,
    .process = transcode_process,
    .destroy = transcode_destroy,
    .decode_scale = transcode_decode_scale,
};
