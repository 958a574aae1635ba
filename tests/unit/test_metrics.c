/*
 * test_metrics.c -- the scoreboard as metrics: the Prometheus text format
 * 0.0.4 and OpenMetrics 1.0.0, byte for byte, and the quantiles that
 * `prefork -s top` shows.
 *
 * One scoreboard is built by hand: a service with two workers and what
 * exited workers counted, one reloaded away with a worker still draining
 * under the same name, and a service whose name holds a quote, a newline
 * and a byte that is not UTF-8.  Its rendering in each format is compared
 * with tests/fixtures/metrics/board.prom and board.om, and checked by
 * promtool and by the Python client's OpenMetrics parser where they are
 * installed.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "scoreboard.h"

static struct sb_service svc[3];
static struct slot       slots[4];

static void entry(struct sb_service *e, uint32_t id, const char *name,
                  const char *listen, int current)
{
    memset(e, 0, sizeof(*e));
    e->id = id;
    e->flags = current ? SB_SVC_CURRENT : 0;
    e->target = 2;
    snprintf(e->mode, sizeof(e->mode), "prefork");
    snprintf(e->name, sizeof(e->name), "%s", name);
    snprintf(e->listen, sizeof(e->listen), "%s", listen);
}

static void worker(struct slot *s, uint32_t id, pid_t pid, int state,
                   uint64_t requests)
{
    memset(s, 0, sizeof(*s));
    s->pid = pid;
    s->service = id;
    s->state = state;
    s->served = requests / 2;
    s->open_conns = 1;
    s->fds = 9;
    s->ctr.requests = requests;
    s->ctr.classes[1] = requests; /* 2xx */
    s->ctr.bytes_in = 100 * requests;
    s->ctr.bytes_out = 1000 * requests;
    s->ctr.hist[0] = requests / 2;            /* <= 100 us */
    s->ctr.hist[3] = requests - requests / 2; /* <= 1 ms */
    s->ctr.duration_us = 50 * (requests / 2) + 800 * (requests - requests / 2);
}

/* The board: web (id 1, current) with workers 101 and 102; web (id 3)
 * reloaded away with worker 103 draining; the odd name (id 2) idle. */
static void board(struct sb_snapshot *snap)
{
    memset(snap, 0, sizeof(*snap));
    entry(&svc[0], 1, "web", "tcp://127.0.0.1:8080\nunix:/run/web.sock", 1);
    svc[0].exited_served = 5;
    svc[0].exited.requests = 10;
    svc[0].exited.classes[3] = 4; /* 4xx */
    svc[0].exited.classes[4] = 6; /* 5xx */
    svc[0].exited.hist[16] = 10;  /* slower than 10 s */
    svc[0].exited.duration_us = 120000000;
    svc[0].deaths[SB_DEATH_SIGNAL] = 2;
    svc[0].respawns = 3;
    svc[0].backoff_ms = 1600;
    svc[0].nqueues = 2;
    svc[0].queues[0] = (struct sb_queue){.queue = 3, .limit = 511};
    svc[0].queues[1] = (struct sb_queue){.queue = SB_QUEUE_NONE};
    entry(&svc[1], 2, "we\"i\\rd\nname\xff", "udp://[::1]:53", 1);
    entry(&svc[2], 3, "web", "tcp://127.0.0.1:8080", 0);
    svc[2].deaths[SB_DEATH_WORKER_TIMEOUT] = 1;
    worker(&slots[0], 1, 101, SLOT_IDLE, 4);
    worker(&slots[1], 1, 102, SLOT_BUSY, 2);
    worker(&slots[2], 3, 103, SLOT_EXITING, 1);
    memset(&slots[3], 0, sizeof(slots[3])); /* free */
    snap->master_pid = 100;
    snap->start_time = 1700000000;
    snprintf(snap->version, sizeof(snap->version), "9.9");
    snap->svc = svc;
    snap->nsvc = 3;
    snap->slots = slots;
    snap->nslots = 4;
    snap->reloads[SB_RELOAD_OK] = 2;
    snap->reloads[SB_RELOAD_FAILED] = 1;
    snap->generation = 3;
    snprintf(snap->reload_state, sizeof(snap->reload_state), "on trial");
    snap->master_fds = 12;
    snap->fd_limit = 1024;
}

static char *rendered(int om)
{
    struct sb_snapshot snap;
    char              *buf = NULL;
    size_t             len = 0;
    FILE              *f = open_memstream(&buf, &len);

    board(&snap);
    cr_assert_not_null(f);
    cr_assert_eq(metrics_render(f, &snap, om), 0);
    cr_assert_eq(fclose(f), 0);
    return buf;
}

