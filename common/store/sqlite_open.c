/*
 * sqlite_open.c - opening and closing the SQLite store: the file's pragmas,
 * its schema (created in a new file, checked in an existing one), the
 * messages for files that cannot be used, and the same checks made without
 * opening anything (store_check) or before the first open (store_prepare).
 * The schema is described in sqlite.c.
 */
#include "sqlite_int.h"

#include "errbuf.h"
#include "json_cost.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_BUSY_MS 5000
/* Page cache per connection, in KiB (negative): the default 2 MiB makes a
 * claim re-read the old end of the queue; 16 MiB measured 3x faster claims. */
#define CACHE_SIZE "-16384"
/* Pages of a new file, in bytes. Every page a transaction touches is one
 * WAL frame written, and read again by the other worker (its cache is
 * dropped when another connection writes); a job touches about two. With
 * the async benchmark 2048 gave 13% more jobs/s than SQLite's 4096 and a
 * lower p99; 1024 was between the two. */
#define DB_PAGE_SIZE "2048"
#define WAL_SIZE_LIMIT "67108864" /* bytes of WAL file kept after a checkpoint */

/*
 * The table of schema version 3. args and result come last: a row with a
 * large args (up to max_body_bytes) or result spills into overflow pages,
 * and SQLite reads a column only by walking the record up to it, so every
 * column a summary list (or a claim's filter) reads sits before them, on
 * the row's first page. Version 1 had args and result in the middle, so
 * listing 48 jobs of 1 MB args read 48 MB. Version 3 added owner (the
 * token name that submitted the job, '' without tokens), before args too:
 * ALTER TABLE ADD COLUMN would have put it after them.
 */
#define JOBS_COLUMNS                                                                               \
    " seq INTEGER PRIMARY KEY,"                                                                    \
    " id TEXT NOT NULL UNIQUE,"                                                                    \
    " fn TEXT NOT NULL,"                                                                           \
    " kind INTEGER NOT NULL,"                                                                      \
    " state INTEGER NOT NULL,"                                                                     \
    " error_code TEXT,"                                                                            \
    " error_message TEXT,"                                                                         \
    " attempts INTEGER NOT NULL,"                                                                  \
    " retries INTEGER NOT NULL,"                                                                   \
    " timeout_ms INTEGER NOT NULL,"                                                                \
    " callback TEXT,"                                                                              \
    " idem_key TEXT,"                                                                              \
    " worker_pid INTEGER,"                                                                         \
    " owner_slot INTEGER,"                                                                         \
    " owner_inc INTEGER,"                                                                          \
    " cancel_requested INTEGER NOT NULL DEFAULT 0,"                                                \
    " created_at INTEGER NOT NULL,"                                                                \
    " started_at INTEGER,"                                                                         \
    " finished_at INTEGER,"                                                                        \
    " deadline_at INTEGER,"                                                                        \
    " run_us INTEGER,"                                                                             \
    " cpu_us INTEGER,"                                                                             \
    " owner TEXT NOT NULL DEFAULT '',"                                                             \
    " args TEXT NOT NULL,"                                                                         \
    " result TEXT"

/* jobs_created serves the list's ORDER BY created_at DESC, id DESC and its
 * cursor (sqlite_list.c); it is written once per job (neither column
 * ever changes), so it costs the submit only. Keys are unique per owner
 * (jobs_idem). The owner indexes hold jobs with an owner only, so a server
 * without tokens (owner '') never writes them: jobs_owner serves an
 * owner's list as jobs_created serves everyone's, jobs_owner_queued counts
 * an owner's queued jobs for its max_queued (sqlite.c). */
#define JOBS_INDEXES                                                                               \
    "CREATE INDEX jobs_queue ON jobs (kind, state) WHERE state = 0;"                               \
    "CREATE INDEX jobs_running ON jobs (owner_slot, state) WHERE state = 1;"                       \
    "CREATE UNIQUE INDEX jobs_idem ON jobs (owner, idem_key) WHERE idem_key IS NOT NULL;"          \
    "CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;"              \
    "CREATE INDEX jobs_created ON jobs (created_at, id);"                                          \
    "CREATE INDEX jobs_owner ON jobs (owner, created_at, id) WHERE owner <> '';"                   \
    "CREATE INDEX jobs_owner_queued ON jobs (owner) WHERE state = 0 AND owner <> '';"

/* The columns versions 1 and 2 have (in another order in 1): what a
 * migration copies. */
