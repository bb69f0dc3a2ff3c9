/* realkafka exactly-once: the two-stage application (grayscale, then stddev) with
 * `delivery: exactly-once` on a real Kafka broker, two active workers and one
 * spare, while workers are SIGKILLed one after another (a replacement started
 * each time). Every partition's outputs and input offset are committed in one
 * transaction and a new owner's init_transactions fences and aborts the dead
 * one's, so the sink, read with read_committed, holds every frame the producer
 * delivered exactly once: 0 lost, 0 duplicates by sequence number.
 *
 * A zombie owner: a worker stopped with SIGSTOP (alive, silent) loses its
 * partitions to the others; continued, it may still hold an open transaction and
 * queued outputs, which the new owners' producers fenced: the sink still has
 * every frame once.
 *
 * A stale owner: a worker that applies an old assignment late registers a
 * partition's transactional.id after its rightful owner did, fencing it, then
 * lets the partition go. The rightful owner, still assigned the partition, takes
 * it back (event=partition_reclaimed) and the stream goes on, nothing twice. The
 * stale registration is made here with librdkafka, the same call a late worker
 * makes. */
#include <dirent.h>
#include <librdkafka/rdkafka.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "ride_harness_cluster.h"

#define STREAMS 2
#define WAIT_MS 30000
#define KILLS 5
#define WORKERS 3
/* Frames each stream must gain at the sink between kills: every kill lands
 * while frames flow, after the previous one's partitions moved. */
#define FRAMES_PER_ROUND 20

static const ride_cluster_app APP = {.name = "rkeos",
                                     .fps = 30,
                                     .partitions = 2,
                                     .max_workers = 2,
                                     .spares = 1,
                                     .stddev = true,
                                     .delivery = "exactly-once"};

/* The sink as a downstream reader of an exactly-once application reads it. */
static ride_audit_reader *committed_reader(ride_cluster_fx *fx, const char *topic)
{
    static const ride_kv read_committed[] = {
        {"isolation.level", "read_committed", {0, 0}, {0, 0}}};
    char err[512];
    ride_audit_options o = {.bootstrap = fx->bootstrap, .topic = topic,
                            .props = read_committed, .prop_count = 1};
    ride_audit_reader *r = ride_audit_reader_new(&o, err, sizeof err);
    if (!r)
        ride_cluster_fx_fail(fx, "reader on %s: %s", topic, err);
    return r;
}

typedef struct streams_probe {
    ride_audit_reader *r;
    uint64_t want[STREAMS];
} streams_probe;

static uint64_t stream_unique(ride_audit_reader *r, uint32_t stream)
{
    ride_seqtrack_stream st[STREAMS + 1];
    size_t n = ride_seqtrack_streams(ride_audit_reader_seqs(r), st, STREAMS + 1);
    for (size_t i = 0; i < n && i <= STREAMS; i++)
        if (st[i].stream == stream)
            return st[i].unique;
    return 0;
}

static bool every_stream_reached(void *ctx)
{
    streams_probe *sp = ctx;
    char err[256];
    ride_audit_reader_poll(sp->r, 50, 0, err, sizeof err);
    for (uint32_t s = 0; s < STREAMS; s++)
        if (stream_unique(sp->r, s) < sp->want[s])
            return false;
    return true;
}

/* Waits until every stream (each in its own partition) gained `more` frames at
 * the sink: the partitions of a killed worker run again somewhere. */
static void wait_every_stream(ride_cluster_fx *fx, ride_audit_reader *r, uint64_t more)
{
    streams_probe sp = {r, {0}};
    for (uint32_t s = 0; s < STREAMS; s++)
        sp.want[s] = stream_unique(r, s) + more;
    if (!ride_harness_wait_until(every_stream_reached, &sp, WAIT_MS))
        ride_cluster_fx_fail(fx, "a stream stopped below %" PRIu64 " frames at the sink",
                             sp.want[0]);
}

