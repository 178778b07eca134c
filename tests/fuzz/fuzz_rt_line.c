/*
 * fuzz_rt_line.c - libFuzzer target for the line reader of the language
 * runtimes (common/fn/rt_line.c): the NDJSON lines of a runtime's stdout and
 * the log lines of its stderr.
 *
 * The input is [max selector][piece seed] stream...: the stream goes through
 * a non-blocking pipe in pieces of pseudo-random sizes (a runtime's writes as
 * the reader sees them), and is read as rt_log.c reads stderr: every complete
 * line with rt_line_next(), a line longer than max with rt_line_cut(), the
 * unfinished rest at end of file through rt_line_partial(). What comes out
 * must be what a plain split of the stream on '\n' says: each line as it is
 * when it has at most max bytes, else its first max bytes (the rest dropped
 * up to its newline), then the unfinished last line if it has at most max
 * bytes. When no line is longer than max, the lines joined with '\n' (and the
 * unfinished rest) are the stream. On the way: the buffer never exceeds
 * max + 1 bytes, every line handed out lies inside it, rt_line_fill() reads
 * each byte once and never says EMSGSIZE (every long line was cut),
 * rt_line_partial() says whether bytes of an unfinished line are buffered,
 * and rt_line_release() leaves an empty reader with the same max. Any
 * difference is a crash (__builtin_trap).
 *
 * Build and run: tests/fuzz/run_fuzz.sh [seconds per target]
 */
#include "fuzz_check.h"
#include "rt_line.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Small bounds cut often; the larger ones make the buffer grow past its
 * first 4096 bytes. */
static const size_t maxes[] = {1, 2, 3, 5, 8, 16, 31, 64, 100, 4095, 4096, 5000};

/* What the reader handed out, in order: each line with a flag for a cut one. */
typedef struct out {
    char *bytes; /* the lines, each followed by '\n' */
    size_t len;
    bool *cut; /* [line] */
    size_t lines;
} out;

static void out_add(out *o, const char *p, size_t n, bool cut)
{
    memcpy(o->bytes + o->len, p, n);
    o->bytes[o->len + n] = '\n';
    o->len += n + 1;
    o->cut[o->lines++] = cut;
}

/* The expected output of stream s (n bytes) for a reader of lines up to max,
 * in the same form. *tail gets the unfinished last line handed out through
 * rt_line_partial() (0 bytes if none). */
static void expect(const char *s, size_t n, size_t max, out *o, size_t *tail)
{
    *tail = 0;
    for (size_t at = 0; at < n;) {
        const char *nl = memchr(s + at, '\n', n - at);
        size_t len = nl ? (size_t)(nl - s) - at : n - at;
        if (len > max)
            out_add(o, s + at, max, true);
        else if (nl)
            out_add(o, s + at, len, false);
        else
            *tail = len;
        at += len + 1;
    }
}

/* The reader's state is sound: bounds, and partial() as its fields say. */
static void check_state(const rt_line *l)
{
    CHECK(l->cap <= l->max + 1);
    CHECK(l->start <= l->len && l->len <= l->cap);
    CHECK((l->cap == 0) == (l->buf == NULL));
    CHECK(rt_line_partial(l) == (!l->skipping && l->len > l->start));
    /* skipping drops bytes up to a newline: none of them stays buffered */
    CHECK(!l->skipping || l->start == l->len);
}

/* Takes every line that l holds now, as rt_log.c's log_lines() does. */
static void drain(rt_line *l, out *got)
{
    for (;;) {
        const char *line;
        size_t len, before = l->start;
        int rc = rt_line_next(l, &line, &len);
        CHECK(rc >= -1 && rc <= 1);
        if (rc == 0) {
            CHECK(l->start == before);
            break;
        }
        bool cut = rc < 0;
        if (cut) {
            CHECK(l->start == before && l->len - l->start > l->max);
            CHECK(rt_line_cut(l, &line, &len) == 1 && len == l->max);
        } else {
            CHECK(len <= l->max && line[len] == '\n' && !memchr(line, '\n', len));
        }
        CHECK(line >= l->buf && line + len <= l->buf + l->cap);
        out_add(got, line, len, cut);
        check_state(l);
    }
    /* no line too long is left without a cut */
    const char *line;
    size_t len;
    CHECK(rt_line_cut(l, &line, &len) == 0);
    check_state(l);
}

/*
 * Reads what the pipe holds (to EOF if eof), taking the lines after each
 * read; returns the bytes read. EMSGSIZE means a line longer than max is
 * buffered: never, since each was cut as soon as it was there.
 */
static size_t read_all(rt_line *l, int fd, bool eof, out *got)
{
    size_t total = 0;
    for (;;) {
        ssize_t n = rt_line_fill(l, fd);
        int saved = errno;
        check_state(l);
        drain(l, got);
        if (n > 0) {
            total += (size_t)n;
            continue;
        }
        CHECK(n == 0 ? eof : saved == EAGAIN && !eof);
        return total;
    }
}

/* The next piece size, 1 .. 4096 bytes, from a xorshift of seed. */
static size_t piece(uint32_t *seed)
{
    *seed ^= *seed << 13;
    *seed ^= *seed >> 17;
    *seed ^= *seed << 5;
    uint32_t r = *seed;
    return 1 + (r & 7 ? r % 64 : r % 4096);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t max = maxes[data[0] % (sizeof(maxes) / sizeof(maxes[0]))];
    uint32_t seed = 0x9e3779b9u ^ (uint32_t)data[1] * 0x01000193u;
    const char *s = (const char *)data + 2;
    size_t n = size - 2;

    out got = {malloc(n + 1), 0, calloc(n + 1, sizeof(bool)), 0};
    out want = {malloc(n + 1), 0, calloc(n + 1, sizeof(bool)), 0};
    CHECK(got.bytes && got.cut && want.bytes && want.cut);
    size_t tail;
    expect(s, n, max, &want, &tail);

    int p[2];
    CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    rt_line l;
    rt_line_init(&l, max);
    check_state(&l);
    size_t taken = 0;
    for (size_t at = 0; at < n;) {
        size_t k = piece(&seed);
        k = k < n - at ? k : n - at;
        CHECK(write(p[1], s + at, k) == (ssize_t)k);
        at += k;
        taken += read_all(&l, p[0], false, &got);
    }
    CHECK(close(p[1]) == 0);
    taken += read_all(&l, p[0], true, &got);
    CHECK(taken == n);

    /* the unfinished last line, as rt_log_flush() takes it */
    CHECK(rt_line_partial(&l) == (tail > 0));
    CHECK(l.len - l.start == (rt_line_partial(&l) ? tail : 0));
    CHECK(tail == 0 || memcmp(l.buf + l.start, s + n - tail, tail) == 0);

    CHECK(got.lines == want.lines && got.len == want.len);
    CHECK(memcmp(got.bytes, want.bytes, got.len) == 0);
    CHECK(memcmp(got.cut, want.cut, got.lines * sizeof(bool)) == 0);
    /* nothing cut: the lines, each with its newline, then the rest are the stream */
    if (!memchr(got.cut, true, got.lines))
        CHECK(got.len + tail == n && memcmp(got.bytes, s, got.len) == 0);

    rt_line_release(&l);
    CHECK(l.buf == NULL && l.start == 0 && l.len == 0 && l.cap == 0);
    CHECK(l.max == max && !l.skipping && !rt_line_partial(&l));
    close(p[0]);
    free(got.bytes);
    free(got.cut);
    free(want.bytes);
    free(want.cut);
    return 0;
}
