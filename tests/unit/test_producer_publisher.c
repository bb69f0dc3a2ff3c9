/* Producer publisher against the in-process mock cluster: round-robin over a
 * stage's partitions with every sequence number consumed exactly once, JPEG
 * frames, backpressure on bytes in flight and on this source's share of what the
 * stage's group has not consumed (drops counted, nothing else lost; frames larger
 * than the share refused), and waiting instead of dropping. */
#include <inttypes.h>
#include "base/clock.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "publisher.h"
#include "ride_test_kafka.h"
#include "kafka/backlog.h"
#include "kafka/kafka.h"
#include "kafka/share.h"
#include "media/synthetic.h"

#define TIMEOUT_MS 10000
#define PARTITIONS 4
#define FRAMES 40
#define W 32
#define H 24
#define STREAM 9u
#define READERS "ride.app.readers"

typedef struct fixture {
    ride_kafka_mock *mock;
    ride_kafka_producer *producer;
    ride_kafka_consumer *consumer; /* reads each test's topic back */
    int topics;
    char topic[64];
    char err[512];
} fixture;

/* A fresh topic per test, its metadata primed in the producer. */
static void new_topic(fixture *fx, int partitions)
{
    snprintf(fx->topic, sizeof fx->topic, "ride.app.stage%d", fx->topics++);
    ride_test_kafka_topic(fx->mock, fx->topic, partitions);
    assert_int_equal(ride_kafka_partition_count(ride_kafka_producer_handle(fx->producer),
                                                fx->topic, TIMEOUT_MS, fx->err, sizeof fx->err),
                     partitions);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->mock = ride_test_kafka_mock();
    fx->producer = ride_kafka_producer_new(ride_test_kafka_conf(fx->mock, RIDE_KAFKA_PRODUCER),
                                           ride_publisher_on_delivery, NULL, fx->err,
                                           sizeof fx->err);
    if (!fx->producer)
        fail_msg("producer: %s", fx->err);
    fx->consumer = ride_kafka_consumer_new(ride_test_kafka_conf(fx->mock, RIDE_KAFKA_CONSUMER),
                                           "ride.app.test", fx->err, sizeof fx->err);
    if (!fx->consumer)
        fail_msg("consumer: %s", fx->err);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ride_kafka_consumer_free(fx->consumer);
    ride_kafka_producer_free(fx->producer);
    ride_kafka_mock_stop(fx->mock);
    free(fx);
    return 0;
}

static ride_publisher *new_publisher(fixture *fx, ride_publisher_opts *o)
{
    o->topic = fx->topic;
    ride_publisher *pub = ride_publisher_new(fx->producer, o, fx->err, sizeof fx->err);
    if (!pub)
        fail_msg("publisher: %s", fx->err);
    return pub;
}

static void make_frame(ride_frame *f, uint64_t seq)
{
    assert_int_equal(ride_synthetic_render(STREAM, seq, W, H, &f->image), 0);
    f->stream_id = STREAM;
    f->seq = seq;
    f->capture_ns = 1000u + seq;
}

/* Offers frames [first, first + count) and returns how many were queued. */
static int publish_frames(fixture *fx, ride_publisher *pub, uint64_t first, int count)
{
    ride_frame f = {0};
    int queued = 0;
    for (int i = 0; i < count; i++) {
        make_frame(&f, first + (uint64_t)i);
        ride_publish_result rc = ride_publisher_publish(pub, &f, 0, fx->err, sizeof fx->err);
        if (rc == RIDE_PUBLISH_QUEUED)
            queued++;
        else
            assert_int_equal(rc, RIDE_PUBLISH_DROPPED);
    }
    ride_frame_free(&f);
    return queued;
}

static void flush(fixture *fx)
{
    if (ride_kafka_producer_flush(fx->producer, TIMEOUT_MS, fx->err, sizeof fx->err))
        fail_msg("flush: %s", fx->err);
}

/* ---- Reading back ---- */

#define MAX_READ 64

typedef struct readback {
    int count;
    int32_t partition[MAX_READ];
    uint64_t seq[MAX_READ];
    double diff[MAX_READ]; /* mean absolute difference from the rendered frame */
    int rejected;
} readback;

