/* main.c - ridectl, the command-line client of the control API (docs/ridectl.md).
 * Parses the command line, then hands it to ride_ctl_run. */
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "command.h"
#include "base/log.h"
#include "cluster/zk.h"

#ifndef RIDE_VERSION_STRING
#define RIDE_VERSION_STRING "unknown"
#endif

int main(int argc, char *argv[])
{
    /* Library log lines would interleave with tables and messages: only errors. */
    ride_log_set_component("ridectl");
    ride_log_set_level(RIDE_LOG_ERROR);
    ride_zk_set_client_log_level(RIDE_LOG_ERROR);

    ride_ctl_env env = {getenv("RIDE_ZOOKEEPER"), getenv("RIDE_SERVER"),
                        getenv("RIDE_TOKEN_FILE")};
    ride_ctl_args args;
    char err[1024];
    if (ride_ctl_args_parse(argc, argv, &env, &args, err, sizeof err) != 0) {
        fprintf(stderr, "error: %s\nRun 'ridectl --help' for usage.\n", err);
        return RIDE_CTL_EXIT_USAGE;
    }
    if (args.verb == RIDE_CTL_HELP) {
        fputs(ride_ctl_usage(), stdout);
        return RIDE_CTL_EXIT_OK;
    }
    if (args.verb == RIDE_CTL_VERSION) {
        printf("ridectl %s\n", RIDE_VERSION_STRING);
        return RIDE_CTL_EXIT_OK;
    }
    return ride_ctl_run(&args, stdin, stdout, stderr);
}
