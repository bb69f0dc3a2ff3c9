/* membership.c - the worker's registration node and member callbacks
 * (membership.h). The callbacks run on the loop thread and never touch a
 * pipeline: they only hand data to the processing thread or copy its figures. */
#include "membership.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "cluster/member.h"

struct ride_worker_member {
    ride_member *member;
    ride_worker_processing *processing;
    /* The last heartbeat's figures: valid until the next beat (member.h). */
    ride_worker_partition_stats *stats;
    size_t stats_cap;
    ride_cluster_hb_partition *parts;
    size_t parts_cap;
    int64_t stalled_ms; /* reported in every heartbeat from the stall on */
};

/* ---- the registration node ---- */

static bool is_builtin(const char *name)
{
    size_t n = 0;
    const ride_task_descriptor *const *b = ride_task_builtins(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(b[i]->name, name) == 0)
            return true;
    return false;
}

char *ride_worker_registration(const ride_config *cfg, const char *id,
                               const ride_task_registry *registry, const ride_worker_gpus *gpus,
                               char *err, size_t errlen)
{
    ride_cluster_worker me;
    if (ride_cluster_worker_local(id, &me, err, errlen))
        return NULL;
    if (ride_worker_gpus_advertise(gpus, &me) != 0) {
        ride_cluster_worker_free(&me);
        ride_set_error(err, errlen, "out of memory");
        return NULL;
    }
    size_t count = ride_task_count(registry);
    const char **plugins = calloc(count ? count : 1, sizeof *plugins);
    char *json = NULL;
    if (plugins) {
        size_t n = 0;
        for (size_t i = 0; i < count; i++)
            if (!is_builtin(ride_task_at(registry, i)->name))
                plugins[n++] = ride_task_at(registry, i)->name;
        if (cfg->worker.threads > 0 && cfg->worker.threads < me.cores)
            me.cores = cfg->worker.threads;
        me.labels = cfg->worker.labels;
        me.label_count = cfg->worker.label_count;
        me.plugin_tasks = plugins;
        me.plugin_task_count = n;
        json = ride_cluster_worker_encode(&me, err, errlen);
    } else {
        ride_set_error(err, errlen, "out of memory");
    }
    /* labels and plugins are not owned by me.mem: only its own memory is freed. */
    me.labels = NULL;
    me.label_count = 0;
    me.plugin_tasks = NULL;
    me.plugin_task_count = 0;
    free(plugins);
    ride_cluster_worker_free(&me);
    return json;
}

/* ---- the member's callbacks ---- */

static void on_assignment(const ride_cluster_assignment *a, void *ctx)
{
    ride_worker_member *m = ctx;
    char *enc;
    if (ride_member_assignment_encode(a, &enc))
        ride_worker_processing_assign(m->processing, enc);
}

static void on_kafka(const ride_cluster_kafka *k, void *ctx)
{
    ride_worker_member *m = ctx;
    char *b = k ? strdup(k->bootstrap_servers) : NULL;
    ride_log_info("kafka", "bootstrap_servers=%s", b ? b : "(none)");
    ride_worker_processing_set_kafka(m->processing, b, k && k->embedded);
}

static int fill_heartbeat(ride_cluster_heartbeat *hb, void *ctx)
{
    ride_worker_member *m = ctx;
    size_t n = ride_worker_processing_stats(m->processing, &m->stats, &m->stats_cap);
    if (n > m->parts_cap) {
        ride_cluster_hb_partition *grown = realloc(m->parts, n * sizeof *grown);
        if (grown) {
            m->parts = grown;
            m->parts_cap = n;
        }
    }
    if (n > m->parts_cap)
        n = 0;
    for (size_t i = 0; i < n; i++) {
        const ride_worker_partition_stats *s = &m->stats[i];
        m->parts[i] = (ride_cluster_hb_partition){s->app, s->stage, s->partition, s->epoch,
                                                  s->position, s->committed,
                                                  s->frames_processed, s->messages_written,
                                                  s->busy_ms};
    }
    hb->partitions = m->parts;
    hb->partition_count = n;
    hb->stalled_ms = m->stalled_ms;
    return 0;
}

/* ---- joining and leaving ---- */

ride_worker_member *ride_worker_join(uv_loop_t *loop, const ride_config *cfg, const char *id,
                                     const char *digest, const char *registration,
                                     ride_worker_processing *processing, char *err,
                                     size_t errlen)
{
    ride_worker_member *m = calloc(1, sizeof *m);
    if (!m) {
        ride_set_error(err, errlen, "out of memory");
        return NULL;
    }
    m->processing = processing;
    ride_member_options mo = {
        .loop = loop,
        .connect = cfg->zookeeper.connect,
        .session_timeout_ms = cfg->zookeeper.session_timeout_ms,
        .digest = digest[0] ? digest : NULL,
        .id = id,
        .role = RIDE_MEMBER_WORKER,
        .registration = registration,
        .heartbeat_interval_ms = cfg->heartbeat.interval_ms,
        .on_assignment = on_assignment,
        .on_kafka = on_kafka,
        .fill_heartbeat = fill_heartbeat,
        .ctx = m,
    };
    m->member = ride_member_start(&mo, err, errlen);
    if (!m->member) {
        free(m);
        return NULL;
    }
    return m;
}

void ride_worker_report_stall(ride_worker_member *m, int64_t stalled_ms)
{
    if (!m)
        return;
    m->stalled_ms = stalled_ms;
    ride_member_heartbeat_now(m->member);
}

void ride_worker_leave(ride_worker_member *m)
{
    if (!m)
        return;
    ride_member_close(m->member);
    free(m->stats);
    free(m->parts);
    free(m);
}
