/*
 * http.c -- the http module: a static file server for HTTP/1.0 and 1.1.
 *
 * handle() runs when a connection is readable.  It reads what is there
 * without blocking into the connection's buffer, answers every complete
 * request in it in order (pipelining), and hands the connection back to the
 * worker between requests (PF_IDLE, with keepalive_timeout) or while a
 * request head is still arriving (PF_MORE, with what is left of
 * header_timeout), so a worker is never held by a slow or idle client.
 *
 * Files are opened with openat2(RESOLVE_BENEATH) relative to the document
 * root: the kernel itself refuses any path, dot-dot or symlink that would
 * leave it, in the same call that opens the file.  Bodies go out with
 * sendfile(2) right behind the head.  All of it goes through the host's
 * non-blocking I/O (pf_recv_nowait, pf_sendv_nowait, pf_sendfile_nowait),
 * never to the descriptor, so a transport under the connection is under
 * the module too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "autoindex.h"
#include "chunked.h"
#include "date.h"
#include "filecache.h"
#include "http.h"
#include "path.h"
#include "range.h"
#include "request.h"
#include "response.h"

#define PATH_MAX_LEN 4096

/* Files each worker keeps open (a direct-mapped cache). */
#define FILE_CACHE_SLOTS 512

/* What one connection carries between handle() calls. */
struct http_conn {
    char     *buf; /* received, not yet answered; NULL between requests */
    size_t    len, cap;
    int64_t   head_deadline;     /* mono ms the current head must be in by */
    long long discard;           /* body bytes still to read and drop */
    int       chunking;          /* a chunked body is being read and dropped */
    struct http_chunked ck;      /* ...and where in it */
    int                 close;   /* answer what is in flight, then close */
    int                 last;    /* ...and the client has sent nothing more */
    int                 full;    /* the last read stopped at a full buffer */
    int                 nodelay; /* pf_nodelay() was called */
    /* A response on its way out: first out[0..out_len), what the socket
     * did not take of a head (and small body), then left bytes of file
     * from off.  The file is entry's when entry is set, else ours. */
    char            *out;
    size_t           out_len;
    int              file;
    off_t            off;
    size_t           left;
    struct fc_entry *entry;
};

/* A file to answer with: its descriptor and metadata, its content when the
 * cache holds it, and the cache entry when it comes from there. */
struct file_ref {
    int                fd;
    const struct stat *st;
    const char        *body;
    struct fc_entry   *entry;
};

