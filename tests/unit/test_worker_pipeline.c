/* The worker's partition pipeline against librdkafka's in-process mock cluster:
 * every frame output exactly once and committed after delivery; a crash without a
 * final commit loses nothing on resume; a removed partition commits nothing more;
 * corrupt input and failing tasks are counted and committed past; frames in
 * flight through the task come out in order and are not written once their
 * partition is gone; a delivery failure while the partition is paused rewinds it
 * without a busy loop; every step of a frame's work is timed into the worker's
 * ride_worker_step_seconds, decode and encode only for encoded frames. */
#include <inttypes.h>
#include "base/clock.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "pipeline.h"
#include "offsets.h"
#include "ride_test_kafka.h"
#include "kernels/kernels.h"
#include "media/synthetic.h"

#define TIMEOUT_MS 10000
#define PARTITIONS 6
#define STREAMS 2
#define FRAMES 60 /* per stream */
#define INPUT "ride.app.gray"
#define OUTPUT "app.gray.out"
#define GROUP "ride.app.gray"
#define MAX_FRAME_BYTES ((size_t)16 << 20)

/* The task of most tests: grayscale, done at submit and handed back by the next
 * collect; the frame (fail_stream, fail_seq) fails at submit. */
typedef struct gray_task {
    int fail_stream; /* -1: none */
    uint64_t fail_seq;
    ride_frame done;
    bool holding;
} gray_task;

typedef struct fixture {
    ride_kafka_mock *mock;
    ride_kafka_producer *input;
    gray_task gray;
    char err[512];
} fixture;

static rd_kafka_conf_t *conf_for(fixture *fx, ride_kafka_role role)
{
    return ride_test_kafka_conf(fx->mock, role);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->gray.fail_stream = -1;
    fx->mock = ride_test_kafka_mock();
    ride_test_kafka_topic(fx->mock, INPUT, PARTITIONS);
    ride_test_kafka_topic(fx->mock, OUTPUT, PARTITIONS);
    fx->input = ride_kafka_producer_new(conf_for(fx, RIDE_KAFKA_PRODUCER), NULL, NULL, fx->err,
                                        sizeof fx->err);
    if (!fx->input)
        fail_msg("producer: %s", fx->err);
    assert_int_equal(ride_kafka_partition_count(ride_kafka_producer_handle(fx->input), INPUT,
                                                TIMEOUT_MS, fx->err, sizeof fx->err),
                     PARTITIONS);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    ride_kafka_producer_free(fx->input);
    ride_kafka_mock_stop(fx->mock);
    ride_frame_free(&fx->gray.done);
    free(fx);
    return 0;
}

/* ---- Input ---- */

/* Most frames are small; every 20th is large enough to span several messages. */
static void frame_size(uint64_t seq, uint32_t *w, uint32_t *h)
{
    *w = seq % 20 == 7 ? 160 : 64;
    *h = seq % 20 == 7 ? 120 : 48;
}

static int32_t input_partition(uint32_t stream, uint64_t seq)
{
    return (int32_t)((seq * STREAMS + stream) % PARTITIONS);
}

static void produce_encoded(fixture *fx, uint32_t stream, uint64_t seq, uint32_t w,
                            uint32_t h, int32_t partition, ride_encoding encoding)
{
    ride_frame f;
    memset(&f, 0, sizeof f);
    assert_int_equal(ride_synthetic_render(stream, seq, w, h, &f.image), 0);
    f.stream_id = stream;
    f.seq = seq;
    f.capture_ns = 1000 + seq;
    /* Small messages make the large frames multi-chunk (57,600 bytes: 4 chunks). */
    ride_frame_write_opts opts = {encoding, -1, 16384};
    if (ride_kafka_produce_frame(fx->input, INPUT, partition, &f, &opts, NULL, NULL,
                                 TIMEOUT_MS, fx->err, sizeof fx->err))
        fail_msg("produce: %s", fx->err);
    ride_frame_free(&f);
}

static void produce_frame(fixture *fx, uint32_t stream, uint64_t seq, uint32_t w, uint32_t h,
                          int32_t partition)
{
    produce_encoded(fx, stream, seq, w, h, partition, RIDE_ENC_RAW);
}

static void produce_streams(fixture *fx)
{
    for (uint64_t q = 0; q < FRAMES; q++) {
        for (uint32_t s = 0; s < STREAMS; s++) {
            uint32_t w, h;
            frame_size(q, &w, &h);
            produce_frame(fx, s, q, w, h, input_partition(s, q));
        }
    }
    if (ride_kafka_producer_flush(fx->input, TIMEOUT_MS, fx->err, sizeof fx->err))
        fail_msg("flush: %s", fx->err);
}

static void high_watermarks(fixture *fx, const char *topic, int64_t *high)
{
    for (int32_t p = 0; p < PARTITIONS; p++) {
        int64_t low;
        if (ride_kafka_watermarks(ride_kafka_producer_handle(fx->input), topic, p, TIMEOUT_MS,
                                  &low, &high[p], fx->err, sizeof fx->err))
            fail_msg("watermarks: %s", fx->err);
    }
}

/* ---- The pipeline ---- */

static int gray_submit(void *ctx, ride_frame *in, char *err, size_t errlen)
{
    gray_task *t = ctx;
    if ((int)in->stream_id == t->fail_stream && in->seq == t->fail_seq) {
        snprintf(err, errlen, "refusing frame %u/%" PRIu64, in->stream_id, in->seq);
        return -1;
    }
    if (ride_cpu_grayscale(&in->image, &t->done.image, 1) != 0)
        return snprintf(err, errlen, "grayscale failed"), -1;
    t->holding = true;
    return 0;
}

static int gray_collect(void *ctx, int wait, ride_frame *out, ride_frame_status *rejected,
                        char *err, size_t errlen)
{
    (void)wait;
    (void)rejected;
    (void)err;
    (void)errlen;
    gray_task *t = ctx;
    if (!t->holding)
        return 0;
    ride_frame done = t->done;
    t->done = *out;
    *out = done;
    t->holding = false;
    return 1;
}

/* What every pipeline of these tests starts from: grayscale from INPUT to OUTPUT. */
static ride_pipeline_config gray_config(fixture *fx)
{
    return (ride_pipeline_config){
        .input_topic = INPUT,
        .group = GROUP,
        .output_topic = OUTPUT,
        .submit = gray_submit,
        .collect = gray_collect,
        .process_ctx = &fx->gray,
        .consumer_conf = conf_for(fx, RIDE_KAFKA_CONSUMER),
        .producer_conf = conf_for(fx, RIDE_KAFKA_PRODUCER),
        .max_frame_bytes = MAX_FRAME_BYTES,
    };
}

static ride_pipeline *open_pipeline(fixture *fx, const ride_pipeline_config *cfg)
{
    ride_pipeline *pl = ride_pipeline_new(cfg, fx->err, sizeof fx->err);
    if (!pl)
        fail_msg("pipeline: %s", fx->err);
    return pl;
}

static ride_pipeline *new_pipeline(fixture *fx)
{
    ride_pipeline_config cfg = gray_config(fx);
    return open_pipeline(fx, &cfg);
}

