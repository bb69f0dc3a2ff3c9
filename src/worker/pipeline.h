/* pipeline.h - one stage's partition pipeline in a worker: consume the partitions
 * this worker owns, reassemble frames, run the task, write the output, and commit
 * an input offset only once everything before it is acknowledged.
 *
 * At-least-once (SPEC sections 3 and 8):
 * - a frame's first input message (the assembler's first tag) is "done" when its
 *   output is durable (the delivery report of every output message arrived
 *   without error, or the sink returned 0), or when the frame was counted as
 *   dropped with a reason; every other message is done once the assembler has
 *   it, since its frame's first message bounds the commit below it;
 * - ride_pipeline_commit() commits, per owned partition, the oldest message not
 *   done (offsets.h): a new owner resumes at the oldest unacknowledged frame;
 * - a frame is never lost silently: it is processed, counted as dropped, or still
 *   in Kafka above the committed offset (handed back on removal, rewound on a
 *   failed delivery).
 *
 * Output partition: input partition modulo the output topic's partition count,
 * so with equal counts a frame keeps its partition (and its camera's order)
 * through every stage.
 *
 * Backpressure (max_backlog_bytes, kafka/share.h): each input partition is one
 * writer of its output partition and owns a share of that partition's budget
 * (the budget over its writers + 1). Before an output is produced its encoded
 * bytes are reserved in the share, which counts this writer's messages the next
 * stage's group has not committed (kafka/backlog.h) and those awaiting delivery.
 * An output that does not fit waits in the pipeline (nothing else leaves the
 * task meanwhile) until the share has room; an input partition whose share has
 * no room for another frame like the last output is paused, so that the frames
 * wait in Kafka and the producer in front of the first stage is the one that
 * drops (and counts) when the wait grows. With strict_backlog (the embedded
 * broker, which deletes the oldest messages beyond about 5 MB per partition,
 * read or not) a share never admits more than its limit, so no output is deleted
 * before the next stage read it; an output larger than the whole share is
 * dropped with reason "over_share". Otherwise an empty share admits any one
 * output (a real Kafka cluster keeps what it is told to: the budget bounds
 * latency). A paused partition is out of the consumer's assignment: a failed
 * delivery while it is paused rewinds it without touching the assignment, and it
 * is put back at the rewind position once its output has room.
 *
 * Expired input: when the consumer's next message lies beyond its position and
 * the partition's log start moved past that position, the broker deleted the
 * messages in between before anyone read them. Each is counted as a frame dropped
 * with reason "expired" (a frame is one message unless it was chunked).
 *
 * Exactly-once (exactly_once with an output topic): each owned input partition
 * has its own transactional producer, transactional.id
 * "ride.<app>.<stage>.<partition>", whose init_transactions at add fences the
 * previous owner and completes its open transaction before the committed offset
 * is read. The outputs of the frames read from the partition and the input offset
 * past them are committed in one transaction (send_offsets_to_transaction with
 * the stage's group): every transaction_interval_ms or transaction_max_frames
 * output frames, whichever comes first, and when the partition is removed. A
 * frame's chunks are produced in one call, so they are always in one
 * transaction. A failed output aborts the transaction and the partition is
 * re-read from its committed offset (not the committable one: the aborted
 * outputs are gone). A transactional call that times out or leaves the producer
 * unusable replaces the producer (init_transactions again, committed offset read
 * again) after a backoff; a fenced producer means another worker registered the
 * partition's transactional.id: it is logged (event=partition_fenced), counted,
 * and the partition left idle until it is removed or, when the caller still owns
 * it, reclaimed (ride_pipeline_reclaim_partition). The at-least-once rule above decides, as without
 * transactions, which input offset is committable. Every transactional call runs
 * on the caller's thread, bounded by kafka_timeout_ms.
 *
 * Everything runs on the caller's thread: delivery reports are served inside
 * ride_pipeline_step(). Functions returning int give 0, or -1 with a sentence in
 * err. */
#ifndef RIDE_WORKER_PIPELINE_H
#define RIDE_WORKER_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/metrics.h"
#include "kafka/kafka.h"
#include "wire/frame.h"

/* The stage's task, with frames in flight through it (a GPU task overlapping the
 * copies and kernels of several frames, CPU lanes running several frames at
 * once): submit hands a frame over and returns at once; it may take in's buffers,
 * leaving others to reuse; non-zero drops it with reason "task_failed" and err is
 * logged. collect gives the oldest submitted frame's output back: 1 with out
 * filled (its image kept from the previous output, so a kernel writing through
 * ride_image_ensure() allocates once; the pipeline sets the stream id, sequence
 * number and capture time of its input), 0 when it is not done within wait_ms (a
 * few milliseconds, so that other stages are served; 0: no wait) or nothing is in
 * flight, -1 when that frame failed: dropped with the
 * reason in *rejected when the frame could not be decoded (a frame submitted
 * undecoded, see defer_decode), else with reason "task_failed". */
