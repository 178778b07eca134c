/*
 * main.c - the command line: options, config, then the master. Runs in the
 * foreground; systemd does the daemonizing.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth_master.h"
#include "auth_mint.h"
#include "config.h"
#include "log.h"
#include "master.h"
#include "pidfile.h"
#include "preflight.h"

#define EXIT_USAGE 2

static const struct {
    const char *action;
    int signo;
    const char *name;
} signal_actions[] = {
    {"reload", SIGHUP, "SIGHUP"},
    {"quit", SIGQUIT, "SIGQUIT"},
    {"stop", SIGTERM, "SIGTERM"},
    {"reopen", SIGUSR1, "SIGUSR1"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: crunchd [-c FILE] [-t] [-s reload|quit|stop|reopen] [-v] [-h]\n"
            "       crunchd --mint-token NAME SCOPES [max_queued=N] [rps=N] [burst=N]\n"
            "  -c FILE   configuration file (default: built-in defaults)\n"
            "  -t        check the configuration and what start-up needs, and exit\n"
            "  -s ACTION signal the running master (found through pid_file):\n"
            "            reload (HUP), quit (QUIT), stop (TERM), reopen (USR1)\n"
            "  -m, --mint-token NAME SCOPES [LIMIT...]\n"
            "            print a new random secret and its line for auth.tokens_file;\n"
            "            SCOPES: comma-separated call, submit, read, cancel, admin\n"
            "  -v        print the version and exit\n"
            "  -h        print this help and exit\n");
}

static void print_warning(const char *msg, void *arg)
{
    fprintf(stderr, "crunchd: warning: %s\n", msg);
}

/* -t: the file parsed; now what start-up would refuse (preflight.h). */
static int test_config(const config *cfg, const char *path)
{
    char err[1200];
    const char *name = path ? path : "(built-in defaults)";
    if (preflight_check(cfg, print_warning, NULL, err, sizeof(err)) < 0) {
        fprintf(stderr, "crunchd: %s\n", err);
        fprintf(stderr, "crunchd: configuration %s test failed\n", name);
        return 1;
    }
    fprintf(stderr, "crunchd: configuration %s is ok\n", name);
    return 0;
}

/* -m NAME SCOPES [LIMIT...]: a new secret and its tokens-file line (auth_mint.h).
 * stdout gets the two, labelled; stderr what to do with them. */
static int mint_token(const char *name, int nargs, char **args)
{
    char secret[AUTH_SECRET_LEN + 1], line[AUTH_LINE_MAX + 1], err[1024];
    if (nargs < 1) {
        fprintf(stderr, "crunchd: --mint-token needs NAME and SCOPES\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (auth_mint(name, args[0], (const char *const *)args + 1, (size_t)nargs - 1, secret,
                  sizeof(secret), line, sizeof(line), err, sizeof(err)) < 0) {
        fprintf(stderr, "crunchd: %s\n", err);
        return EXIT_USAGE;
    }
    printf("secret: %s\nline: %s\n", secret, line);
    fflush(stdout);
    fprintf(stderr,
            "crunchd: the secret is shown only now: give it to the client, which sends\n"
            "crunchd:   Authorization: Bearer <secret>\n"
            "crunchd: add the line to the tokens file (auth.tokens_file), then reload\n"
            "crunchd: (crunchd -s reload, or systemctl reload crunchd)\n");
    explicit_bzero(secret, sizeof(secret));
    return 0;
}

/* -s: sends the action's signal to the pid in cfg->pid_file. Returns the exit code. */
static int signal_master(const config *cfg, const char *action)
{
    size_t i = 0, n = sizeof(signal_actions) / sizeof(signal_actions[0]);
    while (i < n && strcmp(signal_actions[i].action, action) != 0)
        i++;
    if (i == n) {
        fprintf(stderr, "crunchd: unknown action \"%s\" for -s (use reload, quit, stop or reopen)\n",
                action);
        return EXIT_USAGE;
    }
    if (cfg->pid_file[0] == '\0') {
        fprintf(stderr, "crunchd: -s needs \"pid_file\" in the configuration\n");
        return 1;
    }
    char err[CONFIG_PATH + 128];
    long pid;
    if (pidfile_read(cfg->pid_file, &pid, err, sizeof(err)) < 0) {
        fprintf(stderr, "crunchd: %s\n", err);
        return 1;
    }
    if (kill((pid_t)pid, signal_actions[i].signo) < 0) {
        fprintf(stderr, "crunchd: kill(%ld, %s) failed: %s\n", pid, signal_actions[i].name,
                strerror(errno));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"mint-token", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL, *action = NULL, *mint = NULL;
    bool test = false;
    char err[1200];
    config cfg;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "c:ts:m:vh", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 't': test = true; break;
        case 's': action = optarg; break;
        case 'm': mint = optarg; break;
        case 'v': printf("crunchd %s\n", CRUNCHD_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (mint)
        return mint_token(mint, argc - optind, argv + optind);
    if (optind < argc) {
        fprintf(stderr, "crunchd: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }

    config_defaults(&cfg);
    if (path && config_load_file(&cfg, path, err, sizeof(err)) < 0) {
        /* File-level errors already start with the path; key errors do not. */
        if (strncmp(err, path, strlen(path)) == 0)
            fprintf(stderr, "crunchd: %s\n", err);
        else
            fprintf(stderr, "crunchd: %s: %s\n", path, err);
        if (test)
            fprintf(stderr, "crunchd: configuration %s test failed\n", path);
        return 1;
    }
    if (test)
        return test_config(&cfg, path);
    if (action)
        return signal_master(&cfg, action);

    log_set_role("master");
    if (log_set_level_name(cfg.log.level) < 0)
        log_warn("log.level: unknown level \"%s\", keeping the default", cfg.log.level);
    signal(SIGPIPE, SIG_IGN);
    /* The tokens, before the master forks (auth_master.h); a reload loads them again. */
    if (auth_master_load(&cfg, NULL, NULL, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return 1;
    }
    rc = master_run(&cfg, path);
    auth_master_release();
    return rc;
}
