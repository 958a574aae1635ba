/*
 * worker.h -- a worker process: the event loop that accepts connections or
 * receives datagrams on its service's listeners and hands them to the
 * module, in the worker itself (prefork) or in a child or thread per
 * connection (forking, threading; see acceptor.h).
 */
#ifndef PF_WORKER_H
#define PF_WORKER_H

#include <stddef.h>

struct config;
struct service;
struct slot;

/* Exit status of a worker whose own set-up failed (module worker_init,
 * privileges): the master backs off instead of respawning in a loop. */
#define WORKER_EXIT_INIT 2

/* Run a worker in a freshly forked process whose unneeded descriptors the
 * master side already closed.  fds are its listener descriptors; on_trial:
 * it is a canary (reload_canary), which serves the service's canary_probe
 * before it accepts.  Never returns. */
__attribute__((noreturn)) void
worker_main(struct service *svc, const struct config *cfg, struct slot *slot,
            long long max_requests, const int *fds, size_t nfds, int on_trial);

#endif
