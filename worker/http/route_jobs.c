#include "route_jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "budget.h"
#include "jobs.h"
#include "request.h"
#include "wire.h"

/* Replies with the job object (with "owner" for show_owner); extra header
 * lines may be NULL. */
static void reply_job(conn *c, int status, const jobs_result *r, const char *extra)
{
    const job *j = r->j;
    conn_set_job_id(c, j->id);
    /* A job read from the store can be megabytes: held while it is built,
     * then copied into the connection's buffer, until written. */
    if (r->text && !conn_hold_reply(c, 2 * (r->text->args_len + r->text->result_len)))
        return;
    size_t len = 0;
    unsigned fields = JOB_VIEW_ARGS | JOB_VIEW_RESULT | (r->show_owner ? JOB_VIEW_OWNER : 0u);
    /* A job read from the store: its args and result spliced in as stored. */
    char *body = r->text ? job_dumps_view(j, fields, r->text, &len)
                         : job_dumps_fields(j, fields, &len);
    if (!body) {
        conn_reply_error(c, 500, ERR_INTERNAL, "out of memory", NULL);
        return;
    }
    conn_reply(c, status, CT_JSON, body, len, extra);
    free(body);
}

static void jobs_gone(conn *c, void *arg)
{
    jobs_abandon(arg);
    conn_drop(c);
}

/* Defers c to op, or nothing when the op answered already (op NULL). */
static void defer_to(conn *c, jobs_op *op)
{
    if (op)
        conn_defer(c, jobs_gone, op);
}

/* ---- POST /v1/jobs -------------------------------------------------------- */

/* ?wait=S, or for a submission also "Prefer: wait=S" (RFC 7240; a malformed
 * preference is ignored, as preferences may be). Returns ms, 0 for none, -1
 * after replying 400. */
static int64_t wait_ms_of(conn *c, const http_request *req, bool prefer_ok)
{
    char vbuf[REQUEST_QUERY_MAX];
    http_slice v;
    int found = request_query(c, req, "wait", vbuf, &v);
    if (found < 0)
        return -1;
    if (found) {
        int64_t s = request_uint(v, 1000000);
        if (s < 0) {
            conn_reply_error(c, 400, ERR_INVALID_ARGS, "wait: must be a whole number of seconds",
                             "wait");
            return -1;
        }
        return (s > JOBS_WAIT_MAX_S ? JOBS_WAIT_MAX_S : s) * 1000;
    }
    const http_slice *pref = prefer_ok ? http_request_header(req, HDR_PREFER) : NULL;
    if (!pref)
        return 0;
    for (size_t i = 0; i + 5 <= pref->n; i++) {
        if (strncasecmp(pref->p + i, "wait=", 5) == 0 &&
            (i == 0 || pref->p[i - 1] == ' ' || pref->p[i - 1] == ',' || pref->p[i - 1] == ';')) {
            http_slice num = {pref->p + i + 5, 0};
            while (i + 5 + num.n < pref->n && pref->p[i + 5 + num.n] >= '0' &&
                   pref->p[i + 5 + num.n] <= '9')
                num.n++;
            int64_t s = request_uint(num, 1000000);
            return s < 0 ? 0 : (s > JOBS_WAIT_MAX_S ? JOBS_WAIT_MAX_S : s) * 1000;
        }
    }
    return 0;
}

static void submit_answer(void *arg, const jobs_result *r)
{
    conn *c = arg;
    if (r->status != SVC_OK) {
        request_reply_svc(c, r->status, r->message, r->arg, r->retry_after_s);
    } else if (job_state_final(r->j->state)) {
        reply_job(c, 200, r, NULL);
    } else {
        /* 202 for a job still on its way, with where to ask and when. */
        char extra[160];
        snprintf(extra, sizeof(extra),
                 HDR_LOCATION ": " ROUTE_JOBS_PREFIX "%s\r\n" HDR_RETRY_AFTER ": %d\r\n", r->j->id,
                 r->retry_after_s);
        reply_job(c, 202, r, extra);
    }
}

static void handle_submit(conn *c, const http_request *req, const svc_caller *who, const char *body,
                          size_t len)
{
    if (!request_json_ok(req)) {
        conn_reply_error(c, 415, ERR_UNSUPPORTED_MEDIA, "Content-Type must be application/json",
                         NULL);
        return;
    }
    int64_t wait_ms = wait_ms_of(c, req, true);
    if (wait_ms < 0)
        return;
    int64_t held;
    json_t *doc = request_parse_body(c, body, len, &held);
    if (!doc)
        return;
    engine *e = conn_engine(c);
    if (!json_is_object(doc)) {
        budget_give(e, BUDGET_ARGS, held);
        json_decref(doc);
        conn_reply_error(c, 400, ERR_BAD_JSON, "the body must be a JSON object", NULL);
        return;
    }
    const http_slice *key = http_request_header(req, HDR_IDEMPOTENCY_KEY);
    jobs_op *op = jobs_submit(e, who, doc, held, key ? key->p : NULL, key ? key->n : 0, wait_ms,
                              submit_answer, c);
    json_decref(doc);
    defer_to(c, op);
}

void route_jobs_collection(conn *c, const http_request *req, const svc_caller *who,
                           const char *body, size_t len)
{
    if (req->method == HTTP_POST)
        handle_submit(c, req, who, body, len);
    else
        route_list_get(c, req, who);
}

/* ---- GET and DELETE /v1/jobs/{id} ------------------------------------------ */

static void get_answer(void *arg, const jobs_result *r)
{
    conn *c = arg;
    if (r->status != SVC_OK)
        request_reply_svc(c, r->status, r->message, r->arg, r->retry_after_s);
    else
        reply_job(c, 200, r, NULL);
}

static void cancel_answer(void *arg, const jobs_result *r)
{
    conn *c = arg;
    if (r->status != SVC_OK)
        request_reply_svc(c, r->status, r->message, r->arg, r->retry_after_s);
    else
        reply_job(c, job_state_final(r->j->state) ? 200 : 202, r, NULL); /* 202: still stopping */
}

void route_jobs_item(conn *c, const http_request *req, const svc_caller *who, const char *body,
                     size_t len)
{
    /* The route holds one segment after the prefix, decoded: the id. Anything
     * that cannot be an id is 404 without asking the store. */
    size_t pre = strlen(ROUTE_JOBS_PREFIX);
    char id[JOB_ID_LEN + 1];
    if (!job_id_valid(req->path.p + pre, req->path.n - pre)) {
        conn_reply_error(c, 404, ERR_NOT_FOUND, "no such job", NULL);
        return;
    }
    memcpy(id, req->path.p + pre, JOB_ID_LEN);
    id[JOB_ID_LEN] = '\0';
    engine *e = conn_engine(c);
    if (req->method == HTTP_DELETE) {
        defer_to(c, jobs_cancel(e, who, id, cancel_answer, c));
        return;
    }
    int64_t wait_ms = wait_ms_of(c, req, false);
    if (wait_ms >= 0)
        defer_to(c, jobs_get(e, who, id, wait_ms, get_answer, c));
}
