/*
 * test_signals.c -- the master's signals (SPEC section 4) and `-s`, seen
 * from outside: pool sizes after TTIN/TTOU and HUP, listeners added and
 * removed by a reload, a broken reload that changes nothing, graceful and
 * fast shutdown, log reopening, and the pidfile lock against a second
 * master.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"

#define LO "127.0.0.1"

static struct h_server srv;

static int tcp_port(void)
{
    int port = h_free_port(LO, SOCK_STREAM);

    cr_assert(port > 0, "no free port");
    return port;
}

/* The usual server of these tests: one echo service. */
static void config_echo(const char *listen, int workers)
{
    cr_assert_eq(h_config(&srv,
                          "shutdown_timeout = 20s\n"
                          "[echo]\nmodule = echo\nlisten = %s\nworkers = %d\n",
                          listen, workers),
                 0);
}

static void start_echo(const char *listen, int workers)
{
    cr_assert_eq(h_init(&srv), 0);
    config_echo(listen, workers);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == workers),
              "expected %d workers, got %d", workers, h_nworkers(&srv));
}

/* Is a connection to port refused? */
static int refused(int port)
{
    int fd = h_connect(LO, port, 2000);

    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno == ECONNREFUSED;
}

Test(signals, ttin_ttou_change_the_pool, .fini = h_teardown, .timeout = 30)
{
    char listen[64];

    snprintf(listen, sizeof listen, "%s:%d", LO, tcp_port());
    start_echo(listen, 2);
    h_signal(&srv, SIGTTIN);
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == 3), "TTIN: %d workers, not 3",
              h_nworkers(&srv));
    /* One at a time: two signals sent together may arrive as one. */
    h_signal(&srv, SIGTTOU);
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == 2), "TTOU: %d workers, not 2",
              h_nworkers(&srv));
    h_signal(&srv, SIGTTOU);
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == 1), "TTOU: %d workers, not 1",
              h_nworkers(&srv));
    /* It stays there: the pool's size changed, not just one process. */
    h_sleep_ms(1500);
    cr_assert_eq(h_nworkers(&srv), 1);
}

/* Exactly n workers, none of them in old[]. */
static int all_new(int n, const pid_t *old, int nold)
{
    pid_t now[16];
    int   k = h_workers(&srv, now, 16);

    if (k != n)
        return 0;
    for (int i = 0; i < k; i++) {
        for (int j = 0; j < nold; j++) {
            if (now[i] == old[j])
                return 0;
        }
    }
    return 1;
}

Test(signals, hup_applies_new_worker_count, .fini = h_teardown, .timeout = 30)
{
    int   port = tcp_port();
    char  listen[64];
    pid_t old[2];

    snprintf(listen, sizeof listen, "%s:%d", LO, port);
    start_echo(listen, 2);
    h_workers(&srv, old, 2);
    config_echo(listen, 3);
    h_signal(&srv, SIGHUP);
    cr_assert(H_WAIT(8000, all_new(3, old, 2)),
              "after HUP with workers = 3 there are %d workers%s",
              h_nworkers(&srv), h_diag(&srv));
    cr_assert_eq(h_echo_once(LO, port, 3000), 0);
    h_sleep_ms(1500);
    cr_assert_eq(h_nworkers(&srv), 3, "the pool did not stay at 3");
}

Test(signals, hup_drops_no_connection, .fini = h_teardown, .timeout = 30)
{
    int     port = tcp_port(), fd, failures = 0, trips = 0;
    char    listen[64], buf[4];
    pid_t   old[2];
    int64_t t0;

    snprintf(listen, sizeof listen, "%s:%d", LO, port);
    start_echo(listen, 2);
    h_workers(&srv, old, 2);
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    cr_assert_eq(h_transfer(fd, "open", buf, 4, 3000), 0);
    config_echo(listen, 3);
    h_signal(&srv, SIGHUP);
    /* While the pools change hands, new and open connections are served. */
    t0 = h_now_ms();
    while (h_now_ms() - t0 < 2000) {
        trips++;
        failures += h_echo_once(LO, port, 3000) != 0;
        cr_assert_eq(h_transfer(fd, "open", buf, 4, 3000), 0,
                     "the connection open across HUP broke after %lld ms",
                     (long long)(h_now_ms() - t0));
        h_sleep_ms(50);
    }
    cr_expect_eq(failures, 0, "%d of %d clients failed during a reload",
                 failures, trips);
    close(fd);
    /* Its worker, retired by the reload, leaves once it is done. */
    cr_assert(H_WAIT(5000, all_new(3, old, 2)),
              "old workers still running after their last client left: "
              "%d workers",
              h_nworkers(&srv));
}

