/* failover: SIGKILL of active workers while spares wait. The spares take the dead
 * workers' partitions and resume at their committed offsets: no frame is lost
 * (duplicates are counted and printed). Prints recovery_seconds, from the kill to
 * the last of the moved partitions' first new commits (every stage): the leader
 * sees each killed process's liveness connection close at once (docs/master.md,
 * Liveness), so recovery does not wait for the 2 s heartbeat timeout. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ride_harness_cluster.h"
#include "cluster/cluster.h"
#include "kafka/kafka.h"

#define STREAMS 2
#define PARTITIONS 6
#define STAGES 2
#define WORKERS_MAX 5
#define WAIT_MS 30000
/* Measured 0.1 to 0.35 s on the 2-core machine, once 1.19 s with two test suites
 * running beside it; the limit stays below the 2 s heartbeat timeout, so only the
 * liveness connection can meet it. */
#define RECOVERY_LIMIT_S 1.5

static const char *const STAGE_NAMES[STAGES] = {"gray", "sd"};
static const char *const IDS[WORKERS_MAX] = {"w1", "w2", "w3", "w4", "w5"};

/* The ids in one stage's "active" or "spare" list of GET /v1/apps/<app>. */
static size_t stage_members(ride_cluster_fx *fx, const char *app, const char *stage,
                            const char *role, char ids[][130], size_t cap)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/apps/%s", app);
    json_t *j = ride_cluster_fx_get(fx, path);
    size_t i, n = 0;
    json_t *s;
    json_array_foreach(json_object_get(j, "stages"), i, s)
    {
        if (strcmp(json_string_value(json_object_get(s, "name")), stage) != 0)
            continue;
        size_t k;
        json_t *id;
        json_array_foreach(json_object_get(s, role), k, id)
        {
            if (n < cap)
                snprintf(ids[n++], 130, "%s", json_string_value(id));
        }
    }
    json_decref(j);
    return n;
}

/* One stage as the failover sees it: its spares and how many of its active
 * workers were killed, which partitions moved, the group's committed offsets at
 * the kill, and which moved ones were committed again since. */
typedef struct stage_watch {
    char spare[WORKERS_MAX][130];
    size_t spare_count;
    size_t lost_active;
    char topic[128];
    ride_kafka_consumer *c;
    bool victim[PARTITIONS];
    int64_t at_kill[PARTITIONS];
    bool recovered[PARTITIONS];
} stage_watch;

typedef struct failover_run {
    ride_cluster_fx *fx;
    const char *app;
    stage_watch stages[STAGES];
    int64_t kill_ns;
    int64_t last_ns; /* the last moved partition's first new commit */
} failover_run;

static void committed(ride_cluster_fx *fx, stage_watch *sw, int64_t *out)
{
    ride_kafka_tp tps[PARTITIONS];
    char err[256];
    for (int p = 0; p < PARTITIONS; p++)
        tps[p] = (ride_kafka_tp){sw->topic, p, RIDE_KAFKA_OFFSET_NONE};
    if (ride_kafka_committed(sw->c, tps, PARTITIONS, 5000, err, sizeof err))
        ride_cluster_fx_fail(fx, "committed offsets of %s: %s", sw->topic, err);
    for (int p = 0; p < PARTITIONS; p++)
        out[p] = tps[p].offset;
}

/* A consumer in the stage's own group (its input topic's name), to read the
 * group's committed offsets. */
static ride_kafka_consumer *group_reader(ride_cluster_fx *fx, const char *group)
{
    ride_parse_error perr;
    char err[256];
    rd_kafka_conf_t *conf =
        ride_kafka_conf_new(RIDE_KAFKA_CONSUMER, fx->bootstrap, true, NULL, 0, NULL, &perr);
    ride_kafka_consumer *c = conf ? ride_kafka_consumer_new(conf, group, err, sizeof err) : NULL;
    assert_non_null(c);
    return c;
}

static bool is_victim(const char *owner, char victims[][130], size_t n)
{
    for (size_t v = 0; v < n; v++)
        if (strcmp(owner, victims[v]) == 0)
            return true;
    return false;
}

static void watch_stages(failover_run *run, char victims[][130], size_t n)
{
    char owner[130], active[WORKERS_MAX][130];
    for (int s = 0; s < STAGES; s++) {
        stage_watch *sw = &run->stages[s];
        size_t actives =
            stage_members(run->fx, run->app, STAGE_NAMES[s], "active", active, WORKERS_MAX);
        for (size_t a = 0; a < actives; a++)
            sw->lost_active += is_victim(active[a], victims, n);
        sw->spare_count =
            stage_members(run->fx, run->app, STAGE_NAMES[s], "spare", sw->spare, WORKERS_MAX);
        snprintf(sw->topic, sizeof sw->topic, "ride.%s.%s", run->app, STAGE_NAMES[s]);
        sw->c = group_reader(run->fx, sw->topic);
        for (int p = 0; p < PARTITIONS; p++)
            sw->victim[p] = is_victim(ride_cluster_fx_owner(run->fx, run->app, STAGE_NAMES[s],
                                                            p, owner, sizeof owner),
                                      victims, n);
    }
}

/* Records each moved partition's first commit past its offset at the kill; true
 * once every moved partition has one. */
