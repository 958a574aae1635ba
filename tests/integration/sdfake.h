/*
 * sdfake.h -- a service manager faked for the integration tests (see
 * sdfake.c): prefork under "systemd" without systemd.
 */
#ifndef PF_TEST_SDFAKE_H
#define PF_TEST_SDFAKE_H

#include <sys/types.h>

#include "harness.h"

#define SD_MAXFDS 16

/* One notification: its text, the descriptors it carried, its sender. */
struct note {
    char  text[1024];
    int   fds[SD_MAXFDS];
    int   nfds;
    pid_t pid;
};

/* systemd's end of NOTIFY_SOCKET: a datagram socket at s->dir/notify that
 * learns each sender's pid, passed to the master as NOTIFY_SOCKET in
 * s->env[slot].  Returns it (asserts); a failed wait below shows s's
 * diagnostics. */
int sd_listen(struct h_server *s, int slot);
/* Close the descriptors a notification carried. */
void note_close(struct note *n);
/* The next notification within ms: 0, or -1 on timeout. */
int next_note(int fd, struct note *n, int ms);
/* Wait up to 10 s for a notification holding want, into *out (NULL: not
 * kept); fail the test on anything holding forbid first (NULL: nothing
 * is). */
void expect_note(int fd, const char *want, const char *forbid,
                 struct note *out);
void expect_message(int fd, const char *want, const char *forbid);
/* Read for ms; fail on a notification holding what.  Returns how many
 * notifications came. */
int quiet_for(int fd, const char *what, int ms);
/* Forget what came so far: read until nothing comes for 100 ms. */
void drain_notes(int fd);
/* Does text hold line as a whole line? */
int has_line(const char *text, const char *line);
/* Hand the master fds as systemd does: from descriptor 3, with
 * LISTEN_FDS, LISTEN_FDNAMES (names colon-separated) and LISTEN_PID, in
 * s->env[0..2]. */
void as_systemd(struct h_server *s, const char *names, const int *fds, int n);
/* For h_server.before_exec: in the child about to exec prefork, fork()
 * fails with EAGAIN from now on, as it does when a unit's TasksMax= or
 * the system runs out; threads may still start.  Does nothing on an
 * architecture it has no filter for. */
void no_fork(void);

#endif
