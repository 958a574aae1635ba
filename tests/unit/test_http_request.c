/*
 * test_http_request.c -- the HTTP/1.x request head parser: the fields a
 * module reads, every status it answers with, heads arriving in pieces and
 * pipelined, and the smuggling vectors it must refuse.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "modules/http/request.h"

#define BIG 65536

static int parse_n(const char *s, size_t n, size_t max_head,
                   struct http_request *req)
{
    return http_parse_request(s, n, max_head, req);
}

static int parse(const char *s, struct http_request *req)
{
    return parse_n(s, strlen(s), BIG, req);
}

/* The whole string is one complete head. */
static void ok(const char *s, struct http_request *req)
{
    cr_assert_eq(parse(s, req), (int)strlen(s), "should parse: %s", s);
}

static int str_is(struct http_str v, const char *want)
{
    return v.p != NULL && v.len == strlen(want) &&
           memcmp(v.p, want, v.len) == 0;
}

/* ---- fields of good requests ------------------------------------------- */

Test(request, simple_get)
{
    struct http_request r;

    ok("GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n", &r);
    cr_assert_eq(r.method, HTTP_GET);
    cr_assert(str_is(r.method_str, "GET"));
    cr_assert(str_is(r.target, "/index.html"));
    cr_assert_eq(r.minor, 1);
    cr_assert(str_is(r.host, "example.com"));
    cr_assert_eq(r.keep_alive, 1);
    cr_assert_eq(r.has_length, 0);
    cr_assert_eq(r.chunked, 0);
    cr_assert_null(r.range.p);
    cr_assert_null(r.if_modified_since.p);
    cr_assert_null(r.if_none_match.p);
    cr_assert_null(r.if_range.p);
    cr_assert_null(r.user_agent.p);
    cr_assert_null(r.referer.p);
}

Test(request, methods)
{
    static const struct {
        const char      *line;
        enum http_method m;
        const char      *name;
    } cases[] = {
        {"GET / HTTP/1.0\r\n\r\n", HTTP_GET, "GET"},
        {"HEAD / HTTP/1.0\r\n\r\n", HTTP_HEAD, "HEAD"},
        {"POST / HTTP/1.0\r\n\r\n", HTTP_OTHER, "POST"},
        {"DELETE / HTTP/1.0\r\n\r\n", HTTP_OTHER, "DELETE"},
        {"get / HTTP/1.0\r\n\r\n", HTTP_OTHER, "get"}, /* case-sensitive */
        {"Head / HTTP/1.0\r\n\r\n", HTTP_OTHER, "Head"},
        {"GETX / HTTP/1.0\r\n\r\n", HTTP_OTHER, "GETX"},
        {"M-SEARCH * HTTP/1.0\r\n\r\n", HTTP_OTHER, "M-SEARCH"},
        {"!#$%&'*+-.^_`|~09az / HTTP/1.0\r\n\r\n", HTTP_OTHER,
         "!#$%&'*+-.^_`|~09az"},
    };
    struct http_request r;
    size_t              i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ok(cases[i].line, &r);
        cr_assert_eq(r.method, cases[i].m, "%s", cases[i].line);
        cr_assert(str_is(r.method_str, cases[i].name), "%s", cases[i].line);
    }
}

Test(request, http10_needs_no_host)
{
    struct http_request r;

    ok("GET / HTTP/1.0\r\n\r\n", &r);
    cr_assert_eq(r.minor, 0);
    cr_assert_null(r.host.p);
    cr_assert_eq(r.keep_alive, 0);
}

Test(request, empty_host_is_present)
{
    struct http_request r;

    ok("GET / HTTP/1.1\r\nHost:\r\n\r\n", &r);
    cr_assert_not_null(r.host.p);
    cr_assert_eq(r.host.len, 0);
}

Test(request, host_forms)
{
    static const char *hosts[] = {
        "localhost", "example.com:8080", "[::1]:80", "192.0.2.1", "a-b_c~d",
    };
    char                buf[256];
    struct http_request r;
    size_t              i;

    for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
                 hosts[i]);
        ok(buf, &r);
        cr_assert(str_is(r.host, hosts[i]), "%s", hosts[i]);
    }
}

