/*
 * test_http_chunked.c -- the chunked body decoder: where a body ends, with
 * extensions and trailers, split at every byte; and the sizes, lines and
 * fields it must refuse.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "modules/http/chunked.h"

#define MAX (64 * 1024)

/* Feed s whole, then split in two at every offset, then a byte at a time:
 * each time the result is rc, reached after the same bytes. */
static void check(const char *s, int want, size_t want_used)
{
    size_t              n = strlen(s), used, total;
    struct http_chunked ck;
    int                 rc;

    http_chunked_init(&ck);
    rc = http_chunked_feed(&ck, s, n, MAX, &used);
    cr_assert_eq(rc, want, "whole: %d, not %d, for \"%s\"", rc, want, s);
    cr_assert_eq(used, want_used, "whole: used %zu, not %zu, for \"%s\"", used,
                 want_used, s);
    for (size_t cut = 0; cut <= n; cut++) {
        http_chunked_init(&ck);
        rc = http_chunked_feed(&ck, s, cut, MAX, &used);
        total = used;
        if (rc == 0) {
            cr_assert_eq(used, cut, "cut %zu: took %zu", cut, used);
            rc = http_chunked_feed(&ck, s + cut, n - cut, MAX, &used);
            total += used;
        }
        cr_assert_eq(rc, want, "cut at %zu: %d, not %d, for \"%s\"", cut, rc,
                     want, s);
        cr_assert_eq(total, want_used, "cut at %zu: used %zu, not %zu", cut,
                     total, want_used);
    }
    http_chunked_init(&ck);
    rc = 0;
    total = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = http_chunked_feed(&ck, s + i, 1, MAX, &used);
        total += used;
    }
    cr_assert_eq(rc, want, "bytewise: %d, not %d, for \"%s\"", rc, want, s);
    cr_assert_eq(total, want_used, "bytewise: used %zu, not %zu", total,
                 want_used);
}

/* s is a whole body, and what follows it is not read. */
static void body(const char *s)
{
    char buf[512];

    check(s, 1, strlen(s));
    snprintf(buf, sizeof buf, "%sGET / HTTP/1.1\r\n", s);
    check(buf, 1, strlen(s));
}

/* s goes wrong (status) at its last byte. */
static void bad(const char *s, int status)
{
    check(s, status, strlen(s));
}

Test(chunked, bodies_end_where_they_end)
{
    body("0\r\n\r\n");
    body("000\r\n\r\n");
    body("3\r\nabc\r\n0\r\n\r\n");
    body("A\r\n0123456789\r\n1\r\n\n\r\n0\r\n\r\n");
    body("a\r\n0123456789\r\nf\r\n0123456789abcde\r\n0\r\n\r\n");
    /* Chunk data is data: CRLFs and zeros in it end nothing. */
    body("5\r\n0\r\n\r\n\r\n0\r\n\r\n");
}

Test(chunked, extensions_are_read_and_dropped)
{
    body("3;a\r\nabc\r\n0\r\n\r\n");
    body("3;a=b\r\nabc\r\n0;last\r\n\r\n");
    body("3 ; a = b ;c\r\nabc\r\n0\r\n\r\n");
    body("3;a=\"x;y \\\" z\"\r\nabc\r\n0\r\n\r\n");
    body("3;a=\"\";b=c\r\nabc\r\n0\r\n\r\n");
}

Test(chunked, trailers_are_read_and_dropped)
{
    body("3\r\nabc\r\n0\r\nX-Sum: 12\r\n\r\n");
    body("0\r\nA: 1\r\nB:\r\nC: x y\r\n\r\n");
}

