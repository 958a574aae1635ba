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
#include "master.h"
#include "pool.h"
#include "rollout.h"
#include "scoreboard.h"

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

static int accepting(const struct master *m, const struct worker *w)
{
    struct slot snap;

    slot_read(&m->sb->slots[w->slot], &snap);
    return snap.state == SLOT_IDLE || snap.state == SLOT_BUSY;
}

static struct worker *find_pid(struct master *m, pid_t pid)
{
    for (size_t i = 0; i < m->nw; i++)
        if (m->w[i].pid == pid)
            return &m->w[i];
    return NULL;
}

static int wants_recycle(const struct master *m, const struct worker *w)
{
    struct slot snap;

    if (w->recycle)
        return 1;
    slot_read(&m->sb->slots[w->slot], &snap);
    return snap.recycle != 0;
}

/* A worker whose replacement is up quits; one whose replacement is gone
 * waits for the next.  Returns how many replacements are still starting. */
static int check_replacements(struct master *m, const struct service *s)
{
    int starting = 0;

    for (size_t i = 0; i < m->nw; i++) {
        struct worker *w = &m->w[i], *r;

        if (w->svc != s || w->retiring || w->killed || w->replacement == 0)
            continue;
        r = find_pid(m, w->replacement);
        if (r == NULL || r->retiring || r->killed) {
            w->replacement = 0;
            continue;
        }
        if (!accepting(m, r)) {
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

static void recycle_service(struct master *m, struct service *s, int64_t now)
{
    int budget = rollout_budget(&s->sc->max_unavailable, s->target);
    int starting = check_replacements(m, s);

    for (size_t i = 0; i < m->nw && starting < budget; i++) {
        struct worker *w = &m->w[i];
        pid_t          pid;

        if (w->svc != s || w->retiring || w->killed || w->replacement != 0 ||
            !wants_recycle(m, w))
            continue;
        if (now < s->next_spawn || pool_spawn(m, s) == -1)
            return;                /* it serves on; the next pass tries again */
        pid = m->w[m->nw - 1].pid; /* pool_spawn may have moved m->w */
        m->w[i].replacement = pid;
        starting++;
        log_debug(s->sc->name, "worker %d started to replace %d", (int)pid,
                  (int)m->w[i].pid);
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

/* The reloaded-away workers of the service s replaces quit as fast as
 * s's own come up. */
static void hand_over(struct master *m, struct service *s)
{
    const char *name = s->sc->name;
    int         old = 0, up = 0;

    for (size_t i = 0; i < m->nw; i++) {
        const struct worker *w = &m->w[i];

        if (w->retiring || w->killed)
            continue;
        if (w->svc == s)
            up += accepting(m, w);
        else if (w->gen != m->cur && strcmp(w->svc->sc->name, name) == 0)
            old++;
    }
    if (old > 0 && up == 0 && s->failures > 0 && !s->held_over) {
        s->held_over = 1;
        log_warn(name,
                 "the new configuration's workers fail to start: "
                 "%d workers of the previous one serve on",
                 old);
    }
    for (size_t i = 0; i < m->nw && rollout_may_quit(old, up, s->target); i++) {
        struct worker *w = &m->w[i];

        if (w->retiring || w->killed || w->gen == m->cur ||
            strcmp(w->svc->sc->name, name) != 0)
            continue;
        pool_quit(w);
        old--;
    }
}

/* Reloaded-away workers of services the new configuration does not have
 * quit at once. */
static void drop_removed(struct master *m)
{
    for (size_t i = 0; i < m->nw; i++) {
        struct worker *w = &m->w[i];

        if (!w->retiring && !w->killed && w->gen != m->cur &&
            service_named(m->cur, w->svc->sc->name) == NULL)
            pool_quit(w);
    }
}

void rollout_pass(struct master *m, int64_t now)
{
    /* A generation on trial has one worker a service: the old serve on. */
    if (m->stopping || m->cur == NULL || m->cur->trial_until != 0)
        return;
    drop_removed(m);
    for (size_t i = 0; i < m->cur->nsvc; i++) {
        hand_over(m, &m->cur->svc[i]);
        recycle_service(m, &m->cur->svc[i], now);
    }
}

/* Has every service of the generation on trial a worker accepting? */
static const char *trial_unready(const struct master *m)
{
    const struct generation *g = m->cur;

    for (size_t i = 0; i < g->nsvc; i++) {
        int up = 0;

        for (size_t j = 0; j < m->nw && !up; j++) {
            const struct worker *w = &m->w[j];
            up = w->svc == &g->svc[i] && accepting(m, w);
        }
        if (!up)
            return g->svc[i].sc->name;
    }
    return NULL;
}

/* Once the canaries accept, the old workers watch their listeners anew,
 * behind them: an idle canary is the first to get a new connection. */
static void put_trial_first(const struct master *m)
{
    for (size_t i = 0; i < m->nw; i++) {
        const struct worker *w = &m->w[i];

        if (w->gen != m->cur && !w->retiring && kill(w->pid, SIGURG) == -1 &&
            errno != ESRCH)
            log_syswarn(NULL, "kill(%d, URG)", (int)w->pid);
    }
}

/* What the workers on trial have served. */
static uint64_t trial_served(const struct master *m)
{
    uint64_t n = 0;

    for (size_t i = 0; i < m->nw; i++)
        if (m->w[i].gen == m->cur)
            n += m->sb->slots[m->w[i].slot].served;
    return n;
}

int rollout_trial_failed(struct master *m, int64_t now, char *why, size_t len)
{
    struct generation *g = m->cur;
    const char        *name;

    if (g->trial_until == 0)
        return 0;
    if (g->trial_failed[0] != '\0') {
        snprintf(why, len, "%s", g->trial_failed);
        return 1;
    }
    name = trial_unready(m);
    if (name == NULL && !g->trial_first) {
        put_trial_first(m);
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
               g->number, (unsigned long long)trial_served(m));
    scoreboard_set_reload(m->sb, g->number, "rolled over", NULL);
    return 0;
}

int rollout_pending(const struct master *m)
{
    for (size_t i = 0; i < m->nw; i++) {
        const struct worker *w = &m->w[i];

        if (w->retiring || w->killed)
            continue;
        if (w->replacement != 0 || w->gen != m->cur)
            return 1;
    }
    return 0;
}
