/* task_cpu_lanes.c - frames in flight through a CPU task (task_cpu_lanes.h). A
 * frame's decode and kernels run on its lane's thread, so that a stage uses as
 * many cores as it has lanes; frames change hands by exchanging buffers, never by
 * copying them. One mutex guards every lane's state: it is taken twice per frame. */
#include "tasks/task_cpu_lanes.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "tasks/host.h"

typedef enum lane_state { LANE_IDLE, LANE_QUEUED, LANE_DONE } lane_state;

typedef struct lane {
    struct ride_task_cpu_lanes *ls;
    void *ctx;
    pthread_t thread;
    bool started;
    pthread_cond_t work_cv;
    lane_state state; /* under ls->mu */
    ride_frame in, out;
    int rc;
    ride_frame_status rejected;
    char err[256];
} lane;

struct ride_task_cpu_lanes {
    ride_task_cpu_lane_fn fn;
    size_t max_frame_bytes;
    ride_pixel_format decode_as;
    pthread_mutex_t mu;
    pthread_cond_t done_cv;
    bool stop; /* under mu */
    lane *lanes;
    int count;
    int next_submit;
    int next_collect;
    int in_flight;
};

static void swap_frames(ride_frame *a, ride_frame *b)
{
    ride_frame t = *a;
    *a = *b;
    *b = t;
}

static void run_frame(lane *l)
{
    ride_task_cpu_lanes *ls = l->ls;
    l->err[0] = '\0';
    l->rejected = ride_frame_decode(&l->in, ls->max_frame_bytes, ls->decode_as);
    if (l->rejected != RIDE_FRAME_OK) {
        snprintf(l->err, sizeof l->err, "%s", ride_frame_status_message(l->rejected));
        l->rc = -1;
        return;
    }
    l->rc = ls->fn(l->ctx, &l->in, &l->out, l->err, sizeof l->err);
}

static void *lane_main(void *arg)
{
    lane *l = arg;
    ride_task_cpu_lanes *ls = l->ls;
    pthread_mutex_lock(&ls->mu);
    for (;;) {
        while (!ls->stop && l->state != LANE_QUEUED)
            pthread_cond_wait(&l->work_cv, &ls->mu);
        if (ls->stop)
            break;
        pthread_mutex_unlock(&ls->mu);
        run_frame(l);
        pthread_mutex_lock(&ls->mu);
        l->state = LANE_DONE;
        pthread_cond_broadcast(&ls->done_cv);
    }
    pthread_mutex_unlock(&ls->mu);
    return NULL;
}

static int start_lanes(ride_task_cpu_lanes *ls, void *const *lane_ctx, char *err, size_t errlen)
{
    for (int i = 0; i < ls->count; i++) {
        lane *l = &ls->lanes[i];
        l->ls = ls;
        l->ctx = lane_ctx[i];
        pthread_cond_init(&l->work_cv, NULL);
        if (pthread_create(&l->thread, NULL, lane_main, l) != 0)
            return ride_set_error(err, errlen, "cannot start a CPU lane thread");
        l->started = true;
    }
    return 0;
}

ride_task_cpu_lanes *ride_task_cpu_lanes_new(int count, ride_task_cpu_lane_fn fn,
                                             void *const *lane_ctx, size_t max_frame_bytes,
                                             ride_pixel_format decode_as, char *err,
                                             size_t errlen)
{
    if (count < 1 || count > RIDE_TASK_CPU_MAX_LANES || !fn || !lane_ctx)
        return ride_set_error(err, errlen, "CPU lanes need 1..%d lanes and a function",
                              RIDE_TASK_CPU_MAX_LANES),
               NULL;
    ride_task_cpu_lanes *ls = calloc(1, sizeof *ls);
    lane *lanes = calloc((size_t)count, sizeof *lanes);
    if (!ls || !lanes) {
        free(ls);
        free(lanes);
        return ride_set_error(err, errlen, "out of memory"), NULL;
    }
    ls->fn = fn;
    ls->max_frame_bytes = max_frame_bytes;
    ls->decode_as = decode_as;
    ls->lanes = lanes;
    ls->count = count;
    pthread_mutex_init(&ls->mu, NULL);
    pthread_cond_init(&ls->done_cv, NULL);
    if (start_lanes(ls, lane_ctx, err, errlen) != 0) {
        ride_task_cpu_lanes_free(ls);
        return NULL;
    }
    return ls;
}

void ride_task_cpu_lanes_free(ride_task_cpu_lanes *ls)
{
    if (!ls)
        return;
    pthread_mutex_lock(&ls->mu);
    ls->stop = true;
    for (int i = 0; i < ls->count; i++)
        pthread_cond_signal(&ls->lanes[i].work_cv);
    pthread_mutex_unlock(&ls->mu);
    for (int i = 0; i < ls->count; i++) {
        lane *l = &ls->lanes[i];
        if (l->started)
            pthread_join(l->thread, NULL);
        if (l->ls)
            pthread_cond_destroy(&l->work_cv);
        ride_frame_free(&l->in);
        ride_frame_free(&l->out);
    }
    pthread_cond_destroy(&ls->done_cv);
    pthread_mutex_destroy(&ls->mu);
    free(ls->lanes);
    free(ls);
}

int ride_task_cpu_lanes_depth(const ride_task_cpu_lanes *ls) { return ls->count; }

int ride_task_cpu_lanes_in_flight(const ride_task_cpu_lanes *ls) { return ls->in_flight; }

int ride_task_cpu_lanes_submit(ride_task_cpu_lanes *ls, ride_frame *in, char *err,
                               size_t errlen)
{
    if (ls->in_flight == ls->count)
        return ride_set_error(err, errlen, "every CPU lane has a frame: collect one first");
    lane *l = &ls->lanes[ls->next_submit];
    swap_frames(&l->in, in);
    pthread_mutex_lock(&ls->mu);
    l->state = LANE_QUEUED;
    pthread_cond_signal(&l->work_cv);
    pthread_mutex_unlock(&ls->mu);
    ls->next_submit = (ls->next_submit + 1) % ls->count;
    ls->in_flight++;
    return 0;
}

int ride_task_cpu_lanes_collect(ride_task_cpu_lanes *ls, int wait, ride_frame *out,
                                ride_frame_status *rejected, void **lane_ctx, char *err,
                                size_t errlen)
{
    if (ls->in_flight == 0)
        return 0;
    lane *l = &ls->lanes[ls->next_collect];
    pthread_mutex_lock(&ls->mu);
    while (wait && l->state != LANE_DONE)
        pthread_cond_wait(&ls->done_cv, &ls->mu);
    bool done = l->state == LANE_DONE;
    if (done)
        l->state = LANE_IDLE;
    pthread_mutex_unlock(&ls->mu);
    if (!done)
        return 0;
    ls->next_collect = (ls->next_collect + 1) % ls->count;
    ls->in_flight--;
    *lane_ctx = l->ctx;
    *rejected = l->rejected;
    if (l->rc != 0) {
        ride_set_error(err, errlen, "%s", l->err[0] ? l->err : "the task failed");
        return -1;
    }
    swap_frames(out, &l->out);
    return 1;
}
