/* Kafka module against librdkafka's in-process mock cluster: configuration
 * pass-through and its errors, topic creation, frames produced and consumed by
 * manual assignment, commits and resuming from them, lag, chunked frames, the
 * mock's retention, and message sizes (the record batch overhead, the mock's
 * unknown limit, the producer settings fitted to a limit). */
#include <inttypes.h>
#include "base/clock.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ride_test_kafka.h"
#include "kafka/kafka.h"
#include "kafka/message_size.h"
#include "launch_process.h"

#define TIMEOUT_MS 10000
#define FRAMES 60
#define PARTITIONS 6
#define STREAMS 3
#define GROUP "ride.app.stage"

typedef struct fixture {
    ride_kafka_mock *mock;
    char err[512];
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->mock = ride_test_kafka_mock();
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ride_kafka_mock_stop(fx->mock);
    free(fx);
    return 0;
}

/* ---- Delivery reports ---- */

typedef struct deliveries {
    int ok;
    int failed;
} deliveries;

/* A sender's bookkeeping of its frames' messages, the opaque of each of them. */
typedef struct sent {
    int queued;
    uint64_t bytes;
    int reported;
} sent;

static void count_queued(void *opaque, size_t len)
{
    sent *s = opaque;
    s->queued++;
    s->bytes += len;
}

static void count_delivery(void *ctx, void *opaque, const ride_kafka_delivery *r)
{
    if (opaque)
        ((sent *)opaque)->reported++;
    deliveries *d = ctx;
    if (r->err || r->offset < 0)
        d->failed++;
    else
        d->ok++;
}

/* A producer for one existing topic, its metadata read up front as daemons do. */
static ride_kafka_producer *new_producer(fixture *fx, deliveries *d, const char *topic,
                                         int partitions)
{
    ride_kafka_producer *p =
        ride_kafka_producer_new(ride_test_kafka_conf(fx->mock, RIDE_KAFKA_PRODUCER),
                                count_delivery, d, fx->err, sizeof fx->err);
    if (!p)
        fail_msg("producer: %s", fx->err);
    assert_int_equal(ride_kafka_partition_count(ride_kafka_producer_handle(p), topic, TIMEOUT_MS,
                                                fx->err, sizeof fx->err),
                     partitions);
    return p;
}

static ride_kafka_consumer *new_consumer(fixture *fx)
{
    ride_kafka_consumer *c = ride_kafka_consumer_new(
        ride_test_kafka_conf(fx->mock, RIDE_KAFKA_CONSUMER), GROUP, fx->err, sizeof fx->err);
    if (!c)
        fail_msg("consumer: %s", fx->err);
    return c;
}

/* A small BGR frame whose pixels depend on (stream, seq). */
static void make_frame(ride_frame *f, uint32_t w, uint32_t h, uint32_t stream, uint64_t seq)
{
    memset(f, 0, sizeof *f);
    assert_int_equal(ride_image_alloc(&f->image, RIDE_PIX_BGR8, w, h), 0);
    ride_test_fill_random(&f->image, stream * 1000u + (uint32_t)seq);
    f->stream_id = stream;
    f->seq = seq;
    f->capture_ns = 1000u + seq;
}

static void produce_frame(fixture *fx, ride_kafka_producer *p, const char *topic,
                          int32_t partition, uint32_t w, uint32_t h, uint32_t stream,
                          uint64_t seq)
{
    ride_frame f;
    make_frame(&f, w, h, stream, seq);
    if (ride_kafka_produce_frame(p, topic, partition, &f, NULL, NULL, NULL, TIMEOUT_MS,
                                 fx->err, sizeof fx->err))
        fail_msg("produce: %s", fx->err);
    ride_frame_free(&f);
}

static void flush(fixture *fx, ride_kafka_producer *p)
{
    if (ride_kafka_producer_flush(p, TIMEOUT_MS, fx->err, sizeof fx->err))
        fail_msg("flush: %s", fx->err);
}

/* ---- Consuming and reassembling ---- */

static void on_reject(void *ctx, const ride_frame_reject *r)
{
    (void)ctx;
    fail_msg("frame rejected: %s", ride_frame_status_reason(r->status));
}

/* What one consumer saw: frames per (stream, seq), and where each partition's
 * frames ended (the offset after a frame's last message). */
typedef struct seen {
    int count[STREAMS][FRAMES];
    int frames;
    int64_t frame_end[PARTITIONS][FRAMES]; /* per partition, in order */
    int frames_in[PARTITIONS];
    ride_frame_assembler *asm_[PARTITIONS];
} seen;

static void seen_init(seen *s)
{
    memset(s, 0, sizeof *s);
    for (int p = 0; p < PARTITIONS; p++) {
        s->asm_[p] = ride_frame_assembler_new((size_t)64 << 20, on_reject, NULL);
        assert_non_null(s->asm_[p]);
    }
}

static void seen_free(seen *s)
{
    for (int p = 0; p < PARTITIONS; p++)
        ride_frame_assembler_free(s->asm_[p]);
}

