/* wait.h - `apply --wait` and `delete app --wait`: polling the control API until a
 * change has taken effect, with one progress line on stderr whenever the progress
 * changes (docs/ridectl.md).
 *
 * Ready after apply: the application's phase is "running" (the master sets it once
 * the application's topics exist) and every partition of every stage has an owner.
 * Gone after delete: GET /v1/apps no longer lists it (its partitions are listed
 * only while it is, so they are released too). Failed requests during the wait (a
 * master fail-over) are retried until the deadline and named in its message. */
#ifndef RIDE_CTL_WAIT_H
#define RIDE_CTL_WAIT_H

#include <stddef.h>
#include <stdio.h>

#include "args.h"

#define RIDE_CTL_WAIT_POLL_MS 250

/* Return 0 when done, or -1 with err filled at args->wait_timeout_ms. */
int ride_ctl_wait_ready(const ride_ctl_args *args, const char *app, FILE *errs, char *err,
                        size_t errlen);
int ride_ctl_wait_gone(const ride_ctl_args *args, const char *app, FILE *errs, char *err,
                       size_t errlen);

#endif