#define COLS_V2                                                                                    \
    "seq, id, fn, kind, state, error_code, error_message, attempts, retries, timeout_ms, "         \
    "callback, idem_key, worker_pid, owner_slot, owner_inc, cancel_requested, created_at, "        \
    "started_at, finished_at, deadline_at, run_us, cpu_us, args, result"

_Static_assert(STORE_SQLITE_SCHEMA_VERSION == 3, "schema_sql and migrate_sql write version 3");

static const char schema_sql[] =
    "CREATE TABLE jobs (" JOBS_COLUMNS ") STRICT;" JOBS_INDEXES "PRAGMA user_version = 3;";

/* Versions 1 and 2 -> 3: the table rebuilt with owner before args and
 * result, which stay last (SQLite cannot move or insert a column), the
 * same rows (seq included, so FIFO holds) owned by nobody (''), and the
 * indexes of version 3. One transaction with the version check (schema()). */
static const char migrate_sql[] =
    "CREATE TABLE jobs_v3 (" JOBS_COLUMNS ") STRICT;"
    "INSERT INTO jobs_v3 (" COLS_V2 ") SELECT " COLS_V2 " FROM jobs;"
    "DROP TABLE jobs;"
    "ALTER TABLE jobs_v3 RENAME TO jobs;" JOBS_INDEXES "PRAGMA user_version = 3;";

/* Runs one PRAGMA or DDL text; *value (may be NULL) gets the first column of
 * the first row as an integer, text_out (may be NULL) as text. */
static int exec1(sq *s, const char *sql, const char *what, int64_t *value, char *text_out,
                 size_t text_len)
{
    sqlite3_stmt *q = NULL;
    int rc;
    if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
        return sq_db_fail(s, what);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        if (value)
            *value = sqlite3_column_int64(q, 0);
        if (text_out)
            sq_col_text(q, 0, text_out, text_len);
    } else if (rc != SQLITE_DONE) {
        sq_db_fail(s, what);
        sqlite3_finalize(q);
        return -1;
    }
    sqlite3_finalize(q);
    return 0;
}

/* The refusals of a file, shared by schema() and header_check(). */
#define MSG_NEWER                                                                                  \
    "%s: schema version %lld is newer than this crunchd understands (%d);"                         \
    " use the crunchd that wrote it or a new file"
#define MSG_FOREIGN "%s: not a crunchd job store (tables without a schema version)"

/* Creates the schema in a new file, checks the version of an existing one
 * and migrates an older one. */
static int schema(sq *s)
{
    int64_t version = 0, objects = 0;
    char *msg = NULL;
    if (exec1(s, "BEGIN IMMEDIATE", "begin", NULL, NULL, 0) < 0)
        return -1;
    if (exec1(s, "PRAGMA user_version", "read schema version", &version, NULL, 0) < 0 ||
        exec1(s, "SELECT count(*) FROM sqlite_schema", "read schema", &objects, NULL, 0) < 0)
        return sq_tx_abort(s);
    if (version > STORE_SQLITE_SCHEMA_VERSION) {
        store_fail(&s->base, MSG_NEWER, s->path, (long long)version, STORE_SQLITE_SCHEMA_VERSION);
        return sq_tx_abort(s);
    }
    if (version == 0 && objects > 0) {
        store_fail(&s->base, MSG_FOREIGN, s->path);
        return sq_tx_abort(s);
    }
    const char *sql = version == 0 ? schema_sql
                      : version < STORE_SQLITE_SCHEMA_VERSION ? migrate_sql
                                                              : NULL;
    if (sql && sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        store_fail(&s->base, "%s: %s schema: %s", s->path,
                   version == 0 ? "create" : "migrate to version 3 of the", msg ? msg : "?");
        sqlite3_free(msg);
        return sq_tx_abort(s);
    }
    if (exec1(s, "COMMIT", "commit schema", NULL, NULL, 0) < 0)
        return sq_tx_abort(s);
    return 0;
}

