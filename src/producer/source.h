/* source.h - the producer's frame sources: one reader per manifest source
 * (synthetic generator, video file, image directory or glob, RTSP or V4L2
 * camera) that hands out BGR8 frames with consecutive sequence numbers.
 *
 * Pacing. Live sources (rtsp, v4l2) are paced by the camera: a read waits for
 * the next frame it sends. Synthetic and file sources are paced at fps (the
 * manifest's fps, else the stream's declared rate, else 30) on an absolute
 * schedule: frame n is due at start + n/fps, so rounding never accumulates into
 * drift. When the caller falls more than one frame interval behind, the missed
 * slots are counted in `late` and the schedule is re-anchored at the current
 * frame: no source frame is skipped and no burst follows a stall. With pace
 * max, frames come as fast as they are asked for.
 *
 * Live sources connect lazily and reconnect forever: a failed open or a
 * broken stream is retried after an exponential backoff with equal jitter
 * (each delay is drawn in [base/2, base], base doubling from backoff_min_ms up
 * to backoff_max_ms), so retries of many producers do not synchronise and a
 * dead camera never busy-loops.
 *
 * A reader is used by one thread at a time. */
#ifndef RIDE_PRODUCER_SOURCE_H
#define RIDE_PRODUCER_SOURCE_H

#include <stdint.h>

#include "spec/manifest.h"
#include "wire/frame.h"

typedef struct ride_source_reader ride_source_reader;

typedef struct ride_source_reader_opts {
    uint32_t stream_id;
    uint64_t first_seq;    /* sequence number of the first frame (resuming a stream) */
    int timeout_ms;        /* live sources: bound on opening and on each read; 0: 5000 */
    int backoff_min_ms;    /* live sources: first reconnect delay bound; 0: 500 */
    int backoff_max_ms;    /* live sources: cap of the reconnect delay; 0: 10000 */
} ride_source_reader_opts;

typedef struct ride_source_reader_stats {
    uint64_t frames;           /* frames handed out */
    uint64_t unreadable;       /* image files skipped because they could not be read */
    uint64_t late;             /* schedule slots missed because reads came too late */
    uint64_t loops;            /* times a looping file source started over */
    uint64_t connect_failures; /* live sources: failed opens */
    uint64_t disconnects;      /* live sources: streams that ended or failed after opening */
    uint64_t reconnects;       /* live sources: open attempts after the first */
    int64_t last_backoff_ms;   /* live sources: the latest delay drawn before a retry */
    int connected;             /* live sources: a stream is open now */
} ride_source_reader_stats;

/* Outcome of ride_source_reader_next(). */
typedef enum ride_source_read {
    RIDE_SOURCE_ERROR = -1, /* unusable source (reason in err) */
    RIDE_SOURCE_EOF = 0,    /* a file source ended and does not loop */
    RIDE_SOURCE_FRAME = 1,  /* *out holds the next frame */
    RIDE_SOURCE_AGAIN = 2,  /* nothing yet (pacing or reconnect pending): call again */
} ride_source_read;

/* Opens src for reading. opts NULL: stream 0 from seq 0 with the defaults.
 * Files and images are checked and listed here (a missing video file, an empty
 * directory or a glob without matches is an error); live sources are not
 * contacted before the first read. Returns NULL with the reason in err. */
ride_source_reader *ride_source_reader_open(const ride_source *src,
                                            const ride_source_reader_opts *opts, char *err,
                                            size_t errlen);
void ride_source_reader_close(ride_source_reader *r);

/* Reads the next frame into *out (zeroed, or a frame from an earlier call whose
 * image buffer is reused). Waits for the frame's due time or a pending
 * reconnect for at most max_wait_ms (< 0: as long as needed), returning
 * RIDE_SOURCE_AGAIN when the wait was cut short; a live read itself is bounded
 * by the reader's timeout_ms. capture_ns is the wall clock at capture. */
ride_source_read ride_source_reader_next(ride_source_reader *r, ride_frame *out, int max_wait_ms,
                                         char *err, size_t errlen);

/* The rate the reader paces at (0 for live sources and pace max). */
double ride_source_reader_fps(const ride_source_reader *r);
void ride_source_reader_stats_get(const ride_source_reader *r, ride_source_reader_stats *out);

#endif
