/*
 * service.c -- building and releasing generations of services.
 *
 * Listeners are matched across reloads by their canonical address and
 * reuseport setting: a match keeps its descriptor, so connections already
 * queued on it are accepted by the new workers instead of being reset.
 *
 * Sockets passed in at start-up join the same set.  Those systemd names
 * after a service (FileDescriptorName=NAME for [NAME]) replace that
 * service's `listen` addresses; any other is taken by the service that
 * listens on its address, which is also how a binary upgrade hands every
 * listener to the new master, and how sockets come back from systemd's
 * file descriptor store (fdstore.h: their names are not services').  What
 * no service takes is closed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host.h"
#include "log.h"
#include "modload.h"
#include "reader.h"
#include "service.h"

/* A systemd socket's SO_REUSEPORT is the unit's business, not ours.  Nor
 * can a master started with a socket from the file descriptor store bind
 * the address afresh while systemd holds that socket: it takes it as it
 * is (a changed reuseport applies once the service has stopped). */
static struct lsock *lsock_find(const struct lsock_set *set,
                                const struct addr *a, int reuseport)
{
    size_t i;

    for (i = 0; i < set->n; i++) {
        const struct lsock *l = set->v[i];
        if (strcmp(l->addr.text, a->text) == 0 &&
            (l->reuseport == reuseport || l->name != NULL ||
             (l->restored && l->refs == 0)))
            return set->v[i];
    }
    return NULL;
}

static void lsock_close(struct lsock *l)
{
    size_t i;

    for (i = 0; i < l->nfds; i++)
        if (l->fds[i] != -1)
            close(l->fds[i]);
    if (l->created_file && l->stored == NULL)
        listener_unlink(&l->addr);
    free(l->fds);
    free(l->name);
    free(l->stored);
    free(l);
}

/*
 * TCP_DEFER_ACCEPT: the kernel queues a connection for accept only once its
 * first bytes are in (or the time is up), so a worker wakes once for it and
 * finds the request there.  Set on every bind and reload, on or off; not on
 * sockets systemd passes, whose unit says (DeferAcceptSec=).
 */
static void lsock_defer(struct lsock *l, const struct service_conf *sc)
{
    int    secs = (int)((sc->defer_accept_ms + 999) / 1000);
    size_t i;

    if (l->addr.kind != ADDR_TCP || l->name != NULL)
        return;
    for (i = 0; i < l->nfds; i++)
        if (setsockopt(l->fds[i], IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs,
                       sizeof(secs)) == -1)
            log_syswarn(sc->name, "TCP_DEFER_ACCEPT on %s", l->addr.text);
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
    lsock_defer(l, sc);
    return l;
}

/* Reuse a bound listener, applying a changed backlog and defer_accept (but
 * not to a socket systemd made: its unit says how it listens). */
