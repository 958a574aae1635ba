/*
 * host.c -- the host side of the module API: the pf_api table.
 *
 * Descriptors handed to modules are non-blocking; pf_read() and pf_write()
 * wait with poll() up to the connection's timeouts, so a module can be
 * written as plainly as socketserver's handle() and still never hang a
 * worker on a silent peer.  Every byte goes through the connection's
 * conn_io (io.h), never straight to the descriptor, so that a transport
 * put under the connection is under every module too; the descriptor is
 * used here only to wait on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>

#include "clock.h"
#include "conn.h"
#include "host.h"
#include "io.h"
#include "log.h"
#include "metrics.h"
#include "sandbox_conf.h"
#include "scoreboard.h"
#include "tls.h"
#include "status.h"

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

/* This process's scoreboard slot, for pf_activity() and the counters;
 * NULL: none. */
static struct slot *own_slot;

/* What modules read and sent, for the metrics: a load and a store. */
static ssize_t count_in(ssize_t n)
{
    if (n > 0 && own_slot != NULL)
        slot_count_bytes(own_slot, (uint64_t)n, 0);
    return n;
}

static ssize_t count_out(ssize_t n)
{
    if (n > 0 && own_slot != NULL)
        slot_count_bytes(own_slot, 0, (uint64_t)n);
    return n;
}

/* The connection a module's pf_conn is the public part of. */
static struct conn *conn_of(pf_conn *pc)
{
    return (struct conn *)(void *)((char *)pc - offsetof(struct conn, pub));
}

static int would_block(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

static ssize_t host_read(pf_conn *pc, void *buf, size_t len)
{
    struct conn *c = conn_of(pc);
    ssize_t      n;

    for (;;) {
        n = c->io->recv(c, buf, len);
        if (n >= 0 || !would_block())
            return count_in(n);
        if (conn_wait(pc->fd, POLLIN, pc->read_timeout_ms) == -1)
            return -1;
    }
}

/* Send what the transport takes of p now.  Returns the bytes sent (0 when
 * it is full), or -1 with errno. */
static ssize_t send_some(struct conn *c, const char *p, size_t len, int more)
{
    size_t  done = 0;
    ssize_t n;

    while (done < len) {
        n = c->io->send(c, p + done, len - done, more);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n == -1 && would_block())
            break;
        count_out((ssize_t)done);
        return -1;
    }
    return count_out((ssize_t)done);
}

static int write_all(pf_conn *pc, const void *buf, size_t len, int more)
{
    struct conn *c = conn_of(pc);
    const char  *p = buf;
    ssize_t      n;

    for (;;) {
        n = send_some(c, p, len, more);
        if (n == -1)
            return -1;
        p += n;
        len -= (size_t)n;
        if (len == 0)
            return 0;
        if (conn_wait(pc->fd, POLLOUT, pc->write_timeout_ms) == -1)
            return -1;
    }
}

static ssize_t host_send_nowait(pf_conn *pc, const void *buf, size_t len,
                                int more)
{
    return send_some(conn_of(pc), buf, len, more);
}

static int host_write(pf_conn *pc, const void *buf, size_t len)
{
    return write_all(pc, buf, len, 0);
}

static int host_write_more(pf_conn *pc, const void *buf, size_t len)
{
    return write_all(pc, buf, len, 1);
}

static ssize_t host_recv_nowait(pf_conn *pc, void *buf, size_t len)
{
    struct conn *c = conn_of(pc);

    return count_in(c->io->recv(c, buf, len));
}

/* One attempt: a non-blocking socket that takes part of what it is given
 * is full, and asking again would only cost a system call to learn so. */
static ssize_t host_sendv_nowait(pf_conn *pc, const struct iovec *iov,
                                 int iovcnt, int more)
{
    struct conn *c = conn_of(pc);
    ssize_t      n = c->io->sendv(c, iov, iovcnt, more);

    if (n == -1 && would_block())
        return 0;
    return count_out(n);
}

/* Until len is sent or the transport is full: a short count from one
 * sendfile does not by itself say the socket is full (one call sends at
 * most 2 GiB), and a module told "partly sent" waits to be called when
 * writable.  A whole file that fits costs one call. */
static ssize_t host_sendfile_nowait(pf_conn *pc, int fd, off_t *off, size_t len)
{
    struct conn *c = conn_of(pc);
    size_t       done = 0;
    ssize_t      n;

    while (done < len) {
        n = c->io->sendfile(c, fd, off, len - done);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n == 0) { /* the file ended early: it shrank under us */
            errno = EIO;
            return -1;
        }
        if (!would_block()) {
            count_out((ssize_t)done);
            return -1;
        }
        break;
    }
    return count_out((ssize_t)done);
}

