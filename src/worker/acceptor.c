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
#include "clock.h"
#include "conn.h"
#include "driver_block.h"
#include "host.h"
#include "log.h"
#include "sandbox.h"

/* Exit status of an acceptor that gave up on a stuck thread. */
#define ACCEPTOR_EXIT_TIMEOUT 3

struct job {
    struct acceptor        *a;
    struct conn            *c; /* a connection, or ... */
    pf_dgram                d; /* ... a datagram, with its copied bytes */
    struct sockaddr_storage peer;
    unsigned                idx; /* its entry in a->started */
    char                    buf[];
};

struct acceptor {
    struct acceptor_conf conf;
    unsigned             active;
    pid_t               *pids;    /* forking: per entry, 0 when free */
    int64_t             *started; /* per entry, 0 when free */
    pthread_mutex_t      mu;      /* threading: guards active and started */
    int                  wakefd;
    struct ev_tag        waketag;
};

static int entry_take(struct acceptor *a, int64_t now)
{
    unsigned i;

    for (i = 0; i < a->conf.cap; i++)
        if (a->started[i] == 0) {
            a->started[i] = now;
            a->active++;
            return (int)i;
        }
    return -1;
}

static void acceptor_free(struct acceptor *a)
{
    if (a->wakefd != -1)
        close(a->wakefd);
    free(a->pids);
    free(a->started);
    free(a);
}

struct acceptor *acceptor_new(const struct acceptor_conf *conf)
{
    struct epoll_event ev;
    struct acceptor   *a = calloc(1, sizeof(*a));

    if (a == NULL) {
        log_error(conf->name, "out of memory");
        return NULL;
    }
    a->conf = *conf;
    a->wakefd = -1;
    a->pids = calloc(conf->cap, sizeof(*a->pids));
    a->started = calloc(conf->cap, sizeof(*a->started));
    if (a->pids == NULL || a->started == NULL) {
        log_error(conf->name, "out of memory");
        goto fail;
    }
    if (conf->forking)
        return a;
    pthread_mutex_init(&a->mu, NULL);
    a->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (a->wakefd == -1) {
        log_syserr(conf->name, "eventfd");
        goto fail;
    }
    a->waketag.kind = EV_WAKE;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = &a->waketag;
    if (epoll_ctl(conf->epfd, EPOLL_CTL_ADD, a->wakefd, &ev) == -1) {
        log_syserr(conf->name, "epoll_ctl(eventfd)");
        goto fail;
    }
    return a;
fail:
    acceptor_free(a);
    return NULL;
}

/* In a forked child: default signal dispositions, nothing blocked, die
 * with the acceptor, and keep no descriptor of the worker's but keep. */
static void child_reset(struct acceptor *a, int keep)
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
    a->conf.child_init(a->conf.arg, keep);
}

/* Fork for one connection or datagram; fn runs in the child.  Returns as
 * acceptor_conn(). */
static int fork_job(struct acceptor *a, void (*fn)(struct acceptor *, void *),
                    void *arg, int keep)
{
    const struct pf_module *m = a->conf.mod;
    int                     idx = entry_take(a, mono_ms());
    pid_t                   pid;

    if (idx == -1)
        return -1;
    /* Buffers the module holds (an access log) go out now: the child gets
     * a copy of them, and writes only what it adds itself. */
    if (m->tick != NULL)
        m->tick(a->conf.svc);
    pid = fork();
    if (pid == -1) {
        log_syserr(a->conf.name, "fork");
        a->started[idx] = 0;
        a->active--;
        return -1;
    }
    if (pid == 0) {
        child_reset(a, keep);
        fn(a, arg);
        if (m->worker_exit != NULL)
            m->worker_exit(a->conf.svc);
        _exit(0);
    }
    a->pids[idx] = pid;
    return a->active >= a->conf.cap;
}

static void serve_conn_fn(struct acceptor *a, void *arg)
{
    conn_serve(arg, a->conf.mod, NULL);
}

static void serve_dgram_fn(struct acceptor *a, void *arg)
{
    a->conf.mod->datagram(arg);
}

static void *thread_main(void *arg)
{
    struct job      *j = arg;
    struct acceptor *a = j->a;
    uint64_t         one = 1;

    if (j->c != NULL)
        conn_serve(j->c, a->conf.mod, NULL);
    else
        a->conf.mod->datagram(&j->d);
    pthread_mutex_lock(&a->mu);
    a->started[j->idx] = 0;
    a->active--;
    pthread_mutex_unlock(&a->mu);
    if (write(a->wakefd, &one, sizeof(one)) == -1 && errno != EAGAIN)
        log_syserr(a->conf.name, "eventfd write");
    free(j);
    return NULL;
}

