/* launch_kafka.h - a single Apache Kafka broker for the integration tests: a Kafka
 * installation (the one in ../shared/kafka beside the project, or $RIDE_KAFKA_HOME)
 * run on 127.0.0.1 and a free port against a ZooKeeper server, its properties, data
 * and log in a directory the caller owns. */
#ifndef RIDE_LAUNCH_KAFKA_H
#define RIDE_LAUNCH_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include "launch_process.h"

/* The Kafka installation to use: $RIDE_KAFKA_HOME when set and not empty, else
 * fallback (which may be NULL). */
const char *ride_launch_kafka_home(const char *fallback);

/* Why no broker can run from home (no such installation, no start script, no Java
 * runtime), written into buf and returned, or NULL when it can. */
const char *ride_launch_kafka_unavailable(const char *home, char *buf, size_t len);

typedef struct ride_launch_kafka_options {
    const char *home;      /* the installation: bin/kafka-broker or bin/kafka-server-start.sh */
    const char *dir;       /* server.properties, data/ and server.log go here */
    const char *zookeeper; /* zookeeper.connect: HOST:PORT/CHROOT, a chroot of its own */
    const char *heap;      /* the JVM's heap, e.g. "256m"; NULL: 256m */
    const char *extra;     /* more server.properties lines (NULL: none); they win */
    int timeout_ms;        /* the wait until the broker serves metadata */
    /* With sasl_user set: a second listener, SASL_PLAINTEXT with the mechanisms PLAIN,
     * SCRAM-SHA-256 and SCRAM-SHA-512, on its own free port, that knows this one user
     * (sasl_password, NULL: ""). The brokers talk among themselves on the PLAINTEXT
     * one. They go into a JAAS line and a ConfigCommand argument: the user must not
     * be empty, and neither may hold a quote, a backslash, '=', ';', ',', '[', ']', a
     * space or a newline. */
    const char *sasl_user;
    const char *sasl_password;
} ride_launch_kafka_options;

/* Writes dir/server.properties for one broker (id 0, transactions and consumer
 * offsets with replication 1, small segments and cleaner buffer), starts it and
 * waits up to timeout_ms until a metadata request on the PLAINTEXT listener lists
 * one broker. The ports are found like ZooKeeper's (launch_zookeeper.h), so a
 * broker that exits during start is tried once more on new ports. Returns the
 * process, the PLAINTEXT port in *port and, with o->sasl_user, the SASL_PLAINTEXT
 * port in *sasl_port (0 without; sasl_port may be NULL then), or NULL with the
 * reason in err. */
ride_launch_proc *ride_launch_kafka_start(const ride_launch_kafka_options *o, uint16_t *port,
                                          uint16_t *sasl_port, char *err, size_t errlen);

/* Starts the broker an earlier ride_launch_kafka_start ran in o->dir again, from
 * the same server.properties and data, on the same ports (port: its PLAINTEXT
 * one), and waits as that does. After a SIGKILL the broker's old ZooKeeper
 * session must have expired first (zookeeper.session.timeout.ms, 6 s in Kafka
 * 2.4), or it exits during start. Returns the process, or NULL with the reason. */
ride_launch_proc *ride_launch_kafka_restart(const ride_launch_kafka_options *o, uint16_t port,
                                            char *err, size_t errlen);

#endif
