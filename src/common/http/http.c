/* http.c - HTTP/1.1 server on libuv, parsing with llhttp. */
#define _POSIX_C_SOURCE 200809L

#include "http/http.h"

#include "base/buffer.h"
#include "base/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <llhttp.h>

#include "base/log.h"

#define READ_BUFFER_BYTES 16384
#define RESPONSE_HEADERS_MAX 4096
/* After an error response the connection half-closes and discards input this long,
 * so the client reads the response instead of a reset. */
#define LINGER_MS 1000
#define TOKEN_FILE_MAX 4096

typedef struct route {
    char *method;
    char *path;
    size_t path_len;
    bool prefix;
    ride_http_handler handler;
    void *ctx;
} route;

typedef struct header_ref {
    size_t name;  /* offsets into the connection's arena, NUL-terminated */
    size_t value;
} header_ref;

struct ride_http_request {
    struct connection *conn;
    const char *method;
    const char *path;
    const char *query;
};

struct ride_http_response {
    int status;
    char *content_type;
    char headers[RESPONSE_HEADERS_MAX];
    size_t headers_len;
    char *body;
    size_t body_len;
    bool failed;
};

typedef enum conn_state {
    CONN_READING,   /* parsing requests */
    CONN_LINGERING, /* last response queued; half-closing, input discarded */
    CONN_CLOSED,
} conn_state;

typedef struct connection {
    struct connection *prev, *next;
    ride_http_server *srv;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    int open_handles;
    conn_state state;
    llhttp_t parser;

    char rbuf[READ_BUFFER_BYTES];
    const char *pending; /* unparsed input inside rbuf while reading is paused */
    size_t pending_len;
    bool read_paused;
    bool peer_eof;
    bool shutdown_done;

    bool in_request;
    uint64_t request_start;
    int reject_status; /* set by a parser callback that refuses the request */

    char *arena; /* URL and headers of the current request, max_header_bytes */
    size_t arena_len;
    size_t url_off;
    bool url_done;
    header_ref *headers;
    size_t header_count;
    bool in_value;

    ride_buffer body;
} connection;

struct ride_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    bool listening;
    bool listener_open;
    bool stopped;
    bool free_requested;
    struct sockaddr_storage addr;
    int port;
    ride_http_limits limits;
    llhttp_settings_t settings;
    route *routes;
    size_t route_count;
    connection *conns;
    unsigned conn_count;
    _Atomic uint64_t rejected[RIDE_HTTP_REJECT_COUNT];
};

typedef struct write_req {
    uv_write_t req;
    connection *conn;
    char *head;
    char *body;
} write_req;

void ride_http_limits_default(ride_http_limits *limits)
{
    limits->max_header_bytes = 8192;
    limits->max_headers = 100;
    limits->max_body_bytes = 1u << 20;
    limits->max_connections = 256;
    limits->idle_timeout_ms = 30000;
    limits->request_timeout_ms = 10000;
    limits->max_pending_output = 4u << 20;
}

const char *ride_http_reject_name(ride_http_reject reason)
{
    static const char *const names[RIDE_HTTP_REJECT_COUNT] = {
        "bad_request",    "unauthorized",     "not_found",         "method_not_allowed",
        "timeout",        "body_too_large",   "headers_too_large", "too_many_connections",
    };
    return (unsigned)reason < RIDE_HTTP_REJECT_COUNT ? names[reason] : "unknown";
}

static void count_reject(ride_http_server *srv, ride_http_reject reason)
{
    atomic_fetch_add_explicit(&srv->rejected[reason], 1, memory_order_relaxed);
}

uint64_t ride_http_server_rejected(const ride_http_server *srv, ride_http_reject reason)
{
    if (srv == NULL || (unsigned)reason >= RIDE_HTTP_REJECT_COUNT)
        return 0;
    return atomic_load_explicit(&srv->rejected[reason], memory_order_relaxed);
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "";
    }
}

/* ---- listen address ---------------------------------------------------------- */

static int parse_port(const char *s, int *port)
{
    if (*s == '\0' || strlen(s) > 5)
        return -1;
    int v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (v > 65535)
        return -1;
    *port = v;
    return 0;
}

