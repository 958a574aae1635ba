/*
 * test_rollout.c -- replacing workers without losing capacity: recycling
 * under max_unavailable and reloads, under a bounded load, watched in the
 * status file every 10 ms.
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

#define LO "127.0.0.1"

static struct h_server srv;

static int tcp_port(void)
{
    int port = h_free_port(LO, SOCK_STREAM);

    cr_assert(port > 0, "no free port");
    return port;
}

/* 4 workers of `module` as the service "echo", with `server` keys before
 * it and `service` keys in it; up and accepting. */
static void start_four(const char *module, int port, const char *server,
                       const char *service)
{
    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv, "%s[echo]\nmodule = %s\nlisten = %s:%d\nworkers = 4\n%s",
             server, module, LO, port, service);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    cr_assert(H_WAIT(5000, h_slots(&srv, "echo", H_ACCEPTING) == 4),
              "4 workers did not come up%s", h_diag(&srv));
}

/* What a watch of the status file saw while a load ran. */
struct watch {
    int min_accepting; /* the fewest accepting workers of "echo" seen */
    int max_starting;  /* the most workers starting at one time */
    int samples;
    int recycled;     /* recycles logged between the first and last look */
    int made, failed; /* the load's connections */

    struct h_load c[3]; /* the clients */
    int           nc;
    int           before; /* recycles logged before the first look */
};

static int count_in_log(const char *needle)
{
    char *text = h_read_file(srv.log), *p;
    int   n = 0;

    for (p = text; p != NULL && (p = strstr(p, needle)) != NULL; p++)
        n++;
    free(text);
    return n;
}

/* One look at the status file. */
static void look(struct watch *wt)
{
    int acc = h_slots(&srv, "echo", H_ACCEPTING);
    int st = h_slots(&srv, "echo", H_STARTING);

    cr_assert(acc >= 0 && st >= 0, "cannot read the status file");
    if (acc < wt->min_accepting)
        wt->min_accepting = acc;
    if (st > wt->max_starting)
        wt->max_starting = st;
    wt->samples++;
}

/* Look once, then start nc (at most 3) clients of up to n connections
 * each, gap_ms apart, for up to ms.  The first look is before the load
 * starts and the last (watch_end) after it ends, so a watch is never
 * empty and every recycle the load causes is counted between the two. */
static void watch_start(struct watch *wt, int port, int nc, int n, int ms,
                        int gap_ms)
{
    memset(wt, 0, sizeof *wt);
    wt->min_accepting = 1 << 20;
    wt->before = count_in_log("recycling worker");
    look(wt);
    for (wt->nc = 0; wt->nc < nc; wt->nc++)
        cr_assert_eq(h_load_start(&wt->c[wt->nc], LO, port, n, ms, gap_ms), 0);
}

/* While the load runs: look, then wait 10 ms.  Returns 0 once it is
 * done. */
static int watch_step(struct watch *wt)
{
    int done = 1;

    for (int i = 0; i < wt->nc; i++)
        done &= h_load_done(&wt->c[i]);
    if (done)
        return 0;
    look(wt);
    h_sleep_ms(10);
    return 1;
}

static void watch_end(struct watch *wt)
{
    int made, failed;

    look(wt);
    wt->recycled = count_in_log("recycling worker") - wt->before;
    for (int i = 0; i < wt->nc; i++) {
        cr_assert_eq(h_load_wait(&wt->c[i], &made, &failed), 0);
        wt->made += made;
        wt->failed += failed;
    }
    cr_log_info("%d connections, %d failed; fewest accepting %d, most "
                "starting %d, in %d samples; %d recycles",
                wt->made, wt->failed, wt->min_accepting, wt->max_starting,
                wt->samples, wt->recycled);
}

/* A whole watch of two clients. */
static void watch_load(int port, int n, int ms, int gap_ms, struct watch *wt)
{
    watch_start(wt, port, 2, n, ms, gap_ms);
    while (watch_step(wt))
        ;
    watch_end(wt);
}

/* The number after `key` in line, or 0 when key is not there. */
static long number_after(const char *line, const char *key)
{
    const char *p = strstr(line, key);

    return p == NULL ? 0 : strtol(p + strlen(key), NULL, 10);
}

