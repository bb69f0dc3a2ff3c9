/* stage_measures: on a running cluster (master, one worker, a producer with two
 * sources at a known rate into one stage) the master's measures of the stage read
 * what runs: an input rate close to the sources' (GET /v1/stages and /metrics), a
 * service rate above 0 and a busy fraction in 0..1 for the worker, a lag in frames
 * >= 0; `ridectl top` and `ridectl describe app` print them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ride_harness_cluster.h"

#define RIDECTL RIDE_BIN_DIR "/ridectl"
#define WAIT_MS 45000
#define EXIT_MS 15000
#define FPS 10
#define SOURCES 2
/* The window is 5 s and the producer paces its frames: a third off is a wrong figure,
 * not jitter. */
#define INPUT_LOW (SOURCES * FPS * 0.65)
#define INPUT_HIGH (SOURCES * FPS * 1.35)

static const ride_cluster_app APP = {.name = "ms", .fps = FPS, .partitions = 2, .max_workers = 1};

static double number(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : -1;
}

/* The stage's entry in GET /v1/stages?app=ms (a new reference), or NULL. */
static json_t *stage_entry(ride_cluster_fx *fx)
{
    json_t *answer = ride_cluster_fx_get(fx, "/v1/stages?app=ms");
    const json_t *stages = json_object_get(answer, "stages");
    json_t *entry = json_array_size(stages) == 1 ? json_array_get(stages, 0) : NULL;
    if (entry && strcmp(json_string_value(json_object_get(entry, "stage")), "gray") == 0)
        json_incref(entry);
    else
        entry = NULL;
    json_decref(answer);
    return entry;
}

/* The stage's input rate is close to the sources', the worker serves it and reports
 * its busy fraction, and the lag is known. */
static bool measured(void *ctx)
{
    json_t *entry = stage_entry(ctx);
    const json_t *workers = json_object_get(entry, "workers");
    const json_t *w1 = json_array_size(workers) == 1 ? json_array_get(workers, 0) : NULL;
    double input = number(entry, "input_fps");
    bool ok = w1 && strcmp(json_string_value(json_object_get(w1, "worker")), "w1") == 0 &&
              input >= INPUT_LOW && input <= INPUT_HIGH && number(w1, "service_fps") > 0 &&
              number(w1, "busy_ratio") >= 0 && number(w1, "busy_ratio") <= 1 &&
              number(entry, "service_fps") > 0 &&
              json_is_integer(json_object_get(entry, "lag_frames")) &&
              json_integer_value(json_object_get(entry, "lag_frames")) >= 0;
    json_decref(entry);
    return ok;
}

/* The value of `name{labels}` in /metrics text, or -1 when absent. */
static double sample(const char *text, const char *name, const char *labels)
{
    char key[256];
    snprintf(key, sizeof key, "\n%s{%s} ", name, labels);
    const char *p = text ? strstr(text, key) : NULL;
    return p ? strtod(p + strlen(key), NULL) : -1;
}

static bool exported(void *ctx)
{
    char *text = ride_cluster_fx_scrape(ctx, "m1-0");
    double input = sample(text, "ride_stage_input_frames_per_second", "app=\"ms\",stage=\"gray\"");
    double service = sample(text, "ride_stage_service_frames_per_second",
                            "app=\"ms\",stage=\"gray\",worker=\"w1\"");
    double busy = sample(text, "ride_stage_busy_ratio", "app=\"ms\",stage=\"gray\",worker=\"w1\"");
    bool ok = input >= INPUT_LOW && input <= INPUT_HIGH && service > 0 && busy >= 0 && busy <= 1 &&
              sample(text, "ride_stage_lag_seconds", "app=\"ms\",stage=\"gray\"") >= 0;
    free(text);
    return ok;
}

static char *ridectl(ride_cluster_fx *fx, const char *name, const char *const *args)
{
    const char *argv[16] = {RIDECTL, "--server", fx->api};
    size_t n = 3;
    for (size_t i = 0; args[i] != NULL; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char *out = NULL;
    int code = ride_cluster_fx_run(fx, name, argv, &out, EXIT_MS);
    if (code != 0 || out == NULL)
        ride_cluster_fx_fail(fx, "ridectl %s: exit %d", args[0], code);
    return out;
}

/* The stage's row of ridectl top's first table: "ms   gray   2   1   <input>   ...". */
static void expect_top_row(ride_cluster_fx *fx, const char *out)
{
    const char *header = strstr(out, "APP   STAGE   PARTITIONS   WORKERS   INPUT/S   SERVICE/S");
    const char *row = header ? strstr(header, "\nms    gray    2            1         ") : NULL;
    if (!row) {
        fprintf(stderr, "%s", out);
        ride_cluster_fx_fail(fx, "ridectl top shows no row for stage gray");
    }
    double input = strtod(row + strlen("\nms    gray    2            1         "), NULL);
    if (input < INPUT_LOW || input > INPUT_HIGH)
        ride_cluster_fx_fail(fx, "ridectl top: input %.1f frames/s", input);
    if (!strstr(out, "\nms    gray    w1       2            "))
        ride_cluster_fx_fail(fx, "ridectl top shows no row for worker w1");
}

static void test_measures_on_a_cluster(void **state)
{
    (void)state;
    ride_cluster_fx *fx = ride_cluster_fx_start("measures", 1, NULL, WAIT_MS);
    ride_cluster_fx_run_app(fx, &APP, WAIT_MS);
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    assert_non_null(producer);
    if (!ride_harness_wait_until(measured, fx, WAIT_MS)) {
        json_t *entry = stage_entry(fx);
        char *text = entry ? json_dumps(entry, 0) : NULL;
        fprintf(stderr, "last /v1/stages entry: %s\n", text ? text : "(none)");
        free(text);
        json_decref(entry);
        ride_cluster_fx_fail(fx, "the master never measured stage gray as running");
    }
    if (!ride_harness_wait_until(exported, fx, WAIT_MS))
        ride_cluster_fx_fail(fx, "the master's /metrics lacks the stage's measures");

    char *out = ridectl(fx, "top", (const char *const[]){"top", "--app", "ms", "--iterations",
                                                         "1", NULL});
    expect_top_row(fx, out);
    free(out);
    out = ridectl(fx, "describe", (const char *const[]){"describe", "app", "ms", NULL});
    if (!strstr(out, "\n    Input:        ") || !strstr(out, "\n    Per worker:   w1: "))
        ride_cluster_fx_fail(fx, "ridectl describe app shows no measures:\n%s", out);
    free(out);
    ride_cluster_fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_measures_on_a_cluster),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup,
                                  ride_harness_zk_group_teardown);
}