static void count_reject(void *ctx, const ride_frame_reject *reject)
{
    (void)reject;
    ((readback *)ctx)->rejected++;
}

/* Consumes every partition from the beginning until `expect` frames came,
 * reassembling each partition's messages. */
static void read_back(fixture *fx, int partitions, int expect, readback *rb)
{
    memset(rb, 0, sizeof *rb);
    ride_kafka_consumer *c = fx->consumer;
    /* Reading the new topic's metadata first spares waiting for the next refresh. */
    assert_int_equal(ride_kafka_partition_count(ride_kafka_consumer_handle(c), fx->topic,
                                                TIMEOUT_MS, fx->err, sizeof fx->err),
                     partitions);
    ride_kafka_tp tps[PARTITIONS];
    ride_frame_assembler *as[PARTITIONS];
    for (int p = 0; p < partitions; p++) {
        tps[p] = (ride_kafka_tp){fx->topic, p, RIDE_KAFKA_OFFSET_BEGINNING};
        as[p] = ride_frame_assembler_new(1u << 24, count_reject, rb);
        assert_non_null(as[p]);
    }
    assert_int_equal(ride_kafka_consumer_add(c, tps, (size_t)partitions, fx->err, sizeof fx->err),
                     0);
    ride_frame f = {0};
    ride_image want = {0};
    int64_t deadline = ride_clock_mono_ms() + TIMEOUT_MS;
    while (rb->count < expect && ride_clock_mono_ms() < deadline) {
        ride_kafka_message m;
        int rc = ride_kafka_consumer_poll(c, 100, &m, fx->err, sizeof fx->err);
        if (rc <= 0)
            continue;
        assert_in_range(m.partition, 0, partitions - 1);
        ride_frame_status st = ride_frame_assembler_push(as[m.partition], m.payload, m.len, &f);
        if (st == RIDE_FRAME_OK) {
            assert_true(rb->count < MAX_READ);
            assert_int_equal(f.stream_id, STREAM);
            assert_int_equal(ride_synthetic_render(STREAM, f.seq, W, H, &want), 0);
            rb->partition[rb->count] = m.partition;
            rb->seq[rb->count] = f.seq;
            rb->diff[rb->count] = ride_test_mean_abs_diff_u8(&f.image, &want);
            rb->count++;
        }
        ride_kafka_message_release(&m);
    }
    /* Nothing more than expected arrives. */
    ride_kafka_message m;
    while (ride_kafka_consumer_poll(c, 100, &m, fx->err, sizeof fx->err) == 1) {
        rb->count++;
        ride_kafka_message_release(&m);
    }
    assert_int_equal(rb->count, expect);
    assert_int_equal(rb->rejected, 0);
    ride_frame_free(&f);
    ride_image_free(&want);
    for (int p = 0; p < partitions; p++)
        ride_frame_assembler_free(as[p]);
    assert_int_equal(
        ride_kafka_consumer_remove(c, tps, (size_t)partitions, fx->err, sizeof fx->err), 0);
}

/* ---- Tests ---- */

