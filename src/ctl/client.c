/* client.c - reaching the control API (see client.h). */
#include "client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "cluster/zk.h"
#include "http/http.h"
#include "http/http_client.h"

#define WHY_MAX 512
#define HEADER_MAX 1024

int ride_ctl_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Text from the server goes to a terminal on one line: no control characters. */
static void one_line(char *text)
{
    for (unsigned char *c = (unsigned char *)text; *c; c++) {
        if (*c < 0x20 || *c == 0x7f)
            *c = ' ';
    }
}

/* A copy of url without trailing slashes, so that paths append cleanly. */
static char *base_url(const char *url, char *err, size_t errlen)
{
    if (strncmp(url, "http://", 7) != 0) {
        ride_ctl_fail(err, errlen, "invalid control API URL \"%s\" (expected http://HOST:PORT)",
                      url);
        return NULL;
    }
    char *copy = strdup(url);
    if (copy == NULL) {
        ride_ctl_fail(err, errlen, "out of memory");
        return NULL;
    }
    size_t len = strlen(copy);
    while (len > 7 && copy[len - 1] == '/')
        copy[--len] = '\0';
    return copy;
}

static int read_api_node(ride_zk *zk, const char *connect, char **url, char *err, size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    ride_zk_err rc = ride_zk_get(zk, RIDE_CLUSTER_PATH_API, &data, &len, NULL);
    if (rc == RIDE_ZK_NONODE)
        return ride_ctl_fail(err, errlen, "no leading master: %s does not exist in ZooKeeper %s",
                             RIDE_CLUSTER_PATH_API, connect);
    if (rc != RIDE_ZK_OK)
        return ride_ctl_fail(err, errlen, "cannot read %s from ZooKeeper %s: %s",
                             RIDE_CLUSTER_PATH_API, connect, ride_zk_strerror(rc));
    ride_cluster_api api;
    char why[WHY_MAX];
    int decoded = ride_cluster_api_decode(RIDE_CLUSTER_PATH_API, data, len, &api, why, sizeof why);
    free(data);
    if (decoded != 0)
        return ride_ctl_fail(err, errlen, "bad data in ZooKeeper %s: %s", connect, why);
    *url = base_url(api.url, err, errlen);
    ride_cluster_api_free(&api);
    return *url ? 0 : -1;
}

static int url_from_zookeeper(const ride_ctl_args *args, char **url, char *err, size_t errlen)
{
    char digest[WHY_MAX], why[WHY_MAX];
    ride_zk_options opts = {.connect = args->zookeeper,
                            .connect_timeout_ms = RIDE_CTL_ZK_CONNECT_TIMEOUT_MS};
    if (args->zk_digest_file != NULL) {
        if (ride_zk_read_digest_file(args->zk_digest_file, digest, sizeof digest, why,
                                     sizeof why) != RIDE_ZK_OK)
            return ride_ctl_fail(err, errlen, "cannot read the ZooKeeper digest file: %s", why);
        opts.digest = digest;
    }
    ride_zk *zk = NULL;
    if (ride_zk_connect(&opts, &zk, why, sizeof why) != RIDE_ZK_OK)
        return ride_ctl_fail(err, errlen, "cannot connect to ZooKeeper %s: %s", args->zookeeper,
                             why);
    int rc = read_api_node(zk, args->zookeeper, url, err, errlen);
    ride_zk_close(zk);
    /* The digest is a password: do not leave it on the stack. */
    memset(digest, 0, sizeof digest);
    return rc;
}

int ride_ctl_client_open(const ride_ctl_args *args, bool for_change, ride_ctl_client *c,
                         char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->timeout_ms = args->timeout_ms;
    if (args->server != NULL) {
        c->url = base_url(args->server, err, errlen);
        if (c->url == NULL)
            return -1;
    } else if (url_from_zookeeper(args, &c->url, err, errlen) != 0) {
        return -1;
    }
    if (for_change && args->token_file != NULL) {
        char why[WHY_MAX];
        c->token = ride_http_token_load(args->token_file, why, sizeof why);
        if (c->token == NULL) {
            ride_ctl_client_close(c);
            return ride_ctl_fail(err, errlen, "cannot use the token file: %s", why);
        }
    }
    return 0;
}

