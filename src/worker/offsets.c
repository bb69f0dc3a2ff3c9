/* offsets.c - the commit window of one partition (offsets.h). */
#include "offsets.h"

#include <stdlib.h>

#define INITIAL_CAPACITY 64u

/* The ring holds, oldest first, every taken offset from the committable one on:
 * its front is never done (done fronts are popped at once), later entries may be. */
struct ride_offset_tracker {
    int64_t *offsets;
    uint8_t *done;
    size_t cap; /* a power of two */
    size_t head;
    size_t count;
    size_t pending; /* entries not done */
    int64_t next;   /* last taken + 1, or the start */
};

ride_offset_tracker *ride_offset_tracker_new(int64_t start)
{
    if (start < 0 && start != RIDE_OFFSET_UNKNOWN)
        return NULL;
    ride_offset_tracker *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->next = start;
    return t;
}

void ride_offset_tracker_free(ride_offset_tracker *t)
{
    if (!t)
        return;
    free(t->offsets);
    free(t->done);
    free(t);
}

static size_t slot(const ride_offset_tracker *t, size_t i) { return (t->head + i) & (t->cap - 1); }

/* Doubles the ring, unrolling it so that the front is at index 0 again. */
static int grow(ride_offset_tracker *t)
{
    size_t cap = t->cap ? t->cap * 2 : INITIAL_CAPACITY;
    int64_t *offsets = malloc(cap * sizeof *offsets);
    uint8_t *done = malloc(cap);
    if (!offsets || !done) {
        free(offsets);
        free(done);
        return -1;
    }
    for (size_t i = 0; i < t->count; i++) {
        offsets[i] = t->offsets[slot(t, i)];
        done[i] = t->done[slot(t, i)];
    }
    free(t->offsets);
    free(t->done);
    t->offsets = offsets;
    t->done = done;
    t->cap = cap;
    t->head = 0;
    return 0;
}

int ride_offset_tracker_take(ride_offset_tracker *t, int64_t offset)
{
    if (offset < 0 || (t->next != RIDE_OFFSET_UNKNOWN && offset < t->next))
        return -1;
    if (t->count == t->cap && grow(t) != 0)
        return -1;
    size_t s = slot(t, t->count);
    t->offsets[s] = offset;
    t->done[s] = 0;
    t->count++;
    t->pending++;
    t->next = offset + 1;
    return 0;
}

/* Index (from the front) of offset in the ring, or count when absent. Without gaps
 * offset - front is the index; after a gap the sorted ring is bisected. */
static size_t find(const ride_offset_tracker *t, int64_t offset)
{
    if (t->count == 0 || offset < t->offsets[t->head])
        return t->count;
    uint64_t guess = (uint64_t)offset - (uint64_t)t->offsets[t->head];
    if (guess < t->count && t->offsets[slot(t, (size_t)guess)] == offset)
        return (size_t)guess;
    size_t lo = 0, hi = guess < t->count ? (size_t)guess : t->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->offsets[slot(t, mid)] < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->count && t->offsets[slot(t, lo)] == offset ? lo : t->count;
}

int ride_offset_tracker_done(ride_offset_tracker *t, int64_t offset)
{
    size_t i = find(t, offset);
    if (i == t->count || t->done[slot(t, i)])
        return -1;
    t->done[slot(t, i)] = 1;
    t->pending--;
    while (t->count > 0 && t->done[t->head]) {
        t->head = slot(t, 1);
        t->count--;
    }
    return 0;
}

int64_t ride_offset_tracker_committable(const ride_offset_tracker *t)
{
    return t->count > 0 ? t->offsets[t->head] : t->next;
}

int64_t ride_offset_tracker_position(const ride_offset_tracker *t) { return t->next; }

size_t ride_offset_tracker_pending(const ride_offset_tracker *t) { return t->pending; }
