/* The daemons as systemd sees them (Type=notify units, deploy/systemd): each is
 * started with NOTIFY_SOCKET naming a datagram socket of this test, standing in
 * for systemd, and WATCHDOG_USEC=200 ms, against the harness's ZooKeeper.
 * ride-worker and ride-producer send READY=1 once registered in ZooKeeper (the
 * node exists when it arrives), ride-master once in the election and then a
 * STATUS= naming its control API; all ping WATCHDOG=1 every half interval from
 * their loop, send STOPPING=1 on SIGTERM and exit 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ride_harness.h"
#include "cluster/zk.h"

#define WATCHDOG_USEC "200000"
#define READY_MS 20000
#define PINGS 3
#define PINGS_MS 5000
#define EXIT_MS 15000

typedef struct fixture {
    char *dir;
    char socket[600];
    int fd;
    char connect[300];
    char env_socket[640];
    ride_zk *zk;
    ride_proc *proc;
} fixture;

static int setup(void **state)
{
    static int instance;
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->dir = ride_harness_tempdir("ride-notify-");
    assert_non_null(fx->dir);
    snprintf(fx->socket, sizeof fx->socket, "%s/notify", fx->dir);
    fx->fd = ride_test_notify_socket(fx->socket);
    if (fx->fd < 0)
        fail_msg("cannot bind a datagram socket at %s", fx->socket);
    snprintf(fx->env_socket, sizeof fx->env_socket, "NOTIFY_SOCKET=%s", fx->socket);
    snprintf(fx->connect, sizeof fx->connect, "%s/sd%d",
             ride_harness_zk_connect(ride_harness_zk_shared()), instance++);
    char err[512];
    ride_zk_options zo = {.connect = fx->connect};
    if (ride_zk_connect(&zo, &fx->zk, err, sizeof err) != RIDE_ZK_OK)
        fail_msg("zookeeper: %s", err);
    /* A watchdog of the test's own parent is not the daemons'. */
    unsetenv("WATCHDOG_PID");
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ride_harness_proc_stop(fx->proc, 5000);
    ride_zk_close(fx->zk);
    close(fx->fd);
    ride_harness_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

static void spawn(fixture *fx, const char *const argv[])
{
    char log[700];
    snprintf(log, sizeof log, "%s/daemon.log", fx->dir);
    const char *env[] = {fx->env_socket, "WATCHDOG_USEC=" WATCHDOG_USEC, NULL};
    fx->proc = ride_harness_spawn(argv, env, log);
    assert_non_null(fx->proc);
}

static void print_log(fixture *fx)
{
    char log[700];
    snprintf(log, sizeof log, "%s/daemon.log", fx->dir);
    char *text = ride_harness_read_file(log, NULL);
    printf("--- daemon log\n%s---\n", text ? text : "(none)\n");
    free(text);
}

/* Reads datagrams until one starts with prefix; its arrival time (monotonic
 * ms), or fails the test at the deadline. */
static int64_t await_message(fixture *fx, const char *prefix, int timeout_ms, char *got,
                             size_t len)
{
    int64_t deadline = ride_clock_mono_ms() + timeout_ms;
    for (int64_t now = ride_clock_mono_ms(); now < deadline; now = ride_clock_mono_ms()) {
        if (ride_test_notify_receive(fx->fd, (int)(deadline - now), got, len) < 0)
            continue;
        if (strncmp(got, prefix, strlen(prefix)) == 0)
            return ride_clock_mono_ms();
    }
    print_log(fx);
    fail_msg("no '%s' within %d ms", prefix, timeout_ms);
    return -1;
}

/* Pings keep coming, and never faster than every half interval (100 ms). What
 * already waits on the socket is drained first and the clock starts after it:
 * every ping counted is then sent after the start, however late this process
 * gets to read them, so a loaded machine cannot make them look bunched. */
static void expect_watchdog(fixture *fx)
{
    char got[512];
    await_message(fx, "WATCHDOG=1", PINGS_MS, got, sizeof got);
    while (ride_test_notify_receive(fx->fd, 0, got, sizeof got) >= 0)
        ;
    int64_t start = ride_clock_mono_ms(), last = start;
    for (int i = 0; i < PINGS; i++)
        last = await_message(fx, "WATCHDOG=1", PINGS_MS, got, sizeof got);
    printf("%d pings in %lld ms\n", PINGS, (long long)(last - start));
    assert_true(last - start >= (PINGS - 1) * 100 - 20);
}

static void expect_clean_stop(fixture *fx)
{
    char got[512];
    assert_int_equal(ride_harness_proc_signal(fx->proc, SIGTERM), 0);
    await_message(fx, "STOPPING=1", EXIT_MS, got, sizeof got);
    int status = ride_harness_proc_wait(fx->proc, EXIT_MS);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* READY=1 arrives, and by then the registration node exists. */
static void expect_registered_ready(fixture *fx, const char *node)
{
    char got[512], want[300];
    snprintf(want, sizeof want, "READY=1\nSTATUS=registered as %s", node);
    await_message(fx, "READY=1", READY_MS, got, sizeof got);
    assert_string_equal(got, want);
    assert_int_equal(ride_zk_exists(fx->zk, node, NULL), RIDE_ZK_OK);
}

static void test_worker(void **state)
{
    fixture *fx = *state;
    const char *argv[] = {RIDE_BIN_DIR "/ride-worker", "--zookeeper", fx->connect, "--id",
                          "notify-worker", "--metrics-listen", "127.0.0.1:0", NULL};
    spawn(fx, argv);
    expect_registered_ready(fx, "/workers/notify-worker");
    expect_watchdog(fx);
    expect_clean_stop(fx);
}

static void test_producer(void **state)
{
    fixture *fx = *state;
    char config[700], text[1024];
    snprintf(config, sizeof config, "%s/producer.yaml", fx->dir);
    snprintf(text, sizeof text,
             "zookeeper:\n  connect: \"%s\"\nproducer:\n  id: notify-producer\n"
             "metrics:\n  listen: \"127.0.0.1:0\"\n",
             fx->connect);
    assert_int_equal(ride_harness_write_file(config, text), 0);
    const char *argv[] = {RIDE_BIN_DIR "/ride-producer", "--config", config, NULL};
    spawn(fx, argv);
    expect_registered_ready(fx, "/producers/notify-producer");
    expect_watchdog(fx);
    expect_clean_stop(fx);
}

static void test_master(void **state)
{
    fixture *fx = *state;
    const char *argv[] = {RIDE_BIN_DIR "/ride-master", "--zookeeper", fx->connect, "--id",
                          "notify-master", "--api-listen", "127.0.0.1:0", "--metrics-listen",
                          "127.0.0.1:0", NULL};
    spawn(fx, argv);
    char got[512];
    await_message(fx, "READY=1", READY_MS, got, sizeof got);
    assert_string_equal(got, "READY=1\nSTATUS=standby: in the election");
    /* The only master leads; its status names the control API it serves. */
    await_message(fx, "STATUS=leading: generation ", READY_MS, got, sizeof got);
    assert_non_null(strstr(got, ", control API http://127.0.0.1:"));
    expect_watchdog(fx);
    expect_clean_stop(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_producer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_master, setup, teardown),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup,
                                  ride_harness_zk_group_teardown);
}
