/*
 * worker.c -- a worker process and its event loop.
 *
 * Workers of a service share its listening sockets and wait on them in
 * epoll with EPOLLEXCLUSIVE, so a new connection wakes one idle worker
 * rather than all of them (docs/DESIGN.md compares this with an accept lock
 * and SO_REUSEPORT).  In prefork mode the worker serves connections itself
 * and holds many at once, parked in the same epoll set while they wait
 * (the event driver, driver_event.c); a PF_BLOCKING module has the worker
 * to itself for each connection (the blocking driver, driver_block.c).  In
 * forking and threading modes the loop is the same but each connection
 * goes to a child or thread (acceptor.c).  What a connection goes through
 * is the same under every driver (stages.c).
 *
 * Signals stay blocked except inside epoll_pwait(), so a handler can only
 * run while the loop is waiting and the loop sees every flag it raises.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acceptor.h"
#include "caps.h"
#include "config.h"
#include "conn.h"
#include "conn_proxy.h"
#include "daemon.h"
#include "driver_block.h"
#include "driver_event.h"
#include "host.h"
#include "io.h"
#include "log.h"
#include "modload.h"
#include "sandbox.h"
#include "scoreboard.h"
#include "sdnotify.h"
#include "service.h"
#include "tls.h"
#include "worker.h"

/* One connection per wake-up, as nginx does without multi_accept: a worker
 * about to be busy on what it just accepted must not also take the next
 * connection from idle workers waiting beside it. */
#define ACCEPT_BATCH 1
#define DGRAM_BATCH  64
#define MAX_EVENTS   64

/* After accept4 fails for want of a resource (EMFILE, ENFILE, ENOBUFS,
 * ENOMEM) the connection stays queued and the listener stays readable:
 * a worker that tried again at once would spin.  It stops watching the
 * listeners this long instead, as nginx does for accept_mutex_delay, and
 * other workers, or this one later, take the queued connection. */
#define ACCEPT_RETRY_MS 100

/* A listening socket in the worker's epoll set. */
struct listen_ev {
    struct ev_tag tag; /* EV_LISTENER */
    int           fd;
    int           dgram;
};

/* The worker's state: one per process. */
struct wctx {
    struct service         *svc;
    const struct pf_module *mod;
    const struct config    *cfg;
    struct slot            *slot;
    int                     epfd;
    struct listen_ev       *lev;
    size_t                  nlev;
    int                     accepting;
    struct conn_set         cs; /* prefork mode: the connections held */
    long long               served;
    long long               max_requests; /* jitter applied; 0 = no limit */
    pid_t                   master;       /* told when max_requests is hit */
    int                     recycle;      /* it has been told */
    int                     draining;
    int64_t                 drain_deadline;
    int64_t                 next_tick;       /* the module's tick() is due */
    struct acceptor        *acc;             /* forking and threading modes */
    int64_t                 accept_retry_at; /* accept4 failed: paused until */
    unsigned long accept_failures; /* in a row, since the last accept */
};

/* Raised by the handlers, acted on by the loop. */
static volatile sig_atomic_t worker_sig_term, worker_sig_quit, worker_sig_usr1,
    worker_sig_chld, worker_sig_urg;

static void on_signal(int sig)
{
    switch (sig) {
    case SIGTERM:
    case SIGINT: worker_sig_term = 1; break;
    case SIGQUIT: worker_sig_quit = 1; break;
    case SIGUSR1: worker_sig_usr1 = 1; break;
    case SIGCHLD: worker_sig_chld = 1; break;
    case SIGURG: worker_sig_urg = 1; break;
    }
}

/* Every signal a worker cares about, and what it does with it. */
static const struct {
    int sig;
    void (*handler)(int);
} worker_signals[] = {
    {SIGTERM, on_signal}, /* fast exit */
    {SIGINT, on_signal},  /* as TERM: ^C reaches the whole group */
    {SIGQUIT, on_signal}, /* graceful: stop accepting, drain */
    {SIGUSR1, on_signal}, /* reopen the log */
    {SIGCHLD, on_signal}, /* forking mode: a child finished */
    {SIGURG, on_signal},  /* go behind a canary for new connections */
    {SIGHUP, SIG_IGN},    /* the master's business */
    {SIGTTIN, SIG_IGN},   {SIGTTOU, SIG_IGN}, {SIGUSR2, SIG_IGN},
    {SIGPIPE, SIG_IGN}, /* writes use MSG_NOSIGNAL; modules may not */
};

/* Install the table; signals stay blocked (the master forked us with
 * everything blocked) and are let in only by epoll_pwait. */