/* Polls until `frames` more frames are complete or the deadline passes. */
static void consume_frames(fixture *fx, ride_kafka_consumer *c, seen *s, int frames)
{
    int64_t deadline = ride_clock_mono_ms() + TIMEOUT_MS;
    ride_frame f;
    memset(&f, 0, sizeof f);
    int want = s->frames + frames;
    while (s->frames < want) {
        if (ride_clock_mono_ms() > deadline)
            fail_msg("only %d of %d frames arrived", s->frames, want);
        ride_kafka_message m;
        int rc = ride_kafka_consumer_poll(c, 100, &m, fx->err, sizeof fx->err);
        if (rc < 0)
            fail_msg("poll: %s", fx->err);
        if (rc == 0)
            continue;
        assert_in_range(m.partition, 0, PARTITIONS - 1);
        ride_frame_status st = ride_frame_assembler_push(s->asm_[m.partition], m.payload, m.len,
                                                         &f);
        if (st == RIDE_FRAME_OK) {
            assert_in_range(f.stream_id, 0, STREAMS - 1);
            assert_in_range(f.seq, 0, FRAMES - 1);
            s->count[f.stream_id][f.seq]++;
            s->frame_end[m.partition][s->frames_in[m.partition]++] = m.offset + 1;
            s->frames++;
        } else {
            assert_int_equal(st, RIDE_FRAME_INCOMPLETE);
        }
        ride_kafka_message_release(&m);
    }
    ride_frame_free(&f);
}

/* ---- Tests ---- */

static void test_conf_pass_through_and_errors(void **state)
{
    (void)state;
    ride_parse_error perr;
    char buf[1024];
    char val[64];
    size_t vlen = sizeof val;

    ride_kv override[] = {{"linger.ms", "42", {3, 3}, {3, 14}},
                          {"bootstrap.servers", "127.0.0.1:1", {4, 3}, {4, 22}}};
    rd_kafka_conf_t *conf =
        ride_kafka_conf_new(RIDE_KAFKA_PRODUCER, "127.0.0.1:9", false, override, 2, "ride.yaml", &perr);
    assert_non_null(conf);
    assert_int_equal(rd_kafka_conf_get(conf, "linger.ms", val, &vlen), RD_KAFKA_CONF_OK);
    assert_string_equal(val, "42");
    vlen = sizeof val;
    assert_int_equal(rd_kafka_conf_get(conf, "bootstrap.servers", val, &vlen), RD_KAFKA_CONF_OK);
    assert_string_equal(val, "127.0.0.1:1");
    vlen = sizeof val;
    assert_int_equal(rd_kafka_conf_get(conf, "enable.idempotence", val, &vlen), RD_KAFKA_CONF_OK);
    assert_string_equal(val, "true");
    rd_kafka_conf_destroy(conf);

    conf = ride_kafka_conf_new(RIDE_KAFKA_CONSUMER, "127.0.0.1:9", false, NULL, 0, NULL, &perr);
    assert_non_null(conf);
    vlen = sizeof val;
    assert_int_equal(rd_kafka_conf_get(conf, "fetch.wait.max.ms", val, &vlen), RD_KAFKA_CONF_OK);
    assert_string_equal(val, "100");
    vlen = sizeof val;
    assert_int_equal(rd_kafka_conf_get(conf, "enable.auto.commit", val, &vlen), RD_KAFKA_CONF_OK);
    assert_string_equal(val, "false");
    vlen = sizeof val;
    assert_int_equal(rd_kafka_conf_get(conf, "bootstrap.servers", val, &vlen), RD_KAFKA_CONF_OK);
    assert_string_equal(val, "127.0.0.1:9");
    rd_kafka_conf_destroy(conf);

    ride_kv unknown[] = {{"no.such.property", "1", {7, 5}, {7, 23}}};
    assert_null(ride_kafka_conf_new(RIDE_KAFKA_PRODUCER, NULL, false, unknown, 1, "ride.yaml", &perr));
    ride_parse_error_format(&perr, buf, sizeof buf);
    assert_non_null(strstr(buf, "ride.yaml:7:5: "));
    assert_non_null(strstr(buf, "\"no.such.property\" = \"1\""));
    assert_non_null(strstr(buf, "No such configuration property"));

    ride_kv invalid[] = {{"linger.ms", "abc", {9, 5}, {9, 16}}};
    assert_null(ride_kafka_conf_new(RIDE_KAFKA_PRODUCER, NULL, false, invalid, 1, "ride.yaml", &perr));
    ride_parse_error_format(&perr, buf, sizeof buf);
    assert_non_null(strstr(buf, "ride.yaml:9:16: "));
    assert_non_null(strstr(buf, "\"linger.ms\" = \"abc\""));
    assert_non_null(strstr(buf, "Invalid value"));

    /* A secret's value stays out of the error (and so out of every log). */
    ride_kv secret[] = {{"sasl.password.typo", "hunter2", {5, 5}, {5, 25}}};
    assert_null(ride_kafka_conf_new(RIDE_KAFKA_PRODUCER, NULL, false, secret, 1, "ride.yaml", &perr));
    ride_parse_error_format(&perr, buf, sizeof buf);
    assert_null(strstr(buf, "hunter2"));
    assert_non_null(strstr(buf, "\"sasl.password.typo\" = \"(hidden)\""));
}