static void own_all(fixture *fx, ride_pipeline *pl, int64_t epoch)
{
    for (int32_t p = 0; p < PARTITIONS; p++)
        if (ride_pipeline_add_partition(pl, p, epoch, RIDE_KAFKA_OFFSET_COMMITTED, fx->err,
                                        sizeof fx->err))
            fail_msg("add partition %d: %s", p, fx->err);
}

typedef int (*condition_fn)(fixture *fx, ride_pipeline *pl, void *arg);

/* Steps the pipeline, committing every 20 ms as a daemon would, until cond holds. */
static void run_until(fixture *fx, ride_pipeline *pl, condition_fn cond, void *arg,
                      const char *what)
{
    int64_t deadline = ride_clock_mono_ms() + TIMEOUT_MS, next_commit = 0;
    while (!cond(fx, pl, arg)) {
        if (ride_clock_mono_ms() > deadline)
            fail_msg("timed out waiting for %s", what);
        if (ride_pipeline_step(pl, 5, fx->err, sizeof fx->err) < 0)
            fail_msg("step: %s", fx->err);
        if (ride_clock_mono_ms() >= next_commit) {
            if (ride_pipeline_commit(pl, fx->err, sizeof fx->err))
                fail_msg("commit: %s", fx->err);
            next_commit = ride_clock_mono_ms() + 20;
        }
    }
}

/* Every owned partition has committed up to high[p] (skipped where high[p] <= 0:
 * nothing to commit, or a partition left out on purpose). */
static int committed_to(fixture *fx, ride_pipeline *pl, void *arg)
{
    (void)fx;
    const int64_t *high = arg;
    ride_pipeline_partition_stats st[PARTITIONS];
    size_t n = ride_pipeline_partition_stats_get(pl, st, PARTITIONS);
    for (size_t i = 0; i < n; i++)
        if (high[st[i].partition] > 0 && st[i].committed != high[st[i].partition])
            return 0;
    return 1;
}

static int processed_at_least(fixture *fx, ride_pipeline *pl, void *arg)
{
    (void)fx;
    ride_pipeline_stats st;
    ride_pipeline_stats_get(pl, &st);
    return st.processed >= *(const uint64_t *)arg;
}

/* The group's committed offsets, read as the next owner would. */
static void group_committed(fixture *fx, int64_t *out)
{
    ride_kafka_consumer *c = ride_kafka_consumer_new(conf_for(fx, RIDE_KAFKA_CONSUMER), GROUP,
                                                     fx->err, sizeof fx->err);
    if (!c)
        fail_msg("consumer: %s", fx->err);
    ride_kafka_tp tps[PARTITIONS];
    for (int32_t p = 0; p < PARTITIONS; p++)
        tps[p] = (ride_kafka_tp){INPUT, p, 0};
    if (ride_kafka_committed(c, tps, PARTITIONS, TIMEOUT_MS, fx->err, sizeof fx->err))
        fail_msg("committed: %s", fx->err);
    for (int32_t p = 0; p < PARTITIONS; p++)
        out[p] = tps[p].offset;
    ride_kafka_consumer_free(c);
}

/* ---- Output ---- */

static void reject_output(void *ctx, const ride_frame_reject *r)
{
    (void)ctx;
    fail_msg("output frame rejected: %s", ride_frame_status_reason(r->status));
}

/* Reads the whole output topic; counts every (stream, seq) and checks its pixels
 * against the grayscale of the recomputed input and its partition. */
static void read_output(fixture *fx, int count[STREAMS][FRAMES])
{
    memset(count, 0, sizeof(int) * STREAMS * FRAMES);
    int64_t high[PARTITIONS], next[PARTITIONS];
    high_watermarks(fx, OUTPUT, high);
    ride_kafka_consumer *c = ride_kafka_consumer_new(conf_for(fx, RIDE_KAFKA_CONSUMER),
                                                     "ride.check", fx->err, sizeof fx->err);
    if (!c)
        fail_msg("consumer: %s", fx->err);
    ride_kafka_tp tps[PARTITIONS];
    ride_frame_assembler *asm_[PARTITIONS];
    for (int32_t p = 0; p < PARTITIONS; p++) {
        tps[p] = (ride_kafka_tp){OUTPUT, p, RIDE_KAFKA_OFFSET_BEGINNING};
        next[p] = 0;
        asm_[p] = ride_frame_assembler_new(MAX_FRAME_BYTES, reject_output, NULL);
        assert_non_null(asm_[p]);
    }
    if (ride_kafka_consumer_add(c, tps, PARTITIONS, fx->err, sizeof fx->err))
        fail_msg("assign: %s", fx->err);
    ride_frame f, in, want;
    memset(&f, 0, sizeof f);
    memset(&in, 0, sizeof in);
    memset(&want, 0, sizeof want);
    int64_t deadline = ride_clock_mono_ms() + TIMEOUT_MS;
    for (;;) {
        int done = 1;
        for (int32_t p = 0; p < PARTITIONS; p++)
            done &= next[p] >= high[p];
        if (done)
            break;
        if (ride_clock_mono_ms() > deadline)
            fail_msg("output not read to its end");
        ride_kafka_message m;
        int rc = ride_kafka_consumer_poll(c, 50, &m, fx->err, sizeof fx->err);
        if (rc < 0)
            fail_msg("poll: %s", fx->err);
        if (rc == 0)
            continue;
        next[m.partition] = m.offset + 1;
        ride_frame_status st = ride_frame_assembler_push(asm_[m.partition], m.payload, m.len, &f);
        if (st == RIDE_FRAME_OK) {
            assert_in_range(f.stream_id, 0, STREAMS - 1);
            assert_in_range(f.seq, 0, FRAMES - 1);
            assert_int_equal(m.partition, input_partition(f.stream_id, f.seq));
            uint32_t w, h;
            frame_size(f.seq, &w, &h);
            assert_int_equal(ride_synthetic_render(f.stream_id, f.seq, w, h, &in.image), 0);
            assert_int_equal(ride_cpu_grayscale(&in.image, &want.image, 1), 0);
            assert_int_equal(ride_test_max_abs_diff_u8(&f.image, &want.image), 0);
            count[f.stream_id][f.seq]++;
        } else {
            assert_int_equal(st, RIDE_FRAME_INCOMPLETE);
        }
        ride_kafka_message_release(&m);
    }
    ride_frame_free(&f);
    ride_frame_free(&in);
    ride_frame_free(&want);
    for (int32_t p = 0; p < PARTITIONS; p++)
        ride_frame_assembler_free(asm_[p]);
    ride_kafka_consumer_free(c);
}

/* Every frame of every stream is in the output topic exactly once. */
static void expect_each_output_once(fixture *fx)
{
    int count[STREAMS][FRAMES];
    read_output(fx, count);
    for (int s = 0; s < STREAMS; s++)
        for (int q = 0; q < FRAMES; q++)
            if (count[s][q] != 1)
                fail_msg("frame %d/%d output %d times", s, q, count[s][q]);
}

/* ---- Tests ---- */

