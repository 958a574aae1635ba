/*
 * conn_proxy.h -- the PROXY protocol header in front of a connection
 * (proxy_protocol = yes): the CONN_PROXY stage of its life (stages.c),
 * read before the module sees the connection, and the client it names
 * made the connection's peer.
 */
#ifndef PF_CONN_PROXY_H
#define PF_CONN_PROXY_H

#include "cidr.h"

struct conn;

/* May c's peer send a PROXY header (proxy_from; an empty list allows any)?
 * Logs a refusal.  Returns 1 or 0. */
int conn_proxy_allowed(const struct conn *c, const struct cidr_list *from,
                       const char *svc);
/* Read what has come of c's header, without waiting.  Returns 1 when it is
 * complete (c's peer is the client it names now), 0 when more is to come,
 * -1 when the header is invalid or the connection ended (logged). */
int conn_proxy_read(struct conn *c, const char *svc);
/* Log that c is closed before its header came: why (its deadline passed,
 * the wait for it failed). */
void conn_proxy_fail(const struct conn *c, const char *svc, const char *why);

#endif
