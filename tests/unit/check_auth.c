/*
 * check_auth.c - unit tests for common/auth.c and auth_parse.c: the tokens
 * file (every error, exact message and line), lookups, the constant-time
 * compare, Bearer headers.
 *
 * The compare is checked where it is made: this program is linked with
 * -Wl,--wrap=CRYPTO_memcmp, so every CRYPTO_memcmp() of the library comes
 * here first and is counted. A lookup must decide with exactly one
 * CRYPTO_memcmp of a whole SHA-256, whether the secret is right or wrong
 * and however many tokens there are: no early exit, no linear scan.
 */
#include "auth.h"
#include "utf8.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define HA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HB "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HC "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define SHA256_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- the wrapped compare ---- */

int __real_CRYPTO_memcmp(const void *a, const void *b, size_t len);
int __wrap_CRYPTO_memcmp(const void *a, const void *b, size_t len);

static int ct_calls;
static size_t ct_len;

int __wrap_CRYPTO_memcmp(const void *a, const void *b, size_t len)
{
    ct_calls++;
    ct_len = len;
    return __real_CRYPTO_memcmp(a, b, len);
}

/* ---- helpers ---- */

static auth_table *must_parse(const char *text)
{
    char err[512] = "";
    auth_table *t = auth_table_parse(text, strlen(text), "t", err, sizeof(err));
    ck_assert_msg(t != NULL, "auth_table_parse(%s) failed: %s", text, err);
    return t;
}

static void must_refuse(const char *text, size_t len, const char *want)
{
    char err[512] = "";
    auth_table *t = auth_table_parse(text, len, "t", err, sizeof(err));
    ck_assert_msg(t == NULL, "auth_table_parse(%s) succeeded, want \"%s\"", text, want);
    ck_assert_msg(strcmp(err, want) == 0, "auth_table_parse(%s):\n got \"%s\"\nwant \"%s\"", text,
                  err, want);
}

/* "NAME SCOPES HASH(secret)" */
static void token_line(char *out, size_t outlen, const char *name, const char *scopes,
                       const char *secret)
{
    char hex[AUTH_HASH_HEX_LEN + 1];
    ck_assert_int_eq(auth_hash_hex(secret, strlen(secret), hex), 0);
    snprintf(out, outlen, "%s %s %s", name, scopes, hex);
}

static const auth_token *lookup(const auth_table *t, const char *secret)
{
    return auth_table_lookup(t, secret, strlen(secret));
}

/* ---- parsing ---- */

START_TEST(test_hash_hex)
{
    char hex[AUTH_HASH_HEX_LEN + 1];
    ck_assert_int_eq(auth_hash_hex("abc", 3, hex), 0);
    ck_assert_str_eq(hex, SHA256_ABC);
    ck_assert_int_eq(auth_hash_hex("", 0, hex), 0);
    ck_assert_str_eq(hex, SHA256_EMPTY);
}
END_TEST

