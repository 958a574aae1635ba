/*
 * test_blocking.c -- PF_BLOCKING modules, seen from outside: a prefork
 * worker serves one such connection at a time and counts as busy for all
 * of it, so the dynamic pool grows with the connections held and
 * worker_timeout kills a worker stuck in handle(); the server may speak
 * first; forking and threading modes serve such connections side by side;
 * pf_readline() and pf_read_full() behave as <prefork/module.h> says.
 *
 * blockmod (tests/modules/blockmod.c) greets, then answers line commands.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define LO         "127.0.0.1"
#define H_BLOCKMOD PF_BUILDDIR "/tests/modules/.libs/blockmod.so"
#define GREETING   "hello blockmod"

static struct h_server srv;

static int tcp_port(void)
{
    int port = h_free_port(LO, SOCK_STREAM);

    cr_assert(port > 0, "no free port");
    return port;
}

/* Start blockmod on port with the service keys in `keys`. */
static void start_blockmod(int port, const char *server, const char *keys)
{
    cr_assert_eq(h_init(&srv), 0);
    cr_assert_eq(h_config(&srv, "%s\n[b]\nmodule = %s\nlisten = %s:%d\n%s\n",
                          server, H_BLOCKMOD, LO, port, keys),
                 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
}

/* Connect and read the greeting, sending nothing.  Returns the descriptor
 * or -1. */
static int greeted(int port, int ms)
{
    char line[64];
    int  fd = h_connect(LO, port, ms);

    if (fd == -1)
        return -1;
    if (h_recv_line(fd, line, sizeof(line), ms) < 0 ||
        strcmp(line, GREETING) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send req and read one line of answer into line.  Returns 0 or -1. */
static int ask(int fd, const char *req, char *line, size_t cap, int ms)
{
    if (h_send_all(fd, req, strlen(req), ms) == -1)
        return -1;
    return h_recv_line(fd, line, cap, ms) < 0 ? -1 : 0;
}

static long ask_pid(int fd)
{
    char line[64];

    if (ask(fd, "pid\n", line, sizeof(line), 3000) == -1)
        return -1;
    return strtol(line, NULL, 10);
}

/* --- (d) the server speaks first --------------------------------------- */

Test(blocking, greeting_comes_before_the_client_speaks, .fini = h_teardown,
     .timeout = 30)
{
    int  port = tcp_port(), fd;
    char line[64];

    start_blockmod(port, "", "workers = 1");
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0, "connect: %s", strerror(errno));
    cr_assert_geq(h_recv_line(fd, line, sizeof(line), 3000), 0,
                  "no greeting before the client sent anything%s",
                  h_diag(&srv));
    cr_expect_str_eq(line, GREETING);
    cr_expect_gt(ask_pid(fd), 0, "no answer after the greeting");
    close(fd);
}

/* --- (a) a dynamic pool follows the connections held -------------------- */

Test(blocking, dynamic_pool_grows_with_held_connections, .fini = h_teardown,
     .timeout = 60)
{
    int  port = tcp_port(), fd[3];
    long pid[3];

    start_blockmod(port, "",
                   "workers = 1\nmin_spare = 1\nmax_spare = 1\n"
                   "max_workers = 4");
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == 1), "%d workers at start",
              h_nworkers(&srv));
    /* Each held connection takes a whole worker: a greeting means a
     * worker is on it, and the pool must grow for the next one. */
    for (int i = 0; i < 3; i++) {
        fd[i] = greeted(port, 10000);
        cr_assert(fd[i] >= 0, "client %d was not served while %d are held%s", i,
                  i, h_diag(&srv));
    }
    cr_assert(H_WAIT(10000, h_nworkers(&srv) == 4),
              "3 held connections and min_spare = 1: %d workers, not 4%s",
              h_nworkers(&srv), h_diag(&srv));
    for (int i = 0; i < 3; i++) {
        pid[i] = ask_pid(fd[i]);
        cr_assert_gt(pid[i], 0, "held client %d got no answer", i);
        for (int j = 0; j < i; j++)
            cr_expect_neq(pid[i], pid[j], "two connections in worker %ld",
                          pid[i]);
    }
    h_sleep_ms(1500);
    cr_expect_leq(h_nworkers(&srv), 4, "the pool grew past max_workers");
    for (int i = 0; i < 3; i++)
        close(fd[i]);
    cr_assert(H_WAIT(20000, h_nworkers(&srv) == 1),
              "the pool did not shrink back to 1 worker: %d", h_nworkers(&srv));
    fd[0] = greeted(port, 5000);
    cr_expect(fd[0] >= 0, "not served after the pool shrank");
    if (fd[0] >= 0)
        close(fd[0]);
}

/* One worker, one connection: a second client waits until the first is
 * done, and is served then. */