static void test_every_frame_once_and_committed(void **state)
{
    fixture *fx = *state;
    produce_streams(fx);
    int64_t high[PARTITIONS];
    high_watermarks(fx, INPUT, high);

    ride_pipeline *pl = new_pipeline(fx);
    own_all(fx, pl, 1);
    int64_t t0 = ride_clock_mono_ms();
    run_until(fx, pl, committed_to, high, "every partition committed");
    int64_t ms = ride_clock_mono_ms() - t0;

    ride_pipeline_stats st;
    ride_pipeline_stats_get(pl, &st);
    assert_int_equal(st.frames_in, STREAMS * FRAMES);
    assert_int_equal(st.processed, STREAMS * FRAMES);
    assert_int_equal(st.dropped_total, 0);
    assert_int_equal(st.delivery_errors, 0);
    ride_pipeline_partition_stats ps[PARTITIONS];
    assert_int_equal(ride_pipeline_partition_stats_get(pl, ps, PARTITIONS), PARTITIONS);
    for (int32_t p = 0; p < PARTITIONS; p++) {
        assert_int_equal(ps[p].partition, p);
        assert_int_equal(ps[p].position, high[p]);
        assert_int_equal(ps[p].processed, STREAMS * FRAMES / PARTITIONS);
    }
    ride_pipeline_free(pl);
    printf("pipeline: %d small and multi-chunk frames through in %" PRId64 " ms\n",
           STREAMS * FRAMES, ms);

    int64_t committed[PARTITIONS];
    group_committed(fx, committed);
    for (int32_t p = 0; p < PARTITIONS; p++)
        assert_int_equal(committed[p], high[p]);

    expect_each_output_once(fx);
}

/* The first owner commits once, works on, and dies without a final commit; the
 * next owner resumes at the committed offsets. */
static void test_crash_and_resume_loses_nothing(void **state)
{
    fixture *fx = *state;
    produce_streams(fx);
    int64_t high[PARTITIONS];
    high_watermarks(fx, INPUT, high);

    ride_pipeline *first = new_pipeline(fx);
    own_all(fx, first, 1);
    uint64_t some = 30;
    run_until(fx, first, processed_at_least, &some, "the first frames");
    if (ride_pipeline_commit(first, fx->err, sizeof fx->err))
        fail_msg("commit: %s", fx->err);
    /* Frames processed after the last commit are what the next owner repeats:
     * counted from the commit, since run_until's own commits may have run ahead
     * of `some` on a loaded machine. */
    ride_pipeline_stats at_commit;
    ride_pipeline_stats_get(first, &at_commit);
    uint64_t more = at_commit.processed + 20;
    assert_true(more <= STREAMS * FRAMES);
    /* Only commits of run_until happen from here: stop stepping without them. */
    int64_t deadline = ride_clock_mono_ms() + TIMEOUT_MS;
    while (!processed_at_least(fx, first, &more)) {
        if (ride_clock_mono_ms() > deadline)
            fail_msg("first owner stalled");
        if (ride_pipeline_step(first, 5, fx->err, sizeof fx->err) < 0)
            fail_msg("step: %s", fx->err);
    }
    int64_t committed[PARTITIONS];
    group_committed(fx, committed);
    int64_t behind = 0;
    for (int32_t p = 0; p < PARTITIONS; p++)
        behind += high[p] - (committed[p] >= 0 ? committed[p] : 0);
    assert_true(behind > 0);
    ride_pipeline_free(first); /* SIGKILL: no final commit */

    ride_pipeline *second = new_pipeline(fx);
    own_all(fx, second, 2);
    run_until(fx, second, committed_to, high, "the second owner to finish");
    ride_pipeline_free(second);

    int count[STREAMS][FRAMES];
    read_output(fx, count);
    int duplicates = 0;
    for (int s = 0; s < STREAMS; s++) {
        for (int q = 0; q < FRAMES; q++) {
            if (count[s][q] < 1)
                fail_msg("frame %d/%d lost", s, q);
            duplicates += count[s][q] - 1;
        }
    }
    printf("crash and resume: every frame output, %d duplicates (%" PRId64
           " input messages were uncommitted at the crash)\n",
           duplicates, behind);
    assert_true(duplicates > 0);
}

/* Frames of a removed partition may still be delivered, but commit nothing; a
 * later owner re-reads them from the committed offset. */
static void test_removed_partition_commits_nothing(void **state)
{
    fixture *fx = *state;
    produce_streams(fx);
    int64_t high[PARTITIONS];
    high_watermarks(fx, INPUT, high);

    ride_pipeline *pl = new_pipeline(fx);
    own_all(fx, pl, 1);
    int64_t deadline = ride_clock_mono_ms() + TIMEOUT_MS;
    for (;;) {
        if (ride_clock_mono_ms() > deadline)
            fail_msg("partition 0 never had a frame in flight");
        if (ride_pipeline_step(pl, 5, fx->err, sizeof fx->err) < 0)
            fail_msg("step: %s", fx->err);
        ride_pipeline_partition_stats ps[PARTITIONS];
        ride_pipeline_partition_stats_get(pl, ps, PARTITIONS);
        if (ps[0].frames_in > ps[0].processed)
            break;
    }
    assert_int_equal(ride_pipeline_remove_partition(pl, 0, fx->err, sizeof fx->err), 0);
    assert_int_equal(ride_pipeline_remove_partition(pl, 0, fx->err, sizeof fx->err), -1);
    assert_int_equal(ride_pipeline_committable(pl, 0), RIDE_OFFSET_UNKNOWN);
    int64_t rest[PARTITIONS];
    memcpy(rest, high, sizeof rest);
    rest[0] = -1;
    run_until(fx, pl, committed_to, rest, "the other partitions");
    deadline = ride_clock_mono_ms() + TIMEOUT_MS;
    while (ride_pipeline_outputs_pending(pl) > 0) {
        if (ride_clock_mono_ms() > deadline)
            fail_msg("outputs never delivered");
        ride_pipeline_step(pl, 5, fx->err, sizeof fx->err);
    }
    if (ride_pipeline_commit(pl, fx->err, sizeof fx->err))
        fail_msg("commit: %s", fx->err);
    ride_pipeline_stats st;
    ride_pipeline_stats_get(pl, &st);
    assert_true(st.handed_back > 0);
    assert_true(st.stale_reports > 0);
    int64_t committed[PARTITIONS];
    group_committed(fx, committed);
    assert_int_equal(committed[0], RIDE_KAFKA_OFFSET_NONE);
    printf("hand back: %" PRIu64 " frames handed back, %" PRIu64 " late reports ignored\n",
           st.handed_back, st.stale_reports);

    /* The next owner (here, the same worker under a new epoch) redoes them. */
    assert_int_equal(ride_pipeline_add_partition(pl, 0, 2, RIDE_KAFKA_OFFSET_COMMITTED, fx->err,
                                                 sizeof fx->err),
                     0);
    assert_int_equal(ride_pipeline_add_partition(pl, 0, 3, 0, fx->err, sizeof fx->err), -1);
    run_until(fx, pl, committed_to, high, "partition 0 under its new epoch");
    ride_pipeline_free(pl);
    group_committed(fx, committed);
    assert_int_equal(committed[0], high[0]);
}

/* A message that is no frame, and a frame the task refuses: counted, committed
 * past, and every other frame still goes through. */
