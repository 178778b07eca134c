/*
 * jobs_list.c - GET /v1/jobs (see jobs_list.h).
 */
#include "jobs_list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "handlers.h"
#include "jobs_http.h"
#include "log.h"
#include "storeq.h"
#include "wire.h"

/* The cursor: created_at as 16 hex digits, then the id (32). Opaque to
 * clients; only this file reads and writes it. */
#define CURSOR_LEN (16 + JOB_ID_LEN)
#define LINK_MAX 512 /* /v1/jobs?state=..&fn=<63 bytes, %-encoded>&limit=..&fields=..&cursor=.. */

typedef struct list_req {
    sq_op op; /* first */
    conn *c;
    unsigned fields;     /* JOB_VIEW_ARGS | JOB_VIEW_RESULT */
    char link[LINK_MAX]; /* the next link up to "cursor=" */
    /* Written by the store thread between push and done (list_row). */
    buf body;            /* {"jobs":[ and the jobs taken */
    int taken;
    store_cursor last;   /* of the last job taken */
    bool oom;
} list_req;

/* ---- the page, on the store thread ----------------------------------------- */

static int list_row(const store_row *r, void *arg)
{
    list_req *lr = arg;
    size_t start = lr->body.len, len = 0;
    size_t cap = JOBS_LIST_MAX_BYTES + sizeof("{\"jobs\":[") - 1;
    /* The first job always comes, so that paging moves on. */
    if (lr->taken > 0 && start + r->text.args_len + r->text.result_len > cap)
        return STORE_ROW_STOP; /* too big before it is even written */
    char *text = job_dumps_view(r->j, lr->fields, &r->text, &len);
    if (!text) {
        lr->oom = true;
        return STORE_ROW_STOP;
    }
    if (lr->taken > 0 && start + 1 + len > cap) {
        free(text);
        return STORE_ROW_STOP;
    }
    if (lr->taken > 0)
        buf_append(&lr->body, ",", 1);
    buf_append(&lr->body, text, len);
    free(text);
    lr->taken++;
    lr->last.created_at_us = r->j->created_at_us;
    memcpy(lr->last.id, r->j->id, sizeof(lr->last.id));
    return STORE_ROW_TAKE;
}

/* ---- the reply, on the loop thread ------------------------------------------- */

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

static void list_free(list_req *lr)
{
    buf_release(&lr->body);
    sq_op_release(&lr->op);
    free(lr);
}

static void list_done(sq_op *op)
{
    list_req *lr = (list_req *)op;
    conn *c = lr->c;
    if (op->rc < 0) {
        log_error("listing jobs failed: %s", op->err);
        conn_reply_error(c, 500, ERR_INTERNAL, "the job store failed; see the server log", NULL);
    } else if (lr->oom) {
        conn_reply_error(c, 500, ERR_INTERNAL, "out of memory", NULL);
    } else {
        char cur[CURSOR_LEN + 1], extra[LINK_MAX + CURSOR_LEN + 32] = "";
        buf_append_str(&lr->body, "],\"next\":");
        if (op->more && lr->taken > 0) {
            cursor_format(&lr->last, cur);
            buf_append_str(&lr->body, "\"");
            buf_append_str(&lr->body, lr->link);
            buf_append_str(&lr->body, cur);
            buf_append_str(&lr->body, "\"}");
            snprintf(extra, sizeof(extra), "Link: <%s%s>; rel=\"next\"\r\n", lr->link, cur);
        } else {
            buf_append_str(&lr->body, "null}");
        }
        conn_reply(c, 200, CT_JSON, lr->body.p, lr->body.len, extra[0] ? extra : NULL);
    }
    list_free(lr);
}

/* ---- the request's parameters ------------------------------------------------- */

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
static int list_params(conn *c, const http_request *req, list_req *lr)
{
    store_list_query *q = &lr->op.list;
    int found;
    char msg[160], vbuf[HANDLERS_QUERY_MAX];
    http_slice v;
    snprintf(lr->link, sizeof(lr->link), ROUTE_JOBS "?");
    q->limit = JOBS_LIST_DEFAULT;
    if ((found = handlers_query(c, req, "state", vbuf, &v)) < 0)
        return -1;
    if (found) {
        char name[16] = "";
        job_state st;
        if (v.n < sizeof(name))
            memcpy(name, v.p, v.n);
        if (v.n >= sizeof(name) || job_state_parse(name, &st) < 0) {
            conn_reply_error(c, 400, ERR_INVALID_ARGS,
                             "state: one of queued, running, succeeded, failed, cancelled", "state");
            return -1;
        }
        q->state = (int)st;
        link_add(lr->link, "state", v.p, v.n);
    }
    if ((found = handlers_query(c, req, "fn", vbuf, &v)) < 0)
        return -1;
    if (found) {
        if (v.n == 0 || v.n > JOB_FN_MAX) {
            conn_reply_error(c, 400, ERR_INVALID_ARGS, "fn: a function name", "fn");
            return -1;
        }
        memcpy(lr->op.list_fn, v.p, v.n);
        q->fn = lr->op.list_fn;
        link_add(lr->link, "fn", v.p, v.n);
    }
    if ((found = handlers_query(c, req, "limit", vbuf, &v)) < 0)
        return -1;
    if (found) {
        int64_t limit = jobs_http_parse_uint(v, JOBS_LIST_MAX);
        if (limit < 1) {
            snprintf(msg, sizeof(msg), "limit: must be an integer from 1 to %d", JOBS_LIST_MAX);
            conn_reply_error(c, 400, ERR_INVALID_ARGS, msg, "limit");
            return -1;
        }
        q->limit = (int)limit;
        link_add(lr->link, "limit", v.p, v.n);
    }
    if ((found = handlers_query(c, req, "fields", vbuf, &v)) < 0)
        return -1;
    if (found) {
        if (fields_parse(v, &lr->fields) < 0) {
            conn_reply_error(c, 400, ERR_INVALID_ARGS,
                             "fields: a comma-separated list of args and result", "fields");
            return -1;
        }
        q->with_args = lr->fields & JOB_VIEW_ARGS;
        q->with_result = lr->fields & JOB_VIEW_RESULT;
        link_add(lr->link, "fields", v.p, v.n);
    }
    if ((found = handlers_query(c, req, "cursor", vbuf, &v)) < 0)
        return -1;
    if (found) {
        if (cursor_parse(v, &lr->op.list_after) < 0) {
            conn_reply_error(c, 400, ERR_INVALID_ARGS,
                             "cursor: not a cursor of this list (follow the \"next\" link)",
                             "cursor");
            return -1;
        }
        q->after = &lr->op.list_after;
    }
    strncat(lr->link, "cursor=", LINK_MAX - strlen(lr->link) - 1);
    return 0;
}

void jobs_list_handle(conn *c, const http_request *req)
{
    list_req *lr = calloc(1, sizeof(*lr));
    if (!lr) {
        conn_reply_error(c, 500, ERR_INTERNAL, "out of memory", NULL);
        return;
    }
    sq_op_init(&lr->op, SQ_LIST, list_done, lr);
    lr->c = c;
    if (list_params(c, req, lr) < 0) {
        list_free(lr);
        return;
    }
    buf_append_str(&lr->body, "{\"jobs\":[");
    lr->op.list_row = list_row;
    lr->op.list_arg = lr;
    conn_defer(c, NULL, NULL);
    storeq_push(conn_worker(c)->sq, &lr->op);
}
