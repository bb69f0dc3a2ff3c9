/* metrics_scrape.h - the workers' frame counters (ride_frames_processed_total) as
 * the demo reads them from each worker's /metrics. A worker's port is the
 * metrics_port its "started" log line gives. A counter keeps its highest value
 * seen, so a worker that died or released a partition still counts its frames. */
#ifndef RIDE_DEMO_METRICS_SCRAPE_H
#define RIDE_DEMO_METRICS_SCRAPE_H

#include <stddef.h>
#include <stdint.h>

#define DEMO_METRICS_WORKERS_MAX 16
#define DEMO_METRICS_SERIES_MAX 1024

typedef struct demo_metrics_series {
    size_t worker;
    char stage[64];
    int partition;
    uint64_t frames;
} demo_metrics_series;

typedef struct demo_metrics {
    const char *logs; /* directory of <worker id>.log */
    const char (*ids)[16];
    size_t count;
    int ports[DEMO_METRICS_WORKERS_MAX]; /* 0 until known */
    demo_metrics_series series[DEMO_METRICS_SERIES_MAX];
    size_t series_count;
} demo_metrics;

void demo_metrics_init(demo_metrics *m, const char (*ids)[16], size_t count);
/* Scrapes every worker that answers; the others keep their last values. */
void demo_metrics_scrape(demo_metrics *m);
/* Frames of a stage processed by all workers together. */
uint64_t demo_metrics_stage_frames(const demo_metrics *m, const char *stage);
void demo_metrics_free(demo_metrics *m);

#endif