static void test_corrupt_input_and_failed_task(void **state)
{
    fixture *fx = *state;
    for (uint64_t q = 0; q < 10; q++) {
        produce_frame(fx, 0, q, 64, 48, input_partition(0, q));
        if (q == 4) {
            uint8_t junk[200];
            memset(junk, 'x', sizeof junk);
            assert_int_equal(ride_kafka_produce(fx->input, INPUT, input_partition(0, q), junk,
                                                sizeof junk, NULL, fx->err, sizeof fx->err),
                             RD_KAFKA_RESP_ERR_NO_ERROR);
        }
    }
    if (ride_kafka_producer_flush(fx->input, TIMEOUT_MS, fx->err, sizeof fx->err))
        fail_msg("flush: %s", fx->err);
    int64_t high[PARTITIONS];
    high_watermarks(fx, INPUT, high);

    fx->gray.fail_stream = 0;
    fx->gray.fail_seq = 7;
    ride_pipeline *pl = new_pipeline(fx);
    own_all(fx, pl, 1);
    run_until(fx, pl, committed_to, high, "past the bad input");
    ride_pipeline_stats st;
    ride_pipeline_stats_get(pl, &st);
    assert_int_equal(st.processed, 9);
    assert_int_equal(st.dropped_total, 2);
    ride_pipeline_partition_stats ps[PARTITIONS];
    ride_pipeline_partition_stats_get(pl, ps, PARTITIONS);
    uint64_t bad_magic = 0, task_failed = 0;
    for (int32_t p = 0; p < PARTITIONS; p++) {
        bad_magic += ps[p].dropped[RIDE_FRAME_BAD_MAGIC];
        task_failed += ps[p].dropped[RIDE_PIPELINE_DROP_TASK_FAILED];
    }
    assert_int_equal(bad_magic, 1);
    assert_int_equal(task_failed, 1);
    assert_string_equal(ride_pipeline_drop_reason(RIDE_PIPELINE_DROP_TASK_FAILED), "task_failed");
    assert_string_equal(ride_pipeline_drop_reason(RIDE_FRAME_BAD_MAGIC), "bad_magic");
    ride_pipeline_free(pl);
}

typedef struct sink_log {
    int written[STREAMS][FRAMES];
    int failures_left; /* for frame (1, 5) */
    int rejected;      /* frame (0, 7) is refused for good, once */
} sink_log;

static int sink_frame(void *ctx, int32_t partition, const ride_frame *out, char *err,
                      size_t errlen)
{
    sink_log *log = ctx;
    assert_int_equal(partition, input_partition(out->stream_id, out->seq));
    assert_int_equal(out->image.format, RIDE_PIX_GRAY8);
    if (out->stream_id == 1 && out->seq == 5 && log->failures_left > 0) {
        log->failures_left--;
        snprintf(err, errlen, "disk full");
        return RIDE_PIPELINE_SINK_FAILED;
    }
    if (out->stream_id == 0 && out->seq == 7) {
        log->rejected++;
        return RIDE_PIPELINE_SINK_REJECTED;
    }
    log->written[out->stream_id][out->seq]++;
    return RIDE_PIPELINE_SINK_WRITTEN;
}

/* A failed write leaves its frame unacknowledged: the partition is re-read from
 * its committable offset, so the frame is written after all and nothing is lost.
 * Consecutive failures back off (immediately, then 50, 100 and 200 ms); a frame
 * the sink refuses for good is dropped and acknowledged. */
static void test_failed_sink_write_rewinds(void **state)
{
    fixture *fx = *state;
    produce_streams(fx);
    int64_t high[PARTITIONS];
    high_watermarks(fx, INPUT, high);
    sink_log log = {.failures_left = 4};
    int64_t t0 = ride_clock_mono_ms();
    ride_pipeline_config cfg = {
        .input_topic = INPUT,
        .group = GROUP,
        .submit = gray_submit,
        .collect = gray_collect,
        .process_ctx = &fx->gray,
        .sink = sink_frame,
        .sink_ctx = &log,
        .consumer_conf = conf_for(fx, RIDE_KAFKA_CONSUMER),
        .max_frame_bytes = MAX_FRAME_BYTES,
    };
    ride_pipeline *pl = ride_pipeline_new(&cfg, fx->err, sizeof fx->err);
    if (!pl)
        fail_msg("pipeline: %s", fx->err);
    own_all(fx, pl, 1);
    run_until(fx, pl, committed_to, high, "every partition committed");
    assert_true(ride_clock_mono_ms() - t0 >= 50 + 100 + 200);
    ride_pipeline_stats st;
    ride_pipeline_stats_get(pl, &st);
    assert_int_equal(st.delivery_errors, 4);
    ride_pipeline_partition_stats ps[PARTITIONS];
    ride_pipeline_partition_stats_get(pl, ps, PARTITIONS);
    assert_int_equal(ps[input_partition(1, 5)].rewinds, 4);
    assert_int_equal(ps[input_partition(1, 5)].rewind_backoff_ms, 0);
    assert_int_equal(ps[input_partition(0, 7)].dropped[RIDE_PIPELINE_DROP_SINK_REJECTED], 1);
    assert_string_equal(ride_pipeline_drop_reason(RIDE_PIPELINE_DROP_SINK_REJECTED),
                        "sink_rejected");
    ride_pipeline_free(pl);
    for (int s = 0; s < STREAMS; s++)
        for (int q = 0; q < FRAMES; q++)
            if (log.written[s][q] < 1 && !(s == 0 && q == 7))
                fail_msg("frame %d/%d never written", s, q);
    assert_int_equal(log.written[1][5], 1);
    assert_int_equal(log.rejected, 1);
}

/* The messages of one frame, as a producer would queue them. */
typedef struct frame_messages {
    uint8_t *data[8];
    size_t len[8];
    int count;
} frame_messages;

static int keep_message(void *ctx, const uint8_t *msg, size_t len)
{
    frame_messages *fm = ctx;
    if (fm->count == 8 || !(fm->data[fm->count] = malloc(len)))
        return -1;
    memcpy(fm->data[fm->count], msg, len);
    fm->len[fm->count++] = len;
    return 0;
}

static void produce_message(fixture *fx, const frame_messages *fm, int i)
{
    if (ride_kafka_produce(fx->input, INPUT, 0, fm->data[i], fm->len[i], NULL, fx->err,
                           sizeof fx->err))
        fail_msg("produce: %s", fx->err);
    if (ride_kafka_producer_flush(fx->input, TIMEOUT_MS, fx->err, sizeof fx->err))
        fail_msg("flush: %s", fx->err);
}

/* Two writers' chunked frames interleaved in one partition, A0 B0 B1 B2 and then
 * A1 A2: once B is written the commit still stops at A's first chunk, which a
 * new owner must read again; once A is written it passes both. */
