/*
 * serving.h -- what the master says about the generation it runs.
 */
#ifndef PF_SERVING_H
#define PF_SERVING_H

#include "scoreboard.h"
#include "service.h"

/* List g's services in the status file, for `prefork -s status`. */
void serving_publish(struct scoreboard *sb, const struct generation *g);

/* One line per listener of g: what an operator reads to know what runs. */
void serving_log(const struct generation *g);

#endif
