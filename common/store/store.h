/*
 * store.h - the job store of asynchronous jobs (DESIGN.md section 4).
 *
 * Every asynchronous job lives in the store from the moment it is accepted
 * (store_submit() commits before it returns, so a 202 may be sent after it)
 * until it is purged result_ttl_s after it became final. Any worker may claim
 * a queued job and any worker may read any job: the store, not a process, is
 * where a job lives.
 *
 * Backends: this header is the contract every backend keeps; config
 * store.kind picks one from the registry in store.c (store_int.h holds the
 * ops table a backend fills in, README "How to extend: a store backend").
 * Built in: "sqlite", one SQLite file in WAL mode (sqlite.c). The contract
 * suite (tests/unit/check_store_contract*.c) runs against each of them.
 *
 * State machine (job.h):   submit -> queued --claim--> running --complete--> final
 *                          queued --cancel--> cancelled
 *                          running --reap, retries left--> queued
 *                          running --reap, none left / abort--> failed | cancelled
 * Final states never change. Only the owner of a running job, named by its
 * worker slot and that slot's incarnation, completes it; a completion that
 * arrives after the job was reaped or aborted changes nothing.
 *
 * Durability (SQLite): journal_mode=WAL, synchronous=NORMAL. A committed job
 * survives the crash of any crunchd process (and of all of them); a power loss
 * or kernel crash may lose the last transactions committed before it, as with
 * any WAL/NORMAL database. The file must be on a local filesystem (WAL needs
 * shared memory), and only one crunchd may use a file: store_reap_all() at
 * start-up takes over every running job.
 *
 * Errors: every function returns 0 on success and -1 on failure, with a
 * one-line reason for store_errmsg(). Nothing here logs; the caller logs it
 * once ("store_claim failed: %s"). A failed call changes nothing: writes are
 * transactions.
 *
 * Jobs handed out (out, out[i]) are filled from scratch: their previous
 * contents are overwritten, not released, so pass jobs that hold no
 * references (fresh or after job_release()). The caller owns what it gets and
 * calls job_release() on every job filled (claim and list: out[0..*n-1]);
 * after an error they are empty and releasing them is harmless. A job
 * handed out with its args parsed has args_cost set: json_cost() of the
 * text they were parsed from (json_cost.h; for args shared with a
 * submission, the text stored for them).
 *
 * Processes and threads: a store is one database connection. Open it in the
 * process that uses it, after fork(): a child must neither use nor close a
 * store its parent opened (the master may keep one for reaping; its children
 * just ignore the pointer). One thread at a time may use a store (asserted);
 * give each io-pool thread its own store rather than sharing one, so reads
 * proceed while another connection writes. What processes share is set up
 * by the master before fork(): the backend's shared area (store_shared_init).
 * SQLite writers serialize on the database lock, in turn through the write
 * gate of the shared area when they were opened with it, and wait for it up
 * to 5 s before failing ("database is locked", "write gate: timed out").
 *
 * Cost (SQLite 3.40 on ext4, the 2-core VM): a write transaction costs
 * 35-50 us in one process whatever it holds (file locks, WAL writes), a
 * store_get 5 us (tests/bench/store_bench.c). With two processes writing
 * in turn it is 100-140 us, because SQLite drops a connection's page cache
 * whenever another connection wrote, and every page touched is read again.
 * So batch wherever work is waiting: store_write() takes a worker's
 * completions, submissions and claims together (worker/storeq.c).
 */
#ifndef CRUNCHD_STORE_H
#define CRUNCHD_STORE_H

