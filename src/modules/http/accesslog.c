/*
 * accesslog.c -- the access log in combined log format:
 *
 *   127.0.0.1 - - [21/Nov/2026:01:23:45 +0000] "GET / HTTP/1.1" 200 612 "-"
 * "curl/7.88.1"
 *
 * A TLS client that presented a certificate gets its subject as one more
 * quoted field at the end (nginx's $ssl_client_s_dn in a log_format).
 *
 * Each worker buffers its lines and writes them out with one write(2) when
 * the buffer fills and on every tick (once a second), so the file is never
 * more than a second behind and a busy worker makes one write per many
 * requests.  O_APPEND keeps the workers' writes from overwriting each
 * other.  Client-supplied text (request line, Referer, User-Agent) is
 * escaped, so no request can forge a line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"

#define LOG_BUF      (64 * 1024)
#define LINE_MAX_LEN 4096

struct accesslog {
    pthread_mutex_t mu;
    char           *path;
    int             fd;
    size_t          len;
    char            buf[LOG_BUF];
};

static int open_log(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

struct accesslog *accesslog_open(const char *path)
{
    struct accesslog *l = calloc(1, sizeof(*l));

    if (l == NULL || (l->path = strdup(path)) == NULL) {
        free(l);
        errno = ENOMEM;
        return NULL;
    }
    l->fd = open_log(path);
    if (l->fd == -1) {
        int err = errno;
        free(l->path);
        free(l);
        errno = err;
        return NULL;
    }
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

/* Write out the buffer; the caller holds the lock. */
static void flush_locked(struct accesslog *l)
{
    size_t  off = 0;
    ssize_t n;

    while (off < l->len) {
        n = write(l->fd, l->buf + off, l->len - off);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* a full disk loses log lines, never requests */
        off += (size_t)n;
    }
    l->len = 0;
}

void accesslog_flush(struct accesslog *l)
{
    pthread_mutex_lock(&l->mu);
    flush_locked(l);
    pthread_mutex_unlock(&l->mu);
}

int accesslog_reopen(struct accesslog *l)
{
    int fd, rc = 0;

    pthread_mutex_lock(&l->mu);
    flush_locked(l);
    fd = open_log(l->path);
    if (fd == -1) {
        rc = -1;
    } else {
        close(l->fd);
        l->fd = fd;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void accesslog_close(struct accesslog *l)
{
    accesslog_flush(l);
    close(l->fd);
    pthread_mutex_destroy(&l->mu);
    free(l->path);
    free(l);
}

/* A log line under construction; the last bytes are kept for its end, so
 * an overlong request is cut, never overrun. */
struct line {
    char   p[LINE_MAX_LEN];
    size_t n;
};

#define LINE_ROOM (LINE_MAX_LEN - 4)

static void put(struct line *l, const char *s, size_t len)
{
    if (len > LINE_ROOM - l->n)
        len = LINE_ROOM - l->n;
    memcpy(l->p + l->n, s, len);
    l->n += len;
}

static void putf(struct line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void putf(struct line *l, const char *fmt, ...)
{
    char    tmp[256];
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        put(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Client text: '"', '\\' and bytes outside printable ASCII become \xHH. */
static void put_escaped(struct line *l, const struct http_str *s)
{
    static const char hex[] = "0123456789abcdef";
    char              e[4] = {'\\', 'x', 0, 0};
    size_t            i;

    if (s == NULL || s->p == NULL) {
        put(l, "-", 1);
        return;
    }
    for (i = 0; i < s->len && l->n < LINE_ROOM; i++) {
        unsigned char ch = (unsigned char)s->p[i];
        if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
            e[2] = hex[ch >> 4];
            e[3] = hex[ch & 15];
            put(l, e, 4);
        } else {
            put(l, (const char *)&ch, 1);
        }
    }
}

static void peer_text(const struct sockaddr *sa, char *out, size_t len)
{
    const void *a = NULL;

    if (sa != NULL && sa->sa_family == AF_INET)
        a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    else if (sa != NULL && sa->sa_family == AF_INET6)
        a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    if (a == NULL || inet_ntop(sa->sa_family, a, out, (socklen_t)len) == NULL)
        snprintf(out, len, "-");
}

static void format_line(struct line *l, const struct sockaddr *peer,
                        const struct http_request *req, int status,
                        long long bytes, const char *subject)
{
    char      addr[64], when[64];
    time_t    now = time(NULL);
    struct tm tm;

    peer_text(peer, addr, sizeof(addr));
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S +0000", &tm);
    l->n = 0;
    putf(l, "%s - - [%s] \"", addr, when);
    if (req != NULL) {
        put_escaped(l, &req->method_str);
        put(l, " ", 1);
        put_escaped(l, &req->target);
        putf(l, " HTTP/1.%d", req->minor);
    } else {
        put(l, "-", 1);
    }
    putf(l, "\" %d %lld \"", status, bytes);
    put_escaped(l, req != NULL ? &req->referer : NULL);
    put(l, "\" \"", 3);
    put_escaped(l, req != NULL ? &req->user_agent : NULL);
    if (subject != NULL) { /* a TLS client certificate's */
        struct http_str s = {.p = subject, .len = strlen(subject)};

        put(l, "\" \"", 3);
        put_escaped(l, &s);
    }
    memcpy(l->p + l->n, "\"\n", 2); /* LINE_ROOM kept room for it */
    l->n += 2;
}

void accesslog_add(struct accesslog *l, const struct sockaddr *peer,
                   const struct http_request *req, int status, long long bytes,
                   const char *subject)
{
    struct line line;

    format_line(&line, peer, req, status, bytes, subject);
    pthread_mutex_lock(&l->mu);
    if (l->len + line.n > sizeof(l->buf))
        flush_locked(l);
    memcpy(l->buf + l->len, line.p, line.n);
    l->len += line.n;
    pthread_mutex_unlock(&l->mu);
}
