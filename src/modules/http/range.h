/*
 * range.h -- the Range request header, single ranges (RFC 9110 14).
 */
#ifndef PF_HTTP_RANGE_H
#define PF_HTTP_RANGE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Parse a Range value against a representation of `size` bytes:
 * "bytes=first-last", "bytes=first-", "bytes=-suffix".  Returns
 *    1  one satisfiable range: bytes [*first, *last] (inclusive, clipped);
 *    0  ignore the header and send the whole file (not "bytes=", malformed,
 *       or several ranges, which this server does not serve);
 *   -1  unsatisfiable: answer 416 with Content-Range "bytes *SLASHsize".
 */
int http_range_parse(const char *v, size_t len, off_t size, off_t *first,
                     off_t *last);

#endif
