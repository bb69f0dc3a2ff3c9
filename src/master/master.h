/* master.h - ride-master's state and the modules that share it (docs/master.md).
 *
 * Threads: everything here runs on the master's libuv loop thread: ZooKeeper
 * callbacks only wake the loop, the control API's handlers run on it, and the
 * reconciliation tick runs on it. The one exception is the Kafka offsets monitor
 * (lag.c), which runs its own thread and shares only its snapshot, under a mutex. */
#ifndef RIDE_MASTER_MASTER_H
#define RIDE_MASTER_MASTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <uv.h>

#include "cluster/cluster.h"
#include "cluster/liveness.h"
#include "cluster/systemd.h"
#include "cluster/zk.h"
#include "http/http.h"
#include "http/metrics.h"
#include "kafka/kafka.h"
#include "spec/config.h"
#include "spec/manifest.h"
#include "tasks/host.h"

#include "autoscale.h"
#include "measure.h"

#define RIDE_MASTER_TOPIC_MAX 256
/* Requests from the leader to the master hosting the embedded broker: one node per
 * topic, its data the partition count in decimal. */
#define RIDE_MASTER_PATH_TOPICS "/cluster/topics"
/* A stage's worker count fixed with `ridectl scale`: decimal text. */
#define RIDE_MASTER_SCALE_DIR "scale"
/* Longest a live worker may take to hand a moved partition back before the new
 * owner starts anyway (it is fenced by the new epoch either way). */
#define RIDE_MASTER_RELEASE_TIMEOUT_MS 5000

/* A registered worker or producer. */
typedef struct ride_master_member {
    char *id;
    bool is_worker;
    int32_t reg_version;
    ride_cluster_worker worker;     /* decoded registration (workers) */
    ride_cluster_producer producer; /* decoded registration (producers) */
    int32_t hb_version;             /* -1: no heartbeat seen yet */
    int64_t hb_changed_ms;          /* monotonic: when hb_version last changed */
    ride_cluster_heartbeat hb;      /* the last heartbeat read, when hb_known */
    bool hb_known;
    bool hb_current;                /* hb is the heartbeat of hb_version */
    bool conn_lost;                 /* its liveness connection closed without a goodbye */
    bool alive;                     /* registered, connected, and a heartbeat within the timeout */
    bool present; /* refresh mark */
} ride_master_member;

/* One partition of a stage as the leader wants it. */
typedef struct ride_master_partition {
    char *owner;      /* NULL: none */
    int64_t epoch;
    bool granted;     /* the owner may run it: whoever ran it before let go */
    char *releasing;  /* the previous, live owner asked to let go, or NULL */
    int64_t release_deadline_ms;
    bool stored;      /* /apps/<app>/partitions/<stage>/<p> holds owner and epoch */
} ride_master_partition;

typedef struct ride_master_stage {
    const ride_stage *st; /* in the app's manifest */
    char topic[RIDE_MASTER_TOPIC_MAX];
    int target; /* workers fixed by `ridectl scale`, 0: none */
    ride_master_partition *parts;
    char **active;
    size_t active_count;
    char **spare;
    size_t spare_count;
    char issue[160]; /* the planner's last complaint about the stage, "" when none */
    /* Mean Kafka messages per frame written into the input topic, as its writers
     * last reported (frames.c); 0 while unknown. */
    double messages_per_frame;
    /* Its rates and lag (measures.c), refreshed each tick while leading. */
    ride_measure_stage *measure;
    /* The autoscaler's state (autoscaling.c); its target counts while
     * workers.autoscale.enabled and no `ridectl scale` target is set. */
    ride_autoscale_state autoscale;
    bool pool_exhausted; /* the last decision wanted more workers than could be had */
} ride_master_stage;

typedef struct ride_master_source {
    char *producer; /* NULL: none */
    int64_t epoch;
    uint32_t stream_id;
    bool stored;
} ride_master_source;

typedef struct ride_master_app {
    char *name;
    char *yaml;
    size_t yaml_len;
    int32_t version; /* of /apps/<app> */
    ride_manifest m;
    ride_app_phase phase;
    int64_t generation;
    int64_t created_ms;
    int64_t updated_ms;
    char *message;
    ride_master_stage *stages; /* manifest order */
    ride_master_source *sources; /* manifest order */
    bool topics_ready; /* this leader saw every topic as the manifest wants it */
    /* Every stage's topics exist: seen by this leader, or by the one before it for a
     * running application. Its partitions keep running while this leader's own
     * check, on the topics thread, is pending. */
    bool topics_exist;
    bool present;
} ride_master_app;

