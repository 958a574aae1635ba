/*
 * request.c -- the HTTP/1.x request head parser (RFC 9112, RFC 9110).
 *
 * Works in two steps.  Framing finds where the head ends, looking only at
 * line ends, so that the size limits are decided the same way whether the
 * bytes arrive at once or one at a time: once this parser has answered 414
 * or 431 for a prefix of a stream, it answers the same for any longer
 * prefix.  Validation then reads the complete head, line by line, and
 * refuses everything that two HTTP implementations could read two ways
 * (request smuggling): bare CR, whitespace before a colon, folded lines,
 * conflicting or doubled framing headers.
 *
 * Limits: the request line (without its CRLF) may be HTTP_MAX_REQUEST_LINE
 * bytes, and must end within max_head bytes; otherwise 414.  The whole head
 * through its blank line may be max_head bytes; otherwise 431.
 */
#define _GNU_SOURCE

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "request.h"

/* What the header lines told us, beyond what ends up in the request. */
struct fields {
    int hosts;
    int ims_seen, range_seen, if_range_seen;
    int conn_close, conn_keep_alive;
    int te_seen, te_chunked, te_other;
};

enum field {
    F_HOST,
    F_IMS,
    F_INM,
    F_RANGE,
    F_IF_RANGE,
    F_USER_AGENT,
    F_REFERER,
    F_CONNECTION,
    F_CONTENT_LENGTH,
    F_TRANSFER_ENCODING,
};

/* The header fields this parser acts on, most often sent first: the
 * lookup stops at the match.  Names compare case-insensitively (RFC 9110
 * 5.1), and only with a name of the same length. */
#define KNOWN_FIELDS(X)                                                        \
    X("Host", F_HOST)                                                          \
    X("Connection", F_CONNECTION)                                              \
    X("User-Agent", F_USER_AGENT)                                              \
    X("Referer", F_REFERER)                                                    \
    X("If-None-Match", F_INM)                                                  \
    X("If-Modified-Since", F_IMS)                                              \
    X("Range", F_RANGE)                                                        \
    X("If-Range", F_IF_RANGE)                                                  \
    X("Content-Length", F_CONTENT_LENGTH)                                      \
    X("Transfer-Encoding", F_TRANSFER_ENCODING)

#define FIELD(n, i) {.name = n, .len = sizeof(n) - 1, .id = i},
static const struct {
    const char *name;
    size_t      len;
    enum field  id;
} known_fields[] = {KNOWN_FIELDS(FIELD)};
#undef FIELD

/* Bit n set when a known name is n bytes long: most names a client sends
 * (Accept, Accept-Encoding, Cookie...) are passed over by length alone. */
#define LENGTH_BIT(n, i) | (1ULL << (sizeof(n) - 1))
static const unsigned long long known_lengths = 0 KNOWN_FIELDS(LENGTH_BIT);
#undef LENGTH_BIT

/* tchar (RFC 9110 5.6.2): what method names and field names are made of.
 * A table: every byte of every name is looked up. */
static const unsigned char tchars[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['!'] = 1,
    ['#'] = 1,         ['$'] = 1,         ['%'] = 1,         ['&'] = 1,
    ['\''] = 1,        ['*'] = 1,         ['+'] = 1,         ['-'] = 1,
    ['.'] = 1,         ['^'] = 1,         ['_'] = 1,         ['`'] = 1,
    ['|'] = 1,         ['~'] = 1,
};

/* What a Host value may hold (valid_host), as a table likewise. */
static const unsigned char host_chars[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['-'] = 1,
    ['.'] = 1,         ['_'] = 1,         ['~'] = 1,         ['!'] = 1,
    ['$'] = 1,         ['&'] = 1,         ['\''] = 1,        ['('] = 1,
    [')'] = 1,         ['*'] = 1,         ['+'] = 1,         [','] = 1,
    [';'] = 1,         ['='] = 1,         [':'] = 1,         ['['] = 1,
    [']'] = 1,         ['%'] = 1,
};