static void test_round_robin_every_seq_once(void **state)
{
    fixture *fx = *state;
    new_topic(fx, PARTITIONS);
    ride_publisher_opts o = {.partitions = PARTITIONS, .start_partition = 2};
    ride_publisher *pub = new_publisher(fx, &o);
    assert_int_equal(ride_publisher_next_partition(pub), 2);
    assert_int_equal(publish_frames(fx, pub, 0, FRAMES), FRAMES);
    flush(fx);

    ride_publisher_stats st;
    ride_publisher_stats_get(pub, &st);
    assert_int_equal(st.offered, FRAMES);
    assert_int_equal(st.produced, FRAMES);
    assert_int_equal(st.delivered, FRAMES);
    assert_int_equal(st.messages, FRAMES); /* one message per frame */
    assert_true(st.bytes >= (uint64_t)FRAMES * (W * H * 3 + RIDE_FRAME_HEADER_LEN));
    for (int r = 0; r < RIDE_DROP_REASON_COUNT; r++)
        assert_int_equal(st.dropped[r], 0);
    for (int p = 0; p < PARTITIONS; p++)
        assert_int_equal(ride_publisher_in_flight(pub, p), 0);

    readback rb;
    read_back(fx, PARTITIONS, FRAMES, &rb);
    int seen[FRAMES] = {0};
    int per_partition[PARTITIONS] = {0};
    uint64_t last[PARTITIONS];
    for (int i = 0; i < rb.count; i++) {
        int32_t p = rb.partition[i];
        uint64_t seq = rb.seq[i];
        assert_true(seq < FRAMES);
        seen[seq]++;
        /* Frame i went to partition (2 + i) mod 4, in order within it. */
        assert_int_equal(p, (int32_t)((2 + seq) % PARTITIONS));
        if (per_partition[p])
            assert_int_equal(seq, last[p] + PARTITIONS);
        last[p] = seq;
        per_partition[p]++;
        assert_true(rb.diff[i] == 0.0);
    }
    for (int s = 0; s < FRAMES; s++)
        assert_int_equal(seen[s], 1);
    for (int p = 0; p < PARTITIONS; p++)
        assert_int_equal(per_partition[p], FRAMES / PARTITIONS);
    ride_publisher_free(pub);
}

static void test_jpeg_and_chunks(void **state)
{
    fixture *fx = *state;
    new_topic(fx, 2);
    ride_publisher_opts o = {.partitions = 2, .write = {RIDE_ENC_JPEG, 90, 0}};
    ride_publisher *pub = new_publisher(fx, &o);
    assert_int_equal(publish_frames(fx, pub, 0, 6), 6);
    flush(fx);
    ride_publisher_stats st;
    ride_publisher_stats_get(pub, &st);
    /* Compressed: well under the raw size. */
    assert_true(st.bytes < 6u * W * H * 3);
    readback rb;
    read_back(fx, 2, 6, &rb);
    /* Lossy, and close: the synthetic frames' per-pixel noise is what JPEG loses. */
    for (int i = 0; i < rb.count; i++)
        assert_true(rb.diff[i] > 0.0 && rb.diff[i] < 20.0);
    ride_publisher_free(pub);

    /* Small messages split each raw frame into chunks, all in one partition. */
    new_topic(fx, 2);
    o = (ride_publisher_opts){.partitions = 2, .write = {RIDE_ENC_RAW, -1, 600}};
    pub = new_publisher(fx, &o);
    assert_int_equal(publish_frames(fx, pub, 0, 4), 4);
    flush(fx);
    ride_publisher_stats_get(pub, &st);
    assert_int_equal(st.delivered, 4);
    /* Each frame's payload in 600-byte messages, header included. */
    size_t room = 600 - RIDE_FRAME_HEADER_LEN;
    size_t per_frame = (W * H * 3 + room - 1) / room;
    assert_int_equal(st.messages, 4 * per_frame);
    read_back(fx, 2, 4, &rb);
    for (int i = 0; i < rb.count; i++) {
        assert_int_equal(rb.partition[i], (int32_t)(rb.seq[i] % 2));
        assert_true(rb.diff[i] == 0.0);
    }
    ride_publisher_free(pub);
}

