/*
 * root.h -- the http module's document root (root.c): opening it in each
 * worker, and answering a request from what its path names there.
 */
#ifndef PF_HTTP_ROOT_H
#define PF_HTTP_ROOT_H

#include <prefork/module.h>

#include "state.h"
#include "request.h"

/* Worker, from worker_init: open hs->conf->root (hs->rootfd, rootreal,
 * rootlen) and find out whether openat2 can be used below it.  Logs and
 * returns -1 when the root cannot be opened. */
int http_root_open(pf_service *svc, struct http_state *hs);

/* Answer req on c (the method, the path and what it names: a file, a
 * directory, a redirect, the health path), recording it in *o. */
void http_answer(pf_conn *c, const struct http_request *req,
                 struct http_outcome *o);

#endif
