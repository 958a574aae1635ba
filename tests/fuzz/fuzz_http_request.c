/*
 * fuzz_http_request.c -- libFuzzer target for the http module's parsers.
 *
 * Runs http_parse_request() over the input with several head limits and,
 * for every head it accepts, the parsers that work on its parts: the target
 * through http_path_normalize(), Range through http_range_parse(), If-Range
 * through http_if_range_matches() and the dates through http_date_parse().  Beyond what the sanitizers catch, it
 * checks the promises the rest of the module relies on and traps when one
 * breaks:
 *   - a complete head is no longer than the input or the limit, and every
 *     string in the request lies inside it;
 *   - the answer for a prefix of the input, once it is not "incomplete",
 *     is the answer for the whole input (bytes arriving one at a time or
 *     all at once are read the same way);
 *   - a normalised path starts with '/', has no NUL and no "." or ".."
 *     segment, and no "//";
 *   - a range is first <= last < size;
 *   - If-Range matches only the ETag itself or the Last-Modified date, and
 *     is empty (matching nothing) only when it was given twice;
 *   - a parsed date formats and parses back to itself;
 *   - a chunked body after a head decodes the same whole, split in two,
 *     or fed a byte at a time, and never claims bytes it was not given.
 * Build with ./configure CC=clang --enable-fuzzers; run with the seed
 * corpus in tests/fuzz/corpus_http/.
 */
#define _GNU_SOURCE

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "modules/http/chunked.h"
#include "modules/http/date.h"
#include "modules/http/path.h"
#include "modules/http/range.h"
#include "modules/http/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        __builtin_trap();
}

/* s is absent, or lies inside buf[0..n). */
static void check_str(struct http_str s, const char *buf, size_t n)
{
    if (s.p == NULL) {
        check(s.len == 0);
        return;
    }
    check(s.p >= buf && s.len <= n && (size_t)(s.p - buf) <= n - s.len);
}

static void check_path(const struct http_request *req)
{
    char out[256];
    int  rc =
        http_path_normalize(req->target.p, req->target.len, out, sizeof(out));
    size_t n;

    check(rc == 0 || rc == -400 || rc == -414);
    if (rc != 0)
        return;
    n = strnlen(out, sizeof(out));
    check(n < sizeof(out) && out[0] == '/');
    check(strstr(out, "/../") == NULL && strstr(out, "/./") == NULL);
    check(strstr(out, "//") == NULL);
    check(!(n >= 2 && strcmp(out + n - 2, "/.") == 0));
    check(!(n >= 3 && strcmp(out + n - 3, "/..") == 0));
    /* The whole decoded path must also fit in a buffer of its own size. */
    {
        char exact[256];

        check(http_path_normalize(req->target.p, req->target.len, exact,
                                  n + 1) == 0);
        check(strcmp(exact, out) == 0);
        check(http_path_normalize(req->target.p, req->target.len, exact, n) ==
              -414);
    }
}

static void check_range(struct http_str r)
{
    static const off_t sizes[] = {0, 1, 10, 1000, (off_t)1 << 40};
    size_t             i;

    if (r.p == NULL)
        return;
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        off_t first = -7, last = -7;
        int   rc = http_range_parse(r.p, r.len, sizes[i], &first, &last);

        check(rc >= -1 && rc <= 1);
        if (rc == 1)
            check(0 <= first && first <= last && last < sizes[i]);
        else
            check(first == -7 && last == -7);
    }
}

static void check_if_range(struct http_str v)
{
    static const char etag[] = "\"5e0be100-3e8\"";
    time_t            t;
    int               m;

    if (v.p == NULL)
        return;
    m = http_if_range_matches(v.p, v.len, etag, 1577836800);
    check(m == 0 || m == 1);
    if (m == 1)
        check((v.len == sizeof(etag) - 1 && memcmp(v.p, etag, v.len) == 0) ||
              (http_date_parse(v.p, v.len, &t) == 0 && t == 1577836800));
}

