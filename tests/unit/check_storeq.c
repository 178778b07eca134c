/* Unit tests for worker/engine/storeq.c: every kind of op against a real
 * SQLite store, the group commit of submissions, completions and claims
 * (and the order their done() runs in), and store errors in rc/err. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_fixture.h"
#include "storeq.h"

static efx f;

static void setup(void) { efx_setup(&f); }
static void teardown(void) { efx_teardown(&f); }

/* An op that records when its done() ran. */
typedef struct rec {
    sq_op op; /* first */
    int tag;
    int done_calls;
} rec;

static int order[64], norder;

static void rec_done(sq_op *op)
{
    rec *r = (rec *)op;
    r->done_calls++;
    ck_assert_int_lt(norder, 64);
    order[norder++] = r->tag;
}

/* An op that frees itself in done() (as the engine's claims and reaps do). */
static void rec_done_free(sq_op *op)
{
    rec_done(op);
    sq_op_release(op);
    free(op);
}

static void rec_init(rec *r, sq_kind kind, int tag)
{
    sq_op_init(&r->op, kind, rec_done, r);
    r->tag = tag;
    r->done_calls = 0;
}

static void fill_submit(rec *r, int tag, const char *args)
{
    rec_init(r, SQ_SUBMIT, tag);
    job *j = &r->op.u.submit.j;
    snprintf(j->fn, sizeof(j->fn), "fib");
    j->kind = FN_CPU;
    j->args = json_loads(args, 0, NULL);
    ck_assert_ptr_nonnull(j->args);
    j->timeout_ms = 60000;
}

static void fill_claim(rec *r, int tag, int max)
{
    rec_init(r, SQ_CLAIM, tag);
    r->op.u.claim.kind = FN_CPU;
    r->op.u.claim.max = max;
    r->op.u.claim.slot = f.e.slot;
    r->op.u.claim.incarnation = atomic_load(&f.e.me->incarnation);
    r->op.u.claim.pid = f.e.pid;
}

/* A completion of claimed job j as succeeded with result n. */
static void fill_complete(rec *r, int tag, const job *j, int n)
{
    rec_init(r, SQ_COMPLETE, tag);
    job *c = &r->op.u.complete.j;
    *c = *j;
    c->args = json_incref(j->args);
    c->state = JOB_SUCCEEDED;
    c->result = json_integer(n);
    c->run_us = 10;
    c->cpu_us = 9;
}

static void copy_id(char dst[JOB_ID_LEN + 1], const char *id)
{
    ck_assert_int_eq(strlen(id), JOB_ID_LEN);
    memcpy(dst, id, JOB_ID_LEN + 1);
}

/* A GET or CANCEL of job id. */
static void rec_id(rec *r, sq_kind kind, int tag, const char *id)
{
    rec_init(r, kind, tag);
    copy_id(kind == SQ_GET ? r->op.u.get.id : r->op.u.cancel.id, id);
}

static void push(rec *r) { storeq_push(f.e.sq, &r->op); }

static void assert_ok(const rec *r)
{
    ck_assert_msg(r->op.rc == 0, "op %d: %s", r->tag, r->op.err);
    ck_assert_int_eq(r->done_calls, 1);
}

/* Reads job id straight from the store. */
static job store_job(const char *id, bool *found)
{
    store *st = efx_store(&f);
    job j;
    job_init(&j);
    ck_assert_int_eq(store_get(st, id, &j, found), 0);
    store_close(st);
    return j;
}

START_TEST(test_submission_and_claim_in_one_batch_come_back_claimed)
{
    rec s, c;
    fill_submit(&s, 1, "{\"n\": 5}");
    fill_claim(&c, 2, 4);
    push(&s);
    push(&c);
    ck_assert_int_eq(storeq_pending(f.e.sq), 2);
    efx_settle(&f);
    assert_ok(&s);
    assert_ok(&c);
    ck_assert(!s.op.u.submit.existing);
    ck_assert(s.op.u.submit.claimed);
    ck_assert_int_eq(s.op.u.submit.j.state, JOB_RUNNING);
    ck_assert_int_eq(c.op.u.claim.n, 1);
    ck_assert_int_eq(c.op.u.claim.fresh, 1);
    const job *cj = &c.op.u.claim.jobs[0];
    ck_assert_str_eq(cj->id, s.op.u.submit.j.id);
    ck_assert_int_eq(cj->state, JOB_RUNNING);
    ck_assert_int_eq(cj->owner_slot, 0);
    ck_assert_int_eq(cj->worker_pid, f.e.pid);
    ck_assert_int_eq(cj->attempts, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(cj->args, "n")), 5);
    sq_op_release(&s.op);
    sq_op_release(&c.op);
}
END_TEST

