/*
 * hello.c -- an example prefork module, built out of the source tree.
 *
 * Copy this file to start a module of your own.  For every line a client
 * sends it answers "<greeting> <line>", where greeting is a key of the
 * service's section:
 *
 *     [hello]
 *     module = /path/to/hello.so
 *     listen = 127.0.0.1:7070
 *     greeting = bonjour        ; optional, default "hello"
 *
 * Everything a module needs is in <prefork/module.h>; a module never links
 * against prefork itself.  The host reaches the module through the one
 * descriptor at the end of this file, and the module reaches the host
 * through the pf_* helpers of the header.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <prefork/module.h>

/* The longest line we accept; a client sending more is disconnected. */
#define HELLO_MAX_LINE 1024

/*
 * The module's configuration.  The host fills one per service from the
 * key table below before calling check(), and hands it to every hook as
 * svc->conf.  Strings belong to the host: never free them.
 */
struct hello_conf {
    char *greeting;
};

/* The keys this module takes: anything else in its section is an error
 * the host reports with the file and line, before anything starts. */
static const struct pf_key hello_keys[] = {
    {
        .name = "greeting",
        .type = PF_KEY_STRING,
        .offset = offsetof(struct hello_conf, greeting),
        .def = "hello",
        .help = "the word put before each line sent back",
    },
    {0}, /* the table ends with a zeroed entry */
};

/* Per-connection state: the part of a line received so far.  In threading
 * mode many connections are served at once in one process, so state lives
 * here (c->data), never in globals. */
struct hello_conn {
    size_t len;
    char   line[HELLO_MAX_LINE];
};

/* Master, at start-up, on -t and on every reload: the place to reject a
 * value the key table cannot express.  pf_conf_error() names the key's
 * line; returning -1 stops the start (or keeps the old config on reload). */
static int hello_check(pf_service *svc)
{
    const struct hello_conf *conf = svc->conf;

    /* pf_recv_nowait came with ABI 1.3: a module that may be loaded by an
     * older prefork says so here instead of calling past its table. */
    if (!PF_API_HAS(svc->api, recv_nowait)) {
        pf_conf_error(svc, NULL, "hello needs prefork with module ABI 1.3");
        return -1;
    }
    if (strchr(conf->greeting, '\n') != NULL || conf->greeting[0] == '\0') {
        pf_conf_error(svc, "greeting", "must be one non-empty word or phrase");
        return -1;
    }
    return 0;
}

/* Worker: a connection was accepted.  -1 closes it at once. */
static int hello_setup(pf_conn *c)
{
    c->data = calloc(1, sizeof(struct hello_conn));
    return c->data == NULL ? -1 : 0;
}

/* Send "<greeting> <line>\n" for one complete line (without its \n; a
 * \r before it, as telnet sends, is dropped too).  pf_write waits up to
 * write_timeout_ms for a client that does not read, which is fine for a
 * short answer; a module that sends much keeps what pf_sendv_nowait did
 * not take and returns PF_WRITE instead (src/modules/echo.c). */
static int hello_reply(pf_conn *c, const char *line, size_t len)
{
    const struct hello_conf *conf = c->svc->conf;

    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (pf_write(c, conf->greeting, strlen(conf->greeting)) < 0 ||
        pf_write(c, " ", 1) < 0 || pf_write(c, line, len) < 0 ||
        pf_write(c, "\n", 1) < 0)
        return -1;
    return 0;
}

/*
 * Worker: the client sent something.  Read what is there without waiting
 * (pf_recv_nowait; all I/O goes through the pf_* functions, never c->fd,
 * so the module works under whatever transport the server puts under the
 * connection), answer every complete line, keep the rest for the next
 * call, and tell the worker what comes next:
 *   PF_IDLE   between lines: a graceful shutdown may close the connection
 *   PF_MORE   in the middle of a line: let the client finish it
 *   PF_CLOSE  done (end of stream, error, or a line too long)
 * The worker calls handle() again when more arrives, and closes the
 * connection after idle_timeout_ms of silence.
 */
static int hello_handle(pf_conn *c)
{
    struct hello_conn *st = c->data;
    ssize_t            n;
    char              *nl;

    n = pf_recv_nowait(c, st->line + st->len, sizeof st->line - st->len);
    if (n == -1 && errno == EAGAIN)
        return st->len == 0 ? PF_IDLE : PF_MORE; /* nothing there after all */
    if (n <= 0)
        return PF_CLOSE; /* 0: the client closed; -1: errno says why */
    st->len += (size_t)n;
    while ((nl = memchr(st->line, '\n', st->len)) != NULL) {
        size_t len = (size_t)(nl - st->line);

        if (hello_reply(c, st->line, len) < 0)
            return PF_CLOSE;
        st->len -= len + 1;
        memmove(st->line, nl + 1, st->len);
    }
    if (st->len == sizeof st->line) {
        pf_log(c->svc, PF_LOG_INFO, "line longer than %d bytes: closing",
               HELLO_MAX_LINE);
        return PF_CLOSE;
    }
    return st->len == 0 ? PF_IDLE : PF_MORE;
}

/* Worker: the connection is about to be closed, whatever the reason. */
static void hello_finish(pf_conn *c)
{
    free(c->data);
    c->data = NULL;
}

/*
 * The descriptor, the one symbol the module exports.  PF_MODULE_HEADER
 * records the ABI this file was compiled against, so an incompatible
 * prefork refuses the module by name instead of crashing.  Hooks left out
 * stay NULL (this module needs no worker_init, worker_exit or datagram).
 */
PF_MODULE_DECLARE = {
    PF_MODULE_HEADER,
    .name = "hello",
    .version = "1.0",
    .socktypes = PF_STREAM, /* TCP and UNIX; PF_DGRAM would add UDP */
    .keys = hello_keys,
    .conf_size = sizeof(struct hello_conf),
    .check = hello_check,
    .setup = hello_setup,
    .handle = hello_handle,
    .finish = hello_finish,
};
