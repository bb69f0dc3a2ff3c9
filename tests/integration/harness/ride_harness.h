/* ride_harness.h - what integration tests need to run real servers and RIDE's
 * daemons on loopback: processes, temp dirs, waiting with deadlines, ZooKeeper and
 * a real Kafka broker. Processes and the servers come from src/tooling, which
 * ride-demo uses too; the inline functions below are the harness's names for it,
 * documented in launch_process.h, launch_zookeeper.h and launch_kafka.h.
 *
 * Cleanup is registered, not left to the tests: every spawned process runs in its
 * own process group and gets SIGKILL when the test process dies (PR_SET_PDEATHSIG;
 * spawn from the main thread, the signal is tied to the spawning thread), and
 * atexit handlers kill the groups still alive and remove the temp dirs, so a
 * failing cmocka assertion or an early exit() leaves nothing behind. */
#ifndef RIDE_HARNESS_H
#define RIDE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "launch_kafka.h"
#include "launch_process.h"
#include "launch_zookeeper.h"
#include "ride_test.h"
#include "base/clock.h"

/* ---- time and waiting ---- */

static inline bool ride_harness_wait_until(bool (*cond)(void *ctx), void *ctx, int timeout_ms)
{
    return ride_launch_wait_until(cond, ctx, timeout_ms);
}

/* ---- files ---- */

/* A fresh directory "$TMPDIR/<prefix>XXXXXX" (malloc'ed path), removed with its
 * content at exit unless removed earlier with ride_harness_rmtree. NULL on error. */
char *ride_harness_tempdir(const char *prefix);
/* Removes path and everything below it; forgets it if it was registered. */
void ride_harness_rmtree(const char *path);
/* The whole file, NUL-terminated (len optional, without the NUL); NULL on error. */
char *ride_harness_read_file(const char *path, size_t *len);
/* Writes text to path (created or truncated); 0 or -1. */
int ride_harness_write_file(const char *path, const char *text);
/* Entries of directory path but "." and "..", counting names starting with '.'
 * (temporary files) only with hidden; -1 when it cannot be opened. */
int ride_harness_dir_entries(const char *path, bool hidden);

/* ---- processes ---- */

typedef ride_launch_proc ride_proc;

static inline ride_proc *ride_harness_spawn(const char *const argv[], const char *const env[],
                                            const char *log_path)
{
    return ride_launch_spawn(argv, env, log_path);
}
static inline pid_t ride_harness_proc_pid(const ride_proc *p) { return ride_launch_pid(p); }
static inline bool ride_harness_proc_alive(ride_proc *p) { return ride_launch_alive(p); }
static inline int ride_harness_proc_signal(ride_proc *p, int sig)
{
    return ride_launch_signal(p, sig);
}
static inline int ride_harness_proc_wait(ride_proc *p, int timeout_ms)
{
    return ride_launch_wait(p, timeout_ms);
}
static inline int ride_harness_proc_stop(ride_proc *p, int grace_ms)
{
    return ride_launch_stop(p, grace_ms);
}
/* Runs a command to completion with its output in <dir>/<name>.log (name NULL:
 * run-N.log, numbered), truncated first, and prints the command line, its exit
 * code and its output (the test's log). Returns the exit code, or -1 when it
 * could not start, was killed or outlived timeout_ms (then it is killed).
 * output (optional): the output (malloc'ed; NULL when unreadable). */
int ride_harness_run(const char *const argv[], const char *const env[], const char *dir,
                     const char *name, int timeout_ms, char **output);

/* ---- ZooKeeper ---- */

static inline const char *ride_harness_zk_unavailable(void)
{
    return ride_launch_zookeeper_unavailable();
}
/* For tests that need ZooKeeper: prints why and exits 77 (skipped) when it cannot run. */
void ride_harness_zk_require(void);

typedef struct ride_zk_server ride_zk_server;

/* Starts a standalone ZooKeeper (ride_launch_zookeeper_start) in a temp dir, waiting
 * up to 30 s for it to accept sessions. NULL on failure (the server log is printed). */
ride_zk_server *ride_harness_zk_start(void);
/* "127.0.0.1:PORT" */
const char *ride_harness_zk_connect(const ride_zk_server *s);
uint16_t ride_harness_zk_port(const ride_zk_server *s);
/* Stops the server (SIGTERM, then SIGKILL), removes its dir and frees s. NULL is fine. */
void ride_harness_zk_stop(ride_zk_server *s);

/* cmocka group setup and teardown for a test file sharing one ZooKeeper server: the
 * setup skips the file (exit 77) when ZooKeeper is not installed, then starts the
 * server; ride_harness_zk_shared() returns it until the teardown stops it. */
int ride_harness_zk_group_setup(void **state);
int ride_harness_zk_group_teardown(void **state);
ride_zk_server *ride_harness_zk_shared(void);

static inline int ride_harness_four_letter(uint16_t port, const char *cmd, char *buf,
                                           size_t len, int timeout_ms)
{
    return ride_launch_four_letter(port, cmd, buf, len, timeout_ms);
}
static inline uint16_t ride_harness_free_port(void) { return ride_launch_free_port(); }

/* ---- a real Kafka broker (tests labelled realkafka) ---- */

/* For tests that need a real broker: prints why and exits 77 (skipped) when none
 * can run, i.e. neither $RIDE_KAFKA_HOME nor RIDE_SOURCE_DIR/../shared/kafka holds
 * a Kafka installation, or there is no java. */
void ride_harness_kafka_require(void);

typedef struct ride_kafka_server ride_kafka_server;

/* Starts one broker (ride_launch_kafka_start, heap 256m) in a temp dir against the
 * ZooKeeper server zk, in a chroot of its own, waiting up to 60 s until metadata
 * lists it. NULL on failure (the broker's logs are printed). */
ride_kafka_server *ride_harness_kafka_start(const ride_zk_server *zk);
/* The same with a second listener, SASL_PLAINTEXT with PLAIN, that accepts one
 * user (launch_kafka.h). */
ride_kafka_server *ride_harness_kafka_start_sasl(const ride_zk_server *zk, const char *user,
                                                 const char *password);
/* "127.0.0.1:PORT": the PLAINTEXT listener */
const char *ride_harness_kafka_bootstrap(const ride_kafka_server *s);
/* "127.0.0.1:PORT" of the SASL_PLAINTEXT listener, "" without one */
const char *ride_harness_kafka_sasl_bootstrap(const ride_kafka_server *s);
/* Stops the broker (SIGTERM, up to 20 s for its controlled shutdown, then SIGKILL),
 * removes its data and frees s. NULL is fine. */
void ride_harness_kafka_stop(ride_kafka_server *s);
/* SIGKILLs the broker (a started one without SASL) and reaps it; its data stays. */
void ride_harness_kafka_kill(ride_kafka_server *s);
/* Starts the killed broker again on the same port and data (launch_kafka.h);
 * 0 once it serves metadata, or -1 with its logs printed. */
int ride_harness_kafka_restart(ride_kafka_server *s);

/* cmocka group setup and teardown for a test file sharing one ZooKeeper server and
 * one broker: the setup skips the file (exit 77) when either cannot run, then
 * starts both; ride_harness_zk_shared() and ride_harness_kafka_shared() return
 * them until the teardown stops them. */
int ride_harness_kafka_group_setup(void **state);
int ride_harness_kafka_group_teardown(void **state);
ride_kafka_server *ride_harness_kafka_shared(void);

#endif