START_TEST(test_a_claim_in_a_later_batch_is_not_fresh)
{
    rec s, c;
    fill_submit(&s, 1, "{}");
    push(&s);
    efx_settle(&f);
    assert_ok(&s);
    ck_assert(!s.op.u.submit.claimed);
    ck_assert_int_eq(s.op.u.submit.j.state, JOB_QUEUED);
    ck_assert_int_eq(strlen(s.op.u.submit.j.id), JOB_ID_LEN);
    fill_claim(&c, 2, 4);
    push(&c);
    efx_settle(&f);
    assert_ok(&c);
    ck_assert_int_eq(c.op.u.claim.n, 1);
    ck_assert_int_eq(c.op.u.claim.fresh, 0);
    ck_assert_str_eq(c.op.u.claim.jobs[0].id, s.op.u.submit.j.id);
    /* Nothing is left: an empty claim. */
    rec c2;
    fill_claim(&c2, 3, 4);
    push(&c2);
    efx_settle(&f);
    assert_ok(&c2);
    ck_assert_int_eq(c2.op.u.claim.n, 0);
    sq_op_release(&s.op);
    sq_op_release(&c.op);
    sq_op_release(&c2.op);
}
END_TEST

START_TEST(test_idempotency_key_finds_the_existing_job)
{
    rec a, b, c;
    fill_submit(&a, 1, "{\"n\": 1}");
    snprintf(a.op.u.submit.j.idem_key, sizeof(a.op.u.submit.j.idem_key), "key-1");
    push(&a);
    efx_settle(&f);
    assert_ok(&a);
    fill_submit(&b, 2, "{\"n\": 1}");
    snprintf(b.op.u.submit.j.idem_key, sizeof(b.op.u.submit.j.idem_key), "key-1");
    fill_submit(&c, 3, "{\"n\": 2}"); /* the same key, another request */
    snprintf(c.op.u.submit.j.idem_key, sizeof(c.op.u.submit.j.idem_key), "key-1");
    push(&b);
    push(&c);
    efx_settle(&f);
    assert_ok(&b);
    assert_ok(&c);
    ck_assert(b.op.u.submit.existing);
    ck_assert(!b.op.u.submit.conflict);
    ck_assert_str_eq(b.op.u.submit.j.id, a.op.u.submit.j.id);
    ck_assert(c.op.u.submit.existing);
    ck_assert(c.op.u.submit.conflict);
    ck_assert(!c.op.u.submit.claimed);
    sq_op_release(&a.op);
    sq_op_release(&b.op);
    sq_op_release(&c.op);
}
END_TEST

/* Claims n queued-or-new jobs of ours: submits n and claims them in one batch. */
static void submit_and_claim(int n, rec *claim)
{
    rec *s = calloc((size_t)n, sizeof(rec));
    ck_assert_ptr_nonnull(s);
    for (int i = 0; i < n; i++) {
        fill_submit(&s[i], 100 + i, "{\"n\": 7}");
        push(&s[i]);
    }
    fill_claim(claim, 200, n);
    push(claim);
    efx_settle(&f);
    assert_ok(claim);
    ck_assert_int_eq(claim->op.u.claim.n, n);
    for (int i = 0; i < n; i++)
        sq_op_release(&s[i].op);
    free(s);
}

