/* args.c - ridectl's command line (see args.h). Hand-written rather than
 * getopt_long: options may follow the verb, getopt keeps global state and prints
 * its own messages, and each mistake here gets a message of its own. */
#include "args.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "spec/manifest.h"

#define MAX_POSITIONALS 8

typedef enum option_id {
    OPT_ZOOKEEPER,
    OPT_SERVER,
    OPT_TOKEN_FILE,
    OPT_DIGEST_FILE,
    OPT_OUTPUT,
    OPT_TIMEOUT,
    OPT_FILE,
    OPT_APP,
    OPT_LIMIT,
    OPT_INTERVAL,
    OPT_ITERATIONS,
    OPT_WAIT,
    OPT_HELP,
    OPT_VERSION,
} option_id;

typedef struct option_spec {
    const char *long_name;
    char short_name; /* 0: none */
    bool takes_value;
    option_id id;
} option_spec;

static const option_spec OPTIONS[] = {
    {"zookeeper", 0, true, OPT_ZOOKEEPER},
    {"server", 0, true, OPT_SERVER},
    {"token-file", 0, true, OPT_TOKEN_FILE},
    {"zookeeper-digest-file", 0, true, OPT_DIGEST_FILE},
    {"output", 'o', true, OPT_OUTPUT},
    {"timeout", 0, true, OPT_TIMEOUT},
    {"filename", 'f', true, OPT_FILE},
    {"app", 0, true, OPT_APP},
    {"limit", 0, true, OPT_LIMIT},
    {"interval", 0, true, OPT_INTERVAL},
    {"iterations", 0, true, OPT_ITERATIONS},
    {"wait", 0, false, OPT_WAIT},
    {"help", 'h', false, OPT_HELP},
    {"version", 0, false, OPT_VERSION},
};

/* What was written on the command line, before the verb gives it meaning. */
typedef struct raw_args {
    const char *positional[MAX_POSITIONALS];
    size_t positional_count;
    bool help;
    bool version;
    const char *file;
    const char *app;
    const char *limit;
    const char *interval;
    const char *iterations;
    bool wait;
    bool timeout_given;
} raw_args;

static const char USAGE[] =
    "Usage: ridectl [OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  apply -f FILE [--wait]        create or update the application in FILE ('-': stdin)\n"
    "                                (--wait: until every partition has an owner)\n"
    "  get apps|workers|producers|partitions [--app APP]\n"
    "                                list resources (--app: partitions of one application)\n"
    "  describe app NAME             show one application in detail\n"
    "  delete app NAME [--wait]      delete an application (--wait: until it is gone)\n"
    "  scale APP STAGE N|auto        set the number of workers of a stage, or let the\n"
    "                                master size it again\n"
    "  events [--limit N] [--app APP]\n"
    "                                show the latest cluster events, oldest first\n"
    "  top [--app APP] [--interval SECONDS] [--iterations N]\n"
    "                                live view of stages and partitions (q or Ctrl-C ends)\n"
    "\n"
    "Options (before or after the command):\n"
    "  --zookeeper CONNECT           ZooKeeper connect string; the control API is found\n"
    "                                at /cluster/api (env RIDE_ZOOKEEPER)\n"
    "  --server URL                  the control API, e.g. http://127.0.0.1:7480; skips\n"
    "                                ZooKeeper (env RIDE_SERVER)\n"
    "  --token-file PATH             bearer token for changes (env RIDE_TOKEN_FILE)\n"
    "  --zookeeper-digest-file PATH  'user:password' for ZooKeeper digest authentication\n"
    "  -o, --output table|json       output format (default table)\n"
    "  --timeout SECONDS             limit for each request (default 10); with --wait,\n"
    "                                for the whole wait (default 60)\n"
    "  -h, --help                    show this help\n"
    "  --version                     show the version\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 bad usage.\n";

