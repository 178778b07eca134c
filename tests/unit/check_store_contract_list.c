/*
 * check_store_contract_list.c - the store contract (store.h), part 3, for
 * every backend built in: the job list, whole (store_list) and a page at a
 * time (store_list_page: filters, order, cursors, summaries and the stored
 * text of args and result, a row function that ends the page, one owner's
 * jobs). Part 1 is check_store_contract.c.
 */
#include "store_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_list)
{
    enum { N = 9 };
    job a[N], out[N + 5], c[1];
    int n = -1;
    bool found;
    /* a0..a8: fns alternate count/fib; a0 succeeded, a1 running, a2 cancelled. */
    for (int i = 0; i < N; i++)
        must_submit(&a[i], i % 2 ? "fib" : "count", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    ck_assert(complete_ok(&c[0], "0"));
    job_release(&c[0]);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    job_release(&c[0]);
    MUST(store_cancel(st, a[2].id, &out[0], &found, NULL));
    job_release(&out[0]);

    MUST(store_list(st, -1, NULL, N + 5, out, &n));
    ck_assert_int_eq(n, N);
    for (int i = 0; i < n; i++)
        ck_assert_str_eq(out[i].id, a[N - 1 - i].id); /* newest first */
    release_all(out, n);

    MUST(store_list(st, -1, NULL, 3, out, &n));
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(out[0].id, a[8].id);
    ck_assert_str_eq(out[2].id, a[6].id);
    release_all(out, n);

    MUST(store_list(st, JOB_QUEUED, NULL, N, out, &n));
    ck_assert_int_eq(n, N - 3);
    ck_assert_str_eq(out[0].id, a[8].id);
    ck_assert_str_eq(out[n - 1].id, a[3].id);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(out[i].state, JOB_QUEUED);
    release_all(out, n);

    MUST(store_list(st, JOB_RUNNING, NULL, N, out, &n));
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(out[0].id, a[1].id);
    release_all(out, n);

    MUST(store_list(st, JOB_SUCCEEDED, NULL, N, out, &n));
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(out[0].id, a[0].id);
    ck_assert_int_eq(json_integer_value(out[0].result), 0);
    release_all(out, n);

    MUST(store_list(st, JOB_CANCELLED, "count", N, out, &n));
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(out[0].id, a[2].id);
    release_all(out, n);

    MUST(store_list(st, JOB_CANCELLED, "fib", N, out, &n));
    ck_assert_int_eq(n, 0);
    MUST(store_list(st, JOB_FAILED, NULL, N, out, &n));
    ck_assert_int_eq(n, 0);

    MUST(store_list(st, -1, "fib", N, out, &n));
    ck_assert_int_eq(n, 4);
    for (int i = 0; i < n; i++)
        ck_assert_str_eq(out[i].fn, "fib");
    ck_assert_str_eq(out[0].id, a[7].id);
    release_all(out, n);

    MUST(store_list(st, JOB_QUEUED, "fib", 2, out, &n));
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(out[0].id, a[7].id);
    ck_assert_str_eq(out[1].id, a[5].id);
    release_all(out, n);

    MUST(store_list(st, -1, "nope", N, out, &n));
    ck_assert_int_eq(n, 0);
    MUST(store_list(st, -1, NULL, 0, out, &n));
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(store_list(st, 9, NULL, 1, out, &n), -1);
    release_all(a, N);
}
END_TEST

/* ---- store_list_page ---- */

/* What a page handed out: ids in order, and how a test's row function
 * answers (take up to take_max rows, then stop). */
typedef struct page {
    int calls;
    int take_max;
    int n;
    char ids[64][JOB_ID_LEN + 1];
    char owners[64][JOB_OWNER_MAX + 1];
    store_cursor last;
    char args[8][64]; /* text of the first rows, or "(null)" */
    char result[8][64];
    bool fields_null; /* every row had j->args and j->result NULL */
} page;

static int page_row_fn(const store_row *r, void *arg)
{
    page *p = arg;
    p->calls++;
    if (p->n >= p->take_max)
        return STORE_ROW_STOP;
    if (p->n < 8) {
        snprintf(p->args[p->n], sizeof(p->args[0]), "%.*s",
                 r->text.args ? (int)r->text.args_len : 6, r->text.args ? r->text.args : "(null)");
        snprintf(p->result[p->n], sizeof(p->result[0]), "%.*s",
                 r->text.result ? (int)r->text.result_len : 6,
                 r->text.result ? r->text.result : "(null)");
    }
    p->fields_null = p->fields_null && !r->j->args && !r->j->result;
    snprintf(p->ids[p->n % 64], sizeof(p->ids[0]), "%s", r->j->id);
    snprintf(p->owners[p->n % 64], sizeof(p->owners[0]), "%s", r->j->owner);
    p->last.created_at_us = r->j->created_at_us;
    snprintf(p->last.id, sizeof(p->last.id), "%s", r->j->id);
    p->n++;
    return STORE_ROW_TAKE;
}

/* One page into *p; returns *more. */
static bool must_page(const store_list_query *q, page *p, int take_max)
{
    int n = -1;
    bool more = false;
    memset(p, 0, sizeof(*p));
    p->take_max = take_max;
    p->fields_null = true;
    MUST(store_list_page(st, q, page_row_fn, p, &n, &more));
    ck_assert_int_eq(n, p->n);
    return more;
}

/* Summaries by default; args and result as the stored text when asked. */
START_TEST(test_list_page_fields)
{
    job a, b, c[1];
    page p;
    must_submit(&a, "count", FN_CPU, "{\"iterations\": 2, \"start\": 1}", 0);
    must_submit(&b, "fib", FN_CPU, NULL, 0);
    must_claim(FN_CPU, 0, 1, 1, c, 1);
    ck_assert(complete_ok(&c[0], "[1, \"two\"]"));
    job_release(&c[0]);
    store_list_query q = {.state = -1, .limit = 10};
    ck_assert(!must_page(&q, &p, 100));
    ck_assert_int_eq(p.n, 2);
    ck_assert_str_eq(p.ids[0], b.id);
    ck_assert_str_eq(p.ids[1], a.id);
    ck_assert_str_eq(p.args[1], "(null)");
    ck_assert_str_eq(p.result[1], "(null)");
    ck_assert(p.fields_null);
    q.with_args = true;
    must_page(&q, &p, 100);
    ck_assert_str_eq(p.args[0], "{}"); /* no args: {} */
    ck_assert_str_eq(p.args[1], "{\"iterations\":2,\"start\":1}");
    ck_assert_str_eq(p.result[1], "(null)");
    ck_assert(p.fields_null);
    q.with_args = false;
    q.with_result = true;
    must_page(&q, &p, 100);
    ck_assert_str_eq(p.args[1], "(null)");
    ck_assert_str_eq(p.result[1], "[1,\"two\"]");
    ck_assert_str_eq(p.result[0], "(null)"); /* none yet */
    release_all(&a, 1);
    release_all(&b, 1);
}
END_TEST

/* The expected order: created_at, then id, descending. */
static int cmp_newest(const void *x, const void *y)
{
    const job *a = x, *b = y;
    if (a->created_at_us != b->created_at_us)
        return a->created_at_us > b->created_at_us ? -1 : 1;
    return -strcmp(a->id, b->id);
}

/* Pages of every size through a filter (owner NULL: any) give every
 * matching job once, in order, with its owner; more is false exactly on the
 * last page. */
static void must_walk_owner(const job *all, int nall, int state, const char *fn,
                            const char *owner)
{
    job want[64];
    int nwant = 0;
    for (int i = 0; i < nall; i++)
        if ((state < 0 || (int)all[i].state == state) && (!fn || strcmp(all[i].fn, fn) == 0) &&
            (!owner || strcmp(all[i].owner, owner) == 0))
            want[nwant++] = all[i];
    qsort(want, (size_t)nwant, sizeof(job), cmp_newest);
    for (int limit = 1; limit <= nwant + 2; limit++) {
        store_cursor cur;
        store_list_query q = {.state = state, .fn = fn, .limit = limit, .owner = owner};
        int seen = 0;
        page p;
        for (;;) {
            bool more = must_page(&q, &p, 1000);
            ck_assert_int_le(p.n, limit);
            for (int i = 0; i < p.n; i++, seen++) {
                ck_assert_int_lt(seen, nwant);
                ck_assert_msg(strcmp(p.ids[i], want[seen].id) == 0,
                              "state %d fn %s owner %s limit %d: job %d is %s, want %s", state,
                              fn ? fn : "any", owner ? owner : "any", limit, seen, p.ids[i],
                              want[seen].id);
                ck_assert_str_eq(p.owners[i], want[seen].owner);
            }
            ck_assert_msg(more == (seen < nwant), "limit %d: more %d after %d of %d", limit, more,
                          seen, nwant);
            if (!more)
                break;
            cur = p.last;
            q.after = &cur;
        }
        ck_assert_int_eq(seen, nwant);
    }
}

static void must_walk(const job *all, int nall, int state, const char *fn)
{
    must_walk_owner(all, nall, state, fn, NULL);
}

START_TEST(test_list_page_cursor)
{
    enum { N = 20 };
    job all[N], c[4];
    bool found;
    /* Ten one by one, ten in one batch (one created_at: the id breaks ties). */
    for (int i = 0; i < 10; i++)
        must_submit(&all[i], i % 3 ? "fib" : "count", FN_CPU, NULL, 0);
    for (int i = 10; i < N; i++) {
        job_init(&all[i]);
        snprintf(all[i].fn, sizeof(all[i].fn), "%s", i % 3 ? "fib" : "count");
    }
    MUST(store_submit_many(st, &all[10], N - 10, NULL));
    ck_assert_int_eq(all[10].created_at_us, all[19].created_at_us);
    must_claim(FN_CPU, 0, 1, 4, c, 4); /* the four oldest run; two finish */
    ck_assert(complete_ok(&c[0], "1"));
    ck_assert(complete_ok(&c[1], "2"));
    release_all(c, 4);
    job tmp;
    MUST(store_cancel(st, all[12].id, &tmp, &found, NULL));
    job_release(&tmp);
    for (int i = 0; i < N; i++) {
        MUST(store_get(st, all[i].id, &tmp, &found));
        all[i].state = tmp.state;
        job_release(&tmp);
    }
    must_walk(all, N, -1, NULL);
    must_walk(all, N, -1, "fib");
    must_walk(all, N, JOB_QUEUED, NULL);
    must_walk(all, N, JOB_QUEUED, "count");
    must_walk(all, N, JOB_RUNNING, NULL);
    must_walk(all, N, JOB_SUCCEEDED, NULL);
    must_walk(all, N, JOB_CANCELLED, NULL);
    must_walk(all, N, JOB_FAILED, NULL);
    must_walk(all, N, -1, "nope");
    release_all(all, N);
}
END_TEST

/* One owner's jobs: every filter and page size gives that owner's jobs
 * only ("" too: the jobs without an owner), and NULL everyone's. */
START_TEST(test_list_page_owner)
{
    enum { N = 18 };
    static const char *const owners[] = {"", "ci", "ops"};
    job all[N], c[4], tmp;
    bool found;
    for (int i = 0; i < N; i++) {
        new_job(&all[i], i % 2 ? "fib" : "count", FN_CPU, NULL);
        snprintf(all[i].owner, sizeof(all[i].owner), "%s", owners[i % 3]);
    }
    MUST(store_submit_many(st, all, 6, NULL)); /* one created_at: ids break ties */
    for (int i = 6; i < N; i++)
        MUST(store_submit(st, &all[i], NULL));
    must_claim(FN_CPU, 0, 1, 4, c, 4);
    ck_assert(complete_ok(&c[0], "1"));
    ck_assert(complete_ok(&c[1], "2"));
    release_all(c, 4);
    MUST(store_cancel(st, all[13].id, &tmp, &found, NULL));
    job_release(&tmp);
    for (int i = 0; i < N; i++) {
        MUST(store_get(st, all[i].id, &tmp, &found));
        ck_assert_str_eq(tmp.owner, owners[i % 3]);
        all[i].state = tmp.state;
        job_release(&tmp);
    }
    for (size_t o = 0; o < NELEM(owners); o++) {
        const int states[] = {-1, JOB_QUEUED, JOB_RUNNING, JOB_SUCCEEDED, JOB_CANCELLED};
        for (size_t k = 0; k < NELEM(states); k++)
            must_walk_owner(all, N, states[k], NULL, owners[o]);
        must_walk_owner(all, N, -1, "fib", owners[o]);
    }
    must_walk_owner(all, N, -1, NULL, "nobody");
    must_walk(all, N, -1, NULL);
    release_all(all, N);
}
END_TEST

/* A row function that stops the page (a byte cap) stops the reading: the
 * row after it is never read, and the next page starts with the refused
 * one. */
START_TEST(test_list_page_stop)
{
    job a[6];
    page p, p2;
    for (int i = 0; i < 6; i++)
        must_submit(&a[i], "count", FN_CPU, NULL, 0);
    store_list_query q = {.state = -1, .limit = 6};
    ck_assert(must_page(&q, &p, 3));
    ck_assert_int_eq(p.n, 3);
    ck_assert_int_eq(p.calls, 4); /* three taken, one refused, none read after it */
    ck_assert_str_eq(p.ids[2], a[3].id);
    q.after = &p.last;
    ck_assert(!must_page(&q, &p2, 100));
    ck_assert_int_eq(p2.n, 3);
    ck_assert_str_eq(p2.ids[0], a[2].id);
    ck_assert_str_eq(p2.ids[2], a[0].id);
    /* A limit of exactly what is left: no more. */
    q.after = NULL;
    q.limit = 6;
    ck_assert(!must_page(&q, &p, 100));
    ck_assert_int_eq(p.calls, 6);
    /* Bad queries. */
    int n;
    bool more;
    q.limit = 0;
    ck_assert_int_eq(store_list_page(st, &q, page_row_fn, &p, &n, &more), -1);
    q.limit = 1;
    store_cursor bad = {0, "not-an-id"};
    q.after = &bad;
    ck_assert_int_eq(store_list_page(st, &q, page_row_fn, &p, &n, &more), -1);
    release_all(a, 6);
}
END_TEST

static Suite *contract_suite(const char *kind)
{
    static char name[64]; /* check keeps the pointer: valid while the suite runs */
    snprintf(name, sizeof(name), "store contract: list (%s)", kind);
    Suite *s = suite_create(name);
    TCase *ts = tcase_create("list");
    tcase_add_checked_fixture(ts, store_test_setup, store_test_teardown);
    tcase_set_timeout(ts, 60);
    tcase_add_test(ts, test_list);
    tcase_add_test(ts, test_list_page_fields);
    tcase_add_test(ts, test_list_page_cursor);
    tcase_add_test(ts, test_list_page_stop);
    tcase_add_test(ts, test_list_page_owner);
    suite_add_tcase(s, ts);
    return s;
}

int main(void)
{
    return store_test_run_each(contract_suite) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