START_TEST(test_parse_ok)
{
    const char *text = "# tokens of crunchd\n"
                       "\n"
                       "   # an indented comment\n"
                       "ci call,submit,read " HA "\n"
                       "   \t\n"
                       "ops\tadmin,read,cancel\t" HB "  max_queued=100 rps=50 burst=80\r\n"
                       "batch.job-1_x submit " HC " rps=7"; /* no newline at the end */
    auth_table *t = must_parse(text);
    ck_assert_uint_eq(auth_table_count(t), 3);

    const auth_token *ci = auth_table_token(t, 0);
    ck_assert_str_eq(auth_token_name(ci), "ci");
    ck_assert_uint_eq(auth_token_scopes(ci), AUTH_SCOPE_CALL | AUTH_SCOPE_SUBMIT | AUTH_SCOPE_READ);
    ck_assert(auth_token_allows(ci, AUTH_SCOPE_READ));
    ck_assert(!auth_token_allows(ci, AUTH_SCOPE_ADMIN));
    ck_assert(!auth_token_allows(ci, AUTH_SCOPE_CANCEL));
    ck_assert_int_eq(auth_token_line(ci), 4);
    ck_assert_uint_eq(auth_token_index(ci), 0);
    auth_limits lim = auth_token_limits(ci);
    ck_assert_int_eq(lim.max_queued, 0);
    ck_assert_int_eq(lim.rps, 0);
    ck_assert_int_eq(lim.burst, 0);

    const auth_token *ops = auth_table_token(t, 1);
    ck_assert_str_eq(auth_token_name(ops), "ops");
    ck_assert_uint_eq(auth_token_scopes(ops),
                      AUTH_SCOPE_ADMIN | AUTH_SCOPE_READ | AUTH_SCOPE_CANCEL);
    ck_assert_int_eq(auth_token_line(ops), 6);
    lim = auth_token_limits(ops);
    ck_assert_int_eq(lim.max_queued, 100);
    ck_assert_int_eq(lim.rps, 50);
    ck_assert_int_eq(lim.burst, 80);

    const auth_token *batch = auth_table_token(t, 2);
    ck_assert_str_eq(auth_token_name(batch), "batch.job-1_x");
    ck_assert_int_eq(auth_token_line(batch), 7);
    ck_assert_uint_eq(auth_token_index(batch), 2);
    lim = auth_token_limits(batch);
    ck_assert_int_eq(lim.rps, 7);
    ck_assert_int_eq(lim.burst, 7); /* burst defaults to rps */

    ck_assert_ptr_null(auth_table_token(t, 3));
    auth_table_free(t);
}
END_TEST

START_TEST(test_parse_empty)
{
    auth_table *t = must_parse("");
    ck_assert_uint_eq(auth_table_count(t), 0);
    auth_table_free(t);
    t = must_parse("# nothing but comments\n\n#\n");
    ck_assert_uint_eq(auth_table_count(t), 0);
    ck_assert_ptr_null(auth_table_token(t, 0));
    auth_table_free(t);
    auth_table_free(NULL);
    ck_assert_uint_eq(auth_table_count(NULL), 0);
}
END_TEST

START_TEST(test_parse_limits_at_bounds)
{
    auth_table *t = must_parse("a call " HA " max_queued=100000000 rps=1000000 burst=1\n"
                               "b call " HB " max_queued=1 rps=1 burst=1000000\n"
                               "c call " HC " rps=007\n");
    auth_limits a = auth_token_limits(auth_table_token(t, 0));
    auth_limits b = auth_token_limits(auth_table_token(t, 1));
    auth_limits c = auth_token_limits(auth_table_token(t, 2));
    ck_assert_int_eq(a.max_queued, AUTH_MAX_QUEUED_MAX);
    ck_assert_int_eq(a.rps, AUTH_RPS_MAX);
    ck_assert_int_eq(a.burst, 1);
    ck_assert_int_eq(b.max_queued, 1);
    ck_assert_int_eq(b.rps, 1);
    ck_assert_int_eq(b.burst, AUTH_RPS_MAX);
    ck_assert_int_eq(c.rps, 7);
    auth_table_free(t);
}
END_TEST

typedef struct err_case {
    const char *text;
    const char *want;
} err_case;

#define MSG_SCOPE "(expected call, submit, read, cancel or admin)"
#define MSG_LIMIT "(expected max_queued, rps or burst)"
#define MSG_HEX(n)                                                                                 \
    "bad hex: SHA256HEX must be 64 lowercase hex digits (the SHA-256 of the secret, not the "      \
    "secret), got " #n " characters"

