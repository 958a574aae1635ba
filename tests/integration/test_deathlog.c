/*
 * test_deathlog.c -- every abnormal worker exit leaves exactly one JSON
 * record (death_log, or the error log at warn), with how it died and the
 * client it was serving; a worker retired by the master leaves none.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define LO "127.0.0.1"

static struct h_server srv;
static char            deaths[160];

static int tcp_port(void)
{
    int port = h_free_port(LO, SOCK_STREAM);

    cr_assert(port > 0, "no free port");
    return port;
}

/* Start one testmod worker on port with extra [t] keys; death_log on.
 * env, when not NULL, is one more "NAME=value" for the master. */
static pid_t start_one(int port, const char *keys, const char *env)
{
    pid_t pid = 0;

    cr_assert_eq(h_init(&srv), 0);
    srv.env[0] = env;
    snprintf(deaths, sizeof(deaths), "%s/deaths.log", srv.dir);
    h_config(&srv,
             "death_log = %s\nworker_timeout = 1s\n"
             "[t]\nmodule = %s\nlisten = %s:%d\nworkers = 1\n%s",
             deaths, H_TESTMOD, LO, port, keys);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    cr_assert(H_WAIT(5000, h_workers(&srv, &pid, 1) == 1));
    return pid;
}

/* For a test that kills a worker with SIGSEGV: a sanitizer build would
 * catch the signal, report it and exit 1 instead of dying by it. */
#define NO_ASAN_SEGV "ASAN_OPTIONS=handle_segv=0"

static int count_lines(const char *path)
{
    char *text = h_read_file(path);
    int   n = 0;

    if (text == NULL)
        return 0;
    for (char *p = text; *p != '\0'; p++)
        n += *p == '\n';
    free(text);
    return n;
}

/* The one record in deaths, once it is there. */
static char *the_record(void)
{
    char *text;

    cr_assert(H_WAIT(5000, count_lines(deaths) >= 1), "no death record%s",
              h_diag(&srv));
    h_sleep_ms(300); /* a second record would be written by now */
    cr_assert_eq(count_lines(deaths), 1, "not exactly one record: %s",
                 h_read_file(deaths));
    text = h_read_file(deaths);
    cr_assert_not_null(text);
    return text;
}

static void expect_field(const char *rec, const char *field)
{
    cr_expect(strstr(rec, field) != NULL, "%s not in %s", field, rec);
}

/* Connect, send a line and return the client's own "ADDR:PORT". */
static int poke(int port, char *me, size_t len)
{
    struct sockaddr_in sin;
    socklen_t          sl = sizeof(sin);
    int                fd = h_connect(LO, port, 3000);

    cr_assert(fd >= 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    snprintf(me, len, "\"peer\":\"127.0.0.1:%u\"", ntohs(sin.sin_port));
    cr_assert_eq(h_send_all(fd, "x\n", 2, 1000), 0);
    return fd;
}

Test(deathlog, a_segv_of_an_idle_worker_is_one_record, .fini = h_teardown,
     .timeout = 30)
{
    char  pidf[32], *rec;
    pid_t pid = start_one(tcp_port(), "", NO_ASAN_SEGV);

    /* Let the worker come out of fork(): under valgrind a SIGSEGV that
     * lands inside it stays queued until the worker's next signal. */
    h_sleep_ms(500);
    cr_assert_eq(kill(pid, SIGSEGV), 0);
    rec = the_record();
    snprintf(pidf, sizeof(pidf), "\"pid\":%d,", (int)pid);
    expect_field(rec, pidf);
    expect_field(rec, "\"service\":\"t\"");
    expect_field(rec, "\"reason\":\"signal\"");
    expect_field(rec, "\"signal\":11,\"signal_name\":\"SEGV\"");
    expect_field(rec, "\"served\":0");
    expect_field(rec, "\"peer\":null");
    expect_field(rec, "\"time\":\"20");
    free(rec);
}

Test(deathlog, an_aborting_module_is_recorded_with_its_client,
     .fini = h_teardown, .timeout = 30)
{
    char me[64], *rec;
    int  port = tcp_port(), fd;

    start_one(port, "abort = yes\n", NULL);
    fd = poke(port, me, sizeof(me));
    cr_expect_eq(h_wait_closed(fd, 5000), 0);
    close(fd);
    rec = the_record();
    expect_field(rec, "\"reason\":\"signal\"");
    expect_field(rec, "\"signal\":6,\"signal_name\":\"ABRT\"");
    expect_field(rec, "\"served\":1");
    expect_field(rec, me);
    free(rec);
}

Test(deathlog, a_worker_timeout_kill_is_recorded_as_such, .fini = h_teardown,
     .timeout = 30)
{
    char me[64], *rec;
    int  port = tcp_port(), fd;

    start_one(port, "sleep = 10s\n", NULL);
    fd = poke(port, me, sizeof(me));
    rec = the_record();
    close(fd);
    expect_field(rec, "\"reason\":\"worker_timeout\"");
    expect_field(rec, "\"signal\":9,");
    expect_field(rec, me);
    free(rec);
}

/* Without death_log the record is a warning in the error log; workers
 * the master retires (a reload) leave none. */
Test(deathlog, without_death_log_it_is_a_warning_and_retiring_is_not_a_death,
     .fini = h_teardown, .timeout = 30)
{
    int   port = tcp_port();
    pid_t old = 0, now = 0;

    cr_assert_eq(h_init(&srv), 0);
    srv.env[0] = NO_ASAN_SEGV;
    h_config(&srv, "[t]\nmodule = %s\nlisten = %s:%d\nworkers = 1\n", H_TESTMOD,
             LO, port);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    cr_assert(H_WAIT(5000, h_workers(&srv, &old, 1) == 1));
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(5000, h_workers(&srv, &now, 1) == 1 && now != old &&
                               h_nworkers(&srv) == 1),
              "the reload did not replace the worker%s", h_diag(&srv));
    h_sleep_ms(300);
    cr_assert(!h_file_contains(srv.log, "worker death"),
              "a retired worker was recorded as a death%s", h_diag(&srv));
    cr_assert_eq(kill(now, SIGSEGV), 0);
    cr_assert(
        H_WAIT(5000, h_file_contains(srv.log, "[warn] ") &&
                         h_file_contains(srv.log, "worker death: {\"time\":")),
        "no warning with the record%s", h_diag(&srv));
}

