/*
 * conn.h -- a connection and the stages of its life.
 *
 * Every connection a worker holds is a struct conn; modules see only its
 * public part, struct pf_conn.  A connection goes through the stages of
 * enum conn_stage in order, run by one piece of code (stages.c) whichever
 * driver waits for it: the worker's epoll loop (driver_event.c) or a
 * blocking loop in a process or thread given over to it (driver_block.c).
 */
#ifndef PF_CONN_H
#define PF_CONN_H

#include <stdint.h>
#include <sys/socket.h>

#include <prefork/module.h>

#include "timerheap.h"

struct conn_io;
struct tls_ctx;
struct tls_conn;

/* What the worker's epoll data points at: a listener or a connection. */
enum ev_kind { EV_LISTENER, EV_CONN, EV_WAKE };

struct ev_tag {
    enum ev_kind kind;
};

/*
 * Where a connection is in its life.  The order is the order of the
 * stages: a connection only moves forward.  finish() is due exactly while
 * a connection is CONN_SERVING (its setup() succeeded), so a connection
 * that ends earlier never gets a finish() it did not set up for.
 */
enum conn_stage {
    CONN_PROXY,     /* its PROXY header is due (proxy_protocol = yes) */
    CONN_HANDSHAKE, /* the transport's handshake (TLS; none when plain) */
    CONN_SETUP,     /* the module's setup() is due */
    CONN_SERVING,   /* handle() ... and finish() is due */
    CONN_CLOSING,   /* the module is done with it, or never met it */
};

struct conn {
    struct ev_tag           tag; /* EV_CONN; first, epoll data points here */
    struct pf_conn          pub;
    const struct conn_io   *io; /* its I/O (io.h): plain, or a transport */
    enum conn_stage         stage;
    int64_t                 deadline; /* the stage's own (PROXY, HANDSHAKE);
                                         0: not set yet */
    struct timer            timer;    /* the event driver's deadline */
    int                     next;     /* PF_MORE, PF_IDLE or PF_WRITE */
    unsigned                events;   /* what epoll watches: EPOLLIN/OUT */
    struct sockaddr_storage peer;
    struct conn            *prev_c, *next_c; /* the event driver's list */
    /* A PROXY header half read, while it comes in pieces. */
    unsigned char *pxbuf;
    size_t         pxlen;
    /* TLS: the service's contexts (NULL: a plain connection), this
     * connection's state (tls.c), and what frees that with c. */
    const struct tls_ctx *tlsctx;
    struct tls_conn      *tls;
    void (*release)(struct conn *c);
    /* The request being served began (mono us; 0: none yet), and the
     * responses the module reported ended since the last count (the
     * scoreboard's histogram, stages.c). */
    int64_t  req_start_us;
    unsigned responses;
    /* Reads the module made through a transport that holds bytes back
     * (TLS): whether a handle() took any of them (stages.c). */
    unsigned reads;
};

/* Wrap an accepted descriptor (non-blocking), at CONN_HANDSHAKE: a caller
 * whose service wants a PROXY header sets CONN_PROXY.  io is the transport
 * it starts on (&conn_io_plain, io.h), as nginx's accept sets c->recv;
 * the module API is svc's.  Returns NULL (and leaves fd open) on ENOMEM. */
struct conn *conn_new(int fd, pf_service *svc, const struct conn_io *io,
                      const struct sockaddr *peer, socklen_t peerlen);
/* Close the descriptor and free.  The module must be done with c (see
 * conn_end() in stages.h). */
void conn_free(struct conn *c);

#define CONN_DEFAULT_TIMEOUT_MS 60000
/* How long a connection may take to send its PROXY header. */
#define CONN_PROXY_TIMEOUT_MS 10000
/* How long a transport's handshake may take, unless its service says
 * (tls_handshake_timeout). */
#define CONN_HANDSHAKE_TIMEOUT_MS 10000

#endif