static void test_interleaved_frames_commit_at_oldest_first_chunk(void **state)
{
    fixture *fx = *state;
    frame_messages fm[2] = {0};
    ride_frame_write_opts opts = {RIDE_ENC_RAW, -1, 4096};
    for (uint32_t s = 0; s < 2; s++) {
        ride_frame f = {.stream_id = s, .seq = 1};
        assert_int_equal(ride_synthetic_render(s, 1, 64, 48, &f.image), 0);
        assert_int_equal(ride_frame_write(&f, &opts, keep_message, &fm[s], NULL, 0), 0);
        ride_frame_free(&f);
        assert_int_equal(fm[s].count, 3);
    }
    produce_message(fx, &fm[0], 0);
    for (int i = 0; i < 3; i++)
        produce_message(fx, &fm[1], i);

    ride_pipeline *pl = new_pipeline(fx);
    assert_int_equal(ride_pipeline_add_partition(pl, 0, 1, RIDE_KAFKA_OFFSET_COMMITTED, fx->err,
                                                 sizeof fx->err),
                     0);
    uint64_t one = 1, two = 2;
    run_until(fx, pl, processed_at_least, &one, "frame B written");
    assert_int_equal(ride_pipeline_committable(pl, 0), 0);

    for (int i = 1; i < 3; i++)
        produce_message(fx, &fm[0], i);
    run_until(fx, pl, processed_at_least, &two, "frame A written");
    assert_int_equal(ride_pipeline_committable(pl, 0), 6);
    ride_pipeline_stats st;
    ride_pipeline_stats_get(pl, &st);
    assert_int_equal(st.dropped_total, 0);
    ride_pipeline_free(pl);
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < fm[s].count; i++)
            free(fm[s].data[i]);
}

static void test_bad_configuration(void **state)
{
    fixture *fx = *state;
    ride_pipeline_config cfg = {
        .input_topic = INPUT,
        .group = GROUP,
        .submit = gray_submit,
        .collect = gray_collect,
        .process_ctx = &fx->gray,
        .consumer_conf = conf_for(fx, RIDE_KAFKA_CONSUMER),
        .max_frame_bytes = MAX_FRAME_BYTES,
    };
    assert_null(ride_pipeline_new(&cfg, fx->err, sizeof fx->err));
    assert_non_null(strstr(fx->err, "output topic or a sink"));
    cfg.consumer_conf = conf_for(fx, RIDE_KAFKA_CONSUMER);
    cfg.producer_conf = conf_for(fx, RIDE_KAFKA_PRODUCER);
    cfg.output_topic = OUTPUT;
    cfg.output_partitions = PARTITIONS + 1;
    assert_null(ride_pipeline_new(&cfg, fx->err, sizeof fx->err));
    assert_non_null(strstr(fx->err, "partitions"));
    cfg.consumer_conf = conf_for(fx, RIDE_KAFKA_CONSUMER);
    cfg.producer_conf = conf_for(fx, RIDE_KAFKA_PRODUCER);
    cfg.output_partitions = 0;
    ride_pipeline *pl = ride_pipeline_new(&cfg, fx->err, sizeof fx->err);
    assert_non_null(pl);
    assert_int_equal(ride_pipeline_add_partition(pl, -1, 1, 0, fx->err, sizeof fx->err), -1);
    assert_int_equal(ride_pipeline_add_partition(pl, 0, 1, -42, fx->err, sizeof fx->err), -1);
    assert_int_equal(ride_pipeline_remove_partition(pl, 3, fx->err, sizeof fx->err), -1);
    ride_pipeline_free(pl);
}

/* 900x900 BGR frames (2.43 MB, three messages) produced while the pipeline runs,
 * at most one frame per partition ahead of it: the mock keeps only about 5 MB per
 * partition. The figure includes producing the input in the same thread. */
static void test_throughput_900x900(void **state)
{
    fixture *fx = *state;
    enum { N = 60 };
    ride_pipeline *pl = new_pipeline(fx);
    own_all(fx, pl, 1);
    ride_frame f;
    memset(&f, 0, sizeof f);
    int64_t t0 = ride_clock_mono_ms();
    for (uint64_t i = 0; i < N; i++) {
        int32_t p = (int32_t)(i % PARTITIONS);
        assert_int_equal(ride_synthetic_render((uint64_t)p, i, 900, 900, &f.image), 0);
        f.stream_id = (uint32_t)p;
        f.seq = i;
        if (ride_kafka_produce_frame(fx->input, INPUT, p, &f, NULL, NULL, NULL, TIMEOUT_MS,
                                     fx->err, sizeof fx->err))
            fail_msg("produce: %s", fx->err);
        ride_kafka_producer_poll(fx->input, 0);
        uint64_t behind = i + 1 > PARTITIONS ? i + 1 - PARTITIONS : 0;
        run_until(fx, pl, processed_at_least, &behind, "the pipeline to keep up");
    }
    uint64_t all = N;
    run_until(fx, pl, processed_at_least, &all, "every 900x900 frame");
    int64_t ms = ride_clock_mono_ms() - t0;
    ride_frame_free(&f);
    ride_pipeline_free(pl);
    printf("pipeline on the mock: %d frames of 900x900 BGR in %" PRId64 " ms: %.0f frames/s\n",
           N, ms, ms > 0 ? N * 1000.0 / (double)ms : 0.0);
}

/* ---- Backpressure and expired input ---- */

#define OUTPUT_GROUP "ride.app.next"

static ride_pipeline *new_bounded_pipeline(fixture *fx, size_t budget)
{
    ride_pipeline_config cfg = gray_config(fx);
    cfg.output_group = OUTPUT_GROUP;
    cfg.max_backlog_bytes = budget;
    return open_pipeline(fx, &cfg);
}

/* The next stage reads everything written so far: its group commits the
 * output's log ends. */
static void next_stage_reads_all(fixture *fx)
{
    int64_t high[PARTITIONS];
    high_watermarks(fx, OUTPUT, high);
    ride_kafka_consumer *c = ride_kafka_consumer_new(conf_for(fx, RIDE_KAFKA_CONSUMER),
                                                     OUTPUT_GROUP, fx->err, sizeof fx->err);
    if (!c)
        fail_msg("consumer: %s", fx->err);
    ride_kafka_tp tps[PARTITIONS];
    for (int32_t p = 0; p < PARTITIONS; p++)
        tps[p] = (ride_kafka_tp){OUTPUT, p, high[p]};
    if (ride_kafka_commit(c, tps, PARTITIONS, fx->err, sizeof fx->err))
        fail_msg("commit: %s", fx->err);
    ride_kafka_consumer_free(c);
}

typedef struct stall_probe {
    const int64_t *high; /* input log ends */
    uint64_t all;        /* frames in all */
} stall_probe;

/* Every frame is through, or no partition can read on: each is held back or has
 * read its whole input (a partition may finish before the backlog figures first
 * arrive, and then never needs holding back). */
static int stalled_or_done(fixture *fx, ride_pipeline *pl, void *arg)
{
    (void)fx;
    const stall_probe *sp = arg;
    ride_pipeline_stats st;
    ride_pipeline_stats_get(pl, &st);
    if (st.processed >= sp->all)
        return 1;
    ride_pipeline_partition_stats ps[PARTITIONS];
    size_t n = ride_pipeline_partition_stats_get(pl, ps, PARTITIONS);
    for (size_t i = 0; i < n && i < PARTITIONS; i++)
        if (!ps[i].paused && ps[i].position < sp->high[ps[i].partition])
            return 0;
    return 1;
}

/* A 16 KB budget per output partition and a next stage that reads only when
 * told: the pipeline stops at the budget without dropping anything, goes on
 * whenever the next stage has read, and in the end every frame is output once. */
