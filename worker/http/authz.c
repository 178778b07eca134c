/*
 * authz.c - see authz.h.
 */
#include "authz.h"

#include <stdio.h>
#include <stdlib.h>

#include "auth.h"
#include "auth_rate.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "wire.h"

_Static_assert(JOB_OWNER_MAX == AUTH_NAME_MAX, "a job's owner holds a token name");
_Static_assert(METRICS_TOKEN_NAME == AUTH_NAME_MAX + 1, "a series holds a token name");

#define SERIES_UNKNOWN -1

/* The worker's: its table never changes (a reload brings new workers). */
static const auth_table *table; /* borrowed from the config */
static auth_rate *rate;
static shm_region *shm;
static int *series; /* metrics_token_index by auth_token_index, SERIES_UNKNOWN until asked */

int authz_init(const engine *e)
{
    table = e->cfg->auth.table;
    shm = e->shm;
    if (!table)
        return 0;
    size_t n = auth_table_count(table);
    series = malloc((n ? n : 1) * sizeof(*series));
    rate = auth_rate_new(table, shm_mono_ms());
    if (!series || !rate) {
        log_error("setting up the tokens' rate limits failed: out of memory");
        authz_release();
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        series[i] = SERIES_UNKNOWN;
    return 0;
}

void authz_release(void)
{
    auth_rate_free(rate);
    rate = NULL;
    free(series);
    series = NULL;
    table = NULL;
}

/* The request's token: the one Authorization header, "Bearer <secret>", a
 * secret of the table; NULL otherwise. *sent: an Authorization was there. */
static const auth_token *token_of(const http_request *req, bool *sent)
{
    const http_slice *h = NULL;
    const char *secret;
    size_t len;
    for (int i = 0; i < req->n_headers; i++) {
        if (!http_slice_eq(req->headers[i].name, HDR_AUTHORIZATION))
            continue;
        *sent = true;
        if (h) /* two: which one a proxy looked at is anyone's guess */
            return NULL;
        h = &req->headers[i].value;
    }
    if (!h || auth_bearer_parse(h->p, h->n, &secret, &len) < 0)
        return NULL;
    return auth_table_lookup(table, secret, len);
}

static int series_of(const auth_token *tok)
{
    size_t i = auth_token_index(tok);
    if (series[i] == SERIES_UNKNOWN)
        series[i] = metrics_token_index(shm, auth_token_name(tok));
    return series[i];
}

int authz_check(conn *c, const http_request *req, unsigned scope, svc_caller *who)
{
    bool sent = false;
    const auth_token *tok = token_of(req, &sent);
    if (!tok) {
        /* RFC 6750 3.1: no error code when no credentials came at all. */
        conn_reply_error_hdr(c, 401, ERR_UNAUTHORIZED,
                             sent ? "unknown token (Authorization: Bearer <secret>)"
                                  : "this route needs a token: Authorization: Bearer <secret>",
                             NULL,
                             sent ? HDR_WWW_AUTHENTICATE ": " AUTH_SCHEME_BEARER
                                                         " error=\"invalid_token\"\r\n"
                                  : HDR_WWW_AUTHENTICATE ": " AUTH_SCHEME_BEARER "\r\n");
        return -1;
    }
    const char *name = auth_token_name(tok);
    char msg[160], extra[160];
    int64_t retry_ms = 0;
    conn_set_user(c, name, series_of(tok));
    if (!auth_rate_take(rate, tok, shm_mono_ms(), &retry_ms)) {
        snprintf(msg, sizeof(msg), "token \"%s\" is over its rate of %d requests per second", name,
                 auth_token_limits(tok).rps);
        snprintf(extra, sizeof(extra), HDR_RETRY_AFTER ": %lld\r\n",
                 (long long)((retry_ms + 999) / 1000));
        conn_reply_error_hdr(c, 429, ERR_RATE_LIMITED, msg, NULL, extra);
        return -1;
    }
    if (!auth_token_allows(tok, (auth_scope)scope)) {
        const char *need = auth_scope_name((auth_scope)scope);
        snprintf(msg, sizeof(msg), "token \"%s\" lacks the scope %s", name, need);
        snprintf(extra, sizeof(extra),
                 HDR_WWW_AUTHENTICATE ": " AUTH_SCHEME_BEARER
                                      " error=\"insufficient_scope\", scope=\"%s\"\r\n",
                 need);
        conn_reply_error_hdr(c, 403, ERR_FORBIDDEN, msg, NULL, extra);
        return -1;
    }
    bool admin = auth_token_allows(tok, AUTH_SCOPE_ADMIN);
    *who = (svc_caller){.owner = name,
                        .all = admin,
                        .show_owner = admin,
                        .max_queued = auth_token_limits(tok).max_queued};
    return 0;
}
