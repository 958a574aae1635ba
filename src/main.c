/*
 * main.c -- the command line: check the configuration, signal a running
 * master or show its status, or become one.
 *
 *     prefork [-c FILE] [-t] [-s SIGNAL] [-f] [-V] [-h]
 *
 * `-s status` is not a signal: it maps the master's status file (see
 * scoreboard.h) read-only and prints it as JSON (status.h).
 *
 * Exit status: 0 success, 1 configuration or start-up error, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "confine.h"
#include "diag.h"
#include "master.h"
#include "modload.h"
#include "pidfile.h"
#include "reader.h"
#include "scoreboard.h"
#include "status.h"

#ifndef PF_SYSCONFDIR
#define PF_SYSCONFDIR "/usr/local/etc"
#endif
#define DEFAULT_CONF PF_SYSCONFDIR "/prefork/server.ini"

/* -s names and the signals they send, as nginx spells them. */
static const struct {
    const char *name;
    int         sig;
} control_signals[] = {
    {"stop", SIGTERM},   {"quit", SIGQUIT},    {"reload", SIGHUP},
    {"reopen", SIGUSR1}, {"upgrade", SIGUSR2},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: prefork [-c FILE] [-t] [-s SIGNAL] [-f] [-V] [-h]\n"
            "  -c FILE    configuration file (default %s)\n"
            "  -t         test the configuration and exit\n"
            "  -s SIGNAL  send stop, quit, reload, reopen or upgrade to the\n"
            "             master, or print its scoreboard as JSON with status\n"
            "  -f         stay in the foreground (overrides daemonize)\n"
            "  -V         print the version and exit\n"
            "  -h         print this help and exit\n",
            DEFAULT_CONF);
}

/* Load, check and prepare the config exactly as a start would, short of
 * binding.  Prints every problem; returns NULL on any. */
static struct config *load_checked(const char *path)
{
    struct diag    d = DIAG_INIT;
    struct config *cfg;
    size_t         i;

    cfg = config_prepare(path, &d);
    for (i = 0; i < d.n; i++)
        fprintf(stderr, "prefork: %s\n", d.msg[i]);
    diag_free(&d);
    return cfg;
}

/* The pid of the master named by the pidfile of the config at path, and
 * that pidfile (the caller frees it).  Returns -1 with the reason printed. */
static pid_t find_master(const char *path, char **pidfile)
{
    struct diag    d = DIAG_INIT;
    struct config *cfg;
    char           err[256];
    size_t         i;
    pid_t          pid;

    *pidfile = NULL;
    cfg = config_load(path, &d);
    for (i = 0; i < d.n; i++)
        fprintf(stderr, "prefork: %s\n", d.msg[i]);
    diag_free(&d);
    if (cfg == NULL)
        return -1;
    if (cfg->pidfile == NULL) {
        fprintf(stderr,
                "prefork: %s sets no pidfile: cannot find the "
                "master\n",
                path);
        config_free(cfg);
        return -1;
    }
    pid = pidfile_read(cfg->pidfile, err, sizeof(err));
    if (pid == -1)
        fprintf(stderr, "prefork: %s\n", err);
    else if ((*pidfile = strdup(cfg->pidfile)) == NULL) {
        fprintf(stderr, "prefork: out of memory\n");
        pid = -1;
    }
    config_free(cfg);
    return pid;
}

/* -s status: the running master's scoreboard as JSON on stdout. */
static int show_status(const char *path)
{
    struct sb_snapshot snap = {0};
    struct scoreboard *sb = NULL;
    char              *pidfile, *file = NULL, err[512];
    int                rc = 1;

    if (find_master(path, &pidfile) == -1)
        return 1;
    if ((file = scoreboard_path(pidfile)) == NULL) {
        fprintf(stderr, "prefork: out of memory\n");
        goto done;
    }
    if ((sb = scoreboard_open(file, err, sizeof(err))) == NULL ||
        scoreboard_snapshot(sb, &snap, err, sizeof(err)) == -1) {
        fprintf(stderr, "prefork: %s\n", err);
        goto done;
    }
    /* A file left by a master killed outright, next to a running master
     * that did not make one (an older version). */
    if (snap.master_pid <= 0 ||
        (kill(snap.master_pid, 0) == -1 && errno == ESRCH)) {
        fprintf(stderr, "prefork: %s: left by a master (pid %d) that is gone\n",
                file, (int)snap.master_pid);
        goto done;
    }
    if (status_render(stdout, &snap, mono_ms()) == -1 ||
        fflush(stdout) == EOF) {
        fprintf(stderr, "prefork: writing the status: %s\n", strerror(errno));
        goto done;
    }
    rc = 0;
done:
    scoreboard_snapshot_free(&snap);
    scoreboard_destroy(sb);
    free(file);
    free(pidfile);
    return rc;
}

static int send_control(const char *path, const char *what)
{
    char  *pidfile;
    size_t i;
    pid_t  pid;
    int    sig = 0;

    if (strcmp(what, "status") == 0)
        return show_status(path);
    for (i = 0; i < sizeof(control_signals) / sizeof(control_signals[0]); i++)
        if (strcmp(control_signals[i].name, what) == 0)
            sig = control_signals[i].sig;
    if (sig == 0) {
        fprintf(stderr,
                "prefork: -s: unknown signal '%s' "
                "(use stop, quit, reload, reopen, upgrade or status)\n",
                what);
        return 2;
    }
    pid = find_master(path, &pidfile);
    free(pidfile);
    if (pid == -1)
        return 1;
    if (kill(pid, sig) == -1) {
        fprintf(stderr, "prefork: kill(%d): %s\n", (int)pid, strerror(errno));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char    *path = DEFAULT_CONF, *control = NULL;
    int            test = 0, foreground = 0, opt;
    struct config *cfg;

    while ((opt = getopt(argc, argv, ":c:ts:fVh")) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 't': test = 1; break;
        case 's': control = optarg; break;
        case 'f': foreground = 1; break;
        case 'V': printf("prefork %s\n", PACKAGE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        case ':':
            fprintf(stderr, "prefork: -%c needs an argument\n", optopt);
            usage(stderr);
            return 2;
        default:
            fprintf(stderr, "prefork: unknown option -%c\n", optopt);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "prefork: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (control != NULL)
        return send_control(path, control);
    cfg = load_checked(path);
    if (cfg == NULL)
        return 1;
    if (test) {
        for (size_t i = 0; i < cfg->nsvc; i++)
            confine_print(stdout, cfg, &cfg->svc[i]);
        modules_release(cfg);
        config_free(cfg);
        printf("configuration OK\n");
        return 0;
    }
    return master_run(cfg, path, foreground);
}
