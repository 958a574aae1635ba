/*
 * main.c -- the command line: check the configuration, signal a running
 * master or show its status, or become one.
 *
 *     prefork [-c FILE] [-t] [-s SIGNAL [-w SECONDS] [-n N]] [-f] [-V] [-h]
 *
 * `-s status` is not a signal: it maps the master's status file (see
 * scoreboard.h) read-only and prints it as JSON (status.h).  Nor is
 * `-s top`, which shows the same file as a live view (top.h); `-n`
 * says how many frames.  `-s reload` checks the file as -t does first
 * and sends nothing when it has errors; `-s stop`, `quit`, `status` and
 * `top` need only the pidfile the file names, so a file with errors
 * elsewhere still finds the master.
 *
 * Exit status: 0 success, 1 configuration or start-up error, 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
#include "top.h"

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
            "usage: prefork [-c FILE] [-t] [-s SIGNAL [-w SECONDS] [-n N]] "
            "[-f] [-V] [-h]\n"
            "  -c FILE    configuration file (default %s)\n"
            "  -t         test the configuration and exit\n"
            "  -s SIGNAL  send stop, quit, reload, reopen or upgrade to the\n"
            "             master, or print its scoreboard as JSON with status\n"
            "             or watch it live with top\n"
            "  -w SECONDS with -s stop or quit: wait until the master exits\n"
            "  -n N       with -s top: stop after N frames (1: print one)\n"
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

static size_t count_errors(const struct diag *d)
{
    size_t i, n = 0;

    for (i = 0; i < d->n; i++)
        n += !diag_is_warning(d, i);
    return n;
}

/* The pid of the master named by the pidfile of the config at path, and
 * that pidfile (the caller frees it).  Returns -1 with the reason printed.
 * With `lenient`, errors elsewhere in the file are printed with a warning
 * and the pidfile it names is used all the same: stopping a server, or
 * looking at it, should not need a file it could start with. */
