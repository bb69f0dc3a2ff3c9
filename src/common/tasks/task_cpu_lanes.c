/* task_cpu_lanes.c - frames in flight through a CPU task (task_cpu_lanes.h). A
 * frame's decode and kernels run on its lane's thread, so that a stage uses as
 * many cores as it has lanes; each lane holds RIDE_TASK_CPU_FRAMES_PER_LANE frames,
 * so that it has the next frame at hand while the caller waits on another stage.
 * Frames change hands by exchanging buffers, never by copying them. One mutex
 * guards every slot's state: it is taken twice per frame. */
#include "tasks/task_cpu_lanes.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "base/clock.h"
#include "base/error.h"
#include "tasks/host.h"

typedef enum slot_state { SLOT_IDLE, SLOT_QUEUED, SLOT_DONE } slot_state;

/* A frame in flight. Slot i runs on lane i % lanes, so a lane's frames run in
 * the order they were submitted and the slots complete in order per lane. */
typedef struct slot {
    slot_state state; /* under ls->mu */
    ride_frame in, out;
    int rc;
    ride_frame_status rejected;
    char err[256];
} slot;

typedef struct lane {
    struct ride_task_cpu_lanes *ls;
    int index;
    void *ctx;
    pthread_t thread;
    bool started;
    pthread_cond_t work_cv;
} lane;

struct ride_task_cpu_lanes {
    ride_task_cpu_lane_fn fn;
    ride_task_cpu_lane_scale_fn scale;
    size_t max_frame_bytes;
    ride_pixel_format decode_as;
    pthread_mutex_t mu;
    pthread_cond_t done_cv;
    bool stop; /* under mu */
    lane *lanes;
    int count;
    slot *slots;
    int depth;
    int next_submit;
    int next_collect;
    int in_flight;
    int64_t busy_ns; /* under mu: every lane's time in run_frame, summed */
};

static void swap_frames(ride_frame *a, ride_frame *b)
{
    ride_frame t = *a;
    *a = *b;
    *b = t;
}

/* Asked only for a frame still encoded: its header's size is what the task would
 * otherwise get. */
static unsigned decode_scale(const ride_task_cpu_lanes *ls, const lane *l, const ride_frame *f)
{
    if (!ls->scale || !f->encoded.pending)
        return 1;
    return ls->scale(l->ctx, f->encoded.width, f->encoded.height);
}

static void run_frame(ride_task_cpu_lanes *ls, lane *l, slot *sl)
{
    sl->err[0] = '\0';
    sl->rejected = ride_frame_decode(&sl->in, ls->max_frame_bytes, ls->decode_as,
                                     decode_scale(ls, l, &sl->in));
    if (sl->rejected != RIDE_FRAME_OK) {
        snprintf(sl->err, sizeof sl->err, "%s", ride_frame_status_message(sl->rejected));
        sl->rc = -1;
        return;
    }
    sl->rc = ls->fn(l->ctx, &sl->in, &sl->out, sl->err, sizeof sl->err);
}

static void *lane_main(void *arg)
{
    lane *l = arg;
    ride_task_cpu_lanes *ls = l->ls;
    int next = l->index;
    prctl(PR_SET_NAME, "ride-lane"); /* what top -H and perf show for it */
    pthread_mutex_lock(&ls->mu);
    for (;;) {
        slot *sl = &ls->slots[next];
        while (!ls->stop && sl->state != SLOT_QUEUED)
            pthread_cond_wait(&l->work_cv, &ls->mu);
        if (ls->stop)
            break;
        pthread_mutex_unlock(&ls->mu);
        int64_t t0 = ride_clock_mono_ns();
        run_frame(ls, l, sl);
        int64_t ran_ns = ride_clock_mono_ns() - t0;
        pthread_mutex_lock(&ls->mu);
        ls->busy_ns += ran_ns;
        sl->state = SLOT_DONE;
        pthread_cond_broadcast(&ls->done_cv);
        next = (next + ls->count) % ls->depth;
    }
    pthread_mutex_unlock(&ls->mu);
    return NULL;
}

static int start_lanes(ride_task_cpu_lanes *ls, void *const *lane_ctx, char *err, size_t errlen)
{
    for (int i = 0; i < ls->count; i++) {
        lane *l = &ls->lanes[i];
        l->ls = ls;
        l->index = i;
        l->ctx = lane_ctx[i];
        pthread_cond_init(&l->work_cv, NULL);
        if (pthread_create(&l->thread, NULL, lane_main, l) != 0)
            return ride_set_error(err, errlen, "cannot start a CPU lane thread");
        l->started = true;
    }
    return 0;
}

ride_task_cpu_lanes *ride_task_cpu_lanes_new(int count, ride_task_cpu_lane_fn fn,
                                             ride_task_cpu_lane_scale_fn scale,
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
    slot *slots = calloc((size_t)count * RIDE_TASK_CPU_FRAMES_PER_LANE, sizeof *slots);
    if (!ls || !lanes || !slots) {
        free(ls);
        free(lanes);
        free(slots);
        return ride_set_error(err, errlen, "out of memory"), NULL;
    }
    ls->fn = fn;
    ls->scale = scale;
    ls->max_frame_bytes = max_frame_bytes;
    ls->decode_as = decode_as;
    ls->lanes = lanes;
    ls->count = count;
    ls->slots = slots;
    ls->depth = count * RIDE_TASK_CPU_FRAMES_PER_LANE;
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
    }
    for (int i = 0; i < ls->depth; i++) {
        ride_frame_free(&ls->slots[i].in);
        ride_frame_free(&ls->slots[i].out);
    }
    pthread_cond_destroy(&ls->done_cv);
    pthread_mutex_destroy(&ls->mu);
    free(ls->slots);
    free(ls->lanes);
    free(ls);
}

int ride_task_cpu_lanes_depth(const ride_task_cpu_lanes *ls) { return ls->depth; }

int64_t ride_task_cpu_lanes_busy_ns(ride_task_cpu_lanes *ls)
{
    pthread_mutex_lock(&ls->mu);
    int64_t busy = ls->busy_ns / ls->count;
    pthread_mutex_unlock(&ls->mu);
    return busy;
}

int ride_task_cpu_lanes_in_flight(const ride_task_cpu_lanes *ls) { return ls->in_flight; }

int ride_task_cpu_lanes_submit(ride_task_cpu_lanes *ls, ride_frame *in, char *err,
                               size_t errlen)
{
    if (ls->in_flight == ls->depth)
        return ride_set_error(err, errlen, "every CPU lane is full: collect a frame first");
    int i = ls->next_submit;
    slot *sl = &ls->slots[i];
    swap_frames(&sl->in, in);
    pthread_mutex_lock(&ls->mu);
    sl->state = SLOT_QUEUED;
    pthread_cond_signal(&ls->lanes[i % ls->count].work_cv);
    pthread_mutex_unlock(&ls->mu);
    ls->next_submit = (i + 1) % ls->depth;
    ls->in_flight++;
    return 0;
}

int ride_task_cpu_lanes_collect(ride_task_cpu_lanes *ls, int wait_ms, ride_frame *out,
                                ride_frame_status *rejected, void **lane_ctx, char *err,
                                size_t errlen)
{
    if (ls->in_flight == 0)
        return 0;
    int i = ls->next_collect;
    slot *sl = &ls->slots[i];
    struct timespec deadline = ride_clock_realtime_after_ms(wait_ms > 0 ? wait_ms : 0);
    pthread_mutex_lock(&ls->mu);
    while (wait_ms != 0 && sl->state != SLOT_DONE) {
        if (wait_ms < 0)
            pthread_cond_wait(&ls->done_cv, &ls->mu);
        else if (pthread_cond_timedwait(&ls->done_cv, &ls->mu, &deadline) != 0)
            break;
    }
    bool done = sl->state == SLOT_DONE;
    if (done)
        sl->state = SLOT_IDLE;
    pthread_mutex_unlock(&ls->mu);
    if (!done)
        return 0;
    ls->next_collect = (i + 1) % ls->depth;
    ls->in_flight--;
    *lane_ctx = ls->lanes[i % ls->count].ctx;
    *rejected = sl->rejected;
    if (sl->rc != 0) {
        ride_set_error(err, errlen, "%s", sl->err[0] ? sl->err : "the task failed");
        return -1;
    }
    swap_frames(out, &sl->out);
    return 1;
}