Test(request, field_names_ignore_case_and_values_lose_ows)
{
    struct http_request r;

    ok("GET /x HTTP/1.1\r\n"
       "hOsT:h\r\n"
       "RANGE:   bytes=0-1 \t\r\n"
       "if-modified-since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
       "IF-NONE-MATCH: \"abc\", W/\"d\"\r\n"
       "user-agent: curl/8.0\r\n"
       "REFERER: http://example.com/\r\n"
       "X-Other: whatever\r\n"
       "\r\n",
       &r);
    cr_assert(str_is(r.host, "h"));
    cr_assert(str_is(r.range, "bytes=0-1"));
    cr_assert(str_is(r.if_modified_since, "Sun, 06 Nov 1994 08:49:37 GMT"));
    cr_assert(str_is(r.if_none_match, "\"abc\", W/\"d\""));
    cr_assert(str_is(r.user_agent, "curl/8.0"));
    cr_assert(str_is(r.referer, "http://example.com/"));
}

Test(request, empty_value_is_present_and_empty)
{
    struct http_request r;

    ok("GET / HTTP/1.0\r\nUser-Agent: \t \r\n\r\n", &r);
    cr_assert_not_null(r.user_agent.p);
    cr_assert_eq(r.user_agent.len, 0);
}

Test(request, obs_text_in_values_is_kept)
{
    struct http_request r;

    ok("GET / HTTP/1.0\r\nUser-Agent: caf\xc3\xa9\r\n\r\n", &r);
    cr_assert(str_is(r.user_agent, "caf\xc3\xa9"));
}

Test(request, single_value_fields_given_twice_are_dropped)
{
    struct http_request r;

    ok("GET / HTTP/1.0\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n"
       "Range: bytes=4-5\r\n"
       "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
       "If-Modified-Since: Sun, 06 Nov 1994 08:49:38 GMT\r\n\r\n",
       &r);
    cr_assert_null(r.range.p);
    cr_assert_eq(r.range.len, 0);
    cr_assert_null(r.if_modified_since.p);
}

Test(request, if_range_is_kept_as_sent)
{
    struct http_request r;

    ok("GET / HTTP/1.1\r\nHost: h\r\nRange: bytes=0-9\r\n"
       "if-range:  \"abc\" \r\n\r\n",
       &r);
    cr_assert(str_is(r.if_range, "\"abc\""));
    cr_assert(str_is(r.range, "bytes=0-9"));
    ok("GET / HTTP/1.1\r\nHost: h\r\n"
       "If-Range: Wed, 01 Jan 2020 00:00:00 GMT\r\n\r\n",
       &r);
    cr_assert(str_is(r.if_range, "Wed, 01 Jan 2020 00:00:00 GMT"));
    cr_assert_null(r.range.p);
}

/* Dropping a second If-Range would serve the range unconditionally: it is
 * kept as an empty validator, which matches nothing. */
Test(request, if_range_given_twice_matches_nothing)
{
    struct http_request r;

    ok("GET / HTTP/1.1\r\nHost: h\r\nRange: bytes=0-9\r\n"
       "If-Range: \"a\"\r\nIf-Range: \"a\"\r\n\r\n",
       &r);
    cr_assert_not_null(r.if_range.p);
    cr_assert_eq(r.if_range.len, 0);
}

Test(request, list_fields_keep_the_first)
{
    struct http_request r;

    ok("GET / HTTP/1.0\r\nIf-None-Match: \"a\"\r\nIf-None-Match: \"b\"\r\n"
       "User-Agent: one\r\nUser-Agent: two\r\n\r\n",
       &r);
    cr_assert(str_is(r.if_none_match, "\"a\""));
    cr_assert(str_is(r.user_agent, "one"));
}

Test(request, target_forms_are_passed_through)
{
    static const char *targets[] = {
        "/", "/a/b?c=d&e#f",       "http://example.com/x",
        "*", "/%2e%2e/etc/passwd", "/caf\xc3\xa9",
    };
    char                buf[256];
    struct http_request r;
    size_t              i;

    for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        snprintf(buf, sizeof(buf), "OPTIONS %s HTTP/1.1\r\nHost: h\r\n\r\n",
                 targets[i]);
        ok(buf, &r);
        cr_assert(str_is(r.target, targets[i]), "%s", targets[i]);
    }
}

