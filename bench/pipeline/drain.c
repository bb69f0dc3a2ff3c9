/* drain.c - the drain mode of ride-bench-pipeline: the first stage's topic is
 * pre-filled with --drain frames while nothing reads it, then the workers (RIDE's,
 * the transport relay or the Python worker) start and the run times how long they
 * take to bring every frame to the sink, and the CPU they used (/proc) per frame.
 *
 * The pre-fill is copies of a few distinct synthetic frames (frame_set), each
 * partition carrying one stream with consecutive sequence numbers, so the sink's
 * audit sees gaps and duplicates as in the paced mode. Each copy's header gets its
 * own stream, sequence number and capture time, and so a new header CRC
 * (docs/wire-format.md); the payload and its CRC are the template's. */
#include "bench_pipeline.h"
#include "base/clock.h"
#include "kafka/kafka.h"
#include "wire/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Distinct frames in the pre-fill. */
#define DRAIN_TEMPLATES 8
/* The embedded broker keeps 5 MiB per partition: the pre-fill leaves room for the
 * header overhead of its message sets. */
#define EMBEDDED_PREFILL_BYTES (9u << 19)
/* A drain that brings no frame to the sink for this long has failed. */
#define DRAIN_STALL_MS 60000
#define OFF_STREAM 28
#define OFF_SEQ 32
#define OFF_CAPTURE 40
#define OFF_HEADER_LEN 6
#define OFF_HEADER_CRC 68

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Gives a copy of a template message its frame's identity. */
static void restamp(uint8_t *msg, uint32_t stream, uint64_t seq, uint64_t capture_ns)
{
    put_le(msg + OFF_STREAM, stream, 4);
    put_le(msg + OFF_SEQ, seq, 8);
    put_le(msg + OFF_CAPTURE, capture_ns, 8);
    size_t header_len = (size_t)msg[OFF_HEADER_LEN] | (size_t)msg[OFF_HEADER_LEN + 1] << 8;
    uint32_t crc = ride_crc32c(0, msg, OFF_HEADER_CRC);
    crc = ride_crc32c(crc, msg + RIDE_FRAME_HEADER_LEN, header_len - RIDE_FRAME_HEADER_LEN);
    put_le(msg + OFF_HEADER_CRC, crc, 4);
}

static rd_kafka_t *producer_for(const cluster *c)
{
    ride_parse_error perr;
    char errstr[512];
    rd_kafka_conf_t *conf = ride_kafka_conf_new(RIDE_KAFKA_PRODUCER, c->bootstrap,
                                                c->kafka == NULL, NULL, 0, NULL, &perr);
    rd_kafka_t *rk = conf ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr) : NULL;
    if (!rk)
        fprintf(stderr, "drain: cannot create a producer\n");
    return rk;
}

/* Waits until the master has created the topic with its partitions. */
static int topic_partitions(rd_kafka_t *rk, const char *topic)
{
    char err[256] = "";
    int64_t deadline = ride_clock_mono_ms() + START_TIMEOUT_MS;
    while (!ride_bench_interrupted && ride_clock_mono_ms() < deadline) {
        int n = ride_kafka_partition_count(rk, topic, 5000, err, sizeof err);
        if (n > 0)
            return n;
        usleep(100 * 1000);
    }
    fprintf(stderr, "topic %s: not created %s\n", topic, err);
    return -1;
}

static int produce_copy(rd_kafka_t *rk, const char *topic, int32_t partition, uint8_t *msg,
                        size_t len)
{
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_VALUE(msg, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return err ? -1 : 0;
        rd_kafka_poll(rk, 10);
    }
}

static int check_room(const cluster *c, const frame_set *fs, int partitions)
{
    size_t largest = 0;
    for (int i = 0; i < fs->count; i++)
        if (fs->frames[i].bytes > largest)
            largest = fs->frames[i].bytes;
    int per_partition = (c->o->drain + partitions - 1) / partitions;
    if (c->kafka || (size_t)per_partition * largest <= EMBEDDED_PREFILL_BYTES)
        return 0;
    fprintf(stderr,
            "--drain %d does not fit the embedded broker's 5 MiB partitions: at most %d "
            "frames of %zu bytes in %d partitions\n",
            c->o->drain, (int)(EMBEDDED_PREFILL_BYTES / largest) * partitions, largest,
            partitions);
    return -1;
}

/* Writes the pre-fill into the first stage's topic and waits until the broker has
 * it all. */