/* A clearer message than "unable to open database file". */
static void open_fail(sq *s)
{
    char dir[CONFIG_PATH];
    struct stat sb;
    int e = sqlite3_system_errno(s->db);
    snprintf(dir, sizeof(dir), "%s", s->path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    if (stat(dir, &sb) < 0 && errno == ENOENT)
        store_fail(&s->base, "%s: directory %s does not exist (create it first)", s->path, dir);
    else if (e)
        store_fail(&s->base, "%s: cannot open: %s", s->path, strerror(e));
    else
        sq_db_fail(s, "cannot open");
}

/*
 * Waits for the write lock. SQLite's own handler sleeps 1, 2, 5, 10 ... up
 * to 100 ms between tries, hundreds of times longer than the transactions
 * it waits for (about 30 us): measured through the whole server with two
 * workers writing, jobs/s was 20% higher with it, but its p99 submit-to-final
 * latency was 0.7-1.5 s against 17-175 ms with this one, which starts at
 * 50 us and doubles up to 2 ms. Workers now queue on the write gate first
 * (sqlite_gate.c), so this only runs for writers without it: the master at
 * start-up, tests, a worker ending itself over a job that would not stop.
 */
static int busy_wait(void *arg, int tries)
{
    sq *s = arg;
    if (tries == 0)
        s->busy_us = 0;
    if (s->busy_us >= (int64_t)s->busy_ms * 1000)
        return 0; /* give up: SQLITE_BUSY */
    int64_t us = tries < 5 ? 50 << tries : 2000;
    struct timespec ts = {0, (long)us * 1000};
    nanosleep(&ts, NULL);
    s->busy_us += us;
    return 1;
}

/* crunchd_args_cost(args): json_cost() of the text, 0 for NULL; what a
 * claim's budget counts (store.h). */
static void args_cost(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *text = (const char *)sqlite3_value_text(argv[0]);
    size_t n = (size_t)sqlite3_value_bytes(argv[0]);
    sqlite3_result_int64(ctx, text ? json_cost(text, n) : 0);
}

static int configure(sq *s, const store_sqlite_opts *opts)
{
    char mode[16] = "";
    char sync[64];
    s->busy_ms = opts && opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : DEFAULT_BUSY_MS;
    sqlite3_busy_handler(s->db, busy_wait, s);
    /* Switching a new file to WAL takes an exclusive lock and may report
     * BUSY without waiting while another process does the same: retry. */
    /* Only a new file takes it (before its first table); see DB_PAGE_SIZE. */
    if (exec1(s, "PRAGMA page_size = " DB_PAGE_SIZE, "set page_size", NULL, NULL, 0) < 0)
        return -1;
    for (int waited_ms = 0;; waited_ms += 10) {
        if (exec1(s, "PRAGMA journal_mode = WAL", "set journal_mode=WAL", NULL, mode,
                  sizeof(mode)) == 0)
            break;
        if (sqlite3_errcode(s->db) != SQLITE_BUSY || waited_ms >= s->busy_ms)
            return -1;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (strcmp(mode, "wal") != 0)
        return store_fail(&s->base, "%s: journal_mode is \"%s\", WAL is not available here",
                          s->path, mode);
    snprintf(sync, sizeof(sync), "PRAGMA synchronous = %s",
             opts && opts->sync_full ? "FULL" : "NORMAL");
    if (exec1(s, sync, "set synchronous", NULL, NULL, 0) < 0 ||
        exec1(s, "PRAGMA foreign_keys = OFF", "set foreign_keys", NULL, NULL, 0) < 0 ||
        exec1(s, "PRAGMA cache_size = " CACHE_SIZE, "set cache_size", NULL, NULL, 0) < 0 ||
        exec1(s, "PRAGMA journal_size_limit = " WAL_SIZE_LIMIT, "set journal_size_limit", NULL,
              NULL, 0) < 0)
        return -1;
    sqlite3_wal_hook(s->db, sq_wal_noted, s); /* instead of wal_autocheckpoint */
    if (sqlite3_create_function(s->db, "crunchd_args_cost", 1,
                                SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                args_cost, NULL, NULL) != SQLITE_OK)
        return sq_db_fail(s, "register crunchd_args_cost");
    return schema(s);
}

store *store_sqlite_open(const char *path, const store_sqlite_opts *opts, char *err, size_t errlen)
{
    sq *s = calloc(1, sizeof(*s));
    if (!s) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    store_init(&s->base, &store_sqlite_ops);
    s->gate = opts ? opts->gate : NULL;
    snprintf(s->path, sizeof(s->path), "%s", path);
    if (path[0] == '\0') {
        store_fail(&s->base, "store.path is empty");
        goto err;
    }
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        open_fail(s);
        goto err;
    }
    sqlite3_extended_result_codes(s->db, 1);
    if (configure(s, opts) < 0)
        goto err;
    return &s->base;
err:
    if (err && errlen)
        snprintf(err, errlen, "%s", s->base.errmsg);
    sq_free(s);
    return NULL;
}

store *sq_open(const config_store *cfg, void *shared, char *err, size_t errlen)
{
    store_sqlite_opts o = {.gate = shared ? &((store_sqlite_shared *)shared)->gate : NULL};
    return store_sqlite_open(cfg->path, &o, err, errlen);
}

/* Finalizes the cached statements (sqlite3_close() refuses while any is
 * alive), closes the connection and frees s. */
void sq_free(sq *s)
{
    for (int i = 0; i < SQ_STMT_MAX; i++)
        sqlite3_finalize(s->stmt[i]);
    for (int i = 0; i < SQ_LIST_STMT_MAX; i++)
        sqlite3_finalize(s->list_stmt[i]);
    sqlite3_close(s->db);
    free(s);
}

/* A big-endian 32-bit field of the database header. */
static uint32_t header_u32(const unsigned char *h, size_t off)
{
    return (uint32_t)h[off] << 24 | (uint32_t)h[off + 1] << 16 | (uint32_t)h[off + 2] << 8 |
           h[off + 3];
}

/*
 * Reads the 100-byte header (https://sqlite.org/fileformat.html): the magic
 * string, the schema cookie (offset 40: changes with every CREATE, so 0 means
 * no table yet) and user_version (offset 60). Opening the file with SQLite
 * could create its -wal and -shm files; this creates nothing. A header a WAL
 * has not been copied back to yet may be older than the file's last commit
 * (the schema is created in one transaction, so never half of it).
 */
static int header_check(const char *path, char *err, size_t errlen)
{
    static const char magic[16] = "SQLite format 3";
    unsigned char h[100];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errbuf_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    ssize_t n = read(fd, h, sizeof(h));
    int e = errno;
    close(fd);
    if (n < 0)
        return errbuf_fail(err, errlen, "%s: cannot read: %s", path, strerror(e));
    if (n == 0)
        return 0; /* an empty file: SQLite makes it a new database */
    if ((size_t)n < sizeof(h) || memcmp(h, magic, sizeof(magic)) != 0)
        return errbuf_fail(err, errlen, "%s: not a SQLite database", path);
    uint32_t cookie = header_u32(h, 40), version = header_u32(h, 60);
    if (version > STORE_SQLITE_SCHEMA_VERSION)
        return errbuf_fail(err, errlen, MSG_NEWER, path, (long long)version,
                           STORE_SQLITE_SCHEMA_VERSION);
    if (version == 0 && cookie != 0)
        return errbuf_fail(err, errlen, MSG_FOREIGN, path);
    return 0;
}

/* A directory the process can create files in; -1 with why in err. */
static int dir_writable(const char *dir, char *err, size_t errlen)
{
    struct stat sb;
    if (stat(dir, &sb) < 0)
        return errbuf_fail(err, errlen, "store.path: stat() of \"%s\" failed: %s", dir,
                           strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return errbuf_fail(err, errlen, "store.path: \"%s\" is not a directory", dir);
    if (access(dir, W_OK | X_OK) < 0)
        return errbuf_fail(err, errlen, "store.path: directory \"%s\" is not writable: %s", dir,
                           strerror(errno));
    return 0;
}

int sq_check(const config_store *cfg, char *err, size_t errlen)
{
    char dir[CONFIG_PATH + 1], up[CONFIG_PATH + 1];
    struct stat sb;
    snprintf(dir, sizeof(dir), "%s", cfg->path);
    const char *parent = dirname(dir);
    if (stat(parent, &sb) < 0 && errno == ENOENT) {
        /* sq_prepare() makes the last component only */
        snprintf(up, sizeof(up), "%s", parent);
        return dir_writable(dirname(up), err, errlen);
    }
    if (dir_writable(parent, err, errlen) < 0)
        return -1;
    if (stat(cfg->path, &sb) < 0)
        return errno == ENOENT ? 0
                               : errbuf_fail(err, errlen, "store.path: stat() of \"%s\" failed: %s",
                                             cfg->path, strerror(errno));
    if (access(cfg->path, R_OK | W_OK) < 0)
        return errbuf_fail(err, errlen, "store.path: \"%s\" is not readable and writable: %s",
                           cfg->path, strerror(errno));
    return header_check(cfg->path, err, errlen);
}

int sq_prepare(const config_store *cfg, char *err, size_t errlen)
{
    char dir[CONFIG_PATH + 1];
    snprintf(dir, sizeof(dir), "%s", cfg->path);
    const char *parent = dirname(dir);
    if (mkdir(parent, 0750) < 0 && errno != EEXIST)
        return errbuf_fail(err, errlen, "mkdir() of \"%s\" failed: %s", parent, strerror(errno));
    return 0;
}
