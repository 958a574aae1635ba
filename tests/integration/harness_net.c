/*
 * harness_net.c -- the integration tests' loopback clients (see
 * harness.h): free ports, connecting, sending and receiving with a
 * deadline, and the one-line round trips to echo and testmod services.
 * Safe in many client threads at once, except h_free_port().
 */
#define _GNU_SOURCE

#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Milliseconds left until deadline, never negative. */
static int left_ms(int64_t deadline)
{
    int64_t l = deadline - h_now_ms();

    return l > 0 ? (int)l : 0;
}

/* --- sockets ------------------------------------------------------------- */

/* Fill ss from a numeric host and port; returns its length or 0. */
static socklen_t make_addr(const char *host, int port,
                           struct sockaddr_storage *ss)
{
    struct sockaddr_in  *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        return sizeof *in4;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        return sizeof *in6;
    }
    return 0;
}

/* One probe; see h_free_port(). */
static int probe_port(const char *host, int type)
{
    struct sockaddr_storage ss;
    socklen_t               len = make_addr(host, 0, &ss);
    int                     fd, port = -1;

    if (len == 0)
        return -1;
    fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&ss, len) == 0 &&
        getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        port = ntohs(ss.ss_family == AF_INET
                         ? ((struct sockaddr_in *)&ss)->sin_port
                         : ((struct sockaddr_in6 *)&ss)->sin6_port);
    close(fd);
    return port;
}

/* The kernel may hand the same port out twice in a row; a test that asks
 * for several must get distinct ones. */
int h_free_port(const char *host, int type)
{
    static int given[128];
    static int ngiven;

    for (int tries = 0; tries < 32; tries++) {
        int port = probe_port(host, type), dup = 0;

        if (port < 0)
            return -1;
        for (int i = 0; i < ngiven; i++)
            dup |= given[i] == port;
        if (dup)
            continue;
        if (ngiven < 128)
            given[ngiven++] = port;
        return port;
    }
    return -1;
}

int h_ipv6_ok(void)
{
    return probe_port("::1", SOCK_STREAM) > 0;
}

/* Wait for events on fd until deadline: 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int           n = poll(&p, 1, left_ms(deadline));

        if (n < 0 && errno == EINTR)
            continue;
        return n;
    }
}

static int connect_to(const struct sockaddr *sa, socklen_t len, int ms)
{
    int64_t deadline = h_now_ms() + ms;
    int     fd =
        socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int       err = 0;
    socklen_t elen = sizeof err;

    if (fd < 0)
        return -1;
    if (connect(fd, sa, len) == 0)
        return fd;
    if (errno != EINPROGRESS && errno != EAGAIN)
        goto fail;
    if (wait_fd(fd, POLLOUT, deadline) <= 0) {
        errno = ETIMEDOUT;
        goto fail;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
        goto fail;
    if (err != 0) {
        errno = err;
        goto fail;
    }
    return fd;
fail:
    err = errno;
    close(fd);
    errno = err;
    return -1;
}

int h_connect(const char *host, int port, int ms)
{
    struct sockaddr_storage ss;
    socklen_t               len = make_addr(host, port, &ss);

    if (len == 0) {
        errno = EINVAL;
        return -1;
    }
    return connect_to((struct sockaddr *)&ss, len, ms);
}

int h_connect_unix(const char *path, int ms)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};

    if (strlen(path) >= sizeof un.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(un.sun_path, path);
    return connect_to((struct sockaddr *)&un, sizeof un, ms);
}

int h_udp(const char *host, int port)
{
    struct sockaddr_storage ss;
    socklen_t               len = make_addr(host, port, &ss);
    int                     fd;

    if (len == 0)
        return -1;
    fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int h_send_all(int fd, const void *buf, size_t len, int ms)
{
    int64_t     deadline = h_now_ms() + ms;
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (wait_fd(fd, POLLOUT, deadline) <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
    return 0;
}

ssize_t h_recv_exact(int fd, void *buf, size_t len, int ms)
{
    int64_t deadline = h_now_ms() + ms;
    size_t  got = 0;

    while (got < len) {
        ssize_t n = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);

        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0)
            break;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (wait_fd(fd, POLLIN, deadline) <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
    return (ssize_t)got;
}

int h_transfer(int fd, const void *out, void *in, size_t len, int ms)
{
    int64_t     deadline = h_now_ms() + ms;
    const char *op = out;
    char       *ip = in;
    size_t      sent = 0, got = 0;

    while (got < len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t       n;

        if (sent < len)
            p.events |= POLLOUT;
        n = poll(&p, 1, left_ms(deadline));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (sent < len && (p.revents & POLLOUT)) {
            n = send(fd, op + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EINTR)
                return -1;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            n = recv(fd, ip + got, len - got, MSG_DONTWAIT);
            if (n > 0)
                got += (size_t)n;
            else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                return -1;
        }
    }
    return 0;
}

int h_recv_line(int fd, char *buf, size_t cap, int ms)
{
    int64_t deadline = h_now_ms() + ms;
    size_t  len = 0;

    /* A byte at a time: the answers are short and nothing may be read
     * past the line. */
    while (len + 1 < cap) {
        char    ch;
        ssize_t n = recv(fd, &ch, 1, MSG_DONTWAIT);

        if (n == 1) {
            if (ch == '\n') {
                buf[len] = '\0';
                return (int)len;
            }
            buf[len++] = ch;
            continue;
        }
        if (n == 0)
            return -1;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (wait_fd(fd, POLLIN, deadline) <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
    return -1;
}

int h_wait_closed(int fd, int ms)
{
    int64_t deadline = h_now_ms() + ms;
    char    ch;

    for (;;) {
        ssize_t n = recv(fd, &ch, 1, MSG_DONTWAIT);

        if (n > 0)
            return 1;
        if (n == 0 ||
            (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return 0;
        if (wait_fd(fd, POLLIN, deadline) <= 0)
            return -1;
    }
}

long h_ask(const char *host, int port, const char *cmd, int ms)
{
    int64_t deadline = h_now_ms() + ms;
    int     fd = h_connect(host, port, ms);
    char    line[64], *end;
    long    v = -1;

    if (fd < 0)
        return -1;
    if (h_send_all(fd, cmd, strlen(cmd), left_ms(deadline)) == 0 &&
        h_recv_line(fd, line, sizeof line, left_ms(deadline)) > 0) {
        v = strtol(line, &end, 10);
        if (*end != '\0')
            v = -1;
    }
    close(fd);
    return v;
}

int h_echo_once(const char *host, int port, int ms)
{
    static const char msg[] = "ping\n";
    char              got[sizeof msg - 1];
    int64_t           deadline = h_now_ms() + ms;
    int               fd = h_connect(host, port, ms);
    int               rc = -1;

    if (fd < 0)
        return -1;
    if (h_send_all(fd, msg, sizeof got, left_ms(deadline)) == 0 &&
        h_recv_exact(fd, got, sizeof got, left_ms(deadline)) ==
            (ssize_t)sizeof got &&
        memcmp(got, msg, sizeof got) == 0)
        rc = 0;
    close(fd);
    return rc;
}
