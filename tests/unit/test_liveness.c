/* cluster/liveness.h over loopback: a member's connection that closes without a
 * goodbye marks it lost (a plain socket closed by the test stands in for a killed
 * process), a goodbye does not, a second open connection or a new hello clears
 * it, and the client's hello and goodbye reach the listener. */
#include "ride_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "base/clock.h"
#include "cluster/liveness.h"

#define WAIT_MS 2000

typedef struct fixture {
    uv_loop_t loop;
    ride_liveness_server *srv;
    int lost_calls;
    char addr[64];
} fixture;

static void on_lost(const char *id, bool worker, void *ctx)
{
    (void)id;
    (void)worker;
    ((fixture *)ctx)->lost_calls++;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    char err[256];
    f->srv = ride_liveness_server_start(&f->loop, "127.0.0.1", on_lost, f, err, sizeof err);
    assert_non_null(f->srv);
    snprintf(f->addr, sizeof f->addr, "127.0.0.1:%d", ride_liveness_server_port(f->srv));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ride_liveness_server_stop(f->srv);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

/* Runs the loop until the member's lost mark is `lost`; false after WAIT_MS. */
static bool wait_lost(fixture *f, const char *id, bool lost)
{
    int64_t deadline = ride_clock_mono_ms() + WAIT_MS;
    while (ride_liveness_server_lost(f->srv, id, true) != lost) {
        if (ride_clock_mono_ms() > deadline)
            return false;
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    return true;
}

/* Runs the loop until the listener holds `count` connections (with greeted_only,
 * of members that said hello); false after WAIT_MS. A close the test made has been
 * seen by the listener once its connection is gone from the count. */
static bool wait_connections(fixture *f, size_t count, bool greeted_only)
{
    int64_t deadline = ride_clock_mono_ms() + WAIT_MS;
    while (ride_liveness_server_connections(f->srv, greeted_only) != count) {
        if (ride_clock_mono_ms() > deadline)
            return false;
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    return true;
}

/* A blocking socket to the listener that has sent `text`. */
static int raw_member(fixture *f, const char *text)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)ride_liveness_server_port(f->srv))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    return fd;
}

static void test_close_without_goodbye_is_lost(void **state)
{
    fixture *f = *state;
    int fd = raw_member(f, "ride-liveness 1 worker w1\n");
    assert_true(wait_connections(f, 1, true));
    assert_false(ride_liveness_server_lost(f->srv, "w1", true));
    close(fd);
    assert_true(wait_lost(f, "w1", true));
    assert_int_equal(f->lost_calls, 1);
    assert_false(ride_liveness_server_lost(f->srv, "w1", false));
    ride_liveness_server_forget(f->srv, "w1", true);
    assert_false(ride_liveness_server_lost(f->srv, "w1", true));
}

static void test_goodbye_is_not_lost(void **state)
{
    fixture *f = *state;
    int fd = raw_member(f, "ride-liveness 1 worker w1\nbye\n");
    assert_true(wait_connections(f, 1, true));
    close(fd);
    assert_true(wait_connections(f, 0, false));
    assert_false(ride_liveness_server_lost(f->srv, "w1", true));
    assert_int_equal(f->lost_calls, 0);
}

static void test_other_connection_keeps_member(void **state)
{
    fixture *f = *state;
    int old = raw_member(f, "ride-liveness 1 worker w1\n");
    int fresh = raw_member(f, "ride-liveness 1 worker w1\n");
    assert_true(wait_connections(f, 2, true));
    close(old);
    assert_true(wait_connections(f, 1, false));
    assert_false(ride_liveness_server_lost(f->srv, "w1", true));
    close(fresh);
    assert_true(wait_lost(f, "w1", true));
    int back = raw_member(f, "ride-liveness 1 worker w1\n");
    assert_true(wait_lost(f, "w1", false));
    close(back);
    assert_true(wait_lost(f, "w1", true));
}

static void test_broken_hello_says_nothing(void **state)
{
    fixture *f = *state;
    close(raw_member(f, "hello w1\n"));
    close(raw_member(f, "ride-liveness 1 worker w1\nnonsense\n"));
    close(raw_member(f, "ride-liveness 1 camera w1\n"));
    assert_true(wait_connections(f, 0, false));
    assert_false(ride_liveness_server_lost(f->srv, "w1", true));
    assert_int_equal(f->lost_calls, 0);
}

static void test_client_hello_and_goodbye(void **state)
{
    fixture *f = *state;
    close(raw_member(f, "ride-liveness 1 worker w1\n"));
    assert_true(wait_lost(f, "w1", true));
    ride_liveness_client *c = ride_liveness_client_new(&f->loop, true, "w1");
    assert_non_null(c);
    ride_liveness_client_target(c, f->addr);
    assert_true(wait_lost(f, "w1", false)); /* its hello clears the mark */
    ride_liveness_client_close(c);
    assert_true(wait_connections(f, 0, false));
    assert_false(ride_liveness_server_lost(f->srv, "w1", true));
    assert_int_equal(f->lost_calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_close_without_goodbye_is_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_goodbye_is_not_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_connection_keeps_member, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_hello_says_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_hello_and_goodbye, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