static const err_case parse_errors[] = {
    {"ci\n", "t:1: expected NAME SCOPES SHA256HEX [key=value ...]"},
    {"ci call\n", "t:1: expected NAME SCOPES SHA256HEX [key=value ...]"},
    {"# ok\n\nci call\n", "t:3: expected NAME SCOPES SHA256HEX [key=value ...]"},
    {"ci call " HA "\n\r\nx\r\n", "t:3: expected NAME SCOPES SHA256HEX [key=value ...]"},
    {"c/i call " HA, "t:1: bad name \"c/i\": 1 to 64 letters, digits, '.', '_' or '-'"},
    {"c\x01i call " HA, "t:1: bad name \"c?i\": 1 to 64 letters, digits, '.', '_' or '-'"},
    {"Ω call " HA, "t:1: bad name \"Ω\": 1 to 64 letters, digits, '.', '_' or '-'"},
    {"ci wirte " HA, "t:1: unknown scope \"wirte\" " MSG_SCOPE},
    {"ci call,Read " HA, "t:1: unknown scope \"Read\" " MSG_SCOPE},
    {"ci call,,read " HA, "t:1: empty scope in \"call,,read\""},
    {"ci call, " HA, "t:1: empty scope in \"call,\""},
    {"ci ,call " HA, "t:1: empty scope in \",call\""},
    {"ci read,call,read " HA, "t:1: duplicate scope \"read\""},
    {"ci call " HA "a", "t:1: " MSG_HEX(65)},
    {"ci call aaa", "t:1: " MSG_HEX(3)},
    {"ci call BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
     "t:1: " MSG_HEX(64)},
    {"ci call ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ag",
     "t:1: " MSG_HEX(64)},
    {"ci call crunchd_qY8S-HhAbXLg4E5Od1M8zj7w0fXvXKu9vpQJZOlnvYg", "t:1: " MSG_HEX(51)},
    {"ci call " HA " foo=1", "t:1: unknown limit \"foo\" " MSG_LIMIT},
    {"ci call " HA " #", "t:1: unknown limit \"#\" " MSG_LIMIT},
    {"ci call " HA " RPS=1", "t:1: unknown limit \"RPS\" " MSG_LIMIT},
    {"ci call " HA " rps", "t:1: bad limit \"rps\": an integer from 1 to 1000000"},
    {"ci call " HA " rps=", "t:1: bad limit \"rps=\": an integer from 1 to 1000000"},
    {"ci call " HA " rps=0", "t:1: bad limit \"rps=0\": an integer from 1 to 1000000"},
    {"ci call " HA " rps=-1", "t:1: bad limit \"rps=-1\": an integer from 1 to 1000000"},
    {"ci call " HA " rps=+1", "t:1: bad limit \"rps=+1\": an integer from 1 to 1000000"},
    {"ci call " HA " rps=1.5", "t:1: bad limit \"rps=1.5\": an integer from 1 to 1000000"},
    {"ci call " HA " rps=1000001", "t:1: bad limit \"rps=1000001\": an integer from 1 to 1000000"},
    {"ci call " HA " rps=99999999999999999999999",
     "t:1: bad limit \"rps=99999999999999999999999\": an integer from 1 to 1000000"},
    {"ci call " HA " burst=0", "t:1: bad limit \"burst=0\": an integer from 1 to 1000000"},
    {"ci call " HA " max_queued=100000001",
     "t:1: bad limit \"max_queued=100000001\": an integer from 1 to 100000000"},
    {"ci call " HA " rps=5 rps=6", "t:1: duplicate limit rps"},
    {"ci call " HA " burst=5", "t:1: bad limit \"burst=5\": burst needs rps"},
    /* duplicates: reported at the second line, naming the first */
    {"a call " HA "\nb call " HB "\na read " HC "\n",
     "t:3: duplicate name \"a\" (first on line 1)"},
    {"a call " HA "\nb call " HA "\n",
     "t:2: duplicate hash (first on line 1): two tokens share one secret"},
    {"a call " HA "\nb call " HB "\nc call " HA "\nd call " HA "\n",
     "t:3: duplicate hash (first on line 1): two tokens share one secret"},
    /* the first bad line in the file wins, whatever kind of fault it is */
    {"a call " HA "\nb call " HB "\na call " HC "\nbad\n",
     "t:3: duplicate name \"a\" (first on line 1)"},
    {"a call " HA "\nbad\na call " HC "\n", "t:2: expected NAME SCOPES SHA256HEX [key=value ...]"},
    {"a call " HA "\nb call " HA "\n\nb call " HB "\n",
     "t:2: duplicate hash (first on line 1): two tokens share one secret"},
    {"a call " HA "\nb call " HB "\n\nb call " HC "\nc call " HA "\n",
     "t:4: duplicate name \"b\" (first on line 2)"},
};

