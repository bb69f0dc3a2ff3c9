/* zk.c - sessions, synchronous operations, one-shot watches and leader election
 * over zookeeper_mt (cluster/zk.h). Callbacks run on ZooKeeper's completion
 * thread, so the election code there is asynchronous and never blocks. */
#include "cluster/zk.h"

#include "base/error.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zookeeper/zookeeper.h>

#define DEFAULT_SESSION_TIMEOUT_MS 6000
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define INITIAL_GET_BUFFER 4096
#define ELECTION_PREFIX "n_"
#define SEQUENCE_DIGITS 10
/* Attempts when nodes change under a multi-step operation (a leader resigning
 * between list and read, a child appearing during a recursive delete). */
#define RACE_RETRIES 8
#define CLIENT_LOG_REPEAT_WINDOW_MS 10000

/* A one-shot watch in flight. Kept on its handle's list so that ride_zk_close can
 * free the ones that never fired (ZooKeeper drops them without a call). */
typedef struct zk_watch {
    ride_zk *zk;
    ride_zk_watch_fn fn;
    void *ctx;
    struct zk_watch *prev, *next;
} zk_watch;

struct ride_zk_election {
    ride_zk *zk;
    char dir[RIDE_ZK_PATH_MAX];
    char node[RIDE_ZK_PATH_MAX];
    long long seq;
    ride_zk_leader_fn on_leader;
    void *ctx;
    atomic_bool leader;
    atomic_bool resigned;
    struct ride_zk_election *next;
};

struct ride_zk {
    zhandle_t *zh;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int state;  /* ride_zk_session_state */
    bool connected_once;
    int auth_rc;        /* zoo_add_auth completion; 1 while pending */
    const struct ACL_vector *acl;
    ride_zk_session_fn on_session;
    void *session_ctx;
    zk_watch *watches;
    ride_zk_election *elections;
};

static atomic_int client_log_level = RIDE_LOG_WARN;
static pthread_once_t client_log_once = PTHREAD_ONCE_INIT;

const char *ride_zk_strerror(ride_zk_err err)
{
    switch (err) {
    case RIDE_ZK_OK: return "ok";
    case RIDE_ZK_NONODE: return "node does not exist";
    case RIDE_ZK_NODEEXISTS: return "node already exists";
    case RIDE_ZK_BADVERSION: return "version mismatch (node changed meanwhile)";
    case RIDE_ZK_NOTEMPTY: return "node has children";
    case RIDE_ZK_NOAUTH: return "not authorised by the node's ACL";
    case RIDE_ZK_CONNECTION_LOSS: return "connection lost (outcome unknown)";
    case RIDE_ZK_EXPIRED: return "session expired";
    case RIDE_ZK_TIMEOUT: return "timed out";
    case RIDE_ZK_BAD_ARGUMENTS: return "bad arguments";
    case RIDE_ZK_TOO_LARGE: return "too large";
    case RIDE_ZK_NO_CHILDREN_FOR_EPHEMERALS: return "ephemeral nodes cannot have children";
    case RIDE_ZK_ERROR: return "ZooKeeper error";
    }
    return "unknown error";
}

static ride_zk_err map_rc(int rc)
{
    switch (rc) {
    case ZOK: return RIDE_ZK_OK;
    case ZNONODE: return RIDE_ZK_NONODE;
    case ZNODEEXISTS: return RIDE_ZK_NODEEXISTS;
    case ZBADVERSION: return RIDE_ZK_BADVERSION;
    case ZNOTEMPTY: return RIDE_ZK_NOTEMPTY;
    case ZNOAUTH:
    case ZAUTHFAILED: return RIDE_ZK_NOAUTH;
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT: return RIDE_ZK_CONNECTION_LOSS;
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE: return RIDE_ZK_EXPIRED;
    case ZBADARGUMENTS: return RIDE_ZK_BAD_ARGUMENTS;
    case ZNOCHILDRENFOREPHEMERALS: return RIDE_ZK_NO_CHILDREN_FOR_EPHEMERALS;
    default: return RIDE_ZK_ERROR;
    }
}

/* ---- ZooKeeper's log lines ---------------------------------------------- */

static ZooLogLevel zoo_level_for(ride_log_level level)
{
    switch (level) {
    case RIDE_LOG_DEBUG: return ZOO_LOG_LEVEL_DEBUG;
    case RIDE_LOG_INFO: return ZOO_LOG_LEVEL_INFO;
    case RIDE_LOG_WARN: return ZOO_LOG_LEVEL_WARN;
    case RIDE_LOG_ERROR: return ZOO_LOG_LEVEL_ERROR;
    }
    return ZOO_LOG_LEVEL_WARN;
}

void ride_zk_set_client_log_level(ride_log_level level)
{
    atomic_store(&client_log_level, (int)level);
    zoo_set_debug_level(zoo_level_for(level));
}

static void apply_default_log_level(void)
{
    zoo_set_debug_level(zoo_level_for((ride_log_level)atomic_load(&client_log_level)));
}

/* While a server is unreachable the client repeats the same two lines ten times a
 * second; one of each per window is enough to tell an operator. */
