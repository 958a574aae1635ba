/*
 * acceptor.h -- the forking and threading modes: a worker that accepts a
 * connection (or receives a datagram) hands it to a child process or a
 * thread of its own, socketserver's ForkingMixIn and ThreadingMixIn, with at
 * most max_children / threads of them at once.
 *
 * The acceptor knows nothing of the worker above it: it says when it is
 * full and when it has room again, and the worker stops and resumes
 * accepting.
 */
#ifndef PF_ACCEPTOR_H
#define PF_ACCEPTOR_H

#include <sys/socket.h>

#include <prefork/module.h>

struct conn;
struct acceptor;

struct acceptor_conf {
    const char             *name; /* the service, for the log */
    int                     forking;
    unsigned                cap; /* max_children or threads */
    long long               worker_timeout_ms;
    const struct pf_module *mod;
    pf_service             *svc;
    /* threading: the worker's epoll set, where a finished thread's wake-up
     * arrives with its ev_tag kind EV_WAKE. */
    int epfd;
    /* forking: called first in each child, to close what the child must
     * not keep but keep_fd (the UDP socket a datagram child replies
     * through, or -1). */
    void (*child_init)(void *arg, int keep_fd);
    void *arg;
};

/* Set up a mode's state.  Returns NULL (logged) on failure. */
struct acceptor *acceptor_new(const struct acceptor_conf *conf);
/* Hand c over; the acceptor owns it from here (freed on failure).
 * Returns 1 when it is now full, 0 when it has room, -1 on failure. */
int acceptor_conn(struct acceptor *a, struct conn *c);
/* Hand a datagram over (copied).  Returns as acceptor_conn(). */
int acceptor_dgram(struct acceptor *a, int fd, const void *buf, size_t len,
                   const struct sockaddr *peer, socklen_t peerlen);
/* Reap finished children or threads and enforce worker_timeout.  Returns
 * 1 when there is room for another connection, 0 when full. */
int acceptor_poll(struct acceptor *a);
/* How many connections or datagrams are in flight. */
unsigned acceptor_active(struct acceptor *a);
/* Fast exit: kill children (threads end with the process). */
void acceptor_kill(struct acceptor *a);

#endif