static void test_error_cause_drops_source_and_timing(void **state)
{
    (void)state;
    char cause[256];
    const char *broker = "sasl_plaintext://127.0.0.1:36711/bootstrap: SASL authentication error: "
                         "Authentication failed: Invalid username or password (after 302ms in "
                         "state AUTH_REQ, 1 identical error(s) suppressed)";
    const char *logged = "[thrd:sasl_plaintext://127.0.0.1:9/0]: sasl_plaintext://127.0.0.1:9/0: "
                         "SASL authentication error: Authentication failed: Invalid username or "
                         "password (after 3ms in state AUTH_REQ)";
    const char *want = "SASL authentication error: Authentication failed: Invalid username or "
                       "password";
    ride_kafka_error_cause(broker, cause, sizeof cause);
    assert_string_equal(cause, want);
    ride_kafka_error_cause(logged, cause, sizeof cause);
    assert_string_equal(cause, want);
    ride_kafka_error_cause("1/1 brokers are down", cause, sizeof cause);
    assert_string_equal(cause, "1/1 brokers are down");
    assert_int_equal(ride_kafka_error_cause(broker, cause, 10), 9);
}

typedef struct cause_wait {
    const char *cause;
    uint64_t suppressed;
} cause_wait;

static bool cause_passes(void *ctx)
{
    cause_wait *w = ctx;
    return ride_kafka_cause_pass(w->cause, 50, &w->suppressed);
}

static void test_cause_passes_once_per_interval(void **state)
{
    (void)state;
    uint64_t suppressed = 99;
    assert_true(ride_kafka_cause_pass("cause A", 50, &suppressed));
    assert_int_equal(suppressed, 0);
    for (int i = 0; i < 5; i++)
        assert_false(ride_kafka_cause_pass("cause A", 50, &suppressed));
    /* Another cause has its own interval. */
    assert_true(ride_kafka_cause_pass("cause B", 50, &suppressed));
    cause_wait w = {"cause A", 0};
    assert_true(ride_launch_wait_until(cause_passes, &w, 5000));
    assert_true(w.suppressed >= 5);
}

static void test_topic_create_and_check(void **state)
{
    fixture *fx = *state;
    ride_test_kafka_topic(fx->mock, "ride.app.stage", PARTITIONS);
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, ride_test_kafka_conf(fx->mock, RIDE_KAFKA_ADMIN), NULL, 0);
    assert_non_null(rk);
    assert_int_equal(ride_kafka_partition_count(rk, "ride.app.stage", TIMEOUT_MS, fx->err,
                                                sizeof fx->err),
                     PARTITIONS);
    assert_int_equal(ride_kafka_partition_count(rk, "ride.app.none", TIMEOUT_MS, fx->err,
                                                sizeof fx->err),
                     0);

    /* Same count again: success, through the mock and through the Admin path. */
    ride_kafka_topic_spec spec = {.name = "ride.app.stage", .partitions = PARTITIONS,
                                  .replication_factor = -1};
    assert_int_equal(ride_kafka_topic_ensure(fx->mock, rk, &spec, TIMEOUT_MS, fx->err,
                                             sizeof fx->err),
                     0);
    assert_int_equal(ride_kafka_topic_ensure(NULL, rk, &spec, TIMEOUT_MS, fx->err,
                                             sizeof fx->err),
                     0);

    spec.partitions = 8;
    assert_int_equal(ride_kafka_topic_ensure(fx->mock, rk, &spec, TIMEOUT_MS, fx->err,
                                             sizeof fx->err),
                     -1);
    assert_non_null(strstr(fx->err, "exists with 6 partitions, 8 wanted"));
    assert_int_equal(ride_kafka_topic_ensure(NULL, rk, &spec, TIMEOUT_MS, fx->err,
                                             sizeof fx->err),
                     -1);
    assert_non_null(strstr(fx->err, "exists with 6 partitions, 8 wanted"));
    spec.partitions = 4;
    assert_int_equal(ride_kafka_topic_ensure(NULL, rk, &spec, TIMEOUT_MS, fx->err,
                                             sizeof fx->err),
                     -1);
    assert_non_null(strstr(fx->err, "cannot remove partitions"));
    spec.partitions = 0;
    assert_int_equal(ride_kafka_topic_ensure(fx->mock, rk, &spec, TIMEOUT_MS, fx->err,
                                             sizeof fx->err),
                     -1);
    assert_non_null(strstr(fx->err, "expected 1..4096"));
    rd_kafka_destroy(rk);
}

