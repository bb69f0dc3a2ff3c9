/* cluster/cluster.h - the data contracts of the ZooKeeper layout (docs/architecture.md,
 * "ZooKeeper layout" and "Node formats"): the path of every node, and for every
 * node a C struct, an encoder and a validating decoder.
 *
 * Daemons read and write cluster nodes only through this module, so the formats
 * live in one place.
 *
 * Encoding: compact JSON, keys in a fixed order (the order of the struct fields).
 * An encoder checks its result with the decoder's rules and refuses (NULL, with
 * the reason in err) to produce a node that a reader would reject.
 *
 * Decoding: nothing read from ZooKeeper is trusted. The data must be a UTF-8 JSON
 * object of at most RIDE_ZK_DATA_MAX bytes without duplicate keys; every required
 * key must be present with the right type and range. Keys a decoder does not know
 * are IGNORED, so a newer master may add fields without breaking older members.
 * A failure fills err with one line naming the node and the field, e.g.
 *   /workers/w1: field 'cores': expected an integer >= 1
 * and counts one rejection for the node kind (ride_cluster_bad_data_total, exported
 * as the metric ride_zk_bad_data_total{kind="worker"}).
 *
 * Memory: a decoded struct (and one filled by ride_cluster_worker_local) owns its
 * strings and arrays through its `mem` member; the matching _free() releases them
 * and zeroes the struct. A struct a caller fills for encoding may point anywhere
 * (leave mem NULL); _free() releases only what `mem` owns.
 *
 * Thread safety: every function may be called from any thread; the counters are
 * atomic. */
#ifndef RIDE_CLUSTER_H
#define RIDE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/parse.h"
#include "ride/image.h"
#include "spec/manifest.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- paths ------------------------------------------------------------------ */

#define RIDE_CLUSTER_PATH_KAFKA "/cluster/kafka"
#define RIDE_CLUSTER_PATH_API "/cluster/api"
#define RIDE_CLUSTER_PATH_GENERATION "/cluster/generation"
#define RIDE_CLUSTER_PATH_ELECTION "/masters/election"
#define RIDE_CLUSTER_PATH_WORKERS "/workers"
#define RIDE_CLUSTER_PATH_PRODUCERS "/producers"
#define RIDE_CLUSTER_PATH_HEARTBEATS "/heartbeats"
#define RIDE_CLUSTER_PATH_APPS "/apps"
#define RIDE_CLUSTER_PATH_ASSIGNMENTS "/assignments"
#define RIDE_CLUSTER_PATH_EVENTS "/events"
/* Prefixes of sequential nodes (ZooKeeper appends the sequence number). */
#define RIDE_CLUSTER_PREFIX_CANDIDATE "/masters/election/n_"
#define RIDE_CLUSTER_PREFIX_EVENT "/events/e_"

/* Longest member (worker, producer, master) id. */
#define RIDE_MEMBER_ID_MAX 128

/* A member id: 1..RIDE_MEMBER_ID_MAX bytes of [A-Za-z0-9._-], and not "." or ".."
 * (ZooKeeper refuses those as node names). */
bool ride_member_id_valid(const char *id);

/* Each builds one path into buf. Application, stage and source names must pass
 * ride_name_valid(), member ids ride_member_id_valid(), partitions 0..4095.
 * Return 0, or -1 with errno EINVAL (bad name) or ENAMETOOLONG (does not fit in
 * len bytes); buf is then the empty string (when len > 0). */
int ride_cluster_path_worker(char *buf, size_t len, const char *id);
int ride_cluster_path_producer(char *buf, size_t len, const char *id);
int ride_cluster_path_heartbeat(char *buf, size_t len, const char *member);
int ride_cluster_path_assignment(char *buf, size_t len, const char *member);
int ride_cluster_path_app(char *buf, size_t len, const char *app);
int ride_cluster_path_app_state(char *buf, size_t len, const char *app);
/* /apps/<app>/partitions and /apps/<app>/partitions/<stage>: the parents. */
int ride_cluster_path_app_partitions(char *buf, size_t len, const char *app);
int ride_cluster_path_stage_partitions(char *buf, size_t len, const char *app,
                                       const char *stage);
int ride_cluster_path_partition(char *buf, size_t len, const char *app, const char *stage,
                                int partition);
/* /apps/<app>/sources and /apps/<app>/sources/<source>. */
int ride_cluster_path_app_sources(char *buf, size_t len, const char *app);
int ride_cluster_path_source(char *buf, size_t len, const char *app, const char *source);

/* ---- rejected data ------------------------------------------------------------ */