static bool repeated_client_message(const char *text)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static char recent[2][256];
    static int64_t recent_ms[2];
    static int next_slot;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    bool repeated = false;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < 2 && !repeated; i++)
        repeated = strncmp(recent[i], text, sizeof recent[i] - 1) == 0 &&
                   now - recent_ms[i] < CLIENT_LOG_REPEAT_WINDOW_MS;
    if (!repeated) {
        snprintf(recent[next_slot], sizeof recent[next_slot], "%s", text);
        recent_ms[next_slot] = now;
        next_slot = (next_slot + 1) % 2;
    }
    pthread_mutex_unlock(&mu);
    return repeated;
}

/* The client formats "time:pid(0xtid):ZOO_LEVEL@function@line: message". Its
 * errors are mostly transient (a refused reconnect): this module reports real
 * failures through return codes, so they are logged as warnings. */
static void log_client_message(const char *message)
{
    ride_log_level level = RIDE_LOG_INFO;
    if (strstr(message, ":ZOO_ERROR@") || strstr(message, ":ZOO_WARN@"))
        level = RIDE_LOG_WARN;
    else if (strstr(message, ":ZOO_DEBUG@"))
        level = RIDE_LOG_DEBUG;
    if ((int)level < atomic_load(&client_log_level))
        return;
    const char *text = strstr(message, "@");
    text = text ? text + 1 : message;
    if (repeated_client_message(text))
        return;
    char quoted[1024];
    ride_log(level, "zk_client", "msg=%s", ride_log_quote(text, quoted, sizeof quoted));
}

/* ---- connect strings ------------------------------------------------------ */

static bool valid_port(const char *s, size_t n)
{
    if (n == 0 || n > 5)
        return false;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

static bool valid_host_char(char c, bool bracketed)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    if (bracketed)
        return c == ':' || c == '.' || c == '%';
    return c == '.' || c == '-' || c == '_';
}

static bool valid_server(const char *s, size_t n, char *err, size_t errlen)
{
    const char *colon;
    const char *host = s;
    size_t hostlen;
    bool bracketed = n > 0 && s[0] == '[';
    if (bracketed) {
        const char *close = memchr(s, ']', n);
        if (!close || close + 1 >= s + n || close[1] != ':') {
            ride_set_error(err, errlen, "server '%.*s': expected [IPV6]:PORT", (int)n, s);
            return false;
        }
        host = s + 1;
        hostlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = NULL;
        for (size_t i = 0; i < n; i++)
            if (s[i] == ':')
                colon = s + i;
        if (!colon) {
            ride_set_error(err, errlen, "server '%.*s': expected HOST:PORT", (int)n, s);
            return false;
        }
        hostlen = (size_t)(colon - s);
    }
    bool host_ok = hostlen > 0;
    for (size_t i = 0; host_ok && i < hostlen; i++)
        host_ok = valid_host_char(host[i], bracketed);
    if (!host_ok) {
        ride_set_error(err, errlen, "server '%.*s': bad host name", (int)n, s);
        return false;
    }
    size_t portlen = (size_t)(s + n - (colon + 1));
    if (!valid_port(colon + 1, portlen)) {
        ride_set_error(err, errlen, "server '%.*s': port must be 1..65535", (int)n, s);
        return false;
    }
    return true;
}

/* A chroot or node path: "/a/b", no empty, "." or ".." component, no trailing
 * slash, no control characters. "/" alone is allowed only when allow_root. */
static bool valid_path(const char *p, bool allow_root)
{
    size_t n = strlen(p);
    if (n == 0 || p[0] != '/' || n >= RIDE_ZK_PATH_MAX)
        return false;
    if (n == 1)
        return allow_root;
    if (p[n - 1] == '/')
        return false;
    const char *c = p + 1;
    while (*c) {
        const char *end = strchr(c, '/');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f)
                return false;
        c += len + (end ? 1 : 0);
    }
    return true;
}

/* Splits connect into its server list and chroot ("" when none). */
static ride_zk_err split_connect(const char *connect, char *servers, char *chroot, char *err,
                                 size_t errlen)
{
    if (!connect || !connect[0]) {
        ride_set_error(err, errlen, "empty ZooKeeper connect string");
        return RIDE_ZK_BAD_ARGUMENTS;
    }
    size_t n = strlen(connect);
    if (n >= RIDE_ZK_PATH_MAX) {
        ride_set_error(err, errlen, "ZooKeeper connect string longer than %d bytes", RIDE_ZK_PATH_MAX - 1);
        return RIDE_ZK_BAD_ARGUMENTS;
    }
    const char *slash = strchr(connect, '/');
    size_t serverlen = slash ? (size_t)(slash - connect) : n;
    memcpy(servers, connect, serverlen);
    servers[serverlen] = '\0';
    chroot[0] = '\0';
    if (slash) {
        if (!valid_path(slash, false)) {
            ride_set_error(err, errlen,
                    "chroot '%s': expected /NAME[/NAME...] without a trailing '/', empty, '.' or "
                    "'..' components",
                    slash);
            return RIDE_ZK_BAD_ARGUMENTS;
        }
        strcpy(chroot, slash);
    }
    if (serverlen == 0) {
        ride_set_error(err, errlen, "no server in ZooKeeper connect string '%s'", connect);
        return RIDE_ZK_BAD_ARGUMENTS;
    }
    const char *s = servers;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (!valid_server(s, len, err, errlen))
            return RIDE_ZK_BAD_ARGUMENTS;
        if (!comma)
            break;
        s = comma + 1;
    }
    return RIDE_ZK_OK;
}