void ride_ctl_client_close(ride_ctl_client *c)
{
    free(c->url);
    if (c->token != NULL) {
        memset(c->token, 0, strlen(c->token));
        free(c->token);
    }
    memset(c, 0, sizeof *c);
}

void ride_ctl_http_error(int status, const char *body, size_t len, char *err, size_t errlen)
{
    if (status == 401) {
        ride_ctl_fail(err, errlen,
                      "the master refused the change: missing or wrong token "
                      "(use --token-file or RIDE_TOKEN_FILE)");
        return;
    }
    json_t *answer = body != NULL ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    const json_t *message = json_object_get(answer, "error");
    if (json_is_string(message) && json_string_length(message) > 0) {
        ride_ctl_fail(err, errlen, "%s (HTTP %d)", json_string_value(message), status);
        one_line(err);
    } else {
        ride_ctl_fail(err, errlen, "the control API answered HTTP %d without an error message",
                      status);
    }
    json_decref(answer);
}

static int transport_error(const ride_ctl_client *c, int rc, const char *why, char *err,
                           size_t errlen)
{
    if (rc == RIDE_HTTP_CLIENT_REFUSED)
        return ride_ctl_fail(err, errlen, "cannot reach the control API at %s: connection refused",
                             c->url);
    if (rc == RIDE_HTTP_CLIENT_TIMEOUT)
        return ride_ctl_fail(err, errlen,
                             "cannot reach the control API at %s: no answer within %d s",
                             c->url, c->timeout_ms / 1000);
    if (rc == RIDE_HTTP_CLIENT_BAD_URL)
        return ride_ctl_fail(err, errlen, "cannot send the request to %s: %s", c->url, why);
    return ride_ctl_fail(err, errlen, "cannot reach the control API at %s: %s", c->url, why);
}

static int parse_answer(const ride_http_client_response *res, json_t **answer, char *err,
                        size_t errlen)
{
    json_error_t jerr;
    *answer = json_loadb(res->body, res->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (*answer == NULL)
        return ride_ctl_fail(err, errlen,
                             "malformed answer from the control API: invalid JSON "
                             "(HTTP %d, line %d): %s",
                             res->status, jerr.line, jerr.text);
    if (!json_is_object(*answer)) {
        json_decref(*answer);
        *answer = NULL;
        return ride_ctl_fail(err, errlen,
                             "malformed answer from the control API: expected a JSON "
                             "object (HTTP %d)",
                             res->status);
    }
    return 0;
}

int ride_ctl_client_call(const ride_ctl_client *c, const ride_ctl_call *call, json_t **answer,
                         char *err, size_t errlen)
{
    *answer = NULL;
    size_t url_len = strlen(c->url) + strlen(call->path) + 1;
    char *url = malloc(url_len);
    if (url == NULL)
        return ride_ctl_fail(err, errlen, "out of memory");
    snprintf(url, url_len, "%s%s", c->url, call->path);
    char header[HEADER_MAX];
    const char *headers[] = {header, NULL};
    if (call->manifest_name != NULL &&
        (size_t)snprintf(header, sizeof header, "X-Ride-Manifest-Name: %s",
                         call->manifest_name) >= sizeof header) {
        free(url);
        return ride_ctl_fail(err, errlen, "the manifest's name is too long");
    }
    ride_http_client_request req = {
        .url = url,
        .method = call->method,
        .token = c->token,
        .body = call->body,
        .body_len = call->body_len,
        .content_type = call->content_type,
        .timeout_ms = c->timeout_ms,
        .headers = call->manifest_name != NULL ? headers : NULL,
    };
    ride_http_client_response res;
    char why[WHY_MAX];
    int rc = ride_http_client_do(&req, &res, why, sizeof why);
    free(url);
    if (rc != RIDE_HTTP_CLIENT_OK)
        return transport_error(c, rc, why, err, errlen);
    if (res.status < 200 || res.status > 299) {
        ride_ctl_http_error(res.status, res.body, res.body_len, err, errlen);
        rc = -1;
    } else {
        rc = parse_answer(&res, answer, err, errlen);
    }
    free(res.body);
    return rc;
}
