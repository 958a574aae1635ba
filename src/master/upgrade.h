/*
 * upgrade.h -- replacing the running binary without closing a listener.
 *
 * On SIGUSR2 the master renames its pidfile to PIDFILE.oldbin and starts
 * the binary it was started from (the file now at that path: the new
 * version) with every listening descriptor.  The new master builds its
 * services on them, writes PIDFILE, starts its workers, and once every
 * service has a worker up it sends QUIT to the old master, which tells
 * systemd that the new master is the main process now (MAINPID=: the
 * main process may say so under NotifyAccess=main), then drains and
 * exits.  Until the old master has said it, over a pipe whose other end
 * the new master holds, the new master sends systemd nothing: under
 * NotifyAccess=main a message from a process that is not the main one
 * is refused.  Connections queue
 * on the same sockets throughout, so none is refused.  If the new binary
 * exits before that, the old master takes its pidfile back and serves on.
 */
#ifndef PF_UPGRADE_H
#define PF_UPGRADE_H

#include <stdint.h>
#include <sys/types.h>

struct lsock_set;
struct scoreboard;

struct upgrade {
    /* The master's, lent when it starts (upgrade_init). */
    const char        *exe; /* this binary; NULL: upgrades are disabled */
    const char        *conf_path;
    char             **pidfile; /* its path (NULL: none), renamed to
                                   PIDFILE.oldbin and back: the master
                                   removes it by the name it has at exit */
    struct scoreboard *sb;      /* its status file follows the pidfile */
    struct lsock_set  *ls;      /* passed to the new master */

    pid_t   new_master;       /* old master: the new master it started */
    pid_t   old_master;       /* new master: the one it is replacing */
    int64_t handoff_deadline; /* new master: give up after this (mono ms) */
    int     give_up;          /* new master: the take-over failed */
    /* The hand-over pipe: the old master holds the write end, the new
     * master the read end (PREFORK_HANDOVER_FD); -1 when none. */
    int handover_fd;
};

/* Master, at start-up: no upgrade under way; old_master is the master
 * this one replaces (inherit_old_master()), 0 when none. */
void upgrade_init(struct upgrade *u, const char *exe, const char *conf_path,
                  char **pidfile, struct scoreboard *sb, struct lsock_set *ls,
                  pid_t old_master);

/* Old master: start the new binary.  Returns 0, or -1 (logged). */
int upgrade_start(struct upgrade *u);

/* Old master: process pid has exited; returns 1 when it was the new
 * master (taking the pidfile back unless `stopping`: this master is
 * shutting down). */
int upgrade_reaped(struct upgrade *u, pid_t pid, int status, int stopping);

/* New master: once `up` (every service has a worker accepting: the
 * master asks its pool), QUIT the old master and become systemd's main
 * process.  Returns 1 when the take-over is over (done, or given up: then
 * u->give_up is set), 0 while it is pending. */
int upgrade_handoff(struct upgrade *u, int64_t now, int up);

/* Old master, stopping while the new master it started runs: tell
 * systemd that the new master is the main process, then tell the new
 * master so. */
void upgrade_release(struct upgrade *u);

/* New master: does systemd follow this process yet (always, when it
 * was not started by an upgrade)?  Until then it pings no watchdog and
 * stores no descriptor.  1 or 0. */
int upgrade_followed(struct upgrade *u);

#endif
