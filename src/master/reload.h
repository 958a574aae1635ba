/*
 * reload.h -- the master's generations: a reload, its readiness, and
 * going back to the generation before.
 */
#ifndef PF_RELOAD_H
#define PF_RELOAD_H

#include <stdint.h>

#include "config.h"
#include "diag.h"
#include "mstate.h"

/* SIGHUP: load the file into a new generation and make it current; with
 * errors, the running one serves on. */
void master_reload(struct master *m);

/* From now on, wait for every service of the current generation to have
 * a worker past worker_init (what: a start's or a reload's). */
void master_await_up(struct master *m, enum await what);

/* While a start or a reload awaits its workers: done, given up, or not
 * yet.  A start given up sets m->start_failed; a reload given up is
 * rolled back. */
void master_check_up(struct master *m, int64_t now);

/* The reload to the current generation failed (state: "rolled back",
 * "failed"; why: the reason): the generation before runs on. */
void master_roll_back(struct master *m, const char *state, const char *why);

/* Free reloaded-away generations whose last worker has gone. */
void master_release_old(struct master *m);

/* Log each message of d, as an error or a warning. */
void master_log_diag(const struct diag *d);

/* Workers that run as `user` reopen the error log themselves on USR1:
 * a root master gives the file to them. */
void master_give_log(const struct config *cfg);

/* rlimit_nofile for the master and the workers it forks: 0 or -1
 * (logged). */
int master_nofile_limit(const struct config *cfg);

/* Does a service of cfg speak TLS? */
int master_uses_tls(const struct config *cfg);

#endif
