/*
 * daemon.c -- leaving the terminal, and giving up root.
 *
 * daemonize() is the classic double fork: the first child calls setsid()
 * to lose the controlling terminal, the second can never acquire one
 * again because it is not a session leader.  The umask is left as the
 * administrator set it; files the server creates follow it.  The process
 * the administrator started does not leave at once: it waits on a pipe
 * until the final process reports that it is serving (exit 0) or closes
 * the pipe without a word because start-up failed (exit 1), so an init
 * script that runs `prefork` knows whether the server came up.
 *
 * drop_privileges() runs in each worker after fork, once the master has
 * bound every socket as root (or as a user with capabilities, caps.h).
 * It sets supplementary groups, then the gid, then the uid (in that order:
 * after setuid the others are no longer allowed), gives up what
 * capabilities a master that is not root passed on, and checks the result
 * instead of trusting the return codes.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include "caps.h"
#include "daemon.h"
#include "diag.h"
#include "log.h"

/* Returns 0 in the child; the parent leaves at once, without atexit
 * handlers or stdio flushing that belong to the child now. */
static int fork_and_leave(void)
{
    pid_t pid = fork();

    if (pid == -1) {
        log_syserr(NULL, "daemonize: fork");
        return -1;
    }
    if (pid > 0)
        _exit(0);
    return 0;
}

/* The process the administrator started: wait for the daemon's word. */
_Noreturn static void wait_ready(int fd)
{
    char    c;
    ssize_t n;

    do
        n = read(fd, &c, 1);
    while (n == -1 && errno == EINTR);
    _exit(n == 1 ? 0 : 1);
}

static int null_stdio(void)
{
    int fd;

    do
        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    while (fd == -1 && errno == EINTR);
    if (fd == -1) {
        log_syserr(NULL, "daemonize: /dev/null");
        return -1;
    }
    /* dup2 clears close-on-exec on 0, 1 and 2, as it should for stdio. */
    for (int i = 0; i <= 2; i++) {
        if (fd != i && dup2(fd, i) == -1) {
            log_syserr(NULL, "daemonize: dup2");
            close(fd);
            return -1;
        }
    }
    if (fd > 2)
        close(fd);
    return 0;
}

int daemonize(int lockfd)
{
    int   p[2];
    pid_t pid;

    fflush(NULL);
    if (pipe2(p, O_CLOEXEC) == -1) {
        log_syserr(NULL, "daemonize: pipe");
        return -1;
    }
    pid = fork();
    if (pid == -1) {
        log_syserr(NULL, "daemonize: fork");
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid > 0) {
        /* Closing it drops our pidfile lock, for the daemon to take. */
        if (lockfd != -1)
            close(lockfd);
        close(p[1]);
        wait_ready(p[0]);
    }
    close(p[0]);
    if (setsid() == -1) {
        log_syserr(NULL, "daemonize: setsid");
        goto fail;
    }
    if (fork_and_leave() == -1)
        goto fail;
    /* Do not keep a mounted filesystem busy. */
    if (chdir("/") == -1) {
        log_syserr(NULL, "daemonize: chdir /");
        goto fail;
    }
    if (null_stdio() == -1)
        goto fail;
    return p[1];
fail:
    close(p[1]);
    return -1;
}

void daemon_ready(int fd)
{
    ssize_t n;

    if (fd == -1)
        return;
    do
        n = write(fd, "", 1);
    while (n == -1 && errno == EINTR);
    /* A failure only makes the starting process exit 1; nothing to undo. */
    close(fd);
}

int set_nofile_limit(long long n, char *err, size_t errlen)
{
    struct rlimit rl;

    if (n <= 0)
        return 0;
    if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
        errbuf_set(err, errlen, "getrlimit(RLIMIT_NOFILE): %s",
                   strerror(errno));
        return -1;
    }
    rl.rlim_cur = (rlim_t)n;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)n)
        rl.rlim_max = (rlim_t)n; /* only root may raise the hard limit */
    if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
        errbuf_set(err, errlen, "rlimit_nofile %lld: %s%s", n, strerror(errno),
                   errno == EPERM ? " (raising the hard limit needs root)"
                                  : "");
        return -1;
    }
    return 0;
}

