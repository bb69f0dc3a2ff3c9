/* stages.h - the stage pipelines a worker runs and the partitions it owns in
 * them: built from its assignment, stepped, committed and measured.
 *
 * One pipeline per (app, stage), shared by every partition of that stage the
 * worker owns; a partition is kept across assignments only while its epoch and
 * its stage's settings stay the same. Only the processing thread (processing.h)
 * touches a ride_worker_stages. */
#ifndef RIDE_WORKER_STAGES_H
#define RIDE_WORKER_STAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gpus.h"
#include "metrics.h"
#include "cluster/cluster.h"
#include "spec/config.h"
#include "tasks/host.h"

/* One owned partition's figures, as the heartbeat reports them. */
typedef struct ride_worker_partition_stats {
    char app[RIDE_NAME_MAX + 1];
    char stage[RIDE_NAME_MAX + 1];
    int partition;
    int64_t epoch;
    int64_t position;
    int64_t committed;
    int64_t frames_processed;
    int64_t messages_written; /* of those frames' outputs, to the output topic */
    /* the stage's, shared by its partitions: its processing thread's working
     * steps (ride_pipeline_busy_ns) plus its average CPU lane's time */
    int64_t busy_ms;
} ride_worker_partition_stats;

/* What the stages are built from; every pointer must outlive them. */
typedef struct ride_worker_stages_env {
    const ride_config *cfg;
    const ride_task_registry *registry;
    const ride_worker_gpus *gpus;
    const ride_worker_metrics *metrics;
    /* Where the workers of this machine announce themselves (budget.h), or NULL:
     * counted when a stage is built, to share the cores among them. */
    const char *presence_dir;
    /* Whether a newer assignment waits (NULL: never): apply stops adding the
     * older one's partitions, and a fenced partition is reclaimed only while
     * none waits. */
    bool (*superseded)(void *ctx);
    void *superseded_ctx;
} ride_worker_stages_env;

typedef struct ride_worker_stages ride_worker_stages;

/* Longer than a live worker takes to apply the assignment that moved a
 * partition away from it: a stale owner lets go well before the rightful one
 * takes the partition back. */
#define RIDE_WORKER_RECLAIM_AFTER_MS 2000

/* An empty set (it owns nothing), or NULL when out of memory. */
ride_worker_stages *ride_worker_stages_new(const ride_worker_stages_env *env);

/* Makes the owned partitions those of a (NULL: none): commits what is
 * acknowledged, releases what is no longer assigned or changed epoch or
 * settings, then adds the rest, reading from the brokers at bootstrap (embedded:
 * the embedded cluster). An entry that cannot be added is logged and skipped.
 * Adding stops early (event=assignment_superseded) once a newer assignment
 * waits, since the master may have moved the rest elsewhere. */
void ride_worker_stages_apply(ride_worker_stages *s, const ride_cluster_assignment *a,
                              const char *bootstrap, bool embedded);

/* Steps every pipeline once, each waiting at most wait_ms for input. An
 * exactly-once partition fenced for RIDE_WORKER_RECLAIM_AFTER_MS while this
 * worker still owns it under the newest assignment (the fencer was a stale owner
 * that applied an old assignment late) is reclaimed first. A pipeline
 * whose step failed is skipped until its backoff ends (retry.h: 10 ms doubling
 * to 1 s, the cause logged once per interval); when every one is skipped, this
 * waits up to wait_ms itself, so that a caller looping on it never spins. */
void ride_worker_stages_step(ride_worker_stages *s, int wait_ms);

/* Commits every pipeline's acknowledged offsets. A pipeline whose commit failed
 * is skipped until its backoff ends; the cause is logged once per interval. */
void ride_worker_stages_commit(ride_worker_stages *s);

/* How many partitions it owns now. */
size_t ride_worker_stages_owned(const ride_worker_stages *s);
/* Whether the stages' tasks are moving: none holds a frame, or a frame left one
 * since the last call. A task stuck on a lane thread shows as false for as long as
 * it is stuck, though the processing thread itself keeps passing. */
bool ride_worker_stages_moving(ride_worker_stages *s);

/* Mirrors the pipelines' figures into the metrics and returns them, one entry per
 * owned partition (ride_worker_stages_owned(); the caller frees the array), or
 * NULL when out of memory. */
ride_worker_partition_stats *ride_worker_stages_stats(ride_worker_stages *s);

/* Frees the set; it must own nothing (apply NULL first). NULL is a no-op. */
void ride_worker_stages_free(ride_worker_stages *s);

#endif