ride_zk_err ride_zk_parse_connect(const char *connect, char *err, size_t errlen)
{
    char servers[RIDE_ZK_PATH_MAX], chroot[RIDE_ZK_PATH_MAX];
    return split_connect(connect, servers, chroot, err, errlen);
}

ride_zk_err ride_zk_read_digest_file(const char *path, char *out, size_t outlen, char *err,
                                     size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ride_set_error(err, errlen, "%s: %s", path, strerror(errno));
        return RIDE_ZK_BAD_ARGUMENTS;
    }
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    const char *colon = strchr(buf, ':');
    bool printable = true;
    for (size_t i = 0; i < n; i++)
        printable = printable && (unsigned char)buf[i] > 0x20 && buf[i] != 0x7f;
    if (more || !printable || !colon || colon == buf || colon[1] == '\0') {
        ride_set_error(err, errlen, "%s: expected one line 'user:password' without spaces (at most %zu bytes)",
                path, sizeof buf - 2);
        return RIDE_ZK_BAD_ARGUMENTS;
    }
    if (n + 1 > outlen) {
        ride_set_error(err, errlen, "%s: digest longer than %zu bytes", path, outlen - 1);
        return RIDE_ZK_TOO_LARGE;
    }
    memcpy(out, buf, n + 1);
    return RIDE_ZK_OK;
}

/* ---- sessions ------------------------------------------------------------- */

static ride_zk_session_state map_state(int state)
{
    if (state == ZOO_CONNECTED_STATE || state == ZOO_READONLY_STATE)
        return RIDE_ZK_SESSION_CONNECTED;
    if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE)
        return RIDE_ZK_SESSION_EXPIRED;
    return RIDE_ZK_SESSION_CONNECTING;
}

static void election_check(ride_zk_election *e);

/* After a reconnection a predecessor may have vanished while its deletion event
 * could not be delivered: every candidate looks again. */
static void recheck_elections(ride_zk *zk)
{
    pthread_mutex_lock(&zk->mu);
    for (ride_zk_election *e = zk->elections; e; e = e->next)
        election_check(e);
    pthread_mutex_unlock(&zk->mu);
}

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)path;
    ride_zk *zk = ctx;
    if (type != ZOO_SESSION_EVENT || !zk)
        return;
    ride_zk_session_state s = map_state(state);
    pthread_mutex_lock(&zk->mu);
    bool reconnected = s == RIDE_ZK_SESSION_CONNECTED && zk->connected_once;
    if (s == RIDE_ZK_SESSION_CONNECTED)
        zk->connected_once = true;
    atomic_store(&zk->state, (int)s);
    pthread_cond_broadcast(&zk->cv);
    pthread_mutex_unlock(&zk->mu);
    if (s == RIDE_ZK_SESSION_EXPIRED)
        ride_log_warn("zk_session_expired", "state=%d", state);
    if (reconnected)
        recheck_elections(zk);
    if (zk->on_session)
        zk->on_session(s, zk->session_ctx);
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void auth_done(int rc, const void *data)
{
    ride_zk *zk = (ride_zk *)(void *)(uintptr_t)data;
    pthread_mutex_lock(&zk->mu);
    zk->auth_rc = rc;
    pthread_cond_broadcast(&zk->cv);
    pthread_mutex_unlock(&zk->mu);
}

static ride_zk *zk_alloc(const ride_zk_options *opts)
{
    ride_zk *zk = calloc(1, sizeof *zk);
    if (!zk)
        return NULL;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&zk->cv, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&zk->mu, NULL);
    atomic_store(&zk->state, (int)RIDE_ZK_SESSION_CONNECTING);
    zk->acl = opts->digest ? &ZOO_CREATOR_ALL_ACL : &ZOO_OPEN_ACL_UNSAFE;
    zk->on_session = opts->on_session;
    zk->session_ctx = opts->session_ctx;
    return zk;
}

/* Waits under zk->mu until done() or the deadline; false on timeout. */
static bool wait_locked(ride_zk *zk, bool (*done)(ride_zk *), const struct timespec *deadline)
{
    while (!done(zk))
        if (pthread_cond_timedwait(&zk->cv, &zk->mu, deadline) == ETIMEDOUT)
            return done(zk);
    return true;
}

static bool session_settled(ride_zk *zk)
{
    return atomic_load(&zk->state) != (int)RIDE_ZK_SESSION_CONNECTING;
}

static bool auth_settled(ride_zk *zk) { return zk->auth_rc != 1; }