#include "config.h"
#include "job.h"
#include "store_shared.h"
#include "store_types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The process-shared area of the backend of cfg->kind (store_shared.h):
 * store_shared_size() bytes, at most STORE_SHARED_MAX, aligned to
 * STORE_SHARED_ALIGN, in memory every process that opens the store maps at
 * the same place (MAP_SHARED, made before fork()). The master sets it up
 * once, before it forks workers and before any store_open() uses it:
 * store_shared_init() zeroes the area and lets the backend initialise it
 * (SQLite: its write gate, a robust process-shared mutex). Never again while
 * a process may use it. 0, or -1 with the reason in err (an unknown kind,
 * or the backend's failure).
 */
size_t store_shared_size(void);
int store_shared_init(const config_store *cfg, void *area, char *err, size_t errlen);

/*
 * Opens the store cfg names, with the backend its kind picks ("" means the
 * default, "sqlite": the file cfg->path, created with its schema if
 * missing; its directory must exist). shared is the area store_shared_init()
 * set up for the same kind, or NULL (tests, the master, tools): the SQLite
 * backend then writes without the gate and waits for the database lock by
 * polling it (50 us doubling to 2 ms). Returns NULL with a message in err
 * (may be NULL): for a kind that is not built in, "store.kind \"redis\":
 * not available in this build (built: sqlite)"; for SQLite, naming the path,
 * when the directory is missing, the file is not a crunchd store, or its
 * schema version is newer than this build understands.
 */
store *store_open(const config_store *cfg, void *shared, char *err, size_t errlen);

/* Closes the connection and frees st. NULL is a no-op. */
void store_close(store *st);

/* The reason of the last failure on st ("" if none). Valid until the next
 * call on st. */
const char *store_errmsg(const store *st);

/*
 * Queues a new job. The caller fills j->fn, kind, args (owned by j; NULL means
 * {}), timeout_ms, retries, callback, idem_key and owner (a token name, ""
 * for none); the store assigns id, created_at, state queued, attempts 0 and
 * clears everything else. Committed when it returns 0.
 *
 * If j->idem_key is set and a job of the same owner with that key is still
 * in the store (any state; a purged job frees its key), *j is replaced by
 * that job and *existing is set, and nothing is queued. Keys are per owner:
 * the same key from two owners makes two jobs. The stored job is returned
 * as it is, even if fn or args differ from the request; compare them if that
 * matters. existing may be NULL.
 */
int store_submit(store *st, job *j, bool *existing);

/*
 * The same for jobs[0..n-1] in one transaction: group commit, for an io
 * thread that has several submissions waiting (a one-job transaction costs
 * ~45 us, a 16-job one ~16 us per job). existing (may be NULL) has n entries. A key that
 * appears twice in the batch yields one job: the second entry comes back as
 * the first with existing set. On failure nothing is queued.
 */
int store_submit_many(store *st, job *jobs, int n, bool *existing);

/*
 * Moves up to max of the oldest queued jobs of this kind to running, owned by
 * (slot, incarnation) and showing worker pid: attempts + 1, started_at now,
 * deadline_us = started_at + timeout_ms. One transaction: two processes never
 * claim the same job. Fills out[0..*n-1] (out holds max jobs) in FIFO order;
 * *n is 0 when the queue is empty. max must be >= 1.
 */
int store_claim(store *st, fn_kind kind, int slot, unsigned incarnation, int pid, int max, job *out,
                int *n);

/*
 * Records the end of a running job. Reads from j: id, owner_slot and
 * owner_incarnation (as returned by the claim), state (final, or queued: see
 * below), result (succeeded), error_code/message (failed, cancelled), run_us,
 * cpu_us (-1 = unknown) and finished_at_us (0 = now).
 *
 * State queued gives the job back to the queue, as store_reap() does for a
 * dead worker's job with retries left (the caller decided that it has:
 * attempts <= retries): running -> queued, owner, pid and started_at
 * cleared, attempts kept. For an attempt whose process died under it (a
 * language runtime's, fn.h FN_LOST) while its worker lives on. A cancel
 * requested meanwhile ends the job cancelled instead.
 *
 * It applies only while the job is still running and owned by that slot and
 * incarnation. Otherwise (the job was reaped or aborted meanwhile, and maybe
 * claimed again by another worker) the job stays as it is, the call still
 * returns 0, and *applied is false: do not fire its callback or report it.
 * applied may be NULL.
 */
int store_complete(store *st, const job *j, bool *applied);

/* The same for jobs[0..n-1] in one transaction (batching for throughput);
 * applied (may be NULL) has n entries. n may be 0. */
int store_complete_many(store *st, const job *jobs, int n, bool *applied);

/*
 * Several writes of one worker in one transaction (group commit): first the
 * completions, then the submissions, then a claim per kind. Each part
 * behaves as its own call (store_complete_many, store_submit_many,
 * store_claim), and a claim sees the jobs submitted just before it in the
 * same batch: a worker with free lanes that submits into an empty queue gets
 * its own jobs back, FIFO still holding, without a second transaction. All
 * or nothing: on failure no part is applied, existing and applied are all
 * false and nclaimed is 0. A submitted job (new, or found by its
 * idempotency key) that the batch's claim took comes back running, as
 * committed. A claimed job that the same batch submitted shares the
 * submission's args (a new reference to that value, not a second copy
 * read back from the store: a job with 25 MB of parsed args is not held
 * twice); neither may be modified. The store_*_many calls and store_claim
 * are this call with one part.
 *
 * With a budget (b->budget, store_types.h) the claims are bounded by what
 * their jobs' args cost parsed (json_cost(), as job.args_cost). A claim
 * looks at what the budget holds when it runs, counting the submit_held
 * bytes of this batch's submissions as free (a claim may take those very
 * jobs), and takes the oldest jobs while their summed cost fits in the
 * rest -- the oldest one whatever its cost when nothing else is held, none
 * when nothing is free. FIFO holds: a job that does not fit ends the claim.
 * On return the budget holds the claimed jobs' cost and no longer the
 * submissions' bytes, whatever the outcome (after a failure nothing is
 * claimed and the submissions' bytes are given back all the same). The
 * caller gives each claimed job's args_cost back when done with it. The
 * claim does not hold the budget while it runs, so what other threads take
 * meanwhile can pass the limit by that much.
 */

int store_write(store *st, store_batch *b);

/*
 * A limit per owner (store_batch.max_queued, a token's max_queued): a
 * submission with max_queued[i] > 0 that would queue a new job while its
 * owner already has max_queued[i] jobs queued -- counted inside the
 * transaction, the batch's own earlier submissions included, so it holds
 * across every worker -- is refused: nothing is queued for it,
 * refused[i] is set, and submit[i] comes back as it was sent. A key the
 * owner already used is not refused (it queues nothing). The other parts
 * of the batch go on. Counting costs a walk over up to max_queued[i] index
 * entries of that owner (SQLite: jobs_owner_queued).
 */

/*
 * Ends a running job from outside its worker: running -> state (JOB_FAILED or
 * JOB_CANCELLED) with the given error, run_ms/cpu_ms null, provided it is
 * still owned by (slot, incarnation). For the escalation after a timeout or a
 * cancel: call it BEFORE killing the worker, so that the store_reap() that
 * follows the kill does not re-queue it. *applied (may be NULL) as for
 * store_complete().
 */
int store_abort(store *st, const char *id, int slot, unsigned incarnation, job_state state,
                const char *code, const char *message, bool *applied);

/* Looks a job up by id. *found is false (and out empty) if there is none. */
int store_get(store *st, const char *id, job *out, bool *found);

/*
 * store_get() without a parse: out gets every field but args and result
 * (left NULL, args_cost 0), which come as JSON text, as stored, in *text:
 * copied, owned by the caller, freed with store_text_release() (also after
 * a failure or a job not found: it is empty then). For answering with the
 * job as it is (job_dumps_view): 1 MB of args costs a copy, not a parse
 * into ~25 MB of values.
 */
int store_get_text(store *st, const char *id, job *out, store_text *text, bool *found);

/* Frees what text holds and leaves it empty. */
void store_text_release(store_text *text);

/*
 * cancel() of a job, by id:
 *   queued   -> cancelled at once (error "cancelled", finished_at now);
 *   running  -> cancel_requested is set and the job stays running: the caller
 *               asks its worker (out->owner_slot, out->worker_pid) to stop;
 *               the worker then completes it as cancelled, or the caller
 *               escalates with store_abort() after cancel_grace_ms;
 *   final    -> nothing changes (the HTTP answer is 409 already_final).
 * *out is the job after the call, *before (may be NULL) its state before it.
 * A running job whose worker finishes before it sees the request ends as it
 * ended (succeeded or failed), as with Future.cancel() on a running future.
 * *found is false if there is no such job.
 */
int store_cancel(store *st, const char *id, job *out, bool *found, job_state *before);

/* store_cancel() of a job of owner only (NULL: any owner, as store_cancel):
 * another owner's job is *found false and stays as it is, in the same
 * transaction that would have cancelled it. */
int store_cancel_for(store *st, const char *id, const char *owner, job *out, bool *found,
                     job_state *before);

/*
 * The job list, one page at a time (GET /v1/jobs).
 *
 * Jobs come newest first: by (created_at, id) descending, a total order, so
 * the key of the last job of a page (a cursor) resumes exactly after it.
 * Later pages do not show jobs submitted since the first (they are newer
 * than the cursor); jobs purged meanwhile just do not come. A summary page
 * does not read args and result at all; a page stops at its count and at
 * its caller's byte cap, without reading the rows after that. With
 * q->owner, only that owner's jobs match (SQLite: through jobs_owner, so an
 * owner's page costs what its own jobs do, not everyone's).
 */

/*
 * Hands the jobs that match q to fn, newest first, one row read at a time:
 * a row after a STORE_ROW_STOP, or past q->limit, is not read. *n counts the
 * jobs taken; *more is true when a matching job older than the last one
 * taken exists (fn stopped, or the limit was reached with more to come), so
 * a next page is worth asking for. One read transaction: a page is one
 * snapshot, and writers are not held up. On failure *n jobs may have been
 * handed out already; discard the page.
 */
int store_list_page(store *st, const store_list_query *q, store_row_fn *fn, void *arg, int *n,
                    bool *more);

/*
 * The first page as whole jobs (args and result parsed): up to limit jobs,
 * newest first, in out[0..*n-1] (out holds limit jobs). state: a job_state,
 * or -1 for any; fn: a function name, or NULL for any. Costs what the jobs
 * hold: for tests and tools, not for serving a list.
 */
int store_list(store *st, int state, const char *fn, int limit, job *out, int *n);

/*
 * A worker died: every job running and owned by (slot, incarnation) -- that
 * process exactly: during a reload an older process of the same slot may
 * still be draining its own jobs -- goes back to queued (owner, worker, started_at cleared,
 * attempts kept) if attempts <= retries, else becomes failed with
 * worker_lost; a job with a pending cancel becomes cancelled instead.
 * on_final (may be NULL) sees each job made final. *requeued and *failed (may
 * be NULL) count them (cancelled ones count as failed).
 */
int store_reap(store *st, int slot, unsigned incarnation, store_final_fn *on_final, void *arg,
               int *requeued, int *failed);

/* The same for every running job, whoever owns it: at start-up, before any
 * worker claims, for jobs left running by the previous run. */
int store_reap_all(store *st, store_final_fn *on_final, void *arg, int *requeued, int *failed);

/*
 * Deletes final jobs that finished more than ttl_s seconds before now_us
 * (job_now_us() in production); queued and running jobs are never purged.
 * Deletes 2000 rows per transaction so that it never holds the write lock
 * long (~3 us per row). *purged (may be NULL) counts them.
 */
int store_purge(store *st, int64_t now_us, int64_t ttl_s, int *purged);

/* Jobs queued and running now (backpressure, /metrics). Counts index entries:
 * ~0.2 ms with 20000 queued; call it from a timer, not per request. */
int store_counts(store *st, int64_t *queued, int64_t *running);

/*
 * What store_prepare() would refuse, found without creating or changing
 * anything (crunchd -t runs it, and the master before it binds): a kind that
 * is not built in (as store_open()), and what the backend finds. SQLite: a
 * directory store_prepare() cannot create or write in, a file it cannot
 * read and write, or one that is not a crunchd store of a version this
 * build understands. Returns 0, or -1 with the reason in err.
 */
int store_check(const config_store *cfg, char *err, size_t errlen);

/*
 * For the master, before it forks workers: creates what the backend needs
 * (SQLite: the store's directory, the last path component only, and the
 * schema), and takes over the jobs a previous run left running
 * (store_reap_all: re-queued or failed with worker_lost). Opens and closes
 * its own store, without the shared area. Returns 0, or -1 with a message
 * in err (naming the path for SQLite). *requeued and *failed (may be NULL)
 * count the jobs taken over.
 */
int store_prepare(const config_store *cfg, int *requeued, int *failed, char *err, size_t errlen);

#endif
