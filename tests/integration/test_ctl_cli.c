/* ridectl as a real process: a bad manifest is reported with its position and the
 * cluster is never contacted, a ZooKeeper without /cluster/api means "no leading
 * master", a closed port means "cannot reach", and bad usage exits 2; each failure
 * is one "error: " line on stderr with the documented exit code. Against a real
 * cluster, apply --wait returns once every partition is owned, top -o json prints
 * one view per refresh, an exactly-once application is refused (the embedded
 * broker has no transactions), and delete --wait returns once the application is
 * gone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ride_harness.h"
#include "ride_harness_cluster.h"

#define RIDECTL RIDE_BIN_DIR "/ridectl"
#define EXIT_MS 20000

typedef struct run_result {
    int code;
    char *output; /* stdout and stderr together */
} run_result;

/* Runs ridectl with args (NULL-terminated) and waits for it. */
static run_result run(const char *const *args)
{
    static int runs;
    char *dir = ride_harness_tempdir("ride-ctl-cli-");
    assert_non_null(dir);
    char log[512];
    snprintf(log, sizeof log, "%s/run%d.log", dir, runs++);
    const char *argv[32] = {RIDECTL};
    size_t n = 1;
    while (args[n - 1] != NULL) {
        assert_true(n < 31);
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    /* The environment must not point ridectl at some other cluster. */
    unsetenv("RIDE_SERVER");
    unsetenv("RIDE_ZOOKEEPER");
    unsetenv("RIDE_TOKEN_FILE");
    ride_proc *p = ride_harness_spawn(argv, NULL, log);
    assert_non_null(p);
    int status = ride_harness_proc_wait(p, EXIT_MS);
    ride_harness_proc_stop(p, 1000);
    run_result r = {-1, ride_harness_read_file(log, NULL)};
    if (r.output == NULL)
        r.output = strdup("");
    if (status != -1 && WIFEXITED(status))
        r.code = WEXITSTATUS(status);
    ride_harness_rmtree(dir);
    free(dir);
    return r;
}

static void expect(run_result r, int code, const char *needle)
{
    if (r.code != code || strstr(r.output, needle) == NULL)
        fail_msg("expected exit %d and \"%s\", got exit %d:\n%s", code, needle, r.code,
                 r.output);
    free(r.output);
}

#define RUN(...) run((const char *const[]){__VA_ARGS__, NULL})

static void test_bad_manifest_is_reported_locally(void **state)
{
    (void)state;
    char *dir = ride_harness_tempdir("ride-ctl-manifest-");
    assert_non_null(dir);
    char path[512];
    snprintf(path, sizeof path, "%s/app.yaml", dir);
    assert_int_equal(ride_harness_write_file(path, "apiVersion: ride/v1\n"
                                                   "kind: Application\n"
                                                   "metadata: {name: demo}\n"
                                                   "spec:\n"
                                                   "  colour: blue\n"),
                     0);
    char expected[600];
    snprintf(expected, sizeof expected, "error: %s:5:3: spec: unknown key 'colour'", path);
    /* Port 1 is closed: a contact attempt would say "cannot reach" instead. */
    expect(RUN("apply", "-f", path, "--server", "http://127.0.0.1:1"), 1, expected);
    snprintf(path, sizeof path, "%s/missing.yaml", dir);
    snprintf(expected, sizeof expected, "error: cannot read %s: No such file or directory",
             path);
    expect(RUN("--server", "http://127.0.0.1:1", "apply", "-f", path), 1, expected);
    ride_harness_rmtree(dir);
    free(dir);
}

static void test_no_leading_master(void **state)
{
    (void)state;
    char connect[256];
    snprintf(connect, sizeof connect, "%s/ride-ctl-test",
             ride_harness_zk_connect(ride_harness_zk_shared()));
    char expected[512];
    snprintf(expected, sizeof expected,
             "error: no leading master: /cluster/api does not exist in ZooKeeper %s", connect);
    expect(RUN("get", "apps", "--zookeeper", connect), 1, expected);
}

static void test_closed_port(void **state)
{
    (void)state;
    uint16_t port = ride_harness_free_port();
    assert_true(port > 0);
    char url[64], expected[160];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", port);
    snprintf(expected, sizeof expected,
             "error: cannot reach the control API at %s: connection refused", url);
    expect(RUN("get", "workers", "--server", url), 1, expected);
}

static void test_bad_usage(void **state)
{
    (void)state;
    expect(RUN("frobnicate", "--server", "http://127.0.0.1:1"), 2,
           "error: unknown command \"frobnicate\"");
    expect(RUN("get", "apps"), 2, "Run 'ridectl --help' for usage.");
    expect(RUN("scale", "a", "b", "many", "--server", "http://127.0.0.1:1"), 2,
           "error: scale: N must be a whole number in 0..10000 or auto, got \"many\"");
    expect(RUN("--help"), 0, "Usage: ridectl");
    expect(RUN("--version"), 0, "ridectl ");
}

/* Runs ridectl against the cluster's API; returns its exit code, output in *out. */
static int run_in(ride_cluster_fx *fx, const char *name, const char *const *args, char **out)
{
    const char *argv[16] = {RIDECTL, "--server", fx->api, "--token-file", fx->token_file};
    size_t n = 5;
    for (size_t i = 0; args[i] != NULL; i++) {
        assert_true(n < 15);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    return ride_cluster_fx_run(fx, name, argv, out, EXIT_MS);
}

static void test_top_and_wait_on_a_cluster(void **state)
{
    (void)state;
    static const ride_cluster_app app = {.name = "tw", .fps = 10, .partitions = 2,
                                         .max_workers = 2};
    ride_cluster_fx *fx = ride_cluster_fx_start("ctl-top", 2, NULL, EXIT_MS);
    char manifest[4096], path[600];
    snprintf(path, sizeof path, "%s/tw.yaml", fx->dir);
    assert_int_equal(
        ride_harness_write_file(path, ride_cluster_app_manifest(&app, manifest, sizeof manifest)),
        0);
    char *out = NULL;
    int code = run_in(fx, "apply-wait", (const char *const[]){"apply", "-f", path, "--wait",
                                                               "--timeout", "20s", NULL},
                      &out);
    if (code != 0 || out == NULL || strstr(out, "application/tw created") == NULL)
        ride_cluster_fx_fail(fx, "apply --wait: exit %d", code);
    free(out);
    /* --wait returned: every partition has an owner without waiting any further. */
    json_t *detail = ride_cluster_fx_get(fx, "/v1/apps/tw");
    assert_int_equal(json_integer_value(json_object_get(detail, "owned")), 2);
    json_decref(detail);

    code = run_in(fx, "top", (const char *const[]){"top", "--app", "tw", "--iterations", "2",
                                                   "--interval", "0.2", "-o", "json", NULL},
                  &out);
    assert_int_equal(code, 0);
    assert_non_null(out);
    json_error_t je;
    json_t *view = json_loads(out, JSON_DISABLE_EOF_CHECK, &je);
    assert_non_null(view);
    const json_t *stage = json_array_get(json_object_get(view, "stages"), 0);
    assert_string_equal(json_string_value(json_object_get(stage, "stage")), "gray");
    assert_int_equal(json_integer_value(json_object_get(stage, "partitions")), 2);
    assert_true(json_integer_value(json_object_get(stage, "owners")) >= 1);
    assert_int_equal(json_integer_value(json_object_get(view, "workers_alive")), 2);
    assert_string_equal(json_string_value(json_object_get(view, "leader")), fx->leader);
    json_decref(view);
    /* Two refreshes: the second view carries two lag samples. */
    char *second = strchr(out, '\n');
    assert_non_null(second);
    view = json_loads(second + 1, JSON_DISABLE_EOF_CHECK, &je);
    assert_non_null(view);
    stage = json_array_get(json_object_get(view, "stages"), 0);
    assert_int_equal(json_array_size(json_object_get(stage, "lag_history")), 2);
    json_decref(view);
    free(out);

    /* The embedded broker has no transactions: the master refuses exactly-once
     * at apply time and ridectl prints why. */
    static const ride_cluster_app eos = {.name = "eos", .fps = 10, .partitions = 1,
                                         .max_workers = 1, .delivery = "exactly-once"};
    snprintf(path, sizeof path, "%s/eos.yaml", fx->dir);
    assert_int_equal(
        ride_harness_write_file(path, ride_cluster_app_manifest(&eos, manifest, sizeof manifest)),
        0);
    code = run_in(fx, "apply-eos", (const char *const[]){"apply", "-f", path, NULL}, &out);
    if (code != 1 || out == NULL ||
        strstr(out, "exactly-once needs Kafka transactions, which the embedded broker does "
                    "not have") == NULL)
        ride_cluster_fx_fail(fx, "apply exactly-once on the embedded broker: exit %d", code);
    free(out);

    code = run_in(fx, "delete-wait",
                  (const char *const[]){"delete", "app", "tw", "--wait", "--timeout", "20", NULL},
                  &out);
    free(out);
    if (code != 0)
        ride_cluster_fx_fail(fx, "delete --wait: exit %d", code);
    json_t *apps = ride_cluster_fx_get(fx, "/v1/apps");
    assert_int_equal(json_array_size(json_object_get(apps, "apps")), 0);
    json_decref(apps);
    ride_cluster_fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_manifest_is_reported_locally),
        cmocka_unit_test(test_no_leading_master),
        cmocka_unit_test(test_closed_port),
        cmocka_unit_test(test_bad_usage),
        cmocka_unit_test(test_top_and_wait_on_a_cluster),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup,
                                  ride_harness_zk_group_teardown);
}
