/* autoscale.c - the autoscaler's decision rule (autoscale.h): the workers a stage
 * needs from its input rate, lag and per-worker capacity, reached quickly upwards
 * and slowly downwards. What a reader must know: every call either keeps the
 * target or moves it by a rule named in the reason, and the state it updates is
 * all that carries over between ticks. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "autoscale.h"

static int clamp_size(const ride_autoscale_settings *st, int n)
{
    int lo = st->min > 1 ? st->min : 1;
    if (n > st->max)
        n = st->max;
    return n < lo ? lo : n;
}

/* The frames/s one worker can process, and where the figure comes from; 0 when
 * nothing tells. A worker busy a fraction b of its time at s frames/s could do s / b. */
static double worker_capacity(const ride_autoscale_settings *st, const ride_autoscale_figures *f,
                              ride_autoscale_state *state, const char **source)
{
    if (f->service_fps > 0 && f->busy_ratio >= RIDE_AUTOSCALE_BUSY_MIN) {
        state->capacity_fps = f->service_fps / (f->busy_ratio < 1 ? f->busy_ratio : 1);
        *source = "measured";
        return state->capacity_fps;
    }
    if (state->capacity_fps > 0) {
        *source = "last measured";
        return state->capacity_fps;
    }
    *source = "declared";
    return st->capacity_fps > 0 ? st->capacity_fps : 0;
}

/* What is unknown among the figures, or NULL when all needed are known. */
static const char *unknown_figure(const ride_autoscale_figures *f, double capacity)
{
    if (f->input_fps < 0)
        return "input rate unknown";
    if (f->lag_frames < 0)
        return "lag unknown";
    if (capacity <= 0)
        return "per-worker capacity unknown (no worker busy enough, none declared)";
    return NULL;
}

static void append(ride_autoscale_decision *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void append(ride_autoscale_decision *d, const char *fmt, ...)
{
    size_t used = strlen(d->reason);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason + used, sizeof d->reason - used, fmt, ap);
    va_end(ap);
}

static void set_target(ride_autoscale_state *state, ride_autoscale_decision *d, int target,
                       int64_t now_ms)
{
    append(d, "%d -> %d worker(s)", state->target, target);
    state->target = target;
    state->changed_ms = now_ms;
    d->changed = true;
}

/* needed > target: at once up to what the group and the pool hold, once per cooldown. */
static void decide_up(const ride_autoscale_settings *st, ride_autoscale_state *state,
                      ride_autoscale_decision *d, int available, int64_t now_ms)
{
    int reach = d->needed < available ? d->needed : available;
    if (reach <= state->target) {
        append(d, "pool empty: %d wanted, %d to be had; ", d->needed, available);
        append(d, "holding %d worker(s)", state->target);
        return;
    }
    if (d->pool_exhausted)
        append(d, "pool empty: %d wanted, %d to be had; ", d->needed, available);
    if (now_ms - state->changed_ms < st->up_cooldown_ms) {
        append(d, "up cooldown (%.0f s left): holding %d worker(s)",
               (double)(st->up_cooldown_ms - (now_ms - state->changed_ms)) / 1000.0,
               state->target);
        return;
    }
    set_target(state, d, reach, now_ms);
}

/* needed < target: one worker fewer once lower has held a whole window since it
 * became lower and since the last change. */
static void decide_down(const ride_autoscale_settings *st, ride_autoscale_state *state,
                        ride_autoscale_decision *d, int64_t now_ms)
{
    if (!state->lower) {
        state->lower = true;
        state->lower_since_ms = now_ms;
    }
    int64_t since = state->lower_since_ms > state->changed_ms ? state->lower_since_ms
                                                              : state->changed_ms;
    if (now_ms - since < st->down_window_ms) {
        append(d, "lower for %.0f s of %.0f: holding %d worker(s)",
               (double)(now_ms - since) / 1000.0, (double)st->down_window_ms / 1000.0,
               state->target);
        return;
    }
    append(d, "lower for %.0f s: ", (double)(now_ms - since) / 1000.0);
    set_target(state, d, state->target - 1, now_ms);
}

ride_autoscale_decision ride_autoscale_decide(const ride_autoscale_settings *st,
                                              const ride_autoscale_figures *f,
                                              ride_autoscale_state *state, int current, int pool,
                                              int64_t now_ms)
{
    ride_autoscale_decision d = {0};
    if (state->target == 0) {
        state->target = clamp_size(st, current);
        state->changed_ms = now_ms - st->up_cooldown_ms;
        state->lower = false;
    }
    int was = state->target;
    if (clamp_size(st, was) != was) {
        append(&d, "outside [%d, %d]: ", st->min, st->max);
        set_target(state, &d, clamp_size(st, was), now_ms);
    }
    const char *source = "";
    double capacity = worker_capacity(st, f, state, &source);
    const char *unknown = unknown_figure(f, capacity);
    if (unknown) {
        state->lower = false;
        if (!d.changed)
            append(&d, "%s: holding %d worker(s)", unknown, state->target);
        d.target = state->target;
        return d;
    }
    double demand = f->input_fps * (1 + st->headroom) + (double)f->lag_frames / st->drain_seconds;
    d.needed = clamp_size(st, (int)ceil(demand / capacity - 1e-9));
    d.pool_exhausted = d.needed > current + pool;
    if (!d.changed) {
        append(&d, "input %.1f fps x %.2f + lag %lld frames / %.0f s = %.1f fps over %.1f fps "
                   "per worker (%s): %d needed; ",
               f->input_fps, 1 + st->headroom, (long long)f->lag_frames, st->drain_seconds,
               demand, capacity, source, d.needed);
        if (d.needed > state->target) {
            state->lower = false;
            decide_up(st, state, &d, current + pool, now_ms);
        } else if (d.needed < state->target) {
            decide_down(st, state, &d, now_ms);
        } else {
            state->lower = false;
            append(&d, "holding %d worker(s)", state->target);
        }
    }
    d.target = state->target;
    d.changed = d.target != was;
    return d;
}
