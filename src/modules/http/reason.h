/*
 * reason.h -- the reason phrases of the status codes the http module sends.
 */
#ifndef PF_HTTP_REASON_H
#define PF_HTTP_REASON_H

/* The reason phrase of status (RFC 9110 15), "Unknown" for one not in the
 * table; every status the module sends is in it. */
const char *http_reason(int status);

#endif
