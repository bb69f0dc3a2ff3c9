/* autoscale.h - the autoscaler's decision (docs/master.md, "Autoscaler"): from a
 * stage's figures, its settings and what it decided before, the number of active
 * workers the stage should have now, and why.
 *
 * Pure: no clock, no I/O; the time comes in as now_ms and the state is the caller's,
 * updated in place, so recorded traces test every rule. */
#ifndef RIDE_MASTER_AUTOSCALE_H
#define RIDE_MASTER_AUTOSCALE_H

#include <stdbool.h>
#include <stdint.h>

/* Below this busy fraction a worker's service rate says little about what it could
 * do: the capacity estimate service / busy is not taken from it. */
#define RIDE_AUTOSCALE_BUSY_MIN 0.1

typedef struct ride_autoscale_settings {
    int min, max;           /* the group size's bounds, 1 <= min <= max */
    double headroom;        /* capacity kept above the input rate: 0.2 = 20 % */
    double drain_seconds;   /* a backlog is to be processed within this time, > 0 */
    int64_t up_cooldown_ms; /* at most one increase per this time */
    int64_t down_window_ms; /* a lower target must hold this long before one step down */
    double capacity_fps;    /* declared frames/s one worker processes; <= 0: none */
} ride_autoscale_settings;

/* A stage's figures at one tick; < 0: unknown. */
typedef struct ride_autoscale_figures {
    double input_fps;   /* frames/s entering the stage */
    double service_fps; /* frames/s one worker processed (the mean over the workers) */
    double busy_ratio;  /* the share of its time a worker was busy (the mean) */
    int64_t lag_frames; /* frames waiting */
} ride_autoscale_figures;

/* What the caller keeps between ticks; zeroed: nothing decided yet. */
typedef struct ride_autoscale_state {
    int target;              /* 0: none yet, the first decision starts from the group */
    int64_t changed_ms;      /* when target last changed */
    bool lower;              /* a lower target has been justified since lower_since_ms */
    int64_t lower_since_ms;
    double capacity_fps;     /* the last per-worker capacity measured; 0: none */
} ride_autoscale_state;

typedef struct ride_autoscale_decision {
    int target;          /* the workers the stage should have */
    bool changed;        /* target differs from the state's before the call */
    int needed;          /* the workers the figures ask for, within [min, max]; 0: unknown */
    bool pool_exhausted; /* needed exceeds the group plus the free pool */
    char reason[256];    /* the rule that decided, with its figures */
} ride_autoscale_decision;

/* Decides the stage's target. current: its active workers now; pool: idle workers
 * in no group that it could draw. The target follows
 *   needed = ceil((input_fps * (1 + headroom) + lag_frames / drain_seconds) / capacity)
 * clamped to [min, max], and never above current + pool. It rises at once to what
 * is needed, at most once per up cooldown; it falls by one worker only when a lower
 * target has held for the whole down window since the last change and since it
 * became lower. Unknown figures change nothing. Updates *state. */
ride_autoscale_decision ride_autoscale_decide(const ride_autoscale_settings *settings,
                                              const ride_autoscale_figures *figures,
                                              ride_autoscale_state *state, int current, int pool,
                                              int64_t now_ms);

#endif
