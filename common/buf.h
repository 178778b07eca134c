/*
 * buf.h - a growable byte buffer, owned by whoever embeds it.
 *
 * Used for connection input/output and response bodies. Growth aborts the
 * process on allocation failure (like git's strbuf): a worker that cannot
 * allocate a few KiB cannot answer anyone, and the master respawns it.
 */
#ifndef CRUNCHD_BUF_H
#define CRUNCHD_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    char *p;
    size_t len;
    size_t cap;
} buf;

#define BUF_INIT {NULL, 0, 0}

/* Makes room for at least n more bytes after len. */
void buf_reserve(buf *b, size_t n);
void buf_append(buf *b, const void *data, size_t n);
void buf_append_str(buf *b, const char *s);
/* Appends the decimal form of v / of a signed v. */
void buf_append_u64(buf *b, uint64_t v);
void buf_append_i64(buf *b, int64_t v);
/* Appends us microseconds as milliseconds with three decimals ("12.345"). */
void buf_append_ms3(buf *b, uint64_t us);
/* Appends s as a JSON string literal, quotes included. Bytes that are not
 * valid UTF-8 (utf8.h) become '?', so the literal always is (RFC 8259). */
void buf_append_json_str(buf *b, const char *s, size_t n);
/* Drops the first n bytes (moves the rest to the front). */
void buf_consume(buf *b, size_t n);
/* Frees the storage when it grew past keep bytes and is empty, so one large
 * request does not pin memory for the rest of a keep-alive connection. */
void buf_shrink(buf *b, size_t keep);
void buf_release(buf *b);

/* Writes the decimal form of v into out (at least 21 bytes); returns its length. */
size_t fmt_u64(char *out, uint64_t v);

#endif
