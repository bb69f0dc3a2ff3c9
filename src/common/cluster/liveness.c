/* liveness.c - the members' connections to the leader and the leader's listener
 * (liveness.h). The one thing to know: only a close the leader did not ask for and
 * no "bye" preceded counts, and it counts once per member, not per connection, so
 * a member that reconnected before its old connection's close arrived stays alive. */
#include "cluster/liveness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "cluster/cluster.h"

#define HELLO_PREFIX "ride-liveness 1 "
#define LINE_MAX_BYTES (sizeof HELLO_PREFIX + 16 + RIDE_MEMBER_ID_MAX + 2)
/* Keepalive probes after this idle time: a half-open connection to a vanished host
 * is reclaimed eventually; its member is failed by the heartbeat long before. */
#define KEEPALIVE_S 10
/* A dropped connection of a live member is made again after this pause. */
#define RECONNECT_MS 250

static const char BYE[] = "bye\n";

/* ---- the leader's end ---- */

typedef struct conn {
    uv_tcp_t tcp;
    ride_liveness_server *srv;
    struct conn *next;
    char buf[LINE_MAX_BYTES];
    size_t len;
    bool hello;
    bool bye;
    bool worker;
    char id[RIDE_MEMBER_ID_MAX + 1];
} conn;

typedef struct lost_member {
    char id[RIDE_MEMBER_ID_MAX + 1];
    bool worker;
} lost_member;

struct ride_liveness_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int port;
    ride_liveness_lost_fn on_lost;
    void *ctx;
    conn *conns;
    lost_member *lost;
    size_t lost_count;
    bool stopping;
};

static lost_member *find_lost(const ride_liveness_server *s, const char *id, bool worker)
{
    for (size_t i = 0; i < s->lost_count; i++)
        if (s->lost[i].worker == worker && strcmp(s->lost[i].id, id) == 0)
            return &s->lost[i];
    return NULL;
}

bool ride_liveness_server_lost(const ride_liveness_server *s, const char *id, bool worker)
{
    return s && find_lost(s, id, worker) != NULL;
}

size_t ride_liveness_server_connections(const ride_liveness_server *s, bool greeted_only)
{
    size_t n = 0;
    for (const conn *c = s->conns; c; c = c->next)
        n += !greeted_only || c->hello;
    return n;
}

void ride_liveness_server_forget(ride_liveness_server *s, const char *id, bool worker)
{
    lost_member *l = s ? find_lost(s, id, worker) : NULL;
    if (l)
        *l = s->lost[--s->lost_count];
}

static bool has_open_connection(const ride_liveness_server *s, const conn *except)
{
    for (const conn *c = s->conns; c; c = c->next)
        if (c != except && c->hello && c->worker == except->worker &&
            strcmp(c->id, except->id) == 0)
            return true;
    return false;
}

static void mark_lost(ride_liveness_server *s, const conn *c)
{
    if (find_lost(s, c->id, c->worker))
        return;
    lost_member *grown = realloc(s->lost, (s->lost_count + 1) * sizeof *grown);
    if (!grown)
        return; /* the heartbeat timeout still fails the member */
    s->lost = grown;
    lost_member *l = &s->lost[s->lost_count++];
    snprintf(l->id, sizeof l->id, "%s", c->id);
    l->worker = c->worker;
    s->on_lost(c->id, c->worker, s->ctx);
}

static void unlink_conn(ride_liveness_server *s, conn *c)
{
    for (conn **p = &s->conns; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            return;
        }
}

static void on_conn_closed(uv_handle_t *h)
{
    free(h->data);
}

/* protocol_error: the peer broke the protocol; its close says nothing about it. */
static void drop_conn(conn *c, bool protocol_error)
{
    ride_liveness_server *s = c->srv;
    unlink_conn(s, c);
    if (c->hello && !c->bye && !protocol_error && !s->stopping && !has_open_connection(s, c)) {
        ride_log_warn("liveness_lost", "member=%s role=%s reason=\"connection closed\"", c->id,
                      c->worker ? "worker" : "producer");
        mark_lost(s, c);
    }
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* One line from the member; false when it breaks the protocol. */
static bool take_line(conn *c, const char *line)
{
    if (c->hello)
        return (c->bye = strcmp(line, "bye") == 0);
    if (strncmp(line, HELLO_PREFIX, strlen(HELLO_PREFIX)) != 0)
        return false;
    const char *role = line + strlen(HELLO_PREFIX);
    const char *space = strchr(role, ' ');
    if (!space || !ride_member_id_valid(space + 1))
        return false;
    size_t role_len = (size_t)(space - role);
    if (role_len == 6 && strncmp(role, "worker", 6) == 0)
        c->worker = true;
    else if (!(role_len == 8 && strncmp(role, "producer", 8) == 0))
        return false;
    snprintf(c->id, sizeof c->id, "%s", space + 1);
    c->hello = true;
    ride_liveness_server_forget(c->srv, c->id, c->worker);
    return true;
}

static void on_conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn *c = h->data;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len));
}

