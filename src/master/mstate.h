/*
 * mstate.h -- the master's state, shared by its loop (master.c) and its
 * generations (reload.c).
 *
 * The master binds, forks and supervises; it never touches client traffic.
 */
#ifndef PF_MSTATE_H
#define PF_MSTATE_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "pool.h"
#include "service.h"
#include "upgrade.h"
#include "watchdog.h"

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
    struct pool         pool; /* every worker, of every generation */
    int                 pidfd;
    char               *pidfile;
    uint32_t            next_id;
    unsigned            generations; /* numbered so far (reloads + 1) */
    struct watchdog     wd;          /* systemd's WatchdogSec= */
    int64_t             quit_at;     /* shutdown_delay: the graceful stop's
                                    drain begins then (0: no stop yet) */
    struct upgrade      up;          /* the binary upgrade (upgrade.c) */
    int followed; /* systemd follows this master (upgrade_followed) */
    /* A start or a reload is complete once every service of cur has a
     * worker past worker_init: READY=1 waits until then, for at most
     * start_timeout (await_until, mono ms; 0: no bound). */
    int     awaiting; /* enum await */
    int64_t await_until;
    int     start_failed; /* start_timeout passed: the master exits 1 */
};

enum await { AWAIT_NONE, AWAIT_START, AWAIT_RELOAD };

#endif
