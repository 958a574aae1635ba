/*
 * pidfile.c -- the master's pidfile, and finding the master from it.
 *
 * The file is locked with fcntl(F_SETLK) for as long as the master runs.
 * POSIX record locks belong to a process and are not inherited by fork, so
 * workers never hold it and a master that dies (even by SIGKILL) releases
 * it at once: a lock held means a master is alive, a leftover file with
 * no lock means none is.  The flip side: closing ANY descriptor of this
 * file in the master drops the lock, so the master must never open it a
 * second time (pidfile_read is for other processes, such as `prefork -s`).
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "log.h"
#include "pidfile.h"

/* How long pidfile_write waits for a parent that is exiting (daemonize). */
#define RELOCK_TRIES  100
#define RELOCK_NAP_NS (10 * 1000 * 1000)

static void whole_file(struct flock *fl, short type)
{
    memset(fl, 0, sizeof(*fl));
    fl->l_type = type;
    fl->l_whence = SEEK_SET;
    fl->l_start = 0;
    fl->l_len = 0;
}

/* 0 when we hold the lock, 1 when another process does, -1 on error. */
static int try_lock(int fd)
{
    struct flock fl;

    whole_file(&fl, F_WRLCK);
    if (fcntl(fd, F_SETLK, &fl) == 0)
        return 0;
    return errno == EACCES || errno == EAGAIN ? 1 : -1;
}

/* The pid of whoever holds the lock on fd (0 when the holder is in another
 * pid namespace), or -1 when nobody holds it now. */
static pid_t lock_holder(int fd)
{
    struct flock fl;

    whole_file(&fl, F_WRLCK);
    if (fcntl(fd, F_GETLK, &fl) == -1 || fl.l_type == F_UNLCK)
        return -1;
    return fl.l_pid;
}

static void log_held(int fd, const char *path)
{
    pid_t       holder = lock_holder(fd);
    const char *sep = path != NULL ? " " : "";

    if (path == NULL)
        path = "";
    if (holder > 0)
        log_error(NULL,
                  "another prefork master (pid %ld) holds the "
                  "pidfile%s%s",
                  (long)holder, sep, path);
    else
        log_error(NULL, "another prefork master holds the pidfile%s%s", sep,
                  path);
}

static void nap(void)
{
    struct timespec ts = {0, RELOCK_NAP_NS};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/*
 * After daemonize() the process holding the lock is a parent that is
 * exiting this instant, and our own process never held it: take it now.
 * Waiting briefly covers the parent's last moments; a lock still held
 * after that belongs to someone else.
 */
static int relock(int fd)
{
    int rc = 1;

    for (int i = 0; i < RELOCK_TRIES && rc == 1; i++) {
        rc = try_lock(fd);
        if (rc == 1)
            nap();
    }
    if (rc == 0)
        return 0;
    if (rc == -1) {
        log_syserr(NULL, "cannot lock the pidfile");
        return -1;
    }
    log_held(fd, NULL);
    return -1;
}

int pidfile_write(int fd)
{
    char   buf[32];
    size_t len, off = 0;

    if (relock(fd) == -1)
        return -1;
    len = (size_t)snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == -1) {
        log_syserr(NULL, "cannot truncate the pidfile");
        return -1;
    }
    while (off < len) {
        ssize_t w = pwrite(fd, buf + off, len - off, (off_t)off);

        if (w == -1 && errno == EINTR)
            continue;
        if (w == -1) {
            log_syserr(NULL, "cannot write the pidfile");
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

int pidfile_create(const char *path)
{
    int fd = -1, rc;

    do
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    while (fd == -1 && errno == EINTR);
    if (fd == -1) {
        log_syserr(NULL, "cannot open pidfile %s", path);
        return -1;
    }
    rc = try_lock(fd);
    if (rc == -1) {
        log_syserr(NULL, "cannot lock pidfile %s", path);
        goto fail;
    }
    if (rc == 1) {
        log_held(fd, path);
        goto fail;
    }
    /* Empty until pidfile_write(): a pid in the file means the master has
     * bound its listeners, which is what scripts waiting on it rely on. */
    if (ftruncate(fd, 0) == -1) {
        log_syserr(NULL, "cannot truncate pidfile %s", path);
        goto fail;
    }
    return fd;
fail:
    /* Our own lock, if any, goes with the descriptor; the file stays, as
     * another master may be using it. */
    close(fd);
    return -1;
}

void pidfile_remove(const char *path, int fd)
{
    if (fd == -1)
        return; /* not ours: another master's file must stay */
    /* Unlink while still locked, so no new master sees a half-gone file. */
    if (path != NULL && unlink(path) == -1 && errno != ENOENT)
        log_syswarn(NULL, "cannot remove pidfile %s", path);
    close(fd);
}

static int parse_pid(const char *s, pid_t *pid)
{
    long v = 0;

    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (*s - '0');
        if (v > 0x7fffffffL)
            return -1;
    }
    if (*s == '\n')
        s++;
    if (*s != '\0' || v < 1)
        return -1;
    *pid = (pid_t)v;
    return 0;
}

pid_t pidfile_read(const char *path, char *err, size_t errlen)
{
    char    buf[32];
    ssize_t n;
    pid_t   pid = -1;
    int     fd = -1;

    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd == -1 && errno == EINTR);
    if (fd == -1) {
        if (errno == ENOENT)
            errbuf_set(err, errlen, "%s: no such file (is prefork running?)",
                       path);
        else
            errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    do
        n = read(fd, buf, sizeof(buf) - 1);
    while (n == -1 && errno == EINTR);
    if (n == -1) {
        errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    buf[n] = '\0';
    if (parse_pid(buf, &pid) == -1) {
        errbuf_set(err, errlen, "%s: does not hold a pid", path);
        pid = -1;
        goto fail;
    }
    /* A pid can be reused after a crash; only a held lock proves a master.
     * EPERM from kill() still means the process exists. */
    if ((kill(pid, 0) == -1 && errno == ESRCH) || lock_holder(fd) == -1) {
        errbuf_set(err, errlen, "%s: no running master (pid %ld)", path,
                   (long)pid);
        pid = -1;
        goto fail;
    }
    close(fd);
    return pid;
fail:
    close(fd);
    return -1;
}
