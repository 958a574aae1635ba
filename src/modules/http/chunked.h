/*
 * chunked.h -- reading past a chunked request body (RFC 9112 7.1).
 *
 * The http module serves no request with a body, but a client may still
 * send one; to answer the request after it on the same connection the
 * body must be read to its end and dropped.  The decoder keeps its state
 * between calls, so the body may arrive in pieces of any size, down to a
 * byte at a time.
 */
#ifndef PF_HTTP_CHUNKED_H
#define PF_HTTP_CHUNKED_H

#include <stddef.h>

struct http_chunked {
    int       state;
    long long size;  /* of the current chunk: digits read, then data left */
    long long data;  /* chunk data seen so far, all chunks */
    long long other; /* framing seen so far: size lines, extensions, trailers */
};

/* Start reading a new body. */
void http_chunked_init(struct http_chunked *ck);

/*
 * Read buf[0..len) as the next bytes of the body, setting *used to the
 * bytes that belong to it.  Returns 1 when the body has ended (the bytes
 * after *used are the next request's), 0 when all of buf was taken and
 * more is needed, -400 for a malformed body (a chunk size that is empty,
 * not hex or past 63 bits; a bad extension; a bare LF or CR; a malformed or
 * folded trailer field), -413 when the chunk data, or the framing around
 * it, passes max bytes.  After an error the state is undefined.
 */
int http_chunked_feed(struct http_chunked *ck, const char *buf, size_t len,
                      long long max, size_t *used);

#endif
