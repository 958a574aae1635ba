/*
 * tlsentry.c -- the TLS layer's side of tlslayer.h: the one symbol
 * prefork-tls.so exports, and the host functions the layer's files call
 * by their usual names (log_at, diag_add, diag_warn), each passed on
 * through the table the host handed init().
 *
 * The layer is compiled with -fvisibility=hidden: these functions, like
 * tls_handshake and tls_prepare in tls.c and tlsctx.c, bind inside the
 * layer and never to the host's functions of the same names.
 */
#include <stdarg.h>

#include <openssl/ssl.h>

#include "diag.h"
#include "log.h"
#include "ticketcb.h"
#include "tls.h"
#include "tlsctx.h"
#include "tlslayer.h"

const struct tls_host *tls_host;

static void layer_init(const struct tls_host *host)
{
    tls_host = host;
}

void log_at(int level, const char *svc, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tls_host->log_vat(level, svc, err, fmt, ap);
    va_end(ap);
}

void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tls_host->diag_vadd(d, file, line, fmt, ap);
    va_end(ap);
}

void diag_warn(struct diag *d, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tls_host->diag_vwarn(d, file, line, fmt, ap);
    va_end(ap);
}

__attribute__((visibility("default")))
const struct tls_layer prefork_tls_layer = {
    .abi = TLS_LAYER_ABI,
    .size = sizeof(struct tls_layer),
    .init = layer_init,
    .prepare = tls_prepare,
    .ctx_free = tlsctx_free,
    .ctx_log = tlsctx_log,
    .handshake = tls_handshake,
    .handshake_abandoned = tls_handshake_abandoned,
    .api_subject = tls_api_subject,
    .api_verify = tls_api_verify,
    .api_alpn = tls_api_alpn,
    .ticketkeys_attach = ticketkeys_attach,
};