static void signals_init(void)
{
    struct sigaction sa;
    size_t           i;

    for (i = 0; i < sizeof(worker_signals) / sizeof(worker_signals[0]); i++) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = worker_signals[i].handler;
        sigemptyset(&sa.sa_mask);
        if (sigaction(worker_signals[i].sig, &sa, NULL) == -1)
            log_syswarn(NULL, "sigaction(%d)", worker_signals[i].sig);
    }
}

static void listeners_ctl(struct wctx *w, int op)
{
    struct epoll_event ev;
    size_t             i;

    for (i = 0; i < w->nlev; i++) {
        if (w->lev[i].fd == -1)
            continue;
        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN | EPOLLEXCLUSIVE;
        ev.data.ptr = &w->lev[i].tag;
        if (epoll_ctl(w->epfd, op, w->lev[i].fd, &ev) == -1 &&
            errno != ENOENT && errno != EEXIST)
            log_syserr(w->svc->sc->name, "epoll_ctl(listener)");
    }
}

/* Stop or resume accepting on every listener (a full acceptor, a blocking
 * connection, draining). */
static void worker_pause(struct wctx *w)
{
    if (!w->accepting)
        return;
    listeners_ctl(w, EPOLL_CTL_DEL);
    w->accepting = 0;
}

static void worker_resume(struct wctx *w)
{
    if (w->accepting || w->draining || w->accept_retry_at != 0)
        return;
    listeners_ctl(w, EPOLL_CTL_ADD);
    w->accepting = 1;
}

/* --- connections ------------------------------------------------------------ */

/*
 * A PF_BLOCKING module has the worker to itself for the whole connection.
 * The listeners leave the epoll set meanwhile: with EPOLLEXCLUSIVE the
 * kernel may wake any epoll set watching a listener, and a worker that is
 * not waiting would leave a new connection in the backlog while idle
 * workers sleep beside it.  Signals stay blocked, so a QUIT lets the
 * connection finish and is acted on afterwards.
 */
static void conn_block(struct wctx *w, struct conn *c)
{
    worker_pause(w);
    /* PF_PARK_IDLE: idle between requests, it waits in the epoll set. */
    if (w->draining)
        conn_serve(c, w->mod, w->slot);
    else if (conn_serve_parkable(c, w->mod, w->slot) == 1)
        connset_add(&w->cs, c);
    if (w->draining)
        slot_set_state(w->slot, SLOT_EXITING);
    worker_resume(w);
}

/* A connection accepted in prefork mode: the blocking driver or the event
 * driver takes it through its life. */
static void conn_start(struct wctx *w, struct conn *c)
{
    if (w->mod->flags & PF_BLOCKING)
        conn_block(w, c);
    else
        connset_add(&w->cs, c);
}

/* --- draining --------------------------------------------------------------- */

static void drain_start(struct wctx *w, const char *why)
{
    size_t i;

    if (w->draining)
        return;
    log_debug(w->svc->sc->name, "worker draining (%s)", why);
    worker_pause(w);
    w->draining = 1;
    conn_set_draining();
    w->drain_deadline = mono_ms() + w->cfg->shutdown_timeout_ms;
    for (i = 0; i < w->nlev; i++) {
        close(w->lev[i].fd);
        w->lev[i].fd = -1;
    }
    slot_set_state(w->slot, SLOT_EXITING);
    connset_drain(&w->cs);
}

static int drained(const struct wctx *w)
{
    unsigned active = w->acc != NULL ? acceptor_active(w->acc) : 0;

    return w->cs.n == 0 && active == 0;
}

/*
 * Count one connection or datagram served.  At max_requests the worker
 * asks the master for a replacement and serves on: the master tells it to
 * quit once one is accepting (and max_unavailable allows).  With no
 * master to ask, it drains at once.
 */
static void worker_count(struct wctx *w)
{
    w->served++;
    slot_done(w->slot, 1);
    if (w->max_requests == 0 || w->served < w->max_requests || w->recycle ||
        w->draining)
        return;
    w->recycle = 1;
    log_debug(w->svc->sc->name, "max_requests reached: asking for a "
                                "replacement");
    slot_want_recycle(w->slot);
    if (getppid() != w->master || kill(w->master, SIGURG) == -1)
        drain_start(w, "max_requests reached");
}

/* --- forking and threading: the acceptor below ----------------------------- */

/* A full acceptor: stop taking connections other workers could serve, and
 * count as busy for the pool. */
static void acceptor_full(struct wctx *w, int full)
{
    if (full != 1)
        return;
    worker_pause(w);
    slot_set_state(w->slot, SLOT_BUSY);
}