static int parse_listen(const char *listen, struct sockaddr_storage *addr)
{
    char host[64];
    const char *colon;
    int port;
    if (listen == NULL)
        return -1;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - listen - 1) >= sizeof host)
            return -1;
        memcpy(host, listen + 1, (size_t)(close - listen - 1));
        host[close - listen - 1] = '\0';
        if (parse_port(close + 2, &port) != 0)
            return -1;
        return uv_ip6_addr(host, port, (struct sockaddr_in6 *)addr) == 0 ? 0 : -1;
    }
    colon = strrchr(listen, ':');
    if (colon == NULL || (size_t)(colon - listen) >= sizeof host)
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    if (strchr(host, ':') != NULL || parse_port(colon + 1, &port) != 0)
        return -1;
    return uv_ip4_addr(host, port, (struct sockaddr_in *)addr) == 0 ? 0 : -1;
}

/* ---- connection lifetime ----------------------------------------------------- */

static void maybe_release_server(ride_http_server *srv)
{
    if (!srv->free_requested || srv->listener_open || srv->conns != NULL)
        return;
    for (size_t i = 0; i < srv->route_count; i++) {
        free(srv->routes[i].method);
        free(srv->routes[i].path);
    }
    free(srv->routes);
    free(srv);
}

static void on_conn_handle_closed(uv_handle_t *handle)
{
    connection *conn = handle->data;
    if (--conn->open_handles > 0)
        return;
    ride_http_server *srv = conn->srv;
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        srv->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    srv->conn_count--;
    free(conn->arena);
    free(conn->headers);
    ride_buffer_free(&conn->body);
    free(conn);
    maybe_release_server(srv);
}

static void close_conn(connection *conn)
{
    if (conn->state == CONN_CLOSED)
        return;
    conn->state = CONN_CLOSED;
    uv_close((uv_handle_t *)&conn->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&conn->timer, on_conn_handle_closed);
}

static void on_timer(uv_timer_t *timer);

static void arm_timer(connection *conn, uint64_t ms)
{
    uv_timer_start(&conn->timer, on_timer, ms, 0);
}

/* While a request is arriving the idle timeout applies between reads and the
 * request timeout to the whole request, so a client trickling bytes is cut off. */
static void arm_read_timer(connection *conn)
{
    const ride_http_limits *lim = &conn->srv->limits;
    uint64_t ms = lim->idle_timeout_ms;
    if (conn->in_request) {
        uint64_t now = uv_now(conn->srv->loop);
        uint64_t deadline = conn->request_start + lim->request_timeout_ms;
        uint64_t left = deadline > now ? deadline - now : 0;
        if (left < ms)
            ms = left;
    }
    arm_timer(conn, ms);
}

static void reset_request(connection *conn)
{
    conn->in_request = false;
    conn->arena_len = 0;
    conn->url_off = 0;
    conn->url_done = false;
    conn->header_count = 0;
    conn->in_value = false;
    ride_buffer_clear(&conn->body);
    conn->reject_status = 0;
}

/* ---- writing ----------------------------------------------------------------- */

/* Runs once every queued response has been written. */
static void on_shutdown(uv_shutdown_t *req, int status)
{
    connection *conn = req->data;
    if (conn->state != CONN_LINGERING)
        return;
    conn->shutdown_done = true;
    if (status < 0 || conn->peer_eof)
        close_conn(conn);
    else
        arm_timer(conn, conn->srv->limits.idle_timeout_ms < LINGER_MS
                            ? conn->srv->limits.idle_timeout_ms
                            : LINGER_MS);
}

static void process_pending(connection *conn);
static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void on_write(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    connection *conn = w->conn;
    free(w->head);
    free(w->body);
    free(w);
    if (conn->state == CONN_CLOSED)
        return;
    if (status < 0) {
        close_conn(conn);
        return;
    }
    if (conn->state == CONN_READING && conn->read_paused &&
        uv_stream_get_write_queue_size((uv_stream_t *)&conn->tcp) <=
            conn->srv->limits.max_pending_output / 2) {
        arm_read_timer(conn);
        process_pending(conn);
    }
}

/* Queues one response (head and body as two buffers). `closing` adds
 * "Connection: close", half-closes once everything is written and discards any
 * further input (lingering). Takes the body. */
