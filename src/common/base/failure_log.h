/* base/failure_log.h - logs a failure that can repeat with every frame (a broker's
 * reason for a refused message, a failed commit) once per distinct cause and
 * interval, with the count of occurrences held back since its last line.
 *
 * A cause table remembers a fixed number of causes, replacing the least recently
 * seen by a new one; a failure log is a table of RIDE_FAILURE_LOG_CAUSES causes
 * (event and error text) written at most once per RIDE_LOG_THROTTLE_MS. A
 * zero-initialised failure log is ready; one thread at a time per table. */
#ifndef RIDE_BASE_FAILURE_LOG_H
#define RIDE_BASE_FAILURE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/log.h"

#define RIDE_FAILURE_LOG_CAUSES 8
#define RIDE_FAILURE_LOG_CAUSE_MAX 256

typedef struct ride_failure_cause {
    char cause[RIDE_FAILURE_LOG_CAUSE_MAX];
    ride_log_throttle throttle;
    uint64_t last_use; /* the table's use count when it last occurred; 0: free */
} ride_failure_cause;

typedef struct ride_cause_table {
    ride_failure_cause *slots;
    size_t count;
    uint64_t uses;
} ride_cause_table;

/* True when a line for cause may be written now (at most once per interval_ms);
 * *suppressed is then the number of occurrences held back since its previous
 * line. A cause longer than RIDE_FAILURE_LOG_CAUSE_MAX - 1 counts by its start. */
bool ride_cause_pass(ride_cause_table *t, const char *cause, int interval_ms,
                     uint64_t *suppressed);

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