/* ---- Connection ---------------------------------------------------------- */

Test(request, keep_alive)
{
    static const struct {
        const char *req;
        int         keep_alive;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: CLOSE\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\nConnection: close\r\n\r\n", 0},
        {"GET / HTTP/1.0\r\nConnection: Upgrade, keep-alive\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\nConnection: keep-alive,close\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: te , close , x\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n"
         "Connection: close\r\n\r\n",
         0},
        {"GET / HTTP/1.0\r\nConnection: ,,keep-alive,\r\n\r\n", 1},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n", 0},
    };
    struct http_request r;
    size_t              i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ok(cases[i].req, &r);
        cr_assert_eq(r.keep_alive, cases[i].keep_alive, "%s", cases[i].req);
    }
}

/* ---- message framing ----------------------------------------------------- */

Test(request, content_length)
{
    static const struct {
        const char *value;
        long long   len;
    } cases[] = {
        {"Content-Length: 0\r\n", 0},
        {"Content-Length: 5\r\n", 5},
        {"Content-Length: 007\r\n", 7},
        {"Content-Length: 5, 5\r\n", 5},
        {"Content-Length: 5,5 ,  5\r\n", 5},
        {"Content-Length: 5\r\ncontent-length: 5\r\n", 5},
        {"Content-Length: 9223372036854775807\r\n", 9223372036854775807LL},
    };
    char                buf[256];
    struct http_request r;
    size_t              i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\nHost: h\r\n%s\r\n",
                 cases[i].value);
        ok(buf, &r);
        cr_assert_eq(r.has_length, 1, "%s", cases[i].value);
        cr_assert_eq(r.content_length, cases[i].len, "%s", cases[i].value);
        cr_assert_eq(r.chunked, 0);
    }
}

Test(request, chunked)
{
    static const char  *values[] = {"chunked", "Chunked", "CHUNKED",
                                    " chunked "};
    char                buf[256];
    struct http_request r;
    size_t              i;

    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        snprintf(buf, sizeof(buf),
                 "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:%s\r\n\r\n",
                 values[i]);
        ok(buf, &r);
        cr_assert_eq(r.chunked, 1, "%s", values[i]);
        cr_assert_eq(r.has_length, 0);
    }
}

Test(request, head_ends_before_the_body)
{
    const char         *s = "POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 5"
                            "\r\n\r\nhello";
    struct http_request r;

    cr_assert_eq(parse(s, &r), (int)(strlen(s) - 5));
    cr_assert_eq(r.content_length, 5);
}

/* ---- line ends, leading empty lines, pipelining ---------------------------
 */

Test(request, bare_lf_line_ends)
{
    struct http_request r;

    ok("GET /lf HTTP/1.1\nHost: h\nRange: bytes=1-2\n\n", &r);
    cr_assert(str_is(r.target, "/lf"));
    cr_assert(str_is(r.host, "h"));
    cr_assert(str_is(r.range, "bytes=1-2"));
    ok("GET /mixed HTTP/1.1\r\nHost: h\nX: y\r\n\n", &r);
    ok("GET /mixed HTTP/1.1\nHost: h\r\n\r\n", &r);
}

Test(request, leading_empty_lines_are_skipped)
{
    static const char *cases[] = {
        "\r\nGET / HTTP/1.0\r\n\r\n",
        "\r\n\r\n\r\nGET / HTTP/1.0\r\n\r\n",
        "\nGET / HTTP/1.0\r\n\r\n",
        "\n\r\n\nGET / HTTP/1.0\n\n",
    };
    struct http_request r;
    size_t              i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ok(cases[i], &r);
        cr_assert(str_is(r.method_str, "GET"));
        cr_assert(str_is(r.target, "/"));
    }
}

Test(request, pipelined_returns_first_head_only)
{
    const char *first = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n";
    const char *second = "HEAD /2 HTTP/1.1\nHost: h\n\n";
    const char *third = "GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n";
    char        buf[256];
    struct http_request r;
    size_t              n, off = 0;
    int                 rc;

    n = (size_t)snprintf(buf, sizeof(buf), "%s%s%s", first, second, third);
    rc = parse_n(buf, n, BIG, &r);
    cr_assert_eq(rc, (int)strlen(first));
    cr_assert(str_is(r.target, "/1"));
    off += (size_t)rc;
    rc = parse_n(buf + off, n - off, BIG, &r);
    cr_assert_eq(rc, (int)strlen(second));
    cr_assert_eq(r.method, HTTP_HEAD);
    cr_assert(str_is(r.target, "/2"));
    off += (size_t)rc;
    /* The third has not ended yet. */
    cr_assert_eq(parse_n(buf + off, n - off, BIG, &r), 0);
}

