/* The demo's ZooKeeper server: ZooKeeperServerMain with a generated zoo.cfg. */
#define _GNU_SOURCE
#include "zookeeper.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ride/clock.h"

#define PROBE_TIMEOUT_MS 1000
#define PROBE_INTERVAL_NS 50000000LL

/* A port that was free a moment ago: bind port 0 and read it back. The server
 * binds it a second later; a clash shows as the server exiting during start. */
static uint16_t free_port(void)
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

static bool wait_fd(int fd, short events)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    return poll(&pfd, 1, PROBE_TIMEOUT_MS) == 1;
}

/* True when the four-letter command `srvr` answers with the server's Mode: `ruok`
 * answers before the server accepts sessions, `srvr` only once it does. */
static bool server_serving(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    if (rc != 0 && errno == EINPROGRESS && wait_fd(fd, POLLOUT)) {
        int soerr = 0;
        socklen_t slen = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen);
        rc = soerr == 0 ? 0 : -1;
    }
    char answer[2048];
    size_t n = 0;
    if (rc == 0 && write(fd, "srvr", 4) == 4) {
        while (n + 1 < sizeof answer && wait_fd(fd, POLLIN)) {
            ssize_t got = read(fd, answer + n, sizeof answer - 1 - n);
            if (got <= 0)
                break;
            n += (size_t)got;
        }
    }
    close(fd);
    answer[n] = '\0';
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

demo_proc *demo_zookeeper_start(const char *dir, const char *log_path, int timeout_ms,
                                uint16_t *port, char *err, size_t errlen)
{
    char cfg[1024];
    *port = free_port();
    if (*port == 0 || write_config(dir, *port, cfg, sizeof cfg) != 0) {
        snprintf(err, errlen, "cannot prepare ZooKeeper's config in %s: %s", dir, strerror(errno));
        return NULL;
    }
    if (access(RIDE_JAVA, X_OK) != 0) {
        snprintf(err, errlen, "no Java runtime at '%s' (install openjdk-17-jre-headless)",
                 RIDE_JAVA);
        return NULL;
    }
    /* A small client JVM starts fastest; the demo's server holds little data. */
    const char *argv[] = {RIDE_JAVA, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                          "-cp", RIDE_ZOOKEEPER_CLASSPATH,
                          "org.apache.zookeeper.server.ZooKeeperServerMain", cfg, NULL};
    demo_proc *p = demo_proc_spawn(argv, log_path);
    if (!p) {
        snprintf(err, errlen, "cannot start %s", RIDE_JAVA);
        return NULL;
    }
    int64_t deadline = ride_clock_mono_ns() + (int64_t)timeout_ms * 1000000LL;
    while (demo_proc_alive(p) && ride_clock_mono_ns() < deadline) {
        if (server_serving(*port))
            return p;
        ride_clock_sleep_until_ns(ride_clock_mono_ns() + PROBE_INTERVAL_NS);
    }
    snprintf(err, errlen, "ZooKeeper on port %u %s (see %s)", *port,
             demo_proc_alive(p) ? "did not serve in time" : "exited during start", log_path);
    demo_proc_stop(p, 5000);
    return NULL;
}