/* Opens one session on connect (servers and chroot) and waits for it. */
static ride_zk_err open_session(const char *connect, const ride_zk_options *opts, ride_zk **out,
                                char *err, size_t errlen)
{
    int timeout = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms
                                               : DEFAULT_CONNECT_TIMEOUT_MS;
    int session = opts->session_timeout_ms > 0 ? opts->session_timeout_ms
                                               : DEFAULT_SESSION_TIMEOUT_MS;
    ride_zk *zk = zk_alloc(opts);
    if (!zk) {
        ride_set_error(err, errlen, "out of memory");
        return RIDE_ZK_ERROR;
    }
    struct timespec deadline;
    deadline_after(&deadline, timeout);
    /* The handle's context must be set before the first event: init under the lock. */
    pthread_mutex_lock(&zk->mu);
    zk->zh = zookeeper_init2(connect, session_watcher, session, NULL, zk, 0, log_client_message);
    if (!zk->zh) {
        int e = errno;
        pthread_mutex_unlock(&zk->mu);
        ride_set_error(err, errlen, "zookeeper_init('%s'): %s", connect, strerror(e));
        ride_zk_close(zk);
        return RIDE_ZK_BAD_ARGUMENTS;
    }
    bool settled = wait_locked(zk, session_settled, &deadline);
    pthread_mutex_unlock(&zk->mu);
    ride_zk_err rc = RIDE_ZK_OK;
    if (!settled) {
        ride_set_error(err, errlen, "no ZooKeeper session with '%s' within %d ms", connect, timeout);
        rc = RIDE_ZK_TIMEOUT;
    } else if (ride_zk_state(zk) != RIDE_ZK_SESSION_CONNECTED) {
        ride_set_error(err, errlen, "ZooKeeper session with '%s' expired while connecting", connect);
        rc = RIDE_ZK_EXPIRED;
    } else if (opts->digest) {
        pthread_mutex_lock(&zk->mu);
        zk->auth_rc = 1;
        int arc = zoo_add_auth(zk->zh, "digest", opts->digest, (int)strlen(opts->digest), auth_done,
                               zk);
        if (arc != ZOK)
            zk->auth_rc = arc;
        bool authed = wait_locked(zk, auth_settled, &deadline);
        int auth_rc = zk->auth_rc;
        pthread_mutex_unlock(&zk->mu);
        if (!authed) {
            ride_set_error(err, errlen, "ZooKeeper digest authentication timed out after %d ms", timeout);
            rc = RIDE_ZK_TIMEOUT;
        } else if (auth_rc != ZOK) {
            ride_set_error(err, errlen, "ZooKeeper digest authentication failed: %s", zerror(auth_rc));
            rc = map_rc(auth_rc);
        }
    }
    if (rc != RIDE_ZK_OK) {
        ride_zk_close(zk);
        return rc;
    }
    *out = zk;
    return RIDE_ZK_OK;
}

ride_zk_err ride_zk_connect(const ride_zk_options *opts, ride_zk **out, char *err, size_t errlen)
{
    if (!out) {
        ride_set_error(err, errlen, "no output handle");
        return RIDE_ZK_BAD_ARGUMENTS;
    }
    *out = NULL;
    if (!opts) {
        ride_set_error(err, errlen, "no options");
        return RIDE_ZK_BAD_ARGUMENTS;
    }
    pthread_once(&client_log_once, apply_default_log_level);
    char servers[RIDE_ZK_PATH_MAX], chroot[RIDE_ZK_PATH_MAX];
    ride_zk_err rc = split_connect(opts->connect, servers, chroot, err, errlen);
    if (rc != RIDE_ZK_OK)
        return rc;
    if (chroot[0]) {
        ride_zk_options plain = *opts;
        plain.on_session = NULL;
        ride_zk *root = NULL;
        rc = open_session(servers, &plain, &root, err, errlen);
        if (rc != RIDE_ZK_OK)
            return rc;
        rc = ride_zk_ensure_path(root, chroot);
        ride_zk_close(root);
        if (rc != RIDE_ZK_OK) {
            ride_set_error(err, errlen, "creating chroot '%s': %s", chroot, ride_zk_strerror(rc));
            return rc;
        }
    }
    return open_session(opts->connect, opts, out, err, errlen);
}

void ride_zk_close(ride_zk *zk)
{
    if (!zk)
        return;
    /* Joins ZooKeeper's threads: no callback runs after this. */
    if (zk->zh)
        zookeeper_close(zk->zh);
    while (zk->watches) {
        zk_watch *w = zk->watches;
        zk->watches = w->next;
        free(w);
    }
    while (zk->elections) {
        ride_zk_election *e = zk->elections;
        zk->elections = e->next;
        free(e);
    }
    pthread_cond_destroy(&zk->cv);
    pthread_mutex_destroy(&zk->mu);
    free(zk);
}

ride_zk_session_state ride_zk_state(const ride_zk *zk)
{
    return (ride_zk_session_state)atomic_load(&((ride_zk *)(uintptr_t)zk)->state);
}

int64_t ride_zk_session_id(ride_zk *zk)
{
    const clientid_t *id = zoo_client_id(zk->zh);
    return id ? id->client_id : 0;
}

/* ---- synchronous operations ----------------------------------------------- */

static bool usable_path(const char *path) { return path && valid_path(path, true); }