START_TEST(test_parse_error)
{
    must_refuse(parse_errors[_i].text, strlen(parse_errors[_i].text), parse_errors[_i].want);
}
END_TEST

/* A secret pasted where its hash belongs never reaches the message. */
START_TEST(test_parse_error_hides_secret)
{
    char err[512];
    const char *text = "ci call my-very-secret-token-value-1234567890";
    ck_assert_ptr_null(auth_table_parse(text, strlen(text), "t", err, sizeof(err)));
    ck_assert_msg(strstr(err, "my-very") == NULL, "the secret is in the message: %s", err);
}
END_TEST

START_TEST(test_parse_long_name)
{
    char name[AUTH_NAME_MAX + 2], text[256], want[256];
    memset(name, 'n', sizeof(name) - 1);
    name[AUTH_NAME_MAX] = '\0'; /* 64: fits */
    snprintf(text, sizeof(text), "%s call " HA, name);
    auth_table *t = must_parse(text);
    ck_assert_str_eq(auth_token_name(auth_table_token(t, 0)), name);
    auth_table_free(t);
    name[AUTH_NAME_MAX] = 'n'; /* 65 */
    name[AUTH_NAME_MAX + 1] = '\0';
    snprintf(text, sizeof(text), "%s call " HA, name);
    name[UTF8_ECHO_MAX] = '\0';
    snprintf(want, sizeof(want),
             "t:1: bad name \"%s...\": 1 to 64 letters, digits, '.', '_' or '-'", name);
    must_refuse(text, strlen(text), want);
}
END_TEST

START_TEST(test_parse_long_line)
{
    static char text[AUTH_LINE_MAX + 128];
    memset(text, ' ', sizeof(text));
    memcpy(text, "# ", 2);
    text[AUTH_LINE_MAX] = '\n'; /* a comment of exactly 1024 bytes: fine */
    memcpy(text + AUTH_LINE_MAX + 1, "a call " HA "\n", 8 + AUTH_HASH_HEX_LEN);
    text[AUTH_LINE_MAX + 9 + AUTH_HASH_HEX_LEN] = '\0';
    auth_table *t = must_parse(text);
    ck_assert_uint_eq(auth_table_count(t), 1);
    ck_assert_int_eq(auth_token_line(auth_table_token(t, 0)), 2);
    auth_table_free(t);
    text[AUTH_LINE_MAX] = ' '; /* 1025 bytes and more on line 1 */
    must_refuse(text, strlen(text), "t:1: line longer than 1024 bytes");
}
END_TEST

/* A NUL byte is just a bad character, not the end of the text. */
START_TEST(test_parse_nul)
{
    static const char text[] = "a call " HA "\nb\0c call " HB "\n";
    must_refuse(text, sizeof(text) - 1,
                "t:2: bad name \"b?c\": 1 to 64 letters, digits, '.', '_' or '-'");
}
END_TEST

/* AUTH_MAX_TOKENS fit; one more is an error at its line. Also: a big
 * table still decides a lookup with one compare. */
START_TEST(test_parse_max_tokens)
{
    const size_t line_len = 80;
    size_t cap = (AUTH_MAX_TOKENS + 1) * line_len + 1, used = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    for (int i = 0; i < AUTH_MAX_TOKENS; i++)
        used += (size_t)snprintf(text + used, cap - used, "t%d call %064x\n", i, i);
    auth_table *t = must_parse(text);
    ck_assert_uint_eq(auth_table_count(t), AUTH_MAX_TOKENS);
    ct_calls = 0;
    ck_assert_ptr_null(lookup(t, "nothing"));
    ck_assert_int_eq(ct_calls, 1);
    auth_table_free(t);
    snprintf(text + used, cap - used, "one-more call %064x\n", AUTH_MAX_TOKENS);
    must_refuse(text, strlen(text), "t:65537: more than 65536 tokens");
    free(text);
}
END_TEST

