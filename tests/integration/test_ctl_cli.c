/* ridectl as a real process: a bad manifest is reported with its position and the
 * cluster is never contacted, a ZooKeeper without /cluster/api means "no leading
 * master", a closed port means "cannot reach", and bad usage exits 2; each failure
 * is one "error: " line on stderr with the documented exit code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ride_harness.h"

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
           "error: scale: N must be a whole number in 0..10000, got \"many\"");
    expect(RUN("--help"), 0, "Usage: ridectl");
    expect(RUN("--version"), 0, "ridectl ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_manifest_is_reported_locally),
        cmocka_unit_test(test_no_leading_master),
        cmocka_unit_test(test_closed_port),
        cmocka_unit_test(test_bad_usage),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup,
                                  ride_harness_zk_group_teardown);
}
