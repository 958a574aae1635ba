/*
 * acceptor.h -- the forking and threading modes: a worker that accepts a
 * connection (or receives a datagram) hands it to a child process or a
 * thread of its own, socketserver's ForkingMixIn and ThreadingMixIn, with at
 * most max_children / threads of them at once.
 */
#ifndef PF_ACCEPTOR_H
#define PF_ACCEPTOR_H

#include <sys/socket.h>

struct wctx;
struct conn;

/* Set up the mode's state in w (w->acc).  Returns 0 or -1. */
int acceptor_init(struct wctx *w);
/* Hand c over; the acceptor owns it from here.  Returns 0 or -1 (c freed). */
int acceptor_conn(struct wctx *w, struct conn *c);
/* Hand a datagram over (copied).  Returns 0 or -1. */
int acceptor_dgram(struct wctx *w, int fd, const void *buf, size_t len,
                   const struct sockaddr *peer, socklen_t peerlen);
/* Reap finished children or threads, enforce worker_timeout, update the
 * scoreboard, resume accepting below the cap. */
void acceptor_poll(struct wctx *w);
/* How many connections or datagrams are in flight. */
unsigned acceptor_active(const struct wctx *w);
/* Fast exit: kill children (threads end with the process). */
void acceptor_kill(struct wctx *w);

#endif
