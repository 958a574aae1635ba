/*
 * host.c -- the host side of the module API: the pf_api table.
 *
 * Descriptors handed to modules are non-blocking; pf_read() and pf_write()
 * wait with poll() up to the connection's timeouts, so a module can be
 * written as plainly as socketserver's handle() and still never hang a
 * worker on a silent peer.  Writes use MSG_NOSIGNAL: a peer that went away
 * is an EPIPE for the module, never a SIGPIPE for the worker.
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

#include "clock.h"
#include "host.h"
#include "log.h"
#include "scoreboard.h"

__attribute__((format(printf, 3, 0))) static void
host_vlog(const pf_service *svc, int level, const char *fmt, va_list ap)
{
    log_vat(level, svc != NULL ? svc->name : NULL, 0, fmt, ap);
}

/* Outside check() a conf error can only be logged. */
__attribute__((format(printf, 3, 0))) static void
host_vconf_error(pf_service *svc, const char *key, const char *fmt, va_list ap)
{
    char msg[512];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    log_error(svc->name, "%s: %s", key != NULL ? key : "config", msg);
}

int conn_wait(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    int64_t       deadline = mono_ms() + timeout_ms;
    int           left = timeout_ms > 0 ? timeout_ms : -1, r;

    for (;;) {
        r = poll(&p, 1, left);
        if (r > 0)
            return 0;
        if (r == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (errno != EINTR)
            return -1;
        if (timeout_ms > 0) {
            left = (int)(deadline - mono_ms());
            if (left <= 0) {
                errno = ETIMEDOUT;
                return -1;
            }
        }
    }
}

static ssize_t host_read(pf_conn *c, void *buf, size_t len)
{
    ssize_t n;

    for (;;) {
        n = recv(c->fd, buf, len, MSG_DONTWAIT);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        if (conn_wait(c->fd, POLLIN, c->read_timeout_ms) == -1)
            return -1;
    }
}

/* Send what the socket takes now.  Returns the bytes sent (0 when it is
 * full), or -1 with errno. */
static ssize_t send_nowait(int fd, const char *p, size_t len, int flags)
{
    size_t  done = 0;
    ssize_t n;

    while (done < len) {
        n = send(fd, p + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT | flags);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        return -1;
    }
    return (ssize_t)done;
}

static int write_flags(pf_conn *c, const void *buf, size_t len, int flags)
{
    const char *p = buf;
    ssize_t     n;

    for (;;) {
        n = send_nowait(c->fd, p, len, flags);
        if (n == -1)
            return -1;
        p += n;
        len -= (size_t)n;
        if (len == 0)
            return 0;
        if (conn_wait(c->fd, POLLOUT, c->write_timeout_ms) == -1)
            return -1;
    }
}

static ssize_t host_send_nowait(pf_conn *c, const void *buf, size_t len,
                                int more)
{
    return send_nowait(c->fd, buf, len, more ? MSG_MORE : 0);
}

static int host_write(pf_conn *c, const void *buf, size_t len)
{
    return write_flags(c, buf, len, 0);
}

static int host_write_more(pf_conn *c, const void *buf, size_t len)
{
    return write_flags(c, buf, len, MSG_MORE);
}

static int host_sendfile(pf_conn *c, int fd, off_t off, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = sendfile(c->fd, fd, &off, len);
        if (n > 0) {
            len -= (size_t)n;
            continue;
        }
        if (n == 0) { /* the file ended early: it shrank under us */
            errno = EIO;
            return -1;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        if (conn_wait(c->fd, POLLOUT, c->write_timeout_ms) == -1)
            return -1;
    }
    return 0;
}

/* Exactly len bytes, each wait up to read_timeout_ms.  At end of stream
 * the bytes so far (0 before any) are returned, so a short count means the
 * peer closed mid-record. */
static ssize_t host_read_full(pf_conn *c, void *buf, size_t len)
{
    char   *p = buf;
    size_t  got = 0;
    ssize_t n;

    while (got < len) {
        n = host_read(c, p + got, len - got);
        if (n == -1)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/*
 * One line, '\n' included, NUL-terminated.  The bytes are peeked first and
 * only the line's own are taken from the socket, so whatever follows the
 * newline stays there for the next call and no per-connection buffer is
 * needed.  Without a '\n' at the end of what is returned, either the line
 * was longer than len - 1 (the rest comes with the next call) or the peer
 * closed mid-line (the next call returns 0).
 */
static ssize_t host_readline(pf_conn *c, char *buf, size_t len)
{
    size_t  got = 0, take;
    ssize_t n;
    char   *nl;

    if (len < 2) {
        errno = EINVAL;
        return -1;
    }
    while (got < len - 1) {
        n = recv(c->fd, buf + got, len - 1 - got, MSG_PEEK | MSG_DONTWAIT);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (conn_wait(c->fd, POLLIN, c->read_timeout_ms) == -1)
                return -1;
            continue;
        }
        if (n == -1)
            return -1;
        if (n == 0)
            break;
        nl = memchr(buf + got, '\n', (size_t)n);
        take = nl != NULL ? (size_t)(nl - (buf + got)) + 1 : (size_t)n;
        do /* the bytes are queued already: this takes exactly them */
            n = recv(c->fd, buf + got, take, MSG_DONTWAIT);
        while (n == -1 && errno == EINTR);
        if (n == -1)
            return -1;
        got += (size_t)n;
        if (nl != NULL && (size_t)n == take)
            break;
    }
    buf[got] = '\0';
    return (ssize_t)got;
}

static int host_reply(pf_dgram *d, const void *buf, size_t len)
{
    ssize_t n;

    do
        n = sendto(d->fd, buf, len, MSG_NOSIGNAL, d->peer, d->peerlen);
    while (n == -1 && errno == EINTR);
    return n == -1 ? -1 : 0;
}

/* Set by the worker when it begins to drain; read by any of its threads. */
static volatile sig_atomic_t draining;

void conn_set_draining(void)
{
    draining = 1;
}

/* This process's scoreboard slot, for pf_activity(); NULL: none. */
static struct slot *own_slot;

void conn_set_slot(struct slot *slot)
{
    own_slot = slot;
}

static void host_activity(pf_conn *c, const char *text, size_t len)
{
    (void)c;
    if (own_slot != NULL)
        slot_set_request(own_slot, text, len);
}

static int host_accepting(const pf_service *svc)
{
    (void)svc;
    return !draining && !scoreboard_stopping();
}

const struct pf_api host_api = {
    .size = sizeof(struct pf_api),
    .vlog = host_vlog,
    .vconf_error = host_vconf_error,
    .read = host_read,
    .write = host_write,
    .reply = host_reply,
    .write_more = host_write_more,
    .sendfile = host_sendfile,
    .send_nowait = host_send_nowait,
    .read_full = host_read_full,
    .readline = host_readline,
    .accepting = host_accepting,
    .activity = host_activity,
};

void service_pub_init(pf_service *pub, const char *name, const void *conf,
                      const char *config_dir)
{
    memset(pub, 0, sizeof(*pub));
    pub->api = &host_api;
    pub->name = name;
    pub->conf = conf;
    pub->config_dir = config_dir;
}
