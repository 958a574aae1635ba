/*
 * state.h -- the http module's configuration, per-process and
 * per-connection state, shared by its files: http.c serves the
 * connection, root.c finds what a path answers with, send.c sends it.
 */
#ifndef PF_HTTP_STATE_H
#define PF_HTTP_STATE_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <prefork/module.h>

#include "chunked.h"
#include "mime.h"

/* The longest normalised request path. */
#define HTTP_PATH_MAX 4096

struct accesslog;
struct filecache;

/* Filled by the core from the service's keys. */
struct http_conf {
    char     *root;
    char     *index;
    char     *access_log;
    long long keepalive_timeout; /* ms */
    long long header_timeout;    /* ms */
    long long send_timeout;      /* ms */
    long long file_cache_valid;  /* ms; 0: fstat on every request */
    long long max_header_size;   /* bytes */
    int       autoindex;
    char     *health; /* a path answered 200 or 503, or NULL */
};

/* Each worker's own (svc->data), set up by worker_init; read-only while
 * serving but for the access log, which locks itself, and the spares,
 * exchanged atomically (http.c). */
struct http_state {
    const struct http_conf  *conf;
    int                      rootfd; /* O_PATH of root: lookups start here */
    int                      use_openat2; /* else the realpath fallback */
    char                     rootreal[PATH_MAX]; /* root, resolved */
    size_t                   rootlen;
    const struct mime_table *mime;  /* shared, loaded by check() */
    struct accesslog        *log;   /* NULL without access_log */
    struct filecache        *cache; /* files kept open between requests */
    void    *spare_buf;  /* a receive buffer no connection holds (http.c) */
    void    *spare_conn; /* a struct http_conn no connection holds */
    unsigned conns;      /* connections set up and not finished */
};

/* A request body up to this size is read and thrown away so the connection
 * can serve the next request; a larger one gets 413 and the connection is
 * closed. */
#define HTTP_MAX_DISCARD (64 * 1024)

struct fc_entry;

/* What one connection carries between handle() calls (c->data). */
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
    /* A response on its way out (send.c): first out[0..out_len), what the
     * connection did not take of a head (and small body), then left bytes
     * of file from off.  The file is entry's when entry is set, else
     * ours. */
    char            *out;
    size_t           out_len;
    int              file;
    off_t            off;
    size_t           left;
    struct fc_entry *entry;
};

/* One request's outcome, for the access log. */
struct http_outcome {
    int       status;
    long long bytes;
};

/* Milliseconds on the monotonic clock: deadlines and the file cache. */
static inline int64_t http_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