/* The last assignment written to one member. */
typedef struct ride_master_assignment {
    char *member;
    char *key; /* the encoding with epoch and generation 0: what changed */
    int64_t epoch;
    bool exists;
} ride_master_assignment;

/* Kafka's view of one partition, refreshed by the offsets monitor. */
typedef struct ride_master_offsets {
    char app[RIDE_NAME_MAX + 1];
    char stage[RIDE_NAME_MAX + 1];
    int partition;
    int64_t end;       /* log-end offset, -1 unknown */
    int64_t committed; /* the group's committed offset, -1 none or unknown */
    int64_t start;     /* log start offset, -1 unknown */
    int64_t read_ms;   /* monotonic: when the offsets thread read these, -1 never */
} ride_master_offsets;

/* ---- thread.c: the master's background threads ---- */

typedef struct ride_master_thread {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop; /* under mu */
} ride_master_thread;

/* Starts run(arg); 0, or -1 when no thread could be made. */
int ride_master_thread_start(ride_master_thread *t, void *(*run)(void *), void *arg);
/* Sets stop, wakes the thread and waits for it to end. */
void ride_master_thread_stop(ride_master_thread *t);
/* With mu held: wakes a waiting thread. */
void ride_master_thread_wake(ride_master_thread *t);
/* With mu held: waits until woken (a wake or the stop) or ms pass; at once when
 * stopped. Callers look at their state again, as after any condition wait. */
void ride_master_thread_wait(ride_master_thread *t, int ms);

typedef struct ride_master_lag ride_master_lag;
typedef struct ride_master_topics ride_master_topics;

/* The offset gauges (lag_metrics.c). */
typedef struct ride_master_lag_families {
    ride_metric_family *end;
    ride_metric_family *committed;
    ride_metric_family *lag;          /* frames */
    ride_metric_family *lag_messages;
    ride_metric_family *stage_lag;    /* frames */
    ride_metric_family *stage_lag_messages;
    ride_metric_family *per_frame;    /* the stage's messages_per_frame */
} ride_master_lag_families;

/* The measures' gauges (measures.c). */
typedef struct ride_master_measure_families {
    ride_metric_family *input;       /* frames/s */
    ride_metric_family *service;     /* frames/s, by worker */
    ride_metric_family *busy;        /* by worker */
    ride_metric_family *lag_seconds;
    ride_metric_family *autoscale_target;    /* workers */
    ride_metric_family *autoscale_exhausted; /* 1: the pool is empty and the stage wants more */
} ride_master_measure_families;

typedef struct ride_master_metrics {
    ride_metrics *reg;
    ride_gauge *leader;
    ride_counter *failovers;
    ride_counter *moves;
    ride_counter *events;
    ride_metric_family *workers; /* by state */
    ride_master_lag_families lag;
    ride_master_measure_families measure;
} ride_master_metrics;

typedef struct ride_master {
    const ride_config *cfg;
    const char *id;
    char *token;        /* API token, or NULL: every change refused */
    bool broker_only;   /* hosts the embedded broker, never leads */
    uv_loop_t *loop;
    ride_zk *zk;
    char digest[512];
    ride_zk_election *election;
    uv_async_t wake;
    uv_timer_t tick;
    ride_systemd_watchdog *watchdog;
    /* set from ZooKeeper's thread, read on the loop */
    pthread_mutex_t mu;
    bool became_leader;
    bool session_changed;
    /* loop thread */
    bool leading; /* acting as leader now (elected and the session connected) */
    int64_t generation;
    ride_http_server *api;
    ride_http_server *metrics_http;
    char api_url[320];
    ride_liveness_server *liveness; /* once leading: members' connections */
    char liveness_addr[320];        /* "HOST:PORT" published beside api_url */
    ride_task_registry *registry;
    ride_master_member *members;
    size_t member_count;
    ride_master_app **apps;
    size_t app_count;
    ride_master_assignment *assignments;
    size_t assignment_count;
    /* Kafka as the leader sees it */
    char *bootstrap;
    bool bootstrap_embedded;
    rd_kafka_t *admin; /* embedded broker only: its topics' metadata */
    ride_master_lag *lag;
    ride_master_topics *topics;
    /* the embedded broker, when this master hosts it */
    ride_kafka_mock *mock;
    char **created_topics;
    size_t created_topic_count;
    uint64_t events_written;
    ride_master_metrics metrics;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    bool stopping;
} ride_master;

