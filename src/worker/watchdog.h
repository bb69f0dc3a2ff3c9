/* watchdog.h - how the loop thread tells a stuck processing thread (a task that
 * never returns, a librdkafka call that hangs) from a busy or idle one. The
 * processing thread bumps a progress mark at every pass of its loop, which a
 * healthy thread completes within a pipeline step's wait (milliseconds) whether or
 * not input arrives; the thread counts as stalled once the mark has not moved for
 * the whole timeout while it had work (owned partitions, or an assignment it has
 * not applied). A stuck thread that has nothing to do is left alone until work
 * comes. Pure: the time comes from the caller. Zero-initialised values are ready. */
#ifndef RIDE_WORKER_WATCHDOG_H
#define RIDE_WORKER_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ride_worker_watchdog {
    uint64_t progress; /* the mark last seen */
    int64_t since_ms;  /* monotonic: since when the mark stood still with work waiting */
    bool watching;     /* since_ms is set */
} ride_worker_watchdog;

/* Takes one look: how long the thread has been stuck with work waiting (0 while
 * it moves or has nothing to do). */
int64_t ride_worker_watchdog_look(ride_worker_watchdog *w, uint64_t progress, bool has_work,
                                  int64_t now_ms);

#endif
