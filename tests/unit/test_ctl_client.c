/* ridectl's commands against an in-process HTTP server playing the control API:
 * apply sends the YAML with its file name and the token, and prints the result; a
 * 401 is explained; a server {"error"} is printed with its status; -o json is the
 * answer re-indented; a body that is not JSON, or an error without a message, gets
 * a clear line; and the request of every verb goes to its documented path. top
 * refreshes the given number of times; apply --wait and delete --wait report
 * progress and end when the cluster is ready, or at their timeout. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "command.h"
#include "ride_test.h"
#include "wait.h"
#include "http/http.h"

#define TOKEN "s3cret-token"

typedef struct fixture {
    uv_loop_t loop;
    uv_async_t stop;
    pthread_t thread;
    ride_http_server *srv;
    char url[64];
    char dir[64];
    char token_file[128];
    /* What the last request carried, written on the loop thread before it answers. */
    char seen_method[16];
    char seen_path[256];
    char seen_query[256];
    char seen_name[256];
    char seen_type[64];
    char seen_body[4096];
    int workers_ok;  /* /v1/workers answers JSON rather than garbage */
    int polls;       /* GET /v1/apps/fan-out and /v1/partitions seen so far */
} fixture;

static void record(fixture *f, const ride_http_request *req)
{
    const char *name = ride_http_request_header(req, "X-Ride-Manifest-Name");
    const char *type = ride_http_request_header(req, "Content-Type");
    size_t len = 0;
    const char *body = ride_http_request_body(req, &len);
    snprintf(f->seen_method, sizeof f->seen_method, "%s", ride_http_request_method(req));
    snprintf(f->seen_path, sizeof f->seen_path, "%s", ride_http_request_path(req));
    snprintf(f->seen_query, sizeof f->seen_query, "%s", ride_http_request_query(req));
    snprintf(f->seen_name, sizeof f->seen_name, "%s", name ? name : "");
    snprintf(f->seen_type, sizeof f->seen_type, "%s", type ? type : "");
    snprintf(f->seen_body, sizeof f->seen_body, "%.*s", (int)len, body ? body : "");
}

static void answer(ride_http_response *res, int status, const char *json)
{
    ride_http_response_status(res, status);
    ride_http_response_body(res, "application/json", json, strlen(json));
}

static void change_handler(const ride_http_request *req, ride_http_response *res, void *ctx)
{
    fixture *f = ctx;
    record(f, req);
    if (!ride_http_require_token(req, res, TOKEN))
        return;
    if (strcmp(ride_http_request_method(req), "DELETE") == 0)
        answer(res, 200, "{\"app\": \"demo\", \"result\": \"deleted\"}");
    else if (strstr(ride_http_request_path(req), "/scale") != NULL)
        answer(res, 400, "{\"error\": \"workers 9 outside 1..4 for stage gray\"}");
    else
        answer(res, 201, "{\"app\": \"fan-out\", \"result\": \"created\"}");
}

/* An application whose partitions gain one owner per poll; pending on the first. */
static void answer_owners(ride_http_response *res, int poll)
{
    char json[256];
    snprintf(json, sizeof json,
             "{\"name\": \"fan-out\", \"phase\": \"%s\", \"partitions\": 3, \"owned\": %d}",
             poll > 1 ? "running" : "pending", poll < 3 ? poll : 3);
    answer(res, 200, json);
}

/* One partition whose committed offset moves 100 frames (messages) per poll. */
static void answer_partitions(ride_http_response *res, int poll)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"partitions\": [{\"app\": \"live\", \"stage\": \"gray\", \"partition\": 0,"
             " \"owner\": \"w1\", \"epoch\": 2, \"end_offset\": %d, \"committed\": %d,"
             " \"lag\": %d, \"messages_per_frame\": 1.0}]}",
             poll * 100 + 5, poll * 100, 5 * poll);
    answer(res, 200, json);
}

