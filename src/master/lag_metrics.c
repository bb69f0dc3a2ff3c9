/* lag_metrics.c - every stage partition's Kafka offsets and lags on the master's /metrics,
 * read at scrape time from the offsets thread's snapshot (lag.c). Only the leader
 * knows the applications and runs the refreshes, so a standby exports no children. */
#include <stdio.h>

#include "master.h"

static void set_gauge(ride_metric_family *fam, const char *const *labels, size_t n, int64_t v)
{
    if (v >= 0)
        ride_gauge_set(ride_gauge_get(fam, labels, n), (double)v);
}

/* *sum plus v where v is known; -1 while nothing is known. */
static void add_known(int64_t *sum, int64_t v)
{
    if (v >= 0)
        *sum = (*sum < 0 ? 0 : *sum) + v;
}

static void collect_stage(const ride_master_lag_families *f, ride_master_lag *l, const ride_master_app *a,
                          const ride_master_stage *s)
{
    int64_t frames = -1, messages = -1;
    for (int p = 0; p < s->st->partitions; p++) {
        ride_master_figures fig =
            ride_master_lag_figures(l, a->name, s->st->name, p, s->messages_per_frame);
        char part[16];
        snprintf(part, sizeof part, "%d", p);
        const char *labels[] = {a->name, s->st->name, part};
        set_gauge(f->end, labels, 3, fig.end);
        set_gauge(f->committed, labels, 3, fig.committed);
        set_gauge(f->lag, labels, 3, fig.lag);
        set_gauge(f->lag_messages, labels, 3, fig.lag_messages);
        add_known(&frames, fig.lag);
        add_known(&messages, fig.lag_messages);
    }
    const char *labels[] = {a->name, s->st->name};
    set_gauge(f->stage_lag, labels, 2, frames);
    set_gauge(f->stage_lag_messages, labels, 2, messages);
    if (s->messages_per_frame > 0)
        ride_gauge_set(ride_gauge_get(f->per_frame, labels, 2), s->messages_per_frame);
}

/* Set on the family rendered first (families render sorted by name) and fills all
 * of them, so that one scrape reads each partition once and its log-end, committed
 * and lags agree. Runs on the loop thread, which owns the application records. */
static void collect_offsets(ride_metric_family *fam, void *ctx)
{
    (void)fam;
    ride_master *m = ctx;
    const ride_master_lag_families *f = &m->metrics.lag;
    ride_metric_family_clear(f->end);
    ride_metric_family_clear(f->committed);
    ride_metric_family_clear(f->lag);
    ride_metric_family_clear(f->lag_messages);
    ride_metric_family_clear(f->stage_lag);
    ride_metric_family_clear(f->stage_lag_messages);
    ride_metric_family_clear(f->per_frame);
    for (size_t i = 0; m->leading && i < m->app_count; i++)
        for (size_t s = 0; m->apps[i]->topics_ready && s < m->apps[i]->m.stage_count; s++)
            collect_stage(f, m->lag, m->apps[i], &m->apps[i]->stages[s]);
}

int ride_master_lag_metrics_init(ride_master *m, char *err, size_t errlen)
{
    static const char *const part_labels[] = {"app", "stage", "partition"};
    ride_metrics *reg = m->metrics.reg;
    ride_metric_family *committed = ride_metrics_gauge(
        reg, "ride_partition_committed_offset",
        "Offset committed by the stage's consumer group on its input partition, read from Kafka",
        part_labels, 3, err, errlen);
    ride_metric_family *end = ride_metrics_gauge(
        reg, "ride_partition_log_end_offset",
        "Log-end offset of the stage's input partition, read from Kafka", part_labels, 3, err,
        errlen);
    ride_metric_family *lag_messages = ride_metrics_gauge(
        reg, "ride_partition_lag_messages",
        "Kafka messages of the stage's input partition not yet committed (log-end minus "
        "committed, or minus log start before the first commit)",
        part_labels, 3, err, errlen);
    ride_metric_family *lag = ride_metrics_gauge(
        reg, "ride_partition_lag_frames",
        "Frames of the stage's input partition not yet committed: "
        "ride_partition_lag_messages divided by ride_stage_messages_per_frame",
        part_labels, 3, err, errlen);
    ride_metric_family *stage_lag = ride_metrics_gauge(
        reg, "ride_stage_lag_frames",
        "Sum of ride_partition_lag_frames over the stage's input partitions", part_labels, 2,
        err, errlen);
    ride_metric_family *stage_lag_messages = ride_metrics_gauge(
        reg, "ride_stage_lag_messages",
        "Sum of ride_partition_lag_messages over the stage's input partitions", part_labels, 2,
        err, errlen);
    ride_metric_family *per_frame = ride_metrics_gauge(
        reg, "ride_stage_messages_per_frame",
        "Mean Kafka messages per frame that the writers of the stage's input topic report",
        part_labels, 2, err, errlen);
    if (!committed || !end || !lag || !lag_messages || !stage_lag || !stage_lag_messages ||
        !per_frame)
        return -1;
    m->metrics.lag = (ride_master_lag_families){
        .end = end, .committed = committed, .lag = lag, .lag_messages = lag_messages,
        .stage_lag = stage_lag, .stage_lag_messages = stage_lag_messages,
        .per_frame = per_frame};
    ride_metric_family_set_collect(committed, collect_offsets, m);
    return 0;
}
