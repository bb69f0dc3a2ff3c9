/* ride_harness.h - what integration tests need to run real servers and RIDE's
 * daemons on loopback: processes, temp dirs, waiting with deadlines, ZooKeeper.
 *
 * Cleanup is registered, not left to the tests: every spawned process runs in its
 * own process group and gets SIGKILL when the test process dies (PR_SET_PDEATHSIG;
 * spawn from the main thread, the signal is tied to the spawning thread), and an
 * atexit handler kills the groups still alive and removes the temp dirs, so a
 * failing cmocka assertion or an early exit() leaves nothing behind. */
#ifndef RIDE_HARNESS_H
#define RIDE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ride/clock.h"
#include "ride_test.h"

/* ---- time and waiting ---- */

/* Polls cond(ctx) every few milliseconds until it is true (returns true) or
 * timeout_ms passes (returns false after one last check). */
bool ride_harness_wait_until(bool (*cond)(void *ctx), void *ctx, int timeout_ms);

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

/* ---- processes ---- */

typedef struct ride_proc ride_proc;

/* Starts argv[0] (searched in PATH when it has no '/') with argv, the current
 * environment plus env ("KEY=VALUE" strings, NULL-terminated; NULL for none),
 * stdin from /dev/null and stdout+stderr appended to log_path (NULL: /dev/null).
 * NULL when fork fails; an exec failure shows as exit status 127. */
ride_proc *ride_harness_spawn(const char *const argv[], const char *const env[],
                              const char *log_path);
pid_t ride_harness_proc_pid(const ride_proc *p);
/* True while the process has not exited (reaps it when it has). */
bool ride_harness_proc_alive(ride_proc *p);
/* Sends sig to the process itself (not its group); 0 or -1. */
int ride_harness_proc_signal(ride_proc *p, int sig);
/* Waits up to timeout_ms for the process to exit: its wait status (use
 * WIFEXITED/WEXITSTATUS), or -1 when it is still running. */
int ride_harness_proc_wait(ride_proc *p, int timeout_ms);
/* SIGTERM to the whole group, up to grace_ms for the process to exit, then
 * SIGKILL to the group; frees p. Returns the wait status (-1 if killed hard).
 * NULL is fine. */
int ride_harness_proc_stop(ride_proc *p, int grace_ms);
/* Runs a command to completion with its output in a fresh log file under dir,
 * and prints the command line, its exit code and its output (the test's log):
 * the exit code, or -1 when it could not start, was killed or outlived
 * timeout_ms (then it is killed). output (optional): the output (malloc'ed;
 * NULL when unreadable). */
int ride_harness_run(const char *const argv[], const char *const env[], const char *dir,
                     int timeout_ms, char **output);

/* ---- ZooKeeper ---- */

/* Why ZooKeeper cannot run here (RIDE_JAVA empty or not executable, the jar
 * missing), or NULL when it can. */
const char *ride_harness_zk_unavailable(void);
/* For tests that need ZooKeeper: prints why and exits 77 (skipped) when it cannot run. */
void ride_harness_zk_require(void);

typedef struct ride_zk_server ride_zk_server;

/* Starts a standalone ZooKeeper on 127.0.0.1 and a free port, in a temp dir, and
 * waits (up to ~30 s) until "srvr" answers "Mode:", i.e. sessions are accepted.
 * The port is found by binding port 0 and closing it; another process could take
 * it before the server binds, so a start that fails is retried once on a new port.
 * NULL on failure (the server log is printed). */
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

/* Sends a four-letter command ("srvr", "mntr", ...) to 127.0.0.1:port and reads the
 * answer into buf (NUL-terminated); each step times out after timeout_ms. Returns
 * the answer's length or -1. */
int ride_harness_four_letter(uint16_t port, const char *cmd, char *buf, size_t len,
                             int timeout_ms);
/* A port on 127.0.0.1 that was free a moment ago (bind port 0, read, close); 0 on error. */
uint16_t ride_harness_free_port(void);

#endif
