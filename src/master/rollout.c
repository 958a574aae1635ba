/*
 * rollout.c -- recycling under max_unavailable, and a reload's hand-over
 * from one generation's workers to the next (rollout.h).
 *
 * Both surge: the new worker is forked first, beside the one it replaces,
 * and the old one is told to quit (it stops accepting, finishes what it
 * has) only once the new one's slot says it is accepting.  A service so
 * never has fewer accepting workers than its size because of a recycle or
 * a reload.  When a replacement cannot be started (fork fails, its module
 * cannot start), the old worker serves on and the master tries again
 * under the pool's back-off.  A generation on trial (reload_canary) has
 * one worker a service and hands nothing over until the trial ends.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "pool.h"
#include "rollout.h"
#include "scoreboard.h"
#include "service.h"

int rollout_budget(const struct budget *b, int pool)
{
    long long n = b->n;

    if (b->percent)
        n = ((long long)pool * b->n + 99) / 100;
    if (pool > 0 && n > pool)
        n = pool;
    return n < 1 ? 1 : (int)n;
}

int rollout_may_quit(int old, int accepting, int target)
{
    return old > 0 && old - 1 + accepting >= target;
}

static int wants_recycle(const struct pool *p, const struct worker *w)
{
    struct slot snap;

    if (w->recycle)
        return 1;
    slot_read(&p->sb->slots[w->slot], &snap);
    return snap.recycle != 0;
}

/* A worker whose replacement is up quits; one whose replacement is gone
 * waits for the next.  Returns how many replacements are still starting. */
static int check_replacements(struct pool *p, const struct service *s)
{
    int starting = 0;

    for (size_t i = 0; i < p->n; i++) {
        struct worker *w = &p->w[i], *r;

        if (w->svc != s || w->retiring || w->killed || w->replacement == 0)
            continue;
        r = pool_find(p, w->replacement);
        if (r == NULL || r->retiring || r->killed) {
            w->replacement = 0;
            continue;
        }
        if (!pool_accepting(p, r)) {
            starting++;
            continue;
        }
        log_info(s->sc->name,
                 "recycling worker %d (%s): worker %d serves "
                 "in its place",
                 (int)w->pid,
                 w->over_memory ? "max_worker_memory" : "max_requests",
                 (int)r->pid);
        pool_quit(w);
    }
    return starting;
}

static void recycle_service(struct pool *p, struct generation *g,
                            struct service *s, int64_t now)
{
    int budget = rollout_budget(&s->sc->max_unavailable, s->target);
    int starting = check_replacements(p, s);

    for (size_t i = 0; i < p->n && starting < budget; i++) {
        struct worker *w = &p->w[i];
        pid_t          pid;

        if (w->svc != s || w->retiring || w->killed || w->replacement != 0 ||
            !wants_recycle(p, w))
            continue;
        if (now < s->next_spawn || pool_spawn(p, g, s) == -1)
            return;               /* it serves on; the next pass tries again */
        pid = p->w[p->n - 1].pid; /* pool_spawn may have moved p->w */
        p->w[i].replacement = pid;
        starting++;
        log_debug(s->sc->name, "worker %d started to replace %d", (int)pid,
                  (int)p->w[i].pid);
    }
}

static struct service *service_named(const struct generation *g,
                                     const char              *name)
{
    for (size_t i = 0; i < g->nsvc; i++)
        if (strcmp(g->svc[i].sc->name, name) == 0)
            return &g->svc[i];
    return NULL;
}

/* A worker of a generation before g, in the service named name, that
 * has not been told to quit. */
static int is_old(const struct worker *w, const struct generation *g,
                  const char *name)
{
    return !w->retiring && !w->killed && w->gen != g &&
           strcmp(w->svc->sc->name, name) == 0;
}

/* The reloaded-away workers of the service s replaces quit as fast as
 * s's own come up.  Only those accepting count and quit: a reload that
 * superseded one still starting leaves that one's workers starting, and
 * they serve no one yet (they quit in turn once they are up). */
static void hand_over(struct pool *p, const struct generation *g,
                      struct service *s)
{
    const char *name = s->sc->name;
    int         old = 0, up = 0;

    for (size_t i = 0; i < p->n; i++) {
        const struct worker *w = &p->w[i];

        if (w->svc == s && !w->retiring && !w->killed)
            up += pool_accepting(p, w);
        else if (is_old(w, g, name))
            old += pool_accepting(p, w);
    }
    if (old > 0 && up == 0 && s->failures > 0 && !s->held_over) {
        s->held_over = 1;
        log_warn(name,
                 "the new configuration's workers fail to start: "
                 "%d workers of the previous one serve on",
                 old);
    }
    for (size_t i = 0; i < p->n && rollout_may_quit(old, up, s->target); i++) {
        struct worker *w = &p->w[i];

        if (!is_old(w, g, name) || !pool_accepting(p, w))
            continue;
        pool_quit(w);
        old--;
    }
}

/* Reloaded-away workers of services the new configuration does not have
 * quit at once. */
static void drop_removed(struct pool *p, const struct generation *g)
{
    for (size_t i = 0; i < p->n; i++) {
        struct worker *w = &p->w[i];

        if (!w->retiring && !w->killed && w->gen != g &&
            service_named(g, w->svc->sc->name) == NULL)
            pool_quit(w);
    }
}

void rollout_pass(struct pool *p, struct generation *g, int64_t now)
{
    /* A generation on trial has one worker a service: the old serve on. */
    if (p->stopping || g == NULL || g->trial_until != 0)
        return;
    drop_removed(p, g);
    for (size_t i = 0; i < g->nsvc; i++) {
        hand_over(p, g, &g->svc[i]);
        recycle_service(p, g, &g->svc[i], now);
    }
}

/* Once the canaries accept, the old workers watch their listeners anew,
 * behind them: an idle canary is the first to get a new connection. */
static void put_trial_first(const struct pool *p, const struct generation *g)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct worker *w = &p->w[i];

        if (w->gen != g && !w->retiring && kill(w->pid, SIGURG) == -1 &&
            errno != ESRCH)
            log_syswarn(NULL, "kill(%d, URG)", (int)w->pid);
    }
}

/* What the workers on trial have served. */
static uint64_t trial_served(const struct pool *p, const struct generation *g)
{
    uint64_t n = 0;

    for (size_t i = 0; i < p->n; i++)
        if (p->w[i].gen == g)
            n += p->sb->slots[p->w[i].slot].served;
    return n;
}

int rollout_trial_failed(struct pool *p, struct generation *g, int64_t now,
                         char *why, size_t len)
{
    const char *name;

    if (g->trial_until == 0)
        return 0;
    if (g->trial_failed[0] != '\0') {
        snprintf(why, len, "%s", g->trial_failed);
        return 1;
    }
    name = pool_unready(p, g);
    if (name == NULL && !g->trial_first) {
        put_trial_first(p, g);
        g->trial_first = 1;
    }
    if (now < g->trial_until)
        return 0;
    if (name != NULL) {
        snprintf(why, len, "[%s] no worker accepting by the end of the trial",
                 name);
        return 1;
    }
    g->trial_until = 0;
    log_notice(NULL,
               "generation %u passed its trial (%llu connections served): "
               "rolling over",
               g->number, (unsigned long long)trial_served(p, g));
    scoreboard_set_reload(p->sb, g->number, "rolled over", NULL);
    return 0;
}

int rollout_pending(const struct pool *p, const struct generation *g)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct worker *w = &p->w[i];

        if (w->retiring || w->killed)
            continue;
        if (w->replacement != 0 || w->gen != g)
            return 1;
    }
    return 0;
}
