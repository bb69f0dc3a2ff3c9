/* machine.c - probes this machine's CUDA devices for the worker's registration
 * node. A device that cannot be queried is left out: it could not run a stage. */
#include "machine.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/error.h"
#include "kernels/gpu.h"

/* The registration schema takes device indices 0..1023 (cluster.c). */
#define MACHINE_MAX_GPUS 1024

static size_t probe_gpus(ride_cluster_gpu *gpus, char (*names)[256], char (*ccs)[16],
                         size_t cap)
{
    int n = ride_gpu_device_count(NULL, 0);
    size_t count = 0;
    for (int i = 0; i < n && count < cap; i++) {
        size_t bytes;
        int major, minor;
        if (ride_gpu_device_name(i, names[count], sizeof names[count]) < 0 ||
            !names[count][0] || ride_gpu_device_info(i, &bytes, &major, &minor) < 0)
            continue;
        snprintf(ccs[count], sizeof ccs[count], "%d.%d", major, minor);
        gpus[count] = (ride_cluster_gpu){.index = i,
                                         .name = names[count],
                                         .memory_mb = (int64_t)(bytes / (1024 * 1024)),
                                         .compute_capability = ccs[count]};
        count++;
    }
    return count;
}

int ride_worker_machine_local(const char *id, ride_cluster_worker *out, char *err,
                              size_t errlen)
{
    if (ride_cluster_worker_local(id, out, err, errlen) != 0)
        return -1;
    int n = ride_gpu_device_count(NULL, 0);
    if (n <= 0)
        return 0;
    size_t cap = n < MACHINE_MAX_GPUS ? (size_t)n : MACHINE_MAX_GPUS;
    ride_cluster_gpu *gpus = calloc(cap, sizeof *gpus);
    char(*names)[256] = calloc(cap, sizeof *names);
    char(*ccs)[16] = calloc(cap, sizeof *ccs);
    int rc = -1;
    if (gpus && names && ccs)
        rc = ride_cluster_worker_set_gpus(out, gpus, probe_gpus(gpus, names, ccs, cap));
    free(gpus);
    free(names);
    free(ccs);
    if (rc != 0) {
        ride_cluster_worker_free(out);
        ride_set_error(err, errlen, "out of memory");
    }
    return rc;
}