static int prefill(const cluster *c, rd_kafka_t *rk, const frame_set *fs)
{
    char topic[160];
    ride_bench_stage_topic(c, "first", topic, sizeof topic);
    int partitions = topic_partitions(rk, topic);
    if (partitions < 1 || check_room(c, fs, partitions))
        return -1;
    uint8_t *scratch = malloc(RIDE_FRAME_DEFAULT_MAX_MESSAGE);
    if (!scratch)
        return -1;
    int rc = 0;
    uint64_t now_ns = (uint64_t)ride_clock_wall_ns();
    for (int i = 0; i < c->o->drain && rc == 0; i++) {
        const struct wire_frame *f = &fs->frames[i % fs->count];
        int32_t partition = i % partitions;
        for (int m = 0; m < f->messages && rc == 0; m++) {
            memcpy(scratch, f->msg[m], f->len[m]);
            restamp(scratch, (uint32_t)partition + 1, (uint64_t)(i / partitions), now_ns);
            rc = produce_copy(rk, topic, partition, scratch, f->len[m]);
        }
    }
    free(scratch);
    if (rc == 0 && rd_kafka_flush(rk, 120000)) {
        fprintf(stderr, "drain: the pre-fill was not delivered\n");
        rc = -1;
    }
    return rc;
}

/* When frames reach the sink. */
typedef struct progress {
    uint64_t frames;
    int64_t first_ns, last_ns; /* monotonic */
} progress;

static void progress_to(progress *p, uint64_t frames)
{
    int64_t now = ride_clock_mono_ns();
    if (frames > p->frames) {
        if (!p->first_ns)
            p->first_ns = now;
        p->last_ns = now;
        p->frames = frames;
    }
}

static void on_drained_frame(void *ctx, const ride_frame *frame, bool fresh, int64_t read_ns)
{
    (void)frame;
    (void)read_ns;
    progress *p = ctx;
    if (fresh)
        progress_to(p, p->frames + 1);
}

/* The processes that do a configuration's work, whose CPU the run reports. */
typedef struct drainers {
    ride_proc *procs[32];
    int count;
} drainers;

static double drainers_cpu_s(const drainers *d)
{
    double sum = 0;
    for (int i = 0; i < d->count; i++) {
        double s = ride_bench_proc_cpu_s(ride_harness_proc_pid(d->procs[i]));
        if (s < 0)
            return -1;
        sum += s;
    }
    return sum;
}

static bool drainers_alive(drainers *d)
{
    for (int i = 0; i < d->count; i++)
        if (!ride_harness_proc_alive(d->procs[i]))
            return false;
    return true;
}

static void drainers_stop(drainers *d)
{
    for (int i = 0; i < d->count; i++)
        ride_harness_proc_stop(d->procs[i], STOP_GRACE_MS);
    d->count = 0;
}

/* Polls the sink until every frame is there: RIDE's through the frame audit, the
 * relay's and Python's by the sink's message count (one message per frame). */
static int wait_drained(cluster *c, rd_kafka_t *rk, ride_audit_reader *audit, drainers *d,
                        progress *p)
{
    char err[256];
    int sink_partitions = audit ? 0 : topic_partitions(rk, c->sink_topic);
    if (!audit && sink_partitions < 1)
        return -1;
    int64_t last_change = ride_clock_mono_ms();
    uint64_t before = 0;
    while (p->frames < (uint64_t)c->o->drain) {
        if (ride_bench_interrupted)
            return -1;
        if (audit) {
            if (ride_audit_reader_poll(audit, 100, 0, err, sizeof err) < 0) {
                fprintf(stderr, "reading %s: %s\n", c->sink_topic, err);
                return -1;
            }
        } else {
            int64_t n = ride_bench_topic_messages(rk, c->sink_topic, sink_partitions);
            if (n < 0)
                return -1;
            progress_to(p, (uint64_t)n);
            usleep(10 * 1000);
        }
        if (p->frames != before) {
            before = p->frames;
            last_change = ride_clock_mono_ms();
        }
        if (!ride_bench_cluster_alive(c) || !drainers_alive(d) ||
            ride_clock_mono_ms() - last_change > DRAIN_STALL_MS) {
            fprintf(stderr, "the drain stopped at %llu of %d frames\n",
                    (unsigned long long)p->frames, c->o->drain);
            return -1;
        }
    }
    return 0;
}

static int spawn_relay(cluster *c, const frame_set *fs, drainers *d)
{
    char exe[1024], topic1[160], topic2[160], partitions[16], per_frame[16], bytes[32],
        frames[16];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0)
        return -1;
    exe[n] = '\0';
    ride_bench_stage_topic(c, "first", topic1, sizeof topic1);
    ride_bench_stage_topic(c, "second", topic2, sizeof topic2);
    snprintf(partitions, sizeof partitions, "%d", c->o->partitions);
    snprintf(per_frame, sizeof per_frame, "%d", fs->frames[0].messages);
    /* A stage's output here: a 900x900 gray frame in one message. */
    snprintf(bytes, sizeof bytes, "%u", RIDE_FRAME_HEADER_LEN + FRAME_SIZE * FRAME_SIZE);
    snprintf(frames, sizeof frames, "%d", c->o->drain);
    const char *argv[] = {exe, "--relay", c->bootstrap, c->kafka ? "0" : "1", topic1, topic2,
                          c->sink_topic, partitions, per_frame, bytes, frames, NULL};
    char log[700];
    snprintf(log, sizeof log, "%s/relay.log", c->dir);
    if (!(d->procs[0] = ride_harness_spawn(argv, NULL, log)))
        return -1;
    d->count = 1;
    return 0;
}