typedef int (*ride_pipeline_submit_fn)(void *ctx, ride_frame *in, char *err, size_t errlen);
typedef int (*ride_pipeline_collect_fn)(void *ctx, int wait_ms, ride_frame *out,
                                        ride_frame_status *rejected, char *err, size_t errlen);

/* What a sink returns for one output frame. */
#define RIDE_PIPELINE_SINK_WRITTEN 0 /* durably written: the frame is acknowledged */
/* Not written but may be later (a full disk): counts as a failed delivery, the
 * partition rewinds after a backoff. */
#define RIDE_PIPELINE_SINK_FAILED (-1)
/* Can never be written (its pixel format has no such encoding): dropped with
 * reason "sink_rejected" and acknowledged, like a failing task. */
#define RIDE_PIPELINE_SINK_REJECTED 1

/* The last stage's sink, instead of an output topic: returns one of the
 * RIDE_PIPELINE_SINK_* values. A sink reports its own errors: the pipeline logs
 * a failure at debug level only, since a failing sink is retried over and over. */
typedef int (*ride_pipeline_sink_fn)(void *ctx, int32_t partition, const ride_frame *out,
                                     char *err, size_t errlen);

/* The steps of a frame's work that the pipeline times with the monotonic clock, in
 * the order a frame takes them (docs/metrics.md, ride_worker_step_seconds). Every
 * step but commit is observed once per frame that took it; commit once per commit
 * call. */
typedef enum ride_pipeline_step_id {
    RIDE_STEP_FETCH,    /* the consumer polls that returned the frame's messages */
    RIDE_STEP_ASSEMBLE, /* the assembler's work on them, but checksum and decode */
    RIDE_STEP_CHECKSUM, /* header checks and CRC32C of the messages */
    RIDE_STEP_DECODE,   /* JPEG or PNG decoding (encoded input only) */
    RIDE_STEP_KERNEL,   /* in the task's submit and the collect that returned it */
    RIDE_STEP_ENCODE,   /* JPEG or PNG encoding of the output (encoded output only) */
    RIDE_STEP_PRODUCE,  /* framing and queuing the output's messages, but encode */
    RIDE_STEP_DELIVERY, /* from queued to the output's last delivery report */
    RIDE_STEP_COMMIT,   /* an offset commit or a transaction commit call */
    RIDE_STEP_COUNT
} ride_pipeline_step_id;

/* The step's label value: "fetch", "assemble", ... "commit". */
const char *ride_pipeline_step_name(int step);

typedef struct ride_pipeline_config {
    const char *app;   /* names for the logs; NULL: "-" */
    const char *stage;
    const char *input_topic;
    const char *group;        /* consumer group of committed offsets: ride.<app>.<stage> */
    const char *output_topic; /* NULL: outputs go to sink */
    int output_partitions;    /* 0: the output topic's partition count */
    /* The task: submit and collect with up to task_depth frames in flight
     * (0: 1), written out in the order they were read. */
    ride_pipeline_submit_fn submit;
    ride_pipeline_collect_fn collect;
    int task_depth;
    void *process_ctx; /* for both */
    ride_pipeline_sink_fn sink; /* required without an output topic */
    void *sink_ctx;
    rd_kafka_conf_t *consumer_conf; /* taken over by ride_pipeline_new, also on failure */
    rd_kafka_conf_t *producer_conf; /* likewise; NULL without an output topic */
    size_t max_frame_bytes;         /* largest input frame accepted (too_large beyond) */
    /* 0, or RIDE_PIX_GRAY8 for a task that reads only luma: encoded colour
     * frames are decoded straight to gray8 (ride_frame_assembler_opts). */
    ride_pixel_format decode_as;
    /* Encoded frames are submitted undecoded, for the task's lanes to decode
     * (ride_task_runner_new_cpu_lanes). */
    bool defer_decode;
    /* Output encoding, NULL: raw. Read for every output frame, so it must outlive
     * the pipeline; collect may change it for the frame it gives back. Its
     * max_message_bytes is lowered to what the output topic takes, asked once at
     * creation (kafka/message_size.h). */
    const ride_frame_write_opts *write_opts;
    int max_in_flight;     /* output frames awaiting delivery; 0: 64 */
    size_t max_backlog_bytes;  /* per output partition; 0: unbounded (no monitor) */
    /* Lowers max_backlog_bytes to a quarter of the output topic's retention.bytes,
     * asked at creation (kafka/message_size.h): the worker's default budget. */
    bool backlog_within_retention;
    int backlog_refresh_ms;    /* 0: RIDE_BACKLOG_DEFAULT_REFRESH_MS */
    const char *output_group;  /* the group reading output_topic; required with a budget */
    /* Writers of each output partition, this stage's input partitions and
     * anything else writing the topic (0: only this stage's; never fewer). */
    int output_writers;
    /* A hard budget (the embedded broker): max_backlog_bytes must be
     * 1..RIDE_KAFKA_EMBEDDED_PARTITION_BYTES with an output_group. */
    bool strict_backlog;
    int kafka_timeout_ms;  /* metadata, committed offsets, a full producer queue; 0: 10000 */
    /* Exactly-once (see above): producer_conf is the template of every input
     * partition's transactional producer; the consumer should read committed. */
    int exactly_once;
    int transaction_interval_ms; /* 0: RIDE_PIPELINE_TRANSACTION_INTERVAL_MS */
    int transaction_max_frames;  /* 0: RIDE_PIPELINE_TRANSACTION_MAX_FRAMES */
    /* Where each step's seconds are observed, indexed by ride_pipeline_step_id;
     * NULL entries are not observed. They must outlive the pipeline. */
    ride_histogram *step_seconds[RIDE_STEP_COUNT];
} ride_pipeline_config;

