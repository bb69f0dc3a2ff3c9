/* worker stall: a worker whose processing thread is stuck in a task that never
 * returns (the block plugin, tests/data/plugins/block) reports itself stalled in
 * its heartbeat within worker.stall_timeout_ms, and exits; the master fails its
 * partitions over to the spare, saying why, and the spare (which runs the same
 * task normally) carries on from the committed offsets: no frame is lost. And
 * SIGTERM ends a worker whose processing thread is stuck, within the timeout. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ride_harness_cluster.h"
#include "base/clock.h"
#include "cluster/cluster.h"

#define STREAMS 2
#define PARTITIONS 2
#define STALL_TIMEOUT_MS 2000
#define WAIT_MS 30000
/* From the stuck call to the exit: the timeout, a quarter of it for the watchdog's
 * look, two heartbeat intervals (500 ms) for the master to read the report, and
 * slack for a loaded machine. */
#define STALL_EXIT_MS (STALL_TIMEOUT_MS + STALL_TIMEOUT_MS / 4 + 1000 + 4000)

/* One stage "hold" running the block task, one active worker and one spare. */
static const char MANIFEST[] = "apiVersion: ride/v1\n"
                               "kind: Application\n"
                               "metadata: {name: stall}\n"
                               "spec:\n"
                               "  sources:\n"
                               "    - {name: cam0, uri: \"synthetic:160x120@20\"}\n"
                               "    - {name: cam1, uri: \"synthetic:160x120@20\"}\n"
                               "  stages:\n"
                               "    - name: hold\n"
                               "      input: [cam0, cam1]\n"
                               "      task: block\n"
                               "      partitions: 2\n"
                               "      workers: {min: 1, max: 1, spares: 1}\n"
                               "  sink: {type: kafka, stage: hold}\n";

/* A worker with the block plugin and the test's stall timeout; block_after >= 0
 * makes its task block forever after that many frames. Its log: <dir>/<id>.log. */
static ride_proc *block_worker(ride_cluster_fx *fx, const char *id, int block_after)
{
    char config[700], yaml[1024], log[700], env[64];
    snprintf(config, sizeof config, "%s/%s.yaml", fx->dir, id);
    snprintf(yaml, sizeof yaml,
             "zookeeper:\n  connect: \"%s\"\nmetrics:\n  listen: \"127.0.0.1:0\"\n"
             "worker:\n  threads: 1\n  plugin_dirs: [\"%s\"]\n  stall_timeout_ms: %d\n",
             fx->connect, RIDE_TEST_BLOCK_PLUGIN_DIR, STALL_TIMEOUT_MS);
    assert_int_equal(ride_harness_write_file(config, yaml), 0);
    snprintf(log, sizeof log, "%s/%s.log", fx->dir, id);
    snprintf(env, sizeof env, "RIDE_TEST_BLOCK_AFTER=%d", block_after);
    const char *const envp[] = {env, NULL};
    const char *argv[] = {RIDE_BIN_DIR "/ride-worker", "--config", config, "--id", id, NULL};
    ride_proc *p = ride_harness_spawn(argv, block_after >= 0 ? envp : NULL, log);
    assert_non_null(p);
    return p;
}

/* The master accepts the block task once its picture of the members lists a
 * worker advertising it: a pass after the registration. */
static bool applied(void *ctx)
{
    return ride_cluster_fx_apply(ctx, MANIFEST, NULL) == 201;
}

static void apply_app(ride_cluster_fx *fx)
{
    if (!ride_harness_wait_until(applied, fx, WAIT_MS))
        ride_cluster_fx_fail(fx, "the master never accepted the block task");
    ride_cluster_fx_wait_owned(fx, "stall", WAIT_MS);
}

typedef struct log_probe {
    const ride_cluster_fx *fx;
    const char *id;
    const char *text;
} log_probe;

