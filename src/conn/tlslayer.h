/*
 * tlslayer.h -- the interface between the host and its TLS layer.
 *
 * The TLS layer (tls.c, tlsctx.c, ticketcb.c and tlsentry.c) is built as
 * its own shared object, prefork-tls.so, the only part of prefork that
 * links OpenSSL.  The master dlopen()s it (tlsload.c) when a
 * configuration has a service with TLS keys, before any fork, so that a
 * server without TLS never maps libssl or libcrypto and a worker never
 * loads anything.  The two sides know each other through two tables:
 *
 *   - the layer exports exactly one symbol, TLS_LAYER_SYMBOL, a const
 *     struct tls_layer of its functions;
 *   - the host hands the layer a struct tls_host of the few host
 *     functions it calls back (the log, config diagnostics, the plain
 *     transport, the ticket key table) through init().
 *
 * A table of host functions rather than host symbols exported with a
 * linker dynamic list: the layer then has no undefined symbol of the
 * host's, so any program that links libprefork (the server, a unit test)
 * can load it with no linker flag of its own, and what the layer may
 * call is written down here, in one place, as the module API is in
 * struct pf_api.  Both sides are built from one tree; abi and size tell
 * a layer from another build apart.
 */
#ifndef PF_TLSLAYER_H
#define PF_TLSLAYER_H

#include <stdarg.h>
#include <stdint.h>

#include <prefork/module.h>

#define TLS_LAYER_FILE   "prefork-tls.so"
#define TLS_LAYER_SYMBOL "prefork_tls_layer"
/* One up whenever either table or a struct both sides read changes. */
#define TLS_LAYER_ABI 1

struct config;
struct conn;
struct conn_io;
struct diag;
struct slot;
struct tk_key;
struct tls_ctx;
struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

/* What the host lends the layer: every call the layer makes into it. */
struct tls_host {
    void (*log_vat)(int level, const char *svc, int err, const char *fmt,
                    va_list ap);
    void (*diag_vadd)(struct diag *d, const char *file, int line,
                      const char *fmt, va_list ap);
    void (*diag_vwarn)(struct diag *d, const char *file, int line,
                       const char *fmt, va_list ap);
    const struct conn_io *io_plain;
    /* The slot this process counts handshakes in (tls_set_slot). */
    struct slot *const *count_slot;
    /* The ticket key table (ticketkeys.h): -1 or 0 when there is none. */
    int (*ticket_current)(struct tk_key *out);
    int (*ticket_find)(const unsigned char *name, struct tk_key *out);
    uint32_t (*ticket_lifetime_s)(void);
};

/* What the layer does; each member is the function of the same name in
 * tls.h, tlsctx.h or ticketcb.h. */
struct tls_layer {
    unsigned abi;  /* TLS_LAYER_ABI */
    unsigned size; /* sizeof(struct tls_layer) */
    void (*init)(const struct tls_host *host);
    int (*prepare)(struct config *cfg, struct diag *d);
    void (*ctx_free)(struct tls_ctx *t);
    void (*ctx_log)(const struct tls_ctx *t, const char *where);
    int (*handshake)(struct conn *c, short *events);
    void (*handshake_abandoned)(struct conn *c);
    const char *(*api_subject)(pf_conn *pc);
    const char *(*api_verify)(pf_conn *pc);
    const char *(*api_alpn)(pf_conn *pc);
    int (*ticketkeys_attach)(struct ssl_ctx_st *ctx);
};

/* Inside the layer: the host's table, set by init() before any other
 * call. */
extern const struct tls_host *tls_host;

#endif
