/*
 * tls.c -- TLS as a connection's transport: the handshake stage, then a
 * struct conn_io whose functions go through SSL.
 *
 * Modelled on nginx's ngx_event_openssl.c: the handshake is stepped on
 * each readiness of the socket, SSL_ERROR_WANT_READ and _WANT_WRITE
 * become the event the stage waits for, and once it is done c->io is
 * swapped for conn_io_tls, so no module knows.  Each function makes one
 * attempt and never waits, as io.h asks; "would block" is EAGAIN.
 *
 * Memory: the contexts set SSL_MODE_RELEASE_BUFFERS, so a connection
 * idle between requests holds no record buffers; files sent without kTLS
 * go through a 16 KiB buffer that lives only while part of it is unsent.
 *
 * Part of the TLS layer (prefork-tls.so, tlslayer.h): the host's plain
 * transport is reached through tls_host, and the host's tls.h functions
 * of the same names call these through the layer's table (tlsload.c).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "conn.h"
#include "io.h"
#include "log.h"
#include "scoreboard.h"
#include "tls.h"
#include "tlsctx.h"
#include "tlslayer.h"

/* One TLS record's worth: what a file is read in and a gather-send is
 * joined into. */
#define TLS_CHUNK 16384

struct tls_conn {
    SSL *ssl;
    /* sendfile without kTLS: bytes of file buffd from offset bufat, read
     * but not yet taken by SSL_write (which must be offered the same
     * bytes again when it said "would block"). */
    char  *buf;
    size_t buflen;
    off_t  bufat;
    int    buffd;
    int    ktls_send; /* the kernel encrypts: SSL_sendfile */
    int    failed;    /* a fatal error: no close_notify at the end */
    char  *subject, *verify, *alpn; /* for the module API, made on demand */
};

enum counter { HANDSHAKES, RESUMED, FAILURES };

/* In the slot the host's tls_set_slot() named: the pointer stays in the
 * host, so that a worker writes no page of the layer's own. */
static void count(enum counter which)
{
    struct slot *count_slot = *tls_host->count_slot;
    uint64_t    *field;

    if (count_slot == NULL)
        return;
    field = which == HANDSHAKES ? &count_slot->tls_handshakes
            : which == RESUMED  ? &count_slot->tls_resumed
                                : &count_slot->tls_failures;
    __atomic_fetch_add(field, 1, __ATOMIC_RELAXED);
}

/* "ADDR:PORT" of c's client, for the log. */
static const char *peer_text(const struct conn *c, char *buf, size_t len)
{
    const struct sockaddr *sa = c->pub.peer;
    char                   host[INET6_ADDRSTRLEN] = "?";
    unsigned               port;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    } else {
        return "a unix socket";
    }
    snprintf(buf, len, sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
             port);
    return buf;
}

__attribute__((format(printf, 2, 3))) static void
handshake_failed(struct conn *c, const char *fmt, ...)
{
    char    why[256], who[64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    count(FAILURES);
    log_info(c->pub.svc->name, "TLS handshake with %s failed: %s",
             peer_text(c, who, sizeof(who)), why);
}

/* OpenSSL's reason for the error that ended a call. */
static const char *ossl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char   *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    return r != NULL ? r : "connection closed";
}

/* What a failed SSL call means to a caller of conn_io: EAGAIN when it
 * would block, 0 at the end of the stream, -1 with errno otherwise. */
