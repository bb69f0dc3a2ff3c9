/* Temp dirs, files and commands run to completion for the integration harness. */
#define _GNU_SOURCE
#include "ride_harness.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TEMPDIRS 64

static char *tempdirs[MAX_TEMPDIRS];
static bool tempdir_cleanup_registered;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_tempdirs_at_exit(void)
{
    for (int i = 0; i < MAX_TEMPDIRS; i++) {
        if (tempdirs[i]) {
            remove_tree(tempdirs[i]);
            free(tempdirs[i]);
            tempdirs[i] = NULL;
        }
    }
}

char *ride_harness_tempdir(const char *prefix)
{
    const char *base = getenv("TMPDIR");
    if (!base || !base[0])
        base = "/tmp";
    size_t n = strlen(base) + strlen(prefix) + 16;
    char *path = malloc(n);
    if (!path)
        return NULL;
    snprintf(path, n, "%s/%sXXXXXX", base, prefix);
    if (!mkdtemp(path)) {
        fprintf(stderr, "harness: mkdtemp %s: %s\n", path, strerror(errno));
        free(path);
        return NULL;
    }
    if (!tempdir_cleanup_registered) {
        atexit(remove_tempdirs_at_exit);
        tempdir_cleanup_registered = true;
    }
    for (int i = 0; i < MAX_TEMPDIRS; i++) {
        if (!tempdirs[i]) {
            tempdirs[i] = strdup(path);
            break;
        }
    }
    return path;
}

void ride_harness_rmtree(const char *path)
{
    if (!path)
        return;
    for (int i = 0; i < MAX_TEMPDIRS; i++) {
        if (tempdirs[i] && strcmp(tempdirs[i], path) == 0) {
            free(tempdirs[i]);
            tempdirs[i] = NULL;
        }
    }
    remove_tree(path);
}

char *ride_harness_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        char *bigger = realloc(buf, cap * 2 + 1);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    bool failed = ferror(f);
    fclose(f);
    if (!buf || failed) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

int ride_harness_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = strlen(text);
    bool ok = fwrite(text, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void print_run(const char *const argv[], int code, const char *output)
{
    printf("$");
    for (size_t i = 0; argv[i]; i++)
        printf(" %s", argv[i]);
    printf("  -> %d\n%s", code, output ? output : "");
}

int ride_harness_run(const char *const argv[], const char *const env[], const char *dir,
                     const char *name, int timeout_ms, char **output)
{
    static int runs;
    char log_path[1024];
    if (name)
        snprintf(log_path, sizeof log_path, "%s/%s.log", dir, name);
    else
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

int ride_harness_dir_entries(const char *path, bool hidden)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
             (hidden || e->d_name[0] != '.');
    closedir(d);
    return n;
}