/* ---- lookups ---- */

static auth_table *three_tokens(void)
{
    char a[200], b[200], c[200], text[700];
    token_line(a, sizeof(a), "alice", "call,read", "secret-of-alice");
    token_line(b, sizeof(b), "bob", "submit", "secret-of-bob");
    token_line(c, sizeof(c), "carol", "admin", "crunchd_x");
    snprintf(text, sizeof(text), "%s\n%s rps=3\n%s\n", a, b, c);
    return must_parse(text);
}

START_TEST(test_lookup)
{
    auth_table *t = three_tokens();
    const auth_token *tok = lookup(t, "secret-of-alice");
    ck_assert_ptr_nonnull(tok);
    ck_assert_str_eq(auth_token_name(tok), "alice");
    ck_assert_ptr_eq(tok, auth_table_token(t, 0));
    tok = lookup(t, "secret-of-bob");
    ck_assert_ptr_nonnull(tok);
    ck_assert_str_eq(auth_token_name(tok), "bob");
    ck_assert_int_eq(auth_token_limits(tok).rps, 3);
    tok = lookup(t, "crunchd_x");
    ck_assert_ptr_nonnull(tok);
    ck_assert_str_eq(auth_token_name(tok), "carol");

    ck_assert_ptr_null(lookup(t, "secret-of-eve"));
    ck_assert_ptr_null(lookup(t, "secret-of-alic"));   /* a prefix */
    ck_assert_ptr_null(lookup(t, "secret-of-alice ")); /* longer */
    ck_assert_ptr_null(lookup(t, "Secret-of-alice"));
    ck_assert_ptr_null(lookup(t, ""));
    ck_assert_ptr_null(auth_table_lookup(t, NULL, 0));
    /* The length counts, not the NUL. */
    ck_assert_ptr_null(auth_table_lookup(t, "secret-of-alice", 14));
    ck_assert_ptr_nonnull(auth_table_lookup(t, "secret-of-alicexyz", 15));
    /* The hash is never a secret: a hash presented as a secret is wrong. */
    char hex[AUTH_HASH_HEX_LEN + 1];
    auth_hash_hex("secret-of-alice", 15, hex);
    ck_assert_ptr_null(lookup(t, hex));
    ck_assert_ptr_null(lookup(NULL, "secret-of-alice"));
    auth_table_free(t);
}
END_TEST

/* Every lookup, right or wrong, on any table, compares one whole hash. */
START_TEST(test_lookup_constant_time_compare)
{
    auth_table *t = three_tokens();
    const char *secrets[] = {"secret-of-alice", "secret-of-bob", "crunchd_x", "wrong", "",
                             "secret-of-alicf"};
    for (size_t i = 0; i < NELEM(secrets); i++) {
        ct_calls = 0;
        ct_len = 0;
        (void)lookup(t, secrets[i]);
        ck_assert_msg(ct_calls == 1, "lookup of \"%s\": %d CRYPTO_memcmp calls, want 1", secrets[i],
                      ct_calls);
        ck_assert_uint_eq(ct_len, AUTH_HASH_LEN);
    }
    auth_table_free(t);

    /* An empty table costs the same compare (against nothing). */
    t = must_parse("# none\n");
    ct_calls = 0;
    ck_assert_ptr_null(lookup(t, "secret-of-alice"));
    ck_assert_int_eq(ct_calls, 1);
    ck_assert_uint_eq(ct_len, AUTH_HASH_LEN);
    auth_table_free(t);
}
END_TEST

