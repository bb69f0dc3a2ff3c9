/* harness_daemon.c - one RIDE daemon as a real process, with the test in place of a
 * master: it writes the assignments, hosts the Kafka cluster and reads it back. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ride_harness_cluster.h"
#include "media/synthetic.h"
#include "wire/frame.h"

#define KAFKA_TIMEOUT_MS 10000
#define OFFSET_TIMEOUT_MS 5000
#define MAX_FRAME_BYTES (1u << 24)

ride_daemon_fx *ride_daemon_fx_new(const char *name)
{
    static int instance;
    ride_daemon_fx *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->mock = ride_test_kafka_mock();
    char prefix[64];
    snprintf(prefix, sizeof prefix, "ride-%s-", name);
    assert_non_null(fx->dir = ride_harness_tempdir(prefix));
    snprintf(fx->connect, sizeof fx->connect, "%s/%s%d",
             ride_harness_zk_connect(ride_harness_zk_shared()), name, instance++);
    ride_zk_options zo = {.connect = fx->connect};
    if (ride_zk_connect(&zo, &fx->zk, fx->err, sizeof fx->err) != RIDE_ZK_OK)
        fail_msg("zookeeper %s: %s", fx->connect, fx->err);
    assert_int_equal(ride_zk_ensure_path(fx->zk, "/cluster"), RIDE_ZK_OK);
    assert_int_equal(ride_zk_ensure_path(fx->zk, RIDE_CLUSTER_PATH_ASSIGNMENTS), RIDE_ZK_OK);
    ride_cluster_kafka k = {ride_kafka_mock_bootstraps(fx->mock), true, NULL};
    char *json = ride_cluster_kafka_encode(&k, fx->err, sizeof fx->err);
    assert_non_null(json);
    ride_daemon_fx_write_node(fx, RIDE_CLUSTER_PATH_KAFKA, json);
    free(json);
    return fx;
}

void ride_daemon_fx_free(ride_daemon_fx *fx)
{
    if (!fx)
        return;
    ride_kafka_consumer_free(fx->admin);
    ride_kafka_producer_free(fx->input);
    ride_zk_close(fx->zk);
    ride_kafka_mock_stop(fx->mock);
    ride_harness_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
}

void ride_daemon_fx_write_node(ride_daemon_fx *fx, const char *path, const char *data)
{
    ride_zk_err rc = ride_zk_set(fx->zk, path, data, strlen(data), -1, NULL);
    if (rc == RIDE_ZK_NONODE)
        rc = ride_zk_create(fx->zk, path, data, strlen(data), 0, NULL, 0);
    assert_int_equal(rc, RIDE_ZK_OK);
}

void ride_daemon_fx_assign(ride_daemon_fx *fx, const char *id, const ride_cluster_assignment *a)
{
    char *json = ride_cluster_assignment_encode(a, fx->err, sizeof fx->err);
    if (!json)
        fail_msg("assignment: %s", fx->err);
    char path[RIDE_ZK_PATH_MAX];
    assert_int_equal(ride_cluster_path_assignment(path, sizeof path, id), 0);
    ride_daemon_fx_write_node(fx, path, json);
    free(json);
}

bool ride_daemon_fx_heartbeat(ride_daemon_fx *fx, const char *id, ride_cluster_heartbeat *hb)
{
    char path[RIDE_ZK_PATH_MAX];
    assert_int_equal(ride_cluster_path_heartbeat(path, sizeof path, id), 0);
    char *data = NULL;
    size_t len = 0;
    if (ride_zk_get(fx->zk, path, &data, &len, NULL) != RIDE_ZK_OK)
        return false;
    int rc = ride_cluster_heartbeat_decode(path, data, len, hb, fx->err, sizeof fx->err);
    free(data);
    if (rc)
        fail_msg("heartbeat of %s: %s", id, fx->err);
    return true;
}

/* ---- the daemon ---- */

/* Starts program with config_option naming the daemon's config, then id_option
 * with the id unless id_option is NULL. */
static ride_proc *spawn(ride_daemon_fx *fx, const char *id, const char *extra,
                        const char *program, const char *config_option, const char *id_option)
{
    char config[700], yaml[1024];
    snprintf(config, sizeof config, "%s/%s.yaml", fx->dir, id);
    snprintf(yaml, sizeof yaml,
             "zookeeper:\n  connect: \"%s\"\nheartbeat:\n  interval_ms: 50\n"
             "metrics:\n  listen: \"127.0.0.1:0\"\n%s",
             fx->connect, extra);
    assert_int_equal(ride_harness_write_file(config, yaml), 0);
    snprintf(fx->log, sizeof fx->log, "%s/%s-%d.log", fx->dir, id, fx->spawned++);
    const char *argv[] = {program, config_option, config, id_option, id_option ? id : NULL, NULL};
    ride_proc *p = ride_harness_spawn(argv, NULL, fx->log);
    assert_non_null(p);
    return p;
}

