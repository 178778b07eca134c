#include "request.h"

#include <stdio.h>
#include <string.h>

#include "budget.h"
#include "http_media.h"
#include "http_url.h"
#include "json_cost.h"
#include "wire.h"

#define JSON_MAX_DEPTH 64

static buf scratch; /* loop thread only */

buf *request_scratch(void)
{
    scratch.len = 0;
    return &scratch;
}

void request_release(void)
{
    buf_release(&scratch);
}

bool request_json_ok(const http_request *req)
{
    return !req->content_type.p || http_media_type_is(req->content_type, CT_JSON);
}

int request_query(conn *c, const http_request *req, const char *key, char *vbuf, http_slice *v)
{
    int rc = http_url_query(req->query, key, vbuf, REQUEST_QUERY_MAX, v);
    if (rc < 0) {
        /* Dispatch refused malformed escapes: this is a NUL or the length. */
        char msg[128];
        snprintf(msg, sizeof(msg), "%s: must decode to at most %d bytes, none of them NUL", key,
                 REQUEST_QUERY_MAX);
        conn_reply_error(c, 400, ERR_INVALID_ARGS, msg, key);
    }
    return rc;
}

int64_t request_uint(http_slice v, int64_t max)
{
    if (v.n == 0 || v.n > 18)
        return -1;
    int64_t x = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return -1;
        x = x * 10 + (v.p[i] - '0');
    }
    return x > max ? -1 : x;
}

json_t *request_parse_body(conn *c, const char *body, size_t len, int64_t *held)
{
    engine *e = conn_engine(c);
    int64_t cost = 0;
    *held = 0;
    /* jansson would accept 2048 levels, far more than any function's
     * arguments need; the same pass estimates what the value will take. */
    if (!json_cost_within(body, len, JSON_MAX_DEPTH, &cost)) {
        conn_reply_error(c, 400, ERR_BAD_JSON, "JSON nested deeper than 64 levels", NULL);
        return NULL;
    }
    if (!budget_take(e, BUDGET_ARGS, cost)) {
        request_reply_svc(
            c, SVC_BUSY,
            "this worker holds limits.max_worker_args_bytes of arguments already; try "
            "again shortly",
            NULL, 1);
        return NULL;
    }
    json_error_t jerr;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        budget_give(e, BUDGET_ARGS, cost);
        char msg[256];
        snprintf(msg, sizeof(msg), "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        conn_reply_error(c, 400, ERR_BAD_JSON, msg, NULL);
        return NULL;
    }
    *held = cost;
    return v;
}

void request_append_json(buf *b, json_t *v)
{
    size_t need = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    buf_reserve(b, need);
    b->len += json_dumpb(v, b->p + b->len, need, JSON_COMPACT | JSON_ENCODE_ANY);
}

void request_reply_json(conn *c, int status, json_t *v)
{
    buf *b = request_scratch();
    request_append_json(b, v);
    conn_reply(c, status, CT_JSON, b->p, b->len, NULL);
}

void request_reply_svc(conn *c, svc_status st, const char *message, const char *arg,
                       int retry_after_s)
{
    static const struct {
        int status;
        const char *code;
    } map[] = {
        [SVC_OK] = {500, ERR_INTERNAL}, /* not an error: a caller's slip */
        [SVC_INVALID_ARGS] = {400, ERR_INVALID_ARGS},
        [SVC_UNKNOWN_FUNCTION] = {404, ERR_UNKNOWN_FUNCTION},
        [SVC_NOT_FOUND] = {404, ERR_NOT_FOUND},
        [SVC_ALREADY_FINAL] = {409, ERR_ALREADY_FINAL},
        [SVC_KEY_REUSED] = {422, ERR_IDEMPOTENCY_KEY_REUSED},
        [SVC_QUEUE_FULL] = {429, ERR_QUEUE_FULL},
        [SVC_BUSY] = {503, ERR_BUSY},
        [SVC_TIMEOUT] = {504, ERR_TIMEOUT},
        [SVC_FUNCTION_ERROR] = {422, ERR_FUNCTION_ERROR},
        [SVC_WORKER_LOST] = {502, ERR_WORKER_LOST},
        [SVC_INTERNAL] = {500, ERR_INTERNAL},
    };
    char extra[48] = "";
    if (st == SVC_QUEUE_FULL || st == SVC_BUSY)
        snprintf(extra, sizeof(extra), HDR_RETRY_AFTER ": %d\r\n",
                 retry_after_s > 0 ? retry_after_s : 1);
    conn_reply_error_hdr(c, map[st].status, map[st].code, message, arg, extra[0] ? extra : NULL);
}
