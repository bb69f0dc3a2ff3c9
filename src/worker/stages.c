/* stages.c - the stage pipelines of one worker (stages.h): each assignment entry
 * becomes a partition of the pipeline built for its (app, stage), and a
 * fingerprint of every setting that pipeline was built from decides whether a
 * later assignment keeps it or rebuilds it. */
#include "stages.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "files_sink.h"
#include "pipeline.h"
#include "retry.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "kafka/backlog.h"
#include "kafka/kafka.h"
#include "kafka/message_size.h"

#define FINGERPRINT_MAX 4096
/* Default backlog budgets per output partition (docs/configuration.md). */
#define RIDE_WORKER_EMBEDDED_BACKLOG ((size_t)4 << 20)
#define RIDE_WORKER_KAFKA_BACKLOG ((size_t)64 << 20)
#define MAX_OWNED 4096

typedef struct stage_pipeline {
    char app[RIDE_NAME_MAX + 1];
    char stage[RIDE_NAME_MAX + 1];
    char *fingerprint; /* every setting it was built from */
    ride_pipeline *pl;
    ride_task_runner *runner;
    ride_frame_write_opts write_opts; /* of the output topic; the task picks the encoding */
    ride_files_sink *files; /* the files sink, or NULL */
    ride_metric_family *sink_errors;
    ride_histogram *latency;
    size_t partitions;
    /* A failed step or commit is not tried again before its backoff ends. */
    ride_retry step_retry;
    ride_retry commit_retry;
    ride_failure_log failures;
} stage_pipeline;

typedef struct owned_partition {
    stage_pipeline *sp;
    int32_t partition;
    int64_t epoch;
    uint64_t seen_processed;
    uint64_t seen_messages;
    uint64_t seen_dropped[RIDE_PIPELINE_DROP_REASONS];
    uint64_t seen_transactions[RIDE_WORKER_TRANSACTION_OUTCOMES];
    ride_counter *processed;
    ride_counter *messages;
} owned_partition;

struct ride_worker_stages {
    ride_worker_stages_env env;
    bool kafka_embedded; /* the brokers are the embedded cluster */
    stage_pipeline **pipelines;
    size_t pipeline_count;
    owned_partition *owned;
    size_t owned_count;
    int stages_assigned; /* distinct stages in the latest assignment */
    /* A non-blocking pipe every stage's consumer writes to when input arrives,
     * so that one poll() waits for all of them; -1 when it could not be made. */
    int wake[2];
    uint64_t collected; /* frames out of the tasks, at the last ride_worker_stages_moving */
};

/* ---- the task, with frames in flight, as the pipeline's submit and collect ---- */

static int submit_task(void *ctx, ride_frame *in, char *err, size_t errlen)
{
    stage_pipeline *sp = ctx;
    return ride_task_submit_exchange(sp->runner, in, err, errlen);
}

static int collect_task(void *ctx, int wait_ms, ride_frame *out, ride_frame_status *rejected,
                        char *err, size_t errlen)
{
    stage_pipeline *sp = ctx;
    int rc = ride_task_collect_within(sp->runner, wait_ms, out, err, errlen);
    *rejected = rc < 0 ? ride_task_runner_rejected(sp->runner) : RIDE_FRAME_OK;
    if (rc != 1)
        return rc;
    ride_task_runner_write_opts(sp->runner, &sp->write_opts);
    uint64_t now = ride_clock_wall_ns();
    /* A capture time ahead of this host's clock (skew) would make a negative latency. */
    if (out->capture_ns && out->capture_ns <= now)
        ride_histogram_observe(sp->latency, (double)(now - out->capture_ns) / 1e9);
    return 1;
}

/* ---- sinks of a last stage ---- */

static int write_files(void *ctx, int32_t partition, const ride_frame *out, char *err,
                       size_t errlen)
{
    stage_pipeline *sp = ctx;
    const char *reason = NULL;
    int rc = ride_files_sink_write(sp->files, partition, out, &reason, err, errlen);
    if (reason) {
        const char *labels[] = {sp->app, sp->stage, reason};
        ride_counter_add(ride_counter_get(sp->sink_errors, labels, 3), 1);
    }
    return rc;
}