/* As pf_sendfile_nowait, waiting up to write_timeout_ms whenever the
 * transport is full. */
static int host_sendfile(pf_conn *pc, int fd, off_t off, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = host_sendfile_nowait(pc, fd, &off, len);
        if (n == -1)
            return -1;
        len -= (size_t)n;
        if (len > 0 && conn_wait(pc->fd, POLLOUT, pc->write_timeout_ms) == -1)
            return -1;
    }
    return 0;
}

static int host_nodelay(pf_conn *pc)
{
    struct conn *c = conn_of(pc);

    return c->io->nodelay(c);
}

/* Exactly len bytes, each wait up to read_timeout_ms.  At end of stream
 * the bytes so far (0 before any) are returned, so a short count means the
 * peer closed mid-record. */
static ssize_t host_read_full(pf_conn *pc, void *buf, size_t len)
{
    char   *p = buf;
    size_t  got = 0;
    ssize_t n;

    while (got < len) {
        n = host_read(pc, p + got, len - got);
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
 * only the line's own are taken, so whatever follows the newline stays
 * there for the next call and no per-connection buffer is needed.
 * Without a '\n' at the end of what is returned, either the line was
 * longer than len - 1 (the rest comes with the next call) or the peer
 * closed mid-line (the next call returns 0).
 */
static ssize_t host_readline(pf_conn *pc, char *buf, size_t len)
{
    struct conn *c = conn_of(pc);
    size_t       got = 0, take;
    ssize_t      n;
    char        *nl;

    if (len < 2) {
        errno = EINVAL;
        return -1;
    }
    while (got < len - 1) {
        n = c->io->peek(c, buf + got, len - 1 - got);
        if (n == -1 && would_block()) {
            if (conn_wait(pc->fd, POLLIN, pc->read_timeout_ms) == -1)
                return -1;
            continue;
        }
        if (n == -1)
            return -1;
        if (n == 0)
            break;
        nl = memchr(buf + got, '\n', (size_t)n);
        take = nl != NULL ? (size_t)(nl - (buf + got)) + 1 : (size_t)n;
        /* The bytes are there already: this takes exactly them. */
        n = count_in(c->io->recv(c, buf + got, take));
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

void conn_set_slot(struct slot *slot)
{
    own_slot = slot;
}

struct slot *conn_slot(void)
{
    return own_slot;
}

static void host_activity(pf_conn *c, const char *text, size_t len)
{
    (void)c;
    if (own_slot != NULL)
        slot_set_request(own_slot, text, len);
}

/* A module flagged PF_RESPONSES finished a response: its class now, its
 * duration when handle() returns (stages.c). */
static void host_response_done(pf_conn *pc, int status)
{
    conn_of(pc)->responses++;
    if (own_slot != NULL)
        slot_count_status(own_slot, status);
}

/* The scoreboard this process inherited, snapshot and rendered, for a
 * status page: the snapshot is copied as `prefork -s status` copies the
 * file, so a page never shows half a reload. */
static char *host_status_text(const pf_service *svc, int format, size_t *len)
{
    const struct scoreboard *sb = scoreboard_self();
    struct sb_snapshot       snap = {0};
    char                     err[256], *text = NULL;
    FILE                    *out;
    int                      rc;

    *len = 0;
    if (sb == NULL)
        return NULL;
    if (scoreboard_snapshot(sb, &snap, err, sizeof(err)) == -1) {
        log_error(svc->name, "status: %s", err);
        return NULL;
    }
    if ((out = open_memstream(&text, len)) == NULL)
        goto done;
    if (format == PF_STATUS_JSON)
        rc = status_render(out, &snap, mono_ms());
    else
        rc = metrics_render(out, &snap, format == PF_STATUS_OPENMETRICS);
    if (fclose(out) == EOF || rc == -1) {
        free(text);
        text = NULL;
        *len = 0;
    }
done:
    scoreboard_snapshot_free(&snap);
    return text;
}

static int host_accepting(const pf_service *svc)
{
    (void)svc;
    return !draining && !scoreboard_stopping();
}

/* In a worker (worker_init): for this process, which serves one service;
 * check() in the master declares into the service's config (modload.c). */
static int host_sandbox_allow(pf_service *svc, const char *path, unsigned flags)
{
    return sandbox_declare_here(svc->config_dir, path, flags);
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
    .recv_nowait = host_recv_nowait,
    .sendv_nowait = host_sendv_nowait,
    .sendfile_nowait = host_sendfile_nowait,
    .nodelay = host_nodelay,
    /* ABI 1.4 and later. */
    .tls_subject = tls_api_subject,
    .tls_verify = tls_api_verify,
    .tls_alpn = tls_api_alpn,
    .response_done = host_response_done,
    .status_text = host_status_text,
    .sandbox_allow = host_sandbox_allow,
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
