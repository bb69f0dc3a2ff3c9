/* pipeline.c - one stage's partition pipeline (pipeline.h). With exactly-once,
 * a partition's outputs go through its own transactional producer (ps->txn); the
 * "Exactly-once" section holds what only that mode does. Step timers read the
 * monotonic clock (vDSO, no system call) twice per step of a frame at most. */
#include "pipeline.h"
#include "base/clock.h"
#include "base/error.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "offsets.h"
#include "retry.h"
#include "base/log.h"
#include "kafka/backlog.h"
#include "kafka/message_size.h"
#include "kafka/share.h"

#define DEFAULT_MAX_IN_FLIGHT 64
#define DEFAULT_KAFKA_TIMEOUT_MS 10000
/* Messages read per step after the first: enough to amortise a step's overhead,
 * few enough that delivery reports are served often. */
#define STEP_BATCH 16

/* Step times of the messages of the frame being assembled, observed once it is
 * complete. */
typedef struct input_times {
    int64_t fetch_ns;
    int64_t assemble_ns;
    int64_t checksum_ns;
} input_times;

typedef struct partition_state {
    ride_pipeline *pl;
    int32_t partition;
    int64_t epoch;
    /* Changes at every add and rewind: delivery reports of an older incarnation
     * acknowledge nothing, even under the same epoch. */
    uint64_t incarnation;
    ride_offset_tracker *tracker;
    ride_frame_assembler *assembler;
    int64_t committed;
    int needs_rewind;
    int64_t rewind_at_ms; /* when a needed rewind may happen (backoff) */
    /* In the consumer's assignment now: a paused partition is not, nor one whose
     * rewind or resume failed half-way. */
    int assigned;
    /* A rewind, pause or resume that failed is tried again after a backoff. */
    ride_retry retry;
    /* The message being pushed: handle_message settles it, on_reject the others. */
    int64_t cur_offset;
    input_times reading;
    /* Exactly-once only: the partition's transactional producer (NULL while it
     * must be replaced), whether a transaction is open, its output frames, and
     * when the last one ended. */
    ride_kafka_producer *txn;
    int txn_open;
    int needs_reset;
    int64_t fenced_ms; /* when a newer producer fenced this one */
    uint64_t txn_frames;
    int64_t txn_ended_ms;
    /* Outputs its share had no room for yet, oldest first, written in order. */
    struct parked_output *parked;
    struct parked_output *parked_tail;
    ride_pipeline_partition_stats st;
} partition_state;

/* An output frame waiting for room in its partition's share. */
typedef struct parked_output {
    ride_frame frame;
    int64_t first; /* its input frame's first offset */
    struct parked_output *next;
} parked_output;

/* An output frame whose delivery reports are not all in. */
typedef struct output_record {
    ride_pipeline *pl;
    int32_t partition; /* the input partition */
    int32_t out_partition;
    uint64_t bytes; /* queued so far */
    ride_share *share;     /* of the input partition; NULL without a budget */
    uint64_t reserved;     /* bytes held in the share for the queued messages */
    int64_t last_offset;   /* the highest delivered, -1 before any */
    ride_share_admit admission;
    uint64_t incarnation;
    int64_t first; /* its input frame's first offset, done with the last report */
    int64_t queued_ns; /* when its produce call returned */
    unsigned queued;
    unsigned reported;
    int sealed; /* every message of the frame is queued (or queuing failed) */
    int failed;
    struct output_record *prev;
    struct output_record *next;
} output_record;

/* A frame handed to the task (submit) whose output is not collected yet. */
typedef struct task_frame {
    int32_t partition;
    uint64_t incarnation;
    uint32_t stream_id;
    uint64_t seq;
    uint64_t capture_ns;
    int64_t first; /* its first input offset */
    int64_t submit_ns; /* time in the task's submit */
} task_frame;

/* Warnings that can repeat with every frame, each throttled on its own. */
typedef enum throttled_warning {
    WARN_PRODUCE,
    WARN_TASK,
    WARN_ORDER,
    WARN_EXPIRED,
    WARN_OVER_SHARE,
    WARN_COUNT
} throttled_warning;

struct ride_pipeline {
    char *app;   /* for logs */
    char *stage; /* likewise */
    ride_log_throttle throttles[WARN_COUNT];
    ride_failure_log failures; /* rewinds, pauses and resumes that failed */
    char *input_topic;
    char *output_topic;
    int output_partitions;
    ride_pipeline_submit_fn submit;
    ride_pipeline_collect_fn collect;
    void *process_ctx;
    ride_pipeline_sink_fn sink;
    void *sink_ctx;
    size_t max_frame_bytes;
    ride_pixel_format decode_as;
    bool defer_decode;
    uint64_t collected; /* frames that left the task, failed ones included */
    const ride_frame_write_opts *write_opts; /* the caller's, read for every output */
    size_t message_bytes; /* what the output topic takes: caps write_opts' */
    int max_in_flight;
    int kafka_timeout_ms;

    ride_kafka_consumer *consumer;
    ride_kafka_producer *producer; /* NULL with exactly-once: each partition has its own */
    /* Exactly-once: the template of the partitions' producers, and the cadence. */
    rd_kafka_conf_t *txn_conf;
    int txn_interval_ms;
    uint64_t txn_max_frames;

    /* Backpressure: NULL without a budget. */
    ride_backlog *backlog;
    rd_kafka_conf_t *backlog_conf; /* until the monitor takes it */
    /* Per input partition (each one writer of its output partition), made when
     * it is first added and kept while reports may still count against it. */
    ride_share **shares;
    int input_partitions;
    uint64_t share_limit;
    bool strict;
    uint64_t last_output_bytes; /* what the last output took of a share */

    partition_state **parts;
    size_t part_count;
    size_t part_cap;
    uint64_t incarnations;

    output_record *records;
    int in_flight;

    /* Frames in the task, oldest at tasked_head: a ring of task_depth. */
    task_frame *tasked;
    int task_depth;
    int tasked_head;
    int tasked_count;

    ride_frame in_frame;
    ride_frame out_frame;

    ride_histogram *steps[RIDE_STEP_COUNT];
    int64_t busy_ns;

    ride_pipeline_stats totals;
    int64_t stats_ns;
    uint64_t stats_frames_in;
};

/* Exactly-once (defined in its section below). */
static ride_kafka_txn_result open_producer(ride_pipeline *pl, int32_t partition,
                                           ride_kafka_producer **out, char *err, size_t errlen);
static void end_transaction(ride_pipeline *pl, partition_state *ps);
static void drop_producer(ride_pipeline *pl, partition_state *ps);
static int abort_transaction(ride_pipeline *pl, partition_state *ps, char *err, size_t errlen);
static int reset_producer(ride_pipeline *pl, partition_state *ps, char *err, size_t errlen);
static ride_kafka_producer *output_producer(ride_pipeline *pl, partition_state *ps);
static void commit_transactions(ride_pipeline *pl);
static int poll_outputs(ride_pipeline *pl, int timeout_ms);

const char *ride_pipeline_drop_reason(int i)
{
    if (i == RIDE_PIPELINE_DROP_TASK_FAILED)
        return "task_failed";
    if (i == RIDE_PIPELINE_DROP_SINK_REJECTED)
        return "sink_rejected";
    if (i == RIDE_PIPELINE_DROP_EXPIRED)
        return "expired";
    if (i == RIDE_PIPELINE_DROP_OVER_SHARE)
        return "over_share";
    return ride_frame_status_reason((ride_frame_status)i);
}

const char *ride_pipeline_step_name(int step)
{
    static const char *const names[RIDE_STEP_COUNT] = {
        "fetch", "assemble", "checksum", "decode", "kernel",
        "encode", "produce", "delivery", "commit"};
    return step >= 0 && step < RIDE_STEP_COUNT ? names[step] : "unknown";
}

static void observe_step(ride_pipeline *pl, ride_pipeline_step_id step, int64_t ns)
{
    ride_histogram_observe(pl->steps[step], (double)ns / 1e9);
    if (step != RIDE_STEP_FETCH && step != RIDE_STEP_DELIVERY && ns > 0)
        pl->busy_ns += ns;
}

int64_t ride_pipeline_busy_ns(const ride_pipeline *pl)
{
    return pl->busy_ns;
}

/* One line per RIDE_LOG_THROTTLE_MS for a warning that can repeat with every
 * frame (a broken stream fails each of its frames): the counters carry the
 * full count, the line names the first case and how many were held back. */
