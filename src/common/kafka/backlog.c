/* backlog.c - a topic's log ends and consumed offsets per partition (kafka/backlog.h). */
#include "kafka/backlog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "kafka/kafka.h"

/* A round trip may take long on a loaded machine (the first one also fetches
 * metadata); the refresh thread waits it out rather than counting a failure. */
#define QUERY_TIMEOUT_MS 5000

struct ride_backlog {
    char *topic;
    int partitions;
    int refresh_ms;
    ride_kafka_consumer *consumer; /* of the group, never assigned anything */

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;

    /* -1 until known. */
    _Atomic int64_t *end;
    _Atomic int64_t *consumed; /* committed, or the log start when that is later */
    _Atomic uint64_t errors;
    _Atomic uint64_t refreshes;

    /* the refresh thread's own */
    int64_t *starts;
    int64_t *ends;
    ride_kafka_tp *committed;
    bool failing;
};

static bool read_offsets(ride_backlog *b, char *err, size_t errlen)
{
    rd_kafka_t *rk = ride_kafka_consumer_handle(b->consumer);
    int timeout = QUERY_TIMEOUT_MS;
    if (ride_kafka_log_offsets(rk, b->topic, b->partitions, RIDE_KAFKA_OFFSET_BEGINNING,
                               b->starts, timeout, err, errlen) != 0 ||
        ride_kafka_log_offsets(rk, b->topic, b->partitions, RIDE_KAFKA_OFFSET_END, b->ends,
                               timeout, err, errlen) != 0)
        return false;
    for (int i = 0; i < b->partitions; i++)
        b->committed[i] = (ride_kafka_tp){b->topic, i, RIDE_KAFKA_OFFSET_NONE};
    return ride_kafka_committed(b->consumer, b->committed, (size_t)b->partitions, timeout, err,
                                errlen) == 0;
}

/* Messages below the log start are gone: whatever the group committed, they
 * are not waiting to be read. */
static void publish(ride_backlog *b)
{
    for (int i = 0; i < b->partitions; i++) {
        int64_t consumed = b->committed[i].offset;
        if (consumed < b->starts[i])
            consumed = b->starts[i];
        atomic_store(&b->consumed[i], consumed);
        atomic_store(&b->end[i], b->ends[i]);
    }
    atomic_fetch_add(&b->refreshes, 1);
}

static void refresh(ride_backlog *b)
{
    char err[512];
    if (read_offsets(b, err, sizeof err)) {
        publish(b);
        if (b->failing)
            ride_log_info("backlog_recovered", "topic=%s", b->topic);
        b->failing = false;
        return;
    }
    atomic_fetch_add(&b->errors, 1);
    /* One line per outage, not one per refresh. */
    if (!b->failing)
        ride_log_warn("backlog_unknown", "topic=%s error=\"%s\"", b->topic, err);
    b->failing = true;
}

static void *refresh_thread(void *arg)
{
    ride_backlog *b = arg;
    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        pthread_mutex_unlock(&b->mu);
        refresh(b);
        pthread_mutex_lock(&b->mu);
        struct timespec until = ride_clock_realtime_after_ms(b->refresh_ms);
        while (!b->stop && pthread_cond_timedwait(&b->cv, &b->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

static void destroy(ride_backlog *b)
{
    ride_kafka_consumer_free(b->consumer);
    free(b->end);
    free(b->consumed);
    free(b->starts);
    free(b->ends);
    free(b->committed);
    free(b->topic);
    free(b);
}

static bool allocate(ride_backlog *b, const ride_backlog_opts *opts)
{
    size_t n = (size_t)opts->partitions;
    b->partitions = opts->partitions;
    b->topic = strdup(opts->topic);
    b->end = calloc(n, sizeof *b->end);
    b->consumed = calloc(n, sizeof *b->consumed);
    b->starts = calloc(n, sizeof *b->starts);
    b->ends = calloc(n, sizeof *b->ends);
    b->committed = calloc(n, sizeof *b->committed);
    if (!b->topic || !b->end || !b->consumed || !b->starts || !b->ends || !b->committed)
        return false;
    for (size_t i = 0; i < n; i++) {
        atomic_init(&b->end[i], -1);
        atomic_init(&b->consumed[i], -1);
    }
    return true;
}

ride_backlog *ride_backlog_new(const ride_backlog_opts *opts, char *err, size_t errlen)
{
    if (!opts || !opts->topic || !opts->group || !opts->conf || opts->partitions < 1 ||
        opts->partitions > RIDE_KAFKA_MAX_PARTITIONS || opts->refresh_ms < 0) {
        if (opts && opts->conf)
            rd_kafka_conf_destroy(opts->conf);
        ride_set_error(err, errlen, "backlog: a topic, a group, a configuration and 1..%d "
                       "partitions are required", RIDE_KAFKA_MAX_PARTITIONS);
        return NULL;
    }
    ride_backlog *b = calloc(1, sizeof *b);
    if (!b || !allocate(b, opts)) {
        rd_kafka_conf_destroy(opts->conf);
        if (b)
            destroy(b);
        ride_set_error(err, errlen, "backlog %s: out of memory", opts->topic);
        return NULL;
    }
    b->refresh_ms = opts->refresh_ms ? opts->refresh_ms : RIDE_BACKLOG_DEFAULT_REFRESH_MS;
    atomic_init(&b->errors, 0);
    atomic_init(&b->refreshes, 0);
    b->consumer = ride_kafka_consumer_new(opts->conf, opts->group, err, errlen);
    if (!b->consumer) {
        destroy(b);
        return NULL;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    if (pthread_create(&b->thread, NULL, refresh_thread, b) != 0) {
        pthread_mutex_destroy(&b->mu);
        pthread_cond_destroy(&b->cv);
        destroy(b);
        ride_set_error(err, errlen, "backlog %s: cannot start its thread", opts->topic);
        return NULL;
    }
    return b;
}

void ride_backlog_free(ride_backlog *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->stop = true;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    destroy(b);
}

bool ride_backlog_figures(const ride_backlog *b, int32_t partition, int64_t *end,
                          int64_t *consumed, uint64_t *refreshes)
{
    if (partition < 0 || partition >= b->partitions)
        return false;
    ride_backlog *m = (ride_backlog *)b;
    if (refreshes)
        *refreshes = atomic_load(&m->refreshes);
    *end = atomic_load(&m->end[partition]);
    *consumed = atomic_load(&m->consumed[partition]);
    return true;
}

uint64_t ride_backlog_errors(const ride_backlog *b)
{
    return atomic_load(&((ride_backlog *)b)->errors);
}
