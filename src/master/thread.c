/* thread.c - the master's background threads (Kafka round trips kept off the
 * libuv loop): each has a lock for what it shares with the loop, a condition
 * that wakes it early, and a stop flag under that lock. */
#include "master.h"
#include "base/clock.h"

int ride_master_thread_start(ride_master_thread *t, void *(*run)(void *), void *arg)
{
    t->stop = false;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (pthread_create(&t->thread, NULL, run, arg) == 0)
        return 0;
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    return -1;
}

void ride_master_thread_stop(ride_master_thread *t)
{
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
}

void ride_master_thread_wake(ride_master_thread *t)
{
    pthread_cond_signal(&t->cv);
}

void ride_master_thread_wait(ride_master_thread *t, int ms)
{
    struct timespec until = ride_clock_realtime_after_ms(ms);
    if (!t->stop)
        pthread_cond_timedwait(&t->cv, &t->mu, &until);
}
