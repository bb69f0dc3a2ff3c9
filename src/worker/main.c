/* main.c - ride-worker: joins the cluster through ZooKeeper (cluster/member.h) and
 * runs the stage partitions its assignment names (docs/worker.md).
 *
 * Threads: the main thread runs the libuv loop (ZooKeeper membership, heartbeat
 * timer, signals, /metrics). One processing thread owns every pipeline: it
 * applies the latest assignment the loop hands it, steps the pipelines, commits
 * every commit interval and publishes a stats snapshot for the heartbeats. The two
 * share only the `shared` struct under its mutex, so no pipeline is ever touched
 * by two threads. */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "files_sink.h"
#include "machine.h"
#include "pipeline.h"
#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "cluster/cluster.h"
#include "cluster/member.h"
#include "cluster/systemd.h"
#include "cluster/zk.h"
#include "http/http.h"
#include "http/metrics.h"
#include "kafka/backlog.h"
#include "kafka/kafka.h"
#include "kernels/gpu.h"
#include "spec/config.h"
#include "tasks/host.h"

#define PROGRAM "ride-worker"
#define EXIT_USAGE 2
#define EXIT_RUNTIME 1
#define COMMIT_MS 100
/* With the embedded broker the next stage's committed offsets bound what a stage
 * may write ahead (docs/kafka.md, "Backpressure"): committing more often keeps
 * frames already processed from counting as waiting. */
#define EMBEDDED_COMMIT_MS 25
/* Longest a pipeline step waits for input, so that a new assignment or a stop is
 * seen promptly. */
#define STEP_MS 10
#define IDLE_WAIT_MS 100
#define MAX_FRAME_BYTES (64u << 20)
#define OUTPUT_MESSAGE_BYTES 1000000
#define FINGERPRINT_MAX 4096
#define MAX_OWNED 4096

typedef struct options {
    const char *config_file;
    const char *zookeeper;
    const char *id;
    const char *metrics_listen;
    const char *log_level;
} options;

/* One partition's figures, as the heartbeat reports them. */
typedef struct partition_snapshot {
    char app[RIDE_NAME_MAX + 1];
    char stage[RIDE_NAME_MAX + 1];
    int partition;
    int64_t epoch;
    int64_t position;
    int64_t committed;
    int64_t frames_processed;
} partition_snapshot;

/* Between the loop thread and the processing thread, under mu. */
typedef struct shared {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *assignment; /* encoded; NULL: own nothing (suspended or none yet) */
    char *bootstrap;  /* from /cluster/kafka, or NULL */
    bool embedded;    /* likewise: the brokers are the embedded mock cluster */
    uint64_t version; /* bumped at every change of the two above */
    bool stop;
    partition_snapshot *snap;
    size_t snap_count;
} shared;

typedef struct metrics_set {
    ride_metrics *reg;
    ride_metric_family *up;
    ride_metric_family *owned;
    ride_metric_family *processed;
    ride_metric_family *dropped;
    ride_metric_family *sink_errors;
    ride_metric_family *paused;
    ride_metric_family *latency;
} metrics_set;

/* One (app, stage) pipeline and the task instance it runs. */
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
} stage_pipeline;

typedef struct owned_partition {
    stage_pipeline *sp;
    int32_t partition;
    int64_t epoch;
    uint64_t seen_processed;
    uint64_t seen_dropped[RIDE_PIPELINE_DROP_REASONS];
    ride_counter *processed;
} owned_partition;

/* The most CUDA devices one worker uses (worker.gpus lists at most 64). */
#define MAX_GPUS 64

typedef struct worker {
    const ride_config *cfg;
    const char *id;
    ride_task_registry *registry;
    int gpus[MAX_GPUS]; /* CUDA devices for GPU stages (worker.gpus) */
    size_t gpu_count;
    metrics_set metrics;
    shared sh;
    /* processing thread only */
    bool kafka_embedded;
    stage_pipeline **stages;
    size_t stage_count;
    owned_partition *owned;
    size_t owned_count;
    /* loop thread only */
    partition_snapshot *hb_snap;
    ride_cluster_hb_partition *hb_parts;
    size_t hb_cap;
    ride_member *member;
    ride_http_server *http;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    pthread_t thread;
    bool stopping;
} worker;

/* ---- the task, with frames in flight, as the pipeline's submit and collect ---- */

static int submit_task(void *ctx, const ride_frame *in, char *err, size_t errlen)
{
    stage_pipeline *sp = ctx;
    return ride_task_submit(sp->runner, in, err, errlen);
}