/* getpwnam/getgrnam return NULL both for "no such entry" and for a lookup
 * failure; only errno tells them apart. */
static int lookup(const char *user, const char *group, uid_t *uid, gid_t *gid,
                  char *err, size_t errlen)
{
    struct passwd *pw = NULL;
    struct group  *gr = NULL;

    *uid = getuid();
    *gid = getgid();
    if (user != NULL) {
        errno = 0;
        pw = getpwnam(user);
        if (pw == NULL) {
            if (errno == 0 || errno == ENOENT || errno == ESRCH)
                errbuf_set(err, errlen, "no such user '%s'", user);
            else
                errbuf_set(err, errlen, "cannot look up user '%s': %s", user,
                           strerror(errno));
            return -1;
        }
        *uid = pw->pw_uid;
        *gid = pw->pw_gid;
    }
    if (group != NULL) {
        errno = 0;
        gr = getgrnam(group);
        if (gr == NULL) {
            if (errno == 0 || errno == ENOENT || errno == ESRCH)
                errbuf_set(err, errlen, "no such group '%s'", group);
            else
                errbuf_set(err, errlen, "cannot look up group '%s': %s", group,
                           strerror(errno));
            return -1;
        }
        *gid = gr->gr_gid;
    }
    return 0;
}

int user_ids(const char *user, const char *group, uid_t *uid, gid_t *gid)
{
    char err[256];

    if (lookup(user, group, uid, gid, err, sizeof(err)) == -1) {
        log_error(NULL, "%s", err);
        return -1;
    }
    return 0;
}

int check_privileges(const char *user, const char *group, char *err,
                     size_t errlen)
{
    uid_t uid;
    gid_t gid;

    return lookup(user, group, &uid, &gid, err, errlen);
}

static int set_groups(const char *user, gid_t gid)
{
    int rc;

    /* Without a user, drop every supplementary group root had. */
    rc = user != NULL ? initgroups(user, gid) : setgroups(1, &gid);
    if (rc == -1) {
        log_syserr(NULL, "cannot set the groups of %s",
                   user != NULL ? user : "the workers");
        return -1;
    }
    return 0;
}

int drop_privileges(const char *user, const char *group)
{
    char  err[256];
    uid_t uid;
    gid_t gid;

    if (user == NULL && group == NULL)
        return 0;
    if (lookup(user, group, &uid, &gid, err, sizeof(err)) == -1) {
        log_error(NULL, "cannot drop privileges: %s", err);
        return -1;
    }
    /* Neither root nor CAP_SETUID and CAP_SETGID: already being that
     * user and group is all we can do. */
    if (!caps_can_switch_user()) {
        if (getuid() == uid && geteuid() == uid && getgid() == gid &&
            getegid() == gid)
            return 0;
        log_error(NULL,
                  "cannot switch to user %s group %s: not running as "
                  "root nor with CAP_SETUID and CAP_SETGID",
                  user != NULL ? user : "(unchanged)",
                  group != NULL ? group : "(default)");
        return -1;
    }
    if (set_groups(user, gid) == -1)
        return -1;
    if (setgid(gid) == -1) {
        log_syserr(NULL, "setgid(%ld)", (long)gid);
        return -1;
    }
    if (setuid(uid) == -1) {
        log_syserr(NULL, "setuid(%ld)", (long)uid);
        return -1;
    }
    /* From root, setuid() cleared the capabilities; from another user
     * it kept them, CAP_SETUID included. */
    if (uid != 0 && caps_held() && caps_drop_all() == -1)
        return -1;
    /* Trust but verify: a partial switch is worse than none. */
    if (getuid() != uid || geteuid() != uid || getgid() != gid ||
        getegid() != gid || (uid != 0 && setuid(0) != -1)) {
        log_error(NULL, "privileges were not dropped to uid %ld gid %ld",
                  (long)uid, (long)gid);
        return -1;
    }
    return 0;
}
