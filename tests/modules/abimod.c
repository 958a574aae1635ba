/*
 * abimod.c -- one module built against two other minor versions of
 * <prefork/module.h>: the 1.0 header (tests/fixtures/abi-1.0, before
 * pf_module.flags) and the next minor version's, made at build time from
 * today's header with one hook more after pf_module.flags (Makefile.am,
 * tests/modules/abi-next).  The loader must take both: the older one with
 * everything past its size read as zero, the newer one without reading
 * past the host's own struct.
 *
 * Built for 1.0 it is an echo server doing its own I/O on c->fd, as
 * modules did before ABI 1.3 gave them non-blocking I/O through the host:
 * such a module must keep working on a plain connection.
 */
#include <errno.h>
#include <sys/socket.h>

#include <prefork/module.h>

#ifdef PF_TEST_FUTURE_HOOK
static int abimod_handle(pf_conn *c)
{
    (void)c;
    return PF_CLOSE;
}

static void abimod_future(pf_service *svc)
{
    (void)svc;
}
#else
static int abimod_handle(pf_conn *c)
{
    char    buf[4096];
    ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return PF_MORE;
    if (n <= 0 || send(c->fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
        return PF_CLOSE;
    return PF_MORE;
}
#endif

PF_MODULE_DECLARE = {
    PF_MODULE_HEADER,        .name = "abimod",
    .version = "test",       .socktypes = PF_STREAM,
    .handle = abimod_handle,
#ifdef PF_TEST_FUTURE_HOOK
    .flags = PF_BLOCKING,    .future_hook = abimod_future,
#endif
};
