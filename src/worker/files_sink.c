/* files_sink.c - one file per output frame (files_sink.h). */
#include "files_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline.h"
#include "base/error.h"
#include "base/log.h"
#include "spec/manifest.h"

/* The key under which an encoding failure is remembered for logging: errno
 * values are positive. */
#define ENCODE_FAILED (-1)

struct ride_files_sink {
    char *dir;
    ride_encoding format;
    pid_t pid;
    /* Per partition: the error last logged (an errno or ENCODE_FAILED), 0 when
     * the last write succeeded. */
    int *logged;
    /* Path buffers of path_cap bytes: <dir>/<stream>, the temporary and the final name. */
    char *stream_dir;
    char *tmp_path;
    char *final_path;
    size_t path_cap;
};

static const char *extension(ride_encoding format)
{
    switch (format) {
    case RIDE_ENC_RAW: return "raw";
    case RIDE_ENC_JPEG: return "jpg";
    case RIDE_ENC_PNG: return "png";
    }
    return NULL;
}

int ride_files_sink_name(uint32_t stream_id, uint64_t seq, ride_encoding format, char *buf,
                         size_t len)
{
    const char *ext = extension(format);
    if (!ext)
        return -1;
    int n = snprintf(buf, len, "%" PRIu32 "/%020" PRIu64 ".%s", stream_id, seq, ext);
    return n >= 0 && (size_t)n < len ? 0 : -1;
}

const char *ride_files_sink_reason(int errnum)
{
    switch (errnum) {
    case 0: return "encode";
    case ENOSPC:
    case EDQUOT: return "no_space";
    case EACCES:
    case EPERM:
    case EROFS: return "permission";
    case ENOENT:
    case ENOTDIR:
    case EISDIR:
    case ENAMETOOLONG:
    case ELOOP: return "path";
    default: return "io";
    }
}

ride_files_sink *ride_files_sink_new(const char *dir, ride_encoding format, char *err,
                                     size_t errlen)
{
    if (!dir || dir[0] != '/') {
        ride_set_error(err, errlen, "files sink: output path '%s' is not absolute",
                       dir ? dir : "");
        return NULL;
    }
    if (!extension(format)) {
        ride_set_error(err, errlen, "files sink: invalid output format %d", (int)format);
        return NULL;
    }
    ride_files_sink *s = calloc(1, sizeof *s);
    size_t cap = strlen(dir) + RIDE_FILES_SINK_NAME_MAX + 32;
    if (!s || !(s->dir = strdup(dir)) || !(s->logged = calloc(RIDE_PARTITIONS_MAX, sizeof *s->logged)) ||
        !(s->stream_dir = malloc(cap)) || !(s->tmp_path = malloc(cap)) ||
        !(s->final_path = malloc(cap))) {
        ride_files_sink_free(s);
        ride_set_error(err, errlen, "out of memory");
        return NULL;
    }
    s->path_cap = cap;
    s->format = format;
    s->pid = getpid();
    return s;
}

void ride_files_sink_free(ride_files_sink *s)
{
    if (!s)
        return;
    free(s->dir);
    free(s->logged);
    free(s->stream_dir);
    free(s->tmp_path);
    free(s->final_path);
    free(s);
}

/* mkdir -p: creates path and its missing parents. Returns 0 or an errno. */
static int make_dirs(char *path)
{
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        int rc = mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : errno;
        *p = c;
        if (rc)
            return rc;
        if (c == '\0')
            return 0;
    }
}

/* Fills the three path buffers for frame f's file with extension ext. */
static void frame_paths(ride_files_sink *s, const ride_frame *f, const char *ext)
{
    snprintf(s->stream_dir, s->path_cap, "%s/%" PRIu32, s->dir, f->stream_id);
    snprintf(s->final_path, s->path_cap, "%s/%020" PRIu64 ".%s", s->stream_dir, f->seq, ext);
    snprintf(s->tmp_path, s->path_cap, "%s/.%020" PRIu64 ".%s.%ld.tmp", s->stream_dir, f->seq,
             ext, (long)s->pid);
}

typedef struct file_writer {
    int fd;
    int raw;    /* keep the wire header: the raw layout is a wire-format frame */
    int errnum; /* the write's errno, 0 while none failed */
} file_writer;

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Receives the frame's wire messages: an encoded image is the concatenation of
 * their payloads, a raw file the messages themselves. A header that carries
 * metadata is longer than RIDE_FRAME_HEADER_LEN: its length is at bytes 6..7. */
static int emit_to_file(void *ctx, const uint8_t *msg, size_t len)
{
    file_writer *fw = ctx;
    size_t skip = fw->raw ? 0 : ((size_t)msg[6] | (size_t)msg[7] << 8);
    fw->errnum = write_all(fw->fd, msg + skip, len - skip);
    return fw->errnum ? -1 : 0;
}

