/*
 * fuzz_auth_model.h - for fuzz_auth.c: a plain model of the tokens file,
 * written from auth.h (not from auth_parse.c). model_parse() says what a
 * parser that follows auth.h does with a text: the tokens it holds (name,
 * scopes, hash, limits, line, in file order), or the one message it refuses
 * the text with ("FILE:LINE: what": the first bad line, a duplicate counted
 * at its second line). Also the set of byte strings the model keeps its
 * names and hashes in, which the target uses to find a token by its hash.
 *
 * Any allocation failure is a crash (CHECK). One thread.
 */
#ifndef CRUNCHD_FUZZ_AUTH_MODEL_H
#define CRUNCHD_FUZZ_AUTH_MODEL_H

#include "auth.h"

#include <stdbool.h>
#include <stddef.h>

#define MODEL_FILE "f"                           /* the file name that messages give */
#define MODEL_ERR_SIZE 1024                      /* room for any message */
#define MODEL_FIELDS_MAX (AUTH_LINE_MAX / 2 + 1) /* fields of a line of AUTH_LINE_MAX bytes */

/* The message of a bad SHA256HEX (%zu: its length); it never holds the field. */
#define MODEL_HEX_TEXT                                                                             \
    "bad hex: SHA256HEX must be 64 lowercase hex digits (the SHA-256 of the secret, not the "      \
    "secret), got %zu characters"

/* The scope names in the order of the auth_scope bits. */
extern const char *const model_scope_names[5];

/* Bytes of a text, borrowed. */
typedef struct model_span {
    const char *p;
    size_t n;
} model_span;

/* ---- a set of byte strings, each with an int (open addressing) ---- */

typedef struct model_slot {
    const void *p; /* borrowed: the key must outlive the set */
    size_t n;
    int v;
    bool used;
} model_slot;

typedef struct model_set {
    model_slot *s;
    size_t mask;
} model_set;

/* An empty set with room for want keys. */
void model_set_init(model_set *b, size_t want);

/* Frees the slots (not the keys). */
void model_set_free(model_set *b);

/* The value stored for the key, or -1. */
int model_set_get(const model_set *b, const void *p, size_t n);

/* Stores v for the key unless it is there; returns the value it had, or -1. */
int model_set_put(model_set *b, const void *p, size_t n, int v);

/* ---- the model ---- */

typedef struct model_tok {
    model_span name; /* in the text */
    unsigned scopes;
    unsigned char hash[AUTH_HASH_LEN];
    auth_limits lim;
    int line;
} model_tok;

typedef struct model {
    model_tok *tok; /* n tokens, in file order */
    size_t n;
    int bad;                  /* the line of the error; 0 when the text is accepted */
    char msg[MODEL_ERR_SIZE]; /* the whole expected message when bad */
} model;

/* Reads len bytes of text as auth.h says into m (free with model_free()). */
void model_parse(model *m, const char *text, size_t len);

void model_free(model *m);

/* Whether c separates fields (space or tab). */
bool model_blank(char c);

/* The blank-separated fields of n bytes at s into f (MODEL_FIELDS_MAX of
 * them for a line of at most AUTH_LINE_MAX + 1 bytes); returns how many. */
size_t model_fields(const char *s, size_t n, model_span *f);

/* The lines of text: its newlines + 1. */
size_t model_lines(const char *text, size_t len);

#endif
