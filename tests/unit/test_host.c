/*
 * test_host.c -- the host side of the module API over a socket pair: what
 * the non-blocking I/O functions return (nothing there, a full socket, a
 * file sent in parts, a file that shrank), and that every pf_* function
 * that moves bytes goes through the connection's conn_io, so that a
 * transport swapped in there is under all of them.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conn.h"
#include "host.h"
#include "io.h"

static pf_service svc;

/* A connection over a UNIX socket pair; *other gets the far end. */
static struct conn *conn_pair(int *other)
{
    struct sockaddr sa = {.sa_family = AF_UNIX};
    struct conn    *c;
    int             sv[2];

    cr_assert_eq(
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
        0, "socketpair: %s", strerror(errno));
    service_pub_init(&svc, "test", NULL, "/");
    c = conn_new(sv[0], &svc, &conn_io_plain, &sa, sizeof(sa.sa_family));
    cr_assert_not_null(c);
    c->pub.read_timeout_ms = 2000;
    c->pub.write_timeout_ms = 2000;
    *other = sv[1];
    return c;
}

/* Everything the far end has now. */
static size_t drain(int fd, char *buf, size_t cap)
{
    size_t  got = 0;
    ssize_t n;

    while (got < cap && (n = recv(fd, buf + got, cap - got, MSG_DONTWAIT)) > 0)
        got += (size_t)n;
    return got;
}

/* A temporary file holding len bytes of a pattern; its descriptor. */
static int temp_file(size_t len, char **content)
{
    char  path[] = "/tmp/test_host.XXXXXX";
    int   fd = mkstemp(path);
    char *p = malloc(len);

    cr_assert(fd >= 0 && p != NULL);
    unlink(path);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)(i * 7 + i / 251);
    cr_assert_eq(write(fd, p, len), (ssize_t)len);
    *content = p;
    return fd;
}

Test(host, recv_nowait_says_nothing_yet_data_and_end)
{
    int          peer;
    struct conn *c = conn_pair(&peer);
    char         buf[16];

    errno = 0;
    cr_assert_eq(pf_recv_nowait(&c->pub, buf, sizeof buf), -1);
    cr_assert(errno == EAGAIN || errno == EWOULDBLOCK, "errno %d", errno);
    cr_assert_eq(send(peer, "abc", 3, 0), 3);
    cr_assert_eq(pf_recv_nowait(&c->pub, buf, sizeof buf), 3);
    cr_assert(memcmp(buf, "abc", 3) == 0);
    shutdown(peer, SHUT_WR);
    cr_assert_eq(pf_recv_nowait(&c->pub, buf, sizeof buf), 0);
    close(peer);
    conn_free(c);
}

/* One gather-send: the buffers arrive in order; on a full socket it takes
 * what fits, then 0, never -1. */
Test(host, sendv_nowait_takes_what_fits_then_zero)
{
    int          peer;
    struct conn *c = conn_pair(&peer);
    static char  big[1 << 16], got[1 << 16];
    struct iovec iov[2] = {{"head ", 5}, {"body", 4}};
    ssize_t      n;
    size_t       sent = 0;

    cr_assert_eq(pf_sendv_nowait(&c->pub, iov, 2, 0), 9);
    cr_assert_eq(drain(peer, got, sizeof got), 9);
    cr_assert(memcmp(got, "head body", 9) == 0);

    iov[0] = (struct iovec){big, sizeof big};
    iov[1] = (struct iovec){big, sizeof big};
    do {
        n = pf_sendv_nowait(&c->pub, iov, 2, 1);
        cr_assert_geq(n, 0, "a full socket gave -1: %s", strerror(errno));
        cr_assert_leq(n, (ssize_t)(2 * sizeof big));
        sent += (size_t)n;
    } while (n == (ssize_t)(2 * sizeof big));
    cr_assert_eq(pf_sendv_nowait(&c->pub, iov, 2, 0), 0,
                 "a full socket took more");
    cr_assert_gt(sent, 0);
    close(peer);
    conn_free(c);
}

