/*
 * http.h -- the http module's configuration and per-process state, shared
 * by its files.
 */
#ifndef PF_HTTP_H
#define PF_HTTP_H

#include <limits.h>

#include <prefork/module.h>

#include "mime.h"

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
 * serving but for the access log, which locks itself. */
struct http_state {
    const struct http_conf  *conf;
    int                      rootfd; /* O_PATH of root: lookups start here */
    int                      use_openat2; /* else the realpath fallback */
    char                     rootreal[PATH_MAX]; /* root, resolved */
    size_t                   rootlen;
    const struct mime_table *mime;  /* shared, loaded by check() */
    struct accesslog        *log;   /* NULL without access_log */
    struct filecache        *cache; /* files kept open between requests */
};

/* A request body up to this size is read and thrown away so the connection
 * can serve the next request; a larger one gets 413 and the connection is
 * closed. */
#define HTTP_MAX_DISCARD (64 * 1024)

#endif
