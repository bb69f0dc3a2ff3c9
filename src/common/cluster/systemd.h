/* cluster/systemd.h - telling systemd how a daemon is doing (sd_notify, Type=notify
 * units in deploy/systemd/): READY=1 once it serves, STATUS= lines shown by
 * `systemctl status`, STOPPING=1 when a stop begins, WATCHDOG=1 pings.
 *
 * Outside systemd (NOTIFY_SOCKET unset) every call does nothing and returns 0,
 * so daemons call them unconditionally. The notify calls return 1 when the
 * message was sent and a negative errno when sending failed (logged as
 * systemd_notify_failed); a daemon keeps running either way.
 *
 * Threads: any thread may notify (systemd checks the sender's pid against
 * NotifyAccess=main, i.e. the daemon's process). The watchdog timer runs on the
 * loop it was started on. */
#ifndef RIDE_SYSTEMD_H
#define RIDE_SYSTEMD_H

#include <stdint.h>

#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

/* READY=1, with STATUS=status when status is not NULL. */
int ride_systemd_ready(const char *status);
/* STATUS=<formatted text>; line breaks become spaces (one status line). */
int ride_systemd_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* STOPPING=1: the stop has begun (systemd then waits up to TimeoutStopSec=). */
int ride_systemd_stopping(void);

/* The watchdog interval systemd asks for (WatchdogSec=, as WATCHDOG_USEC for this
 * pid) in microseconds; 0 when there is no watchdog or no systemd. An unreadable
 * WATCHDOG_USEC is logged (systemd_watchdog_invalid) and counts as none. */
uint64_t ride_systemd_watchdog_usec(void);
/* WATCHDOG=1. */
int ride_systemd_watchdog_ping(void);

typedef struct ride_systemd_watchdog ride_systemd_watchdog;

/* Starts a timer on loop that pings every half interval, so that a loop stalled
 * for a whole interval gets the daemon restarted. The timer does not keep the
 * loop alive. NULL when there is no watchdog (or the timer cannot start, logged).
 * From the loop thread. */
ride_systemd_watchdog *ride_systemd_watchdog_start(uv_loop_t *loop);
/* Stops and releases the timer; the loop must run on for its close callback.
 * From the loop thread; NULL is a no-op. */
void ride_systemd_watchdog_stop(ride_systemd_watchdog *wd);

#ifdef __cplusplus
}
#endif

#endif
