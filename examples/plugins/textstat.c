/*
 * textstat.c - an example crunchd plugin: statistics of a text.
 *
 *   POST /v1/fn/text_stats {"text": "the cat and the hat\n", "top": 2}
 *   -> {"result": {"bytes": 20, "chars": 20, "lines": 1, "words": 5, "unique_words": 4,
 *                  "top": [{"word": "the", "count": 2}, {"word": "and", "count": 1}]}, ...}
 *
 * A word is a run of letters, digits, apostrophes and non-ASCII characters
 * (so "naïve" and "don't" are one word each); with "case": "fold" (the
 * default) ASCII letters are compared in lower case. lines counts the line
 * ends, plus one for a last line without one. top lists the most frequent
 * words, most frequent first, ties in byte order.
 *
 * It shows a string argument with a length bound, an enum with a default,
 * a result built from several values, memory that is freed on every path,
 * and a check for cancel in a loop over a long input.
 *
 * Build: cc -shared -fPIC -O2 -o libtextstat.so textstat.c \
 *            $(pkg-config --cflags --libs crunchd-plugin)
 */
#include <crunchd/plugin.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX (1 << 20) /* bytes of text a call takes */
#define CHECK_EVERY 65536  /* bytes between two crunchd_check() calls */

static const char *const case_modes[] = {"fold", "keep", NULL};

static const crunchd_arg text_stats_args[] = {
    {.name = "text", .type = CRUNCHD_ARG_STRING, .required = 1, .max = TEXT_MAX,
     .doc = "the text (at most 1 MiB)"},
    {.name = "top", .type = CRUNCHD_ARG_INT, .min = 0, .max = 100, .def_int = 5,
     .doc = "how many of the most frequent words to list (default 5)"},
    {.name = "case", .type = CRUNCHD_ARG_ENUM, .choices = case_modes, .def_str = "fold",
     .doc = "fold: compare words in lower case (default); keep: as written"},
};

/* One distinct word: where it starts in the (folded) text, and its count. */
typedef struct word {
    const char *p;
    size_t len;
    int64_t count;
} word;

/* An open-addressing table of words; cap is a power of two. */
typedef struct table {
    word *slot;
    size_t cap, n;
} table;

static int is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '\'' || c >= 0x80;
}

static size_t hash(const char *p, size_t len)
{
    size_t h = 14695981039346656037u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211u;
    return h;
}

/* Counts one occurrence of p[0..len); the table never fills (cap > 2 x words). */
static void add(table *t, const char *p, size_t len)
{
    size_t i = hash(p, len) & (t->cap - 1);
    while (t->slot[i].p && (t->slot[i].len != len || memcmp(t->slot[i].p, p, len) != 0))
        i = (i + 1) & (t->cap - 1);
    if (!t->slot[i].p) {
        t->slot[i] = (word){p, len, 0};
        t->n++;
    }
    t->slot[i].count++;
}

static int by_count(const void *a, const void *b)
{
    const word *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Returns a new reference: the top n words of t (its slots get sorted). */
static json_t *top_words(table *t, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slot[i].p)
            t->slot[k++] = t->slot[i];
    qsort(t->slot, k, sizeof(word), by_count);
    json_t *top = json_array();
    for (size_t i = 0; top && i < k && i < n; i++)
        json_array_append_new(top, json_pack("{s:s%, s:I}", "word", t->slot[i].p,
                                             t->slot[i].len, "count",
                                             (json_int_t)t->slot[i].count));
    return top;
}

static int text_stats_run(json_t *args, crunchd_call *call, json_t **result)
{
    const char *text = crunchd_arg_string(args, "text");
    size_t len = crunchd_arg_string_length(args, "text");
    int fold = strcmp(crunchd_arg_string(args, "case"), "fold") == 0;
    int64_t lines = 0, chars = 0, words = 0;
    size_t next_check = CHECK_EVERY;
    table t = {NULL, 16, 0};
    char *copy = malloc(len + 1);
    int st = CRUNCHD_OK;

    while (t.cap < len + 2)
        t.cap *= 2; /* at most len / 2 + 1 words: the table stays under half full */
    t.slot = calloc(t.cap, sizeof(word));
    if (!copy || !t.slot) {
        st = crunchd_fail(call, "out of memory for %zu bytes of text", len);
        goto done;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        copy[i] = (char)(fold && c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
        lines += c == '\n';
        chars += (c & 0xc0) != 0x80; /* not a UTF-8 continuation byte */
    }
    lines += len > 0 && text[len - 1] != '\n';
    for (size_t i = 0; i < len;) {
        if (i >= next_check) {
            if ((st = crunchd_check(call)) != CRUNCHD_OK)
                goto done; /* cancelled, or past the deadline */
            crunchd_progress(call, (int64_t)i);
            next_check = i + CHECK_EVERY;
        }
        if (!is_word_byte((unsigned char)copy[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && is_word_byte((unsigned char)copy[i]))
            i++;
        add(&t, copy + start, i - start);
        words++;
    }
    *result = json_pack("{s:I, s:I, s:I, s:I, s:I, s:o}", "bytes", (json_int_t)len, "chars",
                        (json_int_t)chars, "lines", (json_int_t)lines, "words",
                        (json_int_t)words, "unique_words", (json_int_t)t.n, "top",
                        top_words(&t, (size_t)crunchd_arg_int(args, "top")));
    if (!*result)
        st = crunchd_fail(call, "out of memory");
done:
    free(t.slot);
    free(copy);
    return st;
}

static const crunchd_function functions[] = {
    {.name = "text_stats", .kind = CRUNCHD_KIND_CPU, .args = text_stats_args,
     .nargs = CRUNCHD_COUNT(text_stats_args),
     .doc = "{\"bytes\", \"chars\", \"lines\", \"words\", \"unique_words\", \"top\"} of a text",
     .run = text_stats_run},
};

CRUNCHD_PLUGIN_DEFINE("textstat", "1.0", functions)