static pid_t find_master(const char *path, char **pidfile, int lenient)
{
    struct diag    d = DIAG_INIT;
    struct config *cfg;
    char           err[256];
    size_t         i, nerr;
    pid_t          pid;

    *pidfile = NULL;
    cfg = lenient ? config_load_partial(path, &d) : config_load(path, &d);
    for (i = 0; i < d.n; i++)
        fprintf(stderr, "prefork: %s\n", d.msg[i]);
    nerr = count_errors(&d);
    diag_free(&d);
    if (cfg == NULL)
        return -1;
    if (nerr > 0)
        fprintf(stderr,
                "prefork: warning: %s has %zu error%s; the master is looked "
                "for through the pidfile it names all the same\n",
                path, nerr, nerr == 1 ? "" : "s");
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

/* -s status: the running master's scoreboard as JSON on stdout; -s top
 * (frames >= 0): as a live view. */
static int show_status(const char *path, int frames)
{
    struct sb_snapshot snap = {0};
    struct scoreboard *sb = NULL;
    char              *pidfile, *file = NULL, err[512];
    int                rc = 1;

    if (find_master(path, &pidfile, 1) == -1)
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
    if (frames >= 0) {
        rc = top_run(sb, frames);
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

/* Has the process gone: no such process, or a zombie its parent has not
 * reaped yet (it has exited all the same)? */
static int process_gone(pid_t pid)
{
    char  path[64], buf[256], *p;
    FILE *f;
    int   zombie = 0;

    if (kill(pid, 0) == -1 && errno == ESRCH)
        return 1;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((f = fopen(path, "re")) == NULL)
        return errno == ENOENT;
    if (fgets(buf, sizeof(buf), f) != NULL && (p = strrchr(buf, ')')) != NULL)
        zombie = p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
    fclose(f);
    return zombie;
}

/* -w: wait up to `seconds` for the master to exit.  Returns 0 once it has,
 * 1 (said why) when it is still there. */
static int wait_gone(pid_t pid, int seconds)
{
    int64_t         until = mono_ms() + (int64_t)seconds * 1000;
    struct timespec nap = {0, 50 * 1000000};

    while (!process_gone(pid)) {
        if (mono_ms() >= until) {
            fprintf(stderr,
                    "prefork: the master (pid %d) is still running after "
                    "%d s\n",
                    (int)pid, seconds);
            return 1;
        }
        nanosleep(&nap, NULL);
    }
    return 0;
}

/* -s reload: check the file as -t does; when it has errors, print them,
 * send nothing, and note the refusal in the running master's status file
 * for `-s status`.  Returns 0 when the reload may be sent. */
static int reload_checked(const char *path)
{
    struct diag    d = DIAG_INIT, d2 = DIAG_INIT;
    struct config *cfg;
    char          *file = NULL, err[512];
    size_t         i, nerr;
    const char    *first = "";

    cfg = config_prepare(path, &d);
    if (cfg != NULL) {
        modules_release(cfg);
        config_free(cfg);
        diag_free(&d);
        return 0;
    }
    for (i = 0; i < d.n; i++) {
        fprintf(stderr, "prefork: %s\n", d.msg[i]);
        if (first[0] == '\0' && !diag_is_warning(&d, i))
            first = d.msg[i];
    }
    nerr = count_errors(&d);
    fprintf(stderr,
            "prefork: reload not sent: %s has %zu error%s; the master runs "
            "on as it is\n",
            path, nerr, nerr == 1 ? "" : "s");
    cfg = config_load_partial(path, &d2);
    if (cfg != NULL && cfg->pidfile != NULL &&
        pidfile_read(cfg->pidfile, err, sizeof(err)) != -1 &&
        (file = scoreboard_path(cfg->pidfile)) != NULL &&
        scoreboard_note_refused(file, "prefork -s reload", (unsigned)nerr,
                                first, err, sizeof(err)) == -1)
        fprintf(stderr,
                "prefork: warning: the refusal is not in the status "
                "file: %s\n",
                err);
    free(file);
    config_free(cfg);
    diag_free(&d2);
    diag_free(&d);
    return -1;
}

static int send_control(const char *path, const char *what, int wait_s,
                        int frames)
{
    char  *pidfile;
    size_t i;
    pid_t  pid;
    int    sig = 0;

    if (wait_s >= 0 && strcmp(what, "stop") != 0 && strcmp(what, "quit") != 0) {
        fprintf(stderr, "prefork: -w goes with -s stop or -s quit only\n");
        return 2;
    }
    if (strcmp(what, "status") == 0)
        return show_status(path, -1);
    if (strcmp(what, "top") == 0)
        return show_status(path, frames);
    for (i = 0; i < sizeof(control_signals) / sizeof(control_signals[0]); i++)
        if (strcmp(control_signals[i].name, what) == 0)
            sig = control_signals[i].sig;
    if (sig == 0) {
        fprintf(stderr,
                "prefork: -s: unknown signal '%s' "
                "(use stop, quit, reload, reopen, upgrade, status or top)\n",
                what);
        return 2;
    }
    if (sig == SIGHUP && reload_checked(path) == -1)
        return 1;
    pid = find_master(path, &pidfile, sig == SIGTERM || sig == SIGQUIT);
    free(pidfile);
    if (pid == -1)
        return 1;
    if (kill(pid, sig) == -1) {
        fprintf(stderr, "prefork: kill(%d): %s\n", (int)pid, strerror(errno));
        return 1;
    }
    return wait_s >= 0 ? wait_gone(pid, wait_s) : 0;
}

/* -w SECONDS: a whole number, at most a day.  Returns it, or -1. */
static int parse_wait(const char *s)
{
    char *end;
    long  v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 86400)
        return -1;
    return (int)v;
}

int main(int argc, char **argv)
{
    const char    *path = DEFAULT_CONF, *control = NULL;
    int            test = 0, foreground = 0, wait_s = -1, opt, frames = 0;
    char          *end;
    struct config *cfg;

    while ((opt = getopt(argc, argv, ":c:ts:w:n:fVh")) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 'n':
            errno = 0;
            frames = (int)strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || frames < 1) {
                fprintf(stderr,
                        "prefork: -n wants a count of frames, not "
                        "'%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 't': test = 1; break;
        case 's': control = optarg; break;
        case 'w':
            if ((wait_s = parse_wait(optarg)) == -1) {
                fprintf(stderr,
                        "prefork: -w: '%s' is not a number of "
                        "seconds (0 to 86400)\n",
                        optarg);
                return 2;
            }
            break;
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
    if (wait_s >= 0 && control == NULL) {
        fprintf(stderr, "prefork: -w goes with -s stop or -s quit\n");
        usage(stderr);
        return 2;
    }
    if (control != NULL)
        return send_control(path, control, wait_s, frames);
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