static void test_backpressure_in_flight(void **state)
{
    fixture *fx = *state;
    new_topic(fx, PARTITIONS);
    /* A budget below one frame: a partition takes a frame only when nothing is
     * in flight there, and no delivery report is served while publishing. */
    ride_publisher_opts o = {.partitions = PARTITIONS, .max_backlog_bytes = 1};
    ride_publisher *pub = new_publisher(fx, &o);
    int queued = publish_frames(fx, pub, 0, FRAMES);
    assert_int_equal(queued, PARTITIONS);
    ride_publisher_stats st;
    ride_publisher_stats_get(pub, &st);
    assert_int_equal(st.offered, FRAMES);
    assert_int_equal(st.produced, PARTITIONS);
    assert_int_equal(st.dropped[RIDE_DROP_BACKPRESSURE], FRAMES - PARTITIONS);
    assert_int_equal(st.produced + st.dropped[RIDE_DROP_BACKPRESSURE], FRAMES);
    for (int p = 0; p < PARTITIONS; p++)
        assert_true(ride_publisher_in_flight(pub, p) > 0);
    assert_string_equal(ride_drop_reason_name(RIDE_DROP_BACKPRESSURE), "backpressure");
    assert_non_null(strstr(fx->err, "backlog"));

    flush(fx);
    ride_publisher_stats_get(pub, &st);
    assert_int_equal(st.delivered, PARTITIONS);
    assert_int_equal(st.dropped[RIDE_DROP_DELIVERY_FAILED], 0);
    for (int p = 0; p < PARTITIONS; p++)
        assert_int_equal(ride_publisher_in_flight(pub, p), 0);

    /* What was produced is all there: the first frame of each partition. */
    readback rb;
    read_back(fx, PARTITIONS, PARTITIONS, &rb);
    int seen[PARTITIONS] = {0};
    for (int i = 0; i < rb.count; i++) {
        assert_true(rb.seq[i] < PARTITIONS);
        seen[rb.seq[i]]++;
    }
    for (int s = 0; s < PARTITIONS; s++)
        assert_int_equal(seen[s], 1);
    ride_publisher_free(pub);
}

/* A monitor of the READERS group on the current topic. */
static ride_backlog *new_backlog(fixture *fx, int partitions)
{
    ride_backlog_opts bo = {fx->topic, READERS, partitions, 10,
                            ride_test_kafka_conf(fx->mock, RIDE_KAFKA_CONSUMER)};
    ride_backlog *b = ride_backlog_new(&bo, fx->err, sizeof fx->err);
    if (!b)
        fail_msg("backlog: %s", fx->err);
    return b;
}

/* Waits until two more refreshes are in: a share made before the wait has its
 * barrier then. */
static void wait_refreshes(ride_backlog *b)
{
    int64_t end, consumed;
    uint64_t first, now;
    assert_true(ride_backlog_figures(b, 0, &end, &consumed, &first));
    int64_t deadline = ride_clock_mono_ms() + TIMEOUT_MS;
    do {
        ride_clock_sleep_until_ns(ride_clock_mono_ns() + 2 * INT64_C(1000000));
        assert_true(ride_backlog_figures(b, 0, &end, &consumed, &now));
    } while (now < first + 2 && ride_clock_mono_ms() < deadline);
    assert_true(now >= first + 2);
}

static void commit(fixture *fx, int32_t partition, int64_t offset)
{
    ride_kafka_consumer *c = ride_kafka_consumer_new(
        ride_test_kafka_conf(fx->mock, RIDE_KAFKA_CONSUMER), READERS, fx->err, sizeof fx->err);
    assert_non_null(c);
    ride_kafka_tp tp = {fx->topic, partition, offset};
    if (ride_kafka_commit(c, &tp, 1, fx->err, sizeof fx->err))
        fail_msg("commit: %s", fx->err);
    ride_kafka_consumer_free(c);
}

/* What one test frame takes of a share, measured on a topic of its own. */
static uint64_t frame_need(fixture *fx)
{
    new_topic(fx, 1);
    ride_publisher_opts o = {.partitions = 1};
    ride_publisher *pub = new_publisher(fx, &o);
    assert_int_equal(publish_frames(fx, pub, 0, 1), 1);
    uint64_t need = ride_publisher_in_flight(pub, 0);
    flush(fx);
    ride_publisher_free(pub);
    assert_true(need > RIDE_SHARE_MESSAGE_OVERHEAD);
    return need;
}

/* Strict shares of two frames per partition: what the group has not consumed
 * keeps counting after delivery, what it commits frees room, and a frame larger
 * than the whole share is refused. */
