/* command.c - each verb's request and output (see command.h). */
#include "command.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "render.h"
#include "top.h"
#include "wait.h"
#include "base/clock.h"
#include "spec/manifest.h"

#define ERR_MAX 1536
#define PATH_LEN 256
/* What GET /v1/events returns without ?limit (docs/control-api.md). */
#define EVENTS_DEFAULT_LIMIT 100
#define STDIN_NAME "<stdin>"

/* What a verb asks of the API once the client is open. */
typedef struct request {
    ride_ctl_call call;
    ride_ctl_renderer render;
    const char *events_app; /* events --app: filtered here, the API cannot */
    int events_limit;
} request;

static int print_answer(const ride_ctl_args *args, const request *rq, const json_t *answer,
                        FILE *out, char *err, size_t errlen)
{
    char *text;
    if (args->output == RIDE_CTL_OUTPUT_JSON) {
        /* Key order is the server's (jansson keeps insertion order). */
        text = json_dumps(answer, JSON_INDENT(2));
        if (text == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        fprintf(out, "%s\n", text);
    } else {
        text = rq->render(answer, ride_clock_wall_ms(), err, errlen);
        if (text == NULL)
            return -1;
        fputs(text, out);
    }
    free(text);
    if (fflush(out) != 0) {
        snprintf(err, errlen, "cannot write the output: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int perform(const ride_ctl_args *args, const request *rq, FILE *out, char *err,
                   size_t errlen)
{
    bool change = strcmp(rq->call.method, "GET") != 0;
    ride_ctl_client client;
    if (ride_ctl_client_open(args, change, &client, err, errlen) != 0)
        return -1;
    json_t *answer = NULL;
    int rc = ride_ctl_client_call(&client, &rq->call, &answer, err, errlen);
    ride_ctl_client_close(&client);
    if (rc == 0 && rq->events_app != NULL) {
        json_t *filtered =
            ride_ctl_events_for_app(answer, rq->events_app, rq->events_limit, err, errlen);
        json_decref(answer);
        answer = filtered;
        rc = answer ? 0 : -1;
    }
    if (rc == 0)
        rc = print_answer(args, rq, answer, out, err, errlen);
    json_decref(answer);
    return rc;
}

/* The whole file (or standard input), refused beyond RIDE_CTL_MANIFEST_MAX. */
static char *read_manifest(const char *file, FILE *in, size_t *len, char *err, size_t errlen)
{
    bool is_stdin = strcmp(file, "-") == 0;
    FILE *f = is_stdin ? in : fopen(file, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", file, strerror(errno));
        return NULL;
    }
    char *buf = malloc(RIDE_CTL_MANIFEST_MAX + 1);
    size_t n = buf ? fread(buf, 1, RIDE_CTL_MANIFEST_MAX + 1, f) : 0;
    bool read_failed = ferror(f) != 0;
    if (!is_stdin)
        fclose(f);
    const char *name = is_stdin ? STDIN_NAME : file;
    if (buf == NULL)
        snprintf(err, errlen, "out of memory");
    else if (read_failed)
        snprintf(err, errlen, "cannot read %s: read error", name);
    else if (n > RIDE_CTL_MANIFEST_MAX)
        snprintf(err, errlen, "%s: larger than %d bytes", name, RIDE_CTL_MANIFEST_MAX);
    else {
        *len = n;
        return buf;
    }
    free(buf);
    return NULL;
}

/* `applied` receives the application's name, for --wait. */
static int run_apply(const ride_ctl_args *args, FILE *in, FILE *out, char *applied, char *err,
                     size_t errlen)
{
    size_t len = 0;
    char *yaml = read_manifest(args->file, in, &len, err, errlen);
    if (yaml == NULL)
        return -1;
    const char *name = strcmp(args->file, "-") == 0 ? STDIN_NAME : args->file;
    /* A bad manifest is reported here, with its position, without a round trip. */
    ride_manifest m;
    ride_parse_error perr;
    if (ride_manifest_parse(name, yaml, len, &m, &perr) != 0) {
        ride_parse_error_format(&perr, err, errlen);
        free(yaml);
        return -1;
    }
    snprintf(applied, RIDE_NAME_MAX + 1, "%s", m.name);
    ride_manifest_free(&m);
    request rq = {.call = {.method = "POST", .path = "/v1/apps", .body = yaml, .body_len = len,
                           .content_type = "application/yaml", .manifest_name = name},
                  .render = ride_ctl_render_applied};
    int rc = perform(args, &rq, out, err, errlen);
    free(yaml);
    return rc;
}

static int run_get(const ride_ctl_args *args, FILE *out, char *err, size_t errlen)
{
    char path[PATH_LEN];
    request rq = {.call = {.method = "GET", .path = path}};
    switch (args->resource) {
    case RIDE_CTL_APPS:
        snprintf(path, sizeof path, "/v1/apps");
        rq.render = ride_ctl_render_apps;
        break;
    case RIDE_CTL_WORKERS:
        snprintf(path, sizeof path, "/v1/workers");
        rq.render = ride_ctl_render_workers;
        break;
    case RIDE_CTL_PRODUCERS:
        snprintf(path, sizeof path, "/v1/producers");
        rq.render = ride_ctl_render_producers;
        break;
    case RIDE_CTL_PARTITIONS:
        if (args->app != NULL)
            snprintf(path, sizeof path, "/v1/partitions?app=%s", args->app);
        else
            snprintf(path, sizeof path, "/v1/partitions");
        rq.render = ride_ctl_render_partitions;
        break;
    }
    return perform(args, &rq, out, err, errlen);
}

static int run_events(const ride_ctl_args *args, FILE *out, char *err, size_t errlen)
{
    char path[PATH_LEN] = "/v1/events";
    request rq = {.call = {.method = "GET", .path = path}, .render = ride_ctl_render_events};
    if (args->app != NULL) {
        /* The API does not filter by application: take all it keeps, then filter. */
        snprintf(path, sizeof path, "/v1/events?limit=%d", RIDE_CTL_EVENTS_LIMIT_MAX);
        rq.events_app = args->app;
        rq.events_limit = args->limit ? args->limit : EVENTS_DEFAULT_LIMIT;
    } else if (args->limit != 0) {
        snprintf(path, sizeof path, "/v1/events?limit=%d", args->limit);
    }
    return perform(args, &rq, out, err, errlen);
}

static int run_verb(const ride_ctl_args *args, FILE *in, FILE *out, char *applied, char *err,
                    size_t errlen)
{
    char path[PATH_LEN], body[64];
    request rq = {.call = {.path = path}};
    switch (args->verb) {
    case RIDE_CTL_APPLY:
        return run_apply(args, in, out, applied, err, errlen);
    case RIDE_CTL_GET:
        return run_get(args, out, err, errlen);
    case RIDE_CTL_EVENTS:
        return run_events(args, out, err, errlen);
    case RIDE_CTL_DESCRIBE:
        rq.call.method = "GET";
        snprintf(path, sizeof path, "/v1/apps/%s", args->app);
        rq.render = ride_ctl_render_app_detail;
        break;
    case RIDE_CTL_DELETE:
        rq.call.method = "DELETE";
        snprintf(path, sizeof path, "/v1/apps/%s", args->app);
        rq.render = ride_ctl_render_deleted;
        break;
    case RIDE_CTL_SCALE:
        rq.call.method = "POST";
        snprintf(path, sizeof path, "/v1/apps/%s/stages/%s/scale", args->app, args->stage);
        rq.call.body_len =
            args->workers == RIDE_CTL_SCALE_AUTO
                ? (size_t)snprintf(body, sizeof body, "{\"workers\": \"auto\"}")
                : (size_t)snprintf(body, sizeof body, "{\"workers\": %d}", args->workers);
        rq.call.body = body;
        rq.render = ride_ctl_render_scaled;
        break;
    case RIDE_CTL_HELP:
    case RIDE_CTL_VERSION:
    case RIDE_CTL_TOP:
        snprintf(err, errlen, "nothing to run");
        return -1;
    }
    return perform(args, &rq, out, err, errlen);
}

int ride_ctl_run(const ride_ctl_args *args, FILE *in, FILE *out, FILE *errs)
{
    if (args->verb == RIDE_CTL_TOP)
        return ride_ctl_top_run(args, out, errs);
    char err[ERR_MAX], applied[RIDE_NAME_MAX + 1] = "";
    int rc = run_verb(args, in, out, applied, err, sizeof err);
    if (rc == 0 && args->wait && args->verb == RIDE_CTL_APPLY)
        rc = ride_ctl_wait_ready(args, applied, errs, err, sizeof err);
    else if (rc == 0 && args->wait && args->verb == RIDE_CTL_DELETE)
        rc = ride_ctl_wait_gone(args, args->app, errs, err, sizeof err);
    if (rc != 0) {
        fprintf(errs, "error: %s\n", err);
        return RIDE_CTL_EXIT_FAILURE;
    }
    return RIDE_CTL_EXIT_OK;
}
