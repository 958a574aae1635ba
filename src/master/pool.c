/*
 * pool.c -- the master's table of workers, and each service's share of
 * it (pool.h).
 *
 * A static pool is kept at its size.  A dynamic pool (min_spare, max_spare,
 * max_workers) is reviewed once a second: too few idle workers and it grows,
 * doubling the number started on each consecutive tick up to 32 (Apache's
 * prefork rule, quick to meet a burst without forking a storm); too many and
 * one idle worker is retired per tick, so it shrinks gently.
 *
 * A worker that dies within a second of its start before serving anything,
 * or exits with WORKER_EXIT_INIT, counts as a failure; the next respawn
 * then waits 100 ms, doubling up to 30 s, so a broken module costs a log
 * line per attempt instead of a fork loop, and the other services go on
 * regardless.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "deathlog.h"
#include "log.h"
#include "pool.h"
#include "scoreboard.h"
#include "service.h"
#include "ticketkeys.h"
#include "worker.h"

/* A worker that dies sooner than this after its start counts as failing. */
#define POOL_EARLY_DEATH_MS 1000
#define POOL_MAX_RATE       32
#define POOL_BACKOFF_FIRST  100
#define POOL_BACKOFF_MAX    30000

int pool_decide(const struct pool_limits *l, int live, int idle, int *rate)
{
    int room;

    if (!l->dynamic || live < l->base)
        return l->base - live;
    if (live > l->max_workers)
        return l->max_workers - live;
    if (idle < l->min_spare && live < l->max_workers) {
        room = l->max_workers - live;
        room = *rate < room ? *rate : room;
        if (*rate < POOL_MAX_RATE)
            *rate *= 2;
        return room;
    }
    *rate = 1;
    if (idle > l->max_spare && live > l->base)
        return -1;
    return 0;
}

int64_t pool_backoff_ms(int failures)
{
    int64_t d;

    if (failures <= 1)
        return 0;
    if (failures > 20)
        return POOL_BACKOFF_MAX;
    d = (int64_t)POOL_BACKOFF_FIRST << (failures - 2);
    return d < POOL_BACKOFF_MAX ? d : POOL_BACKOFF_MAX;
}

void pool_init(struct pool *p, struct scoreboard *sb,
               const struct lsock_set *ls, int pidfd)
{
    memset(p, 0, sizeof(*p));
    p->sb = sb;
    p->ls = ls;
    p->pidfd = pidfd;
}

void pool_free(struct pool *p)
{
    free(p->w);
    p->w = NULL;
    p->n = p->cap = 0;
}

struct worker *pool_add(struct pool *p)
{
    struct worker *w;

    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        w = realloc(p->w, cap * sizeof(*w));
        if (w == NULL)
            return NULL;
        p->w = w;
        p->cap = cap;
    }
    w = &p->w[p->n++];
    memset(w, 0, sizeof(*w));
    return w;
}

struct worker *pool_find(struct pool *p, pid_t pid)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->w[i].pid == pid)
            return &p->w[i];
    return NULL;
}

void pool_remove(struct pool *p, struct worker *w)
{
    *w = p->w[--p->n];
}

long long pool_requests_limit(long long max, long long jitter, long r)
{
    if (max == 0)
        return 0;
    return max + (jitter > 0 ? r % (jitter + 1) : 0);
}

/* In the child: keep only what this worker needs, then become it. */
__attribute__((noreturn)) static void become_worker(const struct pool       *p,
                                                    const struct generation *g,
                                                    struct service *s, int slot,
                                                    long long maxreq)
{
    int    fds[64];
    size_t i, n = 0;

    lsock_close_others(p->ls, s, slot);
    if (p->pidfd != -1)
        close(p->pidfd);
    ticketkeys_worker();
    for (i = 0; i < s->nls && n < sizeof(fds) / sizeof(fds[0]); i++)
        fds[n++] = lsock_fd(s->ls[i], slot);
    worker_main(s, g->cfg, &p->sb->slots[slot], maxreq, fds, n,
                g->trial_until != 0);
}

/* The master could not start a worker: the first failure of a streak is
 * an error, the retries that follow (every tick) only debug lines, or a
 * master that cannot fork would fill the log. */
