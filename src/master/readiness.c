/*
 * readiness.c -- when a start or a reload is complete, and when it is
 * hopeless (readiness.h).
 *
 * Workers say they are past worker_init only in their scoreboard slots,
 * so the master asks here on every turn of its loop while it waits.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "pool.h"
#include "readiness.h"
#include "service.h"

int64_t readiness_deadline(const struct generation *g, int64_t now)
{
    long long t = g->cfg->start_timeout_ms;

    return t > 0 ? now + t : 0;
}

static const struct service *service_named(const struct generation *g,
                                           const char              *name)
{
    for (size_t i = 0; i < g->nsvc; i++)
        if (strcmp(g->svc[i].sc->name, name) == 0)
            return &g->svc[i];
    return NULL;
}

/* A reload's service whose workers keep failing at start-up.  Returns 1
 * with why, or 0. */
static int keeps_failing(const struct generation *g, char *why, size_t len)
{
    for (size_t i = 0; i < g->nsvc; i++) {
        const struct service *s = &g->svc[i];

        if (s->failures >= READINESS_GIVE_UP) {
            snprintf(why, len,
                     "[%s] %d workers in a row failed at start-up; "
                     "the last: %s",
                     s->sc->name, s->failures, s->start_failure);
            return 1;
        }
    }
    return 0;
}

enum readiness readiness_check(const struct pool *p, const struct generation *g,
                               int reload, int64_t until, int64_t now,
                               char *why, size_t len)
{
    const char           *unready = pool_unready(p, g);
    const struct service *s;

    if (unready == NULL)
        return READINESS_UP;
    if (g->trial_until != 0)
        return READINESS_WAIT;
    if (reload && keeps_failing(g, why, len))
        return READINESS_HOPELESS;
    if (until == 0 || now < until)
        return READINESS_WAIT;
    s = service_named(g, unready);
    snprintf(why, len,
             "[%s] no worker past worker_init within start_timeout "
             "(%lld ms)%s%s",
             unready, g->cfg->start_timeout_ms,
             s != NULL && s->failures > 0 ? "; the last failure: " : "",
             s != NULL && s->failures > 0 ? s->start_failure : "");
    return READINESS_HOPELESS;
}
