/*
 * response.c -- status lines, response heads and error pages.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "date.h"
#include "response.h"

#define SERVER_NAME "prefork/" PACKAGE_VERSION

const char *http_now(void)
{
    static __thread time_t last;
    static __thread char   text[HTTP_DATE_LEN + 1];
    time_t                 now = time(NULL);

    if (now != last) {
        http_date_format(now, text);
        last = now;
    }
    return text;
}

static void head_vadd(struct http_head *h, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void head_vadd(struct http_head *h, const char *fmt, va_list ap)
{
    int n;

    if (h->overflow)
        return;
    n = vsnprintf(h->buf + h->len, h->cap - h->len, fmt, ap);
    if (n < 0 || (size_t)n >= h->cap - h->len) {
        h->overflow = 1;
        return;
    }
    h->len += (size_t)n;
}

static void head_printf(struct http_head *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void head_printf(struct http_head *h, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    head_vadd(h, fmt, ap);
    va_end(ap);
}

void http_head_init(struct http_head *h, char *buf, size_t cap, int status)
{
    h->buf = buf;
    h->cap = cap;
    h->len = 0;
    h->overflow = 0;
    head_printf(h, "HTTP/1.1 %d %s\r\n", status, http_reason(status));
}

void http_head_add(struct http_head *h, const char *name, const char *fmt, ...)
{
    va_list ap;

    head_printf(h, "%s: ", name);
    va_start(ap, fmt);
    head_vadd(h, fmt, ap);
    va_end(ap);
    head_printf(h, "\r\n");
}

void http_head_end(struct http_head *h, int keep_alive)
{
    head_printf(h, "Date: %s\r\nServer: " SERVER_NAME "\r\n", http_now());
    if (!keep_alive)
        head_printf(h, "Connection: close\r\n");
    else if (keep_alive == 2)
        head_printf(h, "Connection: keep-alive\r\n");
    head_printf(h, "\r\n");
}

long long http_send_error(pf_conn *c, int status, int head_only, int keep_alive,
                          const char *location, const char *allow)
{
    char             body[256], buf[1024];
    struct http_head h;
    int              n;

    n = snprintf(body, sizeof(body),
                 "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>"
                 "<body><h1>%d %s</h1></body></html>\n",
                 status, http_reason(status), status, http_reason(status));
    http_head_init(&h, buf, sizeof(buf), status);
    http_head_add(&h, "Content-Type", "text/html; charset=utf-8");
    http_head_add(&h, "Content-Length", "%d", n);
    if (location != NULL)
        http_head_add(&h, "Location", "%s", location);
    if (allow != NULL)
        http_head_add(&h, "Allow", "%s", allow);
    http_head_end(&h, keep_alive);
    if (h.overflow) /* only a Location longer than the buffer */
        return http_send_error(c, 414, head_only, 0, NULL, NULL);
    if (head_only)
        return pf_write(c, h.buf, h.len) == 0 ? 0 : -1;
    if (pf_write_more(c, h.buf, h.len) == -1 || pf_write(c, body, (size_t)n))
        return -1;
    return n;
}
