/*
 * test_tls_resume.c -- TLS sessions that survive everything: a client
 * keeps its session (`openssl s_client -sess_out`) and comes back with it
 * (`-sess_in`), and must be "Reused" on any of 4 workers, after a reload,
 * after a canary roll-over, after a binary upgrade, and on another host
 * that shares tls_ticket_key_file; a bad key file is a FILE:LINE error
 * for -t.
 *
 * The certificates are made by scripts/make-test-cert in each test's
 * directory.  The test process is a child subreaper, so that a new master
 * (the old one's child) is reparented to it and can be reaped.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define MAKE_CERT PF_SRCDIR "/scripts/make-test-cert"
#define CMD_MS    30000

static struct h_server srv;
static char            certs[128], www[128];
static int             port;

/* The directory, a CA and an ECDSA certificate for localhost, a page. */
static void setup(void)
{
    struct h_result r;
    char            path[192];

    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    snprintf(certs, sizeof certs, "%s/certs", srv.dir);
    snprintf(www, sizeof www, "%s/www", srv.dir);
    cr_assert_eq(h_sh(&r, CMD_MS, "%s %s", MAKE_CERT, certs), 0,
                 "make-test-cert: %s", r.err);
    h_result_free(&r);
    cr_assert_eq(mkdir(www, 0755), 0);
    snprintf(path, sizeof path, "%s/index.html", www);
    cr_assert_eq(h_write_file(path, "<h1>resumed</h1>\n"), 0);
    port = h_free_port("127.0.0.1", SOCK_STREAM);
    cr_assert(port > 0);
}

TestSuite(resume, .init = setup, .fini = h_teardown, .timeout = 120);

/* The config of s: [server] keys `server`, then an https service on p
 * with `workers` workers and more keys. */
static void config(struct h_server *s, const char *server, int p, int workers,
                   const char *more)
{
    cr_assert_eq(h_config(s,
                          "%s[https]\nmodule = http\nlisten = 127.0.0.1:%d\n"
                          "workers = %d\nroot = %s\n"
                          "tls_certificate = %s/ecdsa.pem\n"
                          "tls_key = %s/ecdsa.key\n%s",
                          server, p, workers, www, certs, certs, more),
                 0);
}

static void start(struct h_server *s)
{
    cr_assert_eq(h_start(s), 0, "prefork did not start%s", h_diag(s));
}

/*
 * One HTTP/1.0 request with openssl s_client (version "-tls1_2" or
 * "-tls1_3") to port p, offering the session in file `in` (NULL: none)
 * and keeping the one it ends with in `out`.  Returns 1 when the session
 * was resumed ("Reused"), 0 when it was new.
 */
static int s_client(int p, const char *version, const char *in, const char *out)
{
    struct h_result r;
    char            sess_in[256] = "";
    int             reused;

    if (in != NULL)
        snprintf(sess_in, sizeof sess_in, "-sess_in %s/%s", srv.dir, in);
    cr_assert_eq(h_sh(&r, CMD_MS,
                      "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | openssl s_client "
                      "-connect 127.0.0.1:%d -servername localhost -CAfile "
                      "%s/ca.pem -verify_return_error -ign_eof %s %s "
                      "-sess_out %s/%s",
                      p, certs, version, sess_in, srv.dir, out),
                 0, "s_client: %s%s", r.out, h_diag(&srv));
    cr_assert(strstr(r.out, "resumed</h1>") != NULL, "no page: %s", r.out);
    reused = strstr(r.out, "\nReused, TLSv1.") != NULL;
    cr_assert(reused || strstr(r.out, "\nNew, TLSv1.") != NULL,
              "neither New nor Reused: %s", r.out);
    h_result_free(&r);
    return reused;
}

/* A first session from port p, kept in file name. */
static void first_session(int p, const char *version, const char *name)
{
    cr_assert_not(s_client(p, version, NULL, name), "a new client resumed");
}

/* How many workers of `prefork -s status` have served a connection. */
static int workers_served(void)
{
    const char     *argv[] = {H_PREFORK, "-s", "status", "-c", srv.conf, NULL};
    struct h_result r;
    const char     *p;
    int             n = 0;

    cr_assert_eq(h_run(argv, 5000, &r), 0, "-s status: %s", r.err);
    for (p = r.out; (p = strstr(p, "{\"pid\":")) != NULL; p++) {
        const char *served = strstr(p, "\"served\":");
        if (served != NULL && atol(served + 9) > 0)
            n++;
    }
    h_result_free(&r);
    return n;
}

/* reuseport spreads the connections over the 4 workers' own sockets (by
 * the client's port), so they do not all go to one worker. */
static void any_worker(const char *version)
{
    int i;

    config(&srv, "", port, 4, "reuseport = yes\n");
    start(&srv);
    first_session(port, version, "s0");
    for (i = 0; i < 12; i++)
        cr_assert(s_client(port, version, "s0", "s1"),
                  "connection %d was not resumed", i);
    cr_assert_geq(workers_served(), 2, "one worker served everything");
}

Test(resume, tls13_on_any_of_four_workers)
{
    any_worker("-tls1_3");
}

Test(resume, tls12_on_any_of_four_workers)
{
    any_worker("-tls1_2");
}

/* The service's workers are all of the generation after `before`. */
/* A client keeps the session each connection ends with, as browsers
 * do: a resumed connection gives it a new ticket, which resumes in turn
 * (TLS 1.3 clients use a ticket once; a TLS 1.2 client offers the same
 * ticket again, as tls12_on_any_of_four_workers does). */
