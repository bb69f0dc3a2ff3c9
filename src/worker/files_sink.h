/* files_sink.h - the files sink of a stage's output: one file per frame under a
 * directory (docs/worker.md, "The files sink").
 *
 * Layout: <dir>/<stream id>/<seq>.<ext>, the stream id in decimal, the sequence
 * number zero-padded to 20 digits (every uint64_t) so that names sort by sequence,
 * ext "png", "jpg" or "raw". A raw file is the frame in the wire format
 * (docs/wire-format.md): its header then the raw pixel rows, so tools re-read it
 * with ride_frame_header_parse() or an assembler. A frame that carries metadata
 * also gets <dir>/<stream id>/<seq>.json, the metadata's JSON text as it came,
 * written (the same way) before the image file.
 *
 * A frame is written to a hidden temporary name in its final directory
 * (".<seq>.<ext>.<pid>.tmp"), then renamed over its final name: a reader never
 * sees a partial file, and a frame written again (a re-delivery after a
 * failover) replaces the first copy, so duplicates collapse into one file. There
 * is no fsync: a finished rename survives the process (SIGKILL included), not a
 * crash of the machine.
 *
 * One sink is used by one thread at a time. */
#ifndef RIDE_WORKER_FILES_SINK_H
#define RIDE_WORKER_FILES_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "wire/frame.h"

/* Longest name ride_files_sink_name() writes, without its terminating NUL:
 * 10 digits, '/', 20 digits, ".png". */
#define RIDE_FILES_SINK_NAME_MAX 35

/* The file name of frame (stream_id, seq) relative to the sink directory, e.g.
 * "17/00000000000000000042.png". Returns 0, or -1 when format is not an encoding
 * or buf is too small. */
int ride_files_sink_name(uint32_t stream_id, uint64_t seq, ride_encoding format, char *buf,
                         size_t len);

/* The label of a write failure for the sink error counter: "no_space"
 * (ENOSPC, EDQUOT), "permission" (EACCES, EPERM, EROFS), "path" (ENOENT,
 * ENOTDIR, EISDIR, ENAMETOOLONG, ELOOP), "io" for any other errno, and "encode"
 * for 0 (the frame could not be encoded). */
const char *ride_files_sink_reason(int errnum);

typedef struct ride_files_sink ride_files_sink;

/* dir must be an absolute path; it is created (with its parents) when the first
 * frame is written, not here, so a sink whose disk is not ready yet still starts. */
ride_files_sink *ride_files_sink_new(const char *dir, ride_encoding format, char *err,
                                     size_t errlen);
void ride_files_sink_free(ride_files_sink *s);

/* Writes frame f of input partition `partition`. Returns a RIDE_PIPELINE_SINK_*
 * value: WRITTEN; FAILED on a file system error (nothing is left behind); or
 * REJECTED when f's pixel format has no such encoding. On failure *reason is its
 * ride_files_sink_reason() label (NULL on success) and err says what failed. The
 * sink logs a failure once per partition and distinct error until a write of
 * that partition succeeds again (logged as sink_recovered): a failing disk is
 * retried many times and must not flood the log. */
int ride_files_sink_write(ride_files_sink *s, int32_t partition, const ride_frame *f,
                          const char **reason, char *err, size_t errlen);

#endif
