/*
 * pidfile.h -- the master's pidfile: created, write-locked with fcntl (the
 * lock is not inherited by workers), removed at exit.  A second master on
 * the same pidfile finds the lock held and refuses to start.
 */
#ifndef PF_PIDFILE_H
#define PF_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Create and lock path, leaving it empty.  Returns the descriptor (keep it
 * open for as long as the lock must hold), or -1 with the reason logged;
 * when another process holds the lock its pid is named. */
int pidfile_create(const char *path);
/* Write our pid, taking the lock again first if this process does not hold
 * it (after daemonizing).  The master calls it once its listeners are
 * bound, so a pid in the file means connections are being queued. */
int  pidfile_write(int fd);
void pidfile_remove(const char *path, int fd);
/* Read the pid of a running master from path.  Returns it, or -1 with a
 * reason in err (no file, garbage, no such process). */
pid_t pidfile_read(const char *path, char *err, size_t errlen);

#endif