/* field-vchar, SP or HTAB: anything but control characters (and so never
 * a CR, an LF or a NUL); every byte of every value is looked up. */
static const unsigned char field_chars[256] = {
    ['\t'] = 1,
    [0x20 ... 0x7e] = 1,
    [0x80 ... 0xff] = 1,
};

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_tchar(unsigned char c)
{
    return tchars[c];
}

static int is_field_char(unsigned char c)
{
    return field_chars[c];
}

static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* Does p[0..n) equal lit[0..len), ignoring ASCII case?  Names and tokens
 * mostly come as they are spelled here, so bytes are compared as they are
 * first; then one by one, letters that differ only in the case bit. */
static int ieq_n(const char *p, size_t n, const char *lit, size_t len)
{
    size_t i;

    if (n != len)
        return 0;
    if (memcmp(p, lit, n) == 0)
        return 1;
    for (i = 0; i < n; i++) {
        unsigned char a = (unsigned char)p[i], b = (unsigned char)lit[i];

        if (a != b && ((a | 0x20) != (b | 0x20) ||
                       (unsigned char)((b | 0x20) - 'a') > 'z' - 'a'))
            return 0;
    }
    return 1;
}

/* The same against a string literal. */
#define ieq(p, n, lit) ieq_n(p, n, lit, sizeof(lit) - 1)

/* ---- framing ----------------------------------------------------------- */

/* Where the head's parts are once framing has found them all. */
struct frame {
    size_t start; /* first byte of the request line, after empty lines */
    size_t lf;    /* the request line's LF */
    size_t end;   /* one past the blank line's LF */
};

/* The request line's length without its CR, seen up to buf[stop). */
static size_t line_len(const char *buf, size_t start, size_t stop)
{
    size_t n = stop - start;

    if (n > 0 && buf[stop - 1] == '\r')
        n--;
    return n;
}

/* Find the request line: 0 with f->start and f->lf set, 1 when more bytes
 * are needed, or -414/-431. */
static int frame_request_line(const char *buf, size_t len, size_t max_head,
                              struct frame *f)
{
    const char *lf;
    size_t      s = 0, lim;

    /* Empty lines first; whether each is a proper CRLF or LF is checked
     * with the rest of the head, once it is complete. */
    while (s < len && (buf[s] == '\r' || buf[s] == '\n'))
        s++;
    if (s >= max_head)
        return -431;
    if (s == len)
        return 1;
    /* Past HTTP_MAX_REQUEST_LINE + CR + LF there is no need to look. */
    lim = len - s > HTTP_MAX_REQUEST_LINE + 2 ? s + HTTP_MAX_REQUEST_LINE + 2
                                              : len;
    lf = memchr(buf + s, '\n', lim - s);
    if (lf == NULL) {
        if (line_len(buf, s, lim) > HTTP_MAX_REQUEST_LINE || len >= max_head)
            return -414;
        return 1;
    }
    f->start = s;
    f->lf = (size_t)(lf - buf);
    if (line_len(buf, s, f->lf) > HTTP_MAX_REQUEST_LINE || f->lf >= max_head)
        return -414;
    return 0;
}

/* Find the blank line that ends the head, at most max_head bytes in: 0
 * with f->end set, 1 when more bytes are needed, or -431. */
static int frame_end(const char *buf, size_t len, size_t max_head,
                     struct frame *f)
{
    size_t      lim = len < max_head ? len : max_head;
    size_t      i = f->lf;
    const char *lf;

    while (i < lim && (lf = memchr(buf + i, '\n', lim - i)) != NULL) {
        i = (size_t)(lf - buf);
        if (i + 1 < lim && buf[i + 1] == '\n') {
            f->end = i + 2;
            return 0;
        }
        if (i + 2 < lim && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
            f->end = i + 3;
            return 0;
        }
        i++;
    }
    return len >= max_head ? -431 : 1;
}

