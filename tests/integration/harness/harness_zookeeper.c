/* A real standalone ZooKeeper server on loopback for integration tests. */
#include "ride_harness.h"

#include <stdio.h>
#include <stdlib.h>

#define ZK_READY_TIMEOUT_MS 30000
#define ZK_STOP_GRACE_MS 10000

struct ride_zk_server {
    char *dir;
    ride_proc *proc;
    uint16_t port;
    char connect[32];
    char log_path[512];
};

void ride_harness_zk_require(void)
{
    const char *why = ride_harness_zk_unavailable();
    if (why) {
        fprintf(stderr, "SKIP: ZooKeeper server cannot run here: %s\n", why);
        exit(RIDE_TEST_SKIP);
    }
}

static void print_server_log(const ride_zk_server *s)
{
    char *log = ride_harness_read_file(s->log_path, NULL);
    fprintf(stderr, "---- ZooKeeper log %s ----\n%s\n----\n", s->log_path, log ? log : "(none)");
    free(log);
}

ride_zk_server *ride_harness_zk_start(void)
{
    if (ride_harness_zk_unavailable())
        return NULL;
    ride_zk_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->dir = ride_harness_tempdir("ride-zk-");
    if (!s->dir) {
        ride_harness_zk_stop(s);
        return NULL;
    }
    snprintf(s->log_path, sizeof s->log_path, "%s/zookeeper.log", s->dir);
    char err[1024];
    s->proc = ride_launch_zookeeper_start(s->dir, s->log_path, ZK_READY_TIMEOUT_MS, &s->port, err,
                                          sizeof err);
    if (!s->proc) {
        fprintf(stderr, "harness: %s\n", err);
        print_server_log(s);
        ride_harness_zk_stop(s);
        return NULL;
    }
    snprintf(s->connect, sizeof s->connect, "127.0.0.1:%u", s->port);
    return s;
}

const char *ride_harness_zk_connect(const ride_zk_server *s) { return s->connect; }

uint16_t ride_harness_zk_port(const ride_zk_server *s) { return s->port; }

void ride_harness_zk_stop(ride_zk_server *s)
{
    if (!s)
        return;
    ride_harness_proc_stop(s->proc, ZK_STOP_GRACE_MS);
    ride_harness_rmtree(s->dir);
    free(s->dir);
    free(s);
}

static ride_zk_server *shared_server;

int ride_harness_zk_group_setup(void **state)
{
    (void)state;
    ride_harness_zk_require();
    shared_server = ride_harness_zk_start();
    return shared_server ? 0 : -1;
}

int ride_harness_zk_group_teardown(void **state)
{
    (void)state;
    ride_harness_zk_stop(shared_server);
    shared_server = NULL;
    return 0;
}

ride_zk_server *ride_harness_zk_shared(void) { return shared_server; }
