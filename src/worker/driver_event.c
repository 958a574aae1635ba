/*
 * driver_event.c -- the event driver: a prefork worker's connections,
 * parked in its epoll set while they wait.
 *
 * A connection the module hands back (PF_MORE, PF_IDLE, PF_WRITE) stays in
 * the worker's epoll set with its deadline in a timer heap, so one worker
 * holds many idle keep-alive connections while it serves others, as
 * Apache's event MPM parks them.  What happens to a connection when it is
 * woken is stages.c's business; this file only waits for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stddef.h>
#include <sys/epoll.h>

#include "clock.h"
#include "conn.h"
#include "driver_event.h"
#include "log.h"
#include "scoreboard.h"

#define TRIM_DELAY_MS 1000

/*
 * A connection idle between requests is not closed the moment a drain
 * begins: a client may be sending its next request that very moment, and
 * would see the connection close under it.  It keeps at most
 * DRAIN_IDLE_MS of its idle time; a request in it is served (a module
 * that asks pf_accepting() answers it with "Connection: close"), and one
 * still silent then is closed, the race a keep-alive timeout always has.
 */
#define DRAIN_IDLE_MS 1000

void connset_init(struct conn_set *s, int epfd, const struct pf_module *m,
                  struct slot *slot, const char *name)
{
    *s = (struct conn_set){
        .env = {.mod = m, .slot = slot, .busy_per_request = 1, .look_first = 1},
        .epfd = epfd,
        .name = name,
    };
    timerheap_init(&s->timers);
}

static void link_conn(struct conn_set *s, struct conn *c)
{
    c->prev_c = NULL;
    c->next_c = s->head;
    if (s->head != NULL)
        s->head->prev_c = c;
    s->head = c;
    slot_set_conns(s->env.slot, ++s->n);
}

static void close_conn(struct conn_set *s, struct conn *c)
{
    conn_end(c, &s->env);
    timerheap_remove(&s->timers, &c->timer);
    if (c->prev_c != NULL)
        c->prev_c->next_c = c->next_c;
    else
        s->head = c->next_c;
    if (c->next_c != NULL)
        c->next_c->prev_c = c->prev_c;
    slot_set_conns(s->env.slot, --s->n);
    conn_free(c);
    if (s->n == 0 && s->trim_at == 0)
        s->trim_at = mono_ms() + TRIM_DELAY_MS;
}

/*
 * Connections' buffers are freed when they close, but glibc keeps the
 * pages, so a worker that once held many connections stays that big when
 * idle.  A second after the last one closed (at most once a second under
 * load), malloc_trim() hands free pages back to the kernel.
 */
void connset_trim(struct conn_set *s, int64_t now)
{
    if (s->trim_at == 0 || now < s->trim_at)
        return;
    s->trim_at = 0;
    if (s->n == 0)
        malloc_trim(0);
}

/* Hand c back to the loop until what it waits for comes or its deadline
 * passes; the first time, c joins the epoll set (events 0 means it is not
 * there yet). */
static void park(struct conn_set *s, struct conn *c, const struct conn_wait *w)
{
    unsigned want = w->events == POLLOUT ? EPOLLOUT : EPOLLIN;

    if (want != c->events) {
        struct epoll_event ev = {.events = want, .data.ptr = &c->tag};
        int                op = c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;

        if (epoll_ctl(s->epfd, op, c->pub.fd, &ev) == -1) {
            log_syserr(s->name, "epoll_ctl(connection)");
            close_conn(s, c);
            return;
        }
        c->events = want;
    }
    if (w->deadline == 0) {
        timerheap_remove(&s->timers, &c->timer);
        return;
    }
    if (timerheap_set(&s->timers, &c->timer, w->deadline) == -1) {
        log_error(s->name, "out of memory, closing a connection");
        close_conn(s, c);
    }
}

/* Step c as far as it goes, then park it or close it. */
static void step(struct conn_set *s, struct conn *c, int ready)
{
    struct conn_wait w = conn_step(c, &s->env, ready);

    if (w.events == 0)
        close_conn(s, c);
    else
        park(s, c, &w);
}

void connset_add(struct conn_set *s, struct conn *c)
{
    c->events = 0;
    link_conn(s, c);
    step(s, c, 0);
}

void connset_ready(struct conn_set *s, struct conn *c)
{
    step(s, c, 1);
}

void connset_expire(struct conn_set *s, int64_t now)
{
    struct timer *t;

    while ((t = timerheap_peek(&s->timers)) != NULL && t->deadline <= now) {
        struct conn *c =
            (struct conn *)((char *)t - offsetof(struct conn, timer));

        conn_abort(c, &s->env, ETIMEDOUT);
        close_conn(s, c);
    }
}

int64_t connset_deadline(const struct conn_set *s)
{
    struct timer *t = timerheap_peek(&s->timers);

    return t != NULL ? t->deadline : 0;
}

static int drain_idle(struct conn_set *s, struct conn *c)
{
    int64_t deadline = mono_ms() + DRAIN_IDLE_MS;

    if (c->timer.index != TIMER_NONE && c->timer.deadline < deadline)
        return 0;
    return timerheap_set(&s->timers, &c->timer, deadline);
}

void connset_drain(struct conn_set *s)
{
    struct conn *c, *next;

    s->env.draining = 1;
    for (c = s->head; c != NULL; c = next) {
        next = c->next_c;
        if (c->next == PF_IDLE && drain_idle(s, c) == -1)
            close_conn(s, c);
    }
}

void connset_close_all(struct conn_set *s)
{
    while (s->head != NULL)
        close_conn(s, s->head);
}
