/* source.c - the producer's frame sources (source.h). */
#define _GNU_SOURCE
#include "source.h"
#include "base/clock.h"
#include "base/error.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/log.h"
#include "media/opencv_c.h"
#include "media/synthetic.h"

#define DEFAULT_FPS 30.0
#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_BACKOFF_MIN_MS 500
#define DEFAULT_BACKOFF_MAX_MS 10000
#define NS_PER_S 1000000000.0
#define NS_PER_MS INT64_C(1000000)

struct ride_source_reader {
    ride_source_kind kind;
    char *name;
    char *target; /* what the capture opens: the uri, a device or a video file */
    uint32_t stream_id;
    uint64_t next_seq;
    bool loop;

    /* Absolute schedule; fps == 0 means unpaced. */
    double fps;
    bool started;
    int64_t start_ns;
    uint64_t slot;

    uint32_t width, height; /* synthetic */

    ride_cv_capture *cap; /* video file, rtsp, v4l2 */
    uint64_t pass_frames; /* frames read since the file source (re)started */

    char **files; /* image directory or glob, sorted */
    size_t file_count;
    size_t file_index;

    /* Live reconnects. */
    int timeout_ms;
    int64_t backoff_min_ms, backoff_max_ms, backoff_base_ms;
    int64_t next_attempt_ns;
    bool attempted;
    uint64_t rng;

    ride_source_reader_stats stats;
};

static bool is_live(ride_source_kind k)
{
    return k == RIDE_SOURCE_RTSP || k == RIDE_SOURCE_V4L2;
}

/* xorshift64*: per-reader jitter without touching the process's rand() state. */
static uint64_t next_random(ride_source_reader *r)
{
    r->rng ^= r->rng >> 12;
    r->rng ^= r->rng << 25;
    r->rng ^= r->rng >> 27;
    return r->rng * UINT64_C(2685821657736338717);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_file(ride_source_reader *r, size_t *cap, const char *path)
{
    if (r->file_count == *cap) {
        size_t n = *cap ? *cap * 2 : 64;
        char **grown = realloc(r->files, n * sizeof *grown);
        if (!grown)
            return -1;
        r->files = grown;
        *cap = n;
    }
    r->files[r->file_count] = strdup(path);
    if (!r->files[r->file_count])
        return -1;
    r->file_count++;
    return 0;
}

static bool is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Every regular, non-hidden file of the directory (image or not: files that do
 * not decode are counted as unreadable when their turn comes). */
static int list_directory(ride_source_reader *r, const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        ride_set_error(err, errlen, "source %s: cannot open directory %s: %s", r->name, dir,
                strerror(errno));
        return -1;
    }
    size_t cap = 0, dlen = strlen(dir);
    bool slash = dlen > 0 && dir[dlen - 1] == '/';
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *path;
        if (asprintf(&path, "%s%s%s", dir, slash ? "" : "/", e->d_name) < 0) {
            rc = -1;
            break;
        }
        if (is_regular_file(path))
            rc = add_file(r, &cap, path);
        free(path);
    }
    closedir(d);
    if (rc != 0)
        ride_set_error(err, errlen, "source %s: out of memory listing %s", r->name, dir);
    return rc;
}

static int list_glob(ride_source_reader *r, const char *pattern, char *err, size_t errlen)
{
    glob_t g;
    int grc = glob(pattern, 0, NULL, &g);
    if (grc == GLOB_NOMATCH) {
        globfree(&g);
        return 0;
    }
    if (grc != 0) {
        globfree(&g);
        ride_set_error(err, errlen, "source %s: cannot expand %s", r->name, pattern);
        return -1;
    }
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++)
        if (is_regular_file(g.gl_pathv[i]))
            rc = add_file(r, &cap, g.gl_pathv[i]);
    globfree(&g);
    if (rc != 0)
        ride_set_error(err, errlen, "source %s: out of memory listing %s", r->name, pattern);
    return rc;
}

