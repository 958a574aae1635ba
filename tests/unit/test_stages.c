/*
 * test_stages.c -- a connection's life (src/conn/stages.c) stepped by hand
 * on a socketpair, as a driver steps it: the order of the stages, what
 * each step waits for and until when, which connections get finish(),
 * the PROXY header's deadline set once.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "io.h"
#include "stages.h"

/* What the fake module saw, and what its next handle() returns. */
static struct {
    int setups, handles, finishes;
    int fail_setup;
    int next;
    int timed_out_at_finish;
    int data_at_first_handle; /* bytes queued when handle() first ran */
} seen;

static int fake_setup(pf_conn *c)
{
    (void)c;
    seen.setups++;
    return seen.fail_setup ? -1 : 0;
}

static int fake_handle(pf_conn *c)
{
    char    buf[64];
    ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);

    if (seen.handles++ == 0)
        seen.data_at_first_handle = n > 0 ? (int)n : 0;
    return seen.next;
}

static void fake_finish(pf_conn *c)
{
    seen.finishes++;
    seen.timed_out_at_finish = c->timed_out;
}

static struct pf_module mod = {
    .name = "fake",
    .setup = fake_setup,
    .handle = fake_handle,
    .finish = fake_finish,
};

static pf_service      svc = {.name = "t"};
static struct conn_env env;
static struct conn    *c;
static int             far = -1;

static void start(int stage)
{
    struct sockaddr self = {.sa_family = AF_UNIX};
    int             sv[2];

    memset(&seen, 0, sizeof seen);
    seen.next = PF_MORE;
    mod.flags = 0;
    env = (struct conn_env){.mod = &mod};
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    far = sv[1];
    c = conn_new(sv[0], &svc, &conn_io_plain, &self, sizeof(self.sa_family));
    cr_assert_not_null(c);
    c->stage = stage;
}

static void stop(void)
{
    conn_free(c);
    c = NULL;
    if (far != -1)
        close(far);
    far = -1;
}

static void say(const char *s)
{
    cr_assert_eq(write(far, s, strlen(s)), (ssize_t)strlen(s));
}

Test(stages, setup_then_handle_when_ready_then_finish, .fini = stop)
{
    struct conn_wait w;
    int64_t          now;

    start(CONN_HANDSHAKE);
    now = mono_ms();
    w = conn_step(c, &env, 0);
    cr_expect_eq(seen.setups, 1);
    cr_expect_eq(seen.handles, 0, "handle() before the client spoke");
    cr_expect_eq(c->stage, CONN_SERVING);
    cr_expect_eq(w.events, POLLIN);
    cr_expect(w.deadline >= now + CONN_DEFAULT_TIMEOUT_MS &&
                  w.deadline <= mono_ms() + CONN_DEFAULT_TIMEOUT_MS,
              "idle deadline %lld", (long long)w.deadline);
    say("hi");
    seen.next = PF_WRITE;
    w = conn_step(c, &env, 1);
    cr_expect_eq(seen.handles, 1);
    cr_expect_eq(c->pub.requests, 1);
    cr_expect_eq(w.events, POLLOUT, "PF_WRITE waits for writable");
    seen.next = PF_CLOSE;
    w = conn_step(c, &env, 1);
    cr_expect_eq(w.events, 0);
    cr_expect_eq(seen.finishes, 1);
    cr_expect_eq(c->stage, CONN_CLOSING);
    conn_end(c, &env);
    cr_expect_eq(seen.finishes, 1, "finish() twice");
}

Test(stages, a_failed_setup_gets_no_finish, .fini = stop)
{
    struct conn_wait w;

    start(CONN_HANDSHAKE);
    seen.fail_setup = 1;
    w = conn_step(c, &env, 0);
    cr_expect_eq(w.events, 0, "a failed setup() closes");
    cr_expect_eq(seen.handles, 0);
    conn_end(c, &env);
    conn_abort(c, &env, ETIMEDOUT);
    cr_expect_eq(seen.finishes, 0, "finish() after a failed setup()");
}