static int collect_task(void *ctx, int wait, ride_frame *out, char *err, size_t errlen)
{
    stage_pipeline *sp = ctx;
    int rc = ride_task_collect(sp->runner, wait, out, err, errlen);
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
    int n = snprintf(buf, len, "%s|%s|%d|%s|%s|%s|%s|%s|%d|%d|%s", t->input_topic,
                     t->output_topic ? t->output_topic : "", t->output_partitions,
                     t->output_group ? t->output_group : "",
                     t->output_path ? t->output_path : "",
                     t->output_path ? ride_encoding_name(t->output_format) : "", t->group,
                     t->task, t->threads, (int)t->device, bootstrap ? bootstrap : "");
    for (size_t i = 0; i < t->param_count && n >= 0 && (size_t)n < len; i++)
        n += snprintf(buf + n, len - (size_t)n, "|%s=%s", t->params[i].key, t->params[i].value);
    return n >= 0 && (size_t)n < len;
}

/* A stage asking for a GPU (device gpu or any) runs on every GPU this worker may
 * use, several frames in flight on each; without one it takes the CPU path, which
 * every GPU task has. */
static ride_task_runner *start_runner(worker *w, const ride_cluster_partition_task *t,
                                      const ride_task_descriptor *d, ride_task_params *params,
                                      char *err, size_t errlen)
{
    bool wants_gpu = t->device == RIDE_STAGE_GPU || t->device == RIDE_STAGE_ANY;
    if (wants_gpu && (d->devices & RIDE_TASK_GPU) && w->gpu_count > 0)
        return ride_task_runner_new_gpu(d, params, w->gpus, w->gpu_count,
                                        RIDE_TASK_GPU_FRAMES_IN_FLIGHT, err, errlen);
    if (t->device == RIDE_STAGE_GPU)
        ride_log_warn("gpu_stage_on_cpu", "app=%s stage=%s task=%s reason=\"%s\"", t->app,
                      t->stage, t->task,
                      w->gpu_count == 0 ? "this worker has no usable GPU" : "the task has no GPU path");
    ride_task_env env = {
        .struct_size = sizeof env, .threads = t->threads, .device = RIDE_TASK_CPU, .gpu_index = -1};
    return ride_task_runner_new(d, params, &env, err, errlen);
}

