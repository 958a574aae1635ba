/*
 * driver_block.c -- the blocking driver: a process or thread given over to
 * one connection steps it through its stages (stages.c) and waits in
 * poll() for what each step asks, until the connection is done.
 */
#include <errno.h>

#include "clock.h"
#include "conn.h"
#include "driver_block.h"
#include "host.h"
#include "scoreboard.h"
#include "stages.h"

/* Wait for what w asks until its deadline.  Returns 0, or -1 with errno
 * ETIMEDOUT or the poll error. */
static int wait_for(int fd, const struct conn_wait *w)
{
    int64_t left = 0; /* conn_wait: no deadline */

    if (w->deadline != 0) {
        left = w->deadline - mono_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
    return conn_wait(fd, w->events, (int)left);
}

/* A connection served here is one request: timed from the slot's
 * busy_since reading to the end, and counted unless the module reports
 * its responses itself (PF_RESPONSES).  A child or thread of the forking
 * and threading modes has no slot of its own and counts into its
 * acceptor's (conn_slot()). */
void conn_serve(struct conn *c, const struct pf_module *m, struct slot *slot)
{
    const struct conn_env env = {.mod = m, .slot = slot};
    struct slot          *ctr = slot != NULL ? slot : conn_slot();
    struct conn_wait      w;
    int                   ready = 0;
    int64_t               t0 = ctr != NULL ? mono_us() : 0;

    if (slot != NULL) {
        slot_busy_at(slot, t0 / 1000);
        slot_set_conns(slot, 1);
        slot_set_peer(slot, c->pub.peer, c->pub.peerlen);
    }
    while ((w = conn_step(c, &env, ready)).events != 0) {
        if (wait_for(c->pub.fd, &w) == -1) {
            conn_abort(c, &env, errno);
            break;
        }
        ready = 1;
    }
    conn_free(c);
    if (ctr != NULL)
        slot_observe(ctr, mono_us() - t0, !(m->flags & PF_RESPONSES));
    if (slot != NULL) {
        slot_set_conns(slot, 0);
        slot_done(slot, 0);
    }
}
