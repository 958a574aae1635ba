/*
 * stages.h -- the life of a connection, one piece of code under both
 * drivers.
 *
 * A connection goes accepted -> PROXY header (when the service wants one)
 * -> handshake -> the module's setup() -> handle() ... -> finish() ->
 * closed.  conn_step() takes it as far as it can without blocking and says
 * what it waits for; the driver waits (the worker's epoll set and timer
 * heap in driver_event.c, poll() in driver_block.c) and steps it again.
 * The scoreboard, the stages' deadlines and the request count are kept
 * here, so both drivers keep them alike.
 */
#ifndef PF_STAGES_H
#define PF_STAGES_H

#include <stdint.h>

#include <prefork/module.h>

struct conn;
struct slot;

/* What the connections of one driver share; the driver owns it. */
struct conn_env {
    const struct pf_module *mod;
    struct slot            *slot; /* NULL: a forked child, a thread */
    /* The slot is BUSY for each handle() (the event driver, which holds
     * many connections), not for the whole connection (the blocking
     * driver, which marks it itself). */
    int busy_per_request;
    /* When the module meets a connection, look whether the client's bytes
     * are there already and serve them at once (the event driver: one
     * trip through epoll less); else wait for them. */
    int look_first;
    /* The worker drains: a connection handle() leaves PF_IDLE is closed,
     * and the slot says EXITING between requests (event driver only). */
    int draining;
};

/* What a connection waits for after a step. */
struct conn_wait {
    short   events;   /* POLLIN or POLLOUT; 0: it is done, close it */
    int64_t deadline; /* monotonic ms; 0: none */
};

/*
 * Take c as far as it goes without blocking.  ready: what c waited for
 * (after the last step) has come, or the driver knows nothing (0, a
 * connection just accepted).  At most one handle() per step, but for
 * bytes the transport already holds (TLS records poll() cannot see).  Returns
 * what c waits for now; events 0 when it is done, its module (if it met
 * it) finished: the driver then frees it.
 */
struct conn_wait conn_step(struct conn *c, const struct conn_env *env,
                           int ready);

/* The driver gives up waiting for c: err is ETIMEDOUT when its deadline
 * passed (timed_out is set for finish()), else why the wait failed.  The
 * stage it was in says what is logged; finish() runs if it is due. */
void conn_abort(struct conn *c, const struct conn_env *env, int err);

/* The driver closes c before it is done (a drain, the worker's exit, a
 * failure of the driver's own): finish() runs if it is due. */
void conn_end(struct conn *c, const struct conn_env *env);

#endif