/* A file larger than the socket takes goes in parts: each call sends what
 * fits, advances the offset by exactly that, and the next picks up there;
 * the bytes arrive whole and in order. */
Test(host, sendfile_nowait_sends_in_parts_and_resumes)
{
    int          peer;
    struct conn *c = conn_pair(&peer);
    size_t       len = 4 << 20, got = 0;
    char        *want, *in = malloc(len);
    int          fd = temp_file(len, &want), parts = 0;
    off_t        off = 0;

    cr_assert_not_null(in);
    while ((size_t)off < len) {
        off_t   before = off;
        ssize_t n = pf_sendfile_nowait(&c->pub, fd, &off, len - (size_t)off);

        cr_assert_geq(n, 0, "sendfile_nowait: %s", strerror(errno));
        cr_assert_eq(off - before, n, "the offset moved by %lld, not %zd",
                     (long long)(off - before), n);
        parts++;
        got += drain(peer, in + got, len - got);
    }
    got += drain(peer, in + got, len - got);
    cr_assert_gt(parts, 1, "4 MiB went in one call: the test proves nothing");
    cr_assert_eq(got, len);
    cr_assert(memcmp(in, want, len) == 0, "the file arrived with other bytes");
    free(in);
    free(want);
    close(fd);
    close(peer);
    conn_free(c);
}

Test(host, sendfile_nowait_of_a_file_that_shrank_is_eio)
{
    int          peer;
    struct conn *c = conn_pair(&peer);
    char        *want;
    int          fd = temp_file(10, &want);
    off_t        off = 0;

    errno = 0;
    cr_assert_eq(pf_sendfile_nowait(&c->pub, fd, &off, 20), -1);
    cr_assert_eq(errno, EIO);
    cr_assert_eq(off, 10, "what was there went");
    free(want);
    close(fd);
    close(peer);
    conn_free(c);
}

/* --- every function goes through c->io ----------------------------------- */

/* A transport that counts what passes through it on top of plain. */
static size_t in_bytes, out_bytes;
static int    io_calls;

static ssize_t count_recv(struct conn *c, void *buf, size_t len)
{
    ssize_t n = conn_io_plain.recv(c, buf, len);

    io_calls++;
    in_bytes += n > 0 ? (size_t)n : 0;
    return n;
}

static ssize_t count_peek(struct conn *c, void *buf, size_t len)
{
    io_calls++;
    return conn_io_plain.peek(c, buf, len);
}

static ssize_t count_send(struct conn *c, const void *buf, size_t len, int more)
{
    ssize_t n = conn_io_plain.send(c, buf, len, more);

    io_calls++;
    out_bytes += n > 0 ? (size_t)n : 0;
    return n;
}

static ssize_t count_sendv(struct conn *c, const struct iovec *iov, int iovcnt,
                           int more)
{
    ssize_t n = conn_io_plain.sendv(c, iov, iovcnt, more);

    io_calls++;
    out_bytes += n > 0 ? (size_t)n : 0;
    return n;
}

static ssize_t count_sendfile(struct conn *c, int fd, off_t *off, size_t len)
{
    ssize_t n = conn_io_plain.sendfile(c, fd, off, len);

    io_calls++;
    out_bytes += n > 0 ? (size_t)n : 0;
    return n;
}

static int count_nodelay(struct conn *c)
{
    io_calls++;
    return conn_io_plain.nodelay(c);
}

static const struct conn_io counting = {
    .name = "counting",
    .recv = count_recv,
    .peek = count_peek,
    .send = count_send,
    .sendv = count_sendv,
    .sendfile = count_sendfile,
    .nodelay = count_nodelay,
};

/* Each call must reach the transport, and every byte that crossed the
 * socket must have gone through it: nothing straight to the descriptor. */
