/*
 * io.c -- the plain transport: a connection's I/O as system calls on its
 * descriptor.
 *
 * One system call per function (EINTR aside), so that the module API on
 * top of it costs what calling the socket directly costs: the fast path
 * of a keep-alive request is one recv and one sendmsg with or without
 * the layer.  Sends use MSG_NOSIGNAL: a peer that went away is an EPIPE,
 * never a SIGPIPE for the worker.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "conn.h"
#include "io.h"

static ssize_t plain_recv(struct conn *c, void *buf, size_t len)
{
    ssize_t n;

    do
        n = recv(c->pub.fd, buf, len, MSG_DONTWAIT);
    while (n == -1 && errno == EINTR);
    return n;
}

static ssize_t plain_peek(struct conn *c, void *buf, size_t len)
{
    ssize_t n;

    do
        n = recv(c->pub.fd, buf, len, MSG_PEEK | MSG_DONTWAIT);
    while (n == -1 && errno == EINTR);
    return n;
}

static ssize_t plain_send(struct conn *c, const void *buf, size_t len, int more)
{
    int     flags = MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0);
    ssize_t n;

    do
        n = send(c->pub.fd, buf, len, flags);
    while (n == -1 && errno == EINTR);
    return n;
}

static ssize_t plain_sendv(struct conn *c, const struct iovec *iov, int iovcnt,
                           int more)
{
    struct msghdr msg = {.msg_iov = (struct iovec *)iov,
                         .msg_iovlen = (size_t)iovcnt};
    int           flags = MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0);
    ssize_t       n;

    do
        n = sendmsg(c->pub.fd, &msg, flags);
    while (n == -1 && errno == EINTR);
    return n;
}

static ssize_t plain_sendfile(struct conn *c, int fd, off_t *off, size_t len)
{
    ssize_t n;

    do
        n = sendfile(c->pub.fd, fd, off, len);
    while (n == -1 && errno == EINTR);
    return n;
}

/* Only TCP has Nagle's algorithm to turn off: on a UNIX socket there is
 * nothing held back.  The socket itself says which it is; the peer
 * address cannot, since a PROXY header replaces it with the client's. */
static int plain_nodelay(struct conn *c)
{
    int one = 1;

    if (setsockopt(c->pub.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ==
            -1 &&
        errno != EOPNOTSUPP && errno != ENOPROTOOPT)
        return -1;
    return 0;
}

const struct conn_io conn_io_plain = {
    .name = "plain",
    .recv = plain_recv,
    .peek = plain_peek,
    .send = plain_send,
    .sendv = plain_sendv,
    .sendfile = plain_sendfile,
    .nodelay = plain_nodelay,
};