/* Every proper prefix of a good head is incomplete; the whole is not. */
static void byte_by_byte(const char *s)
{
    struct http_request r;
    size_t              n = strlen(s), k;

    for (k = 0; k < n; k++)
        cr_assert_eq(parse_n(s, k, BIG, &r), 0, "%zu bytes of %s", k, s);
    cr_assert_eq(parse_n(s, n, BIG, &r), (int)n, "%s", s);
}

Test(request, incomplete_until_the_blank_line)
{
    byte_by_byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\n"
                 "User-Agent: x\r\nRange: bytes=0-\r\n\r\n");
    byte_by_byte("GET / HTTP/1.0\n\n");
    byte_by_byte("\r\n\r\nHEAD / HTTP/1.0\r\n\r\n");
    byte_by_byte("GET / HTTP/1.0\r\n\r\n");
}

Test(request, incomplete_request_line_with_pending_cr)
{
    struct http_request r;

    cr_assert_eq(parse("GET / HTTP/1.1\r", &r), 0);
    cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: h\r\n\r", &r), 0);
    cr_assert_eq(parse("\r", &r), 0);
    cr_assert_eq(parse("", &r), 0);
}

/* ---- statuses ------------------------------------------------------------ */

struct bad {
    const char *req;
    int         status;
};

static void expect_all(const struct bad *cases, size_t n)
{
    struct http_request r;
    size_t              i;

    for (i = 0; i < n; i++)
        cr_assert_eq(parse(cases[i].req, &r), cases[i].status,
                     "expected %d for \"%s\"", cases[i].status, cases[i].req);
}

#define EXPECT_ALL(t) expect_all((t), sizeof(t) / sizeof((t)[0]))

Test(request, malformed_is_400)
{
    static const struct bad cases[] = {
        /* request line */
        {" / HTTP/1.0\r\n\r\n", -400},
        {"GET  / HTTP/1.0\r\n\r\n", -400},
        {"GET /  HTTP/1.0\r\n\r\n", -400},
        {"GET\t/ HTTP/1.0\r\n\r\n", -400},
        {"GET / HTTP/1.0 \r\n\r\n", -400},
        {"GET /a b HTTP/1.0\r\n\r\n", -400},
        {"GET /\r\n\r\n", -400},
        {"GET\r\n\r\n", -400},
        {"GET HTTP/1.0\r\n\r\n", -400},
        {"G(T / HTTP/1.0\r\n\r\n", -400},
        {"G\"T / HTTP/1.0\r\n\r\n", -400},
        {"GET /\x01 HTTP/1.0\r\n\r\n", -400},
        {"GET /\x7f HTTP/1.0\r\n\r\n", -400},
        {"GET / HTTX/1.1\r\n\r\n", -400},
        {"GET / http/1.1\r\n\r\n", -400},
        {"GET / HTTP/\r\n\r\n", -400},
        {"GET / HTTP/1.\r\n\r\n", -400},
        {"GET / HTTP/.1\r\n\r\n", -400},
        {"GET / HTTP/1.1.1\r\n\r\n", -400},
        {"GET / HTTP/1x1\r\n\r\n", -400},
        {"GET / HTTP\r\n\r\n", -400},
        {"GET / 1.1\r\n\r\n", -400},
        /* header lines */
        {"GET / HTTP/1.0\r\nNoColon\r\n\r\n", -400},
        {"GET / HTTP/1.0\r\n: empty-name\r\n\r\n", -400},
        {"GET / HTTP/1.0\r\nX@Y: z\r\n\r\n", -400},
        {"GET / HTTP/1.0\r\nX Y: z\r\n\r\n", -400},
        {"GET / HTTP/1.0\r\nX: a\x01z\r\n\r\n", -400},
        {"GET / HTTP/1.0\r\nX: a\x7fz\r\n\r\n", -400},
        {"GET / HTTP/1.0\r\nX: a\x1b[0m\r\n\r\n", -400},
        /* Host */
        {"GET / HTTP/1.1\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nX-Host: h\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", -400},
        {"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost: user@h\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost: h?x\r\n\r\n", -400},
        /* Content-Length */
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", -400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", -400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", -400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5a\r\n\r\n", -400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", -400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", -400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5,\r\n\r\n", -400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\n", -400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
         "Content-Length: 6\r\n\r\n",
         -400},
        {"POST / HTTP/1.1\r\nHost: h\r\n"
         "Content-Length: 9223372036854775808\r\n\r\n",
         -400},
        {"POST / HTTP/1.1\r\nHost: h\r\n"
         "Content-Length: 99999999999999999999999\r\n\r\n",
         -400},
        /* Transfer-Encoding that is not a coding list */
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", -400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,chunked\r\n\r\n",
         -400},
        {"POST / HTTP/1.1\r\nHost: h\r\n"
         "Transfer-Encoding: chunked, chunked\r\n\r\n",
         -400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
         "Transfer-Encoding: chunked\r\n\r\n",
         -400},
    };

    EXPECT_ALL(cases);
}

