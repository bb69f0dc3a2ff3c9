/* base/clock.h - the clocks RIDE measures with.
 *
 * Durations, deadlines and rates use the monotonic clock; capture timestamps in
 * frames use the wall clock (nanoseconds since the Unix epoch), because they are
 * compared across machines. */
#ifndef RIDE_CLOCK_H
#define RIDE_CLOCK_H

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

int64_t ride_clock_mono_ns(void);
int64_t ride_clock_mono_ms(void);
uint64_t ride_clock_wall_ns(void);
/* Wall-clock milliseconds since the epoch (timestamps in ZooKeeper nodes). */
int64_t ride_clock_wall_ms(void);
/* CPU time of the whole process (every thread, user and system) since it started. */
int64_t ride_clock_process_cpu_ns(void);
/* Sleeps until the monotonic clock reaches deadline_ns (returns at once if it has). */
void ride_clock_sleep_until_ns(int64_t deadline_ns);
/* CLOCK_REALTIME ms milliseconds from now: the deadline pthread_cond_timedwait
 * takes (condition variables wait on the realtime clock by default). */
struct timespec ride_clock_realtime_after_ms(int ms);

#ifdef __cplusplus
}
#endif

#endif