Test(chunked, bad_sizes)
{
    bad("\r", -400);                   /* empty */
    bad(";", -400);                    /* empty, with an extension */
    bad("x", -400);                    /* not hex */
    bad("-", -400);                    /* negative */
    bad("+", -400);                    /* signed */
    bad(" ", -400);                    /* whitespace first */
    bad("0x", -400);                   /* a C prefix */
    bad("3z", -400);                   /* junk after the digits */
    bad("10000000000000000", -400);    /* 17 hex digits */
    bad("ffffffffffffffff", -400);     /* 2^64 - 1 */
    bad("3\r\nabc\r\n\r", -400);       /* an empty size after a chunk */
    bad("3\r\nabc\r\n-", -400);        /* a negative one */
    bad("7fffffffffffffff\r\n", -413); /* fits, but far over the limit */
    bad("10001\r\n", -413);            /* just over 64 KiB */
}

Test(chunked, bad_lines)
{
    bad("3\n", -400);        /* a bare LF ends no size line */
    bad("3\rx", -400);       /* a bare CR */
    bad("3\r\nabcd", -400);  /* data longer than its size */
    bad("3\r\nabc\n", -400); /* data not followed by CRLF */
    bad("3\r\nabc\r\r", -400);
    bad("3 \r", -400);   /* whitespace with no extension */
    bad("3;\r", -400);   /* an extension with no name */
    bad("3;a=\r", -400); /* ... or no value after "=" */
    bad("3;a b", -400);  /* two tokens */
    bad("3;a=b c", -400);
    bad("3;a=\"b\r", -400);  /* CR inside a quoted string */
    bad("3;a=\"\x01", -400); /* a control character */
    bad("3;a@", -400);       /* not a token */
    bad("0\r\n\n", -400);    /* a bare LF ends no body */
}

Test(chunked, bad_trailers)
{
    bad("0\r\n ", -400); /* obs-fold */
    bad("0\r\n\t", -400);
    bad("0\r\nA ", -400);      /* whitespace before the colon */
    bad("0\r\n:", -400);       /* no name */
    bad("0\r\nA: b\rc", -400); /* a bare CR */
    bad("0\r\nA: \x7f", -400); /* DEL */
    bad("0\r\nA: b\n", -400);  /* a bare LF */
}

/* The limit counts chunk data across chunks, and framing on its own. */
Test(chunked, the_limit)
{
    static char         data[MAX + 16];
    struct http_chunked ck;
    size_t              used;
    char                line[64];

    memset(data, 'x', sizeof data);
    http_chunked_init(&ck);
    cr_assert_eq(http_chunked_feed(&ck, "8000\r\n", 6, MAX, &used), 0);
    cr_assert_eq(http_chunked_feed(&ck, data, 0x8000, MAX, &used), 0);
    cr_assert_eq(used, 0x8000);
    cr_assert_eq(http_chunked_feed(&ck, "\r\n8000\r\n", 8, MAX, &used), 0);
    cr_assert_eq(http_chunked_feed(&ck, data, 0x8000, MAX, &used), 0);
    /* Exactly 64 KiB so far: one byte more is too much. */
    cr_assert_eq(http_chunked_feed(&ck, "\r\n1\r\n", 5, MAX, &used), -413);
    http_chunked_init(&ck);
    snprintf(line, sizeof line, "%x\r\n", MAX);
    cr_assert_eq(http_chunked_feed(&ck, line, strlen(line), MAX, &used), 0);
    cr_assert_eq(http_chunked_feed(&ck, data, MAX, MAX, &used), 0);
    cr_assert_eq(http_chunked_feed(&ck, "\r\n0\r\n\r\nG", 8, MAX, &used), 1);
    cr_assert_eq(used, 7);
    /* Nothing but extensions, forever, is stopped too. */
    http_chunked_init(&ck);
    data[0] = '1';
    data[1] = ';';
    cr_assert_eq(http_chunked_feed(&ck, data, MAX + 16, MAX, &used), -413);
}

Test(chunked, incomplete_bodies_want_more)
{
    check("0\r\nA", 0, 4);
    check("3;a=\"x", 0, 6);
    check("3\r\nab", 0, 5);
    check("", 0, 0);
}