/* Start a thread for j.  Returns as acceptor_conn(). */
static int thread_job(struct acceptor *a, struct job *j)
{
    pthread_attr_t attr;
    pthread_t      t;
    int            idx, r, full;

    pthread_mutex_lock(&a->mu);
    idx = entry_take(a, mono_ms());
    pthread_mutex_unlock(&a->mu);
    if (idx == -1)
        return -1;
    j->a = a;
    j->idx = (unsigned)idx;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    r = pthread_create(&t, &attr, thread_main, j);
    pthread_attr_destroy(&attr);
    pthread_mutex_lock(&a->mu);
    if (r != 0) {
        a->started[idx] = 0;
        a->active--;
    }
    full = a->active >= a->conf.cap;
    pthread_mutex_unlock(&a->mu);
    if (r != 0) {
        log_at(PF_LOG_ERROR, a->conf.name, r, "pthread_create");
        return -1;
    }
    return full;
}

int acceptor_conn(struct acceptor *a, struct conn *c)
{
    struct job *j;
    int         r;

    if (a->conf.forking) {
        r = fork_job(a, serve_conn_fn, c, -1);
        conn_free(c); /* the child has its copy */
        return r;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        log_error(a->conf.name, "out of memory, connection dropped");
        conn_free(c);
        return -1;
    }
    j->c = c;
    r = thread_job(a, j);
    if (r == -1) {
        free(j);
        conn_free(c);
    }
    return r;
}

int acceptor_dgram(struct acceptor *a, int fd, const void *buf, size_t len,
                   const struct sockaddr *peer, socklen_t peerlen)
{
    pf_dgram    d = {.api = &host_api,
                     .svc = a->conf.svc,
                     .fd = fd,
                     .buf = buf,
                     .len = len,
                     .peer = peer,
                     .peerlen = peerlen};
    struct job *j;
    int         r;

    if (a->conf.forking)
        return fork_job(a, serve_dgram_fn, &d, fd);
    j = calloc(1, sizeof(*j) + len);
    if (j == NULL) {
        log_error(a->conf.name, "out of memory, datagram dropped");
        return -1;
    }
    memcpy(j->buf, buf, len);
    if (peerlen > sizeof(j->peer))
        peerlen = sizeof(j->peer);
    memcpy(&j->peer, peer, peerlen);
    d.buf = j->buf;
    d.peer = (struct sockaddr *)&j->peer;
    d.peerlen = peerlen;
    j->d = d;
    r = thread_job(a, j);
    if (r == -1)
        free(j);
    return r;
}

static void reap_children(struct acceptor *a)
{
    int      status;
    unsigned i;
    pid_t    pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (i = 0; i < a->conf.cap; i++)
            if (a->pids[i] == pid)
                break;
        if (i == a->conf.cap)
            continue;
        a->pids[i] = 0;
        a->started[i] = 0;
        a->active--;
        sandbox_child_reaped(a->conf.name, pid, status);
        if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
            log_error(a->conf.name, "child %d exited on signal %d", (int)pid,
                      WTERMSIG(status));
    }
}

static void kill_stuck_children(struct acceptor *a, int64_t now)
{
    long long limit = a->conf.worker_timeout_ms;
    unsigned  i;

    for (i = 0; limit > 0 && i < a->conf.cap; i++) {
        if (a->pids[i] == 0 || now - a->started[i] <= limit)
            continue;
        log_error(a->conf.name,
                  "child %d busy on one connection for %lld ms "
                  "(worker_timeout %lld ms): killing it",
                  (int)a->pids[i], (long long)(now - a->started[i]), limit);
        if (kill(a->pids[i], SIGKILL) == -1 && errno != ESRCH)
            log_syserr(a->conf.name, "kill(%d)", (int)a->pids[i]);
        a->started[i] = now; /* logged once; reaped soon */
    }
}

static void check_stuck_threads(struct acceptor *a, int64_t now)
{
    long long limit = a->conf.worker_timeout_ms;
    int64_t   oldest = 0;
    unsigned  i;

    if (limit <= 0)
        return;
    pthread_mutex_lock(&a->mu);
    for (i = 0; i < a->conf.cap; i++)
        if (a->started[i] != 0 && (oldest == 0 || a->started[i] < oldest))
            oldest = a->started[i];
    pthread_mutex_unlock(&a->mu);
    if (oldest == 0 || now - oldest <= limit)
        return;
    log_error(a->conf.name,
              "a thread has been busy on one connection for %lld ms "
              "(worker_timeout %lld ms): replacing worker %d",
              (long long)(now - oldest), limit, (int)getpid());
    _exit(ACCEPTOR_EXIT_TIMEOUT);
}

int acceptor_poll(struct acceptor *a)
{
    int64_t  now = mono_ms();
    uint64_t n;

    if (a->conf.forking) {
        reap_children(a);
        kill_stuck_children(a, now);
    } else {
        while (read(a->wakefd, &n, sizeof(n)) > 0)
            ;
        check_stuck_threads(a, now);
    }
    return acceptor_active(a) < a->conf.cap;
}

unsigned acceptor_active(struct acceptor *a)
{
    unsigned n;

    if (a->conf.forking)
        return a->active;
    pthread_mutex_lock(&a->mu);
    n = a->active;
    pthread_mutex_unlock(&a->mu);
    return n;
}

void acceptor_kill(struct acceptor *a)
{
    unsigned i;

    if (!a->conf.forking)
        return;
    for (i = 0; i < a->conf.cap; i++)
        if (a->pids[i] != 0)
            kill(a->pids[i], SIGKILL);
}
