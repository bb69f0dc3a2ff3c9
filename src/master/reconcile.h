/* reconcile.h - the leader's decisions (docs/master.md, Reconciliation): from the
 * leader's picture of the cluster, the changes one reconciliation pass makes and
 * the events they produce. apply.c gathers what a step needs, asks for the step's
 * plan and performs it.
 *
 * Pure: no ZooKeeper, Kafka, clock or log; the time comes in the view. A pass runs
 * in steps (topics, partitions, releases, sources, assignments, deletions), each
 * decided from the state the previous step's writes left: an application whose
 * topics became ready is placed in the same pass, and a partition whose owner
 * could not be stored is stored again.
 *
 * Memory: a plan owns its strings (ride_reconcile_plan_free()); its indices point
 * into the view, and an event's app and stage names into the view's records, which
 * must outlive the plan. */
#ifndef RIDE_MASTER_RECONCILE_H
#define RIDE_MASTER_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "master.h"

/* What the leader knows, read-only. */
typedef struct ride_reconcile_view {
    const ride_master_app *const *apps;
    size_t app_count;
    const ride_master_member *members;
    size_t member_count;
    const ride_master_assignment *assignments; /* the last written to each member */
    size_t assignment_count;
    int64_t generation; /* the leader's */
    int64_t now_ms;     /* monotonic */
} ride_reconcile_view;

/* Kafka's answer for one application's topics this pass (topics step). */
typedef struct ride_reconcile_topics {
    int ready;         /* 1: every topic exists, 0: pending or not asked, -1: error */
    const char *error; /* with -1 */
} ride_reconcile_topics;

/* The last heartbeat of a worker that is handing partitions over (releases step). */
typedef struct ride_reconcile_heartbeat {
    const char *worker;
    const ride_cluster_heartbeat *hb;
} ride_reconcile_heartbeat;

/* The event a change produces, written once the change is (app_deleted: only once
 * the application's nodes are gone). */
typedef struct ride_reconcile_event {
    const char *type; /* NULL: none */
    const char *app;
    const char *stage;
    int partition; /* -1: not about one */
    char *member;  /* or NULL */
    char *message;
} ride_reconcile_event;

typedef enum ride_reconcile_kind {
    RIDE_RECONCILE_APP_MESSAGE,       /* the app's message becomes text; its state is written */
    RIDE_RECONCILE_TOPICS_READY,      /* running: the app goes from pending to running */
    RIDE_RECONCILE_PARTITION_OWNER,   /* a new owner and epoch, stored */
    RIDE_RECONCILE_STAGE_GROUP,       /* the stage's active and spare workers */
    RIDE_RECONCILE_STAGE_ISSUE,       /* the planner's complaint changed */
    RIDE_RECONCILE_RELEASE_DONE,      /* the new owner may run the partition */
    RIDE_RECONCILE_PARTITION_STORE,   /* the owner is stored again (the last write failed) */
    RIDE_RECONCILE_SOURCE_OWNER,      /* a new producer (NULL: none) and epoch, stored */
    RIDE_RECONCILE_SOURCE_STORE,      /* the producer is stored again */
    RIDE_RECONCILE_ASSIGNMENT_WRITE,  /* a member's assignment content changed */
    RIDE_RECONCILE_ASSIGNMENT_BROKEN, /* a member's assignment does not encode */
    RIDE_RECONCILE_ASSIGNMENT_DELETE, /* the member left */
    RIDE_RECONCILE_APP_DELETE,        /* the deleted application's nodes go */
} ride_reconcile_kind;

typedef struct ride_reconcile_change {
    ride_reconcile_kind kind;
    size_t app;       /* index into the view's apps (application, stage, partition, source) */
    size_t stage;     /* STAGE_*, PARTITION_*, RELEASE_DONE: index into the app's stages */
    int partition;
    size_t source;    /* SOURCE_*: index into the app's sources */
    size_t record;    /* ASSIGNMENT_*: index into the view's assignments */
    char *text;       /* APP_MESSAGE: message; PARTITION_OWNER: owner; SOURCE_OWNER:
                       * producer; ASSIGNMENT_WRITE: the node's JSON; ASSIGNMENT_BROKEN:
                       * the error. NULL: none */
    char *key;        /* ASSIGNMENT_WRITE: the content, with epoch and generation 0 */
    char *releasing;  /* PARTITION_OWNER: the live previous owner that must let go first */
    int64_t epoch;    /* PARTITION_OWNER, SOURCE_OWNER, ASSIGNMENT_WRITE: the new epoch */
    int64_t release_deadline_ms; /* PARTITION_OWNER */
    bool running;     /* TOPICS_READY: pending -> running */
    bool failover;    /* PARTITION_OWNER: off a dead worker */
    bool timed_out;   /* RELEASE_DONE: the previous owner did not let go in time */
    size_t partition_count; /* ASSIGNMENT_WRITE: its partitions and sources */
    size_t source_count;
    char **active;    /* STAGE_GROUP */
    size_t active_count;
    char **spare;
    size_t spare_count;
    char issue[160];  /* STAGE_ISSUE: "" when placed */
    ride_reconcile_event event;
} ride_reconcile_change;

/* The changes in the order they are to be made. */
typedef struct ride_reconcile_plan {
    ride_reconcile_change *changes;
    size_t count;
    size_t cap;
} ride_reconcile_plan;

/* Liveness (docs/master.md): a member is alive while registered, its liveness
 * connection did not close without a goodbye (conn_lost: a crashed process), its
 * heartbeat changed within timeout_ms of now_ms (hb_changed_ms), and it does not
 * report its processing thread stalled: a stalled worker is failed over like a
 * dead one. */
bool ride_reconcile_member_alive(const ride_master_member *mb, int64_t now_ms, int timeout_ms);
/* Whether the member's last heartbeat reports its processing thread stalled. */
bool ride_reconcile_member_stalled(const ride_master_member *mb);

/* The planner runs running applications whose topics exist (this leader saw them,
 * or the one before it did), not deleting ones. */
bool ride_reconcile_app_active(const ride_master_app *a);
/* Whether the topics step asks Kafka about the application's topics. */
bool ride_reconcile_wants_topics(const ride_master_app *a);

/* Each step appends its changes to *plan and returns 0, or -1 when out of memory
 * (or, for partitions, on the planner's error, in err): the plan is then to be
 * dropped. */

/* topics: one per view app. */
int ride_reconcile_topics_step(const ride_reconcile_view *v, const ride_reconcile_topics *topics,
                               ride_reconcile_plan *plan);
int ride_reconcile_partitions_step(const ride_reconcile_view *v, ride_reconcile_plan *plan,
                                   char *err, size_t errlen);
/* heartbeats: those of the workers releasing partitions (a worker not listed runs
 * nothing). */
int ride_reconcile_releases_step(const ride_reconcile_view *v,
                                 const ride_reconcile_heartbeat *heartbeats, size_t count,
                                 ride_reconcile_plan *plan);
int ride_reconcile_sources_step(const ride_reconcile_view *v, ride_reconcile_plan *plan);
/* Members without an assignment record are skipped. */
int ride_reconcile_assignments_step(const ride_reconcile_view *v, ride_reconcile_plan *plan);
int ride_reconcile_deletions_step(const ride_reconcile_view *v, ride_reconcile_plan *plan);

void ride_reconcile_plan_free(ride_reconcile_plan *plan);

#endif
