/*
 * auth_parse.c - the tokens file's syntax (auth.h): text in, a table or
 * "NAME:LINE: <what>" out.
 *
 * Lines are read in order until the first malformed one. Duplicates (of a
 * name or a hash) are found afterwards, among the lines read, by sorting;
 * whichever comes first in the file, a duplicate's second line or the
 * malformed line, is the error reported.
 */
#include "auth_int.h"
#include "errbuf.h"
#include "utf8.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHY_SIZE 512
#define MSG_FIELDS "expected NAME SCOPES SHA256HEX [key=value ...]"

typedef struct field {
    const char *p;
    size_t n;
} field;

typedef struct limit_key {
    const char *name;
    int64_t max;
    unsigned bit; /* in the "seen" mask of one line */
} limit_key;

static const limit_key limit_keys[] = {
    {"max_queued", AUTH_MAX_QUEUED_MAX, 1u},
    {"rps", AUTH_RPS_MAX, 2u},
    {"burst", AUTH_RPS_MAX, 4u},
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/* File text for a message: bounded, valid UTF-8, no control characters. */
static const char *echo(char buf[UTF8_ECHO_SIZE], const char *s, size_t n)
{
    utf8_echo(buf, s, n);
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return buf;
}

/* The next blank-separated field of [*cur, end); false at the end. */
static bool next_field(const char **cur, const char *end, field *f)
{
    const char *p = *cur;
    while (p < end && is_blank(*p))
        p++;
    if (p == end)
        return false;
    f->p = p;
    while (p < end && !is_blank(*p))
        p++;
    f->n = (size_t)(p - f->p);
    *cur = p;
    return true;
}

static int parse_name(field f, auth_token *tok, char *why)
{
    char e[UTF8_ECHO_SIZE];
    bool ok = f.n >= 1 && f.n <= AUTH_NAME_MAX;
    for (size_t i = 0; ok && i < f.n; i++)
        ok = is_name_char(f.p[i]);
    if (!ok)
        return errbuf_fail(why, WHY_SIZE,
                           "bad name \"%s\": 1 to %d letters, digits, '.', '_' or '-'",
                           echo(e, f.p, f.n), AUTH_NAME_MAX);
    memcpy(tok->name, f.p, f.n);
    tok->name[f.n] = '\0';
    return 0;
}

/* One scope name of n bytes: its bit, or 0. */
static unsigned scope_bit(const char *s, size_t n)
{
    for (unsigned bit = 1; bit & AUTH_SCOPE_ALL; bit <<= 1) {
        const char *name = auth_scope_name((auth_scope)bit);
        if (strlen(name) == n && memcmp(name, s, n) == 0)
            return bit;
    }
    return 0;
}

static int parse_scopes(field f, auth_token *tok, char *why)
{
    char e[UTF8_ECHO_SIZE];
    const char *p = f.p, *end = f.p + f.n;
    tok->scopes = 0;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        size_t n = (size_t)(stop - p);
        unsigned bit = scope_bit(p, n);
        if (n == 0)
            return errbuf_fail(why, WHY_SIZE, "empty scope in \"%s\"", echo(e, f.p, f.n));
        if (!bit)
            return errbuf_fail(
                why, WHY_SIZE,
                "unknown scope \"%s\" (expected call, submit, read, cancel or admin)",
                echo(e, p, n));
        if (tok->scopes & bit)
            return errbuf_fail(why, WHY_SIZE, "duplicate scope \"%s\"", echo(e, p, n));
        tok->scopes |= bit;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Never echoes the field: a secret pasted by mistake must not reach a log. */
static int parse_hash(field f, auth_token *tok, char *why)
{
    bool ok = f.n == AUTH_HASH_HEX_LEN;
    for (size_t i = 0; ok && i < AUTH_HASH_LEN; i++) {
        int hi = hex_value(f.p[2 * i]), lo = hex_value(f.p[2 * i + 1]);
        ok = hi >= 0 && lo >= 0;
        if (ok)
            tok->hash[i] = (unsigned char)(hi << 4 | lo);
    }
    if (!ok)
        return errbuf_fail(why, WHY_SIZE,
                           "bad hex: SHA256HEX must be %d lowercase hex digits (the SHA-256 of "
                           "the secret, not the secret), got %zu characters",
                           AUTH_HASH_HEX_LEN, f.n);
    return 0;
}

/* Decimal digits only, 1 .. max; -1 otherwise. */
static int64_t parse_count(const char *s, size_t n, int64_t max)
{
    int64_t v = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
        if (v > max)
            return -1;
    }
    return v >= 1 ? v : -1;
}

static int parse_limit(field f, auth_token *tok, unsigned *seen, char *why)
{
    char e[UTF8_ECHO_SIZE];
    const char *eq = memchr(f.p, '=', f.n);
    size_t klen = eq ? (size_t)(eq - f.p) : f.n;
    const limit_key *k = NULL;
    for (size_t i = 0; i < sizeof(limit_keys) / sizeof(limit_keys[0]) && !k; i++)
        if (strlen(limit_keys[i].name) == klen && memcmp(limit_keys[i].name, f.p, klen) == 0)
            k = &limit_keys[i];
    if (!k)
        return errbuf_fail(why, WHY_SIZE,
                           "unknown limit \"%s\" (expected max_queued, rps or burst)",
                           echo(e, f.p, klen));
    if (*seen & k->bit)
        return errbuf_fail(why, WHY_SIZE, "duplicate limit %s", k->name);
    *seen |= k->bit;
    int64_t v = eq ? parse_count(eq + 1, f.n - klen - 1, k->max) : -1;
    if (v < 0)
        return errbuf_fail(why, WHY_SIZE, "bad limit \"%s\": an integer from 1 to %" PRId64,
                           echo(e, f.p, f.n), k->max);
    if (k->bit == 1u)
        tok->limits.max_queued = v;
    else if (k->bit == 2u)
        tok->limits.rps = (int)v;
    else
        tok->limits.burst = (int)v;
    return 0;
}

/* NAME SCOPES SHA256HEX [key=value ...] into tok; -1 with why. */
static int parse_fields(const char *s, size_t n, auth_token *tok, char *why)
{
    const char *cur = s, *end = s + n;
    field name, scopes, hash, f;
    unsigned seen = 0;
    if (!next_field(&cur, end, &name) || !next_field(&cur, end, &scopes) ||
        !next_field(&cur, end, &hash))
        return errbuf_fail(why, WHY_SIZE, MSG_FIELDS);
    if (parse_name(name, tok, why) < 0 || parse_scopes(scopes, tok, why) < 0 ||
        parse_hash(hash, tok, why) < 0)
        return -1;
    while (next_field(&cur, end, &f))
        if (parse_limit(f, tok, &seen, why) < 0)
            return -1;
    if (tok->limits.burst && !tok->limits.rps)
        return errbuf_fail(why, WHY_SIZE, "bad limit \"burst=%d\": burst needs rps",
                           tok->limits.burst);
    if (tok->limits.rps && !tok->limits.burst)
        tok->limits.burst = tok->limits.rps;
    return 0;
}

/* Room for one more token in t; -1 out of memory. */
static int grow(auth_table *t, size_t *cap)
{
    if (t->n < *cap)
        return 0;
    size_t ncap = *cap ? 2 * *cap : 16;
    auth_token *nt = realloc(t->tok, ncap * sizeof(*nt));
    if (!nt)
        return -1;
    t->tok = nt;
    *cap = ncap;
    return 0;
}

static int name_cmp(const void *a, const void *b, void *arg)
{
    const auth_table *t = arg;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    int c = strcmp(t->tok[x].name, t->tok[y].name);
    return c ? c : (x > y) - (x < y);
}

/*
 * The earliest second line of a duplicate name or hash (0 if none), with
 * what is wrong in why. -1 out of memory. t is indexed (by_hash sorted by
 * hash, then file order).
 */
static int find_duplicate(const auth_table *t, char *why)
{
    int at = 0;
    char e[UTF8_ECHO_SIZE];
    for (size_t i = 1; i < t->n; i++) {
        const auth_hash_row *a = &t->by_hash[i - 1], *b = &t->by_hash[i];
        int second = t->tok[b->index].line;
        if (memcmp(a->hash, b->hash, AUTH_HASH_LEN) == 0 && (!at || second < at)) {
            at = second;
            snprintf(why, WHY_SIZE,
                     "duplicate hash (first on line %d): two tokens share one secret",
                     t->tok[a->index].line);
        }
    }
    uint32_t *order = malloc((t->n ? t->n : 1) * sizeof(*order));
    if (!order)
        return -1;
    for (size_t i = 0; i < t->n; i++)
        order[i] = (uint32_t)i;
    qsort_r(order, t->n, sizeof(*order), name_cmp, (void *)t);
    for (size_t i = 1; i < t->n; i++) {
        const auth_token *a = &t->tok[order[i - 1]], *b = &t->tok[order[i]];
        if (strcmp(a->name, b->name) == 0 && (!at || b->line < at)) {
            at = b->line;
            snprintf(why, WHY_SIZE, "duplicate name \"%s\" (first on line %d)",
                     echo(e, b->name, strlen(b->name)), a->line);
        }
    }
    free(order);
    return at;
}

/* Reads lines into t until the first malformed one: returns its number
 * with why set, 0 when every line is good, -1 out of memory. */
static int parse_lines(auth_table *t, const char *text, size_t len, char *why)
{
    size_t cap = 0;
    int line = 0;
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        const char *s = p;
        p = nl ? nl + 1 : end;
        line++;
        if (n > 0 && s[n - 1] == '\r')
            n--;
        if (n > AUTH_LINE_MAX) {
            errbuf_fail(why, WHY_SIZE, "line longer than %d bytes", AUTH_LINE_MAX);
            return line;
        }
        while (n > 0 && is_blank(*s))
            s++, n--;
        if (n == 0 || *s == '#')
            continue;
        if (t->n == AUTH_MAX_TOKENS) {
            errbuf_fail(why, WHY_SIZE, "more than %d tokens", AUTH_MAX_TOKENS);
            return line;
        }
        if (grow(t, &cap) < 0)
            return -1;
        auth_token *tok = &t->tok[t->n];
        memset(tok, 0, sizeof(*tok));
        if (parse_fields(s, n, tok, why) < 0)
            return line;
        tok->index = (uint32_t)t->n;
        tok->line = line;
        t->n++;
    }
    return 0;
}

auth_table *auth_table_parse(const char *text, size_t len, const char *name, char *err,
                             size_t errlen)
{
    char why[WHY_SIZE] = "", dup_why[WHY_SIZE] = "";
    auth_table *t = auth_table_new();
    if (!t) {
        errbuf_fail(err, errlen, "%s: no SHA-256 in OpenSSL, or out of memory", name);
        return NULL;
    }
    int bad = parse_lines(t, text, len, why);
    int dup = bad < 0 || auth_table_index(t) < 0 ? -1 : find_duplicate(t, dup_why);
    if (bad < 0 || dup < 0) {
        errbuf_fail(err, errlen, "%s: out of memory", name);
    } else if (dup > 0 && (bad == 0 || dup < bad)) {
        errbuf_fail(err, errlen, "%s:%d: %s", name, dup, dup_why);
    } else if (bad > 0) {
        errbuf_fail(err, errlen, "%s:%d: %s", name, bad, why);
    } else {
        return t;
    }
    auth_table_free(t);
    return NULL;
}
