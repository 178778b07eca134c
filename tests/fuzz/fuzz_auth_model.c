/*
 * fuzz_auth_model.c - see fuzz_auth_model.h.
 */
#include "fuzz_auth_model.h"
#include "fuzz_check.h"
#include "utf8.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const model_scope_names[5] = {"call", "submit", "read", "cancel", "admin"};

/* ---- the set of byte strings ---- */

void model_set_init(model_set *b, size_t want)
{
    size_t cap = 16;
    while (cap < 2 * want)
        cap <<= 1;
    b->s = calloc(cap, sizeof(*b->s));
    CHECK(b->s);
    b->mask = cap - 1;
}

void model_set_free(model_set *b)
{
    free(b->s);
    b->s = NULL;
}

static model_slot *slot_of(const model_set *b, const void *p, size_t n)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211u;
    for (size_t i = h & b->mask;; i = (i + 1) & b->mask)
        if (!b->s[i].used || (b->s[i].n == n && memcmp(b->s[i].p, p, n) == 0))
            return &b->s[i];
}

int model_set_get(const model_set *b, const void *p, size_t n)
{
    const model_slot *s = slot_of(b, p, n);
    return s->used ? s->v : -1;
}

int model_set_put(model_set *b, const void *p, size_t n, int v)
{
    model_slot *s = slot_of(b, p, n);
    if (s->used)
        return s->v;
    *s = (model_slot){p, n, v, true};
    return -1;
}

/* ---- the model of the tokens file (auth.h) ---- */

bool model_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int say(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(char *why, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, MODEL_ERR_SIZE, fmt, ap);
    va_end(ap);
    return -1;
}

