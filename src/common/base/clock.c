/* clock.c - monotonic, wall and CPU clocks in ns and ms (base/clock.h). A deadline sleep
 * is absolute, so one interrupted by a signal resumes towards the same deadline. */
#include "base/clock.h"

#include <errno.h>
#include <time.h>

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t ride_clock_mono_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

int64_t ride_clock_mono_ms(void) { return ride_clock_mono_ns() / 1000000; }

uint64_t ride_clock_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t ride_clock_wall_ms(void) { return (int64_t)(ride_clock_wall_ns() / 1000000u); }

int64_t ride_clock_process_cpu_ns(void) { return clock_ns(CLOCK_PROCESS_CPUTIME_ID); }

void ride_clock_sleep_until_ns(int64_t deadline_ns)
{
    struct timespec ts = {.tv_sec = deadline_ns / 1000000000, .tv_nsec = deadline_ns % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

struct timespec ride_clock_realtime_after_ms(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}
