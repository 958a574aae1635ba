/*
 * echo.c -- the `echo` module: RFC 862 over TCP and UNIX stream sockets.
 *
 * Every byte a client sends is sent back until the client closes; a client
 * silent for `idle_timeout` (default 60s) is disconnected by the worker.
 * handle() drains what the socket holds in a bounded number of reads and
 * returns, so one fast client cannot starve the others parked in the same
 * worker.  No state outside the stack: safe in `threading` mode.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <prefork/module.h>

/* Reads per handle() call before the worker gets to serve someone else. */
#define ECHO_MAX_READS 16
/* Kept on the stack; threads of the threading mode have stacks to spare. */
#define ECHO_BUFSIZE 16384

struct echo_conf {
    long long idle_timeout; /* ms; 0: never */
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

static int echo_setup(pf_conn *c)
{
    const struct echo_conf *conf = c->svc->conf;

    c->idle_timeout_ms = (int)conf->idle_timeout;
    return 0;
}

/*
 * The descriptor is non-blocking, so recv() with MSG_DONTWAIT tells us when
 * the socket is drained without waiting read_timeout_ms as pf_read() would.
 * PF_MORE rather than PF_IDLE: an echo session has no "between requests",
 * so a graceful shutdown lets the client finish.
 */
static int echo_handle(pf_conn *c)
{
    char buf[ECHO_BUFSIZE];

    for (int i = 0; i < ECHO_MAX_READS; i++) {
        ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);

        if (n > 0) {
            if (pf_write(c, buf, (size_t)n) < 0)
                return PF_CLOSE;
            continue;
        }
        if (n == 0)
            return PF_CLOSE;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return PF_MORE;
        return PF_CLOSE;
    }
    return PF_MORE;
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
    .setup = echo_setup,
    .handle = echo_handle,
};
/* clang-format on */
