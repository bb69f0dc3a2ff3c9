/* measure.c - a stage's rates and lag from successive samples (measure.h). Counters
 * are read per (worker, partition, epoch), since a partition that moves restarts
 * its frames_processed at 0 on its new owner while the rest keep counting. */
#include "measure.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The last reading of one partition's frames_processed on one worker. */
typedef struct part_seen {
    int partition;
    int64_t epoch;
    int64_t processed;
} part_seen;

typedef struct worker_state {
    ride_measure_worker fig;
    int64_t seen_ms;
    int64_t ts_ms;
    /* The time the worker's counters are placed at: its heartbeats' own intervals,
     * started at the master's clock, and the master's where the worker's clock stepped. */
    int64_t clock_ms;
    part_seen *parts;
    size_t part_count;
    int64_t busy_ms;
    ride_measure_counter frames;
    ride_measure_counter busy;
} worker_state;

struct ride_measure_stage {
    int64_t *ends; /* the last known log-end offset of each partition, -1 none yet */
    size_t partition_count;
    int64_t offsets_ms;
    ride_measure_counter input; /* Kafka messages */
    worker_state *workers;
    size_t worker_count;
    ride_measure_worker *figs;
    ride_measure_figures fig;
};

/* ---- counters ---- */

static void drop_oldest(ride_measure_counter *c)
{
    memmove(c->at_ms, c->at_ms + 1, (c->count - 1) * sizeof c->at_ms[0]);
    memmove(c->total, c->total + 1, (c->count - 1) * sizeof c->total[0]);
    c->count--;
}

void ride_measure_counter_add(ride_measure_counter *c, int64_t at_ms, double growth)
{
    if (c->count > 0 && at_ms <= c->at_ms[c->count - 1])
        return;
    double total = c->count > 0 ? c->total[c->count - 1] + growth : 0;
    if (c->count == RIDE_MEASURE_READINGS)
        drop_oldest(c);
    c->at_ms[c->count] = at_ms;
    c->total[c->count] = total;
    c->count++;
    /* Keep one reading at or before the window's start, so the window is covered. */
    while (c->count > 2 && c->at_ms[1] <= at_ms - RIDE_MEASURE_WINDOW_MS)
        drop_oldest(c);
}

double ride_measure_counter_rate(const ride_measure_counter *c)
{
    if (c->count < 2)
        return -1;
    int64_t dt = c->at_ms[c->count - 1] - c->at_ms[0];
    return (c->total[c->count - 1] - c->total[0]) * 1000.0 / (double)dt;
}

int64_t ride_measure_growth(int64_t before, int64_t now)
{
    return now >= before ? now - before : now;
}

/* ---- the input rate, from the log-end offsets ---- */

static int reset_partitions(ride_measure_stage *s, size_t n)
{
    int64_t *ends = malloc((n ? n : 1) * sizeof *ends);
    if (!ends)
        return -1;
    for (size_t p = 0; p < n; p++)
        ends[p] = -1;
    free(s->ends);
    s->ends = ends;
    s->partition_count = n;
    s->offsets_ms = -1;
    memset(&s->input, 0, sizeof s->input);
    return 0;
}

static int fold_offsets(ride_measure_stage *s, const ride_measure_sample *x)
{
    if (x->partition_count != s->partition_count && reset_partitions(s, x->partition_count))
        return -1;
    if (x->offsets_ms < 0 || x->offsets_ms <= s->offsets_ms)
        return 0;
    int64_t growth = 0;
    for (size_t p = 0; p < s->partition_count; p++) {
        if (x->ends[p] < 0)
            continue; /* unread this time: the next reading counts from the last known */
        if (s->ends[p] >= 0)
            growth += ride_measure_growth(s->ends[p], x->ends[p]);
        s->ends[p] = x->ends[p];
    }
    s->offsets_ms = x->offsets_ms;
    ride_measure_counter_add(&s->input, x->offsets_ms, (double)growth);
    return 0;
}