/* The exit status of p within timeout_ms, -1 when it did not exit by itself. */
static int exit_status(ride_proc *p, int timeout_ms)
{
    int status = ride_harness_proc_wait(p, timeout_ms);
    return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool log_has(void *ctx)
{
    log_probe *lp = ctx;
    char path[700];
    snprintf(path, sizeof path, "%s/%s.log", lp->fx->dir, lp->id);
    char *log = ride_harness_read_file(path, NULL);
    bool found = log && strstr(log, lp->text);
    free(log);
    return found;
}

static void wait_log(ride_cluster_fx *fx, const char *id, const char *text, int timeout_ms)
{
    log_probe lp = {fx, id, text};
    if (!ride_harness_wait_until(log_has, &lp, timeout_ms))
        ride_cluster_fx_fail(fx, "%s did not log \"%s\" within %d ms", id, text, timeout_ms);
}

/* Whether the id is among the stage's spares in GET /v1/apps/stall. */
static bool is_spare(void *ctx)
{
    ride_cluster_fx *fx = ctx;
    json_t *j = ride_cluster_fx_get(fx, "/v1/apps/stall");
    bool found = false;
    size_t i, k;
    json_t *s, *id;
    json_array_foreach(json_object_get(j, "stages"), i, s)
    {
        json_array_foreach(json_object_get(s, "spare"), k, id)
        {
            found = found || strcmp(json_string_value(id), "b") == 0;
        }
    }
    json_decref(j);
    return found;
}

/* The stalled_ms of a's heartbeat node (which outlives its session), 0 when none. */
static int64_t heartbeat_stalled_ms(ride_cluster_fx *fx)
{
    char *data = NULL;
    size_t len = 0;
    int32_t version;
    if (ride_zk_get(fx->zk, "/heartbeats/a", &data, &len, &version) != RIDE_ZK_OK)
        return 0;
    ride_cluster_heartbeat hb;
    char err[256];
    int64_t stalled = 0;
    if (ride_cluster_heartbeat_decode("/heartbeats/a", data, len, &hb, err, sizeof err) == 0) {
        stalled = hb.stalled_ms;
        ride_cluster_heartbeat_free(&hb);
    }
    free(data);
    return stalled;
}

static bool b_owns_all(void *ctx)
{
    ride_cluster_fx *fx = ctx;
    char owner[130];
    for (int p = 0; p < PARTITIONS; p++) {
        const char *o = ride_cluster_fx_owner(fx, "stall", "hold", p, owner, sizeof owner);
        if (!o || strcmp(o, "b") != 0)
            return false;
    }
    return true;
}

/* An event of this type about member whose message contains text. */
static bool has_event(ride_cluster_fx *fx, const char *type, const char *member,
                      const char *text)
{
    json_t *j = ride_cluster_fx_get(fx, "/v1/events?limit=1000");
    bool found = false;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "events"), i, e)
    {
        const char *t = json_string_value(json_object_get(e, "type"));
        const char *m = json_string_value(json_object_get(e, "member"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        found = found || (t && m && msg && strcmp(t, type) == 0 && strcmp(m, member) == 0 &&
                          strstr(msg, text));
    }
    json_decref(j);
    return found;
}

static void test_stalled_worker_fails_over(void **state)
{
    (void)state;
    ride_cluster_fx *fx = ride_cluster_fx_new("stall");
    ride_cluster_fx_master(fx, "m1", false);
    ride_cluster_fx_wait_api(fx, NULL, WAIT_MS);
    /* a joins first and gets both partitions; b joins after them, as the spare. */
    ride_proc *a = block_worker(fx, "a", 40);
    ride_cluster_fx_wait_members(fx, true, 1, WAIT_MS);
    apply_app(fx);
    ride_proc *b = block_worker(fx, "b", -1);
    ride_cluster_fx_wait_members(fx, true, 2, WAIT_MS);
    if (!ride_harness_wait_until(is_spare, fx, WAIT_MS))
        ride_cluster_fx_fail(fx, "b did not become the stage's spare");

    ride_audit_reader *r = ride_cluster_fx_reader(fx, "stall.hold.out", NULL, NULL);
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    ride_cluster_fx_wait_sink(fx, r, 20, WAIT_MS);

    /* a's task blocks after 40 frames: reported, in the log and the heartbeat. */
    wait_log(fx, "a", "block: blocking forever", WAIT_MS);
    int64_t blocked_ns = ride_clock_mono_ns();
    wait_log(fx, "a", "event=worker_stalled", STALL_EXIT_MS);
    int exit_code = exit_status(a, STALL_EXIT_MS);
    double exit_s = (double)(ride_clock_mono_ns() - blocked_ns) / 1e9;
    printf("stall_to_exit_seconds=%.3f (timeout %d ms)\n", exit_s, STALL_TIMEOUT_MS);
    if (exit_code != 1)
        ride_cluster_fx_fail(fx, "a exited with %d after its stall, expected 1", exit_code);
    assert_true(exit_s * 1000.0 >= STALL_TIMEOUT_MS);
    assert_true(heartbeat_stalled_ms(fx) >= STALL_TIMEOUT_MS);

    /* The spare takes over, and the master says why. */
    if (!ride_harness_wait_until(b_owns_all, fx, WAIT_MS))
        ride_cluster_fx_fail(fx, "b does not own every partition after a's stall");
    if (!has_event(fx, "worker_failed", "a", "stalled"))
        ride_cluster_fx_fail(fx, "no worker_failed event saying a stalled");
    if (!has_event(fx, "partition_failover", "b", "from a (stalled)"))
        ride_cluster_fx_fail(fx, "no partition_failover event from a (stalled)");

    /* Frames flow again, and none is missing. */
    ride_cluster_fx_wait_sink(fx, r, 40, WAIT_MS);
    uint64_t duplicates = ride_cluster_fx_finish(fx, r, producer, "p1", STREAMS, WAIT_MS);
    printf("duplicates_after_stall=%" PRIu64 "\n", duplicates);
    ride_harness_proc_stop(b, 10000);
}

/* SIGTERM while the task is stuck: the worker waits for the processing thread up to
 * the stall timeout, then exits without it (status 1). */
static void test_sigterm_ends_stuck_worker(void **state)
{
    (void)state;
    ride_cluster_fx *fx = ride_cluster_fx_new("stallterm");
    ride_cluster_fx_master(fx, "m1", false);
    ride_cluster_fx_wait_api(fx, NULL, WAIT_MS);
    ride_proc *a = block_worker(fx, "a", 0);
    ride_cluster_fx_wait_members(fx, true, 1, WAIT_MS);
    apply_app(fx);
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    wait_log(fx, "a", "block: blocking forever", WAIT_MS);

    int64_t term_ns = ride_clock_mono_ns();
    assert_int_equal(ride_harness_proc_signal(a, SIGTERM), 0);
    int exit_code = exit_status(a, STALL_EXIT_MS);
    double exit_s = (double)(ride_clock_mono_ns() - term_ns) / 1e9;
    printf("sigterm_to_exit_seconds=%.3f (timeout %d ms)\n", exit_s, STALL_TIMEOUT_MS);
    if (exit_code != 1)
        ride_cluster_fx_fail(fx, "a exited with %d after SIGTERM while stuck, expected 1",
                             exit_code);
    wait_log(fx, "a", "event=processing_abandoned", 1000);
    ride_harness_proc_stop(producer, 10000);
    ride_cluster_fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stalled_worker_fails_over),
        cmocka_unit_test(test_sigterm_ends_stuck_worker),
    };
    return cmocka_run_group_tests(tests, ride_harness_zk_group_setup,
                                  ride_harness_zk_group_teardown);
}