static int spawn_failed(struct pool *p, const struct service *s, int err,
                        const char *why)
{
    log_at(p->spawn_failures++ == 0 ? PF_LOG_ERROR : PF_LOG_DEBUG, s->sc->name,
           err, "%s, worker not started", why);
    return -1;
}

int pool_spawn(struct pool *p, struct generation *g, struct service *s)
{
    const struct config *cfg = g->cfg;
    long long            maxreq = pool_requests_limit(cfg->max_requests,
                                                      cfg->max_requests_jitter, random());
    struct worker       *w;
    int                  slot;
    pid_t                pid;

    slot = scoreboard_claim(p->sb, s->id);
    if (slot == -1)
        return spawn_failed(p, s, 0, "no free scoreboard slot");
    w = pool_add(p);
    if (w == NULL) {
        scoreboard_release(p->sb, slot);
        return spawn_failed(p, s, 0, "out of memory");
    }
    p->sb->slots[slot].started_ms = mono_ms();
    pid = fork();
    if (pid == -1) {
        int err = errno;
        scoreboard_release(p->sb, slot);
        pool_remove(p, w);
        return spawn_failed(p, s, err, "fork");
    }
    if (pid == 0)
        become_worker(p, g, s, slot, maxreq);
    if (p->spawn_failures > 0)
        log_notice(s->sc->name, "worker started after %d failed attempts",
                   p->spawn_failures);
    p->spawn_failures = 0;
    slot_set_pid(&p->sb->slots[slot], pid);
    w->pid = pid;
    w->slot = slot;
    w->svc = s;
    w->gen = g;
    w->started = p->sb->slots[slot].started_ms;
    log_debug(s->sc->name, "started worker %d", (int)pid);
    return 0;
}

static void log_exit(const struct worker *w, int status)
{
    const char *name = w->svc->sc->name;

    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        int level = w->retiring && (sig == SIGTERM || sig == SIGQUIT)
                        ? PF_LOG_INFO
                        : PF_LOG_ERROR;
        log_at(level, name, 0, "worker %d exited on signal %d%s", (int)w->pid,
               sig, WCOREDUMP(status) ? " (core dumped)" : "");
    } else {
        int code = WEXITSTATUS(status);
        log_at(code == 0 ? PF_LOG_INFO : PF_LOG_ERROR, name, 0,
               "worker %d exited with code %d", (int)w->pid, code);
    }
}

/* Did w end in a way its operator should hear about: not retired by us,
 * not stopped with the master? */
static const char *death_reason(const struct pool *p, const struct worker *w,
                                int status)
{
    if (w->killed)
        return "worker_timeout";
    if (w->over_memory && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return "max_worker_memory";
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if ((w->retiring || p->stopping) &&
            (sig == SIGTERM || sig == SIGQUIT || sig == SIGKILL))
            return NULL;
        return "signal";
    }
    if (WEXITSTATUS(status) == 0)
        return NULL;
    return WEXITSTATUS(status) == WORKER_EXIT_INIT ? "init_failed" : "exit";
}

static int64_t real_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void record_death(struct pool *p, const struct generation *g,
                         const struct worker *w, const struct slot *snap,
                         int status, const char *reason, int64_t now)
{
    char         peer[64], json[SB_DEATH_MAX] = "";
    struct death d = {
        .time_ms = real_ms(),
        .service = w->svc->sc->name,
        .pid = w->pid,
        .age_ms = now - w->started,
        .served = snap->served,
        .reason = reason,
        .signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0,
        .status = WIFEXITED(status) ? WEXITSTATUS(status) : -1,
        .core = WIFSIGNALED(status) && WCOREDUMP(status),
        .peer = slot_peer_string(snap, peer, sizeof(peer)) == 0 ? peer : NULL,
        .request = snap->request,
        .failures = w->svc->failures,
        .syscall =
            snap->sandbox_syscall[0] != '\0' ? snap->sandbox_syscall : NULL,
    };

    if (death_record(g->cfg->death_log, &d, json, sizeof(json)) == 0 ||
        json[0] == '{')
        scoreboard_add_death(p->sb, json);
}

/* Back off a service whose workers die before they serve (counted in
 * s->failures); a worker that served anything resets the count. */