static void on_conn_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    conn *c = stream->data;
    if (n < 0) {
        drop_conn(c, false);
        return;
    }
    c->len += (size_t)n;
    char *nl;
    while ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
        *nl = '\0';
        if (!take_line(c, c->buf)) {
            drop_conn(c, true);
            return;
        }
        size_t used = (size_t)(nl + 1 - c->buf);
        memmove(c->buf, nl + 1, c->len - used);
        c->len -= used;
    }
    if (c->len == sizeof c->buf)
        drop_conn(c, true);
}

static void on_connection(uv_stream_t *listener, int status)
{
    ride_liveness_server *s = listener->data;
    if (status < 0)
        return;
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->srv = s;
    c->tcp.data = c;
    uv_tcp_init(s->loop, &c->tcp);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_tcp_keepalive(&c->tcp, 1, KEEPALIVE_S);
    c->next = s->conns;
    s->conns = c;
    uv_read_start((uv_stream_t *)&c->tcp, on_conn_alloc, on_conn_read);
}

static int listen_address(const char *host, struct sockaddr_storage *addr)
{
    char literal[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof literal) {
        snprintf(literal, sizeof literal, "%.*s", (int)(n - 2), host + 1);
        host = literal;
    }
    if (uv_ip4_addr(host, 0, (struct sockaddr_in *)addr) == 0)
        return 0;
    return uv_ip6_addr(host, 0, (struct sockaddr_in6 *)addr);
}

ride_liveness_server *ride_liveness_server_start(uv_loop_t *loop, const char *host,
                                                 ride_liveness_lost_fn on_lost, void *ctx,
                                                 char *err, size_t errlen)
{
    struct sockaddr_storage addr;
    if (listen_address(host, &addr) != 0) {
        ride_set_error(err, errlen, "liveness: '%s' is not an IP address", host);
        return NULL;
    }
    ride_liveness_server *s = calloc(1, sizeof *s);
    if (!s) {
        ride_set_error(err, errlen, "liveness: out of memory");
        return NULL;
    }
    s->loop = loop;
    s->on_lost = on_lost;
    s->ctx = ctx;
    s->listener.data = s;
    uv_tcp_init(loop, &s->listener);
    struct sockaddr_storage bound;
    int len = sizeof bound;
    int rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 128, on_connection);
    if (rc == 0)
        rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
    if (rc != 0) {
        ride_set_error(err, errlen, "liveness: listen on %s: %s", host, uv_strerror(rc));
        s->stopping = true;
        ride_liveness_server_stop(s);
        return NULL;
    }
    s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    return s;
}

int ride_liveness_server_port(const ride_liveness_server *s)
{
    return s->port;
}

static void on_listener_closed(uv_handle_t *h)
{
    ride_liveness_server *s = h->data;
    free(s->lost);
    free(s);
}

void ride_liveness_server_stop(ride_liveness_server *s)
{
    if (!s)
        return;
    s->stopping = true;
    while (s->conns)
        drop_conn(s->conns, false);
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}

/* ---- the member's end ---- */

/* One try at a connection; it outlives its client when detached mid-way. */
typedef struct attempt {
    ride_liveness_client *client; /* NULL: detached, freed by its last callback */
    uv_getaddrinfo_t resolve;
    uv_connect_t connect;
    uv_write_t write;
    uv_tcp_t tcp;
    bool resolving;
    bool tcp_open;
    bool connected;
    char hello[LINE_MAX_BYTES];
    char rbuf[64];
} attempt;

struct ride_liveness_client {
    uv_loop_t *loop;
    uv_timer_t retry;
    bool worker;
    char id[RIDE_MEMBER_ID_MAX + 1];
    char *target; /* "HOST:PORT" or NULL */
    attempt *current;
};

static void on_attempt_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Leaves the attempt to finish on its own, saying goodbye when asked to. */
static void detach(attempt *a, bool goodbye)
{
    a->client = NULL;
    if (goodbye && a->connected)
        uv_try_write((uv_stream_t *)&a->tcp, &(uv_buf_t){.base = (char *)BYE,
                                                        .len = sizeof BYE - 1}, 1);
    if (a->tcp_open)
        uv_close((uv_handle_t *)&a->tcp, on_attempt_closed);
    else if (!a->resolving)
        free(a);
}

