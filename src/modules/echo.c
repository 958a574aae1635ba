/*
 * echo.c -- the `echo` module: RFC 862 over TCP and UNIX stream sockets.
 *
 * Every byte a client sends is sent back until the client closes; a client
 * silent for `idle_timeout` (default 60s) is disconnected by the worker.
 * handle() drains what the socket holds in a bounded number of reads and
 * returns, so one fast client cannot starve the others parked in the same
 * worker; a read that does not fill the buffer found the socket empty,
 * and ends the call.  Nothing blocks: what the client does not read at once is kept
 * (c->data) and the connection waits with PF_WRITE, reading nothing more
 * until it is sent, so a client that sends without reading holds a parked
 * connection, not the worker.  No globals: safe in `threading` mode.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <prefork/module.h>

/* Reads per handle() call before the worker gets to serve someone else. */
#define ECHO_MAX_READS 16
/* Kept on the stack; threads of the threading mode have stacks to spare. */
#define ECHO_BUFSIZE 16384

struct echo_conf {
    long long idle_timeout; /* ms; 0: never */
};

/* Bytes received but not yet taken by the client's socket. */
struct echo_pending {
    size_t len, off;
    char   buf[];
};

static const struct pf_key echo_keys[] = {
    {
        .name = "idle_timeout",
        .type = PF_KEY_DURATION,
        .offset = offsetof(struct echo_conf, idle_timeout),
        .def = "60s",
        .min = 0,
        .max = INT_MAX,
        .help = "close a connection silent for this long (0: never)",
    },
    {0},
};

/* The non-blocking I/O this module uses came with ABI 1.3: refuse an
 * older host at -t and start-up rather than call past its table. */
static int echo_check(pf_service *svc)
{
    if (PF_API_HAS(svc->api, recv_nowait))
        return 0;
    pf_conf_error(svc, NULL, "echo needs a prefork of module ABI 1.3 or later");
    return -1;
}

static int echo_setup(pf_conn *c)
{
    const struct echo_conf *conf = c->svc->conf;

    c->idle_timeout_ms = (int)conf->idle_timeout;
    return 0;
}

/* Send what is pending.  Returns 0 when all of it is out, 1 while some is
 * left, -1 when the connection is dead. */
static int flush(pf_conn *c)
{
    struct echo_pending *p = c->data;
    ssize_t n = pf_send_nowait(c, p->buf + p->off, p->len - p->off, 0);

    if (n == -1)
        return -1;
    p->off += (size_t)n;
    if (p->off < p->len)
        return 1;
    free(p);
    c->data = NULL;
    return 0;
}

/* Send buf[0..n) back; keep what the socket does not take now (the only
 * allocation, and only then).  Returns as flush() does. */
static int echo_back(pf_conn *c, const char *buf, size_t n)
{
    struct echo_pending *p;
    ssize_t              w = pf_send_nowait(c, buf, n, 0);

    if (w == -1)
        return -1;
    if ((size_t)w == n)
        return 0;
    p = malloc(sizeof(*p) + n - (size_t)w);
    if (p == NULL)
        return -1;
    memcpy(p->buf, buf + w, n - (size_t)w);
    p->len = n - (size_t)w;
    p->off = 0;
    c->data = p;
    return 1;
}

/*
 * pf_recv_nowait() tells us when the connection is drained without
 * waiting read_timeout_ms as pf_read() would.  PF_MORE rather than
 * PF_IDLE: an echo session has no "between requests", so a graceful
 * shutdown lets the client finish.
 */
static int echo_handle(pf_conn *c)
{
    char buf[ECHO_BUFSIZE];
    int  r;

    if (c->data != NULL && (r = flush(c)) != 0)
        return r > 0 ? PF_WRITE : PF_CLOSE;
    for (int i = 0; i < ECHO_MAX_READS; i++) {
        ssize_t n = pf_recv_nowait(c, buf, sizeof buf);

        if (n > 0) {
            r = echo_back(c, buf, (size_t)n);
            if (r != 0)
                return r > 0 ? PF_WRITE : PF_CLOSE;
            /* A short read emptied the socket: asking again would most
             * often cost a system call to learn EAGAIN, and epoll says
             * when more comes (as the http module and the ceiling do). */
            if ((size_t)n < sizeof buf)
                return PF_MORE;
            continue;
        }
        if (n == 0)
            return PF_CLOSE;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return PF_MORE;
        return PF_CLOSE;
    }
    return PF_MORE;
}

static void echo_finish(pf_conn *c)
{
    free(c->data);
    c->data = NULL;
}

/* One hook per line: clang-format would pack them. */
/* clang-format off */
PF_MODULE_DECLARE = {
    PF_MODULE_HEADER,
    .name = "echo",
    .version = "1.0",
    .socktypes = PF_STREAM, /* TCP and UNIX listeners */
    .keys = echo_keys,
    .conf_size = sizeof(struct echo_conf),
    .check = echo_check,
    .setup = echo_setup,
    .handle = echo_handle,
    .finish = echo_finish,
};
/* clang-format on */