static void test_backpressure_pauses_without_loss(void **state)
{
    fixture *fx = *state;
    produce_streams(fx);
    int64_t high[PARTITIONS];
    high_watermarks(fx, INPUT, high);
    ride_pipeline *pl = new_bounded_pipeline(fx, 16384);
    own_all(fx, pl, 1);
    uint64_t all = STREAMS * FRAMES;
    int stalls = 0;
    ride_pipeline_stats st;
    for (;;) {
        stall_probe probe = {high, all};
        run_until(fx, pl, stalled_or_done, &probe, "a stall at the budget or the end");
        ride_pipeline_stats_get(pl, &st);
        if (st.processed >= all)
            break;
        assert_true(++stalls < STREAMS * FRAMES);
        next_stage_reads_all(fx);
        uint64_t more = st.processed + 1;
        run_until(fx, pl, processed_at_least, &more, "progress once the next stage read");
    }
    run_until(fx, pl, committed_to, high, "every partition committed");
    ride_pipeline_stats_get(pl, &st);
    /* How many partitions pause depends on when the first backlog figures
     * arrive; that the budget stopped the stage, more than once, does not. */
    assert_true(stalls >= 2);
    assert_true(st.pauses >= 1);
    assert_int_equal(st.dropped_total, 0);
    ride_pipeline_free(pl);
    printf("backpressure: %d stalls, %" PRIu64 " pauses for %d frames\n", stalls, st.pauses,
           STREAMS * FRAMES);

    expect_each_output_once(fx);
}

/* A partition whose committed offset the broker's retention overtook (the mock
 * keeps about 5 MB per partition): the deleted messages are counted as dropped
 * with reason "expired", the rest is processed. */
static void test_expired_input_counted(void **state)
{
    fixture *fx = *state;
    ride_kafka_consumer *c = ride_kafka_consumer_new(conf_for(fx, RIDE_KAFKA_CONSUMER), GROUP,
                                                     fx->err, sizeof fx->err);
    assert_non_null(c);
    ride_kafka_tp tp = {INPUT, 0, 0};
    if (ride_kafka_commit(c, &tp, 1, fx->err, sizeof fx->err))
        fail_msg("commit: %s", fx->err);
    ride_kafka_consumer_free(c);
    enum { N = 14 };
    ride_frame f;
    memset(&f, 0, sizeof f);
    for (uint64_t i = 0; i < N; i++) {
        /* 640x480 BGR: 921,600 bytes, one message each. */
        assert_int_equal(ride_synthetic_render(0, i, 640, 480, &f.image), 0);
        f.stream_id = 0;
        f.seq = i;
        if (ride_kafka_produce_frame(fx->input, INPUT, 0, &f, NULL, NULL, NULL, TIMEOUT_MS,
                                     fx->err, sizeof fx->err))
            fail_msg("produce: %s", fx->err);
    }
    ride_frame_free(&f);
    if (ride_kafka_producer_flush(fx->input, TIMEOUT_MS, fx->err, sizeof fx->err))
        fail_msg("flush: %s", fx->err);
    int64_t low, high;
    assert_int_equal(ride_kafka_watermarks(ride_kafka_producer_handle(fx->input), INPUT, 0,
                                           TIMEOUT_MS, &low, &high, fx->err, sizeof fx->err), 0);
    assert_true(low > 0);
    assert_int_equal(high, N);

    ride_pipeline *pl = new_pipeline(fx);
    if (ride_pipeline_add_partition(pl, 0, 1, RIDE_KAFKA_OFFSET_COMMITTED, fx->err,
                                    sizeof fx->err))
        fail_msg("add: %s", fx->err);
    uint64_t kept = (uint64_t)(high - low);
    run_until(fx, pl, processed_at_least, &kept, "the frames still kept");
    ride_pipeline_partition_stats ps;
    assert_int_equal(ride_pipeline_partition_stats_get(pl, &ps, 1), 1);
    assert_int_equal(ps.processed, kept);
    assert_int_equal(ps.dropped[RIDE_PIPELINE_DROP_EXPIRED], (uint64_t)low);
    assert_int_equal(ps.dropped_total, (uint64_t)low);
    assert_string_equal(ride_pipeline_drop_reason(RIDE_PIPELINE_DROP_EXPIRED), "expired");
    ride_pipeline_free(pl);
}

/* ---- A delivery failure while the partition is paused ---- */

/* Kafka's ApiKey of ProduceRequest: the mock fails the next ones it is told to. */
#define PRODUCE_API_KEY 0

/* stderr goes to a temporary file while a test runs, so that it can count the
 * pipeline's log lines. */
typedef struct captured_log {
    FILE *file;
    int saved;
} captured_log;

static void capture_log(captured_log *c)
{
    fflush(stderr);
    c->file = tmpfile();
    assert_non_null(c->file);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

static void end_capture(captured_log *c)
{
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    rewind(c->file);
}

/* Lines of the captured log that hold needle. */
static int count_lines(captured_log *c, const char *needle)
{
    rewind(c->file);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, c->file))
        n += strstr(line, needle) != NULL;
    return n;
}

typedef struct paused_run {
    int steps;
    int failed_steps;
    char first_error[512];
} paused_run;

/* Steps until partition 0 committed up to high, for at most TIMEOUT_MS: a daemon's
 * commits, and a next stage that reads everything every 20 ms. */
static bool run_paused_partition(fixture *fx, ride_pipeline *pl, int64_t high, paused_run *run)
{
    int64_t deadline = ride_clock_mono_ms() + TIMEOUT_MS, next_commit = 0;
    for (;;) {
        ride_pipeline_partition_stats ps;
        ride_pipeline_partition_stats_get(pl, &ps, 1);
        if (ps.committed == high)
            return true;
        if (ride_clock_mono_ms() > deadline)
            return false;
        run->steps++;
        if (ride_pipeline_step(pl, 5, fx->err, sizeof fx->err) < 0 && run->failed_steps++ == 0)
            snprintf(run->first_error, sizeof run->first_error, "%s", fx->err);
        if (ride_clock_mono_ms() >= next_commit) {
            if (ride_pipeline_commit(pl, fx->err, sizeof fx->err) < 0 && run->failed_steps++ == 0)
                snprintf(run->first_error, sizeof run->first_error, "%s", fx->err);
            next_stage_reads_all(fx);
            next_commit = ride_clock_mono_ms() + 20;
        }
    }
}

/* The frames of stream 0 that input_partition() puts into partition 0. */
static bool in_partition_0(uint64_t seq)
{
    return input_partition(0, seq) == 0;
}

/* A backlog budget of one byte pauses the partition as soon as it has an output
 * in flight, and the broker refuses the first two produce requests (message too
 * large) 200 ms later: the failed deliveries arrive while the partition is out of
 * the consumer's assignment. The pipeline rewinds it without unassigning it again,
 * resumes it at the rewind position once there is room, and writes every frame:
 * no step fails and the step loop does not spin (each step waits for input). */
#define PAUSED_FAILURE_RTT_MS 200