Test(signals, hup_adds_and_removes_listeners, .fini = h_teardown, .timeout = 30)
{
    int  a = tcp_port(), b = tcp_port();
    char one[64], two[128];

    snprintf(one, sizeof one, "%s:%d", LO, a);
    snprintf(two, sizeof two, "%s:%d, %s:%d", LO, a, LO, b);
    start_echo(one, 2);
    cr_assert(refused(b));

    config_echo(two, 2);
    h_signal(&srv, SIGHUP);
    cr_assert(H_WAIT(8000, h_echo_once(LO, b, 1000) == 0),
              "the listener added by HUP does not answer%s", h_diag(&srv));
    cr_assert_eq(h_echo_once(LO, a, 3000), 0);

    config_echo(one, 2);
    h_signal(&srv, SIGHUP);
    cr_assert(H_WAIT(8000, refused(b)),
              "the listener removed by HUP still accepts%s", h_diag(&srv));
    cr_assert_eq(h_echo_once(LO, a, 3000), 0,
                 "the listener kept by HUP stopped answering");
}

Test(signals, hup_with_broken_config_keeps_serving, .fini = h_teardown,
     .timeout = 30)
{
    int   port = tcp_port();
    char  listen[64];
    pid_t old[2], now[2];

    snprintf(listen, sizeof listen, "%s:%d", LO, port);
    start_echo(listen, 2);
    h_workers(&srv, old, 2);
    cr_assert_eq(h_config(&srv,
                          "workers = many\n[echo]\nmodule = echo\n"
                          "listen = %s\nbogus_key = 1\n",
                          listen),
                 0);
    h_signal(&srv, SIGHUP);
    cr_assert(H_WAIT(5000, h_file_contains(srv.log, "reload failed")),
              "no \"reload failed\" in the log%s", h_diag(&srv));
    cr_assert(h_alive(&srv), "the master exited on a bad reload%s",
              h_diag(&srv));
    cr_assert_eq(h_echo_once(LO, port, 3000), 0,
                 "not serving after a failed reload");
    cr_assert_eq(h_workers(&srv, now, 2), 2);
    for (int i = 0; i < 2; i++)
        cr_assert(now[i] == old[0] || now[i] == old[1],
                  "worker %d was replaced by a failed reload", (int)now[i]);
}

Test(signals, quit_lets_open_connection_finish, .fini = h_teardown,
     .timeout = 40)
{
    int  port = tcp_port(), fd, code;
    char listen[64], buf[6];

    snprintf(listen, sizeof listen, "%s:%d", LO, port);
    start_echo(listen, 2);
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    cr_assert_eq(h_transfer(fd, "hello", buf, 5, 3000), 0);
    h_signal(&srv, SIGQUIT);
    /* Stop accepting at once ... */
    cr_expect(H_WAIT(5000, refused(port)),
              "still accepting new connections 5s after QUIT");
    /* ... but the conversation under way goes on. */
    for (int i = 0; i < 4; i++) {
        h_sleep_ms(500);
        cr_assert_eq(h_transfer(fd, "again", buf, 5, 3000), 0,
                     "the open connection broke %d ms after QUIT",
                     (i + 1) * 500);
        cr_assert_eq(memcmp(buf, "again", 5), 0);
        cr_assert(h_alive(&srv), "the master left with a connection open");
    }
    close(fd);
    code = h_wait_exit(&srv, 5000);
    cr_assert_eq(code, 0,
                 "after QUIT and the last client leaving, the "
                 "master %s (code %d)%s",
                 code < 0 ? "did not exit" : "exited", code, h_diag(&srv));
    cr_expect(!h_group_alive(&srv), "workers outlived the master");
}

