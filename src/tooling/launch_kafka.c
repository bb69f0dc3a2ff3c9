/* A Kafka broker from an installation's start script with a generated
 * server.properties. Ready means a metadata request answers with the broker: the
 * port accepting connections comes earlier, before the broker has registered in
 * ZooKeeper and can create topics. */
#define _GNU_SOURCE
#include "launch_kafka.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "launch_zookeeper.h"

#define METADATA_TIMEOUT_MS 1000
#define FAILED_STOP_GRACE_MS 10000
#define START_ATTEMPTS 2
#define DEFAULT_HEAP "256m"
#define SCRAM_USER_TIMEOUT_MS 60000

const char *ride_launch_kafka_home(const char *fallback)
{
    const char *home = getenv("RIDE_KAFKA_HOME");
    return home && *home ? home : fallback;
}

static bool executable(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, X_OK) == 0;
}

/* Both start scripts run `java` from PATH, the distribution's from $JAVA_HOME first. */
static bool java_found(void)
{
    const char *java_home = getenv("JAVA_HOME");
    if (java_home && *java_home && executable(java_home, "bin/java"))
        return true;
    const char *path = getenv("PATH");
    char *dirs = strdup(path ? path : "");
    char *save = NULL;
    bool found = false;
    for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save))
        found = executable(d, "java");
    free(dirs);
    return found;
}

/* The start script: this project's bin/kafka-broker, else an Apache Kafka
 * distribution's bin/kafka-server-start.sh; NULL when home has neither. */
static const char *start_script(const char *home)
{
    if (executable(home, "bin/kafka-broker"))
        return "bin/kafka-broker";
    if (executable(home, "bin/kafka-server-start.sh"))
        return "bin/kafka-server-start.sh";
    return NULL;
}

const char *ride_launch_kafka_unavailable(const char *home, char *buf, size_t len)
{
    if (!home)
        snprintf(buf, len, "no Kafka installation (set RIDE_KAFKA_HOME)");
    else if (access(home, F_OK) != 0)
        snprintf(buf, len, "no Kafka installation at %s (set RIDE_KAFKA_HOME)", home);
    else if (!start_script(home))
        snprintf(buf, len, "no bin/kafka-broker or bin/kafka-server-start.sh in %s", home);
    else if (!java_found())
        snprintf(buf, len, "no java in PATH to run the broker of %s (install default-jre)", home);
    else
        return NULL;
    return buf;
}

/* The listeners: PLAINTEXT alone, or beside it SASL_PLAINTEXT with PLAIN and
 * SCRAM for one user, the brokers keeping PLAINTEXT among themselves. PLAIN users
 * live in the JAAS line, SCRAM users in ZooKeeper (add_scram_user). */
static void write_listeners(FILE *f, const ride_launch_kafka_options *o, uint16_t port,
                            uint16_t sasl_port)
{
    if (!o->sasl_user) {
        fprintf(f, "listeners=PLAINTEXT://127.0.0.1:%u\n", port);
        return;
    }
    fprintf(f,
            "listeners=PLAINTEXT://127.0.0.1:%u,SASL_PLAINTEXT://127.0.0.1:%u\n"
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT\n"
            "inter.broker.listener.name=PLAINTEXT\n"
            "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512\n"
            "listener.name.sasl_plaintext.plain.sasl.jaas.config="
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            "user_%s=\"%s\";\n"
            "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;\n"
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;\n",
            port, sasl_port, o->sasl_user, o->sasl_password ? o->sasl_password : "");
}

static int write_properties(const ride_launch_kafka_options *o, uint16_t port,
                            uint16_t sasl_port, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "%s/server.properties", o->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "broker.id=0\n");
    write_listeners(f, o, port, sasl_port);
    /* One broker: internal topics with replication 1 (transactions need it), topics
     * only through the Admin API, small segments and cleaner buffer for a small heap
     * (the cleaner's default buffer is 128 MB). */
    fprintf(f,
            "log.dirs=%s/data\n"
            "zookeeper.connect=%s\n"
            "num.partitions=1\n"
            "auto.create.topics.enable=false\n"
            "delete.topic.enable=true\n"
            "offsets.topic.replication.factor=1\n"
            "offsets.topic.num.partitions=4\n"
            "transaction.state.log.replication.factor=1\n"
            "transaction.state.log.min.isr=1\n"
            "transaction.state.log.num.partitions=4\n"
            "group.initial.rebalance.delay.ms=0\n"
            "log.segment.bytes=16777216\n"
            "log.retention.bytes=67108864\n"
            "log.retention.check.interval.ms=10000\n"
            "log.cleaner.dedupe.buffer.size=8388608\n"
            "%s",
            o->dir, o->zookeeper, o->extra ? o->extra : "");
    return fclose(f) == 0 ? 0 : -1;
}