static void test_mock_brokers_and_replication(void **state)
{
    (void)state;
    char err[512];
    assert_null(ride_kafka_mock_start(0, err, sizeof err));
    assert_non_null(strstr(err, "expected 1..16"));
    ride_kafka_mock *m = ride_kafka_mock_start(3, err, sizeof err);
    assert_non_null(m);
    /* One address per broker. */
    const char *b = ride_kafka_mock_bootstraps(m);
    int commas = 0;
    for (const char *c = b; *c; c++)
        commas += *c == ',';
    assert_int_equal(commas, 2);
    assert_non_null(strstr(b, "127.0.0.1:"));
    ride_kafka_topic_spec spec = {.name = "ride.app.replicated", .partitions = 5,
                                  .replication_factor = 3};
    assert_int_equal(ride_kafka_topic_ensure(m, NULL, &spec, TIMEOUT_MS, err, sizeof err), 0);
    assert_int_equal(ride_kafka_topic_ensure(m, NULL, &spec, TIMEOUT_MS, err, sizeof err), 0);
    spec.partitions = 6;
    spec.grow = 1;
    assert_int_equal(ride_kafka_topic_ensure(m, NULL, &spec, TIMEOUT_MS, err, sizeof err), -1);
    assert_non_null(strstr(err, "exists with 5 partitions, 6 wanted (the embedded broker"));
    spec.name = "ride.app.overreplicated";
    spec.replication_factor = 4;
    assert_int_equal(ride_kafka_topic_ensure(m, NULL, &spec, TIMEOUT_MS, err, sizeof err), -1);
    assert_non_null(strstr(err, "ride.app.overreplicated"));
    assert_non_null(strstr(err, "has 3 broker(s)"));
    assert_int_equal(ride_kafka_topic_ensure(NULL, NULL, &spec, TIMEOUT_MS, err, sizeof err), -1);
    assert_non_null(strstr(err, "no Kafka client"));
    ride_kafka_mock_stop(m);
}

/* Produces FRAMES frames of STREAMS streams round-robin over the partitions. */
static void produce_all(fixture *fx, const char *topic)
{
    deliveries d = {0, 0};
    ride_kafka_producer *p = new_producer(fx, &d, topic, PARTITIONS);
    for (int i = 0; i < FRAMES; i++)
        produce_frame(fx, p, topic, i % PARTITIONS, 64, 48, (uint32_t)(i % STREAMS),
                      (uint64_t)(i / STREAMS));
    flush(fx, p);
    assert_int_equal(d.ok, FRAMES);
    assert_int_equal(d.failed, 0);
    assert_int_equal(ride_kafka_producer_errors(p), 0);
    assert_int_equal(ride_kafka_producer_outstanding(p), 0);
    ride_kafka_producer_free(p);
}

static void assign_all(fixture *fx, ride_kafka_consumer *c, const char *topic, int64_t start)
{
    ride_kafka_tp tps[PARTITIONS];
    for (int p = 0; p < PARTITIONS; p++)
        tps[p] = (ride_kafka_tp){topic, p, start};
    if (ride_kafka_consumer_add(c, tps, PARTITIONS, fx->err, sizeof fx->err))
        fail_msg("assign: %s", fx->err);
}

static void test_frames_commit_resume_and_lag(void **state)
{
    fixture *fx = *state;
    const char *topic = "ride.app.stage";
    ride_test_kafka_topic(fx->mock, topic, PARTITIONS);
    produce_all(fx, topic);

    /* First consumer: everything from the beginning, each frame exactly once. */
    ride_kafka_consumer *c1 = new_consumer(fx);
    assign_all(fx, c1, topic, RIDE_KAFKA_OFFSET_BEGINNING);
    seen s1;
    seen_init(&s1);
    consume_frames(fx, c1, &s1, FRAMES);
    for (int st = 0; st < STREAMS; st++)
        for (int q = 0; q < FRAMES / STREAMS; q++)
            assert_int_equal(s1.count[st][q], 1);

    /* Commit at a frame boundary: after the first p + 1 frames of partition p. */
    ride_kafka_tp commit[PARTITIONS];
    int64_t high[PARTITIONS];
    int expected_lag = 0;
    for (int p = 0; p < PARTITIONS; p++) {
        assert_int_equal(s1.frames_in[p], FRAMES / PARTITIONS);
        commit[p] = (ride_kafka_tp){topic, p, s1.frame_end[p][p]};
        expected_lag += FRAMES / PARTITIONS - (p + 1);
    }
    if (ride_kafka_commit(c1, commit, PARTITIONS, fx->err, sizeof fx->err))
        fail_msg("commit: %s", fx->err);
    seen_free(&s1);
    ride_kafka_consumer_free(c1);

    /* A third handle, assigned nothing, reads the committed offsets and the lag. */
    ride_kafka_consumer *reader = new_consumer(fx);
    ride_kafka_tp got[PARTITIONS];
    for (int p = 0; p < PARTITIONS; p++)
        got[p] = (ride_kafka_tp){topic, p, 0};
    if (ride_kafka_committed(reader, got, PARTITIONS, TIMEOUT_MS, fx->err, sizeof fx->err))
        fail_msg("committed: %s", fx->err);
    int lag = 0;
    for (int p = 0; p < PARTITIONS; p++) {
        assert_int_equal(got[p].offset, commit[p].offset);
        int64_t low;
        if (ride_kafka_watermarks(ride_kafka_consumer_handle(reader), topic, p, TIMEOUT_MS, &low,
                                  &high[p], fx->err, sizeof fx->err))
            fail_msg("watermarks: %s", fx->err);
        assert_int_equal(low, 0);
        lag += (int)(high[p] - got[p].offset);
    }
    assert_int_equal(lag, expected_lag);

    /* A new consumer starting at "committed" sees exactly the uncommitted frames. */
    ride_kafka_consumer *c2 = new_consumer(fx);
    assign_all(fx, c2, topic, RIDE_KAFKA_OFFSET_COMMITTED);
    seen s2;
    seen_init(&s2);
    consume_frames(fx, c2, &s2, expected_lag);
    for (int i = 0; i < FRAMES; i++) {
        int p = i % PARTITIONS;
        int index_in_partition = i / PARTITIONS;
        int before_commit = index_in_partition <= p;
        assert_int_equal(s2.count[i % STREAMS][i / STREAMS], before_commit ? 0 : 1);
    }

    /* A group that never committed has nothing. */
    ride_kafka_consumer *other =
        ride_kafka_consumer_new(ride_test_kafka_conf(fx->mock, RIDE_KAFKA_CONSUMER),
                                "ride.app.other", fx->err, sizeof fx->err);
    assert_non_null(other);
    ride_kafka_tp none = {topic, 0, 123};
    assert_int_equal(ride_kafka_committed(other, &none, 1, TIMEOUT_MS, fx->err, sizeof fx->err),
                     0);
    assert_int_equal(none.offset, RIDE_KAFKA_OFFSET_NONE);

    ride_kafka_tp bad = {topic, 0, RIDE_KAFKA_OFFSET_BEGINNING};
    assert_int_equal(ride_kafka_commit(c2, &bad, 1, fx->err, sizeof fx->err), -1);
    assert_non_null(strstr(fx->err, "is not an offset"));

    ride_kafka_consumer_free(other);
    seen_free(&s2);
    ride_kafka_consumer_free(c2);
    ride_kafka_consumer_free(reader);
}

