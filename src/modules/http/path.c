/*
 * path.c -- from a request target to a normalised path below the root.
 *
 * The target is split into segments on its literal slashes, each segment
 * is percent-decoded, and only then are "." and ".." resolved (RFC 3986
 * 5.2.4), so "%2e%2e" climbs exactly like "..".  An encoded slash would
 * make the decoded path split differently from the raw one, so it is
 * refused; so are NUL bytes, which would cut the path short in open().  A
 * ".." above the root is an error rather than being clamped: no honest
 * client sends one.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <string.h>

#include "path.h"

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Does t[0..len) start with the lower-case prefix, ignoring ASCII case? */
static int iprefix(const char *t, size_t len, const char *prefix)
{
    size_t n = strlen(prefix), i;

    if (len < n)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];

        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + ('a' - 'A'));
        if (c != (unsigned char)prefix[i])
            return 0;
    }
    return 1;
}

/* The raw path of an origin-form or absolute-form target, without its
 * query or fragment: 0 and *path, *plen (plen 0 for "http://host"), or
 * -400. */
static int raw_path(const char *t, size_t len, const char **path, size_t *plen)
{
    size_t i, a;

    if (len > 0 && t[0] == '/') {
        i = 0;
    } else {
        if (iprefix(t, len, "http://"))
            a = 7;
        else if (iprefix(t, len, "https://"))
            a = 8;
        else
            return -400; /* "*", authority-form, a relative path */
        for (i = a; i < len && t[i] != '/' && t[i] != '?' && t[i] != '#'; i++)
            ;
        if (i == a)
            return -400; /* http URIs need a host (RFC 9110 4.2.1) */
    }
    *path = t + i;
    for (*plen = 0; i + *plen < len; ++*plen)
        if (t[i + *plen] == '?' || t[i + *plen] == '#')
            break;
    return 0;
}

/* Decode the segment starting at p[*i] (up to the next '/' or n), writing
 * what fits in out[0..room) and advancing *i.  *dlen is the decoded length
 * (written or not); *dots is 1 for ".", 2 for "..", else 0.  -400 for bad
 * encoding. */
static int decode_segment(const char *p, size_t n, size_t *i, char *out,
                          size_t room, size_t *dlen, int *dots)
{
    int all_dots = 1;

    for (*dlen = 0; *i < n && p[*i] != '/'; ++*dlen) {
        unsigned char c = (unsigned char)p[*i];

        if (c == '%') {
            int hi, lo;

            if (n - *i < 3)
                return -400;
            hi = hexval((unsigned char)p[*i + 1]);
            lo = hexval((unsigned char)p[*i + 2]);
            if (hi < 0 || lo < 0)
                return -400;
            c = (unsigned char)(hi * 16 + lo);
            if (c == '/')
                return -400;
            *i += 2;
        }
        if (c == '\0')
            return -400;
        if (*dlen < room)
            out[*dlen] = (char)c;
        all_dots &= c == '.';
        ++*i;
    }
    *dots = all_dots && *dlen <= 2 ? (int)*dlen : 0;
    return 0;
}

int http_path_normalize(const char *target, size_t len, char *out,
                        size_t outlen)
{
    const char *p;
    size_t      n, i = 0, o = 1, depth = 0;
    int         rc, strip = 0;

    if (outlen == 0) {
        char one;

        /* Even "/" needs two bytes; this only tells -400 from -414. */
        rc = http_path_normalize(target, len, &one, 1);
        return rc == -400 ? rc : -414;
    }
    rc = raw_path(target, len, &p, &n);
    if (rc < 0)
        return rc;
    /* out[0..o) ends with '/' between segments.  Segments that do not fit
     * are only counted, in depth, so that a later ".." can still take
     * them back and the whole target is still checked. */
    out[0] = '/';
    while (i < n) {
        size_t dl;
        int    dots;

        if (p[i] == '/') { /* a separator, or an empty segment */
            i++;
            continue;
        }
        rc = decode_segment(p, n, &i, out + o, outlen - o, &dl, &dots);
        if (rc < 0)
            return rc;
        strip = 0;
        if (dots == 1)
            continue;
        if (dots == 2) {
            if (depth > 0) {
                depth--;
                continue;
            }
            if (o == 1)
                return -400;
            /* Drop the segment before, keep its leading '/'. */
            for (o--; out[o - 1] != '/'; o--)
                ;
            continue;
        }
        /* The last segment ends the path unless a '/' followed it. */
        strip = i == n;
        if (depth > 0 || outlen - o < dl + 1) {
            depth++;
            continue;
        }
        o += dl;
        out[o++] = '/';
    }
    if (depth > 0)
        return -414;
    if (strip)
        o--;
    if (o >= outlen)
        return -414;
    out[o] = '\0';
    return 0;
}

int http_path_open_status(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG: return 404;
    case EACCES:
    case EPERM:
    case EXDEV: /* the path or a symlink on it leaves the root */
    case ELOOP:
    default: return 403;
    }
}
