/* Child processes of ride-demo and the integration harness. A registry of the live
 * ones lets an atexit handler kill whatever an early return or a failed test
 * assertion left running. */
#define _GNU_SOURCE
#include "launch_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"

extern char **environ;

#define POLL_INTERVAL_NS 5000000LL

struct ride_launch_proc {
    pid_t pid;
    bool exited;
    int status;
    ride_launch_proc *next;
};

static ride_launch_proc *live;
static bool atexit_registered;

bool ride_launch_wait_until(bool (*cond)(void *ctx), void *ctx, int timeout_ms)
{
    int64_t deadline = ride_clock_mono_ns() + (int64_t)timeout_ms * 1000000LL;
    while (ride_clock_mono_ns() < deadline) {
        if (cond(ctx))
            return true;
        ride_clock_sleep_until_ns(ride_clock_mono_ns() + POLL_INTERVAL_NS);
    }
    return cond(ctx);
}

/* At exit nothing may outlive the parent: every group still registered is killed. */
static void kill_live_at_exit(void)
{
    while (live) {
        ride_launch_proc *p = live;
        live = p->next;
        kill(-p->pid, SIGKILL);
        if (!p->exited)
            waitpid(p->pid, NULL, 0);
        free(p);
    }
}

static void unregister(ride_launch_proc *p)
{
    for (ride_launch_proc **it = &live; *it; it = &(*it)->next) {
        if (*it == p) {
            *it = p->next;
            return;
        }
    }
}

/* environ plus the extra "KEY=VALUE" entries; an extra entry replaces an inherited
 * one with the same key. Built before fork: the child may only exec. */
static char **build_env(const char *const env[])
{
    size_t inherited = 0, extra = 0;
    while (environ && environ[inherited])
        inherited++;
    while (env && env[extra])
        extra++;
    char **out = calloc(inherited + extra + 1, sizeof *out);
    if (!out)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < inherited; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t keylen = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
        bool overridden = false;
        for (size_t j = 0; j < extra && !overridden; j++)
            overridden = strncmp(env[j], environ[i], keylen) == 0;
        if (!overridden)
            out[n++] = environ[i];
    }
    for (size_t j = 0; j < extra; j++)
        out[n++] = (char *)(uintptr_t)env[j];
    return out;
}

/* Runs in the child between fork and exec: only async-signal-safe calls. */
static void exec_child(const char *const argv[], char **envp, int in, int out, pid_t parent)
{
    setpgid(0, 0);
    /* The parent's death (even SIGKILL) takes the child with it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    execvpe(argv[0], (char *const *)(uintptr_t)argv, envp);
    _exit(127);
}

static void register_live(ride_launch_proc *p)
{
    if (!atexit_registered) {
        atexit(kill_live_at_exit);
        atexit_registered = true;
    }
    p->next = live;
    live = p;
}

ride_launch_proc *ride_launch_spawn(const char *const argv[], const char *const env[],
                                    const char *log_path)
{
    if (!argv || !argv[0])
        return NULL;
    ride_launch_proc *p = calloc(1, sizeof *p);
    char **envp = build_env(env);
    int out = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                   0644);
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t parent = getpid();
    pid_t pid = (p && envp && out >= 0 && in >= 0) ? fork() : -1;
    if (pid == 0)
        exec_child(argv, envp, in, out, parent);
    int err = errno;
    free(envp);
    if (out >= 0)
        close(out);
    if (in >= 0)
        close(in);
    if (pid < 0) {
        fprintf(stderr, "%s: cannot start %s: %s\n", program_invocation_short_name, argv[0],
                strerror(err));
        free(p);
        return NULL;
    }
    /* Also in the parent, so that the group exists before anyone signals it. */
    setpgid(pid, pid);
    p->pid = pid;
    register_live(p);
    return p;
}

pid_t ride_launch_pid(const ride_launch_proc *p) { return p ? p->pid : -1; }

static bool reap(ride_launch_proc *p)
{
    if (!p->exited && waitpid(p->pid, &p->status, WNOHANG) == p->pid)
        p->exited = true;
    return p->exited;
}

bool ride_launch_alive(ride_launch_proc *p) { return p && !reap(p); }

int ride_launch_signal(ride_launch_proc *p, int sig)
{
    return p && !p->exited ? kill(p->pid, sig) : -1;
}

static bool exited(void *ctx) { return reap(ctx); }

int ride_launch_wait(ride_launch_proc *p, int timeout_ms)
{
    if (!p)
        return -1;
    return ride_launch_wait_until(exited, p, timeout_ms) ? p->status : -1;
}

int ride_launch_stop(ride_launch_proc *p, int grace_ms)
{
    if (!p)
        return -1;
    if (!reap(p))
        kill(-p->pid, SIGTERM);
    int status = ride_launch_wait(p, grace_ms);
    /* Also reaches anything the process left behind in its group. */
    kill(-p->pid, SIGKILL);
    if (!p->exited) {
        waitpid(p->pid, NULL, 0);
        status = -1;
    }
    unregister(p);
    free(p);
    return status;
}