const char *ride_ctl_usage(void)
{
    return USAGE;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Seconds with an optional fraction and an optional 's' ("0.5", "2s") as
 * milliseconds in min_ms..max_ms. */
static bool parse_seconds_ms(const char *text, int min_ms, int max_ms, int *out)
{
    if (text[0] < '0' || text[0] > '9')
        return false;
    char *end = NULL;
    errno = 0;
    double s = strtod(text, &end);
    if (end != NULL && *end == 's')
        end++;
    if (errno != 0 || *end != '\0' || s * 1000.0 < min_ms || s * 1000.0 > max_ms)
        return false;
    *out = (int)(s * 1000.0 + 0.5);
    return true;
}

/* An integer in min..max written in decimal and nothing else. */
static bool parse_int(const char *text, int min, int max, int *out)
{
    int64_t v;
    if (!ride_parse_int64(text, 0, min, max, &v))
        return false;
    *out = (int)v;
    return true;
}

/* Whole seconds with an optional 's' ("60", "60s") in 1..RIDE_CTL_TIMEOUT_MAX_S. */
static bool parse_whole_seconds(const char *text, int *out)
{
    char digits[16];
    size_t len = strlen(text);
    if (len > 0 && text[len - 1] == 's')
        len--;
    if (len >= sizeof digits)
        return false;
    memcpy(digits, text, len);
    digits[len] = '\0';
    return parse_int(digits, 1, RIDE_CTL_TIMEOUT_MAX_S, out);
}

static const option_spec *find_long(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof OPTIONS / sizeof OPTIONS[0]; i++) {
        if (strlen(OPTIONS[i].long_name) == len && strncmp(OPTIONS[i].long_name, name, len) == 0)
            return &OPTIONS[i];
    }
    return NULL;
}

static const option_spec *find_short(char c)
{
    for (size_t i = 0; i < sizeof OPTIONS / sizeof OPTIONS[0]; i++) {
        if (OPTIONS[i].short_name == c)
            return &OPTIONS[i];
    }
    return NULL;
}

static int apply_option(const option_spec *spec, const char *shown, const char *value,
                        ride_ctl_args *out, raw_args *raw, char *err, size_t errlen)
{
    int seconds = 0;
    switch (spec->id) {
    case OPT_ZOOKEEPER: out->zookeeper = value; break;
    case OPT_SERVER: out->server = value; break;
    case OPT_TOKEN_FILE: out->token_file = value; break;
    case OPT_DIGEST_FILE: out->zk_digest_file = value; break;
    case OPT_FILE: raw->file = value; break;
    case OPT_APP: raw->app = value; break;
    case OPT_LIMIT: raw->limit = value; break;
    case OPT_INTERVAL: raw->interval = value; break;
    case OPT_ITERATIONS: raw->iterations = value; break;
    case OPT_WAIT: raw->wait = true; break;
    case OPT_HELP: raw->help = true; break;
    case OPT_VERSION: raw->version = true; break;
    case OPT_OUTPUT:
        if (strcmp(value, "table") == 0)
            out->output = RIDE_CTL_OUTPUT_TABLE;
        else if (strcmp(value, "json") == 0)
            out->output = RIDE_CTL_OUTPUT_JSON;
        else
            return fail(err, errlen, "option '%s': expected table or json, got \"%s\"", shown,
                        value);
        break;
    case OPT_TIMEOUT:
        raw->timeout_given = true;
        if (!parse_whole_seconds(value, &seconds))
            return fail(err, errlen, "option '%s': expected whole seconds in 1..%d, got \"%s\"",
                        shown, RIDE_CTL_TIMEOUT_MAX_S, value);
        out->timeout_ms = seconds * 1000;
        break;
    }
    if (spec->takes_value && value[0] == '\0')
        return fail(err, errlen, "option '%s' needs a non-empty value", shown);
    return 0;
}

/* One option at argv[*i] ("--name", "--name=value", "-x", "-xvalue"); takes its
 * value from the next argument when needed. */
