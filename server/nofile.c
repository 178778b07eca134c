#include "nofile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conn.h"

long nofile_need(const config *cfg)
{
    return (long)cfg->limits.max_connections + CONN_REFUSED_LINGER_MAX + cfg->n_listen +
           NOFILE_ALLOWANCE;
}

int nofile_ensure(const config *cfg, bool apply, char *err, size_t errlen)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        snprintf(err, errlen, "getrlimit(RLIMIT_NOFILE) failed: %s", strerror(errno));
        return -1;
    }
    rlim_t need = (rlim_t)nofile_need(cfg);
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return 0;
    /* Raising the soft limit up to the hard one is always allowed; raising
     * the hard one only to root (CAP_SYS_RESOURCE). */
    bool hard_ok = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need;
    struct rlimit want = {need, hard_ok ? rl.rlim_max : need};
    if (apply ? setrlimit(RLIMIT_NOFILE, &want) == 0 : (hard_ok || geteuid() == 0))
        return 0;
    snprintf(err, errlen,
             "limits.max_connections %d needs %lu file descriptors per worker, but RLIMIT_NOFILE "
             "allows %lu (hard limit %lu): raise it (ulimit -n; LimitNOFILE= in the systemd unit) "
             "or lower limits.max_connections",
             cfg->limits.max_connections, (unsigned long)need, (unsigned long)rl.rlim_cur,
             (unsigned long)rl.rlim_max);
    return -1;
}
