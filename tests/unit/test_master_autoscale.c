/* test_master_autoscale.c - the autoscaler's decision (src/master/autoscale.h) on
 * recorded rate and lag traces: a step up, a burst, a slow decline, flapping input,
 * unknown figures, clamping to [min, max] and an empty pool. */
#include "ride_test.h"

#include <string.h>

#include "autoscale.h"

/* min 1, max 4, 20 % headroom, drain within 30 s, 10 s up cooldown, 60 s down window. */
static ride_autoscale_settings settings(void)
{
    return (ride_autoscale_settings){1, 4, 0.2, 30.0, 10000, 60000, 0};
}

/* One worker busy all the time at 5 frames/s: a capacity of 5 frames/s. */
static ride_autoscale_figures load(double input_fps, int64_t lag)
{
    return (ride_autoscale_figures){input_fps, 5.0, 1.0, lag};
}

typedef struct run {
    ride_autoscale_settings st;
    ride_autoscale_state state;
    int64_t now_ms;
    int changes;
} run;

/* One tick `ms` after the previous, the whole group in place and a pool of `pool`. */
static ride_autoscale_decision tick(run *r, int64_t ms, ride_autoscale_figures f, int pool)
{
    r->now_ms += ms;
    int current = r->state.target ? r->state.target : 1;
    ride_autoscale_decision d = ride_autoscale_decide(&r->st, &f, &r->state, current, pool,
                                                      r->now_ms);
    r->changes += d.changed;
    assert_int_equal(d.target, r->state.target);
    return d;
}

static void test_step_up_is_at_once(void **state)
{
    (void)state;
    run r = {.st = settings()};
    ride_autoscale_decision d = tick(&r, 0, load(4, 0), 4);
    assert_int_equal(d.target, 1); /* 4.8 fps over 5 per worker */
    assert_false(d.changed);
    assert_non_null(strstr(d.reason, "holding 1 worker(s)"));
    d = tick(&r, 1000, load(4, 0), 4);
    assert_int_equal(d.target, 1);
    d = tick(&r, 1000, load(12, 0), 4);
    assert_int_equal(d.target, 3); /* 14.4 fps: straight to 3, not one at a time */
    assert_true(d.changed);
    assert_int_equal(d.needed, 3);
    assert_non_null(strstr(d.reason, "input 12.0 fps x 1.20"));
    assert_non_null(strstr(d.reason, "1 -> 3 worker(s)"));
}

static void test_burst_rises_then_falls_one_at_a_time(void **state)
{
    (void)state;
    run r = {.st = settings()};
    tick(&r, 0, load(4, 0), 4);
    /* 600 frames behind: 4.8 + 20 fps, 5 workers' worth, clamped to max 4. */
    ride_autoscale_decision d = tick(&r, 1000, load(4, 600), 4);
    assert_int_equal(d.target, 4);
    assert_non_null(strstr(d.reason, "lag 600 frames / 30 s"));
    int64_t up_at = r.now_ms;
    /* The lag drains at once; the group stays for the down window, then shrinks by one
     * worker per window. */
    int64_t last_change = up_at;
    for (int s = 0; s < 400; s++) {
        d = tick(&r, 1000, load(4, 0), 4);
        if (d.changed) {
            assert_true(r.now_ms - last_change >= 60000);
            last_change = r.now_ms;
        }
    }
    assert_int_equal(d.target, 1);
    assert_int_equal(r.changes, 4); /* up once, down 4 -> 3 -> 2 -> 1 */
}

static void test_up_cooldown(void **state)
{
    (void)state;
    run r = {.st = settings()};
    tick(&r, 0, load(4, 0), 4);
    assert_int_equal(tick(&r, 1000, load(8, 0), 4).target, 2);
    ride_autoscale_decision d = tick(&r, 1000, load(16, 0), 4);
    assert_int_equal(d.target, 2); /* 1 s after the last increase */
    assert_non_null(strstr(d.reason, "up cooldown"));
    d = tick(&r, 9000, load(16, 0), 4);
    assert_int_equal(d.target, 4);
}

static void test_slow_decline(void **state)
{
    (void)state;
    run r = {.st = settings()};
    tick(&r, 0, load(18, 0), 4);
    ride_autoscale_decision d = tick(&r, 1000, load(18, 0), 4);
    assert_int_equal(d.target, 4); /* 21.6 fps */
    int prev = d.target;
    int64_t last_change = r.now_ms;
    /* 18 -> 2 fps over 320 s, then flat. */
    for (int s = 1; s <= 600; s++) {
        double fps = s < 320 ? 18.0 - 16.0 * s / 320.0 : 2.0;
        d = tick(&r, 1000, load(fps, 0), 4);
        assert_true(d.target <= prev);
        if (d.changed) {
            assert_int_equal(d.target, prev - 1);
            assert_true(r.now_ms - last_change >= 60000);
            assert_true(d.target >= d.needed); /* never below what the input needs */
            last_change = r.now_ms;
        }
        prev = d.target;
    }
    assert_int_equal(d.target, 1);
}

