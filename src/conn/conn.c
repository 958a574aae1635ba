/*
 * conn.c -- a connection: made when accepted, freed when closed.
 *
 * What happens in between is in stages.c; the module reaches the
 * connection through the host's API (host.c).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"

struct conn *conn_new(int fd, pf_service *svc, const struct conn_io *io,
                      const struct sockaddr *peer, socklen_t peerlen)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->tag.kind = EV_CONN;
    c->stage = CONN_HANDSHAKE;
    if (peerlen > sizeof(c->peer))
        peerlen = sizeof(c->peer);
    memcpy(&c->peer, peer, peerlen);
    c->pub.api = svc->api;
    c->io = io;
    c->pub.svc = svc;
    c->pub.fd = fd;
    c->pub.peer = (const struct sockaddr *)&c->peer;
    c->pub.peerlen = peerlen;
    c->pub.read_timeout_ms = CONN_DEFAULT_TIMEOUT_MS;
    c->pub.write_timeout_ms = CONN_DEFAULT_TIMEOUT_MS;
    c->pub.idle_timeout_ms = CONN_DEFAULT_TIMEOUT_MS;
    c->next = PF_MORE;
    timer_init(&c->timer);
    return c;
}

void conn_free(struct conn *c)
{
    if (c == NULL)
        return;
    if (c->release != NULL)
        c->release(c); /* the transport's state, before its descriptor */
    if (c->pub.fd != -1)
        close(c->pub.fd);
    free(c->pxbuf); /* a PROXY header cut short */
    free(c);
}