static void count_failure(const struct pool *p, const struct generation *g,
                          struct worker *w, int status, const struct slot *snap,
                          int64_t now)
{
    struct service *s = w->svc;
    int             early;

    if (w->retiring || p->stopping || w->gen != g)
        return;
    /* A worker that served anything did start: if a connection killed it,
     * the next one should be there at once, not after a back-off. */
    early = (snap->served == 0 && now - w->started < POOL_EARLY_DEATH_MS) ||
            (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_INIT);
    if (!early) {
        s->failures = 0;
        return;
    }
    s->failures++;
    if (WIFSIGNALED(status))
        snprintf(s->start_failure, sizeof(s->start_failure),
                 "worker %d died on signal %d", (int)w->pid, WTERMSIG(status));
    else
        snprintf(s->start_failure, sizeof(s->start_failure),
                 "worker %d exited with code %d%s", (int)w->pid,
                 WEXITSTATUS(status),
                 WEXITSTATUS(status) == WORKER_EXIT_INIT
                     ? " (its set-up failed: worker_init, privileges)"
                     : "");
    s->next_spawn = now + pool_backoff_ms(s->failures);
    if (s->next_spawn > now)
        log_warn(s->sc->name,
                 "workers keep failing at start-up (%d in a row); "
                 "next respawn in %lld ms",
                 s->failures, (long long)(s->next_spawn - now));
}

/* A worker of a generation on trial died: the trial has failed. */
static void trial_fail(struct generation *g, const struct worker *w, int status,
                       const char *reason)
{
    if (WIFSIGNALED(status))
        snprintf(g->trial_failed, sizeof(g->trial_failed),
                 "[%s] worker %d died on signal %d (%s)", w->svc->sc->name,
                 (int)w->pid, WTERMSIG(status), reason);
    else
        snprintf(g->trial_failed, sizeof(g->trial_failed),
                 "[%s] worker %d exited with code %d (%s)", w->svc->sc->name,
                 (int)w->pid, WEXITSTATUS(status), reason);
}

void pool_reaped(struct pool *p, struct generation *g, struct worker *w,
                 int status, int64_t now)
{
    const char *reason = death_reason(p, w, status);
    struct slot snap;

    log_exit(w, status);
    slot_read(&p->sb->slots[w->slot], &snap);
    if (snap.sandbox_syscall[0] != '\0')
        reason = "sandbox"; /* its SIGSYS handler named the call */
    scoreboard_release(p->sb, w->slot);
    count_failure(p, g, w, status, &snap, now);
    /* The pool fills the gap it left: a respawn, for the metrics. */
    if (!w->retiring && !p->stopping && w->gen == g)
        scoreboard_count_respawn(p->sb, w->svc->id);
    if (reason == NULL)
        return;
    scoreboard_count_death(p->sb, w->svc->id, reason);
    record_death(p, g, w, &snap, status, reason, now);
    if (w->gen == g && g->trial_until != 0 && g->trial_failed[0] == '\0')
        trial_fail(g, w, status, reason);
}

/* Ask one worker of s to quit, preferring an idle one, and log it with
 * why (the pool's reason, or NULL). */
static int retire(struct pool *p, const struct service *s, const char *why)
{
    struct worker *pick = NULL;
    int            idle = 0;
    size_t         i;

    for (i = 0; i < p->n && !idle; i++) {
        struct worker *w = &p->w[i];
        if (w->svc != s || w->retiring || w->killed || w->replacement != 0)
            continue;
        idle = p->sb->slots[w->slot].state == SLOT_IDLE;
        if (pick == NULL || idle)
            pick = w;
    }
    if (pick == NULL)
        return -1;
    log_info(s->sc->name, "%s%sretiring worker %d (%s)", why ? why : "",
             why ? ": " : "", (int)pick->pid,
             idle ? "idle" : "busy: it finishes its connections first");
    pool_quit(pick);
    return 0;
}

void pool_quit(struct worker *w)
{
    w->retiring = 1;
    if (kill(w->pid, SIGQUIT) == -1 && errno != ESRCH)
        log_syswarn(w->svc->sc->name, "kill(%d, QUIT)", (int)w->pid);
}

