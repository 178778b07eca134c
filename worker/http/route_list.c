/*
 * route_list.c - GET /v1/jobs: the job list, one bounded page at a time
 * (svc/joblist.h), as {"jobs": [...], "next": LINK or null} with "Link: <LINK>;
 * rel=\"next\"" (RFC 8288) when there is more: LINK is /v1/jobs with the
 * same state, fn, limit and fields and an opaque cursor. A bad parameter is
 * 400 naming it.
 */
#include "route_jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "joblist.h"
#include "request.h"
#include "wire.h"

/* The cursor: created_at as 16 hex digits, then the id (32). Opaque to
 * clients; only this file reads and writes it. */
#define CURSOR_LEN (16 + JOB_ID_LEN)
#define LINK_MAX 512 /* /v1/jobs?state=..&fn=<63 bytes, %-encoded>&limit=..&fields=..&cursor=.. */

static void cursor_format(const store_cursor *cur, char out[CURSOR_LEN + 1])
{
    snprintf(out, CURSOR_LEN + 1, "%016llx%s", (unsigned long long)cur->created_at_us, cur->id);
}

/* 0 and *cur, or -1 if v is not a cursor cursor_format() wrote. */
static int cursor_parse(http_slice v, store_cursor *cur)
{
    unsigned long long at = 0;
    if (v.n != CURSOR_LEN || !job_id_valid(v.p + 16, JOB_ID_LEN))
        return -1;
    for (int i = 0; i < 16; i++) {
        char ch = v.p[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        at = at << 4 | (unsigned)d;
    }
    if (at > INT64_MAX)
        return -1;
    cur->created_at_us = (int64_t)at;
    memcpy(cur->id, v.p + 16, JOB_ID_LEN);
    cur->id[JOB_ID_LEN] = '\0';
    return 0;
}

/* Appends key=s[0..n)& to the link, %-encoding all but RFC 3986 unreserved
 * bytes and the comma (a sub-delim, fine in a query: fields=args,result). */
static void link_add(char *link, const char *key, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = strlen(link);
    o += (size_t)snprintf(link + o, LINK_MAX - o, "%s=", key);
    for (size_t i = 0; i < n && o + 4 < LINK_MAX; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == ',') {
            link[o++] = (char)ch;
        } else {
            link[o++] = '%';
            link[o++] = hex[ch >> 4];
            link[o++] = hex[ch & 15];
        }
    }
    link[o++] = '&';
    link[o] = '\0';
}

/* ?fields=: a comma-separated list of "args" and "result". */
static int fields_parse(http_slice v, unsigned *fields)
{
    *fields = 0;
    for (size_t i = 0; i <= v.n;) {
        size_t n = 0;
        while (i + n < v.n && v.p[i + n] != ',')
            n++;
        if (n == 4 && memcmp(v.p + i, "args", 4) == 0)
            *fields |= JOB_VIEW_ARGS;
        else if (n == 6 && memcmp(v.p + i, "result", 6) == 0)
            *fields |= JOB_VIEW_RESULT;
        else
            return -1;
        i += n + 1;
    }
    return 0;
}

/* Reads state, fn, limit, fields and cursor into lr (and the next link);
 * -1 after replying 400 naming the parameter. */