static void send_response(connection *conn, ride_http_response *res, bool closing)
{
    char head_fixed[256];
    const char *ctype = res->content_type;
    int n = snprintf(head_fixed, sizeof head_fixed,
                     "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s%s%s%s", res->status,
                     reason_phrase(res->status), res->body_len,
                     ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "",
                     closing ? "Connection: close\r\n" : "");
    size_t fixed_len = n > 0 && (size_t)n < sizeof head_fixed ? (size_t)n : 0;
    size_t head_len = fixed_len + res->headers_len + 2;
    write_req *w = malloc(sizeof *w);
    char *head = malloc(head_len);
    if (w == NULL || head == NULL || fixed_len == 0) {
        free(w);
        free(head);
        free(res->body);
        res->body = NULL;
        close_conn(conn);
        return;
    }
    memcpy(head, head_fixed, fixed_len);
    memcpy(head + fixed_len, res->headers, res->headers_len);
    memcpy(head + fixed_len + res->headers_len, "\r\n", 2);
    w->conn = conn;
    w->head = head;
    w->body = res->body;
    res->body = NULL;
    uv_buf_t bufs[2] = {uv_buf_init(head, (unsigned)head_len),
                        uv_buf_init(w->body, (unsigned)res->body_len)};
    if (uv_write(&w->req, (uv_stream_t *)&conn->tcp, bufs, res->body_len > 0 ? 2 : 1,
                 on_write) != 0) {
        free(w->head);
        free(w->body);
        free(w);
        close_conn(conn);
        return;
    }
    if (!closing)
        return;
    conn->state = CONN_LINGERING;
    conn->pending_len = 0;
    /* A client that does not read its last response is cut off after the idle timeout. */
    arm_timer(conn, conn->srv->limits.idle_timeout_ms);
    conn->shutdown.data = conn;
    if (uv_shutdown(&conn->shutdown, (uv_stream_t *)&conn->tcp, on_shutdown) != 0) {
        close_conn(conn);
        return;
    }
    if (conn->read_paused) {
        conn->read_paused = false;
        if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) != 0)
            close_conn(conn);
    }
}

static void response_init(ride_http_response *res)
{
    res->status = 200;
    res->content_type = NULL;
    res->headers_len = 0;
    res->body = NULL;
    res->body_len = 0;
    res->failed = false;
}

static void response_clear(ride_http_response *res)
{
    free(res->content_type);
    free(res->body);
    res->content_type = NULL;
    res->body = NULL;
}

/* Answers `status` with a short text body and closes the connection. */
static void reject(connection *conn, int status, ride_http_reject reason)
{
    ride_http_response res;
    response_init(&res);
    count_reject(conn->srv, reason);
    ride_log_debug("http_rejected", "status=%d reason=%s", status,
                   ride_http_reject_name(reason));
    if (conn->state != CONN_READING)
        return;
    char text[96];
    snprintf(text, sizeof text, "%s\n", reason_phrase(status));
    if (ride_http_response_text(&res, status, text) != 0) {
        close_conn(conn);
        return;
    }
    send_response(conn, &res, true);
    response_clear(&res);
}

/* ---- routing ----------------------------------------------------------------- */

static bool route_matches(const route *r, const char *path)
{
    if (r->prefix)
        return strncmp(path, r->path, r->path_len) == 0;
    return strcmp(path, r->path) == 0;
}

/* The best route for method+path: exact first, then the longest prefix. */
static const route *find_route(const ride_http_server *srv, const char *method,
                               const char *path)
{
    const route *best = NULL;
    for (size_t i = 0; i < srv->route_count; i++) {
        const route *r = &srv->routes[i];
        if (strcmp(r->method, method) != 0 || !route_matches(r, path))
            continue;
        if (best == NULL || (best->prefix && !r->prefix) ||
            (best->prefix && r->prefix && r->path_len > best->path_len))
            best = r;
    }
    return best;
}

/* The methods routed for `path`, comma-separated, into buf; returns the count. */
static size_t allowed_methods(const ride_http_server *srv, const char *path, char *buf,
                              size_t len)
{
    size_t count = 0, used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < srv->route_count; i++) {
        const route *r = &srv->routes[i];
        if (!route_matches(r, path) || find_route(srv, r->method, path) != r)
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", count ? ", " : "", r->method);
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
        count++;
    }
    return count;
}

/* ---- request assembly -------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Splits the URL in place into a decoded path and the raw query. Refuses anything
 * but origin-form ("/..."), bad escapes and encoded NULs. */
