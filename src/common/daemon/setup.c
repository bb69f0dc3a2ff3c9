/* setup.c - the start-up steps the daemons share (daemon/setup.h). Messages and
 * their wording are part of the daemons' command-line contract: the integration
 * tests read them, so a change here is a change to every daemon's interface. */
#include "daemon/setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "cluster/cluster.h"
#include "cluster/zk.h"

static const struct option SHARED_OPTIONS[] = {
    {"config", required_argument, NULL, 'c'},
    {"zookeeper", required_argument, NULL, 'z'},
    {"id", required_argument, NULL, 'i'},
    {"metrics-listen", required_argument, NULL, 'm'},
    {"log-level", required_argument, NULL, 'l'},
};
#define SHARED_COUNT (sizeof SHARED_OPTIONS / sizeof *SHARED_OPTIONS)

/* The shared options, the daemon's own, --help and the terminator, for getopt_long. */
static struct option *long_options(const ride_daemon_cli *cli)
{
    size_t extra = 0;
    while (cli->extra && cli->extra[extra].name)
        extra++;
    struct option *all = calloc(SHARED_COUNT + extra + 2, sizeof *all);
    if (!all)
        return NULL;
    memcpy(all, SHARED_OPTIONS, sizeof SHARED_OPTIONS);
    if (extra)
        memcpy(all + SHARED_COUNT, cli->extra, extra * sizeof *all);
    all[SHARED_COUNT + extra] = (struct option){"help", no_argument, NULL, 'h'};
    return all;
}

static void take_option(const ride_daemon_cli *cli, int opt, const char *arg,
                        ride_daemon_options *o)
{
    switch (opt) {
    case 'c': o->config_file = arg; break;
    case 'z': o->zookeeper = arg; break;
    case 'i': o->id = arg; break;
    case 'm': o->metrics_listen = arg; break;
    case 'l': o->log_level = arg; break;
    default: cli->take_extra(opt, arg, cli->ctx); break;
    }
}

int ride_daemon_parse_args(const ride_daemon_desc *d, const ride_daemon_cli *cli, int argc,
                           char **argv, ride_daemon_options *o)
{
    memset(o, 0, sizeof *o);
    struct option *longs = long_options(cli);
    if (!longs) {
        fprintf(stderr, "%s: out of memory\n", d->program);
        return -1;
    }
    int opt, rc = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, cli->short_options, longs, NULL)) != -1) {
        if (opt == 'h') {
            cli->print_help();
            rc = 1;
        } else if (opt == '?' || opt == ':') {
            rc = -1;
        } else {
            take_option(cli, opt, optarg, o);
        }
    }
    free(longs);
    if (rc == 0 && optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", d->program, argv[optind]);
        rc = -1;
    }
    return rc;
}

bool ride_daemon_load_config(const ride_daemon_desc *d, const ride_daemon_options *o,
                             ride_config *cfg)
{
    char buf[1024];
    ride_config_overrides ov = {o->zookeeper, o->metrics_listen, o->log_level};
    if (ride_config_resolve(d->kind, o->config_file, &ov, cfg, buf, sizeof buf)) {
        fprintf(stderr, "%s: %s\n", d->program, buf);
        return false;
    }
    ride_log_set_level(cfg->log_level);
    return true;
}

const char *ride_daemon_member_id(const ride_daemon_desc *d, const char *configured, char *buf,
                                  size_t len)
{
    const char *id = configured;
    if (!id) {
        char host[64] = ""; /* gethostname may leave a long name unterminated */
        snprintf(host, sizeof host, "%s", d->role);
        gethostname(host, sizeof host - 1);
        snprintf(buf, len, "%s-%ld", host, (long)getpid());
        id = buf;
    }
    if (!ride_member_id_valid(id)) {
        fprintf(stderr, "%s: invalid %s id '%s'\n", d->program, d->role, id);
        return NULL;
    }
    return id;
}

bool ride_daemon_read_digest(const ride_daemon_desc *d, const ride_config_zookeeper *z,
                             char *buf, size_t len)
{
    char err[512];
    buf[0] = '\0';
    if (z->digest_file &&
        ride_zk_read_digest_file(z->digest_file, buf, len, err, sizeof err) != RIDE_ZK_OK) {
        fprintf(stderr, "%s: %s\n", d->program, err);
        return false;
    }
    return true;
}

ride_http_server *ride_daemon_serve_metrics(const ride_daemon_desc *d, uv_loop_t *loop,
                                            const char *listen, ride_metrics *reg)
{
    char err[512] = "";
    ride_http_server *srv = ride_http_server_new(loop, listen, NULL, err, sizeof err);
    if (!srv || ride_metrics_serve(reg, srv) || ride_http_server_start(srv, err, sizeof err)) {
        fprintf(stderr, "%s: metrics.listen %s: %s\n", d->program, listen, err);
        ride_http_server_free(srv);
        return NULL;
    }
    return srv;
}
