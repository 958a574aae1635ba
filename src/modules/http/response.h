/*
 * response.h -- status lines, response heads and error pages.
 *
 * A head is built in the caller's buffer with plain copies and a small
 * integer writer, never stdio, and sent with one write, together with
 * the body where there is one.  What does not change from one request
 * to the next is rendered once: a cached file's head with its entry
 * (send.c), the Date and Server lines once a second.
 */
#ifndef PF_HTTP_RESPONSE_H
#define PF_HTTP_RESPONSE_H

#include <stddef.h>
#include <string.h>
#include <time.h>

#include <prefork/module.h>

#include "reason.h"

/* A response head under construction. */
struct http_head {
    char  *buf;
    size_t cap, len;
    int    overflow; /* something did not fit: do not send */
};

/* Start h in buf (cap bytes) with the status line of status. */
void http_head_init(struct http_head *h, char *buf, size_t cap, int status);

/* Append n bytes as they are. */
static inline void http_head_put(struct http_head *h, const char *s, size_t n)
{
    if (h->overflow || n > h->cap - h->len) {
        h->overflow = 1;
        return;
    }
    memcpy(h->buf + h->len, s, n);
    h->len += n;
}

/* Append a string, a number in decimal, a number in lower-case hex. */
void http_head_str(struct http_head *h, const char *s);
void http_head_dec(struct http_head *h, unsigned long long v);
void http_head_hex(struct http_head *h, unsigned long long v);

/* A header line "name: value\r\n", the value a string or a number. */
void http_head_add(struct http_head *h, const char *name, const char *value);
void http_head_add_num(struct http_head *h, const char *name, long long v);

/* Date, Server, Connection (close, or keep-alive when `keep_alive` is 2:
 * an HTTP/1.0 client that asked for it), then the blank line. */
void http_head_end(struct http_head *h, int keep_alive);

/* The "Date: ...\r\nServer: ...\r\n" lines as of now, rendered at most
 * once a second per thread; *len is set to their length. */
const char *http_date_server(size_t *len);

/* Send a complete error (or redirect) response with a small HTML body
 * (none for HEAD).  `location` adds a Location header, `allow` an Allow
 * header.  Returns the number of body bytes sent, or -1 on a write error. */
long long http_send_error(pf_conn *c, int status, int head_only, int keep_alive,
                          const char *location, const char *allow);

#endif