/*
 * The most replacements the master had on the way at one time, from its
 * log at log_level = debug: one is on the way from "worker R started to
 * replace W" until "recycling worker W" (R accepts and W is told to quit)
 * or W's exit.  Kept by W, so a replacement that died and was started
 * again counts once.  The log is exact where the status file is only
 * sampled: a replacement starts in less than the sampler's 10 ms.
 */
static int most_on_the_way(void)
{
    char *text = h_read_file(srv.log), *line, *save = NULL;
    long  way[64];
    int   n = 0, most = 0;

    cr_assert(text != NULL, "cannot read %s", srv.log);
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        long started = number_after(line, " started to replace ");
        long done = number_after(line, "recycling worker ");

        if (strstr(line, " exited ") != NULL)
            done = number_after(line, "] worker ");
        for (int i = 0; i < n && started != 0; i++)
            if (way[i] == started)
                started = 0;
        if (started != 0 && n < 64)
            way[n++] = started;
        for (int i = 0; i < n && done != 0; i++)
            if (way[i] == done)
                way[i--] = way[--n];
        most = n > most ? n : most;
    }
    free(text);
    return most;
}

/* 4 workers, max_requests = 50, a bounded load: no request fails and,
 * as each replacement is accepting before the worker it replaces stops,
 * no sample finds fewer than 4 accepting; max_unavailable = 1, the
 * default, has one replacement on the way at a time. */
Test(rollout, recycling_keeps_the_pool_accepting, .fini = h_teardown,
     .timeout = 90)
{
    int          port = tcp_port();
    struct watch wt;

    start_four("echo", port, "log_level = debug\nmax_requests = 50\n", "");
    watch_load(port, 2000, 20000, 1, &wt);
    cr_expect_eq(wt.failed, 0, "%d of %d connections failed", wt.failed,
                 wt.made);
    cr_expect_eq(wt.made, 4000, "the load made %d of 4000 connections",
                 wt.made);
    cr_expect_geq(wt.min_accepting, 4,
                  "only %d of 4 workers accepting at one sample",
                  wt.min_accepting);
    cr_expect_leq(wt.max_starting, 1,
                  "%d replacements starting at once (max_unavailable = 1)",
                  wt.max_starting);
    cr_expect_geq(count_in_log("recycling worker"), 10,
                  "too few recycles for 4000 connections at 50 each%s",
                  h_diag(&srv));
    cr_expect_eq(most_on_the_way(), 1,
                 "%d replacements on the way at once (max_unavailable = 1)",
                 most_on_the_way());
}

/* max_unavailable = 50% of 4: two replacements on the way at once, not
 * one and not three.  Left to itself, one worker takes a fast load's
 * connections until it is replaced, and replacements come one by one
 * whatever the budget; so the module takes 2 ms a connection, which
 * spreads three clients over three workers, and the master is stopped
 * until three workers have asked for a replacement (at most 10 s).  It
 * wakes to find them waiting together, and the budget alone says how
 * many it starts. */
Test(rollout, max_unavailable_bounds_the_replacements, .fini = h_teardown,
     .timeout = 90)
{
    int          port = tcp_port(), most, stopped = 1;
    int64_t      resume = h_now_ms() + 10000;
    struct watch wt;

    start_four(H_TESTMOD, port, "log_level = debug\nmax_requests = 10\n",
               "max_unavailable = 50%\nsleep = 2ms\n");
    cr_assert_eq(h_signal(&srv, SIGSTOP), 0);
    watch_start(&wt, port, 3, 700, 20000, 1);
    while (watch_step(&wt)) {
        if (stopped && (count_in_log("asking for a replacement") >= 3 ||
                        h_now_ms() > resume)) {
            cr_assert_eq(h_signal(&srv, SIGCONT), 0);
            stopped = 0;
        }
    }
    if (stopped)
        cr_assert_eq(h_signal(&srv, SIGCONT), 0);
    watch_end(&wt);
    most = most_on_the_way();
    cr_expect_eq(wt.failed, 0, "%d of %d connections failed", wt.failed,
                 wt.made);
    cr_expect_geq(wt.recycled, 10,
                  "%d recycles for %d connections at 10 each%s", wt.recycled,
                  wt.made, h_diag(&srv));
    cr_expect_geq(wt.samples, 40, "only %d samples during the recycles",
                  wt.samples);
    cr_expect_eq(most, 2,
                 "%d replacements on the way at once (max_unavailable = "
                 "50%% of 4)%s",
                 most, h_diag(&srv));
    cr_expect_leq(wt.max_starting, 2,
                  "%d replacements starting at once (max_unavailable = 50%%)",
                  wt.max_starting);
    cr_expect_geq(wt.min_accepting, 4, "only %d of 4 workers accepting",
                  wt.min_accepting);
}

