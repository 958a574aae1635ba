/*
 * inherit.h -- listening sockets a master is started with.
 *
 * Two sources: systemd's socket activation (LISTEN_FDS, LISTEN_FDNAMES,
 * read with libsystemd) and an old master handing its listeners to the new
 * binary it starts on SIGUSR2 (PREFORK_LISTEN_FDS, PREFORK_LISTEN_FDNAMES,
 * PREFORK_OLD_MASTER).  Either way the sockets join the master's lsock set
 * before the first generation is built; service.c matches them to services.
 */
#ifndef PF_INHERIT_H
#define PF_INHERIT_H

#include <sys/types.h>

#include "service.h"

/* Add every socket passed in to set and clear the variables that named
 * them, so that workers and later upgrades do not see them.  A descriptor
 * that is not a usable socket is logged and closed.  Returns the number
 * added, or -1 when the variables cannot be used at all (logged). */
int inherit_sockets(struct lsock_set *set);

/* The pid of the master this one replaces (binary upgrade), or 0.  Valid
 * after inherit_sockets(). */
pid_t inherit_old_master(void);

/* In the child about to exec the new binary: describe every listener of
 * set in the environment and let its descriptors survive exec.  Returns 0,
 * or -1 with errno set. */
int inherit_export(const struct lsock_set *set, pid_t old_master);

#endif
