/* budget.c - kernel threads from the worker's cores and the workers of this
 * machine (budget.h). A worker is counted while it holds the flock of its file;
 * the counting removes a dead worker's file under that file's lock, so a worker
 * that took the lock checks that its path still names the file it locked. */
#include "budget.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"

#define SUFFIX ".worker"

int ride_worker_kernel_threads(int requested, int worker_threads, int online_cores,
                               int workers_here, int stages_here)
{
    if (requested > 0)
        return requested;
    int cores = worker_threads > 0 ? worker_threads : online_cores;
    int share = cores / (workers_here > 1 ? workers_here : 1) / (stages_here > 1 ? stages_here : 1);
    return share > 1 ? share : 1;
}

const char *ride_worker_presence_dir(char *buf, size_t len)
{
    const char *state = getenv("STATE_DIRECTORY");
    int n;
    if (state && state[0]) {
        /* Several StateDirectory= entries come colon-separated: the first is ours. */
        n = snprintf(buf, len, "%.*s/workers", (int)strcspn(state, ":"), state);
    } else {
        n = snprintf(buf, len, "/tmp/ride-workers-%ld", (long)getuid());
    }
    return n > 0 && (size_t)n < len ? buf : NULL;
}

/* Whether path still names the file open as fd. */
static bool names_locked_file(const char *path, int fd)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

struct ride_worker_presence {
    int fd;
    char path[];
};

ride_worker_presence *ride_worker_presence_join(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        ride_set_error(err, errlen, "%s: %s", dir, strerror(errno));
        return NULL;
    }
    size_t len = strlen(dir) + 32;
    ride_worker_presence *p = malloc(sizeof *p + len);
    if (!p) {
        ride_set_error(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(p->path, len, "%s/%ld" SUFFIX, dir, (long)getpid());
    while ((p->fd = open(p->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) >= 0) {
        /* Blocking: a worker counting the directory holds its probe of this file
         * for a moment, and may remove it as a dead worker's (same pid). */
        if (flock(p->fd, LOCK_EX) != 0)
            break;
        if (names_locked_file(p->path, p->fd))
            return p;
        close(p->fd);
    }
    ride_set_error(err, errlen, "%s: %s", p->path, strerror(errno));
    if (p->fd >= 0)
        close(p->fd);
    free(p);
    return NULL;
}

void ride_worker_presence_leave(ride_worker_presence *p)
{
    if (!p)
        return;
    unlink(p->path);
    close(p->fd);
    free(p);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* Whether another open file description holds the file's lock: the lock of a
 * live worker, this one's own included, since flock locks are per description.
 * An unlocked file is a dead worker's and is removed while locked here. */
static bool is_live(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    bool live = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    if (!live)
        unlinkat(dirfd, name, 0);
    close(fd);
    return live;
}

int ride_worker_presence_count(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (ends_with(e->d_name, SUFFIX) && is_live(dirfd(d), e->d_name))
            count++;
    closedir(d);
    return count;
}
