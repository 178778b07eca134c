/*
 * store_bench.c - cost of the job store's operations (SQLite backend).
 *
 *   store_bench [-d DIR] [-n JOBS] [-b BATCH] [-p PROCS] [-F]
 *
 * Not built by meson. From the source root:
 *   gcc -std=gnu11 -D_GNU_SOURCE -O2 -pthread -Icommon -Icommon/store common/job.c \
 *       common/utf8.c common/store/[a-z]*.c tests/bench/store_bench.c \
 *       $(pkg-config --cflags --libs jansson sqlite3) -o /tmp/store_bench
 *
 * DIR (default /var/tmp) must be on the disk the server will use: /tmp on a
 * tmpfs makes fsync free and the numbers meaningless. -F uses
 * synchronous=FULL instead of NORMAL.
 *
 * Phases, each on a fresh file:
 *   submit     one transaction per job (as POST /v1/jobs does)
 *   single     claim 1 + complete 1: two transactions per job
 *   get        store_get by id in a table of JOBS final jobs
 *   batched    submit_many, then claim + complete_many, BATCH per transaction
 *   mixed      PROCS processes, each: submit BATCH jobs one by one, claim up
 *              to BATCH, complete them in one transaction (the whole life of
 *              a job, as the server runs it); jobs/s over all processes
 *   mixed, group   the same with the BATCH submits in one transaction
 */
#include "sqlite.h"
#include "store.h"

#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[512] = "/var/tmp";
static int njobs = 20000, batch = 16, procs = 2;
static store_sqlite_opts opts;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(store *st, const char *what)
{
    fprintf(stderr, "%s failed: %s\n", what, st ? store_errmsg(st) : "");
    exit(1);
}

/* A fresh file for a phase. */
static store *fresh(const char *name, char *path, size_t len)
{
    char err[512];
    snprintf(path, len, "%s/store_bench.%d.%s.db", dir, (int)getpid(), name);
    for (const char *sfx = ""; sfx; sfx = strcmp(sfx, "") == 0       ? "-wal"
                                          : strcmp(sfx, "-wal") == 0 ? "-shm"
                                                                     : NULL) {
        char p[600];
        snprintf(p, sizeof(p), "%s%s", path, sfx);
        unlink(p);
    }
    store *st = store_sqlite_open(path, &opts, err, sizeof(err));
    if (!st) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return st;
}

static void cleanup(store *st, const char *path)
{
    store_close(st);
    for (const char *sfx = ""; sfx; sfx = strcmp(sfx, "") == 0       ? "-wal"
                                          : strcmp(sfx, "-wal") == 0 ? "-shm"
                                                                     : NULL) {
        char p[600];
        snprintf(p, sizeof(p), "%s%s", path, sfx);
        unlink(p);
    }
}

static void submit_one(store *st, char *id_out)
{
    job j;
    job_init(&j);
    snprintf(j.fn, sizeof(j.fn), "count");
    j.args = json_pack("{s:i, s:i}", "start", 0, "iterations", 1000);
    j.timeout_ms = 300000;
    if (store_submit(st, &j, NULL) < 0)
        die(st, "store_submit");
    if (id_out)
        memcpy(id_out, j.id, sizeof(j.id));
    job_release(&j);
}

/* Submits n jobs in one transaction. */
static void submit_group(store *st, int n)
{
    job *jobs = calloc((size_t)n, sizeof(*jobs));
    for (int i = 0; i < n; i++) {
        job_init(&jobs[i]);
        snprintf(jobs[i].fn, sizeof(jobs[i].fn), "count");
        jobs[i].args = json_pack("{s:i, s:i}", "start", 0, "iterations", 1000);
        jobs[i].timeout_ms = 300000;
    }
    if (store_submit_many(st, jobs, n, NULL) < 0)
        die(st, "store_submit_many");
    for (int i = 0; i < n; i++)
        job_release(&jobs[i]);
    free(jobs);
}

static void finish_jobs(job *c, int n)
{
    for (int i = 0; i < n; i++) {
        c[i].state = JOB_SUCCEEDED;
        c[i].result = json_integer(1000);
        c[i].run_us = 12;
        c[i].cpu_us = 11;
    }
}

static void report(const char *phase, int n, double secs)
{
    printf("  %-26s %8d jobs %8.3f s %9.1f us/job %9.0f jobs/s\n", phase, n, secs, secs * 1e6 / n,
           n / secs);
}

static void phase_submit_single(void)
{
    char path[600];
    store *st = fresh("single", path, sizeof(path));
    job c[1];
    int n;
    double t0 = now_s();
    for (int i = 0; i < njobs; i++)
        submit_one(st, NULL);
    double t1 = now_s();
    report("submit (1 per tx)", njobs, t1 - t0);
    double claim_s = 0, complete_s = 0;
    for (int i = 0; i < njobs; i++) {
        double a = now_s();
        if (store_claim(st, FN_CPU, 0, 1, 1, 1, c, &n) < 0 || n != 1)
            die(st, "store_claim");
        double b = now_s();
        finish_jobs(c, 1);
        if (store_complete(st, &c[0], NULL) < 0)
            die(st, "store_complete");
        complete_s += now_s() - b;
        claim_s += b - a;
        job_release(&c[0]);
    }
    double t2 = now_s();
    report("claim (1 per tx)", njobs, claim_s);
    report("complete (1 per tx)", njobs, complete_s);
    report("claim 1 + complete 1", njobs, t2 - t1);
    report("=> submit+claim+complete", njobs, t2 - t0);

    /* Reads on a table of njobs final jobs. */
    char id[JOB_ID_LEN + 1];
    submit_one(st, id);
    int64_t q, r;
    double t3 = now_s();
    for (int i = 0; i < njobs; i++) {
        job j;
        bool found;
        if (store_get(st, id, &j, &found) < 0 || !found)
            die(st, "store_get");
        job_release(&j);
    }
    double t4 = now_s();
    report("get", njobs, t4 - t3);
    for (int i = 0; i < 1000; i++) {
        if (store_counts(st, &q, &r) < 0)
            die(st, "store_counts");
    }
    report("counts (1 queued)", 1000, now_s() - t4);
    cleanup(st, path);
}

