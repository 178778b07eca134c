/*
 * auth_master.c - see auth_master.h.
 */
#include "auth_master.h"

#include "auth.h"
#include "errbuf.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

#define KEPT_MAX 2 /* the running config's table and the new one */

#define MSG_NONE                                                                                   \
    "auth.none is true: no token is checked, and every client that reaches a listen address "      \
    "may use every route"

/* The tables the master loaded and may still use. */
static auth_table *kept[KEPT_MAX];

static int check_tokens(const config *cfg, char *warn, size_t warnlen, char *err, size_t errlen)
{
    char why[1024];
    const auth_table *t = cfg->auth.table;
    auth_table *mine = NULL;
    if (!t) {
        t = mine = auth_table_load(cfg->auth.tokens_file, why, sizeof(why));
        if (!t)
            return errbuf_fail(err, errlen, "auth.tokens_file: %s", why);
    }
    if (warn && auth_table_count(t) == 0)
        snprintf(warn, warnlen,
                 "auth.tokens_file: %s holds no token: every request but /healthz and /readyz "
                 "will be refused (crunchd --mint-token NAME SCOPES makes one)",
                 cfg->auth.tokens_file);
    auth_table_free(mine);
    return 0;
}

static int check_protected(const config *cfg, const listener_set *ls, char *err, size_t errlen)
{
    char which[400], why[800];
    int rc = listener_loopback_only(cfg, ls, which, sizeof(which), why, sizeof(why));
    if (rc < 0)
        return errbuf_fail(err, errlen, "%s", why);
    if (rc == 0)
        return errbuf_fail(
            err, errlen,
            "%s can be reached from other hosts, and no tokens are set (protected mode). "
            "Either add a tokens file, \"auth\": {\"tokens_file\": \"/etc/crunchd/tokens\"}, "
            "with tokens from crunchd --mint-token NAME SCOPES; or listen on 127.0.0.1, [::1] "
            "or a unix: socket only; or, if something in front of crunchd checks who calls, "
            "set \"auth\": {\"none\": true}",
            which);
    return 0;
}

int auth_master_check(const config *cfg, const listener_set *ls, char *warn, size_t warnlen,
                      char *err, size_t errlen)
{
    if (warn && warnlen)
        warn[0] = '\0';
    if (cfg->auth.none) {
        if (warn)
            snprintf(warn, warnlen, "%s", MSG_NONE);
        return 0;
    }
    if (cfg->auth.tokens_file[0] != '\0')
        return check_tokens(cfg, warn, warnlen, err, errlen);
    return check_protected(cfg, ls, err, errlen);
}

/* Frees every kept table but keep; returns a free place. */
static auth_table **make_room(const auth_table *keep)
{
    auth_table **room = NULL;
    for (int i = 0; i < KEPT_MAX; i++) {
        if (kept[i] && kept[i] != keep) {
            auth_table_free(kept[i]);
            kept[i] = NULL;
        }
        if (!kept[i] && !room)
            room = &kept[i];
    }
    return room;
}

int auth_master_load(config *cfg, const config *running, const listener_set *ls, char *err,
                     size_t errlen)
{
    char why[1024], warn[512];
    auth_table *t = NULL;
    cfg->auth.table = NULL;
    if (cfg->auth.tokens_file[0] != '\0') {
        t = auth_table_load(cfg->auth.tokens_file, why, sizeof(why));
        if (!t)
            return errbuf_fail(err, errlen, "auth.tokens_file: %s", why);
    }
    cfg->auth.table = t;
    if (auth_master_check(cfg, ls, warn, sizeof(warn), err, errlen) < 0) {
        cfg->auth.table = NULL;
        auth_table_free(t);
        return -1;
    }
    /* At least one place is free: the running table is the only other one kept. */
    auth_table **room = make_room(running ? running->auth.table : NULL);
    if (t) {
        *room = t;
        log_notice("tokens: %zu from %s", auth_table_count(t), cfg->auth.tokens_file);
    }
    if (warn[0])
        log_warn("%s", warn);
    return 0;
}

void auth_master_release(void)
{
    make_room(NULL);
}