static void acceptor_check(struct wctx *w)
{
    if (acceptor_poll(w->acc) && !w->draining) {
        worker_resume(w);
        slot_set_state(w->slot, SLOT_IDLE);
    }
}

/* In a forked child: the worker's epoll set and listeners are not its. */
static void acceptor_child_init(void *arg, int keep_fd)
{
    struct wctx *w = arg;
    size_t       i;

    close(w->epfd);
    for (i = 0; i < w->nlev; i++)
        if (w->lev[i].fd != -1 && w->lev[i].fd != keep_fd)
            close(w->lev[i].fd);
}

static int acceptor_start(struct wctx *w)
{
    const struct service_conf *sc = w->svc->sc;
    struct acceptor_conf       ac = {
              .name = sc->name,
              .forking = sc->mode == MODE_FORKING,
              .cap = (unsigned)(sc->mode == MODE_FORKING ? sc->max_children
                                                         : sc->threads),
              .worker_timeout_ms = w->cfg->worker_timeout_ms,
              .mod = w->mod,
              .svc = &w->svc->pub,
              .epfd = w->epfd,
              .child_init = acceptor_child_init,
              .arg = w,
    };

    /* Its children or threads write the worker's slot together. */
    slot_counters_shared();
    w->acc = acceptor_new(&ac);
    return w->acc != NULL ? 0 : -1;
}

/* --- listeners -------------------------------------------------------------- */

/* accept4 failed with errno set: log the first failure of a run, stop
 * watching the listeners for ACCEPT_RETRY_MS. */
static void accept_back_off(struct wctx *w)
{
    if (w->accept_failures++ == 0)
        log_syserr(w->svc->sc->name,
                   "accept4 (not accepting for %d ms at a time until it "
                   "succeeds)",
                   ACCEPT_RETRY_MS);
    worker_pause(w);
    w->accept_retry_at = mono_ms() + ACCEPT_RETRY_MS;
}

static void accept_recovered(struct wctx *w)
{
    if (w->accept_failures == 0)
        return;
    log_notice(w->svc->sc->name, "accepting again after %lu failed accept4",
               w->accept_failures);
    w->accept_failures = 0;
}

/* The back-off is over: watch the listeners again unless something else
 * (a full acceptor, a drain) still holds them off. */
static void accept_retry(struct wctx *w, int64_t now)
{
    if (w->accept_retry_at == 0 || now < w->accept_retry_at)
        return;
    w->accept_retry_at = 0;
    if (w->acc != NULL)
        acceptor_check(w);
    else
        worker_resume(w);
}

static void accept_batch(struct wctx *w, int fd)
{
    struct sockaddr_storage peer;
    socklen_t               len;
    struct conn            *c;
    int                     i, cfd;

    for (i = 0; i < ACCEPT_BATCH && w->accepting; i++) {
        len = sizeof(peer);
        cfd = accept4(fd, (struct sockaddr *)&peer, &len,
                      SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd == -1) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                accept_back_off(w);
            return;
        }
        accept_recovered(w);
        c = conn_new(cfd, &w->svc->pub, &conn_io_plain,
                     (struct sockaddr *)&peer, len);
        if (c == NULL) {
            log_error(w->svc->sc->name, "out of memory, connection dropped");
            close(cfd);
            continue;
        }
        c->tlsctx = w->svc->tls; /* NULL for a plain service */
        if (w->svc->sc->proxy_protocol) {
            if (!conn_proxy_allowed(c, &w->svc->sc->proxy_from,
                                    w->svc->sc->name)) {
                conn_free(c);
                continue;
            }
            c->stage = CONN_PROXY; /* its header comes first */
        }
        worker_count(w);
        if (w->acc != NULL)
            acceptor_full(w, acceptor_conn(w->acc, c));
        else
            conn_start(w, c);
    }
}

static void recv_batch(struct wctx *w, int fd)
{
    static char             buf[65536];
    struct sockaddr_storage peer;
    socklen_t               len;
    ssize_t                 n;
    int                     i;

    for (i = 0; i < DGRAM_BATCH && w->accepting; i++) {
        len = sizeof(peer);
        n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
                     (struct sockaddr *)&peer, &len);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_syserr(w->svc->sc->name, "recvfrom");
            return;
        }
        worker_count(w);
        if (w->acc != NULL) {
            acceptor_full(w, acceptor_dgram(w->acc, fd, buf, (size_t)n,
                                            (struct sockaddr *)&peer, len));
            continue;
        }
        pf_dgram d = {
            .api = &host_api,
            .svc = &w->svc->pub,
            .fd = fd,
            .buf = buf,
            .len = (size_t)n,
            .peer = (struct sockaddr *)&peer,
            .peerlen = len,
        };
        slot_busy(w->slot);
        slot_set_peer(w->slot, d.peer, d.peerlen);
        w->mod->datagram(&d);
        slot_done(w->slot, 0);
    }
}

