/* cluster/liveness.h - the connection each worker and producer holds to the leading
 * master, so that the leader learns of a crashed process at once (docs/master.md,
 * Liveness): the kernel closes a dead process's sockets, and a close that no
 * goodbye preceded marks the member lost. A host that vanishes sends no close; the
 * heartbeat timeout covers it.
 *
 * Protocol (TCP, lines): the member sends "ride-liveness 1 worker|producer ID\n",
 * then nothing until "bye\n" when it leaves cleanly.
 *
 * Threads: both ends run on their daemon's libuv loop thread and call back there. */
#ifndef RIDE_CLUSTER_LIVENESS_H
#define RIDE_CLUSTER_LIVENESS_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

/* ---- the leader's end ---- */

typedef struct ride_liveness_server ride_liveness_server;

/* A member's connection closed without a goodbye while no other of its connections
 * is open. */
typedef void (*ride_liveness_lost_fn)(const char *id, bool worker, void *ctx);

/* Listens on host (an IPv4 or IPv6 literal, "[::]" accepted) on a port the kernel
 * picks. NULL with err filled. */
ride_liveness_server *ride_liveness_server_start(uv_loop_t *loop, const char *host,
                                                 ride_liveness_lost_fn on_lost, void *ctx,
                                                 char *err, size_t errlen);
int ride_liveness_server_port(const ride_liveness_server *s);
/* True from a lost close until the member connects again or is forgotten. */
bool ride_liveness_server_lost(const ride_liveness_server *s, const char *id, bool worker);
/* Connections open now; with greeted_only, those whose member said hello. */
size_t ride_liveness_server_connections(const ride_liveness_server *s, bool greeted_only);
/* The member left the cluster: its next registration starts with a clean slate. */
void ride_liveness_server_forget(ride_liveness_server *s, const char *id, bool worker);
/* Closes the listener and every connection (none counts as lost) and releases s;
 * the loop must run on for the close callbacks. NULL is a no-op. */
void ride_liveness_server_stop(ride_liveness_server *s);

/* ---- the member's end ---- */

typedef struct ride_liveness_client ride_liveness_client;

ride_liveness_client *ride_liveness_client_new(uv_loop_t *loop, bool worker, const char *id);
/* Connects to "HOST:PORT" (NULL: no leader advertises one), saying goodbye to the
 * previous address when it changes; a dropped connection is made again after a
 * short pause. */
void ride_liveness_client_target(ride_liveness_client *c, const char *hostport);
/* Says goodbye and releases c; the loop must run on for the close callbacks. NULL
 * is a no-op. */
void ride_liveness_client_close(ride_liveness_client *c);

#endif
