/* top.h - `ridectl top`: a view of the cluster refreshed like top(1) (docs/ridectl.md).
 *
 * Each refresh reads GET /healthz, /v1/workers, /v1/partitions and /v1/stages. A
 * stage's rates, busy fraction and lag in seconds are the master's (/v1/stages); a
 * partition's frames/s is the change of its committed offset between two
 * refreshes, in frames, so the first refresh shows none. A stage's lag is kept over the last RIDE_CTL_TOP_HISTORY refreshes
 * and drawn as a sparkline.
 *
 * Rendering is pure (answers and clocks in, text out) so that tests feed canned
 * answers; ride_ctl_top_run is the loop around it. */
#ifndef RIDE_CTL_TOP_H
#define RIDE_CTL_TOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "args.h"

#define RIDE_CTL_TOP_HISTORY 20

/* Draws values (negative: unknown, drawn as a space) scaled to the largest of them:
 * the largest is the top block, zero the bottom one. UTF-8 uses ▁▂▃▄▅▆▇█, ASCII
 * uses _.-=#. Writes at most len-1 bytes and a NUL; returns the characters drawn. */
size_t ride_ctl_sparkline(const int64_t *values, size_t n, bool utf8, char *buf, size_t len);

/* Whether the locale (LC_ALL, else LC_CTYPE, else LANG; NULL or empty: unset)
 * names UTF-8. */
bool ride_ctl_utf8_locale(const char *lc_all, const char *lc_ctype, const char *lang);

/* What one refresh read. */
typedef struct ride_ctl_top_answers {
    const json_t *health;     /* GET /healthz */
    const json_t *workers;    /* GET /v1/workers */
    const json_t *partitions; /* GET /v1/partitions */
    const json_t *stages;     /* GET /v1/stages */
    int64_t wall_ms;          /* shown in the header */
    int64_t mono_ms;          /* for rates */
} ride_ctl_top_answers;

/* The history carried from one refresh to the next. */
typedef struct ride_ctl_top ride_ctl_top;

ride_ctl_top *ride_ctl_top_new(void);
void ride_ctl_top_free(ride_ctl_top *t);

/* Folds one refresh into the history and returns it as text (tables), or with
 * `json` as one JSON object on one line; malloc'ed and ending in '\n'. NULL with err
 * filled when an answer is malformed (the history is then unchanged). */
char *ride_ctl_top_render(ride_ctl_top *t, const ride_ctl_top_answers *a, bool json, bool utf8,
                          char *err, size_t errlen);

/* The loop: refreshes every args->interval_ms until args->iterations (0: no end),
 * 'q' on a terminal or SIGINT. Clears the screen between refreshes only when `out`
 * is a terminal; otherwise refreshes are separated by a blank line. Returns the exit
 * status: that of the last refresh. */
int ride_ctl_top_run(const ride_ctl_args *args, FILE *out, FILE *errs);

#endif
