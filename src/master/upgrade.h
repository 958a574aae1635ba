/*
 * upgrade.h -- replacing the running binary without closing a listener.
 *
 * On SIGUSR2 the master renames its pidfile to PIDFILE.oldbin and starts
 * the binary it was started from (the file now at that path: the new
 * version) with every listening descriptor.  The new master builds its
 * services on them, writes PIDFILE, starts its workers, and once every
 * service has a worker up it tells systemd it is the main process now and
 * sends QUIT to the old master, which drains and exits.  Connections queue
 * on the same sockets throughout, so none is refused.  If the new binary
 * exits before that, the old master takes its pidfile back and serves on.
 */
#ifndef PF_UPGRADE_H
#define PF_UPGRADE_H

#include <stdint.h>
#include <sys/types.h>

#include "master.h"

/* Old master: start the new binary.  Returns 0, or -1 (logged). */
int upgrade_start(struct master *m);

/* Old master: process pid has exited; returns 1 when it was the new
 * master (taking the pidfile back unless we are already stopping). */
int upgrade_reaped(struct master *m, pid_t pid, int status);

/* New master: when every service has a worker up, QUIT the old master and
 * become systemd's main process.  Returns 1 when the take-over is over
 * (done, or given up: then m->give_up is set), 0 while it is pending. */
int upgrade_handoff(struct master *m, int64_t now);

#endif