static int open_temporary(ride_files_sink *s)
{
    int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
    int fd = open(s->tmp_path, flags, 0644);
    if (fd < 0 && errno == ENOENT) {
        int rc = make_dirs(s->stream_dir);
        if (rc) {
            errno = rc;
            return -1;
        }
        fd = open(s->tmp_path, flags, 0644);
    }
    return fd;
}

/* Closes fd (close() reports delayed write errors on some file systems, NFS
 * quotas) and, when everything went well, renames the temporary file over the
 * final name; on failure the temporary file is removed. Returns rc or the new
 * errno. */
static int finish_file(ride_files_sink *s, int fd, int rc, char *err, size_t errlen)
{
    if (close(fd) != 0 && rc == 0) {
        rc = errno;
        ride_set_error(err, errlen, "%s: %s", s->tmp_path, strerror(rc));
    }
    if (rc == 0 && rename(s->tmp_path, s->final_path) != 0) {
        rc = errno;
        ride_set_error(err, errlen, "%s: %s", s->final_path, strerror(rc));
    }
    if (rc != 0)
        unlink(s->tmp_path);
    return rc;
}

/* The frame's metadata as <seq>.json beside the image, written first so that
 * whoever sees the image finds its metadata. Returns 0 or an errno. */
static int write_metadata_file(ride_files_sink *s, const ride_frame *f, char *err, size_t errlen)
{
    frame_paths(s, f, "json");
    int fd = open_temporary(s);
    if (fd < 0) {
        int e = errno;
        ride_set_error(err, errlen, "%s: %s", s->tmp_path, strerror(e));
        return e;
    }
    int rc = write_all(fd, (const uint8_t *)f->metadata, f->metadata_len);
    if (rc)
        ride_set_error(err, errlen, "%s: %s", s->tmp_path, strerror(rc));
    return finish_file(s, fd, rc, err, errlen);
}

/* Writes the temporary file and renames it over the final name. Returns 0, an
 * errno, or ENCODE_FAILED; nothing is left behind on failure. */
static int write_frame_file(ride_files_sink *s, const ride_frame *f, char *err, size_t errlen)
{
    if (f->metadata_len > 0) {
        int rc = write_metadata_file(s, f, err, errlen);
        if (rc)
            return rc;
    }
    frame_paths(s, f, extension(s->format));
    file_writer fw = {.fd = open_temporary(s), .raw = s->format == RIDE_ENC_RAW};
    if (fw.fd < 0) {
        int e = errno;
        ride_set_error(err, errlen, "%s: %s", s->tmp_path, strerror(e));
        return e;
    }
    /* One message per frame: an image file is one payload. */
    ride_frame_write_opts wo = {s->format, -1, SIZE_MAX};
    char werr[256] = "";
    int rc = 0;
    if (ride_frame_write(f, &wo, emit_to_file, &fw, werr, sizeof werr) != 0) {
        rc = fw.errnum ? fw.errnum : ENCODE_FAILED;
        if (fw.errnum)
            ride_set_error(err, errlen, "%s: %s", s->tmp_path, strerror(fw.errnum));
        else
            ride_set_error(err, errlen, "cannot encode as %s: %s", ride_encoding_name(s->format),
                           werr);
    }
    return finish_file(s, fw.fd, rc, err, errlen);
}

/* Logs a failure once per partition and error, and the first success after it. */
static void note_outcome(ride_files_sink *s, int32_t partition, const ride_frame *f, int rc,
                         const char *err)
{
    int none = 0;
    int *logged = partition >= 0 && partition < RIDE_PARTITIONS_MAX ? &s->logged[partition] : &none;
    if (*logged == rc)
        return;
    if (rc == 0) {
        ride_log_info("sink_recovered", "dir=%s partition=%d", s->dir, (int)partition);
    } else {
        char q[512];
        ride_log_error("sink_write_failed",
                       "dir=%s partition=%d stream=%" PRIu32 " seq=%" PRIu64 " reason=%s error=%s",
                       s->dir, (int)partition, f->stream_id, f->seq,
                       ride_files_sink_reason(rc == ENCODE_FAILED ? 0 : rc),
                       ride_log_quote(err, q, sizeof q));
    }
    *logged = rc;
}

int ride_files_sink_write(ride_files_sink *s, int32_t partition, const ride_frame *f,
                          const char **reason, char *err, size_t errlen)
{
    char msg[512] = "";
    int rc = write_frame_file(s, f, msg, sizeof msg);
    note_outcome(s, partition, f, rc, msg);
    *reason = rc == 0 ? NULL : ride_files_sink_reason(rc == ENCODE_FAILED ? 0 : rc);
    if (rc == 0)
        return RIDE_PIPELINE_SINK_WRITTEN;
    ride_set_error(err, errlen, "%s", msg);
    return rc == ENCODE_FAILED ? RIDE_PIPELINE_SINK_REJECTED : RIDE_PIPELINE_SINK_FAILED;
}
