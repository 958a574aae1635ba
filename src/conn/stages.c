/*
 * stages.c -- the life of a connection, stage by stage, the same under
 * both drivers.
 *
 * conn_step() runs the stages of enum conn_stage in order for as long as
 * none has to wait: the PROXY header, the handshake, setup(), then
 * handle() (once per step).  When one has to wait it says for what and
 * until when, and the driver waits: parked in the worker's epoll set
 * (driver_event.c) or in poll() (driver_block.c).  So the order of the
 * stages, their deadlines, which of setup()/finish() a connection gets,
 * and the scoreboard around handle() are written once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "clock.h"
#include "conn.h"
#include "conn_proxy.h"
#include "io.h"
#include "log.h"
#include "scoreboard.h"
#include "stages.h"
#include "tls.h"
#include "tlsctx.h"

static void advance(struct conn *c, enum conn_stage to)
{
    c->stage = to;
    c->deadline = 0; /* the next stage's deadline is its own */
}

/* c waits in a stage with a deadline of its own (PROXY, HANDSHAKE), set
 * when it first waits there: a peer that sends a byte at a time does not
 * earn more time with each. */
static struct conn_wait stage_wait(struct conn *c, short events, int ms)
{
    if (c->deadline == 0)
        c->deadline = mono_ms() + ms;
    return (struct conn_wait){.events = events, .deadline = c->deadline};
}

/* Between handle() calls: until the socket is ready for what handle()
 * asked, for idle_timeout_ms from now (none when it is 0 or less).
 * now_ms: the clock as handle() returned, or 0 when it was not read. */
static struct conn_wait serving_wait(const struct conn *c, int64_t now_ms)
{
    struct conn_wait w = {.events = c->next == PF_WRITE ? POLLOUT : POLLIN};

    if (c->pub.idle_timeout_ms > 0)
        w.deadline =
            (now_ms != 0 ? now_ms : mono_ms()) + c->pub.idle_timeout_ms;
    return w;
}

/* The connection's PROXY header: 1 read (c's peer is the client it names
 * now), 0 more to come, -1 closed (logged). */
static int proxy_stage(struct conn *c, const struct conn_env *env)
{
    int r = conn_proxy_read(c, c->pub.svc->name);

    /* The slot names the client at once: a death record outlives us. */
    if (r == 1 && env->slot != NULL)
        slot_set_peer(env->slot, c->pub.peer, c->pub.peerlen);
    return r;
}

/*
 * The transport's handshake: 1 done, 0 to wait for *events, -1 failed.
 * A plain connection has none.  A TLS one steps its handshake on each
 * call, and once it is done its transport (c->io) is TLS, so that no
 * module above it knows (tls.c).
 */
static int handshake_stage(struct conn *c, short *events)
{
    if (c->tlsctx == NULL)
        return 1;
    return tls_handshake(c, events);
}

/* The stage's own deadline: the service's tls_handshake_timeout. */
static int handshake_ms(const struct conn *c)
{
    return c->tlsctx != NULL ? (int)c->tlsctx->handshake_timeout_ms
                             : CONN_HANDSHAKE_TIMEOUT_MS;
}

/* Bytes the transport holds that poll() and epoll cannot see: TLS
 * records read ahead but not yet taken.  A connection with some must not
 * be parked, or it would wait for bytes it already has. */
static size_t held(struct conn *c)
{
    return c->io->pending != NULL ? c->io->pending(c) : 0;
}

static int readable_now(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, 0) == 1;
}

/* The module meets c.  Returns whether handle() is due at once: a
 * blocking module is called at once, so that a protocol where the server
 * speaks first works; others when data is there, and the event driver
 * looks whether it is there already (most clients speak first), saving
 * the worker a trip through epoll before it serves them.  -1: setup()
 * failed. */
static int setup_stage(struct conn *c, const struct conn_env *env)
{
    const struct pf_module *m = env->mod;

    if (m->setup != NULL && m->setup(&c->pub) == -1)
        return -1;
    if (m->flags & PF_BLOCKING)
        return 1;
    return held(c) > 0 || (env->look_first && readable_now(c->pub.fd));
}

/*
 * The event driver times each handle() call with the two clock readings
 * it made anyway (busy_since before, the idle deadline after), in
 * microseconds.  A module that reports its responses (PF_RESPONSES) has
 * each timed from the first handle() of its request to the call in which
 * it ended, and counted there (pf_response_done); any other module has
 * each handle() call counted as one request.
 */
