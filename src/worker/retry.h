/* retry.h - how the worker paces what it retries after a failure (a pipeline
 * step, a commit, a partition's rewind, pause or resume), so that no error makes
 * the processing thread spin or flood the log:
 * - a backoff per operation: after a failure it waits RIDE_RETRY_MIN_MS, twice as
 *   long after each further failure, up to RIDE_RETRY_MAX_MS; a success ends it;
 * - a failure log that writes each distinct cause (event and error text) at most
 *   once per RIDE_LOG_THROTTLE_MS, counting the occurrences it held back.
 * One thread at a time per value; zero-initialised values are ready. */
#ifndef RIDE_WORKER_RETRY_H
#define RIDE_WORKER_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/log.h"

#define RIDE_RETRY_MIN_MS 10
#define RIDE_RETRY_MAX_MS 1000

typedef struct ride_retry {
    int64_t due_ms;     /* the operation may run again from then on (monotonic) */
    int64_t backoff_ms; /* the wait after the latest failure; 0 after a success */
} ride_retry;

bool ride_retry_due(const ride_retry *r, int64_t now_ms);
void ride_retry_failed(ride_retry *r, int64_t now_ms);
void ride_retry_succeeded(ride_retry *r);

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

/* Writes "event <context> error=<error> suppressed=N" at warn level, unless this
 * event (a string literal) with this error was written less than an interval
 * ago. Returns whether it wrote. */
bool ride_failure_log_warn(ride_failure_log *l, const char *event, const char *context,
                           const char *error);

#endif
