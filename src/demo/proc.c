/* The demo's child processes. A registry of the live ones lets an atexit handler
 * kill whatever an early return left running. */
#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ride/clock.h"

#define WAIT_STEP_NS 5000000LL

struct demo_proc {
    pid_t pid;
    bool exited;
    int status;
    char name[64];
    demo_proc *next;
};

static demo_proc *live;
static bool atexit_registered;

static void kill_all_at_exit(void)
{
    while (live) {
        demo_proc *p = live;
        live = p->next;
        kill(-p->pid, SIGKILL);
        if (!p->exited)
            waitpid(p->pid, NULL, 0);
        free(p);
    }
}

static void unregister(demo_proc *p)
{
    for (demo_proc **it = &live; *it; it = &(*it)->next) {
        if (*it == p) {
            *it = p->next;
            return;
        }
    }
}

/* Runs in the child between fork and exec: only async-signal-safe calls. */
static void exec_child(const char *const argv[], int in, int out, pid_t parent)
{
    setpgid(0, 0);
    /* The demo's death (even SIGKILL) takes its daemons with it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    execv(argv[0], (char *const *)(uintptr_t)argv);
    _exit(127);
}

demo_proc *demo_proc_spawn(const char *const argv[], const char *log_path)
{
    demo_proc *p = calloc(1, sizeof *p);
    int out = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t parent = getpid();
    pid_t pid = (p && out >= 0 && in >= 0) ? fork() : -1;
    if (pid == 0)
        exec_child(argv, in, out, parent);
    int err = errno;
    if (out >= 0)
        close(out);
    if (in >= 0)
        close(in);
    if (pid < 0) {
        fprintf(stderr, "ride-demo: cannot start %s: %s\n", argv[0], strerror(err));
        free(p);
        return NULL;
    }
    /* Also in the parent, so that the group exists before anyone signals it. */
    setpgid(pid, pid);
    const char *base = strrchr(argv[0], '/');
    snprintf(p->name, sizeof p->name, "%s", base ? base + 1 : argv[0]);
    p->pid = pid;
    if (!atexit_registered) {
        atexit(kill_all_at_exit);
        atexit_registered = true;
    }
    p->next = live;
    live = p;
    return p;
}

const char *demo_proc_name(const demo_proc *p) { return p->name; }

pid_t demo_proc_pid(const demo_proc *p) { return p->pid; }

bool demo_proc_alive(demo_proc *p)
{
    if (!p->exited && waitpid(p->pid, &p->status, WNOHANG) == p->pid)
        p->exited = true;
    return !p->exited;
}

int demo_proc_signal(demo_proc *p, int sig)
{
    return demo_proc_alive(p) ? kill(p->pid, sig) : -1;
}

bool demo_proc_wait(demo_proc *p, int timeout_ms)
{
    int64_t deadline = ride_clock_mono_ns() + (int64_t)timeout_ms * 1000000LL;
    while (demo_proc_alive(p) && ride_clock_mono_ns() < deadline)
        ride_clock_sleep_until_ns(ride_clock_mono_ns() + WAIT_STEP_NS);
    return !demo_proc_alive(p);
}

int demo_proc_stop(demo_proc *p, int grace_ms)
{
    if (!p)
        return -1;
    if (demo_proc_alive(p))
        kill(-p->pid, SIGTERM);
    bool exited = demo_proc_wait(p, grace_ms);
    /* Also reaches anything the process left behind in its group. */
    kill(-p->pid, SIGKILL);
    if (!exited)
        waitpid(p->pid, NULL, 0);
    int status = exited ? p->status : -1;
    unregister(p);
    free(p);
    return status;
}
