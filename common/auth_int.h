/*
 * auth_int.h - what auth.c (the table and lookups) and auth_parse.c (the
 * tokens file) share; internal to common/auth*.c.
 */
#ifndef CRUNCHD_AUTH_INT_H
#define CRUNCHD_AUTH_INT_H

#include "auth.h"

#include <openssl/evp.h>

struct auth_token {
    char name[AUTH_NAME_MAX + 1];
    unsigned scopes;
    auth_limits limits;
    unsigned char hash[AUTH_HASH_LEN];
    uint32_t index; /* in auth_table.tok */
    int line;       /* of the tokens file, from 1 */
};

/* One row of the lookup index: a hash and the token that has it. */
typedef struct auth_hash_row {
    unsigned char hash[AUTH_HASH_LEN];
    uint32_t index;
} auth_hash_row;

struct auth_table {
    auth_token *tok; /* n tokens in file order */
    size_t n;
    auth_hash_row *by_hash; /* n rows sorted by hash (memcmp order); NULL when n is 0 */
    EVP_MD *md;             /* SHA-256, fetched once so that lookups do not fetch */
};

/* A new empty table with its digest fetched; NULL if OpenSSL has no SHA-256
 * or memory runs out. */
auth_table *auth_table_new(void);

/* Sorts the index of t (t->tok complete). Returns 0, or -1 out of memory. */
int auth_table_index(auth_table *t);

#endif
