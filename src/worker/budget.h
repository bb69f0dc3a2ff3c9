/* budget.h - the kernel threads of a worker's stages (docs/worker.md, "Kernel
 * threads"): the worker's cores shared by the RIDE workers running on this
 * machine, which each announce themselves with a locked file in one directory.
 *
 * A CPU stage runs its frames on lanes of its own, so the stages of a worker run
 * at once, as workers do: they all split the cores. */
#ifndef RIDE_WORKER_BUDGET_H
#define RIDE_WORKER_BUDGET_H

#include <stddef.h>

/* A stage's kernel threads: requested when > 0 (resources.threads), else the
 * worker's cores (worker_threads when > 0, else online_cores) over the workers
 * on this machine times the stages of this worker (each at least 1 counted),
 * never below 1. */
int ride_worker_kernel_threads(int requested, int worker_threads, int online_cores,
                               int workers_here, int stages_here);

/* The directory the workers of this machine announce themselves in: under
 * $STATE_DIRECTORY (what systemd gives every ride-worker@ instance, the same for
 * all) when set, else /tmp/ride-workers-<uid>. Written into buf; NULL when it
 * does not fit. */
const char *ride_worker_presence_dir(char *buf, size_t len);

/* This process's announcement: a file in dir named after its pid, locked for as
 * long as the process lives (the kernel drops the lock when it dies, however it
 * dies). NULL with err when the directory or the file cannot be made. */
typedef struct ride_worker_presence ride_worker_presence;
ride_worker_presence *ride_worker_presence_join(const char *dir, char *err, size_t errlen);

/* Removes the announcement; NULL is ignored. */
void ride_worker_presence_leave(ride_worker_presence *p);

/* Workers announced in dir now: files whose lock is held (this process's own
 * included); a file left by a dead worker holds no lock, is not counted and is
 * removed. 0 when the directory cannot be read. */
int ride_worker_presence_count(const char *dir);

#endif