/* TERM and INT: fast shutdown, even with a client connected. */
static void check_fast_shutdown(int sig)
{
    int     port = tcp_port(), fd, code;
    char    listen[64], buf[2];
    int64_t t0;

    snprintf(listen, sizeof listen, "%s:%d", LO, port);
    start_echo(listen, 2);
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    cr_assert_eq(h_transfer(fd, "hi", buf, 2, 3000), 0);
    t0 = h_now_ms();
    h_signal(&srv, sig);
    code = h_wait_exit(&srv, 3000);
    cr_assert_eq(code, 0, "%s: the master %s (code %d) after %lld ms",
                 strsignal(sig), code < 0 ? "did not exit" : "exited", code,
                 (long long)(h_now_ms() - t0));
    cr_expect(H_WAIT(2000, !h_group_alive(&srv)),
              "workers outlived the master");
    cr_expect_eq(h_wait_closed(fd, 2000), 0,
                 "the open connection was not closed");
    cr_expect(access(srv.pidfile, F_OK) != 0, "the pidfile was left behind");
    close(fd);
}

Test(signals, term_exits_promptly, .fini = h_teardown, .timeout = 30)
{
    check_fast_shutdown(SIGTERM);
}

Test(signals, int_exits_promptly, .fini = h_teardown, .timeout = 30)
{
    check_fast_shutdown(SIGINT);
}

Test(signals, usr1_reopens_the_log, .fini = h_teardown, .timeout = 30)
{
    char  listen[64], old_log[160];
    pid_t w[2];

    snprintf(listen, sizeof listen, "%s:%d", LO, tcp_port());
    start_echo(listen, 2);
    snprintf(old_log, sizeof old_log, "%s.1", srv.log);
    cr_assert(H_WAIT(3000, access(srv.log, F_OK) == 0), "no log file");
    cr_assert_eq(rename(srv.log, old_log), 0);
    h_signal(&srv, SIGUSR1);
    cr_assert(H_WAIT(3000, access(srv.log, F_OK) == 0),
              "USR1 did not create a new log file");
    /* Something worth logging: a worker killed. */
    h_workers(&srv, w, 2);
    kill(w[0], SIGKILL);
    cr_assert(H_WAIT(3000, h_file_contains(srv.log, "exited on signal 9")),
              "the worker's death was not logged in the new file");
    cr_expect(!h_file_contains(old_log, "exited on signal 9"),
              "the rotated file is still written to");
}

/* --- the -s flag and the pidfile ---------------------------------------- */

static int run_s(const char *sig)
{
    const char     *argv[] = {H_PREFORK, "-c", srv.conf, "-s", sig, NULL};
    struct h_result r;
    int             code = h_run(argv, 5000, &r);

    cr_expect_eq(code, 0, "prefork -s %s exited %d: %s", sig, code, r.err);
    h_result_free(&r);
    return code;
}

Test(signals, dash_s_reload_and_stop, .fini = h_teardown, .timeout = 30)
{
    char listen[64];
    int  code;

    snprintf(listen, sizeof listen, "%s:%d", LO, tcp_port());
    start_echo(listen, 2);
    config_echo(listen, 3);
    cr_assert_eq(run_s("reload"), 0);
    cr_assert(H_WAIT(8000, h_nworkers(&srv) == 3),
              "-s reload: %d workers, not 3", h_nworkers(&srv));
    cr_assert_eq(run_s("stop"), 0);
    code = h_wait_exit(&srv, 5000);
    cr_assert_eq(code, 0, "-s stop: the master %s (code %d)",
                 code < 0 ? "did not exit" : "exited", code);
}

