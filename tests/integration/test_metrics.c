/*
 * test_metrics.c -- the `status` module and `prefork -s top` against the
 * real binary: what a scraper gets (both formats, the JSON, 404, 405,
 * 403, HEAD), that requests are counted and timed as they are served
 * (http by response and status class, echo by handle() call), that deaths,
 * respawns, reloads and listen queues reach the metrics, that a silent
 * scraper does not hold the status worker, and one frame of `-s top`.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define LO         "127.0.0.1"
#define ANSWER_MAX (1 << 20)

static struct h_server srv;
static int             web_port, echo_port, status_port;

static int tcp_port(void)
{
    int port = h_free_port(LO, SOCK_STREAM);

    cr_assert(port > 0, "no free port");
    return port;
}

/* A server with an http service, an echo service and a status service
 * whose allow list is `allow`. */
static void start(const char *allow)
{
    cr_assert_eq(h_init(&srv), 0);
    web_port = tcp_port();
    echo_port = tcp_port();
    status_port = tcp_port();
    cr_assert_eq(h_config(&srv,
                          "workers = 2\n"
                          "[web]\nmodule = http\nlisten = " LO ":%d\n"
                          "root = %s/www\n"
                          "[echo]\nmodule = echo\nlisten = " LO ":%d\n"
                          "[status]\nmodule = status\nworkers = 1\n"
                          "listen = " LO ":%d\nallow = %s\n"
                          "send_timeout = 1s\n",
                          web_port, PF_SRCDIR, echo_port, status_port, allow),
                 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
}

static void stop(void)
{
    h_stop(&srv);
    h_cleanup(&srv);
}

/* Send req to port and read the whole answer (the server closes), or
 * NULL. */
static char *fetch(int port, const char *req)
{
    char   *buf = calloc(1, ANSWER_MAX + 1);
    ssize_t n;
    int     fd = h_connect(LO, port, 2000);

    cr_assert_geq(fd, 0, "connect to %d", port);
    cr_assert_eq(h_send_all(fd, req, strlen(req), 2000), 0);
    n = h_recv_exact(fd, buf, ANSWER_MAX, 5000);
    close(fd);
    if (n <= 0) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static char *scrape(const char *accept)
{
    char req[256];

    snprintf(req, sizeof(req), "GET /metrics HTTP/1.1\r\nHost: x\r\n%s%s%s\r\n",
             accept != NULL ? "Accept: " : "", accept != NULL ? accept : "",
             accept != NULL ? "\r\n" : "");
    return fetch(status_port, req);
}

/* The value of the sample whose line starts with `series ` (name and
 * labels exactly), or -1 when there is none. */
static double sample(const char *text, const char *series)
{
    size_t      n = strlen(series);
    const char *p = text;

    while ((p = strstr(p, series)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p += n;
    }
    return -1;
}

static double metric(const char *series)
{
    char  *text = scrape(NULL);
    double v;

    cr_assert_not_null(text, "no answer from the status service");
    v = sample(text, series);
    free(text);
    return v;
}

/* n plain GETs on one keep-alive connection, each answered 200. */
static void http_gets(int n)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    char              buf[65536];
    int               fd = h_connect(LO, web_port, 2000);

    cr_assert_geq(fd, 0);
    for (int i = 0; i < n; i++) {
        ssize_t got = 0, r;

        cr_assert_eq(h_send_all(fd, req, sizeof(req) - 1, 2000), 0);
        /* Enough of the answer to know it came: its status line. */
        while (got < 12 &&
               (r = h_recv_exact(fd, buf + got, 12 - (size_t)got, 2000)) > 0)
            got += r;
        cr_assert_eq(strncmp(buf, "HTTP/1.1 200", 12), 0);
        /* The rest of it (index.html is small). */
        h_sleep_ms(5);
        while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
            ;
    }
    close(fd);
}

TestSuite(metrics, .fini = h_teardown, .timeout = 60);

Test(metrics, prometheus_text_by_default_openmetrics_when_asked)
{
    char *prom, *om;

    start("127.0.0.0/8, ::1");
    prom = scrape(NULL);
    cr_assert_not_null(prom);
    cr_assert_eq(strncmp(prom, "HTTP/1.1 200 OK\r\n", 17), 0, "%.200s", prom);
    cr_assert_not_null(strstr(
        prom, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    cr_assert_not_null(strstr(prom, "\r\n\r\n# HELP prefork_build_info "),
                       "%.400s", prom);
    cr_assert_null(strstr(prom, "# EOF"));
    om = scrape("application/openmetrics-text;version=1.0.0,text/plain;"
                "version=0.0.4;q=0.5,*/*;q=0.1");
    cr_assert_not_null(om);
    cr_assert_not_null(strstr(om, "Content-Type: application/openmetrics-text; "
                                  "version=1.0.0; charset=utf-8\r\n"));
    cr_assert(strlen(om) > 6 && strcmp(om + strlen(om) - 6, "# EOF\n") == 0);
    cr_assert_not_null(strstr(om, "# TYPE prefork_requests counter\n"));
    free(prom);
    free(om);
    stop();
}

Test(metrics, status_json_not_found_wrong_method_and_head)
{
    char *a;

    start("127.0.0.1");
    a = fetch(status_port, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_not_null(a);
    cr_assert_not_null(strstr(a, "Content-Type: application/json\r\n"));
    cr_assert_not_null(strstr(a, "\r\n\r\n{\"master\":{\"pid\":"), "%s", a);
    free(a);
    a = fetch(status_port, "GET /nothing HTTP/1.1\r\n\r\n");
    cr_assert_eq(strncmp(a, "HTTP/1.1 404 ", 13), 0, "%s", a);
    free(a);
    a = fetch(status_port,
              "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    cr_assert_eq(strncmp(a, "HTTP/1.1 405 ", 13), 0, "%s", a);
    cr_assert_not_null(strstr(a, "\r\nAllow: GET, HEAD\r\n"));
    free(a);
    a = fetch(status_port, "HEAD /metrics HTTP/1.1\r\n\r\n");
    cr_assert_eq(strncmp(a, "HTTP/1.1 200 ", 13), 0, "%s", a);
    cr_assert(strlen(strstr(a, "\r\n\r\n")) == 4, "HEAD has no body: %s", a);
    free(a);
    stop();
}

Test(metrics, a_client_outside_allow_gets_403)
{
    char *a;

    start("10.0.0.0/8, 2001:db8::/32");
    a = fetch(status_port, "GET /metrics HTTP/1.1\r\n\r\n");
    cr_assert_not_null(a);
    cr_assert_eq(strncmp(a, "HTTP/1.1 403 ", 13), 0, "%s", a);
    cr_assert_null(strstr(a, "prefork_"));
    free(a);
    stop();
}

Test(metrics, http_responses_are_counted_by_class_and_timed)
{
    char  *text;
    double n;

    start("127.0.0.1");
    http_gets(20);
    free(fetch(web_port, "GET /no-such-file HTTP/1.1\r\nHost: x\r\n"
                         "Connection: close\r\n\r\n"));
    cr_assert(
        H_WAIT(3000, metric("prefork_requests_total{service=\"web\"}") == 21),
        "requests_total{web} = %g",
        metric("prefork_requests_total{service=\"web\"}"));
    text = scrape(NULL);
    cr_assert_eq(
        sample(text, "prefork_responses_total{service=\"web\",class=\"2xx\"}"),
        20);
    cr_assert_eq(
        sample(text, "prefork_responses_total{service=\"web\",class=\"4xx\"}"),
        1);
    cr_assert_eq(
        sample(text, "prefork_request_duration_seconds_count{service=\"web\"}"),
        21);
    n = sample(text, "prefork_request_duration_seconds_bucket{service=\"web\","
                     "le=\"10.0\"}");
    cr_assert_eq(n, 21, "every one under 10 s: %g", n);
    cr_assert_gt(sample(text, "prefork_request_duration_seconds_sum{service="
                              "\"web\"}"),
                 0);
    cr_assert_gt(sample(text, "prefork_received_bytes_total{service=\"web\"}"),
                 20 * 20);
    cr_assert_gt(sample(text, "prefork_sent_bytes_total{service=\"web\"}"),
                 20 * 100);
    cr_assert_eq(sample(text, "prefork_connections_accepted_total{service="
                              "\"web\"}"),
                 2);
    free(text);
    stop();
}

Test(metrics, echo_counts_each_handle_call)
{
    start("127.0.0.1");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(h_echo_once(LO, echo_port, 2000), 0);
    cr_assert(
        H_WAIT(3000, metric("prefork_requests_total{service=\"echo\"}") >= 3));
    cr_assert_geq(
        metric("prefork_request_duration_seconds_count{service=\"echo\"}"), 3);
    stop();
}

/* A connection served by a forked child or a thread has no slot of its
 * own: it counts into its acceptor's, so the forking and threading modes
 * show their requests as prefork mode does. */
Test(metrics, forking_and_threading_connections_are_counted)
{
    int fk_port, th_port;

    cr_assert_eq(h_init(&srv), 0);
    fk_port = tcp_port();
    th_port = tcp_port();
    status_port = tcp_port();
    cr_assert_eq(h_config(&srv,
                          "[fk]\nmodule = echo\nmode = forking\n"
                          "listen = " LO ":%d\n"
                          "[th]\nmodule = echo\nmode = threading\n"
                          "listen = " LO ":%d\n"
                          "[status]\nmodule = status\nworkers = 1\n"
                          "listen = " LO ":%d\nallow = 127.0.0.1\n",
                          fk_port, th_port, status_port),
                 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(h_echo_once(LO, fk_port, 2000), 0);
        cr_assert_eq(h_echo_once(LO, th_port, 2000), 0);
    }
    cr_assert(
        H_WAIT(3000, metric("prefork_requests_total{service=\"fk\"}") >= 3));
    cr_assert(
        H_WAIT(3000, metric("prefork_requests_total{service=\"th\"}") >= 3));
    cr_assert_geq(
        metric("prefork_request_duration_seconds_count{service=\"th\"}"), 3);
    stop();
}

Test(metrics, deaths_respawns_reloads_and_queues_reach_the_metrics)
{
    static const char w[] = "prefork_worker_open_fds{service=\"web\",worker=\"";
    char              series[160], *text, *p;
    pid_t             victim;

    start("127.0.0.1");
    /* A web worker, as the metrics name it once the master has counted
     * its descriptors (on its tick, once a second). */
    cr_assert(H_WAIT(3000, (text = scrape(NULL)) != NULL &&
                                   (p = strstr(text, w)) != NULL
                               ? 1
                               : (free(text), 0)));
    victim = (pid_t)atoi(p + strlen(w));
    free(text);
    cr_assert_gt(victim, 0);
    cr_assert_eq(kill(victim, SIGSEGV), 0);
    cr_assert(H_WAIT(5000, metric("prefork_worker_deaths_total{service=\"web\","
                                  "reason=\"signal\"}") == 1));
    cr_assert_eq(metric("prefork_worker_respawns_total{service=\"web\"}"), 1);
    cr_assert_eq(metric("prefork_reloads_total{outcome=\"ok\"}"), 0);
    cr_assert_eq(metric("prefork_generation"), 1);
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(
        H_WAIT(5000, metric("prefork_reloads_total{outcome=\"ok\"}") == 1));
    cr_assert_eq(metric("prefork_generation"), 2);
    /* The count of the worker that died outlives its reload. */
    cr_assert(H_WAIT(5000, metric("prefork_worker_deaths_total{service=\"web\","
                                  "reason=\"signal\"}") == 1));
    snprintf(series, sizeof(series),
             "prefork_listen_queue_limit{service=\"web\",listen=\"tcp://" LO
             ":%d\"}",
             web_port);
    cr_assert(H_WAIT(3000, metric(series) > 0), "%s", series);
    snprintf(series, sizeof(series),
             "prefork_listen_queue{service=\"web\",listen=\"tcp://" LO ":%d\"}",
             web_port);
    cr_assert_eq(metric(series), 0);
    cr_assert_gt(metric("prefork_max_fds"), 0);
    cr_assert_gt(metric("prefork_master_open_fds"), 0);
    stop();
}

Test(metrics, a_silent_scraper_does_not_hold_the_status_worker)
{
    static const char part[] = "GET /metrics HTTP/1.1\r\n";
    int               fd;
    char             *a;

    start("127.0.0.1");
    fd = h_connect(LO, status_port, 2000);
    cr_assert_geq(fd, 0);
    cr_assert_eq(h_send_all(fd, part, sizeof(part) - 1, 2000), 0);
    /* One status worker, and it still answers others at once. */
    a = scrape(NULL);
    cr_assert_not_null(a);
    cr_assert_eq(strncmp(a, "HTTP/1.1 200 ", 13), 0);
    free(a);
    /* And the silent one is let go after send_timeout (1 s). */
    cr_assert_eq(h_wait_closed(fd, 4000), 0);
    close(fd);
    stop();
}

Test(metrics, top_prints_one_frame_with_n_1)
{
    const char     *argv[] = {H_PREFORK, "-c", srv.conf, "-s",
                              "top",     "-n", "1",      NULL};
    struct h_result r;

    start("127.0.0.1");
    http_gets(5);
    cr_assert(
        H_WAIT(3000, metric("prefork_requests_total{service=\"web\"}") == 5));
    cr_assert_eq(h_run(argv, 5000, &r), 0);
    cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
    cr_assert_not_null(strstr(r.out, "SERVICE"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "\nweb "), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "\necho "), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "\nstatus "), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "last deaths"), "%s", r.out);
    /* Not a terminal: no escape sequences. */
    cr_assert_null(strchr(r.out, '\033'), "%s", r.out);
    h_result_free(&r);
    stop();
}
