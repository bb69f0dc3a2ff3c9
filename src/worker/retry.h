/* retry.h - how the worker paces what it retries after a failure (a pipeline
 * step, a commit, a partition's rewind, pause or resume), so that no error makes
 * the processing thread spin or flood the log:
 * - a backoff per operation: after a failure it waits RIDE_RETRY_MIN_MS, twice as
 *   long after each further failure, up to RIDE_RETRY_MAX_MS; a success ends it;
 * - a failure log (base/failure_log.h) that writes each distinct cause at most
 *   once per RIDE_LOG_THROTTLE_MS, counting the occurrences it held back.
 * One thread at a time per value; zero-initialised values are ready. */
#ifndef RIDE_WORKER_RETRY_H
#define RIDE_WORKER_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/failure_log.h"

#define RIDE_RETRY_MIN_MS 10
#define RIDE_RETRY_MAX_MS 1000

typedef struct ride_retry {
    int64_t due_ms;     /* the operation may run again from then on (monotonic) */
    int64_t backoff_ms; /* the wait after the latest failure; 0 after a success */
} ride_retry;

bool ride_retry_due(const ride_retry *r, int64_t now_ms);
void ride_retry_failed(ride_retry *r, int64_t now_ms);
void ride_retry_succeeded(ride_retry *r);

#endif
