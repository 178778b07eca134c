/*
 * fuzz_auth.c - libFuzzer target for the API tokens (common/auth.c,
 * common/auth_parse.c): auth_table_parse(), auth_table_lookup() and
 * auth_bearer_parse().
 *
 * Each input is used three ways:
 *   1. As the text of a tokens file. A plain model of the grammar in auth.h
 *      (fuzz_auth_model.h, written from the header, not from auth_parse.c)
 *      reads it too: the parser must accept exactly what the model accepts,
 *      with the same tokens (name, scopes, limits, line, file order), or
 *      refuse it with exactly the model's "f:LINE: what" (the first bad
 *      line; a duplicate counts at its second line). A refused SHA256HEX
 *      is described by its length, never echoed. Parsing the same bytes
 *      again (into a smaller error buffer) gives the same table, or the
 *      same message cut short.
 *   2. The same text with the third field of every token line replaced by
 *      the SHA-256 hex of that field: the field becomes the secret of the
 *      line. If the table is accepted, every token is found by its secret
 *      (and by "Bearer <secret>" when the secret is a b64token).
 *   3. Each line, and the whole input, as an Authorization header value,
 *      against a model of "Bearer <b64token>" (RFC 6750 2.1).
 * Every lookup (secrets, fields, near misses, the empty secret) must return
 * the one token whose hash is the SHA-256 of what was looked up (computed
 * here with OpenSSL), or NULL. Any difference is a crash (__builtin_trap).
 *
 * Build and run: tests/fuzz/run_fuzz.sh [seconds per target]
 */
#include "auth.h"
#include "fuzz_auth_model.h"
#include "fuzz_check.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HEADERS_MAX 256 /* lines tried as header values per input */

/* ---- the parser against the model ---- */

static void check_scopes_text(unsigned scopes)
{
    char want[64] = "", got[AUTH_SCOPES_TEXT_MAX], cut[AUTH_SCOPES_TEXT_MAX];
    for (unsigned k = 0; k < 5; k++) {
        if (!(scopes & (1u << k)))
            continue;
        strcat(want, want[0] ? "," : "");
        strcat(want, model_scope_names[k]);
        CHECK(strcmp(auth_scope_name((auth_scope)(1u << k)), model_scope_names[k]) == 0);
    }
    auth_scopes_format(scopes, got, sizeof(got));
    CHECK(strcmp(got, want) == 0);
    /* A smaller buffer gets the names that fit: a prefix ending at a name. */
    size_t small = 1 + scopes % 12;
    auth_scopes_format(scopes, cut, small);
    size_t n = strlen(cut);
    CHECK(n < small && strncmp(cut, want, n) == 0);
    CHECK(n == 0 || want[n] == ',' || want[n] == '\0');
}

static void check_token(const auth_token *tok, const model_tok *m, size_t i)
{
    const char *name = auth_token_name(tok);
    CHECK(strlen(name) == m->name.n && memcmp(name, m->name.p, m->name.n) == 0);
    CHECK(auth_token_scopes(tok) == m->scopes);
    CHECK(m->scopes != 0 && (m->scopes & ~AUTH_SCOPE_ALL) == 0);
    for (unsigned k = 0; k < 5; k++)
        CHECK(auth_token_allows(tok, (auth_scope)(1u << k)) == !!(m->scopes & (1u << k)));
    CHECK(!auth_token_allows(tok, (auth_scope)0));
    auth_limits l = auth_token_limits(tok);
    CHECK(l.max_queued == m->lim.max_queued && l.rps == m->lim.rps && l.burst == m->lim.burst);
    CHECK(l.max_queued >= 0 && l.max_queued <= AUTH_MAX_QUEUED_MAX);
    CHECK(l.rps >= 0 && l.rps <= AUTH_RPS_MAX && l.burst >= 0 && l.burst <= AUTH_RPS_MAX);
    CHECK((l.rps == 0) == (l.burst == 0));
    CHECK(auth_token_index(tok) == i);
    CHECK(auth_token_line(tok) == m->line);
    check_scopes_text(m->scopes);
}

