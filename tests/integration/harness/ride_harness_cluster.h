/* ride_harness_cluster.h - a whole RIDE cluster of real processes for integration
 * tests: masters, workers and producers spawned from RIDE_BIN_DIR against the
 * file's shared ZooKeeper server (its own chroot per cluster), the control API
 * reached over HTTP, the cluster's Kafka (the embedded broker, or a real one the
 * test names) read directly, and the sink audited by sequence number (audit.h).
 *
 * Every wait is bounded; on a failed expectation the helpers print the logs of
 * every process of the cluster before failing the test. */
#ifndef RIDE_HARNESS_CLUSTER_H
#define RIDE_HARNESS_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "audit.h"
#include "ride_harness.h"
#include "ride_test_kafka.h"
#include "cluster/cluster.h"
#include "cluster/zk.h"
#include "kafka/kafka.h"

#define RIDE_CLUSTER_TOKEN "cluster-test-token"

typedef struct ride_cluster_fx {
    char *dir;
    char connect[256];    /* ZooKeeper connect string with this cluster's chroot */
    char token_file[512];
    ride_zk *zk;          /* the test's own session */
    char api[256];        /* the leader's API url, after ride_cluster_fx_wait_api */
    char leader[129];     /* the leader's id */
    char bootstrap[256];  /* /cluster/kafka */
    bool embedded;        /* /cluster/kafka names the embedded broker */
    char kafka[256];      /* a real broker the masters use, or "" for the embedded one */
    char master_extra[512]; /* more master config (YAML) with a real broker */
    char worker_extra[256]; /* more lines of the workers' `worker` mapping, "" for none */
    const ride_kv *kafka_props; /* ride_cluster_fx_kafka_props */
    size_t kafka_prop_count;
    int spawned;
} ride_cluster_fx;

/* A cluster rooted at a fresh chroot of the shared ZooKeeper (ride_harness_zk_shared).
 * Nothing runs yet. */
ride_cluster_fx *ride_cluster_fx_new(const char *name);
/* Closes the test's session and removes the temp dir; the processes are the
 * harness's to kill (they die with the test at the latest). */
void ride_cluster_fx_free(ride_cluster_fx *fx);

/* Makes the masters spawned from now on use the Kafka at bootstrap instead of
 * hosting the embedded one (a config file with kafka.bootstrap.servers), with
 * master_extra (NULL: none) appended to that file, e.g. a `topics:` mapping. */
void ride_cluster_fx_use_kafka(ride_cluster_fx *fx, const char *bootstrap,
                               const char *master_extra);

/* Gives every daemon spawned from now on these librdkafka properties in its
 * config's `kafka` mapping (after the master's bootstrap.servers), and the test's
 * readers too (security settings). props must outlive their use; NULL, 0: none. */
void ride_cluster_fx_kafka_props(ride_cluster_fx *fx, const ride_kv *props, size_t count);

/* Spawns a daemon with the cluster's settings, logs in the cluster's dir:
 *  master:   --id ID --api-listen 127.0.0.1:0 --token-file ... [--broker-only]
 *            [--config FILE, after ride_cluster_fx_use_kafka]
 *  worker:   a config with heartbeat.interval_ms 500 (the defaults) and 1 thread
 *  producer: a config with producer.id ID */
ride_proc *ride_cluster_fx_master(ride_cluster_fx *fx, const char *id, bool broker_only);
ride_proc *ride_cluster_fx_worker(ride_cluster_fx *fx, const char *id);
/* A worker like ride_cluster_fx_worker whose worker.labels is labels, a YAML flow
 * mapping such as "{role: gray}" (NULL: none), for stages with a selector. */
ride_proc *ride_cluster_fx_labeled_worker(ride_cluster_fx *fx, const char *id,
                                          const char *labels);
ride_proc *ride_cluster_fx_producer(ride_cluster_fx *fx, const char *id);
/* A producer whose Kafka messages hold at most max_message_bytes (>= 4096): larger
 * frames go out as several chunks. */
ride_proc *ride_cluster_fx_chunking_producer(ride_cluster_fx *fx, const char *id,
                                             int max_message_bytes);

