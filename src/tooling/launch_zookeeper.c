/* ZooKeeperServerMain with a generated zoo.cfg. */
#define _GNU_SOURCE
#include "launch_zookeeper.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROBE_TIMEOUT_MS 1000
#define FAILED_STOP_GRACE_MS 5000
#define START_ATTEMPTS 2

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

const char *ride_launch_zookeeper_unavailable(void)
{
    if (RIDE_JAVA[0] == '\0' || access(RIDE_JAVA, X_OK) != 0)
        return "no Java runtime at '" RIDE_JAVA "' (install openjdk-17-jre-headless)";
    if (!classpath_has_zookeeper_jar())
        return "no ZooKeeper server jar in the classpath " RIDE_ZOOKEEPER_CLASSPATH
               " (install zookeeper)";
    return NULL;
}

uint16_t ride_launch_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
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

int ride_launch_four_letter(uint16_t port, const char *cmd, char *buf, size_t len,
                            int timeout_ms)
{
    if (len == 0)
        return -1;
    buf[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
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

typedef struct start_probe {
    ride_launch_proc *proc;
    uint16_t port;
} start_probe;

/* Settled once `srvr` answers with the server's Mode (`ruok` answers before the
 * server accepts sessions, `srvr` only once it does) or the server has exited. */
static bool start_settled(void *ctx)
{
    start_probe *sp = ctx;
    if (!ride_launch_alive(sp->proc))
        return true;
    char answer[2048];
    if (ride_launch_four_letter(sp->port, "srvr", answer, sizeof answer, PROBE_TIMEOUT_MS) <= 0)
        return false;
    return strncmp(answer, "Mode:", 5) == 0 || strstr(answer, "\nMode:") != NULL;
}

static int write_config(const char *dir, uint16_t port, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "%s/zoo.cfg", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    /* The admin server would take port 8080; the whitelist enables the probe. */
    fprintf(f,
            "tickTime=2000\n"
            "dataDir=%s/data\n"
            "clientPort=%u\n"
            "clientPortAddress=127.0.0.1\n"
            "admin.enableServer=false\n"
            "4lw.commands.whitelist=ruok,srvr,stat,mntr\n",
            dir, port);
    return fclose(f) == 0 ? 0 : -1;
}

/* One attempt on one port: the serving process, or NULL with the reason in err. */
static ride_launch_proc *start_once(const char *dir, const char *log_path, int timeout_ms,
                                    uint16_t *port, char *err, size_t errlen)
{
    char cfg[1024];
    *port = ride_launch_free_port();
    if (*port == 0 || write_config(dir, *port, cfg, sizeof cfg) != 0) {
        snprintf(err, errlen, "cannot prepare ZooKeeper's config in %s: %s", dir, strerror(errno));
        return NULL;
    }
    /* A small client JVM starts fastest; these servers hold little data. */
    const char *argv[] = {RIDE_JAVA, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                          "-cp", RIDE_ZOOKEEPER_CLASSPATH,
                          "org.apache.zookeeper.server.ZooKeeperServerMain", cfg, NULL};
    start_probe sp = {ride_launch_spawn(argv, NULL, log_path), *port};
    if (!sp.proc) {
        snprintf(err, errlen, "cannot start %s", RIDE_JAVA);
        return NULL;
    }
    bool settled = ride_launch_wait_until(start_settled, &sp, timeout_ms);
    if (settled && ride_launch_alive(sp.proc))
        return sp.proc;
    snprintf(err, errlen, "ZooKeeper on port %u %s (see %s)", *port,
             settled ? "exited during start" : "did not serve in time", log_path);
    ride_launch_stop(sp.proc, FAILED_STOP_GRACE_MS);
    return NULL;
}

ride_launch_proc *ride_launch_zookeeper_start(const char *dir, const char *log_path,
                                              int timeout_ms, uint16_t *port, char *err,
                                              size_t errlen)
{
    const char *why = ride_launch_zookeeper_unavailable();
    if (why) {
        snprintf(err, errlen, "%s", why);
        return NULL;
    }
    ride_launch_proc *p = NULL;
    for (int attempt = 0; !p && attempt < START_ATTEMPTS; attempt++)
        p = start_once(dir, log_path, timeout_ms, port, err, errlen);
    return p;
}