/* The field where a SHA256HEX goes, on line number line of text (or NULL). */
static model_span hash_field(const char *text, size_t len, int line)
{
    model_span f[MODEL_FIELDS_MAX];
    size_t at = 0;
    for (int l = 1; l < line && at < len; l++) {
        const char *nl = memchr(text + at, '\n', len - at);
        at = nl ? (size_t)(nl - text) + 1 : len;
    }
    const char *nl = memchr(text + at, '\n', len - at);
    size_t n = nl ? (size_t)(nl - text) - at : len - at;
    n -= n > 0 && text[at + n - 1] == '\r';
    if (n > AUTH_LINE_MAX || model_fields(text + at, n, f) < 3)
        return (model_span){NULL, 0};
    return f[2];
}

/* Parses text with the parser and the model; returns the table (or NULL)
 * after checking they agree. m is filled. */
static auth_table *parse_checked(const char *text, size_t len, model *m)
{
    char err[MODEL_ERR_SIZE] = "";
    model_parse(m, text, len);
    auth_table *t = auth_table_parse(text, len, MODEL_FILE, err, sizeof(err));
    if (m->bad) {
        CHECK(t == NULL && strcmp(err, m->msg) == 0);
        /* A SHA256HEX that was refused is described, never echoed: it is in
         * the message only if the fixed text holds it ("SHA256HEX"). */
        model_span h = hash_field(text, len, m->bad);
        if (h.p && h.n >= 8 && strstr(err, "bad hex: ")) {
            char *field = strndup(h.p, h.n);
            CHECK(field != NULL);
            CHECK(strlen(field) < h.n || !strstr(err, field) || strstr(MODEL_HEX_TEXT, field));
            free(field);
        }
        return NULL;
    }
    CHECK(t != NULL && auth_table_count(t) == m->n);
    for (size_t i = 0; i < m->n; i++) {
        const auth_token *tok = auth_table_token(t, i);
        CHECK(tok != NULL);
        check_token(tok, &m->tok[i], i);
    }
    CHECK(auth_table_token(t, m->n) == NULL);
    return t;
}

/* The same bytes again, into a smaller error buffer: the same outcome. */
static void check_again(const char *text, size_t len, const auth_table *t1, const model *m)
{
    char err[MODEL_ERR_SIZE];
    size_t small = 1 + len % 48;
    memset(err, 'x', sizeof(err));
    auth_table *t2 = auth_table_parse(text, len, MODEL_FILE, err, small);
    CHECK((t1 == NULL) == (t2 == NULL));
    if (t2 == NULL) {
        CHECK(strlen(err) == (strlen(m->msg) < small ? strlen(m->msg) : small - 1));
        CHECK(strncmp(err, m->msg, small - 1) == 0);
        return;
    }
    CHECK(auth_table_count(t2) == auth_table_count(t1));
    for (size_t i = 0; i < auth_table_count(t1); i++) {
        const auth_token *a = auth_table_token(t1, i), *b = auth_table_token(t2, i);
        auth_limits la = auth_token_limits(a), lb = auth_token_limits(b);
        CHECK(strcmp(auth_token_name(a), auth_token_name(b)) == 0);
        CHECK(auth_token_scopes(a) == auth_token_scopes(b) &&
              auth_token_line(a) == auth_token_line(b));
        CHECK(la.max_queued == lb.max_queued && la.rps == lb.rps && la.burst == lb.burst);
    }
    auth_table_free(t2);
}

/* ---- lookups ---- */

/* The model's hashes, each mapped to its token's index. */
static void index_hashes(const model *m, model_set *by_hash)
{
    model_set_init(by_hash, m->n + 1);
    for (size_t i = 0; i < m->n; i++)
        CHECK(model_set_put(by_hash, m->tok[i].hash, AUTH_HASH_LEN, (int)i) < 0);
}

/* Looking up p must give the token whose hash is SHA-256(p), or NULL.
 * Returns what it gave. */
static const auth_token *check_lookup(const auth_table *t, const model_set *by_hash, const char *p,
                                      size_t n)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hlen = 0;
    char hex[AUTH_HASH_HEX_LEN + 1], want_hex[AUTH_HASH_HEX_LEN + 1];
    if (n == 0)
        p = "";
    CHECK(EVP_Digest(p, n, h, &hlen, EVP_sha256(), NULL) == 1 && hlen == AUTH_HASH_LEN);
    for (size_t i = 0; i < AUTH_HASH_LEN; i++) {
        want_hex[2 * i] = digits[h[i] >> 4];
        want_hex[2 * i + 1] = digits[h[i] & 15];
    }
    want_hex[AUTH_HASH_HEX_LEN] = '\0';
    CHECK(auth_hash_hex(p, n, hex) == 0 && strcmp(hex, want_hex) == 0);
    int i = model_set_get(by_hash, h, AUTH_HASH_LEN);
    const auth_token *want = i >= 0 ? auth_table_token(t, (size_t)i) : NULL;
    const auth_token *got = auth_table_lookup(t, p, n);
    CHECK(got == want);
    if (n == 0)
        CHECK(auth_table_lookup(t, NULL, 0) == want);
    return got;
}

