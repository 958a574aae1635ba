/*
 * send.c -- the http module's sending: response heads with their bodies,
 * files, and what is left of a response the client has not taken yet.
 *
 * Nothing here waits.  A head and a small cached body leave in one
 * gather-send; a file goes with sendfile right behind its head, which is
 * sent with MSG_MORE so that the two share segments.  What the connection
 * does not take now stays in struct http_conn (out, then the file from
 * off) and goes out from handle() as the connection takes more
 * (PF_WRITE), so a client that reads slowly holds no worker.  All of it
 * through the host's I/O (pf_sendv_nowait, pf_send_nowait,
 * pf_sendfile_nowait), never the descriptor.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "date.h"
#include "filecache.h"
#include "state.h"
#include "range.h"
#include "request.h"
#include "response.h"
#include "send.h"

/* A file to answer with: its descriptor and metadata, its content when the
 * cache holds it, and the cache entry when it comes from there. */
struct file_ref {
    int                fd;
    const struct stat *st;
    const char        *body;
    struct fc_entry   *entry;
};

int http_keep_value(const struct http_request *req, int close)
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

void http_answer_error(pf_conn *c, const struct http_request *req,
                       struct http_outcome *o, int status, const char *location,
                       const char *allow)
{
    struct http_conn *hc = c->data;
    long long         n;

    if (closes(status))
        hc->close = 1;
    o->status = status;
    n = http_send_error(c, status, req->method == HTTP_HEAD,
                        http_keep_value(req, hc->close), location, allow);
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
 * gather-send (one sendmsg), keeping in hc->out what the socket does not
 * take now.  The body goes from where it is, the file cache, with no copy.  MSG_MORE when
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
                      struct http_outcome *o, const struct file_ref *f,
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
    } else if (req->range.p != NULL &&
               (req->if_range.p == NULL ||
                http_if_range_matches(req->if_range.p, req->if_range.len, etag,
                                      st->st_mtime))) {
        r = http_range_parse(req->range.p, req->range.len, st->st_size, &first,
                             &last);
        if (r == -1) {
            char cr[64];
            snprintf(cr, sizeof(cr), "bytes */%lld", (long long)st->st_size);
            http_head_init(&h, buf, sizeof(buf), 416);
            http_head_add(&h, "Content-Range", "%s", cr);
            http_head_add(&h, "Content-Length", "0");
            http_head_end(&h, http_keep_value(req, hc->close));
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
    http_head_end(&h, http_keep_value(req, hc->close));
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

/* Let go of the file a response was sent from: the cache's entry, or
 * the descriptor the connection held. */
static void drop_file(const struct http_state *hs, struct http_conn *hc)
{
    if (hc->entry != NULL)
        fc_release(hs->cache, hc->entry);
    else if (hc->file != -1)
        close(hc->file);
    hc->entry = NULL;
    hc->file = -1;
    hc->left = 0;
}

/* Send what the connection takes of the pending output.  Returns 1 while some is
 * left, 0 when it is all out (or the connection must close). */
int http_send_pending(pf_conn *c)
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
    drop_file(hs, hc);
    return 0;
}

void http_output_free(pf_conn *c)
{
    struct http_conn *hc = c->data;

    drop_file(c->svc->data, hc);
    free(hc->out);
    hc->out = NULL;
    hc->out_len = 0;
}

/* The file name that gives a response its type: a directory's answer is
 * its index file. */
static const char *type_name(const struct http_state *hs, const char *key)
{
    return key[strlen(key) - 1] == '/' ? hs->conf->index : key;
}

/* Answer from a cache entry; the reference is the connection's while the
 * body is on its way, and released here otherwise. */
void http_send_cached(pf_conn *c, const struct http_request *req,
                      struct http_outcome *o, struct fc_entry *e)
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
void http_send_opened(pf_conn *c, const struct http_request *req,
                      struct http_outcome *o, int fd, const struct stat *st,
                      const char *key)
{
    const struct http_state *hs = c->svc->data;
    struct http_conn        *hc = c->data;
    struct fc_entry         *e = fc_put(hs->cache, key, fd, st, http_now_ms());
    struct file_ref          f = {.fd = fd, .st = st};

    if (e != NULL) {
        http_send_cached(c, req, o, e);
        return;
    }
    send_file(c, req, o, &f, type_name(hs, key));
    if (hc->file != fd)
        close(fd);
}