Test(blocking, one_worker_serves_one_connection_at_a_time, .fini = h_teardown,
     .timeout = 30)
{
    int  port = tcp_port(), a, b;
    char line[64];

    start_blockmod(port, "", "workers = 1");
    a = greeted(port, 3000);
    cr_assert(a >= 0, "first client not served%s", h_diag(&srv));
    b = h_connect(LO, port, 3000);
    cr_assert(b >= 0);
    cr_expect_lt(h_recv_line(b, line, sizeof(line), 500), 0,
                 "a second connection was served while the first is held");
    close(a);
    cr_assert_geq(h_recv_line(b, line, sizeof(line), 3000), 0,
                  "the second client was not served after the first left");
    cr_expect_str_eq(line, GREETING);
    close(b);
}

/* --- (b) worker_timeout ------------------------------------------------- */

Test(blocking, worker_timeout_kills_a_worker_stuck_in_handle,
     .fini = h_teardown, .timeout = 40)
{
    int  port = tcp_port(), fd, fd2;
    long stuck, fresh;

    start_blockmod(port, "worker_timeout = 1s", "workers = 1");
    fd = greeted(port, 3000);
    cr_assert(fd >= 0, "not served%s", h_diag(&srv));
    stuck = ask_pid(fd);
    cr_assert_gt(stuck, 0);
    cr_assert_eq(h_send_all(fd, "sleep 30\n", 9, 1000), 0);
    cr_assert(H_WAIT(10000, h_file_contains(srv.log, "exited on signal")),
              "the stuck worker was not killed%s", h_diag(&srv));
    cr_expect_eq(h_wait_closed(fd, 3000), 0,
                 "the stuck connection stayed open");
    close(fd);
    fd2 = greeted(port, 5000);
    cr_assert(fd2 >= 0, "no new worker serves%s", h_diag(&srv));
    fresh = ask_pid(fd2);
    cr_expect_gt(fresh, 0);
    cr_expect_neq(fresh, stuck, "the stuck worker %ld still serves", stuck);
    close(fd2);
}

/* --- graceful stop and max_requests -------------------------------------- */

Test(blocking, quit_lets_the_connection_finish, .fini = h_teardown,
     .timeout = 30)
{
    int  port = tcp_port(), fd;
    char line[64];

    start_blockmod(port, "", "workers = 1");
    fd = greeted(port, 3000);
    cr_assert(fd >= 0, "not served%s", h_diag(&srv));
    cr_assert_eq(h_signal(&srv, SIGQUIT), 0);
    h_sleep_ms(300);
    cr_expect(h_alive(&srv), "the master left with a connection in flight");
    cr_assert_eq(ask(fd, "x\n", line, sizeof(line), 3000), 0,
                 "the in-flight connection was cut on QUIT%s", h_diag(&srv));
    cr_expect_str_eq(line, "line 2 1");
    cr_expect_eq(h_send_all(fd, "quit\n", 5, 1000), 0);
    close(fd);
    cr_expect_eq(h_wait_exit(&srv, 5000), 0, "QUIT did not end in exit 0%s",
                 h_diag(&srv));
}

Test(blocking, max_requests_counts_connections, .fini = h_teardown,
     .timeout = 30)
{
    int  port = tcp_port(), fd;
    long first, pid;

    start_blockmod(port, "max_requests = 2", "workers = 1");
    fd = greeted(port, 3000);
    cr_assert(fd >= 0);
    first = ask_pid(fd);
    /* Many requests on one connection are one connection. */
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ask_pid(fd), first);
    close(fd);
    fd = greeted(port, 3000);
    cr_assert(fd >= 0);
    cr_expect_eq(ask_pid(fd), first, "recycled after 1 connection");
    close(fd);
    /* It serves on until its replacement accepts, then goes. */
    cr_assert(H_WAIT(5000, kill((pid_t)first, 0) == -1),
              "the worker that served 2 connections with max_requests = 2 "
              "was not replaced%s",
              h_diag(&srv));
    fd = greeted(port, 5000);
    cr_assert(fd >= 0, "not served after the recycle%s", h_diag(&srv));
    pid = ask_pid(fd);
    cr_expect(pid > 0 && pid != first,
              "the worker served a third connection past max_requests = 2");
    close(fd);
}

/* --- (c) forking and threading ------------------------------------------ */

