/*
 * host.h -- the host side of the module API: the pf_api table every
 * pf_service, pf_conn and pf_dgram points at, and the per-process state
 * its functions answer from.
 */
#ifndef PF_HOST_H
#define PF_HOST_H

#include <prefork/module.h>

extern const struct pf_api host_api;

struct slot;

/* The scoreboard slot pf_activity() writes to in this process. */
void conn_set_slot(struct slot *slot);
/* That slot, for the counters of a connection served without one of its
 * own (the children and threads of forking and threading modes); NULL:
 * none. */
struct slot *conn_slot(void);

/* This worker has begun to drain: pf_accepting() says 0 from now on. */
void conn_set_draining(void);

/* A pf_service for module hooks in this process. */
void service_pub_init(pf_service *pub, const char *name, const void *conf,
                      const char *config_dir);

/* Wait until fd is ready for events (POLLIN, POLLOUT) or timeout_ms
 * passes (0: forever).  Returns 0 when ready, -1 with errno ETIMEDOUT or
 * the poll error. */
int conn_wait(int fd, short events, int timeout_ms);

#endif
