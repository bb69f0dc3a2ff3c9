/* openmp_env.c - OMP_WAIT_POLICY=PASSIVE for a daemon that runs kernels
 * (base/openmp_env.h). libgomp reads its environment in a constructor, before
 * main runs: a setenv in main alone would be too late, hence the execution again. */
#include "base/openmp_env.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

#define POLICY "OMP_WAIT_POLICY"

void ride_openmp_wait_passively(char **argv)
{
    if (getenv(POLICY) || setenv(POLICY, "PASSIVE", 1) != 0)
        return;
    /* The program's own path, not /proc/self/exe: the kernel names a process
     * after the file it executes, and ps should still show ride-worker. */
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) {
        ride_log_debug("openmp_passive", "action=none error=\"%s\"", strerror(errno));
        return;
    }
    path[n] = '\0';
    ride_log_debug("openmp_passive", "action=reexec " POLICY "=PASSIVE");
    execv(path, argv);
    ride_log_debug("openmp_passive", "action=none error=\"%s\"", strerror(errno));
}
