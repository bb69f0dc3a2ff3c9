/* events.c - the cluster's event log: each event is logged and, while this master
 * leads, written as a sequential node under /events, of which only the newest
 * EVENTS_KEPT are kept. Every master module may emit; this one calls none of them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master.h"
#include "base/clock.h"
#include "base/log.h"

#define EVENTS_KEPT 1000
#define EVENTS_TRIM_EVERY 100

static void trim_events(ride_master *m)
{
    ride_zk_strings ev = {0};
    if (ride_zk_get_children(m->zk, RIDE_CLUSTER_PATH_EVENTS, &ev) != RIDE_ZK_OK)
        return;
    for (size_t i = 0; i + EVENTS_KEPT < ev.count; i++) {
        char path[RIDE_ZK_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", RIDE_CLUSTER_PATH_EVENTS, ev.items[i]);
        ride_zk_delete(m->zk, path, -1);
    }
    ride_zk_strings_free(&ev);
}

void ride_master_event(ride_master *m, const char *type, const char *app, const char *stage,
                       int partition, const char *member, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    char q[1100];
    ride_log_info(type, "app=%s stage=%s partition=%d member=%s message=%s", app ? app : "-",
                  stage ? stage : "-", partition, member ? member : "-",
                  ride_log_quote(message, q, sizeof q));
    if (!m->leading)
        return;
    ride_cluster_event e = {.ts_ms = ride_clock_wall_ms(),
                            .type = type,
                            .app = app,
                            .stage = stage,
                            .partition = partition,
                            .member = member,
                            .message = message};
    char err[256];
    char *json = ride_cluster_event_encode(&e, err, sizeof err);
    if (!json) {
        ride_log_warn("event_not_written", "type=%s error=%s", type,
                      ride_log_quote(err, q, sizeof q));
        return;
    }
    if (ride_zk_create(m->zk, RIDE_CLUSTER_PREFIX_EVENT, json, strlen(json), RIDE_ZK_SEQUENTIAL,
                       NULL, 0) == RIDE_ZK_OK) {
        ride_counter_inc(m->metrics.events);
        if (++m->events_written % EVENTS_TRIM_EVERY == 0)
            trim_events(m);
    }
    free(json);
}
