/*
 * tlsctx.c -- a service's TLS contexts, built by the master from its keys.
 *
 * Everything here runs in the master, before any fork: certificates and
 * keys are read and matched, each problem reported at the line of the key
 * that names the file, with OpenSSL's reason.  The defaults are the
 * secure ones (nothing below TLS 1.2, no compression, no renegotiation,
 * the server's cipher order for TLS 1.2), and SSL_MODE_RELEASE_BUFFERS
 * lets an idle connection hold no record buffers, as nginx does.
 *
 * Part of the TLS layer (prefork-tls.so, tlslayer.h): the master calls
 * these through tlsload.c, which loads the layer when a service has TLS
 * keys.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "ticketcb.h"
#include "tlsctx.h"

#define EXPIRY_WARN_DAYS 14

/* One file of a comma-separated list (the i-th), made absolute from the
 * config's directory.  NULL on ENOMEM or when there is no i-th. */
static char *list_item(const char *list, size_t i, const char *dir)
{
    const char *p = list, *end;
    char       *out = NULL;
    size_t      len;

    for (; i > 0 && p != NULL; i--) {
        p = strchr(p, ',');
        if (p != NULL)
            p++;
    }
    if (p == NULL)
        return NULL;
    p += strspn(p, " \t");
    end = strchr(p, ',');
    len = end != NULL ? (size_t)(end - p) : strlen(p);
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    if (p[0] == '/') {
        if (asprintf(&out, "%.*s", (int)len, p) < 0)
            return NULL;
    } else if (asprintf(&out, "%s/%.*s", dir, (int)len, p) < 0)
        return NULL;
    return out;
}

static size_t list_count(const char *list)
{
    size_t n = 1;

    for (; *list != '\0'; list++)
        n += *list == ',';
    return n;
}

/* OpenSSL's reason for its last error, then its queue cleared. */
static const char *ossl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    const char   *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    snprintf(buf, len, "%s", r != NULL ? r : "unknown OpenSSL error");
    ERR_clear_error();
    return buf;
}

/* The file can be opened by the master: say why not in the system's
 * words, which are plainer than OpenSSL's for this. */