static int split_url(char *url, const char **path, const char **query)
{
    if (url[0] != '/')
        return -1;
    char *q = strchr(url, '?');
    char *hash = strchr(url, '#');
    if (hash != NULL)
        *hash = '\0';
    if (q != NULL) {
        *q = '\0';
        *query = q + 1;
    } else {
        *query = "";
    }
    char *out = url;
    for (const char *in = url; *in; in++) {
        if (*in != '%') {
            *out++ = *in;
            continue;
        }
        int hi = hexval(in[1]), lo = hi < 0 ? -1 : hexval(in[2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return -1;
        *out++ = (char)(hi * 16 + lo);
        in += 2;
    }
    *out = '\0';
    *path = url;
    return 0;
}

static void log_request(const ride_http_request *req, int status, size_t body_len)
{
    if (ride_log_get_level() > RIDE_LOG_DEBUG)
        return;
    char qpath[256];
    ride_log_debug("http_request", "method=%s path=%s status=%d bytes=%zu", req->method,
                   ride_log_quote(req->path, qpath, sizeof qpath), status, body_len);
}

static void dispatch(connection *conn)
{
    ride_http_server *srv = conn->srv;
    ride_http_request req = {.conn = conn,
                             .method = llhttp_method_name(llhttp_get_method(&conn->parser))};
    bool keep_alive = llhttp_should_keep_alive(&conn->parser) != 0;
    if (split_url(conn->arena + conn->url_off, &req.path, &req.query) != 0) {
        reject(conn, 400, RIDE_HTTP_REJECT_BAD_REQUEST);
        return;
    }
    ride_http_response res;
    response_init(&res);
    const route *r = find_route(srv, req.method, req.path);
    if (r != NULL) {
        r->handler(&req, &res, r->ctx);
        if (res.failed) {
            response_clear(&res);
            response_init(&res);
            ride_http_response_text(&res, 500, "Internal Server Error\n");
        }
    } else {
        char allow[256];
        if (allowed_methods(srv, req.path, allow, sizeof allow) > 0) {
            count_reject(srv, RIDE_HTTP_REJECT_METHOD_NOT_ALLOWED);
            ride_http_response_text(&res, 405, "Method Not Allowed\n");
            ride_http_response_header(&res, "Allow", allow);
        } else {
            count_reject(srv, RIDE_HTTP_REJECT_NOT_FOUND);
            ride_http_response_text(&res, 404, "Not Found\n");
        }
    }
    log_request(&req, res.status, res.body_len);
    send_response(conn, &res, !keep_alive);
    response_clear(&res);
}

/* ---- parser callbacks -------------------------------------------------------- */

static int refuse(connection *conn, int status)
{
    conn->reject_status = status;
    return HPE_USER;
}

/* Appends to the arena, which bounds the request line and headers together. */
static int arena_append(connection *conn, const char *at, size_t len)
{
    if (len > conn->srv->limits.max_header_bytes - conn->arena_len)
        return refuse(conn, 431);
    memcpy(conn->arena + conn->arena_len, at, len);
    conn->arena_len += len;
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    connection *conn = p->data;
    reset_request(conn);
    conn->in_request = true;
    conn->request_start = uv_now(conn->srv->loop);
    arm_read_timer(conn);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    return arena_append(p->data, at, len);
}

static int on_url_complete(llhttp_t *p)
{
    connection *conn = p->data;
    conn->url_done = true;
    return arena_append(conn, "", 1);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    connection *conn = p->data;
    if (!conn->in_value) {
        if (conn->header_count == conn->srv->limits.max_headers)
            return refuse(conn, 431);
        conn->headers[conn->header_count].name = conn->arena_len;
        conn->in_value = true;
    }
    return arena_append(conn, at, len);
}

static int on_header_field_complete(llhttp_t *p)
{
    connection *conn = p->data;
    int rc = arena_append(conn, "", 1);
    conn->headers[conn->header_count].value = conn->arena_len;
    return rc;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    return arena_append(p->data, at, len);
}

static int on_header_value_complete(llhttp_t *p)
{
    connection *conn = p->data;
    conn->in_value = false;
    conn->header_count++;
    return arena_append(conn, "", 1);
}

static int on_headers_complete(llhttp_t *p)
{
    connection *conn = p->data;
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > conn->srv->limits.max_body_bytes)
        return refuse(conn, 413);
    ride_http_request req = {.conn = conn};
    const char *expect = ride_http_request_header(&req, "Expect");
    if (expect != NULL && strcasecmp(expect, "100-continue") == 0) {
        static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        uv_buf_t buf = uv_buf_init(cont, sizeof cont - 1);
        uv_try_write((uv_stream_t *)&conn->tcp, &buf, 1);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    connection *conn = p->data;
    if (ride_buffer_append(&conn->body, at, len, conn->srv->limits.max_body_bytes) != 0)
        return refuse(conn, 413);
    return 0;
}

/* Pausing after every request lets the caller answer it before parsing the next
 * pipelined one, and stop reading when output piles up. */
static int on_message_complete(llhttp_t *p)
{
    (void)p;
    return HPE_PAUSED;
}

static void init_settings(llhttp_settings_t *s)
{
    llhttp_settings_init(s);
    s->on_message_begin = on_message_begin;
    s->on_url = on_url;
    s->on_url_complete = on_url_complete;
    s->on_header_field = on_header_field;
    s->on_header_field_complete = on_header_field_complete;
    s->on_header_value = on_header_value;
    s->on_header_value_complete = on_header_value_complete;
    s->on_headers_complete = on_headers_complete;
    s->on_body = on_body;
    s->on_message_complete = on_message_complete;
}

static ride_http_reject reject_reason(int status)
{
    switch (status) {
    case 413: return RIDE_HTTP_REJECT_BODY_TOO_LARGE;
    case 431: return RIDE_HTTP_REJECT_HEADERS_TOO_LARGE;
    default: return RIDE_HTTP_REJECT_BAD_REQUEST;
    }
}

/* Parses buffered input, answering each complete request in order. */
static void process_pending(connection *conn)
{
    ride_http_server *srv = conn->srv;
    while (conn->state == CONN_READING && conn->pending_len > 0) {
        llhttp_errno_t e = llhttp_execute(&conn->parser, conn->pending, conn->pending_len);
        if (e == HPE_OK) {
            conn->pending_len = 0;
            break;
        }
        if (e != HPE_PAUSED) {
            int status = conn->reject_status ? conn->reject_status : 400;
            if (status == 400 && ride_log_get_level() <= RIDE_LOG_DEBUG) {
                char q[128];
                ride_log_debug("http_malformed", "reason=%s",
                               ride_log_quote(llhttp_get_error_reason(&conn->parser), q,
                                              sizeof q));
            }
            reject(conn, status, reject_reason(status));
            return;
        }
        size_t used = (size_t)(llhttp_get_error_pos(&conn->parser) - conn->pending);
        conn->pending += used;
        conn->pending_len -= used;
        llhttp_resume(&conn->parser);
        dispatch(conn);
        reset_request(conn);
        if (conn->state == CONN_READING)
            arm_read_timer(conn);
        if (conn->state == CONN_READING &&
            uv_stream_get_write_queue_size((uv_stream_t *)&conn->tcp) >
                srv->limits.max_pending_output) {
            if (!conn->read_paused)
                uv_read_stop((uv_stream_t *)&conn->tcp);
            conn->read_paused = true;
            return;
        }
    }
    if (conn->state == CONN_READING && conn->read_paused) {
        conn->read_paused = false;
        conn->pending_len = 0;
        if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) != 0)
            close_conn(conn);
    }
}