static int parse_option(int argc, char *const argv[], int *i, ride_ctl_args *out, raw_args *raw,
                        char *err, size_t errlen)
{
    const char *arg = argv[*i];
    const option_spec *spec;
    const char *value = NULL;
    char shown[64];
    if (arg[1] == '-') {
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        spec = find_long(name, len);
        if (spec == NULL)
            return fail(err, errlen, "unknown option '%.*s'", (int)(len + 2), arg);
        snprintf(shown, sizeof shown, "--%s", spec->long_name);
        if (eq != NULL) {
            if (!spec->takes_value)
                return fail(err, errlen, "option '%s' takes no value", shown);
            value = eq + 1;
        }
    } else {
        spec = find_short(arg[1]);
        if (spec == NULL)
            return fail(err, errlen, "unknown option '-%c'", arg[1]);
        snprintf(shown, sizeof shown, "-%c", spec->short_name);
        if (arg[2] != '\0') {
            if (!spec->takes_value)
                return fail(err, errlen, "option '%s' takes no value", shown);
            value = arg + 2;
        }
    }
    if (spec->takes_value && value == NULL) {
        if (*i + 1 >= argc)
            return fail(err, errlen, "option '%s' needs a value", shown);
        value = argv[++*i];
    }
    return apply_option(spec, shown, value, out, raw, err, errlen);
}

static int scan(int argc, char *const argv[], ride_ctl_args *out, raw_args *raw, char *err,
                size_t errlen)
{
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
        } else if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            if (parse_option(argc, argv, &i, out, raw, err, errlen) != 0)
                return -1;
        } else {
            if (raw->positional_count == MAX_POSITIONALS)
                return fail(err, errlen, "unexpected argument \"%s\"", arg);
            raw->positional[raw->positional_count++] = arg;
        }
    }
    return 0;
}

static bool is_any(const char *word, const char *const *names)
{
    for (size_t i = 0; names[i] != NULL; i++) {
        if (strcmp(word, names[i]) == 0)
            return true;
    }
    return false;
}

static const char *const APP_NAMES[] = {"apps", "app", "applications", "application", NULL};

static int parse_resource(const char *word, ride_ctl_resource *out, char *err, size_t errlen)
{
    static const char *const workers[] = {"workers", "worker", NULL};
    static const char *const producers[] = {"producers", "producer", NULL};
    static const char *const partitions[] = {"partitions", "partition", "parts", NULL};
    if (is_any(word, APP_NAMES))
        *out = RIDE_CTL_APPS;
    else if (is_any(word, workers))
        *out = RIDE_CTL_WORKERS;
    else if (is_any(word, producers))
        *out = RIDE_CTL_PRODUCERS;
    else if (is_any(word, partitions))
        *out = RIDE_CTL_PARTITIONS;
    else
        return fail(err, errlen,
                    "unknown resource type \"%s\" (expected apps, workers, producers or "
                    "partitions)",
                    word);
    return 0;
}

/* Names become URL path segments; one that no application can have is a typo. */
static int check_name(const char *what, const char *name, char *err, size_t errlen)
{
    if (!ride_name_valid(name))
        return fail(err, errlen,
                    "invalid %s name \"%s\": expected lower-case letters, digits and '-', "
                    "at most %d characters",
                    what, name, RIDE_NAME_MAX);
    return 0;
}

static int expect_count(const raw_args *raw, size_t count, const char *form, char *err,
                        size_t errlen)
{
    if (raw->positional_count < count)
        return fail(err, errlen, "%s needs %s", raw->positional[0], form);
    if (raw->positional_count > count)
        return fail(err, errlen, "unexpected argument \"%s\" (usage: %s %s)",
                    raw->positional[count], raw->positional[0], form);
    return 0;
}

/* describe and delete: "VERB app NAME". */
static int parse_app_target(const raw_args *raw, ride_ctl_args *out, char *err, size_t errlen)
{
    if (expect_count(raw, 3, "app NAME", err, errlen) != 0)
        return -1;
    if (!is_any(raw->positional[1], APP_NAMES))
        return fail(err, errlen, "%s supports applications only: %s app NAME",
                    raw->positional[0], raw->positional[0]);
    out->app = raw->positional[2];
    return check_name("application", out->app, err, errlen);
}

