/*
 * response.c -- status lines, response heads and error pages, written
 * with plain copies and a small integer writer.
 *
 * Heads are on the path of every request, and stdio's formatting (the
 * format parsed again each time, a FILE set up around the buffer for
 * each snprintf) once cost about as much as the rest of the module's
 * work on a request together; nginx writes its heads with ngx_cpymem for
 * the same reason.  The bytes are those the printf version wrote
 * (tests/unit/test_http_heads.c holds them to it).
 */
#define _GNU_SOURCE
#include <string.h>
#include <time.h>

#include "date.h"
#include "response.h"

#define SERVER_LINE "Server: prefork/" PACKAGE_VERSION "\r\n"

void http_head_str(struct http_head *h, const char *s)
{
    http_head_put(h, s, strlen(s));
}

void http_head_dec(struct http_head *h, unsigned long long v)
{
    char  d[24];
    char *p = d + sizeof(d);

    do
        *--p = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    http_head_put(h, p, (size_t)(d + sizeof(d) - p));
}

void http_head_hex(struct http_head *h, unsigned long long v)
{
    char  d[24];
    char *p = d + sizeof(d);

    do
        *--p = "0123456789abcdef"[v & 15];
    while ((v >>= 4) != 0);
    http_head_put(h, p, (size_t)(d + sizeof(d) - p));
}

/* A negative number, as "%lld" wrote it. */
static void head_signed(struct http_head *h, long long v)
{
    if (v < 0) {
        http_head_put(h, "-", 1);
        http_head_dec(h, 0ULL - (unsigned long long)v);
        return;
    }
    http_head_dec(h, (unsigned long long)v);
}

void http_head_init(struct http_head *h, char *buf, size_t cap, int status)
{
    h->buf = buf;
    h->cap = cap - 1; /* the NUL snprintf wanted room for: the same heads fit */
    h->len = 0;
    h->overflow = 0;
    http_head_put(h, "HTTP/1.1 ", 9);
    head_signed(h, status);
    http_head_put(h, " ", 1);
    http_head_str(h, http_reason(status));
    http_head_put(h, "\r\n", 2);
}

void http_head_add(struct http_head *h, const char *name, const char *value)
{
    http_head_str(h, name);
    http_head_put(h, ": ", 2);
    http_head_str(h, value);
    http_head_put(h, "\r\n", 2);
}

void http_head_add_num(struct http_head *h, const char *name, long long v)
{
    http_head_str(h, name);
    http_head_put(h, ": ", 2);
    head_signed(h, v);
    http_head_put(h, "\r\n", 2);
}

const char *http_date_server(size_t *len)
{
    static __thread time_t last;
    static __thread char   text[] =
        "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n" SERVER_LINE;
    time_t now = time(NULL);

    if (now != last) {
        char date[HTTP_DATE_LEN + 1];

        http_date_format(now, date);
        memcpy(text + 6, date, HTTP_DATE_LEN);
        last = now;
    }
    *len = sizeof(text) - 1;
    return text;
}

void http_head_end(struct http_head *h, int keep_alive)
{
    size_t      n;
    const char *ds = http_date_server(&n);

    http_head_put(h, ds, n);
    if (!keep_alive)
        http_head_put(h, "Connection: close\r\n", 19);
    else if (keep_alive == 2)
        http_head_put(h, "Connection: keep-alive\r\n", 24);
    http_head_put(h, "\r\n", 2);
}

/* The page of an error: its status and reason, as a title and a heading. */
static void error_page(struct http_head *b, int status)
{
    const char *reason = http_reason(status);

    http_head_str(b, "<!DOCTYPE html>\n<html><head><title>");
    head_signed(b, status);
    http_head_put(b, " ", 1);
    http_head_str(b, reason);
    http_head_str(b, "</title></head><body><h1>");
    head_signed(b, status);
    http_head_put(b, " ", 1);
    http_head_str(b, reason);
    http_head_str(b, "</h1></body></html>\n");
}

long long http_send_error(pf_conn *c, int status, int head_only, int keep_alive,
                          const char *location, const char *allow)
{
    char             body[256], buf[1024 + sizeof(body)];
    struct http_head b = {.buf = body, .cap = sizeof(body)};
    struct http_head h;

    error_page(&b, status);
    http_head_init(&h, buf, 1024, status);
    http_head_add(&h, "Content-Type", "text/html; charset=utf-8");
    http_head_add_num(&h, "Content-Length", (long long)b.len);
    if (location != NULL)
        http_head_add(&h, "Location", location);
    if (allow != NULL)
        http_head_add(&h, "Allow", allow);
    http_head_end(&h, keep_alive);
    if (h.overflow) /* only a Location longer than the buffer */
        return http_send_error(c, 414, head_only, 0, NULL, NULL);
    if (head_only)
        return pf_write(c, h.buf, h.len) == 0 ? 0 : -1;
    /* Head and page in one write. */
    h.cap = sizeof(buf);
    http_head_put(&h, b.buf, b.len);
    return pf_write(c, h.buf, h.len) == 0 ? (long long)b.len : -1;
}
