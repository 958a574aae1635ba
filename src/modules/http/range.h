/*
 * range.h -- the Range request header, single ranges (RFC 9110 14), and
 * If-Range, which decides whether Range applies (RFC 9110 13.1.5).
 */
#ifndef PF_HTTP_RANGE_H
#define PF_HTTP_RANGE_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

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

/*
 * Whether an If-Range value lets Range apply to a representation with
 * strong entity tag `etag` (quoted) and Last-Modified `mtime` (RFC 9110
 * 13.1.5): an entity tag matches by strong comparison (a weak one never
 * does), an HTTP-date when it is the Last-Modified time exactly.  1 when
 * it matches, 0 otherwise (send the whole representation).
 */
int http_if_range_matches(const char *v, size_t len, const char *etag,
                          time_t mtime);

#endif