/* ---- the request line -------------------------------------------------- */

/* HTTP-version (RFC 9112 2.3): 0 and *minor for 1.0 and 1.1, -505 for any
 * other well-formed version ("HTTP/2", "HTTP/1.2"), -400 for the rest. */
static int parse_version(const char *v, size_t n, int *minor)
{
    size_t i = 5;

    if (n == 8 && memcmp(v, "HTTP/1.", 7) == 0 &&
        (v[7] == '0' || v[7] == '1')) {
        *minor = v[7] - '0';
        return 0;
    }
    if (n < 6 || memcmp(v, "HTTP/", 5) != 0)
        return -400;
    while (i < n && is_digit((unsigned char)v[i]))
        i++;
    if (i == 5)
        return -400;
    if (i < n && v[i] == '.') {
        size_t d = ++i;

        while (i < n && is_digit((unsigned char)v[i]))
            i++;
        if (i == d)
            return -400;
    }
    return i == n ? -505 : -400;
}

static enum http_method method_of(const char *p, size_t n)
{
    /* Methods are case-sensitive (RFC 9110 9.1): "get" is another one. */
    if (n == 3 && memcmp(p, "GET", 3) == 0)
        return HTTP_GET;
    if (n == 4 && memcmp(p, "HEAD", 4) == 0)
        return HTTP_HEAD;
    return HTTP_OTHER;
}

/* method SP request-target SP HTTP-version, in buf[s..e). */
static int parse_request_line(const char *buf, size_t s, size_t e,
                              struct http_request *req)
{
    size_t i = s, t;

    while (i < e && is_tchar((unsigned char)buf[i]))
        i++;
    if (i == s || i == e || buf[i] != ' ')
        return -400;
    req->method_str.p = buf + s;
    req->method_str.len = i - s;
    req->method = method_of(buf + s, i - s);

    t = ++i;
    while (i < e && (unsigned char)buf[i] > ' ' && buf[i] != 0x7f)
        i++;
    if (i == t || i == e || buf[i] != ' ')
        return -400;
    req->target.p = buf + t;
    req->target.len = i - t;

    i++;
    return parse_version(buf + i, e - i, &req->minor);
}

/* ---- header fields ----------------------------------------------------- */

/* Calls fn on each element of a comma-separated list (RFC 9110 5.6.1),
 * OWS trimmed, empty elements included; stops at the first non-zero. */
static int each_element(struct http_str v,
                        int (*fn)(const char *, size_t, void *), void *arg)
{
    size_t i = 0;

    for (;;) {
        size_t b, e, next;
        int    rc;

        for (e = i; e < v.len && v.p[e] != ','; e++)
            ;
        next = e + 1;
        for (b = i; b < e && is_ows((unsigned char)v.p[b]); b++)
            ;
        while (e > b && is_ows((unsigned char)v.p[e - 1]))
            e--;
        rc = fn(v.p + b, e - b, arg);
        if (rc != 0)
            return rc;
        if (next > v.len)
            return 0;
        i = next;
    }
}

static int connection_token(const char *p, size_t n, void *arg)
{
    struct fields *fs = arg;

    if (ieq(p, n, "close"))
        fs->conn_close = 1;
    else if (ieq(p, n, "keep-alive"))
        fs->conn_keep_alive = 1;
    return 0;
}

static int transfer_coding(const char *p, size_t n, void *arg)
{
    struct fields *fs = arg;

    /* "Transfer-Encoding: , chunked" is read differently by different
     * servers: refuse it rather than pick one reading. */
    if (n == 0)
        return -400;
    if (ieq(p, n, "chunked"))
        fs->te_chunked++;
    else
        fs->te_other = 1;
    return 0;
}

/* One Content-Length element: 1*DIGIT that fits, and the same value as any
 * seen before (RFC 9112 6.3: equal repeats may be accepted). */
