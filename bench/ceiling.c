/*
 * ceiling.c -- the benchmark's upper bound: a trivial single-process epoll
 * server that does the least a server can do and still satisfy the load
 * generators, so the table shows how far a real server is from the cost of
 * the system calls themselves.
 *
 *     ceiling HTTP_PORT CLOSE_PORT ECHO_PORT
 *
 * On 127.0.0.1:HTTP_PORT it answers every "\r\n\r\n" it sees on a
 * connection with the same fixed 1 KiB HTTP/1.1 response (keep-alive, so
 * wrk pipelines nothing and reuses the connection).  CLOSE_PORT does the
 * same once per connection with "Connection: close" and then closes, which
 * is what a real server does for a request carrying "Connection: close";
 * a separate port spares the ceiling from parsing a header.  ECHO_PORT
 * echoes TCP bytes and, on the UDP port of the same number, datagrams.
 * It parses nothing, never reads a file and logs nothing.  It runs until
 * killed.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BODY_SIZE 1024
#define READ_SIZE 16384

enum kind { K_HTTP, K_HTTP_CLOSE, K_ECHO, K_LISTEN, K_UDP };

struct conn {
    enum kind kind;
    int       fd;
    int       listen_kind; /* for K_LISTEN: what the accepted ones are */
    int       matched;     /* bytes of "\r\n\r\n" matched so far */
    int       closing;     /* close once out is flushed */
    int       want_out;    /* registered for EPOLLOUT */
    char     *out;
    size_t    out_len, out_off, out_cap;
};

static char   response[256 + BODY_SIZE];
static size_t response_len;
static char   close_response[256 + BODY_SIZE];
static size_t close_response_len;
static int    epfd = -1;

static void die(const char *what)
{
    fprintf(stderr, "ceiling: %s: %s\n", what, strerror(errno));
    exit(1);
}

static size_t build_response(char *buf, size_t cap, const char *extra)
{
    int n = snprintf(buf, cap,
                     "HTTP/1.1 200 OK\r\n"
                     "Server: ceiling\r\n"
                     "Content-Type: application/octet-stream\r\n"
                     "Content-Length: %d\r\n"
                     "%s\r\n",
                     BODY_SIZE, extra);

    for (int i = 0; i < BODY_SIZE; i++)
        buf[n + i] = (char)('a' + i % 26);
    return (size_t)n + BODY_SIZE;
}

static int listen_on(int type, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((unsigned short)port)};
    int                one = 1, defer = 10;
    int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket");
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("bind");
    if (type == SOCK_STREAM && listen(fd, 4096) < 0)
        die("listen");
    /* Woken once a connection has sent its request, as the servers are. */
    if (type == SOCK_STREAM &&
        setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer) < 0)
        die("TCP_DEFER_ACCEPT");
    return fd;
}

static struct conn *conn_new(enum kind kind, int fd)
{
    struct conn       *c = calloc(1, sizeof *c);
    struct epoll_event ev = {.events = EPOLLIN};

    if (c == NULL)
        die("calloc");
    c->kind = kind;
    c->fd = fd;
    ev.data.ptr = c;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl");
    return c;
}

static void conn_free(struct conn *c)
{
    close(c->fd);
    free(c->out);
    free(c);
}

static void out_append(struct conn *c, const char *p, size_t n)
{
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;

        while (cap < c->out_len + n)
            cap *= 2;
        c->out = realloc(c->out, cap);
        if (c->out == NULL)
            die("realloc");
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

/* Level-triggered: ask for EPOLLOUT only while output is pending. */
static void set_want_out(struct conn *c, int want)
{
    struct epoll_event ev = {.events = want ? EPOLLOUT : EPOLLIN};

    if (c->want_out == want)
        return;
    ev.data.ptr = c;
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl");
    c->want_out = want;
}

/* Returns -1 when the connection is finished and has been freed.  The
 * last answer on a closing connection goes with MSG_MORE: close(2) then
 * sends it together with the FIN, in one segment. */
static int flush(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL | (c->closing ? MSG_MORE : 0));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            set_want_out(c, 1);
            return 0;
        }
        if (n < 0) {
            conn_free(c);
            return -1;
        }
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    if (c->closing) {
        conn_free(c);
        return -1;
    }
    set_want_out(c, 0);
    return 0;
}

/* Counts request ends ("\r\n\r\n"), even when split across reads. */
static int count_heads(struct conn *c, const char *p, size_t n)
{
    static const char end[] = "\r\n\r\n";
    int               heads = 0;

    for (size_t i = 0; i < n; i++) {
        if (p[i] == end[c->matched])
            c->matched++;
        else
            c->matched = p[i] == '\r' ? 1 : 0;
        if (c->matched == 4) {
            heads++;
            c->matched = 0;
        }
    }
    return heads;
}

static void on_readable(struct conn *c)
{
    char    buf[READ_SIZE];
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        conn_free(c);
        return;
    }
    if (c->kind == K_ECHO) {
        out_append(c, buf, (size_t)n);
    } else if (!c->closing) {
        int heads = count_heads(c, buf, (size_t)n);

        if (c->kind == K_HTTP_CLOSE && heads > 0) {
            out_append(c, close_response, close_response_len);
            c->closing = 1;
        }
        for (int i = 0; c->kind == K_HTTP && i < heads; i++)
            out_append(c, response, response_len);
    }
    /* Pending output switches the connection to EPOLLOUT alone, so a
     * client that does not read stops being read: no unbounded buffer. */
    if (c->out_len > c->out_off)
        flush(c);
}

static void on_accept(struct conn *l)
{
    int one = 1;

    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN, or EMFILE: try again on the next wake-up */
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn_new((enum kind)l->listen_kind, fd);
    }
}

static void on_datagrams(struct conn *u)
{
    char buf[READ_SIZE];

    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage from;
        socklen_t               flen = sizeof from;
        ssize_t                 n = recvfrom(u->fd, buf, sizeof buf, 0,
                                             (struct sockaddr *)&from, &flen);

        if (n < 0)
            return;
        sendto(u->fd, buf, (size_t)n, 0, (struct sockaddr *)&from, flen);
    }
}

static void add_listener(int type, int port, enum kind accepted)
{
    int          fd = listen_on(type, port);
    struct conn *c = conn_new(type == SOCK_DGRAM ? K_UDP : K_LISTEN, fd);

    c->listen_kind = (int)accepted;
}

int main(int argc, char **argv)
{
    struct epoll_event evs[256];

    if (argc != 4) {
        fprintf(stderr, "usage: ceiling HTTP_PORT CLOSE_PORT ECHO_PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    response_len = build_response(response, sizeof response, "");
    close_response_len = build_response(close_response, sizeof close_response,
                                        "Connection: close\r\n");
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1");
    add_listener(SOCK_STREAM, atoi(argv[1]), K_HTTP);
    add_listener(SOCK_STREAM, atoi(argv[2]), K_HTTP_CLOSE);
    add_listener(SOCK_STREAM, atoi(argv[3]), K_ECHO);
    add_listener(SOCK_DGRAM, atoi(argv[3]), K_UDP);
    for (;;) {
        int n = epoll_wait(epfd, evs, 256, -1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;

            if (c->kind == K_LISTEN)
                on_accept(c);
            else if (c->kind == K_UDP)
                on_datagrams(c);
            else if (evs[i].events & EPOLLOUT)
                flush(c);
            else
                on_readable(c);
        }
    }
}
