/* lag.c - the Kafka offsets of every stage partition, read by the leader from Kafka
 * itself (log-end offsets and the stage group's committed offsets), so lag stays
 * right while a worker is dead. Kafka round trips would stall the libuv loop, so a
 * thread of its own refreshes a snapshot every REFRESH_MS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master.h"
#include "base/clock.h"
#include "base/log.h"

#define REFRESH_MS 1000
#define QUERY_TIMEOUT_MS 1000

typedef struct group_handle {
    char group[RIDE_MASTER_TOPIC_MAX];
    ride_kafka_consumer *consumer;
} group_handle;

struct ride_master_lag {
    const ride_config *cfg;
    ride_master_thread th;
    /* under mu */
    char *bootstrap;
    ride_master_offsets *watch;
    size_t watch_count;
    ride_master_offsets *snap;
    size_t snap_count;
    /* the thread's own */
    char *connected_to;
    rd_kafka_t *admin;
    group_handle *groups;
    size_t group_count;
};

static void drop_handles(ride_master_lag *l)
{
    for (size_t i = 0; i < l->group_count; i++)
        ride_kafka_consumer_free(l->groups[i].consumer);
    free(l->groups);
    l->groups = NULL;
    l->group_count = 0;
    if (l->admin)
        rd_kafka_destroy(l->admin);
    l->admin = NULL;
    free(l->connected_to);
    l->connected_to = NULL;
}

static bool connect_to(ride_master_lag *l, const char *bootstrap)
{
    if (l->connected_to && strcmp(l->connected_to, bootstrap) == 0)
        return true;
    drop_handles(l);
    if (!(l->admin = ride_master_kafka_admin(l->cfg, bootstrap)))
        return false;
    l->connected_to = strdup(bootstrap);
    return l->connected_to != NULL;
}

static ride_kafka_consumer *group_consumer(ride_master_lag *l, const char *group)
{
    for (size_t i = 0; i < l->group_count; i++)
        if (strcmp(l->groups[i].group, group) == 0)
            return l->groups[i].consumer;
    group_handle *grown = realloc(l->groups, (l->group_count + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    l->groups = grown;
    rd_kafka_conf_t *conf = ride_master_kafka_conf(l->cfg, RIDE_KAFKA_CONSUMER, l->connected_to);
    char err[512];
    ride_kafka_consumer *c = conf ? ride_kafka_consumer_new(conf, group, err, sizeof err) : NULL;
    if (!c)
        return NULL;
    snprintf(grown[l->group_count].group, sizeof grown->group, "%s", group);
    grown[l->group_count++].consumer = c;
    return c;
}

/* Committed offsets of one stage's partitions: parts[0..n) share app and stage. */
static void read_committed(ride_master_lag *l, ride_master_offsets *parts, size_t n)
{
    char topic[RIDE_MASTER_TOPIC_MAX];
    snprintf(topic, sizeof topic, "ride.%s.%s", parts[0].app, parts[0].stage);
    ride_kafka_consumer *c = group_consumer(l, topic);
    ride_kafka_tp *tps = calloc(n, sizeof *tps);
    char err[512];
    if (c && tps) {
        for (size_t i = 0; i < n; i++)
            tps[i] = (ride_kafka_tp){topic, parts[i].partition, RIDE_KAFKA_OFFSET_NONE};
        if (ride_kafka_committed(c, tps, n, QUERY_TIMEOUT_MS, err, sizeof err) == 0)
            for (size_t i = 0; i < n; i++)
                parts[i].committed = tps[i].offset >= 0 ? tps[i].offset : -1;
    }
    free(tps);
}

static void read_offsets(ride_master_lag *l, ride_master_offsets *parts, size_t n)
{
    char err[512];
    for (size_t i = 0; i < n; i++) {
        char topic[RIDE_MASTER_TOPIC_MAX];
        int64_t low = -1, high = -1;
        snprintf(topic, sizeof topic, "ride.%s.%s", parts[i].app, parts[i].stage);
        if (ride_kafka_watermarks(l->admin, topic, parts[i].partition, QUERY_TIMEOUT_MS, &low,
                                  &high, err, sizeof err) == 0) {
            parts[i].start = low;
            parts[i].end = high;
        }
    }
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && strcmp(parts[j].app, parts[i].app) == 0 &&
               strcmp(parts[j].stage, parts[i].stage) == 0)
            j++;
        read_committed(l, parts + i, j - i);
        i = j;
    }
}