static void test_backpressure_share(void **state)
{
    fixture *fx = *state;
    uint64_t need = frame_need(fx);
    new_topic(fx, 2);
    ride_backlog *b = new_backlog(fx, 2);
    /* Two writers: shares of a third of the budget. */
    ride_publisher_opts o = {.partitions = 2, .max_backlog_bytes = 6 * need, .writers = 2,
                             .strict = true, .backlog = b};
    ride_publisher *pub = new_publisher(fx, &o);
    wait_refreshes(b);
    int queued = 0;
    for (uint64_t i = 0; i < 10; i++) {
        queued += publish_frames(fx, pub, i, 1);
        flush(fx);
    }
    ride_publisher_stats st;
    ride_publisher_stats_get(pub, &st);
    assert_int_equal(queued, 4);
    assert_int_equal(st.dropped[RIDE_DROP_BACKPRESSURE], 6);
    assert_non_null(strstr(fx->err, "backlog"));
    for (int p = 0; p < 2; p++)
        assert_int_equal(ride_publisher_in_flight(pub, p), 2 * need);

    commit(fx, 0, 2);
    commit(fx, 1, 1);
    wait_refreshes(b);
    assert_int_equal(ride_publisher_in_flight(pub, 0), 0);
    assert_int_equal(ride_publisher_in_flight(pub, 1), need);
    assert_int_equal(publish_frames(fx, pub, 10, 4), 3);
    ride_publisher_free(pub);

    /* A share below one frame: refused, not waited for. */
    o.max_backlog_bytes = need;
    pub = new_publisher(fx, &o);
    wait_refreshes(b);
    commit(fx, 0, 4);
    commit(fx, 1, 3);
    wait_refreshes(b);
    assert_int_equal(publish_frames(fx, pub, 20, 2), 0);
    ride_publisher_stats_get(pub, &st);
    assert_int_equal(st.dropped[RIDE_DROP_PRODUCE_FAILED], 2);
    assert_int_equal(st.dropped[RIDE_DROP_BACKPRESSURE], 0);
    assert_non_null(strstr(fx->err, "share"));
    ride_publisher_free(pub);
    ride_backlog_free(b);
}

/* A frame whose messages were sent but never answered (the broker's reply comes
 * after the message timeout) may be in Kafka all the same: dropped as
 * delivery_unknown, not delivery_failed. */
/* The Kafka protocol's ApiKey of Produce requests (librdkafka keeps its name private). */
#define KAFKA_API_PRODUCE 0

