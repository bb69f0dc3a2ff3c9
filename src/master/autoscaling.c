/* autoscaling.c - the leader's glue around autoscale.h: each tick, every stage with
 * workers.autoscale.enabled and no `ridectl scale` target gets a target from its
 * measures, the free pool and its last decision; the planner then sizes the group
 * to it on the next pass. The rule itself is all in autoscale.c. */
#include <string.h>

#include "master.h"
#include "reconcile.h"
#include "base/clock.h"

int ride_master_stage_target(const ride_master_stage *s)
{
    if (s->target > 0)
        return s->target;
    return s->st->workers.autoscale.enabled ? s->autoscale.target : 0;
}

static bool in_group(const ride_master_stage *s, const char *id)
{
    for (size_t i = 0; i < s->active_count; i++)
        if (strcmp(s->active[i], id) == 0)
            return true;
    for (size_t i = 0; i < s->spare_count; i++)
        if (strcmp(s->spare[i], id) == 0)
            return true;
    return false;
}

static bool in_any_group(const ride_master *m, const char *id)
{
    for (size_t i = 0; i < m->app_count; i++)
        for (size_t s = 0; ride_reconcile_app_active(m->apps[i]) && s < m->apps[i]->m.stage_count;
             s++)
            if (in_group(&m->apps[i]->stages[s], id))
                return true;
    return false;
}

/* The pool: live workers that are neither active nor spare in any stage group. */
static int free_pool(const ride_master *m)
{
    int n = 0;
    for (size_t i = 0; i < m->member_count; i++) {
        const ride_master_member *mb = &m->members[i];
        n += mb->is_worker && mb->alive && !in_any_group(m, mb->id);
    }
    return n;
}

/* The stage's figures for the rule: rates per worker are the means over the workers
 * whose rates are known. */
static ride_autoscale_figures stage_figures(const ride_master_stage *s)
{
    ride_measure_figures fig = ride_measure_stage_figures(s->measure);
    size_t known = 0;
    for (size_t w = 0; w < fig.worker_count; w++)
        known += fig.workers[w].service_fps >= 0;
    return (ride_autoscale_figures){
        .input_fps = fig.input_fps,
        .service_fps = known ? fig.service_fps / (double)known : -1,
        .busy_ratio = fig.busy_ratio,
        .lag_frames = fig.lag_frames,
    };
}

static ride_autoscale_settings stage_settings(const ride_stage *st)
{
    const ride_stage_autoscale *a = &st->workers.autoscale;
    int max = st->workers.max < st->partitions ? st->workers.max : st->partitions;
    return (ride_autoscale_settings){
        .min = st->workers.min < max ? st->workers.min : max,
        .max = max,
        .headroom = a->headroom,
        .drain_seconds = a->drain_seconds,
        .up_cooldown_ms = (int64_t)a->up_cooldown_s * 1000,
        .down_window_ms = (int64_t)a->down_window_s * 1000,
        .capacity_fps = a->capacity_fps,
    };
}

static void autoscale_stage(ride_master *m, const ride_master_app *a, ride_master_stage *s,
                            int pool, int64_t now_ms)
{
    ride_autoscale_settings st = stage_settings(s->st);
    ride_autoscale_figures f = stage_figures(s);
    ride_autoscale_decision d =
        ride_autoscale_decide(&st, &f, &s->autoscale, (int)s->active_count, pool, now_ms);
    if (d.changed)
        ride_master_event(m, "stage_autoscaled", a->name, s->st->name, -1, NULL, "%s",
                          d.reason);
    if (d.pool_exhausted != s->pool_exhausted)
        ride_master_event(m, d.pool_exhausted ? "stage_pool_exhausted" : "stage_pool_sufficient",
                          a->name, s->st->name, -1, NULL, "%s", d.reason);
    s->pool_exhausted = d.pool_exhausted;
}

void ride_master_autoscale_stages(ride_master *m)
{
    int pool = free_pool(m);
    int64_t now_ms = ride_clock_mono_ms();
    for (size_t i = 0; i < m->app_count; i++) {
        ride_master_app *a = m->apps[i];
        for (size_t s = 0; ride_reconcile_app_active(a) && s < a->m.stage_count; s++) {
            ride_master_stage *st = &a->stages[s];
            if (st->st->workers.autoscale.enabled && st->target == 0 && st->measure)
                autoscale_stage(m, a, st, pool, now_ms);
        }
    }
}
