/*
 * test_checks.c -- what checks.c finds once the whole file is read: keys
 * that need a stream listener, pools larger than the scoreboard, and the
 * warnings about keys that do nothing where they are.
 *
 * Each test parses a string as if it were a file (nothing is read).
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <prefork/module.h>

#include "log.h"
#include "reader.h"

#define ECHO "[echo]\nmodule = echo\nlisten = 127.0.0.1:7007\n"
#define UDP  "[u]\nmodule = udp_echo\nlisten = udp://127.0.0.1:7009\n"

static struct diag    d = DIAG_INIT;
static struct config *cfg;

static void teardown(void)
{
    config_free(cfg);
    cfg = NULL;
    diag_free(&d);
}

TestSuite(checks, .fini = teardown);
TestSuite(warnings, .fini = teardown);

static void dump(const struct diag *l)
{
    for (size_t i = 0; i < l->n; i++)
        cr_log_info("  %s", l->msg[i]);
}

static struct config *load(const char *text)
{
    return config_load_buffer(text, strlen(text), "t.ini", "/nonexistent", &d);
}

static void load_ok(const char *text)
{
    cfg = load(text);
    if (cfg == NULL)
        dump(&d);
    cr_assert_not_null(cfg, "config refused with %zu messages", d.n);
}

/* text must be refused with exactly the one message want. */
static void refused(const char *text, const char *want)
{
    cfg = load(text);
    cr_assert_null(cfg, "config should have been refused");
    if (d.n != 1)
        dump(&d);
    cr_assert_eq(d.n, 1, "%zu messages", d.n);
    cr_assert_str_eq(d.msg[0], want);
}

/* text loads, with exactly these warnings in this order. */
static void warns(const char *text, const char *const *want, size_t n)
{
    load_ok(text);
    if (cfg->warnings.n != n)
        dump(&cfg->warnings);
    cr_assert_eq(cfg->warnings.n, n, "%zu warnings", cfg->warnings.n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(cfg->warnings.msg[i], want[i]);
        cr_assert(diag_is_warning(&cfg->warnings, i));
    }
    cr_assert_eq(cfg->warnings.nwarn, n);
}

#define WARNS(text, ...)                                                       \
    do {                                                                       \
        const char *const want_[] = {__VA_ARGS__};                             \
        warns(text, want_, sizeof(want_) / sizeof(want_[0]));                  \
    } while (0)

/* ---- stream-only keys -------------------------------------------------- */

Test(checks, proxy_protocol_on_udp_only_with_proxy_from)
{
    refused(UDP "proxy_protocol = yes\nproxy_from = 10.0.0.0/8\n",
            "t.ini:4: [u] proxy_protocol is for TCP and UNIX stream "
            "listeners; this service has only UDP ones");
}

Test(checks, proxy_protocol_with_a_stream_listener_beside_udp)
{
    load_ok("[m]\nmodule = echo\n"
            "listen = udp://127.0.0.1:7009, 127.0.0.1:7009\n"
            "proxy_protocol = yes\n");
    cr_assert_eq(cfg->svc[0].proxy_protocol, 1);
    cr_assert_eq(cfg->warnings.n, 0);
}

Test(checks, proxy_protocol_on_a_unix_listener)
{
    load_ok("[m]\nmodule = echo\nlisten = unix:/run/m.sock\n"
            "proxy_protocol = yes\n");
    cr_assert_eq(cfg->svc[0].proxy_protocol, 1);
}

/* ---- scoreboard slots -------------------------------------------------- */

Test(checks, one_pool_larger_than_the_scoreboard)
{
    refused(ECHO "workers = 2000\n",
            "t.ini:4: [echo] workers (2000) is more than the scoreboard "
            "holds (at most 512 workers: 1024 slots, half of them kept for "
            "a reload)");
}

Test(checks, pools_fill_the_scoreboard_exactly)
{
    load_ok(ECHO "workers = 256\n"
                 "[b]\nmodule = echo\nlisten = 127.0.0.1:7008\n"
                 "workers = 1\nmax_workers = 256\n");
    cr_assert_eq(cfg->nsvc, 2);
}

Test(checks, pools_together_over_the_scoreboard)
{
    refused(ECHO "workers = 256\n"
                 "[b]\nmodule = echo\nlisten = 127.0.0.1:7008\n"
                 "workers = 1\nmax_workers = 257\n",
            "t.ini:9: [b] max_workers (257) makes 513 workers in all "
            "services, more than the scoreboard holds (at most 512 workers: "
            "1024 slots, half of them kept for a reload)");
}

Test(checks, server_workers_over_the_scoreboard)
{
    refused("[server]\nworkers = 600\n" ECHO,
            "t.ini:2: [echo] workers (600, from [server]) is more than the "
            "scoreboard holds (at most 512 workers: 1024 slots, half of them "
            "kept for a reload)");
}

/* ---- keys that do nothing ---------------------------------------------- */

Test(warnings, keys_that_do_nothing_where_they_are)
{
    WARNS(ECHO "max_children = 8\nthreads = 8\ncanary_probe = hi\n" UDP
               "defer_accept = 5s\nmode = forking\nthreads = 2\n",
          "t.ini:4: warning: [echo] max_children does nothing unless mode = "
          "forking",
          "t.ini:5: warning: [echo] threads does nothing unless mode = "
          "threading",
          "t.ini:6: warning: [echo] canary_probe does nothing without "
          "reload_canary in [server]",
          "t.ini:10: warning: [u] defer_accept does nothing without a TCP "
          "listener",
          "t.ini:12: warning: [u] threads does nothing unless mode = "
          "threading");
}

Test(warnings, none_where_the_keys_act)
{
    load_ok("[server]\nreload_canary = 2s\n"
            "[f]\nmodule = echo\nlisten = 127.0.0.1:7001\nmode = forking\n"
            "max_children = 8\ndefer_accept = 1s\ncanary_probe = hi\n"
            "[t]\nmodule = echo\nlisten = 127.0.0.1:7002\nmode = threading\n"
            "threads = 8\n");
    if (cfg->warnings.n > 0)
        dump(&cfg->warnings);
    cr_assert_eq(cfg->warnings.n, 0);
}

Test(warnings, defaults_draw_none)
{
    load_ok(ECHO UDP);
    cr_assert_eq(cfg->warnings.n, 0, "a key the file does not set");
}

Test(warnings, a_file_with_errors_has_only_its_errors)
{
    refused(ECHO "max_children = 8\nbacklog = 0\n",
            "t.ini:5: [echo] backlog: 0 is out of range (1..65535)");
}

/* ---- the log-level table ----------------------------------------------- */

/* Every name log lines print is one the log_level key takes, as that
 * level. */
Test(checks, one_table_of_log_levels)
{
    char buf[256];

    for (const struct choice *c = log_levels; c->name != NULL; c++) {
        cr_assert_str_eq(log_level_name(c->value), c->name);
        snprintf(buf, sizeof(buf), "[server]\nlog_level = %s\n" ECHO, c->name);
        load_ok(buf);
        cr_assert_eq(cfg->log_level, c->value, "%s", c->name);
        config_free(cfg);
        cfg = NULL;
    }
    cr_assert_str_eq(log_level_name(PF_LOG_WARN), "warn");
    cr_assert_str_eq(log_level_name(42), "unknown");
}

Test(checks, size_bounds_are_named_in_units)
{
    refused(ECHO "max_worker_memory = 1048577g\n",
            "t.ini:4: [echo] max_worker_memory: '1048577g' is out of range "
            "(0..1048576g)");
}