static int spawn_python(cluster *c, drainers *d)
{
    char topic1[160], threads[16];
    ride_bench_stage_topic(c, "first", topic1, sizeof topic1);
    snprintf(threads, sizeof threads, "%d", c->o->worker_threads);
    for (int i = 0; i < c->o->python_workers && i < 32; i++) {
        const char *argv[] = {"/usr/bin/python3",
                              RIDE_SOURCE_DIR "/bench/python/ride_py_worker.py",
                              "--bootstrap", c->bootstrap, "--input", topic1, "--output",
                              c->sink_topic, "--group", c->app, "--threads", threads,
                              c->kafka ? "--real-kafka" : "--embedded", NULL};
        char log[700];
        snprintf(log, sizeof log, "%s/python%d.log", c->dir, i + 1);
        if (!(d->procs[i] = ride_harness_spawn(argv, NULL, log)))
            return -1;
        d->count = i + 1;
    }
    return 0;
}

/* RIDE's workers, registered with the cluster. */
static int start_workers(cluster *c, drainers *d)
{
    if (ride_bench_cluster_start_workers(c))
        return -1;
    for (int i = 0; i < c->worker_count; i++)
        d->procs[i] = c->workers[i];
    d->count = c->worker_count;
    return 0;
}

static int drain(cluster *c, enum config_kind kind, rd_kafka_t *rk, const frame_set *fs,
                 run_result *out)
{
    drainers d = {0};
    progress p = {0};
    ride_audit_reader *audit = NULL;
    bool ride = kind != CFG_RELAY && kind != CFG_PYTHON;
    int rc = -1;
    int64_t start_ns = ride_clock_mono_ns();
    if (kind == CFG_RELAY ? spawn_relay(c, fs, &d)
        : kind == CFG_PYTHON ? spawn_python(c, &d)
                             : start_workers(c, &d))
        goto done;
    if (ride && !(audit = ride_bench_open_sink(c, on_drained_frame, &p)))
        goto done;
    if (wait_drained(c, rk, audit, &d, &p))
        goto done;
    double cpu = drainers_cpu_s(&d);
    uint64_t n = p.frames;
    *out = (run_result){.fps = n > 1 && p.last_ns > p.first_ns
                                   ? (double)(n - 1) * 1e9 / (double)(p.last_ns - p.first_ns)
                                   : -1,
                        .frames = n,
                        .p50_ms = -1,
                        .p99_ms = -1,
                        .dropped = -1,
                        .cpu_ms = cpu < 0 ? -1 : cpu * 1e3 / (double)n,
                        .drain_s = (double)(p.last_ns - start_ns) * 1e-9};
    if (audit) {
        ride_seqtrack_stream totals;
        ride_seqtrack_totals(ride_audit_reader_seqs(audit), &totals);
        out->gaps = totals.missing;
        out->duplicates = totals.duplicates;
        out->rejected = ride_audit_reader_rejected(audit);
    }
    ride_bench_scrape_steps(c, &out->steps);
    rc = 0;
done:
    ride_audit_reader_free(audit);
    /* RIDE's workers are the cluster's to stop. */
    if (!ride)
        drainers_stop(&d);
    return rc;
}

int ride_bench_run_drain(const options *o, const ride_zk_server *zk, enum config_kind kind,
                         int run, run_result *out)
{
    char name[64], err[256];
    ride_bench_run_name(kind, run, name, sizeof name);
    const char *task1, *task2;
    ride_bench_tasks(kind, &task1, &task2);
    frame_set fs = {0};
    rd_kafka_t *rk = NULL;
    cluster c;
    int rc = -1;
    if (ride_bench_frame_set_make(&fs, DRAIN_TEMPLATES, o->raw_input, err, sizeof err)) {
        fprintf(stderr, "drain: %s\n", err);
        return -1;
    }
    int started = ride_bench_cluster_start(&c, o, zk, name, false);
    c.exactly_once = kind == CFG_PIPELINE_EXACTLY_ONCE;
    if (started == 0 && ride_bench_apply_manifest(&c, task1, task2) == 0 &&
        (rk = producer_for(&c)) && prefill(&c, rk, &fs) == 0 && drain(&c, kind, rk, &fs, out) == 0)
        rc = 0;
    if (rc && !ride_bench_interrupted)
        ride_bench_cluster_print_logs(&c);
    if (rk)
        rd_kafka_destroy(rk);
    ride_bench_cluster_stop(&c);
    ride_bench_frame_set_free(&fs);
    return rc;
}
