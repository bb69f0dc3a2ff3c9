/* The kernel threads of a worker's stages (budget.h): the worker's cores split
 * between the workers of the machine, an explicit count kept, never below one;
 * and the count of workers announced in a directory, which forgets a dead one. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "budget.h"
#include "ride_test.h"

static void test_explicit_threads_win(void **state)
{
    (void)state;
    assert_int_equal(ride_worker_kernel_threads(3, 0, 16, 4, 1), 3);
    assert_int_equal(ride_worker_kernel_threads(32, 2, 2, 8, 1), 32);
}

static void test_cores_split_between_workers(void **state)
{
    (void)state;
    assert_int_equal(ride_worker_kernel_threads(0, 0, 16, 1, 1), 16);
    assert_int_equal(ride_worker_kernel_threads(0, 0, 16, 4, 1), 4);
    assert_int_equal(ride_worker_kernel_threads(0, 0, 16, 3, 1), 5);
    /* worker.threads is the worker's budget in place of the online cores. */
    assert_int_equal(ride_worker_kernel_threads(0, 8, 16, 2, 1), 4);
    /* None counted (the directory unreadable): the worker alone. */
    assert_int_equal(ride_worker_kernel_threads(0, 0, 6, 0, 1), 6);
}

static void test_never_below_one(void **state)
{
    (void)state;
    assert_int_equal(ride_worker_kernel_threads(0, 0, 2, 3, 1), 1);
    assert_int_equal(ride_worker_kernel_threads(0, 0, 1, 64, 1), 1);
    assert_int_equal(ride_worker_kernel_threads(0, 0, 0, 1, 1), 1);
    /* The stages of one worker run at once, on lanes of their own. */
    assert_int_equal(ride_worker_kernel_threads(0, 0, 16, 2, 2), 4);
    assert_int_equal(ride_worker_kernel_threads(0, 0, 2, 1, 2), 1);
    assert_int_equal(ride_worker_kernel_threads(0, 0, 16, 1, 0), 16);
    assert_int_equal(ride_worker_kernel_threads(5, 0, 16, 2, 2), 5);
}

/* A child process that announces itself in dir, says so on the pipe, then waits
 * to be killed. */
static pid_t announced_child(const char *dir)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[256];
        char ok = ride_worker_presence_join(dir, err, sizeof err) ? 'y' : 'n';
        if (write(fds[1], &ok, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(fds[1]);
    char ok = 0;
    assert_int_equal(read(fds[0], &ok, 1), 1);
    close(fds[0]);
    assert_int_equal(ok, 'y');
    return pid;
}

static void test_live_workers_are_counted(void **state)
{
    (void)state;
    char dir[] = "/tmp/ride-budget-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[64];
    snprintf(sub, sizeof sub, "%s/workers", dir);
    assert_int_equal(ride_worker_presence_count(sub), 0);

    char err[256];
    ride_worker_presence *me = ride_worker_presence_join(sub, err, sizeof err);
    assert_non_null(me);
    assert_int_equal(ride_worker_presence_count(sub), 1);

    pid_t other = announced_child(sub);
    assert_int_equal(ride_worker_presence_count(sub), 2);
    /* Killed: its file, unlocked, no longer counts and is removed. */
    assert_int_equal(kill(other, SIGKILL), 0);
    assert_int_equal(waitpid(other, NULL, 0), other);
    char left[96];
    snprintf(left, sizeof left, "%s/%ld.worker", sub, (long)other);
    assert_int_equal(access(left, F_OK), 0);
    assert_int_equal(ride_worker_presence_count(sub), 1);
    assert_int_equal(access(left, F_OK), -1);

    ride_worker_presence_leave(me);
    assert_int_equal(ride_worker_presence_count(sub), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_presence_dir_follows_systemd(void **state)
{
    (void)state;
    char buf[256];
    assert_int_equal(setenv("STATE_DIRECTORY", "/var/lib/ride:/var/lib/other", 1), 0);
    assert_string_equal(ride_worker_presence_dir(buf, sizeof buf), "/var/lib/ride/workers");
    assert_int_equal(unsetenv("STATE_DIRECTORY"), 0);
    char want[64];
    snprintf(want, sizeof want, "/tmp/ride-workers-%ld", (long)getuid());
    assert_string_equal(ride_worker_presence_dir(buf, sizeof buf), want);
    assert_null(ride_worker_presence_dir(buf, 8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explicit_threads_win),
        cmocka_unit_test(test_cores_split_between_workers),
        cmocka_unit_test(test_never_below_one),
        cmocka_unit_test(test_live_workers_are_counted),
        cmocka_unit_test(test_presence_dir_follows_systemd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