#define THROUGH_IO(call)                                                       \
    do {                                                                       \
        int calls0 = io_calls;                                                 \
        cr_assert((call) >= 0, #call ": %s", strerror(errno));                 \
        cr_assert_gt(io_calls, calls0, #call " did not go through c->io");     \
    } while (0)

Test(host, every_io_function_goes_through_the_connections_io)
{
    int          peer;
    struct conn *c = conn_pair(&peer);
    char         buf[64], *file;
    int          fd = temp_file(100, &file);
    off_t        off = 0;
    struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
    size_t       arrived = 0, sent_in;
    const char  *lines = "one\nfour\n123456xy";

    c->io = &counting;
    THROUGH_IO(pf_write(&c->pub, "write", 5));
    THROUGH_IO(pf_write_more(&c->pub, "more", 4));
    THROUGH_IO(pf_send_nowait(&c->pub, "nowait", 6, 0));
    THROUGH_IO(pf_sendv_nowait(&c->pub, iov, 2, 0));
    THROUGH_IO(pf_sendfile(&c->pub, fd, 0, 50));
    THROUGH_IO(pf_sendfile_nowait(&c->pub, fd, &off, 100));
    THROUGH_IO(pf_nodelay(&c->pub));
    arrived = drain(peer, buf, sizeof buf);
    while (arrived < 5 + 4 + 6 + 4 + 50 + 100) {
        static char rest[256];
        size_t      n = drain(peer, rest, sizeof rest);

        cr_assert_gt(n, 0, "only %zu bytes arrived", arrived);
        arrived += n;
    }
    cr_assert_eq(out_bytes, arrived, "%zu bytes arrived, %zu went through io",
                 arrived, out_bytes);

    sent_in = strlen(lines);
    cr_assert_eq(send(peer, lines, sent_in, 0), (ssize_t)sent_in);
    THROUGH_IO(pf_readline(&c->pub, buf, sizeof buf));
    cr_assert_str_eq(buf, "one\n");
    THROUGH_IO(pf_read_full(&c->pub, buf, 5));
    cr_assert(memcmp(buf, "four\n", 5) == 0);
    THROUGH_IO(pf_read(&c->pub, buf, 6));
    cr_assert(memcmp(buf, "123456", 6) == 0);
    cr_assert_eq(pf_recv_nowait(&c->pub, buf, sizeof buf), 2);
    cr_assert_eq(in_bytes, sent_in, "%zu bytes sent, %zu came through io",
                 sent_in, in_bytes);
    free(file);
    close(fd);
    close(peer);
    conn_free(c);
}

/* pf_nodelay asks the socket, not the peer address: behind a PROXY header
 * a TCP connection's peer may read as a UNIX client, and a UNIX socket's
 * as a TCP one. */
Test(host, nodelay_follows_the_socket_not_the_peer)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr    unix_peer = {.sa_family = AF_UNIX};
    socklen_t          alen = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), cfd, sfd, on = 0;
    socklen_t    olen = sizeof(on);
    struct conn *c;
    int          other;

    service_pub_init(&svc, "test", NULL, "/");
    cr_assert_geq(lfd, 0);
    cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(lfd, 1), 0);
    cr_assert_eq(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
    cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_eq(connect(cfd, (struct sockaddr *)&a, sizeof(a)), 0);
    sfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    cr_assert_geq(sfd, 0);
    c = conn_new(sfd, &svc, &conn_io_plain, &unix_peer,
                 sizeof(unix_peer.sa_family));
    cr_assert_not_null(c);
    cr_assert_eq(pf_nodelay(&c->pub), 0, "%s", strerror(errno));
    cr_assert_eq(getsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &on, &olen), 0);
    cr_expect_eq(on, 1, "TCP_NODELAY is not set on a TCP connection");
    conn_free(c);
    close(cfd);
    close(lfd);

    /* A UNIX socket whose peer reads as TCP: nothing to turn off. */
    c = conn_pair(&other);
    c->pub.peer = (const struct sockaddr *)&a;
    cr_expect_eq(pf_nodelay(&c->pub), 0, "%s", strerror(errno));
    conn_free(c);
    close(other);
}
