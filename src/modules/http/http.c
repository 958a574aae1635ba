/*
 * http.c -- the http module: a static file server for HTTP/1.0 and 1.1.
 *
 * handle() runs when a connection is readable.  It reads what is there
 * without blocking into the connection's buffer, answers every complete
 * request in it in order (pipelining), and hands the connection back to the
 * worker between requests (PF_IDLE, with keepalive_timeout) or while a
 * request head is still arriving (PF_MORE, with what is left of
 * header_timeout), so a worker is never held by a slow or idle client.
 * A response the client does not take at once is finished from here as
 * the connection takes more (PF_WRITE) before anything more is read.
 *
 * This file serves the connection: reading and parsing requests,
 * keep-alive, pipelining, request bodies dropped, the module's hooks and
 * keys.  What a path answers with is root.c's; sending it, send.c's.
 * Bytes are read with pf_recv_nowait, never from the descriptor, so a
 * transport under the connection is under the module too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accesslog.h"
#include "chunked.h"
#include "filecache.h"
#include "state.h"
#include "path.h"
#include "request.h"
#include "root.h"
#include "send.h"

/* Files each worker keeps open (a direct-mapped cache). */
#define FILE_CACHE_SLOTS 512

/* --- reading requests ----------------------------------------------------- */

static void log_request(pf_conn *c, const struct http_request *req,
                        const struct http_outcome *o)
{
    const struct http_state *hs = c->svc->data;

    pf_response_done(c, o->status); /* the server's metrics */
    if (hs->log != NULL)
        accesslog_add(hs->log, c->peer, req, o->status, o->bytes,
                      pf_tls_subject(c));
}

/* Answer a request that could not be parsed, then close. */
static void reject(pf_conn *c, int status)
{
    struct http_request none = {.method = HTTP_GET, .minor = 1};
    struct http_outcome o = {.status = status};
    struct http_conn   *hc = c->data;

    hc->close = 1;
    http_answer_error(c, &none, &o, status, NULL, NULL);
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
    struct http_conn   *hc = c->data;
    struct http_outcome o = {0};
    int                 body = 0;
    const char         *eol = memchr(hc->buf, '\n', headlen);

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
        http_answer_error(c, req, &o, -body, NULL, NULL);
    } else if (req->has_length && req->content_length > HTTP_MAX_DISCARD) {
        hc->close = 1;
        http_answer_error(c, req, &o, 413, NULL, NULL);
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
        http_answer(c, req, &o);
    }
    log_request(c, req, &o);
    consume(hc, headlen);
    if (req->has_length)
        hc->discard = req->content_length;
}

/*
 * Spares.  A connection between requests holds no receive buffer
 * (wait_more), and a closed one no state: what it gives back is kept as
 * the process's one spare of each and taken by the next connection that
 * needs it, so that a keep-alive request costs no malloc and free of
 * max_header_size bytes, and a new connection none of its struct
 * http_conn.  One of each only: idle connections still hold nothing, and
 * the spares' pages were dirtied anyway.  Exchanged atomically, as
 * handler threads share them in threading mode.
 */
static void *spare_take(void **slot)
{
    return __atomic_exchange_n(slot, NULL, __ATOMIC_ACQUIRE);
}

