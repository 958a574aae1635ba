/*
 * service.h -- services at run time, and the listening sockets they share.
 *
 * A generation is everything one reading of the config file produced: its
 * services, each with its module and its bound listeners.  A reload builds a
 * new generation next to the running one; listeners whose address did not
 * change are carried over (the same descriptor, so nothing queued on it is
 * lost), new ones are bound, and the old generation is released once its
 * last worker has gone.
 */
#ifndef PF_SERVICE_H
#define PF_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include <prefork/module.h>

#include "config.h"
#include "listener.h"

/* A bound listener, shared by every generation that uses its address. */
struct lsock {
    struct addr addr;
    int         reuseport;
    int         backlog;
    int        *fds; /* one, or one per worker slot with reuseport */
    size_t      nfds;
    int         refs;
    int         created_file; /* a UNIX socket file we own: unlink at end */
    char       *name;         /* systemd's FileDescriptorName, or NULL */
    int         inherited;    /* passed in by systemd or an old master */
    char       *stored;       /* its FDNAME in systemd's store, or NULL */
    int         restored;     /* passed back from that store */
};

struct service {
    uint32_t             id; /* unique for the master's life; scoreboard */
    struct service_conf *sc;
    pf_service           pub;
    struct lsock       **ls;
    size_t               nls;
    unsigned             socktypes; /* PF_STREAM|PF_DGRAM of its listeners */

    /* Pool state, master only. */
    int     target;     /* the static size: workers, moved by TTIN/TTOU */
    int     spawn_rate; /* dynamic growth per tick: 1, 2, 4 .. 32 */
    int     failures;   /* consecutive early deaths */
    int64_t next_spawn; /* no spawn before this (backoff), mono ms */
    int     held_over;  /* warned: the old generation serves on */

    /* Its TLS contexts (sc->tls; NULL: plain), inherited by workers. */
    struct tls_ctx *tls;
};

struct generation {
    struct config  *cfg;
    struct service *svc;
    size_t          nsvc;
    int             retiring; /* replaced by a reload: drains, no respawn */
    unsigned        number;   /* 1 for the first, one more per reload */
    /* reload_canary: on trial until then (mono ms; 0: not on trial), one
     * worker per service; why the trial failed, once it has. */
    int64_t trial_until;
    int     trial_first; /* the old workers were sent behind it */
    char    trial_failed[160];
};

/* Every lsock the master holds, across generations. */
struct lsock_set {
    struct lsock **v;
    size_t         n;
};

/* Build a generation from a prepared cfg (modules loaded), reusing or
 * binding listeners in set.  Takes ownership of cfg on success.  Returns
 * NULL with every bind error in d. */
struct generation *generation_create(struct config *cfg, struct lsock_set *set,
                                     uint32_t *next_id, struct diag *d);
/* Drop the generation's listeners (closing those no one else uses) and free
 * it with its config and modules. */
void generation_destroy(struct generation *g, struct lsock_set *set);

/*
 * A listening socket passed in at start-up (fd already checked by
 * listener_adopt): added to set with no user, beside any other inherited
 * descriptor of the same address (a reuseport group).  `name` is systemd's
 * FileDescriptorName or NULL; `stored` the FDNAME it has in systemd's
 * file descriptor store (fdstore.h) or NULL; `owned` makes the master
 * remove a UNIX socket's file at exit.  Returns 0, or -1 (out of memory;
 * fd is closed).
 */
int lsock_inherit(struct lsock_set *set, int fd, const struct addr *a,
                  int reuseport, const char *name, const char *stored,
                  int owned);
/* After the first generation: close inherited sockets no service took. */
void lsock_set_prune(struct lsock_set *set);
/* Binary upgrade: the new master owns the socket files from now on. */
void lsock_set_disown(struct lsock_set *set);

/* Close and free every lsock still in set (shutting down).  A UNIX
 * socket systemd keeps in its store keeps its file too, for the master
 * that a restart gives it back to. */
void lsock_set_free(struct lsock_set *set);

/* Close every listening descriptor (shutting down: new connections are
 * refused from here on); socket files go with generation_destroy. */
void lsock_set_close(struct lsock_set *set);

/* The listener descriptor worker slot `slot` uses. */
int lsock_fd(const struct lsock *l, int slot);

/* In a freshly forked worker: close every listener descriptor in set that
 * the worker of service s in slot `slot` does not use. */
void lsock_close_others(const struct lsock_set *set, const struct service *s,
                        int slot);

#endif
