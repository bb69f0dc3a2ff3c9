/* render.h - the control API's answers (docs/control-api.md) as text for people:
 * one table per resource, a multi-section view of one application, and the one-line
 * results of changes (docs/ridectl.md shows each).
 *
 * Pure: the answer and the wall clock (for ages) come in, text goes out. Nothing
 * from the server is trusted: a missing key, a wrong type or a value out of range
 * gives NULL and one line in err ("malformed answer from the control API: apps[1]:
 * field 'lag': expected an integer or null"), never a crash. Every scalar may be
 * null (shown as <none>); lists must be arrays. */
#ifndef RIDE_CTL_RENDER_H
#define RIDE_CTL_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Every renderer returns malloc'ed text ending in '\n', or NULL with err filled. */
typedef char *(*ride_ctl_renderer)(const json_t *answer, int64_t now_ms, char *err,
                                   size_t errlen);

/* GET /v1/apps, /v1/workers, /v1/producers, /v1/partitions, /v1/events. */
char *ride_ctl_render_apps(const json_t *answer, int64_t now_ms, char *err, size_t errlen);
char *ride_ctl_render_workers(const json_t *answer, int64_t now_ms, char *err, size_t errlen);
char *ride_ctl_render_producers(const json_t *answer, int64_t now_ms, char *err, size_t errlen);
char *ride_ctl_render_partitions(const json_t *answer, int64_t now_ms, char *err, size_t errlen);
char *ride_ctl_render_events(const json_t *answer, int64_t now_ms, char *err, size_t errlen);
/* GET /v1/apps/<app>. */
char *ride_ctl_render_app_detail(const json_t *answer, int64_t now_ms, char *err, size_t errlen);
/* POST /v1/apps: "application/NAME created|configured|unchanged". */
char *ride_ctl_render_applied(const json_t *answer, int64_t now_ms, char *err, size_t errlen);
/* DELETE /v1/apps/<app>: "application/NAME deleted". */
char *ride_ctl_render_deleted(const json_t *answer, int64_t now_ms, char *err, size_t errlen);
/* POST .../scale: "application/NAME stage STAGE scaled to N workers" (or
 * "scaled automatically" for {"workers": "auto"}). */
char *ride_ctl_render_scaled(const json_t *answer, int64_t now_ms, char *err, size_t errlen);

/* A new {"events": [...]} holding only the events of `app`, at most the last
 * `limit` of them (0: all). NULL with err filled when the answer is malformed. */
json_t *ride_ctl_events_for_app(const json_t *answer, const char *app, int limit, char *err,
                                size_t errlen);

/* A stage's measures as the API serves them (docs/control-api.md, "Measures"):
 * figures < 0 are null (unknown, or an infinite lag_seconds). */
typedef struct ride_ctl_measures {
    double input_fps;
    double service_fps;
    double busy_ratio;
    int64_t lag_frames;
    double lag_seconds;
    const json_t *workers; /* checked: objects with worker, partitions, service_fps, busy_ratio */
} ride_ctl_measures;

/* Reads and checks the measure fields of o (a /v1/stages entry or a stage's
 * "measures"); where names o in the error. 0, or -1 with err filled. */
int ride_ctl_measures_read(const json_t *o, const char *where, ride_ctl_measures *out,
                           char *err, size_t errlen);
/* Frames/s as "25.0"; NULL (<none>) when unknown. buf holds at least 32 bytes. */
const char *ride_ctl_fps_cell(double fps, char *buf, size_t len);
/* A busy ratio as "62%"; NULL when unknown. */
const char *ride_ctl_busy_cell(double ratio, char *buf, size_t len);
/* Lag seconds as "0.4", or "inf" while frames wait and the service rate is 0;
 * NULL when unknown. */
const char *ride_ctl_lag_seconds_cell(const ride_ctl_measures *m, char *buf, size_t len);

/* A duration as kubectl shows ages: "5s", "3m", "2h", "4d", and "250ms" below a
 * second (heartbeats); negative durations (clock skew) show as "0ms". */
void ride_ctl_format_age(int64_t ms, char *buf, size_t len);

#endif