static double input_fps(const ride_measure_stage *s, const ride_measure_sample *x)
{
    double messages = ride_measure_counter_rate(&s->input);
    if (messages < 0 || x->now_ms - s->offsets_ms > RIDE_MEASURE_STALE_MS)
        return -1;
    if (messages == 0)
        return 0;
    return x->messages_per_frame > 0 ? messages / x->messages_per_frame : -1;
}

/* ---- the workers ---- */

static const part_seen *find_part(const worker_state *w, const ride_measure_part *p)
{
    for (size_t i = 0; i < w->part_count; i++)
        if (w->parts[i].partition == p->partition && w->parts[i].epoch == p->epoch)
            return &w->parts[i];
    return NULL;
}

/* Frames processed since w's last heartbeat: a partition it did not list then (or
 * under another epoch) was added since, and counted from 0. */
static int64_t frames_growth(const worker_state *w, const ride_measure_worker_sample *x)
{
    int64_t growth = 0;
    for (size_t i = 0; i < x->part_count; i++) {
        const part_seen *before = find_part(w, &x->parts[i]);
        growth += before ? ride_measure_growth(before->processed, x->parts[i].processed)
                         : x->parts[i].processed;
    }
    return growth;
}

static int keep_parts(worker_state *w, const ride_measure_worker_sample *x)
{
    part_seen *parts = realloc(w->parts, (x->part_count ? x->part_count : 1) * sizeof *parts);
    if (!parts)
        return -1;
    for (size_t i = 0; i < x->part_count; i++)
        parts[i] = (part_seen){x->parts[i].partition, x->parts[i].epoch, x->parts[i].processed};
    w->parts = parts;
    w->part_count = x->part_count;
    return 0;
}

/* The step of w's clock to heartbeat x: the worker's own interval unless its clock
 * stepped (went back, or disagrees with the master's by more than the slack). */
static int64_t clock_step(const worker_state *w, const ride_measure_worker_sample *x)
{
    int64_t own = x->ts_ms - w->ts_ms, seen = x->seen_ms - w->seen_ms;
    int64_t gap = own > seen ? own - seen : seen - own;
    return own > 0 && gap <= RIDE_MEASURE_CLOCK_SLACK_MS ? own : seen;
}

static void fold_busy(worker_state *w, const ride_measure_worker_sample *x, bool first)
{
    if (x->busy_ms < 0) {
        memset(&w->busy, 0, sizeof w->busy); /* not reported: unknown */
    } else if (first || w->busy_ms < 0) {
        memset(&w->busy, 0, sizeof w->busy);
        ride_measure_counter_add(&w->busy, w->clock_ms, 0);
    } else {
        ride_measure_counter_add(&w->busy, w->clock_ms,
                                 (double)ride_measure_growth(w->busy_ms, x->busy_ms));
    }
    w->busy_ms = x->busy_ms;
}

static int fold_worker(worker_state *w, const ride_measure_worker_sample *x, bool first)
{
    if (!first && x->seen_ms == w->seen_ms && x->ts_ms == w->ts_ms)
        return 0; /* the heartbeat already folded in */
    int64_t step = first ? 0 : clock_step(w, x);
    if (!first && step <= 0)
        return 0;
    int64_t growth = first ? 0 : frames_growth(w, x);
    w->clock_ms = first ? x->seen_ms : w->clock_ms + step;
    ride_measure_counter_add(&w->frames, w->clock_ms, (double)growth);
    fold_busy(w, x, first);
    w->seen_ms = x->seen_ms;
    w->ts_ms = x->ts_ms;
    return keep_parts(w, x);
}

static void worker_figures(worker_state *w, size_t partitions)
{
    w->fig.partitions = partitions;
    w->fig.service_fps = ride_measure_counter_rate(&w->frames);
    double busy = ride_measure_counter_rate(&w->busy);
    /* Step timers round; a share of one thread's time is never above 1. */
    w->fig.busy_ratio = busy < 0 ? -1 : busy / 1000.0 > 1 ? 1 : busy / 1000.0;
}

