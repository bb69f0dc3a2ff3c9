/* gpus.c - picks the worker's CUDA devices from worker.gpus and what the kernels
 * find. A listed device that does not exist is skipped with a warning, not an
 * error: the same configuration serves machines with different GPU counts. */
#include "gpus.h"

#include <stdio.h>

#include "base/log.h"
#include "kernels/gpu.h"

void ride_worker_gpus_select(const ride_config_worker *c, ride_worker_gpus *out)
{
    char why[256] = "worker.gpus is none";
    int n = c->gpus == RIDE_GPUS_NONE ? 0 : ride_gpu_device_count(why, sizeof why);
    out->count = 0;
    if (c->gpus == RIDE_GPUS_LIST) {
        for (size_t i = 0; i < c->gpu_count; i++) {
            if (c->gpu_indices[i] < n)
                out->index[out->count++] = c->gpu_indices[i];
            else
                ride_log_warn("gpu_missing", "index=%d devices=%d", c->gpu_indices[i], n);
        }
    } else {
        for (int g = 0; g < n && g < RIDE_WORKER_MAX_GPUS; g++)
            out->index[out->count++] = g;
    }
    char list[RIDE_WORKER_MAX_GPUS * 4] = "";
    for (size_t i = 0, at = 0; i < out->count && at < sizeof list; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, i ? ",%d" : "%d", out->index[i]);
    char quoted[300];
    if (out->count)
        ride_log_info("gpus_selected", "gpus=%s", list);
    else
        ride_log_info("gpus_selected", "gpus=none reason=%s",
                      ride_log_quote(why, quoted, sizeof quoted));
}

/* One selected device as the registration node describes it. A device that cannot
 * be queried is left out: it could not run a stage either. */
static int describe_gpu(int index, ride_cluster_gpu *out, char *name, size_t name_len, char *cc,
                        size_t cc_len)
{
    size_t bytes;
    int major, minor;
    if (ride_gpu_device_name(index, name, name_len) < 0 || !name[0] ||
        ride_gpu_device_info(index, &bytes, &major, &minor) < 0)
        return -1;
    snprintf(cc, cc_len, "%d.%d", major, minor);
    *out = (ride_cluster_gpu){.index = index,
                              .name = name,
                              .memory_mb = (int64_t)(bytes / (1024 * 1024)),
                              .compute_capability = cc};
    return 0;
}

int ride_worker_gpus_advertise(const ride_worker_gpus *g, ride_cluster_worker *me)
{
    ride_cluster_gpu gpus[RIDE_WORKER_MAX_GPUS];
    char names[RIDE_WORKER_MAX_GPUS][256], ccs[RIDE_WORKER_MAX_GPUS][16];
    size_t count = 0;
    for (size_t i = 0; i < g->count; i++)
        if (describe_gpu(g->index[i], &gpus[count], names[count], sizeof names[count],
                         ccs[count], sizeof ccs[count]) == 0)
            count++;
    return ride_cluster_worker_set_gpus(me, gpus, count);
}