static int list_params(conn *c, const http_request *req, joblist_query *q, char *link)
{
    int found;
    char msg[160], vbuf[REQUEST_QUERY_MAX];
    http_slice v;
    snprintf(link, LINK_MAX, ROUTE_JOBS "?");
    q->state = -1;
    q->limit = JOBLIST_DEFAULT;
    if ((found = request_query(c, req, "state", vbuf, &v)) < 0)
        return -1;
    if (found) {
        char name[16] = "";
        job_state st;
        if (v.n < sizeof(name))
            memcpy(name, v.p, v.n);
        if (v.n >= sizeof(name) || job_state_parse(name, &st) < 0) {
            conn_reply_error(c, 400, ERR_INVALID_ARGS,
                             "state: one of queued, running, succeeded, failed, cancelled",
                             "state");
            return -1;
        }
        q->state = (int)st;
        link_add(link, "state", v.p, v.n);
    }
    if ((found = request_query(c, req, "fn", vbuf, &v)) < 0)
        return -1;
    if (found) {
        if (v.n == 0 || v.n > JOB_FN_MAX) {
            conn_reply_error(c, 400, ERR_INVALID_ARGS, "fn: a function name", "fn");
            return -1;
        }
        memcpy(q->fn, v.p, v.n);
        q->fn[v.n] = '\0';
        link_add(link, "fn", v.p, v.n);
    }
    if ((found = request_query(c, req, "limit", vbuf, &v)) < 0)
        return -1;
    if (found) {
        int64_t limit = request_uint(v, JOBLIST_MAX);
        if (limit < 1) {
            snprintf(msg, sizeof(msg), "limit: must be an integer from 1 to %d", JOBLIST_MAX);
            conn_reply_error(c, 400, ERR_INVALID_ARGS, msg, "limit");
            return -1;
        }
        q->limit = (int)limit;
        link_add(link, "limit", v.p, v.n);
    }
    if ((found = request_query(c, req, "fields", vbuf, &v)) < 0)
        return -1;
    if (found) {
        if (fields_parse(v, &q->fields) < 0) {
            conn_reply_error(c, 400, ERR_INVALID_ARGS,
                             "fields: a comma-separated list of args and result", "fields");
            return -1;
        }
        link_add(link, "fields", v.p, v.n);
    }
    if ((found = request_query(c, req, "cursor", vbuf, &v)) < 0)
        return -1;
    if (found) {
        if (cursor_parse(v, &q->after) < 0) {
            conn_reply_error(c, 400, ERR_INVALID_ARGS,
                             "cursor: not a cursor of this list (follow the \"next\" link)",
                             "cursor");
            return -1;
        }
        q->has_after = true;
    }
    strncat(link, "cursor=", LINK_MAX - strlen(link) - 1);
    return 0;
}

/* One list request, from its parameters to its reply. */
typedef struct list_req {
    conn *c;
    joblist_op *op;
    char link[LINK_MAX]; /* the next link up to "cursor=" */
} list_req;

static void list_answer(void *arg, const joblist_page *p)
{
    list_req *lr = arg;
    conn *c = lr->c;
    if (p->status != SVC_OK) {
        request_reply_svc(c, p->status, p->message, NULL, 0);
        free(lr);
        return;
    }
    if (!conn_hold_reply(c, 2 * p->len)) { /* built here, then copied, until written */
        free(lr);
        return;
    }
    buf *b = request_scratch();
    char cur[CURSOR_LEN + 1], extra[LINK_MAX + CURSOR_LEN + 32] = "";
    buf_append_str(b, "{\"jobs\":[");
    buf_append(b, p->text, p->len);
    buf_append_str(b, "],\"next\":");
    if (p->more) {
        cursor_format(&p->last, cur);
        buf_append_str(b, "\"");
        buf_append_str(b, lr->link);
        buf_append_str(b, cur);
        buf_append_str(b, "\"}");
        snprintf(extra, sizeof(extra), "Link: <%s%s>; rel=\"next\"\r\n", lr->link, cur);
    } else {
        buf_append_str(b, "null}");
    }
    free(lr);
    conn_reply(c, 200, CT_JSON, b->p, b->len, extra[0] ? extra : NULL);
}

static void list_gone(conn *c, void *arg)
{
    list_req *lr = arg;
    joblist_abandon(lr->op);
    free(lr);
    conn_drop(c);
}

void route_list_get(conn *c, const http_request *req, const svc_caller *who)
{
    joblist_query q = {0};
    list_req *lr = calloc(1, sizeof(*lr));
    if (!lr) {
        conn_reply_error(c, 500, ERR_INTERNAL, "out of memory", NULL);
        return;
    }
    lr->c = c;
    if (list_params(c, req, &q, lr->link) < 0) {
        free(lr);
        return;
    }
    joblist_op *op = joblist_start(conn_engine(c), who, &q, list_answer, lr);
    if (op) { /* else answered already (and lr freed) */
        lr->op = op;
        conn_defer(c, list_gone, lr);
    }
}