static bool all_recovered(void *ctx)
{
    failover_run *run = ctx;
    bool all = true;
    for (int s = 0; s < STAGES; s++) {
        stage_watch *sw = &run->stages[s];
        int64_t now[PARTITIONS];
        committed(run->fx, sw, now);
        int64_t t = ride_clock_mono_ns();
        for (int p = 0; p < PARTITIONS; p++) {
            if (sw->victim[p] && !sw->recovered[p] && now[p] > sw->at_kill[p]) {
                sw->recovered[p] = true;
                run->last_ns = t;
            }
            all = all && (!sw->victim[p] || sw->recovered[p]);
        }
    }
    return all;
}

/* SIGKILLs the victims at once and waits until every partition they owned is
 * committed again; returns the seconds from the kill to the last of those commits. */
static double kill_and_recover(failover_run *run, ride_proc **workers, char victims[][130],
                               size_t n)
{
    watch_stages(run, victims, n);
    run->kill_ns = ride_clock_mono_ns();
    for (size_t v = 0; v < n; v++)
        for (int k = 0; k < WORKERS_MAX; k++)
            if (strcmp(IDS[k], victims[v]) == 0)
                assert_int_equal(ride_harness_proc_signal(workers[k], SIGKILL), 0);
    for (int s = 0; s < STAGES; s++)
        committed(run->fx, &run->stages[s], run->stages[s].at_kill);
    if (!ride_harness_wait_until(all_recovered, run, WAIT_MS))
        ride_cluster_fx_fail(run->fx, "a partition of %s was not committed again after its death",
                             victims[0]);
    for (int s = 0; s < STAGES; s++)
        ride_kafka_consumer_free(run->stages[s].c);
    return (double)(run->last_ns - run->kill_ns) / 1e9;
}

/* In every stage, each moved partition now belongs to one of the stage's spares,
 * and as many spares took over as the stage lost active workers (or it has spares). */
static void assert_spares_took_over(failover_run *run)
{
    char owner[130];
    for (int s = 0; s < STAGES; s++) {
        stage_watch *sw = &run->stages[s];
        bool took[WORKERS_MAX] = {false};
        size_t used = 0;
        for (int p = 0; p < PARTITIONS; p++) {
            if (!sw->victim[p])
                continue;
            ride_cluster_fx_owner(run->fx, run->app, STAGE_NAMES[s], p, owner, sizeof owner);
            size_t k = 0;
            while (k < sw->spare_count && strcmp(owner, sw->spare[k]) != 0)
                k++;
            if (k == sw->spare_count)
                ride_cluster_fx_fail(run->fx, "%s partition %d went to %s, not a spare",
                                     STAGE_NAMES[s], p, owner);
            used += !took[k];
            took[k] = true;
        }
        size_t want = sw->lost_active < sw->spare_count ? sw->lost_active : sw->spare_count;
        if (used != want)
            ride_cluster_fx_fail(run->fx, "%s lost %zu active workers but %zu spares took over",
                                 STAGE_NAMES[s], sw->lost_active, used);
    }
}

/* Runs app on `workers` workers, kills `kills` of gray's active workers at once
 * and checks the spares' takeover, the recovery time and the sink. */
static void run_failover(const char *name, const ride_cluster_app *app, int workers,
                         size_t kills)
{
    ride_proc *procs[WORKERS_MAX];
    ride_cluster_fx *fx = ride_cluster_fx_start(name, workers, procs, WAIT_MS);
    ride_cluster_fx_run_app(fx, app, WAIT_MS);

    char active[WORKERS_MAX][130], spare[WORKERS_MAX][130];
    assert_int_equal(stage_members(fx, app->name, "gray", "active", active, WORKERS_MAX),
                     app->max_workers);
    assert_int_equal(stage_members(fx, app->name, "gray", "spare", spare, WORKERS_MAX),
                     (size_t)app->spares);
    char sink[128];
    snprintf(sink, sizeof sink, "%s.sd.out", app->name);
    ride_audit_reader *r = ride_cluster_fx_reader(fx, sink, NULL, NULL);
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    ride_cluster_fx_wait_sink(fx, r, 100, WAIT_MS);

    failover_run run = {.fx = fx, .app = app->name};
    double recovery = kill_and_recover(&run, procs, active, kills);
    printf("recovery_seconds=%.3f (%s: killed %zu of %d active, spares took over)\n",
           recovery, name, kills, app->max_workers);
    assert_spares_took_over(&run);

    ride_cluster_fx_wait_sink(fx, r, 100, WAIT_MS);
    if (recovery >= RECOVERY_LIMIT_S)
        ride_cluster_fx_fail(fx, "recovery took %.3f s, limit %.1f s", recovery,
                             RECOVERY_LIMIT_S);
    uint64_t duplicates = ride_cluster_fx_finish(fx, r, producer, "p1", STREAMS, WAIT_MS);
    printf("duplicates_after_failover=%" PRIu64 " (%s)\n", duplicates, name);
}

static void test_failover(void **state)
{
    (void)state;
    const ride_cluster_app app = {.name = "fail", .fps = 40, .partitions = PARTITIONS,
                                  .max_workers = 3, .spares = 1, .stddev = true};
    run_failover("failover", &app, 4, 1);
}

/* RIDE's Fig. 13: three active workers and two spares, two actives killed at once. */
static void test_failover_two(void **state)
{
    (void)state;
    const ride_cluster_app app = {.name = "fail2", .fps = 40, .partitions = PARTITIONS,
                                  .max_workers = 3, .spares = 2, .stddev = true};
    run_failover("failover_two", &app, 5, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover),
        cmocka_unit_test(test_failover_two),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup,
                                  ride_harness_zk_group_teardown);
}
