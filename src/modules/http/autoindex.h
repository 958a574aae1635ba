/*
 * autoindex.h -- HTML listings of directories without an index file.
 */
#ifndef PF_HTTP_AUTOINDEX_H
#define PF_HTTP_AUTOINDEX_H

#include <prefork/module.h>

/* Answer with a listing of the directory open as dirfd, whose URL path is
 * path (decoded, ends with '/').  Returns the body bytes sent, or -1 with
 * *status set to the error status to send (500 when the directory cannot
 * be read) or 0 after a write error. */
long long http_autoindex(pf_conn *c, int dirfd, const char *path, int head_only,
                         int keep_alive, int *status);

#endif