static void discard_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk, (void)level, (void)fac, (void)buf;
}

/* A client that retries quickly and keeps quiet: until the broker listens every
 * connection is refused, which is no news. */
static rd_kafka_t *probe_client(uint16_t port, char *err, size_t errlen)
{
    char bootstrap[32];
    snprintf(bootstrap, sizeof bootstrap, "127.0.0.1:%u", port);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, errlen) ||
        rd_kafka_conf_set(conf, "reconnect.backoff.max.ms", "200", err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, discard_log);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
    if (!rk)
        rd_kafka_conf_destroy(conf);
    return rk;
}

typedef struct start_probe {
    ride_launch_proc *proc;
    rd_kafka_t *rk;
} start_probe;

/* Settled once metadata lists one broker, or the broker has exited. */
static bool start_settled(void *ctx)
{
    start_probe *sp = ctx;
    if (!ride_launch_alive(sp->proc))
        return true;
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(sp->rk, 0, NULL, &md, METADATA_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    bool ready = md->broker_cnt == 1;
    rd_kafka_metadata_destroy(md);
    return ready;
}

static ride_launch_proc *spawn_broker(const ride_launch_kafka_options *o, const char *props)
{
    const char *script = start_script(o->home);
    char path[1024], heap[64], heap_opts[128], log_dir[1024], app_log_dir[1024];
    snprintf(path, sizeof path, "%s/%s", o->home, script);
    const char *size = o->heap ? o->heap : DEFAULT_HEAP;
    /* kafka-broker reads KAFKA_HEAP and KAFKA_LOG_DIR; a distribution's script
     * KAFKA_HEAP_OPTS and LOG_DIR. */
    snprintf(heap, sizeof heap, "KAFKA_HEAP=%s", size);
    snprintf(heap_opts, sizeof heap_opts, "KAFKA_HEAP_OPTS=-Xms%s -Xmx%s", size, size);
    snprintf(log_dir, sizeof log_dir, "KAFKA_LOG_DIR=%s", o->dir);
    snprintf(app_log_dir, sizeof app_log_dir, "LOG_DIR=%s", o->dir);
    const char *env[] = {heap, heap_opts, log_dir, app_log_dir, NULL};
    const char *argv[] = {path, props, NULL};
    char console[1024];
    snprintf(console, sizeof console, "%s/console.log", o->dir);
    return ride_launch_spawn(argv, env, console);
}

/* Runs the broker of the properties file and waits until it serves metadata on
 * port: the broker, or NULL with the reason in err. */
static ride_launch_proc *spawn_serving(const ride_launch_kafka_options *o, const char *props,
                                       uint16_t port, char *err, size_t errlen)
{
    start_probe sp = {.rk = probe_client(port, err, errlen)};
    if (!sp.rk)
        return NULL;
    sp.proc = spawn_broker(o, props);
    if (!sp.proc) {
        rd_kafka_destroy(sp.rk);
        snprintf(err, errlen, "cannot start the broker of %s", o->home);
        return NULL;
    }
    bool settled = ride_launch_wait_until(start_settled, &sp, o->timeout_ms);
    rd_kafka_destroy(sp.rk);
    if (settled && ride_launch_alive(sp.proc))
        return sp.proc;
    snprintf(err, errlen, "Kafka on port %u %s (see %s/console.log and %s/server.log)", port,
             settled ? "exited during start" : "did not serve metadata in time", o->dir, o->dir);
    ride_launch_stop(sp.proc, FAILED_STOP_GRACE_MS);
    return NULL;
}

/* A second free port for the SASL listener, other than port; 0 when none is needed. */
static uint16_t other_free_port(const ride_launch_kafka_options *o, uint16_t port)
{
    if (!o->sasl_user || port == 0)
        return 0;
    uint16_t p = ride_launch_free_port();
    while (p == port)
        p = ride_launch_free_port();
    return p;
}

/* One attempt on one port (two with SASL): the serving broker, or NULL with the
 * reason in err. */
static ride_launch_proc *start_once(const ride_launch_kafka_options *o, uint16_t *port,
                                    uint16_t *sasl_port, char *err, size_t errlen)
{
    char props[1024];
    *port = ride_launch_free_port();
    *sasl_port = other_free_port(o, *port);
    if (*port == 0 || (o->sasl_user && *sasl_port == 0) ||
        write_properties(o, *port, *sasl_port, props, sizeof props) != 0) {
        snprintf(err, errlen, "cannot write Kafka's properties in %s: %s", o->dir,
                 strerror(errno));
        return NULL;
    }
    return spawn_serving(o, props, *port, err, errlen);
}

/* The user and password go between quotes in a JAAS line, the user into a key
 * too, and both into ConfigCommand's "SCRAM-SHA-256=[password=...]" list. */
static bool jaas_safe(const char *s)
{
    return !s || !strpbrk(s, "\"\\\n;= ,[]");
}

/* Gives the SASL user SCRAM-SHA-256 and -512 credentials: the broker's own
 * ConfigCommand writes them into its ZooKeeper chroot (which exists once the
 * broker serves), and the broker picks them up from there. */
static int add_scram_user(const ride_launch_kafka_options *o, char *err, size_t errlen)
{
    char classpath[1024], config[512], log[1024];
    snprintf(classpath, sizeof classpath, "%s/libs/*", o->home);
    snprintf(config, sizeof config, "SCRAM-SHA-256=[password=%s],SCRAM-SHA-512=[password=%s]",
             o->sasl_password ? o->sasl_password : "", o->sasl_password ? o->sasl_password : "");
    snprintf(log, sizeof log, "%s/scram-users.log", o->dir);
    const char *argv[] = {"java", "-cp", classpath, "kafka.admin.ConfigCommand", "--zookeeper",
                          o->zookeeper, "--alter", "--add-config", config, "--entity-type",
                          "users", "--entity-name", o->sasl_user, NULL};
    ride_launch_proc *p = ride_launch_spawn(argv, NULL, log);
    int status = p ? ride_launch_wait(p, SCRAM_USER_TIMEOUT_MS) : -1;
    ride_launch_stop(p, 0);
    if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    snprintf(err, errlen, "cannot add the SCRAM user with kafka.admin.ConfigCommand (see %s)",
             log);
    return -1;
}

ride_launch_proc *ride_launch_kafka_start(const ride_launch_kafka_options *o, uint16_t *port,
                                          uint16_t *sasl_port, char *err, size_t errlen)
{
    const char *why = ride_launch_kafka_unavailable(o->home, err, errlen);
    if (why)
        return NULL;
    if (!jaas_safe(o->sasl_user) || !jaas_safe(o->sasl_password) ||
        (o->sasl_user && !o->sasl_user[0])) {
        snprintf(err, errlen, "SASL user or password empty or with a quote, backslash, "
                              "'=', ';', ',', '[', ']', space or newline");
        return NULL;
    }
    uint16_t unused;
    if (!sasl_port)
        sasl_port = &unused;
    ride_launch_proc *p = NULL;
    for (int attempt = 0; !p && attempt < START_ATTEMPTS; attempt++)
        p = start_once(o, port, sasl_port, err, errlen);
    if (p && o->sasl_user && add_scram_user(o, err, errlen)) {
        ride_launch_stop(p, FAILED_STOP_GRACE_MS);
        return NULL;
    }
    return p;
}

ride_launch_proc *ride_launch_kafka_restart(const ride_launch_kafka_options *o, uint16_t port,
                                            char *err, size_t errlen)
{
    char props[1024];
    snprintf(props, sizeof props, "%s/server.properties", o->dir);
    return spawn_serving(o, props, port, err, errlen);
}
