/*
 * fdstore.c -- keeping the listeners in systemd's file descriptor store.
 *
 * Each lsock remembers the FDNAME it is stored under (lsock->stored).
 * Names are per service, so that `systemd-analyze fdstore` reads like the
 * configuration, and systemd removes by name only: when one listener of a
 * service goes away on reload, the service's name is removed and its
 * remaining sockets stored again.  The master keeps its own descriptors
 * throughout, so nothing is closed in between.
 *
 * Stored names carry a prefix that a section name cannot hold ('/'), so
 * that a restarted master tells them from the names of a socket unit:
 * FileDescriptorName=http replaces the listen addresses of [http], while
 * a socket coming back from the store is only taken by a service that
 * still listens on its address (the configuration may have changed).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdstore.h"
#include "log.h"
#include "sdnotify.h"

int fdstore_name(const char *name)
{
    return name != NULL &&
           strncmp(name, FDSTORE_PREFIX, strlen(FDSTORE_PREFIX)) == 0;
}

/* Does the configuration want the store, and may the unit have one? */
static int store_wanted(const struct config *cfg)
{
    if (cfg->fdstore == FDSTORE_NO || !notify_available())
        return 0;
    if (cfg->fdstore == FDSTORE_YES)
        return 1;
    /* auto: only systemd 254 and later say whether the unit has a store;
     * storing into none costs a warning in the journal each time. */
    return notify_fdstore_max() > 0;
}

static int same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Is what the store holds under name not what want[] asks for? */
static int dirty(const struct lsock_set *set, char *const *want,
                 const char *name)
{
    size_t i;

    for (i = 0; i < set->n; i++)
        if (same(set->v[i]->stored, name) != same(want[i], name))
            return 1;
    return 0;
}

static void remove_name(struct lsock_set *set, const char *stored)
{
    char  *name = strdup(stored);
    size_t i;

    if (name == NULL) {
        log_error(NULL, "out of memory: the file descriptor store is stale");
        return;
    }
    if (notify_fdstore_remove(name) == 0)
        log_info(NULL, "file descriptor store: '%s' removed", name);
    for (i = 0; i < set->n; i++)
        if (same(set->v[i]->stored, name)) {
            free(set->v[i]->stored);
            set->v[i]->stored = NULL;
        }
    free(name);
}

/* Store every socket want[] puts under name, in one go. */
static void store_name(struct lsock_set *set, char *const *want,
                       const char *name)
{
    size_t i, j, n = 0;
    int   *fds;

    for (i = 0; i < set->n; i++)
        if (same(want[i], name))
            n += set->v[i]->nfds;
    if ((fds = calloc(n, sizeof(*fds))) == NULL) {
        log_error(NULL, "out of memory: '%s' not stored", name);
        return;
    }
    n = 0;
    for (i = 0; i < set->n; i++)
        for (j = 0; same(want[i], name) && j < set->v[i]->nfds; j++)
            if (set->v[i]->fds[j] != -1)
                fds[n++] = set->v[i]->fds[j];
    if (n > 0 && notify_fdstore(name, fds, n) == 0) {
        log_info(NULL, "file descriptor store: %zu sockets kept as '%s'", n,
                 name);
        for (i = 0; i < set->n; i++)
            if (same(want[i], name) && set->v[i]->stored == NULL &&
                (set->v[i]->stored = strdup(want[i])) == NULL)
                log_error(NULL, "out of memory: '%s' may be stored twice",
                          name);
    }
    free(fds);
}

/* Name every listener of g after the first service using it, unless a
 * socket unit passed it in (it keeps it) or the store is not wanted. */
static int plan(const struct lsock_set *set, const struct generation *g,
                char **want, size_t *nfds)
{
    size_t i, j, k;

    *nfds = 0;
    if (!store_wanted(g->cfg))
        return 0;
    for (i = 0; i < g->nsvc; i++)
        for (j = 0; j < g->svc[i].nls; j++)
            for (k = 0; k < set->n; k++) {
                const struct lsock *l = set->v[k];
                if (l != g->svc[i].ls[j] || l->name != NULL || want[k] != NULL)
                    continue;
                if (asprintf(&want[k], FDSTORE_PREFIX "%s",
                             g->svc[i].sc->name) < 0) {
                    want[k] = NULL;
                    return -1;
                }
                *nfds += l->nfds;
            }
    return 0;
}

void fdstore_sync(struct lsock_set *set, const struct generation *g)
{
    char **want = calloc(set->n ? set->n : 1, sizeof(*want));
    long   max = notify_fdstore_max();
    size_t i, nfds;

    if (want == NULL || plan(set, g, want, &nfds) == -1) {
        log_error(NULL, "out of memory: the file descriptor store is stale");
        goto out;
    }
    if (max >= 0 && nfds > (size_t)max)
        log_warn(NULL,
                 "%zu listening sockets, but the unit stores at most %ld "
                 "(FileDescriptorStoreMax=): a restart loses the rest",
                 nfds, max);
    for (i = 0; i < set->n; i++)
        if (set->v[i]->stored != NULL && dirty(set, want, set->v[i]->stored))
            remove_name(set, set->v[i]->stored);
    for (i = 0; i < set->n; i++)
        if (want[i] != NULL && !same(set->v[i]->stored, want[i]))
            store_name(set, want, want[i]);
out:
    for (i = 0; want != NULL && i < set->n; i++)
        free(want[i]);
    free(want);
}