/* Waits for the next message and returns its partition and offset. */
static void next_message(fixture *fx, ride_kafka_consumer *c, int32_t *partition,
                         int64_t *offset)
{
    int64_t deadline = ride_clock_mono_ms() + TIMEOUT_MS;
    for (;;) {
        if (ride_clock_mono_ms() > deadline)
            fail_msg("no message within %d ms", TIMEOUT_MS);
        ride_kafka_message m;
        int rc = ride_kafka_consumer_poll(c, 100, &m, fx->err, sizeof fx->err);
        if (rc < 0)
            fail_msg("poll: %s", fx->err);
        if (rc == 1) {
            *partition = m.partition;
            *offset = m.offset;
            ride_kafka_message_release(&m);
            return;
        }
    }
}

static void test_incremental_assignment(void **state)
{
    fixture *fx = *state;
    const char *topic = "ride.app.inc";
    ride_test_kafka_topic(fx->mock, topic, 3);
    deliveries d = {0, 0};
    ride_kafka_producer *p = new_producer(fx, &d, topic, 3);
    for (int32_t part = 0; part < 3; part++)
        produce_frame(fx, p, topic, part, 16, 16, 0, (uint64_t)part);
    flush(fx, p);

    ride_kafka_consumer *c = new_consumer(fx);
    ride_kafka_tp p0 = {topic, 0, RIDE_KAFKA_OFFSET_BEGINNING};
    ride_kafka_tp p1 = {topic, 1, RIDE_KAFKA_OFFSET_BEGINNING};
    ride_kafka_tp p2 = {topic, 2, 0};
    int32_t part;
    int64_t off;
    assert_int_equal(ride_kafka_consumer_add(c, &p0, 1, fx->err, sizeof fx->err), 0);
    next_message(fx, c, &part, &off);
    assert_int_equal(part, 0);
    assert_int_equal(off, 0);
    assert_int_equal(ride_kafka_consumer_add(c, &p0, 1, fx->err, sizeof fx->err), -1);
    assert_non_null(strstr(fx->err, "assign"));

    /* Adding p1 leaves p0 where it is: the next p0 message is the new one. */
    assert_int_equal(ride_kafka_consumer_add(c, &p1, 1, fx->err, sizeof fx->err), 0);
    next_message(fx, c, &part, &off);
    assert_int_equal(part, 1);
    assert_int_equal(off, 0);
    produce_frame(fx, p, topic, 0, 16, 16, 0, 10);
    flush(fx, p);
    next_message(fx, c, &part, &off);
    assert_int_equal(part, 0);
    assert_int_equal(off, 1);

    /* After removing p0 only p1 and p2 deliver. */
    assert_int_equal(ride_kafka_consumer_remove(c, &p0, 1, fx->err, sizeof fx->err), 0);
    assert_int_equal(ride_kafka_consumer_add(c, &p2, 1, fx->err, sizeof fx->err), 0);
    produce_frame(fx, p, topic, 0, 16, 16, 0, 11);
    produce_frame(fx, p, topic, 1, 16, 16, 0, 12);
    flush(fx, p);
    int got1 = 0, got2 = 0;
    while (!(got1 && got2)) {
        next_message(fx, c, &part, &off);
        assert_int_not_equal(part, 0);
        got1 |= part == 1 && off == 1;
        got2 |= part == 2 && off == 0;
    }
    ride_kafka_tp bad = {NULL, 0, 0};
    assert_int_equal(ride_kafka_consumer_add(c, &bad, 1, fx->err, sizeof fx->err), -1);
    assert_int_equal(d.failed, 0);
    ride_kafka_consumer_free(c);
    ride_kafka_producer_free(p);
}