START_TEST(test_completions_are_applied_once)
{
    rec c;
    submit_and_claim(2, &c);
    rec k0, k1;
    fill_complete(&k0, 1, &c.op.u.claim.jobs[0], 13);
    fill_complete(&k1, 2, &c.op.u.claim.jobs[1], 14);
    push(&k0);
    push(&k1);
    efx_settle(&f);
    assert_ok(&k0);
    assert_ok(&k1);
    ck_assert(k0.op.u.complete.applied);
    ck_assert(k1.op.u.complete.applied);
    bool found;
    job j = store_job(c.op.u.claim.jobs[1].id, &found);
    ck_assert(found);
    ck_assert_int_eq(j.state, JOB_SUCCEEDED);
    ck_assert_int_eq(json_integer_value(j.result), 14);
    job_release(&j);
    /* Final already: a second completion changes nothing. */
    rec again;
    fill_complete(&again, 3, &c.op.u.claim.jobs[0], 99);
    push(&again);
    efx_settle(&f);
    assert_ok(&again);
    ck_assert(!again.op.u.complete.applied);
    j = store_job(c.op.u.claim.jobs[0].id, &found);
    ck_assert_int_eq(json_integer_value(j.result), 13);
    job_release(&j);
    sq_op_release(&c.op);
    sq_op_release(&k0.op);
    sq_op_release(&k1.op);
    sq_op_release(&again.op);
}
END_TEST

/* One batch answers its completions first (long-polls), then its
 * submissions, then its claims, each in push order; done() may free its op. */
START_TEST(test_done_order_in_one_batch)
{
    rec owned;
    submit_and_claim(2, &owned);
    norder = 0;
    rec *r[7];
    for (int i = 0; i < 7; i++) {
        r[i] = malloc(sizeof(rec));
        ck_assert_ptr_nonnull(r[i]);
    }
    fill_claim(r[0], 7, 8);
    fill_submit(r[1], 4, "{}");
    fill_complete(r[2], 1, &owned.op.u.claim.jobs[0], 1);
    fill_submit(r[3], 5, "{}");
    fill_complete(r[4], 2, &owned.op.u.claim.jobs[1], 2);
    fill_submit(r[5], 6, "{}");
    fill_complete(r[6], 3, &owned.op.u.claim.jobs[0], 3); /* a duplicate: not applied */
    for (int i = 0; i < 7; i++) {
        r[i]->op.done = rec_done_free;
        push(r[i]);
    }
    efx_settle(&f);
    ck_assert_int_eq(norder, 7);
    for (int i = 0; i < 7; i++)
        ck_assert_msg(order[i] == i + 1, "done() #%d ran for op %d, want %d", i, order[i], i + 1);
    /* They were one transaction: the claim saw all three submissions. */
    bool found;
    job j = store_job(owned.op.u.claim.jobs[0].id, &found);
    ck_assert_int_eq(json_integer_value(j.result), 1);
    job_release(&j);
    rec counts;
    rec_init(&counts, SQ_COUNTS, 8);
    push(&counts);
    efx_settle(&f);
    assert_ok(&counts);
    ck_assert_int_eq(counts.op.u.counts.queued, 0);
    ck_assert_int_eq(counts.op.u.counts.running, 3);
    sq_op_release(&owned.op);
}
END_TEST

/* While a batch is in its transaction, the next ones gather for the one after. */
START_TEST(test_ops_gather_while_a_batch_is_in_flight)
{
    efx_hold *h = efx_hold_store(&f); /* queues one job of its own */
    rec s0;
    fill_submit(&s0, 1, "{}");
    push(&s0);
    efx_turn(&f); /* the kick dispatches s0's batch: it waits behind the hold */
    rec s1, s2, c;
    fill_submit(&s1, 2, "{}");
    fill_submit(&s2, 3, "{}");
    fill_claim(&c, 4, 8);
    push(&s1);
    push(&s2);
    push(&c);
    efx_turn(&f); /* their kick finds a batch in flight */
    ck_assert_int_eq(s0.done_calls + s1.done_calls + c.done_calls, 0);
    efx_unhold(h);
    efx_settle(&f);
    assert_ok(&s0);
    assert_ok(&c);
    ck_assert(!s0.op.u.submit.claimed); /* its batch had no claim */
    ck_assert(s1.op.u.submit.claimed);
    ck_assert(s2.op.u.submit.claimed);
    ck_assert_int_eq(c.op.u.claim.n, 4); /* the hold's job, s0, s1, s2: FIFO */
    ck_assert_int_eq(c.op.u.claim.fresh, 2);
    ck_assert_str_eq(c.op.u.claim.jobs[1].id, s0.op.u.submit.j.id);
    ck_assert_str_eq(c.op.u.claim.jobs[3].id, s2.op.u.submit.j.id);
    rec *all[] = {&s0, &s1, &s2, &c};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        sq_op_release(&all[i]->op);
}
END_TEST

