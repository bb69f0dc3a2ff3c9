/* retry.c - backoff for the worker's retry paths (retry.h): the wait doubles with
 * each failure up to a cap, so that a lasting error never makes a thread spin. */
#include "retry.h"

bool ride_retry_due(const ride_retry *r, int64_t now_ms)
{
    return now_ms >= r->due_ms;
}

void ride_retry_failed(ride_retry *r, int64_t now_ms)
{
    int64_t wait = r->backoff_ms ? r->backoff_ms * 2 : RIDE_RETRY_MIN_MS;
    r->backoff_ms = wait < RIDE_RETRY_MAX_MS ? wait : RIDE_RETRY_MAX_MS;
    r->due_ms = now_ms + r->backoff_ms;
}

void ride_retry_succeeded(ride_retry *r)
{
    r->backoff_ms = 0;
    r->due_ms = 0;
}