static void test_killed_workers_lose_and_repeat_nothing(void **state)
{
    (void)state;
    const char *bootstrap = ride_harness_kafka_bootstrap(ride_harness_kafka_shared());
    int64_t start_ms = ride_clock_mono_ms();
    ride_proc *workers[WORKERS + KILLS] = {0};
    ride_cluster_fx *fx = ride_cluster_fx_start_on("rkeos", bootstrap, NULL, WORKERS, workers,
                                                   WAIT_MS);
    ride_cluster_fx_run_app(fx, &APP, WAIT_MS);

    ride_audit_reader *r = committed_reader(fx, "rkeos.sd.out");
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    wait_every_stream(fx, r, FRAMES_PER_ROUND);

    /* Kills the oldest live worker each round (the spare and the replacements
     * take over in turn), then waits until every partition has an owner again
     * and the sink moved on. */
    for (int k = 0; k < KILLS; k++) {
        ride_proc *victim = workers[k];
        assert_int_equal(ride_harness_proc_signal(victim, SIGKILL), 0);
        ride_harness_proc_wait(victim, WAIT_MS);
        char id[16];
        snprintf(id, sizeof id, "w%d", WORKERS + k + 1);
        workers[WORKERS + k] = ride_cluster_fx_worker(fx, id);
        ride_cluster_fx_wait_members(fx, true, WORKERS, WAIT_MS);
        ride_cluster_fx_wait_owned(fx, APP.name, WAIT_MS);
        wait_every_stream(fx, r, FRAMES_PER_ROUND);
    }

    ride_seqtrack_stream total;
    ride_seqtrack_totals(ride_audit_reader_seqs(r), &total);
    uint64_t duplicates = ride_cluster_fx_finish(fx, r, producer, "p1", STREAMS, WAIT_MS);
    printf("kills=%d frames_at_sink>=%" PRIu64 " duplicates=%" PRIu64 " seconds=%.1f\n", KILLS,
           total.unique, duplicates, (double)(ride_clock_mono_ms() - start_ms) / 1e3);
    assert_int_equal(duplicates, 0);
}

static const ride_cluster_app ZOMBIE_APP = {.name = "rkzombie",
                                            .fps = 30,
                                            .partitions = 2,
                                            .max_workers = 2,
                                            .spares = 1,
                                            .stddev = true,
                                            .delivery = "exactly-once"};

typedef struct owner_probe {
    ride_cluster_fx *fx;
    const char *stage;
    const char *old; /* the owner to be replaced */
} owner_probe;

static bool owner_replaced(void *ctx)
{
    owner_probe *op = ctx;
    char owner[128];
    const char *now = ride_cluster_fx_owner(op->fx, ZOMBIE_APP.name, op->stage, 0, owner,
                                            sizeof owner);
    return now && now[0] && strcmp(now, op->old) != 0;
}

/* How often the logs of the daemon id hold what. */
static int log_count(const ride_cluster_fx *fx, const char *id, const char *what)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%.60s-", id);
    int n = 0;
    DIR *d = opendir(fx->dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", fx->dir, e->d_name);
        char *text = ride_harness_read_file(path, NULL);
        for (const char *p = text; p && (p = strstr(p, what)); p += strlen(what))
            n++;
        free(text);
    }
    closedir(d);
    return n;
}

static void test_zombie_owner_is_fenced(void **state)
{
    (void)state;
    const char *bootstrap = ride_harness_kafka_bootstrap(ride_harness_kafka_shared());
    ride_proc *workers[WORKERS] = {0};
    ride_cluster_fx *fx = ride_cluster_fx_start_on("rkzombie", bootstrap, NULL, WORKERS,
                                                   workers, WAIT_MS);
    ride_cluster_fx_run_app(fx, &ZOMBIE_APP, WAIT_MS);
    ride_audit_reader *r = committed_reader(fx, "rkzombie.sd.out");
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    wait_every_stream(fx, r, FRAMES_PER_ROUND);

    char victim_id[128];
    assert_non_null(ride_cluster_fx_owner(fx, ZOMBIE_APP.name, "gray", 0, victim_id,
                                          sizeof victim_id));
    int victim = atoi(victim_id + 1) - 1; /* "wN" */
    assert_true(victim >= 0 && victim < WORKERS);
    assert_int_equal(ride_harness_proc_signal(workers[victim], SIGSTOP), 0);
    owner_probe op = {fx, "gray", victim_id};
    if (!ride_harness_wait_until(owner_replaced, &op, WAIT_MS))
        ride_cluster_fx_fail(fx, "gray partition 0 stayed with the stopped %s", victim_id);
    wait_every_stream(fx, r, FRAMES_PER_ROUND);
    assert_int_equal(ride_harness_proc_signal(workers[victim], SIGCONT), 0);
    wait_every_stream(fx, r, 2 * FRAMES_PER_ROUND);

    int fenced = log_count(fx, victim_id, "event=partition_fenced");
    uint64_t duplicates = ride_cluster_fx_finish(fx, r, producer, "p1", STREAMS, WAIT_MS);
    printf("zombie %s: partition_fenced lines %d, duplicates %" PRIu64 "\n", victim_id, fenced,
           duplicates);
    /* Whether the zombie still had a transaction open when it stopped is up to
     * timing: fenced (partition_fenced) or not, nothing may arrive twice. */
    assert_int_equal(duplicates, 0);
}