static int length_element(const char *p, size_t n, void *arg)
{
    struct http_request *req = arg;
    long long            v = 0;
    size_t               i;

    if (n == 0)
        return -400;
    for (i = 0; i < n; i++) {
        if (!is_digit((unsigned char)p[i]) ||
            __builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, p[i] - '0', &v))
            return -400;
    }
    if (req->has_length && req->content_length != v)
        return -400;
    req->has_length = 1;
    req->content_length = v;
    return 0;
}

/* Host = uri-host [ ":" port ] (RFC 9110 7.2): only the characters those
 * can hold, so that a Host never carries a path, a space or an '@'. */
static int valid_host(struct http_str v)
{
    size_t i;

    for (i = 0; i < v.len; i++)
        if (!host_chars[(unsigned char)v.p[i]])
            return 0;
    return 1;
}

/* Keep the first of a field this parser does not expect twice. */
static void keep_first(struct http_str *dst, struct http_str v)
{
    if (dst->p == NULL)
        *dst = v;
}

/* If-Modified-Since and Range take one value; a second one makes the
 * field mean nothing (RFC 9110 13.1.3, 14.2), so it is dropped. */
static void only_one(struct http_str *dst, int *seen, struct http_str v)
{
    *dst = *seen ? (struct http_str){NULL, 0} : v;
    (*seen)++;
}

/* If-Range takes one validator; given twice, it is kept as an empty one,
 * which matches nothing, so that Range is ignored and the whole
 * representation sent: dropping it would serve a range unconditionally
 * (RFC 9110 13.1.5). */
static void if_range(struct http_request *req, struct fields *fs,
                     struct http_str v)
{
    req->if_range = fs->if_range_seen++ ? (struct http_str){"", 0} : v;
}

static int apply_field(enum field id, struct http_str v, struct fields *fs,
                       struct http_request *req)
{
    switch (id) {
    case F_HOST:
        if (++fs->hosts > 1 || !valid_host(v))
            return -400;
        req->host = v;
        return 0;
    case F_IMS: only_one(&req->if_modified_since, &fs->ims_seen, v); return 0;
    case F_RANGE: only_one(&req->range, &fs->range_seen, v); return 0;
    case F_IF_RANGE: if_range(req, fs, v); return 0;
    case F_INM: keep_first(&req->if_none_match, v); return 0;
    case F_USER_AGENT: keep_first(&req->user_agent, v); return 0;
    case F_REFERER: keep_first(&req->referer, v); return 0;
    case F_CONNECTION: return each_element(v, connection_token, fs);
    case F_CONTENT_LENGTH: return each_element(v, length_element, req);
    case F_TRANSFER_ENCODING:
        fs->te_seen = 1;
        return each_element(v, transfer_coding, fs);
    }
    return 0;
}

/* Is every byte of p[0..n) a field-vchar, SP or HTAB?  Eight at a time
 * while none is below 0x20 or 0x7f (a word with one, a tab perhaps, is
 * looked at byte by byte): values are most of a head's bytes. */
static int field_value_ok(const char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = ones * 0x80;
    size_t         i = 0, j;

    for (; i + 8 <= n; i += 8) {
        uint64_t x, d;

        memcpy(&x, p + i, 8);
        d = x ^ (ones * 0x7f);
        if ((((x - ones * 0x20) & ~x) | ((d - ones) & ~d)) & highs)
            for (j = i; j < i + 8; j++)
                if (!is_field_char((unsigned char)p[j]))
                    return 0;
    }
    for (; i < n; i++)
        if (!is_field_char((unsigned char)p[i]))
            return 0;
    return 1;
}

/* field-name ":" OWS field-value OWS, in l[0..n). */
static int parse_field(const char *l, size_t n, struct fields *fs,
                       struct http_request *req)
{
    struct http_str v;
    size_t          k = 0, b, e, i;

