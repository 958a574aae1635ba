/*
 * driver_block.h -- the blocking driver: one connection served to its end
 * by the calling process or thread, waiting with poll().  For PF_BLOCKING
 * modules in a prefork worker, for the child or thread of the forking and
 * threading modes, and for a canary's canary_probe.
 */
#ifndef PF_DRIVER_BLOCK_H
#define PF_DRIVER_BLOCK_H

#include <prefork/module.h>

struct conn;
struct slot;

/* Serve c through every stage of its life (stages.h) to its end: its
 * PROXY header if due, setup, handle whenever what it asked for comes
 * (waiting up to idle_timeout_ms), finish.  A PF_BLOCKING module's first
 * handle() comes at once, before any data.  With a slot (a prefork
 * worker), the slot is BUSY and holds one connection throughout, so the
 * pool and worker_timeout see it.  Frees c. */
void conn_serve(struct conn *c, const struct pf_module *m, struct slot *slot);
/* As conn_serve, in a prefork worker that can hold connections in its
 * event loop: a PF_PARK_IDLE module's connection that handle() leaves
 * PF_IDLE is not waited for but handed back.  Returns 1 when c was handed
 * back (the caller now holds it), 0 when it is done and freed. */
int conn_serve_parkable(struct conn *c, const struct pf_module *m,
                        struct slot *slot);

#endif