static int create_mode(int flags)
{
    bool eph = flags & RIDE_ZK_EPHEMERAL;
    bool seq = flags & RIDE_ZK_SEQUENTIAL;
    if (eph)
        return seq ? ZOO_EPHEMERAL_SEQUENTIAL : ZOO_EPHEMERAL;
    return seq ? ZOO_PERSISTENT_SEQUENTIAL : ZOO_PERSISTENT;
}

ride_zk_err ride_zk_create(ride_zk *zk, const char *path, const void *data, size_t len, int flags,
                           char *created, size_t created_len)
{
    if (!zk || !usable_path(path) || (flags & ~(RIDE_ZK_EPHEMERAL | RIDE_ZK_SEQUENTIAL)) ||
        (len > 0 && !data))
        return RIDE_ZK_BAD_ARGUMENTS;
    if (len > RIDE_ZK_DATA_MAX)
        return RIDE_ZK_TOO_LARGE;
    char local[RIDE_ZK_PATH_MAX];
    char *buf = created && created_len > 0 ? created : local;
    int buflen = created && created_len > 0 ? (int)(created_len > INT_MAX ? INT_MAX : created_len)
                                            : (int)sizeof local;
    int rc = zoo_create(zk->zh, path, data, data ? (int)len : -1, zk->acl, create_mode(flags), buf,
                        buflen);
    return map_rc(rc);
}

/* Reads the data of path, growing the buffer to the node's dataLength. */
static ride_zk_err get_plain(ride_zk *zk, const char *path, char **data, size_t *len,
                             int32_t *version)
{
    int cap = INITIAL_GET_BUFFER;
    for (int attempt = 0; attempt < RACE_RETRIES; attempt++) {
        char *buf = malloc((size_t)cap + 1);
        if (!buf)
            return RIDE_ZK_ERROR;
        int got = cap;
        struct Stat st;
        int rc = zoo_get(zk->zh, path, 0, buf, &got, &st);
        if (rc != ZOK) {
            free(buf);
            return map_rc(rc);
        }
        if (st.dataLength > cap) {
            free(buf);
            if (st.dataLength > RIDE_ZK_DATA_MAX)
                return RIDE_ZK_TOO_LARGE;
            cap = st.dataLength;
            continue;
        }
        size_t n = got > 0 ? (size_t)got : 0;
        buf[n] = '\0';
        *data = buf;
        if (len)
            *len = n;
        if (version)
            *version = st.version;
        return RIDE_ZK_OK;
    }
    return RIDE_ZK_CONNECTION_LOSS;
}

ride_zk_err ride_zk_get(ride_zk *zk, const char *path, char **data, size_t *len, int32_t *version)
{
    if (!zk || !usable_path(path) || !data)
        return RIDE_ZK_BAD_ARGUMENTS;
    *data = NULL;
    return get_plain(zk, path, data, len, version);
}

ride_zk_err ride_zk_set(ride_zk *zk, const char *path, const void *data, size_t len,
                        int32_t expected_version, int32_t *new_version)
{
    if (!zk || !usable_path(path) || (len > 0 && !data) || expected_version < -1)
        return RIDE_ZK_BAD_ARGUMENTS;
    if (len > RIDE_ZK_DATA_MAX)
        return RIDE_ZK_TOO_LARGE;
    struct Stat st;
    int rc = zoo_set2(zk->zh, path, data, data ? (int)len : -1, expected_version, &st);
    if (rc == ZOK && new_version)
        *new_version = st.version;
    return map_rc(rc);
}

ride_zk_err ride_zk_delete(ride_zk *zk, const char *path, int32_t expected_version)
{
    if (!zk || !usable_path(path) || expected_version < -1)
        return RIDE_ZK_BAD_ARGUMENTS;
    return map_rc(zoo_delete(zk->zh, path, expected_version));
}

ride_zk_err ride_zk_exists(ride_zk *zk, const char *path, int32_t *version)
{
    if (!zk || !usable_path(path))
        return RIDE_ZK_BAD_ARGUMENTS;
    struct Stat st;
    int rc = zoo_exists(zk->zh, path, 0, &st);
    if (rc == ZOK && version)
        *version = st.version;
    return map_rc(rc);
}

void ride_zk_strings_free(ride_zk_strings *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->count; i++)
        free(s->items[i]);
    free(s->items);
    s->items = NULL;
    s->count = 0;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Copies a ZooKeeper String_vector into out, sorted; frees the vector. */
static ride_zk_err take_strings(struct String_vector *v, ride_zk_strings *out)
{
    ride_zk_err rc = RIDE_ZK_OK;
    size_t n = v->count > 0 ? (size_t)v->count : 0;
    out->items = n ? calloc(n, sizeof *out->items) : NULL;
    out->count = 0;
    if (n && !out->items)
        rc = RIDE_ZK_ERROR;
    for (size_t i = 0; rc == RIDE_ZK_OK && i < n; i++) {
        out->items[i] = strdup(v->data[i]);
        if (!out->items[i])
            rc = RIDE_ZK_ERROR;
        else
            out->count++;
    }
    deallocate_String_vector(v);
    if (rc != RIDE_ZK_OK) {
        ride_zk_strings_free(out);
        return rc;
    }
    if (out->count > 1)
        qsort(out->items, out->count, sizeof *out->items, compare_strings);
    return RIDE_ZK_OK;
}

