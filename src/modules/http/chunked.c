/*
 * chunked.c -- a byte-at-a-time decoder for chunked bodies (RFC 9112 7.1).
 *
 *     chunked-body = *chunk last-chunk trailer-section CRLF
 *     chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *     chunk-ext    = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
 *     ext-val      = token / quoted-string
 *
 * One state per place in that grammar, so nothing is ever buffered and a
 * body split anywhere reads the same.  Strict like the head parser: every
 * line ends in CRLF (a bare LF in chunk framing is read as a line end by
 * some servers and not by others, a known smuggling vector), a chunk size
 * that does not fit is an error rather than being truncated, and trailer
 * fields follow the header field rules (no folding, no whitespace before
 * the colon).  Extensions and trailers are checked and dropped.
 */
#include <limits.h>
#include <string.h>

#include "chunked.h"

enum {
    S_SIZE_FIRST, /* the first hex digit of a chunk size */
    S_SIZE,       /* more hex digits */
    S_EXT,        /* after an extension: ";", BWS or the line's CR */
    S_EXT_BWS,    /* BWS, which only a ";" may follow */
    S_EXT_NAME0,  /* BWS after ";", then the name's first tchar */
    S_EXT_NAME,   /* the rest of the name */
    S_EXT_EQ,     /* BWS after the name: "=", ";" or CR */
    S_EXT_VAL0,   /* BWS after "=", then a token or a quote */
    S_EXT_TOKEN,  /* a token value */
    S_EXT_QUOTED, /* inside a quoted-string */
    S_EXT_ESC,    /* after a backslash in a quoted-string */
    S_SIZE_LF,    /* the size line's LF */
    S_DATA,       /* chunk data */
    S_DATA_CR,    /* the CRLF after chunk data */
    S_DATA_LF,
    S_TR_LINE,  /* the start of a trailer line, or the final CRLF */
    S_TR_NAME,  /* a trailer field name */
    S_TR_VALUE, /* its value */
    S_TR_LF,    /* the trailer line's LF */
    S_END_LF,   /* the LF of the final CRLF */
    S_DONE,
};

static int is_tchar(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";

    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') ||
           (c != 0 && memchr(extra, c, sizeof(extra) - 1) != NULL);
}

static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

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

/* qdtext (RFC 9110 5.6.4), without the quote and the backslash. */
static int is_qdtext(unsigned char c)
{
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
           (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

/* What a quoted-pair may escape: HTAB, SP, VCHAR, obs-text. */
static int is_escapable(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* field-vchar, SP, HTAB: what a trailer value is made of. */
static int is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

void http_chunked_init(struct http_chunked *ck)
{
    memset(ck, 0, sizeof(*ck));
    ck->state = S_SIZE_FIRST;
}

/* Where a further extension or the end of the size line may come. */
static int ext_next(unsigned char c)
{
    if (c == ';')
        return S_EXT_NAME0;
    if (c == '\r')
        return S_SIZE_LF;
    return is_ows(c) ? S_EXT_BWS : -400;
}

/* One framing byte (anything but chunk data): the next state or -400. */
static int step(struct http_chunked *ck, unsigned char c)
{
    int h;

    switch (ck->state) {
    case S_SIZE_FIRST:
    case S_SIZE:
        h = hexval(c);
        if (h >= 0) {
            if (ck->size > (LLONG_MAX >> 4))
                return -400;
            ck->size = ck->size * 16 + h;
            return S_SIZE;
        }
        return ck->state == S_SIZE_FIRST ? -400 : ext_next(c);
    case S_EXT: return ext_next(c);
    case S_EXT_BWS:
        if (c == ';')
            return S_EXT_NAME0;
        return is_ows(c) ? S_EXT_BWS : -400;
    case S_EXT_NAME0:
        if (is_ows(c))
            return S_EXT_NAME0;
        return is_tchar(c) ? S_EXT_NAME : -400;
    case S_EXT_NAME:
        if (is_tchar(c))
            return S_EXT_NAME;
        if (c == '\r')
            return S_SIZE_LF;
        /* fall through */
    case S_EXT_EQ:
        if (c == '=')
            return S_EXT_VAL0;
        if (c == ';')
            return S_EXT_NAME0;
        return is_ows(c) ? S_EXT_EQ : -400;
    case S_EXT_VAL0:
        if (is_ows(c))
            return S_EXT_VAL0;
        if (c == '"')
            return S_EXT_QUOTED;
        return is_tchar(c) ? S_EXT_TOKEN : -400;
    case S_EXT_TOKEN: return is_tchar(c) ? S_EXT_TOKEN : ext_next(c);
    case S_EXT_QUOTED:
        if (c == '"')
            return S_EXT;
        if (c == '\\')
            return S_EXT_ESC;
        return is_qdtext(c) ? S_EXT_QUOTED : -400;
    case S_EXT_ESC: return is_escapable(c) ? S_EXT_QUOTED : -400;
    case S_SIZE_LF:
        if (c != '\n')
            return -400;
        return ck->size == 0 ? S_TR_LINE : S_DATA;
    case S_DATA_CR: return c == '\r' ? S_DATA_LF : -400;
    case S_DATA_LF: return c == '\n' ? S_SIZE_FIRST : -400;
    case S_TR_LINE:
        if (c == '\r')
            return S_END_LF;
        /* A line that starts with SP or HTAB would be obs-fold. */
        return is_tchar(c) ? S_TR_NAME : -400;
    case S_TR_NAME:
        if (c == ':')
            return S_TR_VALUE;
        return is_tchar(c) ? S_TR_NAME : -400;
    case S_TR_VALUE:
        if (c == '\r')
            return S_TR_LF;
        return is_field_char(c) ? S_TR_VALUE : -400;
    case S_TR_LF: return c == '\n' ? S_TR_LINE : -400;
    case S_END_LF: return c == '\n' ? S_DONE : -400;
    default: return -400;
    }
}

int http_chunked_feed(struct http_chunked *ck, const char *buf, size_t len,
                      long long max, size_t *used)
{
    size_t i = 0;
    int    rc = 0;

    while (i < len && ck->state != S_DONE) {
        int next;

        if (ck->state == S_DATA) {
            size_t n = len - i;

            if ((long long)n > ck->size)
                n = (size_t)ck->size;
            i += n;
            ck->size -= (long long)n;
            if (ck->size == 0)
                ck->state = S_DATA_CR;
            continue;
        }
        next = step(ck, (unsigned char)buf[i++]);
        if (next < 0) {
            rc = next;
            break;
        }
        /* Extensions and trailers are bounded too, or a body of nothing
         * but framing would never end. */
        if (++ck->other > max) {
            rc = -413;
            break;
        }
        /* A size is held to the limit once all its digits are in, before
         * any of its data is read. */
        if (next == S_DATA) {
            if (ck->size > max - ck->data) {
                rc = -413;
                break;
            }
            ck->data += ck->size;
        }
        ck->state = next;
    }
    *used = i;
    if (rc == 0 && ck->state == S_DONE)
        rc = 1;
    return rc;
}