ride_proc *ride_daemon_fx_worker(ride_daemon_fx *fx, const char *id)
{
    return spawn(fx, id, "worker:\n  threads: 1\n", RIDE_BIN_DIR "/ride-worker", "--config",
                 "--id");
}

ride_proc *ride_daemon_fx_producer(ride_daemon_fx *fx, const char *id, const char *local_source)
{
    char extra[512];
    snprintf(extra, sizeof extra, "producer:\n  id: \"%s\"\n  sources: [\"%s\"]\n", id,
             local_source);
    return spawn(fx, id, extra, RIDE_BIN_DIR "/ride-producer", "-c", NULL);
}

void ride_daemon_fx_print_log(const ride_daemon_fx *fx)
{
    char *log = ride_harness_read_file(fx->log, NULL);
    fprintf(stderr, "---- %s ----\n%s\n", fx->log, log ? log : "(none)");
    free(log);
}

void ride_daemon_fx_expect_clean_exit(ride_daemon_fx *fx, ride_proc *p, int timeout_ms)
{
    int64_t t0 = ride_clock_mono_ms();
    assert_int_equal(ride_harness_proc_signal(p, SIGTERM), 0);
    int status = ride_harness_proc_wait(p, timeout_ms);
    ride_harness_proc_stop(p, 1000);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ride_daemon_fx_print_log(fx);
        fail_msg("SIGTERM: status %d", status);
    }
    printf("SIGTERM to exit: %" PRId64 " ms\n", ride_clock_mono_ms() - t0);
}

/* ---- Kafka ---- */

void ride_daemon_fx_produce_frame(ride_daemon_fx *fx, const char *topic, int32_t partition,
                                  const ride_frame *f)
{
    if (!fx->input)
        fx->input = ride_kafka_producer_new(ride_test_kafka_conf(fx->mock, RIDE_KAFKA_PRODUCER),
                                            NULL, NULL, fx->err, sizeof fx->err);
    if (!fx->input)
        fail_msg("producer: %s", fx->err);
    ride_frame_write_opts wo = {RIDE_ENC_RAW, -1, 4096};
    if (ride_kafka_produce_frame(fx->input, topic, partition, f, &wo, NULL, NULL,
                                 KAFKA_TIMEOUT_MS, fx->err, sizeof fx->err))
        fail_msg("produce: %s", fx->err);
}

void ride_daemon_fx_flush(ride_daemon_fx *fx)
{
    if (fx->input && ride_kafka_producer_flush(fx->input, KAFKA_TIMEOUT_MS, fx->err, sizeof fx->err))
        fail_msg("flush: %s", fx->err);
}

void ride_daemon_fx_produce(ride_daemon_fx *fx, const char *topic, uint32_t streams,
                            uint32_t w, uint32_t h, uint64_t seq_from, uint64_t seq_to)
{
    for (uint64_t q = seq_from; q < seq_to; q++) {
        for (uint32_t s = 0; s < streams; s++) {
            ride_frame f = {0};
            assert_int_equal(ride_synthetic_render(s, q, w, h, &f.image), 0);
            f.stream_id = s;
            f.seq = q;
            f.capture_ns = 1000 + q;
            ride_daemon_fx_produce_frame(fx, topic, (int32_t)s, &f);
            ride_frame_free(&f);
        }
    }
    ride_daemon_fx_flush(fx);
}

/* A consumer of group, for its committed offsets: made again when another group
 * is asked for. */
static ride_kafka_consumer *admin_of(ride_daemon_fx *fx, const char *group)
{
    if (fx->admin && strcmp(fx->admin_group, group) != 0) {
        ride_kafka_consumer_free(fx->admin);
        fx->admin = NULL;
    }
    if (!fx->admin) {
        snprintf(fx->admin_group, sizeof fx->admin_group, "%s", group);
        fx->admin = ride_kafka_consumer_new(ride_test_kafka_conf(fx->mock, RIDE_KAFKA_CONSUMER),
                                            group, fx->err, sizeof fx->err);
        if (!fx->admin)
            fail_msg("consumer: %s", fx->err);
    }
    return fx->admin;
}