/* ---- libuv callbacks ----------------------------------------------------------- */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    connection *conn = handle->data;
    *buf = uv_buf_init(conn->rbuf, sizeof conn->rbuf);
}

/* A client may half-close right after its request: its responses still go out
 * (the shutdown waits for them) before the connection closes. */
static void handle_peer_eof(connection *conn)
{
    conn->peer_eof = true;
    uv_read_stop((uv_stream_t *)&conn->tcp);
    if (conn->state == CONN_LINGERING) {
        if (conn->shutdown_done)
            close_conn(conn);
        return;
    }
    conn->state = CONN_LINGERING;
    conn->pending_len = 0;
    conn->shutdown.data = conn;
    if (uv_shutdown(&conn->shutdown, (uv_stream_t *)&conn->tcp, on_shutdown) != 0)
        close_conn(conn);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    connection *conn = stream->data;
    (void)buf;
    if (conn->state == CONN_CLOSED || nread == 0)
        return;
    if (nread == UV_EOF) {
        handle_peer_eof(conn);
        return;
    }
    if (nread < 0) {
        close_conn(conn);
        return;
    }
    if (conn->state == CONN_LINGERING)
        return;
    conn->pending = conn->rbuf;
    conn->pending_len = (size_t)nread;
    arm_read_timer(conn);
    process_pending(conn);
}

