/*
 * blockmod.c -- a PF_BLOCKING module for the integration tests, never
 * installed.
 *
 * It greets first ("hello blockmod\n", before the client says anything),
 * then reads one line per handle() call with pf_readline() into a 16-byte
 * buffer and answers it:
 *
 *   pid\n          the serving process's pid, then \n
 *   sleep N\n      sleeps N seconds (to make a worker stuck), then "slept\n"
 *   timeout MS\n   sets read_timeout_ms, then "ok\n"
 *   full N\n       pf_read_full() of N bytes (N < 64): "full K BYTES\n", or
 *                  "full -1 ERRNO\n"
 *   line\n         one more pf_readline() at once: as for any other line
 *   tls\n          "tls SUBJECT VERIFY ALPN\n" (ABI 1.4), "-" for each
 *                  the connection does not have
 *   quit\n         closes the connection
 *   anything else  "line LEN NL\n": the length pf_readline() returned and
 *                  whether it ended in '\n' (1) or not (0)
 *
 * At end of stream it closes; a read error is answered "err ERRNO\n".
 */
#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <prefork/module.h>

#define BM_LINE 16

static int say(pf_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int say(pf_conn *c, const char *fmt, ...)
{
    char    buf[128];
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return pf_write(c, buf, (size_t)n);
}

static int bm_line(pf_conn *c, const char *line, ssize_t n)
{
    if (n == -1)
        return say(c, "err %s\n", strerrorname_np(errno)) == -1 ? PF_CLOSE
                                                                : PF_MORE;
    if (n == 0)
        return PF_CLOSE;
    return say(c, "line %zd %d\n", n, line[n - 1] == '\n') == -1 ? PF_CLOSE
                                                                 : PF_MORE;
}

static int bm_full(pf_conn *c, size_t want)
{
    char    buf[64];
    ssize_t n;

    if (want >= sizeof(buf))
        want = sizeof(buf) - 1;
    n = pf_read_full(c, buf, want);
    if (n == -1)
        return say(c, "full -1 %s\n", strerrorname_np(errno));
    buf[n] = '\0';
    return say(c, "full %zd %s\n", n, buf);
}

static int bm_handle(pf_conn *c)
{
    char    line[BM_LINE];
    ssize_t n;
    int     r;

    if (c->requests == 0) /* the server speaks first */
        return say(c, "hello blockmod\n") == -1 ? PF_CLOSE : PF_MORE;
    if (!PF_API_HAS(c->api, readline))
        return PF_CLOSE;
    n = pf_readline(c, line, sizeof(line));
    if (n <= 0)
        return bm_line(c, line, n);
    if (strcmp(line, "quit\n") == 0)
        return PF_CLOSE;
    if (strcmp(line, "pid\n") == 0)
        r = say(c, "%d\n", (int)getpid());
    else if (strncmp(line, "sleep ", 6) == 0) {
        sleep((unsigned)atoi(line + 6));
        r = say(c, "slept\n");
    } else if (strncmp(line, "timeout ", 8) == 0) {
        c->read_timeout_ms = atoi(line + 8);
        r = say(c, "ok\n");
    } else if (strncmp(line, "full ", 5) == 0)
        r = bm_full(c, (size_t)atoi(line + 5));
    else if (strcmp(line, "tls\n") == 0)
        r = say(c, "tls %s %s %s\n",
                pf_tls_subject(c) ? pf_tls_subject(c) : "-",
                pf_tls_verify(c) ? pf_tls_verify(c) : "-",
                pf_tls_alpn(c) ? pf_tls_alpn(c) : "-");
    else if (strcmp(line, "line\n") == 0) {
        n = pf_readline(c, line, sizeof(line));
        return bm_line(c, line, n);
    } else
        return bm_line(c, line, n);
    return r == -1 ? PF_CLOSE : PF_MORE;
}

PF_MODULE_DECLARE = {
    PF_MODULE_HEADER,       .name = "blockmod",  .version = "1",
    .socktypes = PF_STREAM, .handle = bm_handle, .flags = PF_BLOCKING,
};
