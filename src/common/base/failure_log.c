/* failure_log.c - per-cause, rate-limited failure lines (base/failure_log.h). A
 * cause is the event with the error's text, so a broker's reason that changes is
 * written at once while the same one repeats at most once per interval. */
#include "base/failure_log.h"

#include <stdio.h>
#include <string.h>

/* The remembered cause of this event and error, else the least recent slot,
 * cleared for it. */
static ride_failure_cause *find_cause(ride_failure_log *l, const char *event, const char *error)
{
    ride_failure_cause *oldest = &l->causes[0];
    for (int i = 0; i < RIDE_FAILURE_LOG_CAUSES; i++) {
        ride_failure_cause *c = &l->causes[i];
        if (c->event && strcmp(c->event, event) == 0 &&
            strncmp(c->error, error, sizeof c->error - 1) == 0)
            return c;
        if (c->last_use < oldest->last_use)
            oldest = c;
    }
    memset(oldest, 0, sizeof *oldest);
    oldest->event = event;
    snprintf(oldest->error, sizeof oldest->error, "%s", error);
    return oldest;
}

bool ride_failure_log_write(ride_failure_log *l, ride_log_level level, const char *event,
                            const char *context, const char *error)
{
    ride_failure_cause *c = find_cause(l, event, error);
    c->last_use = ++l->uses;
    uint64_t suppressed;
    if (!ride_log_throttle_pass(&c->throttle, RIDE_LOG_THROTTLE_MS, &suppressed))
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
