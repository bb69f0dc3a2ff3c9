/* cluster/member.h - a daemon's membership in the cluster (docs/architecture.md):
 * its ZooKeeper session, its ephemeral registration node (/workers/<id> or
 * /producers/<id>), its heartbeat node (/heartbeats/<id>), the watch on its
 * assignment (/assignments/<id>) and on the Kafka address (/cluster/kafka).
 *
 * Threads: everything this module calls back runs on the daemon's libuv loop
 * thread. ZooKeeper's callbacks only record what happened and wake the loop
 * (uv_async_send); the loop thread makes the synchronous ZooKeeper calls.
 *
 * Session loss: the moment the session reports CONNECTING, on_assignment is
 * called with NULL ("suspended"): the daemon must stop working on what it owns at
 * once, since another member may take it over. On reconnection the member
 * re-registers and re-reads its assignment, which is then delivered again. On
 * EXPIRED a new session is opened (retried every second until it succeeds).
 *
 * Assignments: a missing node is an empty assignment. Data that does not decode
 * is logged (event member_bad_assignment), counted (ride_cluster_bad_data_total)
 * and ignored: the previous assignment stays in force.
 *
 * Service manager (cluster/systemd.h): every registration sends READY=1, a lost
 * session a STATUS= line, and while the member runs a timer on its loop sends
 * the watchdog pings systemd asks for, so a stalled loop gets the daemon
 * restarted. */
#ifndef RIDE_MEMBER_H
#define RIDE_MEMBER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "cluster/cluster.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ride_member_role {
    RIDE_MEMBER_WORKER,
    RIDE_MEMBER_PRODUCER,
} ride_member_role;

/* The assignment in force, or NULL while the session is not connected. The
 * struct is valid during the call only. */
typedef void (*ride_member_assignment_fn)(const ride_cluster_assignment *assignment, void *ctx);
/* The bootstrap servers of /cluster/kafka, or NULL when the node is missing. */
typedef void (*ride_member_kafka_fn)(const ride_cluster_kafka *kafka, void *ctx);
/* Fills hb (ts_ms is set by the module) with pointers that stay valid until the
 * next call; returns 0, or -1 to skip this beat. */
typedef int (*ride_member_heartbeat_fn)(ride_cluster_heartbeat *hb, void *ctx);

typedef struct ride_member_options {
    uv_loop_t *loop;
    const char *connect;    /* "HOST:PORT[,...][/CHROOT]" */
    int session_timeout_ms; /* 0: 6000 */
    const char *digest;     /* "user:password" or NULL */
    const char *id;         /* ride_member_id_valid() */
    ride_member_role role;
    /* The registration node's data: ride_cluster_worker_encode() or
     * ride_cluster_producer_encode() output (copied). */
    const char *registration;
    int heartbeat_interval_ms; /* 0: 500 */
    ride_member_assignment_fn on_assignment; /* required */
    ride_member_kafka_fn on_kafka;           /* optional */
    ride_member_heartbeat_fn fill_heartbeat; /* optional: no heartbeat without */
    void *ctx;
} ride_member_options;

typedef struct ride_member ride_member;

/* Connects, registers and arms the watches, from the loop thread; the first
 * assignment and Kafka address are delivered from the loop shortly after.
 * Returns NULL with the reason in err (bad options, no session, the
 * registration node held by another live session). */
ride_member *ride_member_start(const ride_member_options *opts, char *err, size_t errlen);

/* Ends the session (the registration node vanishes at once) and releases the
 * member; the loop must run on afterwards for the handles' close callbacks.
 * From the loop thread; NULL is a no-op. */
void ride_member_close(ride_member *m);

/* Writes a heartbeat at once, between the timer's (which keeps its pace), when
 * the member is active. From the loop thread; NULL is a no-op. */
void ride_member_heartbeat_now(ride_member *m);

/* True while the session is connected and the member registered. */
bool ride_member_active(const ride_member *m);

/* What an on_assignment callback does first in every member: encodes the
 * assignment it received into *enc (malloc'd; ride_cluster_assignment_decode reads
 * it back) to keep or hand to another thread, and logs it: "assignment" with its
 * generation, epoch, partitions and sources, or "assignment_suspended" for NULL
 * (then *enc is NULL). False, logged as "assignment_invalid", when it cannot be
 * encoded; the caller then keeps its previous assignment. */
bool ride_member_assignment_encode(const ride_cluster_assignment *a, char **enc);

/* Heartbeats written and assignments delivered (tests, metrics). */
uint64_t ride_member_heartbeats(const ride_member *m);
uint64_t ride_member_assignments(const ride_member *m);

#ifdef __cplusplus
}
#endif

#endif