static void test_unanswered_frame_is_delivery_unknown(void **state)
{
    fixture *fx = *state;
    new_topic(fx, 1);
    rd_kafka_conf_t *conf = ride_test_kafka_conf(fx->mock, RIDE_KAFKA_PRODUCER);
    char reason[256];
    assert_int_equal(rd_kafka_conf_set(conf, "message.timeout.ms", "300", reason, sizeof reason),
                     RD_KAFKA_CONF_OK);
    ride_kafka_producer *slow =
        ride_kafka_producer_new(conf, ride_publisher_on_delivery, NULL, fx->err, sizeof fx->err);
    assert_non_null(slow);
    assert_int_equal(ride_kafka_partition_count(ride_kafka_producer_handle(slow), fx->topic,
                                                TIMEOUT_MS, fx->err, sizeof fx->err),
                     1);
    rd_kafka_mock_cluster_t *mc = ride_kafka_mock_cluster(fx->mock);
    assert_int_equal(rd_kafka_mock_broker_push_request_error_rtts(
                         mc, 1, KAFKA_API_PRODUCE, 1, RD_KAFKA_RESP_ERR_NO_ERROR, 2000),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    ride_publisher_opts o = {.partitions = 1, .topic = fx->topic};
    ride_publisher *pub = ride_publisher_new(slow, &o, fx->err, sizeof fx->err);
    assert_non_null(pub);
    ride_frame f = {0};
    make_frame(&f, 0);
    assert_int_equal(ride_publisher_publish(pub, &f, 0, fx->err, sizeof fx->err),
                     RIDE_PUBLISH_QUEUED);
    ride_frame_free(&f);
    ride_kafka_producer_flush(slow, TIMEOUT_MS, fx->err, sizeof fx->err);
    ride_publisher_stats st;
    ride_publisher_stats_get(pub, &st);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(st.dropped[RIDE_DROP_DELIVERY_FAILED], 0);
    assert_int_equal(st.dropped[RIDE_DROP_DELIVERY_UNKNOWN], 1);
    ride_publisher_free(pub);
    ride_kafka_producer_free(slow);
}

static void test_wait_when_full(void **state)
{
    fixture *fx = *state;
    new_topic(fx, 2);
    ride_publisher_opts o = {.partitions = 2, .max_backlog_bytes = 1, .wait_when_full = true};
    ride_publisher *pub = new_publisher(fx, &o);
    ride_frame f = {0};
    for (uint64_t i = 0; i < 12; i++) {
        make_frame(&f, i);
        assert_int_equal(ride_publisher_publish(pub, &f, TIMEOUT_MS, fx->err, sizeof fx->err),
                         RIDE_PUBLISH_QUEUED);
    }
    flush(fx);
    ride_publisher_stats st;
    ride_publisher_stats_get(pub, &st);
    assert_int_equal(st.delivered, 12);
    assert_int_equal(st.dropped[RIDE_DROP_BACKPRESSURE], 0);

    /* A partition whose unconsumed frames cannot drain within the wait: the
     * frame is not taken (and not counted) and goes to the same partition when
     * offered again. */
    ride_publisher_free(pub);
    uint64_t need = frame_need(fx);
    new_topic(fx, 2);
    ride_backlog *b = new_backlog(fx, 2);
    o.max_backlog_bytes = 2 * need;
    o.strict = true;
    o.backlog = b;
    pub = new_publisher(fx, &o);
    wait_refreshes(b);
    make_frame(&f, 0);
    assert_int_equal(ride_publisher_publish(pub, &f, 0, fx->err, sizeof fx->err),
                     RIDE_PUBLISH_QUEUED);
    flush(fx);
    make_frame(&f, 1);
    assert_int_equal(ride_publisher_publish(pub, &f, 0, fx->err, sizeof fx->err),
                     RIDE_PUBLISH_QUEUED);
    flush(fx);
    make_frame(&f, 2);
    int64_t t0 = ride_clock_mono_ms();
    assert_int_equal(ride_publisher_publish(pub, &f, 50, fx->err, sizeof fx->err),
                     RIDE_PUBLISH_FULL);
    assert_true(ride_clock_mono_ms() - t0 >= 45);
    assert_int_equal(ride_publisher_next_partition(pub), 0);
    ride_publisher_stats_get(pub, &st);
    assert_int_equal(st.offered, 2);
    ride_frame_free(&f);
    ride_publisher_free(pub);
    ride_backlog_free(b);
}

static void test_bad_options(void **state)
{
    fixture *fx = *state;
    ride_publisher_opts o = {.topic = "ride.app.x", .partitions = 0};
    assert_null(ride_publisher_new(fx->producer, &o, fx->err, sizeof fx->err));
    assert_non_null(strstr(fx->err, "partitions"));
    o.partitions = 2;
    o.write.max_message_bytes = RIDE_FRAME_HEADER_LEN;
    assert_null(ride_publisher_new(fx->producer, &o, fx->err, sizeof fx->err));
    o.write.max_message_bytes = 0;
    o.topic = NULL;
    assert_null(ride_publisher_new(fx->producer, &o, fx->err, sizeof fx->err));
    assert_null(ride_publisher_new(NULL, &o, fx->err, sizeof fx->err));
    /* A strict budget needs the group's figures and must fit the embedded broker. */
    o.topic = "ride.app.x";
    o.strict = true;
    assert_null(ride_publisher_new(fx->producer, &o, fx->err, sizeof fx->err));
    assert_non_null(strstr(fx->err, "max_backlog_bytes"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_robin_every_seq_once),
        cmocka_unit_test(test_jpeg_and_chunks),
        cmocka_unit_test(test_backpressure_in_flight),
        cmocka_unit_test(test_backpressure_share),
        cmocka_unit_test(test_unanswered_frame_is_delivery_unknown),
        cmocka_unit_test(test_wait_when_full),
        cmocka_unit_test(test_bad_options),
    };
    /* One cluster for all tests (starting one takes most of a second); each
     * test uses topics of its own. */
    return cmocka_run_group_tests(tests, setup, teardown);
}
