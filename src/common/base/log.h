/* base/log.h - structured logs: one line per event, key=value, on stderr.
 *
 *   ts=2026-11-22T10:00:00.123Z level=info component=worker event=partition_owned app=a stage=s partition=3
 *
 * `event` is a short snake_case identifier; `fmt` adds further key=value pairs.
 * Values that may hold spaces go through ride_log_quote(). Nothing is logged per
 * frame at the default level (info). */
#ifndef RIDE_LOG_H
#define RIDE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ride_log_level {
    RIDE_LOG_DEBUG = 0,
    RIDE_LOG_INFO = 1,
    RIDE_LOG_WARN = 2,
    RIDE_LOG_ERROR = 3,
} ride_log_level;

/* The component written into every line ("master", "worker", ...). Not copied. */
void ride_log_set_component(const char *component);
void ride_log_set_level(ride_log_level level);
ride_log_level ride_log_get_level(void);
/* "debug", "info", "warn" or "error"; returns -1 for anything else. */
int ride_log_level_parse(const char *name, ride_log_level *out);

void ride_log(ride_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes `s` as a double-quoted log value into buf (quotes and backslashes
 * escaped, control characters turned into spaces so that a value never breaks
 * its line); returns buf. Truncates to fit. */
const char *ride_log_quote(const char *s, char *buf, size_t len);

/* At most one line per interval for an event that can repeat with every frame (a
 * task failing on each frame of a broken stream): the first occurrence passes at
 * once, later ones within the interval are only counted, and the next line that
 * passes reports them. Zero-initialise; one thread at a time per throttle. */
typedef struct ride_log_throttle {
    int64_t next_ms;
    uint64_t held;
} ride_log_throttle;

#define RIDE_LOG_THROTTLE_MS 10000

/* True when a line may be written now (monotonic clock); *suppressed then holds
 * how many occurrences were held back since the previous line. */
bool ride_log_throttle_pass(ride_log_throttle *t, int interval_ms, uint64_t *suppressed);

#define ride_log_debug(event, ...) ride_log(RIDE_LOG_DEBUG, event, __VA_ARGS__)
#define ride_log_info(event, ...) ride_log(RIDE_LOG_INFO, event, __VA_ARGS__)
#define ride_log_warn(event, ...) ride_log(RIDE_LOG_WARN, event, __VA_ARGS__)
#define ride_log_error(event, ...) ride_log(RIDE_LOG_ERROR, event, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif
