/* share.c - one writer's share of a partition's budget (kafka/share.h). The
 * delivered messages wait in a ring in offset order until the reader's committed
 * offset passes them; the writer's own messages reach one partition in the
 * order it produced them, so the oldest is always at the head. */
#include "kafka/share.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct unread {
    int64_t offset;
    uint64_t bytes;
} unread;

struct ride_share {
    const ride_backlog *backlog;
    int32_t partition;
    uint64_t limit;
    bool strict;

    pthread_mutex_t mu;
    uint64_t reserved;
    uint64_t unread_bytes;
    unread *ring;
    size_t head, count, cap;
    int64_t last_offset; /* the highest offset delivered, -1 before any */
    /* A successor's share is full until the reader has consumed up to barrier,
     * the log end read by the first refresh that started after it took over (-1:
     * not read yet). */
    uint64_t barrier_refreshes;
    int64_t barrier;
    bool barrier_passed;
};

static bool figures(const ride_share *s, int64_t *end, int64_t *consumed, uint64_t *refreshes)
{
    return s->backlog &&
           ride_backlog_figures(s->backlog, s->partition, end, consumed, refreshes);
}

/* The barrier is the log end a refresh reads after this call: it started after
 * the one in progress now, if any, was published. */
static void raise_barrier(ride_share *s)
{
    int64_t end, consumed;
    uint64_t refreshes = 0;
    figures(s, &end, &consumed, &refreshes);
    s->barrier_refreshes = refreshes + 2;
    s->barrier = -1;
    s->barrier_passed = false;
}

ride_share *ride_share_new(const ride_backlog *b, int32_t partition, uint64_t limit, bool strict,
                           bool successor)
{
    ride_share *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    *s = (ride_share){.backlog = b, .partition = partition, .limit = limit, .strict = strict,
                      .last_offset = -1, .barrier_passed = true};
    if (successor)
        raise_barrier(s);
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void ride_share_restart(ride_share *s)
{
    pthread_mutex_lock(&s->mu);
    raise_barrier(s);
    pthread_mutex_unlock(&s->mu);
}

void ride_share_free(ride_share *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s->ring);
    free(s);
}

uint64_t ride_share_of_budget(uint64_t budget, int writers)
{
    return budget / (uint64_t)((writers < 1 ? 1 : writers) + 1);
}

uint64_t ride_share_frame_bytes(size_t messages, uint64_t payload)
{
    return payload + (uint64_t)messages * RIDE_SHARE_MESSAGE_OVERHEAD;
}

static bool push_unread(ride_share *s, int64_t offset, uint64_t bytes)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        unread *grown = malloc(cap * sizeof *grown);
        if (!grown)
            return false;
        for (size_t i = 0; i < s->count; i++)
            grown[i] = s->ring[(s->head + i) % s->cap];
        free(s->ring);
        s->ring = grown;
        s->head = 0;
        s->cap = cap;
    }
    s->ring[(s->head + s->count) % s->cap] = (unread){offset, bytes};
    s->count++;
    s->unread_bytes += bytes;
    return true;
}

/* Drops what the reader has consumed; false while its position is unknown or,
 * for a new share, behind what was written before the share existed. */
static bool settle(ride_share *s)
{
    int64_t end, consumed;
    uint64_t refreshes;
    if (!figures(s, &end, &consumed, &refreshes) || consumed < 0)
        return false;
    while (s->count > 0 && s->ring[s->head].offset < consumed) {
        s->unread_bytes -= s->ring[s->head].bytes;
        s->head = (s->head + 1) % s->cap;
        s->count--;
    }
    if (s->barrier_passed)
        return true;
    if (s->barrier < 0 && refreshes >= s->barrier_refreshes)
        s->barrier = end;
    s->barrier_passed = s->barrier >= 0 && consumed >= s->barrier;
    return s->barrier_passed;
}

/* Strict: the bytes fit beside what is counted, once the reader's position is
 * known and past the barrier. Otherwise an empty share also admits them. */
static ride_share_admit admit(ride_share *s, uint64_t bytes)
{
    bool known = settle(s);
    if (s->strict && bytes > s->limit)
        return RIDE_SHARE_NEVER;
    uint64_t used = s->reserved + (known ? s->unread_bytes : 0);
    if (s->strict && !known)
        return RIDE_SHARE_FULL;
    if (used + bytes <= s->limit || (!s->strict && used == 0))
        return RIDE_SHARE_ADMITTED;
    return RIDE_SHARE_FULL;
}

ride_share_admit ride_share_reserve(ride_share *s, uint64_t bytes)
{
    pthread_mutex_lock(&s->mu);
    ride_share_admit a = admit(s, bytes);
    if (a == RIDE_SHARE_ADMITTED)
        s->reserved += bytes;
    pthread_mutex_unlock(&s->mu);
    return a;
}

bool ride_share_has_room(ride_share *s, uint64_t bytes)
{
    pthread_mutex_lock(&s->mu);
    ride_share_admit a = admit(s, bytes);
    pthread_mutex_unlock(&s->mu);
    return a == RIDE_SHARE_ADMITTED;
}

static void take_reserved(ride_share *s, uint64_t bytes)
{
    s->reserved -= bytes < s->reserved ? bytes : s->reserved;
}

void ride_share_unreserve(ride_share *s, uint64_t bytes)
{
    pthread_mutex_lock(&s->mu);
    take_reserved(s, bytes);
    pthread_mutex_unlock(&s->mu);
}

/* Out of memory, the message's bytes stay reserved for good: the share shrinks
 * rather than forgetting bytes the reader has not consumed. */
static void count_unread(ride_share *s, int64_t offset, uint64_t bytes)
{
    if (push_unread(s, offset, bytes))
        take_reserved(s, bytes);
}

void ride_share_written(ride_share *s, int64_t last_offset, uint64_t bytes)
{
    pthread_mutex_lock(&s->mu);
    if (!s->backlog) {
        take_reserved(s, bytes);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    int64_t end, consumed;
    if (last_offset < 0) {
        last_offset = s->last_offset;
        if (figures(s, &end, &consumed, NULL) && end - 1 > last_offset)
            last_offset = end - 1;
    }
    if (last_offset > s->last_offset)
        s->last_offset = last_offset;
    count_unread(s, last_offset, bytes);
    pthread_mutex_unlock(&s->mu);
}

uint64_t ride_share_used(ride_share *s)
{
    pthread_mutex_lock(&s->mu);
    settle(s);
    uint64_t used = s->reserved + s->unread_bytes;
    pthread_mutex_unlock(&s->mu);
    return used;
}

uint64_t ride_share_limit(const ride_share *s)
{
    return s->limit;
}