/* max_worker_memory: a worker that leaks past the cap is recycled, one
 * record says why, and not one request fails meanwhile. */
Test(deathlog, a_worker_past_max_worker_memory_is_recycled, .fini = h_teardown,
     .timeout = 60)
{
    char  pidf[32], *rec;
    int   port = tcp_port(), failed = 0, n;
    pid_t first = start_one(port, "leak = 2m\nmax_worker_memory = 24m\n", NULL),
          now = first;

    for (n = 0; n < 200 && now == first; n++) {
        int  fd = h_connect(LO, port, 3000);
        char line[16];

        if (fd < 0 || h_send_all(fd, "x\n", 2, 2000) != 0 ||
            h_recv_line(fd, line, sizeof line, 3000) < 0 ||
            strcmp(line, "x") != 0)
            failed++;
        if (fd >= 0)
            close(fd);
        h_sleep_ms(50);
        if (h_workers(&srv, &now, 1) != 1)
            now = first;
    }
    cr_assert_neq(now, first, "not recycled after %d requests of 2 MiB%s", n,
                  h_diag(&srv));
    cr_expect_eq(failed, 0, "%d of %d requests failed", failed, n);
    cr_expect_gt(n, 5, "recycled before it grew: after %d requests", n);
    rec = the_record();
    snprintf(pidf, sizeof(pidf), "\"pid\":%d,", (int)first);
    expect_field(rec, pidf);
    expect_field(rec, "\"reason\":\"max_worker_memory\"");
    free(rec);
    cr_expect(h_file_contains(srv.log, "max_worker_memory"), "%s",
              h_diag(&srv));
}

/* An http worker's record names the request it was on, and `-s status`
 * shows the record. */
Test(deathlog, the_http_request_line_is_in_the_record_and_in_status,
     .fini = h_teardown, .timeout = 30)
{
    const char      req[] = "GET /not/here?q=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    const char     *argv[] = {H_PREFORK, "-s", "status", "-c", NULL, NULL};
    struct h_result r;
    char            path[300], line[128], *rec;
    int             port = tcp_port(), fd;
    pid_t           pid = 0;

    cr_assert_eq(h_init(&srv), 0);
    snprintf(deaths, sizeof(deaths), "%s/deaths.log", srv.dir);
    snprintf(path, sizeof(path), "%s/www", srv.dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    h_config(&srv,
             "death_log = %s\n[web]\nmodule = http\nlisten = %s:%d\n"
             "root = www\nworkers = 1\n",
             deaths, LO, port);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    cr_assert(H_WAIT(5000, h_workers(&srv, &pid, 1) == 1));
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    cr_assert_eq(h_send_all(fd, req, sizeof req - 1, 2000), 0);
    cr_assert_geq(h_recv_line(fd, line, sizeof line, 3000), 0);
    /* SIGABRT, not SIGSEGV: under valgrind a SIGSEGV sent to a worker
     * blocked in epoll_wait can wait there for good. */
    cr_assert_eq(kill(pid, SIGABRT), 0);
    rec = the_record();
    close(fd);
    expect_field(rec, "\"request\":\"GET /not/here?q=1 HTTP/1.1\"");
    free(rec);
    argv[4] = srv.conf;
    cr_assert_eq(h_run(argv, 5000, &r), 0, "status: %s", r.err);
    cr_expect(strstr(r.out, "\"deaths\":[{") != NULL &&
                  strstr(r.out, "\"request\":\"GET /not/here?q=1 HTTP/1.1\"") !=
                      NULL,
              "no death in -s status: %s", r.out);
    h_result_free(&r);
}
