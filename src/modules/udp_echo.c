/*
 * udp_echo.c -- the `udp_echo` module: RFC 862 over UDP.
 *
 * Each datagram goes back to its sender unchanged.  A reply that cannot be
 * sent is dropped, as UDP drops anything: the client retries if it cares.
 * Stateless, so safe in every mode.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <string.h>

#include <prefork/module.h>

static void udp_echo_datagram(pf_dgram *d)
{
    if (pf_reply(d, d->buf, d->len) < 0)
        pf_log(d->svc, PF_LOG_DEBUG, "reply of %zu bytes dropped: %s", d->len,
               strerror(errno));
}

PF_MODULE_DECLARE = {
    PF_MODULE_HEADER,
    .name = "udp_echo",
    .version = "1.0",
    .socktypes = PF_DGRAM,
    .datagram = udp_echo_datagram,
};
