/*
 * tls.h -- TLS as a connection's transport.
 *
 * A connection of a TLS service (c->tlsctx set by the worker that accepted
 * it) goes through the handshake stage with tls_handshake(), stepped on
 * each readiness by whichever driver holds it, as nginx's
 * ngx_ssl_handshake is; once the handshake is done c->io is conn_io_tls
 * and every module reads and writes through SSL without knowing it.
 *
 * tls.c is part of the TLS layer (prefork-tls.so, tlslayer.h); the host's
 * callers reach these functions through tlsload.c, which defines them
 * again in the host and passes each call on to the layer's table.  Only
 * a connection of a TLS service gets here, and the layer is loaded
 * before any such service's workers are forked.
 */
#ifndef PF_TLS_H
#define PF_TLS_H

#include <stddef.h>

#include <prefork/module.h>

struct conn;
struct slot;

/* recv, peek, send, sendv, sendfile and nodelay through SSL (the layer's
 * own: the host never names it). */
extern const struct conn_io conn_io_tls;

/*
 * One step of c's handshake (c->tlsctx is set): 1 done (c->io is now
 * conn_io_tls), 0 to wait for *events (POLLIN or POLLOUT), -1 failed,
 * logged at info and counted; c is then to be closed.  Before the first
 * step the client's first byte is looked at: a plain HTTP request on a
 * service that offers http/1.1 is answered with a plain 400, anything
 * else that is no TLS record is closed at once.
 */
int tls_handshake(struct conn *c, short *events);

/* The handshake did not finish in time (or its wait failed): count it. */
void tls_handshake_abandoned(struct conn *c);

/* The slot this process counts handshakes in (worker and acceptor; a
 * forked child or a thread counts in its acceptor's).  The host keeps it
 * (tlsload.c) and the layer reads it there. */
void tls_set_slot(struct slot *slot);

/* The module API of ABI 1.4 (module.h): what the handshake established. */
const char *tls_api_subject(pf_conn *pc);
const char *tls_api_verify(pf_conn *pc);
const char *tls_api_alpn(pf_conn *pc);

#endif
