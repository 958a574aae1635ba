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
#include <fcntl.h>
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
#include "ticketkeys.h"
#include "upgrade.h"

/* How long a new master waits for its first workers before giving up. */
#define HANDOFF_TIMEOUT_MS 10000

#define HANDOVER_ENV "PREFORK_HANDOVER_FD"
/* The byte the old master writes once systemd has been told. */
#define HANDOVER_TOLD 'm'

/* systemd names the process it watches in WATCHDOG_PID: the new master
 * (this process, once it has exec'd) pings once systemd follows it, the
 * old one until then. */
static int pass_watchdog(void)
{
    char pid[32];

    if (getenv("WATCHDOG_USEC") == NULL)
        return 0;
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    return setenv("WATCHDOG_PID", pid, 1);
}

/* The read end of the hand-over pipe survives exec, named in the
 * environment. */
static int pass_handover(int fd)
{
    char num[16];

    snprintf(num, sizeof(num), "%d", fd);
    if (fcntl(fd, F_SETFD, 0) == -1)
        return -1;
    return setenv(HANDOVER_ENV, num, 1);
}

__attribute__((noreturn)) static void exec_new(const struct upgrade *u,
                                               int                   handover)
{
    const char *argv[] = {u->exe, "-f", "-c", u->conf_path, NULL};
    sigset_t    none;

    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) == -1 ||
        pass_handover(handover) == -1 ||
        inherit_export(u->ls, getppid()) == -1 || ticketkeys_export() == -1 ||
        pass_watchdog() == -1) {
        log_syserr(NULL, "upgrade: cannot prepare the new master's "
                         "environment");
        _exit(1);
    }
    execv(u->exe, (char *const *)argv);
    log_syserr(NULL, "upgrade: cannot run %s", u->exe);
    _exit(1);
}

static int rename_pidfile(const char *from, const char *to)
{
    if (rename(from, to) == -1) {
        log_syserr(NULL, "upgrade: cannot rename %s to %s", from, to);
        return -1;
    }
    return 0;
}

/* The status file follows the pidfile (scoreboard.h). */
static void rename_status(const struct upgrade *u, const char *pidfile)
{
    if (scoreboard_rename(u->sb, pidfile) == -1)
        log_syswarn(NULL, "upgrade: cannot rename the status file");
}

/* New master: the read end its old master passed, non-blocking. */
static void take_handover(struct upgrade *u)
{
    const char *env = getenv(HANDOVER_ENV);
    char       *end;
    long        fd;

    if (env == NULL)
        return;
    fd = strtol(env, &end, 10);
    if (*end != '\0' || fd < 3 || fcntl((int)fd, F_SETFD, FD_CLOEXEC) == -1 ||
        fcntl((int)fd, F_SETFL, O_NONBLOCK) == -1)
        log_warn(NULL, "upgrade: %s=%s ignored", HANDOVER_ENV, env);
    else
        u->handover_fd = (int)fd;
    /* Not for a master this one starts in turn. */
    unsetenv(HANDOVER_ENV);
}

void upgrade_init(struct upgrade *u, const char *exe, const char *conf_path,
                  char **pidfile, struct scoreboard *sb, struct lsock_set *ls,
                  pid_t old_master)
{
    *u = (struct upgrade){
        .exe = exe,
        .conf_path = conf_path,
        .pidfile = pidfile,
        .sb = sb,
        .ls = ls,
        .old_master = old_master,
        .handover_fd = -1,
    };
    if (old_master != 0)
        take_handover(u);
}