static void publish(ride_master_lag *l, ride_master_offsets *parts, size_t n)
{
    pthread_mutex_lock(&l->th.mu);
    free(l->snap);
    l->snap = parts;
    l->snap_count = n;
    pthread_mutex_unlock(&l->th.mu);
}

static void refresh(ride_master_lag *l)
{
    pthread_mutex_lock(&l->th.mu);
    char *bootstrap = l->bootstrap ? strdup(l->bootstrap) : NULL;
    size_t n = l->watch_count;
    ride_master_offsets *parts = malloc((n ? n : 1) * sizeof *parts);
    if (parts && n)
        memcpy(parts, l->watch, n * sizeof *parts);
    pthread_mutex_unlock(&l->th.mu);
    if (parts && bootstrap && connect_to(l, bootstrap)) {
        for (size_t i = 0; i < n; i++)
            parts[i].end = parts[i].committed = parts[i].start = -1;
        read_offsets(l, parts, n);
        int64_t read_ms = ride_clock_mono_ms();
        for (size_t i = 0; i < n; i++)
            parts[i].read_ms = read_ms;
        publish(l, parts, n);
        parts = NULL;
    }
    free(parts);
    free(bootstrap);
}

static void *lag_thread(void *arg)
{
    ride_master_lag *l = arg;
    pthread_mutex_lock(&l->th.mu);
    while (!l->th.stop) {
        pthread_mutex_unlock(&l->th.mu);
        refresh(l);
        pthread_mutex_lock(&l->th.mu);
        ride_master_thread_wait(&l->th, REFRESH_MS);
    }
    pthread_mutex_unlock(&l->th.mu);
    drop_handles(l);
    return NULL;
}

ride_master_lag *ride_master_lag_start(const ride_config *cfg, char *err, size_t errlen)
{
    ride_master_lag *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->cfg = cfg;
    if (ride_master_thread_start(&l->th, lag_thread, l)) {
        snprintf(err, errlen, "cannot start the offsets thread");
        free(l);
        return NULL;
    }
    return l;
}

void ride_master_lag_stop(ride_master_lag *l)
{
    if (!l)
        return;
    ride_master_thread_stop(&l->th);
    free(l->bootstrap);
    free(l->watch);
    free(l->snap);
    free(l);
}

void ride_master_lag_watch(ride_master_lag *l, const char *bootstrap,
                           const ride_master_offsets *parts, size_t count)
{
    ride_master_offsets *copy = malloc((count ? count : 1) * sizeof *copy);
    char *b = bootstrap ? strdup(bootstrap) : NULL;
    if (!copy || (bootstrap && !b)) {
        free(copy);
        free(b);
        return;
    }
    if (count)
        memcpy(copy, parts, count * sizeof *copy);
    pthread_mutex_lock(&l->th.mu);
    free(l->watch);
    free(l->bootstrap);
    l->watch = copy;
    l->watch_count = count;
    l->bootstrap = b;
    pthread_mutex_unlock(&l->th.mu);
}

bool ride_master_lag_get(ride_master_lag *l, const char *app, const char *stage, int partition,
                         ride_master_offsets *out)
{
    bool found = false;
    pthread_mutex_lock(&l->th.mu);
    for (size_t i = 0; i < l->snap_count && !found; i++)
        if (l->snap[i].partition == partition && strcmp(l->snap[i].app, app) == 0 &&
            strcmp(l->snap[i].stage, stage) == 0) {
            *out = l->snap[i];
            found = true;
        }
    pthread_mutex_unlock(&l->th.mu);
    return found;
}

ride_master_figures ride_master_lag_figures(ride_master_lag *l, const char *app,
                                            const char *stage, int partition,
                                            double messages_per_frame)
{
    ride_master_offsets o;
    bool known = l && ride_master_lag_get(l, app, stage, partition, &o);
    ride_master_figures f = {known ? o.end : -1, known ? o.committed : -1, -1, -1};
    /* Nothing committed yet: everything still kept is waiting. */
    int64_t base = f.committed >= 0 ? f.committed : (known ? o.start : -1);
    if (f.end >= 0 && base >= 0)
        f.lag_messages = f.end > base ? f.end - base : 0;
    f.lag = ride_master_frames_of(f.lag_messages, messages_per_frame);
    return f;
}