Test(request, smuggling_vectors_are_400)
{
    static const struct bad cases[] = {
        /* whitespace before the colon */
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n",
         -400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length\t: 5\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", -400},
        /* obs-fold */
        {"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", -400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n"
         "\r\n",
         -400},
        {"GET / HTTP/1.1\r\n Host: h\r\n\r\n", -400},
        /* bare CR */
        {"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", -400},
        {"GET / HTTP/1.1\rHost: h\r\n\r\n", -400},
        {"GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost: h\r\n\r\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\r\n\r\n", -400},
        {"\rGET / HTTP/1.0\r\n\r\n", -400},
        {"\r\n\rGET / HTTP/1.0\r\n\r\n", -400},
        /* both framings, or chunked where it cannot be */
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
         "Transfer-Encoding: chunked\r\n\r\n",
         -400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
         "Content-Length: 3\r\n\r\n",
         -400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n"
         "Content-Length: 3\r\n\r\n",
         -400},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", -400},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", -400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
         "Content-Length: 50\r\n\r\n",
         -400},
    };

    EXPECT_ALL(cases);
}

Test(request, nul_anywhere_is_400)
{
    static const char   req[] = "GET / HTTP/1.0\r\nX: a\0b\r\n\r\n";
    static const char   line[] = "GET /a\0b HTTP/1.0\r\n\r\n";
    static const char   name[] = "GET / HTTP/1.0\r\nX\0: a\r\n\r\n";
    struct http_request r;

    cr_assert_eq(parse_n(req, sizeof(req) - 1, BIG, &r), -400);
    cr_assert_eq(parse_n(line, sizeof(line) - 1, BIG, &r), -400);
    cr_assert_eq(parse_n(name, sizeof(name) - 1, BIG, &r), -400);
}

Test(request, unknown_transfer_coding_is_501)
{
    static const struct bad cases[] = {
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", -501},
        {"POST / HTTP/1.1\r\nHost: h\r\n"
         "Transfer-Encoding: gzip, chunked\r\n\r\n",
         -501},
        {"POST / HTTP/1.1\r\nHost: h\r\n"
         "Transfer-Encoding: chunked, gzip\r\n\r\n",
         -501},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n",
         -501},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n"
         "Transfer-Encoding: chunked\r\n\r\n",
         -501},
        {"POST / HTTP/1.1\r\nHost: h\r\n"
         "Transfer-Encoding: chunked;ext=1\r\n\r\n",
         -501},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n",
         -501},
    };

    EXPECT_ALL(cases);
}

