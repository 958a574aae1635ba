/*
 * root.c -- the http module's document root: what a request's path
 * answers with.
 *
 * A path is normalised, then opened with openat2(RESOLVE_BENEATH)
 * relative to the root: the kernel itself refuses any path, dot-dot or
 * symlink that would leave it, in the same call that opens the file.  A
 * regular file is answered (send.c); a directory without its trailing
 * '/' is redirected to it, one with it is answered by its index file or,
 * with autoindex, a listing (autoindex.c).  The health path is answered
 * from whether this worker still takes new work.
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
#include <unistd.h>

#include "autoindex.h"
#include "filecache.h"
#include "state.h"
#include "path.h"
#include "request.h"
#include "response.h"
#include "root.h"
#include "send.h"

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
    char full[HTTP_PATH_MAX + 8], real[PATH_MAX];
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

int http_root_open(pf_service *svc, struct http_state *hs)
{
    const char *root = hs->conf->root;

    hs->rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (hs->rootfd == -1 || realpath(root, hs->rootreal) == NULL) {
        pf_log(svc, PF_LOG_ERROR, "root %s: %s", root, strerror(errno));
        return -1;
    }
    hs->rootlen = strlen(hs->rootreal);
    hs->use_openat2 = openat2_works(hs->rootfd);
    if (!hs->use_openat2)
        pf_log(svc, PF_LOG_NOTICE,
               "openat2 is not available (%s): paths are checked against "
               "the root with realpath",
               strerror(errno));
    return 0;
}

/* --- answering from the root --------------------------------------------- */

/* A redirect to the same path with '/' added, the query kept. */
static void redirect_dir(pf_conn *c, const struct http_request *req,
                         struct http_outcome *o, const char *path)
{
    const char *q = memchr(req->target.p, '?', req->target.len);
    char        loc[HTTP_PATH_MAX + HTTP_MAX_REQUEST_LINE + 2];
    int         n;

    n = snprintf(loc, sizeof(loc), "%s/%.*s", path,
                 q != NULL ? (int)(req->target.p + req->target.len - q) : 0,
                 q != NULL ? q : "");
    if (n < 0 || (size_t)n >= sizeof(loc)) {
        http_answer_error(c, req, o, 414, NULL, NULL);
        return;
    }
    http_answer_error(c, req, o, 301, loc, NULL);
}

static void serve_dir(pf_conn *c, const struct http_request *req,
                      struct http_outcome *o, int dirfd, const char *path)
{
    const struct http_state *hs = c->svc->data;
    struct http_conn        *hc = c->data;
    char                     rel[HTTP_PATH_MAX + 256];
    struct stat              st;
    long long                n;
    int                      fd = -1, status = 0;

    if ((size_t)snprintf(rel, sizeof(rel), "%s%s", path + 1, hs->conf->index) <
        sizeof(rel))
        fd = open_in_root(hs, rel, O_RDONLY | O_NONBLOCK);
    if (fd != -1 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        http_send_opened(c, req, o, fd, &st, path);
        return;
    }
    if (fd != -1)
        close(fd);
    if (!hs->conf->autoindex) {
        http_answer_error(c, req, o, 403, NULL, NULL);
        return;
    }
    n = http_autoindex(c, dirfd, path, req->method == HTTP_HEAD,
                       http_keep_value(req, hc->close), &status);
    if (n >= 0) {
        o->status = 200;
        o->bytes = n;
    } else if (status != 0) {
        http_answer_error(c, req, o, status, NULL, NULL);
    } else {
        hc->close = 1;
    }
}

static void serve_path(pf_conn *c, const struct http_request *req,
                       struct http_outcome *o, const char *path)
{
    const struct http_state *hs = c->svc->data;
    size_t                   plen = strlen(path);
    const char              *rel = path[1] != '\0' ? path + 1 : ".";
    struct fc_entry         *e = fc_get(hs->cache, path, http_now_ms());
    struct stat              st;
    int                      fd;

    if (e != NULL) {
        http_send_cached(c, req, o, e);
        return;
    }
    fd = open_in_root(hs, rel, O_RDONLY | O_NONBLOCK);
    if (fd == -1) {
        http_answer_error(c, req, o, http_path_open_status(errno), NULL, NULL);
        return;
    }
    if (fstat(fd, &st) == -1) {
        http_answer_error(c, req, o, 500, NULL, NULL);
    } else if (S_ISDIR(st.st_mode)) {
        if (path[plen - 1] != '/')
            redirect_dir(c, req, o, path);
        else
            serve_dir(c, req, o, fd, path);
    } else if (!S_ISREG(st.st_mode)) {
        http_answer_error(c, req, o, 403, NULL, NULL);
    } else if (path[plen - 1] == '/') {
        http_answer_error(c, req, o, 404, NULL, NULL); /* "/file.txt/" */
    } else {
        http_send_opened(c, req, o, fd, &st, path);
        return; /* fd is the cache's or the connection's now */
    }
    close(fd);
}

/* The health path: 200 while this worker takes new work, 503 from the
 * moment it or the server begins to stop, and then the connection closes,
 * so that a load balancer's next check comes on a new connection and
 * reaches a worker that still serves, if there is one. */
static void serve_health(pf_conn *c, const struct http_request *req,
                         struct http_outcome *o)
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
    http_head_add_num(&h, "Content-Length", (long long)blen);
    http_head_add(&h, "Cache-Control", "no-store");
    http_head_end(&h, http_keep_value(req, hc->close));
    if (req->method == HTTP_HEAD)
        blen = 0;
    h.cap = sizeof(buf); /* head and body in one write */
    http_head_put(&h, body, blen);
    if (pf_write(c, h.buf, h.len) == -1) {
        hc->close = 1;
        return;
    }
    o->bytes = (long long)blen;
}

void http_answer(pf_conn *c, const struct http_request *req,
                 struct http_outcome *o)
{
    const struct http_state *hs = c->svc->data;
    char                     path[HTTP_PATH_MAX];
    int                      r;

    if (req->method == HTTP_OTHER) {
        http_answer_error(c, req, o, 405, NULL, "GET, HEAD");
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
        http_answer_error(c, req, o, -r, NULL, NULL);
        return;
    }
    if (hs->conf->health != NULL && strcmp(path, hs->conf->health) == 0) {
        serve_health(c, req, o);
        return;
    }
    serve_path(c, req, o, path);
}
