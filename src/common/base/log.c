/* log.c - structured key=value log lines on stderr (base/log.h). Each line is
 * formatted into one buffer and written with one call, so lines from several
 * threads never interleave. */
#include "base/log.h"

#include "base/clock.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_component = "ride";
static atomic_int log_level = RIDE_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void ride_log_set_component(const char *component) { log_component = component; }
void ride_log_set_level(ride_log_level level) { atomic_store(&log_level, (int)level); }
ride_log_level ride_log_get_level(void) { return (ride_log_level)atomic_load(&log_level); }

int ride_log_level_parse(const char *name, ride_log_level *out)
{
    for (int i = RIDE_LOG_DEBUG; i <= RIDE_LOG_ERROR; i++) {
        if (name && strcmp(name, level_names[i]) == 0) {
            *out = (ride_log_level)i;
            return 0;
        }
    }
    return -1;
}

static size_t format_timestamp(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    int m = snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
    return n + (m > 0 ? (size_t)m : 0);
}

void ride_log(ride_log_level level, const char *event, const char *fmt, ...)
{
    if ((int)level < atomic_load(&log_level) || (int)level > RIDE_LOG_ERROR)
        return;
    /* One buffer, one write: lines from several threads never interleave. */
    char line[2048];
    char ts[40];
    format_timestamp(ts, sizeof ts);
    int n = snprintf(line, sizeof line, "ts=%s level=%s component=%s event=%s", ts,
                     level_names[level], log_component, event);
    if (n < 0)
        return;
    size_t used = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (fmt && fmt[0] && used < sizeof line - 2) {
        line[used++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + used, sizeof line - used, fmt, ap);
        va_end(ap);
        if (m > 0)
            used += (size_t)m < sizeof line - used ? (size_t)m : sizeof line - used - 1;
    }
    line[used++] = '\n';
    fwrite(line, 1, used, stderr);
}

const char *ride_log_quote(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    if (len < 3) {
        if (len)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (; s && *s && o + 3 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20) {
            buf[o++] = ' ';
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

bool ride_log_throttle_pass(ride_log_throttle *t, int interval_ms, uint64_t *suppressed)
{
    int64_t now = ride_clock_mono_ms();
    if (t->next_ms != 0 && now < t->next_ms) {
        t->held++;
        return false;
    }
    *suppressed = t->held;
    t->held = 0;
    t->next_ms = now + (interval_ms > 0 ? interval_ms : 1);
    return true;
}

