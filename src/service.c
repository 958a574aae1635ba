/*
 * service.c -- building and releasing generations of services.
 *
 * Listeners are matched across reloads by their canonical address and
 * reuseport setting: a match keeps its descriptor, so connections already
 * queued on it are accepted by the new workers instead of being reset.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "modload.h"
#include "service.h"

static struct lsock *lsock_find(const struct lsock_set *set,
                                const struct addr *a, int reuseport)
{
    size_t i;

    for (i = 0; i < set->n; i++)
        if (strcmp(set->v[i]->addr.text, a->text) == 0 &&
            set->v[i]->reuseport == reuseport)
            return set->v[i];
    return NULL;
}

static void lsock_close(struct lsock *l)
{
    size_t i;

    for (i = 0; i < l->nfds; i++)
        if (l->fds[i] != -1)
            close(l->fds[i]);
    if (l->created_file)
        listener_unlink(&l->addr);
    free(l->fds);
    free(l);
}

/* Bind a new listener: one socket, or with reuseport one per worker so the
 * kernel spreads connections across them.  A UNIX path can be bound only
 * once, so reuseport does not apply to it. */
static struct lsock *lsock_open(const struct addr         *a,
                                const struct service_conf *sc, char *err,
                                size_t errlen)
{
    int           reuseport = sc->reuseport && a->kind != ADDR_UNIX;
    struct lsock *l = calloc(1, sizeof(*l));
    size_t        i, n = reuseport ? (size_t)sc->workers : 1;

    if (l == NULL || (l->fds = calloc(n, sizeof(int))) == NULL) {
        snprintf(err, errlen, "out of memory");
        free(l);
        return NULL;
    }
    l->addr = *a;
    l->reuseport = sc->reuseport;
    l->backlog = sc->backlog;
    for (i = 0; i < n; i++)
        l->fds[i] = -1;
    l->nfds = n;
    for (i = 0; i < n; i++) {
        l->fds[i] = listener_open(a, sc->backlog, reuseport, err, errlen);
        if (l->fds[i] == -1) {
            lsock_close(l);
            return NULL;
        }
    }
    l->created_file = a->kind == ADDR_UNIX;
    return l;
}

/* Reuse a bound listener, applying a changed backlog. */
static void lsock_adopt(struct lsock *l, const struct service_conf *sc)
{
    size_t i;

    l->refs++;
    if (l->addr.kind == ADDR_UDP || l->backlog == sc->backlog)
        return;
    for (i = 0; i < l->nfds; i++)
        if (listen(l->fds[i], sc->backlog) == -1)
            log_syswarn(sc->name, "listen(%s, backlog %d)", l->addr.text,
                        sc->backlog);
    l->backlog = sc->backlog;
}

static int set_add(struct lsock_set *set, struct lsock *l)
{
    struct lsock **v = realloc(set->v, (set->n + 1) * sizeof(*v));

    if (v == NULL)
        return -1;
    set->v = v;
    set->v[set->n++] = l;
    return 0;
}

static void lsock_unref(struct lsock_set *set, struct lsock *l)
{
    size_t i;

    if (--l->refs > 0)
        return;
    for (i = 0; i < set->n; i++)
        if (set->v[i] == l) {
            set->v[i] = set->v[--set->n];
            break;
        }
    lsock_close(l);
}

static int service_bind(struct service *s, const struct config *cfg,
                        struct lsock_set *set, struct diag *d)
{
    const struct service_conf *sc = s->sc;
    char                       err[256];
    size_t                     i;

    s->ls = calloc(sc->nlisten, sizeof(*s->ls));
    if (s->ls == NULL)
        return -1;
    for (i = 0; i < sc->nlisten; i++) {
        struct lsock *l = lsock_find(set, &sc->listen[i], sc->reuseport);
        if (l != NULL) {
            lsock_adopt(l, sc);
        } else {
            l = lsock_open(&sc->listen[i], sc, err, sizeof(err));
            if (l == NULL) {
                diag_add(d, cfg->file, sc->listen_line, "[%s] %s: %s", sc->name,
                         sc->listen[i].text, err);
                return -1;
            }
            l->refs = 1;
            if (set_add(set, l) == -1) {
                lsock_close(l);
                return -1;
            }
        }
        s->ls[s->nls++] = l;
        s->socktypes |= l->addr.kind == ADDR_UDP ? PF_DGRAM : PF_STREAM;
    }
    return 0;
}

struct generation *generation_create(struct config *cfg, struct lsock_set *set,
                                     uint32_t *next_id, struct diag *d)
{
    struct generation *g = calloc(1, sizeof(*g));
    size_t             i;

    if (g == NULL || (g->svc = calloc(cfg->nsvc, sizeof(*g->svc))) == NULL) {
        free(g);
        diag_add(d, cfg->file, 0, "out of memory");
        return NULL;
    }
    g->cfg = cfg;
    for (i = 0; i < cfg->nsvc; i++) {
        struct service *s = &g->svc[i];
        s->id = (*next_id)++;
        s->sc = &cfg->svc[i];
        s->target = s->sc->workers;
        s->spawn_rate = 1;
        service_pub_init(&s->pub, s->sc->name, s->sc->mconf, cfg->dir);
        g->nsvc++;
        if (service_bind(s, cfg, set, d) == -1)
            goto fail;
    }
    return g;
fail:
    g->cfg = NULL; /* the caller still owns cfg */
    generation_destroy(g, set);
    return NULL;
}

void generation_destroy(struct generation *g, struct lsock_set *set)
{
    size_t i, j;

    if (g == NULL)
        return;
    for (i = 0; i < g->nsvc; i++) {
        for (j = 0; j < g->svc[i].nls; j++)
            lsock_unref(set, g->svc[i].ls[j]);
        free(g->svc[i].ls);
    }
    free(g->svc);
    if (g->cfg != NULL) {
        modules_release(g->cfg);
        config_free(g->cfg);
    }
    free(g);
}

void lsock_set_close(struct lsock_set *set)
{
    size_t i, j;

    for (i = 0; i < set->n; i++)
        for (j = 0; j < set->v[i]->nfds; j++)
            if (set->v[i]->fds[j] != -1) {
                close(set->v[i]->fds[j]);
                set->v[i]->fds[j] = -1;
            }
}

int lsock_fd(const struct lsock *l, int slot)
{
    return l->fds[(size_t)slot % l->nfds];
}

void lsock_close_others(const struct lsock_set *set, const struct service *s,
                        int slot)
{
    size_t i, j, k;

    for (i = 0; i < set->n; i++) {
        const struct lsock *l = set->v[i];
        int                 mine = 0;
        for (k = 0; k < s->nls; k++)
            mine |= s->ls[k] == l;
        for (j = 0; j < l->nfds; j++)
            if (!mine || l->fds[j] != lsock_fd(l, slot))
                close(l->fds[j]);
    }
}