/* ---- view.c: the cluster as read from ZooKeeper ---- */

/* Re-reads /workers and /producers and every heartbeat's version: a member is alive
 * while registered and its heartbeat changed within heartbeat.timeout_ms. */
void ride_master_refresh_members(ride_master *m);
/* Reads everything a new leader takes over: owners, sources, assignment epochs. */
void ride_master_load(ride_master *m);
ride_master_member *ride_master_find_member(ride_master *m, const char *id, bool worker);
ride_master_app *ride_master_find_app(ride_master *m, const char *name);
/* A new application record taking over *man (zeroed on success): stages with their
 * topics and no owners, sources numbered in manifest order. NULL when out of memory. */
ride_master_app *ride_master_app_new(const char *name, const char *yaml, size_t len,
                                     ride_manifest *man);
void ride_master_app_free(ride_master_app *a);
void ride_master_members_free(ride_master *m);
/* The stage reading stage or source `name` of the app, or NULL (fan-out is refused
 * at apply, so there is at most one). */
const ride_stage *ride_master_reader(const ride_manifest *man, const char *name);
/* The most writers one partition of the reader's input topic has: each source it
 * reads (round-robin over every partition) and, per stage it reads, that stage's
 * partitions writing one partition (partition p writes p mod the reader's). */
int ride_master_topic_writers(const ride_manifest *man, const ride_stage *reader);

/* Makes a record for every member without one, reading the epoch of the assignment
 * a previous leader wrote to it. */
void ride_master_track_assignments(ride_master *m);
void ride_master_assignments_free(ride_master *m);

/* ---- events.c: the cluster's event log ---- */

