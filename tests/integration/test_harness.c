/* The integration harness's process, file and waiting helpers (no servers needed). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ride_harness.h"

#define WAIT_MS 5000

static void test_exit_status_env_and_log(void **state)
{
    (void)state;
    char *dir = ride_harness_tempdir("ride-harness-");
    assert_non_null(dir);
    char log[512];
    snprintf(log, sizeof log, "%s/out.log", dir);
    const char *argv[] = {"sh", "-c", "echo \"value=$RIDE_HARNESS_VAR\"; echo err >&2; exit 3",
                          NULL};
    const char *env[] = {"RIDE_HARNESS_VAR=42", NULL};
    ride_proc *p = ride_harness_spawn(argv, env, log);
    assert_non_null(p);
    int status = ride_harness_proc_wait(p, WAIT_MS);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
    assert_false(ride_harness_proc_alive(p));
    assert_int_equal(ride_harness_proc_stop(p, 0), status);

    size_t len = 0;
    char *text = ride_harness_read_file(log, &len);
    assert_non_null(text);
    assert_string_equal(text, "value=42\nerr\n");
    assert_int_equal(len, strlen(text));
    free(text);
    assert_null(ride_harness_read_file("/nonexistent/ride", NULL));

    ride_harness_rmtree(dir);
    struct stat st;
    assert_int_not_equal(stat(dir, &st), 0);
    free(dir);
}

static void test_missing_program_exits_127(void **state)
{
    (void)state;
    const char *argv[] = {"/nonexistent/ride-program", NULL};
    ride_proc *p = ride_harness_spawn(argv, NULL, NULL);
    assert_non_null(p);
    int status = ride_harness_proc_wait(p, WAIT_MS);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 127);
    ride_harness_proc_stop(p, 0);
}

static bool log_says_ready(void *ctx)
{
    char *text = ride_harness_read_file(ctx, NULL);
    bool ready = text && strstr(text, "ready");
    free(text);
    return ready;
}

static void test_signal_and_stop(void **state)
{
    (void)state;
    const char *argv[] = {"sleep", "60", NULL};
    ride_proc *p = ride_harness_spawn(argv, NULL, NULL);
    assert_non_null(p);
    assert_true(ride_harness_proc_alive(p));
    assert_int_equal(ride_harness_proc_wait(p, 50), -1);
    assert_int_equal(ride_harness_proc_signal(p, SIGUSR1), 0);
    int status = ride_harness_proc_wait(p, WAIT_MS);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGUSR1);
    ride_harness_proc_stop(p, 0);

    /* A process that ignores SIGTERM is killed after the grace period, and so is
     * the child it left in its group. */
    char *dir = ride_harness_tempdir("ride-harness-");
    assert_non_null(dir);
    char log[512];
    snprintf(log, sizeof log, "%s/out.log", dir);
    const char *stubborn[] = {"sh", "-c", "trap '' TERM; sleep 60 & echo ready; wait", NULL};
    p = ride_harness_spawn(stubborn, NULL, log);
    assert_non_null(p);
    assert_true(ride_harness_wait_until(log_says_ready, log, WAIT_MS));
    int64_t t0 = ride_clock_mono_ms();
    assert_int_equal(ride_harness_proc_stop(p, 200), -1);
    assert_true(ride_clock_mono_ms() - t0 < WAIT_MS);
    ride_harness_rmtree(dir);
    free(dir);
}

static bool counter_reaches_three(void *ctx)
{
    int *n = ctx;
    return ++*n >= 3;
}

static bool never(void *ctx)
{
    (void)ctx;
    return false;
}

static void test_wait_until(void **state)
{
    (void)state;
    int n = 0;
    assert_true(ride_harness_wait_until(counter_reaches_three, &n, WAIT_MS));
    assert_int_equal(n, 3);
    int64_t t0 = ride_clock_mono_ms();
    assert_false(ride_harness_wait_until(never, NULL, 100));
    int64_t elapsed = ride_clock_mono_ms() - t0;
    assert_true(elapsed >= 100 && elapsed < 1000);
}

static void test_free_port_and_closed_port(void **state)
{
    (void)state;
    uint16_t port = ride_harness_free_port();
    assert_true(port > 0);
    char buf[64];
    assert_int_equal(ride_harness_four_letter(port, "srvr", buf, sizeof buf, 200), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_status_env_and_log),
        cmocka_unit_test(test_missing_program_exits_127),
        cmocka_unit_test(test_signal_and_stop),
        cmocka_unit_test(test_wait_until),
        cmocka_unit_test(test_free_port_and_closed_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
