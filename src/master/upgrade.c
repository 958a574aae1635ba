/*
 * upgrade.c -- the binary upgrade (SIGUSR2), both masters' sides.
 *
 * The old master forks a child that clears close-on-exec on the listening
 * descriptors, lists them in its environment (inherit.c) and execs the
 * binary with `-f -c CONFIG`: already detached, the new master must not
 * fork again, or the old one would take the exit of its first process for
 * a failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inherit.h"
#include "log.h"
#include "scoreboard.h"
#include "sdnotify.h"
#include "upgrade.h"

/* How long a new master waits for its first workers before giving up. */
#define HANDOFF_TIMEOUT_MS 10000

/* systemd names the process it watches in WATCHDOG_PID: the new master
 * (this process, once it has exec'd) pings from now on, the old one until
 * it exits; both are the unit's, so NotifyAccess=all takes either. */
static int pass_watchdog(void)
{
    char pid[32];

    if (getenv("WATCHDOG_USEC") == NULL)
        return 0;
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    return setenv("WATCHDOG_PID", pid, 1);
}

__attribute__((noreturn)) static void exec_new(struct master *m)
{
    const char *argv[] = {m->exe, "-f", "-c", m->conf_path, NULL};
    sigset_t    none;

    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) == -1 ||
        inherit_export(&m->ls, getppid()) == -1 || pass_watchdog() == -1) {
        log_syserr(NULL, "upgrade: cannot prepare the new master's "
                         "environment");
        _exit(1);
    }
    execv(m->exe, (char *const *)argv);
    log_syserr(NULL, "upgrade: cannot run %s", m->exe);
    _exit(1);
}

static int rename_pidfile(struct master *m, const char *from, const char *to)
{
    if (rename(from, to) == -1) {
        log_syserr(NULL, "upgrade: cannot rename %s to %s", from, to);
        return -1;
    }
    return 0;
}

/* The status file follows the pidfile (scoreboard.h). */
static void rename_status(struct master *m, const char *pidfile)
{
    if (scoreboard_rename(m->sb, pidfile) == -1)
        log_syswarn(NULL, "upgrade: cannot rename the status file");
}

int upgrade_start(struct master *m)
{
    char *oldbin = NULL;
    pid_t pid;

    if (m->upgrade_pid != 0 || m->old_master != 0) {
        log_warn(NULL, "SIGUSR2 ignored: an upgrade is already under way");
        return -1;
    }
    if (m->exe == NULL) {
        log_error(NULL, "SIGUSR2 ignored: the path of the binary is unknown");
        return -1;
    }
    log_notice(NULL, "upgrade: starting %s", m->exe);
    if (m->pidfd != -1) {
        if (asprintf(&oldbin, "%s.oldbin", m->pidfile) < 0) {
            log_error(NULL, "upgrade: out of memory");
            return -1;
        }
        if (rename_pidfile(m, m->pidfile, oldbin) == -1) {
            free(oldbin);
            return -1;
        }
        /* Before the fork: the new master's status file takes the name. */
        rename_status(m, oldbin);
    }
    pid = fork();
    if (pid == -1) {
        log_syserr(NULL, "upgrade: fork");
        if (oldbin != NULL) {
            (void)rename_pidfile(m, oldbin, m->pidfile);
            rename_status(m, m->pidfile);
        }
        free(oldbin);
        return -1;
    }
    if (pid == 0)
        exec_new(m);
    m->upgrade_pid = pid;
    if (oldbin != NULL) {
        free(m->pidfile);
        m->pidfile = oldbin;
    }
    return 0;
}

int upgrade_reaped(struct master *m, pid_t pid, int status)
{
    size_t len;

    if (pid != m->upgrade_pid || pid == 0)
        return 0;
    m->upgrade_pid = 0;
    if (m->stopping) {
        log_notice(NULL, "upgrade: the new master %d has exited", (int)pid);
        return 1;
    }
    if (WIFSIGNALED(status))
        log_error(NULL,
                  "upgrade: the new master %d died on signal %d; "
                  "this one serves on",
                  (int)pid, WTERMSIG(status));
    else
        log_error(NULL,
                  "upgrade: the new master %d exited with status %d; "
                  "this one serves on",
                  (int)pid, WEXITSTATUS(status));
    /* Take the pidfile back: PIDFILE.oldbin -> PIDFILE. */
    len = m->pidfile != NULL ? strlen(m->pidfile) : 0;
    if (m->pidfd != -1 && len > 7 &&
        strcmp(m->pidfile + len - 7, ".oldbin") == 0) {
        char *path = strndup(m->pidfile, len - 7);
        if (path != NULL && rename_pidfile(m, m->pidfile, path) == 0) {
            free(m->pidfile);
            m->pidfile = path;
            rename_status(m, m->pidfile);
        } else {
            free(path);
        }
    }
    return 1;
}

/* Every service of the current generation has a worker that is serving. */
static int services_up(const struct master *m)
{
    size_t i, j;

    for (i = 0; i < m->cur->nsvc; i++) {
        int up = 0;
        for (j = 0; j < m->nw && !up; j++) {
            struct slot snap;
            if (m->w[j].svc != &m->cur->svc[i])
                continue;
            slot_read(&m->sb->slots[m->w[j].slot], &snap);
            up = snap.state == SLOT_IDLE || snap.state == SLOT_BUSY;
        }
        if (!up)
            return 0;
    }
    return 1;
}

int upgrade_handoff(struct master *m, int64_t now)
{
    if (m->old_master == 0)
        return 1;
    if (m->handoff_deadline == 0)
        m->handoff_deadline = now + HANDOFF_TIMEOUT_MS;
    if (!services_up(m)) {
        if (now < m->handoff_deadline)
            return 0;
        log_error(NULL,
                  "upgrade: workers not up after %d s; giving up, the old "
                  "master %d serves on",
                  HANDOFF_TIMEOUT_MS / 1000, (int)m->old_master);
        m->give_up = 1;
        return 1;
    }
    notify_ready(1);
    if (kill(m->old_master, SIGQUIT) == -1 && errno != ESRCH)
        log_syserr(NULL, "upgrade: kill(%d, QUIT)", (int)m->old_master);
    log_notice(NULL, "upgrade: took over from master %d", (int)m->old_master);
    m->old_master = 0;
    return 1;
}