Test(request, other_versions_are_505)
{
    static const struct bad cases[] = {
        {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", -505},
        {"GET / HTTP/1.2\r\nHost: h\r\n\r\n", -505},
        {"GET / HTTP/3\r\nHost: h\r\n\r\n", -505},
        {"GET / HTTP/2\r\n\r\n", -505},
        {"GET / HTTP/0.9\r\n\r\n", -505},
        {"GET / HTTP/1.10\r\n\r\n", -505},
        {"GET / HTTP/10.1\r\n\r\n", -505},
    };

    EXPECT_ALL(cases);
}

/* "GET /aaa...a HTTP/1.1": a request line of exactly n bytes. */
static char *request_line(size_t n, const char *rest)
{
    size_t k = n - strlen("GET / HTTP/1.1"), rl = strlen(rest);
    char  *s = malloc(n + rl + 1);

    cr_assert_not_null(s);
    memcpy(s, "GET /", 5);
    memset(s + 5, 'a', k);
    memcpy(s + 5 + k, " HTTP/1.1", 9);
    memcpy(s + n, rest, rl + 1);
    return s;
}

Test(request, long_request_line_is_414)
{
    struct http_request r;
    char               *s;

    s = request_line(HTTP_MAX_REQUEST_LINE, "\r\nHost: h\r\n\r\n");
    cr_assert_eq(parse(s, &r), (int)strlen(s));
    cr_assert_eq(r.target.len, HTTP_MAX_REQUEST_LINE - 13);
    free(s);

    s = request_line(HTTP_MAX_REQUEST_LINE + 1, "\r\nHost: h\r\n\r\n");
    cr_assert_eq(parse(s, &r), -414);
    /* Known before the line ends ... */
    cr_assert_eq(parse_n(s, HTTP_MAX_REQUEST_LINE + 1, BIG, &r), -414);
    /* ... but not before it is too long. */
    cr_assert_eq(parse_n(s, HTTP_MAX_REQUEST_LINE, BIG, &r), 0);
    free(s);

    /* The CR of a CRLF is not part of the line. */
    s = request_line(HTTP_MAX_REQUEST_LINE, "\r");
    cr_assert_eq(parse(s, &r), 0);
    free(s);
    s = request_line(HTTP_MAX_REQUEST_LINE + 1, "\n\n");
    cr_assert_eq(parse(s, &r), -414);
    free(s);
}

Test(request, request_line_that_cannot_end_within_max_head_is_414)
{
    const char         *s = "GET /a-long-path-that-does-not-fit HTTP/1.1\r\n"
                            "Host: h\r\n\r\n";
    struct http_request r;

    cr_assert_eq(parse_n(s, strlen(s), 20, &r), -414);
    cr_assert_eq(parse_n(s, 20, 20, &r), -414);
    cr_assert_eq(parse_n(s, 19, 20, &r), 0);
    /* Its LF is byte 44: a limit of 44 bytes leaves it out, 45 not. */
    cr_assert_eq(parse_n(s, strlen(s), 44, &r), -414);
    cr_assert_eq(parse_n(s, strlen(s), 45, &r), -431);
}

Test(request, head_larger_than_max_head_is_431)
{
    const char *s = "GET / HTTP/1.1\r\nHost: h\r\nX: 0123456789\r\n\r\n";
    size_t      n = strlen(s), k;
    struct http_request r;

    cr_assert_eq(parse_n(s, n, n, &r), (int)n);
    cr_assert_eq(parse_n(s, n, n - 1, &r), -431);
    cr_assert_eq(parse_n(s, n, 20, &r), -431);
    /* Known as soon as max_head bytes are in without an end. */
    for (k = 0; k < 20; k++)
        cr_assert_eq(parse_n(s, k, 20, &r), 0, "%zu", k);
    for (k = 20; k <= n; k++)
        cr_assert_eq(parse_n(s, k, 20, &r), -431, "%zu", k);
    /* A flood of empty lines counts too. */
    cr_assert_eq(parse_n("\r\n\r\n\r\n\r\n", 8, 8, &r), -431);
    cr_assert_eq(parse_n("\r\n\r\n\r\n\r\n", 8, 9, &r), 0);
}

Test(request, limits_do_not_count_pipelined_bytes)
{
    const char         *s = "GET / HTTP/1.0\r\n\r\nGET /next-request HTTP/1.0";
    struct http_request r;

    cr_assert_eq(parse_n(s, strlen(s), 18, &r), 18);
}

Test(request, error_leaves_request_empty)
{
    struct http_request r;

    cr_assert_eq(parse("GET / HTTP/1.1\r\nRange: bytes=0-1\r\n\r\n", &r), -400);
    cr_assert_null(r.range.p);
    cr_assert_null(r.target.p);
}