    /* obs-fold: a line that continues the previous one (RFC 9112 5.2). */
    if (is_ows((unsigned char)l[0]))
        return -400;
    while (k < n && is_tchar((unsigned char)l[k]))
        k++;
    if (k == 0 || k == n || l[k] != ':')
        return -400;
    for (b = k + 1; b < n && is_ows((unsigned char)l[b]); b++)
        ;
    for (e = n; e > b && is_ows((unsigned char)l[e - 1]); e--)
        ;
    if (!field_value_ok(l + b, e - b))
        return -400;
    v.p = l + b;
    v.len = e - b;
    if (k >= 64 || !(known_lengths >> k & 1))
        return 0;
    for (i = 0; i < sizeof(known_fields) / sizeof(known_fields[0]); i++)
        if (known_fields[i].len == k &&
            ieq_n(l, k, known_fields[i].name, known_fields[i].len))
            return apply_field(known_fields[i].id, v, fs, req);
    return 0;
}

/* ---- the whole head ---------------------------------------------------- */

/* Leading empty lines: each must be CRLF or LF, no bare CR. */
static int check_empty_lines(const char *buf, size_t s)
{
    size_t i;

    for (i = 0; i < s; i++)
        if (buf[i] == '\r' && (i + 1 >= s || buf[++i] != '\n'))
            return -400;
    return 0;
}

/* What the framing headers and the version make of the request. */
static int finish(const struct fields *fs, struct http_request *req)
{
    if (req->minor == 1 && fs->hosts == 0)
        return -400;
    if (fs->te_seen) {
        /* HTTP/1.0 has no Transfer-Encoding, and one beside
         * Content-Length is the classic smuggling vector (RFC 9112
         * 6.1, 6.3). */
        if (req->minor == 0 || req->has_length)
            return -400;
        if (fs->te_other)
            return -501;
        if (fs->te_chunked != 1)
            return -400;
        req->chunked = 1;
    }
    req->keep_alive = req->minor == 1;
    if (fs->conn_keep_alive && req->minor == 0)
        req->keep_alive = 1;
    if (fs->conn_close)
        req->keep_alive = 0;
    return 0;
}

static int parse_head(const char *buf, const struct frame *f,
                      struct http_request *req)
{
    struct fields fs = {0};
    size_t        i, q;
    int           rc;

    rc = check_empty_lines(buf, f->start);
    if (rc == 0)
        rc = parse_request_line(buf, f->start,
                                f->start + line_len(buf, f->start, f->lf), req);
    /* Each header line, up to the blank line that framing found. */
    for (i = f->lf + 1; rc == 0; i = q + 1) {
        const char *lf = memchr(buf + i, '\n', f->end - i);
        size_t      n;

        if (lf == NULL)
            return -400; /* cannot happen: framing found the end */
        q = (size_t)(lf - buf);
        n = line_len(buf, i, q);
        if (n == 0)
            break;
        /* A CR that does not end the line fails parse_field's checks. */
        rc = parse_field(buf + i, n, &fs, req);
    }
    return rc != 0 ? rc : finish(&fs, req);
}

int http_parse_request(const char *buf, size_t len, size_t max_head,
                       struct http_request *req)
{
    struct frame f = {0};
    int          rc;

    memset(req, 0, sizeof(*req));
    rc = frame_request_line(buf, len, max_head, &f);
    if (rc == 0)
        rc = frame_end(buf, len, max_head, &f);
    if (rc == 1)
        return 0;
    if (rc < 0)
        return rc;
    rc = parse_head(buf, &f, req);
    if (rc < 0) {
        memset(req, 0, sizeof(*req));
        return rc;
    }
    /* Heads are bounded by max_head and callers' buffers by memory; an
     * int is ample, but do not let a huge max_head wrap it. */
    return f.end > INT_MAX ? -431 : (int)f.end;
}
