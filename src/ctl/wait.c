/* wait.c - waiting for a change to take effect (see wait.h). */
#include "wait.h"

#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#include "client.h"
#include "base/clock.h"

#define PATH_LEN 256
#define PROGRESS_MAX 256
#define WHY_MAX 1024

typedef enum probe_result { PROBE_FAILED = -1, PROBE_WAITING = 0, PROBE_DONE = 1 } probe_result;

/* One look at the cluster: PROBE_FAILED with err filled, or progress filled. */
typedef probe_result (*probe_fn)(const ride_ctl_client *c, const char *app, char *progress,
                                 char *err, size_t errlen);

static probe_result probe_ready(const ride_ctl_client *c, const char *app, char *progress,
                                char *err, size_t errlen)
{
    char path[PATH_LEN];
    snprintf(path, sizeof path, "/v1/apps/%s", app);
    ride_ctl_call call = {.method = "GET", .path = path};
    json_t *answer = NULL;
    if (ride_ctl_client_call(c, &call, &answer, err, errlen) != 0)
        return PROBE_FAILED;
    const char *phase = NULL;
    json_int_t partitions = 0, owned = 0;
    json_error_t je;
    probe_result r = PROBE_FAILED;
    if (json_unpack_ex(answer, &je, 0, "{s:s, s:I, s:I}", "phase", &phase, "partitions",
                       &partitions, "owned", &owned) != 0) {
        snprintf(err, errlen, "malformed answer from the control API: %s", je.text);
    } else {
        bool running = strcmp(phase, "running") == 0;
        snprintf(progress, PROGRESS_MAX, "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
                 " partitions owned%s%s%s",
                 owned, partitions, running ? "" : " (phase ", running ? "" : phase,
                 running ? "" : ")");
        r = running && partitions > 0 && owned == partitions ? PROBE_DONE : PROBE_WAITING;
    }
    json_decref(answer);
    return r;
}

static probe_result probe_gone(const ride_ctl_client *c, const char *app, char *progress,
                               char *err, size_t errlen)
{
    ride_ctl_call call = {.method = "GET", .path = "/v1/apps"};
    json_t *answer = NULL;
    if (ride_ctl_client_call(c, &call, &answer, err, errlen) != 0)
        return PROBE_FAILED;
    const json_t *apps = json_object_get(answer, "apps");
    probe_result r = json_is_array(apps) ? PROBE_DONE : PROBE_FAILED;
    if (r == PROBE_FAILED)
        snprintf(err, errlen, "malformed answer from the control API: field 'apps': expected "
                              "an array");
    for (size_t i = 0; r == PROBE_DONE && i < json_array_size(apps); i++) {
        const json_t *a = json_array_get(apps, i);
        const char *name = json_string_value(json_object_get(a, "name"));
        if (name == NULL || strcmp(name, app) != 0)
            continue;
        const char *phase = json_string_value(json_object_get(a, "phase"));
        json_int_t owned = json_integer_value(json_object_get(a, "owned"));
        snprintf(progress, PROGRESS_MAX,
                 "application/%s still listed (phase %s, %" JSON_INTEGER_FORMAT
                 " partitions owned)",
                 app, phase ? phase : "<none>", owned);
        r = PROBE_WAITING;
    }
    json_decref(answer);
    return r;
}

static probe_result probe_once(const ride_ctl_args *args, probe_fn probe, const char *app,
                               char *progress, char *err, size_t errlen)
{
    ride_ctl_client c;
    /* Opened per poll: after a fail-over ZooKeeper names the new leader's API. */
    if (ride_ctl_client_open(args, false, &c, err, errlen) != 0)
        return PROBE_FAILED;
    probe_result r = probe(&c, app, progress, err, errlen);
    ride_ctl_client_close(&c);
    return r;
}

static int wait_for(const ride_ctl_args *args, const char *app, probe_fn probe,
                    const char *goal, FILE *errs, char *err, size_t errlen)
{
    int64_t deadline = ride_clock_mono_ms() + args->wait_timeout_ms;
    char progress[PROGRESS_MAX] = "", shown[PROGRESS_MAX] = "", why[WHY_MAX] = "";
    for (;;) {
        probe_result r = probe_once(args, probe, app, progress, why, sizeof why);
        if (r == PROBE_DONE)
            return 0;
        if (r == PROBE_WAITING) {
            why[0] = '\0';
            if (strcmp(progress, shown) != 0) {
                fprintf(errs, "waiting: %s\n", progress);
                fflush(errs);
                memcpy(shown, progress, sizeof shown);
            }
        }
        int64_t left = deadline - ride_clock_mono_ms();
        if (left <= 0) {
            snprintf(err, errlen, "timed out after %g s waiting for application/%s %s: %s",
                     args->wait_timeout_ms / 1000.0, app, goal,
                     why[0] ? why : shown[0] ? shown : "no answer");
            return -1;
        }
        int64_t pause = left < RIDE_CTL_WAIT_POLL_MS ? left : RIDE_CTL_WAIT_POLL_MS;
        ride_clock_sleep_until_ns(ride_clock_mono_ns() + pause * 1000000);
    }
}

int ride_ctl_wait_ready(const ride_ctl_args *args, const char *app, FILE *errs, char *err,
                        size_t errlen)
{
    return wait_for(args, app, probe_ready, "to be ready", errs, err, errlen);
}

int ride_ctl_wait_gone(const ride_ctl_args *args, const char *app, FILE *errs, char *err,
                       size_t errlen)
{
    return wait_for(args, app, probe_gone, "to be gone", errs, err, errlen);
}