typedef enum ride_cluster_kind {
    RIDE_CLUSTER_KAFKA = 0,
    RIDE_CLUSTER_API,
    RIDE_CLUSTER_GENERATION,
    RIDE_CLUSTER_CANDIDATE,
    RIDE_CLUSTER_WORKER,
    RIDE_CLUSTER_PRODUCER,
    RIDE_CLUSTER_HEARTBEAT,
    RIDE_CLUSTER_APP, /* the stored manifest */
    RIDE_CLUSTER_APP_STATE,
    RIDE_CLUSTER_PARTITION_OWNER,
    RIDE_CLUSTER_SOURCE_ASSIGNMENT,
    RIDE_CLUSTER_ASSIGNMENT,
    RIDE_CLUSTER_EVENT,
    RIDE_CLUSTER_KIND_COUNT
} ride_cluster_kind;

/* Stable snake_case name ("worker", "partition_owner"), the metric's label value;
 * "unknown" outside the enum. */
const char *ride_cluster_kind_name(ride_cluster_kind kind);
/* Nodes of this kind rejected by a decoder since the process started. */
uint64_t ride_cluster_bad_data_total(ride_cluster_kind kind);

/* ---- /cluster/kafka, /cluster/api, /masters/election/n_*, /cluster/generation -- */

typedef struct ride_cluster_kafka {
    const char *bootstrap_servers; /* "host:port,..." */
    bool embedded;
    ride_arena *mem;
} ride_cluster_kafka;

typedef struct ride_cluster_api {
    const char *url;    /* "http://..." or "https://..." */
    const char *master; /* the leader's member id */
    const char *liveness; /* "HOST:PORT" of the leader's liveness listener, or NULL */
    ride_arena *mem;
} ride_cluster_api;

typedef struct ride_cluster_candidate {
    const char *id; /* the master's member id */
    ride_arena *mem;
} ride_cluster_candidate;

/* Every encoder returns a malloc'ed NUL-terminated string (free()), or NULL with
 * the reason in err. Every decoder takes the node's path (for messages), its data
 * and length; returns 0, or -1 with err filled, the rejection counted and *out
 * zeroed. */
char *ride_cluster_kafka_encode(const ride_cluster_kafka *v, char *err, size_t errlen);
int ride_cluster_kafka_decode(const char *node, const void *data, size_t len,
                              ride_cluster_kafka *out, char *err, size_t errlen);
void ride_cluster_kafka_free(ride_cluster_kafka *v);

char *ride_cluster_api_encode(const ride_cluster_api *v, char *err, size_t errlen);
int ride_cluster_api_decode(const char *node, const void *data, size_t len,
                            ride_cluster_api *out, char *err, size_t errlen);
void ride_cluster_api_free(ride_cluster_api *v);

char *ride_cluster_candidate_encode(const ride_cluster_candidate *v, char *err, size_t errlen);
int ride_cluster_candidate_decode(const char *node, const void *data, size_t len,
                                  ride_cluster_candidate *out, char *err, size_t errlen);
void ride_cluster_candidate_free(ride_cluster_candidate *v);

/* The generation is decimal text without sign, spaces or leading zeros ("0", "17"). */
char *ride_cluster_generation_encode(int64_t generation, char *err, size_t errlen);
int ride_cluster_generation_decode(const char *node, const void *data, size_t len,
                                   int64_t *out, char *err, size_t errlen);

/* ---- /workers/<id>, /producers/<id> ---------------------------------------------- */

typedef struct ride_cluster_gpu {
    int index;                     /* CUDA device index, 0..1023 */
    const char *name;
    int64_t memory_mb;             /* >= 0 */
    const char *compute_capability; /* "MAJOR.MINOR", e.g. "9.0" */
} ride_cluster_gpu;

typedef struct ride_cluster_worker {
    const char *id;
    const char *host;
    int64_t pid;      /* >= 1 */
    const char *version;
    int cores;        /* >= 1 */
    int64_t memory_mb; /* >= 1 */
    ride_cluster_gpu *gpus;
    size_t gpu_count;
    ride_kv *labels; /* only key and value are used */
    size_t label_count;
    const char **plugin_tasks; /* tasks loaded from plugins, beyond the built-in ones */
    size_t plugin_task_count;
    ride_arena *mem;
} ride_cluster_worker;

char *ride_cluster_worker_encode(const ride_cluster_worker *v, char *err, size_t errlen);
int ride_cluster_worker_decode(const char *node, const void *data, size_t len,
                               ride_cluster_worker *out, char *err, size_t errlen);
void ride_cluster_worker_free(ride_cluster_worker *v);

/* Fills *out for this machine: id, hostname, pid, RIDE's version, online cores and
 * physical memory. GPUs, labels and plugin tasks are left empty for the caller to
 * set (the worker probes its GPUs through the kernels). Returns 0, or -1 with err
 * filled (invalid id, out of memory, no hostname). */
