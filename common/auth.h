/*
 * auth.h - API tokens: who may call crunchd, with which scopes and limits
 * (DESIGN.md section 10). The route layer asks two questions of a table:
 * which token is this secret (auth_table_lookup), and may it do this
 * (auth_token_allows); the rest is data for limits and logs.
 *
 * The tokens file (auth.tokens_file) holds one token per line:
 *
 *     NAME SCOPES SHA256HEX [max_queued=N] [rps=N] [burst=N]
 *
 *   NAME       1 to AUTH_NAME_MAX letters, digits, '.', '_' or '-': the
 *              owner of the token's jobs, shown in logs and metrics
 *   SCOPES     comma-separated, no spaces: call, submit, read, cancel, admin
 *   SHA256HEX  64 lowercase hex digits: SHA-256 of the secret (the file
 *              never holds a secret: crunchd --mint-token prints one)
 *   max_queued jobs of this token queued at once (1 .. AUTH_MAX_QUEUED_MAX)
 *   rps        requests per second of this token, per worker (1 .. AUTH_RPS_MAX)
 *   burst      requests above rps a client may send at once (default: rps;
 *              1 .. AUTH_RPS_MAX; only with rps)
 *
 * Fields are separated by spaces or tabs; a trailing CR is ignored; blank
 * lines and lines whose first non-blank character is '#' are skipped. A
 * limit that is absent means none (only the server's own limits apply).
 * Names and hashes are unique. An empty table (only comments) is valid: no
 * secret matches.
 *
 * Errors name the file and the line: "FILE:LINE: <what>". The first bad
 * line in file order is reported (a duplicate counts at its second line).
 * A bad SHA256HEX is described, never echoed: it may be a pasted secret.
 *
 * Tables. An auth_table is an immutable value: built whole by
 * auth_table_load/auth_table_parse, never changed, freed whole. The master
 * builds it before forking and workers inherit it (fork copies the pages);
 * a worker never frees it. Any number of threads may look up and read one
 * table at once without a lock; only auth_table_free must not run
 * concurrently with anything else on that table. Tokens are borrowed from
 * their table and valid as long as it is.
 *
 * Lookup hashes the presented secret (SHA-256, OpenSSL) and finds the hash
 * by binary search over the sorted hashes (the same number of steps for any
 * secret), then compares the whole hash once with CRYPTO_memcmp: a wrong
 * secret costs what a right one does. No secret is ever stored or compared
 * byte by byte, and timing can only tell about the SHA-256 of what the
 * client sent.
 */
#ifndef CRUNCHD_AUTH_H
#define CRUNCHD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_NAME_MAX 64 /* bytes of a token name */
#define AUTH_HASH_LEN 32 /* SHA-256 */
#define AUTH_HASH_HEX_LEN (2 * AUTH_HASH_LEN)
#define AUTH_LINE_MAX 1024               /* bytes of a line of the tokens file */
#define AUTH_MAX_TOKENS 65536            /* tokens in one file */
#define AUTH_FILE_MAX (16 * 1024 * 1024) /* bytes of a tokens file */
#define AUTH_RPS_MAX 1000000             /* rps= and burst= */
#define AUTH_MAX_QUEUED_MAX 100000000    /* max_queued= (as limits.max_queue) */
#define AUTH_SCOPES_TEXT_MAX 40          /* "call,submit,read,cancel,admin" + NUL */

/* Scopes are bits; a token holds a set of them. They do not imply each
 * other: admin widens what read and cancel reach (every owner's jobs) and is
 * itself the scope of /v1/workers and /metrics. */
typedef enum auth_scope {
    AUTH_SCOPE_CALL = 1u << 0,   /* POST /v1/fn/{name} */
    AUTH_SCOPE_SUBMIT = 1u << 1, /* POST /v1/jobs */
    AUTH_SCOPE_READ = 1u << 2,   /* GET own jobs, the list of own jobs, /v1/functions */
    AUTH_SCOPE_CANCEL = 1u << 3, /* DELETE own jobs */
    AUTH_SCOPE_ADMIN = 1u << 4,  /* every owner's jobs, /v1/workers, /metrics */
} auth_scope;

#define AUTH_SCOPE_ALL 0x1fu

/* A token's limits; 0 means none. A plain value, copied freely. */
typedef struct auth_limits {
    int64_t max_queued; /* jobs queued at once: counted by the store at submission (store.h;
                           429 queue_full) */
    int rps;            /* requests per second, per worker: auth_rate.h */
    int burst;          /* bucket size; rps when not given; 0 when rps is 0 */
} auth_limits;

