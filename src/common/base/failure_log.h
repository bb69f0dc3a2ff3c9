/* base/failure_log.h - logs a failure that can repeat with every frame (a broker's
 * reason for a refused message, a failed commit) once per distinct cause and
 * interval: each cause (event and error text) is written at most once per
 * RIDE_LOG_THROTTLE_MS, with the count of occurrences held back since its last
 * line. A zero-initialised value is ready; one thread at a time per value. */
#ifndef RIDE_BASE_FAILURE_LOG_H
#define RIDE_BASE_FAILURE_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "base/log.h"

/* Causes remembered at once: a new one takes the place of the least recent. */
#define RIDE_FAILURE_LOG_CAUSES 8
#define RIDE_FAILURE_LOG_CAUSE_MAX 256

typedef struct ride_failure_cause {
    const char *event;
    char error[RIDE_FAILURE_LOG_CAUSE_MAX];
    ride_log_throttle throttle;
    uint64_t last_use; /* the log's use count when it last occurred; 0: free */
} ride_failure_cause;

typedef struct ride_failure_log {
    ride_failure_cause causes[RIDE_FAILURE_LOG_CAUSES];
    uint64_t uses;
} ride_failure_log;

/* Writes "event <context> error=<error> suppressed=N" at level, unless this event
 * (a string literal) with this error was written less than an interval ago.
 * Returns whether it wrote. */
bool ride_failure_log_write(ride_failure_log *l, ride_log_level level, const char *event,
                            const char *context, const char *error);

/* ride_failure_log_write() at warn level. */
bool ride_failure_log_warn(ride_failure_log *l, const char *event, const char *context,
                           const char *error);

#endif
