/*
 * tlsctx.h -- a service's TLS contexts, built by the master from its keys.
 *
 * The master reads every certificate and key of a service before any
 * fork (`-t`, a start and a reload alike, so that a bad file fails the
 * same way in all three and a reload with one keeps the running
 * generation); workers inherit the contexts, so key files need to be
 * readable by the master only.  One SSL_CTX per server name: the pairs
 * that share their names (an ECDSA and an RSA certificate for the same
 * names) go into one context, where OpenSSL picks by the signature
 * algorithms the client offers; the client's SNI name picks the context.
 *
 * tlsctx.c is part of the TLS layer (prefork-tls.so, tlslayer.h);
 * tls_prepare, tlsctx_free and tlsctx_log are called in the host through
 * tlsload.c, whose tls_prepare loads the layer first when a service has
 * TLS keys (and reports at its tls_certificate line when it cannot).
 */
#ifndef PF_TLSCTX_H
#define PF_TLSCTX_H

#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

#include "config.h"
#include "diag.h"

/* One certificate, as the start-up log names it. */
struct tls_cert_info {
    char  *file;
    char  *subject; /* RFC 2253, "CN=example.org" */
    char   expires[32];
    time_t not_after;
};

struct tls_ctx {
    const char           *service; /* the service's name (its conf owns it) */
    SSL_CTX             **ctx; /* one per name group; [0] answers other names */
    X509                **leaf; /* the first leaf of each group, for SNI */
    size_t                n;
    struct tls_cert_info *certs; /* each pair, in file order */
    size_t                ncerts;
    unsigned char        *alpn; /* the offer in wire format, or NULL */
    size_t                alpn_len;
    int                   reject_unknown_sni;
    /* ALPN offers http/1.1: a plain HTTP request gets a plain answer. */
    int       http;
    int       ktls;   /* tls_ktls = auto */
    int       verify; /* enum pf_tls_verify */
    long long handshake_timeout_ms;
};

/* Build sc->tls for every service of cfg that has tls_certificate (the
 * master, from config_prepare, so that -t does exactly this).  Every
 * problem goes into d with its FILE:LINE and OpenSSL's reason; a
 * certificate expired or expiring within 14 days is a warning.  Returns 0
 * or -1. */
int tls_prepare(struct config *cfg, struct diag *d);

/* Free what tls_prepare built (NULL: nothing). */
void tlsctx_free(struct tls_ctx *t);

/* Log, for the listener at `where`, each certificate t serves: its
 * subject and when it expires.  Master, at start and on each reload. */
void tlsctx_log(const struct tls_ctx *t, const char *where);

#endif