/* A stage with no output: its frames are acknowledged once the task ran. */
static int discard_output(void *ctx, int32_t partition, const ride_frame *out, char *err,
                          size_t errlen)
{
    (void)ctx;
    (void)partition;
    (void)out;
    (void)err;
    (void)errlen;
    return RIDE_PIPELINE_SINK_WRITTEN;
}

/* ---- building a stage pipeline from an assignment entry ---- */

static bool fingerprint(const ride_cluster_partition_task *t, const char *bootstrap, char *buf,
                        size_t len)
{
    int n = snprintf(buf, len, "%s|%s|%d|%s|%s|%s|%s|%s|%d|%d|%s|%s", t->input_topic,
                     t->output_topic ? t->output_topic : "", t->output_partitions,
                     t->output_group ? t->output_group : "",
                     t->output_path ? t->output_path : "",
                     t->output_path ? ride_encoding_name(t->output_format) : "", t->group,
                     t->task, t->threads, (int)t->device, bootstrap ? bootstrap : "",
                     ride_delivery_name(t->delivery));
    for (size_t i = 0; i < t->param_count && n >= 0 && (size_t)n < len; i++)
        n += snprintf(buf + n, len - (size_t)n, "|%s=%s", t->params[i].key, t->params[i].value);
    return n >= 0 && (size_t)n < len;
}

/* resources.threads, else the worker's cores shared by the workers running on
 * this machine now and the stages of its assignment: fixed while the stage's
 * pipeline lives. */
static int kernel_threads(const ride_worker_stages *s, const ride_cluster_partition_task *t)
{
    if (t->threads > 0)
        return t->threads;
    int here = s->env.presence_dir ? ride_worker_presence_count(s->env.presence_dir) : 1;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = ride_worker_kernel_threads(0, s->env.cfg->worker.threads,
                                             online > 0 ? (int)online : 1, here, s->stages_assigned);
    ride_log_info("kernel_threads", "app=%s stage=%s threads=%d workers_here=%d stages_here=%d",
                  t->app, t->stage, threads, here, s->stages_assigned);
    return threads;
}

/* A stage asking for a GPU (device gpu or any) runs on every GPU this worker may
 * use, several frames in flight on each; without one it takes the CPU path, which
 * every GPU task has. */
static ride_task_runner *start_runner(ride_worker_stages *s, const ride_cluster_partition_task *t,
                                      const ride_task_descriptor *d, ride_task_params *params,
                                      char *err, size_t errlen)
{
    bool wants_gpu = t->device == RIDE_STAGE_GPU || t->device == RIDE_STAGE_ANY;
    if (wants_gpu && (d->devices & RIDE_TASK_GPU) && s->env.gpus->count > 0)
        return ride_task_runner_new_gpu(d, params, s->env.gpus->index, s->env.gpus->count,
                                        RIDE_TASK_GPU_FRAMES_IN_FLIGHT, err, errlen);
    if (t->device == RIDE_STAGE_GPU)
        ride_log_warn(
            "gpu_stage_on_cpu", "app=%s stage=%s task=%s reason=\"%s\"", t->app, t->stage, t->task,
            s->env.gpus->count == 0 ? "this worker has no usable GPU" : "the task has no GPU path");
    /* Whole frames in parallel, one per thread: a frame's decode runs on its
     * lane too, no kernel waits for the slowest band of another thread, and the
     * processing thread fetches and produces while the lanes compute. */
    ride_task_env env = {
        .struct_size = sizeof env, .threads = 1, .device = RIDE_TASK_CPU, .gpu_index = -1};
    return ride_task_runner_new_cpu_lanes(d, params, &env, kernel_threads(s, t),
                                          (size_t)s->env.cfg->worker.max_frame_bytes,
                                          (ride_pixel_format)ride_task_input_format(d), err,
                                          errlen);
}

