/*
 * auth.c - the table of tokens and its lookups (auth.h); the tokens file's
 * syntax is auth_parse.c.
 */
#include "auth_int.h"
#include "errbuf.h"
#include "wire.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define AUTH_READ_CHUNK 65536

static const char *const scope_names[] = {"call", "submit", "read", "cancel", "admin"};
_Static_assert(sizeof(scope_names) / sizeof(scope_names[0]) == 5, "one name per scope bit");
_Static_assert(AUTH_SCOPE_ALL == (1u << 5) - 1, "AUTH_SCOPE_ALL covers every scope");

auth_table *auth_table_new(void)
{
    auth_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!t->md) {
        free(t);
        return NULL;
    }
    return t;
}

void auth_table_free(auth_table *t)
{
    if (!t)
        return;
    EVP_MD_free(t->md);
    free(t->by_hash);
    free(t->tok);
    free(t);
}

static int row_cmp(const void *a, const void *b)
{
    const auth_hash_row *x = a, *y = b;
    int c = memcmp(x->hash, y->hash, AUTH_HASH_LEN);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

int auth_table_index(auth_table *t)
{
    if (t->n == 0)
        return 0;
    t->by_hash = calloc(t->n, sizeof(*t->by_hash));
    if (!t->by_hash)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        memcpy(t->by_hash[i].hash, t->tok[i].hash, AUTH_HASH_LEN);
        t->by_hash[i].index = (uint32_t)i;
    }
    qsort(t->by_hash, t->n, sizeof(*t->by_hash), row_cmp);
    return 0;
}

size_t auth_table_count(const auth_table *t)
{
    return t ? t->n : 0;
}

const auth_token *auth_table_token(const auth_table *t, size_t i)
{
    return t && i < t->n ? &t->tok[i] : NULL;
}

/*
 * The last row whose hash is <= h, by a binary search that always takes
 * ceil(log2 n) steps (it narrows by halves and never stops early), so the
 * work does not depend on whether h is there. memcmp's early exit there
 * only tells how h orders against stored hashes, and h is a SHA-256 the
 * client cannot aim; the one comparison that decides is CRYPTO_memcmp's.
 */
static const auth_hash_row *nearest_row(const auth_table *t, const unsigned char *h)
{
    const auth_hash_row *rows = t->by_hash;
    size_t lo = 0, n = t->n;
    while (n > 1) {
        size_t half = n / 2;
        if (memcmp(rows[lo + half].hash, h, AUTH_HASH_LEN) <= 0)
            lo += half;
        n -= half;
    }
    return &rows[lo];
}

const auth_token *auth_table_lookup(const auth_table *t, const char *secret, size_t len)
{
    static const unsigned char nothing[AUTH_HASH_LEN]; /* stands in for an empty table */
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hlen = 0;
    if (!t || EVP_Digest(secret ? secret : "", secret ? len : 0, h, &hlen, t->md, NULL) != 1 ||
        hlen != AUTH_HASH_LEN)
        return NULL;
    if (t->n == 0) {
        (void)CRYPTO_memcmp(nothing, h, AUTH_HASH_LEN); /* the same work as a miss */
        return NULL;
    }
    const auth_hash_row *row = nearest_row(t, h);
    bool same = CRYPTO_memcmp(row->hash, h, AUTH_HASH_LEN) == 0;
    return same ? &t->tok[row->index] : NULL;
}

const char *auth_token_name(const auth_token *tok)
{
    return tok->name;
}

unsigned auth_token_scopes(const auth_token *tok)
{
    return tok->scopes;
}

bool auth_token_allows(const auth_token *tok, auth_scope scope)
{
    return (tok->scopes & (unsigned)scope) == (unsigned)scope && scope != 0;
}

auth_limits auth_token_limits(const auth_token *tok)
{
    return tok->limits;
}

size_t auth_token_index(const auth_token *tok)
{
    return tok->index;
}