/* Whatever the table's size, each of its tokens is found with one compare
 * (the search is over sorted hashes, the same steps for every secret). */
START_TEST(test_lookup_each_size)
{
    for (int n = 1; n <= 17; n++) {
        char *text = calloc((size_t)n, 200);
        size_t used = 0;
        ck_assert_ptr_nonnull(text);
        for (int i = 0; i < n; i++) {
            char secret[32], line[200];
            snprintf(secret, sizeof(secret), "s%d", i);
            token_line(line, sizeof(line), secret, "read", secret); /* named as its secret */
            used += (size_t)sprintf(text + used, "%s\n", line);
        }
        auth_table *t = must_parse(text);
        for (int i = 0; i < n; i++) {
            char secret[32];
            snprintf(secret, sizeof(secret), "s%d", i);
            ct_calls = 0;
            const auth_token *tok = lookup(t, secret);
            ck_assert_msg(tok && strcmp(auth_token_name(tok), secret) == 0,
                          "table of %d: %s not found", n, secret);
            ck_assert_int_eq(ct_calls, 1);
        }
        ck_assert_ptr_null(lookup(t, "s-none"));
        auth_table_free(t);
        free(text);
    }
}
END_TEST

/* ---- files ---- */

static char tmpdir[64];

static const char *write_tokens(const char *name, const char *text, mode_t mode)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "we");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

