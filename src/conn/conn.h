/*
 * conn.h -- a connection.
 *
 * Every connection a worker holds is a struct conn; modules see only its
 * public part, struct pf_conn.  Also the loop that serves one connection
 * to its end, used where a process or thread is given over to a single
 * connection (forking and threading modes, PF_BLOCKING modules).
 */
#ifndef PF_CONN_H
#define PF_CONN_H

#include <sys/socket.h>

#include <prefork/module.h>

#include "timerheap.h"

struct conn_io;

/* What the worker's epoll data points at: a listener or a connection. */
enum ev_kind { EV_LISTENER, EV_CONN, EV_WAKE };

struct ev_tag {
    enum ev_kind kind;
};

struct conn {
    struct ev_tag           tag; /* EV_CONN; first, epoll data points here */
    struct pf_conn          pub;
    const struct conn_io   *io;     /* its I/O (io.h): plain, or a transport */
    struct timer            timer;  /* idle deadline while parked */
    int                     next;   /* PF_MORE, PF_IDLE or PF_WRITE */
    unsigned                events; /* what epoll watches: EPOLLIN/OUT */
    struct sockaddr_storage peer;
    struct conn            *prev_c, *next_c; /* the worker's list */
    /* proxy_protocol: a PROXY header is due before the module sees the
     * connection (its setup has not run yet), and what came of it. */
    int            need_proxy;
    unsigned char *pxbuf;
    size_t         pxlen;
};

/* Wrap an accepted descriptor (non-blocking).  Returns NULL (and leaves fd
 * open) on ENOMEM. */
struct conn *conn_new(int fd, pf_service *svc, const struct sockaddr *peer,
                      socklen_t peerlen);
/* Close the descriptor and free. */
void conn_free(struct conn *c);

struct slot;

/* Serve c to its end in the calling process or thread: setup, handle
 * whenever readable (waiting up to idle_timeout_ms), finish.  A
 * PF_BLOCKING module's first handle() comes at once, before any data.
 * With a slot (a prefork worker), the slot is BUSY throughout, so the
 * pool and worker_timeout see the connection.  Frees c. */
void conn_serve(struct conn *c, const struct pf_module *m, struct slot *slot);

#define CONN_DEFAULT_TIMEOUT_MS 60000
/* How long a connection may take to send its PROXY header. */
#define CONN_PROXY_TIMEOUT_MS 10000

#endif