static void count_call(struct conn *c, const struct conn_env *env, int64_t t0,
                       int64_t t1)
{
    if (!(env->mod->flags & PF_RESPONSES)) {
        slot_observe(env->slot, t1 - t0, 1);
        c->req_start_us = 0;
        return;
    }
    if (c->responses == 0)
        return; /* the request goes on in a later call */
    for (; c->responses > 0; c->responses--)
        slot_observe(env->slot, t1 - c->req_start_us, 0);
    c->req_start_us = 0;
}

/* One handle() call.  The slot names the client before it (the death
 * record of a module that crashes in it) and, in the event driver, is
 * BUSY for just this call.  *now_ms: the clock as it returned (0: not
 * read). */
static int serve_once(struct conn *c, const struct conn_env *env,
                      int64_t *now_ms)
{
    int64_t t0 = 0, t1;
    int     next;

    if (env->slot != NULL) {
        if (env->busy_per_request) {
            t0 = mono_us();
            slot_busy_at(env->slot, t0 / 1000);
            if (c->req_start_us == 0)
                c->req_start_us = t0;
        }
        slot_set_peer(env->slot, c->pub.peer, c->pub.peerlen);
    }
    next = env->mod->handle(&c->pub);
    c->pub.requests++;
    *now_ms = 0;
    if (env->slot != NULL && env->busy_per_request) {
        t1 = mono_us();
        *now_ms = t1 / 1000;
        count_call(c, env, t0, t1);
        slot_done(env->slot, 0);
        if (env->draining)
            slot_set_state(env->slot, SLOT_EXITING);
    }
    return next;
}

struct conn_wait conn_step(struct conn *c, const struct conn_env *env,
                           int ready)
{
    static const struct conn_wait done = {.events = 0};
    short                         events;
    int                           r;

    for (;;) {
        switch (c->stage) {
        case CONN_PROXY:
            r = proxy_stage(c, env);
            if (r == 0)
                return stage_wait(c, POLLIN, CONN_PROXY_TIMEOUT_MS);
            if (r == -1)
                goto closed;
            advance(c, CONN_HANDSHAKE);
            break;
        case CONN_HANDSHAKE:
            r = handshake_stage(c, &events);
            if (r == 0)
                return stage_wait(c, events, handshake_ms(c));
            if (r == -1)
                goto closed;
            advance(c, CONN_SETUP);
            break;
        case CONN_SETUP:
            r = setup_stage(c, env);
            if (r == -1)
                goto closed; /* no finish() for a failed setup() */
            advance(c, CONN_SERVING);
            ready = r;
            continue;
        case CONN_SERVING: {
            int      next;
            unsigned reads = c->reads;
            int64_t  now_ms;

            if (!ready)
                return serving_wait(c, 0);
            next = serve_once(c, env, &now_ms);
            if (next == PF_CLOSE || (env->draining && next == PF_IDLE)) {
                conn_end(c, env);
                return done;
            }
            c->next = next;
            /* Bytes held by the transport are ready now: serve them,
             * unless handle() read nothing (it does not want them yet,
             * and would only be called again in a loop). */
            if (next != PF_WRITE && c->reads != reads && held(c) > 0)
                continue;
            return serving_wait(c, now_ms);
        }
        case CONN_CLOSING: return done;
        }
        ready = 0; /* what came was the last stage's */
    }
closed:
    advance(c, CONN_CLOSING);
    return done;
}

void conn_end(struct conn *c, const struct conn_env *env)
{
    if (c->stage == CONN_SERVING && env->mod->finish != NULL)
        env->mod->finish(&c->pub);
    advance(c, CONN_CLOSING);
}

void conn_abort(struct conn *c, const struct conn_env *env, int err)
{
    const char *name = c->pub.svc->name;

    c->pub.timed_out = err == ETIMEDOUT;
    if (c->stage == CONN_PROXY)
        conn_proxy_fail(c, name,
                        err == ETIMEDOUT ? "no PROXY header in time"
                                         : strerror(err));
    else if (c->stage == CONN_HANDSHAKE && c->tlsctx != NULL) {
        tls_handshake_abandoned(c);
        log_info(name, "TLS handshake not done: %s",
                 err == ETIMEDOUT ? "no handshake in time" : strerror(err));
    } else if (c->stage == CONN_HANDSHAKE)
        log_warn(name, "connection closed: %s",
                 err == ETIMEDOUT ? "no handshake in time" : strerror(err));
    conn_end(c, env);
}
