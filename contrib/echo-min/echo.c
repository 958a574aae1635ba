/* echo.c -- TCP echo (RFC 862) as a blocking prefork module. */
#include <prefork/module.h>

/* PF_BLOCKING: the worker is this connection's until handle() returns, so
 * one call can serve it all.  pf_read gives up after read_timeout_ms. */
static int echo(pf_conn *c)
{
    char    buf[4096];
    ssize_t n;

    while ((n = pf_read(c, buf, sizeof(buf))) > 0)
        if (pf_write(c, buf, (size_t)n) == -1)
            break;
    return PF_CLOSE;
}

PF_MODULE_DECLARE = {
    PF_MODULE_HEADER,       .name = "echo-min", .version = "1",
    .socktypes = PF_STREAM, .handle = echo,     .flags = PF_BLOCKING,
};