/* Reloads under load: the old workers go as the new come up. */
Test(rollout, reloads_under_load_lose_nothing, .fini = h_teardown,
     .timeout = 90)
{
    int          port = tcp_port();
    struct watch wt;

    int64_t next = 0;
    int     sent = 0;

    start_four("echo", port, "", "");
    /* 4 s at most 500 connections a second a client, whatever the
     * machine's speed; a reload 200 ms after the one before has its new
     * workers up (a HUP that comes while one runs makes no reload of its
     * own, and one that comes before the workers are up supersedes that
     * reload), so that a slow machine (sanitizers, valgrind) still gets
     * several. */
    watch_start(&wt, port, 2, 2000, 4000, 2);
    while (watch_step(&wt)) {
        if (count_in_log("is up: every service has a worker") < sent) {
            next = h_now_ms() + 200;
        } else if (h_now_ms() >= next) {
            cr_assert_eq(h_signal(&srv, SIGHUP), 0);
            sent++;
        }
    }
    watch_end(&wt);
    cr_expect_eq(wt.failed, 0, "%d of %d connections failed", wt.failed,
                 wt.made);
    cr_expect_geq(wt.min_accepting, 4,
                  "only %d workers accepting during a reload%s",
                  wt.min_accepting, h_diag(&srv));
    cr_expect_geq(count_in_log("configuration reloaded"), 3, "%s",
                  h_diag(&srv));
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == 4),
              "%d workers after the reloads, not 4", h_nworkers(&srv));
}

/* A reload that comes while the one before is still starting: the
 * workers of that one are not up, so they are not what serves, and the
 * workers that do serve stay until the newest configuration's are up. */
Test(rollout, a_reload_over_one_still_starting_keeps_the_old_serving,
     .fini = h_teardown, .timeout = 60)
{
    int     port = tcp_port(), fewest = 4, n;
    int64_t until;

    start_four(H_TESTMOD, port, "", "");
    h_config(&srv,
             "[echo]\nmodule = %s\nlisten = %s:%d\nworkers = 4\n"
             "init_sleep = 3s\n",
             H_TESTMOD, LO, port);
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(5000, h_slots(&srv, "echo", H_STARTING) == 4),
              "the first reload's workers are not starting%s", h_diag(&srv));
    h_config(&srv,
             "[echo]\nmodule = %s\nlisten = %s:%d\nworkers = 4\n"
             "init_sleep = 1s\n",
             H_TESTMOD, LO, port);
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    /* Till the second's are up and the first's have come up and gone. */
    until = h_now_ms() + 5000;
    while (h_now_ms() < until) {
        n = h_slots(&srv, "echo", H_ACCEPTING);
        if (n >= 0 && n < fewest)
            fewest = n;
        h_sleep_ms(10);
    }
    cr_expect_geq(fewest, 4, "only %d workers accepting%s", fewest,
                  h_diag(&srv));
    cr_expect_eq(h_slots(&srv, "echo", H_ACCEPTING), 4,
                 "not 4 workers in the end%s", h_diag(&srv));
    cr_expect_eq(h_echo_once(LO, port, 3000), 0, "it does not serve");
}

/* A reload whose workers cannot start keeps the old ones serving. */
Test(rollout, a_reload_whose_workers_fail_keeps_the_old, .fini = h_teardown,
     .timeout = 60)
{
    int   port = tcp_port(), n, kept = 0;
    pid_t old[2], now[8];

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv, "[t]\nmodule = %s\nlisten = %s:%d\nworkers = 2\n", H_TESTMOD,
             LO, port);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    cr_assert(H_WAIT(5000, h_workers(&srv, old, 2) == 2));
    h_config(&srv,
             "[t]\nmodule = %s\nlisten = %s:%d\nworkers = 2\n"
             "fail_init = yes\n",
             H_TESTMOD, LO, port);
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(10000, h_file_contains(srv.log, "serve on")),
              "no word that the old workers serve on%s", h_diag(&srv));
    for (int i = 0; i < 20; i++)
        cr_assert_eq(h_echo_once(LO, port, 3000), 0,
                     "connection %d failed after the broken reload%s", i + 1,
                     h_diag(&srv));
    n = h_workers(&srv, now, 8);
    for (int i = 0; i < n && i < 8; i++)
        kept += now[i] == old[0] || now[i] == old[1];
    cr_expect_eq(kept, 2, "%d of the 2 old workers still serve", kept);
}