/* --- the loop --------------------------------------------------------------- */

static int loop_timeout(const struct wctx *w)
{
    int64_t t = connset_deadline(&w->cs), now = mono_ms(), left = -1;

    if (t != 0)
        left = t - now;
    if (w->draining && (left < 0 || w->drain_deadline - now < left))
        left = w->drain_deadline - now;
    if ((w->acc != NULL || w->mod->tick != NULL) && (left < 0 || left > 1000))
        left = 1000; /* acceptor_check enforces worker_timeout */
    if (w->mod->tick != NULL && w->next_tick - now < left)
        left = w->next_tick - now;
    if (w->accept_retry_at != 0 &&
        (left < 0 || w->accept_retry_at - now < left))
        left = w->accept_retry_at > now ? w->accept_retry_at - now : 0;
    if (w->cs.trim_at != 0 && (left < 0 || w->cs.trim_at - now < left))
        left = w->cs.trim_at > now ? w->cs.trim_at - now : 0;
    if (left < 0 && t == 0 && !w->draining && w->acc == NULL &&
        w->mod->tick == NULL)
        return -1;
    return left < 0 ? 0 : (int)left;
}

static void dispatch(struct wctx *w, struct epoll_event *ev)
{
    struct ev_tag *tag = ev->data.ptr;

    switch (tag->kind) {
    case EV_LISTENER: {
        struct listen_ev *le = (struct listen_ev *)tag;
        if (le->dgram)
            recv_batch(w, le->fd);
        else
            accept_batch(w, le->fd);
        break;
    }
    case EV_CONN: connset_ready(&w->cs, (struct conn *)tag); break;
    case EV_WAKE: acceptor_check(w); break;
    }
}

static void loop_signals(struct wctx *w)
{
    if (worker_sig_usr1) {
        worker_sig_usr1 = 0;
        log_reopen(); /* a failure is logged there */
        if (w->mod->reopen != NULL)
            w->mod->reopen(&w->svc->pub);
    }
    /* Watching the listeners anew puts this worker at the back of their
     * wait queues: with EPOLLEXCLUSIVE an idle worker ahead of it gets a
     * new connection first.  So a canary (reload_canary) gets traffic. */
    if (worker_sig_urg) {
        worker_sig_urg = 0;
        if (w->accepting) {
            worker_pause(w);
            worker_resume(w);
        }
    }
    if (worker_sig_quit) {
        worker_sig_quit = 0;
        drain_start(w, "graceful shutdown");
    }
    if (worker_sig_chld && w->acc != NULL) {
        worker_sig_chld = 0;
        acceptor_check(w);
    }
}

static void worker_loop(struct wctx *w)
{
    struct epoll_event ev[MAX_EVENTS];
    sigset_t           waitmask;
    int64_t            now;
    int                i, n;

    sigemptyset(&waitmask);
    for (;;) {
        if (worker_sig_term)
            return;
        loop_signals(w);
        if (w->draining && (drained(w) || mono_ms() >= w->drain_deadline))
            return;
        n = epoll_pwait(w->epfd, ev, MAX_EVENTS, loop_timeout(w), &waitmask);
        if (n == -1 && errno != EINTR) {
            log_syserr(w->svc->sc->name, "epoll_pwait");
            return;
        }
        for (i = 0; i < n; i++)
            dispatch(w, &ev[i]);
        /* One clock read serves the timers, the tick and the trim. */
        now = mono_ms();
        connset_expire(&w->cs, now);
        accept_retry(w, now);
        if (w->acc != NULL)
            acceptor_check(w);
        if (w->mod->tick != NULL && now >= w->next_tick) {
            w->mod->tick(&w->svc->pub);
            w->next_tick = now + 1000;
        }
        connset_trim(&w->cs, now);
    }
}