static ride_task_runner *make_runner(worker *w, const ride_cluster_partition_task *t, char *err,
                                     size_t errlen)
{
    const ride_task_descriptor *d = ride_task_find(w->registry, t->task);
    if (!d) {
        char names[512];
        ride_set_error(err, errlen, "unknown task '%s' (known: %s)", t->task,
                       ride_task_names(w->registry, names, sizeof names));
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
    return start_runner(w, t, d, params, err, errlen);
}

static rd_kafka_conf_t *kafka_conf(worker *w, ride_kafka_role role, const char *bootstrap,
                                   char *err, size_t errlen)
{
    ride_parse_error perr;
    rd_kafka_conf_t *conf = ride_kafka_conf_new(role, bootstrap, w->kafka_embedded,
                                                w->cfg->kafka.props,
                                                w->cfg->kafka.prop_count, w->cfg->file, &perr);
    if (!conf) {
        char buf[512];
        ride_set_error(err, errlen, "%s", ride_parse_error_format(&perr, buf, sizeof buf));
    }
    return conf;
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

static stage_pipeline *stage_new(worker *w, const ride_cluster_partition_task *t,
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
    sp->sink_errors = w->metrics.sink_errors;
    sp->latency = ride_histogram_get(w->metrics.latency, (const char *[]){t->app, t->stage}, 2);
    sp->runner = make_runner(w, t, err, errlen);
    if (sp->runner && t->output_path)
        sp->files = ride_files_sink_new(t->output_path, t->output_format, err, errlen);
    bool ready = sp->runner && (!t->output_path || sp->files);
    rd_kafka_conf_t *cc = ready ? kafka_conf(w, RIDE_KAFKA_CONSUMER, bootstrap, err, errlen) : NULL;
    rd_kafka_conf_t *pc = cc && t->output_topic
                              ? kafka_conf(w, RIDE_KAFKA_PRODUCER, bootstrap, err, errlen)
                              : NULL;
    if (!cc || (t->output_topic && !pc)) {
        if (cc)
            rd_kafka_conf_destroy(cc);
        stage_free(sp);
        return NULL;
    }
    sp->write_opts = (ride_frame_write_opts){RIDE_ENC_RAW, -1, OUTPUT_MESSAGE_BYTES};
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
        .max_frame_bytes = MAX_FRAME_BYTES,
        .write_opts = &sp->write_opts,
        .max_backlog_bytes = t->output_group ? (size_t)w->cfg->worker.max_backlog_bytes : 0,
        .backlog_refresh_ms =
            w->kafka_embedded ? RIDE_BACKLOG_EMBEDDED_REFRESH_MS : RIDE_BACKLOG_DEFAULT_REFRESH_MS,
        .output_group = t->output_group,
    };
    sp->pl = ride_pipeline_new(&pcfg, err, errlen);
    if (!sp->pl) {
        stage_free(sp);
        return NULL;
    }
    return sp;
}

/* ---- applying an assignment (processing thread) ---- */

static stage_pipeline *find_stage(worker *w, const char *app, const char *stage)
{
    for (size_t i = 0; i < w->stage_count; i++)
        if (strcmp(w->stages[i]->app, app) == 0 && strcmp(w->stages[i]->stage, stage) == 0)
            return w->stages[i];
    return NULL;
}

static void commit_all(worker *w)
{
    char err[512];
    for (size_t i = 0; i < w->stage_count; i++)
        if (w->stages[i]->partitions && ride_pipeline_commit(w->stages[i]->pl, err, sizeof err))
            ride_log_warn("commit_failed", "app=%s stage=%s error=\"%s\"", w->stages[i]->app,
                          w->stages[i]->stage, err);
}

static void release_partition(worker *w, size_t index)
{
    owned_partition *o = &w->owned[index];
    char err[512];
    if (ride_pipeline_remove_partition(o->sp->pl, o->partition, err, sizeof err))
        ride_log_error("partition_remove_failed", "app=%s stage=%s partition=%d error=\"%s\"",
                       o->sp->app, o->sp->stage, (int)o->partition, err);
    else
        ride_log_info("partition_released", "app=%s stage=%s partition=%d epoch=%" PRId64,
                      o->sp->app, o->sp->stage, (int)o->partition, o->epoch);
    o->sp->partitions--;
    w->owned[index] = w->owned[--w->owned_count];
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

static void set_paused_gauge(worker *w, const stage_pipeline *sp, size_t paused)
{
    const char *labels[] = {sp->app, sp->stage};
    ride_gauge_set(ride_gauge_get(w->metrics.paused, labels, 2), (double)paused);
}

static void drop_idle_stages(worker *w)
{
    size_t kept = 0;
    for (size_t i = 0; i < w->stage_count; i++) {
        if (w->stages[i]->partitions == 0) {
            set_paused_gauge(w, w->stages[i], 0);
            stage_free(w->stages[i]);
        }
        else {
            w->stages[kept++] = w->stages[i];
        }
    }
    w->stage_count = kept;
}

static void add_entry(worker *w, const ride_cluster_partition_task *t, const char *bootstrap)
{
    char fp[FINGERPRINT_MAX], err[512];
    if (!fingerprint(t, bootstrap, fp, sizeof fp)) {
        ride_log_error("assignment_entry_skipped", "app=%s stage=%s partition=%d error=\"settings "
                       "too long\"", t->app, t->stage, t->partition);
        return;
    }
    for (size_t i = 0; i < w->owned_count; i++)
        if (entry_matches(&w->owned[i], t, fp))
            return;
    stage_pipeline *sp = find_stage(w, t->app, t->stage);
    if (sp && strcmp(sp->fingerprint, fp) != 0) {
        ride_log_error("assignment_entry_skipped", "app=%s stage=%s partition=%d error=\"differs "
                       "from the stage's other partitions\"", t->app, t->stage, t->partition);
        return;
    }
    if (!sp) {
        stage_pipeline **grown = realloc(w->stages, (w->stage_count + 1) * sizeof *grown);
        if (!grown)
            return;
        w->stages = grown;
        sp = stage_new(w, t, fp, bootstrap, err, sizeof err);
        if (!sp) {
            ride_log_error("assignment_entry_skipped", "app=%s stage=%s partition=%d error=\"%s\"",
                           t->app, t->stage, t->partition, err);
            return;
        }
        w->stages[w->stage_count++] = sp;
    }
    if (w->owned_count == MAX_OWNED ||
        ride_pipeline_add_partition(sp->pl, t->partition, t->epoch, RIDE_KAFKA_OFFSET_COMMITTED,
                                    err, sizeof err)) {
        ride_log_error("partition_add_failed", "app=%s stage=%s partition=%d error=\"%s\"", t->app,
                       t->stage, t->partition, w->owned_count == MAX_OWNED ? "too many" : err);
        return;
    }
    char part[16];
    snprintf(part, sizeof part, "%d", t->partition);
    const char *labels[] = {t->app, t->stage, part};
    w->owned[w->owned_count++] = (owned_partition){
        .sp = sp,
        .partition = t->partition,
        .epoch = t->epoch,
        .processed = ride_counter_get(w->metrics.processed, labels, 3),
    };
    sp->partitions++;
    ride_log_info("partition_acquired", "app=%s stage=%s partition=%d epoch=%" PRId64, t->app,
                  t->stage, t->partition, t->epoch);
}

/* Makes the owned set equal to a (NULL: nothing): commits what is acknowledged,
 * releases what is no longer assigned or changed epoch, then adds the rest. */
static void apply_assignment(worker *w, const ride_cluster_assignment *a, const char *bootstrap)
{
    commit_all(w);
    for (size_t i = w->owned_count; i-- > 0;)
        if (!still_assigned(&w->owned[i], a, bootstrap))
            release_partition(w, i);
    drop_idle_stages(w);
    if (!a)
        return;
    if (!bootstrap && a->partition_count) {
        ride_log_warn("kafka_unknown", "reason=\"no /cluster/kafka yet\" partitions=%zu",
                      a->partition_count);
        return;
    }
    for (size_t i = 0; i < a->partition_count; i++)
        add_entry(w, &a->partitions[i], bootstrap);
    drop_idle_stages(w);
}

/* ---- stats and metrics (processing thread) ---- */

static void update_metrics(worker *w, owned_partition *o, const ride_pipeline_partition_stats *ps)
{
    ride_counter_add(o->processed, ps->processed - o->seen_processed);
    o->seen_processed = ps->processed;
    for (int r = 0; r < RIDE_PIPELINE_DROP_REASONS; r++) {
        if (ps->dropped[r] == o->seen_dropped[r])
            continue;
        const char *labels[] = {o->sp->app, o->sp->stage, ride_pipeline_drop_reason(r)};
        ride_counter_add(ride_counter_get(w->metrics.dropped, labels, 3),
                         ps->dropped[r] - o->seen_dropped[r]);
        o->seen_dropped[r] = ps->dropped[r];
    }
}

static void snapshot_stage(worker *w, stage_pipeline *sp, ride_pipeline_partition_stats *all,
                           partition_snapshot *snap)
{
    size_t n = ride_pipeline_partition_stats_get(sp->pl, all, w->owned_count);
    size_t paused = 0;
    for (size_t k = 0; k < n && k < w->owned_count; k++)
        paused += all[k].paused != 0;
    set_paused_gauge(w, sp, paused);
    for (size_t i = 0; i < w->owned_count; i++) {
        owned_partition *o = &w->owned[i];
        if (o->sp != sp)
            continue;
        partition_snapshot *s = &snap[i];
        snprintf(s->app, sizeof s->app, "%s", sp->app);
        snprintf(s->stage, sizeof s->stage, "%s", sp->stage);
        s->partition = o->partition;
        s->epoch = o->epoch;
        s->position = s->committed = -1;
        for (size_t k = 0; k < n && k < w->owned_count; k++) {
            if (all[k].partition != o->partition)
                continue;
            update_metrics(w, o, &all[k]);
            s->position = all[k].position < 0 ? -1 : all[k].position;
            s->committed = all[k].committed < 0 ? -1 : all[k].committed;
        }
        s->frames_processed = (int64_t)o->seen_processed;
    }
}

/* Mirrors the pipelines' figures into the metrics and the heartbeat snapshot. */
static void publish_stats(worker *w)
{
    size_t cap = w->owned_count ? w->owned_count : 1;
    partition_snapshot *snap = calloc(cap, sizeof *snap);
    ride_pipeline_partition_stats *all = calloc(cap, sizeof *all);
    if (!snap || !all) {
        free(snap);
        free(all);
        return;
    }
    for (size_t i = 0; i < w->stage_count; i++)
        snapshot_stage(w, w->stages[i], all, snap);
    free(all);
    ride_gauge_set(ride_gauge_get(w->metrics.owned, NULL, 0), (double)w->owned_count);
    pthread_mutex_lock(&w->sh.mu);
    free(w->sh.snap);
    w->sh.snap = snap;
    w->sh.snap_count = w->owned_count;
    pthread_mutex_unlock(&w->sh.mu);
}

/* ---- the processing thread ---- */

/* Takes the latest assignment when it changed; returns false once told to stop. */
static bool take_assignment(worker *w, uint64_t *seen, char **assignment, char **bootstrap,
                            bool *changed)
{
    pthread_mutex_lock(&w->sh.mu);
    if (!w->sh.stop && w->sh.version == *seen && w->owned_count == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += IDLE_WAIT_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&w->sh.cv, &w->sh.mu, &ts);
    }
    bool running = !w->sh.stop;
    *changed = w->sh.version != *seen;
    if (*changed) {
        *seen = w->sh.version;
        free(*assignment);
        free(*bootstrap);
        *assignment = w->sh.assignment ? strdup(w->sh.assignment) : NULL;
        *bootstrap = w->sh.bootstrap ? strdup(w->sh.bootstrap) : NULL;
        w->kafka_embedded = w->sh.embedded;
    }
    pthread_mutex_unlock(&w->sh.mu);
    return running;
}

static void apply_encoded(worker *w, const char *assignment, const char *bootstrap)
{
    ride_cluster_assignment a;
    char err[512];
    if (!assignment) {
        apply_assignment(w, NULL, bootstrap);
        return;
    }
    if (ride_cluster_assignment_decode("assignment", assignment, strlen(assignment), &a, err,
                                       sizeof err)) {
        ride_log_error("assignment_invalid", "error=\"%s\"", err);
        return;
    }
    apply_assignment(w, &a, bootstrap);
    ride_cluster_assignment_free(&a);
}

static void step_all(worker *w)
{
    char err[512];
    for (size_t i = 0; i < w->stage_count; i++) {
        stage_pipeline *sp = w->stages[i];
        if (ride_pipeline_step(sp->pl, STEP_MS, err, sizeof err) < 0)
            ride_log_warn("step_failed", "app=%s stage=%s error=\"%s\"", sp->app, sp->stage, err);
    }
}

static void *process_thread(void *arg)
{
    worker *w = arg;
    uint64_t seen = 0;
    char *assignment = NULL, *bootstrap = NULL;
    int64_t last_commit = ride_clock_mono_ms();
    bool changed;
    while (take_assignment(w, &seen, &assignment, &bootstrap, &changed)) {
        if (changed) {
            apply_encoded(w, assignment, bootstrap);
            publish_stats(w);
        }
        step_all(w);
        if (ride_clock_mono_ms() - last_commit >=
            (w->kafka_embedded ? EMBEDDED_COMMIT_MS : COMMIT_MS)) {
            commit_all(w);
            publish_stats(w);
            last_commit = ride_clock_mono_ms();
        }
    }
    /* Stop: commit what is acknowledged and hand every partition back. */
    apply_assignment(w, NULL, NULL);
    publish_stats(w);
    free(assignment);
    free(bootstrap);
    free(w->stages);
    w->stages = NULL;
    return NULL;
}

/* ---- the loop thread: membership callbacks ---- */

static void hand_over(worker *w, char *assignment, bool set_assignment, char *bootstrap,
                      bool set_bootstrap, bool embedded)
{
    pthread_mutex_lock(&w->sh.mu);
    if (set_assignment) {
        free(w->sh.assignment);
        w->sh.assignment = assignment;
    }
    if (set_bootstrap) {
        free(w->sh.bootstrap);
        w->sh.bootstrap = bootstrap;
        w->sh.embedded = embedded;
    }
    w->sh.version++;
    pthread_cond_signal(&w->sh.cv);
    pthread_mutex_unlock(&w->sh.mu);
}

static void on_assignment(const ride_cluster_assignment *a, void *ctx)
{
    worker *w = ctx;
    char *enc;
    if (ride_member_assignment_encode(a, &enc))
        hand_over(w, enc, true, NULL, false, false);
}

static void on_kafka(const ride_cluster_kafka *k, void *ctx)
{
    worker *w = ctx;
    char *b = k ? strdup(k->bootstrap_servers) : NULL;
    ride_log_info("kafka", "bootstrap_servers=%s", b ? b : "(none)");
    hand_over(w, NULL, false, b, true, k && k->embedded);
}

static int fill_heartbeat(ride_cluster_heartbeat *hb, void *ctx)
{
    worker *w = ctx;
    pthread_mutex_lock(&w->sh.mu);
    size_t n = w->sh.snap_count;
    if (n > w->hb_cap) {
        partition_snapshot *s = realloc(w->hb_snap, n * sizeof *s);
        if (s)
            w->hb_snap = s;
        ride_cluster_hb_partition *p = s ? realloc(w->hb_parts, n * sizeof *p) : NULL;
        if (p) {
            w->hb_parts = p;
            w->hb_cap = n;
        }
    }
    if (n > w->hb_cap)
        n = 0;
    if (n)
        memcpy(w->hb_snap, w->sh.snap, n * sizeof *w->hb_snap);
    pthread_mutex_unlock(&w->sh.mu);
    for (size_t i = 0; i < n; i++) {
        const partition_snapshot *s = &w->hb_snap[i];
        w->hb_parts[i] = (ride_cluster_hb_partition){s->app, s->stage, s->partition, s->epoch,
                                                     s->position, s->committed,
                                                     s->frames_processed};
    }
    hb->partitions = w->hb_parts;
    hb->partition_count = n;
    return 0;
}

/* ---- signals and shutdown ---- */

static void stop_processing(worker *w)
{
    pthread_mutex_lock(&w->sh.mu);
    w->sh.stop = true;
    pthread_cond_signal(&w->sh.cv);
    pthread_mutex_unlock(&w->sh.mu);
    pthread_join(w->thread, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    worker *w = h->data;
    if (w->stopping)
        return;
    w->stopping = true;
    ride_systemd_stopping();
    ride_log_info("stopping", "signal=%s", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    stop_processing(w);
    /* The session ends after the partitions are handed back: the registration
     * node vanishes at once and the master reassigns without waiting. */
    ride_member_close(w->member);
    w->member = NULL;
    ride_http_server_free(w->http);
    w->http = NULL;
    uv_close((uv_handle_t *)&w->sigterm, NULL);
    uv_close((uv_handle_t *)&w->sigint, NULL);
}

/* ---- setup ---- */

static void print_help(void)
{
    printf("Usage: " PROGRAM " [--config FILE] [--zookeeper CONNECT] [--id ID]\n"
           "                   [--metrics-listen ADDR:PORT] [--log-level LEVEL]\n"
           "Joins a RIDE cluster and runs the stage partitions the master assigns.\n"
           "  --config FILE           worker configuration (docs/configuration.md)\n"
           "  --zookeeper CONNECT     HOST:PORT[,...][/CHROOT]; overrides zookeeper.connect\n"
           "  --id ID                 member id; overrides worker.id\n"
           "  --metrics-listen ADDR   /metrics address; overrides metrics.listen\n"
           "  --log-level LEVEL       debug, info, warn or error\n");
}

static int parse_args(int argc, char **argv, options *o)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"zookeeper", required_argument, NULL, 'z'},
        {"id", required_argument, NULL, 'i'},
        {"metrics-listen", required_argument, NULL, 'm'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    int opt;
    while ((opt = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (opt) {
        case 'c': o->config_file = optarg; break;
        case 'z': o->zookeeper = optarg; break;
        case 'i': o->id = optarg; break;
        case 'm': o->metrics_listen = optarg; break;
        case 'l': o->log_level = optarg; break;
        case 'h': print_help(); return 1;
        default: return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROGRAM ": unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

static bool load_config(const options *o, ride_config *cfg)
{
    char buf[1024];
    ride_config_overrides ov = {o->zookeeper, o->metrics_listen, o->log_level};
    if (ride_config_resolve(RIDE_DAEMON_WORKER, o->config_file, &ov, cfg, buf, sizeof buf)) {
        fprintf(stderr, PROGRAM ": %s\n", buf);
        return false;
    }
    if (o->id)
        cfg->worker.id = o->id;
    ride_log_set_level(cfg->log_level);
    return true;
}

static bool load_plugins(worker *w)
{
    char err[512];
    for (size_t i = 0; i < w->cfg->worker.plugin_dir_count; i++)
        if (ride_task_registry_load_dir(w->registry, w->cfg->worker.plugin_dirs[i], err,
                                        sizeof err) < 0) {
            fprintf(stderr, PROGRAM ": %s\n", err);
            return false;
        }
    return true;
}

/* The CUDA devices this worker runs GPU stages on: every usable one, none, or the
 * listed ones that exist (worker.gpus). Logged, so that an operator sees which. */
static void select_gpus(worker *w)
{
    const ride_config_worker *c = &w->cfg->worker;
    char why[256] = "worker.gpus is none";
    int n = c->gpus == RIDE_GPUS_NONE ? 0 : ride_gpu_device_count(why, sizeof why);
    w->gpu_count = 0;
    if (c->gpus == RIDE_GPUS_LIST) {
        for (size_t i = 0; i < c->gpu_count; i++) {
            if (c->gpu_indices[i] < n)
                w->gpus[w->gpu_count++] = c->gpu_indices[i];
            else
                ride_log_warn("gpu_missing", "index=%d devices=%d", c->gpu_indices[i], n);
        }
    } else {
        for (int g = 0; g < n && g < MAX_GPUS; g++)
            w->gpus[w->gpu_count++] = g;
    }
    char list[MAX_GPUS * 4] = "";
    for (size_t i = 0, at = 0; i < w->gpu_count && at < sizeof list; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, i ? ",%d" : "%d", w->gpus[i]);
    char quoted[300];
    if (w->gpu_count)
        ride_log_info("gpus_selected", "gpus=%s", list);
    else
        ride_log_info("gpus_selected", "gpus=none reason=%s",
                      ride_log_quote(why, quoted, sizeof quoted));
}

static bool uses_gpu(const worker *w, int index)
{
    for (size_t i = 0; i < w->gpu_count; i++)
        if (w->gpus[i] == index)
            return true;
    return false;
}

/* Only the devices this worker may use are advertised: the master places GPU
 * stages by them. */
static void keep_selected_gpus(const worker *w, ride_cluster_worker *me)
{
    size_t kept = 0;
    for (size_t i = 0; i < me->gpu_count; i++)
        if (uses_gpu(w, me->gpus[i].index))
            me->gpus[kept++] = me->gpus[i];
    me->gpu_count = kept;
}

static bool is_builtin(const char *name)
{
    size_t n = 0;
    const ride_task_descriptor *const *b = ride_task_builtins(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(b[i]->name, name) == 0)
            return true;
    return false;
}

/* The registration node: this machine's capabilities, labels and plugin tasks. */
static char *registration(worker *w, char *err, size_t errlen)
{
    ride_cluster_worker me;
    if (ride_worker_machine_local(w->id, &me, err, errlen))
        return NULL;
    keep_selected_gpus(w, &me);
    size_t count = ride_task_count(w->registry);
    const char **plugins = calloc(count ? count : 1, sizeof *plugins);
    char *json = NULL;
    if (plugins) {
        size_t n = 0;
        for (size_t i = 0; i < count; i++)
            if (!is_builtin(ride_task_at(w->registry, i)->name))
                plugins[n++] = ride_task_at(w->registry, i)->name;
        if (w->cfg->worker.threads > 0 && w->cfg->worker.threads < me.cores)
            me.cores = w->cfg->worker.threads;
        me.labels = w->cfg->worker.labels;
        me.label_count = w->cfg->worker.label_count;
        me.plugin_tasks = plugins;
        me.plugin_task_count = n;
        json = ride_cluster_worker_encode(&me, err, errlen);
    } else {
        ride_set_error(err, errlen, "out of memory");
    }
    /* labels and plugins are not owned by me.mem: only its own memory is freed. */
    me.labels = NULL;
    me.label_count = 0;
    me.plugin_tasks = NULL;
    me.plugin_task_count = 0;
    free(plugins);
    ride_cluster_worker_free(&me);
    return json;
}

static bool init_metrics(metrics_set *ms)
{
    char err[256];
    static const char *const part_labels[] = {"app", "stage", "partition"};
    static const char *const drop_labels[] = {"app", "stage", "reason"};
    ms->reg = ride_metrics_new();
    if (!ms->reg)
        return false;
    ms->up = ride_metrics_gauge(ms->reg, "ride_worker_up", "1 while the worker runs", NULL, 0,
                                err, sizeof err);
    ms->owned = ride_metrics_gauge(ms->reg, "ride_worker_owned_partitions",
                                   "Stage partitions this worker runs now", NULL, 0, err,
                                   sizeof err);
    ms->processed = ride_metrics_counter(ms->reg, "ride_frames_processed_total",
                                         "Frames whose output was durably written", part_labels,
                                         3, err, sizeof err);
    ms->dropped = ride_metrics_counter(ms->reg, "ride_frames_dropped_total",
                                       "Frames dropped, by reason", drop_labels, 3, err,
                                       sizeof err);
    ms->sink_errors = ride_metrics_counter(ms->reg, "ride_worker_sink_errors_total",
                                           "Failed writes of the files sink, by reason",
                                           drop_labels, 3, err, sizeof err);
    ms->paused = ride_metrics_gauge(ms->reg, "ride_worker_paused_partitions",
                                    "Input partitions held back because the next stage's "
                                    "backlog is full",
                                    drop_labels, 2, err, sizeof err);
    size_t n_buckets;
    const double *buckets = ride_metrics_latency_buckets(&n_buckets);
    ms->latency = ride_metrics_histogram(ms->reg, "ride_frame_latency_seconds",
                                         "Seconds from a frame's capture to the end of this "
                                         "stage's task on it",
                                         drop_labels, 2, buckets, n_buckets, err, sizeof err);
    if (!ms->up || !ms->owned || !ms->processed || !ms->dropped || !ms->sink_errors ||
        !ms->paused || !ms->latency) {
        fprintf(stderr, PROGRAM ": metrics: %s\n", err);
        return false;
    }
    ride_gauge_set(ride_gauge_get(ms->up, NULL, 0), 1);
    return true;
}

static bool start_services(worker *w, uv_loop_t *loop, const char *reg_json)
{
    char err[512];
    char digest[512] = "";
    if (w->cfg->zookeeper.digest_file &&
        ride_zk_read_digest_file(w->cfg->zookeeper.digest_file, digest, sizeof digest, err,
                                 sizeof err) != RIDE_ZK_OK) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        return false;
    }
    w->http = ride_http_server_new(loop, w->cfg->metrics_listen, NULL, err, sizeof err);
    if (!w->http || ride_metrics_serve(w->metrics.reg, w->http) ||
        ride_http_server_start(w->http, err, sizeof err)) {
        fprintf(stderr, PROGRAM ": metrics.listen %s: %s\n", w->cfg->metrics_listen, err);
        return false;
    }
    ride_member_options mo = {
        .loop = loop,
        .connect = w->cfg->zookeeper.connect,
        .session_timeout_ms = w->cfg->zookeeper.session_timeout_ms,
        .digest = digest[0] ? digest : NULL,
        .id = w->id,
        .role = RIDE_MEMBER_WORKER,
        .registration = reg_json,
        .heartbeat_interval_ms = w->cfg->heartbeat.interval_ms,
        .on_assignment = on_assignment,
        .on_kafka = on_kafka,
        .fill_heartbeat = fill_heartbeat,
        .ctx = w,
    };
    w->member = ride_member_start(&mo, err, sizeof err);
    if (!w->member) {
        fprintf(stderr, PROGRAM ": zookeeper: %s\n", err);
        return false;
    }
    ride_log_info("started", "id=%s zookeeper=%s metrics_port=%d", w->id,
                  w->cfg->zookeeper.connect, ride_http_server_port(w->http));
    return true;
}

static int run_worker(worker *w)
{
    char err[512];
    char *reg_json = registration(w, err, sizeof err);
    if (!reg_json) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        return EXIT_RUNTIME;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_signal_init(&loop, &w->sigterm);
    uv_signal_init(&loop, &w->sigint);
    w->sigterm.data = w->sigint.data = w;
    uv_signal_start(&w->sigterm, on_signal, SIGTERM);
    uv_signal_start(&w->sigint, on_signal, SIGINT);
    int code = 0;
    if (pthread_create(&w->thread, NULL, process_thread, w)) {
        fprintf(stderr, PROGRAM ": cannot start the processing thread\n");
        w->stopping = true;
        code = EXIT_RUNTIME;
        uv_close((uv_handle_t *)&w->sigterm, NULL);
        uv_close((uv_handle_t *)&w->sigint, NULL);
    } else if (!start_services(w, &loop, reg_json)) {
        code = EXIT_RUNTIME;
        uv_signal_t *self = &w->sigterm;
        on_signal(self, SIGTERM);
    }
    free(reg_json);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    ride_log_info("stopped", "id=%s exit=%d", w->id, code);
    return code;
}

int main(int argc, char **argv)
{
    ride_log_set_component("worker");
    options o;
    int parsed = parse_args(argc, argv, &o);
    if (parsed)
        return parsed > 0 ? 0 : EXIT_USAGE;
    ride_config cfg = {0};
    if (!load_config(&o, &cfg)) {
        ride_config_free(&cfg);
        return EXIT_USAGE;
    }
    char default_id[RIDE_MEMBER_ID_MAX + 1];
    if (!cfg.worker.id) {
        char host[64] = "worker";
        gethostname(host, sizeof host - 1);
        snprintf(default_id, sizeof default_id, "%s-%ld", host, (long)getpid());
    }
    worker w = {.cfg = &cfg, .id = cfg.worker.id ? cfg.worker.id : default_id};
    int code = EXIT_USAGE;
    if (!ride_member_id_valid(w.id)) {
        fprintf(stderr, PROGRAM ": invalid worker id '%s'\n", w.id);
    } else if ((w.owned = calloc(MAX_OWNED, sizeof *w.owned)) &&
               (w.registry = ride_task_registry_new()) && load_plugins(&w) &&
               init_metrics(&w.metrics)) {
        select_gpus(&w);
        pthread_mutex_init(&w.sh.mu, NULL);
        pthread_cond_init(&w.sh.cv, NULL);
        code = run_worker(&w);
        pthread_cond_destroy(&w.sh.cv);
        pthread_mutex_destroy(&w.sh.mu);
    }
    free(w.sh.assignment);
    free(w.sh.bootstrap);
    free(w.sh.snap);
    free(w.hb_snap);
    free(w.hb_parts);
    free(w.owned);
    ride_metrics_free(w.metrics.reg);
    ride_task_registry_free(w.registry);
    ride_config_free(&cfg);
    return code;
}