Test(signals, second_master_on_same_pidfile_refused, .fini = h_teardown,
     .timeout = 30)
{
    int             a = tcp_port(), b = tcp_port(), code;
    char            listen[64], conf2[160];
    const char     *argv[] = {H_PREFORK, "-f", "-c", conf2, NULL};
    struct h_result r;

    snprintf(listen, sizeof listen, "%s:%d", LO, a);
    start_echo(listen, 1);
    /* Another config, another port, the same pidfile, errors to stderr. */
    snprintf(conf2, sizeof conf2, "%s/second.ini", srv.dir);
    cr_assert_eq(h_write_file(conf2,
                              "[server]\npidfile = %s\nmodule_path = %s\n"
                              "[echo]\nmodule = echo\nlisten = %s:%d\n"
                              "workers = 1\n",
                              srv.pidfile, H_MODDIR, LO, b),
                 0);
    code = h_run(argv, 5000, &r);
    cr_assert_eq(code, 1, "the second master exited %d\nstderr: %s", code,
                 r.err);
    cr_assert(strstr(r.err, srv.pidfile) != NULL,
              "the refusal does not name the pidfile %s: %s", srv.pidfile,
              r.err);
    h_result_free(&r);
    cr_assert(h_alive(&srv), "the first master is gone");
    cr_assert_eq(h_echo_once(LO, a, 3000), 0,
                 "the first master stopped serving");
    cr_assert(refused(b), "the second master left a listener behind");
}

/* A silent connection to port: closed by the server within ms? */
static int closed_when_idle(int port, int ms)
{
    int fd = h_connect(LO, port, 2000), r;

    cr_assert(fd >= 0, "connect: %s", strerror(errno));
    r = h_wait_closed(fd, ms) == 0;
    close(fd);
    return r;
}

Test(signals, hup_applies_a_changed_module_key, .fini = h_teardown,
     .timeout = 30)
{
    int   port = tcp_port();
    pid_t old;

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv,
             "[echo]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n"
             "idle_timeout = 60s\n",
             LO, port);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    cr_assert(!closed_when_idle(port, 1500),
              "closed before the configured 60s idle_timeout");
    cr_assert_eq(h_workers(&srv, &old, 1), 1);
    h_config(&srv,
             "[echo]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n"
             "idle_timeout = 300ms\n",
             LO, port);
    h_signal(&srv, SIGHUP);
    cr_assert(H_WAIT(5000, h_file_contains(srv.log, "configuration reloaded")),
              "no reload%s", h_diag(&srv));
    /* Until it has drained, the old worker may still take a connection,
     * and it keeps the old idle_timeout for it. */
    cr_assert(H_WAIT(5000, kill(old, 0) == -1), "the old worker did not exit");
    cr_assert(closed_when_idle(port, 3000),
              "idle_timeout = 300ms from the reload was not applied%s",
              h_diag(&srv));
}

/* error_log = syslog: lines go to /dev/log.  Runs only where no syslog
 * daemon owns /dev/log, so the test can stand in for one. */
Test(signals, error_log_to_syslog, .fini = h_teardown, .timeout = 20)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "/dev/log"};
    char               buf[2048];
    int                fd, port = tcp_port(), found = 0;
    int64_t            t0;
    ssize_t            n;

    if (geteuid() != 0 || access("/dev/log", F_OK) == 0)
        cr_skip_test("needs root and no syslog daemon on /dev/log");
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0, "bind: %s",
                 strerror(errno));
    cr_assert_eq(h_init(&srv), 0);
    h_write_file(srv.conf,
                 "[server]\npidfile = %s\nerror_log = syslog\n"
                 "module_path = %s\n[echo]\nmodule = echo\n"
                 "listen = %s:%d\nworkers = 1\n",
                 srv.pidfile, H_MODDIR, LO, port);
    if (h_start(&srv) != 0) {
        unlink("/dev/log");
        cr_assert_fail("prefork did not start%s", h_diag(&srv));
    }
    t0 = h_now_ms();
    while (!found && h_now_ms() - t0 < 5000) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 500) != 1)
            continue;
        n = recv(fd, buf, sizeof buf - 1, 0);
        if (n <= 0)
            break;
        buf[n] = '\0';
        found = strstr(buf, "prefork") != NULL && strstr(buf, "started");
    }
    unlink("/dev/log");
    close(fd);
    cr_assert(found, "no 'started' line reached /dev/log");
}