#define RIDE_PIPELINE_TRANSACTION_INTERVAL_MS 100
#define RIDE_PIPELINE_TRANSACTION_MAX_FRAMES 64

/* Reasons beyond the frame statuses, from index RIDE_FRAME_STATUS_COUNT on. */
#define RIDE_PIPELINE_DROP_TASK_FAILED RIDE_FRAME_STATUS_COUNT
#define RIDE_PIPELINE_DROP_SINK_REJECTED (RIDE_FRAME_STATUS_COUNT + 1)
#define RIDE_PIPELINE_DROP_EXPIRED (RIDE_FRAME_STATUS_COUNT + 2)
#define RIDE_PIPELINE_DROP_OVER_SHARE (RIDE_FRAME_STATUS_COUNT + 3)
#define RIDE_PIPELINE_DROP_REASONS (RIDE_FRAME_STATUS_COUNT + 4)

/* Backoff between consecutive rewinds of one partition: the first rewind after
 * a success is immediate, each further one waits twice as long, up to the max. */
#define RIDE_PIPELINE_REWIND_BACKOFF_MIN_MS 50
#define RIDE_PIPELINE_REWIND_BACKOFF_MAX_MS 1000

/* Largest task_depth: frames in flight through one stage's task. */
#define RIDE_PIPELINE_MAX_TASK_DEPTH 4096

/* The label of drop reason i: ride_frame_status_reason(), "task_failed",
 * "sink_rejected", "expired" or "over_share". */
const char *ride_pipeline_drop_reason(int i);

typedef struct ride_pipeline_partition_stats {
    int32_t partition;
    int64_t epoch;
    int64_t position;  /* next input offset to read (RIDE_OFFSET_UNKNOWN before any) */
    int64_t committed; /* last committed here (RIDE_OFFSET_UNKNOWN before any) */
    uint64_t frames_in;     /* complete input frames */
    uint64_t processed;     /* outputs durably written */
    uint64_t messages_out;  /* Kafka messages (chunks) of the processed outputs, topic only */
    uint64_t dropped[RIDE_PIPELINE_DROP_REASONS];
    uint64_t dropped_total;
    uint64_t delivery_errors;
    uint64_t rewinds;       /* re-reads from the committable offset after a failed delivery */
    int64_t rewind_backoff_ms; /* wait before the next rewind (0 after a success) */
    int paused;             /* held back by the output partition's backlog now */
    uint64_t pauses;        /* times it was */
    uint64_t transactions;  /* committed (exactly-once) */
    uint64_t aborts;        /* transactions aborted or abandoned with their producer */
    int fenced;             /* a newer owner fenced this partition's producer */
} ride_pipeline_partition_stats;

typedef struct ride_pipeline_stats {
    size_t partitions; /* owned now */
    uint64_t frames_in;
    uint64_t processed;
    uint64_t dropped_total;
    uint64_t handed_back;   /* frames left unacknowledged by remove_partition */
    uint64_t delivery_errors;
    uint64_t stale_reports; /* delivery reports for frames of a removed or rewound partition */
    uint64_t stale_outputs; /* task outputs of a removed or rewound partition, not written */
    uint64_t commits;
    uint64_t transactions;
    uint64_t aborts;
    uint64_t fenced; /* partitions whose producer a newer owner fenced */
    size_t paused; /* partitions held back by backpressure now */
    uint64_t pauses;
    double input_fps; /* complete input frames per second since the previous stats call */
} ride_pipeline_stats;

