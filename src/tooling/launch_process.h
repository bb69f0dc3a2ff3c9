/* launch_process.h - child processes for ride-demo and the integration harness.
 *
 * Each child runs in its own process group with stdin from /dev/null and its
 * output appended to a log file, dies with its parent (PR_SET_PDEATHSIG: spawn from
 * the main thread, the signal is tied to the spawning thread), and is killed with
 * its group at exit if still running, so neither user leaves a daemon behind. */
#ifndef RIDE_LAUNCH_PROCESS_H
#define RIDE_LAUNCH_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct ride_launch_proc ride_launch_proc;

/* Polls cond(ctx) every few milliseconds until it is true (returns true) or
 * timeout_ms passes (returns false after one last check). */
bool ride_launch_wait_until(bool (*cond)(void *ctx), void *ctx, int timeout_ms);

/* Starts argv[0] (searched in PATH when it has no '/') with argv, the current
 * environment plus env ("KEY=VALUE" strings, NULL-terminated; NULL for none), and
 * stdout+stderr appended to log_path (NULL: /dev/null). NULL with the reason on
 * stderr when it cannot fork; an exec failure shows as exit status 127. */
ride_launch_proc *ride_launch_spawn(const char *const argv[], const char *const env[],
                                    const char *log_path);
/* -1 for NULL. */
pid_t ride_launch_pid(const ride_launch_proc *p);
/* True while the process has not exited (reaps it when it has); false for NULL. */
bool ride_launch_alive(ride_launch_proc *p);
/* Sends sig to the process alone (not its group); 0, or -1 once it is reaped. */
int ride_launch_signal(ride_launch_proc *p, int sig);
/* Waits up to timeout_ms for the exit: the wait status (WIFEXITED/WEXITSTATUS), or
 * -1 while it still runs. */
int ride_launch_wait(ride_launch_proc *p, int timeout_ms);
/* SIGTERM to the group, up to grace_ms for the exit, then SIGKILL to the group
 * (whatever the process left behind in it too); frees p. Returns the wait status,
 * or -1 when it had to be killed. NULL is fine. */
int ride_launch_stop(ride_launch_proc *p, int grace_ms);

#endif
