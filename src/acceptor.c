/*
 * acceptor.c -- forking and threading modes: a child process or a thread
 * per connection or datagram, socketserver's ForkingMixIn and
 * ThreadingMixIn, behind the same event loop as prefork mode.
 *
 * At max_children (forking) or threads (threading) in flight the acceptor
 * stops watching its listeners, so further connections wait in the backlog
 * for another acceptor instead of being taken and starved.  A forked child
 * dies with its acceptor (PR_SET_PDEATHSIG).  worker_timeout is enforced
 * here: a child past it is killed; a thread cannot be killed alone, so an
 * acceptor with a thread past it exits and the master replaces it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acceptor.h"
#include "log.h"
#include "scoreboard.h"
#include "service.h"
#include "worker.h"

/* Exit status of an acceptor that gave up on a stuck thread. */
#define ACCEPTOR_EXIT_TIMEOUT 3

struct job {
    struct acceptor        *a;
    struct wctx            *w;
    struct conn            *c; /* a connection, or ... */
    pf_dgram                d; /* ... a datagram, with its copied bytes */
    struct sockaddr_storage peer;
    unsigned                idx; /* its entry in a->started */
    char                    buf[];
};

struct acceptor {
    int             forking;
    unsigned        cap;
    unsigned        active;
    pid_t          *pids;    /* forking: per entry, 0 when free */
    int64_t        *started; /* per entry, 0 when free */
    pthread_mutex_t mu;      /* threading: guards active and started */
    int             wakefd;
    struct ev_tag   waketag;
};

static int entry_take(struct acceptor *a, int64_t now)
{
    unsigned i;

    for (i = 0; i < a->cap; i++)
        if (a->started[i] == 0) {
            a->started[i] = now;
            a->active++;
            return (int)i;
        }
    return -1;
}

int acceptor_init(struct wctx *w)
{
    const struct service_conf *sc = w->svc->sc;
    struct epoll_event         ev;
    struct acceptor           *a = calloc(1, sizeof(*a));

    if (a == NULL)
        return -1;
    a->forking = sc->mode == MODE_FORKING;
    a->cap = (unsigned)(a->forking ? sc->max_children : sc->threads);
    a->wakefd = -1;
    a->pids = calloc(a->cap, sizeof(*a->pids));
    a->started = calloc(a->cap, sizeof(*a->started));
    if (a->pids == NULL || a->started == NULL)
        goto fail;
    w->acc = a;
    if (a->forking)
        return 0;
    pthread_mutex_init(&a->mu, NULL);
    a->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (a->wakefd == -1) {
        log_syserr(sc->name, "eventfd");
        goto fail;
    }
    a->waketag.kind = EV_WAKE;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = &a->waketag;
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, a->wakefd, &ev) == -1) {
        log_syserr(sc->name, "epoll_ctl(eventfd)");
        goto fail;
    }
    return 0;
fail:
    w->acc = NULL;
    if (a->wakefd != -1)
        close(a->wakefd);
    free(a->pids);
    free(a->started);
    free(a);
    return -1;
}

/* In a forked child: default signal dispositions, nothing blocked, die
 * with the acceptor, and keep no listener but `keep` (the UDP socket a
 * datagram child replies through). */
static void child_reset(struct wctx *w, int keep)
{
    static const int sigs[] = {SIGTERM, SIGINT,  SIGQUIT, SIGUSR1, SIGCHLD,
                               SIGHUP,  SIGTTIN, SIGTTOU, SIGUSR2};
    pid_t            parent = getppid();
    sigset_t         none;
    size_t           i;

    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
        _exit(1);
    close(w->epfd);
    for (i = 0; i < w->nlev; i++)
        if (w->lev[i].fd != -1 && w->lev[i].fd != keep)
            close(w->lev[i].fd);
}

static void backpressure(struct wctx *w)
{
    struct acceptor *a = w->acc;

    if (a->active >= a->cap) {
        worker_pause(w);
        slot_set_state(w->slot, SLOT_BUSY);
    }
}

/* Fork for one connection or datagram; fn runs in the child. */
static int fork_job(struct wctx *w, void (*fn)(struct wctx *, void *),
                    void *arg, int keep)
{
    struct acceptor *a = w->acc;
    int              idx = entry_take(a, mono_ms());
    pid_t            pid;

    if (idx == -1)
        return -1;
    /* Buffers the module holds (an access log) go out now: the child gets
     * a copy of them, and writes only what it adds itself. */
    if (w->mod->tick != NULL)
        w->mod->tick(&w->svc->pub);
    pid = fork();
    if (pid == -1) {
        log_syserr(w->svc->sc->name, "fork");
        a->started[idx] = 0;
        a->active--;
        return -1;
    }
    if (pid == 0) {
        child_reset(w, keep);
        fn(w, arg);
        if (w->mod->worker_exit != NULL)
            w->mod->worker_exit(&w->svc->pub);
        _exit(0);
    }
    a->pids[idx] = pid;
    backpressure(w);
    return 0;
}

static void serve_conn_fn(struct wctx *w, void *arg)
{
    conn_serve(arg, w->mod, NULL);
}

static void serve_dgram_fn(struct wctx *w, void *arg)
{
    w->mod->datagram(arg);
}

static void *thread_main(void *arg)
{
    struct job      *j = arg;
    struct acceptor *a = j->a;
    uint64_t         one = 1;

    if (j->c != NULL)
        conn_serve(j->c, j->w->mod, NULL);
    else
        j->w->mod->datagram(&j->d);
    pthread_mutex_lock(&a->mu);
    a->started[j->idx] = 0;
    a->active--;
    pthread_mutex_unlock(&a->mu);
    if (write(a->wakefd, &one, sizeof(one)) == -1 && errno != EAGAIN)
        log_syserr(j->w->svc->sc->name, "eventfd write");
    free(j);
    return NULL;
}

