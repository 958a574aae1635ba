/*
 * rollout.h -- replacing workers without losing capacity.
 *
 * A worker due for recycling (max_requests, max_worker_memory) is told to
 * quit only once a replacement is accepting, and no more of a service's
 * workers are being replaced at one time than its max_unavailable allows.
 * After a reload, the old generation's workers of a service are told to
 * quit only as fast as the new generation's come up, and with
 * reload_canary only once one new worker per service has passed a trial
 * (master.c rolls a failed trial back).
 */
#ifndef PF_ROLLOUT_H
#define PF_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

struct budget;
struct generation;
struct pool;

/* How often the master looks while a replacement is starting (ms). */
#define ROLLOUT_POLL_MS 20

/* Workers of a pool of `pool` that may be in replacement at one time:
 * b->n, or b->n percent of the pool rounded up; at least 1. */
int rollout_budget(const struct budget *b, int pool);

/* Reload hand-over: may one more of `old` still-serving workers of the
 * previous generation quit, with `accepting` of the new generation's
 * workers up and `target` wanted?  Yes while the rest would still make up
 * the pool (old - 1 + accepting >= target). */
int rollout_may_quit(int old, int accepting, int target);

/* Master: review g, the current generation, when it is on trial
 * (reload_canary).  Returns 1 when it has failed, with why in why; else
 * 0, having sent the old workers behind the canaries once these accept,
 * and ended the trial (the pool rolls over) when its time is up. */
int rollout_trial_failed(struct pool *p, struct generation *g, int64_t now,
                         char *why, size_t len);

/* Master: one pass of both for p's workers, g being the current
 * generation, each time round the loop. */
void rollout_pass(struct pool *p, struct generation *g, int64_t now);
/* Master: is a replacement or a hand-over to g under way (poll at
 * ROLLOUT_POLL_MS)? */
int rollout_pending(const struct pool *p, const struct generation *g);

#endif
