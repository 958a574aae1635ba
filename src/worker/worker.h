/*
 * worker.h -- a worker process: the event loop that accepts connections or
 * receives datagrams on its service's listeners and hands them to the
 * module, in the worker itself (prefork) or in a child or thread per
 * connection (forking, threading; see acceptor.h).
 */
#ifndef PF_WORKER_H
#define PF_WORKER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "conn.h"
#include "driver_event.h"

struct service;
struct slot;
struct acceptor;

/* Exit status of a worker whose own set-up failed (module worker_init,
 * privileges): the master backs off instead of respawning in a loop. */
#define WORKER_EXIT_INIT 2

struct listen_ev {
    struct ev_tag tag; /* EV_LISTENER */
    int           fd;
    int           dgram;
};

struct wctx {
    struct service         *svc;
    const struct pf_module *mod;
    const struct config    *cfg;
    struct slot            *slot;
    int                     epfd;
    struct listen_ev       *lev;
    size_t                  nlev;
    int                     accepting;
    struct conn_set         cs; /* prefork mode: the connections held */
    long long               served;
    long long               max_requests; /* jitter applied; 0 = no limit */
    pid_t                   master;       /* told when max_requests is hit */
    int                     recycle;      /* it has been told */
    int                     draining;
    int64_t                 drain_deadline;
    int64_t                 next_tick;       /* the module's tick() is due */
    struct acceptor        *acc;             /* forking and threading modes */
    int64_t                 accept_retry_at; /* accept4 failed: paused until */
    unsigned long accept_failures; /* in a row, since the last accept */
};

/* Signal flags of a worker process, raised by its handlers. */
extern volatile sig_atomic_t worker_sig_term, worker_sig_quit, worker_sig_usr1,
    worker_sig_chld, worker_sig_urg;

/* Run a worker in a freshly forked process whose unneeded descriptors the
 * master side already closed.  fds are its listener descriptors; on_trial:
 * it is a canary (reload_canary), which serves the service's canary_probe
 * before it accepts.  Never returns. */
__attribute__((noreturn)) void
worker_main(struct service *svc, const struct config *cfg, struct slot *slot,
            long long max_requests, const int *fds, size_t nfds, int on_trial);

#endif