/* File text as messages show it: utf8_echo(), control characters as '?'. */
static const char *shown(char e[UTF8_ECHO_SIZE], model_span s)
{
    utf8_echo(e, s.p, s.n);
    for (char *c = e; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    return e;
}

size_t model_fields(const char *s, size_t n, model_span *f)
{
    size_t nf = 0;
    for (size_t i = 0; i < n;) {
        if (model_blank(s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && !model_blank(s[j]))
            j++;
        f[nf++] = (model_span){s + i, j - i};
        i = j;
    }
    return nf;
}

static int model_scopes(model_span f, model_tok *t, char *why)
{
    char e[UTF8_ECHO_SIZE];
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (j < f.n && f.p[j] != ',')
            j++;
        model_span piece = {f.p + i, j - i};
        unsigned bit = 0;
        for (unsigned k = 0; k < 5; k++)
            if (strlen(model_scope_names[k]) == piece.n &&
                !memcmp(model_scope_names[k], piece.p, piece.n))
                bit = 1u << k;
        if (piece.n == 0)
            return say(why, "empty scope in \"%s\"", shown(e, f));
        if (!bit)
            return say(why, "unknown scope \"%s\" (expected call, submit, read, cancel or admin)",
                       shown(e, piece));
        if (t->scopes & bit)
            return say(why, "duplicate scope \"%s\"", shown(e, piece));
        t->scopes |= bit;
        if (j == f.n)
            return 0;
        i = j + 1;
    }
}

static int model_hash(model_span f, model_tok *t, char *why)
{
    static const char digits[] = "0123456789abcdef";
    bool ok = f.n == AUTH_HASH_HEX_LEN;
    for (size_t i = 0; ok && i < f.n; i++) {
        const char *d = f.p[i] ? strchr(digits, f.p[i]) : NULL;
        ok = d != NULL;
        if (ok)
            t->hash[i / 2] = (unsigned char)(t->hash[i / 2] << 4 | (d - digits));
    }
    if (!ok)
        return say(why, MODEL_HEX_TEXT, f.n);
    return 0;
}

static int model_limit(model_span f, model_tok *t, unsigned *seen, char *why)
{
    static const char *const keys[] = {"max_queued", "rps", "burst"};
    static const int64_t max[] = {AUTH_MAX_QUEUED_MAX, AUTH_RPS_MAX, AUTH_RPS_MAX};
    char e[UTF8_ECHO_SIZE];
    size_t klen = 0;
    while (klen < f.n && f.p[klen] != '=')
        klen++;
    int k = -1;
    for (int i = 0; i < 3; i++)
        if (strlen(keys[i]) == klen && !memcmp(keys[i], f.p, klen))
            k = i;
    if (k < 0)
        return say(why, "unknown limit \"%s\" (expected max_queued, rps or burst)",
                   shown(e, (model_span){f.p, klen}));
    if (*seen & (1u << k))
        return say(why, "duplicate limit %s", keys[k]);
    *seen |= 1u << k;
    int64_t v = 0;
    bool ok = klen + 1 < f.n; /* '=' and a digit at least */
    for (size_t i = klen + 1; ok && i < f.n; i++) {
        ok = f.p[i] >= '0' && f.p[i] <= '9';
        v = ok ? v * 10 + (f.p[i] - '0') : v;
        ok = ok && v <= max[k];
    }
    if (!ok || v < 1)
        return say(why, "bad limit \"%s\": an integer from 1 to %lld", shown(e, f),
                   (long long)max[k]);
    if (k == 0)
        t->lim.max_queued = v;
    else if (k == 1)
        t->lim.rps = (int)v;
    else
        t->lim.burst = (int)v;
    return 0;
}

/* One token line (not blank, not a comment) into t; -1 with why. */
static int model_line(const char *s, size_t n, model_tok *t, char *why)
{
    model_span f[MODEL_FIELDS_MAX];
    char e[UTF8_ECHO_SIZE];
    size_t nf = model_fields(s, n, f);
    if (nf < 3)
        return say(why, "expected NAME SCOPES SHA256HEX [key=value ...]");
    bool ok = f[0].n >= 1 && f[0].n <= AUTH_NAME_MAX;
    for (size_t i = 0; ok && i < f[0].n; i++) {
        char c = f[0].p[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    }
    if (!ok)
        return say(why, "bad name \"%s\": 1 to 64 letters, digits, '.', '_' or '-'",
                   shown(e, f[0]));
    t->name = f[0];
    if (model_scopes(f[1], t, why) < 0 || model_hash(f[2], t, why) < 0)
        return -1;
    unsigned seen = 0;
    for (size_t i = 3; i < nf; i++)
        if (model_limit(f[i], t, &seen, why) < 0)
            return -1;
    if (t->lim.burst && !t->lim.rps)
        return say(why, "bad limit \"burst=%d\": burst needs rps", t->lim.burst);
    if (!t->lim.burst)
        t->lim.burst = t->lim.rps;
    return 0;
}

size_t model_lines(const char *text, size_t len)
{
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    return n;
}

/* Stops at the first bad line or duplicate. */
void model_parse(model *m, const char *text, size_t len)
{
    char why[MODEL_ERR_SIZE], e[UTF8_ECHO_SIZE];
    model_set names, hashes;
    size_t lines = model_lines(text, len);
    *m = (model){.tok = calloc(lines, sizeof(model_tok))};
    CHECK(m->tok);
    model_set_init(&names, lines);
    model_set_init(&hashes, lines);
    int line = 0;
    for (size_t at = 0; at < len && !m->bad;) {
        const char *s = text + at, *nl = memchr(s, '\n', len - at);
        size_t n = nl ? (size_t)(nl - s) : len - at;
        at += n + 1;
        line++;
        if (n > 0 && s[n - 1] == '\r')
            n--;
        int rc = 0;
        model_tok *t = &m->tok[m->n];
        if (n > AUTH_LINE_MAX)
            rc = say(why, "line longer than %d bytes", AUTH_LINE_MAX);
        while (rc == 0 && n > 0 && model_blank(*s))
            s++, n--;
        if (rc == 0 && (n == 0 || *s == '#'))
            continue;
        if (rc == 0 && m->n == AUTH_MAX_TOKENS)
            rc = say(why, "more than %d tokens", AUTH_MAX_TOKENS);
        if (rc == 0)
            rc = model_line(s, n, t, why);
        int first;
        if (rc == 0 && (first = model_set_put(&hashes, t->hash, AUTH_HASH_LEN, line)) > 0)
            rc = say(why, "duplicate hash (first on line %d): two tokens share one secret", first);
        if (rc == 0 && (first = model_set_put(&names, t->name.p, t->name.n, line)) > 0)
            rc = say(why, "duplicate name \"%s\" (first on line %d)", shown(e, t->name), first);
        if (rc < 0) {
            m->bad = line;
            snprintf(m->msg, sizeof(m->msg), "%s:%d: %s", MODEL_FILE, line, why);
        } else {
            t->line = line;
            m->n++;
        }
    }
    model_set_free(&names);
    model_set_free(&hashes);
}

void model_free(model *m)
{
    free(m->tok);
    m->tok = NULL;
}
