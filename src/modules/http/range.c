/*
 * range.c -- single byte ranges (RFC 9110 14.1.2, 14.2).
 *
 * Only "bytes=first-last", "bytes=first-" and "bytes=-suffix" are served.
 * Anything else, several ranges included, is ignored and the whole file is
 * sent, which RFC 9110 14.2 allows.  Numbers too large for off_t are
 * ignored the same way rather than guessed at.
 */
#define _GNU_SOURCE

#include <string.h>

#include "date.h"
#include "range.h"

/* An unsigned run of digits at v[*i..len) into *out, advancing *i: 1 when
 * there was one, 0 when there was none, -1 when it overflows off_t. */
static int number(const char *v, size_t len, size_t *i, off_t *out)
{
    off_t  n = 0;
    size_t start = *i;

    for (; *i < len && v[*i] >= '0' && v[*i] <= '9'; ++*i)
        if (__builtin_mul_overflow(n, 10, &n) ||
            __builtin_add_overflow(n, v[*i] - '0', &n))
            return -1;
    *out = n;
    return *i > start;
}

/* Does v start with "bytes=", the unit compared without case (RFC 9110
 * 14.1)? */
static int bytes_unit(const char *v, size_t len)
{
    static const char unit[] = "bytes=";
    size_t            i;

    if (len < sizeof(unit) - 1)
        return 0;
    for (i = 0; i < sizeof(unit) - 1; i++) {
        char c = v[i];

        if (c >= 'A' && c <= 'Z')
            c = (char)(c + ('a' - 'A'));
        if (c != unit[i])
            return 0;
    }
    return 1;
}

/* The suffix form "-n": the last n bytes. */
static int suffix(off_t n, off_t size, off_t *first, off_t *last)
{
    if (n == 0 || size == 0)
        return -1;
    *first = n >= size ? 0 : size - n;
    *last = size - 1;
    return 1;
}

int http_range_parse(const char *v, size_t len, off_t size, off_t *first,
                     off_t *last)
{
    size_t i = sizeof("bytes=") - 1;
    off_t  a = 0, b = 0;
    int    has_a, has_b;

    if (size < 0 || !bytes_unit(v, len))
        return 0;
    has_a = number(v, len, &i, &a);
    if (has_a < 0 || i >= len || v[i] != '-')
        return 0;
    i++;
    has_b = number(v, len, &i, &b);
    /* i < len: a comma (several ranges) or anything else unexpected. */
    if (has_b < 0 || i != len)
        return 0;
    if (!has_a)
        return has_b ? suffix(b, size, first, last) : 0;
    if (has_b && a > b)
        return 0;
    if (a >= size)
        return -1;
    *first = a;
    *last = has_b && b < size - 1 ? b : size - 1;
    return 1;
}

int http_if_range_matches(const char *v, size_t len, const char *etag,
                          time_t mtime)
{
    time_t t;

    if (len > 0 && v[0] == '"') /* a strong tag; W/"..." is weak */
        return len == strlen(etag) && memcmp(v, etag, len) == 0;
    if (len >= 2 && v[0] == 'W' && v[1] == '/')
        return 0;
    return http_date_parse(v, len, &t) == 0 && t == mtime;
}
