/* cluster/zk.h - a thin, safe layer over ZooKeeper's C client (zookeeper_mt).
 *
 * Connecting: ride_zk_connect() takes "HOST:PORT[,HOST:PORT...][/CHROOT]". The
 * client applies a chroot itself, but the chroot node must exist first, so a
 * chroot-less session creates it (mkdir -p) before the real session opens. The
 * call returns once the session is connected or fails after connect_timeout_ms.
 *
 * Threads: ZooKeeper runs an I/O thread and a completion thread per handle. Every
 * callback of this module (session state, watches, election) runs on the
 * completion thread. A callback must be short and must NOT call the synchronous
 * functions below nor ride_zk_close(): the reply would be delivered by the very
 * thread that waits for it (deadlock). Hand the work to your own loop instead
 * (uv_async_send, a pipe, a condition variable).
 *
 * Session loss: a daemon must stop acting on anything ZooKeeper granted it (leadership,
 * partition ownership) the moment the session callback reports CONNECTING (the client
 * reconnects and the session may still be alive, but nobody can tell) and for good on
 * EXPIRED (the ephemeral nodes are gone; open a new handle).
 *
 * ACLs: without a digest, nodes are created world-readable and writable
 * (ZOO_OPEN_ACL_UNSAFE): a development cluster on a private network. With a digest
 * ("user:password", config key zookeeper.digest_file) the session authenticates with
 * the "digest" scheme and creates every node readable and writable by that identity
 * only (ZOO_CREATOR_ALL_ACL), so every daemon of a cluster must share one identity.
 *
 * Logging: ZooKeeper's own log lines go to ride_log (event zk_client) at the level set
 * with ride_zk_set_client_log_level() (default: warn), never straight to stderr.
 *
 * Node data of any size up to RIDE_ZK_DATA_MAX is returned in a malloc'ed buffer
 * with a terminating NUL (not counted in the length), so JSON can be parsed in place. */
#ifndef RIDE_ZK_H
#define RIDE_ZK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/log.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ZooKeeper's default jute.maxbuffer is just under 1 MiB; nothing larger is read. */
#define RIDE_ZK_DATA_MAX (1024 * 1024)
/* Longest path this module builds or returns (including the NUL). */
#define RIDE_ZK_PATH_MAX 1024

typedef enum ride_zk_err {
    RIDE_ZK_OK = 0,
    RIDE_ZK_NONODE,           /* the node (or a parent for create) does not exist */
    RIDE_ZK_NODEEXISTS,
    RIDE_ZK_BADVERSION,       /* compare-and-set lost: the node changed meanwhile */
    RIDE_ZK_NOTEMPTY,         /* delete of a node that has children */
    RIDE_ZK_NOAUTH,           /* the ACL refuses this identity */
    RIDE_ZK_CONNECTION_LOSS,  /* outcome unknown: the request may or may not have applied */
    RIDE_ZK_EXPIRED,          /* the handle is dead; open a new one */
    RIDE_ZK_TIMEOUT,          /* not connected within the deadline */
    RIDE_ZK_BAD_ARGUMENTS,    /* malformed connect string, path or argument */
    RIDE_ZK_TOO_LARGE,        /* node data above RIDE_ZK_DATA_MAX, or a path too long */
    RIDE_ZK_NO_CHILDREN_FOR_EPHEMERALS,
    RIDE_ZK_ERROR,            /* anything else (ZooKeeper system or API error) */
} ride_zk_err;

/* Short constant description, e.g. "node does not exist". */
const char *ride_zk_strerror(ride_zk_err err);

typedef enum ride_zk_session_state {
    RIDE_ZK_SESSION_CONNECTED,
    RIDE_ZK_SESSION_CONNECTING, /* disconnected; the client is reconnecting */
    RIDE_ZK_SESSION_EXPIRED,    /* final (also: authentication failed) */
} ride_zk_session_state;

typedef void (*ride_zk_session_fn)(ride_zk_session_state state, void *ctx);

typedef struct ride_zk_options {
    const char *connect;        /* "HOST:PORT[,HOST:PORT...][/CHROOT]", required */
    int session_timeout_ms;     /* 0: 6000; the server clamps it to 2..20 ticks */
    int connect_timeout_ms;     /* 0: 10000 */
    const char *digest;         /* "user:password" for digest auth and creator-only ACLs, or NULL */
    /* Optional: every state change, on the completion thread; the first CONNECTED may
     * arrive just after ride_zk_connect returns. */
    ride_zk_session_fn on_session;
    void *session_ctx;
} ride_zk_options;

typedef struct ride_zk ride_zk;

/* Global: the lowest level of ZooKeeper client messages passed to ride_log. */
void ride_zk_set_client_log_level(ride_log_level level);

/* Checks a connect string without connecting; on error writes the reason to err. */
ride_zk_err ride_zk_parse_connect(const char *connect, char *err, size_t errlen);

/* Reads "user:password" from a digest file (one line, trailing newline allowed). */
ride_zk_err ride_zk_read_digest_file(const char *path, char *out, size_t outlen, char *err,
                                     size_t errlen);