ride_zk_err ride_zk_get_children(ride_zk *zk, const char *path, ride_zk_strings *out)
{
    if (!out)
        return RIDE_ZK_BAD_ARGUMENTS;
    out->items = NULL;
    out->count = 0;
    if (!zk || !usable_path(path))
        return RIDE_ZK_BAD_ARGUMENTS;
    struct String_vector v = {0};
    int rc = zoo_get_children(zk->zh, path, 0, &v);
    if (rc != ZOK)
        return map_rc(rc);
    return take_strings(&v, out);
}

ride_zk_err ride_zk_ensure_path(ride_zk *zk, const char *path)
{
    if (!zk || !usable_path(path))
        return RIDE_ZK_BAD_ARGUMENTS;
    if (strcmp(path, "/") == 0 || ride_zk_exists(zk, path, NULL) == RIDE_ZK_OK)
        return RIDE_ZK_OK;
    char prefix[RIDE_ZK_PATH_MAX];
    size_t n = strlen(path);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        memcpy(prefix, path, i);
        prefix[i] = '\0';
        ride_zk_err rc = ride_zk_create(zk, prefix, NULL, 0, 0, NULL, 0);
        if (rc != RIDE_ZK_OK && rc != RIDE_ZK_NODEEXISTS)
            return rc;
    }
    return RIDE_ZK_OK;
}

static ride_zk_err join_path(const char *dir, const char *child, char *out)
{
    int n = snprintf(out, RIDE_ZK_PATH_MAX, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, child);
    return n < 0 || n >= RIDE_ZK_PATH_MAX ? RIDE_ZK_TOO_LARGE : RIDE_ZK_OK;
}

ride_zk_err ride_zk_delete_recursive(ride_zk *zk, const char *path)
{
    if (!zk || !usable_path(path))
        return RIDE_ZK_BAD_ARGUMENTS;
    for (int attempt = 0; attempt < RACE_RETRIES; attempt++) {
        ride_zk_strings kids;
        ride_zk_err rc = ride_zk_get_children(zk, path, &kids);
        if (rc == RIDE_ZK_NONODE)
            return RIDE_ZK_OK;
        if (rc != RIDE_ZK_OK)
            return rc;
        for (size_t i = 0; rc == RIDE_ZK_OK && i < kids.count; i++) {
            char child[RIDE_ZK_PATH_MAX];
            rc = join_path(path, kids.items[i], child);
            if (rc == RIDE_ZK_OK)
                rc = ride_zk_delete_recursive(zk, child);
        }
        ride_zk_strings_free(&kids);
        if (rc != RIDE_ZK_OK)
            return rc;
        if (strcmp(path, "/") == 0)
            return RIDE_ZK_OK;
        rc = ride_zk_delete(zk, path, -1);
        if (rc == RIDE_ZK_OK || rc == RIDE_ZK_NONODE)
            return RIDE_ZK_OK;
        if (rc != RIDE_ZK_NOTEMPTY)
            return rc;
    }
    return RIDE_ZK_NOTEMPTY;
}

/* ---- watches -------------------------------------------------------------- */

static zk_watch *watch_new(ride_zk *zk, ride_zk_watch_fn fn, void *ctx)
{
    zk_watch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->zk = zk;
    w->fn = fn;
    w->ctx = ctx;
    pthread_mutex_lock(&zk->mu);
    w->next = zk->watches;
    if (w->next)
        w->next->prev = w;
    zk->watches = w;
    pthread_mutex_unlock(&zk->mu);
    return w;
}

static void watch_free(zk_watch *w)
{
    ride_zk *zk = w->zk;
    pthread_mutex_lock(&zk->mu);
    if (w->prev)
        w->prev->next = w->next;
    else
        zk->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&zk->mu);
    free(w);
}

/* ZooKeeper also hands every watch each session event; only the node events and
 * the session's end concern the watch. */
static void watch_trampoline(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    zk_watch *w = ctx;
    if (type == ZOO_SESSION_EVENT) {
        if (map_state(state) == RIDE_ZK_SESSION_EXPIRED)
            watch_free(w);
        return;
    }
    ride_zk_event ev;
    if (type == ZOO_CREATED_EVENT)
        ev = RIDE_ZK_EVENT_CREATED;
    else if (type == ZOO_DELETED_EVENT)
        ev = RIDE_ZK_EVENT_DELETED;
    else if (type == ZOO_CHANGED_EVENT)
        ev = RIDE_ZK_EVENT_CHANGED;
    else if (type == ZOO_CHILD_EVENT)
        ev = RIDE_ZK_EVENT_CHILDREN;
    else {
        watch_free(w);
        return;
    }
    ride_zk_watch_fn fn = w->fn;
    void *fctx = w->ctx;
    watch_free(w);
    fn(ev, path ? path : "", fctx);
}

