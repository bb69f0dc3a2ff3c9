/* processing.c - the worker's processing thread (processing.h). It waits for work
 * only while it owns nothing; otherwise each pipeline step's own bounded wait
 * paces the loop (or, while every stage backs off from a failure, the stages'
 * wait in its place), so that a new assignment or a stop is seen within STEP_MS.
 * Every pass of the loop moves the progress mark the watchdog reads, so a pass
 * that never ends (a stuck task or librdkafka call) shows as a mark standing still. */
#include "processing.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "base/clock.h"
#include "base/log.h"
#include "cluster/cluster.h"

#define COMMIT_MS 100
/* With the embedded broker the next stage's committed offsets bound what a stage
 * may write ahead (docs/kafka.md, "Backpressure"): committing more often keeps
 * frames already processed from counting as waiting. */
#define EMBEDDED_COMMIT_MS 25
/* Longest a pipeline step waits for input, so that a new assignment or a stop is
 * seen promptly. */
#define STEP_MS 10
#define IDLE_WAIT_MS 100

struct ride_worker_processing {
    ride_worker_stages *stages; /* the thread's only */
    pthread_t thread;
    bool joined;
    bool abandoned; /* stop gave up waiting: the thread may still use this */
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the thread waits on it for work */
    pthread_cond_t done_cv; /* stop waits on it for the thread's end */
    /* under mu */
    char *assignment; /* encoded; NULL: own nothing (suspended or none yet) */
    char *bootstrap;  /* from /cluster/kafka, or NULL */
    bool embedded;    /* likewise: the brokers are the embedded mock cluster */
    uint64_t version; /* bumped at every change of the three above */
    bool stop;
    bool done;         /* the thread handed everything back and ends */
    uint64_t progress; /* passes of the thread's loop */
    uint64_t applied;  /* the version the thread last finished applying */
    uint64_t taken;    /* the version the thread works from now */
    ride_worker_partition_stats *stats;
    size_t stats_count;
};

/* What the thread last took from the loop: its own copies. */
typedef struct taken {
    uint64_t version;
    char *assignment;
    char *bootstrap;
    bool embedded;
} taken;

/* ---- the processing thread ---- */

/* Marks the previous pass done (as progress only when the tasks moved too: a task
 * stuck on a lane is a stall though this thread keeps passing) and takes the
 * latest assignment when it changed; returns false once told to stop. */