static void on_timer(uv_timer_t *timer)
{
    connection *conn = timer->data;
    if (conn->state == CONN_READING && conn->in_request) {
        reject(conn, 408, RIDE_HTTP_REJECT_TIMEOUT);
        return;
    }
    close_conn(conn);
}

static void free_handle(uv_handle_t *handle)
{
    free(handle);
}

static void on_connection(uv_stream_t *listener, int status)
{
    ride_http_server *srv = listener->data;
    if (status < 0 || srv->stopped)
        return;
    connection *conn = calloc(1, sizeof *conn);
    if (conn != NULL) {
        conn->arena = malloc(srv->limits.max_header_bytes);
        conn->headers = calloc(srv->limits.max_headers + 1, sizeof *conn->headers);
    }
    if (conn == NULL || conn->arena == NULL || conn->headers == NULL) {
        uv_tcp_t *sink = malloc(sizeof *sink);
        if (conn != NULL) {
            free(conn->arena);
            free(conn->headers);
            free(conn);
        }
        /* Accept and drop so the backlog does not fill with a client we cannot serve. */
        if (sink != NULL && uv_tcp_init(srv->loop, sink) == 0 &&
            uv_accept(listener, (uv_stream_t *)sink) == 0)
            uv_close((uv_handle_t *)sink, free_handle);
        else
            free(sink);
        return;
    }
    conn->srv = srv;
    uv_tcp_init(srv->loop, &conn->tcp);
    uv_timer_init(srv->loop, &conn->timer);
    conn->tcp.data = conn->timer.data = conn;
    conn->open_handles = 2;
    conn->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prev = conn;
    srv->conns = conn;
    srv->conn_count++;
    if (uv_accept(listener, (uv_stream_t *)&conn->tcp) != 0) {
        close_conn(conn);
        return;
    }
    if (srv->conn_count > srv->limits.max_connections) {
        static char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                             "Connection: close\r\n\r\n";
        uv_buf_t b = uv_buf_init(busy, sizeof busy - 1);
        count_reject(srv, RIDE_HTTP_REJECT_TOO_MANY_CONNECTIONS);
        uv_try_write((uv_stream_t *)&conn->tcp, &b, 1);
        close_conn(conn);
        return;
    }
    llhttp_init(&conn->parser, HTTP_REQUEST, &srv->settings);
    conn->parser.data = conn;
    uv_tcp_nodelay(&conn->tcp, 1);
    arm_read_timer(conn);
    if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) != 0)
        close_conn(conn);
}

/* ---- server ------------------------------------------------------------------ */

ride_http_server *ride_http_server_new(uv_loop_t *loop, const char *listen,
                                       const ride_http_limits *limits, char *err,
                                       size_t err_len)
{
    ride_http_server *srv;
    if (loop == NULL) {
        ride_set_error(err, err_len, "no event loop");
        return NULL;
    }
    if (limits != NULL &&
        (limits->max_header_bytes < 64 || limits->max_headers == 0 ||
         limits->max_connections == 0 || limits->idle_timeout_ms == 0 ||
         limits->request_timeout_ms == 0 || limits->max_body_bytes >= SIZE_MAX / 2 ||
         limits->max_pending_output == 0)) {
        ride_set_error(err, err_len, "invalid HTTP limits");
        return NULL;
    }
    srv = calloc(1, sizeof *srv);
    if (srv == NULL) {
        ride_set_error(err, err_len, "out of memory");
        return NULL;
    }
    if (parse_listen(listen, &srv->addr) != 0) {
        ride_set_error(err, err_len, "invalid listen address \"%s\" (expected HOST:PORT or [IPv6]:PORT)",
                listen ? listen : "(null)");
        free(srv);
        return NULL;
    }
    srv->loop = loop;
    if (limits != NULL)
        srv->limits = *limits;
    else
        ride_http_limits_default(&srv->limits);
    init_settings(&srv->settings);
    return srv;
}