static void test_delivery_failure_while_paused(void **state)
{
    fixture *fx = *state;
    enum { N = 24 };
    for (uint64_t q = 0; q < N; q++)
        if (in_partition_0(q))
            produce_frame(fx, 0, q, 64, 48, 0);
    if (ride_kafka_producer_flush(fx->input, TIMEOUT_MS, fx->err, sizeof fx->err))
        fail_msg("flush: %s", fx->err);
    int64_t high[PARTITIONS];
    high_watermarks(fx, INPUT, high);
    /* Answered late, so that the partition is paused (at the next step, a few ms
     * after the produce) before the failure comes in, however slow the machine. */
    rd_kafka_mock_broker_push_request_error_rtts(
        ride_kafka_mock_cluster(fx->mock), 1, PRODUCE_API_KEY, 2,
        RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, PAUSED_FAILURE_RTT_MS,
        RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, PAUSED_FAILURE_RTT_MS);
    ride_pipeline_config cfg = gray_config(fx);
    cfg.output_group = OUTPUT_GROUP;
    cfg.max_backlog_bytes = 1;
    cfg.backlog_refresh_ms = 10;
    ride_pipeline *pl = open_pipeline(fx, &cfg);
    if (ride_pipeline_add_partition(pl, 0, 1, RIDE_KAFKA_OFFSET_COMMITTED, fx->err,
                                    sizeof fx->err))
        fail_msg("add: %s", fx->err);

    captured_log log;
    capture_log(&log);
    paused_run run = {0};
    int64_t t0 = ride_clock_mono_ms();
    bool done = run_paused_partition(fx, pl, high[0], &run);
    int64_t elapsed = ride_clock_mono_ms() - t0;
    end_capture(&log);
    int unassign_lines = count_lines(&log, "unassign");
    /* partition_rewound is the only line with a paused field. */
    int paused_rewinds = count_lines(&log, "paused=1");
    int failure_lines = count_lines(&log, "_failed");
    fclose(log.file);
    ride_pipeline_stats st;
    ride_pipeline_stats_get(pl, &st);
    ride_pipeline_partition_stats ps;
    ride_pipeline_partition_stats_get(pl, &ps, 1);
    printf("paused delivery failure: %s after %" PRId64 " ms, %d steps (%d failed: %s), "
           "%" PRIu64 " delivery errors, %" PRIu64 " rewinds, %" PRIu64 " pauses, "
           "%d rewinds logged while paused, %d log lines naming unassign, %d naming a "
           "failure\n",
           done ? "recovered" : "stalled", elapsed, run.steps, run.failed_steps,
           run.first_error, st.delivery_errors, ps.rewinds, st.pauses, paused_rewinds,
           unassign_lines, failure_lines);
    ride_pipeline_free(pl);
    assert_true(done);
    assert_int_equal(run.failed_steps, 0);
    assert_int_equal(unassign_lines, 0);
    /* One delivery_failed line per cause and interval. */
    assert_true(failure_lines <= 2);
    assert_true(st.delivery_errors >= 1);
    assert_true(ps.rewinds >= 1);
    assert_true(st.pauses >= 1);
    /* The scenario happened: the first failed delivery came in while paused. */
    assert_true(paused_rewinds >= 1);
    /* Each step waits up to 5 ms for input: a spinning loop would make thousands. */
    assert_true(run.steps <= 20 + elapsed);

    int count[STREAMS][FRAMES];
    read_output(fx, count);
    for (uint64_t q = 0; q < N; q++)
        if ((count[0][q] >= 1) != in_partition_0(q))
            fail_msg("frame 0/%" PRIu64 " output %d times", q, count[0][q]);
}

/* ---- Frames in flight through the task ---- */

#define DEPTH 4

/* A task that keeps up to DEPTH frames and hands them back later, oldest first,
 * as a GPU runner does: collect without wait answers "not done" two times in
 * three until it is full. */
typedef struct deferred {
    ride_frame q[DEPTH];
    bool fails[DEPTH];
    int head;
    int count;
    int max_count;
    int overfilled; /* submits beyond DEPTH: the pipeline must never make one */
    unsigned polls;
    int fail_stream; /* this frame fails when collected; -1: none */
    uint64_t fail_seq;
} deferred;

static int deferred_submit(void *ctx, ride_frame *in, char *err, size_t errlen)
{
    deferred *d = ctx;
    if (d->count == DEPTH) {
        d->overfilled++;
        snprintf(err, errlen, "full");
        return -1;
    }
    int at = (d->head + d->count) % DEPTH;
    ride_frame *f = &d->q[at];
    if (ride_cpu_grayscale(&in->image, &f->image, 1) != 0)
        return snprintf(err, errlen, "grayscale failed"), -1;
    f->stream_id = in->stream_id;
    f->seq = in->seq;
    f->capture_ns = in->capture_ns;
    d->fails[at] = (int)in->stream_id == d->fail_stream && in->seq == d->fail_seq;
    d->count++;
    if (d->count > d->max_count)
        d->max_count = d->count;
    return 0;
}

static int deferred_collect(void *ctx, int wait, ride_frame *out, ride_frame_status *rejected,
                            char *err, size_t errlen)
{
    (void)rejected;
    deferred *d = ctx;
    if (d->count == 0 || (!wait && d->count < DEPTH && ++d->polls % 3 != 0))
        return 0;
    ride_frame done = d->q[d->head];
    d->q[d->head] = *out;
    *out = done;
    bool failed = d->fails[d->head];
    d->head = (d->head + 1) % DEPTH;
    d->count--;
    if (failed)
        return snprintf(err, errlen, "refusing frame %u/%" PRIu64, out->stream_id, out->seq), -1;
    return 1;
}

static void deferred_free(deferred *d)
{
    for (int i = 0; i < DEPTH; i++)
        ride_frame_free(&d->q[i]);
}

static ride_pipeline *new_deferred_pipeline(fixture *fx, deferred *d)
{
    ride_pipeline_config cfg = gray_config(fx);
    cfg.submit = deferred_submit;
    cfg.collect = deferred_collect;
    cfg.task_depth = DEPTH;
    cfg.process_ctx = d;
    return open_pipeline(fx, &cfg);
}

/* Frames leave the task in the order they entered it, several at a time; one that
 * fails in the task is counted and committed past; all others are output once. */
static void test_frames_in_flight(void **state)
{
    fixture *fx = *state;
    produce_streams(fx);
    int64_t high[PARTITIONS];
    high_watermarks(fx, INPUT, high);

    deferred d = {.fail_stream = 1, .fail_seq = 9};
    ride_pipeline *pl = new_deferred_pipeline(fx, &d);
    own_all(fx, pl, 1);
    run_until(fx, pl, committed_to, high, "every partition committed");
    ride_pipeline_stats st;
    ride_pipeline_stats_get(pl, &st);
    ride_pipeline_free(pl);
    assert_int_equal(st.frames_in, STREAMS * FRAMES);
    assert_int_equal(st.processed, STREAMS * FRAMES - 1);
    assert_int_equal(st.dropped_total, 1);
    assert_int_equal(d.overfilled, 0);
    assert_int_equal(d.max_count, DEPTH);
    assert_int_equal(d.count, 0);
    deferred_free(&d);

    int count[STREAMS][FRAMES];
    read_output(fx, count);
    for (int s = 0; s < STREAMS; s++)
        for (int q = 0; q < FRAMES; q++)
            if (count[s][q] != (s == 1 && q == 9 ? 0 : 1))
                fail_msg("frame %d/%d output %d times", s, q, count[s][q]);
}

static int task_holds_partition(const deferred *d, int32_t partition)
{
    for (int i = 0; i < d->count; i++) {
        const ride_frame *f = &d->q[(d->head + i) % DEPTH];
        if (input_partition(f->stream_id, f->seq) == partition)
            return 1;
    }
    return 0;
}