static int parse_verb(const raw_args *raw, ride_ctl_args *out, char *err, size_t errlen)
{
    const char *verb = raw->positional[0];
    if (strcmp(verb, "apply") == 0) {
        out->verb = RIDE_CTL_APPLY;
        if (raw->file == NULL)
            return fail(err, errlen, "apply needs -f FILE ('-' reads standard input)");
        out->file = raw->file;
        return expect_count(raw, 1, "-f FILE", err, errlen);
    }
    if (strcmp(verb, "get") == 0) {
        out->verb = RIDE_CTL_GET;
        if (raw->positional_count < 2)
            return fail(err, errlen,
                        "get needs a resource type: apps, workers, producers or partitions");
        if (parse_resource(raw->positional[1], &out->resource, err, errlen) != 0)
            return -1;
        if (raw->positional_count > 2)
            return fail(err, errlen,
                        "unexpected argument \"%s\" (get lists every resource of a type; "
                        "use 'ridectl describe app NAME' for one application)",
                        raw->positional[2]);
        return 0;
    }
    if (strcmp(verb, "describe") == 0) {
        out->verb = RIDE_CTL_DESCRIBE;
        return parse_app_target(raw, out, err, errlen);
    }
    if (strcmp(verb, "delete") == 0) {
        out->verb = RIDE_CTL_DELETE;
        return parse_app_target(raw, out, err, errlen);
    }
    if (strcmp(verb, "scale") == 0) {
        out->verb = RIDE_CTL_SCALE;
        if (expect_count(raw, 4, "APP STAGE N", err, errlen) != 0)
            return -1;
        out->app = raw->positional[1];
        out->stage = raw->positional[2];
        if (check_name("application", out->app, err, errlen) != 0 ||
            check_name("stage", out->stage, err, errlen) != 0)
            return -1;
        if (strcmp(raw->positional[3], "auto") == 0)
            out->workers = RIDE_CTL_SCALE_AUTO;
        else if (!parse_int(raw->positional[3], 0, RIDE_WORKERS_MAX, &out->workers))
            return fail(err, errlen,
                        "scale: N must be a whole number in 0..%d or auto, got \"%s\"",
                        RIDE_WORKERS_MAX, raw->positional[3]);
        return 0;
    }
    if (strcmp(verb, "events") == 0) {
        out->verb = RIDE_CTL_EVENTS;
        return expect_count(raw, 1, "[--limit N] [--app APP]", err, errlen);
    }
    if (strcmp(verb, "top") == 0) {
        out->verb = RIDE_CTL_TOP;
        return expect_count(raw, 1, "[--app APP] [--interval SECONDS] [--iterations N]", err,
                            errlen);
    }
    return fail(err, errlen,
                "unknown command \"%s\" (expected apply, get, describe, delete, scale, events "
                "or top)",
                verb);
}

