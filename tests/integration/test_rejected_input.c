/* rejected_input: bad input of three kinds against a running cluster, each refused
 * with a clear message and counted while everything keeps running:
 *  - a bad manifest: ridectl prints the parser's file:line:column message and exits
 *    1 without contacting the cluster; the API answers 400 with the same kind of
 *    message; an unknown task is refused too;
 *  - changes without the token (or with a wrong one) get 401; reads need none;
 *  - a corrupt frame written with kcat into a stage topic is counted by the worker
 *    (ride_frames_dropped_total), which keeps processing: no real frame is lost. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ride_harness_cluster.h"
#include "http/http_client.h"

#define STREAMS 2
#define WAIT_MS 30000

static const ride_cluster_app APP = {
    .name = "rej", .fps = 30, .partitions = 2, .max_workers = 2};

/* Line 5, column 3: an unknown key. */
static const char BAD_MANIFEST[] = "apiVersion: ride/v1\n"
                                   "kind: Application\n"
                                   "metadata: {name: bad}\n"
                                   "spec:\n"
                                   "  colour: red\n";

static const char UNKNOWN_TASK[] = "apiVersion: ride/v1\n"
                                   "kind: Application\n"
                                   "metadata: {name: unk}\n"
                                   "spec:\n"
                                   "  sources: [{name: c, uri: \"synthetic:8x8@1\"}]\n"
                                   "  stages: [{name: s, input: c, task: nosuchtask}]\n";

static void bad_manifests(ride_cluster_fx *fx)
{
    char path[600], *out = NULL;
    snprintf(path, sizeof path, "%s/bad.yaml", fx->dir);
    assert_int_equal(ride_harness_write_file(path, BAD_MANIFEST), 0);
    const char *argv[] = {RIDE_BIN_DIR "/ridectl", "--server", fx->api, "--token-file",
                          fx->token_file, "apply", "-f", path, NULL};
    assert_int_equal(ride_cluster_fx_run(fx, "ridectl-bad-manifest", argv, &out, WAIT_MS), 1);
    char want[700];
    snprintf(want, sizeof want, "%s:5:3:", path);
    assert_non_null(out);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "colour"));
    free(out);

    char *body = NULL;
    assert_int_equal(ride_cluster_fx_apply(fx, BAD_MANIFEST, &body), 400);
    printf("API, bad manifest: %s\n", body);
    assert_non_null(strstr(body, ":5:3:"));
    free(body);
    assert_int_equal(ride_cluster_fx_apply(fx, UNKNOWN_TASK, &body), 400);
    printf("API, unknown task: %s\n", body);
    assert_non_null(strstr(body, "nosuchtask"));
    free(body);
    json_t *apps = ride_cluster_fx_get(fx, "/v1/apps");
    assert_int_equal(json_array_size(json_object_get(apps, "apps")), 0);
    json_decref(apps);
}

static void missing_token(ride_cluster_fx *fx)
{
    char buf[2048];
    const char *yaml = ride_cluster_app_manifest(&APP, buf, sizeof buf);
    assert_int_equal(ride_cluster_fx_call(fx, "POST", "/v1/apps", yaml, NULL, NULL), 401);
    assert_int_equal(ride_cluster_fx_call(fx, "POST", "/v1/apps", yaml, "wrong", NULL), 401);
    assert_int_equal(ride_cluster_fx_call(fx, "DELETE", "/v1/apps/rej", NULL, NULL, NULL), 401);
    assert_int_equal(ride_cluster_fx_call(fx, "GET", "/v1/apps", NULL, NULL, NULL), 200);
    char *out = NULL;
    const char *argv[] = {RIDE_BIN_DIR "/ridectl", "--server", fx->api, "delete", "app", "rej",
                          NULL};
    assert_int_equal(ride_cluster_fx_run(fx, "ridectl-no-token", argv, &out, WAIT_MS), 1);
    assert_non_null(out);
    assert_non_null(strstr(out, "token"));
    free(out);
}

/* The sum of ride_frames_dropped_total for app rej over both workers' /metrics. */
static uint64_t dropped(ride_cluster_fx *fx)
{
    uint64_t total = 0;
    for (int w = 1; w <= 2; w++) {
        char name[32];
        snprintf(name, sizeof name, "w%d-%d", w, w);
        char *body = ride_cluster_fx_scrape(fx, name);
        if (!body)
            continue;
        for (const char *l = strstr(body, "\nride_frames_dropped_total{app=\"rej\""); l;
             l = strstr(l + 1, "\nride_frames_dropped_total{app=\"rej\"")) {
            const char *v = strchr(l, '}');
            if (v)
                total += strtoull(v + 1, NULL, 10);
        }
        free(body);
    }
    return total;
}

typedef struct drop_probe {
    ride_cluster_fx *fx;
} drop_probe;

/* One corrupt message was written to each of the two partitions. */
static bool drop_counted(void *ctx) { return dropped(((drop_probe *)ctx)->fx) >= 2; }

static void corrupt_frame(ride_cluster_fx *fx, ride_proc *const *workers)
{
    char path[600], *out = NULL;
    snprintf(path, sizeof path, "%s/garbage.txt", fx->dir);
    assert_int_equal(ride_harness_write_file(path, "RIDF this is not a frame\n"), 0);
    for (const char *p = "0"; p; p = strcmp(p, "0") == 0 ? "1" : NULL) {
        const char *argv[] = {"kcat", "-P", "-b", fx->bootstrap, "-t", "ride.rej.gray", "-p", p,
                              "-l", path, NULL};
        assert_int_equal(ride_cluster_fx_run(fx, "kcat", argv, &out, WAIT_MS), 0);
        free(out);
    }
    drop_probe dp = {fx};
    if (!ride_harness_wait_until(drop_counted, &dp, WAIT_MS))
        ride_cluster_fx_fail(fx, "no worker counted the corrupt frame");
    printf("dropped_by_workers=%" PRIu64 "\n", dropped(fx));
    for (int w = 0; w < 2; w++)
        assert_true(ride_harness_proc_alive(workers[w]));
}

static void test_rejected_input(void **state)
{
    (void)state;
    ride_proc *workers[2];
    ride_cluster_fx *fx = ride_cluster_fx_start("rejected", 2, workers, WAIT_MS);
    bad_manifests(fx);
    missing_token(fx);

    ride_cluster_fx_run_app(fx, &APP, WAIT_MS);
    ride_audit_reader *r = ride_cluster_fx_reader(fx, "rej.gray.out", NULL, NULL);
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    ride_cluster_fx_wait_sink(fx, r, 30, WAIT_MS);
    corrupt_frame(fx, workers);
    ride_cluster_fx_wait_sink(fx, r, 30, WAIT_MS);

    ride_cluster_fx_finish(fx, r, producer, "p1", STREAMS, WAIT_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejected_input),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup,
                                  ride_harness_zk_group_teardown);
}