Test(stages, a_blocking_module_is_called_at_once, .fini = stop)
{
    struct conn_wait w;

    start(CONN_HANDSHAKE);
    mod.flags = PF_BLOCKING;
    w = conn_step(c, &env, 0);
    cr_expect_eq(seen.handles, 1, "the server speaks first");
    cr_expect_eq(w.events, POLLIN);
}

Test(stages, look_first_serves_bytes_already_there, .fini = stop)
{
    start(CONN_HANDSHAKE);
    env.look_first = 1;
    (void)conn_step(c, &env, 0);
    cr_expect_eq(seen.handles, 0, "handle() with nothing there");
    stop();
    start(CONN_HANDSHAKE);
    env.look_first = 1;
    say("hello");
    (void)conn_step(c, &env, 0);
    cr_expect_eq(seen.handles, 1, "queued bytes waited for epoll");
    cr_expect_eq(seen.data_at_first_handle, 5);
}

Test(stages, idle_expiry_sets_timed_out_before_finish, .fini = stop)
{
    start(CONN_HANDSHAKE);
    (void)conn_step(c, &env, 0);
    conn_abort(c, &env, ETIMEDOUT);
    cr_expect_eq(seen.finishes, 1);
    cr_expect_eq(seen.timed_out_at_finish, 1);
}

Test(stages, no_idle_timeout_no_deadline, .fini = stop)
{
    start(CONN_HANDSHAKE);
    c->pub.idle_timeout_ms = 0;
    cr_expect_eq(conn_step(c, &env, 0).deadline, 0);
}

Test(stages, draining_closes_idle_not_busy, .fini = stop)
{
    struct conn_wait w;

    start(CONN_HANDSHAKE);
    env.draining = 1;
    (void)conn_step(c, &env, 0);
    seen.next = PF_MORE;
    w = conn_step(c, &env, 1);
    cr_expect_eq(w.events, POLLIN, "PF_MORE is let finish");
    seen.next = PF_IDLE;
    w = conn_step(c, &env, 1);
    cr_expect_eq(w.events, 0, "PF_IDLE while draining closes");
    cr_expect_eq(seen.finishes, 1);
}

Test(stages, proxy_header_in_pieces_keeps_its_first_deadline, .fini = stop)
{
    const struct timespec ms5 = {0, 5000000};
    struct conn_wait      w;
    int64_t               first;

    start(CONN_PROXY);
    w = conn_step(c, &env, 0);
    cr_expect_eq(w.events, POLLIN);
    first = w.deadline;
    cr_expect_gt(first, 0);
    say("PROXY TCP4 192.0.2.1 ");
    nanosleep(&ms5, NULL);
    w = conn_step(c, &env, 1);
    cr_expect_eq(c->stage, CONN_PROXY);
    cr_expect_eq(w.deadline, first, "a piece of the header earned time");
    cr_expect_eq(seen.setups, 0, "setup() before the header");
    say("127.0.0.1 7 80\r\nabc");
    w = conn_step(c, &env, 1);
    cr_expect_eq(c->stage, CONN_SERVING);
    cr_expect_eq(seen.setups, 1);
    cr_expect_eq(c->pub.peer->sa_family, AF_INET, "the peer is the client");
    cr_expect_eq(w.events, POLLIN);
    cr_expect_neq(w.deadline, first, "the idle deadline is not the header's");
    (void)conn_step(c, &env, 1);
    cr_expect_eq(seen.data_at_first_handle, 3, "bytes after the header");
}

Test(stages, no_proxy_header_in_time_gets_no_finish, .fini = stop)
{
    start(CONN_PROXY);
    (void)conn_step(c, &env, 0);
    conn_abort(c, &env, ETIMEDOUT);
    cr_expect_eq(c->stage, CONN_CLOSING);
    cr_expect_eq(seen.setups, 0);
    cr_expect_eq(seen.finishes, 0);
}

Test(stages, a_bad_proxy_header_closes, .fini = stop)
{
    start(CONN_PROXY);
    say("GET / HTTP/1.1\r\n\r\n");
    cr_expect_eq(conn_step(c, &env, 0).events, 0);
    cr_expect_eq(seen.setups, 0);
}
