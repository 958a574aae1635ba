/*
 * watchdog.h -- systemd's watchdog (WatchdogSec=), fed by the master's
 * supervision loop.
 *
 * The master pings (WATCHDOG=1) at half the interval systemd asks for, and
 * only from the loop's supervision pass (reaping, worker_timeout, pool
 * sizing), and only while that pass is healthy: a master that stops
 * turning its loop, hangs in a reload or cannot start workers any more
 * lets the watchdog expire, and systemd restarts the service.
 */
#ifndef PF_WATCHDOG_H
#define PF_WATCHDOG_H

#include <stdint.h>

struct watchdog {
    int64_t interval_ms;   /* WATCHDOG_USEC; 0: no watchdog */
    int64_t half_ms;       /* how often to ping */
    int64_t next_ping;     /* mono ms */
    int64_t failing_since; /* mono ms of the first failed spawn in a row */
    int     withheld;      /* pings stopped (logged once) */
};

/* Master, at start-up while its pid is the one systemd started (so before
 * daemonizing): read WATCHDOG_USEC and WATCHDOG_PID. */
void watchdog_init(struct watchdog *wd);

/* Master, at the end of each supervision pass: spawn_failed is
 * pool_maintain()'s -1.  Pings when due and healthy. */
void watchdog_pass(struct watchdog *wd, int64_t now, int spawn_failed);

#endif