static void two_clients(const char *mode, int same_pid)
{
    int  port = tcp_port(), a, b;
    long pa, pb;
    char keys[128];

    snprintf(keys, sizeof(keys), "workers = 1\nmode = %s", mode);
    start_blockmod(port, "", keys);
    a = greeted(port, 3000);
    cr_assert(a >= 0, "%s: first client not served%s", mode, h_diag(&srv));
    b = greeted(port, 3000);
    cr_assert(b >= 0, "%s: second client not served beside the first%s", mode,
              h_diag(&srv));
    pa = ask_pid(a);
    pb = ask_pid(b);
    cr_assert(pa > 0 && pb > 0, "%s: no answers", mode);
    if (same_pid)
        cr_expect_eq(pa, pb, "threading: two processes %ld, %ld", pa, pb);
    else
        cr_expect_neq(pa, pb, "forking: one child served both");
    close(a);
    close(b);
}

Test(blocking, forking_serves_two_clients_at_once, .fini = h_teardown,
     .timeout = 30)
{
    two_clients("forking", 0);
}

Test(blocking, threading_serves_two_clients_at_once, .fini = h_teardown,
     .timeout = 30)
{
    two_clients("threading", 1);
}

/* At its cap (max_children, threads) a worker stops accepting: the next
 * client waits in the backlog and is served as soon as one leaves. */
static void at_the_cap(const char *mode, const char *cap)
{
    int  port = tcp_port(), a, b, c;
    char keys[128], line[64];

    snprintf(keys, sizeof(keys), "workers = 1\nmode = %s\n%s = 2", mode, cap);
    start_blockmod(port, "", keys);
    a = greeted(port, 3000);
    b = greeted(port, 3000);
    cr_assert(a >= 0 && b >= 0, "%s: two clients not served%s", mode,
              h_diag(&srv));
    c = h_connect(LO, port, 3000);
    cr_assert(c >= 0);
    cr_expect_lt(h_recv_line(c, line, sizeof(line), 500), 0,
                 "%s: a third connection was served past %s = 2", mode, cap);
    close(a);
    cr_assert_geq(h_recv_line(c, line, sizeof(line), 3000), 0,
                  "%s: the third client was not served after one left%s", mode,
                  h_diag(&srv));
    cr_expect_str_eq(line, GREETING);
    close(b);
    close(c);
}

Test(blocking, forking_stops_accepting_at_max_children, .fini = h_teardown,
     .timeout = 30)
{
    at_the_cap("forking", "max_children");
}

Test(blocking, threading_stops_accepting_at_threads, .fini = h_teardown,
     .timeout = 30)
{
    at_the_cap("threading", "threads");
}

/* A worker at its cap counts as busy, so a dynamic pool grows for the
 * next client. */
Test(blocking, a_full_acceptor_grows_the_pool, .fini = h_teardown,
     .timeout = 40)
{
    int port = tcp_port(), fd[3];

    start_blockmod(port, "",
                   "mode = forking\nmax_children = 1\nworkers = 1\n"
                   "min_spare = 1\nmax_spare = 1\nmax_workers = 4");
    for (int i = 0; i < 3; i++) {
        fd[i] = greeted(port, 10000);
        cr_assert(fd[i] >= 0, "client %d was not served while %d are held%s", i,
                  i, h_diag(&srv));
    }
    cr_assert(H_WAIT(10000, h_nworkers(&srv) == 4),
              "3 full workers and min_spare = 1: %d workers, not 4%s",
              h_nworkers(&srv), h_diag(&srv));
    for (int i = 0; i < 3; i++)
        close(fd[i]);
}

/* --- (e) pf_readline and pf_read_full ------------------------------------ */

Test(blocking, readline_splits_a_long_line, .fini = h_teardown, .timeout = 30)
{
    int  port = tcp_port(), fd;
    char line[64];

    start_blockmod(port, "", "workers = 1");
    fd = greeted(port, 3000);
    cr_assert(fd >= 0);
    /* 26 letters and \n into a 16-byte buffer: 15, then the other 12. */
    cr_assert_eq(
        ask(fd, "abcdefghijklmnopqrstuvwxyz\n", line, sizeof(line), 3000), 0);
    cr_expect_str_eq(line, "line 15 0");
    cr_assert_geq(h_recv_line(fd, line, sizeof(line), 3000), 0);
    cr_expect_str_eq(line, "line 12 1");
    close(fd);
}

Test(blocking, readline_stops_at_the_newline, .fini = h_teardown, .timeout = 30)
{
    int  port = tcp_port(), fd;
    char line[64];

    start_blockmod(port, "", "workers = 1");
    fd = greeted(port, 3000);
    cr_assert(fd >= 0);
    /* Two lines in one segment: the first read leaves the second. */
    cr_assert_eq(ask(fd, "ab\ncde\n", line, sizeof(line), 3000), 0);
    cr_expect_str_eq(line, "line 3 1");
    cr_assert_geq(h_recv_line(fd, line, sizeof(line), 3000), 0);
    cr_expect_str_eq(line, "line 4 1");
    /* The line after a command is there for pf_read_full. */
    cr_assert_eq(ask(fd, "full 5\nhello", line, sizeof(line), 3000), 0);
    cr_expect_str_eq(line, "full 5 hello");
    close(fd);
}