int ride_http_server_route(ride_http_server *srv, const char *method, const char *path,
                           bool prefix, ride_http_handler handler, void *ctx)
{
    if (srv == NULL || method == NULL || path == NULL || path[0] != '/' || handler == NULL)
        return -1;
    route *grown = realloc(srv->routes, (srv->route_count + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    srv->routes = grown;
    route *r = &srv->routes[srv->route_count];
    r->method = strdup(method);
    r->path = strdup(path);
    if (r->method == NULL || r->path == NULL) {
        free(r->method);
        free(r->path);
        return -1;
    }
    r->path_len = strlen(path);
    r->prefix = prefix;
    r->handler = handler;
    r->ctx = ctx;
    srv->route_count++;
    return 0;
}

static void on_listener_closed(uv_handle_t *handle)
{
    ride_http_server *srv = handle->data;
    srv->listener_open = false;
    maybe_release_server(srv);
}

int ride_http_server_start(ride_http_server *srv, char *err, size_t err_len)
{
    int rc;
    if (srv == NULL || srv->listener_open || srv->stopped) {
        ride_set_error(err, err_len, "server already started or stopped");
        return -1;
    }
    uv_tcp_init(srv->loop, &srv->listener);
    srv->listener.data = srv;
    srv->listener_open = true;
    rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&srv->addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 128, on_connection);
    if (rc != 0) {
        ride_set_error(err, err_len, "cannot listen: %s", uv_strerror(rc));
        srv->stopped = true;
        uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
        return -1;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len) == 0)
        srv->port = ntohs(bound.ss_family == AF_INET6
                              ? ((struct sockaddr_in6 *)&bound)->sin6_port
                              : ((struct sockaddr_in *)&bound)->sin_port);
    srv->listening = true;
    return 0;
}

int ride_http_server_port(const ride_http_server *srv)
{
    return srv != NULL ? srv->port : 0;
}

void ride_http_server_stop(ride_http_server *srv)
{
    if (srv == NULL || srv->stopped)
        return;
    srv->stopped = true;
    if (srv->listener_open)
        uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    for (connection *c = srv->conns; c != NULL; c = c->next)
        close_conn(c);
}

void ride_http_server_free(ride_http_server *srv)
{
    if (srv == NULL)
        return;
    ride_http_server_stop(srv);
    srv->free_requested = true;
    maybe_release_server(srv);
}

/* ---- request accessors --------------------------------------------------------- */

const char *ride_http_request_method(const ride_http_request *req)
{
    return req->method;
}

const char *ride_http_request_path(const ride_http_request *req)
{
    return req->path;
}

const char *ride_http_request_query(const ride_http_request *req)
{
    return req->query;
}

const char *ride_http_request_header(const ride_http_request *req, const char *name)
{
    const connection *conn = req->conn;
    for (size_t i = 0; i < conn->header_count; i++) {
        if (strcasecmp(conn->arena + conn->headers[i].name, name) == 0)
            return conn->arena + conn->headers[i].value;
    }
    return NULL;
}

const char *ride_http_request_body(const ride_http_request *req, size_t *len)
{
    const connection *conn = req->conn;
    *len = conn->body.len;
    return conn->body.data ? conn->body.data : "";
}

/* ---- response setters ---------------------------------------------------------- */

void ride_http_response_status(ride_http_response *res, int status)
{
    res->status = status >= 100 && status <= 999 ? status : 500;
}