/* --- reload_canary ------------------------------------------------------ */

/* 4 testmod workers whose reloads have a trial of `trial`; their pids. */
static void start_for_trial(int port, const char *trial, pid_t *old)
{
    char server[64];

    snprintf(server, sizeof server, "reload_canary = %s\n", trial);
    start_four(H_TESTMOD, port, server, "");
    cr_assert_eq(h_workers(&srv, old, 4), 4);
}

/* Does `prefork -s status` mention want?  With last, what it said. */
static int status_has(const char *want, char *last, size_t cap)
{
    const char     *argv[] = {H_PREFORK, "-s", "status", "-c", srv.conf, NULL};
    struct h_result r;
    int             has;

    cr_assert_eq(h_run(argv, 5000, &r), 0, "status: %s", r.err);
    has = strstr(r.out, want) != NULL;
    if (last != NULL)
        snprintf(last, cap, "%s", r.out);
    h_result_free(&r);
    return has;
}

/* `prefork -s status`, which must mention want. */
static void expect_status(const char *want)
{
    char out[4096];

    cr_expect(status_has(want, out, sizeof out), "%s not in %s", want, out);
}

/* How many of the 4 workers in old[] are still children of the master. */
static int still_there(const pid_t *old)
{
    pid_t now[16];
    int   n = h_workers(&srv, now, 16), kept = 0;

    for (int i = 0; i < n && i < 16; i++)
        for (int j = 0; j < 4; j++)
            kept += now[i] == old[j];
    return kept;
}

/* Reload to `service` keys under a paced load with a canary on trial for
 * `trial`; returns what the load saw. */
static void reload_under_load(int port, const char *trial, const char *service,
                              const char *until, struct watch *wt)
{
    struct h_load a;
    int           made, failed;

    memset(wt, 0, sizeof *wt);
    h_config(&srv,
             "reload_canary = %s\n[echo]\nmodule = %s\nlisten = %s:%d\n"
             "workers = 4\n%s",
             trial, H_TESTMOD, LO, port, service);
    cr_assert_eq(h_load_start(&a, LO, port, 5000, 4000, 2), 0);
    h_sleep_ms(100);
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(10000, h_file_contains(srv.log, until)),
              "no \"%s\" in the log%s", until, h_diag(&srv));
    cr_assert_eq(h_load_wait(&a, &made, &failed), 0);
    wt->made = made;
    wt->failed = failed;
    cr_log_info("reload, %s trial, until \"%s\": %d connections, %d failed",
                trial, until, made, failed);
}

/* 4 workers, then a reload to `service` keys with a trial of `trial`
 * under a paced load until `until` is logged, which no connection of the
 * load may fail; the old workers' pids in old[]. */
static void trial_without_loss(const char *trial, const char *service,
                               const char *until, pid_t *old)
{
    int          port = tcp_port();
    struct watch wt;

    start_for_trial(port, trial, old);
    reload_under_load(port, trial, service, until, &wt);
    cr_expect_gt(wt.made, 0);
    cr_expect_eq(wt.failed, 0, "%d of %d connections failed", wt.failed,
                 wt.made);
}

/* A module that cannot start is found by the canary: the old generation
 * serves on and not one connection fails. */
Test(canary, a_canary_that_cannot_start_is_rolled_back, .fini = h_teardown,
     .timeout = 60)
{
    pid_t old[4];

    trial_without_loss("1s", "fail_init = yes\n", "rolled back", old);
    cr_expect_eq(still_there(old), 4, "the old workers did not all serve on%s",
                 h_diag(&srv));
    expect_status("\"reload\":{\"generation\":2,\"state\":\"rolled back\","
                  "\"reason\":\"[echo] worker ");
    expect_status("(init_failed)");
    cr_expect(h_file_contains(srv.log, "generation 1 serves on"), "%s",
              h_diag(&srv));
}

