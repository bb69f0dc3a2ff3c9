/* proc.h - the demo's child processes: each runs in its own process group with
 * its output in a log file, dies with the demo (PR_SET_PDEATHSIG), and is killed
 * at exit if still running, so the demo never leaves a daemon behind. */
#ifndef RIDE_DEMO_PROC_H
#define RIDE_DEMO_PROC_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct demo_proc demo_proc;

/* Starts argv (argv[0] a path) with stdin from /dev/null and stdout and stderr
 * appended to log_path. NULL with the reason on stderr when it cannot start. */
demo_proc *demo_proc_spawn(const char *const argv[], const char *log_path);
const char *demo_proc_name(const demo_proc *p);
pid_t demo_proc_pid(const demo_proc *p);
/* True while the process has not exited (reaps it when it has). */
bool demo_proc_alive(demo_proc *p);
/* Sends sig to the process alone (not its group). */
int demo_proc_signal(demo_proc *p, int sig);
/* Waits up to timeout_ms for the process to exit; true when it has. */
bool demo_proc_wait(demo_proc *p, int timeout_ms);
/* SIGTERM to the group, up to grace_ms for the exit, then SIGKILL to the group;
 * frees p. Returns the wait status, or -1 when it had to be killed. */
int demo_proc_stop(demo_proc *p, int grace_ms);

#endif
