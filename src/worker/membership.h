/* membership.h - the worker's side of the cluster (cluster/member.h): the
 * registration node it publishes, and the member whose callbacks hand each
 * assignment and Kafka address to the processing thread and read its figures
 * for the heartbeats. Loop thread only. */
#ifndef RIDE_WORKER_MEMBERSHIP_H
#define RIDE_WORKER_MEMBERSHIP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "gpus.h"
#include "processing.h"
#include "spec/config.h"
#include "tasks/host.h"

/* The registration node's data: this machine's capabilities (its selected GPUs
 * only, its cores capped by worker.threads), its labels and its plugin tasks.
 * malloc'd, or NULL with err filled. */
char *ride_worker_registration(const ride_config *cfg, const char *id,
                               const ride_task_registry *registry, const ride_worker_gpus *gpus,
                               char *err, size_t errlen);

typedef struct ride_worker_member ride_worker_member;

/* Joins the cluster as id with the registration data, from loop's thread; the
 * assignments and Kafka addresses then go to processing. digest: "user:password"
 * or "". NULL with err filled. */
ride_worker_member *ride_worker_join(uv_loop_t *loop, const ride_config *cfg, const char *id,
                                     const char *digest, const char *registration,
                                     ride_worker_processing *processing, char *err,
                                     size_t errlen);

/* Reports the processing thread stalled for stalled_ms in a heartbeat written at
 * once and in every later one. NULL is a no-op. */
void ride_worker_report_stall(ride_worker_member *m, int64_t stalled_ms);

/* Ends the session (the registration node vanishes at once) and frees m; the
 * loop must run on for the handles' close callbacks. NULL is a no-op. */
void ride_worker_leave(ride_worker_member *m);

#endif