int auth_token_line(const auth_token *tok)
{
    return tok->line;
}

const char *auth_scope_name(auth_scope scope)
{
    for (size_t i = 0; i < sizeof(scope_names) / sizeof(scope_names[0]); i++)
        if ((unsigned)scope == 1u << i)
            return scope_names[i];
    return NULL;
}

void auth_scopes_format(unsigned scopes, char *out, size_t outlen)
{
    size_t used = 0;
    if (outlen == 0)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(scope_names) / sizeof(scope_names[0]); i++) {
        if (!(scopes & (1u << i)))
            continue;
        size_t w = strlen(scope_names[i]) + (used ? 1 : 0);
        if (used + w >= outlen)
            return; /* cut between names */
        snprintf(out + used, outlen - used, "%s%s", used ? "," : "", scope_names[i]);
        used += w;
    }
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 6750 b64token, without the trailing '='s. */
static bool is_b64token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

int auth_bearer_parse(const char *value, size_t len, const char **secret, size_t *secret_len)
{
    static const char scheme[] = AUTH_SCHEME_BEARER;
    const size_t slen = sizeof(scheme) - 1;
    size_t i = 0, end = len;
    while (i < end && is_blank(value[i]))
        i++;
    while (end > i && is_blank(value[end - 1]))
        end--;
    if (end - i <= slen || strncasecmp(value + i, scheme, slen) != 0 || value[i + slen] != ' ')
        return -1;
    i += slen;
    while (i < end && value[i] == ' ')
        i++;
    size_t start = i;
    while (i < end && is_b64token_char(value[i]))
        i++;
    if (i == start)
        return -1;
    while (i < end && value[i] == '=')
        i++;
    if (i != end)
        return -1;
    *secret = value + start;
    *secret_len = end - start;
    return 0;
}

int auth_hash_hex(const char *secret, size_t len, char hex[AUTH_HASH_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hlen = 0;
    if (EVP_Digest(secret, len, h, &hlen, EVP_sha256(), NULL) != 1 || hlen != AUTH_HASH_LEN)
        return -1;
    for (size_t i = 0; i < AUTH_HASH_LEN; i++) {
        hex[2 * i] = digits[h[i] >> 4];
        hex[2 * i + 1] = digits[h[i] & 15];
    }
    hex[AUTH_HASH_HEX_LEN] = '\0';
    return 0;
}

/* Reads all of f (at most AUTH_FILE_MAX bytes) into a new buffer. Returns
 * it with *len set, or NULL with err set. */
static char *read_all(FILE *f, const char *path, size_t *len, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < AUTH_READ_CHUNK) {
            char *nb = realloc(buf, cap + AUTH_READ_CHUNK);
            if (!nb) {
                free(buf);
                errbuf_fail(err, errlen, "%s: out of memory", path);
                return NULL;
            }
            buf = nb;
            cap += AUTH_READ_CHUNK;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n > AUTH_FILE_MAX) {
            free(buf);
            errbuf_fail(err, errlen, "%s: larger than %d bytes", path, AUTH_FILE_MAX);
            return NULL;
        }
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        errbuf_fail(err, errlen, "%s: read() failed: %s", path, strerror(errno));
        return NULL;
    }
    *len = n;
    return buf;
}

auth_table *auth_table_load(const char *path, char *err, size_t errlen)
{
    struct stat st;
    auth_table *t = NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "re");
    if (!f) {
        errbuf_fail(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) < 0) {
        errbuf_fail(err, errlen, "%s: fstat() failed: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        errbuf_fail(err, errlen, "%s: not a regular file", path);
        goto done;
    }
    if (st.st_mode & S_IWOTH) {
        errbuf_fail(err, errlen, "%s: writable by every user (chmod o-w %s)", path, path);
        goto done;
    }
    text = read_all(f, path, &len, err, errlen);
    if (text)
        t = auth_table_parse(text, len, path, err, errlen);
done:
    free(text);
    fclose(f);
    return t;
}
