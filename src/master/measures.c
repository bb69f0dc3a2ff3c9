/* measures.c - the leader's glue around measure.h: each tick it samples every stage
 * from the offsets thread's snapshot and the live workers' last heartbeats, and
 * /metrics shows the figures. The arithmetic is all in measure.c. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "master.h"
#include "base/clock.h"
#include "base/log.h"

int64_t ride_master_stage_lag(ride_master *m, const ride_master_app *a,
                              const ride_master_stage *s)
{
    int64_t sum = -1;
    for (int p = 0; p < s->st->partitions; p++) {
        int64_t lag =
            ride_master_lag_figures(m->lag, a->name, s->st->name, p, s->messages_per_frame).lag;
        if (lag >= 0)
            sum = (sum < 0 ? 0 : sum) + lag;
    }
    return sum;
}

/* Room for one tick's sample of a stage. */
typedef struct sample_buf {
    int64_t *ends;
    ride_measure_worker_sample *workers;
    ride_measure_part *parts; /* every worker's, one after the other */
} sample_buf;

static void sample_buf_free(sample_buf *b)
{
    free(b->ends);
    free(b->workers);
    free(b->parts);
}

static bool in_stage(const ride_cluster_hb_partition *p, const char *app, const char *stage)
{
    return strcmp(p->app, app) == 0 && strcmp(p->stage, stage) == 0;
}

/* The live workers' heartbeat entries of the stage. */
static size_t stage_entries(ride_master *m, const char *app, const char *stage)
{
    size_t n = 0;
    for (size_t i = 0; i < m->member_count; i++) {
        const ride_master_member *mb = &m->members[i];
        for (size_t k = 0; mb->is_worker && mb->alive && mb->hb_known &&
                           k < mb->hb.partition_count;
             k++)
            n += in_stage(&mb->hb.partitions[k], app, stage);
    }
    return n;
}

/* Adds mb as a worker of the stage when its heartbeat lists a partition of it. */
static void add_worker(ride_measure_sample *x, sample_buf *b, size_t *used,
                       const ride_master_member *mb, const char *app, const char *stage)
{
    ride_measure_worker_sample *w = &b->workers[x->worker_count];
    *w = (ride_measure_worker_sample){mb->id, mb->hb_changed_ms, mb->hb.ts_ms, b->parts + *used,
                                      0, -1};
    for (size_t k = 0; k < mb->hb.partition_count; k++) {
        const ride_cluster_hb_partition *p = &mb->hb.partitions[k];
        if (!in_stage(p, app, stage))
            continue;
        b->parts[*used + w->part_count++] =
            (ride_measure_part){p->partition, p->epoch, p->frames_processed};
        if (p->busy_ms > w->busy_ms)
            w->busy_ms = p->busy_ms;
    }
    *used += w->part_count;
    x->worker_count += w->part_count > 0;
}

static int sample_stage(ride_master *m, const ride_master_app *a, const ride_master_stage *s,
                        sample_buf *b, ride_measure_sample *x)
{
    size_t parts = (size_t)s->st->partitions, entries = stage_entries(m, a->name, s->st->name);
    b->ends = malloc(parts * sizeof *b->ends);
    b->workers = malloc((m->member_count ? m->member_count : 1) * sizeof *b->workers);
    b->parts = malloc((entries ? entries : 1) * sizeof *b->parts);
    if (!b->ends || !b->workers || !b->parts)
        return -1;
    *x = (ride_measure_sample){ride_clock_mono_ms(), -1, b->ends, parts, s->messages_per_frame,
                               ride_master_stage_lag(m, a, s), b->workers, 0};
    for (size_t p = 0; p < parts; p++) {
        ride_master_offsets o;
        bool known = m->lag && ride_master_lag_get(m->lag, a->name, s->st->name, (int)p, &o);
        b->ends[p] = known ? o.end : -1;
        if (known && o.read_ms > x->offsets_ms)
            x->offsets_ms = o.read_ms;
    }
    size_t used = 0;
    for (size_t i = 0; i < m->member_count; i++) {
        const ride_master_member *mb = &m->members[i];
        if (mb->is_worker && mb->alive && mb->hb_known)
            add_worker(x, b, &used, mb, a->name, s->st->name);
    }
    return 0;
}

static void measure_stage(ride_master *m, const ride_master_app *a, ride_master_stage *s)
{
    if (!s->measure && !(s->measure = ride_measure_stage_new()))
        return;
    sample_buf b = {0};
    ride_measure_sample x;
    if (sample_stage(m, a, s, &b, &x) || ride_measure_stage_update(s->measure, &x))
        ride_log_warn("measure_failed", "app=%s stage=%s error=out_of_memory", a->name,
                      s->st->name);
    sample_buf_free(&b);
}

