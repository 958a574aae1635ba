/*
 * response.h -- status lines, response heads and error pages.
 *
 * A head is built in the caller's buffer and sent with one write, together
 * with the body where there is one (pf_write_more, then sendfile).
 */
#ifndef PF_HTTP_RESPONSE_H
#define PF_HTTP_RESPONSE_H

#include <stddef.h>
#include <time.h>

#include <prefork/module.h>

#include "reason.h"

/* A response head under construction. */
struct http_head {
    char  *buf;
    size_t cap, len;
    int    overflow; /* something did not fit: do not send */
};

void http_head_init(struct http_head *h, char *buf, size_t cap, int status);
void http_head_add(struct http_head *h, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Date, Server, Connection (close, or keep-alive when `keep_alive` is 2:
 * an HTTP/1.0 client that asked for it), then the blank line. */
void http_head_end(struct http_head *h, int keep_alive);

/* The current time as an IMF-fixdate, formatted at most once a second per
 * thread. */
const char *http_now(void);

/* Send a complete error (or redirect) response with a small HTML body
 * (none for HEAD).  `location` adds a Location header, `allow` an Allow
 * header.  Returns the number of body bytes sent, or -1 on a write error. */
long long http_send_error(pf_conn *c, int status, int head_only, int keep_alive,
                          const char *location, const char *allow);

#endif