static ride_task_runner *make_runner(ride_worker_stages *s, const ride_cluster_partition_task *t,
                                     char *err, size_t errlen)
{
    const ride_task_descriptor *d = ride_task_find(s->env.registry, t->task);
    if (!d) {
        char names[512];
        ride_set_error(err, errlen, "unknown task '%s' (known: %s)", t->task,
                       ride_task_names(s->env.registry, names, sizeof names));
        return NULL;
    }
    if (!(d->devices & RIDE_TASK_CPU)) {
        ride_set_error(err, errlen, "task '%s' has no CPU implementation", t->task);
        return NULL;
    }
    ride_task_params *params = NULL;
    ride_parse_error perr;
    ride_pos pos = {0, 0};
    if (ride_task_params_parse(d, t->params, t->param_count, "assignment", "params", pos, &params,
                               &perr)) {
        char buf[512];
        ride_set_error(err, errlen, "%s", ride_parse_error_format(&perr, buf, sizeof buf));
        return NULL;
    }
    return start_runner(s, t, d, params, err, errlen);
}

static rd_kafka_conf_t *kafka_conf(ride_worker_stages *s, ride_kafka_role role,
                                   const char *bootstrap, char *err, size_t errlen)
{
    ride_parse_error perr;
    rd_kafka_conf_t *conf =
        ride_kafka_conf_new(role, bootstrap, s->kafka_embedded, s->env.cfg->kafka.props,
                            s->env.cfg->kafka.prop_count, s->env.cfg->file, &perr);
    if (!conf) {
        char buf[512];
        ride_set_error(err, errlen, "%s", ride_parse_error_format(&perr, buf, sizeof buf));
        return NULL;
    }
    /* The output topic's own limit is applied by the pipeline, which can ask for it. */
    if (role == RIDE_KAFKA_PRODUCER &&
        ride_kafka_conf_fit_messages(conf, s->env.cfg->kafka.props, s->env.cfg->kafka.prop_count,
                                     (size_t)s->env.cfg->worker.message_max_bytes, 0, err,
                                     errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

/* Sets isolation.level=read_committed; on failure destroys conf and returns NULL. */
static rd_kafka_conf_t *read_committed(rd_kafka_conf_t *conf, char *err, size_t errlen)
{
    char reason[256];
    if (rd_kafka_conf_set(conf, "isolation.level", "read_committed", reason, sizeof reason) ==
        RD_KAFKA_CONF_OK)
        return conf;
    ride_set_error(err, errlen, "isolation.level: %s", reason);
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* worker.max_backlog_bytes, else the default of the brokers: the embedded one
 * keeps about 5 MiB per partition; on a real Kafka the pipeline lowers the
 * larger default to what the output topic's retention allows. */
static size_t backlog_budget(const ride_worker_stages *s)
{
    int64_t configured = s->env.cfg->worker.max_backlog_bytes;
    if (configured != RIDE_CONFIG_BACKLOG_AUTO)
        return (size_t)configured;
    return s->kafka_embedded ? RIDE_WORKER_EMBEDDED_BACKLOG : RIDE_WORKER_KAFKA_BACKLOG;
}

static void stage_free(stage_pipeline *sp)
{
    if (!sp)
        return;
    ride_pipeline_free(sp->pl);
    ride_task_runner_free(sp->runner);
    ride_files_sink_free(sp->files);
    free(sp->fingerprint);
    free(sp);
}

static stage_pipeline *stage_new(ride_worker_stages *s, const ride_cluster_partition_task *t,
                                 const char *fp, const char *bootstrap, char *err,
                                 size_t errlen)
{
    stage_pipeline *sp = calloc(1, sizeof *sp);
    if (!sp || !(sp->fingerprint = strdup(fp))) {
        free(sp);
        ride_set_error(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(sp->app, sizeof sp->app, "%s", t->app);
    snprintf(sp->stage, sizeof sp->stage, "%s", t->stage);
    sp->sink_errors = s->env.metrics->sink_errors;
    sp->latency =
        ride_histogram_get(s->env.metrics->latency, (const char *[]){t->app, t->stage}, 2);
    ride_histogram *steps[RIDE_STEP_COUNT];
    for (int i = 0; i < RIDE_STEP_COUNT; i++) {
        const char *labels[] = {t->app, t->stage, ride_pipeline_step_name(i)};
        steps[i] = ride_histogram_get(s->env.metrics->steps, labels, 3);
    }
    sp->runner = make_runner(s, t, err, errlen);
    if (sp->runner && t->output_path)
        sp->files = ride_files_sink_new(t->output_path, t->output_format, err, errlen);
    bool ready = sp->runner && (!t->output_path || sp->files);
    bool exactly_once = t->delivery == RIDE_DELIVERY_EXACTLY_ONCE;
    rd_kafka_conf_t *cc = ready ? kafka_conf(s, RIDE_KAFKA_CONSUMER, bootstrap, err, errlen) : NULL;
    /* Outputs of an aborted transaction, or of one still open, are never input:
     * librdkafka's default, set again so that no kafka property can undo it. */
    if (cc && exactly_once)
        cc = read_committed(cc, err, errlen);
    rd_kafka_conf_t *pc = cc && t->output_topic
                              ? kafka_conf(s, RIDE_KAFKA_PRODUCER, bootstrap, err, errlen)
                              : NULL;
    if (!cc || (t->output_topic && !pc)) {
        if (cc)
            rd_kafka_conf_destroy(cc);
        stage_free(sp);
        return NULL;
    }
    sp->write_opts =
        (ride_frame_write_opts){RIDE_ENC_RAW, -1, (size_t)s->env.cfg->worker.message_max_bytes};
    ride_pipeline_config pcfg = {
        .app = t->app,
        .stage = t->stage,
        .input_topic = t->input_topic,
        .group = t->group,
        .output_topic = t->output_topic,
        .output_partitions = t->output_partitions,
        .submit = submit_task,
        .collect = collect_task,
        .task_depth = ride_task_runner_depth(sp->runner),
        .process_ctx = sp,
        .sink = t->output_topic ? NULL : sp->files ? write_files : discard_output,
        .sink_ctx = sp,
        .consumer_conf = cc,
        .producer_conf = pc,
        .max_frame_bytes = (size_t)s->env.cfg->worker.max_frame_bytes,
        .decode_as = (ride_pixel_format)ride_task_input_format(ride_task_runner_task(sp->runner)),
        .defer_decode = ride_task_runner_decodes(sp->runner),
        .write_opts = &sp->write_opts,
        .max_backlog_bytes = t->output_group ? backlog_budget(s) : 0,
        .backlog_within_retention =
            s->env.cfg->worker.max_backlog_bytes == RIDE_CONFIG_BACKLOG_AUTO && !s->kafka_embedded,
        .backlog_refresh_ms =
            s->kafka_embedded ? RIDE_BACKLOG_EMBEDDED_REFRESH_MS : RIDE_BACKLOG_DEFAULT_REFRESH_MS,
        .output_group = t->output_group,
        .exactly_once = exactly_once,
        .transaction_interval_ms = s->env.cfg->worker.transaction_interval_ms,
        .transaction_max_frames = s->env.cfg->worker.transaction_max_frames,
        .output_writers = t->output_writers,
        .strict_backlog = s->kafka_embedded,
    };
    memcpy(pcfg.step_seconds, steps, sizeof steps);
    sp->pl = ride_pipeline_new(&pcfg, err, errlen);
    if (!sp->pl) {
        stage_free(sp);
        return NULL;
    }
    return sp;
}

/* ---- applying an assignment ---- */

static stage_pipeline *find_stage(ride_worker_stages *s, const char *app, const char *stage)
{
    for (size_t i = 0; i < s->pipeline_count; i++)
        if (strcmp(s->pipelines[i]->app, app) == 0 && strcmp(s->pipelines[i]->stage, stage) == 0)
            return s->pipelines[i];
    return NULL;
}

/* Notes a failed step or commit: the next waits for the backoff, and the cause
 * is logged once per interval. */
static void stage_failed(stage_pipeline *sp, ride_retry *r, const char *event, const char *err)
{
    ride_retry_failed(r, ride_clock_mono_ms());
    char context[2 * RIDE_NAME_MAX + 64];
    snprintf(context, sizeof context, "app=%s stage=%s retry_ms=%lld", sp->app, sp->stage,
             (long long)r->backoff_ms);
    ride_failure_log_warn(&sp->failures, event, context, err);
}

/* Commits one stage's acknowledged offsets; with backoff, only once the backoff
 * of a failed commit ended. */
static void commit_stage(stage_pipeline *sp, bool backoff)
{
    if (!sp->partitions || (backoff && !ride_retry_due(&sp->commit_retry, ride_clock_mono_ms())))
        return;
    char err[512];
    if (ride_pipeline_commit(sp->pl, err, sizeof err) == 0)
        ride_retry_succeeded(&sp->commit_retry);
    else
        stage_failed(sp, &sp->commit_retry, "commit_failed", err);
}

void ride_worker_stages_commit(ride_worker_stages *s)
{
    for (size_t i = 0; i < s->pipeline_count; i++)
        commit_stage(s->pipelines[i], true);
}

static void release_partition(ride_worker_stages *s, size_t index)
{
    owned_partition *o = &s->owned[index];
    char err[512];
    if (ride_pipeline_remove_partition(o->sp->pl, o->partition, err, sizeof err))
        ride_log_error("partition_remove_failed", "app=%s stage=%s partition=%d error=\"%s\"",
                       o->sp->app, o->sp->stage, (int)o->partition, err);
    else
        ride_log_info("partition_released", "app=%s stage=%s partition=%d epoch=%" PRId64,
                      o->sp->app, o->sp->stage, (int)o->partition, o->epoch);
    o->sp->partitions--;
    s->owned[index] = s->owned[--s->owned_count];
}

/* True when entry t is kept as it is: owned under the same epoch by a pipeline
 * built from the same settings. */
static bool entry_matches(const owned_partition *o, const ride_cluster_partition_task *t,
                          const char *fp)
{
    return o->partition == t->partition && o->epoch == t->epoch &&
           strcmp(o->sp->app, t->app) == 0 && strcmp(o->sp->stage, t->stage) == 0 &&
           strcmp(o->sp->fingerprint, fp) == 0;
}

static bool still_assigned(const owned_partition *o, const ride_cluster_assignment *a,
                           const char *bootstrap)
{
    char fp[FINGERPRINT_MAX];
    for (size_t i = 0; a && i < a->partition_count; i++)
        if (fingerprint(&a->partitions[i], bootstrap, fp, sizeof fp) &&
            entry_matches(o, &a->partitions[i], fp))
            return true;
    return false;
}

static void set_paused_gauge(ride_worker_stages *s, const stage_pipeline *sp, size_t paused)
{
    const char *labels[] = {sp->app, sp->stage};
    ride_gauge_set(ride_gauge_get(s->env.metrics->paused, labels, 2), (double)paused);
}

static void drop_idle_stages(ride_worker_stages *s)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->pipeline_count; i++) {
        if (s->pipelines[i]->partitions == 0) {
            set_paused_gauge(s, s->pipelines[i], 0);
            stage_free(s->pipelines[i]);
        } else {
            s->pipelines[kept++] = s->pipelines[i];
        }
    }
    s->pipeline_count = kept;
}

static void add_entry(ride_worker_stages *s, const ride_cluster_partition_task *t,
                      const char *bootstrap)
{
    char fp[FINGERPRINT_MAX], err[512];
    if (!fingerprint(t, bootstrap, fp, sizeof fp)) {
        ride_log_error("assignment_entry_skipped", "app=%s stage=%s partition=%d error=\"settings "
                       "too long\"", t->app, t->stage, t->partition);
        return;
    }
    for (size_t i = 0; i < s->owned_count; i++)
        if (entry_matches(&s->owned[i], t, fp))
            return;
    stage_pipeline *sp = find_stage(s, t->app, t->stage);
    if (sp && strcmp(sp->fingerprint, fp) != 0) {
        ride_log_error("assignment_entry_skipped", "app=%s stage=%s partition=%d error=\"differs "
                       "from the stage's other partitions\"", t->app, t->stage, t->partition);
        return;
    }
    if (!sp) {
        stage_pipeline **grown = realloc(s->pipelines, (s->pipeline_count + 1) * sizeof *grown);
        if (!grown)
            return;
        s->pipelines = grown;
        sp = stage_new(s, t, fp, bootstrap, err, sizeof err);
        if (!sp) {
            ride_log_error("assignment_entry_skipped", "app=%s stage=%s partition=%d error=\"%s\"",
                           t->app, t->stage, t->partition, err);
            return;
        }
        s->pipelines[s->pipeline_count++] = sp;
        if (s->wake[1] >= 0 && ride_pipeline_wake_fd(sp->pl, s->wake[1]) != 0)
            ride_log_warn("wake_fd_failed", "app=%s stage=%s", t->app, t->stage);
    }
    if (s->owned_count == MAX_OWNED ||
        ride_pipeline_add_partition(sp->pl, t->partition, t->epoch, RIDE_KAFKA_OFFSET_COMMITTED,
                                    err, sizeof err)) {
        ride_log_error("partition_add_failed", "app=%s stage=%s partition=%d error=\"%s\"", t->app,
                       t->stage, t->partition, s->owned_count == MAX_OWNED ? "too many" : err);
        return;
    }
    char part[16];
    snprintf(part, sizeof part, "%d", t->partition);
    const char *labels[] = {t->app, t->stage, part};
    s->owned[s->owned_count++] = (owned_partition){
        .sp = sp,
        .partition = t->partition,
        .epoch = t->epoch,
        .processed = ride_counter_get(s->env.metrics->processed, labels, 3),
        .messages = ride_counter_get(s->env.metrics->messages_written, labels, 3),
    };
    sp->partitions++;
    ride_log_info("partition_acquired", "app=%s stage=%s partition=%d epoch=%" PRId64, t->app,
                  t->stage, t->partition, t->epoch);
}

static bool superseded(const ride_worker_stages *s)
{
    return s->env.superseded && s->env.superseded(s->env.superseded_ctx);
}

/* The stages an assignment names: each runs on lanes of its own. */
static int distinct_stages(const ride_cluster_assignment *a)
{
    int n = 0;
    for (size_t i = 0; i < a->partition_count; i++) {
        const ride_cluster_partition_task *t = &a->partitions[i];
        size_t j = 0;
        while (j < i && (strcmp(a->partitions[j].app, t->app) != 0 ||
                         strcmp(a->partitions[j].stage, t->stage) != 0))
            j++;
        n += j == i;
    }
    return n;
}

void ride_worker_stages_apply(ride_worker_stages *s, const ride_cluster_assignment *a,
                              const char *bootstrap, bool embedded)
{
    s->kafka_embedded = embedded;
    /* The last chance to commit what a released partition acknowledged. */
    for (size_t i = 0; i < s->pipeline_count; i++)
        commit_stage(s->pipelines[i], false);
    for (size_t i = s->owned_count; i-- > 0;)
        if (!still_assigned(&s->owned[i], a, bootstrap))
            release_partition(s, i);
    drop_idle_stages(s);
    if (!a)
        return;
    s->stages_assigned = distinct_stages(a);
    if (!bootstrap && a->partition_count) {
        ride_log_warn("kafka_unknown", "reason=\"no /cluster/kafka yet\" partitions=%zu",
                      a->partition_count);
        return;
    }
    for (size_t i = 0; i < a->partition_count; i++) {
        if (superseded(s)) {
            ride_log_info("assignment_superseded", "epoch=%" PRId64 " added=%zu of=%zu",
                          a->epoch, i, a->partition_count);
            break;
        }
        add_entry(s, &a->partitions[i], bootstrap);
    }
    drop_idle_stages(s);
}

/* ---- stats and metrics ---- */

/* Exactly-once stages: committed and aborted transactions, and fenced producers. */
static void update_transaction_metrics(ride_worker_stages *s, owned_partition *o,
                                       const ride_pipeline_partition_stats *ps)
{
    const uint64_t now[RIDE_WORKER_TRANSACTION_OUTCOMES] = {ps->transactions, ps->aborts,
                                                            (uint64_t)(ps->fenced != 0)};
    for (int k = 0; k < RIDE_WORKER_TRANSACTION_OUTCOMES; k++) {
        if (now[k] <= o->seen_transactions[k])
            continue;
        const char *labels[] = {o->sp->app, o->sp->stage, ride_worker_transaction_outcomes[k]};
        ride_counter_add(ride_counter_get(s->env.metrics->transactions, labels, 3),
                         now[k] - o->seen_transactions[k]);
        o->seen_transactions[k] = now[k];
    }
}

static void update_metrics(ride_worker_stages *s, owned_partition *o,
                           const ride_pipeline_partition_stats *ps)
{
    ride_counter_add(o->processed, ps->processed - o->seen_processed);
    o->seen_processed = ps->processed;
    ride_counter_add(o->messages, ps->messages_out - o->seen_messages);
    o->seen_messages = ps->messages_out;
    for (int r = 0; r < RIDE_PIPELINE_DROP_REASONS; r++) {
        if (ps->dropped[r] == o->seen_dropped[r])
            continue;
        const char *labels[] = {o->sp->app, o->sp->stage, ride_pipeline_drop_reason(r)};
        ride_counter_add(ride_counter_get(s->env.metrics->dropped, labels, 3),
                         ps->dropped[r] - o->seen_dropped[r]);
        o->seen_dropped[r] = ps->dropped[r];
    }
    update_transaction_metrics(s, o, ps);
}

/* The stage's busy time: its processing thread's working steps plus its average
 * lane's decode and task time. A CPU stage's frames are decoded and processed on
 * the lanes while the thread only hands them over, so the thread alone reads
 * nearly idle when the lanes are saturated; the sum never reads below the busier
 * of the two (at most twice it when both are loaded), so a capacity estimated
 * from it errs towards more workers, never fewer. */
static int64_t stage_busy_ns(const stage_pipeline *sp)
{
    return ride_pipeline_busy_ns(sp->pl) + ride_task_runner_lane_busy_ns(sp->runner);
}

static void snapshot_stage(ride_worker_stages *s, stage_pipeline *sp,
                           ride_pipeline_partition_stats *all, ride_worker_partition_stats *snap)
{
    size_t n = ride_pipeline_partition_stats_get(sp->pl, all, s->owned_count);
    size_t paused = 0;
    for (size_t k = 0; k < n && k < s->owned_count; k++)
        paused += all[k].paused != 0;
    set_paused_gauge(s, sp, paused);
    for (size_t i = 0; i < s->owned_count; i++) {
        owned_partition *o = &s->owned[i];
        if (o->sp != sp)
            continue;
        ride_worker_partition_stats *out = &snap[i];
        snprintf(out->app, sizeof out->app, "%s", sp->app);
        snprintf(out->stage, sizeof out->stage, "%s", sp->stage);
        out->partition = o->partition;
        out->epoch = o->epoch;
        out->position = out->committed = -1;
        for (size_t k = 0; k < n && k < s->owned_count; k++) {
            if (all[k].partition != o->partition)
                continue;
            update_metrics(s, o, &all[k]);
            out->position = all[k].position < 0 ? -1 : all[k].position;
            out->committed = all[k].committed < 0 ? -1 : all[k].committed;
        }
        out->frames_processed = (int64_t)o->seen_processed;
        out->messages_written = (int64_t)o->seen_messages;
        out->busy_ms = stage_busy_ns(sp) / 1000000;
    }
}

ride_worker_partition_stats *ride_worker_stages_stats(ride_worker_stages *s)
{
    size_t cap = s->owned_count ? s->owned_count : 1;
    ride_worker_partition_stats *snap = calloc(cap, sizeof *snap);
    ride_pipeline_partition_stats *all = calloc(cap, sizeof *all);
    if (!snap || !all) {
        free(snap);
        free(all);
        return NULL;
    }
    for (size_t i = 0; i < s->pipeline_count; i++)
        snapshot_stage(s, s->pipelines[i], all, snap);
    free(all);
    ride_gauge_set(ride_gauge_get(s->env.metrics->owned, NULL, 0), (double)s->owned_count);
    return snap;
}

/* Steps one stage unless it is backing off from a failed step; returns the
 * messages it read, or -1 when it did not step. */
static int step_stage(stage_pipeline *sp, int wait_ms, int64_t now)
{
    if (!ride_retry_due(&sp->step_retry, now))
        return -1;
    char err[512];
    int n = ride_pipeline_step(sp->pl, wait_ms, err, sizeof err);
    if (n >= 0) {
        ride_retry_succeeded(&sp->step_retry);
        return n;
    }
    stage_failed(sp, &sp->step_retry, "step_failed", err);
    return 0;
}

/* Waits up to wait_ms for input to any stage (the wake pipe), then empties the
 * pipe; frames in a task shorten the wait, their outputs being due. */
static void wait_for_input(ride_worker_stages *s, int wait_ms)
{
    for (size_t i = 0; i < s->pipeline_count; i++)
        if (ride_pipeline_task_busy(s->pipelines[i]->pl) && wait_ms > RIDE_PIPELINE_TASK_WAIT_MS)
            wait_ms = RIDE_PIPELINE_TASK_WAIT_MS;
    struct pollfd pfd = {.fd = s->wake[0], .events = POLLIN};
    if (poll(&pfd, 1, wait_ms) <= 0)
        return;
    char drain[64];
    while (read(s->wake[0], drain, sizeof drain) > 0)
        ;
}

static void reclaim_fenced(ride_worker_stages *s)
{
    if (superseded(s))
        return;
    for (size_t i = 0; i < s->owned_count; i++)
        ride_pipeline_reclaim_partition(s->owned[i].sp->pl, s->owned[i].partition,
                                        RIDE_WORKER_RECLAIM_AFTER_MS);
}

void ride_worker_stages_step(ride_worker_stages *s, int wait_ms)
{
    reclaim_fenced(s);
    int64_t now = ride_clock_mono_ms();
    int64_t until = now + wait_ms;
    bool stepped = false;
    int read_total = 0;
    /* With several stages no step waits for its own input, which would keep the
     * others' input waiting behind it: the wait is made below, on all at once. */
    bool shared_wait = s->pipeline_count > 1 && s->wake[0] >= 0;
    for (size_t i = 0; i < s->pipeline_count; i++) {
        stage_pipeline *sp = s->pipelines[i];
        int n = step_stage(sp, shared_wait ? 0 : wait_ms, now);
        if (n >= 0) {
            stepped = true;
            read_total += n;
        } else if (sp->step_retry.due_ms < until) {
            until = sp->step_retry.due_ms;
        }
    }
    /* Every stage is backing off: the wait a step would have made is made here,
     * so that the processing loop never spins. */
    if (!stepped && s->pipeline_count)
        ride_clock_sleep_until_ns(until * 1000000);
    else if (shared_wait && read_total == 0)
        wait_for_input(s, wait_ms);
}

/* ---- the set ---- */

/* Both ends non-blocking: librdkafka's writes must never block its threads, and
 * emptying the pipe stops when it is empty. */
static int open_wake_pipe(int fds[2])
{
    if (pipe(fds) != 0)
        return -1;
    for (int i = 0; i < 2; i++)
        if (fcntl(fds[i], F_SETFL, O_NONBLOCK) != 0 || fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0) {
            close(fds[0]);
            close(fds[1]);
            return -1;
        }
    return 0;
}

ride_worker_stages *ride_worker_stages_new(const ride_worker_stages_env *env)
{
    ride_worker_stages *s = calloc(1, sizeof *s);
    if (!s || !(s->owned = calloc(MAX_OWNED, sizeof *s->owned))) {
        free(s);
        return NULL;
    }
    s->env = *env;
    if (open_wake_pipe(s->wake) != 0) {
        ride_log_warn("wake_pipe_failed", "error=\"%s\"", strerror(errno));
        s->wake[0] = s->wake[1] = -1;
    }
    return s;
}

size_t ride_worker_stages_owned(const ride_worker_stages *s) { return s->owned_count; }

bool ride_worker_stages_moving(ride_worker_stages *s)
{
    uint64_t collected = 0;
    bool busy = false;
    for (size_t i = 0; i < s->pipeline_count; i++) {
        collected += ride_pipeline_task_collected(s->pipelines[i]->pl);
        busy = busy || ride_pipeline_task_busy(s->pipelines[i]->pl);
    }
    bool moved = !busy || collected != s->collected;
    s->collected = collected;
    return moved;
}

void ride_worker_stages_free(ride_worker_stages *s)
{
    if (!s)
        return;
    for (int i = 0; i < 2; i++)
        if (s->wake[i] >= 0)
            close(s->wake[i]);
    free(s->pipelines);
    free(s->owned);
    free(s);
}