ride_zk_err ride_zk_get_watch(ride_zk *zk, const char *path, ride_zk_watch_fn fn, void *ctx,
                              char **data, size_t *len, int32_t *version)
{
    if (!zk || !usable_path(path) || !fn || !data)
        return RIDE_ZK_BAD_ARGUMENTS;
    *data = NULL;
    zk_watch *w = watch_new(zk, fn, ctx);
    if (!w)
        return RIDE_ZK_ERROR;
    char *buf = malloc(INITIAL_GET_BUFFER + 1);
    if (!buf) {
        watch_free(w);
        return RIDE_ZK_ERROR;
    }
    int got = INITIAL_GET_BUFFER;
    struct Stat st;
    int rc = zoo_wget(zk->zh, path, watch_trampoline, w, buf, &got, &st);
    if (rc != ZOK) {
        /* The watch is registered only with a successful reply. */
        watch_free(w);
        free(buf);
        return map_rc(rc);
    }
    /* w may have fired and been freed from here on. A node larger than the first
     * buffer is read again without a watch: that read is at least as new as the
     * watch, and any later change still fires it. */
    if (st.dataLength > INITIAL_GET_BUFFER) {
        free(buf);
        if (st.dataLength > RIDE_ZK_DATA_MAX)
            return RIDE_ZK_TOO_LARGE;
        return get_plain(zk, path, data, len, version);
    }
    size_t n = got > 0 ? (size_t)got : 0;
    buf[n] = '\0';
    *data = buf;
    if (len)
        *len = n;
    if (version)
        *version = st.version;
    return RIDE_ZK_OK;
}

ride_zk_err ride_zk_exists_watch(ride_zk *zk, const char *path, ride_zk_watch_fn fn, void *ctx,
                                 int32_t *version)
{
    if (!zk || !usable_path(path) || !fn)
        return RIDE_ZK_BAD_ARGUMENTS;
    zk_watch *w = watch_new(zk, fn, ctx);
    if (!w)
        return RIDE_ZK_ERROR;
    struct Stat st;
    int rc = zoo_wexists(zk->zh, path, watch_trampoline, w, &st);
    if (rc != ZOK && rc != ZNONODE) {
        watch_free(w);
        return map_rc(rc);
    }
    if (rc == ZOK && version)
        *version = st.version;
    return map_rc(rc);
}

ride_zk_err ride_zk_get_children_watch(ride_zk *zk, const char *path, ride_zk_watch_fn fn,
                                       void *ctx, ride_zk_strings *out)
{
    if (!out)
        return RIDE_ZK_BAD_ARGUMENTS;
    out->items = NULL;
    out->count = 0;
    if (!zk || !usable_path(path) || !fn)
        return RIDE_ZK_BAD_ARGUMENTS;
    zk_watch *w = watch_new(zk, fn, ctx);
    if (!w)
        return RIDE_ZK_ERROR;
    struct String_vector v = {0};
    int rc = zoo_wget_children(zk->zh, path, watch_trampoline, w, &v);
    if (rc != ZOK) {
        watch_free(w);
        return map_rc(rc);
    }
    return take_strings(&v, out);
}

/* ---- leader election ------------------------------------------------------ */

/* The sequence number of an election node name "n_0000000042", or -1. */
static long long election_seq(const char *name)
{
    size_t plen = strlen(ELECTION_PREFIX);
    if (strncmp(name, ELECTION_PREFIX, plen) != 0 || strlen(name) != plen + SEQUENCE_DIGITS)
        return -1;
    long long v = 0;
    for (const char *c = name + plen; *c; c++) {
        if (*c < '0' || *c > '9')
            return -1;
        v = v * 10 + (*c - '0');
    }
    return v;
}

/* The child with the highest sequence below `below` (the lowest overall when
 * below < 0); NULL when none. Names that are not election nodes are ignored. */
static const char *pick_candidate(char *const *names, size_t count, long long below)
{
    const char *best = NULL;
    long long best_seq = -1;
    for (size_t i = 0; i < count; i++) {
        long long s = election_seq(names[i]);
        if (s < 0)
            continue;
        bool wanted = below < 0 ? (best == NULL || s < best_seq) : (s < below && s > best_seq);
        if (wanted) {
            best = names[i];
            best_seq = s;
        }
    }
    return best;
}

static void election_become_leader(ride_zk_election *e)
{
    if (atomic_load(&e->resigned) || atomic_exchange(&e->leader, true))
        return;
    ride_log_info("zk_election_leader", "node=%s", e->node);
    if (e->on_leader)
        e->on_leader(e, e->ctx);
}

static void election_pred_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    (void)path;
    /* Session events are handled once per handle by recheck_elections. */
    if (type != ZOO_SESSION_EVENT)
        election_check(ctx);
}

static void election_pred_done(int rc, const struct Stat *stat, const void *data)
{
    (void)stat;
    ride_zk_election *e = (ride_zk_election *)(void *)(uintptr_t)data;
    /* The predecessor vanished between the listing and the watch: look again. */
    if (rc == ZNONODE)
        election_check(e);
    else if (rc != ZOK)
        ride_log_debug("zk_election_watch_failed", "node=%s rc=%d", e->node, rc);
}

