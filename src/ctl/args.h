/* args.h - ridectl's command line (docs/ridectl.md) parsed into a struct.
 *
 * Pure: no I/O and no global state, so every form and every mistake is tested
 * directly. Global options may come before or after the verb; environment
 * variables fill what the command line leaves unset. */
#ifndef RIDE_CTL_ARGS_H
#define RIDE_CTL_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#define RIDE_CTL_EXIT_OK 0
#define RIDE_CTL_EXIT_FAILURE 1
#define RIDE_CTL_EXIT_USAGE 2

#define RIDE_CTL_DEFAULT_TIMEOUT_S 10
/* `scale APP STAGE auto`: drop the stage's fixed size. */
#define RIDE_CTL_SCALE_AUTO (-1)
#define RIDE_CTL_TIMEOUT_MAX_S 3600
/* The control API's own bound on GET /v1/events?limit=N. */
#define RIDE_CTL_EVENTS_LIMIT_MAX 1000
/* top: the pause between refreshes. */
#define RIDE_CTL_TOP_DEFAULT_INTERVAL_MS 2000
#define RIDE_CTL_TOP_INTERVAL_MIN_MS 100
#define RIDE_CTL_TOP_ITERATIONS_MAX 1000000
/* apply --wait, delete --wait: how long to wait when --timeout is not given. */
#define RIDE_CTL_WAIT_DEFAULT_TIMEOUT_S 60

typedef enum ride_ctl_verb {
    RIDE_CTL_HELP = 0,
    RIDE_CTL_VERSION,
    RIDE_CTL_APPLY,
    RIDE_CTL_GET,
    RIDE_CTL_DESCRIBE,
    RIDE_CTL_DELETE,
    RIDE_CTL_SCALE,
    RIDE_CTL_EVENTS,
    RIDE_CTL_TOP,
} ride_ctl_verb;

typedef enum ride_ctl_resource {
    RIDE_CTL_APPS = 0,
    RIDE_CTL_WORKERS,
    RIDE_CTL_PRODUCERS,
    RIDE_CTL_PARTITIONS,
} ride_ctl_resource;

typedef enum ride_ctl_output {
    RIDE_CTL_OUTPUT_TABLE = 0,
    RIDE_CTL_OUTPUT_JSON,
} ride_ctl_output;

/* Every string points into argv or into the environment given to the parser. */
typedef struct ride_ctl_args {
    ride_ctl_verb verb;
    const char *zookeeper;   /* --zookeeper or RIDE_ZOOKEEPER; NULL when neither */
    const char *server;      /* --server or RIDE_SERVER; wins over zookeeper */
    const char *token_file;  /* --token-file or RIDE_TOKEN_FILE */
    const char *zk_digest_file;
    ride_ctl_output output;
    int timeout_ms;          /* per HTTP request (with --wait: at most the default) */
    const char *file;        /* apply: a path, or "-" for stdin */
    ride_ctl_resource resource; /* get */
    const char *app;         /* describe, delete, scale: the name; get partitions, events,
                                top: --app */
    const char *stage;       /* scale */
    int workers;             /* scale; RIDE_CTL_SCALE_AUTO: `auto` */
    int limit;               /* events: --limit, 0 when not given */
    int interval_ms;         /* top: --interval */
    int iterations;          /* top: --iterations, 0 (not given): until q or Ctrl-C */
    bool wait;               /* apply, delete: --wait */
    int wait_timeout_ms;     /* with wait: --timeout, else RIDE_CTL_WAIT_DEFAULT_TIMEOUT_S */
} ride_ctl_args;

/* What the environment says (getenv results; NULL when unset). */
typedef struct ride_ctl_env {
    const char *zookeeper;
    const char *server;
    const char *token_file;
} ride_ctl_env;

/* Parses argv[1..argc-1]. Returns 0, or -1 with a one-line reason in err (the
 * caller exits RIDE_CTL_EXIT_USAGE). A verb that talks to the cluster needs
 * --server or --zookeeper (or their variables). */
int ride_ctl_args_parse(int argc, char *const argv[], const ride_ctl_env *env,
                        ride_ctl_args *out, char *err, size_t errlen);

/* The usage text printed by --help. */
const char *ride_ctl_usage(void);

#endif