/* Writes an event node (and logs it); app/stage/member may be NULL, partition -1. */
void ride_master_event(ride_master *m, const char *type, const char *app, const char *stage,
                       int partition, const char *member, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* ---- apply.c: the leader's writes (decisions: reconcile.h) ---- */

/* One pass: liveness, topics, partition owners, sources, assignments, deletions. */
void ride_master_reconcile(ride_master *m);
/* Sets a persistent node, creating it (and its parents) when missing; failures are
 * logged. */
ride_zk_err ride_master_put_node(ride_master *m, const char *path, const void *data, size_t len);
/* Writes /apps/<app>/state from the record (updated_ms set to now). */
void ride_master_write_state(ride_master *m, ride_master_app *a);

/* ---- api.c: the control API (docs/control-api.md) ---- */

/* Registers the routes on srv. */
int ride_master_api_routes(ride_master *m, ride_http_server *srv);
/* Checks a manifest the way apply does (schema, tasks, params, fan-out, partition
 * limits, exactly-once only on a real broker); returns 0 or -1 with a one-line
 * message. */
int ride_master_check_manifest(ride_master *m, const ride_manifest *man, char *err,
                               size_t errlen);

/* ---- broker.c: the embedded Kafka broker ---- */

/* With kafka: embedded, hosts the mock cluster unless another master does, and
 * creates the topics the leader requests. Called every tick on every master. */
void ride_master_broker_tick(ride_master *m);
void ride_master_broker_stop(ride_master *m);
/* The leader's side: asks for a topic (embedded) or creates it (Admin API, with
 * the application's topic settings over RIDE's defaults, growing a topic with
 * fewer partitions and altering differing settings of an existing one); returns 1
 * when it exists with `partitions`, 0 while pending, -1 on error. The embedded
 * broker ignores the settings. */
int ride_master_topic_ready(ride_master *m, const char *topic, int partitions,
                            const ride_topic_settings *settings, char *err, size_t errlen);

/* A librdkafka configuration for the master's own clients: the config's Kafka
 * properties apply to a real cluster, none to the embedded one. NULL (logged) on a
 * bad property. */
rd_kafka_conf_t *ride_master_kafka_conf(const ride_config *cfg, ride_kafka_role role,
                                        const char *bootstrap);
/* A handle for metadata, watermarks and topic creation, or NULL (logged). */
rd_kafka_t *ride_master_kafka_admin(const ride_config *cfg, const char *bootstrap);

/* ---- topics.c: topics on a real Kafka, off the loop ---- */

ride_master_topics *ride_master_topics_start(const ride_config *cfg, char *err, size_t errlen);
void ride_master_topics_stop(ride_master_topics *t);
/* Asks for the topic as spec says on the Kafka at bootstrap (created, or grown
 * when spec->grow); returns 1 once it is, 0 while the thread works on it, -1 with
 * the last failure in err (retried by the thread). Never waits for Kafka. */
int ride_master_topics_ready(ride_master_topics *t, const char *bootstrap,
                             const ride_kafka_topic_spec *spec, char *err, size_t errlen);

/* ---- lag.c: Kafka offsets of every partition ---- */

ride_master_lag *ride_master_lag_start(const ride_config *cfg, char *err, size_t errlen);
void ride_master_lag_stop(ride_master_lag *l);
/* Sets what to watch (bootstrap NULL: nothing) and the partitions of every stage. */
void ride_master_lag_watch(ride_master_lag *l, const char *bootstrap,
                           const ride_master_offsets *parts, size_t count);
/* Fills *out for one partition from the last refresh; false when unknown. */
bool ride_master_lag_get(ride_master_lag *l, const char *app, const char *stage, int partition,
                         ride_master_offsets *out);

/* Kafka's figures for one partition (-1 where unknown): its log-end offset, the
 * stage group's committed offset, the messages between them, and those messages in
 * frames (ride_master_frames_of). */
typedef struct ride_master_figures {
    int64_t end;
    int64_t committed;
    int64_t lag_messages;
    int64_t lag;
} ride_master_figures;

/* The figures of one partition from the last refresh, the lag converted with the
 * stage's messages_per_frame (<= 0: unknown); l may be NULL (all unknown). */
ride_master_figures ride_master_lag_figures(ride_master_lag *l, const char *app,
                                            const char *stage, int partition,
                                            double messages_per_frame);

/* ---- frames.c: Kafka messages counted as frames ---- */

/* Frames and messages the writers of one topic reported. */
typedef struct ride_master_written {
    int64_t frames;
    int64_t messages;
} ride_master_written;

/* Adds to *w what one heartbeat's member wrote into the input topic of `stage` (a
 * stage of man, application app): its sources read by that stage, and its
 * partitions of the stage writing into it. Entries without a message count (a
 * member that does not report one) are left out. */
void ride_master_count_written(const ride_cluster_heartbeat *hb, const char *app,
                               const ride_manifest *man, const ride_stage *stage,
                               ride_master_written *w);
/* Mean messages per frame of *w, or 0 when no frame was counted. */
double ride_master_messages_per_frame(const ride_master_written *w);
/* `messages` waiting, in frames: rounded to the nearest frame, at least 1 while any
 * message waits; -1 when messages is unknown (< 0), or non-zero with per_frame
 * unknown (<= 0). */
int64_t ride_master_frames_of(int64_t messages, double per_frame);
/* Updates every stage's messages_per_frame from the members' last heartbeats; a
 * stage whose writers report no frame keeps its last figure. */
void ride_master_measure_frames(ride_master *m);

/* ---- lag_metrics.c: the offsets on /metrics ---- */

/* Registers the per-partition and per-stage offset gauges on m->metrics.reg, filled
 * at each scrape from the offsets thread's snapshot while m leads. Called once, before
 * the metrics server starts. Returns 0, or -1 with a message in err. */
int ride_master_lag_metrics_init(ride_master *m, char *err, size_t errlen);

/* ---- measures.c: each stage's rates and lag (measure.h) ---- */

/* Folds this tick's offsets and heartbeats into every stage's measures. */
void ride_master_measure_stages(ride_master *m);
/* The stage's lag in frames: its partitions' summed, or -1 when none is known. */
int64_t ride_master_stage_lag(ride_master *m, const ride_master_app *a,
                              const ride_master_stage *s);
/* Registers the measures' gauges on m->metrics.reg, filled at each scrape while m
 * leads; called once, before the metrics server starts. 0, or -1 with err. */
int ride_master_measure_metrics_init(ride_master *m, char *err, size_t errlen);

/* ---- autoscaling.c: the autoscaler's glue (autoscale.h) ---- */

/* Decides the target of every autoscaled stage from its measures; each change of
 * target, and each change of its pool running out, is an event. */
void ride_master_autoscale_stages(ride_master *m);
/* Workers the planner is to give the stage: the `ridectl scale` target, else the
 * autoscaler's while enabled, else 0 (keep the group's size). */
int ride_master_stage_target(const ride_master_stage *s);

#endif