static void test_flapping_input_never_flaps(void **state)
{
    (void)state;
    run r = {.st = settings()};
    ride_autoscale_decision d = tick(&r, 0, load(4, 0), 4);
    /* 4 and 12 fps alternating every 20 s for 10 minutes: the group grows to what the
     * peaks need and stays there. */
    for (int s = 0; s < 600; s++)
        d = tick(&r, 1000, load((s / 20) % 2 ? 12 : 4, 0), 4);
    assert_int_equal(d.target, 3);
    assert_int_equal(r.changes, 1);
}

static void test_unknown_figures_change_nothing(void **state)
{
    (void)state;
    run r = {.st = settings()};
    ride_autoscale_decision d = tick(&r, 0, (ride_autoscale_figures){-1, 0, 0, 0}, 4);
    assert_int_equal(d.target, 1);
    assert_false(d.changed);
    assert_int_equal(d.needed, 0);
    assert_non_null(strstr(d.reason, "input rate unknown"));
    d = tick(&r, 1000, (ride_autoscale_figures){20, 0, 0, -1}, 4);
    assert_false(d.changed);
    assert_non_null(strstr(d.reason, "lag unknown"));
    /* Nobody busy enough to tell, nothing declared or measured before. */
    d = tick(&r, 1000, (ride_autoscale_figures){20, 0.5, 0.05, 0}, 4);
    assert_false(d.changed);
    assert_non_null(strstr(d.reason, "capacity unknown"));
    /* A declared capacity serves until one is measured. */
    r.st.capacity_fps = 10;
    d = tick(&r, 1000, (ride_autoscale_figures){20, 0.5, 0.05, 0}, 4);
    assert_int_equal(d.target, 3); /* 24 fps over 10 */
    assert_non_null(strstr(d.reason, "(declared)"));
    /* Half busy at 4 fps: 8 fps per worker, kept once the workers idle. */
    d = tick(&r, 10000, (ride_autoscale_figures){20, 4, 0.5, 0}, 4);
    assert_int_equal(d.target, 3);
    assert_non_null(strstr(d.reason, "over 8.0 fps per worker (measured)"));
    d = tick(&r, 1000, (ride_autoscale_figures){30, 0, 0, 0}, 4);
    assert_int_equal(d.target, 4); /* 36 fps over the last measured 8 */
    assert_non_null(strstr(d.reason, "(last measured)"));
    /* Unknown input in the middle of a decline restarts the down window. */
    d = tick(&r, 59000, (ride_autoscale_figures){1, 0, 0, 0}, 4);
    d = tick(&r, 1000, load(-1, 0), 4);
    d = tick(&r, 1000, (ride_autoscale_figures){1, 0, 0, 0}, 4);
    d = tick(&r, 59000, (ride_autoscale_figures){1, 0, 0, 0}, 4);
    assert_int_equal(d.target, 4);
    d = tick(&r, 1000, (ride_autoscale_figures){1, 0, 0, 0}, 4);
    assert_int_equal(d.target, 3);
}

static void test_clamping(void **state)
{
    (void)state;
    run r = {.st = {2, 3, 0.2, 30.0, 10000, 60000, 0}};
    /* Nothing to do, one worker in the group: min 2 all the same. */
    ride_autoscale_decision d = tick(&r, 0, load(0, 0), 4);
    assert_int_equal(d.target, 2);
    assert_int_equal(d.needed, 2);
    d = tick(&r, 1000, load(100, 5000), 4);
    assert_int_equal(d.target, 3);
    assert_int_equal(d.needed, 3);
    assert_false(d.pool_exhausted);
    /* The manifest's max drops to 2: at once, whatever the cooldowns. */
    r.st.max = 2;
    d = tick(&r, 1000, load(100, 5000), 4);
    assert_int_equal(d.target, 2);
    assert_true(d.changed);
    assert_non_null(strstr(d.reason, "outside [2, 2]"));
}

static void test_empty_pool(void **state)
{
    (void)state;
    run r = {.st = settings()};
    ride_autoscale_decision d = tick(&r, 0, load(4, 0), 0);
    d = tick(&r, 1000, load(14, 0), 0);
    assert_int_equal(d.target, 1); /* 16.8 fps: 4 needed, nobody free */
    assert_false(d.changed);
    assert_int_equal(d.needed, 4);
    assert_true(d.pool_exhausted);
    assert_non_null(strstr(d.reason, "pool empty: 4 wanted, 1 to be had"));
    /* One worker frees up: taken at once, still short. */
    d = tick(&r, 1000, load(14, 0), 1);
    assert_int_equal(d.target, 2);
    assert_true(d.pool_exhausted);
    assert_non_null(strstr(d.reason, "pool empty"));
    /* Two more after the cooldown: enough. */
    d = tick(&r, 10000, load(14, 0), 2);
    assert_int_equal(d.target, 4);
    assert_false(d.pool_exhausted);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_up_is_at_once),
        cmocka_unit_test(test_burst_rises_then_falls_one_at_a_time),
        cmocka_unit_test(test_up_cooldown),
        cmocka_unit_test(test_slow_decline),
        cmocka_unit_test(test_flapping_input_never_flaps),
        cmocka_unit_test(test_unknown_figures_change_nothing),
        cmocka_unit_test(test_clamping),
        cmocka_unit_test(test_empty_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
