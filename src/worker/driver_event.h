/*
 * driver_event.h -- the event driver: the connections a prefork worker
 * holds at once (modules not PF_BLOCKING), each parked in the worker's
 * epoll set with its deadline in a timer heap while it waits, and stepped
 * through its stages (stages.h) when what it waits for comes.
 */
#ifndef PF_DRIVER_EVENT_H
#define PF_DRIVER_EVENT_H

#include <stdint.h>

#include <prefork/module.h>

#include "stages.h"
#include "timerheap.h"

struct conn;
struct slot;

struct conn_set {
    struct conn_env  env;
    int              epfd;   /* the worker's */
    const char      *name;   /* the service, for the log */
    struct timerheap timers; /* parked connections' deadlines */
    struct conn     *head;   /* parked and in flight */
    unsigned         n;
    int64_t          trim_at; /* give the idle heap back (0: no need) */
};

void connset_init(struct conn_set *s, int epfd, const struct pf_module *m,
                  struct slot *slot, const char *name);
/* A connection accepted: s owns it from here. */
void connset_add(struct conn_set *s, struct conn *c);
/* epoll says what c waits for has come. */
void connset_ready(struct conn_set *s, struct conn *c);
/* Close the connections whose deadline is past now. */
void connset_expire(struct conn_set *s, int64_t now);
/* The earliest deadline of a parked connection; 0: none. */
int64_t connset_deadline(const struct conn_set *s);
/* The worker begins to drain: handle() leaving PF_IDLE closes from now,
 * and an idle connection keeps at most a second of its idle time. */
void connset_drain(struct conn_set *s);
/* Close every connection, letting the module finish each. */
void connset_close_all(struct conn_set *s);
/* A second after the last connection closed, give free heap pages back. */
void connset_trim(struct conn_set *s, int64_t now);

#endif
