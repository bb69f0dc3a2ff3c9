/* A real Kafka broker on loopback for the tests labelled realkafka, beside the
 * ZooKeeper server the file already runs; its data is deleted when it stops,
 * since whole frames fill disks fast. */
#include "ride_harness.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define KAFKA_READY_TIMEOUT_MS 60000
#define KAFKA_STOP_GRACE_MS 20000
#define KAFKA_HEAP "256m"

struct ride_kafka_server {
    char *dir;
    ride_proc *proc; /* NULL while killed */
    char connect[128];
    uint16_t port;
    char bootstrap[32];
    char sasl_bootstrap[32]; /* "" without the SASL listener */
};

static const char *kafka_home(void)
{
    return ride_launch_kafka_home(RIDE_SOURCE_DIR "/../shared/kafka");
}

void ride_harness_kafka_require(void)
{
    char why[1200];
    if (ride_launch_kafka_unavailable(kafka_home(), why, sizeof why)) {
        fprintf(stderr, "SKIP: no real Kafka broker can run here: %s\n", why);
        exit(RIDE_TEST_SKIP);
    }
}

static void print_logs(const ride_kafka_server *s)
{
    static const char *const names[] = {"console.log", "server.log"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/%s", s->dir, names[i]);
        char *log = ride_harness_read_file(path, NULL);
        fprintf(stderr, "---- Kafka %s ----\n%s\n----\n", path, log ? log : "(none)");
        free(log);
    }
}

ride_kafka_server *ride_harness_kafka_start(const ride_zk_server *zk)
{
    return ride_harness_kafka_start_sasl(zk, NULL, NULL);
}

ride_kafka_server *ride_harness_kafka_start_sasl(const ride_zk_server *zk, const char *user,
                                                 const char *password)
{
    static int instance;
    ride_kafka_server *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = ride_harness_tempdir("ride-kafka-"))) {
        ride_harness_kafka_stop(s);
        return NULL;
    }
    char err[1200];
    snprintf(s->connect, sizeof s->connect, "%s/kafka-%ld-%d", ride_harness_zk_connect(zk),
             (long)getpid(), instance++);
    ride_launch_kafka_options o = {.home = kafka_home(), .dir = s->dir, .zookeeper = s->connect,
                                   .heap = KAFKA_HEAP, .timeout_ms = KAFKA_READY_TIMEOUT_MS,
                                   .sasl_user = user, .sasl_password = password};
    uint16_t port = 0, sasl_port = 0;
    int64_t started = ride_clock_mono_ms();
    s->proc = ride_launch_kafka_start(&o, &port, &sasl_port, err, sizeof err);
    if (!s->proc) {
        fprintf(stderr, "harness: %s\n", err);
        print_logs(s);
        ride_harness_kafka_stop(s);
        return NULL;
    }
    s->port = port;
    snprintf(s->bootstrap, sizeof s->bootstrap, "127.0.0.1:%u", port);
    if (sasl_port)
        snprintf(s->sasl_bootstrap, sizeof s->sasl_bootstrap, "127.0.0.1:%u", sasl_port);
    printf("harness: Kafka broker %s ready in %" PRId64 " ms (%s)\n", s->bootstrap,
           ride_clock_mono_ms() - started, o.home);
    return s;
}

const char *ride_harness_kafka_bootstrap(const ride_kafka_server *s) { return s->bootstrap; }

const char *ride_harness_kafka_sasl_bootstrap(const ride_kafka_server *s)
{
    return s->sasl_bootstrap;
}

void ride_harness_kafka_stop(ride_kafka_server *s)
{
    if (!s)
        return;
    int64_t stopping = ride_clock_mono_ms();
    if (s->proc && ride_harness_proc_stop(s->proc, KAFKA_STOP_GRACE_MS) < 0)
        printf("harness: Kafka broker %s killed after %d ms\n", s->bootstrap,
               KAFKA_STOP_GRACE_MS);
    else if (s->proc)
        printf("harness: Kafka broker %s stopped in %" PRId64 " ms\n", s->bootstrap,
               ride_clock_mono_ms() - stopping);
    ride_harness_rmtree(s->dir);
    free(s->dir);
    free(s);
}

void ride_harness_kafka_kill(ride_kafka_server *s)
{
    assert_int_equal(ride_harness_proc_signal(s->proc, SIGKILL), 0);
    /* A SIGKILLed process exits at once: the stop only reaps and frees it. */
    ride_harness_proc_stop(s->proc, KAFKA_STOP_GRACE_MS);
    s->proc = NULL;
    printf("harness: Kafka broker %s killed\n", s->bootstrap);
}

int ride_harness_kafka_restart(ride_kafka_server *s)
{
    ride_launch_kafka_options o = {.home = kafka_home(), .dir = s->dir, .zookeeper = s->connect,
                                   .heap = KAFKA_HEAP, .timeout_ms = KAFKA_READY_TIMEOUT_MS};
    char err[1200];
    int64_t started = ride_clock_mono_ms();
    s->proc = ride_launch_kafka_restart(&o, s->port, err, sizeof err);
    if (!s->proc) {
        fprintf(stderr, "harness: %s\n", err);
        print_logs(s);
        return -1;
    }
    printf("harness: Kafka broker %s ready again in %" PRId64 " ms\n", s->bootstrap,
           ride_clock_mono_ms() - started);
    return 0;
}

static ride_kafka_server *shared_broker;

int ride_harness_kafka_group_setup(void **state)
{
    ride_harness_kafka_require();
    if (ride_harness_zk_group_setup(state))
        return -1;
    shared_broker = ride_harness_kafka_start(ride_harness_zk_shared());
    return shared_broker ? 0 : -1;
}

int ride_harness_kafka_group_teardown(void **state)
{
    ride_harness_kafka_stop(shared_broker);
    shared_broker = NULL;
    return ride_harness_zk_group_teardown(state);
}

ride_kafka_server *ride_harness_kafka_shared(void) { return shared_broker; }
