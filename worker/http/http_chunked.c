/*
 * http_chunked.c - the chunked transfer coding, decoded byte by byte (see
 * http_chunked.h). Chunk data is copied in bulk; every other byte goes
 * through one state machine, so a body split anywhere decodes the same.
 */
#include "http_chunked.h"

#include <stdbool.h>
#include <string.h>

#include "http_bytes.h"

enum chunked_state {
    CS_SIZE_START = 0,  /* first hex digit of a size line (the zeroed state) */
    CS_SIZE,            /* more hex digits, ';' or CR */
    CS_EXT_NAME_START,  /* after ';': the first byte of an extension name */
    CS_EXT_NAME,        /* more of the name, '=', ';' or CR */
    CS_EXT_VALUE_START, /* after '=': a token or a quoted-string */
    CS_EXT_TOKEN,       /* more of a token value, ';' or CR */
    CS_EXT_QUOTED,      /* inside a quoted-string */
    CS_EXT_QPAIR,       /* after a backslash in a quoted-string */
    CS_EXT_QEND,        /* after the closing quote: ';' or CR */
    CS_SIZE_LF,         /* CR seen on the size line, LF must follow */
    CS_DATA,            /* chunk_left data bytes to copy */
    CS_DATA_CR,         /* the CR after the data */
    CS_DATA_LF,         /* the LF after the data */
    CS_TRAILER_START,   /* start of a trailer line, or CR of the final empty line */
    CS_TRAILER_NAME,    /* a trailer's field name, up to ':' */
    CS_TRAILER_VALUE,   /* a trailer's value, up to CR */
    CS_TRAILER_LF,      /* CR seen in a trailer line, LF must follow */
    CS_END_LF,          /* CR of the final empty line seen, LF must follow */
    CS_DONE,
    CS_ERROR,
};

#define CHUNK_SIZE_BITS 60

void http_chunked_init(http_chunked *c)
{
    memset(c, 0, sizeof *c);
}

/* Counts a size or trailer line byte; false if the line is too long. */
static inline bool line_byte(http_chunked *c)
{
    return ++c->line_len <= HTTP_CHUNKED_LINE_MAX;
}

/* Stays in (or moves to) state next if ok and the line is not too long. */
static inline int take(http_chunked *c, bool ok, int next)
{
    return ok && line_byte(c) ? next : CS_ERROR;
}

/* After a complete size, extension name or extension value: another
 * extension or the end of the line; nothing else (no whitespace). */
static int size_line_next(http_chunked *c, unsigned char b)
{
    if (b == ';')
        return take(c, true, CS_EXT_NAME_START);
    return b == '\r' ? CS_SIZE_LF : CS_ERROR;
}

/* The size line: hex digits, then extensions. */
static int size_line_step(http_chunked *c, unsigned char b)
{
    switch (c->state) {
    case CS_SIZE_START:
    case CS_SIZE:
        if (HB_IS(b, HB_HEX)) {
            if (c->chunk_left >> (CHUNK_SIZE_BITS - 4))
                return CS_ERROR;
            c->chunk_left = (c->chunk_left << 4) | http_hexval(b);
            return take(c, true, CS_SIZE);
        }
        return c->state == CS_SIZE ? size_line_next(c, b) : CS_ERROR;
    case CS_EXT_NAME_START: return take(c, HB_IS(b, HB_TCHAR), CS_EXT_NAME);
    case CS_EXT_NAME:
        if (HB_IS(b, HB_TCHAR) || b == '=')
            return take(c, true, b == '=' ? CS_EXT_VALUE_START : CS_EXT_NAME);
        return size_line_next(c, b);
    case CS_EXT_VALUE_START:
        if (b == '"')
            return take(c, true, CS_EXT_QUOTED);
        return take(c, HB_IS(b, HB_TCHAR), CS_EXT_TOKEN);
    case CS_EXT_TOKEN:
        if (HB_IS(b, HB_TCHAR))
            return take(c, true, CS_EXT_TOKEN);
        return size_line_next(c, b);
    case CS_EXT_QUOTED:
        if (b == '"' || b == '\\')
            return take(c, true, b == '"' ? CS_EXT_QEND : CS_EXT_QPAIR);
        return take(c, http_qdtext(b), CS_EXT_QUOTED);
    case CS_EXT_QPAIR: return take(c, HB_IS(b, HB_VCHAR), CS_EXT_QUOTED);
    case CS_EXT_QEND: return size_line_next(c, b);
    default: return CS_ERROR;
    }
}

/*
 * Handles one non-data byte; returns the next state (CS_ERROR on a bad byte).
 * Data bytes are copied in bulk by the caller.
 */
static int chunked_step(http_chunked *c, unsigned char b)
{
    switch (c->state) {
    case CS_SIZE_LF:
        if (b != '\n')
            return CS_ERROR;
        c->line_len = 0;
        return c->chunk_left ? CS_DATA : CS_TRAILER_START;
    case CS_DATA_CR: return b == '\r' ? CS_DATA_LF : CS_ERROR;
    case CS_DATA_LF: return b == '\n' ? CS_SIZE_START : CS_ERROR;
    case CS_TRAILER_START:
        if (b == '\r')
            return CS_END_LF;
        return take(c, HB_IS(b, HB_TCHAR), CS_TRAILER_NAME);
    case CS_TRAILER_NAME:
        if (b == ':')
            return take(c, true, CS_TRAILER_VALUE);
        return take(c, HB_IS(b, HB_TCHAR), CS_TRAILER_NAME);
    case CS_TRAILER_VALUE:
        if (b == '\r')
            return CS_TRAILER_LF;
        return take(c, HB_IS(b, HB_VCHAR), CS_TRAILER_VALUE);
    case CS_TRAILER_LF:
        if (b != '\n')
            return CS_ERROR;
        c->line_len = 0;
        return CS_TRAILER_START;
    case CS_END_LF: return b == '\n' ? CS_DONE : CS_ERROR;
    default: return size_line_step(c, b);
    }
}

int http_chunked_decode(http_chunked *c, const char *in, size_t len, char *out, size_t *consumed,
                        size_t *produced)
{
    size_t i = 0, o = 0;

    while (i < len && c->state != CS_DONE && c->state != CS_ERROR) {
        if (c->state == CS_DATA) {
            size_t n = len - i;
            if (n > c->chunk_left)
                n = (size_t)c->chunk_left;
            /* o <= i always holds, so with out == in this moves data down. */
            memmove(out + o, in + i, n);
            i += n;
            o += n;
            c->chunk_left -= n;
            if (!c->chunk_left)
                c->state = CS_DATA_CR;
            continue;
        }
        c->state = chunked_step(c, (unsigned char)in[i]);
        if (c->state != CS_ERROR)
            i++;
    }
    c->total += o;
    *consumed = i;
    *produced = o;
    if (c->state == CS_ERROR)
        return -1;
    return c->state == CS_DONE ? 1 : 0;
}
