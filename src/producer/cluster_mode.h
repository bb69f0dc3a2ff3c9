/* cluster_mode.h - ride-producer's cluster mode (docs/producer.md): it joins the
 * cluster through ZooKeeper (cluster/member.h) as a producer, finds the Kafka
 * bootstrap servers at /cluster/kafka and runs exactly the sources its
 * /assignments/<id> node lists, with the runners of runner.h.
 *
 * Threads: the calling thread runs a libuv loop (membership, heartbeats,
 * signals, /metrics) and owns every runner; each source has its own thread and
 * the Kafka producer its delivery thread (runner.h). */
#ifndef RIDE_PRODUCER_CLUSTER_MODE_H
#define RIDE_PRODUCER_CLUSTER_MODE_H

#include <stdint.h>

#include "spec/config.h"

/* Runs until SIGTERM or SIGINT, then stops the sources, flushes what they
 * produced (bounded), closes the session and returns the exit code: 0 clean,
 * 1 runtime failure (no session, messages undelivered at the deadline),
 * 2 bad configuration. cfg must name zookeeper.connect. stats_interval_ms: the
 * per-source stats log period (0: 10 s). */
int ride_producer_cluster_run(const ride_config *cfg, int64_t stats_interval_ms);

#endif
