#include "joblist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "storeq.h"

struct joblist_op {
    sq_op sq;              /* first */
    joblist_done_fn *done; /* NULL once abandoned */
    void *arg;
    unsigned fields;
    /* Written by the store thread between push and done (list_row). */
    buf body;
    int taken;
    store_cursor last;
    bool oom;
};

/* Store thread: one row. */
static int list_row(const store_row *r, void *arg)
{
    joblist_op *op = arg;
    size_t start = op->body.len, len = 0;
    /* The first job always comes, so that paging moves on. */
    if (op->taken > 0 && start + r->text.args_len + r->text.result_len > JOBLIST_MAX_BYTES)
        return STORE_ROW_STOP; /* too big before it is even written */
    char *text = job_dumps_view(r->j, op->fields, &r->text, &len);
    if (!text) {
        op->oom = true;
        return STORE_ROW_STOP;
    }
    if (op->taken > 0 && start + 1 + len > JOBLIST_MAX_BYTES) {
        free(text);
        return STORE_ROW_STOP;
    }
    if (op->taken > 0)
        buf_append(&op->body, ",", 1);
    buf_append(&op->body, text, len);
    free(text);
    op->taken++;
    op->last.created_at_us = r->j->created_at_us;
    memcpy(op->last.id, r->j->id, sizeof(op->last.id));
    return STORE_ROW_TAKE;
}

static void list_free(joblist_op *op)
{
    buf_release(&op->body);
    sq_op_release(&op->sq);
    free(op);
}

static void list_done(sq_op *sq)
{
    joblist_op *op = (joblist_op *)sq;
    joblist_page p = {.status = SVC_OK};
    if (sq->rc < 0) {
        log_error("listing jobs failed: %s", sq->err);
        p = (joblist_page){.status = SVC_INTERNAL,
                           .message = "the job store failed; see the server log"};
    } else if (op->oom) {
        p = (joblist_page){.status = SVC_INTERNAL, .message = "out of memory"};
    } else {
        p.text = op->body.p ? op->body.p : "";
        p.len = op->body.len;
        p.n = op->taken;
        p.more = sq->u.list.more && op->taken > 0;
        p.last = op->last;
    }
    if (op->done)
        op->done(op->arg, &p);
    list_free(op);
}

joblist_op *joblist_start(engine *e, const svc_caller *who, const joblist_query *q,
                          joblist_done_fn *done, void *arg)
{
    joblist_op *op = calloc(1, sizeof(*op));
    if (!op) {
        joblist_page p = {.status = SVC_INTERNAL, .message = "out of memory"};
        done(arg, &p);
        return NULL;
    }
    op->done = done;
    op->arg = arg;
    op->fields =
        (q->fields & (JOB_VIEW_ARGS | JOB_VIEW_RESULT)) | (who->show_owner ? JOB_VIEW_OWNER : 0u);
    sq_op_init(&op->sq, SQ_LIST, list_done, op);
    typeof(op->sq.u.list) *l = &op->sq.u.list;
    l->q.state = q->state;
    l->q.limit = q->limit;
    l->q.with_args = q->fields & JOB_VIEW_ARGS;
    l->q.with_result = q->fields & JOB_VIEW_RESULT;
    if (q->fn[0]) {
        snprintf(l->fn, sizeof(l->fn), "%s", q->fn);
        l->q.fn = l->fn;
    }
    if (!who->all) {
        snprintf(l->owner, sizeof(l->owner), "%s", who->owner);
        l->q.owner = l->owner;
    }
    if (q->has_after) {
        l->after = q->after;
        l->q.after = &l->after;
    }
    l->row = list_row;
    l->row_arg = op;
    storeq_push(e->sq, &op->sq);
    return op;
}

void joblist_abandon(joblist_op *op)
{
    op->done = NULL; /* the store op's end frees it */
}