/* A module that crashes on its first connection: the canary dies on the
 * one connection it took, the old generation serves on and every other
 * connection is served. */
Test(canary, a_canary_that_crashes_is_rolled_back, .fini = h_teardown,
     .timeout = 60)
{
    int          port = tcp_port();
    pid_t        old[4];
    struct watch wt;

    start_for_trial(port, "2s", old);
    reload_under_load(port, "2s", "crash = yes\n", "rolled back", &wt);
    cr_expect_leq(wt.failed, 1,
                  "%d of %d connections failed: more than the one the "
                  "canary died on",
                  wt.failed, wt.made);
    cr_expect_eq(still_there(old), 4, "the old workers did not all serve on%s",
                 h_diag(&srv));
    expect_status("\"state\":\"rolled back\"");
    expect_status("died on signal 11 (signal)");
    for (int i = 0; i < 20; i++)
        cr_assert_eq(h_echo_once(LO, port, 3000), 0,
                     "connection %d after the roll-back failed%s", i + 1,
                     h_diag(&srv));
}

/* With canary_probe the canary serves the probe before any client's
 * connection: it dies on that, and not one client connection fails. */
Test(canary, a_canary_that_crashes_on_its_probe_costs_no_connection,
     .fini = h_teardown, .timeout = 60)
{
    pid_t old[4];

    trial_without_loss("2s", "crash = yes\ncanary_probe = hello\\r\\n\n",
                       "rolled back", old);
    cr_expect_eq(still_there(old), 4, "the old workers did not all serve on%s",
                 h_diag(&srv));
    expect_status("died on signal 11 (signal)");
    cr_expect(!h_file_contains(srv.log, "served canary_probe"),
              "the crashing canary served its probe%s", h_diag(&srv));
}

/* A canary that serves its probe goes on to its trial and passes. */
Test(canary, a_canary_that_serves_its_probe_goes_on_trial, .fini = h_teardown,
     .timeout = 60)
{
    pid_t old[4];

    trial_without_loss("500ms", "canary_probe = hello\\r\\n\n",
                       "passed its trial", old);
    cr_expect(h_file_contains(srv.log, "served canary_probe"), "%s",
              h_diag(&srv));
    cr_assert(H_WAIT(5000, still_there(old) == 0 && h_nworkers(&srv) == 4),
              "the pool did not roll over%s", h_diag(&srv));
}

/* A canary that stays up for its trial: the pool rolls over. */
Test(canary, a_canary_that_passes_rolls_the_pool_over, .fini = h_teardown,
     .timeout = 60)
{
    pid_t old[4];

    trial_without_loss("500ms", "sleep = 1ms\n", "passed its trial", old);
    cr_assert(H_WAIT(5000, still_there(old) == 0 && h_nworkers(&srv) == 4),
              "the pool did not roll over: %d old workers, %d in all%s",
              still_there(old), h_nworkers(&srv), h_diag(&srv));
    expect_status("\"reload\":{\"generation\":2,\"state\":\"rolled over\","
                  "\"reason\":null}");
}

/* A reload during a trial abandons it: generation 2 is rolled back and
 * generation 3 goes on trial beside the untouched old workers. */
Test(canary, a_reload_during_a_trial_abandons_it, .fini = h_teardown,
     .timeout = 60)
{
    int   port = tcp_port();
    pid_t old[4];

    start_for_trial(port, "30s", old);
    h_config(&srv,
             "reload_canary = 30s\n[echo]\nmodule = %s\nlisten = %s:%d\n"
             "workers = 4\nsleep = 1ms\n",
             H_TESTMOD, LO, port);
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == 5), "no canary%s", h_diag(&srv));
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(5000, h_file_contains(srv.log, "a new reload came")),
              "the trial was not abandoned%s", h_diag(&srv));
    /* Generation 3's canary may come up after generation 2's has gone. */
    cr_expect(H_WAIT(5000, status_has("\"reload\":{\"generation\":3,"
                                      "\"state\":\"on trial\"",
                                      NULL, 0)),
              "generation 3 is not on trial%s", h_diag(&srv));
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == 5),
              "not the old 4 and one canary%s", h_diag(&srv));
    cr_expect_eq(still_there(old), 4, "the old workers did not all serve on");
}