static const ride_cluster_app STALE_APP = {.name = "rkstale",
                                           .fps = 30,
                                           .partitions = 2,
                                           .max_workers = 2,
                                           .stddev = true,
                                           .delivery = "exactly-once"};

/* What a worker applying an old assignment does to a partition it no longer
 * owns: registers its transactional.id (fencing the owner), then lets go. */
static void register_stale_owner(const char *bootstrap, const char *transactional_id)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "transactional.id", transactional_id, err,
                                       sizeof err),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk)
        fail_msg("stale producer: %s", err);
    rd_kafka_error_t *e = rd_kafka_init_transactions(rk, WAIT_MS);
    if (e) {
        char why[512];
        snprintf(why, sizeof why, "%s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        rd_kafka_destroy(rk);
        fail_msg("stale init_transactions: %s", why);
    }
    rd_kafka_destroy(rk);
}

typedef struct log_probe {
    const ride_cluster_fx *fx;
    const char *id;
    const char *what;
} log_probe;

static bool log_has(void *ctx)
{
    log_probe *lp = ctx;
    return log_count(lp->fx, lp->id, lp->what) > 0;
}

static void test_fenced_owner_reclaims_from_stale_owner(void **state)
{
    (void)state;
    const char *bootstrap = ride_harness_kafka_bootstrap(ride_harness_kafka_shared());
    ride_proc *workers[2] = {0};
    ride_cluster_fx *fx = ride_cluster_fx_start_on("rkstale", bootstrap, NULL, 2, workers,
                                                   WAIT_MS);
    ride_cluster_fx_run_app(fx, &STALE_APP, WAIT_MS);
    ride_audit_reader *r = committed_reader(fx, "rkstale.sd.out");
    ride_proc *producer = ride_cluster_fx_producer(fx, "p1");
    wait_every_stream(fx, r, FRAMES_PER_ROUND);

    char owner[128], after[128];
    assert_non_null(ride_cluster_fx_owner(fx, STALE_APP.name, "gray", 0, owner, sizeof owner));
    assert_true(owner[0] != '\0');
    register_stale_owner(fx->bootstrap, "ride.rkstale.gray.0");
    log_probe fenced = {fx, owner, "event=partition_fenced"};
    log_probe reclaimed = {fx, owner, "event=partition_reclaimed"};
    if (!ride_harness_wait_until(log_has, &fenced, WAIT_MS))
        ride_cluster_fx_fail(fx, "%s was not fenced by the stale registration", owner);
    if (!ride_harness_wait_until(log_has, &reclaimed, WAIT_MS))
        ride_cluster_fx_fail(fx, "%s left its fenced partition idle", owner);
    wait_every_stream(fx, r, FRAMES_PER_ROUND);
    /* The same owner carries it on: no failover hid an idle partition. */
    ride_cluster_fx_owner(fx, STALE_APP.name, "gray", 0, after, sizeof after);
    assert_string_equal(after, owner);

    uint64_t duplicates = ride_cluster_fx_finish(fx, r, producer, "p1", STREAMS, WAIT_MS);
    printf("stale owner: %s reclaimed gray/0, duplicates %" PRIu64 "\n", owner, duplicates);
    assert_int_equal(duplicates, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_killed_workers_lose_and_repeat_nothing),
        cmocka_unit_test(test_zombie_owner_is_fenced),
        cmocka_unit_test(test_fenced_owner_reclaims_from_stale_owner),
    };
    return cmocka_run_group_tests(tests, ride_harness_kafka_group_setup,
                                  ride_harness_kafka_group_teardown);
}
