/* http/http.h - a small HTTP/1.1 server on a caller's libuv loop, for the control
 * API and /metrics.
 *
 * Threading: a server belongs to the loop it was created on. Every function taking
 * a ride_http_server, and every handler, runs on that loop's thread (the thread
 * inside uv_run); other threads reach it through a uv_async_t of their own. Only
 * ride_http_server_rejected() may be called from any thread.
 *
 * Handlers are synchronous: they fill the response before returning, and responses
 * leave in request order (pipelining). See docs/http.md for limits and statuses. */
#ifndef RIDE_HTTP_H
#define RIDE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ride_http_server ride_http_server;
typedef struct ride_http_request ride_http_request;
typedef struct ride_http_response ride_http_response;

typedef struct ride_http_limits {
    size_t max_header_bytes;      /* request line + header names and values; 431 beyond */
    size_t max_headers;           /* number of header lines; 431 beyond */
    size_t max_body_bytes;        /* 413 beyond */
    unsigned max_connections;     /* further clients get 503 and are closed */
    unsigned idle_timeout_ms;     /* no bytes for this long: close (408 mid-request) */
    unsigned request_timeout_ms;  /* a request must arrive whole within this: else 408 */
    size_t max_pending_output;    /* queued response bytes before reading pauses */
} ride_http_limits;

/* 8 KiB headers, 100 header lines, 1 MiB body, 256 connections, 30 s idle,
 * 10 s per request, 4 MiB pending output. */
void ride_http_limits_default(ride_http_limits *limits);

typedef void (*ride_http_handler)(const ride_http_request *req, ride_http_response *res,
                                  void *ctx);

/* Why a request or connection was refused; ride_http_reject_name gives a metric label. */
typedef enum ride_http_reject {
    RIDE_HTTP_REJECT_BAD_REQUEST = 0,       /* 400, malformed request */
    RIDE_HTTP_REJECT_UNAUTHORIZED,          /* 401, from ride_http_check_token */
    RIDE_HTTP_REJECT_NOT_FOUND,             /* 404 */
    RIDE_HTTP_REJECT_METHOD_NOT_ALLOWED,    /* 405 */
    RIDE_HTTP_REJECT_TIMEOUT,               /* 408, or an idle client closed mid-request */
    RIDE_HTTP_REJECT_BODY_TOO_LARGE,        /* 413 */
    RIDE_HTTP_REJECT_HEADERS_TOO_LARGE,     /* 431 */
    RIDE_HTTP_REJECT_TOO_MANY_CONNECTIONS,  /* 503 at accept */
    RIDE_HTTP_REJECT_COUNT
} ride_http_reject;

const char *ride_http_reject_name(ride_http_reject reason);

/* Creates a server for `listen` ("127.0.0.1:7480", "[::1]:0"; numeric addresses
 * only, port 0 = ephemeral). limits NULL = defaults. Returns NULL with a message in
 * err on a bad address or limits. Nothing is bound before ride_http_server_start. */
ride_http_server *ride_http_server_new(uv_loop_t *loop, const char *listen,
                                       const ride_http_limits *limits, char *err,
                                       size_t err_len);

/* Routes `method` ("GET", "POST", ...) on `path`: exact, or with `prefix` every path
 * starting with it. An exact route wins over prefixes, a longer prefix over a
 * shorter. A path with routes but none for the method gets 405 with Allow. Register
 * routes before start. Returns 0, or -1 on bad arguments or allocation failure. */
int ride_http_server_route(ride_http_server *srv, const char *method, const char *path,
                           bool prefix, ride_http_handler handler, void *ctx);

/* Binds and listens. Returns 0, or -1 with a message in err. */
int ride_http_server_start(ride_http_server *srv, char *err, size_t err_len);

/* The bound port (after start), or 0. */
int ride_http_server_port(const ride_http_server *srv);

/* Stops listening and closes every connection (responses still queued are dropped). */
void ride_http_server_stop(ride_http_server *srv);

/* Stops the server and releases it. Its handles close asynchronously: the memory is
 * returned once the loop has run their close callbacks, so keep running the loop
 * (uv_run returns when nothing else is active). NULL is a no-op. */
void ride_http_server_free(ride_http_server *srv);

/* Requests refused for `reason` since the server was created (any thread). */
uint64_t ride_http_server_rejected(const ride_http_server *srv, ride_http_reject reason);

/* Request, valid during the handler call only. */
const char *ride_http_request_method(const ride_http_request *req);
/* Percent-decoded path without the query ("/apps/a b"). */
const char *ride_http_request_path(const ride_http_request *req);
/* Raw query string without '?', "" when there is none. */
const char *ride_http_request_query(const ride_http_request *req);
/* First header named `name` (case-insensitive), or NULL. */
const char *ride_http_request_header(const ride_http_request *req, const char *name);
/* The body (NUL-terminated, may hold NULs) and its length. */
const char *ride_http_request_body(const ride_http_request *req, size_t *len);

/* Response: 200 with an empty body unless the handler sets otherwise. Content-Length
 * and Connection are always written by the server. */
void ride_http_response_status(ride_http_response *res, int status);
/* Adds a header; returns -1 for an invalid name or value (CR, LF) or when the
 * headers would exceed 4 KiB. Content-Length, Connection, Transfer-Encoding and
 * Content-Type are refused here (the server or the body setters write them). */
int ride_http_response_header(ride_http_response *res, const char *name, const char *value);
/* Copies the body. Returns -1 on allocation failure (the response becomes a 500). */
int ride_http_response_body(ride_http_response *res, const char *content_type,
                            const void *body, size_t len);
/* Takes ownership of `body` (released with free()). */
void ride_http_response_body_take(ride_http_response *res, const char *content_type,
                                  char *body, size_t len);
/* Status and a compact JSON body (application/json) from `json`. */
int ride_http_response_json(ride_http_response *res, int status, const json_t *json);
/* Status and `text` as text/plain; charset=utf-8. */
int ride_http_response_text(ride_http_response *res, int status, const char *text);

/* True when the request carries "Authorization: Bearer <expected>"; compares in
 * time independent of the token's content. An empty or NULL `expected` denies all. */
bool ride_http_check_token(const ride_http_request *req, const char *expected);

/* ride_http_check_token, and on denial answers 401 with WWW-Authenticate: Bearer
 * and counts it. Returns true when allowed (the handler goes on). */
bool ride_http_require_token(const ride_http_request *req, ride_http_response *res,
                             const char *expected);

/* Reads a token file: trailing whitespace trimmed; an empty token, one with
 * whitespace or control characters inside, or one over 4 KiB is refused. Warns
 * when the file is readable by group or others. Returns a malloc'd token, or NULL
 * with a message in err. */
char *ride_http_token_load(const char *path, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
