/*
 * daemon.h -- leaving the terminal and giving up root.
 */
#ifndef PF_DAEMON_H
#define PF_DAEMON_H

#include <stddef.h>

/* Fork twice with setsid between, chdir("/"), stdio to /dev/null.  Returns
 * 0 in the final process (the parents exit 0), or -1 with the reason logged. */
int daemonize(void);

/* Look user and group up and switch to them, supplementary groups too.
 * Either may be NULL (group defaults to the user's primary group).  Called
 * by a worker after fork.  Returns 0, or -1 with the reason logged. */
int drop_privileges(const char *user, const char *group);

/* Check that user and group exist, without switching (for -t and reload).
 * Returns 0, or -1 with a reason in err. */
int check_privileges(const char *user, const char *group, char *err,
                     size_t errlen);

#endif