int ride_cluster_worker_local(const char *id, ride_cluster_worker *out, char *err,
                              size_t errlen);
/* Copies count GPUs into w (a struct from ride_cluster_worker_local), replacing
 * any it had. 0, or -1 when out of memory. */
int ride_cluster_worker_set_gpus(ride_cluster_worker *w, const ride_cluster_gpu *gpus,
                                 size_t count);

typedef struct ride_cluster_producer {
    const char *id;
    const char *host;
    int64_t pid;
    const char *version;
    const char **local_sources; /* uris only this producer can read (v4l2:, files) */
    size_t local_source_count;
    ride_kv *labels;
    size_t label_count;
    ride_arena *mem;
} ride_cluster_producer;

char *ride_cluster_producer_encode(const ride_cluster_producer *v, char *err, size_t errlen);
int ride_cluster_producer_decode(const char *node, const void *data, size_t len,
                                 ride_cluster_producer *out, char *err, size_t errlen);
void ride_cluster_producer_free(ride_cluster_producer *v);

/* ---- /heartbeats/<member> ---------------------------------------------------------- */

/* Kafka offsets: -1 when there is none yet. */
typedef struct ride_cluster_hb_partition {
    const char *app;
    const char *stage;
    int partition;    /* 0..4095 */
    int64_t epoch;    /* >= 0 */
    int64_t position; /* next offset to read, >= -1 */
    int64_t committed; /* >= -1 */
    int64_t frames_processed; /* >= 0 */
    /* Kafka messages (chunks) of those frames' outputs written to the next stage's
     * topic; 0 when the member does not report it. */
    int64_t messages_written;
    /* Milliseconds the member's processing thread spent working on this partition's
     * stage (all of its partitions there) since it set the stage up: the same in each
     * entry of one stage, and back at 0 when it sets the stage up again. -1: not
     * reported (encoded only when >= 0; older members leave it out). */
    int64_t busy_ms;
} ride_cluster_hb_partition;

typedef struct ride_cluster_hb_source {
    const char *app;
    const char *source;
    int64_t epoch;
    int64_t frames_produced; /* >= 0 */
    int64_t frames_dropped;  /* >= 0 */
    /* Kafka messages (chunks) of the produced frames; 0 when not reported. */
    int64_t messages_produced;
} ride_cluster_hb_source;

typedef struct ride_cluster_heartbeat {
    int64_t ts_ms; /* >= 0, wall clock */
    ride_cluster_hb_partition *partitions;
    size_t partition_count;
    ride_cluster_hb_source *sources;
    size_t source_count;
    /* > 0: the worker's processing thread has made no progress for this long
     * while it had work, and the worker is about to exit (docs/worker.md); 0
     * otherwise, and when absent (older members). */
    int64_t stalled_ms;
    ride_arena *mem;
} ride_cluster_heartbeat;

char *ride_cluster_heartbeat_encode(const ride_cluster_heartbeat *v, char *err, size_t errlen);
int ride_cluster_heartbeat_decode(const char *node, const void *data, size_t len,
                                  ride_cluster_heartbeat *out, char *err, size_t errlen);
void ride_cluster_heartbeat_free(ride_cluster_heartbeat *v);

/* ---- /apps/<app> and its children ---------------------------------------------------- */

/* Parses the manifest text stored at /apps/<app>, naming it "zk:/apps/<app>" in
 * errors. On failure err holds the formatted error and the rejection is counted
 * (kind RIDE_CLUSTER_APP). `app` must be a valid name. Returns 0 or -1. */
int ride_cluster_app_manifest_parse(const char *app, const void *data, size_t len,
                                    ride_manifest *out, char *err, size_t errlen);

typedef enum ride_app_phase {
    RIDE_APP_PENDING = 0,
    RIDE_APP_RUNNING,
    RIDE_APP_DELETING,
} ride_app_phase;

/* "pending", "running", "deleting"; "invalid" outside the enum. */
const char *ride_app_phase_name(ride_app_phase phase);

typedef struct ride_cluster_app_state {
    ride_app_phase phase;
    int64_t generation; /* >= 0 */
    int64_t created_ms; /* >= 0 */
    int64_t updated_ms; /* >= 0 */
    const char *message; /* may be empty */
    ride_arena *mem;
} ride_cluster_app_state;

char *ride_cluster_app_state_encode(const ride_cluster_app_state *v, char *err, size_t errlen);
int ride_cluster_app_state_decode(const char *node, const void *data, size_t len,
                                  ride_cluster_app_state *out, char *err, size_t errlen);
