/*
 * main.c - the command line: options, config, then the master. Runs in the
 * foreground; systemd does the daemonizing.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
            "  -c FILE   configuration file (default: built-in defaults)\n"
            "  -t        check the configuration and what start-up needs, and exit\n"
            "  -s ACTION signal the running master (found through pid_file):\n"
            "            reload (HUP), quit (QUIT), stop (TERM), reopen (USR1)\n"
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
    const char *path = NULL, *action = NULL;
    bool test = false;
    char err[1024];
    config cfg;
    int opt;

    while ((opt = getopt(argc, argv, "c:ts:vh")) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 't': test = true; break;
        case 's': action = optarg; break;
        case 'v': printf("crunchd %s\n", CRUNCHD_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
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
    return master_run(&cfg, path);
}