/* Near misses of a secret: one byte changed, one byte less, one more. */
static void check_near_misses(const auth_table *t, const model_set *by_hash, model_span s)
{
    char *b = malloc(s.n + 1);
    CHECK(b);
    memcpy(b, s.p, s.n);
    b[s.n] = 'x';
    check_lookup(t, by_hash, b, s.n + 1);
    if (s.n > 0) {
        check_lookup(t, by_hash, b, s.n - 1);
        b[s.n - 1] ^= 1;
        check_lookup(t, by_hash, b, s.n);
    }
    free(b);
}

/* ---- Authorization: Bearer ---- */

static bool is_b64token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("-._~+/", c));
}

/* blanks, "bearer" in any case, spaces, b64token, '='s, blanks; 0 with the
 * token's place, or -1. */
static int model_bearer(const char *v, size_t n, size_t *off, size_t *len)
{
    static const char scheme[] = "bearer";
    size_t i = 0;
    while (i < n && model_blank(v[i]))
        i++;
    for (size_t k = 0; k < 6; k++, i++)
        if (i == n || (v[i] | (v[i] >= 'A' && v[i] <= 'Z' ? 0x20 : 0)) != scheme[k])
            return -1;
    if (i == n || v[i] != ' ')
        return -1;
    while (i < n && v[i] == ' ')
        i++;
    size_t start = i;
    while (i < n && is_b64token_char(v[i]))
        i++;
    if (i == start)
        return -1;
    while (i < n && v[i] == '=')
        i++;
    size_t stop = i;
    while (i < n && model_blank(v[i]))
        i++;
    if (i != n)
        return -1;
    *off = start;
    *len = stop - start;
    return 0;
}

/* auth_bearer_parse() against the model; returns the secret (p NULL if none). */
static model_span check_bearer(const char *v, size_t n)
{
    size_t off = 0, len = 0, got_len = 0;
    const char *got = NULL;
    int want = model_bearer(v, n, &off, &len);
    int rc = auth_bearer_parse(v, n, &got, &got_len);
    CHECK(rc == want);
    if (rc < 0)
        return (model_span){NULL, 0};
    CHECK(got == v + off && got_len == len && len > 0);
    return (model_span){got, got_len};
}

/* Each line of the input (up to HEADERS_MAX) and the whole input as a header
 * value; a secret found is looked up in t, if there is a table. */
static void fuzz_headers(const char *d, size_t n, const auth_table *t, const model_set *by_hash)
{
    model_span s = check_bearer(d, n);
    if (t && s.p)
        check_lookup(t, by_hash, s.p, s.n);
    size_t at = 0;
    for (int k = 0; k < HEADERS_MAX && at < n; k++) {
        const char *nl = memchr(d + at, '\n', n - at);
        size_t len = nl ? (size_t)(nl - d) - at : n - at;
        s = check_bearer(d + at, len);
        if (t && s.p)
            check_lookup(t, by_hash, s.p, s.n);
        at += len + 1;
    }
}

/* "Bearer <secret>" in some spelling finds the token whose secret it is. */
static void check_bearer_secret(const auth_table *t, const model_set *by_hash, model_span secret,
                                const auth_token *tok)
{
    static const char *const spellings[] = {"Bearer ", "bearer  ", " \tBEARER ", "bEaReR   "};
    size_t cap = secret.n + 16;
    char *v = malloc(cap);
    CHECK(v);
    const char *sp = spellings[secret.n % 4];
    size_t n = strlen(sp);
    memcpy(v, sp, n);
    memcpy(v + n, secret.p, secret.n);
    n += secret.n;
    if (secret.n % 3 == 0)
        v[n++] = '\t';
    model_span got = check_bearer(v, n);
    size_t off, len;
    bool is_token = model_bearer(v, n, &off, &len) == 0;
    CHECK(!is_token || (got.n == secret.n && !memcmp(got.p, secret.p, secret.n)));
    if (is_token)
        CHECK(check_lookup(t, by_hash, got.p, got.n) == tok);
    free(v);
}

