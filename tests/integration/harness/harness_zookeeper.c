/* A real standalone ZooKeeper server on loopback for integration tests. */
#define _GNU_SOURCE
#include "ride_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ZK_READY_TIMEOUT_MS 30000
#define ZK_PROBE_TIMEOUT_MS 1000
#define ZK_STOP_GRACE_MS 10000
#define ZK_START_ATTEMPTS 2

struct ride_zk_server {
    char *dir;
    ride_proc *proc;
    uint16_t port;
    char connect[32];
    char log_path[512];
};

/* The jar that holds ZooKeeperServerMain, as named in the classpath. */
static bool classpath_has_zookeeper_jar(void)
{
    char cp[] = RIDE_ZOOKEEPER_CLASSPATH;
    char *save = NULL;
    for (char *entry = strtok_r(cp, ":", &save); entry; entry = strtok_r(NULL, ":", &save)) {
        const char *base = strrchr(entry, '/');
        base = base ? base + 1 : entry;
        if (strncmp(base, "zookeeper", 9) == 0 && strstr(base, ".jar") &&
            access(entry, R_OK) == 0)
            return true;
    }
    return false;
}

const char *ride_harness_zk_unavailable(void)
{
    if (RIDE_JAVA[0] == '\0' || access(RIDE_JAVA, X_OK) != 0)
        return "no Java runtime (RIDE_JAVA is empty or not executable)";
    if (!classpath_has_zookeeper_jar())
        return "no ZooKeeper server jar in RIDE_ZOOKEEPER_CLASSPATH (" RIDE_ZOOKEEPER_CLASSPATH ")";
    return NULL;
}

void ride_harness_zk_require(void)
{
    const char *why = ride_harness_zk_unavailable();
    if (why) {
        fprintf(stderr, "SKIP: ZooKeeper server cannot run here: %s\n", why);
        exit(RIDE_TEST_SKIP);
    }
}

uint16_t ride_harness_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    uint16_t port = 0;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &alen) == 0)
        port = ntohs(addr.sin_port);
    close(fd);
    return port;
}

static bool wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    return poll(&pfd, 1, timeout_ms) == 1;
}

int ride_harness_four_letter(uint16_t port, const char *cmd, char *buf, size_t len,
                             int timeout_ms)
{
    if (len == 0)
        return -1;
    buf[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    if (rc != 0 && errno == EINPROGRESS && wait_fd(fd, POLLOUT, timeout_ms)) {
        int soerr = 0;
        socklen_t slen = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen);
        rc = soerr == 0 ? 0 : -1;
    }
    size_t n = 0;
    if (rc == 0 && write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd)) {
        while (n + 1 < len && wait_fd(fd, POLLIN, timeout_ms)) {
            ssize_t got = read(fd, buf + n, len - 1 - n);
            if (got <= 0)
                break;
            n += (size_t)got;
        }
    } else {
        rc = -1;
    }
    close(fd);
    buf[n] = '\0';
    return rc == 0 ? (int)n : -1;
}

static bool server_ready(void *ctx)
{
    ride_zk_server *s = ctx;
    if (!ride_harness_proc_alive(s->proc))
        return true; /* settled: the caller sees the process is gone */
    char answer[2048];
    if (ride_harness_four_letter(s->port, "srvr", answer, sizeof answer, ZK_PROBE_TIMEOUT_MS) <= 0)
        return false;
    return strncmp(answer, "Mode:", 5) == 0 || strstr(answer, "\nMode:") != NULL;
}

static void print_server_log(const ride_zk_server *s)
{
    char *log = ride_harness_read_file(s->log_path, NULL);
    fprintf(stderr, "---- ZooKeeper log %s ----\n%s\n----\n", s->log_path, log ? log : "(none)");
    free(log);
}

/* One attempt on one port: true when the server accepts sessions. */
static bool start_once(ride_zk_server *s)
{
    s->port = ride_harness_free_port();
    if (s->port == 0)
        return false;
    snprintf(s->connect, sizeof s->connect, "127.0.0.1:%u", s->port);
    char cfg_path[512], data_dir[512], cfg[2048];
    snprintf(cfg_path, sizeof cfg_path, "%s/zoo.cfg", s->dir);
    snprintf(data_dir, sizeof data_dir, "%s/data", s->dir);
    snprintf(s->log_path, sizeof s->log_path, "%s/zookeeper.log", s->dir);
    snprintf(cfg, sizeof cfg,
             "tickTime=2000\n"
             "dataDir=%s\n"
             "clientPort=%u\n"
             "clientPortAddress=127.0.0.1\n"
             "admin.enableServer=false\n"
             "4lw.commands.whitelist=ruok,srvr,stat,mntr\n",
             data_dir, s->port);
    if (ride_harness_write_file(cfg_path, cfg) != 0)
        return false;
    /* A small client JVM starts fastest; the test server holds little data. */
    const char *argv[] = {RIDE_JAVA, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                          "-cp", RIDE_ZOOKEEPER_CLASSPATH,
                          "org.apache.zookeeper.server.ZooKeeperServerMain", cfg_path, NULL};
    s->proc = ride_harness_spawn(argv, NULL, s->log_path);
    if (!s->proc)
        return false;
    bool settled = ride_harness_wait_until(server_ready, s, ZK_READY_TIMEOUT_MS);
    if (settled && ride_harness_proc_alive(s->proc))
        return true;
    fprintf(stderr, "harness: ZooKeeper on port %u %s\n", s->port,
            settled ? "exited during start" : "not ready within 30 s");
    print_server_log(s);
    ride_harness_proc_stop(s->proc, ZK_STOP_GRACE_MS);
    s->proc = NULL;
    return false;
}

ride_zk_server *ride_harness_zk_start(void)
{
    if (ride_harness_zk_unavailable())
        return NULL;
    ride_zk_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->dir = ride_harness_tempdir("ride-zk-");
    for (int attempt = 0; s->dir && attempt < ZK_START_ATTEMPTS; attempt++)
        if (start_once(s))
            return s;
    ride_harness_zk_stop(s);
    return NULL;
}

const char *ride_harness_zk_connect(const ride_zk_server *s) { return s->connect; }

uint16_t ride_harness_zk_port(const ride_zk_server *s) { return s->port; }

void ride_harness_zk_stop(ride_zk_server *s)
{
    if (!s)
        return;
    ride_harness_proc_stop(s->proc, ZK_STOP_GRACE_MS);
    ride_harness_rmtree(s->dir);
    free(s->dir);
    free(s);
}

static ride_zk_server *shared_server;

int ride_harness_zk_group_setup(void **state)
{
    (void)state;
    ride_harness_zk_require();
    shared_server = ride_harness_zk_start();
    return shared_server ? 0 : -1;
}

int ride_harness_zk_group_teardown(void **state)
{
    (void)state;
    ride_harness_zk_stop(shared_server);
    shared_server = NULL;
    return 0;
}

ride_zk_server *ride_harness_zk_shared(void) { return shared_server; }