START_TEST(test_get_and_cancel)
{
    char id[JOB_ID_LEN + 1], missing[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", "{\"n\": 4}", 0, id);
    ck_assert_int_eq(job_new_id(missing), 0);
    rec g, gm, x, xm;
    rec_id(&g, SQ_GET, 1, id);
    rec_id(&gm, SQ_GET, 2, missing);
    push(&g);
    push(&gm);
    efx_settle(&f);
    assert_ok(&g);
    assert_ok(&gm);
    ck_assert(g.op.u.get.found);
    ck_assert_int_eq(g.op.u.get.j.state, JOB_QUEUED);
    ck_assert_int_eq(json_integer_value(json_object_get(g.op.u.get.j.args, "n")), 4);
    ck_assert(!gm.op.u.get.found);
    rec_id(&x, SQ_CANCEL, 3, id);
    rec_id(&xm, SQ_CANCEL, 4, missing);
    push(&x);
    push(&xm);
    efx_settle(&f);
    assert_ok(&x);
    assert_ok(&xm);
    ck_assert(x.op.u.cancel.found);
    ck_assert_int_eq(x.op.u.cancel.before, JOB_QUEUED);
    ck_assert_int_eq(x.op.u.cancel.j.state, JOB_CANCELLED);
    ck_assert(!xm.op.u.cancel.found);
    /* A running job: the cancel is requested, the job runs on. */
    rec c, xr;
    submit_and_claim(1, &c);
    rec_id(&xr, SQ_CANCEL, 5, c.op.u.claim.jobs[0].id);
    push(&xr);
    efx_settle(&f);
    assert_ok(&xr);
    ck_assert_int_eq(xr.op.u.cancel.before, JOB_RUNNING);
    ck_assert_int_eq(xr.op.u.cancel.j.state, JOB_RUNNING);
    ck_assert(xr.op.u.cancel.j.cancel_requested);
    rec *all[] = {&g, &gm, &x, &xm, &c, &xr};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        sq_op_release(&all[i]->op);
}
END_TEST

/* A page of the list, as ids (on the store thread). */
typedef struct page {
    char ids[8][JOB_ID_LEN + 1];
    int n;
} page;

static int take_row(const store_row *r, void *arg)
{
    page *p = arg;
    if (p->n == 8)
        return STORE_ROW_STOP;
    snprintf(p->ids[p->n++], JOB_ID_LEN + 1, "%s", r->j->id);
    return STORE_ROW_TAKE;
}

static void list(rec *r, page *p, int state, const char *fn, int limit)
{
    memset(p, 0, sizeof(*p));
    rec_init(r, SQ_LIST, 1);
    r->op.u.list.q.state = state;
    r->op.u.list.q.limit = limit;
    if (fn) {
        snprintf(r->op.u.list.fn, sizeof(r->op.u.list.fn), "%s", fn);
        r->op.u.list.q.fn = r->op.u.list.fn;
    }
    r->op.u.list.row = take_row;
    r->op.u.list.row_arg = p;
    push(r);
    efx_settle(&f);
    assert_ok(r);
    ck_assert_int_eq(r->op.u.list.n, p->n);
}

/* Reads as text beyond STOREQ_TEXT_READS wait and are answered in turn, in
 * push order, each with the job's args as stored. */
START_TEST(test_reads_as_text_wait_their_turn)
{
    char id[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", "{\"n\": 4}", 0, id);
    enum { N = STOREQ_TEXT_READS + 3 };
    rec g[N];
    norder = 0;
    for (int i = 0; i < N; i++) {
        rec_id(&g[i], SQ_GET, i + 1, id);
        g[i].op.u.get.as_text = true;
        push(&g[i]);
    }
    ck_assert_int_eq(storeq_pending(f.e.sq), N); /* the waiting ones count */
    efx_settle(&f);
    ck_assert_int_eq(norder, N);
    for (int i = 0; i < N; i++) {
        assert_ok(&g[i]);
        ck_assert_int_eq(order[i], i + 1);
        ck_assert(g[i].op.u.get.found);
        ck_assert_str_eq(g[i].op.u.get.text.view.args, "{\"n\":4}");
        sq_op_release(&g[i].op);
    }
    ck_assert_int_eq(storeq_pending(f.e.sq), 0);
}
END_TEST

START_TEST(test_list_pages_newest_first)
{
    char id[3][JOB_ID_LEN + 1];
    for (int i = 0; i < 3; i++)
        efx_queue_job(&f, "fib", NULL, 0, id[i]);
    rec x;
    rec_id(&x, SQ_CANCEL, 1, id[0]);
    push(&x);
    efx_settle(&f);
    assert_ok(&x);
    rec r;
    page p;
    list(&r, &p, -1, NULL, 2);
    ck_assert_int_eq(p.n, 2);
    ck_assert(r.op.u.list.more);
    ck_assert_str_eq(p.ids[0], id[2]);
    ck_assert_str_eq(p.ids[1], id[1]);
    list(&r, &p, -1, NULL, 10);
    ck_assert_int_eq(p.n, 3);
    ck_assert(!r.op.u.list.more);
    list(&r, &p, JOB_CANCELLED, NULL, 10);
    ck_assert_int_eq(p.n, 1);
    ck_assert_str_eq(p.ids[0], id[0]);
    list(&r, &p, -1, "fib", 10);
    ck_assert_int_eq(p.n, 3);
    list(&r, &p, -1, "sleep", 10);
    ck_assert_int_eq(p.n, 0);
    sq_op_release(&x.op);
}
END_TEST

START_TEST(test_counts_and_purge)
{
    char id[4][JOB_ID_LEN + 1];
    for (int i = 0; i < 4; i++)
        efx_queue_job(&f, "fib", NULL, 0, id[i]);
    rec x[2];
    for (int i = 0; i < 2; i++) {
        rec_id(&x[i], SQ_CANCEL, i, id[i]);
        push(&x[i]);
    }
    rec c;
    fill_claim(&c, 3, 1);
    push(&c); /* takes id[2], the oldest queued */
    efx_settle(&f);
    assert_ok(&c);
    ck_assert_str_eq(c.op.u.claim.jobs[0].id, id[2]);
    rec n;
    rec_init(&n, SQ_COUNTS, 4);
    push(&n);
    efx_settle(&f);
    assert_ok(&n);
    ck_assert_int_eq(n.op.u.counts.queued, 1);
    ck_assert_int_eq(n.op.u.counts.running, 1);
    /* A day's ttl keeps the jobs that ended just now. */
    rec p;
    rec_init(&p, SQ_PURGE, 5);
    p.op.u.purge.ttl_s = 86400;
    push(&p);
    efx_settle(&f);
    assert_ok(&p);
    ck_assert_int_eq(p.op.u.purge.n, 0);
    /* ttl 0: both final jobs go, queued and running ones stay; n counts them. */
    rec_init(&p, SQ_PURGE, 6);
    p.op.u.purge.ttl_s = 0;
    push(&p);
    efx_settle(&f);
    assert_ok(&p);
    ck_assert_int_eq(p.op.u.purge.n, 2);
    bool found;
    job j = store_job(id[0], &found);
    ck_assert(!found);
    j = store_job(id[3], &found);
    ck_assert(found);
    ck_assert_int_eq(j.state, JOB_QUEUED);
    job_release(&j);
    for (int i = 0; i < 2; i++)
        sq_op_release(&x[i].op);
    sq_op_release(&c.op);
}
END_TEST

START_TEST(test_reap_requeues_or_fails_a_dead_workers_jobs)
{
    char keep[JOB_ID_LEN + 1], lose[JOB_ID_LEN + 1];
    efx_queue_job(&f, "fib", NULL, 1, keep); /* one retry left */
    efx_queue_job(&f, "fib", NULL, 0, lose);
    rec c;
    fill_claim(&c, 1, 2);
    push(&c);
    efx_settle(&f);
    assert_ok(&c);
    ck_assert_int_eq(c.op.u.claim.n, 2);
    /* Another incarnation of the slot: none of its jobs. */
    rec r;
    rec_init(&r, SQ_REAP, 2);
    r.op.u.reap.slot = 0;
    r.op.u.reap.incarnation = 2;
    push(&r);
    efx_settle(&f);
    assert_ok(&r);
    ck_assert_int_eq(r.op.u.reap.n, 0);
    sq_op_release(&r.op);
    rec_init(&r, SQ_REAP, 3);
    r.op.u.reap.slot = 0;
    r.op.u.reap.incarnation = 1;
    push(&r);
    efx_settle(&f);
    assert_ok(&r);
    ck_assert_int_eq(r.op.u.reap.n, 1); /* the jobs made final */
    ck_assert_str_eq(r.op.u.reap.jobs[0].id, lose);
    ck_assert_int_eq(r.op.u.reap.jobs[0].state, JOB_FAILED);
    ck_assert_str_eq(r.op.u.reap.jobs[0].error_code, ERR_WORKER_LOST);
    bool found;
    job j = store_job(keep, &found);
    ck_assert_int_eq(j.state, JOB_QUEUED);
    job_release(&j);
    sq_op_release(&r.op);
    /* Start-up: every running job, whoever owns it. */
    sq_op_release(&c.op);
    fill_claim(&c, 4, 1);
    push(&c);
    efx_settle(&f);
    ck_assert_int_eq(c.op.u.claim.n, 1);
    rec_init(&r, SQ_REAP, 5);
    r.op.u.reap.slot = -1;
    push(&r);
    efx_settle(&f);
    assert_ok(&r);
    ck_assert_int_eq(r.op.u.reap.n, 1); /* keep: its retry is used up now */
    ck_assert_str_eq(r.op.u.reap.jobs[0].id, keep);
    sq_op_release(&r.op);
    sq_op_release(&c.op);
}
END_TEST

static bool queue_idle(void *arg) { return storeq_pending(arg) == 0; }

/* A store that cannot be opened: every op says so in rc and err. */
START_TEST(test_store_errors_in_rc_and_err)
{
    config bad = f.cfg;
    snprintf(bad.store.path, sizeof(bad.store.path), "%s/no-such-dir/jobs.db", f.dir);
    storeq *q = storeq_new(&bad, NULL, f.base, 1, f.e.done);
    ck_assert_ptr_nonnull(q);
    rec g, s, c;
    rec_init(&g, SQ_GET, 1);
    ck_assert_int_eq(job_new_id(g.op.u.get.id), 0);
    fill_submit(&s, 2, "{}");
    fill_claim(&c, 3, 4);
    storeq_push(q, &g.op);
    storeq_push(q, &s.op);
    storeq_push(q, &c.op);
    ck_assert_int_eq(storeq_pending(q), 3);
    efx_must(&f, queue_idle, q, "the ops on the broken store");
    rec *all[] = {&g, &s, &c};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(all[i]->done_calls, 1);
        ck_assert_int_eq(all[i]->op.rc, -1);
        ck_assert_msg(strstr(all[i]->op.err, "no-such-dir") != NULL, "op %d: err \"%s\"",
                      all[i]->tag, all[i]->op.err);
    }
    ck_assert(!g.op.u.get.found);
    ck_assert(!s.op.u.submit.claimed);
    ck_assert_int_eq(c.op.u.claim.n, 0);
    for (size_t i = 0; i < 3; i++)
        sq_op_release(&all[i]->op);
    storeq_free(q);
}
END_TEST

static Suite *storeq_suite(void)
{
    Suite *s = suite_create("storeq");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_submission_and_claim_in_one_batch_come_back_claimed);
    tcase_add_test(tc, test_a_claim_in_a_later_batch_is_not_fresh);
    tcase_add_test(tc, test_idempotency_key_finds_the_existing_job);
    tcase_add_test(tc, test_completions_are_applied_once);
    tcase_add_test(tc, test_done_order_in_one_batch);
    tcase_add_test(tc, test_ops_gather_while_a_batch_is_in_flight);
    tcase_add_test(tc, test_get_and_cancel);
    tcase_add_test(tc, test_reads_as_text_wait_their_turn);
    tcase_add_test(tc, test_list_pages_newest_first);
    tcase_add_test(tc, test_counts_and_purge);
    tcase_add_test(tc, test_reap_requeues_or_fails_a_dead_workers_jobs);
    tcase_add_test(tc, test_store_errors_in_rc_and_err);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(storeq_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
