/*
 * serving.c -- what the master says about the generation it runs: one
 * log line per listener (and its certificates and confinement), and the
 * list of services in the status file that `prefork -s status` reads.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confine.h"
#include "log.h"
#include "scoreboard.h"
#include "serving.h"
#include "tlsctx.h"
#include "values.h"

_Static_assert(CONFIG_MAX_LINE < SB_NAME_MAX,
               "a service name must fit its scoreboard entry");

void serving_publish(struct scoreboard *sb, const struct generation *g)
{
    struct sb_service_desc *v = calloc(g->nsvc + 1, sizeof(*v));
    const char            **addrs;
    size_t                  i, j, n = 0;

    for (i = 0; i < g->nsvc; i++)
        n += g->svc[i].sc->nlisten;
    addrs = calloc(n + 1, sizeof(*addrs));
    if (v == NULL || addrs == NULL) {
        log_error(NULL, "out of memory: the status file keeps the old "
                        "list of services");
        goto done;
    }
    for (i = 0, n = 0; i < g->nsvc; i++) {
        const struct service *s = &g->svc[i];

        v[i] = (struct sb_service_desc){
            .id = s->id,
            .target = s->target,
            .name = s->sc->name,
            .mode = mode_name(s->sc->mode),
            .listen = &addrs[n],
            .nlisten = s->sc->nlisten,
        };
        confine_publish(s->sc, &v[i].sandbox);
        for (j = 0; j < s->sc->nlisten; j++)
            addrs[n++] = s->sc->listen[j].text;
    }
    scoreboard_set_services(sb, v, g->nsvc);
done:
    free(addrs);
    free(v);
}

/* "tcp://127.0.0.1:80" is logged as "127.0.0.1:80 (tcp)", so that the
 * address reads first. */
static void split_addr(const struct addr *a, const char **where,
                       const char **kind)
{
    const char *sep = strstr(a->text, "://");

    *kind = a->kind == ADDR_UDP ? "udp" : a->kind == ADDR_UNIX ? "unix" : "tcp";
    if (a->kind == ADDR_UNIX)
        *where = a->text + 5; /* after "unix:" */
    else
        *where = sep != NULL ? sep + 3 : a->text;
}

/* Which protections the service's workers have (notice: an old module
 * running unconfined is news; so is a kernel without Landlock). */
static void log_sandbox(const struct service_conf *sc)
{
    struct confine_plan p;
    char                line[256];

    confine_plan(sc, &p);
    confine_describe(&p, line, sizeof(line));
    log_notice(sc->name, "sandbox: %s", line);
}

void serving_log(const struct generation *g)
{
    size_t i, j;

    for (i = 0; i < g->nsvc; i++) {
        const struct service_conf *sc = g->svc[i].sc;
        char                       pool[96];
        int                        n;

        n = sc->dynamic ? snprintf(pool, sizeof(pool), "%d..%d workers",
                                   sc->workers, sc->max_workers)
                        : snprintf(pool, sizeof(pool), "%d worker%s",
                                   sc->workers, sc->workers == 1 ? "" : "s");
        if (sc->mode == MODE_FORKING)
            snprintf(pool + n, sizeof(pool) - (size_t)n, ", max_children %d",
                     sc->max_children);
        else if (sc->mode == MODE_THREADING)
            snprintf(pool + n, sizeof(pool) - (size_t)n, ", threads %d",
                     sc->threads);
        for (j = 0; j < sc->nlisten; j++) {
            const char *where, *kind;

            split_addr(&sc->listen[j], &where, &kind);
            log_notice(NULL, "serving %s (%s) for [%s]: module %s, mode %s, %s",
                       where, kind, sc->name, sc->module, mode_name(sc->mode),
                       pool);
            tlsctx_log(g->svc[i].tls, where);
        }
        log_sandbox(sc);
    }
}
