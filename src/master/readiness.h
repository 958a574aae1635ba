/*
 * readiness.h -- when a start or a reload is complete, and when it is
 * hopeless.
 *
 * A start or a reload is complete once every service of the running
 * generation has a worker past its module's worker_init (its scoreboard
 * slot says it is accepting): the master then tells systemd READY=1.  It
 * waits at most start_timeout; a reload is given up sooner when one
 * service's new workers keep failing at start-up (master.c rolls it back;
 * a start given up makes the master exit 1).
 */
#ifndef PF_READINESS_H
#define PF_READINESS_H

#include <stddef.h>
#include <stdint.h>

struct generation;
struct pool;

/* A reload whose workers of one service fail at start-up this many times
 * in a row (about a second of back-off) is given up. */
#define READINESS_GIVE_UP 5

enum readiness { READINESS_WAIT, READINESS_UP, READINESS_HOPELESS };

/* The time by which g must be up, counted from now (mono ms; 0: start_
 * timeout is 0, no bound). */
int64_t readiness_deadline(const struct generation *g, int64_t now);

/* Is g up, hopeless (why says why, in len bytes) or neither yet?  reload:
 * g comes from a reload (a start is never given up before its deadline:
 * what its workers need may be coming up beside it).  A generation on
 * trial (reload_canary) is never hopeless here: its trial decides. */
enum readiness readiness_check(const struct pool *p, const struct generation *g,
                               int reload, int64_t until, int64_t now,
                               char *why, size_t len);

#endif
