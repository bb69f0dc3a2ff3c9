/* command.h - runs one parsed ridectl command: the request each verb makes, and
 * what it prints (docs/ridectl.md). */
#ifndef RIDE_CTL_COMMAND_H
#define RIDE_CTL_COMMAND_H

#include <stdio.h>

#include "args.h"

/* apply reads at most this much (the manifest parser's own limit). */
#define RIDE_CTL_MANIFEST_MAX (1024 * 1024)

/* Runs args (not HELP or VERSION): results go to out, "error: ..." lines to errs,
 * `in` is read by "apply -f -". Returns RIDE_CTL_EXIT_OK or RIDE_CTL_EXIT_FAILURE. */
int ride_ctl_run(const ride_ctl_args *args, FILE *in, FILE *out, FILE *errs);

#endif