/* A 900x900 BGR frame (2.43 MB raw) travels as three consecutive messages. */
static void test_multi_chunk_frame_and_throughput(void **state)
{
    fixture *fx = *state;
    const char *topic = "ride.app.big";
    ride_test_kafka_topic(fx->mock, topic, 2);
    deliveries d = {0, 0};
    ride_kafka_producer *p = new_producer(fx, &d, topic, 2);
    /* Two frames into the same partition, interleaved with nothing else. */
    produce_frame(fx, p, topic, 1, 900, 900, 1, 0);
    produce_frame(fx, p, topic, 1, 900, 900, 1, 1);
    flush(fx, p);
    assert_int_equal(d.ok, 6);

    ride_kafka_consumer *c = new_consumer(fx);
    ride_kafka_tp tp = {topic, 1, RIDE_KAFKA_OFFSET_BEGINNING};
    assert_int_equal(ride_kafka_consumer_add(c, &tp, 1, fx->err, sizeof fx->err), 0);
    ride_frame_assembler *a = ride_frame_assembler_new((size_t)16 << 20, on_reject, NULL);
    assert_non_null(a);
    ride_frame f, want;
    memset(&f, 0, sizeof f);
    int64_t deadline = ride_clock_mono_ms() + TIMEOUT_MS;
    int frames = 0;
    int64_t expect_offset = 0;
    while (frames < 2) {
        assert_true(ride_clock_mono_ms() < deadline);
        ride_kafka_message m;
        int rc = ride_kafka_consumer_poll(c, 100, &m, fx->err, sizeof fx->err);
        assert_true(rc >= 0);
        if (rc == 0)
            continue;
        assert_int_equal(m.offset, expect_offset++);
        ride_frame_header h;
        assert_int_equal(ride_frame_header_parse(m.payload, m.len, &h, NULL), RIDE_FRAME_OK);
        assert_int_equal(h.chunk_count, 3);
        assert_int_equal(h.chunk_index, m.offset % 3);
        assert_true(m.len <= RIDE_FRAME_DEFAULT_MAX_MESSAGE);
        ride_frame_status st = ride_frame_assembler_push(a, m.payload, m.len, &f);
        ride_kafka_message_release(&m);
        if (st == RIDE_FRAME_INCOMPLETE)
            continue;
        assert_int_equal(st, RIDE_FRAME_OK);
        make_frame(&want, 900, 900, 1, (uint64_t)frames);
        assert_int_equal(f.seq, (uint64_t)frames);
        assert_int_equal(ride_test_max_abs_diff_u8(&f.image, &want.image), 0);
        ride_frame_free(&want);
        frames++;
    }
    ride_frame_free(&f);
    ride_frame_assembler_free(a);
    ride_kafka_consumer_free(c);

    /* Throughput on the mock, printed only: the mock is not a real broker. Each
     * message queued is passed to the hook, and its report carries the opaque. */
    const int n = 24;
    ride_frame big;
    make_frame(&big, 900, 900, 2, 0);
    sent s = {0};
    int64_t t0 = ride_clock_mono_ms();
    for (int i = 0; i < n; i++) {
        big.seq = (uint64_t)i;
        if (ride_kafka_produce_frame(p, topic, i % 2, &big, NULL, &s, count_queued, TIMEOUT_MS,
                                     fx->err, sizeof fx->err))
            fail_msg("produce: %s", fx->err);
    }
    flush(fx, p);
    assert_int_equal(s.queued, 3 * n);
    assert_int_equal(s.reported, 3 * n);
    assert_true(s.bytes > (uint64_t)n * ride_image_size(&big.image));
    assert_true(s.bytes <=
                (uint64_t)n * (ride_image_size(&big.image) + 3 * RIDE_FRAME_HEADER_LEN));
    int64_t ms = ride_clock_mono_ms() - t0;
    double mb = (double)n * (double)ride_image_size(&big.image) / 1e6;
    printf("mock produce: %d raw 900x900 BGR frames, %.1f MB in %" PRId64 " ms: %.0f MB/s\n", n,
           mb, ms, mb / ((double)(ms > 0 ? ms : 1) / 1000.0));
    ride_frame_free(&big);
    assert_int_equal(d.failed, 0);
    assert_int_equal(d.ok, 6 + 3 * n);
    ride_kafka_producer_free(p);
}

/* A sender that refuses the frames it is told to: its sent counts come first,
 * for count_queued. */
typedef struct admission {
    sent s;
    bool refuse;
} admission;

static bool admit_unless_refused(void *opaque, size_t messages, uint64_t bytes)
{
    (void)bytes;
    const admission *ad = opaque;
    return messages == 3 && !ad->refuse;
}

static int64_t thread_cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Sends frames 0..n-1 of stream 3 (900x900 BGR) through the admission, every
 * odd one refused; returns the sending thread's CPU in ns. */
static int64_t send_admitted(fixture *fx, ride_kafka_producer *p, const char *topic, int n)
{
    admission ad = {{0}, false};
    int64_t cpu = 0;
    for (int i = 0; i < n; i++) {
        ride_frame f;
        make_frame(&f, 900, 900, 3, (uint64_t)i);
        ad.refuse = i % 2 != 0;
        int64_t t0 = thread_cpu_ns();
        int rc = ride_kafka_produce_frame_admitted(p, topic, 0, &f, NULL, &ad, count_queued,
                                                   admit_unless_refused, TIMEOUT_MS, fx->err,
                                                   sizeof fx->err);
        cpu += thread_cpu_ns() - t0;
        ride_frame_free(&f);
        assert_int_equal(rc, i % 2);
        flush(fx, p);
    }
    assert_int_equal(ad.s.queued, 3 * ((n + 1) / 2));
    return cpu;
}