static void read_handler(const ride_http_request *req, ride_http_response *res, void *ctx)
{
    fixture *f = ctx;
    record(f, req);
    const char *path = ride_http_request_path(req);
    if (strcmp(path, "/v1/apps") == 0)
        answer(res, 200, "{\"apps\":[{\"name\":\"a\",\"lag\":null}]}");
    else if (strcmp(path, "/v1/workers") == 0 && f->workers_ok)
        answer(res, 200, "{\"workers\": [{\"state\": \"active\"}, {\"state\": \"dead\"}]}");
    else if (strcmp(path, "/v1/workers") == 0)
        answer(res, 200, "<html>not json</html>");
    else if (strcmp(path, "/healthz") == 0)
        answer(res, 200, "{\"status\": \"ok\", \"master\": \"m1\", \"leader\": true}");
    else if (strcmp(path, "/v1/apps/fan-out") == 0)
        answer_owners(res, ++f->polls);
    else if (strcmp(path, "/v1/apps/stuck") == 0)
        answer_owners(res, 1);
    else if (strcmp(path, "/v1/partitions") == 0)
        answer_partitions(res, ++f->polls);
    else if (strcmp(path, "/v1/stages") == 0)
        answer(res, 200, "{\"stages\": []}");
    else if (strcmp(path, "/v1/producers") == 0)
        ride_http_response_text(res, 502, "bad gateway\n");
    else if (strcmp(path, "/v1/events") == 0)
        answer(res, 200,
               "{\"events\": [{\"seq\": 1, \"ts_ms\": 0, \"type\": \"t\", \"app\": \"other\","
               " \"stage\": null, \"partition\": null, \"member\": null, \"message\": \"m\"}]}");
    else
        answer(res, 404, "{\"error\": \"application \\\"nope\\\" not found\"}");
}