static int readable(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");

    if (f == NULL) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

static X509 *read_leaf(const char *path)
{
    FILE *f = fopen(path, "re");
    X509 *x;

    if (f == NULL)
        return NULL;
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return x;
}

static EVP_PKEY *read_key(const char *path)
{
    FILE     *f = fopen(path, "re");
    EVP_PKEY *k;

    if (f == NULL)
        return NULL;
    k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return k;
}

/* ALPN's wire format: each name behind its length byte. */
static int alpn_build(struct tls_ctx *t, const char *list)
{
    size_t      n = strlen(list), len, o = 0;
    const char *p = list;

    t->alpn = malloc(n + 1);
    if (t->alpn == NULL)
        return -1;
    while (*p != '\0') {
        p += strspn(p, " \t,");
        len = strcspn(p, " \t,");
        if (len == 0)
            break;
        if (len > 255)
            return -1;
        t->alpn[o++] = (unsigned char)len;
        memcpy(t->alpn + o, p, len);
        o += len;
        if (len == 8 && memcmp(p, "http/1.1", 8) == 0)
            t->http = 1;
        p += len;
    }
    t->alpn_len = o;
    return 0;
}

/* The server's ALPN choice: the first of the client's names it offers
 * too; none in common goes on without ALPN, as a server without it. */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned inlen, void *arg)
{
    const struct tls_ctx *t = arg;
    unsigned char        *sel;

    (void)ssl;
    if (SSL_select_next_proto(&sel, outlen, t->alpn, (unsigned)t->alpn_len, in,
                              inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/*
 * The client's SNI name picks the context whose certificate has it (its
 * subjectAltName, wildcards included); within it OpenSSL picks ECDSA or
 * RSA by the client's signature algorithms.  No name: the first pair.
 * A name no certificate has: the first pair, or unrecognized_name.
 */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
    const struct tls_ctx *t = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    size_t      i;

    if (name == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    for (i = 0; i < t->n; i++) {
        if (X509_check_host(t->leaf[i], name, strlen(name), 0, NULL) != 1)
            continue;
        if (SSL_get_SSL_CTX(ssl) != t->ctx[i] &&
            SSL_set_SSL_CTX(ssl, t->ctx[i]) == NULL)
            return SSL_TLSEXT_ERR_ALERT_FATAL;
        return SSL_TLSEXT_ERR_OK;
    }
    if (t->reject_unknown_sni) {
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
}

/* tls_verify_client = optional: any certificate will do; its
 * verification result is kept for the module (pf_tls_verify). */
static int accept_any(int ok, X509_STORE_CTX *x)
{
    (void)ok;
    (void)x;
    return 1;
}

static int protocol_bounds(const char *s, int *min, int *max)
{
    int has12 = strstr(s, "TLSv1.2") != NULL;
    int has13 = strstr(s, "TLSv1.3") != NULL;

    *min = has12 ? TLS1_2_VERSION : TLS1_3_VERSION;
    *max = has13 ? TLS1_3_VERSION : TLS1_2_VERSION;
    return has12 || has13 ? 0 : -1;
}

/* Where d's messages about sc go, and what they start with. */
struct where {
    const struct config       *cfg;
    const struct service_conf *sc;
    struct diag               *d;
    struct diag               *warnings; /* the config's own, handed on */
};

/* The settings every context of a service shares. */
static int ctx_settings(struct tls_ctx *t, SSL_CTX *ctx, struct where *w)
{
    const struct service_conf *sc = w->sc;
    char                       why[256];
    int                        min, max;
    unsigned                   sidlen;

    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (t->ktls)
        SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
                              SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* One read(2) takes whatever records are there, not a header and
     * then a body: a resumed handshake makes 3 reads instead of 9.  What
     * is read ahead is not seen by poll(), so a connection is parked only
     * when tls_pending() says nothing is held (tls.c). */
    SSL_CTX_set_read_ahead(ctx, 1);
    /* Each worker's cache would only know its own sessions: resumption
     * is by tickets (ticketkeys.c), which every worker can read. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    sidlen = (unsigned)strlen(sc->name);
    if (sidlen > SSL_MAX_SID_CTX_LENGTH)
        sidlen = SSL_MAX_SID_CTX_LENGTH;
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)sc->name,
                                   sidlen);
    SSL_CTX_set_dh_auto(ctx, 1);
    protocol_bounds(sc->tls_protocols, &min, &max);
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_max_proto_version(ctx, max);
    if (SSL_CTX_set_cipher_list(ctx, sc->tls_ciphers) != 1) {
        diag_add(w->d, w->cfg->file,
                 sc->tls_ciphers_line ? sc->tls_ciphers_line
                                      : sc->tls_certificate_line,
                 "[%s] tls_ciphers: %s", sc->name,
                 ossl_reason(why, sizeof(why)));
        return -1;
    }
    if (SSL_CTX_set_ciphersuites(ctx, sc->tls_ciphersuites) != 1) {
        diag_add(w->d, w->cfg->file,
                 sc->tls_ciphersuites_line ? sc->tls_ciphersuites_line
                                           : sc->tls_certificate_line,
                 "[%s] tls_ciphersuites: %s", sc->name,
                 ossl_reason(why, sizeof(why)));
        return -1;
    }
    if (t->alpn_len > 0)
        SSL_CTX_set_alpn_select_cb(ctx, on_alpn, t);
    SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
    SSL_CTX_set_tlsext_servername_arg(ctx, t);
    if (sc->tls_verify_client != TLS_VERIFY_NO && sc->tls_client_ca != NULL) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(sc->tls_client_ca);

        if (names == NULL ||
            SSL_CTX_load_verify_locations(ctx, sc->tls_client_ca, NULL) != 1) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            diag_add(w->d, w->cfg->file, sc->tls_client_ca_line,
                     "[%s] tls_client_ca %s: %s", sc->name, sc->tls_client_ca,
                     readable(sc->tls_client_ca, why, sizeof(why)) == -1
                         ? why
                         : ossl_reason(why, sizeof(why)));
            return -1;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
    }
    if (sc->tls_verify_client == TLS_VERIFY_REQUIRE)
        SSL_CTX_set_verify(
            ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    else if (sc->tls_verify_client == TLS_VERIFY_OPTIONAL)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
    if (ticketkeys_attach(ctx) == -1) {
        diag_add(w->d, w->cfg->file, sc->tls_certificate_line,
                 "[%s] TLS session tickets could not be set up", sc->name);
        return -1;
    }
    return 0;
}

static int new_group(struct tls_ctx *t, X509 *leaf, struct where *w)
{
    SSL_CTX **ctx = realloc(t->ctx, (t->n + 1) * sizeof(*ctx));
    X509    **lv;

    if (ctx == NULL)
        return -1;
    t->ctx = ctx;
    lv = realloc(t->leaf, (t->n + 1) * sizeof(*lv));
    if (lv == NULL)
        return -1;
    t->leaf = lv;
    t->ctx[t->n] = SSL_CTX_new(TLS_server_method());
    if (t->ctx[t->n] == NULL)
        return -1;
    if (!X509_up_ref(leaf)) {
        SSL_CTX_free(t->ctx[t->n]);
        return -1;
    }
    t->leaf[t->n] = leaf;
    t->n++;
    return ctx_settings(t, t->ctx[t->n - 1], w);
}

/* The DNS names of x's subjectAltName, sorted and joined, to tell which
 * certificates are for the same names. */
static int same_names(X509 *a, X509 *b)
{
    GENERAL_NAMES *na = X509_get_ext_d2i(a, NID_subject_alt_name, NULL, NULL);
    GENERAL_NAMES *nb = X509_get_ext_d2i(b, NID_subject_alt_name, NULL, NULL);
    int            same = 0, i, j, n;

    if (na == NULL || nb == NULL) {
        same = na == nb && X509_NAME_cmp(X509_get_subject_name(a),
                                         X509_get_subject_name(b)) == 0;
        goto done;
    }
    n = sk_GENERAL_NAME_num(na);
    if (n != sk_GENERAL_NAME_num(nb))
        goto done;
    for (i = 0; i < n; i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(na, i);

        for (j = 0; j < n; j++)
            if (GENERAL_NAME_cmp(g, sk_GENERAL_NAME_value(nb, j)) == 0)
                break;
        if (j == n)
            goto done;
    }
    same = 1;
done:
    GENERAL_NAMES_free(na);
    GENERAL_NAMES_free(nb);
    return same;
}

/* The group a pair with this leaf joins: one for the same names whose
 * leaf has another key type (ECDSA beside RSA), else a new one. */
static int group_of(const struct tls_ctx *t, X509 *leaf)
{
    int    type = EVP_PKEY_get_base_id(X509_get0_pubkey(leaf));
    size_t i;

    for (i = 0; i < t->n; i++) {
        if (!same_names(t->leaf[i], leaf))
            continue;
        if (EVP_PKEY_get_base_id(X509_get0_pubkey(t->leaf[i])) != type &&
            SSL_CTX_get0_certificate(t->ctx[i]) != NULL)
            return (int)i;
    }
    return -1;
}

static void cert_info(struct tls_cert_info *ci, X509 *leaf)
{
    BIO             *b = BIO_new(BIO_s_mem());
    char            *p;
    long             n;
    struct tm        tm;
    const ASN1_TIME *na = X509_get0_notAfter(leaf);

    if (b != NULL &&
        X509_NAME_print_ex(b, X509_get_subject_name(leaf), 0,
                           XN_FLAG_RFC2253) >= 0 &&
        (n = BIO_get_mem_data(b, &p)) >= 0)
        ci->subject = strndup(p, (size_t)n);
    BIO_free(b);
    if (ASN1_TIME_to_tm(na, &tm) == 1) {
        strftime(ci->expires, sizeof(ci->expires), "%Y-%m-%dT%H:%M:%SZ", &tm);
        ci->not_after = timegm(&tm);
    }
}

/* A certificate that expired or is about to: a warning at each start and
 * reload, while there is time to renew it. */
static void warn_expiry(const struct tls_cert_info *ci, struct where *w)
{
    double days = difftime(ci->not_after, time(NULL)) / 86400.0;

    if (days < 0)
        diag_warn(w->warnings, w->cfg->file, w->sc->tls_certificate_line,
                  "[%s] tls_certificate %s expired on %s", w->sc->name,
                  ci->file, ci->expires);
    else if (days < EXPIRY_WARN_DAYS)
        diag_warn(w->warnings, w->cfg->file, w->sc->tls_certificate_line,
                  "[%s] tls_certificate %s expires on %s, in %d days",
                  w->sc->name, ci->file, ci->expires, (int)days);
}

/* The i-th pair: read, matched, put into its context. */
static int add_pair(struct tls_ctx *t, size_t i, struct where *w)
{
    const struct service_conf *sc = w->sc;
    struct tls_cert_info      *ci = &t->certs[i];
    char                       why[256];
    char                      *keyfile = list_item(sc->tls_key, i, w->cfg->dir);
    X509                      *leaf = NULL;
    EVP_PKEY                  *key = NULL;
    int                        g, rc = -1;

    why[0] = '\0';
    ci->file = list_item(sc->tls_certificate, i, w->cfg->dir);
    if (ci->file == NULL || keyfile == NULL)
        goto oom;
    if (readable(ci->file, why, sizeof(why)) == -1 ||
        (leaf = read_leaf(ci->file)) == NULL) {
        if (leaf == NULL && why[0] == '\0')
            ossl_reason(why, sizeof(why));
        diag_add(w->d, w->cfg->file, sc->tls_certificate_line,
                 "[%s] tls_certificate %s: %s", sc->name, ci->file, why);
        goto done;
    }
    if (readable(keyfile, why, sizeof(why)) == -1 ||
        (key = read_key(keyfile)) == NULL) {
        if (key == NULL && why[0] == '\0')
            ossl_reason(why, sizeof(why));
        diag_add(w->d, w->cfg->file, sc->tls_key_line, "[%s] tls_key %s: %s",
                 sc->name, keyfile, why);
        goto done;
    }
    if (X509_check_private_key(leaf, key) != 1) {
        diag_add(w->d, w->cfg->file, sc->tls_key_line,
                 "[%s] tls_key %s does not match tls_certificate %s: %s",
                 sc->name, keyfile, ci->file, ossl_reason(why, sizeof(why)));
        goto done;
    }
    g = group_of(t, leaf);
    if (g == -1) {
        if (new_group(t, leaf, w) == -1)
            goto done;
        g = (int)t->n - 1;
    }
    if (SSL_CTX_use_certificate_chain_file(t->ctx[g], ci->file) != 1 ||
        SSL_CTX_use_PrivateKey(t->ctx[g], key) != 1) {
        diag_add(w->d, w->cfg->file, sc->tls_certificate_line,
                 "[%s] tls_certificate %s: %s", sc->name, ci->file,
                 ossl_reason(why, sizeof(why)));
        goto done;
    }
    cert_info(ci, leaf);
    warn_expiry(ci, w);
    rc = 0;
    goto done;
oom:
    diag_add(w->d, w->cfg->file, sc->tls_certificate_line, "[%s] out of memory",
             sc->name);
done:
    X509_free(leaf);
    EVP_PKEY_free(key);
    free(keyfile);
    return rc;
}

/* module = http, or a path to http.so: the module that speaks
 * HTTP/1.1, offered by ALPN unless tls_alpn says otherwise. */
static int is_http(const char *module)
{
    const char *base = strrchr(module, '/');

    base = base != NULL ? base + 1 : module;
    return strcmp(base, "http") == 0 || strcmp(base, "http.so") == 0;
}

static struct tls_ctx *tlsctx_new(struct config             *cfg,
                                  const struct service_conf *sc, struct diag *d)
{
    struct where w = {.cfg = cfg, .sc = sc, .d = d, .warnings = &cfg->warnings};
    struct tls_ctx *t = calloc(1, sizeof(*t));
    const char     *alpn = sc->tls_alpn;
    size_t          i;
    int             rc = 0;

    if (t == NULL)
        return NULL;
    t->service = sc->name;
    t->reject_unknown_sni = sc->tls_reject_unknown_sni;
    t->ktls = sc->tls_ktls == TLS_KTLS_AUTO;
    t->verify = sc->tls_verify_client;
    t->handshake_timeout_ms = sc->tls_handshake_timeout_ms;
    if (alpn == NULL && is_http(sc->module))
        alpn = "http/1.1";
    if (alpn != NULL && alpn_build(t, alpn) == -1) {
        diag_add(d, cfg->file, sc->tls_certificate_line,
                 "[%s] tls_alpn: a name is longer than 255 bytes", sc->name);
        goto fail;
    }
    t->ncerts = list_count(sc->tls_certificate);
    t->certs = calloc(t->ncerts, sizeof(*t->certs));
    if (t->certs == NULL)
        goto fail;
    for (i = 0; i < t->ncerts; i++)
        if (add_pair(t, i, &w) == -1)
            rc = -1;
    if (rc == 0)
        return t;
fail:
    tlsctx_free(t);
    return NULL;
}

int tls_prepare(struct config *cfg, struct diag *d)
{
    size_t i;
    int    rc = 0;

    for (i = 0; i < cfg->nsvc; i++) {
        struct service_conf *sc = &cfg->svc[i];

        if (sc->tls_certificate == NULL || sc->tls_key == NULL)
            continue;
        sc->tls = tlsctx_new(cfg, sc, d);
        if (sc->tls == NULL)
            rc = -1;
    }
    return rc;
}

void tlsctx_free(struct tls_ctx *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->n; i++) {
        SSL_CTX_free(t->ctx[i]);
        X509_free(t->leaf[i]);
    }
    for (i = 0; i < t->ncerts; i++) {
        free(t->certs[i].file);
        free(t->certs[i].subject);
    }
    free(t->certs);
    free(t->ctx);
    free(t->leaf);
    free(t->alpn);
    free(t);
}

void tlsctx_log(const struct tls_ctx *t, const char *where)
{
    size_t i;

    for (i = 0; t != NULL && i < t->ncerts; i++)
        log_notice(t->service, "TLS on %s: certificate %s, expires %s", where,
                   t->certs[i].subject != NULL ? t->certs[i].subject : "?",
                   t->certs[i].expires);
}
