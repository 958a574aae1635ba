/*
 * tlsmem.c -- what OpenSSL itself keeps for one idle TLS connection, by the
 * place in OpenSSL that allocated it.
 *
 *     cc -O2 -o tlsmem bench/tlsmem.c -lssl -lcrypto
 *     ./tlsmem CERT KEY
 *
 * A server SSL with prefork's settings (TLS 1.3, SSL_MODE_RELEASE_BUFFERS,
 * read ahead, no session cache, session tickets) meets a client through
 * memory BIOs: the handshake, one request read and one answer written,
 * then nothing.  Every allocation OpenSSL made for that server connection
 * and still holds is listed by its source line, largest first, then the
 * total.  A first connection runs untracked, so that what OpenSSL makes
 * once per process (its algorithm caches) is not counted; neither are the
 * memory BIOs, which stand in for the socket.  bench/tlsidle.py runs it
 * after measuring whole servers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#define SLOTS 8192
#define SITES 256

struct block {
    void       *p;
    size_t      n;
    const char *file;
    int         line;
};

static struct block live[SLOTS];
static int          tracking;

static void remember(void *p, size_t n, const char *file, int line)
{
    int i;

    if (!tracking || p == NULL)
        return;
    for (i = 0; i < SLOTS; i++)
        if (live[i].p == NULL) {
            live[i] = (struct block){p, n, file, line};
            return;
        }
    fprintf(stderr, "tlsmem: more than %d live blocks\n", SLOTS);
    exit(2);
}

static void forget(void *p)
{
    int i;

    if (p == NULL)
        return;
    for (i = 0; i < SLOTS; i++)
        if (live[i].p == p) {
            live[i].p = NULL;
            return;
        }
}

static void *m_alloc(size_t n, const char *file, int line)
{
    void *p = malloc(n);

    remember(p, n, file, line);
    return p;
}

static void *m_realloc(void *old, size_t n, const char *file, int line)
{
    void *p = realloc(old, n);

    if (p != NULL || n == 0)
        forget(old);
    remember(p, n, file, line);
    return p;
}

static void m_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    forget(p);
    free(p);
}

/* Move what one side wrote to the other side's input. */
static void carry(BIO *from, BIO *to)
{
    char buf[16384];
    int  n;

    while ((n = BIO_read(from, buf, sizeof(buf))) > 0)
        BIO_write(to, buf, n);
}

/* One connection, its server side tracked when track; the server SSL,
 * idle, or NULL. */
static SSL *connect_one(SSL_CTX *sctx, SSL_CTX *cctx, int track)
{
    SSL   *c = SSL_new(cctx), *s;
    BIO   *sin = BIO_new(BIO_s_mem()), *sout = BIO_new(BIO_s_mem());
    BIO   *cin = BIO_new(BIO_s_mem()), *cout = BIO_new(BIO_s_mem());
    char   buf[4096];
    size_t got = 0;
    int    i;

    SSL_set_bio(c, cin, cout);
    SSL_set_connect_state(c);
    tracking = track;
    s = SSL_new(sctx);
    tracking = 0;
    if (c == NULL || s == NULL)
        return NULL;
    SSL_set_bio(s, sin, sout);
    SSL_set_accept_state(s);
    for (i = 0; i < 10 && !(SSL_is_init_finished(s) && SSL_is_init_finished(c));
         i++) {
        SSL_do_handshake(c);
        carry(cout, sin);
        tracking = track;
        SSL_do_handshake(s);
        tracking = 0;
        carry(sout, cin);
    }
    SSL_write(c, "GET / HTTP/1.1\r\n\r\n", 18);
    carry(cout, sin);
    tracking = track;
    if (SSL_read_ex(s, buf, sizeof(buf), &got) != 1 ||
        SSL_write(s, "HTTP/1.1 204 No Content\r\n\r\n", 27) != 27) {
        tracking = 0;
        return NULL;
    }
    tracking = 0;
    carry(sout, cin);
    SSL_read_ex(c, buf, sizeof(buf), &got); /* the tickets, the answer */
    return s;
}

static SSL_CTX *server_ctx(const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return ctx;
}

struct site {
    char   where[160];
    size_t bytes;
    int    blocks;
};

static int by_bytes(const void *a, const void *b)
{
    const struct site *x = a, *y = b;

    return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

int main(int argc, char **argv)
{
    static struct site sites[SITES];
    SSL_CTX           *sctx, *cctx;
    size_t             total = 0;
    int                nsites = 0, i, j;

    if (argc != 3) {
        fprintf(stderr, "usage: tlsmem CERT KEY\n");
        return 2;
    }
    if (!CRYPTO_set_mem_functions(m_alloc, m_realloc, m_free)) {
        fprintf(stderr, "tlsmem: OpenSSL allocated before main()\n");
        return 2;
    }
    sctx = server_ctx(argv[1], argv[2]);
    cctx = SSL_CTX_new(TLS_client_method());
    if (sctx == NULL || cctx == NULL || connect_one(sctx, cctx, 0) == NULL ||
        connect_one(sctx, cctx, 1) == NULL) {
        fprintf(stderr, "tlsmem: the handshake or the exchange failed\n");
        return 1;
    }
    for (i = 0; i < SLOTS; i++) {
        char where[160];

        if (live[i].p == NULL)
            continue;
        snprintf(where, sizeof(where), "%s:%d", live[i].file, live[i].line);
        for (j = 0; j < nsites && strcmp(sites[j].where, where) != 0; j++)
            ;
        if (j == nsites) {
            if (nsites == SITES)
                continue;
            snprintf(sites[nsites++].where, sizeof(where), "%s", where);
        }
        sites[j].bytes += live[i].n;
        sites[j].blocks++;
        total += live[i].n;
    }
    qsort(sites, (size_t)nsites, sizeof(sites[0]), by_bytes);
    printf("| bytes | blocks | allocated at (%s) |\n|---:|---:|---|\n",
           OpenSSL_version(OPENSSL_VERSION));
    for (j = 0; j < nsites; j++)
        printf("| %zu | %d | %s |\n", sites[j].bytes, sites[j].blocks,
               sites[j].where);
    printf("| **%zu** | | total for one idle connection |\n", total);
    return 0;
}
