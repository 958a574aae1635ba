/*
 * watchdog.c -- when the master tells systemd it is alive.
 *
 * A ping says "supervision works", so it is sent from the supervision pass
 * itself, never from a timer of its own: a master that is stopped, stuck
 * in a reload (a module's check that never returns, a name that does not
 * resolve) or looping elsewhere sends none.  The pass runs at least every
 * half interval (master.c shortens its tick to that).
 *
 * A pass that turns is not enough: the master's one job is to keep its
 * pools, so when every attempt to start a worker has failed on the
 * master's side (fork, memory, a scoreboard slot) for a whole interval,
 * the pings stop too.  That is the state a restart can cure (a cgroup
 * full of strays, a master that leaks); a module whose workers die at
 * start-up is not: the master is doing its job (backing off) and the
 * other services serve on, so it does not count.
 */
#include <string.h>

#include "log.h"
#include "sdnotify.h"
#include "watchdog.h"

void watchdog_init(struct watchdog *wd)
{
    uint64_t usec = notify_watchdog_usec();

    memset(wd, 0, sizeof(*wd));
    if (usec == 0)
        return;
    wd->interval_ms = usec >= 2000 ? (int64_t)(usec / 1000) : 2;
    wd->half_ms = wd->interval_ms / 2;
    log_info(NULL, "systemd watchdog: %lld ms, pinging every %lld ms",
             (long long)wd->interval_ms, (long long)wd->half_ms);
}

void watchdog_pass(struct watchdog *wd, int64_t now, int spawn_failed)
{
    if (wd->interval_ms == 0)
        return;
    if (!spawn_failed)
        wd->failing_since = 0;
    else if (wd->failing_since == 0)
        wd->failing_since = now;
    if (wd->failing_since != 0 && now - wd->failing_since >= wd->interval_ms) {
        if (!wd->withheld)
            log_error(NULL,
                      "no worker could be started for %lld ms: watchdog "
                      "pings stop, for systemd to restart the service",
                      (long long)(now - wd->failing_since));
        wd->withheld = 1;
        return;
    }
    if (wd->withheld)
        log_notice(NULL, "workers start again: watchdog pings resume");
    wd->withheld = 0;
    if (now < wd->next_ping)
        return;
    notify_watchdog();
    wd->next_ping = now + wd->half_ms;
}
