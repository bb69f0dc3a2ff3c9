/* machine.h - what a worker advertises about its machine: the cluster layer's
 * host facts plus the CUDA devices the kernels find. */
#ifndef RIDE_WORKER_MACHINE_H
#define RIDE_WORKER_MACHINE_H

#include <stddef.h>

#include "cluster/cluster.h"

/* ride_cluster_worker_local() with the machine's CUDA devices in out->gpus (none
 * in a build without CUDA or without a driver). 0, or -1 with err filled. */
int ride_worker_machine_local(const char *id, ride_cluster_worker *out, char *err,
                              size_t errlen);

#endif