static bool valid_header_name(const char *name)
{
    if (*name == '\0')
        return false;
    for (const char *c = name; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9') || strchr("!#$%&'*+-.^_`|~", *c) != NULL))
            return false;
    }
    return true;
}

static bool valid_header_value(const char *value)
{
    for (const char *c = value; *c; c++) {
        if ((unsigned char)*c < 0x20 && *c != '\t')
            return false;
        if (*c == 0x7f)
            return false;
    }
    return true;
}

int ride_http_response_header(ride_http_response *res, const char *name, const char *value)
{
    static const char *const reserved[] = {"Content-Length", "Connection", "Transfer-Encoding",
                                           "Content-Type"};
    if (name == NULL || value == NULL || !valid_header_name(name) || !valid_header_value(value))
        return -1;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        if (strcasecmp(name, reserved[i]) == 0)
            return -1;
    }
    size_t room = sizeof res->headers - res->headers_len;
    int n = snprintf(res->headers + res->headers_len, room, "%s: %s\r\n", name, value);
    if (n < 0 || (size_t)n >= room) {
        res->headers[res->headers_len] = '\0';
        return -1;
    }
    res->headers_len += (size_t)n;
    return 0;
}

static int set_content_type(ride_http_response *res, const char *content_type)
{
    free(res->content_type);
    res->content_type = NULL;
    if (content_type == NULL)
        return 0;
    if (!valid_header_value(content_type) || (res->content_type = strdup(content_type)) == NULL) {
        res->failed = true;
        return -1;
    }
    return 0;
}

void ride_http_response_body_take(ride_http_response *res, const char *content_type,
                                  char *body, size_t len)
{
    free(res->body);
    res->body = body;
    res->body_len = body != NULL ? len : 0;
    set_content_type(res, content_type);
}

int ride_http_response_body(ride_http_response *res, const char *content_type,
                            const void *body, size_t len)
{
    char *copy = NULL;
    if (len > 0) {
        copy = malloc(len);
        if (copy == NULL) {
            res->failed = true;
            return -1;
        }
        memcpy(copy, body, len);
    }
    ride_http_response_body_take(res, content_type, copy, len);
    return res->failed ? -1 : 0;
}

int ride_http_response_json(ride_http_response *res, int status, const json_t *json)
{
    char *text = json != NULL ? json_dumps(json, JSON_COMPACT) : NULL;
    if (text == NULL) {
        res->failed = true;
        return -1;
    }
    ride_http_response_status(res, status);
    ride_http_response_body_take(res, "application/json", text, strlen(text));
    return res->failed ? -1 : 0;
}

int ride_http_response_text(ride_http_response *res, int status, const char *text)
{
    ride_http_response_status(res, status);
    return ride_http_response_body(res, "text/plain; charset=utf-8", text,
                                   text != NULL ? strlen(text) : 0);
}

/* ---- tokens ------------------------------------------------------------------------ */

bool ride_http_check_token(const ride_http_request *req, const char *expected)
{
    const char *auth = ride_http_request_header(req, "Authorization");
    if (expected == NULL || expected[0] == '\0' || auth == NULL ||
        strncasecmp(auth, "Bearer ", 7) != 0)
        return false;
    const char *given = auth + 7;
    while (*given == ' ')
        given++;
    size_t given_len = strlen(given), expected_len = strlen(expected);
    /* The loop runs over the expected token whatever is given, so the time taken
     * reveals neither how many leading bytes matched nor the given length. */
    volatile unsigned char diff = given_len != expected_len;
    for (size_t i = 0; i < expected_len; i++) {
        unsigned char g = i < given_len ? (unsigned char)given[i] : 0;
        diff |= g ^ (unsigned char)expected[i];
    }
    return diff == 0;
}

bool ride_http_require_token(const ride_http_request *req, ride_http_response *res,
                             const char *expected)
{
    if (ride_http_check_token(req, expected))
        return true;
    count_reject(req->conn->srv, RIDE_HTTP_REJECT_UNAUTHORIZED);
    ride_http_response_text(res, 401, "Unauthorized\n");
    ride_http_response_header(res, "WWW-Authenticate", "Bearer");
    return false;
}

char *ride_http_token_load(const char *path, char *err, size_t err_len)
{
    char buf[TOKEN_FILE_MAX + 1];
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ride_set_error(err, err_len, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ride_set_error(err, err_len, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ride_set_error(err, err_len, "%s: %s", path, strerror(errno));
            close(fd);
            return NULL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == sizeof buf)
            break;
    }
    close(fd);
    if (len > TOKEN_FILE_MAX) {
        ride_set_error(err, err_len, "%s: token file larger than %d bytes", path, TOKEN_FILE_MAX);
        return NULL;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                       buf[len - 1] == '\t'))
        len--;
    if (len == 0) {
        ride_set_error(err, err_len, "%s: empty token", path);
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c <= 0x20 || c == 0x7f) {
            ride_set_error(err, err_len, "%s: token holds whitespace or control characters", path);
            return NULL;
        }
    }
    if (st.st_mode & (S_IRGRP | S_IROTH)) {
        char q[256];
        ride_log_warn("token_file_readable", "path=%s mode=%03o hint=\"chmod 600\"",
                      ride_log_quote(path, q, sizeof q), (unsigned)(st.st_mode & 0777));
    }
    char *token = malloc(len + 1);
    if (token == NULL) {
        ride_set_error(err, err_len, "out of memory");
        return NULL;
    }
    memcpy(token, buf, len);
    token[len] = '\0';
    return token;
}
