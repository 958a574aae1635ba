/*
 * path.h -- turning a request target into a path below the document root.
 *
 * Percent-decoding, dot-segment removal and the checks that keep a request
 * inside root happen here, once, on the decoded path; nothing after this
 * sees the raw target.
 */
#ifndef PF_HTTP_PATH_H
#define PF_HTTP_PATH_H

#include <stddef.h>

/*
 * From target (origin-form "/a/b?q" or absolute-form "http://h/a/b"), write
 * the decoded, normalised path into out[0..outlen) without the query: it
 * always starts with '/', has no "." or ".." segments and no empty segments
 * ("//"), and keeps a trailing '/' when the target had one.  Returns 0, or
 * -400 for a target that is not origin- or absolute-form, bad percent
 * encoding, an encoded or literal NUL, a ".." that would climb above the
 * root, an encoded '/' (%2F, refused rather than guessed at); -414 when it
 * does not fit in out.
 */
int http_path_normalize(const char *target, size_t len, char *out,
                        size_t outlen);

/*
 * The status for a normalised path that could not be opened below the
 * root, from open's errno: 404 for a file that is not there, which
 * includes ENAMETOOLONG (a name past NAME_MAX or a path past PATH_MAX
 * names no file; the request line was within its limit, so 414 is not
 * the answer), 403 for the rest.
 */
int http_path_open_status(int err);

#endif