static int check_top_and_wait(const raw_args *raw, ride_ctl_args *out, char *err, size_t errlen)
{
    if ((raw->interval != NULL || raw->iterations != NULL) && out->verb != RIDE_CTL_TOP)
        return fail(err, errlen, "option '%s' applies to top only",
                    raw->interval ? "--interval" : "--iterations");
    out->interval_ms = RIDE_CTL_TOP_DEFAULT_INTERVAL_MS;
    if (raw->interval != NULL &&
        !parse_seconds_ms(raw->interval, RIDE_CTL_TOP_INTERVAL_MIN_MS,
                          RIDE_CTL_TIMEOUT_MAX_S * 1000, &out->interval_ms))
        return fail(err, errlen, "option '--interval': expected seconds in 0.1..%d, got \"%s\"",
                    RIDE_CTL_TIMEOUT_MAX_S, raw->interval);
    if (raw->iterations != NULL &&
        !parse_int(raw->iterations, 1, RIDE_CTL_TOP_ITERATIONS_MAX, &out->iterations))
        return fail(err, errlen,
                    "option '--iterations': expected a whole number in 1..%d, got \"%s\"",
                    RIDE_CTL_TOP_ITERATIONS_MAX, raw->iterations);
    if (raw->wait && out->verb != RIDE_CTL_APPLY && out->verb != RIDE_CTL_DELETE)
        return fail(err, errlen, "option '--wait' applies to apply and delete only");
    out->wait = raw->wait;
    if (out->wait) {
        /* --timeout bounds the whole wait; each request keeps the usual limit. */
        out->wait_timeout_ms =
            raw->timeout_given ? out->timeout_ms : RIDE_CTL_WAIT_DEFAULT_TIMEOUT_S * 1000;
        if (out->timeout_ms > RIDE_CTL_DEFAULT_TIMEOUT_S * 1000)
            out->timeout_ms = RIDE_CTL_DEFAULT_TIMEOUT_S * 1000;
    }
    return 0;
}

/* Options that only some verbs understand. */
static int check_verb_options(const raw_args *raw, ride_ctl_args *out, char *err, size_t errlen)
{
    if (raw->file != NULL && out->verb != RIDE_CTL_APPLY)
        return fail(err, errlen, "option '-f' applies to apply only");
    if (raw->app != NULL) {
        bool partitions = out->verb == RIDE_CTL_GET && out->resource == RIDE_CTL_PARTITIONS;
        if (!partitions && out->verb != RIDE_CTL_EVENTS && out->verb != RIDE_CTL_TOP)
            return fail(err, errlen,
                        "option '--app' applies to get partitions, events and top only");
        if (check_name("application", raw->app, err, errlen) != 0)
            return -1;
        out->app = raw->app;
    }
    if (raw->limit != NULL) {
        if (out->verb != RIDE_CTL_EVENTS)
            return fail(err, errlen, "option '--limit' applies to events only");
        if (!parse_int(raw->limit, 1, RIDE_CTL_EVENTS_LIMIT_MAX, &out->limit))
            return fail(err, errlen, "option '--limit': expected a whole number in 1..%d, got \"%s\"",
                        RIDE_CTL_EVENTS_LIMIT_MAX, raw->limit);
    }
    return check_top_and_wait(raw, out, err, errlen);
}

static const char *env_value(const char *value)
{
    return value != NULL && value[0] != '\0' ? value : NULL;
}

int ride_ctl_args_parse(int argc, char *const argv[], const ride_ctl_env *env,
                        ride_ctl_args *out, char *err, size_t errlen)
{
    raw_args raw = {0};
    memset(out, 0, sizeof *out);
    out->timeout_ms = RIDE_CTL_DEFAULT_TIMEOUT_S * 1000;
    if (scan(argc, argv, out, &raw, err, errlen) != 0)
        return -1;
    if (raw.help) {
        out->verb = RIDE_CTL_HELP;
        return 0;
    }
    if (raw.version) {
        out->verb = RIDE_CTL_VERSION;
        return 0;
    }
    if (raw.positional_count == 0)
        return fail(err, errlen, "no command given");
    if (parse_verb(&raw, out, err, errlen) != 0 || check_verb_options(&raw, out, err, errlen) != 0)
        return -1;
    if (env != NULL) {
        /* A cluster named on the command line wins over both variables. */
        if (out->zookeeper == NULL && out->server == NULL) {
            out->zookeeper = env_value(env->zookeeper);
            out->server = env_value(env->server);
        }
        if (out->token_file == NULL)
            out->token_file = env_value(env->token_file);
    }
    if (out->server == NULL && out->zookeeper == NULL)
        return fail(err, errlen,
                    "no cluster given: use --server URL or --zookeeper CONNECT "
                    "(or RIDE_SERVER / RIDE_ZOOKEEPER)");
    return 0;
}
