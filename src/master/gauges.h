/*
 * gauges.h -- what the master measures on its tick for the metrics: the
 * accept queue of every listener, the descriptors each worker and the
 * master hold, and the descriptor limit.
 */
#ifndef PF_GAUGES_H
#define PF_GAUGES_H

struct generation;
struct pool;

/* Master, once a tick: measure and write into the scoreboard. */
void gauges_publish(struct pool *p, const struct generation *g);

#endif
