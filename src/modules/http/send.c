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
 * cache holds it, the cache entry when it comes from there, and the parts
 * of its head that stay while it does (the entry's, or rendered for this
 * answer alone). */
struct file_ref {
    int                   fd;
    const struct stat    *st;
    const char           *body;
    struct fc_entry      *entry;
    const struct fc_head *head;
};

/* A head's buffer, as large as the heads have always had. */
#define HEAD_MAX 1024

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

/* Render into buf (cap bytes) the parts of a file's head that stay while
 * the file does, named `name` for its type, into *fh.  Returns 0, or -1
 * when they do not fit. */
static int render_file_head(const struct http_state *hs, const struct stat *st,
                            const char *name, char *buf, size_t cap,
                            struct fc_head *fh)
{
    struct http_head h, e = {.buf = fh->etag, .cap = sizeof(fh->etag) - 1};
    char             lm[HTTP_DATE_LEN + 1];

    http_head_init(&h, buf, cap, 200);
    fh->type = (uint16_t)h.len;
    http_head_add(&h, "Content-Type", mime_type(hs->mime, name));
    fh->length = (uint16_t)h.len;
    http_head_add_num(&h, "Content-Length", (long long)st->st_size);
    http_head_add(&h, "Accept-Ranges", "bytes");
    fh->validators = (uint16_t)h.len;
    http_date_format(st->st_mtime, lm);
    http_head_add(&h, "Last-Modified", lm);
    http_head_put(&e, "\"", 1);
    http_head_hex(&e, (unsigned long long)st->st_mtime);
    http_head_put(&e, "-", 1);
    http_head_hex(&e, (unsigned long long)st->st_size);
    http_head_put(&e, "\"", 1);
    fh->etag[e.len] = '\0';
    http_head_add(&h, "ETag", fh->etag);
    fh->text = buf;
    fh->len = h.len;
    return h.overflow || e.overflow ? -1 : 0;
}

/* 416, with the size the range missed. */
static void send_unsatisfiable(pf_conn *c, const struct http_request *req,
                               struct http_outcome *o, const struct stat *st)
{
    struct http_conn *hc = c->data;
    char              buf[HEAD_MAX];
    struct http_head  h;

    http_head_init(&h, buf, sizeof(buf), 416);
    http_head_str(&h, "Content-Range: bytes */");
    http_head_dec(&h, (unsigned long long)st->st_size);
    http_head_put(&h, "\r\n", 2);
    http_head_add(&h, "Content-Length", "0");
    http_head_end(&h, http_keep_value(req, hc->close));
    o->status = 416;
    if (send_now(c, h.buf, h.len, NULL, 0, 0) == -1)
        hc->close = 1;
}

/* The head of a 200, 206 or 304 from fh's parts: the 200's as it is, the
 * others with their status line, Content-Length and Content-Range, the
 * parts they share taken over. */
static void file_head(struct http_head *h, const struct fc_head *fh, int status,
                      off_t first, off_t last, off_t size)
{
    if (status == 200) {
        http_head_put(h, fh->text, fh->len);
        return;
    }
    http_head_init(h, h->buf, h->cap + 1, status);
    if (status == 206) {
        http_head_put(h, fh->text + fh->type, fh->length - fh->type);
        http_head_add_num(h, "Content-Length", (long long)(last - first + 1));
        http_head_add(h, "Accept-Ranges", "bytes");
        http_head_str(h, "Content-Range: bytes ");
        http_head_dec(h, (unsigned long long)first);
        http_head_put(h, "-", 1);
        http_head_dec(h, (unsigned long long)last);
        http_head_put(h, "/", 1);
        http_head_dec(h, (unsigned long long)size);
        http_head_put(h, "\r\n", 2);
    }
    http_head_put(h, fh->text + fh->validators, fh->len - fh->validators);
}

static void send_file(pf_conn *c, const struct http_request *req,
                      struct http_outcome *o, const struct file_ref *f)
{
    struct http_conn     *hc = c->data;
    const struct stat    *st = f->st;
    const struct fc_head *fh = f->head;
    char                  buf[HEAD_MAX];
    struct http_head      h = {.buf = buf, .cap = sizeof(buf) - 1};
    off_t                 first = 0, last = st->st_size - 1;
    int       status = 200, r = 0, head_only = req->method == HTTP_HEAD;
    long long len = st->st_size;

    if (fh == NULL) { /* its type alone outgrows any head */
        o->status = 200;
        hc->close = 1;
        return;
    }
    if (not_modified(req, fh->etag, st->st_mtime)) {
        status = 304;
        len = 0;
    } else if (req->range.p != NULL &&
               (req->if_range.p == NULL ||
                http_if_range_matches(req->if_range.p, req->if_range.len,
                                      fh->etag, st->st_mtime))) {
        r = http_range_parse(req->range.p, req->range.len, st->st_size, &first,
                             &last);
        if (r == -1) {
            send_unsatisfiable(c, req, o, st);
            return;
        }
        if (r == 1) {
            status = 206;
            len = last - first + 1;
        }
    }
    file_head(&h, fh, status, first, last, st->st_size);
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
    struct file_ref          f = {.fd = e->fd,
                                  .st = &e->st,
                                  .body = e->body,
                                  .entry = e,
                                  .head = e->head.text != NULL ? &e->head : NULL};

    send_file(c, req, o, &f);
    if (hc->entry != e)
        fc_release(hs->cache, e);
}

/* Answer with a regular file just opened for key (the URL path): keep it
 * in the cache when possible, with the fixed parts of its head rendered
 * once for every answer it gives.  Takes fd. */
void http_send_opened(pf_conn *c, const struct http_request *req,
                      struct http_outcome *o, int fd, const struct stat *st,
                      const char *key)
{
    const struct http_state *hs = c->svc->data;
    struct http_conn        *hc = c->data;
    char                     text[HEAD_MAX];
    struct fc_head           fh;
    int fits = render_file_head(hs, st, type_name(hs, key), text, sizeof(text),
                                &fh) == 0;
    struct fc_entry *e =
        fc_put(hs->cache, key, fd, st, fits ? &fh : NULL, http_now_ms());
    struct file_ref f = {.fd = fd, .st = st, .head = fits ? &fh : NULL};

    if (e != NULL) {
        http_send_cached(c, req, o, e);
        return;
    }
    send_file(c, req, o, &f);
    if (hc->file != fd)
        close(fd);
}