static int thread_job(struct wctx *w, struct job *j)
{
    struct acceptor *a = w->acc;
    pthread_attr_t   attr;
    pthread_t        t;
    int              idx, r;

    pthread_mutex_lock(&a->mu);
    idx = entry_take(a, mono_ms());
    pthread_mutex_unlock(&a->mu);
    if (idx == -1)
        return -1;
    j->a = a;
    j->w = w;
    j->idx = (unsigned)idx;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    r = pthread_create(&t, &attr, thread_main, j);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        log_at(PF_LOG_ERROR, w->svc->sc->name, r, "pthread_create");
        pthread_mutex_lock(&a->mu);
        a->started[idx] = 0;
        a->active--;
        pthread_mutex_unlock(&a->mu);
        return -1;
    }
    pthread_mutex_lock(&a->mu);
    backpressure(w);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

int acceptor_conn(struct wctx *w, struct conn *c)
{
    struct job *j;

    if (w->acc->forking) {
        int r = fork_job(w, serve_conn_fn, c, -1);
        conn_free(c); /* the child has its copy */
        return r;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        conn_free(c);
        return -1;
    }
    j->c = c;
    if (thread_job(w, j) == -1) {
        free(j);
        conn_free(c);
        return -1;
    }
    return 0;
}

int acceptor_dgram(struct wctx *w, int fd, const void *buf, size_t len,
                   const struct sockaddr *peer, socklen_t peerlen)
{
    pf_dgram    d = {.api = &host_api,
                     .svc = &w->svc->pub,
                     .fd = fd,
                     .buf = buf,
                     .len = len,
                     .peer = peer,
                     .peerlen = peerlen};
    struct job *j;

    if (w->acc->forking)
        return fork_job(w, serve_dgram_fn, &d, fd);
    j = calloc(1, sizeof(*j) + len);
    if (j == NULL)
        return -1;
    memcpy(j->buf, buf, len);
    if (peerlen > sizeof(j->peer))
        peerlen = sizeof(j->peer);
    memcpy(&j->peer, peer, peerlen);
    d.buf = j->buf;
    d.peer = (struct sockaddr *)&j->peer;
    d.peerlen = peerlen;
    j->d = d;
    if (thread_job(w, j) == -1) {
        free(j);
        return -1;
    }
    return 0;
}

static void reap_children(struct wctx *w)
{
    struct acceptor *a = w->acc;
    int              status;
    unsigned         i;
    pid_t            pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (i = 0; i < a->cap; i++)
            if (a->pids[i] == pid)
                break;
        if (i == a->cap)
            continue;
        a->pids[i] = 0;
        a->started[i] = 0;
        a->active--;
        if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
            log_error(w->svc->sc->name, "child %d exited on signal %d",
                      (int)pid, WTERMSIG(status));
    }
}

static void kill_stuck_children(struct wctx *w, int64_t now)
{
    struct acceptor *a = w->acc;
    long long        limit = w->cfg->worker_timeout_ms;
    unsigned         i;

    for (i = 0; limit > 0 && i < a->cap; i++) {
        if (a->pids[i] == 0 || now - a->started[i] <= limit)
            continue;
        log_error(w->svc->sc->name,
                  "child %d busy on one connection for %lld ms "
                  "(worker_timeout %lld ms): killing it",
                  (int)a->pids[i], (long long)(now - a->started[i]), limit);
        kill(a->pids[i], SIGKILL);
        a->started[i] = now; /* logged once; reaped soon */
    }
}

static void check_stuck_threads(struct wctx *w, int64_t now)
{
    struct acceptor *a = w->acc;
    long long        limit = w->cfg->worker_timeout_ms;
    int64_t          oldest = 0;
    unsigned         i;

    if (limit <= 0)
        return;
    pthread_mutex_lock(&a->mu);
    for (i = 0; i < a->cap; i++)
        if (a->started[i] != 0 && (oldest == 0 || a->started[i] < oldest))
            oldest = a->started[i];
    pthread_mutex_unlock(&a->mu);
    if (oldest == 0 || now - oldest <= limit)
        return;
    log_error(w->svc->sc->name,
              "a thread has been busy on one connection for %lld ms "
              "(worker_timeout %lld ms): replacing worker %d",
              (long long)(now - oldest), limit, (int)getpid());
    _exit(ACCEPTOR_EXIT_TIMEOUT);
}

void acceptor_poll(struct wctx *w)
{
    struct acceptor *a = w->acc;
    int64_t          now = mono_ms();
    uint64_t         n;
    unsigned         active;

    if (a->forking) {
        reap_children(w);
        kill_stuck_children(w, now);
    } else {
        while (read(a->wakefd, &n, sizeof(n)) > 0)
            ;
        check_stuck_threads(w, now);
    }
    active = acceptor_active(w);
    if (active < a->cap && !w->draining) {
        worker_resume(w);
        slot_set_state(w->slot, SLOT_IDLE);
    }
}

unsigned acceptor_active(const struct wctx *w)
{
    struct acceptor *a = w->acc;
    unsigned         n;

    if (a->forking)
        return a->active;
    pthread_mutex_lock(&a->mu);
    n = a->active;
    pthread_mutex_unlock(&a->mu);
    return n;
}

void acceptor_kill(struct wctx *w)
{
    struct acceptor *a = w->acc;
    unsigned         i;

    if (!a->forking)
        return;
    for (i = 0; i < a->cap; i++)
        if (a->pids[i] != 0)
            kill(a->pids[i], SIGKILL);
}
