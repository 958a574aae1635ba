/*
 * accesslog.h -- the access log in combined log format.
 *
 * Lines are buffered per worker and written out when the buffer fills and
 * on every tick, so a line reaches the file within a second without a
 * write(2) per request.  Thread-safe (threading mode).
 */
#ifndef PF_HTTP_ACCESSLOG_H
#define PF_HTTP_ACCESSLOG_H

#include <sys/socket.h>

#include "request.h"

struct accesslog;

/* Open path for appending.  Returns NULL with errno set. */
struct accesslog *accesslog_open(const char *path);
/* Flush, close, free. */
void accesslog_close(struct accesslog *l);
/* Write out what is buffered. */
void accesslog_flush(struct accesslog *l);
/* Flush and open the path again (after logrotate moved it).  Returns 0, or
 * -1 with errno set, keeping the old file. */
int accesslog_reopen(struct accesslog *l);

/* Record one response.  req may be NULL (a request that could not be
 * parsed: the line shows "-").  subject: the TLS client certificate's,
 * one more field at the end, or NULL (none, and no field). */
void accesslog_add(struct accesslog *l, const struct sockaddr *peer,
                   const struct http_request *req, int status, long long bytes,
                   const char *subject);

#endif
