/*
 * conn.c -- a connection: made when accepted, served, closed.
 *
 * The module reaches the connection through the host's API (host.c); this
 * file holds the connection itself and the loop that serves one to its end
 * where a process or thread is given over to it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "conn_proxy.h"
#include "host.h"
#include "io.h"
#include "log.h"
#include "scoreboard.h"

struct conn *conn_new(int fd, pf_service *svc, const struct sockaddr *peer,
                      socklen_t peerlen)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->tag.kind = EV_CONN;
    if (peerlen > sizeof(c->peer))
        peerlen = sizeof(c->peer);
    memcpy(&c->peer, peer, peerlen);
    c->pub.api = &host_api;
    c->io = &conn_io_plain;
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
    if (c->pub.fd != -1)
        close(c->pub.fd);
    conn_proxy_drop(c);
    free(c);
}

void conn_serve(struct conn *c, const struct pf_module *m, struct slot *slot)
{
    int next = PF_MORE;
    /* A blocking module is called at once, so that a protocol where the
     * server speaks first works; others are called when data is there. */
    int now = (m->flags & PF_BLOCKING) != 0;

    if (slot != NULL)
        slot_busy(slot);
    if (c->need_proxy) {
        if (conn_proxy_wait(c, c->pub.svc->name, CONN_PROXY_TIMEOUT_MS) != 1)
            goto done;
        c->need_proxy = 0;
        if (slot != NULL)
            slot_set_peer(slot, c->pub.peer, c->pub.peerlen);
    }
    if (m->setup != NULL && m->setup(&c->pub) == -1)
        goto done;
    while (next != PF_CLOSE) {
        short want = next == PF_WRITE ? POLLOUT : POLLIN;
        if (!now && conn_wait(c->pub.fd, want, c->pub.idle_timeout_ms) == -1) {
            c->pub.timed_out = errno == ETIMEDOUT;
            break;
        }
        now = 0;
        next = m->handle(&c->pub);
        c->pub.requests++;
    }
    if (m->finish != NULL)
        m->finish(&c->pub);
done:
    conn_free(c);
    if (slot != NULL)
        slot_done(slot, 0);
}
