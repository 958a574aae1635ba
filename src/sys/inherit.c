/*
 * inherit.c -- listening sockets a master is started with.
 *
 * systemd's part goes through libsystemd (sd_listen_fds_with_names checks
 * LISTEN_PID and clears the variables).  An old master passes its own
 * listeners the same way under names of ours, so that a binary upgrade
 * works with or without systemd: PREFORK_LISTEN_FDS is a comma-separated
 * list of descriptors, PREFORK_LISTEN_FDNAMES the systemd name of each
 * (colon-separated, empty for none: systemd's names never hold a colon),
 * PREFORK_OLD_MASTER the old master's pid.  A socket systemd keeps in its
 * file descriptor store goes by its name there, from systemd after a
 * restart as from an old master.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdstore.h"
#include "inherit.h"
#include "listener.h"
#include "log.h"
#include "sdnotify.h"

#define ENV_FDS   "PREFORK_LISTEN_FDS"
#define ENV_NAMES "PREFORK_LISTEN_FDNAMES"
#define ENV_OLD   "PREFORK_OLD_MASTER"

/* systemd's first passed descriptor (SD_LISTEN_FDS_START). */
#define LISTEN_FDS_START 3

static pid_t old_master;

/* 1 when fd joined set, 0 when it was not a usable socket, -1 on ENOMEM.
 * A name of the file descriptor store's is no socket unit's: the socket
 * is one a master of ours bound, and is matched by address. */
static int adopt(struct lsock_set *set, int fd, const char *name, int owned)
{
    const char *stored = fdstore_name(name) ? name : NULL;
    struct addr a;
    char        err[256];
    int         reuseport;

    if (listener_adopt(fd, &a, &reuseport, err, sizeof(err)) == -1) {
        log_error(NULL, "inherited descriptor %d: %s: closed", fd, err);
        close(fd);
        return 0;
    }
    if (stored != NULL) {
        name = NULL;
        owned = 1;
    }
    if (lsock_inherit(set, fd, &a, reuseport, name, stored, owned) == -1) {
        log_error(NULL, "inherited descriptor %d: out of memory", fd);
        return -1;
    }
    if (stored != NULL)
        log_info(NULL,
                 "inherited %s, kept in the file descriptor store as '%s'",
                 a.text, stored);
    else if (name != NULL)
        log_info(NULL, "inherited %s, named '%s'", a.text, name);
    else
        log_info(NULL, "inherited %s", a.text);
    return 1;
}

static int from_systemd(struct lsock_set *set)
{
    const struct sd_lib *sd = sd_lib();
    char               **names = NULL;
    int                  n, i, rc, added = 0;

    if (sd == NULL) {
        if (getenv("LISTEN_FDS") != NULL)
            log_warn(NULL, "LISTEN_FDS ignored: no libsystemd to read it with");
        return 0;
    }
    n = sd->listen_fds_with_names(1, &names);
    if (n < 0) {
        log_error(NULL, "LISTEN_FDS: %s", strerror(-n));
        return -1;
    }
    for (i = 0; i < n && added >= 0; i++) {
        rc = adopt(set, LISTEN_FDS_START + i, names != NULL ? names[i] : NULL,
                   0);
        added = rc < 0 ? -1 : added + rc;
    }
    for (i = 0; names != NULL && names[i] != NULL; i++)
        free(names[i]);
    free(names);
    return added;
}

/* A decimal number in [lo, hi] ending at *end (',' ':' or NUL). */
static long parse_num(const char *s, char **end, long lo, long hi)
{
    long v;

    errno = 0;
    if (*s < '0' || *s > '9')
        return -1;
    v = strtol(s, end, 10);
    if (errno != 0 || v < lo || v > hi)
        return -1;
    return v;
}

/* The next name from the colon-separated list at *p, into buf ("" for
 * none); advances *p. */
static void next_name(const char **p, char *buf, size_t len)
{
    size_t n = 0;

    while (**p != '\0' && **p != ':') {
        if (n + 1 < len)
            buf[n++] = **p;
        (*p)++;
    }
    buf[n] = '\0';
    if (**p == ':')
        (*p)++;
}

static int from_old_master(struct lsock_set *set)
{
    const char *fds = getenv(ENV_FDS), *names = getenv(ENV_NAMES);
    const char *old = getenv(ENV_OLD), *p;
    char       *end, name[256];
    long        fd;
    int         rc, added = 0;

    if (old != NULL) {
        long pid = parse_num(old, &end, 2, 0x7fffffffL);
        if (pid == -1 || *end != '\0') {
            log_error(NULL, "%s=%s: not a pid", ENV_OLD, old);
            return -1;
        }
        old_master = (pid_t)pid;
    }
    if (fds == NULL)
        return 0;
    if (names == NULL)
        names = "";
    for (p = fds; *p != '\0'; p = end + (*end == ',')) {
        fd = parse_num(p, &end, 3, 1 << 30);
        if (fd == -1 || (*end != ',' && *end != '\0') ||
            fcntl((int)fd, F_GETFD) == -1) {
            log_error(NULL, "%s=%s: not a list of open descriptors", ENV_FDS,
                      fds);
            return -1;
        }
        next_name(&names, name, sizeof(name));
        rc = adopt(set, (int)fd, name[0] != '\0' ? name : NULL, 1);
        if (rc < 0)
            return -1;
        added += rc;
    }
    return added;
}

int inherit_sockets(struct lsock_set *set)
{
    int a, b;

    a = from_systemd(set);
    b = from_old_master(set);
    unsetenv(ENV_FDS);
    unsetenv(ENV_NAMES);
    unsetenv(ENV_OLD);
    return a < 0 || b < 0 ? -1 : a + b;
}

pid_t inherit_old_master(void)
{
    return old_master;
}

/* Append to a growing string; returns -1 on ENOMEM. */
static int append(char **s, size_t *len, const char *add)
{
    size_t n = strlen(add);
    char  *v = realloc(*s, *len + n + 1);

    if (v == NULL)
        return -1;
    memcpy(v + *len, add, n + 1);
    *s = v;
    *len += n;
    return 0;
}

int inherit_export(const struct lsock_set *set, pid_t old)
{
    char  *fds = NULL, *names = NULL, num[32];
    size_t nf = 0, nn = 0, i, j;
    int    rc = -1, first = 1;

    if (append(&fds, &nf, "") == -1 || append(&names, &nn, "") == -1)
        goto out;
    for (i = 0; i < set->n; i++) {
        const struct lsock *l = set->v[i];
        for (j = 0; j < l->nfds; j++) {
            if (l->fds[j] == -1)
                continue;
            if (fcntl(l->fds[j], F_SETFD, 0) == -1)
                goto out;
            snprintf(num, sizeof(num), "%s%d", first ? "" : ",", l->fds[j]);
            if (append(&fds, &nf, num) == -1 ||
                (!first && append(&names, &nn, ":") == -1) ||
                append(&names, &nn,
                       l->name     ? l->name
                       : l->stored ? l->stored
                                   : "") == -1)
                goto out;
            first = 0;
        }
    }
    snprintf(num, sizeof(num), "%ld", (long)old);
    if (setenv(ENV_FDS, fds, 1) == -1 || setenv(ENV_NAMES, names, 1) == -1 ||
        setenv(ENV_OLD, num, 1) == -1)
        goto out;
    rc = 0;
out:
    free(fds);
    free(names);
    return rc;
}