/* One request's outcome, for the access log. */
struct outcome {
    int       status;
    long long bytes;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- opening files beneath the root --------------------------------------- */

static int open_beneath(int dirfd, const char *rel, int flags)
{
    struct open_how how = {
        .flags = (unsigned long long)(flags | O_CLOEXEC),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd;

    do
        fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
    while (fd == -1 && errno == EINTR);
    return (int)fd;
}

/*
 * Where openat2 is missing (Linux before 5.6, some seccomp filters,
 * valgrind): resolve the path fully and check that it is still below the
 * root before opening it.  A symlink swapped in between the two steps could
 * still be followed, which is why this is only the fallback.
 */
static int open_resolved(const struct http_state *hs, const char *rel,
                         int flags)
{
    char full[PATH_MAX_LEN + 8], real[PATH_MAX];
    int  n;

    n = snprintf(full, sizeof(full), "%s/%s", hs->rootreal, rel);
    if (n < 0 || (size_t)n >= sizeof(full)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (realpath(full, real) == NULL)
        return -1;
    if (strncmp(real, hs->rootreal, hs->rootlen) != 0 ||
        (hs->rootlen > 1 && real[hs->rootlen] != '/' &&
         real[hs->rootlen] != '\0')) {
        errno = EXDEV;
        return -1;
    }
    return open(real, flags | O_CLOEXEC);
}

/* Open rel (no leading '/') below the root. */
static int open_in_root(const struct http_state *hs, const char *rel, int flags)
{
    if (hs->use_openat2)
        return open_beneath(hs->rootfd, rel, flags);
    return open_resolved(hs, rel, flags);
}

/* Does the kernel (and whatever filters syscalls) let us use openat2? */
static int openat2_works(int rootfd)
{
    int fd = open_beneath(rootfd, ".", O_RDONLY | O_DIRECTORY);

    if (fd == -1)
        return errno != ENOSYS && errno != EPERM;
    close(fd);
    return 1;
}

/* --- answering ------------------------------------------------------------ */

static int keep_value(const struct http_request *req, int close)
{
    if (close || !req->keep_alive)
        return 0;
    return req->minor == 0 ? 2 : 1;
}

/* Statuses after which the connection is closed, as nginx does: the
 * client is confused or hostile, and what it sends next is suspect. */
static int closes(int status)
{
    return status == 400 || status == 408 || status == 413 || status == 414 ||
           status == 431 || status == 501 || status == 505;
}

static void send_error(pf_conn *c, const struct http_request *req,
                       struct outcome *o, int status, const char *location,
                       const char *allow)
{
    struct http_conn *hc = c->data;
    long long         n;

    if (closes(status))
        hc->close = 1;
    o->status = status;
    n = http_send_error(c, status, req->method == HTTP_HEAD,
                        keep_value(req, hc->close), location, allow);
    if (n < 0)
        hc->close = 1;
    else
        o->bytes = n;
}

/* If-None-Match, else If-Modified-Since (RFC 9110 13.2.2). */
static int not_modified(const struct http_request *req, const char *etag,
                        time_t mtime)
{
    time_t since;

    if (req->if_none_match.p != NULL) {
        const char *p = req->if_none_match.p, *end = p + req->if_none_match.len;
        size_t      n = strlen(etag);
        while (p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
                p++;
            if (p < end && *p == '*')
                return 1;
            if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
                p += 2;
            if ((size_t)(end - p) >= n && memcmp(p, etag, n) == 0)
                return 1;
            while (p < end && *p != ',')
                p++;
        }
        return 0;
    }
    if (req->if_modified_since.p != NULL &&
        http_date_parse(req->if_modified_since.p, req->if_modified_since.len,
                        &since) == 0)
        return mtime <= since;
    return 0;
}

/* Send a head and a body (blen may be 0) without waiting, in one
 * gather-send (one sendmsg), keeping in hc->out what the socket does not take now.  The
 * body goes from where it is, the file cache, with no copy.  MSG_MORE when
 * a file follows, and on the last response of a connection (hc->last):
 * close(2) then sends the held bytes with the FIN, one segment where there
 * would be two.  Returns 0, or -1 when the connection is dead. */
static int send_now(pf_conn *c, const char *head, size_t hlen, const char *body,
                    size_t blen, int more)
{
    struct http_conn *hc = c->data;
    struct iovec      iov[2] = {{(void *)head, hlen}, {(void *)body, blen}};
    ssize_t r = pf_sendv_nowait(c, iov, blen > 0 ? 2 : 1, more || hc->last);
    size_t  sent;

    if (r == -1)
        return -1;
    sent = (size_t)r;
    if (sent == hlen + blen)
        return 0;
    hc->out_len = hlen + blen - sent;
    hc->out = malloc(hc->out_len);
    if (hc->out == NULL)
        return -1;
    if (sent < hlen) {
        memcpy(hc->out, head + sent, hlen - sent);
        if (blen > 0)
            memcpy(hc->out + hlen - sent, body, blen);
    } else {
        memcpy(hc->out, body + (sent - hlen), hc->out_len);
    }
    return 0;
}

static void send_file(pf_conn *c, const struct http_request *req,
                      struct outcome *o, const struct file_ref *f,
                      const char *name)
{
    const struct http_state *hs = c->svc->data;
    struct http_conn        *hc = c->data;
    const struct stat       *st = f->st;
    char                     etag[64], lm[HTTP_DATE_LEN + 1], buf[1024];
    struct http_head         h;
    off_t                    first = 0, last = st->st_size - 1;
    int       status = 200, r = 0, head_only = req->method == HTTP_HEAD;
    long long len = st->st_size;

    snprintf(etag, sizeof(etag), "\"%llx-%llx\"",
             (unsigned long long)st->st_mtime, (unsigned long long)st->st_size);
    if (not_modified(req, etag, st->st_mtime)) {
        status = 304;
        len = 0;
    } else if (req->range.p != NULL) {
        r = http_range_parse(req->range.p, req->range.len, st->st_size, &first,
                             &last);
        if (r == -1) {
            char cr[64];
            snprintf(cr, sizeof(cr), "bytes */%lld", (long long)st->st_size);
            http_head_init(&h, buf, sizeof(buf), 416);
            http_head_add(&h, "Content-Range", "%s", cr);
            http_head_add(&h, "Content-Length", "0");
            http_head_end(&h, keep_value(req, hc->close));
            o->status = 416;
            if (send_now(c, h.buf, h.len, NULL, 0, 0) == -1)
                hc->close = 1;
            return;
        }
        if (r == 1) {
            status = 206;
            len = last - first + 1;
        }
    }
    http_date_format(st->st_mtime, lm);
    http_head_init(&h, buf, sizeof(buf), status);
    if (status != 304) {
        http_head_add(&h, "Content-Type", "%s", mime_type(hs->mime, name));
        http_head_add(&h, "Content-Length", "%lld", len);
        http_head_add(&h, "Accept-Ranges", "bytes");
    }
    if (status == 206)
        http_head_add(&h, "Content-Range", "bytes %lld-%lld/%lld",
                      (long long)first, (long long)last,
                      (long long)st->st_size);
    http_head_add(&h, "Last-Modified", "%s", lm);
    http_head_add(&h, "ETag", "%s", etag);
    http_head_end(&h, keep_value(req, hc->close));
    o->status = status;
    if (head_only || len == 0) {
        if (h.overflow || send_now(c, h.buf, h.len, NULL, 0, 0) == -1)
            hc->close = 1;
        return;
    }
    o->bytes = len;
    if (h.overflow) {
        hc->close = 1;
        return;
    }
    if (f->body != NULL) { /* head and body in one send */
        if (send_now(c, h.buf, h.len, f->body + first, (size_t)len, 0) == -1)
            hc->close = 1;
        return;
    }
    if (send_now(c, h.buf, h.len, NULL, 0, 1) == -1) {
        hc->close = 1;
        return;
    }
    /* The body goes out from handle() as the socket takes it; the
     * connection holds the file until then. */
    hc->file = f->fd;
    hc->entry = f->entry;
    hc->off = first;
    hc->left = (size_t)len;
}

/* Send what the socket takes of the pending body.  Returns 1 while some is
 * left, 0 when it is all out (or the connection must close). */
static int send_body(pf_conn *c)
{
    const struct http_state *hs = c->svc->data;
    struct http_conn        *hc = c->data;
    ssize_t                  n;

    if (hc->out != NULL) {
        n = pf_send_nowait(c, hc->out, hc->out_len, hc->left > 0 || hc->last);
        if (n >= 0 && (size_t)n < hc->out_len) {
            memmove(hc->out, hc->out + n, hc->out_len - (size_t)n);
            hc->out_len -= (size_t)n;
            return 1;
        }
        if (n == -1) {
            hc->close = 1;
            hc->left = 0;
        }
    }
    free(hc->out);
    hc->out = NULL;
    hc->out_len = 0;
    if (hc->left > 0) {
        n = pf_sendfile_nowait(c, hc->file, &hc->off, hc->left);
        if (n >= 0 && (size_t)n < hc->left) {
            hc->left -= (size_t)n;
            return 1;
        }
        if (n == -1) /* a short body (the file shrank) or a dead peer */
            hc->close = 1;
    }
    if (hc->entry != NULL)
        fc_release(hs->cache, hc->entry);
    else if (hc->file != -1)
        close(hc->file);
    hc->entry = NULL;
    hc->file = -1;
    hc->left = 0;
    return 0;
}

static int pending(const struct http_conn *hc)
{
    return hc->out != NULL || hc->left > 0;
}

/* The file name that gives a response its type: a directory's answer is
 * its index file. */
static const char *type_name(const struct http_state *hs, const char *key)
{
    return key[strlen(key) - 1] == '/' ? hs->conf->index : key;
}

/* Answer from a cache entry; the reference is the connection's while the
 * body is on its way, and released here otherwise. */
static void send_cached(pf_conn *c, const struct http_request *req,
                        struct outcome *o, struct fc_entry *e)
{
    const struct http_state *hs = c->svc->data;
    struct http_conn        *hc = c->data;
    struct file_ref          f = {
                 .fd = e->fd, .st = &e->st, .body = e->body, .entry = e};

    send_file(c, req, o, &f, type_name(hs, e->key));
    if (hc->entry != e)
        fc_release(hs->cache, e);
}

/* Answer with a regular file just opened for key (the URL path): keep it
 * in the cache when possible.  Takes fd. */
static void send_opened(pf_conn *c, const struct http_request *req,
                        struct outcome *o, int fd, const struct stat *st,
                        const char *key)
{
    const struct http_state *hs = c->svc->data;
    struct http_conn        *hc = c->data;
    struct fc_entry         *e = fc_put(hs->cache, key, fd, st, now_ms());
    struct file_ref          f = {.fd = fd, .st = st};

    if (e != NULL) {
        send_cached(c, req, o, e);
        return;
    }
    send_file(c, req, o, &f, type_name(hs, key));
    if (hc->file != fd)
        close(fd);
}

/* A redirect to the same path with '/' added, the query kept. */
static void redirect_dir(pf_conn *c, const struct http_request *req,
                         struct outcome *o, const char *path)
{
    const char *q = memchr(req->target.p, '?', req->target.len);
    char        loc[PATH_MAX_LEN + HTTP_MAX_REQUEST_LINE + 2];
    int         n;

    n = snprintf(loc, sizeof(loc), "%s/%.*s", path,
                 q != NULL ? (int)(req->target.p + req->target.len - q) : 0,
                 q != NULL ? q : "");
    if (n < 0 || (size_t)n >= sizeof(loc)) {
        send_error(c, req, o, 414, NULL, NULL);
        return;
    }
    send_error(c, req, o, 301, loc, NULL);
}

static void serve_dir(pf_conn *c, const struct http_request *req,
                      struct outcome *o, int dirfd, const char *path)
{
    const struct http_state *hs = c->svc->data;
    struct http_conn        *hc = c->data;
    char                     rel[PATH_MAX_LEN + 256];
    struct stat              st;
    long long                n;
    int                      fd = -1, status = 0;

    if ((size_t)snprintf(rel, sizeof(rel), "%s%s", path + 1, hs->conf->index) <
        sizeof(rel))
        fd = open_in_root(hs, rel, O_RDONLY | O_NONBLOCK);
    if (fd != -1 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        send_opened(c, req, o, fd, &st, path);
        return;
    }
    if (fd != -1)
        close(fd);
    if (!hs->conf->autoindex) {
        send_error(c, req, o, 403, NULL, NULL);
        return;
    }
    n = http_autoindex(c, dirfd, path, req->method == HTTP_HEAD,
                       keep_value(req, hc->close), &status);
    if (n >= 0) {
        o->status = 200;
        o->bytes = n;
    } else if (status != 0) {
        send_error(c, req, o, status, NULL, NULL);
    } else {
        hc->close = 1;
    }
}

static void serve_path(pf_conn *c, const struct http_request *req,
                       struct outcome *o, const char *path)
{
    const struct http_state *hs = c->svc->data;
    size_t                   plen = strlen(path);
    const char              *rel = path[1] != '\0' ? path + 1 : ".";
    struct fc_entry         *e = fc_get(hs->cache, path, now_ms());
    struct stat              st;
    int                      fd;

    if (e != NULL) {
        send_cached(c, req, o, e);
        return;
    }
    fd = open_in_root(hs, rel, O_RDONLY | O_NONBLOCK);
    if (fd == -1) {
        send_error(c, req, o, http_path_open_status(errno), NULL, NULL);
        return;
    }
    if (fstat(fd, &st) == -1) {
        send_error(c, req, o, 500, NULL, NULL);
    } else if (S_ISDIR(st.st_mode)) {
        if (path[plen - 1] != '/')
            redirect_dir(c, req, o, path);
        else
            serve_dir(c, req, o, fd, path);
    } else if (!S_ISREG(st.st_mode)) {
        send_error(c, req, o, 403, NULL, NULL);
    } else if (path[plen - 1] == '/') {
        send_error(c, req, o, 404, NULL, NULL); /* "/file.txt/" */
    } else {
        send_opened(c, req, o, fd, &st, path);
        return; /* fd is the cache's or the connection's now */
    }
    close(fd);
}

/* The health path: 200 while this worker takes new work, 503 from the
 * moment it or the server begins to stop, and then the connection closes,
 * so that a load balancer's next check comes on a new connection and
 * reaches a worker that still serves, if there is one. */
static void serve_health(pf_conn *c, const struct http_request *req,
                         struct outcome *o)
{
    struct http_conn *hc = c->data;
    int               up = pf_accepting(c->svc);
    const char       *body = up ? "ok\n" : "stopping\n";
    size_t            blen = strlen(body);
    char              buf[512];
    struct http_head  h;

    if (!up)
        hc->close = 1;
    o->status = up ? 200 : 503;
    http_head_init(&h, buf, sizeof(buf), o->status);
    http_head_add(&h, "Content-Type", "text/plain");
    http_head_add(&h, "Content-Length", "%zu", blen);
    http_head_add(&h, "Cache-Control", "no-store");
    http_head_end(&h, keep_value(req, hc->close));
    if (req->method == HTTP_HEAD)
        blen = 0;
    if ((blen > 0 ? pf_write_more(c, h.buf, h.len)
                  : pf_write(c, h.buf, h.len)) == -1 ||
        (blen > 0 && pf_write(c, body, blen) == -1)) {
        hc->close = 1;
        return;
    }
    o->bytes = (long long)blen;
}

static void answer(pf_conn *c, const struct http_request *req,
                   struct outcome *o)
{
    const struct http_state *hs = c->svc->data;
    char                     path[PATH_MAX_LEN];
    int                      r;

    if (req->method == HTTP_OTHER) {
        send_error(c, req, o, 405, NULL, "GET, HEAD");
        return;
    }
    r = http_path_normalize(req->target.p, req->target.len, path, sizeof(path));
    /* A normalised path longer than PATH_MAX names no file that open(2)
     * could reach, and the request line it came in was within its limit
     * (the parser answers 414 past that): the file is simply not there,
     * as nginx answers too. */
    if (r == -414)
        r = -404;
    if (r < 0) {
        send_error(c, req, o, -r, NULL, NULL);
        return;
    }
    if (hs->conf->health != NULL && strcmp(path, hs->conf->health) == 0) {
        serve_health(c, req, o);
        return;
    }
    serve_path(c, req, o, path);
}

/* --- reading requests ----------------------------------------------------- */

static void log_request(pf_conn *c, const struct http_request *req,
                        const struct outcome *o)
{
    const struct http_state *hs = c->svc->data;

    if (hs->log != NULL)
        accesslog_add(hs->log, c->peer, req, o->status, o->bytes);
}

/* Answer a request that could not be parsed, then close. */
static void reject(pf_conn *c, int status)
{
    struct http_request none = {.method = HTTP_GET, .minor = 1};
    struct outcome      o = {.status = status};
    struct http_conn   *hc = c->data;

    hc->close = 1;
    send_error(c, &none, &o, status, NULL, NULL);
    log_request(c, NULL, &o);
}

static void consume(struct http_conn *hc, size_t n)
{
    memmove(hc->buf, hc->buf + n, hc->len - n);
    hc->len -= n;
}

/* Drop body bytes the client sent with a request we answered. */
static void discard_body(struct http_conn *hc)
{
    size_t n = hc->discard < (long long)hc->len ? (size_t)hc->discard : hc->len;

    consume(hc, n);
    hc->discard -= (long long)n;
}

/*
 * Nagle's algorithm holds an answer's last, short segment back while the
 * ones before it wait for an acknowledgement.  A connection kept open for
 * more requests turns it off before its first such answer (as nginx's
 * tcp_nodelay does); a closing answer needs nothing, close(2) pushes it out
 * with the FIN.  Best effort: an answer that is held still arrives.
 */
static void send_without_delay(pf_conn *c)
{
    struct http_conn *hc = c->data;

    hc->nodelay = 1;
    if (pf_nodelay(c) == -1)
        pf_log(c->svc, PF_LOG_DEBUG, "TCP_NODELAY: %s", strerror(errno));
}

/* Read and drop what the buffer holds of a chunked body.  Returns 1 when
 * it has ended, 0 when more must be read, or a negated status. */
static int discard_chunked(struct http_conn *hc, size_t from)
{
    size_t used;
    int    rc = http_chunked_feed(&hc->ck, hc->buf + from, hc->len - from,
                                  HTTP_MAX_DISCARD, &used);

    memmove(hc->buf + from, hc->buf + from + used, hc->len - from - used);
    hc->len -= used;
    hc->chunking = rc == 0;
    return rc;
}

/* Answer one parsed request whose head is `headlen` bytes of the buffer. */
static void serve_one(pf_conn *c, const struct http_request *req,
                      size_t headlen)
{
    struct http_conn *hc = c->data;
    struct outcome    o = {0};
    int               body = 0;
    const char       *eol = memchr(hc->buf, '\n', headlen);

    /* The request line, for the death record of a worker that dies on
     * it. */
    if (eol != NULL)
        pf_activity(c, hc->buf,
                    (size_t)(eol - hc->buf) -
                        (eol > hc->buf && eol[-1] == '\r'));
    /* What has come of a chunked body is read before answering, so that
     * a malformed or oversized one is answered 400 or 413, as nginx does;
     * the rest is dropped as it comes, after the answer. */
    if (req->chunked) {
        http_chunked_init(&hc->ck);
        body = discard_chunked(hc, headlen);
    }
    if (body < 0) {
        send_error(c, req, &o, -body, NULL, NULL);
    } else if (req->has_length && req->content_length > HTTP_MAX_DISCARD) {
        hc->close = 1;
        send_error(c, req, &o, 413, NULL, NULL);
    } else {
        /* A worker that has stopped taking new work ends the connection
         * with this answer, so that the client's next request goes to
         * one that has not (its idle time is cut short anyway). */
        if (!req->keep_alive || !pf_accepting(c->svc))
            hc->close = 1;
        /* Holding the answer for close(2) is safe only when nothing is
         * left unread: close with unread bytes resets the connection and
         * drops what it holds. */
        hc->last = hc->close && hc->len == headlen && !hc->full &&
                   !req->has_length && !req->chunked;
        if (!hc->close && !hc->nodelay)
            send_without_delay(c);
        answer(c, req, &o);
    }
    log_request(c, req, &o);
    consume(hc, headlen);
    if (req->has_length)
        hc->discard = req->content_length;
}

/* Read what the socket has, without waiting.  Returns 1 when something
 * came, 0 when nothing did, -1 at end of stream or on an error. */
static int fill(pf_conn *c)
{
    struct http_conn *hc = c->data;
    ssize_t           n;
    int               got = 0;

    hc->full = 0;
    if (hc->buf == NULL && (hc->buf = malloc(hc->cap)) == NULL)
        return -1;
    while (hc->len < hc->cap) {
        size_t room = hc->cap - hc->len;
        n = pf_recv_nowait(c, hc->buf + hc->len, room);
        if (n > 0) {
            hc->len += (size_t)n;
            got = 1;
            /* A short read emptied the socket: asking again would only
             * cost a syscall to learn EAGAIN; epoll says when more comes. */
            if ((size_t)n < room)
                return 1;
            continue;
        }
        if (n == 0)
            return -1;
        return errno == EAGAIN || errno == EWOULDBLOCK ? got : -1;
    }
    hc->full = 1;
    return 1;
}

/* Wait for more: for the rest of a head (header_timeout from its first
 * byte) or of a body, or for the next request (keepalive_timeout).  A
 * connection between requests gives its receive buffer back until the
 * next one comes, as nginx does: held, the page a request dirtied in it
 * would cost each idle keep-alive connection 4 KiB. */
static int wait_more(pf_conn *c)
{
    const struct http_state *hs = c->svc->data;
    struct http_conn        *hc = c->data;
    int64_t                  now = now_ms();

    if (hc->len == 0 && hc->discard == 0 && !hc->chunking) {
        hc->head_deadline = 0;
        c->idle_timeout_ms = (int)hs->conf->keepalive_timeout;
        free(hc->buf);
        hc->buf = NULL;
        return PF_IDLE;
    }
    if (hc->head_deadline == 0)
        hc->head_deadline = now + hs->conf->header_timeout;
    if (now >= hc->head_deadline) {
        reject(c, 408);
        return PF_CLOSE;
    }
    c->idle_timeout_ms = (int)(hc->head_deadline - now);
    return PF_MORE;
}

static int http_handle(pf_conn *c)
{
    const struct http_state *hs = c->svc->data;
    struct http_conn        *hc = c->data;
    struct http_request      req;
    int                      r, eof;

    eof = fill(c) == -1;
    for (;;) {
        if (pending(hc) && send_body(c)) {
            c->idle_timeout_ms = (int)hs->conf->send_timeout;
            return PF_WRITE;
        }
        if (hc->discard > 0) {
            discard_body(hc);
            if (hc->discard > 0)
                break;
        }
        /* The answer is out already: a body found bad from here on can
         * only close the connection. */
        if (hc->chunking && (r = discard_chunked(hc, 0)) != 1) {
            if (r < 0)
                hc->close = 1;
            break;
        }
        if (hc->close || hc->len == 0)
            break;
        r = http_parse_request(hc->buf, hc->len,
                               (size_t)hs->conf->max_header_size, &req);
        if (r == 0)
            break;
        if (r < 0) {
            reject(c, -r);
            return PF_CLOSE;
        }
        hc->head_deadline = 0;
        serve_one(c, &req, (size_t)r);
        if (pending(hc))
            continue; /* send it before reading on */
        /* The buffer was full: read what waited behind it.  Otherwise
         * the socket was empty at the last read, and epoll will say when
         * more comes; a connection closing reads nothing more at all. */
        if (!eof && !hc->close && hc->full && hc->len < hc->cap &&
            fill(c) == -1)
            eof = 1;
    }
    if (hc->close || eof)
        return PF_CLOSE;
    return wait_more(c);
}

/* --- connection and process hooks ----------------------------------------- */

static int http_setup(pf_conn *c)
{
    const struct http_state *hs = c->svc->data;
    struct http_conn        *hc = calloc(1, sizeof(*hc));

    if (hc == NULL)
        return -1;
    hc->file = -1;
    hc->cap = (size_t)hs->conf->max_header_size;
    c->data = hc;
    c->idle_timeout_ms = (int)hs->conf->header_timeout;
    return 0;
}

static void http_finish(pf_conn *c)
{
    struct http_conn *hc = c->data;

    /* A head that never finished arriving gets its 408. */
    if (c->timed_out && hc->len > 0 && !hc->close && !pending(hc))
        reject(c, 408);
    if (hc->entry != NULL)
        fc_release(((struct http_state *)c->svc->data)->cache, hc->entry);
    else if (hc->file != -1)
        close(hc->file);
    free(hc->out);
    free(hc->buf);
    free(hc);
    c->data = NULL;
}

/*
 * The MIME table is read once, in the master, from check(): workers
 * inherit it at fork and only read it, so its pages stay shared instead of
 * being parsed again into every worker's heap.  It goes when the module is
 * unloaded.
 */
static struct mime_table *mime_shared;

__attribute__((destructor)) static void http_unload(void)
{
    mime_free(mime_shared);
    mime_shared = NULL;
}

/* A health path is matched against normalised request paths, so it must
 * be one itself: absolute, no query, no escapes, nothing to collapse. */
static int health_path_ok(const char *p)
{
    char norm[PATH_MAX_LEN];

    if (p[0] != '/' || strpbrk(p, "?#%") != NULL)
        return 0;
    return http_path_normalize(p, strlen(p), norm, sizeof(norm)) >= 0 &&
           strcmp(norm, p) == 0;
}

static int http_check(pf_service *svc)
{
    const struct http_conf *conf = svc->conf;
    struct stat             st;

    /* The non-blocking I/O it uses came with ABI 1.3: refuse an older
     * host here rather than call past the end of its table. */
    if (!PF_API_HAS(svc->api, sendfile_nowait)) {
        pf_conf_error(svc, NULL,
                      "http needs a prefork of module ABI 1.3 or later");
        return -1;
    }
    if (mime_shared == NULL &&
        (mime_shared = mime_load("/etc/mime.types")) == NULL) {
        pf_conf_error(svc, NULL, "out of memory loading /etc/mime.types");
        return -1;
    }

    if (stat(conf->root, &st) == -1) {
        pf_conf_error(svc, "root", "%s: %s", conf->root, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        pf_conf_error(svc, "root", "%s is not a directory", conf->root);
        return -1;
    }
    if (conf->health != NULL && !health_path_ok(conf->health)) {
        pf_conf_error(svc, "health",
                      "must be a plain absolute path such as /healthz, "
                      "not '%s'",
                      conf->health);
        return -1;
    }
    if (strchr(conf->index, '/') != NULL || conf->index[0] == '\0') {
        pf_conf_error(svc, "index", "must be a file name, not '%s'",
                      conf->index);
        return -1;
    }
    return 0;
}

static void state_free(struct http_state *hs)
{
    if (hs == NULL)
        return;
    if (hs->log != NULL)
        accesslog_close(hs->log);
    if (hs->rootfd != -1)
        close(hs->rootfd);
    fc_free(hs->cache);
    free(hs);
}

static int http_worker_init(pf_service *svc)
{
    const struct http_conf *conf = svc->conf;
    struct http_state      *hs = calloc(1, sizeof(*hs));

    if (hs == NULL)
        return -1;
    hs->conf = conf;
    hs->rootfd = open(conf->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (hs->rootfd == -1 || realpath(conf->root, hs->rootreal) == NULL) {
        pf_log(svc, PF_LOG_ERROR, "root %s: %s", conf->root, strerror(errno));
        goto fail;
    }
    hs->rootlen = strlen(hs->rootreal);
    hs->use_openat2 = openat2_works(hs->rootfd);
    if (!hs->use_openat2)
        pf_log(svc, PF_LOG_NOTICE,
               "openat2 is not available (%s): paths are checked against "
               "the root with realpath",
               strerror(errno));
    hs->mime = mime_shared;
    hs->cache = fc_new(FILE_CACHE_SLOTS, hs->conf->file_cache_valid);
    if (hs->mime == NULL || hs->cache == NULL)
        goto fail;
    if (conf->access_log != NULL &&
        (hs->log = accesslog_open(conf->access_log)) == NULL) {
        pf_log(svc, PF_LOG_ERROR, "access_log %s: %s", conf->access_log,
               strerror(errno));
        goto fail;
    }
    svc->data = hs;
    return 0;
fail:
    state_free(hs);
    return -1;
}

static void http_worker_exit(pf_service *svc)
{
    state_free(svc->data);
    svc->data = NULL;
}

static void http_tick(pf_service *svc)
{
    struct http_state *hs = svc->data;

    if (hs != NULL && hs->log != NULL)
        accesslog_flush(hs->log);
}

static void http_reopen(pf_service *svc)
{
    struct http_state *hs = svc->data;

    if (hs != NULL && hs->log != NULL && accesslog_reopen(hs->log) == -1)
        pf_log(svc, PF_LOG_ERROR, "reopening access_log %s: %s",
               hs->conf->access_log, strerror(errno));
}

static const struct pf_key http_keys[] = {
    {.name = "root",
     .type = PF_KEY_PATH,
     .required = 1,
     .offset = offsetof(struct http_conf, root),
     .help = "directory the files are served from"},
    {.name = "index",
     .type = PF_KEY_STRING,
     .def = "index.html",
     .offset = offsetof(struct http_conf, index),
     .help = "file served for a directory"},
    {.name = "access_log",
     .type = PF_KEY_PATH,
     .offset = offsetof(struct http_conf, access_log),
     .help = "access log in combined log format"},
    {.name = "keepalive_timeout",
     .type = PF_KEY_DURATION,
     .def = "5s",
     .min = 1,
     .max = 3600000,
     .offset = offsetof(struct http_conf, keepalive_timeout),
     .help = "idle time allowed between requests"},
    {.name = "header_timeout",
     .type = PF_KEY_DURATION,
     .def = "10s",
     .min = 1,
     .max = 3600000,
     .offset = offsetof(struct http_conf, header_timeout),
     .help = "time allowed for a request head to arrive"},
    {.name = "send_timeout",
     .type = PF_KEY_DURATION,
     .def = "60s",
     .min = 1,
     .max = 3600000,
     .offset = offsetof(struct http_conf, send_timeout),
     .help = "time a client may take to accept more of a response"},
    {.name = "file_cache_valid",
     .type = PF_KEY_DURATION,
     .def = "0",
     .min = 0,
     .max = 1000,
     .offset = offsetof(struct http_conf, file_cache_valid),
     .help = "how long a cached file is served without checking it "
             "(0: checked on every request)"},
    {.name = "max_header_size",
     .type = PF_KEY_SIZE,
     .def = "8k",
     .min = 1024,
     .max = 1024 * 1024,
     .offset = offsetof(struct http_conf, max_header_size),
     .help = "largest request head accepted"},
    {.name = "autoindex",
     .type = PF_KEY_BOOL,
     .def = "no",
     .offset = offsetof(struct http_conf, autoindex),
     .help = "list directories that have no index file"},
    {.name = "health",
     .type = PF_KEY_STRING,
     .offset = offsetof(struct http_conf, health),
     .help = "a path (e.g. /healthz) answered 200 while the service "
             "accepts, 503 once it begins to stop"},
    {0},
};

PF_MODULE_DECLARE = {
    PF_MODULE_HEADER,
    .name = "http",
    .version = PACKAGE_VERSION,
    .socktypes = PF_STREAM,
    .keys = http_keys,
    .conf_size = sizeof(struct http_conf),
    .check = http_check,
    .worker_init = http_worker_init,
    .worker_exit = http_worker_exit,
    .setup = http_setup,
    .handle = http_handle,
    .finish = http_finish,
    .tick = http_tick,
    .reopen = http_reopen,
};