static int wctx_init(struct wctx *w, const int *fds, size_t nfds)
{
    size_t i;

    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd == -1) {
        log_syserr(w->svc->sc->name, "epoll_create1");
        return -1;
    }
    w->lev = calloc(nfds, sizeof(*w->lev));
    if (w->lev == NULL) {
        log_error(w->svc->sc->name, "out of memory for %zu listeners", nfds);
        return -1;
    }
    for (i = 0; i < nfds; i++) {
        w->lev[i].tag.kind = EV_LISTENER;
        w->lev[i].fd = fds[i];
        w->lev[i].dgram = w->svc->ls[i]->addr.kind == ADDR_UDP;
    }
    w->nlev = nfds;
    connset_init(&w->cs, w->epfd, w->mod, w->slot, w->svc->sc->name);
    if (w->svc->sc->mode != MODE_PREFORK && acceptor_start(w) == -1)
        return -1;
    return 0;
}

/* Close every connection on the way out, letting the module finish each. */
static void worker_cleanup(struct wctx *w)
{
    connset_close_all(&w->cs);
    if (w->acc != NULL)
        acceptor_kill(w->acc);
    if (w->mod->worker_exit != NULL)
        w->mod->worker_exit(&w->svc->pub);
}

/*
 * A canary with a canary_probe serves it before it takes any client's
 * connection: on a socketpair whose far end has sent the probe and closed,
 * so that a module that crashes on its first request takes no client with
 * it.  The answer goes nowhere: with the far end gone a module's write
 * fails with EPIPE rather than waiting for a reader.
 */
static int serve_probe(struct wctx *w)
{
    const struct bytes *p = &w->svc->sc->canary_probe;
    const char         *name = w->svc->sc->name;
    struct sockaddr     self = {.sa_family = AF_UNIX};
    struct conn        *c;
    int                 sv[2];
    ssize_t             n;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) == -1) {
        log_syserr(name, "socketpair for canary_probe");
        return -1;
    }
    n = write(sv[1], p->data, p->len);
    close(sv[1]);
    if (n != (ssize_t)p->len) {
        if (n == -1)
            log_syserr(name, "write of canary_probe");
        else
            log_error(name, "canary_probe: %zd of %zu bytes written", n,
                      p->len);
        close(sv[0]);
        return -1;
    }
    c = conn_new(sv[0], &w->svc->pub, &conn_io_plain, &self,
                 sizeof(self.sa_family));
    if (c == NULL) {
        log_error(name, "out of memory for canary_probe");
        close(sv[0]);
        return -1;
    }
    conn_serve(c, w->mod, w->slot);
    log_info(name, "canary %d served canary_probe", (int)getpid());
    return 0;
}

/* Switch to `user`/`group` where this process may (root, or a master
 * with CAP_SETUID and CAP_SETGID; drop_privileges then also gives up the
 * capabilities), or else, not root, give up whatever capabilities the
 * master holds: a worker needs none. */
static int become_user(const struct config *cfg)
{
    if ((cfg->user != NULL || cfg->group != NULL) && caps_can_switch_user())
        return drop_privileges(cfg->user, cfg->group);
    if (geteuid() != 0 && caps_held())
        return caps_drop_all();
    return 0;
}

void worker_main(struct service *svc, const struct config *cfg,
                 struct slot *slot, long long max_requests, const int *fds,
                 size_t nfds, int on_trial)
{
    struct wctx w = {
        .svc = svc,
        .mod = &svc->sc->mod->desc,
        .cfg = cfg,
        .slot = slot,
        .epfd = -1,
        .max_requests = max_requests,
        .master = getppid(),
    };

    signals_init();
    sd_lib_release();
    conn_set_slot(slot);
    tls_set_slot(slot);
    /* If the master dies, finish what is in flight and go. */
    if (prctl(PR_SET_PDEATHSIG, SIGQUIT) == -1)
        log_syswarn(svc->sc->name, "prctl(PR_SET_PDEATHSIG)");
    if (become_user(cfg) == -1)
        _exit(WORKER_EXIT_INIT);
    if (wctx_init(&w, fds, nfds) == -1)
        _exit(WORKER_EXIT_INIT);
    if (w.mod->worker_init != NULL && w.mod->worker_init(&svc->pub) == -1) {
        log_error(svc->sc->name, "module '%s' failed to start in worker %d",
                  w.mod->name, (int)getpid());
        _exit(WORKER_EXIT_INIT);
    }
    if (sandbox_enter(cfg, svc, slot) == -1)
        _exit(WORKER_EXIT_INIT);
    if (on_trial && svc->sc->canary_probe.len > 0 && serve_probe(&w) == -1)
        _exit(WORKER_EXIT_INIT);
    worker_resume(&w);
    slot_set_state(slot, SLOT_IDLE);
    worker_loop(&w);
    slot_set_state(slot, SLOT_EXITING);
    worker_cleanup(&w);
    /* _exit: the master's atexit work and leak checks are not ours. */
    _exit(0);
}