static int open_images(ride_source_reader *r, const ride_source *src, char *err, size_t errlen)
{
    int rc = src->target.kind == RIDE_SOURCE_IMAGE_DIR
                 ? list_directory(r, src->target.path, err, errlen)
                 : list_glob(r, src->target.path, err, errlen);
    if (rc != 0)
        return -1;
    if (r->file_count == 0) {
        ride_set_error(err, errlen, "source %s: no files in %s", r->name, src->target.path);
        return -1;
    }
    /* Byte order, not the locale's collation: the same order on every host. */
    qsort(r->files, r->file_count, sizeof *r->files, compare_names);
    return 0;
}

/* Opens the video file; a missing file is refused before OpenCV probes it,
 * because its fallback backends leak memory on every failed probe. */
static int open_video(ride_source_reader *r, char *err, size_t errlen)
{
    if (!is_regular_file(r->target)) {
        ride_set_error(err, errlen, "source %s: %s is not a readable file", r->name, r->target);
        return -1;
    }
    char why[256] = "";
    r->cap = ride_cv_capture_open(r->target, 0, why, sizeof why);
    if (!r->cap) {
        ride_set_error(err, errlen, "source %s: cannot open video %s: %s", r->name, r->target, why);
        return -1;
    }
    r->pass_frames = 0;
    return 0;
}

static int setup_kind(ride_source_reader *r, const ride_source *src, char *err, size_t errlen)
{
    const char *target = src->uri;
    switch (src->target.kind) {
    case RIDE_SOURCE_SYNTHETIC:
        r->width = src->target.width;
        r->height = src->target.height;
        r->fps = src->target.fps;
        return 0;
    case RIDE_SOURCE_IMAGE_DIR:
    case RIDE_SOURCE_IMAGE_GLOB:
        return open_images(r, src, err, errlen);
    case RIDE_SOURCE_VIDEO_FILE:
        target = src->target.path;
        break;
    case RIDE_SOURCE_RTSP:
    case RIDE_SOURCE_V4L2:
        break;
    default:
        ride_set_error(err, errlen, "source %s: unknown source kind %d", r->name, (int)src->target.kind);
        return -1;
    }
    r->target = strdup(target ? target : "");
    if (!r->target) {
        ride_set_error(err, errlen, "source %s: out of memory", r->name);
        return -1;
    }
    if (src->target.kind == RIDE_SOURCE_VIDEO_FILE) {
        if (open_video(r, err, errlen) != 0)
            return -1;
        r->fps = ride_cv_capture_fps(r->cap);
    }
    return 0;
}

static void apply_opts(ride_source_reader *r, const ride_source_reader_opts *opts)
{
    ride_source_reader_opts o = {0};
    if (opts)
        o = *opts;
    r->stream_id = o.stream_id;
    r->next_seq = o.first_seq;
    r->timeout_ms = o.timeout_ms > 0 ? o.timeout_ms : DEFAULT_TIMEOUT_MS;
    r->backoff_min_ms = o.backoff_min_ms > 0 ? o.backoff_min_ms : DEFAULT_BACKOFF_MIN_MS;
    r->backoff_max_ms = o.backoff_max_ms > 0 ? o.backoff_max_ms : DEFAULT_BACKOFF_MAX_MS;
    if (r->backoff_max_ms < r->backoff_min_ms)
        r->backoff_max_ms = r->backoff_min_ms;
    r->backoff_base_ms = r->backoff_min_ms;
    r->rng = (ride_clock_wall_ns() ^ ((uint64_t)r->stream_id << 32)) | 1;
}

ride_source_reader *ride_source_reader_open(const ride_source *src,
                                            const ride_source_reader_opts *opts, char *err,
                                            size_t errlen)
{
    if (!src || !src->uri) {
        ride_set_error(err, errlen, "source: no source given");
        return NULL;
    }
    ride_source_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->name = strdup(src->name ? src->name : src->uri))) {
        free(r);
        ride_set_error(err, errlen, "source: out of memory");
        return NULL;
    }
    r->kind = src->target.kind;
    r->loop = src->loop;
    apply_opts(r, opts);
    if (setup_kind(r, src, err, errlen) != 0) {
        ride_source_reader_close(r);
        return NULL;
    }
    if (is_live(r->kind) || src->pace == RIDE_PACE_MAX)
        r->fps = 0;
    else if (src->fps > 0)
        r->fps = src->fps;
    else if (r->fps <= 0)
        r->fps = DEFAULT_FPS;
    return r;
}