static void lsock_adopt(struct lsock *l, const struct service_conf *sc)
{
    size_t i;

    l->refs++;
    lsock_defer(l, sc);
    if (l->addr.kind == ADDR_UDP || l->backlog == sc->backlog ||
        l->name != NULL)
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

static void service_add_lsock(struct service *s, struct lsock *l)
{
    s->ls[s->nls++] = l;
    s->socktypes |= l->addr.kind == ADDR_UDP ? PF_DGRAM : PF_STREAM;
}

/* Take the sockets systemd named after the service.  Returns how many. */
static size_t service_bind_named(struct service *s, struct lsock_set *set)
{
    size_t i, n = 0;

    for (i = 0; i < set->n; i++)
        n += set->v[i]->name != NULL &&
             strcmp(set->v[i]->name, s->sc->name) == 0;
    if (n == 0 || (s->ls = calloc(n, sizeof(*s->ls))) == NULL)
        return 0;
    for (i = 0; i < set->n; i++) {
        struct lsock *l = set->v[i];
        if (l->name == NULL || strcmp(l->name, s->sc->name) != 0)
            continue;
        lsock_adopt(l, s->sc);
        service_add_lsock(s, l);
        log_info(s->sc->name, "listening on %s, passed by systemd",
                 l->addr.text);
    }
    return n;
}

static int service_bind(struct service *s, const struct config *cfg,
                        struct lsock_set *set, struct diag *d)
{
    const struct service_conf *sc = s->sc;
    char                       err[256];
    size_t                     i;

    if (service_bind_named(s, set) > 0)
        return 0;
    s->ls = calloc(sc->nlisten, sizeof(*s->ls));
    if (s->ls == NULL)
        return -1;
    for (i = 0; i < sc->nlisten; i++) {
        struct lsock *l = lsock_find(set, &sc->listen[i], sc->reuseport);
        if (l != NULL) {
            if (l->restored && l->reuseport != sc->reuseport)
                log_notice(sc->name,
                           "%s from the file descriptor store is used as it "
                           "is: reuseport = %s applies once the service has "
                           "stopped",
                           l->addr.text, sc->reuseport ? "yes" : "no");
            lsock_adopt(l, sc);
        } else {
            l = lsock_open(&sc->listen[i], sc, err, sizeof(err));
            if (l == NULL) {
                /* err names the address */
                diag_add(d, cfg->file, sc->listen_line, "[%s] %s", sc->name,
                         err);
                return -1;
            }
            l->refs = 1;
            if (set_add(set, l) == -1) {
                lsock_close(l);
                return -1;
            }
        }
        service_add_lsock(s, l);
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
        s->tls = s->sc->tls;
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

static int same_name(const char *a, const char *b)
{
    return (a == NULL) == (b == NULL) && (a == NULL || strcmp(a, b) == 0);
}

static struct lsock *inherited_group(const struct lsock_set *set,
                                     const struct addr *a, int reuseport,
                                     const char *name, const char *stored)
{
    size_t i;

    for (i = 0; i < set->n; i++) {
        struct lsock *l = set->v[i];
        if (l->inherited && l->reuseport && reuseport &&
            strcmp(l->addr.text, a->text) == 0 && same_name(l->name, name) &&
            same_name(l->stored, stored))
            return l;
    }
    return NULL;
}

int lsock_inherit(struct lsock_set *set, int fd, const struct addr *a,
                  int reuseport, const char *name, const char *stored,
                  int owned)
{
    struct lsock *l = inherited_group(set, a, reuseport, name, stored);
    int          *fds;

    if (l != NULL) {
        fds = realloc(l->fds, (l->nfds + 1) * sizeof(*fds));
        if (fds == NULL)
            goto fail;
        l->fds = fds;
        l->fds[l->nfds++] = fd;
        return 0;
    }
    if ((l = calloc(1, sizeof(*l))) == NULL ||
        (l->fds = malloc(sizeof(*l->fds))) == NULL ||
        (name != NULL && (l->name = strdup(name)) == NULL) ||
        (stored != NULL && (l->stored = strdup(stored)) == NULL) ||
        set_add(set, l) == -1) {
        if (l != NULL) {
            free(l->fds);
            free(l->name);
            free(l->stored);
        }
        free(l);
        goto fail;
    }
    l->addr = *a;
    l->reuseport = reuseport;
    l->backlog = -1;
    l->fds[0] = fd;
    l->nfds = 1;
    l->inherited = 1;
    l->restored = stored != NULL;
    l->created_file = owned && a->kind == ADDR_UNIX;
    return 0;
fail:
    close(fd);
    return -1;
}

void lsock_set_prune(struct lsock_set *set)
{
    size_t i;

    for (i = 0; i < set->n;) {
        struct lsock *l = set->v[i];
        if (l->refs > 0) {
            i++;
            continue;
        }
        if (l->restored)
            log_notice(NULL,
                       "socket %s from systemd's file descriptor store is "
                       "no longer in the configuration: closed",
                       l->addr.text);
        else if (l->name != NULL)
            log_warn(NULL,
                     "socket %s (named '%s') passed in matches no "
                     "service: closed",
                     l->addr.text, l->name);
        else
            log_warn(NULL, "socket %s passed in matches no service: closed",
                     l->addr.text);
        set->v[i] = set->v[--set->n];
        lsock_close(l);
    }
}

void lsock_set_disown(struct lsock_set *set)
{
    size_t i;

    for (i = 0; i < set->n; i++)
        set->v[i]->created_file = 0;
}

void lsock_set_free(struct lsock_set *set)
{
    size_t i;

    for (i = 0; i < set->n; i++)
        lsock_close(set->v[i]);
    free(set->v);
    set->v = NULL;
    set->n = 0;
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