static void phase_batched(void)
{
    char path[600];
    store *st = fresh("batched", path, sizeof(path));
    job *c = calloc((size_t)batch, sizeof(*c));
    int n, done = 0;
    double t0 = now_s();
    for (int i = 0; i < njobs; i += batch)
        submit_group(st, njobs - i < batch ? njobs - i : batch);
    double t1 = now_s();
    char label[64];
    snprintf(label, sizeof(label), "submit %d per tx", batch);
    report(label, njobs, t1 - t0);
    int64_t q, r;
    double tc = now_s();
    for (int i = 0; i < 100; i++) {
        if (store_counts(st, &q, &r) < 0)
            die(st, "store_counts");
    }
    double tc1 = now_s();
    printf("  %-26s %8.1f us/call with %lld queued\n", "counts", (tc1 - tc) * 1e6 / 100,
           (long long)q);
    while (done < njobs) {
        if (store_claim(st, FN_CPU, 0, 1, 1, batch, c, &n) < 0 || n == 0)
            die(st, "store_claim");
        finish_jobs(c, n);
        if (store_complete_many(st, c, n, NULL) < 0)
            die(st, "store_complete_many");
        for (int i = 0; i < n; i++)
            job_release(&c[i]);
        done += n;
    }
    double t2 = now_s();
    snprintf(label, sizeof(label), "claim+complete %d per tx", batch);
    report(label, njobs, t2 - tc1);
    report("=> submit+claim+complete", njobs, (t1 - t0) + (t2 - tc1)); /* without counts */

    int purged = 0;
    double t3 = now_s();
    if (store_purge(st, job_now_us() + 1000000, 0, &purged) < 0)
        die(st, "store_purge");
    report("purge", purged, now_s() - t3);
    free(c);
    cleanup(st, path);
}

/* One process of the mixed phase: per round, submit batch jobs, claim up to
 * batch, complete them. Stops after share jobs completed. */
static void mixed_child(const char *path, int slot, int share, bool group)
{
    char err[512];
    store *st = store_sqlite_open(path, &opts, err, sizeof(err));
    job *c = calloc((size_t)batch, sizeof(*c));
    int n, done = 0, submitted = 0;
    if (!st) {
        fprintf(stderr, "%s\n", err);
        _exit(1);
    }
    while (done < share) {
        if (group) {
            int k = share - submitted < batch ? share - submitted : batch;
            if (k > 0)
                submit_group(st, k);
            submitted += k;
        } else {
            for (int i = 0; i < batch && submitted < share; i++, submitted++)
                submit_one(st, NULL);
        }
        if (store_claim(st, FN_CPU, slot, 1, getpid(), batch, c, &n) < 0)
            die(st, "store_claim");
        finish_jobs(c, n);
        if (store_complete_many(st, c, n, NULL) < 0)
            die(st, "store_complete_many");
        for (int i = 0; i < n; i++)
            job_release(&c[i]);
        done += n;
        if (n == 0 && submitted >= share)
            break; /* the others took the rest */
    }
    store_close(st);
    free(c);
    _exit(0);
}

static void phase_mixed(bool group)
{
    char path[600];
    store *st = fresh("mixed", path, sizeof(path));
    pid_t pids[64];
    int share = njobs / procs;
    double t0 = now_s();
    for (int p = 0; p < procs; p++) {
        pids[p] = fork();
        if (pids[p] == 0)
            mixed_child(path, p, share, group);
    }
    for (int p = 0; p < procs; p++) {
        int status;
        waitpid(pids[p], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "mixed child %d failed\n", p);
            exit(1);
        }
    }
    double t1 = now_s();
    int64_t q = -1, r = -1;
    store_counts(st, &q, &r);
    char label[64];
    snprintf(label, sizeof(label), "mixed, %d procs%s", procs, group ? ", group" : "");
    report(label, share * procs, t1 - t0);
    if (q != 0 || r != 0)
        printf("  (left over: %lld queued, %lld running)\n", (long long)q, (long long)r);
    cleanup(st, path);
}

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "d:n:b:p:F")) != -1) {
        switch (c) {
        case 'd': snprintf(dir, sizeof(dir), "%s", optarg); break;
        case 'n': njobs = atoi(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 'p': procs = atoi(optarg); break;
        case 'F': opts.sync_full = true; break;
        default:
            fprintf(stderr, "usage: %s [-d DIR] [-n JOBS] [-b BATCH] [-p PROCS] [-F]\n", argv[0]);
            return 2;
        }
    }
    if (njobs < 1 || batch < 1 || procs < 1 || procs > 64) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    printf("store_bench: %d jobs, batch %d, %d procs, synchronous=%s, dir %s, SQLite %s\n", njobs,
           batch, procs, opts.sync_full ? "FULL" : "NORMAL", dir, sqlite3_libversion());
    phase_submit_single();
    phase_batched();
    phase_mixed(false);
    phase_mixed(true);
    return 0;
}