/* Moves the state of worker `id` out of the old array (NULL: none). */
static worker_state *take_worker(worker_state *old, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (old[i].fig.id[0] && strcmp(old[i].fig.id, id) == 0)
            return &old[i];
    return NULL;
}

static void free_workers(worker_state *ws, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ws[i].parts);
    free(ws);
}

static int fold_workers(ride_measure_stage *s, const ride_measure_sample *x)
{
    size_t n = x->worker_count;
    worker_state *now = calloc(n ? n : 1, sizeof *now);
    ride_measure_worker *figs = calloc(n ? n : 1, sizeof *figs);
    if (!now || !figs) {
        free(now);
        free(figs);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const ride_measure_worker_sample *wx = &x->workers[i];
        worker_state *before = take_worker(s->workers, s->worker_count, wx->worker);
        if (before) {
            now[i] = *before;
            memset(before, 0, sizeof *before);
        } else {
            snprintf(now[i].fig.id, sizeof now[i].fig.id, "%s", wx->worker);
            now[i].busy_ms = -1;
        }
        rc = fold_worker(&now[i], wx, before == NULL);
        worker_figures(&now[i], wx->part_count);
        figs[i] = now[i].fig;
    }
    free_workers(s->workers, s->worker_count);
    s->workers = now;
    s->worker_count = n;
    free(s->figs);
    s->figs = figs;
    return rc;
}

static int by_id(const void *x, const void *y)
{
    return strcmp(((const ride_measure_worker *)x)->id, ((const ride_measure_worker *)y)->id);
}

/* ---- the stage ---- */

ride_measure_stage *ride_measure_stage_new(void)
{
    ride_measure_stage *s = calloc(1, sizeof *s);
    if (s && reset_partitions(s, 0)) {
        free(s);
        return NULL;
    }
    if (s)
        s->fig = (ride_measure_figures){-1, -1, -1, -1, -1, NULL, 0};
    return s;
}

void ride_measure_stage_free(ride_measure_stage *s)
{
    if (!s)
        return;
    free(s->ends);
    free_workers(s->workers, s->worker_count);
    free(s->figs);
    free(s);
}

static double lag_seconds(int64_t lag, double service_fps)
{
    if (lag < 0)
        return -1;
    if (lag == 0)
        return 0;
    if (service_fps < 0)
        return -1;
    return service_fps > 0 ? (double)lag / service_fps : INFINITY;
}

static void stage_figures(ride_measure_stage *s, const ride_measure_sample *x)
{
    ride_measure_figures *f = &s->fig;
    double service = 0, busy = 0;
    size_t served = 0, busy_known = 0;
    for (size_t i = 0; i < s->worker_count; i++) {
        if (s->figs[i].service_fps >= 0) {
            service += s->figs[i].service_fps;
            served++;
        }
        if (s->figs[i].busy_ratio >= 0) {
            busy += s->figs[i].busy_ratio;
            busy_known++;
        }
    }
    qsort(s->figs, s->worker_count, sizeof *s->figs, by_id);
    f->input_fps = input_fps(s, x);
    /* No worker at all serves nothing; workers all new are not measured yet. */
    f->service_fps = served || s->worker_count == 0 ? service : -1;
    f->busy_ratio = busy_known ? busy / (double)busy_known : -1;
    f->lag_frames = x->lag_frames;
    f->lag_seconds = lag_seconds(x->lag_frames, f->service_fps);
    f->workers = s->figs;
    f->worker_count = s->worker_count;
}

int ride_measure_stage_update(ride_measure_stage *s, const ride_measure_sample *x)
{
    int rc = fold_offsets(s, x);
    if (rc == 0)
        rc = fold_workers(s, x);
    if (rc) {
        s->fig = (ride_measure_figures){-1, -1, -1, -1, -1, NULL, 0};
        return -1;
    }
    stage_figures(s, x);
    return 0;
}

ride_measure_figures ride_measure_stage_figures(const ride_measure_stage *s)
{
    return s->fig;
}