void ride_source_reader_close(ride_source_reader *r)
{
    if (!r)
        return;
    ride_cv_capture_close(r->cap);
    for (size_t i = 0; i < r->file_count; i++)
        free(r->files[i]);
    free(r->files);
    free(r->target);
    free(r->name);
    free(r);
}

double ride_source_reader_fps(const ride_source_reader *r)
{
    return r->fps;
}

void ride_source_reader_stats_get(const ride_source_reader *r, ride_source_reader_stats *out)
{
    *out = r->stats;
}

/* Sleeps until deadline_ns, or for max_wait_ms when that ends sooner; returns
 * false when the deadline was not reached. */
static bool wait_until(int64_t deadline_ns, int max_wait_ms)
{
    int64_t now = ride_clock_mono_ns();
    if (deadline_ns <= now)
        return true;
    if (max_wait_ms >= 0 && deadline_ns - now > max_wait_ms * NS_PER_MS) {
        ride_clock_sleep_until_ns(now + max_wait_ms * NS_PER_MS);
        return false;
    }
    ride_clock_sleep_until_ns(deadline_ns);
    return true;
}

static int64_t slot_due_ns(const ride_source_reader *r, uint64_t slot)
{
    return r->start_ns + (int64_t)llround((double)slot * NS_PER_S / r->fps);
}

/* Waits for the current slot of the absolute schedule; re-anchors it when the
 * caller is more than one interval late (see source.h). */
static bool wait_for_slot(ride_source_reader *r, int max_wait_ms)
{
    if (r->fps <= 0)
        return true;
    int64_t now = ride_clock_mono_ns();
    if (!r->started) {
        r->started = true;
        r->start_ns = now;
        r->slot = 0;
    }
    int64_t due = slot_due_ns(r, r->slot);
    double interval_ns = NS_PER_S / r->fps;
    if ((double)(now - due) > interval_ns) {
        uint64_t behind = (uint64_t)((double)(now - r->start_ns) / interval_ns);
        if (behind > r->slot)
            r->stats.late += behind - r->slot;
        r->start_ns = now - (int64_t)llround((double)r->slot * interval_ns);
        return true;
    }
    return wait_until(due, max_wait_ms);
}

static void stamp(ride_source_reader *r, ride_frame *out)
{
    out->stream_id = r->stream_id;
    out->seq = r->next_seq++;
    out->capture_ns = ride_clock_wall_ns();
    r->slot++;
    r->pass_frames++;
    r->stats.frames++;
}

static ride_source_read read_synthetic(ride_source_reader *r, ride_frame *out, char *err,
                                       size_t errlen)
{
    if (ride_synthetic_render(r->stream_id, r->next_seq, r->width, r->height, &out->image) != 0) {
        ride_set_error(err, errlen, "source %s: cannot render a %ux%u frame", r->name, r->width,
                r->height);
        return RIDE_SOURCE_ERROR;
    }
    return RIDE_SOURCE_FRAME;
}

/* The end of one pass over a file source: start over when looping, unless the
 * pass gave nothing (looping over it would spin). */
static bool restart_pass(ride_source_reader *r)
{
    if (!r->loop || r->pass_frames == 0)
        return false;
    r->pass_frames = 0;
    r->stats.loops++;
    return true;
}

static ride_source_read read_video(ride_source_reader *r, ride_frame *out, char *err,
                                   size_t errlen)
{
    for (;;) {
        char why[256] = "";
        int rc = ride_cv_capture_read(r->cap, &out->image, why, sizeof why);
        if (rc == 1)
            return RIDE_SOURCE_FRAME;
        if (rc < 0) {
            ride_set_error(err, errlen, "source %s: %s", r->name, why);
            return RIDE_SOURCE_ERROR;
        }
        if (!restart_pass(r))
            return RIDE_SOURCE_EOF;
        ride_cv_capture_close(r->cap);
        r->cap = NULL;
        if (open_video(r, err, errlen) != 0)
            return RIDE_SOURCE_ERROR;
    }
}

