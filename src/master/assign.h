/* assign.h - the master's assignment planner (docs/assignment.md): from the live
 * workers, the running stages and the current ownership, compute the new owner and
 * epoch of every partition, the active and spare members of every stage group, and
 * the changes between the two.
 *
 * Pure: no I/O, no clock, no randomness. The plan depends only on the input's
 * content, not on the order of its arrays, so a master that takes over after a
 * failover computes the same plan from the same ZooKeeper state.
 *
 * Memory: a plan owns its arrays (ride_assign_plan_free()); the strings in it point
 * into the input, which must outlive the plan. A plan's owners and members may be
 * fed back as the current state of the next call. */
#ifndef RIDE_MASTER_ASSIGN_H
#define RIDE_MASTER_ASSIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/manifest.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ride_assign_worker {
    const char *id; /* unique */
    int cores;      /* tie-break: more cores first among equally loaded workers */
    int gpus;       /* CUDA devices */
    const ride_kv *labels; /* only key and value are used */
    size_t label_count;
    bool alive;
} ride_assign_worker;

typedef struct ride_assign_stage {
    const char *app;
    const char *stage; /* (app, stage) unique */
    int partitions;    /* 1..RIDE_PARTITIONS_MAX */
    ride_stage_workers workers;
    ride_stage_device device;
    int gpus; /* GPUs a worker needs with device gpu (at least 1 is always needed) */
    const ride_kv *selector; /* labels an eligible worker carries with equal values */
    size_t selector_count;
    /* Active workers `ridectl scale` asks for; 0 keeps the current group size. Either is
     * clamped to [min, max], then to the eligible workers and the partitions. */
    int target;
    /* With target 0: grow the group to every eligible worker not held as a spare
     * (max(current size, eligible - spares)), so no eligible worker idles while the
     * stage has partitions to spare (work conservation). */
    bool fill;
    /* Optional: `partitions` lag figures (frames behind), or NULL. A worker over its
     * share gives away its most lagging partitions first. */
    const int64_t *lag;
} ride_assign_stage;

/* The owner of one partition; owner NULL: none. */
typedef struct ride_assign_owner {
    const char *app;
    const char *stage;
    int partition;
    const char *owner;
    int64_t epoch; /* >= 0 */
} ride_assign_owner;

typedef enum ride_assign_role {
    RIDE_ASSIGN_NONE = 0, /* not a member (only in member changes) */
    RIDE_ASSIGN_ACTIVE,
    RIDE_ASSIGN_SPARE,
} ride_assign_role;

typedef struct ride_assign_member {
    const char *app;
    const char *stage;
    const char *worker;
    ride_assign_role role; /* active or spare */
} ride_assign_member;

typedef struct ride_assign_input {
    const ride_assign_worker *workers;
    size_t worker_count;
    const ride_assign_stage *stages;
    size_t stage_count;
    /* Current state. Records of stages not listed above, of partitions beyond a
     * stage's count, and of unknown workers are ignored (unknown = dead). A
     * partition without a record has no owner and epoch 0. */
    const ride_assign_owner *owners;
    size_t owner_count;
    const ride_assign_member *members; /* a worker listed twice in a group is active */
    size_t member_count;
} ride_assign_input;

/* A partition whose owner changes; from/to NULL: none. epoch is the new epoch. */
typedef struct ride_assign_move {
    const char *app;
    const char *stage;
    int partition;
    const char *from;
    const char *to;
    int64_t epoch;
} ride_assign_move;

typedef struct ride_assign_member_change {
    const char *app;
    const char *stage;
    const char *worker;
    ride_assign_role from;
    ride_assign_role to;
} ride_assign_member_change;

/* A stage that is not placed (no eligible worker: its partitions have no owner) or
 * runs below its minimum group size; the master reports it as an event. */
typedef struct ride_assign_issue {
    const char *app;
    const char *stage;
    bool unplaced;
    char reason[160];
} ride_assign_issue;

/* Every array is sorted by (app, stage) then partition or worker id. */
typedef struct ride_assign_plan {
    ride_assign_owner *owners; /* every partition of every stage */
    size_t owner_count;
    ride_assign_member *members;
    size_t member_count;
    ride_assign_move *moves;
    size_t move_count;
    ride_assign_member_change *member_changes;
    size_t member_change_count;
    ride_assign_issue *issues;
    size_t issue_count;
} ride_assign_plan;

/* Computes the plan. Returns 0, or -1 with *plan zeroed and the reason in err:
 * invalid input (missing or duplicate ids, a partition count or worker bounds out
 * of range, a negative epoch, two owner records for one partition) or out of
 * memory. */
int ride_assign_plan_compute(const ride_assign_input *in, ride_assign_plan *plan, char *err,
                             size_t errlen);

/* Releases what the plan owns and zeroes it; safe on a zeroed plan. */
void ride_assign_plan_free(ride_assign_plan *plan);

/* "none", "active", "spare"; "invalid" outside the enum. */
const char *ride_assign_role_name(ride_assign_role role);

#ifdef __cplusplus
}
#endif

#endif
