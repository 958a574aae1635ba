/*
 * request.h -- parsing an HTTP/1.x request head (RFC 9112).
 *
 * The parser reads a complete head in place and never allocates: the
 * request's strings point into the caller's buffer.  It is strict where
 * leniency lets a request be read two ways (request smuggling): whitespace
 * before a colon, conflicting Content-Length values, Content-Length with
 * Transfer-Encoding, bare CR are all errors.
 */
#ifndef PF_HTTP_REQUEST_H
#define PF_HTTP_REQUEST_H

#include <stddef.h>

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_OTHER };

/* A string inside the caller's buffer; NULL/0 when absent. */
struct http_str {
    const char *p;
    size_t      len;
};

struct http_request {
    enum http_method method;
    struct http_str  method_str;
    struct http_str  target; /* as sent: origin-form or absolute-form */
    int              minor;  /* HTTP/1.<minor> (0 or 1) */

    struct http_str host;
    struct http_str if_modified_since;
    struct http_str if_none_match;
    struct http_str range;
    struct http_str if_range; /* "" (p set, len 0) when given twice */
    struct http_str user_agent;
    struct http_str referer;

    int       keep_alive;     /* after the version's default and Connection */
    int       has_length;     /* Content-Length was given */
    long long content_length; /* its value */
    int       chunked;        /* Transfer-Encoding: chunked (and only that) */
};

/* Request line longer than this: 414. */
#define HTTP_MAX_REQUEST_LINE 8192

/*
 * Parse the head at the start of buf[0..len).  Returns:
 *   > 0   the head is complete: that many bytes (through the blank line);
 *   0     incomplete, read more (len < max_head);
 *   < 0   an error status, negated: -400 malformed (also: no Host on
 *         HTTP/1.1, several Host, whitespace before a colon, conflicting
 *         Content-Length, Content-Length with Transfer-Encoding, a bare CR,
 *         a control character), -414 request line too long, -431 head
 *         larger than max_head, -501 a transfer coding other than chunked,
 *         -505 a version other than HTTP/1.0 and HTTP/1.1.
 * Empty lines before the request line are skipped (RFC 9112 2.2).
 */
int http_parse_request(const char *buf, size_t len, size_t max_head,
                       struct http_request *req);

#endif