static ride_source_read read_image(ride_source_reader *r, ride_frame *out, char *err,
                                   size_t errlen)
{
    for (;;) {
        if (r->file_index == r->file_count) {
            if (r->pass_frames == 0 && r->stats.frames == 0)
                ride_set_error(err, errlen, "source %s: none of its %zu files is a readable image",
                        r->name, r->file_count);
            if (!restart_pass(r))
                return RIDE_SOURCE_EOF;
            r->file_index = 0;
        }
        const char *path = r->files[r->file_index++];
        char why[256] = "";
        if (ride_cv_read_file(path, RIDE_PIX_BGR8, &out->image, why, sizeof why) == 0)
            return RIDE_SOURCE_FRAME;
        r->stats.unreadable++;
        char quoted[512];
        ride_log_warn("source_file_unreadable", "source=%s reason=unreadable path=%s", r->name,
                      ride_log_quote(path, quoted, sizeof quoted));
    }
}

/* Equal jitter: the delay is drawn in [base/2, base] and the base doubles up to
 * the cap, so successive delays never shrink before the cap is reached. */
static void schedule_reconnect(ride_source_reader *r)
{
    int64_t base = r->backoff_base_ms;
    int64_t delay = base / 2 + (int64_t)(next_random(r) % (uint64_t)(base - base / 2 + 1));
    r->stats.last_backoff_ms = delay;
    r->next_attempt_ns = ride_clock_mono_ns() + delay * NS_PER_MS;
    r->backoff_base_ms = base * 2 > r->backoff_max_ms ? r->backoff_max_ms : base * 2;
}

static void drop_stream(ride_source_reader *r)
{
    ride_cv_capture_close(r->cap);
    r->cap = NULL;
    r->stats.connected = 0;
    r->stats.disconnects++;
    r->backoff_base_ms = r->backoff_min_ms;
    schedule_reconnect(r);
}

static ride_source_read read_live(ride_source_reader *r, ride_frame *out, int max_wait_ms,
                                  char *err, size_t errlen)
{
    char why[256] = "";
    if (!r->cap) {
        if (!wait_until(r->next_attempt_ns, max_wait_ms))
            return RIDE_SOURCE_AGAIN;
        if (r->attempted)
            r->stats.reconnects++;
        r->attempted = true;
        r->cap = ride_cv_capture_open(r->target, r->timeout_ms, why, sizeof why);
        if (!r->cap) {
            r->stats.connect_failures++;
            schedule_reconnect(r);
            ride_set_error(err, errlen, "source %s: %s; retrying in %" PRId64 " ms", r->name, why,
                    r->stats.last_backoff_ms);
            return RIDE_SOURCE_AGAIN;
        }
        r->stats.connected = 1;
        r->backoff_base_ms = r->backoff_min_ms;
    }
    int rc = ride_cv_capture_read(r->cap, &out->image, why, sizeof why);
    if (rc == 1)
        return RIDE_SOURCE_FRAME;
    drop_stream(r);
    ride_set_error(err, errlen, "source %s: stream %s: %s; reconnecting in %" PRId64 " ms", r->name,
            rc == 0 ? "ended" : "failed", rc == 0 ? "no frame within the timeout" : why,
            r->stats.last_backoff_ms);
    return RIDE_SOURCE_AGAIN;
}

ride_source_read ride_source_reader_next(ride_source_reader *r, ride_frame *out, int max_wait_ms,
                                         char *err, size_t errlen)
{
    if (!r || !out) {
        ride_set_error(err, errlen, "source: no reader or frame");
        return RIDE_SOURCE_ERROR;
    }
    ride_source_read rc;
    if (is_live(r->kind)) {
        rc = read_live(r, out, max_wait_ms, err, errlen);
    } else {
        if (!wait_for_slot(r, max_wait_ms))
            return RIDE_SOURCE_AGAIN;
        if (r->kind == RIDE_SOURCE_SYNTHETIC)
            rc = read_synthetic(r, out, err, errlen);
        else if (r->kind == RIDE_SOURCE_VIDEO_FILE)
            rc = read_video(r, out, err, errlen);
        else
            rc = read_image(r, out, err, errlen);
    }
    if (rc == RIDE_SOURCE_FRAME)
        stamp(r, out);
    return rc;
}
