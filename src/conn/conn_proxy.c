/*
 * conn_proxy.c -- the PROXY protocol header in front of a connection.
 *
 * The header is taken from the socket without reading past its end, so
 * the module finds the client's first bytes where it would without a
 * balancer in front: each read peeks first, works out how many of the
 * bytes there can belong to the header (proxy_header_len), and takes only
 * those.  A header that comes in pieces is kept in a buffer of the
 * connection's own until it is whole, so a slow sender parks like any
 * other connection instead of holding the worker.  Waiting for the rest,
 * and the header's deadline, are the stage's business (stages.c).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "conn.h"
#include "conn_proxy.h"
#include "log.h"
#include "proxy.h"

/* "ADDR:PORT" of sa, for the log. */
static const char *peer_text(const struct sockaddr *sa, char *buf, size_t len)
{
    char        host[INET6_ADDRSTRLEN] = "?";
    const void *a = NULL;
    unsigned    port = 0;

    if (sa->sa_family == AF_INET) {
        a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        port = ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        port =
            ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
    } else {
        snprintf(buf, len, "a unix socket");
        return buf;
    }
    if (inet_ntop(sa->sa_family, a, host, sizeof(host)) == NULL)
        snprintf(host, sizeof(host), "?");
    snprintf(buf, len, sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
             port);
    return buf;
}

int conn_proxy_allowed(const struct conn *c, const struct cidr_list *from,
                       const char *svc)
{
    char who[64];

    if (from->n == 0 || cidr_list_match(from, c->pub.peer))
        return 1;
    log_warn(svc, "connection from %s refused: not in proxy_from",
             peer_text(c->pub.peer, who, sizeof(who)));
    return 0;
}

static int refuse(const struct conn *c, const char *svc, const char *why)
{
    char who[64];

    log_warn(svc, "connection from %s closed: %s",
             peer_text(c->pub.peer, who, sizeof(who)), why);
    return -1;
}

/* Let go of the header's buffer: it is whole. */
static void drop(struct conn *c)
{
    free(c->pxbuf);
    c->pxbuf = NULL;
    c->pxlen = 0;
}

/* The header is whole: make the client it names the peer. */
static int apply(struct conn *c, const char *svc)
{
    struct proxy_hdr h;
    const char      *why = "invalid PROXY header";

    if (proxy_parse(c->pxbuf, c->pxlen, &h, &why) == -1)
        return refuse(c, svc, why);
    if (!h.local) {
        memcpy(&c->peer, &h.src, h.srclen);
        c->pub.peerlen = h.srclen;
    }
    drop(c);
    return 1;
}

int conn_proxy_read(struct conn *c, const char *svc)
{
    const char *why = "invalid PROXY header";
    ssize_t     n, len, take;

    if (c->pxbuf == NULL && (c->pxbuf = malloc(PROXY_MAX)) == NULL)
        return refuse(c, svc, "out of memory for its PROXY header");
    do
        n = recv(c->pub.fd, c->pxbuf + c->pxlen, PROXY_MAX - c->pxlen,
                 MSG_PEEK);
    while (n == -1 && errno == EINTR);
    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n == -1)
        return refuse(c, svc, strerror(errno));
    if (n == 0)
        return refuse(c, svc, "it ended before its PROXY header");
    len = proxy_header_len(c->pxbuf, c->pxlen + (size_t)n, &why);
    if (len == -1)
        return refuse(c, svc, why);
    if (len > 0 && (size_t)len < c->pxlen)
        return refuse(c, svc, "invalid PROXY header");
    /* Take only what is the header's: the bytes after it are the
     * module's. */
    take = len == 0                                ? n
           : len < (ssize_t)(c->pxlen + (size_t)n) ? len - (ssize_t)c->pxlen
                                                   : n;
    do
        n = recv(c->pub.fd, c->pxbuf + c->pxlen, (size_t)take, 0);
    while (n == -1 && errno == EINTR);
    if (n != take)
        return refuse(c, svc, n == -1 ? strerror(errno) : "short read");
    c->pxlen += (size_t)take;
    if (len == 0 || c->pxlen < (size_t)len)
        return 0;
    return apply(c, svc);
}

void conn_proxy_fail(const struct conn *c, const char *svc, const char *why)
{
    refuse(c, svc, why);
}
