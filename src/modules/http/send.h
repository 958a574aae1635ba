/*
 * send.h -- the http module's sending (send.c): answering a request with
 * a file or an error, and the output a connection still has pending.
 * Each function answers on c, whose c->data is its struct http_conn, and
 * records what it sent in *o for the access log.  None waits: what the
 * connection does not take now is left pending (http_pending) for
 * http_send_pending to send once it is writable.
 */
#ifndef PF_HTTP_SEND_H
#define PF_HTTP_SEND_H

#include <sys/stat.h>

#include <prefork/module.h>

#include "filecache.h"
#include "state.h"
#include "request.h"

/* The Connection header's value for req: 0 close, 1 keep-alive (HTTP/1.1),
 * 2 keep-alive named (an HTTP/1.0 client asked for it). */
int http_keep_value(const struct http_request *req, int close);

/* An error page or redirect (location) or 405 (allow) for req; a status
 * after which the client is not trusted with more closes the connection. */
void http_answer_error(pf_conn *c, const struct http_request *req,
                       struct http_outcome *o, int status, const char *location,
                       const char *allow);

/* Answer with a cache entry (the reference is taken over: kept while the
 * body is pending, released otherwise). */
void http_send_cached(pf_conn *c, const struct http_request *req,
                      struct http_outcome *o, struct fc_entry *e);

/* Answer with a regular file just opened for key (the URL path), keeping
 * it in the cache when possible.  Takes fd. */
void http_send_opened(pf_conn *c, const struct http_request *req,
                      struct http_outcome *o, int fd, const struct stat *st,
                      const char *key);

/* Is some of a response still to be sent? */
static inline int http_pending(const struct http_conn *hc)
{
    return hc->out != NULL || hc->left > 0;
}

/* Send what the connection takes of the pending output.  Returns 1 while
 * some is left (return PF_WRITE), 0 when it is all out or the connection
 * must close (hc->close). */
int http_send_pending(pf_conn *c);

/* Drop whatever is pending (the connection is closing). */
void http_output_free(pf_conn *c);

#endif