static void warn_throttled(ride_pipeline *pl, throttled_warning kind, const char *event,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void warn_throttled(ride_pipeline *pl, throttled_warning kind, const char *event,
                           const char *fmt, ...)
{
    uint64_t suppressed;
    if (!ride_log_throttle_pass(&pl->throttles[kind], RIDE_LOG_THROTTLE_MS, &suppressed))
        return;
    char fields[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fields, sizeof fields, fmt, ap);
    va_end(ap);
    ride_log_warn(event, "app=%s stage=%s %s suppressed=%llu", pl->app, pl->stage, fields,
                  (unsigned long long)suppressed);
}

/* ---- Partitions ---- */

static partition_state *find_partition(const ride_pipeline *pl, int32_t partition)
{
    for (size_t i = 0; i < pl->part_count; i++)
        if (pl->parts[i]->partition == partition)
            return pl->parts[i];
    return NULL;
}

/* The partition must be re-read from its committable offset. Consecutive
 * failures back off, so that an output that keeps failing (a full disk, a sink
 * directory that cannot be created) is retried at a bounded rate instead of
 * re-reading and re-processing the same frames in a busy loop. */
static void schedule_rewind(partition_state *ps)
{
    if (ps->needs_rewind)
        return;
    ps->needs_rewind = 1;
    int64_t backoff = ps->st.rewind_backoff_ms;
    ps->rewind_at_ms = ride_clock_mono_ms() + backoff;
    backoff = backoff ? backoff * 2 : RIDE_PIPELINE_REWIND_BACKOFF_MIN_MS;
    ps->st.rewind_backoff_ms =
        backoff < RIDE_PIPELINE_REWIND_BACKOFF_MAX_MS ? backoff : RIDE_PIPELINE_REWIND_BACKOFF_MAX_MS;
}

/* An output was durably written: the partition's next failure rewinds at once. */
static void count_processed(partition_state *ps)
{
    ps->st.processed++;
    ps->pl->totals.processed++;
    ps->st.rewind_backoff_ms = 0;
}

static void count_drop(partition_state *ps, int reason)
{
    ps->st.dropped[reason]++;
    ps->st.dropped_total++;
    ps->pl->totals.dropped_total++;
}

/* Every rejected frame passes here exactly once (frame.h): counted, and the
 * first offset it held is done, so that a bad frame never holds the partition's
 * commits. The message being pushed is settled by handle_message. */
static void on_reject(void *ctx, const ride_frame_reject *r)
{
    partition_state *ps = ctx;
    count_drop(ps, (int)r->status);
    ride_log_debug("frame_dropped", "partition=%d offset=%lld reason=%s", (int)ps->partition,
                   (long long)ps->cur_offset, ride_frame_status_reason(r->status));
    if ((int64_t)r->tags.first != ps->cur_offset)
        ride_offset_tracker_done(ps->tracker, (int64_t)r->tags.first);
}

/* Outputs of an incarnation that ends: their inputs are read again (rewind) or
 * by the next owner (removal). Returns how many there were. */
static uint64_t drop_parked(partition_state *ps)
{
    uint64_t n = 0;
    while (ps->parked) {
        parked_output *po = ps->parked;
        ps->parked = po->next;
        ride_frame_free(&po->frame);
        free(po);
        n++;
    }
    ps->parked_tail = NULL;
    return n;
}

static void partition_free(partition_state *ps)
{
    if (!ps)
        return;
    drop_parked(ps);
    ride_frame_assembler_free(ps->assembler);
    ride_offset_tracker_free(ps->tracker);
    ride_kafka_producer_discard(ps->txn);
    free(ps);
}

/* Fresh reading state from tracker_start on (assembler, tracker). */
static int partition_restart(ride_pipeline *pl, partition_state *ps, int64_t tracker_start)
{
    ride_offset_tracker *t = ride_offset_tracker_new(tracker_start);
    if (!t)
        return -1;
    ride_offset_tracker_free(ps->tracker);
    ps->tracker = t;
    ride_frame_assembler_reset(ps->assembler);
    ps->reading = (input_times){0};
    drop_parked(ps);
    ps->incarnation = ++pl->incarnations;
    ps->needs_rewind = 0;
    return 0;
}

static void detach_partition(ride_pipeline *pl, partition_state *ps)
{
    for (size_t i = 0; i < pl->part_count; i++) {
        if (pl->parts[i] == ps) {
            pl->parts[i] = pl->parts[--pl->part_count];
            return;
        }
    }
}

/* Reads the group's committed offset: where a new owner resumes. */
static int resolve_start(ride_pipeline *pl, int32_t partition, int64_t start, int64_t *tracker_start,
                         int64_t *committed, char *err, size_t errlen)
{
    *committed = RIDE_OFFSET_UNKNOWN;
    if (start >= 0) {
        *tracker_start = start;
        return 0;
    }
    if (start == RIDE_KAFKA_OFFSET_BEGINNING) {
        *tracker_start = RIDE_OFFSET_UNKNOWN;
        return 0;
    }
    if (start != RIDE_KAFKA_OFFSET_COMMITTED) {
        ride_set_error(err, errlen, "partition %d: invalid start offset %lld", (int)partition,
                (long long)start);
        return -1;
    }
    ride_kafka_tp tp = {pl->input_topic, partition, RIDE_KAFKA_OFFSET_NONE};
    if (ride_kafka_committed(pl->consumer, &tp, 1, pl->kafka_timeout_ms, err, errlen) != 0)
        return -1;
    *tracker_start = tp.offset >= 0 ? tp.offset : RIDE_OFFSET_UNKNOWN;
    *committed = *tracker_start;
    return 0;
}

/* The input partition's share of its output partition's budget. An owner after
 * the first (epoch above 1) waits for what its predecessors wrote to be read; a
 * partition owned here before keeps its share, whose messages may still be
 * unread (kafka/share.h). */
static int open_share(ride_pipeline *pl, int32_t partition, int64_t epoch)
{
    if (!pl->shares)
        return 0;
    if (partition >= pl->input_partitions)
        return -1;
    ride_share **s = &pl->shares[partition];
    if (*s) {
        ride_share_restart(*s);
        return 0;
    }
    *s = ride_share_new(pl->backlog, partition % pl->output_partitions, pl->share_limit,
                        pl->strict, epoch > 1);
    return *s ? 0 : -1;
}

int ride_pipeline_add_partition(ride_pipeline *pl, int32_t partition, int64_t epoch,
                                int64_t start, char *err, size_t errlen)
{
    if (partition < 0 || find_partition(pl, partition)) {
        ride_set_error(err, errlen, "partition %d of %s is %s", (int)partition, pl->input_topic,
                partition < 0 ? "invalid" : "already owned");
        return -1;
    }
    /* A new owner's init_transactions completes the old owner's transaction
     * first: only then is the committed offset final. */
    ride_kafka_producer *txn = NULL;
    if (pl->txn_conf && open_producer(pl, partition, &txn, err, errlen) != RIDE_KAFKA_TXN_OK)
        return -1;
    int64_t tracker_start, committed;
    if (resolve_start(pl, partition, start, &tracker_start, &committed, err, errlen) != 0) {
        ride_kafka_producer_discard(txn);
        return -1;
    }
    if (pl->part_count == pl->part_cap) {
        size_t cap = pl->part_cap ? pl->part_cap * 2 : 8;
        partition_state **grown = realloc(pl->parts, cap * sizeof *grown);
        if (!grown) {
            ride_kafka_producer_discard(txn);
            ride_set_error(err, errlen, "out of memory");
            return -1;
        }
        pl->parts = grown;
        pl->part_cap = cap;
    }
    partition_state *ps = calloc(1, sizeof *ps);
    if (ps) {
        ps->pl = pl;
        ps->txn = txn;
        ps->txn_ended_ms = ride_clock_mono_ms();
        ride_frame_assembler_opts ao = {.max_frame_bytes = pl->max_frame_bytes,
                                        .on_reject = on_reject, .ctx = ps,
                                        .defer_decode = pl->defer_decode,
                                        .decode_as = pl->decode_as};
        ps->assembler = ride_frame_assembler_new_opts(&ao);
    } else {
        ride_kafka_producer_discard(txn);
    }
    if (!ps || !ps->assembler || partition_restart(pl, ps, tracker_start) != 0) {
        partition_free(ps);
        ride_set_error(err, errlen, "out of memory");
        return -1;
    }
    ps->partition = partition;
    ps->epoch = epoch;
    ps->committed = committed;
    ps->st.partition = partition;
    ps->st.epoch = epoch;
    if (open_share(pl, partition, epoch) != 0) {
        partition_free(ps);
        ride_set_error(err, errlen, "out of memory");
        return -1;
    }
    ride_kafka_tp tp = {pl->input_topic, partition,
                        tracker_start >= 0 ? tracker_start : RIDE_KAFKA_OFFSET_COMMITTED};
    if (ride_kafka_consumer_add(pl->consumer, &tp, 1, err, errlen) != 0) {
        partition_free(ps);
        return -1;
    }
    ps->assigned = 1;
    pl->parts[pl->part_count++] = ps;
    ride_log_info("partition_added", "app=%s stage=%s topic=%s partition=%d epoch=%lld start=%lld",
                  pl->app, pl->stage, pl->input_topic, (int)partition, (long long)epoch, (long long)tracker_start);
    return 0;
}

static uint64_t records_of(const ride_pipeline *pl, const partition_state *ps)
{
    uint64_t n = 0;
    for (const output_record *r = pl->records; r; r = r->next)
        if (r->partition == ps->partition && r->incarnation == ps->incarnation)
            n++;
    return n;
}

/* The i-th frame in the task, from the oldest (0) on; i may be tasked_count for the
 * next free entry. */
static task_frame *tasked_at(const ride_pipeline *pl, int i)
{
    return &pl->tasked[(pl->tasked_head + i) % pl->task_depth];
}

static uint64_t tasked_of(const ride_pipeline *pl, const partition_state *ps)
{
    uint64_t n = 0;
    for (int i = 0; i < pl->tasked_count; i++) {
        const task_frame *tf = tasked_at(pl, i);
        if (tf->partition == ps->partition && tf->incarnation == ps->incarnation)
            n++;
    }
    return n;
}

int ride_pipeline_remove_partition(ride_pipeline *pl, int32_t partition, char *err,
                                   size_t errlen)
{
    partition_state *ps = find_partition(pl, partition);
    if (!ps) {
        ride_set_error(err, errlen, "partition %d of %s is not owned", (int)partition,
                pl->input_topic);
        return -1;
    }
    if (ps->txn)
        end_transaction(pl, ps);
    /* Forgotten here before Kafka is told: whatever happens next, nothing of
     * this partition is processed or committed any more. */
    detach_partition(pl, ps);
    uint64_t handed_back = (uint64_t)ride_frame_assembler_pending(ps->assembler) +
                           records_of(pl, ps) + tasked_of(pl, ps) + drop_parked(ps);
    pl->totals.handed_back += handed_back;
    ride_log_info("partition_removed",
                  "app=%s stage=%s topic=%s partition=%d epoch=%lld handed_back=%llu", pl->app,
                  pl->stage, pl->input_topic, (int)partition, (long long)ps->epoch,
                  (unsigned long long)handed_back);
    int assigned = ps->assigned;
    drop_producer(pl, ps);
    partition_free(ps);
    /* A paused partition is out of the consumer's assignment already. */
    ride_kafka_tp tp = {pl->input_topic, partition, 0};
    return assigned ? ride_kafka_consumer_remove(pl->consumer, &tp, 1, err, errlen) : 0;
}

/* Puts the partition into the consumer's assignment at its position, or takes
 * it out, unless it is there (or not) already. */
static int set_assigned(ride_pipeline *pl, partition_state *ps, int assigned, char *err,
                        size_t errlen)
{
    if (assigned == ps->assigned)
        return 0;
    ride_kafka_tp tp = {pl->input_topic, ps->partition, 0};
    int rc;
    if (assigned) {
        int64_t position = ride_offset_tracker_position(ps->tracker);
        tp.offset = position >= 0 ? position : RIDE_KAFKA_OFFSET_COMMITTED;
        rc = ride_kafka_consumer_add(pl->consumer, &tp, 1, err, errlen);
    } else {
        rc = ride_kafka_consumer_remove(pl->consumer, &tp, 1, err, errlen);
    }
    if (rc == 0)
        ps->assigned = assigned;
    return rc;
}

/* A failed delivery leaves its frame unacknowledged for good in this
 * incarnation, which would hold the partition's commits forever: the partition
 * is re-read from its committable offset instead, so the failed frame (and
 * everything after it) is processed again. Duplicates are allowed at least once;
 * a loss is not. It leaves the assignment here (a paused partition has left it
 * already) and is put back at the rewind position by sync_partition, at once or
 * once its output has room. */
static int rewind_partition(ride_pipeline *pl, partition_state *ps, char *err, size_t errlen)
{
    /* Exactly-once: the aborted transaction took every output since the last
     * commit with it, so all of that is read again. */
    int64_t start = pl->txn_conf ? ps->committed : ride_offset_tracker_committable(ps->tracker);
    if (pl->txn_conf && abort_transaction(pl, ps, err, errlen) != 0)
        return -1;
    if (set_assigned(pl, ps, 0, err, errlen) != 0)
        return -1;
    if (partition_restart(pl, ps, start) != 0) {
        ride_set_error(err, errlen, "out of memory");
        return -1;
    }
    ps->st.rewinds++;
    /* Only the first rewind of a streak is worth a warning: the ones after it
     * repeat it at the backoff's pace. */
    ride_log(ps->st.rewind_backoff_ms > RIDE_PIPELINE_REWIND_BACKOFF_MIN_MS ? RIDE_LOG_DEBUG
                                                                            : RIDE_LOG_WARN,
             "partition_rewound", "topic=%s partition=%d offset=%lld paused=%d", pl->input_topic,
             (int)ps->partition, (long long)start, ps->st.paused);
    return 0;
}

/* ---- Outputs ---- */

static void record_unlink(ride_pipeline *pl, output_record *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        pl->records = r->next;
    if (r->next)
        r->next->prev = r->prev;
    pl->in_flight--;
    free(r);
}

/* The frame's outcome once every report is in: its inputs are acknowledged only
 * when all of its messages are durable and the partition is still the one that
 * read them. */
static void maybe_finish(ride_pipeline *pl, output_record *r)
{
    if (!r->sealed || r->reported < r->queued)
        return;
    if (r->share)
        ride_share_written(r->share, r->failed ? -1 : r->last_offset, r->reserved);
    partition_state *ps = find_partition(pl, r->partition);
    if (!ps || ps->incarnation != r->incarnation) {
        pl->totals.stale_reports++;
    } else if (r->failed) {
        ps->st.delivery_errors++;
        pl->totals.delivery_errors++;
        schedule_rewind(ps);
    } else {
        ride_offset_tracker_done(ps->tracker, r->first);
        count_processed(ps);
        ps->st.messages_out += r->queued;
        observe_step(pl, RIDE_STEP_DELIVERY, ride_clock_mono_ns() - r->queued_ns);
    }
    record_unlink(pl, r);
}

/* A failed message, possibly written or not, fails its frame: the partition is
 * read again and the frame written again (at-least-once). */
static void on_delivery(void *ctx, void *opaque, const ride_kafka_delivery *d)
{
    ride_pipeline *pl = ctx;
    output_record *r = opaque;
    r->reported++;
    if (!d->err && d->offset > r->last_offset)
        r->last_offset = d->offset;
    if (d->err) {
        r->failed = 1;
        /* Once per broker's reason and interval: one refused message size must not
         * hide behind another failure. */
        char context[300];
        snprintf(context, sizeof context, "app=%s stage=%s topic=%s partition=%d", pl->app,
                 pl->stage, d->topic, (int)d->partition);
        ride_failure_log_warn(&pl->failures, "delivery_failed", context,
                              d->reason ? d->reason : rd_kafka_err2str(d->err));
    }
    maybe_finish(pl, r);
}

/* One more message of the output frame is queued (ride_kafka_queued_fn). */
static void count_queued(void *opaque, size_t len)
{
    output_record *r = opaque;
    r->queued++;
    r->bytes += len;
}

/* Reserves the encoded frame's bytes in its share (ride_kafka_admit_fn). */
static bool admit_output(void *opaque, size_t messages, uint64_t bytes)
{
    output_record *r = opaque;
    if (!r->share)
        return true;
    uint64_t need = ride_share_frame_bytes(messages, bytes);
    r->admission = ride_share_reserve(r->share, need);
    if (r->admission == RIDE_SHARE_ADMITTED)
        r->reserved = need;
    return r->admission == RIDE_SHARE_ADMITTED;
}

/* The caller's encoding, in messages no larger than the output topic takes. */
static ride_frame_write_opts output_opts(const ride_pipeline *pl)
{
    ride_frame_write_opts wo = {RIDE_ENC_RAW, -1, RIDE_FRAME_DEFAULT_MAX_MESSAGE};
    if (pl->write_opts)
        wo = *pl->write_opts;
    if (wo.max_message_bytes > pl->message_bytes)
        wo.max_message_bytes = pl->message_bytes;
    return wo;
}

/* An output larger than its whole share could never be written without the
 * broker deleting frames unread: dropped (counted, logged) like a failing task's. */
static void drop_over_share(ride_pipeline *pl, partition_state *ps, const ride_frame *out,
                            int64_t first)
{
    warn_throttled(pl, WARN_OVER_SHARE, "output_over_share",
                   "partition=%d stream=%u seq=%llu limit=%llu error=\"the output frame is larger "
                   "than this writer's share of its partition's max_backlog_bytes\"",
                   (int)ps->partition, out->stream_id, (unsigned long long)out->seq,
                   (unsigned long long)ride_share_limit(pl->shares[ps->partition]));
    count_drop(ps, RIDE_PIPELINE_DROP_OVER_SHARE);
    ride_offset_tracker_done(ps->tracker, first);
}

/* The encoding inside a produce call that took produce_ns, and the rest of it. */
static void time_output(ride_pipeline *pl, int64_t produce_ns)
{
    int64_t encode_ns = ride_frame_write_last_encode_ns();
    if (encode_ns > 0)
        observe_step(pl, RIDE_STEP_ENCODE, encode_ns);
    observe_step(pl, RIDE_STEP_PRODUCE, produce_ns - encode_ns);
}

/* Queues the output frame when its share has room for it; its first input offset
 * becomes done with its last report. Returns false, queuing nothing, when the
 * share has no room now. */
static bool produce_output(ride_pipeline *pl, partition_state *ps, const ride_frame *out,
                           int64_t first)
{
    /* None while a transactional producer must be replaced: the replacement
     * reads the partition again from its committed offset. */
    ride_kafka_producer *producer = output_producer(pl, ps);
    if (!producer)
        return true;
    output_record *r = calloc(1, sizeof *r);
    if (!r) {
        schedule_rewind(ps);
        return true;
    }
    int32_t out_partition = ps->partition % pl->output_partitions;
    *r = (output_record){.pl = pl, .partition = ps->partition, .out_partition = out_partition,
                         .share = pl->shares ? pl->shares[ps->partition] : NULL,
                         .last_offset = -1, .incarnation = ps->incarnation, .first = first,
                         .next = pl->records};
    if (pl->records)
        pl->records->prev = r;
    pl->records = r;
    pl->in_flight++;
    char err[256] = "";
    ride_frame_write_opts wo = output_opts(pl);
    int64_t t0 = ride_clock_mono_ns();
    /* A full queue is backpressure: reports are served until the timeout. */
    int rc = ride_kafka_produce_frame_admitted(producer, pl->output_topic, out_partition, out, &wo,
                                               r, count_queued, admit_output,
                                               pl->kafka_timeout_ms, err, sizeof err);
    r->queued_ns = ride_clock_mono_ns();
    if (rc == 1) {
        ride_share_admit why = r->admission;
        record_unlink(pl, r);
        if (why != RIDE_SHARE_NEVER)
            return false;
        drop_over_share(pl, ps, out, first);
        return true;
    }
    if (rc == 0) {
        time_output(pl, r->queued_ns - t0);
        pl->last_output_bytes = ride_share_frame_bytes(r->queued, r->bytes);
        /* Counted once queued: an output its share parked comes here again. */
        if (pl->txn_conf)
            ps->txn_frames++;
    } else {
        /* Messages already queued make an incomplete frame that receivers reject;
         * the frame is written again after the rewind. */
        r->failed = 1;
        char why[300];
        warn_throttled(pl, WARN_PRODUCE, "produce_failed", "topic=%s partition=%d error=%s",
                       pl->output_topic, (int)out_partition, ride_log_quote(err, why, sizeof why));
    }
    /* What was reserved for messages never queued is free again. */
    uint64_t queued = ride_share_frame_bytes(r->queued, r->bytes);
    if (r->share && r->reserved > queued) {
        ride_share_unreserve(r->share, r->reserved - queued);
        r->reserved = queued;
    }
    r->sealed = 1;
    maybe_finish(pl, r);
    return true;
}

/* Keeps the task's output (taking out_frame's buffers) behind the partition's
 * other parked outputs. Out of memory, the partition is read again instead. */
static void park_output(ride_pipeline *pl, partition_state *ps, int64_t first)
{
    parked_output *po = calloc(1, sizeof *po);
    if (!po) {
        schedule_rewind(ps);
        return;
    }
    po->frame = pl->out_frame;
    memset(&pl->out_frame, 0, sizeof pl->out_frame);
    po->first = first;
    if (ps->parked_tail)
        ps->parked_tail->next = po;
    else
        ps->parked = po;
    ps->parked_tail = po;
}

/* Writes the partition's parked outputs, in order, while its share has room. */
static void flush_parked(ride_pipeline *pl, partition_state *ps)
{
    while (ps->parked && produce_output(pl, ps, &ps->parked->frame, ps->parked->first)) {
        parked_output *po = ps->parked;
        ps->parked = po->next;
        if (!ps->parked)
            ps->parked_tail = NULL;
        ride_frame_free(&po->frame);
        free(po);
    }
}

/* An output waits for room behind the partition's parked ones: a partition's
 * frames keep their order. */
static void write_topic(ride_pipeline *pl, partition_state *ps, int64_t first)
{
    if (ps->parked || !produce_output(pl, ps, &pl->out_frame, first))
        park_output(pl, ps, first);
}

/* A rejected frame is dropped like a failing task's: it would fail every time. */
static void write_sink(ride_pipeline *pl, partition_state *ps, int64_t first)
{
    char err[256] = "";
    int rc = pl->sink(pl->sink_ctx, ps->partition, &pl->out_frame, err, sizeof err);
    if (rc == RIDE_PIPELINE_SINK_WRITTEN) {
        ride_offset_tracker_done(ps->tracker, first);
        count_processed(ps);
    } else if (rc == RIDE_PIPELINE_SINK_REJECTED) {
        count_drop(ps, RIDE_PIPELINE_DROP_SINK_REJECTED);
        ride_offset_tracker_done(ps->tracker, first);
    } else {
        ride_log_debug("sink_failed", "partition=%d error=%s", (int)ps->partition, err);
        ps->st.delivery_errors++;
        pl->totals.delivery_errors++;
        schedule_rewind(ps);
    }
}

static void write_output(ride_pipeline *pl, partition_state *ps, int64_t first)
{
    if (pl->output_topic)
        write_topic(pl, ps, first);
    else
        write_sink(pl, ps, first);
}

/* A failing task drops the frame (counted) rather than holding it: a poison
 * frame that fails every time would otherwise stop the partition for good. */
static void task_failed(ride_pipeline *pl, partition_state *ps, uint32_t stream_id,
                        uint64_t seq, const char *err, int64_t first)
{
    char why[300];
    warn_throttled(pl, WARN_TASK, "task_failed", "partition=%d stream=%u seq=%llu error=%s",
                   (int)ps->partition, stream_id, (unsigned long long)seq,
                   ride_log_quote(err, why, sizeof why));
    count_drop(ps, RIDE_PIPELINE_DROP_TASK_FAILED);
    ride_offset_tracker_done(ps->tracker, first);
}

/* A frame its lane could not decode is dropped as the assembler would have. */
static void input_rejected(partition_state *ps, const task_frame *tf, ride_frame_status st)
{
    count_drop(ps, (int)st);
    ride_log_debug("frame_dropped", "partition=%d offset=%lld reason=%s", (int)ps->partition,
                   (long long)tf->first, ride_frame_status_reason(st));
    ride_offset_tracker_done(ps->tracker, tf->first);
}

/* Hands the frame to the task; its output is written when collected. The step
 * makes room in the ring before it reads a message. */
static void submit_frame(ride_pipeline *pl, partition_state *ps, int64_t first)
{
    ride_frame *in = &pl->in_frame;
    char err[256] = "";
    ps->st.frames_in++;
    pl->totals.frames_in++;
    int64_t t0 = ride_clock_mono_ns();
    task_frame tf = {.partition = ps->partition, .incarnation = ps->incarnation,
                     .stream_id = in->stream_id, .seq = in->seq, .capture_ns = in->capture_ns,
                     .first = first};
    if (pl->submit(pl->process_ctx, in, err, sizeof err) != 0) {
        task_failed(pl, ps, tf.stream_id, tf.seq, err, first);
        return;
    }
    tf.submit_ns = ride_clock_mono_ns() - t0;
    *tasked_at(pl, pl->tasked_count) = tf;
    pl->tasked_count++;
}

/* Writes the oldest frame in the task once it is done, waiting for it up to
 * wait_ms. Returns 1 when a frame left the task, 0 when none did. An output of a
 * partition removed or rewound meanwhile is not written: its inputs are read
 * again. */
static int collect_frame(ride_pipeline *pl, int wait_ms)
{
    if (pl->tasked_count == 0)
        return 0;
    char err[256] = "";
    ride_frame_status rejected = RIDE_FRAME_OK;
    int64_t t0 = ride_clock_mono_ns();
    int rc = pl->collect(pl->process_ctx, wait_ms, &pl->out_frame, &rejected, err, sizeof err);
    if (rc == 0)
        return 0;
    int64_t collect_ns = ride_clock_mono_ns() - t0;
    pl->collected++;
    task_frame tf = *tasked_at(pl, 0);
    pl->tasked_head = (pl->tasked_head + 1) % pl->task_depth;
    pl->tasked_count--;
    partition_state *ps = find_partition(pl, tf.partition);
    if (!ps || ps->incarnation != tf.incarnation) {
        pl->totals.stale_outputs++;
    } else if (rc != 1 && rejected != RIDE_FRAME_OK) {
        input_rejected(ps, &tf, rejected);
    } else if (rc != 1) {
        task_failed(pl, ps, tf.stream_id, tf.seq, err, tf.first);
    } else {
        observe_step(pl, RIDE_STEP_KERNEL, tf.submit_ns + collect_ns);
        pl->out_frame.stream_id = tf.stream_id;
        pl->out_frame.seq = tf.seq;
        pl->out_frame.capture_ns = tf.capture_ns;
        write_output(pl, ps, tf.first);
    }
    return 1;
}

/* ---- Input ---- */

/* Messages between the position and the next one returned that the broker
 * deleted unread (its log start moved past the position). Other gaps
 * (transaction markers, compaction) leave the log start where it was. */
static void count_expired(ride_pipeline *pl, partition_state *ps, int64_t next)
{
    int64_t position = ride_offset_tracker_position(ps->tracker);
    if (position < 0 || next <= position)
        return;
    int64_t start = ride_kafka_consumer_log_start(pl->consumer, pl->input_topic, ps->partition);
    if (start <= position)
        return;
    int64_t gone = (start < next ? start : next) - position;
    ps->st.dropped[RIDE_PIPELINE_DROP_EXPIRED] += (uint64_t)gone;
    ps->st.dropped_total += (uint64_t)gone;
    pl->totals.dropped_total += (uint64_t)gone;
    warn_throttled(pl, WARN_EXPIRED, "input_expired",
                   "topic=%s partition=%d from=%lld to=%lld messages=%lld", pl->input_topic,
                   (int)ps->partition, (long long)position, (long long)next, (long long)gone);
}

/* Adds a message's fetch, assembly and checksum times to those of its frame: a
 * completed frame's are observed, with its decoding; a rejected one's forgotten. */
static void time_input(ride_pipeline *pl, partition_state *ps, ride_frame_status st,
                       int64_t fetch_ns, int64_t push_ns)
{
    ride_frame_timing t = ride_frame_assembler_last_timing(ps->assembler);
    input_times *in = &ps->reading;
    in->fetch_ns += fetch_ns;
    in->checksum_ns += t.checksum_ns;
    in->assemble_ns += push_ns - t.checksum_ns - t.decode_ns;
    if (st == RIDE_FRAME_INCOMPLETE)
        return;
    if (st == RIDE_FRAME_OK) {
        observe_step(pl, RIDE_STEP_FETCH, in->fetch_ns);
        observe_step(pl, RIDE_STEP_ASSEMBLE, in->assemble_ns);
        observe_step(pl, RIDE_STEP_CHECKSUM, in->checksum_ns);
        if (t.decode_ns > 0)
            observe_step(pl, RIDE_STEP_DECODE, t.decode_ns);
    }
    *in = (input_times){0};
}

static void handle_message(ride_pipeline *pl, const ride_kafka_message *m, int64_t fetch_ns)
{
    partition_state *ps = find_partition(pl, m->partition);
    if (!ps || ps->needs_rewind || ps->st.fenced)
        return;
    count_expired(pl, ps, m->offset);
    if (ride_offset_tracker_take(ps->tracker, m->offset) != 0) {
        warn_throttled(pl, WARN_ORDER, "offset_out_of_order",
                       "partition=%d offset=%lld position=%lld", (int)m->partition,
                       (long long)m->offset, (long long)ride_offset_tracker_position(ps->tracker));
        return;
    }
    ps->cur_offset = m->offset;
    ride_frame_tags tags = {0};
    int64_t t0 = ride_clock_mono_ns();
    ride_frame_status st = ride_frame_assembler_push_tagged(
        ps->assembler, m->payload, m->len, (uint64_t)m->offset, &pl->in_frame, &tags);
    time_input(pl, ps, st, fetch_ns, ride_clock_mono_ns() - t0);
    /* An unfinished frame holds its first offset until it is output or dropped;
     * every other message is done at once, since that first offset is below it. */
    int holds_first = (st == RIDE_FRAME_OK || st == RIDE_FRAME_INCOMPLETE) &&
                      (int64_t)tags.first == m->offset;
    if (!holds_first)
        ride_offset_tracker_done(ps->tracker, m->offset);
    if (st == RIDE_FRAME_OK)
        submit_frame(pl, ps, (int64_t)tags.first);
}

/* Whether the partition's share of its output partition has no room for a frame
 * like the last output (so that the frames wait in Kafka, not in the task). */
static int output_full(const ride_pipeline *pl, const partition_state *ps)
{
    if (!pl->shares)
        return 0;
    return ps->parked || !ride_share_has_room(pl->shares[ps->partition], pl->last_output_bytes);
}

static void update_paused(ride_pipeline *pl, partition_state *ps)
{
    int full = output_full(pl, ps);
    if (full == ps->st.paused)
        return;
    ps->st.paused = full;
    if (full) {
        ps->st.pauses++;
        pl->totals.pauses++;
    }
    ride_log_debug(full ? "partition_paused" : "partition_resumed",
                   "topic=%s partition=%d reason=backpressure", pl->input_topic,
                   (int)ps->partition);
}

/* A rewind that is due, then the assignment that matches the backpressure:
 * librdkafka 2.0's resume waits for its next one-second topic scan before it
 * fetches again, so a paused partition is taken out of the assignment instead
 * and put back at its position (after a rewind, the rewind's): fetching starts
 * at once. *event names what failed. */
static int sync_partition(ride_pipeline *pl, partition_state *ps, int64_t now,
                          const char **event, char *err, size_t errlen)
{
    if (ps->needs_reset) {
        *event = "producer_reset_failed";
        if (reset_producer(pl, ps, err, errlen) != 0)
            return -1;
    }
    if (!ps->st.fenced && ps->needs_rewind && now >= ps->rewind_at_ms) {
        *event = "rewind_failed";
        if (rewind_partition(pl, ps, err, errlen) != 0)
            return -1;
    }
    flush_parked(pl, ps);
    update_paused(pl, ps);
    *event = ps->st.paused || ps->st.fenced ? "pause_failed" : "resume_failed";
    return set_assigned(pl, ps, !ps->st.paused && !ps->st.fenced, err, errlen);
}

/* Rewinds, pauses and resumes what needs it. A partition whose change fails is
 * logged (once per cause and interval) and tried again after a backoff, while
 * the others go on: no failure makes the step return early or repeat at once. */
static void sync_partitions(ride_pipeline *pl)
{
    int64_t now = ride_clock_mono_ms();
    for (size_t i = 0; i < pl->part_count; i++) {
        partition_state *ps = pl->parts[i];
        if (!ride_retry_due(&ps->retry, now))
            continue;
        const char *event = "";
        char err[256] = "";
        if (sync_partition(pl, ps, now, &event, err, sizeof err) == 0) {
            ride_retry_succeeded(&ps->retry);
            continue;
        }
        ride_retry_failed(&ps->retry, now);
        char context[256];
        snprintf(context, sizeof context, "app=%s stage=%s topic=%s partition=%d retry_ms=%lld",
                 pl->app, pl->stage, pl->input_topic, (int)ps->partition,
                 (long long)ps->retry.backoff_ms);
        ride_failure_log_warn(&pl->failures, event, context, err);
    }
}

int ride_pipeline_step(ride_pipeline *pl, int timeout_ms, char *err, size_t errlen)
{
    poll_outputs(pl, 0);
    sync_partitions(pl);
    if (pl->txn_conf)
        commit_transactions(pl);
    while (collect_frame(pl, 0) > 0)
        ;
    if (pl->in_flight >= pl->max_in_flight) {
        poll_outputs(pl, timeout_ms);
        return 0;
    }
    int n = 0;
    while (n < STEP_BATCH && pl->in_flight < pl->max_in_flight) {
        if (pl->tasked_count == pl->task_depth &&
            collect_frame(pl, RIDE_PIPELINE_TASK_WAIT_MS) == 0)
            break;
        /* Frames in the task are waited for below rather than in the poll. */
        int wait_ms = n == 0 && pl->tasked_count == 0 ? timeout_ms : 0;
        ride_kafka_message m;
        int64_t t0 = ride_clock_mono_ns();
        int rc = ride_kafka_consumer_poll(pl->consumer, wait_ms, &m, err, errlen);
        if (rc < 0)
            return n > 0 ? n : -1;
        if (rc == 0)
            break;
        handle_message(pl, &m, ride_clock_mono_ns() - t0);
        ride_kafka_message_release(&m);
        n++;
    }
    if (n == 0)
        collect_frame(pl, RIDE_PIPELINE_TASK_WAIT_MS);
    return n;
}

int ride_pipeline_wake_fd(ride_pipeline *pl, int fd)
{
    return ride_kafka_consumer_wake_fd(pl->consumer, fd);
}

bool ride_pipeline_task_busy(const ride_pipeline *pl) { return pl->tasked_count > 0; }

uint64_t ride_pipeline_task_collected(const ride_pipeline *pl) { return pl->collected; }

int ride_pipeline_commit(ride_pipeline *pl, char *err, size_t errlen)
{
    if (pl->txn_conf)
        commit_transactions(pl);
    if (pl->part_count == 0 || pl->txn_conf)
        return 0;
    ride_kafka_tp *tps = calloc(pl->part_count, sizeof *tps);
    partition_state **who = calloc(pl->part_count, sizeof *who);
    int rc = 0;
    size_t n = 0;
    if (!tps || !who) {
        ride_set_error(err, errlen, "out of memory");
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < pl->part_count; i++) {
        partition_state *ps = pl->parts[i];
        int64_t c = ride_offset_tracker_committable(ps->tracker);
        if (c >= 0 && (ps->committed < 0 || c > ps->committed)) {
            tps[n] = (ride_kafka_tp){pl->input_topic, ps->partition, c};
            who[n++] = ps;
        }
    }
    if (n > 0) {
        int64_t t0 = ride_clock_mono_ns();
        rc = ride_kafka_commit(pl->consumer, tps, n, err, errlen);
        observe_step(pl, RIDE_STEP_COMMIT, ride_clock_mono_ns() - t0);
        if (rc != 0)
            goto out;
    }
    for (size_t i = 0; i < n; i++)
        who[i]->committed = tps[i].offset;
    pl->totals.commits += n > 0;
out:
    free(tps);
    free(who);
    return rc;
}

/* ---- Exactly-once ---- */

/* A new transactional producer for partition, registered (init_transactions,
 * which fences the previous owner) and with the output topic's metadata. */
static ride_kafka_txn_result open_producer(ride_pipeline *pl, int32_t partition,
                                           ride_kafka_producer **out, char *err, size_t errlen)
{
    *out = NULL;
    char id[512], reason[256];
    snprintf(id, sizeof id, "ride.%s.%s.%d", pl->app, pl->stage, (int)partition);
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(pl->txn_conf);
    if (rd_kafka_conf_set(conf, "transactional.id", id, reason, sizeof reason) !=
        RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        ride_set_error(err, errlen, "transactional.id %s: %s", id, reason);
        return RIDE_KAFKA_TXN_FATAL;
    }
    ride_kafka_producer *p = ride_kafka_producer_new(conf, on_delivery, pl, err, errlen);
    if (!p)
        return RIDE_KAFKA_TXN_FATAL;
    ride_kafka_txn_result r = ride_kafka_txn_init(p, pl->kafka_timeout_ms, err, errlen);
    if (r == RIDE_KAFKA_TXN_OK &&
        ride_kafka_partition_count(ride_kafka_producer_handle(p), pl->output_topic,
                                   pl->kafka_timeout_ms, err, errlen) < 0)
        r = RIDE_KAFKA_TXN_RETRY;
    if (r != RIDE_KAFKA_TXN_OK) {
        ride_kafka_producer_discard(p);
        return r;
    }
    *out = p;
    return RIDE_KAFKA_TXN_OK;
}

static void count_abort(ride_pipeline *pl, partition_state *ps)
{
    ps->st.aborts++;
    pl->totals.aborts++;
    ps->txn_open = 0;
    ps->txn_frames = 0;
    ps->txn_ended_ms = ride_clock_mono_ms();
}

/* Discards the partition's producer with its open transaction: the outputs it
 * still had in flight are forgotten, since their reports will never come. */
static void drop_producer(ride_pipeline *pl, partition_state *ps)
{
    if (!ps->txn)
        return;
    for (output_record *r = pl->records, *next; r; r = next) {
        next = r->next;
        if (r->partition == ps->partition)
            record_unlink(pl, r);
    }
    if (ps->txn_open)
        count_abort(pl, ps);
    ride_kafka_producer_discard(ps->txn);
    ps->txn = NULL;
}

/* A newer owner registered the same transactional.id: this worker must not
 * touch the partition any more. It stays idle (out of the assignment, its task
 * outputs stale) until the assignment removes it. */
static void fence_partition(ride_pipeline *pl, partition_state *ps, const char *why)
{
    char quoted[300];
    ride_log_error("partition_fenced",
                   "app=%s stage=%s topic=%s partition=%d epoch=%lld error=%s", pl->app,
                   pl->stage, pl->input_topic, (int)ps->partition, (long long)ps->epoch,
                   ride_log_quote(why, quoted, sizeof quoted));
    drop_producer(pl, ps);
    ps->st.fenced = 1;
    ps->fenced_ms = ride_clock_mono_ms();
    pl->totals.fenced++;
    ps->needs_reset = 0;
    ps->incarnation = ++pl->incarnations;
}

int ride_pipeline_reclaim_partition(ride_pipeline *pl, int32_t partition, int64_t fenced_for_ms)
{
    partition_state *ps = find_partition(pl, partition);
    if (!ps || !ps->st.fenced || ride_clock_mono_ms() - ps->fenced_ms < fenced_for_ms)
        return 0;
    ride_log_warn("partition_reclaimed", "app=%s stage=%s topic=%s partition=%d epoch=%lld",
                  pl->app, pl->stage, pl->input_topic, (int)partition, (long long)ps->epoch);
    ps->st.fenced = 0;
    ps->needs_reset = 1; /* the next sync opens a producer, which fences the other */
    return 1;
}

/* What a failed transactional call leads to: fenced, an abort with a rewind, or
 * a new producer (after the sync's backoff). */
static void transaction_failed(ride_pipeline *pl, partition_state *ps, ride_kafka_txn_result r,
                               const char *err)
{
    if (r == RIDE_KAFKA_TXN_FENCED) {
        fence_partition(pl, ps, err);
        return;
    }
    if (r == RIDE_KAFKA_TXN_ABORT)
        schedule_rewind(ps);
    else
        ps->needs_reset = 1;
    char context[300];
    snprintf(context, sizeof context, "app=%s stage=%s topic=%s partition=%d action=%s",
             pl->app, pl->stage, pl->input_topic, (int)ps->partition,
             r == RIDE_KAFKA_TXN_ABORT ? "abort" : "new_producer");
    ride_failure_log_warn(&pl->failures, "transaction_failed", context, err);
}

/* The producer for the partition's next output, its transaction begun; NULL
 * while the producer must be replaced. */
static ride_kafka_producer *output_producer(ride_pipeline *pl, partition_state *ps)
{
    if (!pl->txn_conf)
        return pl->producer;
    if (!ps->txn || ps->needs_reset)
        return NULL;
    if (!ps->txn_open) {
        char err[256] = "";
        ride_kafka_txn_result r = ride_kafka_txn_begin(ps->txn, err, sizeof err);
        if (r != RIDE_KAFKA_TXN_OK) {
            transaction_failed(pl, ps, r, err);
            return NULL;
        }
        ps->txn_open = 1;
    }
    return ps->txn;
}

static int64_t transaction_offset(const partition_state *ps)
{
    return ride_offset_tracker_committable(ps->tracker);
}

/* Outputs in an open transaction, or inputs done (dropped frames) past the
 * committed offset. */
static int transaction_pending(const partition_state *ps)
{
    int64_t c = transaction_offset(ps);
    return ps->txn_open || (c >= 0 && c > ps->committed);
}

/* Commits the partition's transaction with the input offset past every frame
 * whose output it holds: all its messages are delivered first (their reports
 * make those frames done), and a failed one aborts instead. */
static void commit_transaction(ride_pipeline *pl, partition_state *ps)
{
    char err[256] = "";
    /* One bound for the whole commit, which the stall watchdog's timeout exceeds. */
    int64_t deadline_ms = ride_clock_mono_ms() + pl->kafka_timeout_ms;
    if (ride_kafka_producer_flush(ps->txn, pl->kafka_timeout_ms, err, sizeof err) != 0) {
        transaction_failed(pl, ps, RIDE_KAFKA_TXN_RETRY, err);
        return;
    }
    if (ps->needs_rewind)
        return; /* an output failed: the rewind aborts the transaction */
    ride_kafka_tp tp = {pl->input_topic, ps->partition, transaction_offset(ps)};
    ride_kafka_txn_result r = RIDE_KAFKA_TXN_OK;
    if (!ps->txn_open && (r = ride_kafka_txn_begin(ps->txn, err, sizeof err)) == RIDE_KAFKA_TXN_OK)
        ps->txn_open = 1;
    if (r == RIDE_KAFKA_TXN_OK) {
        int64_t t0 = ride_clock_mono_ns();
        r = ride_kafka_txn_commit(ps->txn, pl->consumer, &tp, tp.offset >= 0 ? 1 : 0,
                                  (int)(deadline_ms - ride_clock_mono_ms()), err, sizeof err);
        observe_step(pl, RIDE_STEP_COMMIT, ride_clock_mono_ns() - t0);
    }
    if (r != RIDE_KAFKA_TXN_OK) {
        transaction_failed(pl, ps, r, err);
        return;
    }
    if (tp.offset >= 0)
        ps->committed = tp.offset;
    ps->txn_open = 0;
    ps->txn_frames = 0;
    ps->txn_ended_ms = ride_clock_mono_ms();
    ps->st.transactions++;
    pl->totals.transactions++;
}

/* Commits every transaction that is due: open for the interval, or holding the
 * most frames. */
static void commit_transactions(ride_pipeline *pl)
{
    int64_t now = ride_clock_mono_ms();
    for (size_t i = 0; i < pl->part_count; i++) {
        partition_state *ps = pl->parts[i];
        if (!ps->txn || ps->needs_reset || ps->needs_rewind || !transaction_pending(ps))
            continue;
        if (ps->txn_frames >= pl->txn_max_frames || now - ps->txn_ended_ms >= pl->txn_interval_ms)
            commit_transaction(pl, ps);
    }
}

/* On removal: commits what the partition finished. A failure leaves the open
 * transaction to the next owner's init_transactions, which aborts it. */
static void end_transaction(ride_pipeline *pl, partition_state *ps)
{
    if (!ps->needs_reset && !ps->needs_rewind && transaction_pending(ps))
        commit_transaction(pl, ps);
}

static int abort_transaction(ride_pipeline *pl, partition_state *ps, char *err, size_t errlen)
{
    if (!ps->txn_open)
        return 0;
    ride_kafka_txn_result r = ride_kafka_txn_abort(ps->txn, pl->kafka_timeout_ms, err, errlen);
    if (r == RIDE_KAFKA_TXN_OK) {
        count_abort(pl, ps);
        return 0;
    }
    transaction_failed(pl, ps, r, err);
    return -1;
}

/* A new producer in place of one whose state is unknown (a timed-out call) or
 * that failed for good: its init_transactions completes whatever the old one
 * left, so the committed offset read after it is final, and the partition is
 * read again from there. */
static int reset_producer(ride_pipeline *pl, partition_state *ps, char *err, size_t errlen)
{
    if (set_assigned(pl, ps, 0, err, errlen) != 0)
        return -1;
    drop_producer(pl, ps);
    ride_kafka_txn_result r = open_producer(pl, ps->partition, &ps->txn, err, errlen);
    if (r == RIDE_KAFKA_TXN_FENCED) {
        fence_partition(pl, ps, err);
        return 0;
    }
    int64_t start, committed;
    if (r != RIDE_KAFKA_TXN_OK ||
        resolve_start(pl, ps->partition, RIDE_KAFKA_OFFSET_COMMITTED, &start, &committed, err,
                      errlen) != 0)
        return -1;
    if (partition_restart(pl, ps, start) != 0) {
        ride_set_error(err, errlen, "out of memory");
        return -1;
    }
    ps->committed = committed;
    ps->needs_reset = 0;
    ps->txn_ended_ms = ride_clock_mono_ms();
    ride_log_warn("producer_replaced", "app=%s stage=%s topic=%s partition=%d offset=%lld",
                  pl->app, pl->stage, pl->input_topic, (int)ps->partition, (long long)start);
    return 0;
}

/* Serves delivery reports: of the shared producer, or of every partition's
 * (waiting, when asked to, on the one of the newest output in flight). */
static int poll_outputs(ride_pipeline *pl, int timeout_ms)
{
    if (pl->producer)
        return ride_kafka_producer_poll(pl->producer, timeout_ms);
    int n = 0;
    for (size_t i = 0; i < pl->part_count; i++)
        if (pl->parts[i]->txn)
            n += ride_kafka_producer_poll(pl->parts[i]->txn, 0);
    partition_state *ps = pl->records ? find_partition(pl, pl->records->partition) : NULL;
    if (n == 0 && timeout_ms > 0 && ps && ps->txn)
        n = ride_kafka_producer_poll(ps->txn, timeout_ms);
    return n;
}

/* ---- Life cycle ---- */

/* librdkafka's destructor does not accept NULL. */
static void destroy_conf(rd_kafka_conf_t *conf)
{
    if (conf)
        rd_kafka_conf_destroy(conf);
}

static int check_config(const ride_pipeline_config *cfg, char *err, size_t errlen)
{
    const char *why = NULL;
    if (!cfg->input_topic || !cfg->group)
        why = "an input topic and a consumer group are required";
    else if (!cfg->submit || !cfg->collect)
        why = "submit and collect callbacks are required";
    else if (cfg->task_depth < 0 || cfg->task_depth > RIDE_PIPELINE_MAX_TASK_DEPTH)
        why = "task_depth out of range";
    else if (!cfg->output_topic && !cfg->sink)
        why = "an output topic or a sink is required";
    else if (cfg->output_topic && cfg->sink)
        why = "an output topic and a sink exclude each other";
    else if (!cfg->consumer_conf || (cfg->output_topic && !cfg->producer_conf))
        why = "Kafka configurations are missing";
    else if (cfg->max_frame_bytes == 0)
        why = "max_frame_bytes must be positive";
    else if (cfg->output_partitions < 0 || cfg->max_in_flight < 0 || cfg->kafka_timeout_ms < 0)
        why = "negative count or timeout";
    else if (cfg->output_topic && cfg->max_backlog_bytes && !cfg->output_group)
        why = "a backlog budget needs the group reading the output";
    else if (cfg->exactly_once && cfg->output_topic && (!cfg->app || !cfg->stage))
        why = "exactly-once needs the app and stage (its transactional ids)";
    else if (cfg->transaction_interval_ms < 0 || cfg->transaction_max_frames < 0)
        why = "negative transaction cadence";
    else if (cfg->output_group && cfg->strict_backlog &&
             (cfg->max_backlog_bytes == 0 ||
              cfg->max_backlog_bytes > RIDE_KAFKA_EMBEDDED_PARTITION_BYTES))
        why = "on the embedded broker, which keeps 5242880 bytes per partition, "
              "max_backlog_bytes must be 1..5242880 so that no frame is deleted unread";
    if (why)
        ride_set_error(err, errlen, "pipeline: %s", why);
    return why ? -1 : 0;
}

/* Checks that the input topic exists, which also primes the consumer's metadata:
 * without it the first fetch waits for librdkafka's periodic refresh (about 1 s). */
static int open_input(ride_pipeline *pl, char *err, size_t errlen)
{
    int n = ride_kafka_partition_count(ride_kafka_consumer_handle(pl->consumer), pl->input_topic,
                                       pl->kafka_timeout_ms, err, errlen);
    if (n == 0)
        ride_set_error(err, errlen, "input topic %s does not exist", pl->input_topic);
    pl->input_partitions = n;
    return n > 0 ? 0 : -1;
}

/* The most input partitions writing one output partition: partition i writes to
 * i mod the output partitions. */
static int stage_writers(int input_partitions, int output_partitions)
{
    return (input_partitions + output_partitions - 1) / output_partitions;
}

/* The backlog monitor reads the committed offsets of the group reading the
 * output with the input consumer's settings (same brokers, same security); each
 * input partition gets its share of its output partition's budget when first added. */
static int open_backlog(ride_pipeline *pl, const ride_pipeline_config *cfg, int partitions,
                        char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = pl->backlog_conf;
    pl->backlog_conf = NULL;
    pl->shares = calloc((size_t)pl->input_partitions, sizeof *pl->shares);
    if (!pl->shares || !conf) {
        destroy_conf(conf);
        ride_set_error(err, errlen, "out of memory");
        return -1;
    }
    int writers = stage_writers(pl->input_partitions, pl->output_partitions);
    if (cfg->output_writers > writers)
        writers = cfg->output_writers;
    uint64_t budget = cfg->max_backlog_bytes;
    if (cfg->backlog_within_retention)
        budget = ride_kafka_backlog_budget(ride_kafka_consumer_handle(pl->consumer),
                                           cfg->output_topic, budget, pl->kafka_timeout_ms);
    pl->share_limit = ride_share_of_budget(budget, writers);
    pl->strict = cfg->strict_backlog;
    ride_log_info("output_share",
                  "app=%s stage=%s topic=%s budget_bytes=%llu writers=%d share_bytes=%llu "
                  "strict=%d",
                  pl->app, pl->stage, cfg->output_topic, (unsigned long long)budget, writers,
                  (unsigned long long)pl->share_limit, (int)pl->strict);
    ride_backlog_opts o = {cfg->output_topic, cfg->output_group, partitions,
                           cfg->backlog_refresh_ms, conf};
    pl->backlog = ride_backlog_new(&o, err, errlen);
    return pl->backlog ? 0 : -1;
}

/* Sizes the output messages from the output topic's limit (asked through the
 * consumer, before the producer exists), and keeps the producer's batches under it. */
static int fit_output(ride_pipeline *pl, const ride_pipeline_config *cfg, char *err,
                      size_t errlen)
{
    size_t configured =
        cfg->write_opts ? cfg->write_opts->max_message_bytes : RIDE_FRAME_DEFAULT_MAX_MESSAGE;
    int64_t limit;
    pl->message_bytes = ride_kafka_message_size(ride_kafka_consumer_handle(pl->consumer),
                                                cfg->output_topic, configured,
                                                pl->kafka_timeout_ms, &limit);
    ride_log_info("output_message_size",
                  "app=%s stage=%s topic=%s message_bytes=%zu topic_message_limit=%" PRId64,
                  pl->app, pl->stage, cfg->output_topic, pl->message_bytes, limit);
    return ride_kafka_conf_fit_messages(cfg->producer_conf, NULL, 0, 0, limit, err, errlen);
}

static int open_output(ride_pipeline *pl, const ride_pipeline_config *cfg, char *err,
                       size_t errlen)
{
    rd_kafka_conf_t *conf = cfg->producer_conf;
    if (fit_output(pl, cfg, err, errlen) != 0) {
        destroy_conf(conf);
        return -1;
    }
    /* Exactly-once: every input partition gets its own producer from conf. */
    if (cfg->exactly_once)
        pl->txn_conf = conf;
    else if (!(pl->producer = ride_kafka_producer_new(conf, on_delivery, pl, err, errlen)))
        return -1;
    /* Also primes the producer's metadata (kafka.h). */
    int n = ride_kafka_partition_count(pl->producer ? ride_kafka_producer_handle(pl->producer)
                                                    : ride_kafka_consumer_handle(pl->consumer),
                                       cfg->output_topic, pl->kafka_timeout_ms, err, errlen);
    if (n < 0)
        return -1;
    if (n == 0 || cfg->output_partitions > n) {
        ride_set_error(err, errlen, "output topic %s has %d partitions, %d wanted", cfg->output_topic,
                n, cfg->output_partitions);
        return -1;
    }
    pl->output_partitions = cfg->output_partitions ? cfg->output_partitions : n;
    return cfg->max_backlog_bytes ? open_backlog(pl, cfg, n, err, errlen) : 0;
}

ride_pipeline *ride_pipeline_new(const ride_pipeline_config *cfg, char *err, size_t errlen)
{
    if (check_config(cfg, err, errlen) != 0) {
        destroy_conf(cfg->consumer_conf);
        destroy_conf(cfg->producer_conf);
        return NULL;
    }
    ride_pipeline *pl = calloc(1, sizeof *pl);
    if (!pl || !(pl->app = strdup(cfg->app ? cfg->app : "-")) ||
        !(pl->stage = strdup(cfg->stage ? cfg->stage : "-")) ||
        !(pl->input_topic = strdup(cfg->input_topic)) ||
        (cfg->output_topic && !(pl->output_topic = strdup(cfg->output_topic)))) {
        ride_set_error(err, errlen, "out of memory");
        destroy_conf(cfg->consumer_conf);
        destroy_conf(cfg->producer_conf);
        ride_pipeline_free(pl);
        return NULL;
    }
    pl->submit = cfg->submit;
    pl->collect = cfg->collect;
    pl->process_ctx = cfg->process_ctx;
    pl->task_depth = cfg->task_depth ? cfg->task_depth : 1;
    pl->tasked = calloc((size_t)pl->task_depth, sizeof *pl->tasked);
    if (!pl->tasked) {
        ride_set_error(err, errlen, "out of memory");
        destroy_conf(cfg->consumer_conf);
        destroy_conf(cfg->producer_conf);
        ride_pipeline_free(pl);
        return NULL;
    }
    pl->sink = cfg->sink;
    pl->sink_ctx = cfg->sink_ctx;
    pl->max_frame_bytes = cfg->max_frame_bytes;
    pl->decode_as = cfg->decode_as;
    pl->defer_decode = cfg->defer_decode;
    pl->write_opts = cfg->write_opts;
    pl->max_in_flight = cfg->max_in_flight ? cfg->max_in_flight : DEFAULT_MAX_IN_FLIGHT;
    pl->kafka_timeout_ms = cfg->kafka_timeout_ms ? cfg->kafka_timeout_ms : DEFAULT_KAFKA_TIMEOUT_MS;
    pl->txn_interval_ms = cfg->transaction_interval_ms ? cfg->transaction_interval_ms
                                                       : RIDE_PIPELINE_TRANSACTION_INTERVAL_MS;
    pl->txn_max_frames = (uint64_t)(cfg->transaction_max_frames
                                        ? cfg->transaction_max_frames
                                        : RIDE_PIPELINE_TRANSACTION_MAX_FRAMES);
    pl->stats_ns = ride_clock_mono_ns();
    memcpy(pl->steps, cfg->step_seconds, sizeof pl->steps);
    /* Copied before the consumer takes the configuration over. */
    if (cfg->output_topic && cfg->max_backlog_bytes)
        pl->backlog_conf = rd_kafka_conf_dup(cfg->consumer_conf);
    pl->consumer = ride_kafka_consumer_new(cfg->consumer_conf, cfg->group, err, errlen);
    if (!pl->consumer) {
        destroy_conf(cfg->producer_conf);
        ride_pipeline_free(pl);
        return NULL;
    }
    if (open_input(pl, err, errlen) != 0) {
        destroy_conf(cfg->producer_conf);
        ride_pipeline_free(pl);
        return NULL;
    }
    if (cfg->output_topic) {
        if (open_output(pl, cfg, err, errlen) != 0) {
            ride_pipeline_free(pl);
            return NULL;
        }
    } else {
        destroy_conf(cfg->producer_conf);
    }
    return pl;
}

void ride_pipeline_free(ride_pipeline *pl)
{
    if (!pl)
        return;
    /* Partitions go first, so that reports served while the producer flushes
     * find no owner and acknowledge nothing. */
    for (size_t i = 0; i < pl->part_count; i++)
        partition_free(pl->parts[i]);
    pl->part_count = 0;
    ride_kafka_producer_free(pl->producer);
    while (pl->records)
        record_unlink(pl, pl->records);
    for (int i = 0; pl->shares && i < pl->input_partitions; i++)
        ride_share_free(pl->shares[i]);
    free(pl->shares);
    ride_backlog_free(pl->backlog);
    destroy_conf(pl->backlog_conf);
    destroy_conf(pl->txn_conf);
    ride_kafka_consumer_free(pl->consumer);
    free(pl->tasked);
    ride_frame_free(&pl->in_frame);
    ride_frame_free(&pl->out_frame);
    free(pl->parts);
    free(pl->app);
    free(pl->stage);
    free(pl->input_topic);
    free(pl->output_topic);
    free(pl);
}

/* ---- Observation ---- */

int ride_pipeline_outputs_pending(ride_pipeline *pl)
{
    if (pl->producer)
        return ride_kafka_producer_outstanding(pl->producer);
    int n = 0;
    for (size_t i = 0; i < pl->part_count; i++)
        if (pl->parts[i]->txn)
            n += ride_kafka_producer_outstanding(pl->parts[i]->txn);
    return n;
}

static void fill_partition_stats(const partition_state *ps, ride_pipeline_partition_stats *out)
{
    *out = ps->st;
    out->position = ride_offset_tracker_position(ps->tracker);
    out->committed = ps->committed;
}

void ride_pipeline_stats_get(ride_pipeline *pl, ride_pipeline_stats *out)
{
    int64_t t = ride_clock_mono_ns();
    double dt = (double)(t - pl->stats_ns) / 1e9;
    pl->totals.partitions = pl->part_count;
    pl->totals.paused = 0;
    for (size_t i = 0; i < pl->part_count; i++)
        pl->totals.paused += pl->parts[i]->st.paused != 0;
    pl->totals.input_fps =
        dt > 0 ? (double)(pl->totals.frames_in - pl->stats_frames_in) / dt : 0.0;
    pl->stats_ns = t;
    pl->stats_frames_in = pl->totals.frames_in;
    *out = pl->totals;
}

static int by_partition(const void *a, const void *b)
{
    const ride_pipeline_partition_stats *x = a, *y = b;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

size_t ride_pipeline_partition_stats_get(const ride_pipeline *pl,
                                         ride_pipeline_partition_stats *out, size_t max)
{
    size_t n = pl->part_count < max ? pl->part_count : max;
    for (size_t i = 0; i < n; i++)
        fill_partition_stats(pl->parts[i], &out[i]);
    qsort(out, n, sizeof *out, by_partition);
    return pl->part_count;
}

int64_t ride_pipeline_committable(const ride_pipeline *pl, int32_t partition)
{
    const partition_state *ps = find_partition(pl, partition);
    return ps ? ride_offset_tracker_committable(ps->tracker) : RIDE_OFFSET_UNKNOWN;
}
