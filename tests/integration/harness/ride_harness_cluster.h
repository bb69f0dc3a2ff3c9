/* ride_harness_cluster.h - a whole RIDE cluster of real processes for integration
 * tests: masters, workers and producers spawned from RIDE_BIN_DIR against the
 * file's shared ZooKeeper server (its own chroot per cluster), the control API
 * reached over HTTP, the embedded Kafka read directly, and the sink audited by
 * sequence number (ride/audit.h).
 *
 * Every wait is bounded; on a failed expectation the helpers print the logs of
 * every process of the cluster before failing the test. */
#ifndef RIDE_HARNESS_CLUSTER_H
#define RIDE_HARNESS_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "ride/audit.h"
#include "ride/zk.h"
#include "ride_harness.h"

#define RIDE_CLUSTER_TOKEN "cluster-test-token"

typedef struct ride_cluster_fx {
    char *dir;
    char connect[256];    /* ZooKeeper connect string with this cluster's chroot */
    char token_file[512];
    ride_zk *zk;          /* the test's own session */
    char api[256];        /* the leader's API url, after ride_cluster_fx_wait_api */
    char leader[129];     /* the leader's id */
    char bootstrap[256];  /* /cluster/kafka */
    int spawned;
} ride_cluster_fx;

/* A cluster rooted at a fresh chroot of the shared ZooKeeper (ride_harness_zk_shared).
 * Nothing runs yet. */
ride_cluster_fx *ride_cluster_fx_new(const char *name);
/* Closes the test's session and removes the temp dir; the processes are the
 * harness's to kill (they die with the test at the latest). */
void ride_cluster_fx_free(ride_cluster_fx *fx);

/* Spawns a daemon with the cluster's settings, logs in the cluster's dir:
 *  master:   --id ID --api-listen 127.0.0.1:0 --token-file ... [--broker-only]
 *  worker:   a config with heartbeat.interval_ms 500 (the defaults) and 1 thread
 *  producer: a config with producer.id ID */
ride_proc *ride_cluster_fx_master(ride_cluster_fx *fx, const char *id, bool broker_only);
ride_proc *ride_cluster_fx_worker(ride_cluster_fx *fx, const char *id);
ride_proc *ride_cluster_fx_producer(ride_cluster_fx *fx, const char *id);

/* Prints every log of the cluster to stderr. */
void ride_cluster_fx_print_logs(const ride_cluster_fx *fx);
/* Fails the test with the message after printing the logs. */
void ride_cluster_fx_fail(const ride_cluster_fx *fx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

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
/* Applies a new application (expects 201 Created) and waits until it runs with
 * every partition owned. */
void ride_cluster_fx_run_app(ride_cluster_fx *fx, const char *yaml, const char *app,
                             int timeout_ms);
/* Waits until the app is running and every partition of it has an owner. */
void ride_cluster_fx_wait_owned(ride_cluster_fx *fx, const char *app, int timeout_ms);
/* The owner of one partition per GET /v1/partitions (NULL-safe copy into buf). */
const char *ride_cluster_fx_owner(ride_cluster_fx *fx, const char *app, const char *stage,
                                  int partition, char *buf, size_t len);

/* An audit reader on `topic` of the cluster's Kafka, from the beginning. */
ride_audit_reader *ride_cluster_fx_reader(ride_cluster_fx *fx, const char *topic,
                                          ride_audit_frame_fn on_frame, void *ctx);
/* Reads the sink until it holds `more` distinct frames beyond what it holds now;
 * fails the test after timeout_ms. */
void ride_cluster_fx_wait_sink(ride_cluster_fx *fx, ride_audit_reader *r, uint64_t more,
                               int timeout_ms);
/* Stops a producer with SIGTERM (expecting exit 0) and returns how many frames it
 * reported produced (its source_summary lines) per stream, in produced[stream]. */
void ride_cluster_fx_stop_producer(ride_cluster_fx *fx, ride_proc *p, const char *id,
                                   uint64_t *produced, size_t streams);
/* Reads the sink until every stream s < streams has produced[s] distinct frames
 * (or timeout), then asserts none is missing; returns the duplicates seen. */
uint64_t ride_cluster_fx_drain(ride_cluster_fx *fx, ride_audit_reader *r,
                               const uint64_t *produced, size_t streams, int timeout_ms);

/* The end of a run: stops the producer, drains the sink (nothing may be missing),
 * releases the reader and the cluster; returns the duplicates seen. */
uint64_t ride_cluster_fx_finish(ride_cluster_fx *fx, ride_audit_reader *r, ride_proc *producer,
                                const char *producer_id, size_t streams, int timeout_ms);

#endif