int64_t ride_daemon_fx_committed(ride_daemon_fx *fx, const char *group, const char *topic,
                                 int partition)
{
    ride_kafka_tp tp = {topic, partition, 0};
    if (ride_kafka_committed(admin_of(fx, group), &tp, 1, OFFSET_TIMEOUT_MS, fx->err,
                             sizeof fx->err))
        return -2;
    return tp.offset;
}

int64_t ride_daemon_fx_high(ride_daemon_fx *fx, const char *group, const char *topic,
                            int partition)
{
    int64_t low, high;
    assert_int_equal(ride_kafka_watermarks(ride_kafka_consumer_handle(admin_of(fx, group)), topic,
                                           partition, OFFSET_TIMEOUT_MS, &low, &high, fx->err,
                                           sizeof fx->err),
                     0);
    return high;
}

typedef struct commit_probe {
    ride_daemon_fx *fx;
    const char *group;
    const char *topic;
    unsigned mask;
} commit_probe;

static bool commits_at_end(void *ctx)
{
    commit_probe *cp = ctx;
    for (int p = 0; cp->mask >> p; p++)
        if ((cp->mask & (1u << p)) && ride_daemon_fx_committed(cp->fx, cp->group, cp->topic, p) !=
                                          ride_daemon_fx_high(cp->fx, cp->group, cp->topic, p))
            return false;
    return true;
}

void ride_daemon_fx_wait_commits(ride_daemon_fx *fx, const char *group, const char *topic,
                                 unsigned mask, int timeout_ms)
{
    commit_probe cp = {fx, group, topic, mask};
    if (ride_harness_wait_until(commits_at_end, &cp, timeout_ms))
        return;
    ride_daemon_fx_print_log(fx);
    for (int p = 0; mask >> p; p++)
        fprintf(stderr, "partition %d: committed %" PRId64 " high %" PRId64 "\n", p,
                ride_daemon_fx_committed(fx, group, topic, p),
                ride_daemon_fx_high(fx, group, topic, p));
    fail_msg("commits did not reach the end of %s", topic);
}

/* ---- reading a topic back ---- */

struct ride_daemon_reader {
    ride_kafka_consumer *consumer;
    int partitions;
    ride_frame_assembler *as[RIDE_KAFKA_MAX_PARTITIONS];
    char err[512];
};

ride_daemon_reader *ride_daemon_fx_reader(ride_daemon_fx *fx, const char *topic, int partitions,
                                          ride_frame_reject_fn on_reject, void *ctx)
{
    assert_in_range(partitions, 1, RIDE_KAFKA_MAX_PARTITIONS);
    ride_daemon_reader *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->consumer = ride_kafka_consumer_new(ride_test_kafka_conf(fx->mock, RIDE_KAFKA_CONSUMER),
                                          "ride.test.reader", r->err, sizeof r->err);
    if (!r->consumer)
        fail_msg("consumer: %s", r->err);
    ride_kafka_tp *tps = calloc((size_t)partitions, sizeof *tps);
    assert_non_null(tps);
    r->partitions = partitions;
    for (int p = 0; p < partitions; p++) {
        tps[p] = (ride_kafka_tp){topic, p, RIDE_KAFKA_OFFSET_BEGINNING};
        assert_non_null(r->as[p] = ride_frame_assembler_new(MAX_FRAME_BYTES, on_reject, ctx));
    }
    assert_int_equal(ride_kafka_consumer_add(r->consumer, tps, partitions, r->err, sizeof r->err),
                     0);
    free(tps);
    return r;
}

bool ride_daemon_reader_next(ride_daemon_reader *r, int timeout_ms, ride_frame *f,
                             int32_t *partition)
{
    ride_kafka_message m;
    if (ride_kafka_consumer_poll(r->consumer, timeout_ms, &m, r->err, sizeof r->err) != 1)
        return false;
    assert_in_range(m.partition, 0, r->partitions - 1);
    *partition = m.partition;
    ride_frame_status st = ride_frame_assembler_push(r->as[m.partition], m.payload, m.len, f);
    ride_kafka_message_release(&m);
    return st == RIDE_FRAME_OK;
}

void ride_daemon_reader_free(ride_daemon_reader *r)
{
    if (!r)
        return;
    for (int p = 0; p < r->partitions; p++)
        ride_frame_assembler_free(r->as[p]);
    ride_kafka_consumer_free(r->consumer);
    free(r);
}