static void election_children_done(int rc, const struct String_vector *v, const void *data)
{
    ride_zk_election *e = (ride_zk_election *)(void *)(uintptr_t)data;
    if (atomic_load(&e->resigned))
        return;
    if (rc != ZOK) {
        /* Connection loss: the reconnection re-checks; expiry ends the candidacy. */
        ride_log_debug("zk_election_list_failed", "node=%s rc=%d", e->node, rc);
        return;
    }
    const char *own = strrchr(e->node, '/') + 1;
    bool present = false;
    for (int i = 0; i < v->count; i++)
        present = present || strcmp(v->data[i], own) == 0;
    if (!present) {
        ride_log_warn("zk_election_node_lost", "node=%s", e->node);
        return;
    }
    const char *pred = pick_candidate(v->data, v->count > 0 ? (size_t)v->count : 0, e->seq);
    if (!pred) {
        election_become_leader(e);
        return;
    }
    char path[RIDE_ZK_PATH_MAX];
    if (join_path(e->dir, pred, path) != RIDE_ZK_OK)
        return;
    int arc = zoo_awexists(e->zk->zh, path, election_pred_watcher, e, election_pred_done, e);
    if (arc != ZOK)
        ride_log_debug("zk_election_watch_failed", "node=%s rc=%d", e->node, arc);
}

/* Asynchronous, so that it may run on the completion thread (watch callbacks). */
static void election_check(ride_zk_election *e)
{
    if (atomic_load(&e->resigned) || atomic_load(&e->leader))
        return;
    int rc = zoo_aget_children(e->zk->zh, e->dir, 0, election_children_done, e);
    if (rc != ZOK)
        ride_log_debug("zk_election_list_failed", "node=%s rc=%d", e->node, rc);
}

ride_zk_err ride_zk_election_join(ride_zk *zk, const char *dir, const void *data, size_t len,
                                  ride_zk_leader_fn on_leader, void *ctx,
                                  ride_zk_election **out)
{
    if (!out)
        return RIDE_ZK_BAD_ARGUMENTS;
    *out = NULL;
    if (!zk || !usable_path(dir))
        return RIDE_ZK_BAD_ARGUMENTS;
    ride_zk_election *e = calloc(1, sizeof *e);
    if (!e)
        return RIDE_ZK_ERROR;
    char prefix[RIDE_ZK_PATH_MAX];
    ride_zk_err rc = join_path(dir, ELECTION_PREFIX, prefix);
    if (rc == RIDE_ZK_OK)
        rc = ride_zk_ensure_path(zk, dir);
    if (rc == RIDE_ZK_OK)
        rc = ride_zk_create(zk, prefix, data, len, RIDE_ZK_EPHEMERAL | RIDE_ZK_SEQUENTIAL,
                            e->node, sizeof e->node);
    if (rc == RIDE_ZK_OK) {
        e->seq = election_seq(strrchr(e->node, '/') + 1);
        if (e->seq < 0)
            rc = RIDE_ZK_ERROR;
    }
    if (rc != RIDE_ZK_OK) {
        free(e);
        return rc;
    }
    e->zk = zk;
    snprintf(e->dir, sizeof e->dir, "%s", dir);
    e->on_leader = on_leader;
    e->ctx = ctx;
    pthread_mutex_lock(&zk->mu);
    e->next = zk->elections;
    zk->elections = e;
    election_check(e);
    pthread_mutex_unlock(&zk->mu);
    *out = e;
    return RIDE_ZK_OK;
}

bool ride_zk_election_is_leader(const ride_zk_election *election)
{
    return election && atomic_load(&election->leader) && !atomic_load(&election->resigned) &&
           ride_zk_state(election->zk) != RIDE_ZK_SESSION_EXPIRED;
}

const char *ride_zk_election_node(const ride_zk_election *election)
{
    return election ? election->node : "";
}

ride_zk_err ride_zk_election_resign(ride_zk_election *election)
{
    if (!election)
        return RIDE_ZK_BAD_ARGUMENTS;
    atomic_store(&election->resigned, true);
    atomic_store(&election->leader, false);
    ride_zk_err rc = ride_zk_delete(election->zk, election->node, -1);
    return rc == RIDE_ZK_NONODE ? RIDE_ZK_OK : rc;
}

ride_zk_err ride_zk_election_leader(ride_zk *zk, const char *dir, char **data, size_t *len,
                                    char *node, size_t node_len)
{
    if (!zk || !usable_path(dir) || !data)
        return RIDE_ZK_BAD_ARGUMENTS;
    *data = NULL;
    for (int attempt = 0; attempt < RACE_RETRIES; attempt++) {
        ride_zk_strings kids;
        ride_zk_err rc = ride_zk_get_children(zk, dir, &kids);
        if (rc != RIDE_ZK_OK)
            return rc;
        const char *lowest = pick_candidate(kids.items, kids.count, -1);
        char path[RIDE_ZK_PATH_MAX];
        rc = lowest ? join_path(dir, lowest, path) : RIDE_ZK_NONODE;
        ride_zk_strings_free(&kids);
        if (rc != RIDE_ZK_OK)
            return rc;
        rc = ride_zk_get(zk, path, data, len, NULL);
        /* The leader left between the listing and the read: its successor leads. */
        if (rc == RIDE_ZK_NONODE)
            continue;
        if (rc == RIDE_ZK_OK && node && node_len > 0)
            snprintf(node, node_len, "%s", path);
        return rc;
    }
    return RIDE_ZK_NONODE;
}
