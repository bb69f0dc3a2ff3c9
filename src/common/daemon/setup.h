/* daemon/setup.h - what every RIDE daemon does before its work starts: read the
 * options the daemons share, resolve its configuration, pick its member id, read
 * the ZooKeeper digest and serve /metrics (docs/configuration.md).
 *
 * Every function reports a failure itself, as one line on stderr prefixed by the
 * program's name ("ride-worker: ..."), which is what operators and the service
 * manager's journal see; the caller only picks the exit status. */
#ifndef RIDE_DAEMON_SETUP_H
#define RIDE_DAEMON_SETUP_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "http/http.h"
#include "http/metrics.h"
#include "spec/config.h"

/* Which daemon is being set up. */
typedef struct ride_daemon_desc {
    ride_daemon kind;    /* the configuration it reads */
    const char *program; /* "ride-worker": the prefix of what it prints */
    const char *role;    /* "worker": names its id in messages, and stands in for an
                            unknown host name in the default id */
} ride_daemon_desc;

/* The options the master and the worker share; NULL when not given. */
typedef struct ride_daemon_options {
    const char *config_file;    /* --config */
    const char *zookeeper;      /* --zookeeper */
    const char *id;             /* --id */
    const char *metrics_listen; /* --metrics-listen */
    const char *log_level;      /* --log-level */
} ride_daemon_options;

/* A daemon's command line beyond the shared options. */
typedef struct ride_daemon_cli {
    const char *short_options; /* getopt_long's optstring ("c:h": -c and -h too) */
    /* The daemon's own long options, ended by a zeroed entry, or NULL; their vals
     * must differ from the shared ones ('c', 'z', 'i', 'm', 'l', 'h'). */
    const struct option *extra;
    void (*take_extra)(int val, const char *arg, void *ctx);
    void *ctx;
    void (*print_help)(void); /* --help */
} ride_daemon_cli;

/* Parses argv into o (and the extra options through cli->take_extra). Returns 0
 * to run, 1 after printing the help, -1 after printing a usage error. */
int ride_daemon_parse_args(const ride_daemon_desc *d, const ride_daemon_cli *cli, int argc,
                           char **argv, ride_daemon_options *o);

/* The configuration the command line asks for (ride_config_resolve: the file, or
 * the defaults, then the overrides), and the log level it sets. False after
 * printing why. */
bool ride_daemon_load_config(const ride_daemon_desc *d, const ride_daemon_options *o,
                             ride_config *cfg);

/* The member id: configured, else HOSTNAME-PID written into buf. NULL after
 * printing why when it is not a valid member id (ride_member_id_valid). */
const char *ride_daemon_member_id(const ride_daemon_desc *d, const char *configured, char *buf,
                                  size_t len);

/* zookeeper.digest_file's "user:password" into buf, or "" when none is set. False
 * after printing why. */
bool ride_daemon_read_digest(const ride_daemon_desc *d, const ride_config_zookeeper *z,
                             char *buf, size_t len);

/* Serves reg's /metrics on listen, from loop's thread. NULL after printing why. */
ride_http_server *ride_daemon_serve_metrics(const ride_daemon_desc *d, uv_loop_t *loop,
                                            const char *listen, ride_metrics *reg);

#endif