static void spare_give(void **slot, void *p)
{
    void *none = NULL;

    if (p != NULL && !__atomic_compare_exchange_n(
                         slot, &none, p, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        free(p);
}

/* The last connection of the process is gone: let the spares go too, so
 * that the worker's idle memory is what it was without them (the host
 * trims the heap once a worker has no connections). */
static void spares_drop(struct http_state *hs)
{
    free(spare_take(&hs->spare_buf));
    free(spare_take(&hs->spare_conn));
}

static char *buffer_take(struct http_state *hs, size_t cap)
{
    char *b = spare_take(&hs->spare_buf);

    return b != NULL ? b : malloc(cap);
}

/* Read what the socket has, without waiting.  Returns 1 when something
 * came, 0 when nothing did, -1 at end of stream or on an error. */
static int fill(pf_conn *c)
{
    struct http_conn *hc = c->data;
    ssize_t           n;
    int               got = 0;

    hc->full = 0;
    if (hc->buf == NULL &&
        (hc->buf = buffer_take(c->svc->data, hc->cap)) == NULL)
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
    struct http_state *hs = c->svc->data;
    struct http_conn  *hc = c->data;
    int64_t            now = http_now_ms();

    if (hc->len == 0 && hc->discard == 0 && !hc->chunking) {
        hc->head_deadline = 0;
        c->idle_timeout_ms = (int)hs->conf->keepalive_timeout;
        spare_give(&hs->spare_buf, hc->buf);
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
    /* A TLS ClientHello (a handshake record, 0x16) on a plain port: no
     * answer this client could read, and none worth a header_timeout. */
    if (c->requests == 0 && hc->len > 0 && (unsigned char)hc->buf[0] == 0x16) {
        pf_log(c->svc, PF_LOG_INFO,
               "a TLS handshake on a plain HTTP port: closed");
        return PF_CLOSE;
    }
    for (;;) {
        if (http_pending(hc) && http_send_pending(c)) {
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
        if (http_pending(hc))
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
    struct http_state *hs = c->svc->data;
    struct http_conn  *hc = spare_take(&hs->spare_conn);

    if (hc != NULL)
        memset(hc, 0, sizeof(*hc));
    else if ((hc = calloc(1, sizeof(*hc))) == NULL)
        return -1;
    __atomic_add_fetch(&hs->conns, 1, __ATOMIC_RELAXED);
    hc->file = -1;
    hc->cap = (size_t)hs->conf->max_header_size;
    c->data = hc;
    c->idle_timeout_ms = (int)hs->conf->header_timeout;
    return 0;
}

static void http_finish(pf_conn *c)
{
    struct http_state *hs = c->svc->data;
    struct http_conn  *hc = c->data;

    /* A head that never finished arriving gets its 408. */
    if (c->timed_out && hc->len > 0 && !hc->close && !http_pending(hc))
        reject(c, 408);
    http_output_free(c);
    spare_give(&hs->spare_buf, hc->buf);
    spare_give(&hs->spare_conn, hc);
    c->data = NULL;
    if (__atomic_sub_fetch(&hs->conns, 1, __ATOMIC_ACQ_REL) == 0)
        spares_drop(hs);
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
    char norm[HTTP_PATH_MAX];

    if (p[0] != '/' || strpbrk(p, "?#%") != NULL)
        return 0;
    return http_path_normalize(p, strlen(p), norm, sizeof(norm)) >= 0 &&
           strcmp(norm, p) == 0;
}

/* What the workers read and write once confined: the document root, the
 * MIME types (parsed here, declared for a reload's re-read), and the
 * access log's directory, where USR1 makes the file anew. */
static int http_sandbox_declare(pf_service *svc)
{
    const struct http_conf *conf = svc->conf;
    char                    dir[PATH_MAX];
    char                   *slash;

    if (pf_sandbox_allow(svc, conf->root, PF_SB_READ) == -1 ||
        pf_sandbox_allow(svc, "/etc/mime.types", PF_SB_READ) == -1)
        return -1;
    if (conf->access_log == NULL ||
        snprintf(dir, sizeof(dir), "%s", conf->access_log) >= (int)sizeof(dir))
        return 0;
    if ((slash = strrchr(dir, '/')) != NULL)
        slash[slash == dir] = '\0';
    return pf_sandbox_allow(svc, slash != NULL ? dir : ".", PF_SB_WRITE);
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
    return http_sandbox_declare(svc);
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
    spares_drop(hs);
    free(hs);
}

static int http_worker_init(pf_service *svc)
{
    const struct http_conf *conf = svc->conf;
    struct http_state      *hs = calloc(1, sizeof(*hs));

    if (hs == NULL)
        return -1;
    hs->conf = conf;
    hs->rootfd = -1;
    if (http_root_open(svc, hs) == -1)
        goto fail;
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
    .flags = PF_RESPONSES, /* log_request() reports each */
};