int upgrade_start(struct upgrade *u)
{
    char *oldbin = NULL, *pidfile = *u->pidfile;
    int   pfd[2];
    pid_t pid;

    if (u->new_master != 0 || u->old_master != 0) {
        log_warn(NULL, "SIGUSR2 ignored: an upgrade is already under way");
        return -1;
    }
    if (u->exe == NULL) {
        log_error(NULL, "SIGUSR2 ignored: the path of the binary is unknown");
        return -1;
    }
    log_notice(NULL, "upgrade: starting %s", u->exe);
    if (pipe2(pfd, O_CLOEXEC) == -1) {
        log_syserr(NULL, "upgrade: pipe");
        return -1;
    }
    if (pidfile != NULL) {
        if (asprintf(&oldbin, "%s.oldbin", pidfile) < 0) {
            log_error(NULL, "upgrade: out of memory");
            oldbin = NULL;
            goto fail;
        }
        if (rename_pidfile(pidfile, oldbin) == -1)
            goto fail;
        /* Before the fork: the new master's status file takes the name. */
        rename_status(u, oldbin);
    }
    pid = fork();
    if (pid == -1) {
        log_syserr(NULL, "upgrade: fork");
        if (oldbin != NULL) {
            (void)rename_pidfile(oldbin, pidfile);
            rename_status(u, pidfile);
        }
        goto fail;
    }
    if (pid == 0) {
        close(pfd[1]);
        exec_new(u, pfd[0]);
    }
    close(pfd[0]);
    u->handover_fd = pfd[1];
    u->new_master = pid;
    if (oldbin != NULL) {
        free(pidfile);
        *u->pidfile = oldbin;
    }
    return 0;
fail:
    free(oldbin);
    close(pfd[0]);
    close(pfd[1]);
    return -1;
}

static void close_handover(struct upgrade *u)
{
    if (u->handover_fd != -1)
        close(u->handover_fd);
    u->handover_fd = -1;
}

void upgrade_release(struct upgrade *u)
{
    char told = HANDOVER_TOLD;

    if (u->new_master == 0 || u->handover_fd == -1)
        return;
    notify_mainpid(u->new_master);
    if (write(u->handover_fd, &told, 1) == -1)
        log_syswarn(NULL, "upgrade: cannot tell the new master %d",
                    (int)u->new_master);
    close_handover(u);
}

int upgrade_followed(struct upgrade *u)
{
    char    told = 0;
    ssize_t n;

    if (u->handover_fd == -1)
        return 1;
    n = read(u->handover_fd, &told, 1);
    if (n == -1 && (errno == EAGAIN || errno == EINTR))
        return 0;
    close_handover(u);
    if (n != 1 || told != HANDOVER_TOLD) {
        /* The old master is gone without a word: say it ourselves (a
         * unit with NotifyAccess=all takes it from any process). */
        log_warn(NULL, "upgrade: the old master did not hand over to "
                       "systemd; this master names itself");
        notify_ready(1);
    }
    return 1;
}

int upgrade_reaped(struct upgrade *u, pid_t pid, int status, int stopping)
{
    char  *pidfile = *u->pidfile;
    size_t len;

    if (pid != u->new_master || pid == 0)
        return 0;
    u->new_master = 0;
    close_handover(u);
    if (stopping) {
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
    len = pidfile != NULL ? strlen(pidfile) : 0;
    if (len > 7 && strcmp(pidfile + len - 7, ".oldbin") == 0) {
        char *path = strndup(pidfile, len - 7);
        if (path != NULL && rename_pidfile(pidfile, path) == 0) {
            free(pidfile);
            *u->pidfile = path;
            rename_status(u, path);
        } else {
            free(path);
        }
    }
    return 1;
}

int upgrade_handoff(struct upgrade *u, int64_t now, int up)
{
    if (u->old_master == 0)
        return 1;
    if (u->handoff_deadline == 0)
        u->handoff_deadline = now + HANDOFF_TIMEOUT_MS;
    if (!up) {
        if (now < u->handoff_deadline)
            return 0;
        log_error(NULL,
                  "upgrade: workers not up after %d s; giving up, the old "
                  "master %d serves on",
                  HANDOFF_TIMEOUT_MS / 1000, (int)u->old_master);
        u->give_up = 1;
        return 1;
    }
    /* The old master names this one to systemd as it stops. */
    if (kill(u->old_master, SIGQUIT) == -1 && errno != ESRCH)
        log_syserr(NULL, "upgrade: kill(%d, QUIT)", (int)u->old_master);
    log_notice(NULL, "upgrade: took over from master %d", (int)u->old_master);
    u->old_master = 0;
    return 1;
}