static void chain(const char *version)
{
    char in[8], out[8];

    config(&srv, "", port, 1, "");
    start(&srv);
    first_session(port, version, "c0");
    for (int i = 1; i <= 4; i++) {
        snprintf(in, sizeof in, "c%d", i - 1);
        snprintf(out, sizeof out, "c%d", i);
        cr_assert(s_client(port, version, in, out),
                  "the session of resumed connection %d did not resume", i);
    }
}

Test(resume, tls13_a_resumed_session_resumes_again)
{
    chain("-tls1_3");
}

static int replaced(const pid_t *before, int n)
{
    pid_t now[16];
    int   m = h_workers(&srv, now, 16), i, j;

    if (m != n || h_slots(&srv, "https", H_ACCEPTING) != n)
        return 0;
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++)
            if (now[i] == before[j])
                return 0;
    return 1;
}

static void reload_and_resume(const char *server, const char *version)
{
    pid_t before[16];
    int   n;

    config(&srv, server, port, 2, "");
    start(&srv);
    cr_assert(H_WAIT(5000, h_slots(&srv, "https", H_ACCEPTING) == 2));
    first_session(port, version, "s0");
    n = h_workers(&srv, before, 16);
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(20000, replaced(before, n)),
              "the workers were not replaced%s", h_diag(&srv));
    cr_assert(s_client(port, version, "s0", "s1"),
              "not resumed after the reload%s", h_diag(&srv));
}

Test(resume, tls13_after_a_reload)
{
    reload_and_resume("", "-tls1_3");
}

Test(resume, tls12_after_a_reload)
{
    reload_and_resume("", "-tls1_2");
}

Test(resume, after_a_canary_roll_over)
{
    reload_and_resume("reload_canary = 1s\n", "-tls1_3");
    cr_assert(h_file_contains(srv.log, "on trial (reload_canary)"));
}

/* The pid in path, or 0. */
static pid_t read_pid(const char *path)
{
    char *s = h_read_file(path);
    pid_t pid = s != NULL ? (pid_t)atol(s) : 0;

    free(s);
    return pid;
}

Test(resume, after_a_binary_upgrade)
{
    struct h_server view;
    struct stat     st;
    char            oldbin[160];
    pid_t           old, pid = 0;
    int             status;

    config(&srv, "", port, 2, "");
    start(&srv);
    first_session(port, "-tls1_3", "s0");
    old = srv.pid;
    snprintf(oldbin, sizeof oldbin, "%s.oldbin", srv.pidfile);
    cr_assert_eq(h_signal(&srv, SIGUSR2), 0);
    cr_assert(H_WAIT(15000, (pid = read_pid(srv.pidfile)) > 0 && pid != old &&
                                stat(oldbin, &st) == -1),
              "no new master in the pidfile%s", h_diag(&srv));
    cr_assert_eq(h_wait_exit(&srv, 15000), 0, "the old master did not quit%s",
                 h_diag(&srv));
    view = srv;
    view.pid = pid;
    cr_assert(H_WAIT(5000, h_slots(&view, "https", H_ACCEPTING) == 2));
    cr_assert(s_client(port, "-tls1_3", "s0", "s1"),
              "not resumed after the upgrade%s", h_diag(&srv));
    cr_assert(h_file_contains(srv.log, "taken from the old master"));
    cr_assert_eq(kill(pid, SIGTERM), 0);
    cr_assert(H_WAIT(H_STOP_MS, waitpid(pid, &status, WNOHANG) == pid),
              "the new master did not stop");
}

/* Two hosts behind one balancer: a session from one resumes on the other
 * when both read the same key file, and not otherwise. */
Test(resume, a_key_file_shares_sessions_between_hosts)
{
    struct h_server other, alone;
    struct h_result r;
    char            server[256];
    int             port2, port3;

    cr_assert_eq(h_sh(&r, CMD_MS, "openssl rand 80 > %s/ticket.key", srv.dir),
                 0);
    h_result_free(&r);
    snprintf(server, sizeof server, "tls_ticket_key_file = %s/ticket.key\n",
             srv.dir);
    cr_assert_eq(h_init(&other), 0);
    cr_assert_eq(h_init(&alone), 0);
    port2 = h_free_port("127.0.0.1", SOCK_STREAM);
    port3 = h_free_port("127.0.0.1", SOCK_STREAM);
    config(&srv, server, port, 1, "");
    config(&other, server, port2, 1, "");
    config(&alone, "", port3, 1, "");
    start(&srv);
    start(&other);
    start(&alone);
    first_session(port, "-tls1_3", "s0");
    cr_assert(s_client(port2, "-tls1_3", "s0", "s1"),
              "the other host did not resume%s", h_diag(&other));
    cr_assert_not(s_client(port3, "-tls1_3", "s0", "s2"),
                  "a host with keys of its own resumed");
}

Test(resume, check_names_a_bad_key_file_with_its_line)
{
    const char     *argv[] = {H_PREFORK, "-t", "-c", srv.conf, NULL};
    struct h_result r;
    char            server[256], want[512];

    snprintf(server, sizeof server, "tls_ticket_key_file = short.key\n");
    config(&srv, server, port, 1, "");
    cr_assert_eq(
        h_sh(&r, CMD_MS, "head -c 47 /dev/urandom > %s/short.key", srv.dir), 0);
    h_result_free(&r);
    cr_assert_eq(h_run(argv, 5000, &r), 1, "-t accepted it: %s", r.out);
    snprintf(want, sizeof want,
             "%s:6: [server] tls_ticket_key_file: %s/short.key: 47 bytes; a "
             "ticket key file holds 48 or 80",
             srv.conf, srv.dir);
    cr_assert(strstr(r.out, want) != NULL || strstr(r.err, want) != NULL,
              "'%s' not in: %s%s", want, r.out, r.err);
    h_result_free(&r);
}
