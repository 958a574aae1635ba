/*
 * daemon.h -- leaving the terminal and giving up root.
 */
#ifndef PF_DAEMON_H
#define PF_DAEMON_H

#include <stddef.h>
#include <sys/types.h>

/* Fork twice with setsid between, chdir("/"), stdio to /dev/null.  Returns
 * in the final process a descriptor to pass to daemon_ready(), or -1 with
 * the reason logged.  The process that called it closes lockfd (the
 * pidfile: its lock is for the daemon to take), waits until then and exits
 * 0, or 1 if the daemon closes the descriptor (or exits) first. */
int daemonize(int lockfd);
/* Tell the waiting process that the daemon is up, and close fd (-1: no
 * one waits). */
void daemon_ready(int fd);

/* Set RLIMIT_NOFILE to n (soft, and hard when it is lower); 0 leaves it.
 * Returns 0, or -1 with a reason in err. */
int set_nofile_limit(long long n, char *err, size_t errlen);

/* Look user and group up and switch to them, supplementary groups too.
 * Either may be NULL (group defaults to the user's primary group).  Called
 * by a worker after fork.  Returns 0, or -1 with the reason logged. */
int drop_privileges(const char *user, const char *group);

/* The ids of user and group (NULL: ours).  Returns 0, or -1 (logged). */
int user_ids(const char *user, const char *group, uid_t *uid, gid_t *gid);

/* Check that user and group exist, without switching (for -t and reload).
 * Returns 0, or -1 with a reason in err. */
int check_privileges(const char *user, const char *group, char *err,
                     size_t errlen);

#endif
