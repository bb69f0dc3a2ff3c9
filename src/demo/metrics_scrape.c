/* Scraping the workers' /metrics for the demo's per-stage frame counts. */
#define _GNU_SOURCE
#include "metrics_scrape.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_client.h"

#define SCRAPE_TIMEOUT_MS 1000
#define COUNTER "ride_frames_processed_total{"

void demo_metrics_init(demo_metrics *m, const char (*ids)[16], size_t count)
{
    memset(m, 0, sizeof *m);
    m->ids = ids;
    m->count = count < DEMO_METRICS_WORKERS_MAX ? count : DEMO_METRICS_WORKERS_MAX;
}

void demo_metrics_free(demo_metrics *m) { memset(m, 0, sizeof *m); }

/* The port of the worker's "started ... metrics_port=N" log line, or 0. */
static int port_from_log(const char *logs, const char *id)
{
    char path[4096], line[2048];
    snprintf(path, sizeof path, "%s/%s.log", logs, id);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int port = 0;
    while (port == 0 && fgets(line, sizeof line, f)) {
        const char *hit = strstr(line, " event=started ") ? strstr(line, " metrics_port=") : NULL;
        char *end = NULL;
        long v = hit ? strtol(hit + 14, &end, 10) : 0;
        if (hit && end != hit + 14 && v > 0 && v <= 65535)
            port = (int)v;
    }
    fclose(f);
    return port;
}

/* The value of label `key` in a label set `{...}`, into out; false if absent. */
static bool label(const char *labels, size_t len, const char *key, char *out, size_t outlen)
{
    char pat[64];
    snprintf(pat, sizeof pat, "%s=\"", key);
    const char *v = memmem(labels, len, pat, strlen(pat));
    if (!v)
        return false;
    v += strlen(pat);
    const char *end = memchr(v, '"', len - (size_t)(v - labels));
    if (!end || (size_t)(end - v) >= outlen)
        return false;
    memcpy(out, v, (size_t)(end - v));
    out[end - v] = '\0';
    return true;
}

static void record(demo_metrics *m, size_t worker, const char *stage, int partition,
                   uint64_t frames)
{
    for (size_t i = 0; i < m->series_count; i++) {
        demo_metrics_series *s = &m->series[i];
        if (s->worker == worker && s->partition == partition && strcmp(s->stage, stage) == 0) {
            if (frames > s->frames)
                s->frames = frames;
            return;
        }
    }
    if (m->series_count == DEMO_METRICS_SERIES_MAX)
        return;
    demo_metrics_series *s = &m->series[m->series_count++];
    s->worker = worker;
    snprintf(s->stage, sizeof s->stage, "%s", stage);
    s->partition = partition;
    s->frames = frames;
}

/* Reads every sample line of the counter; lines it cannot read are skipped. */
static void parse_exposition(demo_metrics *m, size_t worker, const char *text)
{
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        const char *close = memchr(line, '}', len);
        char stage[64], part[16];
        if (strncmp(line, COUNTER, strlen(COUNTER)) == 0 && close &&
            label(line, (size_t)(close - line), "stage", stage, sizeof stage) &&
            label(line, (size_t)(close - line), "partition", part, sizeof part)) {
            char *end = NULL;
            errno = 0;
            double v = strtod(close + 1, &end);
            long p = strtol(part, NULL, 10);
            if (!errno && end != close + 1 && v >= 0 && v < 1e18 && p >= 0 && p < 4096)
                record(m, worker, stage, (int)p, (uint64_t)v);
        }
        line = nl ? nl + 1 : NULL;
    }
}

void demo_metrics_scrape(demo_metrics *m)
{
    for (size_t w = 0; w < m->count; w++) {
        if (m->ports[w] == 0)
            m->ports[w] = port_from_log(m->logs, m->ids[w]);
        if (m->ports[w] == 0)
            continue;
        char url[64], err[256];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", m->ports[w]);
        ride_http_client_request req = {.url = url, .timeout_ms = SCRAPE_TIMEOUT_MS};
        ride_http_client_response res = {0};
        if (ride_http_client_do(&req, &res, err, sizeof err) == RIDE_HTTP_CLIENT_OK &&
            res.status == 200)
            parse_exposition(m, w, res.body);
        free(res.body);
    }
}

uint64_t demo_metrics_stage_frames(const demo_metrics *m, const char *stage)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < m->series_count; i++)
        if (strcmp(m->series[i].stage, stage) == 0)
            sum += m->series[i].frames;
    return sum;
}