/* Frames sent through the admission come back whole (librdkafka frees their
 * messages once delivered, no copy of its own), a refused one queues nothing; and
 * the CPU the sending thread spends per raw 900x900 BGR frame, printed only. */
static void test_admitted_frames(void **state)
{
    fixture *fx = *state;
    const char *timed = "ride.app.admitted.timed", *topic = "ride.app.admitted";
    ride_test_kafka_topic(fx->mock, timed, 1);
    ride_test_kafka_topic(fx->mock, topic, 1);
    deliveries d = {0, 0};
    ride_kafka_producer *p = new_producer(fx, &d, timed, 1);
    const int n = 40;
    int64_t cpu = send_admitted(fx, p, timed, n);
    printf("admitted produce: %.2f ms of the sending thread's CPU per raw 900x900 BGR frame\n",
           (double)cpu / (n / 2) / 1e6);
    /* Two frames fit the mock's 5 MiB: all of them are read back. */
    send_admitted(fx, p, topic, 3);
    assert_int_equal(d.failed, 0);
    assert_int_equal(d.ok, 3 * (n / 2 + 2));

    ride_kafka_consumer *c = new_consumer(fx);
    ride_kafka_tp tp = {topic, 0, RIDE_KAFKA_OFFSET_BEGINNING};
    assert_int_equal(ride_kafka_consumer_add(c, &tp, 1, fx->err, sizeof fx->err), 0);
    ride_frame_assembler *a = ride_frame_assembler_new((size_t)16 << 20, on_reject, NULL);
    ride_frame got, want;
    memset(&got, 0, sizeof got);
    int64_t deadline = ride_clock_mono_ms() + TIMEOUT_MS;
    for (uint64_t seq = 0; seq < 3; seq += 2) {
        ride_frame_status st = RIDE_FRAME_INCOMPLETE;
        while (st == RIDE_FRAME_INCOMPLETE) {
            assert_true(ride_clock_mono_ms() < deadline);
            ride_kafka_message m;
            int rc = ride_kafka_consumer_poll(c, 100, &m, fx->err, sizeof fx->err);
            assert_true(rc >= 0);
            if (rc == 0)
                continue;
            st = ride_frame_assembler_push(a, m.payload, m.len, &got);
            ride_kafka_message_release(&m);
        }
        assert_int_equal(st, RIDE_FRAME_OK);
        assert_int_equal(got.seq, seq);
        make_frame(&want, 900, 900, 3, seq);
        assert_int_equal(ride_test_max_abs_diff_u8(&got.image, &want.image), 0);
        ride_frame_free(&want);
    }
    ride_frame_free(&got);
    ride_frame_assembler_free(a);
    ride_kafka_consumer_free(c);
    ride_kafka_producer_free(p);
}

/* The mock keeps about 5 MB per partition: ~12 MB into one partition moves its
 * log start, which is why embedded-mode producers must bound their backlog. */
static void test_mock_retention_moves_log_start(void **state)
{
    fixture *fx = *state;
    const char *topic = "ride.app.retention";
    ride_test_kafka_topic(fx->mock, topic, 1);
    deliveries d = {0, 0};
    ride_kafka_producer *p = new_producer(fx, &d, topic, 1);
    for (int i = 0; i < 5; i++)
        produce_frame(fx, p, topic, 0, 900, 900, 0, (uint64_t)i);
    flush(fx, p);
    assert_int_equal(d.ok, 15);
    int64_t low = 0, high = 0;
    int64_t deadline = ride_clock_mono_ms() + TIMEOUT_MS;
    do {
        if (ride_kafka_watermarks(ride_kafka_producer_handle(p), topic, 0, TIMEOUT_MS, &low,
                                  &high, fx->err, sizeof fx->err))
            fail_msg("watermarks: %s", fx->err);
    } while (low == 0 && ride_clock_mono_ms() < deadline && ride_kafka_producer_poll(p, 20) >= 0);
    assert_int_equal(high, 15);
    assert_true(low > 0);
    ride_kafka_producer_free(p);
}

/* ---- Message sizes ---- */

static int64_t conf_size(rd_kafka_conf_t *conf, const char *key)
{
    char val[64];
    size_t len = sizeof val;
    assert_int_equal(rd_kafka_conf_get(conf, key, val, &len), RD_KAFKA_CONF_OK);
    return strtoll(val, NULL, 10);
}

static void test_message_room(void **state)
{
    (void)state;
    /* A Kafka 2.4 broker (message.max.bytes 1000012) took 999,940-byte messages
     * and refused 999,950-byte ones. */
    assert_int_equal(ride_kafka_message_room(1000012), 999940);
    /* Kafka 2.5 and later: 1048588. */
    assert_int_equal(ride_kafka_message_room(1048588), 1048516);
    /* Where the varints shrink: 61 + 1 + 5 + 1 + 40 bytes. */
    assert_int_equal(ride_kafka_message_room(108), 40);
    assert_int_equal(ride_kafka_message_room(60), 0);
    for (int64_t limit = 100; limit < 5000000; limit = limit * 3 + 7) {
        size_t room = ride_kafka_message_room(limit);
        assert_true(room > 0 && (int64_t)room < limit);
        assert_true(ride_kafka_message_room(limit + 1) >= room);
    }
}

