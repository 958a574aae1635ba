/*
 * pool.h -- the workers the master has started, and sizing and
 * supervising each service's share of them.
 *
 * struct pool is the table of live workers, of every generation, with
 * what starting one more takes; the master holds one and passes it, with
 * the generation now current, to the functions below and to rollout.c.
 * The sizing decisions are pure functions (unit-tested); the rest forks
 * workers, accounts for the ones that exit, and retires the ones no
 * longer wanted.
 */
#ifndef PF_POOL_H
#define PF_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct generation;
struct lsock_set;
struct scoreboard;
struct service;

/* One worker process, from its fork until the master reaps it. */
struct worker {
    pid_t              pid;
    int                slot;
    struct service    *svc;
    struct generation *gen;
    int                retiring;    /* told to quit: not replaced */
    int                killed;      /* SIGKILLed for worker_timeout */
    int64_t            warned;      /* sent POOL_SIG_STACK then; 0: not */
    int                over_memory; /* recycled for max_worker_memory */
    int                recycle;     /* to be replaced (the master's word) */
    pid_t              replacement; /* started to take its place; 0: none */
    int64_t            started;
};

/* The master's workers and what it takes to start one more. */
struct pool {
    struct worker *w; /* the table: moves when it grows */
    size_t         n, cap;
    /* The master's, lent at pool_init: the slots the workers write, every
     * listener (a new worker closes those not its own) and the pidfile's
     * descriptor (-1: none), which no worker keeps. */
    struct scoreboard      *sb;
    const struct lsock_set *ls;
    int                     pidfd;
    int                     stopping;       /* no respawns: shutting down */
    int                     spawn_failures; /* the master's own, in a row */
    int64_t                 memory_due;     /* next max_worker_memory look */
};

/* Master: an empty pool whose workers use sb's slots. */
void pool_init(struct pool *p, struct scoreboard *sb,
               const struct lsock_set *ls, int pidfd);
/* Free the table (the workers are gone, or no longer the master's). */
void pool_free(struct pool *p);
/* A new, zeroed entry at the end of the table, or NULL (out of memory).
 * Pointers into the table are stale after it. */
struct worker *pool_add(struct pool *p);
/* The worker with that pid, or NULL. */
struct worker *pool_find(struct pool *p, pid_t pid);
/* Drop w from the table; the last entry takes its place. */
void pool_remove(struct pool *p, struct worker *w);

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

/* Master: fork one worker for s of g, the current generation.  Returns 0
 * or -1 (logged). */
int pool_spawn(struct pool *p, struct generation *g, struct service *s);
/* Master: bring every service of g, the current generation, to its size;
 * with `tick` also apply the dynamic rules.  Returns 0, or -1 when a
 * worker was wanted and the master could not start it (fork, memory, a
 * scoreboard slot: logged), not when a service is backing off. */
int pool_maintain(struct pool *p, struct generation *g, int64_t now, int tick);
/* Master: w has exited with wait status `status`; log it, record an
 * abnormal death (in g's death_log), update the back-off and fail g's
 * trial when w was on one.  The caller removes w from the table. */
void pool_reaped(struct pool *p, struct generation *g, struct worker *w,
                 int status, int64_t now);
/* Master: tell w to quit (it drains) and count it as retiring. */
void pool_quit(struct worker *w);
/* Master: tell every worker of generation g to quit. */
void pool_quit_generation(struct pool *p, const struct generation *g);
/* Master: send sig to every worker. */
void pool_signal(const struct pool *p, int sig);
/* Has a worker of generation g not been reaped yet? */
int pool_holds(const struct pool *p, const struct generation *g);
/* Is w accepting (its slot says IDLE or BUSY)? */
int pool_accepting(const struct pool *p, const struct worker *w);
/* The name of the first service of g without a worker accepting, or NULL
 * when every one has one. */
const char *pool_unready(const struct pool *p, const struct generation *g);
/* Master: the earliest time a backed-off respawn of g is due, or
 * INT64_MAX. */
int64_t pool_next_due(const struct generation *g);
/* Master: kill workers busy on one connection longer than limit_ms
 * (worker_timeout; 0: no limit): POOL_SIG_STACK first, for a module to
 * log where it is stuck (python: its stack), SIGKILL POOL_STACK_GRACE_MS
 * later. */
#define POOL_SIG_STACK      SIGUSR2
#define POOL_STACK_GRACE_MS 300
void pool_check_timeouts(struct pool *p, long long limit_ms, int64_t now);
/* Master: when a worker warned by pool_check_timeouts is due its
 * SIGKILL; INT64_MAX: none is. */
int64_t pool_kill_due(const struct pool *p);
/* Retire workers past their service's max_worker_memory (at most one
 * look a second). */
void pool_check_memory(struct pool *p, int64_t now);

#endif
