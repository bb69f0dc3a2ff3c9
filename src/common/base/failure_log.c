/* failure_log.c - per-cause, rate-limited failure lines (base/failure_log.h). A
 * failure log's cause is the event with the error's text, so a broker's reason
 * that changes is written at once while the same one repeats at most once per
 * interval. */
#include "base/failure_log.h"

#include <stdio.h>
#include <string.h>

/* The slot remembering cause, else the least recent one, cleared for it. */
static ride_failure_cause *find_cause(ride_cause_table *t, const char *cause)
{
    ride_failure_cause *oldest = &t->slots[0];
    for (size_t i = 0; i < t->count; i++) {
        ride_failure_cause *c = &t->slots[i];
        if (c->last_use && strncmp(c->cause, cause, sizeof c->cause - 1) == 0)
            return c;
        if (c->last_use < oldest->last_use)
            oldest = c;
    }
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->cause, sizeof oldest->cause, "%s", cause);
    return oldest;
}

bool ride_cause_pass(ride_cause_table *t, const char *cause, int interval_ms,
                     uint64_t *suppressed)
{
    ride_failure_cause *c = find_cause(t, cause);
    c->last_use = ++t->uses;
    *suppressed = 0;
    return ride_log_throttle_pass(&c->throttle, interval_ms, suppressed);
}

bool ride_failure_log_write(ride_failure_log *l, ride_log_level level, const char *event,
                            const char *context, const char *error)
{
    ride_cause_table t = {l->causes, RIDE_FAILURE_LOG_CAUSES, l->uses};
    char cause[RIDE_FAILURE_LOG_CAUSE_MAX];
    snprintf(cause, sizeof cause, "%s %s", event, error);
    uint64_t suppressed;
    bool pass = ride_cause_pass(&t, cause, RIDE_LOG_THROTTLE_MS, &suppressed);
    l->uses = t.uses;
    if (!pass)
        return false;
    char quoted[RIDE_FAILURE_LOG_CAUSE_MAX + 16];
    ride_log(level, event, "%s error=%s suppressed=%llu", context,
             ride_log_quote(error, quoted, sizeof quoted), (unsigned long long)suppressed);
    return true;
}

bool ride_failure_log_warn(ride_failure_log *l, const char *event, const char *context,
                           const char *error)
{
    return ride_failure_log_write(l, RIDE_LOG_WARN, event, context, error);
}