void ride_cluster_app_state_free(ride_cluster_app_state *v);

typedef struct ride_cluster_partition_owner {
    const char *owner; /* worker id */
    int64_t epoch;     /* >= 0 */
    ride_arena *mem;
} ride_cluster_partition_owner;

char *ride_cluster_partition_owner_encode(const ride_cluster_partition_owner *v, char *err,
                                          size_t errlen);
int ride_cluster_partition_owner_decode(const char *node, const void *data, size_t len,
                                        ride_cluster_partition_owner *out, char *err,
                                        size_t errlen);
void ride_cluster_partition_owner_free(ride_cluster_partition_owner *v);

typedef struct ride_cluster_source_owner {
    const char *producer; /* producer id */
    int64_t epoch;        /* >= 0 */
    uint32_t stream_id;
    ride_arena *mem;
} ride_cluster_source_owner;

char *ride_cluster_source_owner_encode(const ride_cluster_source_owner *v, char *err,
                                       size_t errlen);
int ride_cluster_source_owner_decode(const char *node, const void *data, size_t len,
                                     ride_cluster_source_owner *out, char *err, size_t errlen);
void ride_cluster_source_owner_free(ride_cluster_source_owner *v);

/* ---- /assignments/<member> ------------------------------------------------------------ */

/* One partition a worker runs. The output goes to output_topic (Kafka), to files
 * under output_path, or nowhere when both are NULL; never both. */
typedef struct ride_cluster_partition_task {
    const char *app;
    const char *stage;
    int partition; /* 0..4095 */
    int64_t epoch; /* >= 0: the fencing token */
    const char *input_topic;
    const char *output_topic;  /* or NULL */
    int output_partitions;     /* 1..4096 with output_topic, else 0 */
    /* The consumer group whose backlog bounds what this stage writes ahead: the
     * next stage's when output_topic is its input, spec.sink.group for a sink
     * topic; NULL for a sink topic without one, whose readers RIDE does not know. */
    const char *output_group;
    /* With output_group: how many writers each partition of output_topic has at
     * most (every stage and source writing it), which divides its budget into
     * shares (kafka/share.h); 0 when not given. */
    int output_writers;
    const char *output_path;   /* files sink directory, or NULL */
    ride_encoding output_format; /* files sink only; png otherwise */
    const char *group;         /* consumer group for commits */
    ride_delivery delivery;
    const char *task;
    ride_kv *params; /* only key and value are used */
    size_t param_count;
    ride_stage_device device;
    int threads; /* 0..4096, 0 = all cores */
} ride_cluster_partition_task;

/* One source a producer runs. */
typedef struct ride_cluster_source_task {
    const char *app;
    const char *source;
    int64_t epoch;
    uint32_t stream_id;
    const char *uri;
    double fps; /* 0..1000, 0 = the stream's own rate */
    ride_encoding encoding;
    int quality; /* 1..100 */
    bool loop;
    ride_pace pace;
    const char *topic; /* the input topic of the stages reading the source */
    int partitions;    /* 1..4096: the topic's partitions */
    int writers;       /* the most writers of one partition of topic; 0 when not given */
} ride_cluster_source_task;

typedef struct ride_cluster_assignment {
    int64_t generation; /* the leader generation that wrote it, >= 0 */
    int64_t epoch;      /* bumped at every change of this node, >= 0 */
    ride_cluster_partition_task *partitions;
    size_t partition_count;
    ride_cluster_source_task *sources;
    size_t source_count;
    ride_arena *mem;
} ride_cluster_assignment;

char *ride_cluster_assignment_encode(const ride_cluster_assignment *v, char *err,
                                     size_t errlen);
int ride_cluster_assignment_decode(const char *node, const void *data, size_t len,
                                   ride_cluster_assignment *out, char *err, size_t errlen);
void ride_cluster_assignment_free(ride_cluster_assignment *v);

/* ---- /events/e_<seq> --------------------------------------------------------------------- */

typedef struct ride_cluster_event {
    int64_t ts_ms;     /* >= 0 */
    const char *type;  /* snake_case, e.g. "partition_moved" */
    const char *app;   /* each of these four may be NULL / -1: not about one */
    const char *stage;
    int partition;     /* 0..4095, or -1 */
    const char *member;
    const char *message; /* may be empty */
    ride_arena *mem;
} ride_cluster_event;

char *ride_cluster_event_encode(const ride_cluster_event *v, char *err, size_t errlen);
int ride_cluster_event_decode(const char *node, const void *data, size_t len,
                              ride_cluster_event *out, char *err, size_t errlen);
void ride_cluster_event_free(ride_cluster_event *v);

#ifdef __cplusplus
}
#endif

#endif