typedef struct ride_pipeline ride_pipeline;

ride_pipeline *ride_pipeline_new(const ride_pipeline_config *cfg, char *err, size_t errlen);
/* Stops at once, committing nothing: what is not committed is re-read by the next
 * owner. (The producer still flushes for up to 5 s, so outputs may duplicate.) */
void ride_pipeline_free(ride_pipeline *pl);

/* Starts consuming partition under epoch at start: an offset, or
 * RIDE_KAFKA_OFFSET_COMMITTED (the group's committed offset, else the earliest
 * kept). An owned partition is an error: remove it first. */
int ride_pipeline_add_partition(ride_pipeline *pl, int32_t partition, int64_t epoch,
                                int64_t start, char *err, size_t errlen);

/* For a partition fenced at least fenced_for_ms ago that the caller still owns
 * under the current assignment (the fencer was a stale owner, which let go or
 * will): opens a new producer at the next step, fencing the stale one in turn,
 * and re-reads from the committed offset. Logged (event=partition_reclaimed).
 * Returns 1 when it does, 0 when the partition is not fenced or not for long
 * enough. */
int ride_pipeline_reclaim_partition(ride_pipeline *pl, int32_t partition, int64_t fenced_for_ms);

/* Stops touching partition at once: frames being assembled, in the task or
 * awaiting delivery are counted as handed back (uncommitted, the next owner re-reads them) and
 * their late delivery reports commit nothing. Removing a partition not owned is
 * an error. */
int ride_pipeline_remove_partition(ride_pipeline *pl, int32_t partition, char *err,
                                   size_t errlen);

/* One round of work: serves delivery reports, writes the task's finished outputs,
 * then reads up to a small batch of messages, waiting up to timeout_ms for the
 * first (only delivery reports are served while max_in_flight outputs are
 * pending). With frames in the task it does not wait for messages: it waits for
 * the oldest frame when the task is full or nothing was read. Before reading it
 * rewinds, pauses and resumes the partitions that need it; one whose change fails
 * is logged (once per cause and interval) and tried again after a backoff
 * (retry.h) while the others go on. Returns the messages read, or -1 on a
 * consumer error (err set; the pipeline stays usable). */
int ride_pipeline_step(ride_pipeline *pl, int timeout_ms, char *err, size_t errlen);
/* Has the input consumer write to fd when a message arrives in its empty queue
 * (ride_kafka_consumer_wake_fd): a caller stepping several pipelines with no wait
 * waits on fd for all of them. -1 on failure. */
int ride_pipeline_wake_fd(ride_pipeline *pl, int fd);
/* The longest a step waits for its task's oldest frame, and so the longest a
 * caller need wait for input while frames are in a task (their outputs are due,
 * and a step collects them): the worker's other stages wait meanwhile. */
#define RIDE_PIPELINE_TASK_WAIT_MS 2

/* Whether frames are in the task: their outputs are due soon. */
bool ride_pipeline_task_busy(const ride_pipeline *pl);
/* Frames that have left the task so far (outputs and failures). */
uint64_t ride_pipeline_task_collected(const ride_pipeline *pl);

/* Commits, for every owned partition, its committable offset when it advanced
 * past the last commit. Meant to be called periodically (e.g. every 100 ms).
 * Exactly-once: commits the transactions that are due (the step does too). */
int ride_pipeline_commit(ride_pipeline *pl, char *err, size_t errlen);

/* Output messages queued or awaiting their delivery report. */
int ride_pipeline_outputs_pending(ride_pipeline *pl);

void ride_pipeline_stats_get(ride_pipeline *pl, ride_pipeline_stats *out);
/* Nanoseconds the processing thread spent in the pipeline's working steps since it
 * was made: every timed step but fetch (which includes waiting for input) and
 * delivery (the broker's, not the thread's); the worker's busy time on the stage. */
int64_t ride_pipeline_busy_ns(const ride_pipeline *pl);
/* Copies up to max partition entries (owned partitions, by partition number);
 * returns how many are owned. */
size_t ride_pipeline_partition_stats_get(const ride_pipeline *pl,
                                         ride_pipeline_partition_stats *out, size_t max);

/* The input offset that a commit would write now for partition, or
 * RIDE_OFFSET_UNKNOWN (also when not owned). */
int64_t ride_pipeline_committable(const ride_pipeline *pl, int32_t partition);

#endif
