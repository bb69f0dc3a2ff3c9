/* Control API calls of the demo over http/http_client.h. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_client.h"

#define API_TIMEOUT_MS 5000

/* Performs one request; the body of a 2xx answer parsed as a JSON object. */
static json_t *request(const ride_http_client_request *req, char *err, size_t errlen)
{
    ride_http_client_response res = {0};
    if (ride_http_client_do(req, &res, err, errlen) != RIDE_HTTP_CLIENT_OK)
        return NULL;
    json_error_t jerr;
    json_t *doc = json_loadb(res.body, res.body_len, 0, &jerr);
    json_t *msg = json_is_object(doc) ? json_object_get(doc, "error") : NULL;
    if (res.status / 100 != 2) {
        snprintf(err, errlen, "%s %s: HTTP %d: %s", req->method ? req->method : "GET", req->url,
                 res.status, json_is_string(msg) ? json_string_value(msg) : "(no message)");
        json_decref(doc);
        doc = NULL;
    } else if (!json_is_object(doc)) {
        snprintf(err, errlen, "%s: the answer is not a JSON object", req->url);
        json_decref(doc);
        doc = NULL;
    }
    free(res.body);
    return doc;
}

json_t *demo_api_get(const char *base, const char *path, char *err, size_t errlen)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    ride_http_client_request req = {.url = url, .timeout_ms = API_TIMEOUT_MS};
    return request(&req, err, errlen);
}

int demo_api_apply(const char *base, const char *token, const char *yaml, size_t len,
                   char *result, size_t resultlen, char *err, size_t errlen)
{
    char url[512];
    snprintf(url, sizeof url, "%s/v1/apps", base);
    ride_http_client_request req = {.url = url, .method = "POST", .token = token,
                                    .body = yaml, .body_len = len,
                                    .content_type = "application/yaml",
                                    .timeout_ms = API_TIMEOUT_MS};
    json_t *doc = request(&req, err, errlen);
    if (!doc)
        return -1;
    const char *r = json_string_value(json_object_get(doc, "result"));
    snprintf(result, resultlen, "%s", r ? r : "?");
    json_decref(doc);
    return 0;
}

static int64_t offset_or_none(const json_t *v)
{
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* One PARTITION object into *out; false when a required field is missing. */
static bool partition_from_json(const json_t *o, demo_partition *out)
{
    const char *stage = json_string_value(json_object_get(o, "stage"));
    const json_t *part = json_object_get(o, "partition");
    const json_t *owner = json_object_get(o, "owner");
    if (!stage || strlen(stage) >= sizeof out->stage || !json_is_integer(part) ||
        (!json_is_null(owner) && !json_is_string(owner)) ||
        (json_is_string(owner) && strlen(json_string_value(owner)) >= sizeof out->owner))
        return false;
    snprintf(out->stage, sizeof out->stage, "%s", stage);
    out->partition = (int)json_integer_value(part);
    snprintf(out->owner, sizeof out->owner, "%s", json_is_string(owner) ? json_string_value(owner) : "");
    out->end_offset = offset_or_none(json_object_get(o, "end_offset"));
    out->committed = offset_or_none(json_object_get(o, "committed"));
    return true;
}

int demo_api_partitions(const char *base, const char *app, demo_partition *out, char *err,
                        size_t errlen)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/partitions?app=%s", app);
    json_t *doc = demo_api_get(base, path, err, errlen);
    if (!doc)
        return -1;
    const json_t *rows = json_object_get(doc, "partitions");
    size_t n = json_array_size(rows);
    int count = 0;
    for (size_t i = 0; i < n && count >= 0; i++) {
        if (count == DEMO_PARTITIONS_MAX || !partition_from_json(json_array_get(rows, i), &out[count])) {
            snprintf(err, errlen, "GET %s: partition %zu: %s", path, i,
                     count == DEMO_PARTITIONS_MAX ? "too many partitions" : "malformed");
            count = -1;
        } else {
            count++;
        }
    }
    json_decref(doc);
    return count;
}