/* ---- the input with secrets in place of the hashes ---- */

typedef struct with_secrets {
    char *text;
    size_t len;
    model_span *secret; /* [line]: the field whose hash the line got; p NULL if none */
} with_secrets;

static void put_secrets(const char *d, size_t n, with_secrets *w)
{
    size_t lines = model_lines(d, n);
    model_span f[3];
    w->text = malloc(n + lines * AUTH_HASH_HEX_LEN + 1);
    w->secret = calloc(lines + 1, sizeof(model_span));
    CHECK(w->text && w->secret);
    w->len = 0;
    size_t at = 0;
    for (size_t line = 1; at < n; line++) {
        const char *s = d + at, *nl = memchr(s, '\n', n - at);
        size_t len = nl ? (size_t)(nl - s) + 1 : n - at;
        size_t body = len - (nl != NULL);
        body -= body > 0 && s[body - 1] == '\r';
        size_t lead = 0, nf = 0;
        while (lead < body && model_blank(s[lead]))
            lead++;
        /* the first three fields, found as model_fields() would */
        for (size_t i = lead; i < body && nf < 3;) {
            size_t j = i;
            while (j < body && !model_blank(s[j]))
                j++;
            f[nf++] = (model_span){s + i, j - i};
            while (j < body && model_blank(s[j]))
                j++;
            i = j;
        }
        if (nf == 3 && s[lead] != '#') {
            size_t head = (size_t)(f[2].p - s), tail = head + f[2].n;
            memcpy(w->text + w->len, s, head);
            CHECK(auth_hash_hex(f[2].p, f[2].n, w->text + w->len + head) == 0);
            memcpy(w->text + w->len + head + AUTH_HASH_HEX_LEN, s + tail, len - tail);
            w->len += len + AUTH_HASH_HEX_LEN - f[2].n;
            w->secret[line] = f[2];
        } else {
            memcpy(w->text + w->len, s, len);
            w->len += len;
        }
        at += len;
    }
}

static void fuzz_secrets(const char *d, size_t n)
{
    with_secrets w;
    model m;
    model_set by_hash;
    put_secrets(d, n, &w);
    auth_table *t = parse_checked(w.text, w.len, &m);
    if (t) {
        index_hashes(&m, &by_hash);
        for (size_t i = 0; i < m.n; i++) {
            const auth_token *tok = auth_table_token(t, i);
            model_span s = w.secret[m.tok[i].line];
            CHECK(s.p != NULL);
            CHECK(check_lookup(t, &by_hash, s.p, s.n) == tok);
            check_near_misses(t, &by_hash, s);
            check_bearer_secret(t, &by_hash, s, tok);
        }
        check_lookup(t, &by_hash, "", 0);
        model_set_free(&by_hash);
        auth_table_free(t);
    }
    model_free(&m);
    free(w.text);
    free(w.secret);
}

/* ---- the input as it is ---- */

static void fuzz_text(const char *d, size_t n)
{
    model m;
    model_set by_hash;
    auth_table *t = parse_checked(d, n, &m);
    check_again(d, n, t, &m);
    if (t) {
        index_hashes(&m, &by_hash);
        model_span f[MODEL_FIELDS_MAX];
        /* every field of the first lines, taken as a secret */
        size_t at = 0;
        for (int k = 0; k < HEADERS_MAX / 8 && at < n; k++) {
            const char *nl = memchr(d + at, '\n', n - at);
            size_t len = nl ? (size_t)(nl - d) - at : n - at;
            size_t nf = len <= AUTH_LINE_MAX + 1 ? model_fields(d + at, len, f) : 0;
            for (size_t i = 0; i < nf; i++)
                check_lookup(t, &by_hash, f[i].p, f[i].n);
            at += len + 1;
        }
        check_lookup(t, &by_hash, d, n);
    }
    fuzz_headers(d, n, t, t ? &by_hash : NULL);
    if (t) {
        model_set_free(&by_hash);
        auth_table_free(t);
    }
    model_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *d = size ? (const char *)data : "";
    fuzz_text(d, size);
    fuzz_secrets(d, size);
    return 0;
}