static ssize_t io_result(struct tls_conn *t, int rc)
{
    switch (SSL_get_error(t->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: errno = EAGAIN; return -1;
    case SSL_ERROR_ZERO_RETURN: return 0;
    case SSL_ERROR_SYSCALL:
        t->failed = 1;
        if (errno == 0 || errno == EAGAIN)
            errno = ECONNRESET;
        return -1;
    default:
        t->failed = 1;
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
}

static ssize_t tls_recv(struct conn *c, void *buf, size_t len)
{
    size_t got;
    int    rc;

    ERR_clear_error();
    rc = SSL_read_ex(c->tls->ssl, buf, len, &got);
    c->reads++;
    return rc == 1 ? (ssize_t)got : io_result(c->tls, rc);
}

static ssize_t tls_peek(struct conn *c, void *buf, size_t len)
{
    size_t got;
    int    rc;

    ERR_clear_error();
    rc = SSL_peek_ex(c->tls->ssl, buf, len, &got);
    return rc == 1 ? (ssize_t)got : io_result(c->tls, rc);
}

/* TLS has no MSG_MORE: each write makes records at once. */
static ssize_t tls_send(struct conn *c, const void *buf, size_t len, int more)
{
    size_t put;
    int    rc;

    (void)more;
    if (len == 0)
        return 0;
    ERR_clear_error();
    rc = SSL_write_ex(c->tls->ssl, buf, len, &put);
    if (rc == 1)
        return (ssize_t)put;
    if (io_result(c->tls, rc) == 0) { /* the peer closed: writing fails */
        c->tls->failed = 1;
        errno = EPIPE;
    }
    return -1;
}

/*
 * A head and a small body would be two records, and two TCP segments:
 * up to one record's worth is joined first.  An iovec whose first part
 * is a record or more goes as it is.  Offered the same iovec again after
 * "would block" (as a module keeps its place), the same bytes are joined
 * again, which is what SSL_write asks of a retry.
 */
static ssize_t tls_sendv(struct conn *c, const struct iovec *iov, int iovcnt,
                         int more)
{
    char   join[TLS_CHUNK];
    size_t n = 0, take;
    int    i;

    if (iovcnt == 1 || (iovcnt > 0 && iov[0].iov_len >= TLS_CHUNK))
        return tls_send(c, iov[0].iov_base, iov[0].iov_len, more);
    for (i = 0; i < iovcnt && n < sizeof(join); i++) {
        take = iov[i].iov_len;
        if (take > sizeof(join) - n)
            take = sizeof(join) - n;
        memcpy(join + n, iov[i].iov_base, take);
        n += take;
    }
    return tls_send(c, join, n, more);
}

/* With kTLS the kernel encrypts what sendfile sends. */
static ssize_t ktls_sendfile(struct conn *c, int fd, off_t *off, size_t len)
{
    ossl_ssize_t n;

    ERR_clear_error();
    n = SSL_sendfile(c->tls->ssl, fd, *off, len, 0);
    if (n < 0)
        return io_result(c->tls, (int)n);
    *off += n;
    return n;
}

/* Without it, the file is read and written through SSL a record at a
 * time; the buffer is freed as soon as all of it has gone. */
static ssize_t tls_sendfile(struct conn *c, int fd, off_t *off, size_t len)
{
    struct tls_conn *t = c->tls;
    ssize_t          n;

    if (t->ktls_send)
        return ktls_sendfile(c, fd, off, len);
    if (t->buflen > 0 && (t->buffd != fd || t->bufat != *off))
        t->buflen = 0; /* the caller moved on: those bytes are not wanted */
    if (t->buflen == 0) {
        if (t->buf == NULL && (t->buf = malloc(TLS_CHUNK)) == NULL)
            return -1;
        do
            n = pread(fd, t->buf, len < TLS_CHUNK ? len : TLS_CHUNK, *off);
        while (n == -1 && errno == EINTR);
        if (n <= 0)
            return n;
        t->buflen = (size_t)n;
        t->bufat = *off;
        t->buffd = fd;
    }
    n = tls_send(c, t->buf, t->buflen, 0);
    if (n == -1)
        return -1;
    *off += n;
    t->bufat += n;
    t->buflen -= (size_t)n;
    if (t->buflen > 0)
        memmove(t->buf, t->buf + n, t->buflen);
    else {
        free(t->buf);
        t->buf = NULL;
    }
    return n;
}

static int tls_nodelay(struct conn *c)
{
    return tls_host->io_plain->nodelay(c);
}

/*
 * What poll() cannot see: bytes of a record already opened, else the
 * next record read ahead but not opened yet, which a one-byte peek opens
 * (from what is buffered; a record still incomplete is EAGAIN, and then
 * the socket will say when the rest comes).  The end of the session or
 * an error among those bytes counts as one byte: the module's next read
 * is what finds it.
 */
static size_t tls_pending(struct conn *c)
{
    SSL          *ssl;
    unsigned char b;
    size_t        got;
    int           rc;

    if (c->tls == NULL)
        return 0;
    ssl = c->tls->ssl;
    if ((rc = SSL_pending(ssl)) > 0 || !SSL_has_pending(ssl))
        return (size_t)rc;
    ERR_clear_error();
    rc = SSL_peek_ex(ssl, &b, 1, &got);
    if (rc == 1)
        return (size_t)SSL_pending(ssl);
    rc = SSL_get_error(ssl, rc);
    ERR_clear_error();
    return rc == SSL_ERROR_WANT_READ || rc == SSL_ERROR_WANT_WRITE ? 0 : 1;
}

const struct conn_io conn_io_tls = {
    .name = "tls",
    .recv = tls_recv,
    .peek = tls_peek,
    .send = tls_send,
    .sendv = tls_sendv,
    .sendfile = tls_sendfile,
    .nodelay = tls_nodelay,
    .pending = tls_pending,
};

/* With the connection: a close_notify when the session ended well (one
 * attempt, never waiting), then the state. */
static void tls_release(struct conn *c)
{
    struct tls_conn *t = c->tls;

    if (t == NULL)
        return;
    if (!t->failed && SSL_is_init_finished(t->ssl)) {
        ERR_clear_error();
        SSL_shutdown(t->ssl);
    }
    SSL_free(t->ssl);
    free(t->buf);
    free(t->subject);
    free(t->verify);
    free(t->alpn);
    free(t);
    c->tls = NULL;
}

static const char plain_http_answer[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 46\r\n"
    "Connection: close\r\n"
    "\r\n"
    "The plain HTTP request was sent to HTTPS port\n";

/* A plain HTTP request on an HTTPS port: say so in plain HTTP, as nginx
 * does, rather than leave the client waiting for a handshake.  What the
 * client sent is read first, so that the close is a FIN the client
 * reads the answer before, not a reset. */
static void answer_plain_http(struct conn *c)
{
    char    sink[4096];
    ssize_t n;

    tls_host->io_plain->send(c, plain_http_answer,
                             sizeof(plain_http_answer) - 1, 0);
    while ((n = tls_host->io_plain->recv(c, sink, sizeof(sink))) > 0)
        ;
    shutdown(c->pub.fd, SHUT_WR);
}

/* Before any SSL state: is the first byte a TLS handshake record's?
 * 1 yes, 0 not there yet, -1 not TLS (answered, logged, counted). */
static int first_byte(struct conn *c)
{
    unsigned char b;
    ssize_t       n = tls_host->io_plain->peek(c, &b, 1);

    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n == -1) {
        handshake_failed(c, "%s", strerror(errno));
        return -1;
    }
    if (n == 0) {
        handshake_failed(c, "closed before a ClientHello");
        return -1;
    }
    if (b == 0x16)
        return 1;
    if (c->tlsctx->http && isupper(b)) {
        answer_plain_http(c);
        handshake_failed(c, "a plain HTTP request; answered 400");
        return -1;
    }
    handshake_failed(c, "not a TLS handshake (first byte 0x%02x)", b);
    return -1;
}

static int tls_start(struct conn *c)
{
    struct tls_conn *t = calloc(1, sizeof(*t));

    if (t == NULL || (t->ssl = SSL_new(c->tlsctx->ctx[0])) == NULL ||
        SSL_set_fd(t->ssl, c->pub.fd) != 1) {
        if (t != NULL)
            SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        log_error(c->pub.svc->name, "out of memory for a TLS connection");
        return -1;
    }
    SSL_set_accept_state(t->ssl);
    c->tls = t;
    c->release = tls_release;
    return 0;
}

/* kTLS asked for and refused (this kernel has no tls module): say so
 * once per process, not per connection. */
static void note_ktls(struct conn *c)
{
    static int told;

    c->tls->ktls_send = BIO_get_ktls_send(SSL_get_wbio(c->tls->ssl)) > 0;
    if (c->tls->ktls_send || told)
        return;
    told = 1;
    log_notice(c->pub.svc->name,
               "tls_ktls = auto: the kernel took no TLS keys (no tls "
               "module?); files go through SSL_write");
}

int tls_handshake(struct conn *c, short *events)
{
    int rc;

    if (c->tls == NULL) {
        rc = first_byte(c);
        if (rc != 1) {
            *events = POLLIN;
            return rc;
        }
        if (tls_start(c) == -1)
            return -1;
    }
    ERR_clear_error();
    rc = SSL_do_handshake(c->tls->ssl);
    if (rc == 1) {
        count(HANDSHAKES);
        if (SSL_session_reused(c->tls->ssl))
            count(RESUMED);
        if (c->tlsctx->ktls)
            note_ktls(c);
        c->io = &conn_io_tls;
        return 1;
    }
    switch (SSL_get_error(c->tls->ssl, rc)) {
    case SSL_ERROR_WANT_READ: *events = POLLIN; return 0;
    case SSL_ERROR_WANT_WRITE: *events = POLLOUT; return 0;
    case SSL_ERROR_SYSCALL:
        c->tls->failed = 1;
        handshake_failed(c, "%s",
                         errno != 0 ? strerror(errno) : "connection closed");
        return -1;
    default:
        c->tls->failed = 1;
        handshake_failed(c, "%s", ossl_reason());
        ERR_clear_error();
        return -1;
    }
}

void tls_handshake_abandoned(struct conn *c)
{
    if (c->tls != NULL)
        c->tls->failed = 1;
    count(FAILURES);
}

/* ---- the module API (ABI 1.4) ----------------------------------------- */

static struct tls_conn *tls_of(pf_conn *pc)
{
    struct conn *c =
        (struct conn *)(void *)((char *)pc - offsetof(struct conn, pub));

    return c->io == &conn_io_tls ? c->tls : NULL;
}

const char *tls_api_subject(pf_conn *pc)
{
    struct tls_conn *t = tls_of(pc);
    X509            *x;
    BIO             *b;
    char            *p;
    long             n;

    if (t == NULL)
        return NULL;
    if (t->subject != NULL)
        return t->subject;
    x = SSL_get0_peer_certificate(t->ssl);
    if (x == NULL || (b = BIO_new(BIO_s_mem())) == NULL)
        return NULL;
    if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >=
            0 &&
        (n = BIO_get_mem_data(b, &p)) >= 0)
        t->subject = strndup(p, (size_t)n);
    BIO_free(b);
    return t->subject;
}

const char *tls_api_verify(pf_conn *pc)
{
    struct tls_conn *t = tls_of(pc);
    long             r;

    if (t == NULL)
        return NULL;
    if (t->verify != NULL)
        return t->verify;
    if (SSL_get0_peer_certificate(t->ssl) == NULL)
        return "NONE";
    r = SSL_get_verify_result(t->ssl);
    if (r == X509_V_OK)
        return "SUCCESS";
    if (asprintf(&t->verify, "FAILED:%s", X509_verify_cert_error_string(r)) < 0)
        return "FAILED";
    return t->verify;
}

const char *tls_api_alpn(pf_conn *pc)
{
    struct tls_conn     *t = tls_of(pc);
    const unsigned char *p;
    unsigned             n;

    if (t == NULL)
        return NULL;
    if (t->alpn != NULL)
        return t->alpn;
    SSL_get0_alpn_selected(t->ssl, &p, &n);
    if (n == 0)
        return NULL;
    t->alpn = strndup((const char *)p, n);
    return t->alpn;
}