/* Prints every log of the cluster to stderr. */
void ride_cluster_fx_print_logs(const ride_cluster_fx *fx);
/* Fails the test with the message after printing the logs. */
void ride_cluster_fx_fail(const ride_cluster_fx *fx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* Spawns workers w1..wN (N = count) and waits until N workers are registered;
 * their processes in procs[0..N-1] when procs is not NULL. */
void ride_cluster_fx_workers(ride_cluster_fx *fx, int count, ride_proc **procs, int timeout_ms);
/* A new cluster whose master m1 leads (its API known) with workers w1..wN
 * registered, as ride_cluster_fx_workers starts them. */
ride_cluster_fx *ride_cluster_fx_start(const char *name, int workers, ride_proc **procs,
                                       int timeout_ms);
/* The same on the real Kafka at bootstrap (ride_cluster_fx_use_kafka). */
ride_cluster_fx *ride_cluster_fx_start_on(const char *name, const char *bootstrap,
                                          const char *master_extra, int workers,
                                          ride_proc **procs, int timeout_ms);
/* Runs argv to completion (up to timeout_ms) with its output in NAME.log in the
 * cluster's dir, and prints that output after the name. Returns the exit code, or
 * -1 when the command did not exit by itself; the output in *out (malloc'd, NULL
 * when there is none). */
int ride_cluster_fx_run(ride_cluster_fx *fx, const char *name, const char *const argv[],
                        char **out, int timeout_ms);

/* Waits until /cluster/api names a leader (different from `not_leader` when that is
 * not NULL) and /cluster/kafka a broker; fills api, leader and bootstrap. */
void ride_cluster_fx_wait_api(ride_cluster_fx *fx, const char *not_leader, int timeout_ms);
/* Waits until `count` workers (or producers) are registered. */
void ride_cluster_fx_wait_members(ride_cluster_fx *fx, bool workers, size_t count,
                                  int timeout_ms);

/* One API call: returns the HTTP status (the body in *body, malloc'd, when body is
 * not NULL), or fails the test when the API cannot be reached. */
int ride_cluster_fx_call(ride_cluster_fx *fx, const char *method, const char *path,
                         const char *payload, const char *token, char **body);
/* GET returning parsed JSON (fails the test on a non-200 answer). */
json_t *ride_cluster_fx_get(ride_cluster_fx *fx, const char *path);
/* POSTs a manifest text with the token; returns the HTTP status. */
int ride_cluster_fx_apply(ride_cluster_fx *fx, const char *yaml, char **body);
/* The applications the cluster tests run: two synthetic 160x120 (or size) sources, cam0 and
 * cam1, into stage gray (grayscale), optionally followed by stage sd (stddev, ksize
 * 5); every stage with the same partitions and workers {min: 1, max, spares}; the
 * sink on the last stage, topic "NAME.gray.out" or "NAME.sd.out"; spec.topics when
 * given. */
typedef struct ride_cluster_app {
    const char *name;
    int fps;         /* of each source */
    int partitions;
    int max_workers;
    int spares;
    bool stddev;
    const char *size; /* the sources' WxH; NULL: 160x120 */
    const char *delivery; /* spec.delivery; NULL: the default (at-least-once) */
    const char *topics; /* spec.topics as a YAML flow mapping; NULL: none */
    const char *sink_group; /* spec.sink.group; NULL: none */
} ride_cluster_app;

/* The application's manifest in buf (fails the test when it does not fit). */
const char *ride_cluster_app_manifest(const ride_cluster_app *app, char *buf, size_t len);
/* Applies the application (expects 201 Created) and waits until it runs with every
 * partition owned. */
void ride_cluster_fx_run_app(ride_cluster_fx *fx, const ride_cluster_app *app, int timeout_ms);
/* Waits until the app is running and every partition of it has an owner. */
void ride_cluster_fx_wait_owned(ride_cluster_fx *fx, const char *app, int timeout_ms);
/* The owner of one partition per GET /v1/partitions (NULL-safe copy into buf). */
const char *ride_cluster_fx_owner(ride_cluster_fx *fx, const char *app, const char *stage,
                                  int partition, char *buf, size_t len);

/* An audit reader on `topic` of the cluster's Kafka, from the beginning. */
ride_audit_reader *ride_cluster_fx_reader(ride_cluster_fx *fx, const char *topic,
                                          ride_audit_frame_fn on_frame, void *ctx);
/* The same, committing what it reads for `group` (a sink's spec.sink.group). */
ride_audit_reader *ride_cluster_fx_group_reader(ride_cluster_fx *fx, const char *topic,
                                                const char *group);
/* Reads the sink until it holds `more` distinct frames beyond what it holds now;
 * fails the test after timeout_ms. */
void ride_cluster_fx_wait_sink(ride_cluster_fx *fx, ride_audit_reader *r, uint64_t more,
                               int timeout_ms);
/* The /metrics port a daemon logged (its "metrics_port=N" line in <log_name>.log
 * under the cluster's directory), or 0 before it logged it. */
int ride_cluster_fx_metrics_port(const ride_cluster_fx *fx, const char *log_name);
/* The daemon's /metrics text (malloc'd), or NULL before it logged its port or
 * when the scrape fails. */
char *ride_cluster_fx_scrape(const ride_cluster_fx *fx, const char *log_name);

/* What a producer's source_summary lines report for one stream: frames offered
 * (sequence numbers 0..offered-1) and delivered to Kafka; the rest it dropped and
 * counted with a reason (backpressure). */
typedef struct ride_cluster_stream_counts {
    uint64_t offered;
    uint64_t delivered;
    uint64_t unknown; /* dropped as delivery_unknown: at the sink or not */
} ride_cluster_stream_counts;

/* Stops a producer with SIGTERM (expecting exit 0) and returns its counts per
 * stream, in counts[stream]. */
void ride_cluster_fx_stop_producer(ride_cluster_fx *fx, ride_proc *p, const char *id,
                                   ride_cluster_stream_counts *counts, size_t streams);
/* Reads the sink until every stream s < streams has counts[s].delivered distinct
 * frames (or timeout), then asserts that nothing is missing: every delivered
 * frame is at the sink, and every gap in the sequence numbers is a frame the
 * producer counted as dropped (one counted as delivery_unknown may be at the sink
 * too). Returns the duplicates seen. */
uint64_t ride_cluster_fx_drain(ride_cluster_fx *fx, ride_audit_reader *r,
                               const ride_cluster_stream_counts *counts, size_t streams,
                               int timeout_ms);

/* The end of a run: stops the producer, drains the sink (nothing may be missing),
 * releases the reader and the cluster; returns the duplicates seen. */
uint64_t ride_cluster_fx_finish(ride_cluster_fx *fx, ride_audit_reader *r, ride_proc *producer,
                                const char *producer_id, size_t streams, int timeout_ms);

/* ---- one daemon, the test in place of a master ---- */

/* A fresh chroot of the shared ZooKeeper holding /cluster/assignments and a
 * /cluster/kafka that names an embedded Kafka cluster (librdkafka's mock) hosted
 * by the test, which writes the daemon's assignments itself. */
typedef struct ride_daemon_fx {
    ride_kafka_mock *mock;
    ride_zk *zk;                 /* the test's own session, in the chroot */
    char connect[256];           /* ZooKeeper connect string with the chroot */
    char *dir;
    char log[600];               /* the log of the daemon spawned last */
    int spawned;
    ride_kafka_producer *input;  /* ride_daemon_fx_produce's */
    ride_kafka_consumer *admin;  /* reads one group's committed offsets and watermarks */
    char admin_group[128];
    char err[512];
} ride_daemon_fx;

ride_daemon_fx *ride_daemon_fx_new(const char *name);
/* Closes the session and the clients, stops the mock and removes the dir. */
void ride_daemon_fx_free(ride_daemon_fx *fx);

/* Creates the node or overwrites its data. */
void ride_daemon_fx_write_node(ride_daemon_fx *fx, const char *path, const char *data);
/* Writes a as the assignment of member id. */
void ride_daemon_fx_assign(ride_daemon_fx *fx, const char *id, const ride_cluster_assignment *a);
/* Reads and decodes the heartbeat of member id; false while there is none. */
bool ride_daemon_fx_heartbeat(ride_daemon_fx *fx, const char *id, ride_cluster_heartbeat *hb);

/* Spawn the daemon with a config that sends heartbeats every 50 ms and serves
 * metrics on an ephemeral port; its log becomes fx->log.
 *  worker:   --id ID, one thread
 *  producer: producer.id ID with one local source */
ride_proc *ride_daemon_fx_worker(ride_daemon_fx *fx, const char *id);
ride_proc *ride_daemon_fx_producer(ride_daemon_fx *fx, const char *id, const char *local_source);
void ride_daemon_fx_print_log(const ride_daemon_fx *fx);
/* Sends SIGTERM to p alone and expects exit 0 within timeout_ms (else prints the log
 * and fails the test); frees p and prints how long the exit took. */
void ride_daemon_fx_expect_clean_exit(ride_daemon_fx *fx, ride_proc *p, int timeout_ms);

/* Queues frame f (raw, 4 KiB messages) into partition of topic; flush sends it. */
void ride_daemon_fx_produce_frame(ride_daemon_fx *fx, const char *topic, int32_t partition,
                                  const ride_frame *f);
void ride_daemon_fx_flush(ride_daemon_fx *fx);
/* Produces the synthetic frames seq_from..seq_to-1 (W x H, raw) of streams
 * 0..streams-1, stream s into partition s of topic, and flushes. */
void ride_daemon_fx_produce(ride_daemon_fx *fx, const char *topic, uint32_t streams,
                            uint32_t w, uint32_t h, uint64_t seq_from, uint64_t seq_to);
/* The offset group committed on topic/partition (RIDE_KAFKA_OFFSET_NONE when none),
 * or -2 when it cannot be read. */
int64_t ride_daemon_fx_committed(ride_daemon_fx *fx, const char *group, const char *topic,
                                 int partition);
/* The high watermark of topic/partition (fails the test when it cannot be read). */
int64_t ride_daemon_fx_high(ride_daemon_fx *fx, const char *group, const char *topic,
                            int partition);
/* Waits until group's commits on the partitions of mask reach the end of topic;
 * else prints the log and the offsets and fails the test. */
void ride_daemon_fx_wait_commits(ride_daemon_fx *fx, const char *group, const char *topic,
                                 unsigned mask, int timeout_ms);

/* Frames read back from every partition of a topic from the beginning. */
typedef struct ride_daemon_reader ride_daemon_reader;
/* Messages that are no frame go to on_reject(ctx). */
ride_daemon_reader *ride_daemon_fx_reader(ride_daemon_fx *fx, const char *topic, int partitions,
                                          ride_frame_reject_fn on_reject, void *ctx);
/* Polls once for up to timeout_ms: true when a message completed a frame, which is
 * then in *f (from partition *partition). */
bool ride_daemon_reader_next(ride_daemon_reader *r, int timeout_ms, ride_frame *f,
                             int32_t *partition);
void ride_daemon_reader_free(ride_daemon_reader *r);

#endif
