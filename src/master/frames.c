/* frames.c - Kafka offsets count messages, and a frame larger than one message is
 * several (docs/wire-format.md); this turns the lag into frames with the mean
 * messages per frame that a topic's writers report in their heartbeats (the
 * producers per source, the upstream stage's workers per partition). The figure is
 * an estimate wherever frames of one topic differ in chunk count (docs/decisions.md). */
#include <math.h>
#include <string.h>

#include "master.h"

static void add_written(ride_master_written *w, int64_t frames, int64_t messages)
{
    /* No message count: a member that does not report one, or nothing written yet. */
    if (messages <= 0 || frames <= 0)
        return;
    w->frames += frames;
    w->messages += messages;
}

void ride_master_count_written(const ride_cluster_heartbeat *hb, const char *app,
                               const ride_manifest *man, const ride_stage *stage,
                               ride_master_written *w)
{
    for (size_t i = 0; i < hb->source_count; i++) {
        const ride_cluster_hb_source *s = &hb->sources[i];
        if (strcmp(s->app, app) == 0 && ride_master_reader(man, s->source) == stage)
            add_written(w, s->frames_produced, s->messages_produced);
    }
    for (size_t i = 0; i < hb->partition_count; i++) {
        const ride_cluster_hb_partition *p = &hb->partitions[i];
        if (strcmp(p->app, app) == 0 && ride_master_reader(man, p->stage) == stage)
            add_written(w, p->frames_processed, p->messages_written);
    }
}

double ride_master_messages_per_frame(const ride_master_written *w)
{
    return w->frames > 0 ? (double)w->messages / (double)w->frames : 0;
}

int64_t ride_master_frames_of(int64_t messages, double per_frame)
{
    if (messages <= 0)
        return messages;
    if (!(per_frame > 0))
        return -1;
    int64_t frames = llround((double)messages / per_frame);
    return frames > 0 ? frames : 1;
}

void ride_master_measure_frames(ride_master *m)
{
    for (size_t a = 0; a < m->app_count; a++) {
        ride_master_app *app = m->apps[a];
        for (size_t s = 0; s < app->m.stage_count; s++) {
            ride_master_written w = {0, 0};
            for (size_t i = 0; i < m->member_count; i++)
                if (m->members[i].hb_known)
                    ride_master_count_written(&m->members[i].hb, app->name, &app->m,
                                              app->stages[s].st, &w);
            double per_frame = ride_master_messages_per_frame(&w);
            if (per_frame > 0)
                app->stages[s].messages_per_frame = per_frame;
        }
    }
}