void pool_quit_generation(struct pool *p, const struct generation *g)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->w[i].gen == g && !p->w[i].retiring)
            pool_quit(&p->w[i]);
}

void pool_signal(const struct pool *p, int sig)
{
    for (size_t i = 0; i < p->n; i++)
        if (kill(p->w[i].pid, sig) == -1 && errno != ESRCH)
            log_syswarn(p->w[i].svc->sc->name, "kill(%d, SIG%s)",
                        (int)p->w[i].pid, sigabbrev_np(sig));
}

int pool_holds(const struct pool *p, const struct generation *g)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->w[i].gen == g)
            return 1;
    return 0;
}

int pool_accepting(const struct pool *p, const struct worker *w)
{
    struct slot snap;

    slot_read(&p->sb->slots[w->slot], &snap);
    return snap.state == SLOT_IDLE || snap.state == SLOT_BUSY;
}

const char *pool_unready(const struct pool *p, const struct generation *g)
{
    for (size_t i = 0; i < g->nsvc; i++) {
        int up = 0;

        for (size_t j = 0; j < p->n && !up; j++)
            up = p->w[j].svc == &g->svc[i] && pool_accepting(p, &p->w[j]);
        if (!up)
            return g->svc[i].sc->name;
    }
    return NULL;
}

static void pool_count(const struct pool *p, const struct service *s, int *live,
                       int *idle)
{
    struct slot snap;
    size_t      i;

    *live = *idle = 0;
    for (i = 0; i < p->n; i++) {
        const struct worker *w = &p->w[i];
        /* One being replaced is counted as its replacement. */
        if (w->svc != s || w->retiring || w->killed || w->replacement != 0)
            continue;
        (*live)++;
        slot_read(&p->sb->slots[w->slot], &snap);
        *idle += snap.state == SLOT_IDLE;
    }
}

/* Why a pool changes by d (neither filling it to its size nor
 * replacing a dead worker), for the log. */
static void pool_reason(char *buf, size_t len, const struct pool_limits *l,
                        int live, int idle, int d)
{
    if (d > 0)
        snprintf(buf, len,
                 "pool: %d of %d workers idle, fewer than min_spare = %d: "
                 "starting %d",
                 idle, live, l->min_spare, d);
    else if (!l->dynamic)
        snprintf(buf, len, "pool: %d workers, more than its size %d", live,
                 l->base);
    else if (live > l->max_workers)
        snprintf(buf, len, "pool: %d workers, more than max_workers = %d", live,
                 l->max_workers);
    else
        snprintf(buf, len,
                 "pool: %d of %d workers idle, more than max_spare = %d", idle,
                 live, l->max_spare);
}

static int service_maintain(struct pool *p, struct generation *g,
                            struct service *s, int64_t now, int tick)
{
    const struct service_conf *sc = s->sc;
    /* On trial (reload_canary), one worker; none more once it failed. */
    int                target = g->trial_until != 0 ? 1 : s->target;
    struct pool_limits l = {
        .base = target,
        .dynamic = sc->dynamic && g->trial_until == 0,
        .min_spare = sc->min_spare,
        .max_spare = sc->max_spare,
        .max_workers = sc->max_workers,
    };
    char why[160] = "";
    int  live, idle, d, rate = s->spawn_rate;

    scoreboard_set_target(p->sb, s->id, s->target); /* TTIN, TTOU */
    scoreboard_set_backoff(p->sb, s->id,
                           s->next_spawn > now ? s->next_spawn - now : 0);
    if (g->trial_failed[0] != '\0')
        return 0;
    pool_count(p, s, &live, &idle);
    /* Between ticks a dynamic pool is only kept at its minimum. */
    if (!tick && l.dynamic && live >= target)
        return 0;
    d = pool_decide(&l, live, idle, tick ? &s->spawn_rate : &rate);
    if (d > 0 && now < s->next_spawn)
        return 0;
    if (d > 0 && s->failures > 0)
        d = 1;
    if (d == 0)
        return 0;
    /* Filling the pool to its size is no decision; growing past it and
     * shrinking are, and say why. */
    if (d < 0 || live >= target)
        pool_reason(why, sizeof(why), &l, live, idle, d);
    if (d > 0 && live >= target)
        log_info(sc->name, "%s", why);
    for (; d > 0; d--)
        if (pool_spawn(p, g, s) == -1)
            return -1;
    for (; d < 0; d++)
        if (retire(p, s, why) == -1)
            break;
    return 0;
}