static void check_date(struct http_str d)
{
    char   buf[HTTP_DATE_LEN + 1];
    time_t t, u;

    if (d.p == NULL || http_date_parse(d.p, d.len, &t) < 0)
        return;
    http_date_format(t, buf);
    check(strlen(buf) == HTTP_DATE_LEN);
    check(http_date_parse(buf, HTTP_DATE_LEN, &u) == 0 && u == t);
}

/* Feed body[0..n) to a new decoder in pieces of `step` bytes (0: all at
 * once); returns its answer and sets *used to the bytes it took. */
static int chunked_in_steps(const char *body, size_t n, size_t step,
                            size_t *used)
{
    struct http_chunked ck;
    size_t              at = 0;
    int                 rc = 0;

    http_chunked_init(&ck);
    do {
        size_t len = step == 0 || n - at < step ? n - at : step, took = 0;

        rc = http_chunked_feed(&ck, body + at, len, 1024, &took);
        check(took <= len);
        check(rc == 1 || rc == 0 || rc == -400 || rc == -413);
        check(rc != 0 || took == len);
        at += took;
    } while (rc == 0 && at < n);
    *used = at;
    return rc;
}

static void check_chunked(const char *body, size_t n)
{
    size_t whole, part;
    int    rc = chunked_in_steps(body, n, 0, &whole);

    check(chunked_in_steps(body, n, 1, &part) == rc && part == whole);
    check(chunked_in_steps(body, n, n / 2 + 1, &part) == rc && part == whole);
}

static void one_limit(const char *buf, size_t size, size_t max_head)
{
    struct http_request req;
    int                 rc = http_parse_request(buf, size, max_head, &req);

    if (rc == 0) {
        check(size < max_head);
    } else if (rc < 0) {
        check(rc == -400 || rc == -414 || rc == -431 || rc == -501 ||
              rc == -505);
    }
    /* A decided prefix decides the whole. */
    if (size > 0) {
        struct http_request pre;
        size_t              cut = size / 2 + (size & 1);
        int                 prc = http_parse_request(buf, cut, max_head, &pre);

        check(prc == 0 || prc == rc);
    }
    if (rc <= 0)
        return;
    check((size_t)rc <= size && (size_t)rc <= max_head);
    check(http_parse_request(buf, (size_t)rc, max_head, &req) == rc);
    check(req.minor == 0 || req.minor == 1);
    check(req.keep_alive == 0 || req.keep_alive == 1);
    check(!(req.chunked && req.has_length));
    check(req.target.len > 0);
    check_str(req.method_str, buf, (size_t)rc);
    check_str(req.target, buf, (size_t)rc);
    check_str(req.host, buf, (size_t)rc);
    check_str(req.range, buf, (size_t)rc);
    if (req.if_range.len > 0) /* else absent, or given twice: "" */
        check_str(req.if_range, buf, (size_t)rc);
    check_str(req.if_modified_since, buf, (size_t)rc);
    check_str(req.if_none_match, buf, (size_t)rc);
    check_str(req.user_agent, buf, (size_t)rc);
    check_str(req.referer, buf, (size_t)rc);
    check_path(&req);
    check_range(req.range);
    check_if_range(req.if_range);
    check_date(req.if_range);
    check_date(req.if_modified_since);
    if (req.chunked && max_head == 8192)
        check_chunked(buf + rc, size - (size_t)rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t limits[] = {16, 100, 1024, 8192, 65536};
    size_t              i;

    for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
        one_limit((const char *)data, size, limits[i]);
    /* The value parsers also take raw input, not only what the request
     * parser lets through. */
    check_range((struct http_str){(const char *)data, size});
    check_if_range((struct http_str){(const char *)data, size});
    check_date((struct http_str){(const char *)data, size});
    check_chunked((const char *)data, size);
    return 0;
}