static char *fixture(const char *name)
{
    char   path[512], *buf = NULL;
    size_t cap = 0;
    FILE  *f;
    long   n;

    snprintf(path, sizeof(path), "%s/tests/fixtures/metrics/%s", PF_SRCDIR,
             name);
    f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    cap = (size_t)n + 1;
    buf = calloc(1, cap);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

/* Where the two texts part, for a readable failure. */
static void assert_same(const char *got, const char *want, const char *what)
{
    size_t i = 0;

    while (got[i] != '\0' && got[i] == want[i])
        i++;
    cr_assert(got[i] == want[i],
              "%s differs at byte %zu:\n got: %.80s\nwant: %.80s", what, i,
              got + i, want + i);
}

Test(metrics, prometheus_text_byte_for_byte)
{
    char *got = rendered(0), *want = fixture("board.prom");

    assert_same(got, want, "board.prom");
    free(got);
    free(want);
}

Test(metrics, openmetrics_text_byte_for_byte)
{
    char *got = rendered(1), *want = fixture("board.om");

    assert_same(got, want, "board.om");
    free(got);
    free(want);
}

Test(metrics, openmetrics_ends_with_eof_and_prometheus_does_not)
{
    char  *om = rendered(1), *prom = rendered(0);
    size_t n = strlen(om);

    cr_assert(n > 6 && strcmp(om + n - 6, "# EOF\n") == 0);
    cr_assert_null(strstr(prom, "# EOF"));
    /* A counter family is named without _total in OpenMetrics only. */
    cr_assert_not_null(strstr(om, "# TYPE prefork_requests counter\n"));
    cr_assert_not_null(strstr(prom, "# TYPE prefork_requests_total counter\n"));
    cr_assert_not_null(strstr(om, "# TYPE prefork_build info\n"));
    free(om);
    free(prom);
}

Test(metrics, a_service_draining_after_a_reload_is_summed_under_its_name)
{
    char *prom = rendered(0);

    /* 4 + 2 live, 1 draining, 10 exited */
    cr_assert_not_null(
        strstr(prom, "prefork_requests_total{service=\"web\"} 17\n"), "%s",
        prom);
    cr_assert_not_null(
        strstr(prom, "prefork_workers{service=\"web\",state=\"exiting\"} 1\n"));
    cr_assert_not_null(strstr(prom, "prefork_worker_deaths_total{service="
                                    "\"web\",reason=\"worker_timeout\"} 1\n"));
    free(prom);
}

Test(metrics, label_values_are_escaped_and_made_utf8)
{
    char *prom = rendered(0);

    cr_assert_not_null(
        strstr(prom, "{service=\"we\\\"i\\\\rd\\nname\xef\xbf\xbd\"}"), "%s",
        prom);
    free(prom);
}

/* Run cmd with a file holding text as its last word; its exit status. */
static int check_with(const char *cmd, const char *text)
{
    char path[] = "/tmp/pf-metrics-XXXXXX", line[700];
    int  fd = mkstemp(path), rc;

    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    snprintf(line, sizeof(line), "%s %s", cmd, path);
    rc = system(line);
    unlink(path);
    return rc;
}

/* promtool, when installed, lints the Prometheus text (its `check
 * metrics` reads only that format). */
Test(metrics, promtool_checks_the_prometheus_text)
{
    char *text = rendered(0);

    if (system("promtool --version >/dev/null 2>&1") != 0)
        cr_skip_test("promtool is not installed");
    cr_assert_eq(check_with("promtool check metrics <", text), 0);
    free(text);
}

/* The OpenMetrics text through the reference parser of the Python client
 * (python3-prometheus-client), which refuses what the standard does. */
Test(metrics, the_openmetrics_parser_takes_the_openmetrics_text)
{
    static const char py[] = "/usr/bin/python3 -c 'import sys; "
                             "from prometheus_client.openmetrics.parser import "
                             "text_string_to_metric_families as p; "
                             "n = len(list(p(open(sys.argv[1]).read()))); "
                             "sys.exit(n != 24)'";
    char             *text = rendered(1);

    if (system("/usr/bin/python3 -c 'import prometheus_client' "
               ">/dev/null 2>&1") != 0)
        cr_skip_test("python3-prometheus-client is not installed");
    cr_assert_eq(check_with(py, text), 0);
    free(text);
}

/* --- quantiles ---------------------------------------------------------------- */

Test(metrics, quantiles_interpolate_inside_a_bucket)
{
    uint64_t h[SB_BUCKETS] = {0};

    cr_assert_eq(metrics_quantile(h, 0.5), -1);
    h[3] = 100; /* (0.5 ms, 1 ms] */
    cr_assert_float_eq(metrics_quantile(h, 0.5), 0.00075, 1e-9);
    cr_assert_float_eq(metrics_quantile(h, 0.99), 0.000995, 1e-9);
    h[0] = 100; /* (0, 100 us] */
    cr_assert_float_eq(metrics_quantile(h, 0.25), 0.00005, 1e-9);
    h[16] = 1000; /* slower than 10 s: its lower bound */
    cr_assert_float_eq(metrics_quantile(h, 0.99), 10.0, 1e-9);
}

/* --- what a worker counts -------------------------------------------------- */

Test(metrics, a_duration_goes_to_the_first_bucket_whose_bound_holds_it)
{
    struct slot s;

    memset(&s, 0, sizeof(s));
    slot_observe(&s, 100, 1);      /* le 0.0001 */
    slot_observe(&s, 101, 1);      /* le 0.00025 */
    slot_observe(&s, 10000000, 0); /* le 10 */
    slot_observe(&s, 10000001, 0); /* +Inf */
    slot_observe(&s, -5, 0);       /* a clock that went back: 0 */
    cr_assert_eq(s.ctr.hist[0], 2);
    cr_assert_eq(s.ctr.hist[1], 1);
    cr_assert_eq(s.ctr.hist[15], 1);
    cr_assert_eq(s.ctr.hist[16], 1);
    cr_assert_eq(s.ctr.requests, 2);
    cr_assert_eq(s.ctr.duration_us, 100 + 101 + 10000000 + 10000001);
    slot_count_status(&s, 204);
    slot_count_status(&s, 503);
    slot_count_status(&s, 42); /* no class */
    cr_assert_eq(s.ctr.classes[1], 1);
    cr_assert_eq(s.ctr.classes[4], 1);
    cr_assert_eq(s.ctr.requests, 5);
}
