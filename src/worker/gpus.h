/* gpus.h - the CUDA devices a worker runs its GPU stages on (worker.gpus), chosen
 * once at start: every GPU stage uses all of them (docs/gpu.md). */
#ifndef RIDE_WORKER_GPUS_H
#define RIDE_WORKER_GPUS_H

#include <stddef.h>

#include "cluster/cluster.h"
#include "spec/config.h"

/* The most CUDA devices one worker uses (worker.gpus lists at most 64). */
#define RIDE_WORKER_MAX_GPUS 64

typedef struct ride_worker_gpus {
    int index[RIDE_WORKER_MAX_GPUS];
    size_t count;
} ride_worker_gpus;

/* Every usable device, none, or the listed ones that exist; logged as
 * gpus_selected, so that an operator sees which. */
void ride_worker_gpus_select(const ride_config_worker *c, ride_worker_gpus *out);

/* Describes the selected devices in me->gpus (name, memory, compute capability):
 * the master places GPU stages by the ones a worker advertises. 0, or -1 when out
 * of memory. */
int ride_worker_gpus_advertise(const ride_worker_gpus *g, ride_cluster_worker *me);

#endif