/* A partition removed while the task holds its frames: their outputs are not
 * written, nothing of it is committed, and the others finish. */
static void test_removed_partition_with_frames_in_task(void **state)
{
    fixture *fx = *state;
    produce_streams(fx);
    int64_t high[PARTITIONS];
    high_watermarks(fx, INPUT, high);

    deferred d = {.fail_stream = -1};
    ride_pipeline *pl = new_deferred_pipeline(fx, &d);
    own_all(fx, pl, 1);
    int64_t deadline = ride_clock_mono_ms() + TIMEOUT_MS;
    while (!task_holds_partition(&d, 0)) {
        if (ride_clock_mono_ms() > deadline)
            fail_msg("the task never held a frame of partition 0");
        if (ride_pipeline_step(pl, 5, fx->err, sizeof fx->err) < 0)
            fail_msg("step: %s", fx->err);
    }
    assert_int_equal(ride_pipeline_remove_partition(pl, 0, fx->err, sizeof fx->err), 0);
    int64_t rest[PARTITIONS];
    memcpy(rest, high, sizeof rest);
    rest[0] = -1;
    run_until(fx, pl, committed_to, rest, "the other partitions");
    ride_pipeline_stats st;
    ride_pipeline_stats_get(pl, &st);
    ride_pipeline_free(pl);
    deferred_free(&d);
    assert_true(st.handed_back >= 1);
    assert_true(st.stale_outputs >= 1);
    int64_t committed[PARTITIONS];
    group_committed(fx, committed);
    assert_int_equal(committed[0], RIDE_KAFKA_OFFSET_NONE);
    for (int32_t p = 1; p < PARTITIONS; p++)
        assert_int_equal(committed[p], high[p]);
    printf("frames in task: %" PRIu64 " handed back, %" PRIu64 " outputs not written\n",
           st.handed_back, st.stale_outputs);
}

static void test_budget_needs_next_group(void **state)
{
    fixture *fx = *state;
    ride_pipeline_config cfg = gray_config(fx);
    cfg.max_backlog_bytes = 1 << 20;
    assert_null(ride_pipeline_new(&cfg, fx->err, sizeof fx->err));
    assert_non_null(strstr(fx->err, "the group reading the output"));
}

/* ---- Step timers ---- */

/* The worker's registry, and the stage's step histograms taken from it as
 * stages.c takes them. */
static void attach_steps(ride_worker_metrics *ms, ride_pipeline_config *cfg)
{
    char err[256];
    if (ride_worker_metrics_init(ms, err, sizeof err))
        fail_msg("metrics: %s", err);
    for (int i = 0; i < RIDE_STEP_COUNT; i++)
        cfg->step_seconds[i] = ride_histogram_get(
            ms->steps, (const char *[]){"app", "gray", ride_pipeline_step_name(i)}, 3);
}

static void expect_step(const ride_pipeline_config *cfg, ride_pipeline_step_id step,
                        uint64_t count)
{
    const ride_histogram *h = cfg->step_seconds[step];
    if (ride_histogram_count(h) != count)
        fail_msg("step %s observed %" PRIu64 " times, %" PRIu64 " expected",
                 ride_pipeline_step_name(step), ride_histogram_count(h), count);
    if (count > 0 && !(ride_histogram_sum(h) > 0))
        fail_msg("step %s observed no time", ride_pipeline_step_name(step));
}

/* Raw frames, some of several messages: each frame is timed once in every step
 * it takes, decode and encode in none, and the commits per call; the registry
 * renders the family and the process's CPU time. */
static void test_step_timers_raw(void **state)
{
    fixture *fx = *state;
    produce_streams(fx);
    int64_t high[PARTITIONS];
    high_watermarks(fx, INPUT, high);

    ride_worker_metrics ms;
    ride_pipeline_config cfg = gray_config(fx);
    attach_steps(&ms, &cfg);
    ride_pipeline *pl = open_pipeline(fx, &cfg);
    own_all(fx, pl, 1);
    run_until(fx, pl, committed_to, high, "every partition committed");
    ride_pipeline_free(pl);

    const uint64_t frames = STREAMS * FRAMES;
    static const ride_pipeline_step_id every_frame[] = {
        RIDE_STEP_FETCH,  RIDE_STEP_ASSEMBLE, RIDE_STEP_CHECKSUM,
        RIDE_STEP_KERNEL, RIDE_STEP_PRODUCE,  RIDE_STEP_DELIVERY};
    for (size_t i = 0; i < sizeof every_frame / sizeof *every_frame; i++)
        expect_step(&cfg, every_frame[i], frames);
    expect_step(&cfg, RIDE_STEP_DECODE, 0);
    expect_step(&cfg, RIDE_STEP_ENCODE, 0);
    assert_true(ride_histogram_count(cfg.step_seconds[RIDE_STEP_COMMIT]) >= 1);

    char *text = ride_metrics_render(ms.reg, NULL);
    assert_non_null(text);
    char line[160];
    snprintf(line, sizeof line,
             "\nride_worker_step_seconds_count{app=\"app\",stage=\"gray\",step=\"kernel\"} %" PRIu64
             "\n",
             frames);
    assert_non_null(strstr(text, line));
    const char *cpu = strstr(text, "\nride_worker_cpu_seconds_total ");
    assert_non_null(cpu);
    assert_true(strtod(cpu + strlen("\nride_worker_cpu_seconds_total "), NULL) > 0);
    free(text);
    ride_metrics_free(ms.reg);
}

/* JPEG in and out: every frame is decoded and encoded once, and timed so. */
static void test_step_timers_jpeg(void **state)
{
    fixture *fx = *state;
    uint64_t frames = 12;
    for (uint64_t q = 0; q < frames; q++)
        produce_encoded(fx, 0, q, 160, 120, input_partition(0, q), RIDE_ENC_JPEG);
    if (ride_kafka_producer_flush(fx->input, TIMEOUT_MS, fx->err, sizeof fx->err))
        fail_msg("flush: %s", fx->err);

    ride_worker_metrics ms;
    ride_pipeline_config cfg = gray_config(fx);
    attach_steps(&ms, &cfg);
    const ride_frame_write_opts jpeg = {RIDE_ENC_JPEG, 90, RIDE_FRAME_DEFAULT_MAX_MESSAGE};
    cfg.write_opts = &jpeg;
    ride_pipeline *pl = open_pipeline(fx, &cfg);
    own_all(fx, pl, 1);
    run_until(fx, pl, processed_at_least, &frames, "every frame processed");
    ride_pipeline_free(pl);

    expect_step(&cfg, RIDE_STEP_DECODE, frames);
    expect_step(&cfg, RIDE_STEP_ENCODE, frames);
    expect_step(&cfg, RIDE_STEP_KERNEL, frames);
    expect_step(&cfg, RIDE_STEP_PRODUCE, frames);
    ride_metrics_free(ms.reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_frame_once_and_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_and_resume_loses_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_partition_commits_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_input_and_failed_task, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_sink_write_rewinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interleaved_frames_commit_at_oldest_first_chunk,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_configuration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throughput_900x900, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure_pauses_without_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_input_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_failure_while_paused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_needs_next_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frames_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_timers_raw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_timers_jpeg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_partition_with_frames_in_task, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
