/* Child processes for the integration harness: own process group, registered for
 * cleanup at exit, killed by the kernel when the test process dies. */
#define _GNU_SOURCE
#include "ride_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define POLL_INTERVAL_MS 5

struct ride_proc {
    pid_t pid;
    bool exited;
    int status;
    struct ride_proc *next;
};

static ride_proc *live_procs;
static bool proc_cleanup_registered;

static void unregister_proc(ride_proc *p)
{
    for (ride_proc **it = &live_procs; *it; it = &(*it)->next) {
        if (*it == p) {
            *it = p->next;
            return;
        }
    }
}

/* At exit nothing may outlive the test: every group still registered is killed. */
static void kill_live_procs_at_exit(void)
{
    while (live_procs) {
        ride_proc *p = live_procs;
        live_procs = p->next;
        kill(-p->pid, SIGKILL);
        if (!p->exited)
            waitpid(p->pid, NULL, 0);
        free(p);
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

ride_proc *ride_harness_spawn(const char *const argv[], const char *const env[],
                              const char *log_path)
{
    if (!argv || !argv[0])
        return NULL;
    ride_proc *p = calloc(1, sizeof *p);
    char **envp = build_env(env);
    int out = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                   0644);
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t parent = getpid();
    pid_t pid = (p && envp && out >= 0 && in >= 0) ? fork() : -1;
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(in, STDIN_FILENO);
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
        execvpe(argv[0], (char *const *)(uintptr_t)argv, envp);
        _exit(127);
    }
    int err = errno;
    free(envp);
    if (out >= 0)
        close(out);
    if (in >= 0)
        close(in);
    if (pid < 0) {
        fprintf(stderr, "harness: cannot start %s: %s\n", argv[0], strerror(err));
        free(p);
        return NULL;
    }
    /* Also in the parent: the group must exist before anyone signals it. */
    setpgid(pid, pid);
    p->pid = pid;
    if (!proc_cleanup_registered) {
        atexit(kill_live_procs_at_exit);
        proc_cleanup_registered = true;
    }
    p->next = live_procs;
    live_procs = p;
    return p;
}

pid_t ride_harness_proc_pid(const ride_proc *p) { return p ? p->pid : -1; }

static bool reap(ride_proc *p)
{
    if (p->exited)
        return true;
    int status;
    pid_t r = waitpid(p->pid, &status, WNOHANG);
    if (r == p->pid) {
        p->exited = true;
        p->status = status;
    }
    return p->exited;
}

bool ride_harness_proc_alive(ride_proc *p) { return p && !reap(p); }

int ride_harness_proc_signal(ride_proc *p, int sig)
{
    if (!p || p->exited)
        return -1;
    return kill(p->pid, sig);
}

static bool proc_exited(void *ctx) { return reap(ctx); }

int ride_harness_proc_wait(ride_proc *p, int timeout_ms)
{
    if (!p)
        return -1;
    return ride_harness_wait_until(proc_exited, p, timeout_ms) ? p->status : -1;
}

int ride_harness_proc_stop(ride_proc *p, int grace_ms)
{
    if (!p)
        return -1;
    if (!reap(p))
        kill(-p->pid, SIGTERM);
    int status = ride_harness_proc_wait(p, grace_ms);
    /* Also reaches children the process left behind in its group. */
    kill(-p->pid, SIGKILL);
    if (!p->exited) {
        waitpid(p->pid, NULL, 0);
        status = -1;
    }
    unregister_proc(p);
    free(p);
    return status;
}

static void print_run(const char *const argv[], int code, const char *output)
{
    printf("$");
    for (size_t i = 0; argv[i]; i++)
        printf(" %s", argv[i]);
    printf("  -> %d\n%s", code, output ? output : "");
}

int ride_harness_run(const char *const argv[], const char *const env[], const char *dir,
                     int timeout_ms, char **output)
{
    static int runs;
    char log_path[1024];
    snprintf(log_path, sizeof log_path, "%s/run-%d.log", dir, runs++);
    if (output)
        *output = NULL;
    if (ride_harness_write_file(log_path, "") != 0)
        return -1;
    ride_proc *p = ride_harness_spawn(argv, env, log_path);
    if (!p)
        return -1;
    int status = ride_harness_proc_wait(p, timeout_ms);
    ride_harness_proc_stop(p, 1000);
    int code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    char *text = ride_harness_read_file(log_path, NULL);
    print_run(argv, code, text);
    if (output)
        *output = text;
    else
        free(text);
    return code;
}