typedef struct auth_table auth_table;
typedef struct auth_token auth_token;

/*
 * Reads and parses the tokens file at path. Returns a new table (the caller
 * frees it with auth_table_free), or NULL with err set:
 *   "PATH: <strerror>"                   cannot be opened or read
 *   "PATH: not a regular file"
 *   "PATH: writable by every user (chmod o-w PATH)"   anyone could add a token
 *   "PATH: larger than 16777216 bytes"
 *   "PATH:LINE: <what>"                  a malformed line (see auth_table_parse)
 */
auth_table *auth_table_load(const char *path, char *err, size_t errlen);

/*
 * Parses len bytes of tokens-file text; name stands for the file in
 * messages. Returns a new table, or NULL with "NAME:LINE: <what>" in err,
 * where what is one of:
 *   "expected NAME SCOPES SHA256HEX [key=value ...]"
 *   "line longer than 1024 bytes"
 *   "bad name \"x\": 1 to 64 letters, digits, '.', '_' or '-'"
 *   "unknown scope \"x\" (expected call, submit, read, cancel or admin)"
 *   "empty scope in \"call,,read\"" / "duplicate scope \"read\""
 *   "bad hex: SHA256HEX must be 64 lowercase hex digits (the SHA-256 of the
 *    secret, not the secret), got N characters"
 *   "unknown limit \"x\" (expected max_queued, rps or burst)"
 *   "bad limit \"rps=x\": an integer from 1 to 1000000" / "duplicate limit rps"
 *   "bad limit \"burst=5\": burst needs rps"
 *   "duplicate name \"ci\" (first on line 3)"
 *   "duplicate hash (first on line 3): two tokens share one secret"
 *   "more than 65536 tokens"
 * or "NAME: <what>" when OpenSSL has no SHA-256 or memory runs out.
 */
auth_table *auth_table_parse(const char *text, size_t len, const char *name, char *err,
                             size_t errlen);

/* Frees t and every token in it. NULL is ignored. */
void auth_table_free(auth_table *t);

/* How many tokens t holds. */
size_t auth_table_count(const auth_table *t);

/* Token i (0 .. count-1) in file order; borrowed from t. */
const auth_token *auth_table_token(const auth_table *t, size_t i);

/*
 * The token whose secret is the len bytes at secret, or NULL (none, or the
 * hash could not be computed). Borrowed from t. Constant time in the
 * secret's value (see above); any thread.
 */
const auth_token *auth_table_lookup(const auth_table *t, const char *secret, size_t len);

/* The token's name (NUL-terminated, at most AUTH_NAME_MAX bytes). */
const char *auth_token_name(const auth_token *tok);

/* The token's scopes, a set of auth_scope bits. */
unsigned auth_token_scopes(const auth_token *tok);

/* Whether the token holds scope (one auth_scope bit). */
bool auth_token_allows(const auth_token *tok, auth_scope scope);

/* The token's limits (a copy). */
auth_limits auth_token_limits(const auth_token *tok);

/* The token's position in its table (0 .. count-1): an index for arrays of
 * per-token state, such as the rate buckets of auth_rate.h. */
size_t auth_token_index(const auth_token *tok);

/* The line of the tokens file the token came from (for messages). */
int auth_token_line(const auth_token *tok);

/* "call", "submit", "read", "cancel" or "admin"; NULL for anything that is
 * not exactly one scope bit. For 403 messages ("needs the scope read"). */
const char *auth_scope_name(auth_scope scope);

/* Writes the set as the file writes it ("call,read", in the order of
 * auth_scope) into out (AUTH_SCOPES_TEXT_MAX bytes are always enough; a
 * smaller out gets the names that fit). */
void auth_scopes_format(unsigned scopes, char *out, size_t outlen);

/*
 * Parses the value of an Authorization header as "Bearer <token>" (RFC
 * 6750 section 2.1: the scheme in any case, one or more spaces, then a
 * b64token: letters, digits, '-', '.', '_', '~', '+', '/', then any '=').
 * Leading and trailing blanks are ignored. Returns 0 with *secret pointing
 * into value and *secret_len set, or -1 (another scheme, no token, a bad
 * character).
 */
int auth_bearer_parse(const char *value, size_t len, const char **secret, size_t *secret_len);

/* Lowercase hex SHA-256 of the len bytes at secret into hex (65 bytes with
 * the NUL): the SHA256HEX of a tokens-file line. Returns 0, or -1 if OpenSSL
 * fails. */
int auth_hash_hex(const char *secret, size_t len, char hex[AUTH_HASH_HEX_LEN + 1]);

#endif
