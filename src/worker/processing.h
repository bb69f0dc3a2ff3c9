/* processing.h - the worker's processing thread. It owns every stage pipeline
 * (stages.h): it applies the latest assignment and Kafka address the loop thread
 * hands it, steps the pipelines, commits every commit interval and publishes the
 * partitions' figures for the heartbeats. The two threads share only what this
 * module keeps under its mutex, so no pipeline is ever touched by two threads. */
#ifndef RIDE_WORKER_PROCESSING_H
#define RIDE_WORKER_PROCESSING_H

#include <stdbool.h>
#include <stddef.h>

#include "stages.h"

typedef struct ride_worker_processing ride_worker_processing;

/* Starts the thread, owning nothing until the first assignment. NULL when the
 * thread cannot be started. */
ride_worker_processing *ride_worker_processing_start(const ride_worker_stages_env *env);

/* Hands over the encoded assignment (ride_member_assignment_encode; NULL: own
 * nothing), which the thread then owns. */
void ride_worker_processing_assign(ride_worker_processing *p, char *assignment);

/* Hands over the Kafka bootstrap servers (owned by the thread from now on; NULL:
 * unknown) and whether they are the embedded cluster. */
void ride_worker_processing_set_kafka(ride_worker_processing *p, char *bootstrap,
                                      bool embedded);

/* Copies the latest published figures into *buf, growing it (*cap entries);
 * returns how many, 0 when *buf cannot grow. */
size_t ride_worker_processing_stats(ride_worker_processing *p, ride_worker_partition_stats **buf,
                                    size_t *cap);

/* The thread's progress mark (watchdog.h), and in *has_work whether it owns
 * partitions or has an assignment or Kafka address it has not finished applying. */
uint64_t ride_worker_processing_progress(ride_worker_processing *p, bool *has_work);

/* Tells the thread to commit what is acknowledged, hand every partition back and
 * end, and waits up to timeout_ms for that: true once it ended (later calls return
 * true at once). False when it did not: the thread is stuck and abandoned, still
 * holding p, and the process is to exit without waiting for it (later calls
 * return false at once). NULL: true. */
bool ride_worker_processing_stop(ride_worker_processing *p, int timeout_ms);

/* Frees a stopped one. One whose thread was abandoned is left alone: the thread
 * may still use it until the process exits. NULL is a no-op. */
void ride_worker_processing_free(ride_worker_processing *p);

#endif