START_TEST(test_load_file)
{
    char err[512], want[512];
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_auth.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));

    const char *path = write_tokens("tokens", "# comment\nci call " HA "\n", 0644);
    auth_table *t = auth_table_load(path, err, sizeof(err));
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert_uint_eq(auth_table_count(t), 1);
    auth_table_free(t);

    path = write_tokens("bad", "# comment\nci call,frob " HA "\n", 0600);
    ck_assert_ptr_null(auth_table_load(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s:2: unknown scope \"frob\" " MSG_SCOPE, path);
    ck_assert_str_eq(err, want);

    path = write_tokens("open", "ci call " HA "\n", 0666);
    ck_assert_ptr_null(auth_table_load(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: writable by every user (chmod o-w %s)", path, path);
    ck_assert_str_eq(err, want);

    snprintf(want, sizeof(want), "%s/missing", tmpdir);
    ck_assert_ptr_null(auth_table_load(want, err, sizeof(err)));
    strcat(want, ": No such file or directory");
    ck_assert_str_eq(err, want);

    ck_assert_ptr_null(auth_table_load(tmpdir, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: not a regular file", tmpdir);
    ck_assert_str_eq(err, want);

    /* Larger than AUTH_FILE_MAX: refused, not read whole (a sparse file). */
    path = write_tokens("huge", "", 0644);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, AUTH_FILE_MAX + 1), 0);
    close(fd);
    ck_assert_ptr_null(auth_table_load(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: larger than 16777216 bytes", path);
    ck_assert_str_eq(err, want);

    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- scopes and Bearer ---- */

START_TEST(test_scope_names)
{
    char out[AUTH_SCOPES_TEXT_MAX];
    ck_assert_str_eq(auth_scope_name(AUTH_SCOPE_CALL), "call");
    ck_assert_str_eq(auth_scope_name(AUTH_SCOPE_SUBMIT), "submit");
    ck_assert_str_eq(auth_scope_name(AUTH_SCOPE_READ), "read");
    ck_assert_str_eq(auth_scope_name(AUTH_SCOPE_CANCEL), "cancel");
    ck_assert_str_eq(auth_scope_name(AUTH_SCOPE_ADMIN), "admin");
    ck_assert_ptr_null(auth_scope_name((auth_scope)0));
    ck_assert_ptr_null(auth_scope_name((auth_scope)(AUTH_SCOPE_CALL | AUTH_SCOPE_READ)));
    ck_assert_ptr_null(auth_scope_name((auth_scope)(1u << 5)));
    auth_scopes_format(AUTH_SCOPE_ALL, out, sizeof(out));
    ck_assert_str_eq(out, "call,submit,read,cancel,admin");
    auth_scopes_format(AUTH_SCOPE_ADMIN | AUTH_SCOPE_CALL, out, sizeof(out));
    ck_assert_str_eq(out, "call,admin");
    auth_scopes_format(0, out, sizeof(out));
    ck_assert_str_eq(out, "");
    auth_scopes_format(AUTH_SCOPE_ALL, out, 8); /* cut between names, terminated */
    ck_assert_str_eq(out, "call");

    auth_table *t = must_parse("a read " HA);
    const auth_token *tok = auth_table_token(t, 0);
    ck_assert(!auth_token_allows(tok, (auth_scope)0));
    ck_assert(!auth_token_allows(tok, (auth_scope)(AUTH_SCOPE_READ | AUTH_SCOPE_CALL)));
    ck_assert(auth_token_allows(tok, AUTH_SCOPE_READ));
    auth_table_free(t);
}
END_TEST

typedef struct bearer_case {
    const char *value;
    const char *secret; /* NULL: refused */
} bearer_case;

static const bearer_case bearer_cases[] = {
    {"Bearer abc", "abc"},
    {"bearer abc", "abc"},
    {"BEARER abc", "abc"},
    {"Bearer    abc", "abc"},
    {"  Bearer abc \t", "abc"},
    {"Bearer crunchd_qY8S-HhAbXLg4E5Od1M8zj7w0fXvXKu9vpQJZOlnvYg",
     "crunchd_qY8S-HhAbXLg4E5Od1M8zj7w0fXvXKu9vpQJZOlnvYg"},
    {"Bearer a-b.c_d~e+f/g==", "a-b.c_d~e+f/g=="},
    {"Bearer ==", NULL},
    {"", NULL},
    {"Bearer", NULL},
    {"Bearer ", NULL},
    {"Bearerabc", NULL},
    {"Bearer\tabc", NULL},
    {"Basic YWxhZGRpbjpvcGVuc2VzYW1l", NULL},
    {"Bearer a b", NULL},
    {"Bearer a=b", NULL},
    {"Bearer a,b", NULL},
    {"Bearer \"abc\"", NULL},
    {"Bearer \xc3\xa4", NULL},
    {"Token abc", NULL},
};

START_TEST(test_bearer)
{
    const bearer_case *c = &bearer_cases[_i];
    const char *secret = NULL;
    size_t len = 0;
    int rc = auth_bearer_parse(c->value, strlen(c->value), &secret, &len);
    if (!c->secret) {
        ck_assert_msg(rc == -1, "\"%s\" accepted as \"%.*s\"", c->value, (int)len, secret);
        return;
    }
    ck_assert_msg(rc == 0, "\"%s\" refused", c->value);
    ck_assert_uint_eq(len, strlen(c->secret));
    ck_assert(memcmp(secret, c->secret, len) == 0);
    ck_assert(secret >= c->value && secret + len <= c->value + strlen(c->value));
}
END_TEST

static Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("parse");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hash_hex);
    tcase_add_test(tc, test_parse_ok);
    tcase_add_test(tc, test_parse_empty);
    tcase_add_test(tc, test_parse_limits_at_bounds);
    tcase_add_loop_test(tc, test_parse_error, 0, (int)NELEM(parse_errors));
    tcase_add_test(tc, test_parse_error_hides_secret);
    tcase_add_test(tc, test_parse_long_name);
    tcase_add_test(tc, test_parse_long_line);
    tcase_add_test(tc, test_parse_nul);
    tcase_add_test(tc, test_parse_max_tokens);
    tcase_add_test(tc, test_load_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("lookup");
    tcase_add_test(tc, test_lookup);
    tcase_add_test(tc, test_lookup_constant_time_compare);
    tcase_add_test(tc, test_lookup_each_size);
    tcase_add_test(tc, test_scope_names);
    tcase_add_loop_test(tc, test_bearer, 0, (int)NELEM(bearer_cases));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(auth_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
