/* offsets.h - which input offsets of one partition may be committed.
 *
 * Messages are "taken" in the order a consumer returns them (offsets strictly
 * increasing, with gaps allowed: compaction and transaction markers leave holes)
 * and become "done" in any order, when their frame's output is durable or their
 * frame is counted as dropped. The committable offset is the lowest offset taken
 * but not done, or the last taken + 1 once all are done: the oldest
 * unacknowledged message, where a new owner must resume.
 *
 * Memory is a ring of the outstanding messages only (taken, and not yet behind
 * the committable offset); take and done cost O(1) amortised when offsets are
 * contiguous, O(log n) to find an offset after a gap. One thread at a time. */
#ifndef RIDE_WORKER_OFFSETS_H
#define RIDE_WORKER_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

/* A start offset not known yet (e.g. "resume at the group's committed offset" when
 * nothing is committed): the first taken offset then defines it. */
#define RIDE_OFFSET_UNKNOWN INT64_C(-1)

typedef struct ride_offset_tracker ride_offset_tracker;

/* start: the committed offset the partition resumes at (>= 0), or
 * RIDE_OFFSET_UNKNOWN. NULL on a negative start other than that, or no memory. */
ride_offset_tracker *ride_offset_tracker_new(int64_t start);
void ride_offset_tracker_free(ride_offset_tracker *t);

/* Records a polled message. -1 when offset is negative, not above the last taken
 * offset, below the start, or on allocation failure (nothing is recorded). */
int ride_offset_tracker_take(ride_offset_tracker *t, int64_t offset);

/* Marks a taken message done. -1 when offset was not taken or is done already. */
int ride_offset_tracker_done(ride_offset_tracker *t, int64_t offset);

/* The offset to commit (next to read), or RIDE_OFFSET_UNKNOWN when the start was
 * unknown and nothing has been taken. */
int64_t ride_offset_tracker_committable(const ride_offset_tracker *t);

/* Last taken + 1 (the consumer's position), or the start when nothing was taken. */
int64_t ride_offset_tracker_position(const ride_offset_tracker *t);

/* Messages taken and not done. */
size_t ride_offset_tracker_pending(const ride_offset_tracker *t);

#endif