static void test_budget_within_retention(void **state)
{
    (void)state;
    const uint64_t mib = 1 << 20;
    /* RIDE's default topics keep 256 MiB per partition: 64 MiB fits. */
    assert_int_equal(ride_kafka_budget_within_retention(64 * mib, 256 * (int64_t)mib), 64 * mib);
    assert_int_equal(ride_kafka_budget_within_retention(64 * mib, 100 * (int64_t)mib), 25 * mib);
    /* No limit, or none known: the budget stands. */
    assert_int_equal(ride_kafka_budget_within_retention(64 * mib, -1), 64 * mib);
    assert_int_equal(ride_kafka_budget_within_retention(64 * mib, 0), 64 * mib);
    assert_int_equal(ride_kafka_budget_within_retention(64 * mib, 3), 1);
}

static void test_mock_message_limit_unknown(void **state)
{
    fixture *fx = *state;
    ride_test_kafka_topic(fx->mock, "sizes", 1);
    rd_kafka_conf_t *conf = ride_test_kafka_conf(fx->mock, RIDE_KAFKA_PRODUCER);
    ride_kafka_producer *p = ride_kafka_producer_new(conf, NULL, NULL, fx->err, sizeof fx->err);
    assert_non_null(p);
    rd_kafka_t *rk = ride_kafka_producer_handle(p);
    /* The mock answers no DescribeConfigs: unknown at once, and the configured
     * size stands. */
    int64_t t0 = ride_clock_mono_ms();
    int64_t limit = -1;
    int known = ride_kafka_topic_message_limit(rk, "sizes", TIMEOUT_MS, &limit, fx->err,
                                               sizeof fx->err);
    int64_t first_ms = ride_clock_mono_ms() - t0;
    if (known < 0)
        fail_msg("limit: %s", fx->err);
    printf("mock message limit: known=%d in %" PRId64 " ms\n", known, first_ms);
    assert_int_equal(known, 0);
    assert_int_equal(limit, 0);
    assert_true(first_ms < TIMEOUT_MS);
    assert_int_equal(ride_kafka_message_size(rk, "sizes", 777777, TIMEOUT_MS, &limit), 777777);
    assert_int_equal(ride_kafka_check_batch(rk, "sizes", limit, fx->err, sizeof fx->err), 0);
    /* Nor a retention: the backlog budget stands. */
    assert_int_equal(ride_kafka_backlog_budget(rk, "sizes", 12345678, TIMEOUT_MS), 12345678);
    ride_kafka_producer_free(p);
}

static void test_conf_fit_messages(void **state)
{
    (void)state;
    ride_parse_error perr;
    rd_kafka_conf_t *conf =
        ride_kafka_conf_new(RIDE_KAFKA_PRODUCER, "127.0.0.1:9", false, NULL, 0, NULL, &perr);
    assert_non_null(conf);
    int64_t batch = conf_size(conf, "batch.size");
    /* Unknown limit, default message: nothing changes. */
    assert_int_equal(ride_kafka_conf_fit_messages(conf, NULL, 0, 1000000, 0, NULL, 0), 0);
    assert_int_equal(conf_size(conf, "message.max.bytes"), 1048576);
    assert_int_equal(conf_size(conf, "batch.size"), batch);
    /* A larger message raises the client's limit; a small topic limit lowers
     * batch.size to it. */
    assert_int_equal(ride_kafka_conf_fit_messages(conf, NULL, 0, 2000000, 500000, NULL, 0), 0);
    assert_int_equal(conf_size(conf, "message.max.bytes"), 2000000 + 48576);
    assert_int_equal(conf_size(conf, "batch.size"), 500000);
    rd_kafka_conf_destroy(conf);

    /* A message.max.bytes of the user's map stays. */
    ride_kv user[] = {{"message.max.bytes", "3000000", {1, 1}, {1, 1}}};
    conf = ride_kafka_conf_new(RIDE_KAFKA_PRODUCER, "127.0.0.1:9", false, user, 1, NULL, &perr);
    assert_non_null(conf);
    assert_int_equal(ride_kafka_conf_fit_messages(conf, user, 1, 2000000, 0, NULL, 0), 0);
    assert_int_equal(conf_size(conf, "message.max.bytes"), 3000000);
    rd_kafka_conf_destroy(conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_pass_through_and_errors),
        cmocka_unit_test(test_mock_brokers_and_replication),
        cmocka_unit_test(test_message_room),
        cmocka_unit_test(test_conf_fit_messages),
        cmocka_unit_test(test_budget_within_retention),
        cmocka_unit_test_setup_teardown(test_mock_message_limit_unknown, setup, teardown),
        cmocka_unit_test(test_error_cause_drops_source_and_timing),
        cmocka_unit_test(test_cause_passes_once_per_interval),
        cmocka_unit_test_setup_teardown(test_topic_create_and_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frames_commit_resume_and_lag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incremental_assignment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_chunk_frame_and_throughput, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mock_retention_moves_log_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admitted_frames, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
