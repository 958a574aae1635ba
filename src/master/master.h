/*
 * master.h -- the master process: the state it keeps and its main loop.
 *
 * The master binds, forks and supervises; it never touches client traffic.
 * It sleeps with every signal blocked but while waiting in ppoll(); signal
 * handlers only raise flags and the loop acts on them (the nginx pattern).
 */
#ifndef PF_MASTER_H
#define PF_MASTER_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "service.h"
#include "watchdog.h"

struct worker {
    pid_t              pid;
    int                slot;
    struct service    *svc;
    struct generation *gen;
    int                retiring;    /* told to quit: not replaced */
    int                killed;      /* SIGKILLed for worker_timeout */
    int                over_memory; /* recycled for max_worker_memory */
    int                recycle;     /* to be replaced (the master's word) */
    pid_t              replacement; /* started to take its place; 0: none */
    int64_t            started;
};

/* The one process-wide state of the master. */
struct master {
    const char         *conf_path; /* absolute when it could be made so */
    char               *conf_abs;
    char               *exe; /* this binary, for a binary upgrade */
    int                 foreground;
    struct generation  *cur;
    struct generation **old; /* reloaded away, draining */
    size_t              nold;
    struct lsock_set    ls;
    struct scoreboard  *sb;
    struct worker      *w;
    size_t              nw, capw;
    int                 pidfd;
    char               *pidfile;
    uint32_t            next_id;
    unsigned            generations;    /* numbered so far (reloads + 1) */
    int                 stopping;       /* no respawns: shutting down */
    int                 spawn_failures; /* the master's own, in a row */
    struct watchdog     wd;             /* systemd's WatchdogSec= */
    int64_t             memory_due;     /* next max_worker_memory look */
    int64_t             quit_at;        /* shutdown_delay: the graceful stop's
                                    drain begins then (0: no stop yet) */

    /* Binary upgrade (upgrade.c). */
    pid_t   upgrade_pid;      /* old master: the new master it started */
    pid_t   old_master;       /* new master: the one it is replacing */
    int64_t handoff_deadline; /* new master: give up after this (mono ms) */
    int     give_up;          /* new master: the take-over failed */
};

/* Run the master with a checked, prepared config (modules loaded).  Takes
 * ownership of cfg.  Returns the process exit status. */
int master_run(struct config *cfg, const char *conf_path, int foreground);

#endif
