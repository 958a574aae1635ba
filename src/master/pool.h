/*
 * pool.h -- sizing and supervising each service's pool of workers.
 *
 * The decisions are pure functions (unit-tested); the rest forks workers,
 * accounts for the ones that exit, and retires the ones no longer wanted.
 */
#ifndef PF_POOL_H
#define PF_POOL_H

#include <stdint.h>
#include <sys/types.h>

struct master;
struct service;
struct worker;

struct pool_limits {
    int base;    /* static size, or the dynamic minimum */
    int dynamic; /* min_spare/max_spare/max_workers apply */
    int min_spare, max_spare, max_workers;
};

/* How many workers to start (> 0) or retire (< 0) now, given `live`
 * workers of which `idle` are idle.  *rate is the dynamic growth rate,
 * doubled on each tick that still finds too few idle workers, as Apache's
 * prefork does, and reset when it does not. */
int pool_decide(const struct pool_limits *l, int live, int idle, int *rate);

/* A process's private memory, in bytes: Private_Dirty and Swap from
 * /proc/PID/smaps_rollup, what max_worker_memory is measured in.  -1 when
 * it cannot be read (the process is gone). */
long long pool_private_memory(pid_t pid);

/* Delay before respawning after `failures` consecutive early deaths:
 * 0 for the first, then 100 ms doubling to 30 s. */
int64_t pool_backoff_ms(int failures);

/* The number of connections a new worker serves before it is replaced:
 * max plus r reduced to 0..jitter, so that workers started together do
 * not all recycle together; 0 (no limit) when max is 0.  r is random(). */
long long pool_requests_limit(long long max, long long jitter, long r);

/* A worker that dies sooner than this after its start counts as failing. */
#define POOL_EARLY_DEATH_MS 1000

/* Master: fork one worker for s.  Returns 0 or -1 (logged). */
int pool_spawn(struct master *m, struct service *s);
/* Master: bring every service of the current generation to its size;
 * with `tick` also apply the dynamic rules.  Returns 0, or -1 when a
 * worker was wanted and the master could not start it (fork, memory, a
 * scoreboard slot: logged), not when a service is backing off. */
int pool_maintain(struct master *m, int64_t now, int tick);
/* Master: w has exited with wait status `status`; log it, update backoff.
 * The caller removes w from the table. */
void pool_reaped(struct master *m, struct worker *w, int status, int64_t now);
/* Master: tell w to quit (it drains) and count it as retiring. */
void pool_quit(struct worker *w);
/* Master: ask one worker of s to quit, preferring an idle one. */
int pool_retire_one(struct master *m, struct service *s);
/* Master: the earliest time a backed-off respawn is due, or INT64_MAX. */
int64_t pool_next_due(const struct master *m);
/* Master: kill workers busy on one connection longer than worker_timeout. */
void pool_check_timeouts(struct master *m, int64_t now);
/* Retire workers past their service's max_worker_memory (at most one
 * look a second). */
void pool_check_memory(struct master *m, int64_t now);

#endif