int pool_maintain(struct pool *p, struct generation *g, int64_t now, int tick)
{
    size_t i;
    int    rc = 0;

    if (p->stopping || g == NULL)
        return 0;
    for (i = 0; i < g->nsvc; i++)
        if (service_maintain(p, g, &g->svc[i], now, tick) == -1)
            rc = -1;
    return rc;
}

int64_t pool_next_due(const struct generation *g)
{
    int64_t due = INT64_MAX;
    size_t  i;

    for (i = 0; g != NULL && i < g->nsvc; i++) {
        const struct service *s = &g->svc[i];
        if (s->failures > 0 && s->next_spawn < due)
            due = s->next_spawn;
    }
    return due;
}

long long pool_private_memory(pid_t pid)
{
    char      path[64], line[256];
    long long kb, total = 0;
    int       found = 0;
    FILE     *f;

    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
    f = fopen(path, "re");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "Private_Dirty: %lld kB", &kb) == 1 ||
            sscanf(line, "Swap: %lld kB", &kb) == 1) {
            total += kb;
            found++;
        }
    }
    fclose(f);
    return found > 0 ? total * 1024 : -1;
}

/*
 * max_worker_memory: a worker whose private memory has grown past it is
 * recycled as for max_requests (rollout.c: a new one takes its place, then
 * it finishes its connections) and its exit recorded with why.  Read at
 * most once a second; smaps_rollup walks the process's mappings.
 */
void pool_check_memory(struct pool *p, int64_t now)
{
    size_t i;

    if (now < p->memory_due)
        return;
    p->memory_due = now + 1000;
    for (i = 0; i < p->n; i++) {
        struct worker *w = &p->w[i];
        long long      cap = w->svc->sc->max_worker_memory, have;

        if (cap <= 0 || w->retiring || w->killed || w->recycle)
            continue;
        have = pool_private_memory(w->pid);
        if (have <= cap)
            continue;
        log_notice(w->svc->sc->name,
                   "worker %d uses %lld KiB of private memory "
                   "(max_worker_memory %lld KiB): recycling it",
                   (int)w->pid, have / 1024, cap / 1024);
        w->over_memory = 1;
        w->recycle = 1;
    }
}

void pool_check_timeouts(struct pool *p, long long limit_ms, int64_t now)
{
    struct slot snap;
    size_t      i;

    if (limit_ms <= 0)
        return;
    for (i = 0; i < p->n; i++) {
        struct worker *w = &p->w[i];
        if (w->killed)
            continue;
        slot_read(&p->sb->slots[w->slot], &snap);
        if (snap.state != SLOT_BUSY || snap.busy_since == 0 ||
            now - snap.busy_since <= limit_ms) {
            w->warned = 0;
            continue;
        }
        /* Workers ignore the signal unless a module asked for it. */
        if (w->warned == 0) {
            log_error(w->svc->sc->name,
                      "worker %d busy on one connection for %lld ms "
                      "(worker_timeout %lld ms): killing it",
                      (int)w->pid, (long long)(now - snap.busy_since),
                      limit_ms);
            if (kill(w->pid, POOL_SIG_STACK) == -1 && errno != ESRCH)
                log_syswarn(w->svc->sc->name, "kill(%d, USR2)", (int)w->pid);
            w->warned = now;
            continue;
        }
        if (now - w->warned < POOL_STACK_GRACE_MS)
            continue;
        if (kill(w->pid, SIGKILL) == -1 && errno != ESRCH)
            log_syswarn(w->svc->sc->name, "kill(%d, KILL)", (int)w->pid);
        w->killed = 1;
    }
}

int64_t pool_kill_due(const struct pool *p)
{
    int64_t due = INT64_MAX;
    size_t  i;

    for (i = 0; i < p->n; i++)
        if (p->w[i].warned != 0 && !p->w[i].killed &&
            p->w[i].warned + POOL_STACK_GRACE_MS < due)
            due = p->w[i].warned + POOL_STACK_GRACE_MS;
    return due;
}
