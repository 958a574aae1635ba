/*
 * sandbox.h -- a worker confines itself: once its module's worker_init
 * has run and privileges are dropped, before the first connection, it
 * sets no_new_privs, applies Landlock and the seccomp filter its service's
 * plan says (confine.h), and from then on every thread and child it makes
 * is confined as it is.
 */
#ifndef PF_SANDBOX_H
#define PF_SANDBOX_H

#include <sys/types.h>

struct config;
struct service;
struct slot;

/* Exit status of a process the seccomp filter ended; the call's name is
 * in its slot's sandbox_syscall. */
#define SANDBOX_EXIT 4

/* Confine this worker (or acceptor) of svc; a denied system call writes
 * its name into slot and ends the process.  Returns 0 (also when the plan
 * confines nothing), or -1 (logged) when sandbox = require and a
 * protection could not be applied: the worker must not serve. */
int sandbox_enter(const struct config *cfg, struct service *svc,
                  struct slot *slot);

/* Forking mode, in the acceptor: child pid of service `name` ended with
 * status; when the sandbox ended it, log which call and clear the slot
 * for the acceptor's own record. */
void sandbox_child_reaped(const char *name, pid_t pid, int status);

#endif
