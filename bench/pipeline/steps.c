/* steps.c - the workers' own account of a frame's cost: at the end of a run every
 * worker's /metrics is read for the step timers (histogram
 * ride_worker_step_seconds{app,stage,step}: _sum / _count is the mean time of a
 * step) and the CPU counter ride_worker_cpu_seconds_total. A worker that exports
 * neither leaves them absent (< 0), printed as "-". */
#include "bench_pipeline.h"
#include "http/http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ride_bench_stage_names[BENCH_STAGES] = {"first", "second"};
const char *const ride_bench_step_names[BENCH_STEPS] = {
    "fetch", "assemble", "checksum", "decode", "kernel", "encode", "produce", "delivery", "commit"};

#define STEP_METRIC "ride_worker_step_seconds"
#define CPU_METRIC "ride_worker_cpu_seconds_total"

typedef struct step_sums {
    double sum[BENCH_STAGES][BENCH_STEPS], count[BENCH_STAGES][BENCH_STEPS];
    double cpu_s;
    bool cpu_seen;
} step_sums;

/* The index of label `name`'s value in names[], or -1. */
static int label_index(const char *labels, const char *name, const char *const *names, int n)
{
    char key[32];
    snprintf(key, sizeof key, "%s=\"", name);
    const char *v = strstr(labels, key);
    if (!v)
        return -1;
    v += strlen(key);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (strncmp(v, names[i], len) == 0 && v[len] == '"')
            return i;
    }
    return -1;
}

static void add_line(step_sums *s, const char *line)
{
    const char *rest;
    bool sum = strncmp(line, STEP_METRIC "_sum{", strlen(STEP_METRIC "_sum{")) == 0;
    bool count = strncmp(line, STEP_METRIC "_count{", strlen(STEP_METRIC "_count{")) == 0;
    if (strncmp(line, CPU_METRIC, strlen(CPU_METRIC)) == 0) {
        rest = line + strlen(CPU_METRIC);
        if (*rest == '{')
            rest = strchr(rest, '}');
        if (rest && (rest = strchr(rest, ' '))) {
            s->cpu_s += strtod(rest, NULL);
            s->cpu_seen = true;
        }
        return;
    }
    if (!sum && !count)
        return;
    const char *end = strchr(line, '}');
    if (!end)
        return;
    int stage = label_index(line, "stage", ride_bench_stage_names, BENCH_STAGES);
    int step = label_index(line, "step", ride_bench_step_names, BENCH_STEPS);
    if (stage < 0 || step < 0)
        return;
    double v = strtod(end + 1, NULL);
    if (sum)
        s->sum[stage][step] += v;
    else
        s->count[stage][step] += v;
}

static void scrape_one(uint16_t port, step_sums *s)
{
    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", (unsigned)port);
    ride_http_client_request req = {.url = url, .timeout_ms = 5000};
    ride_http_client_response res = {0};
    if (ride_http_client_do(&req, &res, err, sizeof err) != RIDE_HTTP_CLIENT_OK)
        return;
    if (res.status == 200)
        for (char *line = strtok(res.body, "\n"); line; line = strtok(NULL, "\n"))
            add_line(s, line);
    free(res.body);
}

void ride_bench_scrape_steps(const cluster *c, step_means *out)
{
    step_sums s = {0};
    for (int i = 0; i < c->worker_count; i++)
        scrape_one(c->metrics_ports[i], &s);
    for (int st = 0; st < BENCH_STAGES; st++)
        for (int k = 0; k < BENCH_STEPS; k++)
            out->ms[st][k] = s.count[st][k] > 0 ? s.sum[st][k] * 1e3 / s.count[st][k] : -1;
    out->cpu_s = s.cpu_seen ? s.cpu_s : -1;
}