static void on_retry(uv_timer_t *t);

/* The attempt ended without (or lost) its connection: try again shortly. */
static void retry_later(attempt *a)
{
    ride_liveness_client *c = a->client;
    c->current = NULL;
    detach(a, false);
    uv_timer_start(&c->retry, on_retry, RECONNECT_MS, 0);
}

static void on_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    attempt *a = h->data;
    *buf = uv_buf_init(a->rbuf, sizeof a->rbuf);
}

/* The leader sends nothing: any end of the stream is the connection's end. */
static void on_client_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    attempt *a = stream->data;
    if (n < 0 && a->client) {
        ride_log_warn("liveness_disconnected", "target=%s error=\"%s\"", a->client->target,
                      uv_strerror((int)n));
        retry_later(a);
    }
}

static void on_hello_written(uv_write_t *req, int status)
{
    attempt *a = req->data;
    if (status < 0 && a->client)
        retry_later(a);
}

static void on_connected(uv_connect_t *req, int status)
{
    attempt *a = req->data;
    if (!a->client)
        return;
    if (status < 0) {
        retry_later(a);
        return;
    }
    a->connected = true;
    uv_tcp_nodelay(&a->tcp, 1);
    uv_tcp_keepalive(&a->tcp, 1, KEEPALIVE_S);
    int n = snprintf(a->hello, sizeof a->hello, HELLO_PREFIX "%s %s\n",
                     a->client->worker ? "worker" : "producer", a->client->id);
    uv_buf_t buf = uv_buf_init(a->hello, (unsigned)n);
    if (uv_write(&a->write, (uv_stream_t *)&a->tcp, &buf, 1, on_hello_written) != 0 ||
        uv_read_start((uv_stream_t *)&a->tcp, on_client_alloc, on_client_read) != 0) {
        retry_later(a);
        return;
    }
    ride_log_info("liveness_connected", "target=%s", a->client->target);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    attempt *a = req->data;
    a->resolving = false;
    if (!a->client) {
        free(a);
    } else if (status < 0) {
        retry_later(a);
    } else {
        uv_tcp_init(a->client->loop, &a->tcp);
        a->tcp_open = true;
        if (uv_tcp_connect(&a->connect, &a->tcp, res->ai_addr, on_connected) != 0)
            retry_later(a);
    }
    uv_freeaddrinfo(res);
}

static void start_attempt(ride_liveness_client *c)
{
    char host[256], port[16];
    const char *colon = c->target ? strrchr(c->target, ':') : NULL;
    if (!colon || (size_t)(colon - c->target) >= sizeof host || strlen(colon + 1) >= sizeof port)
        return;
    snprintf(host, sizeof host, "%.*s", (int)(colon - c->target), c->target);
    snprintf(port, sizeof port, "%s", colon + 1);
    attempt *a = calloc(1, sizeof *a);
    if (!a)
        return;
    a->client = c;
    a->resolve.data = a->connect.data = a->write.data = a->tcp.data = a;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    c->current = a;
    a->resolving = true;
    if (uv_getaddrinfo(c->loop, &a->resolve, on_resolved, host, port, &hints) != 0) {
        a->resolving = false;
        retry_later(a);
    }
}

static void on_retry(uv_timer_t *t)
{
    ride_liveness_client *c = t->data;
    if (!c->current)
        start_attempt(c);
}

ride_liveness_client *ride_liveness_client_new(uv_loop_t *loop, bool worker, const char *id)
{
    ride_liveness_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->loop = loop;
    c->worker = worker;
    snprintf(c->id, sizeof c->id, "%s", id);
    c->retry.data = c;
    uv_timer_init(loop, &c->retry);
    return c;
}

void ride_liveness_client_target(ride_liveness_client *c, const char *hostport)
{
    if ((!hostport && !c->target) || (hostport && c->target && strcmp(hostport, c->target) == 0))
        return;
    if (c->current)
        detach(c->current, true);
    c->current = NULL;
    uv_timer_stop(&c->retry);
    free(c->target);
    c->target = hostport ? strdup(hostport) : NULL;
    start_attempt(c);
}

static void on_client_closed(uv_handle_t *h)
{
    ride_liveness_client *c = h->data;
    free(c->target);
    free(c);
}

void ride_liveness_client_close(ride_liveness_client *c)
{
    if (!c)
        return;
    if (c->current)
        detach(c->current, true);
    c->current = NULL;
    uv_close((uv_handle_t *)&c->retry, on_client_closed);
}