void ride_master_measure_stages(ride_master *m)
{
    for (size_t i = 0; i < m->app_count; i++)
        for (size_t s = 0; s < m->apps[i]->m.stage_count; s++)
            measure_stage(m, m->apps[i], &m->apps[i]->stages[s]);
}

/* ---- /metrics ---- */

static void set_known(ride_metric_family *fam, const char *const *labels, size_t n, double v)
{
    if (v >= 0)
        ride_gauge_set(ride_gauge_get(fam, labels, n), v);
}

static void collect_stage(const ride_master_measure_families *f, const ride_master_app *a,
                          const ride_master_stage *s)
{
    if (!s->measure)
        return;
    ride_measure_figures fig = ride_measure_stage_figures(s->measure);
    const char *labels[] = {a->name, s->st->name, NULL};
    set_known(f->input, labels, 2, fig.input_fps);
    set_known(f->lag_seconds, labels, 2, fig.lag_seconds); /* +Inf: never drains */
    if (s->st->workers.autoscale.enabled) {
        set_known(f->autoscale_target, labels, 2, ride_master_stage_target(s));
        set_known(f->autoscale_exhausted, labels, 2, s->pool_exhausted);
    }
    for (size_t w = 0; w < fig.worker_count; w++) {
        labels[2] = fig.workers[w].id;
        set_known(f->service, labels, 3, fig.workers[w].service_fps);
        set_known(f->busy, labels, 3, fig.workers[w].busy_ratio);
    }
}

/* Set on the family rendered first (by name) and fills all six from one tick's
 * figures. Runs on the loop thread, which owns the application records. */
static void collect_measures(ride_metric_family *fam, void *ctx)
{
    (void)fam;
    ride_master *m = ctx;
    const ride_master_measure_families *f = &m->metrics.measure;
    ride_metric_family_clear(f->input);
    ride_metric_family_clear(f->service);
    ride_metric_family_clear(f->busy);
    ride_metric_family_clear(f->lag_seconds);
    ride_metric_family_clear(f->autoscale_target);
    ride_metric_family_clear(f->autoscale_exhausted);
    for (size_t i = 0; m->leading && i < m->app_count; i++)
        for (size_t s = 0; s < m->apps[i]->m.stage_count; s++)
            collect_stage(f, m->apps[i], &m->apps[i]->stages[s]);
}

/* One gauge of the measures: labelled by app and stage, and by worker with 3 labels. */
typedef struct gauge_spec {
    const char *name;
    const char *help;
    size_t labels;
    size_t offset; /* of its pointer in ride_master_measure_families */
} gauge_spec;

#define FAMILY(field) offsetof(ride_master_measure_families, field)

static const gauge_spec measure_gauges[] = {
    {"ride_stage_input_frames_per_second",
     "Frames per second entering the stage's input topic over the last 5 s: the growth of "
     "its log-end offsets over ride_stage_messages_per_frame",
     2, FAMILY(input)},
    {"ride_stage_service_frames_per_second",
     "Frames per second the worker processed for the stage over the last 5 s, from its "
     "heartbeats",
     3, FAMILY(service)},
    {"ride_stage_busy_ratio",
     "Share of the worker's time spent working on the stage over the last 5 s (its "
     "processing thread's working steps plus its average CPU lane's), from its heartbeats",
     3, FAMILY(busy)},
    {"ride_stage_lag_seconds",
     "Seconds the stage's workers take to process its lag at their current rate: "
     "ride_stage_lag_frames over the summed ride_stage_service_frames_per_second; +Inf "
     "while frames wait and none is processed",
     2, FAMILY(lag_seconds)},
    {"ride_stage_autoscale_target_workers",
     "Active workers the stage is to have: its ridectl scale target, else the autoscaler's "
     "(stages with workers.autoscale.enabled only)",
     2, FAMILY(autoscale_target)},
    {"ride_stage_autoscale_pool_exhausted",
     "1 while the autoscaler wants more workers for the stage than its group and the free "
     "pool hold, else 0",
     2, FAMILY(autoscale_exhausted)},
};

int ride_master_measure_metrics_init(ride_master *m, char *err, size_t errlen)
{
    static const char *const labels[] = {"app", "stage", "worker"};
    ride_master_measure_families *f = &m->metrics.measure;
    for (size_t i = 0; i < sizeof measure_gauges / sizeof measure_gauges[0]; i++) {
        const gauge_spec *g = &measure_gauges[i];
        ride_metric_family **out = (ride_metric_family **)((char *)f + g->offset);
        if (!(*out = ride_metrics_gauge(m->metrics.reg, g->name, g->help, labels, g->labels, err,
                                        errlen)))
            return -1;
    }
    ride_metric_family_set_collect(f->autoscale_exhausted, collect_measures, m);
    return 0;
}
