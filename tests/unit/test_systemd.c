/* cluster/systemd.h against a notify socket of the test's own, standing in for
 * systemd: the exact datagrams sent, silence outside systemd, the watchdog
 * interval from the environment and the loop timer that pings. */
#include "ride_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "cluster/systemd.h"

#define WAIT_MS 2000

typedef struct fixture {
    char dir[64];
    char path[96];
    int fd;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ride-systemd-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/notify", f->dir);
    f->fd = ride_test_notify_socket(f->path);
    assert_true(f->fd >= 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", f->path, 1), 0);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    close(f->fd);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void expect_message(fixture *f, const char *want)
{
    char buf[1024];
    if (ride_test_notify_receive(f->fd, WAIT_MS, buf, sizeof buf) < 0)
        fail_msg("no datagram, expected '%s'", want);
    assert_string_equal(buf, want);
}

static void expect_nothing(fixture *f)
{
    char buf[1024];
    assert_int_equal(ride_test_notify_receive(f->fd, 0, buf, sizeof buf), -1);
}

static void set_watchdog(const char *usec, long pid)
{
    char text[32];
    snprintf(text, sizeof text, "%ld", pid);
    assert_int_equal(setenv("WATCHDOG_USEC", usec, 1), 0);
    assert_int_equal(setenv("WATCHDOG_PID", text, 1), 0);
}

static void test_messages(void **state)
{
    fixture *f = *state;
    assert_int_equal(ride_systemd_ready("registered as /workers/w1"), 1);
    expect_message(f, "READY=1\nSTATUS=registered as /workers/w1");
    assert_int_equal(ride_systemd_ready(NULL), 1);
    expect_message(f, "READY=1");
    assert_int_equal(ride_systemd_status("leading: generation %d", 7), 1);
    expect_message(f, "STATUS=leading: generation 7");
    assert_int_equal(ride_systemd_stopping(), 1);
    expect_message(f, "STOPPING=1");
    assert_int_equal(ride_systemd_watchdog_ping(), 1);
    expect_message(f, "WATCHDOG=1");
}

/* A status is one assignment: text from ZooKeeper or a config cannot add others. */
static void test_status_stays_one_line(void **state)
{
    fixture *f = *state;
    assert_int_equal(ride_systemd_status("%s", "a\nREADY=1\rb"), 1);
    expect_message(f, "STATUS=a READY=1 b");
    assert_int_equal(ride_systemd_ready("x\nWATCHDOG=trigger"), 1);
    expect_message(f, "READY=1\nSTATUS=x WATCHDOG=trigger");
    char long_text[2000];
    memset(long_text, 'a', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    assert_int_equal(ride_systemd_status("%s", long_text), 1);
    char buf[4096];
    assert_true(ride_test_notify_receive(f->fd, WAIT_MS, buf, sizeof buf) > 0);
    assert_int_equal(strncmp(buf, "STATUS=aaa", 10), 0);
    assert_null(strchr(buf, '\n'));
}

static void test_outside_systemd_nothing_is_sent(void **state)
{
    fixture *f = *state;
    unsetenv("NOTIFY_SOCKET");
    set_watchdog("100000", (long)getpid());
    assert_int_equal(ride_systemd_ready("x"), 0);
    assert_int_equal(ride_systemd_status("x"), 0);
    assert_int_equal(ride_systemd_stopping(), 0);
    assert_int_equal(ride_systemd_watchdog_ping(), 0);
    assert_int_equal(ride_systemd_watchdog_usec(), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    assert_null(ride_systemd_watchdog_start(&loop));
    ride_systemd_watchdog_stop(NULL);
    assert_int_equal(uv_loop_close(&loop), 0);
    expect_nothing(f);
}

static void test_unreachable_socket_is_an_error(void **state)
{
    (void)state;
    assert_int_equal(setenv("NOTIFY_SOCKET", "/nonexistent/ride/notify", 1), 0);
    assert_true(ride_systemd_ready("x") < 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", "relative/notify", 1), 0);
    assert_true(ride_systemd_stopping() < 0);
}

static void test_watchdog_interval(void **state)
{
    (void)state;
    assert_int_equal(ride_systemd_watchdog_usec(), 0);
    set_watchdog("30000000", (long)getpid());
    assert_int_equal(ride_systemd_watchdog_usec(), 30000000);
    /* Meant for another process (a parent's watchdog passed down). */
    set_watchdog("30000000", (long)getpid() + 1);
    assert_int_equal(ride_systemd_watchdog_usec(), 0);
    set_watchdog("soon", (long)getpid());
    assert_int_equal(ride_systemd_watchdog_usec(), 0);
    set_watchdog("-5", (long)getpid());
    assert_int_equal(ride_systemd_watchdog_usec(), 0);
    set_watchdog("0", (long)getpid());
    assert_int_equal(ride_systemd_watchdog_usec(), 0);
}

typedef struct probe {
    fixture *f;
    int pings;
    int others;
    int64_t first_ms;
    int64_t third_ms;
    int64_t deadline_ms;
} probe;

static void on_probe(uv_timer_t *t)
{
    probe *p = t->data;
    char buf[256];
    while (ride_test_notify_receive(p->f->fd, 0, buf, sizeof buf) >= 0) {
        if (strcmp(buf, "WATCHDOG=1") != 0) {
            p->others++;
            continue;
        }
        if (++p->pings == 1)
            p->first_ms = ride_clock_mono_ms();
        if (p->pings == 3)
            p->third_ms = ride_clock_mono_ms();
    }
    if (p->pings >= 3 || ride_clock_mono_ms() > p->deadline_ms)
        uv_timer_stop(t);
}

/* WATCHDOG_USEC=100 ms: pings every 50 ms from the loop, and the loop still ends
 * when the daemon's own handles are gone. */
static void test_watchdog_timer_pings_from_the_loop(void **state)
{
    fixture *f = *state;
    set_watchdog("100000", (long)getpid());
    /* Read before the loop caches its time, which the watchdog's timer counts
     * from: the first ping can then come no sooner than 50 ms after it, however
     * late this thread runs. */
    int64_t start = ride_clock_mono_ms();
    uv_loop_t loop;
    uv_loop_init(&loop);
    ride_systemd_watchdog *wd = ride_systemd_watchdog_start(&loop);
    assert_non_null(wd);
    probe p = {.f = f, .deadline_ms = ride_clock_mono_ms() + 5000};
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = &p;
    uv_timer_start(&t, on_probe, 5, 5);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(p.pings, 3);
    assert_int_equal(p.others, 0);
    /* Half the interval apart: 50 ms each, loosely (a loaded machine runs late). */
    assert_true(p.first_ms - start >= 45);
    assert_true(p.third_ms - p.first_ms >= 90);
    assert_true(p.third_ms - p.first_ms < 2000);
    uv_close((uv_handle_t *)&t, NULL);
    ride_systemd_watchdog_stop(wd);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_stays_one_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outside_systemd_nothing_is_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_socket_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_timer_pings_from_the_loop, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
