/*
 * tlsload.c -- the host's side of the TLS layer (tlslayer.h): where
 * prefork-tls.so is found, its one dlopen(), and the functions of tls.h
 * and tlsctx.h that the rest of the host calls, passed on to it.
 *
 * The master loads the layer when a configuration (at start, with -t or
 * on a reload) has a service with TLS keys, before it forks: workers
 * inherit it and never load anything, which the sandbox would not let
 * them.  It is never unloaded: contexts, connections and OpenSSL's own
 * state live in it until the process ends.  Until it is loaded there is
 * no TLS context, so no connection, handshake or slot can reach it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "diag.h"
#include "io.h"
#include "log.h"
#include "ticketkeys.h"
#include "tls.h"
#include "tlsctx.h"
#include "tlsload.h"

#ifndef PF_PKGLIBDIR
#define PF_PKGLIBDIR "/usr/local/lib/prefork"
#endif

static const struct tls_layer *layer;
static const char             *path_set;
static struct slot            *count_slot; /* the layer reads it */

static const struct tls_host host = {
    .log_vat = log_vat,
    .diag_vadd = diag_vadd,
    .diag_vwarn = diag_vwarn,
    .io_plain = &conn_io_plain,
    .count_slot = &count_slot,
    .ticket_current = ticketkeys_current,
    .ticket_find = ticketkeys_find,
    .ticket_lifetime_s = ticketkeys_lifetime_s,
};

void tls_layer_path(const char *path)
{
    path_set = path;
}

/* out = dir/TLS_LAYER_FILE; whether that file is there. */
static int layer_in(char *out, size_t len, const char *dir)
{
    return (size_t)snprintf(out, len, "%s/%s", dir, TLS_LAYER_FILE) < len &&
           access(out, F_OK) == 0;
}

/* Where the layer is: in module_path (dir) when it is there, as the
 * modules are (an installed tree moved, or installed under DESTDIR); a
 * binary run from its build tree (modload.c's module_path hint tells it
 * the same way) has it beside itself in libtool's .libs; else
 * $(pkglibdir). */
static void layer_path(char *out, size_t len, const char *dir)
{
    char    exe[4096], *slash;
    ssize_t n;

    if (path_set != NULL) {
        snprintf(out, len, "%s", path_set);
        return;
    }
    if (dir != NULL && layer_in(out, len, dir))
        return;
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0 && (size_t)n < sizeof(exe) - 1) {
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash != NULL) {
            snprintf(slash, sizeof(exe) - (size_t)(slash - exe), "/.libs");
            if (layer_in(out, len, exe))
                return;
        }
    }
    snprintf(out, len, "%s/%s", PF_PKGLIBDIR, TLS_LAYER_FILE);
}

const struct tls_layer *tls_layer_load(const char *dir, char *err,
                                       size_t errlen)
{
    const struct tls_layer *l;
    char                    path[4200];
    void                   *h;

    if (layer != NULL)
        return layer;
    layer_path(path, sizeof(path), dir);
    /* RTLD_LOCAL: OpenSSL's symbols stay the layer's, out of the way of
     * any module's. */
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        errbuf_set(err, errlen, "%s", dlerror());
        return NULL;
    }
    l = dlsym(h, TLS_LAYER_SYMBOL);
    if (l == NULL || l->abi != TLS_LAYER_ABI ||
        l->size != sizeof(struct tls_layer)) {
        errbuf_set(err, errlen,
                   "%s: not the TLS layer of this prefork (rebuild and "
                   "install both)",
                   path);
        dlclose(h);
        return NULL;
    }
    l->init(&host);
    layer = l;
    return layer;
}

/* --- tlsctx.h ------------------------------------------------------------- */

int tls_prepare(struct config *cfg, struct diag *d)
{
    char   err[4400];
    size_t i;
    int    rc = 0;

    for (i = 0; i < cfg->nsvc && layer == NULL; i++) {
        const struct service_conf *sc = &cfg->svc[i];

        if (sc->tls_certificate == NULL || sc->tls_key == NULL)
            continue;
        if (tls_layer_load(cfg->module_path, err, sizeof(err)) == NULL) {
            diag_add(d, cfg->file, sc->tls_certificate_line,
                     "[%s] tls_certificate: TLS is not available: %s", sc->name,
                     err);
            rc = -1;
        }
    }
    if (rc == -1 || layer == NULL)
        return rc;
    return layer->prepare(cfg, d);
}

void tlsctx_free(struct tls_ctx *t)
{
    if (t != NULL && layer != NULL)
        layer->ctx_free(t);
}

void tlsctx_log(const struct tls_ctx *t, const char *where)
{
    if (t != NULL && layer != NULL)
        layer->ctx_log(t, where);
}

/* --- tls.h: a connection's handshake, counters and the module API -------- */

int tls_handshake(struct conn *c, short *events)
{
    return layer != NULL ? layer->handshake(c, events) : -1;
}

void tls_handshake_abandoned(struct conn *c)
{
    if (layer != NULL)
        layer->handshake_abandoned(c);
}

void tls_set_slot(struct slot *slot)
{
    count_slot = slot;
}

const char *tls_api_subject(pf_conn *pc)
{
    return layer != NULL ? layer->api_subject(pc) : NULL;
}

const char *tls_api_verify(pf_conn *pc)
{
    return layer != NULL ? layer->api_verify(pc) : NULL;
}

const char *tls_api_alpn(pf_conn *pc)
{
    return layer != NULL ? layer->api_alpn(pc) : NULL;
}
