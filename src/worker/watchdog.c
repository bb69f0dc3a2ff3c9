/* watchdog.c - the stuck processing thread test (watchdog.h). A look that finds
 * the mark moved, or no work, starts the clock again: the stall is measured from
 * the last look that saw the thread healthy. */
#include "watchdog.h"

int64_t ride_worker_watchdog_look(ride_worker_watchdog *w, uint64_t progress, bool has_work,
                                  int64_t now_ms)
{
    if (!w->watching || progress != w->progress || !has_work) {
        w->progress = progress;
        w->since_ms = now_ms;
        w->watching = true;
        return 0;
    }
    return now_ms - w->since_ms;
}