Test(blocking, readline_at_eof_mid_line, .fini = h_teardown, .timeout = 30)
{
    int  port = tcp_port(), fd;
    char line[64];

    start_blockmod(port, "", "workers = 1");
    fd = greeted(port, 3000);
    cr_assert(fd >= 0);
    cr_assert_eq(h_send_all(fd, "partial", 7, 1000), 0);
    cr_assert_eq(shutdown(fd, SHUT_WR), 0);
    cr_assert_geq(h_recv_line(fd, line, sizeof(line), 3000), 0);
    cr_expect_str_eq(line, "line 7 0");
    cr_expect_eq(h_wait_closed(fd, 3000), 0, "not closed after EOF");
    close(fd);
}

Test(blocking, read_full_short_at_eof, .fini = h_teardown, .timeout = 30)
{
    int  port = tcp_port(), fd;
    char line[64];

    start_blockmod(port, "", "workers = 1");
    fd = greeted(port, 3000);
    cr_assert(fd >= 0);
    cr_assert_eq(h_send_all(fd, "full 10\nabc", 11, 1000), 0);
    cr_assert_eq(shutdown(fd, SHUT_WR), 0);
    cr_assert_geq(h_recv_line(fd, line, sizeof(line), 3000), 0);
    cr_expect_str_eq(line, "full 3 abc");
    close(fd);
}

Test(blocking, reads_time_out, .fini = h_teardown, .timeout = 30)
{
    int     port = tcp_port(), fd;
    char    line[64];
    int64_t t0;

    start_blockmod(port, "", "workers = 1");
    fd = greeted(port, 3000);
    cr_assert(fd >= 0);
    cr_assert_eq(ask(fd, "timeout 300\n", line, sizeof(line), 3000), 0);
    cr_expect_str_eq(line, "ok");
    t0 = h_now_ms();
    cr_assert_eq(ask(fd, "line\n", line, sizeof(line), 3000), 0);
    cr_expect_str_eq(line, "err ETIMEDOUT");
    cr_expect_geq(h_now_ms() - t0, 250, "pf_readline gave up early");
    /* pf_read_full waits for each part, and times out on the missing. */
    cr_assert_eq(ask(fd, "full 10\nabcd", line, sizeof(line), 3000), 0);
    cr_expect_str_eq(line, "full -1 ETIMEDOUT");
    close(fd);
}

/* --- (g) a PROXY header before a server that speaks first ---------------- */

/* The greeting waits for the PROXY header: the module meets the connection
 * only once the header is read, in every mode a blocking module runs in. */
static void greeting_after_proxy_header(const char *mode)
{
    const char hdr[] = "PROXY TCP4 192.0.2.1 127.0.0.1 1 2\r\n";
    char       keys[128], line[64];
    int        port = tcp_port(), fd;

    snprintf(keys, sizeof keys, "workers = 1\nmode = %s\nproxy_protocol = yes",
             mode);
    start_blockmod(port, "", keys);
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0, "connect: %s", strerror(errno));
    cr_expect_lt(h_recv_line(fd, line, sizeof(line), 500), 0,
                 "%s: greeted before the PROXY header", mode);
    cr_assert_eq(h_send_all(fd, hdr, sizeof hdr - 1, 2000), 0);
    cr_assert_geq(h_recv_line(fd, line, sizeof(line), 3000), 0,
                  "%s: no greeting after the PROXY header%s", mode,
                  h_diag(&srv));
    cr_expect_str_eq(line, GREETING, "%s", mode);
    cr_expect_gt(ask_pid(fd), 0, "%s: no answer after the greeting", mode);
    close(fd);
    /* A connection that never sends its header is closed and logged. */
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    cr_assert_eq(h_send_all(fd, "hello\n", 6, 2000), 0);
    cr_expect_eq(h_wait_closed(fd, 3000), 0, "%s: no header, not closed", mode);
    close(fd);
    cr_expect(H_WAIT(3000, h_file_contains(srv.log, "closed")),
              "%s: the refusal was not logged%s", mode, h_diag(&srv));
}

Test(blocking, proxy_header_then_greeting, .fini = h_teardown, .timeout = 30)
{
    greeting_after_proxy_header("prefork");
}

Test(blocking, proxy_header_then_greeting_in_forking_mode, .fini = h_teardown,
     .timeout = 30)
{
    greeting_after_proxy_header("forking");
}

Test(blocking, proxy_header_then_greeting_in_threading_mode, .fini = h_teardown,
     .timeout = 30)
{
    greeting_after_proxy_header("threading");
}