/* Connects (creating the chroot first); *out is NULL on failure and err says why. */
ride_zk_err ride_zk_connect(const ride_zk_options *opts, ride_zk **out, char *err, size_t errlen);
/* Ends the session (its ephemeral nodes vanish at once) and frees everything,
 * elections and pending watches included. Never from a callback. NULL is fine. */
void ride_zk_close(ride_zk *zk);
ride_zk_session_state ride_zk_state(const ride_zk *zk);
/* The session id, 0 before the first connection. */
int64_t ride_zk_session_id(ride_zk *zk);

/* Create flags (combine with |). */
#define RIDE_ZK_EPHEMERAL 1
#define RIDE_ZK_SEQUENTIAL 2

/* Creates path with data (NULL/0 for none). created (optional) receives the actual
 * path, which for sequential nodes carries the 10-digit sequence suffix. */
ride_zk_err ride_zk_create(ride_zk *zk, const char *path, const void *data, size_t len, int flags,
                           char *created, size_t created_len);
/* *data: malloc'ed, NUL-terminated, free() it; version optional. */
ride_zk_err ride_zk_get(ride_zk *zk, const char *path, char **data, size_t *len,
                        int32_t *version);
/* Compare-and-set: expected_version -1 writes whatever the version; new_version optional. */
ride_zk_err ride_zk_set(ride_zk *zk, const char *path, const void *data, size_t len,
                        int32_t expected_version, int32_t *new_version);
ride_zk_err ride_zk_delete(ride_zk *zk, const char *path, int32_t expected_version);
/* RIDE_ZK_OK when the node exists, RIDE_ZK_NONODE when not; version optional. */
ride_zk_err ride_zk_exists(ride_zk *zk, const char *path, int32_t *version);

typedef struct ride_zk_strings {
    char **items; /* sorted (strcmp) */
    size_t count;
} ride_zk_strings;
void ride_zk_strings_free(ride_zk_strings *s);

ride_zk_err ride_zk_get_children(ride_zk *zk, const char *path, ride_zk_strings *out);
/* mkdir -p: creates every missing node of path (empty, persistent). */
ride_zk_err ride_zk_ensure_path(ride_zk *zk, const char *path);
/* Deletes path and everything below it; a node vanishing meanwhile is fine. */
ride_zk_err ride_zk_delete_recursive(ride_zk *zk, const char *path);

/* One-shot watches: the callback fires at most once per successful call, for the
 * first change after it (completion thread; see above). A watch whose session
 * ends never fires; the session callback reports that. */
typedef enum ride_zk_event {
    RIDE_ZK_EVENT_CREATED,
    RIDE_ZK_EVENT_DELETED,
    RIDE_ZK_EVENT_CHANGED,
    RIDE_ZK_EVENT_CHILDREN,
} ride_zk_event;
typedef void (*ride_zk_watch_fn)(ride_zk_event event, const char *path, void *ctx);

/* Like ride_zk_get, plus a watch on the node's data (changed or deleted). */
ride_zk_err ride_zk_get_watch(ride_zk *zk, const char *path, ride_zk_watch_fn fn, void *ctx,
                              char **data, size_t *len, int32_t *version);
/* Like ride_zk_exists, plus a watch for creation, change or deletion: set even when
 * the node does not exist. */
ride_zk_err ride_zk_exists_watch(ride_zk *zk, const char *path, ride_zk_watch_fn fn, void *ctx,
                                 int32_t *version);
/* Like ride_zk_get_children, plus a watch on the set of children. */
ride_zk_err ride_zk_get_children_watch(ride_zk *zk, const char *path, ride_zk_watch_fn fn,
                                       void *ctx, ride_zk_strings *out);

/* Leader election: every candidate creates an ephemeral sequential node
 * <dir>/n_<seq> holding its data; the lowest sequence leads. Every other candidate
 * watches only its predecessor (no herd effect) and re-checks when it vanishes, so
 * a candidate whose predecessor dies while a lower one lives stays a follower.
 * on_leader fires once, on the completion thread, when this candidate becomes
 * leader (possibly before ride_zk_election_join returns). Leadership ends with the
 * session: watch the session callback. The handle lives until ride_zk_close. */
typedef struct ride_zk_election ride_zk_election;
typedef void (*ride_zk_leader_fn)(ride_zk_election *election, void *ctx);

ride_zk_err ride_zk_election_join(ride_zk *zk, const char *dir, const void *data, size_t len,
                                  ride_zk_leader_fn on_leader, void *ctx,
                                  ride_zk_election **out);
bool ride_zk_election_is_leader(const ride_zk_election *election);
/* This candidate's node path, e.g. "/masters/election/n_0000000003". */
const char *ride_zk_election_node(const ride_zk_election *election);
/* Deletes this candidate's node; it no longer leads nor becomes leader. */
ride_zk_err ride_zk_election_resign(ride_zk_election *election);
/* The current leader's node data (for any session, candidate or not); node
 * (optional) receives its path. RIDE_ZK_NONODE when there is no candidate. */
ride_zk_err ride_zk_election_leader(ride_zk *zk, const char *dir, char **data, size_t *len,
                                    char *node, size_t node_len);

#ifdef __cplusplus
}
#endif

#endif