static bool take_assignment(ride_worker_processing *p, taken *t, bool *changed)
{
    bool moving = ride_worker_stages_moving(p->stages);
    pthread_mutex_lock(&p->mu);
    if (moving)
        p->progress++;
    p->applied = t->version;
    if (!p->stop && p->version == t->version && ride_worker_stages_owned(p->stages) == 0) {
        struct timespec ts = ride_clock_realtime_after_ms(IDLE_WAIT_MS);
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    bool running = !p->stop;
    *changed = p->version != t->version;
    if (*changed) {
        t->version = p->taken = p->version;
        free(t->assignment);
        free(t->bootstrap);
        t->assignment = p->assignment ? strdup(p->assignment) : NULL;
        t->bootstrap = p->bootstrap ? strdup(p->bootstrap) : NULL;
        t->embedded = p->embedded;
    }
    pthread_mutex_unlock(&p->mu);
    return running;
}

static void apply_taken(ride_worker_processing *p, const taken *t)
{
    ride_cluster_assignment a;
    char err[512];
    if (!t->assignment) {
        ride_worker_stages_apply(p->stages, NULL, t->bootstrap, t->embedded);
        return;
    }
    if (ride_cluster_assignment_decode("assignment", t->assignment, strlen(t->assignment), &a,
                                       err, sizeof err)) {
        ride_log_error("assignment_invalid", "error=\"%s\"", err);
        return;
    }
    ride_worker_stages_apply(p->stages, &a, t->bootstrap, t->embedded);
    ride_cluster_assignment_free(&a);
}

/* Whether the membership handed over an assignment newer than the one the
 * thread works from: applying the rest of the old one would add partitions the
 * master may have given to others meanwhile. */
static bool assignment_superseded(void *ctx)
{
    ride_worker_processing *p = ctx;
    pthread_mutex_lock(&p->mu);
    bool newer = p->version != p->taken;
    pthread_mutex_unlock(&p->mu);
    return newer;
}

/* Mirrors the pipelines' figures into the metrics and the heartbeat's copy. */
static void publish_stats(ride_worker_processing *p)
{
    ride_worker_partition_stats *stats = ride_worker_stages_stats(p->stages);
    if (!stats)
        return;
    pthread_mutex_lock(&p->mu);
    free(p->stats);
    p->stats = stats;
    p->stats_count = ride_worker_stages_owned(p->stages);
    pthread_mutex_unlock(&p->mu);
}

static void *process_thread(void *arg)
{
    ride_worker_processing *p = arg;
    prctl(PR_SET_NAME, "ride-process"); /* what top -H and perf show for it */
    taken t = {0};
    int64_t last_commit = ride_clock_mono_ms();
    bool changed;
    while (take_assignment(p, &t, &changed)) {
        if (changed) {
            apply_taken(p, &t);
            publish_stats(p);
        }
        ride_worker_stages_step(p->stages, STEP_MS);
        if (ride_clock_mono_ms() - last_commit >= (t.embedded ? EMBEDDED_COMMIT_MS : COMMIT_MS)) {
            ride_worker_stages_commit(p->stages);
            publish_stats(p);
            last_commit = ride_clock_mono_ms();
        }
    }
    /* Stop: commit what is acknowledged and hand every partition back. */
    ride_worker_stages_apply(p->stages, NULL, NULL, t.embedded);
    publish_stats(p);
    free(t.assignment);
    free(t.bootstrap);
    pthread_mutex_lock(&p->mu);
    p->done = true;
    pthread_cond_signal(&p->done_cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- the loop thread ---- */

static void release(ride_worker_processing *p)
{
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->mu);
    ride_worker_stages_free(p->stages);
    free(p->assignment);
    free(p->bootstrap);
    free(p->stats);
    free(p);
}

ride_worker_processing *ride_worker_processing_start(const ride_worker_stages_env *env)
{
    ride_worker_processing *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    ride_worker_stages_env own = *env;
    own.superseded = assignment_superseded;
    own.superseded_ctx = p;
    if (!(p->stages = ride_worker_stages_new(&own)) ||
        pthread_create(&p->thread, NULL, process_thread, p)) {
        release(p);
        return NULL;
    }
    return p;
}

/* Under mu, after a change: the thread takes it at its next look. */
static void announce_change(ride_worker_processing *p)
{
    p->version++;
    pthread_cond_signal(&p->cv);
}

void ride_worker_processing_assign(ride_worker_processing *p, char *assignment)
{
    pthread_mutex_lock(&p->mu);
    free(p->assignment);
    p->assignment = assignment;
    announce_change(p);
    pthread_mutex_unlock(&p->mu);
}

void ride_worker_processing_set_kafka(ride_worker_processing *p, char *bootstrap, bool embedded)
{
    pthread_mutex_lock(&p->mu);
    free(p->bootstrap);
    p->bootstrap = bootstrap;
    p->embedded = embedded;
    announce_change(p);
    pthread_mutex_unlock(&p->mu);
}

size_t ride_worker_processing_stats(ride_worker_processing *p, ride_worker_partition_stats **buf,
                                    size_t *cap)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->stats_count;
    if (n > *cap) {
        ride_worker_partition_stats *grown = realloc(*buf, n * sizeof *grown);
        if (grown) {
            *buf = grown;
            *cap = n;
        }
    }
    if (n > *cap)
        n = 0;
    if (n)
        memcpy(*buf, p->stats, n * sizeof **buf);
    pthread_mutex_unlock(&p->mu);
    return n;
}

uint64_t ride_worker_processing_progress(ride_worker_processing *p, bool *has_work)
{
    pthread_mutex_lock(&p->mu);
    uint64_t progress = p->progress;
    *has_work = p->stats_count > 0 || p->applied != p->version;
    pthread_mutex_unlock(&p->mu);
    return progress;
}

/* Waits on done_cv until the thread is done or the deadline passes. */
static bool wait_done(ride_worker_processing *p, int timeout_ms)
{
    struct timespec deadline = ride_clock_realtime_after_ms(timeout_ms);
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    int rc = 0;
    while (!p->done && rc == 0)
        rc = pthread_cond_timedwait(&p->done_cv, &p->mu, &deadline);
    bool done = p->done;
    pthread_mutex_unlock(&p->mu);
    return done;
}

bool ride_worker_processing_stop(ride_worker_processing *p, int timeout_ms)
{
    if (!p || p->joined)
        return true;
    if (p->abandoned || !wait_done(p, timeout_ms)) {
        p->abandoned = true;
        return false;
    }
    pthread_join(p->thread, NULL);
    p->joined = true;
    return true;
}

void ride_worker_processing_free(ride_worker_processing *p)
{
    if (p && p->joined)
        release(p);
}