static void *loop_thread(void *arg)
{
    fixture *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void on_stop(uv_async_t *async)
{
    fixture *f = async->data;
    ride_http_server_free(f->srv);
    uv_close((uv_handle_t *)&f->stop, NULL);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char err[256];
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->srv = ride_http_server_new(&f->loop, "127.0.0.1:0", NULL, err, sizeof err);
    assert_non_null(f->srv);
    assert_int_equal(ride_http_server_route(f->srv, "POST", "/v1/apps", true, change_handler, f),
                     0);
    assert_int_equal(ride_http_server_route(f->srv, "DELETE", "/v1/apps/", true, change_handler,
                                            f),
                     0);
    assert_int_equal(ride_http_server_route(f->srv, "GET", "/v1/", true, read_handler, f), 0);
    assert_int_equal(ride_http_server_route(f->srv, "GET", "/healthz", false, read_handler, f),
                     0);
    assert_int_equal(ride_http_server_start(f->srv, err, sizeof err), 0);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d/", ride_http_server_port(f->srv));
    uv_async_init(&f->loop, &f->stop, on_stop);
    f->stop.data = f;
    assert_int_equal(pthread_create(&f->thread, NULL, loop_thread, f), 0);
    snprintf(f->dir, sizeof f->dir, "/tmp/ride-ctl-client-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->token_file, sizeof f->token_file, "%s/token", f->dir);
    FILE *tf = fopen(f->token_file, "w");
    assert_non_null(tf);
    fputs(TOKEN "\n", tf);
    fclose(tf);
    assert_int_equal(chmod(f->token_file, 0600), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    uv_async_send(&f->stop);
    pthread_join(f->thread, NULL);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    unlink(f->token_file);
    rmdir(f->dir);
    free(f);
    return 0;
}

typedef struct outcome {
    int code;
    char out[4096];
    char err[1024];
} outcome;

static void slurp(FILE *f, char *buf, size_t len)
{
    rewind(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs a command given as ride_ctl_args against the fixture's server. */
static outcome run(ride_ctl_args args, const fixture *f)
{
    outcome o;
    FILE *out = tmpfile(), *err = tmpfile();
    assert_non_null(out);
    assert_non_null(err);
    args.server = f->url;
    if (args.timeout_ms == 0)
        args.timeout_ms = 5000;
    o.code = ride_ctl_run(&args, stdin, out, err);
    slurp(out, o.out, sizeof o.out);
    slurp(err, o.err, sizeof o.err);
    return o;
}

static void test_apply_sends_name_and_token(void **state)
{
    fixture *f = *state;
    char manifest[512];
    ride_test_data("manifests/good/fan-out.yaml", manifest, sizeof manifest);
    outcome o = run((ride_ctl_args){.verb = RIDE_CTL_APPLY, .file = manifest,
                                    .token_file = f->token_file},
                    f);
    assert_string_equal(o.err, "");
    assert_int_equal(o.code, RIDE_CTL_EXIT_OK);
    assert_string_equal(o.out, "application/fan-out created\n");
    assert_string_equal(f->seen_method, "POST");
    assert_string_equal(f->seen_path, "/v1/apps");
    assert_string_equal(f->seen_name, manifest);
    assert_string_equal(f->seen_type, "application/yaml");
    assert_non_null(strstr(f->seen_body, "metadata: {name: fan-out}"));
}

static void test_missing_token_is_explained(void **state)
{
    fixture *f = *state;
    outcome o = run((ride_ctl_args){.verb = RIDE_CTL_DELETE, .app = "demo"}, f);
    assert_int_equal(o.code, RIDE_CTL_EXIT_FAILURE);
    assert_string_equal(o.out, "");
    assert_string_equal(o.err, "error: the master refused the change: missing or wrong token "
                               "(use --token-file or RIDE_TOKEN_FILE)\n");
    o = run((ride_ctl_args){.verb = RIDE_CTL_DELETE, .app = "demo", .token_file = f->token_file},
            f);
    assert_int_equal(o.code, RIDE_CTL_EXIT_OK);
    assert_string_equal(o.out, "application/demo deleted\n");
    assert_string_equal(f->seen_path, "/v1/apps/demo");
}

static void test_server_errors(void **state)
{
    fixture *f = *state;
    outcome o = run((ride_ctl_args){.verb = RIDE_CTL_SCALE, .app = "demo", .stage = "gray",
                                    .workers = 9, .token_file = f->token_file},
                    f);
    assert_int_equal(o.code, RIDE_CTL_EXIT_FAILURE);
    assert_string_equal(o.err, "error: workers 9 outside 1..4 for stage gray (HTTP 400)\n");
    assert_string_equal(f->seen_path, "/v1/apps/demo/stages/gray/scale");
    assert_string_equal(f->seen_body, "{\"workers\": 9}");
    o = run((ride_ctl_args){.verb = RIDE_CTL_SCALE, .app = "demo", .stage = "gray",
                            .workers = RIDE_CTL_SCALE_AUTO, .token_file = f->token_file},
            f);
    assert_string_equal(f->seen_body, "{\"workers\": \"auto\"}");
    o = run((ride_ctl_args){.verb = RIDE_CTL_DESCRIBE, .app = "nope"}, f);
    assert_int_equal(o.code, RIDE_CTL_EXIT_FAILURE);
    assert_string_equal(o.err, "error: application \"nope\" not found (HTTP 404)\n");
    o = run((ride_ctl_args){.verb = RIDE_CTL_GET, .resource = RIDE_CTL_PRODUCERS}, f);
    assert_string_equal(o.err,
                        "error: the control API answered HTTP 502 without an error message\n");
    o = run((ride_ctl_args){.verb = RIDE_CTL_GET, .resource = RIDE_CTL_WORKERS}, f);
    assert_int_equal(o.code, RIDE_CTL_EXIT_FAILURE);
    assert_non_null(strstr(o.err, "error: malformed answer from the control API: invalid JSON "
                                  "(HTTP 200, line 1)"));
    /* A 200 answer missing documented fields is refused, not half-printed. */
    o = run((ride_ctl_args){.verb = RIDE_CTL_GET, .resource = RIDE_CTL_APPS}, f);
    assert_int_equal(o.code, RIDE_CTL_EXIT_FAILURE);
    assert_string_equal(o.out, "");
    assert_string_equal(o.err, "error: malformed answer from the control API: apps[0]: field "
                               "'phase' is missing\n");
}

static void test_json_output_and_queries(void **state)
{
    fixture *f = *state;
    outcome o = run((ride_ctl_args){.verb = RIDE_CTL_GET, .resource = RIDE_CTL_APPS,
                                    .output = RIDE_CTL_OUTPUT_JSON},
                    f);
    assert_int_equal(o.code, RIDE_CTL_EXIT_OK);
    assert_string_equal(o.out, "{\n  \"apps\": [\n    {\n      \"name\": \"a\",\n"
                               "      \"lag\": null\n    }\n  ]\n}\n");
    o = run((ride_ctl_args){.verb = RIDE_CTL_GET, .resource = RIDE_CTL_PARTITIONS, .app = "a",
                            .output = RIDE_CTL_OUTPUT_JSON},
            f);
    assert_string_equal(f->seen_path, "/v1/partitions");
    assert_string_equal(f->seen_query, "app=a");
    o = run((ride_ctl_args){.verb = RIDE_CTL_EVENTS, .limit = 5}, f);
    assert_int_equal(o.code, RIDE_CTL_EXIT_OK);
    assert_string_equal(f->seen_query, "limit=5");
    /* --app asks for everything the API keeps and filters here. */
    o = run((ride_ctl_args){.verb = RIDE_CTL_EVENTS, .app = "mine",
                            .output = RIDE_CTL_OUTPUT_JSON},
            f);
    assert_string_equal(f->seen_query, "limit=1000");
    assert_string_equal(o.out, "{\n  \"events\": []\n}\n");
}

/* A header line cannot smuggle another header in. */
static void test_header_injection_refused(void **state)
{
    fixture *f = *state;
    ride_ctl_client c = {.url = f->url, .timeout_ms = 5000};
    ride_ctl_call call = {.method = "POST", .path = "/v1/apps", .body = "x", .body_len = 1,
                          .manifest_name = "a.yaml\r\nX-Evil: 1"};
    json_t *answer = NULL;
    char err[512];
    f->seen_method[0] = '\0';
    assert_int_equal(ride_ctl_client_call(&c, &call, &answer, err, sizeof err), -1);
    assert_null(answer);
    assert_non_null(strstr(err, "cannot send the request to http://127.0.0.1:"));
    assert_non_null(strstr(err, "header"));
    assert_string_equal(f->seen_method, "");
}

/* Two refreshes, one JSON object each: the second has a rate and two lags. */
static void test_top_iterations_json(void **state)
{
    fixture *f = *state;
    f->workers_ok = 1;
    outcome o = run((ride_ctl_args){.verb = RIDE_CTL_TOP, .app = "live", .iterations = 2,
                                    .interval_ms = 100, .output = RIDE_CTL_OUTPUT_JSON},
                    f);
    assert_string_equal(o.err, "");
    assert_int_equal(o.code, RIDE_CTL_EXIT_OK);
    assert_string_equal(f->seen_query, "app=live");
    char *second = strchr(o.out, '\n');
    assert_non_null(second);
    *second++ = '\0';
    json_t *first_view = json_loads(o.out, 0, NULL), *second_view = json_loads(second, 0, NULL);
    assert_non_null(first_view);
    assert_non_null(second_view);
    assert_true(json_is_null(json_object_get(json_array_get(
        json_object_get(first_view, "stages"), 0), "frames_per_s")));
    const json_t *stage = json_array_get(json_object_get(second_view, "stages"), 0);
    assert_true(json_real_value(json_object_get(stage, "frames_per_s")) > 0);
    const json_t *history = json_object_get(stage, "lag_history");
    assert_int_equal(json_array_size(history), 2);
    assert_int_equal(json_integer_value(json_array_get(history, 1)),
                     json_integer_value(json_array_get(history, 0)) + 5);
    assert_string_equal(json_string_value(json_object_get(second_view, "leader")), "m1");
    assert_int_equal(json_integer_value(json_object_get(second_view, "workers_alive")), 1);
    assert_int_equal(json_integer_value(json_object_get(second_view, "workers_total")), 2);
    json_decref(first_view);
    json_decref(second_view);
    /* A malformed answer ends the refresh with a message and exit 1. */
    f->workers_ok = 0;
    o = run((ride_ctl_args){.verb = RIDE_CTL_TOP, .iterations = 1, .interval_ms = 100}, f);
    assert_int_equal(o.code, RIDE_CTL_EXIT_FAILURE);
    assert_non_null(strstr(o.err, "error: malformed answer from the control API: invalid JSON"));
}

static void test_apply_wait_reports_progress(void **state)
{
    fixture *f = *state;
    char manifest[512];
    ride_test_data("manifests/good/fan-out.yaml", manifest, sizeof manifest);
    outcome o = run((ride_ctl_args){.verb = RIDE_CTL_APPLY, .file = manifest, .wait = true,
                                    .wait_timeout_ms = 10000, .token_file = f->token_file},
                    f);
    assert_int_equal(o.code, RIDE_CTL_EXIT_OK);
    assert_string_equal(o.out, "application/fan-out created\n");
    assert_string_equal(o.err, "waiting: 1/3 partitions owned (phase pending)\n"
                               "waiting: 2/3 partitions owned\n");
    assert_int_equal(f->polls, 3);
}

static void test_wait_times_out(void **state)
{
    fixture *f = *state;
    outcome o = run((ride_ctl_args){.verb = RIDE_CTL_DELETE, .app = "a", .wait = true,
                                    .wait_timeout_ms = 600, .token_file = f->token_file},
                    f);
    assert_int_equal(o.code, RIDE_CTL_EXIT_FAILURE);
    assert_string_equal(o.err, "waiting: application/a still listed (phase <none>, 0 partitions "
                               "owned)\n"
                               "error: timed out after 0.6 s waiting for application/a to be gone: "
                               "application/a still listed (phase <none>, 0 partitions owned)\n");
    /* An application the list does not hold is gone at once. */
    o = run((ride_ctl_args){.verb = RIDE_CTL_DELETE, .app = "demo", .wait = true,
                            .wait_timeout_ms = 600, .token_file = f->token_file},
            f);
    assert_int_equal(o.code, RIDE_CTL_EXIT_OK);
    assert_string_equal(o.err, "");
    const ride_ctl_args stuck = {.verb = RIDE_CTL_APPLY, .server = f->url, .timeout_ms = 5000,
                                 .wait_timeout_ms = 300};
    char err[512];
    FILE *errs = tmpfile();
    assert_non_null(errs);
    assert_int_equal(ride_ctl_wait_ready(&stuck, "stuck", errs, err, sizeof err), -1);
    fclose(errs);
    assert_string_equal(err, "timed out after 0.3 s waiting for application/stuck to be ready: "
                             "1/3 partitions owned (phase pending)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply_sends_name_and_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_token_is_explained, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_output_and_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_injection_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_top_iterations_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_wait_reports_progress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_times_out, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
