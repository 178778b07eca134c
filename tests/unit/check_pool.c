/* Unit tests for worker/pool.c: run() on a pool thread, done() on the loop. */
#include <check.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>

#include "pool.h"

typedef struct item {
    pool_task task;
    int value;
    int result;
    pthread_t ran_on;
    int *done_order;
    int *done_count;
    struct event_base *base;
    int expect;
} item;

static void item_run(pool_task *t)
{
    item *it = (item *)t;
    it->result = it->value * 2;
    it->ran_on = pthread_self();
}

static void item_done(pool_task *t)
{
    item *it = (item *)t;
    it->done_order[(*it->done_count)++] = it->value;
    if (*it->done_count == it->expect)
        event_base_loopbreak(it->base);
}

static struct event_base *new_base(void)
{
    struct event_base *base = event_base_new();
    ck_assert_ptr_nonnull(base);
    return base;
}

START_TEST(test_run_then_done_on_loop)
{
    enum { N = 200 };
    struct event_base *base = new_base();
    pool_done *d = pool_done_new(base);
    ck_assert_ptr_nonnull(d);
    pool *p = pool_new("t", 3, d);
    ck_assert_ptr_nonnull(p);
    item *items = calloc(N, sizeof(item));
    int order[N], count = 0;
    for (int i = 0; i < N; i++) {
        items[i] = (item){.task = {item_run, item_done, NULL}, .value = i, .done_order = order,
                          .done_count = &count, .base = base, .expect = N};
        pool_submit(p, &items[i].task);
    }
    event_base_dispatch(base);
    ck_assert_int_eq(count, N);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(items[i].result, 2 * i);
        ck_assert(!pthread_equal(items[i].ran_on, pthread_self()));
    }
    ck_assert_int_eq(pool_load(p), 0);
    pool_free(p);
    pool_done_free(d);
    event_base_free(base);
    free(items);
}
END_TEST

START_TEST(test_single_thread_keeps_fifo_order)
{
    enum { N = 50 };
    struct event_base *base = new_base();
    pool_done *d = pool_done_new(base);
    pool *p = pool_new("fifo", 1, d);
    item items[N];
    int order[N], count = 0;
    for (int i = 0; i < N; i++) {
        items[i] = (item){.task = {item_run, item_done, NULL}, .value = i, .done_order = order,
                          .done_count = &count, .base = base, .expect = N};
        pool_submit(p, &items[i].task);
    }
    event_base_dispatch(base);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(order[i], i);
    pool_free(p);
    pool_done_free(d);
    event_base_free(base);
}
END_TEST

START_TEST(test_free_runs_queued_tasks)
{
    struct event_base *base = new_base();
    pool_done *d = pool_done_new(base);
    pool *p = pool_new("drain", 2, d);
    item items[10];
    int order[10], count = 0;
    for (int i = 0; i < 10; i++) {
        items[i] = (item){.task = {item_run, item_done, NULL}, .value = i, .done_order = order,
                          .done_count = &count, .base = base, .expect = 10};
        pool_submit(p, &items[i].task);
    }
    pool_free(p); /* joins after the queue is empty */
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(items[i].result, 2 * i);
    event_base_dispatch(base); /* done() still comes home on the loop */
    ck_assert_int_eq(count, 10);
    pool_done_free(d);
    event_base_free(base);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_run_then_done_on_loop);
    tcase_add_test(tc, test_single_thread_keeps_fifo_order);
    tcase_add_test(tc, test_free_runs_queued_tasks);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
