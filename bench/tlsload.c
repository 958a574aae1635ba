/*
 * tlsload.c -- the benchmark's load generator for TLS handshakes.
 *
 *     tlsload -p PORT [-H ADDR] [-c CONNS] [-d SECONDS] [-n COUNT] [-r]
 *             [-f PATH]
 *
 * CONNS clients (default 50) each connect, make a TLS handshake, send
 * "GET PATH HTTP/1.1" with "Connection: close", read the answer to its
 * end, and connect again: one handshake per request.  Without -r every
 * handshake is a full one (no session is offered); with -r each client
 * offers the session (ticket) of its previous connection, so every
 * handshake after a client's first is a resumption, and the count of
 * those the server refused is printed (not_resumed).  wrk offers sessions
 * too, but on its own terms; this client says which handshake it made.
 *
 * The run stops after SECONDS (default 3) or COUNT handshakes (default
 * 10,000,000), whichever comes first.  One line goes to stdout:
 *
 *     mode=full conns=50 seconds=3.000 count=... rate=... errors=0
 *     not_resumed=0
 *
 * Exit status: 0, 1 if any connection failed, 2 for a usage or set-up
 * error.  Certificates are not checked: the server's signature still is,
 * as TLS 1.3 requires.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct client {
    int          fd;
    SSL         *ssl;
    SSL_SESSION *sess; /* the previous connection's, with -r */
    int          sent; /* the request is out */
    int          first;
};

static struct sockaddr_in addr;
static SSL_CTX           *ctx;
static const char        *path = "/1k.bin";
static int                resume, epfd;
static long long          count, errors, not_resumed, limit = 10000000;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int start(struct client *cl)
{
    int one = 1;

    cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (cl->fd == -1)
        return -1;
    setsockopt(cl->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(cl->fd, (struct sockaddr *)&addr, sizeof(addr)) == -1 &&
        errno != EINPROGRESS)
        return -1;
    cl->ssl = SSL_new(ctx);
    if (cl->ssl == NULL || SSL_set_fd(cl->ssl, cl->fd) != 1)
        return -1;
    SSL_set_connect_state(cl->ssl);
    if (resume && cl->sess != NULL)
        SSL_set_session(cl->ssl, cl->sess);
    cl->sent = 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = cl};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, cl->fd, &ev);
}

static void stop(struct client *cl, int failed)
{
    if (failed)
        errors++;
    if (cl->ssl != NULL) {
        /* Done as the server was: freed otherwise, OpenSSL would mark the
         * session not resumable. */
        if (!failed)
            SSL_set_shutdown(cl->ssl,
                             SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        if (!failed && resume) {
            SSL_SESSION *s = SSL_get1_session(cl->ssl);
            if (s != NULL) {
                SSL_SESSION_free(cl->sess);
                cl->sess = s;
            }
        }
        SSL_free(cl->ssl);
        cl->ssl = NULL;
    }
    if (cl->fd != -1)
        close(cl->fd);
    cl->fd = -1;
}

/* Runs cl's conversation as far as it goes now: 1 done (the answer read
 * to its end), 0 to wait for *ev, -1 failed. */
static int step(struct client *cl, unsigned *ev)
{
    char buf[16384];
    int  r;

    for (;;) {
        if (!cl->sent) {
            char req[512];
            int  n = snprintf(req, sizeof(req),
                              "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Connection: close\r\n\r\n",
                              path);
            r = SSL_write(cl->ssl, req, n);
            if (r > 0) {
                cl->sent = 1;
                if (resume && !cl->first && !SSL_session_reused(cl->ssl))
                    not_resumed++;
                cl->first = 0;
                continue;
            }
        } else {
            r = SSL_read(cl->ssl, buf, sizeof(buf));
            if (r > 0)
                continue;
        }
        int e = SSL_get_error(cl->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            *ev = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
            return 0;
        }
        /* The server closes after the answer: a close_notify, or (as
         * many do after Connection: close) the TCP end alone. */
        if (cl->sent && (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL))
            return 1;
        return -1;
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: tlsload -p PORT [-H ADDR] [-c CONNS] "
                    "[-d SECONDS] [-n COUNT] [-r] [-f PATH]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int    conns = 50, port = 0, opt;
    double seconds = 3;
    char  *host = "127.0.0.1";

    while ((opt = getopt(argc, argv, "p:H:c:d:n:rf:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'H': host = optarg; break;
        case 'c': conns = atoi(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'n': limit = atoll(optarg); break;
        case 'r': resume = 1; break;
        case 'f': path = optarg; break;
        default: usage();
        }
    }
    if (port <= 0 || conns <= 0 || seconds <= 0)
        usage();
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        usage();
    ctx = SSL_CTX_new(TLS_client_method());
    epfd = epoll_create1(0);
    struct client *cls = calloc(conns, sizeof(*cls));
    if (ctx == NULL || epfd == -1 || cls == NULL) {
        fprintf(stderr, "tlsload: set-up failed\n");
        return 2;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
                                            SSL_SESS_CACHE_NO_INTERNAL_STORE);
    for (int i = 0; i < conns; i++) {
        cls[i].first = 1;
        if (start(&cls[i]) == -1) {
            fprintf(stderr, "tlsload: connect: %s\n", strerror(errno));
            return 2;
        }
    }
    double t0 = now(), end = t0 + seconds;
    while (count < limit && now() < end) {
        struct epoll_event evs[64];
        int                n = epoll_wait(epfd, evs, 64, 100);

        for (int i = 0; i < n; i++) {
            struct client *cl = evs[i].data.ptr;
            unsigned       want = 0;
            int            r = step(cl, &want);

            if (r == 0) {
                struct epoll_event ev = {.events = want, .data.ptr = cl};
                epoll_ctl(epfd, EPOLL_CTL_MOD, cl->fd, &ev);
                continue;
            }
            if (r == 1)
                count++;
            stop(cl, r == -1);
            if (start(cl) == -1) {
                errors++;
                stop(cl, 0);
            }
        }
    }
    double wall = now() - t0;
    printf("mode=%s conns=%d seconds=%.3f count=%lld rate=%.1f errors=%lld "
           "not_resumed=%lld\n",
           resume ? "resume" : "full", conns, wall, count, count / wall, errors,
           not_resumed);
    return errors ? 1 : 0;
}
