/* systemd.c - sd_notify() readiness, status, stopping and watchdog pings
 * (cluster/systemd.h). A failed notification is logged, never fatal: the daemon
 * keeps running. */
#include "cluster/systemd.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "base/log.h"

#define STATUS_MAX 512

struct ride_systemd_watchdog {
    uv_timer_t timer;
};

static int notify(const char *state)
{
    int rc = sd_notify(0, state);
    if (rc < 0) {
        char first[64], quoted[80];
        snprintf(first, sizeof first, "%.*s", (int)strcspn(state, "\n"), state);
        ride_log_warn("systemd_notify_failed", "state=%s error=\"%s\"",
                      ride_log_quote(first, quoted, sizeof quoted), strerror(-rc));
    }
    return rc;
}

/* A newline would end the STATUS= assignment and start another one. */
static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r')
            *s = ' ';
}

int ride_systemd_ready(const char *status)
{
    if (!status)
        return notify("READY=1");
    char state[STATUS_MAX + 32];
    snprintf(state, sizeof state, "READY=1\nSTATUS=%s", status);
    one_line(state + strlen("READY=1\n"));
    return notify(state);
}

int ride_systemd_status(const char *fmt, ...)
{
    char state[STATUS_MAX + 8] = "STATUS=";
    size_t prefix = strlen(state);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(state + prefix, sizeof state - prefix, fmt, ap);
    va_end(ap);
    one_line(state + prefix);
    return notify(state);
}

int ride_systemd_stopping(void) { return notify("STOPPING=1"); }

int ride_systemd_watchdog_ping(void) { return notify("WATCHDOG=1"); }

uint64_t ride_systemd_watchdog_usec(void)
{
    /* WATCHDOG_USEC alone (say, inherited from a parent) does not make a watchdog:
     * only the service manager's socket can receive the pings. */
    if (!getenv("NOTIFY_SOCKET"))
        return 0;
    uint64_t usec = 0;
    int rc = sd_watchdog_enabled(0, &usec);
    if (rc < 0) {
        const char *value = getenv("WATCHDOG_USEC");
        char quoted[128];
        ride_log_warn("systemd_watchdog_invalid", "WATCHDOG_USEC=%s error=\"%s\"",
                      ride_log_quote(value ? value : "", quoted, sizeof quoted), strerror(-rc));
        return 0;
    }
    return rc > 0 ? usec : 0;
}

static void on_watchdog(uv_timer_t *timer)
{
    (void)timer;
    ride_systemd_watchdog_ping();
}

ride_systemd_watchdog *ride_systemd_watchdog_start(uv_loop_t *loop)
{
    uint64_t usec = ride_systemd_watchdog_usec();
    if (!usec)
        return NULL;
    uint64_t period_ms = usec / 2000 ? usec / 2000 : 1;
    ride_systemd_watchdog *wd = calloc(1, sizeof *wd);
    int rc = wd ? uv_timer_init(loop, &wd->timer) : UV_ENOMEM;
    if (rc) {
        ride_log_error("systemd_watchdog_not_started", "error=\"%s\"", uv_strerror(rc));
        free(wd);
        return NULL;
    }
    uv_timer_start(&wd->timer, on_watchdog, period_ms, period_ms);
    uv_unref((uv_handle_t *)&wd->timer);
    ride_log_info("systemd_watchdog", "interval_ms=%" PRIu64 " ping_ms=%" PRIu64, usec / 1000,
                  period_ms);
    return wd;
}

static void free_watchdog(uv_handle_t *handle) { free(handle->data); }

void ride_systemd_watchdog_stop(ride_systemd_watchdog *wd)
{
    if (!wd)
        return;
    wd->timer.data = wd;
    uv_close((uv_handle_t *)&wd->timer, free_watchdog);
}
