/*
 * test_config.c -- what a user sees of the configuration file: defaults,
 * every key, relative paths, and each kind of mistake reported as
 * FILE:LINE: message, all of them at once.
 *
 * Most tests parse a string as if it were a file in a directory that does
 * not exist (nothing is read from it); the fixture tests and the path tests
 * read real files under tests/fixtures.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <prefork/module.h>

#include "reader.h"
#include "values.h"

#ifndef PF_SRCDIR
#error "build with -DPF_SRCDIR=\"/abs/source/dir\""
#endif
#ifndef PF_PKGLIBDIR
#define PF_PKGLIBDIR "/usr/local/lib/prefork"
#endif

#define CONF_DIR "/nonexistent-prefork-test/conf"
#define FIXTURES PF_SRCDIR "/tests/fixtures"

/* The smallest config that loads; most tests add to it. */
#define ECHO "[echo]\nmodule = echo\nlisten = 127.0.0.1:7007\n"

static struct diag    d = DIAG_INIT;
static struct config *cfg;

static void teardown(void)
{
    config_free(cfg);
    cfg = NULL;
    diag_free(&d);
}

TestSuite(config, .fini = teardown);
TestSuite(errors, .fini = teardown);
TestSuite(fixtures, .fini = teardown);

static void dump(void)
{
    for (size_t i = 0; i < d.n; i++)
        cr_log_info("  %s", d.msg[i]);
}

static struct config *load(const char *text)
{
    return config_load_buffer(text, strlen(text), "t.ini", CONF_DIR, &d);
}

static struct config *load_ok(const char *text)
{
    cfg = load(text);
    if (cfg == NULL) {
        dump();
        cr_assert_fail("config refused with %zu messages", d.n);
    }
    cr_assert_eq(d.n, 0);
    return cfg;
}

/* text must be refused with exactly these messages, in this order. */
static void expect(const char *text, const char *const *want, size_t n)
{
    cfg = load(text);
    cr_assert_null(cfg, "config should have been refused");
    if (d.n != n)
        dump();
    cr_assert_eq(d.n, n, "expected %zu messages, got %zu", n, d.n);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(d.msg[i], want[i]);
}

#define EXPECT(text, ...)                                                      \
    do {                                                                       \
        const char *const want_[] = {__VA_ARGS__};                             \
        expect(text, want_, sizeof(want_) / sizeof(want_[0]));                 \
    } while (0)

/* ---- defaults ---------------------------------------------------------- */

Test(config, server_defaults)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    load_ok(ECHO);
    cr_assert_eq(cfg->workers, ncpu < 1 ? 1 : ncpu > 4096 ? 4096 : ncpu);
    cr_assert_null(cfg->pidfile);
    cr_assert_str_eq(cfg->error_log, "stderr");
    cr_assert_eq(cfg->log_level, PF_LOG_INFO);
    cr_assert_null(cfg->user);
    cr_assert_null(cfg->group);
    cr_assert_eq(cfg->daemonize, 0);
    cr_assert_str_eq(cfg->module_path, PF_PKGLIBDIR);
    cr_assert_eq(cfg->shutdown_timeout_ms, 10000);
    cr_assert_eq(cfg->worker_timeout_ms, 0);
    cr_assert_eq(cfg->max_requests, 0);
    cr_assert_eq(cfg->max_requests_jitter, 0);
    cr_assert_eq(cfg->fdstore, FDSTORE_AUTO);
    cr_assert_str_eq(cfg->file, "t.ini");
    cr_assert_str_eq(cfg->dir, CONF_DIR);
}

Test(config, service_defaults)
{
    struct service_conf *s;

    load_ok("; leading comment\n\n" ECHO);
    cr_assert_eq(cfg->nsvc, 1);
    s = &cfg->svc[0];
    cr_assert_str_eq(s->name, "echo");
    cr_assert_eq(s->line, 3);
    cr_assert_str_eq(s->module, "echo");
    cr_assert_eq(s->module_line, 4);
    cr_assert_eq(s->nlisten, 1);
    cr_assert_str_eq(s->listen[0].text, "tcp://127.0.0.1:7007");
    cr_assert_eq(s->listen_line, 5);
    cr_assert_eq(s->mode, MODE_PREFORK);
    cr_assert_eq(s->workers, cfg->workers);
    cr_assert_eq(s->min_spare, 0);
    cr_assert_eq(s->max_spare, 0);
    cr_assert_eq(s->max_workers, 0);
    cr_assert_eq(s->dynamic, 0);
    cr_assert_eq(s->max_children, 64);
    cr_assert_eq(s->threads, 64);
    cr_assert_eq(s->backlog, 511);
    cr_assert_eq(s->reuseport, 0);
    cr_assert_eq(s->defer_accept_ms, 0);
    cr_assert_eq(s->nmkeys, 0);
    cr_assert_null(s->mkeys);
    cr_assert_null(s->mod);
    cr_assert_null(s->mconf);
}

/* ---- every key --------------------------------------------------------- */

Test(config, every_server_key)
{
    load_ok("[server]\n"
            "workers = 3\n"
            "pidfile = /run/prefork.pid\n"
            "error_log = syslog\n"
            "log_level = warn\n"
            "user = www-data\n"
            "group = www-data\n"
            "daemonize = yes\n"
            "module_path = /opt/prefork/modules\n"
            "shutdown_timeout = 250ms\n"
            "worker_timeout = 5m\n"
            "max_requests = 1000\n"
            "max_requests_jitter = 50\n" ECHO);
    cr_assert_eq(cfg->workers, 3);
    cr_assert_str_eq(cfg->pidfile, "/run/prefork.pid");
    cr_assert_str_eq(cfg->error_log, "syslog");
    cr_assert_eq(cfg->log_level, PF_LOG_WARN);
    cr_assert_str_eq(cfg->user, "www-data");
    cr_assert_str_eq(cfg->group, "www-data");
    cr_assert_eq(cfg->daemonize, 1);
    cr_assert_str_eq(cfg->module_path, "/opt/prefork/modules");
    cr_assert_eq(cfg->shutdown_timeout_ms, 250);
    cr_assert_eq(cfg->worker_timeout_ms, 300000);
    cr_assert_eq(cfg->max_requests, 1000);
    cr_assert_eq(cfg->max_requests_jitter, 50);
    cr_assert_eq(cfg->svc[0].workers, 3, "services take [server] workers");
}

Test(config, every_service_key)
{
    struct service_conf *s;

    load_ok("[web]\n"
            "module = /opt/mods/web.so\n"
            "listen = 127.0.0.1:8080, udp://[::1]:53, unix:/run/web.sock\n"
            "mode = threading\n"
            "workers = 2\n"
            "min_spare = 1\n"
            "max_spare = 3\n"
            "max_workers = 10\n"
            "max_children = 8\n"
            "threads = 16\n"
            "backlog = 128\n"
            "reuseport = on\n"
            "defer_accept = 1500ms\n");
    s = &cfg->svc[0];
    cr_assert_str_eq(s->module, "/opt/mods/web.so", "modload resolves it");
    cr_assert_eq(s->nlisten, 3);
    cr_assert_eq(s->listen[0].kind, ADDR_TCP);
    cr_assert_str_eq(s->listen[0].text, "tcp://127.0.0.1:8080");
    cr_assert_eq(s->listen[1].kind, ADDR_UDP);
    cr_assert_str_eq(s->listen[1].text, "udp://[::1]:53");
    cr_assert_eq(s->listen[2].kind, ADDR_UNIX);
    cr_assert_str_eq(s->listen[2].text, "unix:/run/web.sock");
    cr_assert_eq(s->mode, MODE_THREADING);
    cr_assert_eq(s->workers, 2);
    cr_assert_eq(s->min_spare, 1);
    cr_assert_eq(s->max_spare, 3);
    cr_assert_eq(s->max_workers, 10);
    cr_assert_eq(s->dynamic, 1);
    cr_assert_eq(s->max_children, 8);
    cr_assert_eq(s->threads, 16);
    cr_assert_eq(s->backlog, 128);
    cr_assert_eq(s->reuseport, 1);
    cr_assert_eq(s->defer_accept_ms, 1500);
}

Test(config, log_levels)
{
    static const struct {
        const char *name;
        int         level;
    } t[] = {{"debug", PF_LOG_DEBUG},   {"info", PF_LOG_INFO},
             {"notice", PF_LOG_NOTICE}, {"warn", PF_LOG_WARN},
             {"error", PF_LOG_ERROR},   {"WARN", PF_LOG_WARN}};
    char buf[256];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        snprintf(buf, sizeof(buf), "[server]\nlog_level = %s\n" ECHO,
                 t[i].name);
        load_ok(buf);
        cr_assert_eq(cfg->log_level, t[i].level, "%s", t[i].name);
        config_free(cfg);
        cfg = NULL;
    }
}

Test(config, modes)
{
    static const struct {
        const char  *name;
        enum pf_mode mode;
    } t[] = {{"prefork", MODE_PREFORK},
             {"forking", MODE_FORKING},
             {"threading", MODE_THREADING}};
    char buf[256];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        snprintf(buf, sizeof(buf), ECHO "mode = %s\n", t[i].name);
        load_ok(buf);
        cr_assert_eq(cfg->svc[0].mode, t[i].mode);
        cr_assert_str_eq(mode_name(cfg->svc[0].mode), t[i].name);
        config_free(cfg);
        cfg = NULL;
    }
    cr_assert_str_eq(mode_name((enum pf_mode)42), "unknown");
}

Test(config, fdstore_choices)
{
    static const struct {
        const char     *name;
        enum pf_fdstore v;
    } t[] = {{"auto", FDSTORE_AUTO},
             {"yes", FDSTORE_YES},
             {"no", FDSTORE_NO},
             {"No", FDSTORE_NO}};
    char buf[256];

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        snprintf(buf, sizeof(buf), "[server]\nfdstore = %s\n" ECHO, t[i].name);
        load_ok(buf);
        cr_assert_eq(cfg->fdstore, t[i].v, "%s", t[i].name);
        config_free(cfg);
        cfg = NULL;
    }
}

Test(errors, fdstore_takes_three_words)
{
    EXPECT("[server]\nfdstore = on\n" ECHO,
           "t.ini:2: [server] fdstore: invalid value 'on' (use auto, yes, no)");
}

Test(config, server_section_may_come_last)
{
    load_ok(ECHO "[server]\nworkers = 7\n");
    cr_assert_eq(cfg->svc[0].workers, 7);
}

Test(config, services_keep_file_order)
{
    load_ok("[b]\nmodule = echo\nlisten = 127.0.0.1:7001\n"
            "[a]\nmodule = udp_echo\nlisten = udp://127.0.0.1:7001\n"
            "[web-1.x_y]\nmodule = http\nlisten = :8080\nworkers = 1\n");
    cr_assert_eq(cfg->nsvc, 3);
    cr_assert_str_eq(cfg->svc[0].name, "b");
    cr_assert_str_eq(cfg->svc[1].name, "a");
    cr_assert_str_eq(cfg->svc[2].name, "web-1.x_y");
    cr_assert_eq(cfg->svc[2].line, 7);
    cr_assert_str_eq(cfg->svc[2].listen[0].text, "tcp://0.0.0.0:8080");
}

/* ---- module keys ------------------------------------------------------- */

Test(config, module_keys_kept_raw_with_lines)
{
    struct service_conf *s;

    load_ok("[web]\n"
            "module = http\n"
            "root = www   ; the document root\n"
            "listen = 127.0.0.1:8080\n"
            "index: index.htm\n"
            "autoindex = maybe\n"
            "empty =\n");
    s = &cfg->svc[0];
    cr_assert_eq(s->nmkeys, 4);
    cr_assert_str_eq(s->mkeys[0].key, "root");
    cr_assert_str_eq(s->mkeys[0].value, "www", "not resolved, not checked");
    cr_assert_eq(s->mkeys[0].line, 3);
    cr_assert_str_eq(s->mkeys[1].key, "index");
    cr_assert_str_eq(s->mkeys[1].value, "index.htm");
    cr_assert_eq(s->mkeys[1].line, 5);
    cr_assert_str_eq(s->mkeys[2].key, "autoindex");
    cr_assert_str_eq(s->mkeys[2].value, "maybe");
    cr_assert_eq(s->mkeys[2].line, 6);
    cr_assert_str_eq(s->mkeys[3].key, "empty");
    cr_assert_str_eq(s->mkeys[3].value, "");
    cr_assert_eq(s->mkeys[3].line, 7);
}

/* ---- syntax a user may write ------------------------------------------- */

Test(config, comments_and_blanks)
{
    struct service_conf *s;

    load_ok("# hash comment\n"
            "; semicolon comment\n"
            "   \t\n"
            "[echo] ; header comment\n"
            "module = echo # trailing hash comment\n"
            "listen = 127.0.0.1:7007 ; trailing semicolon comment\n"
            "tag = a#b;c\n"
            "  indented = yes\n");
    s = &cfg->svc[0];
    cr_assert_str_eq(s->module, "echo");
    cr_assert_eq(s->nmkeys, 2);
    cr_assert_str_eq(s->mkeys[0].value, "a#b;c", "only after a blank");
    cr_assert_str_eq(s->mkeys[1].key, "indented");
    cr_assert_str_eq(s->mkeys[1].value, "yes");
    cr_assert_eq(s->mkeys[1].line, 8);
}

Test(config, crlf_and_byte_order_mark)
{
    load_ok("\xEF\xBB\xBF[echo]\r\nmodule = echo\r\n"
            "listen = 127.0.0.1:7007\r\nworkers = 2\r\n");
    cr_assert_str_eq(cfg->svc[0].name, "echo");
    cr_assert_str_eq(cfg->svc[0].module, "echo");
    cr_assert_eq(cfg->svc[0].workers, 2);
}

Test(config, last_line_without_newline)
{
    load_ok("[echo]\nmodule = echo\nlisten = 127.0.0.1:7007");
    cr_assert_eq(cfg->svc[0].nlisten, 1);
}

Test(config, line_of_exactly_199_bytes)
{
    char buf[512], value[256];

    /* "k = " plus 195 bytes is the longest line there is. */
    memset(value, 'v', 195);
    value[195] = '\0';
    snprintf(buf, sizeof(buf), ECHO "k = %s\n", value);
    load_ok(buf);
    cr_assert_str_eq(cfg->svc[0].mkeys[0].value, value);

    /* A CR before the newline does not count. */
    snprintf(buf, sizeof(buf), ECHO "k = %s\r\n", value);
    config_free(cfg);
    cfg = load_ok(buf);
}

/* ---- relative paths ---------------------------------------------------- */

Test(config, relative_paths_from_config_dir)
{
    load_ok("[server]\n"
            "pidfile = run/prefork.pid\n"
            "error_log = logs/error.log\n"
            "module_path = ../lib/prefork\n"
            "[echo]\nmodule = echo\n"
            "listen = unix:sock/echo.sock\n");
    cr_assert_str_eq(cfg->pidfile, CONF_DIR "/run/prefork.pid");
    cr_assert_str_eq(cfg->error_log, CONF_DIR "/logs/error.log");
    cr_assert_str_eq(cfg->module_path, CONF_DIR "/../lib/prefork");
    cr_assert_str_eq(cfg->svc[0].listen[0].text,
                     "unix:" CONF_DIR "/sock/echo.sock");
}

Test(config, absolute_paths_kept)
{
    load_ok("[server]\n"
            "pidfile = /run/p.pid\n"
            "error_log = /var/log/prefork.log\n"
            "[echo]\nmodule = echo\nlisten = unix:/run/e.sock\n");
    cr_assert_str_eq(cfg->pidfile, "/run/p.pid");
    cr_assert_str_eq(cfg->error_log, "/var/log/prefork.log");
    cr_assert_str_eq(cfg->svc[0].listen[0].text, "unix:/run/e.sock");
}

Test(config, log_targets_are_not_paths)
{
    load_ok("[server]\nerror_log = stderr\n" ECHO);
    cr_assert_str_eq(cfg->error_log, "stderr");
}

Test(config, file_dir_is_absolute_from_any_cwd)
{
    char *real = realpath(FIXTURES, NULL);
    char  want[PATH_MAX + 64];

    cr_assert_not_null(real);
    cr_assert_eq(chdir(PF_SRCDIR "/tests"), 0, "%s", strerror(errno));
    cfg = config_load("fixtures/good-paths.ini", &d);
    if (cfg == NULL)
        dump();
    cr_assert_not_null(cfg);
    cr_assert_str_eq(cfg->file, "fixtures/good-paths.ini");
    cr_assert_str_eq(cfg->dir, real);
    snprintf(want, sizeof(want), "%s/run/prefork.pid", real);
    cr_assert_str_eq(cfg->pidfile, want);
    snprintf(want, sizeof(want), "%s/logs/error.log", real);
    cr_assert_str_eq(cfg->error_log, want);
    snprintf(want, sizeof(want), "%s/../modules", real);
    cr_assert_str_eq(cfg->module_path, want);
    snprintf(want, sizeof(want), "unix:%s/run/echo.sock", real);
    cr_assert_str_eq(cfg->svc[0].listen[1].text, want);
    cr_assert_str_eq(cfg->svc[0].mkeys[0].key, "idle_timeout");
    free(real);
}

Test(config, file_in_cwd)
{
    char *real = realpath(FIXTURES, NULL);

    cr_assert_eq(chdir(FIXTURES), 0, "%s", strerror(errno));
    cfg = config_load("good-paths.ini", &d);
    cr_assert_not_null(cfg);
    cr_assert_str_eq(cfg->dir, real);
    free(real);
}

Test(config, buffer_without_dir_uses_cwd)
{
    char *cwd;

    cr_assert_eq(chdir(FIXTURES), 0, "%s", strerror(errno));
    cwd = getcwd(NULL, 0);
    cfg = config_load_buffer(ECHO, strlen(ECHO), "x.ini", NULL, &d);
    cr_assert_not_null(cfg);
    cr_assert_str_eq(cfg->dir, cwd);
    free(cwd);
}

Test(config, free_null)
{
    config_free(NULL);
}

/* ---- dynamic pools ----------------------------------------------------- */

Test(config, max_workers_alone_makes_pool_dynamic)
{
    struct service_conf *s;

    load_ok(ECHO "workers = 3\nmax_workers = 12\n");
    s = &cfg->svc[0];
    cr_assert_eq(s->dynamic, 1);
    cr_assert_eq(s->min_spare, 1);
    cr_assert_eq(s->max_spare, 3, "no more idle than the static size");
    cr_assert_eq(s->max_workers, 12);
}

Test(config, cpu_count_clamped_to_max_workers)
{
    /* workers comes from the CPU count; a small max_workers must not make
     * this config fail on a big machine. */
    load_ok(ECHO "max_workers = 1\n");
    cr_assert_eq(cfg->svc[0].workers, 1);
}

Test(config, reload_canary_is_off_unless_set)
{
    load_ok(ECHO);
    cr_assert_eq(cfg->reload_canary_ms, 0);
    config_free(cfg);
    cfg = NULL;
    load_ok("[server]\nreload_canary = 30s\n" ECHO);
    cr_assert_eq(cfg->reload_canary_ms, 30000);
}

Test(config, max_unavailable_is_a_count_or_a_percentage)
{
    load_ok(ECHO "[b]\nmodule = echo\nlisten = 127.0.0.1:7008\n"
                 "max_unavailable = 25%\n"
                 "[c]\nmodule = echo\nlisten = 127.0.0.1:7009\n"
                 "max_unavailable = 3\n");
    cr_assert_eq(cfg->svc[0].max_unavailable.n, 1, "the default is 1");
    cr_assert_eq(cfg->svc[0].max_unavailable.percent, 0);
    cr_assert_eq(cfg->svc[1].max_unavailable.n, 25);
    cr_assert_eq(cfg->svc[1].max_unavailable.percent, 1);
    cr_assert_eq(cfg->svc[2].max_unavailable.n, 3);
    cr_assert_eq(cfg->svc[2].max_unavailable.percent, 0);
}

Test(errors, max_unavailable_values)
{
    EXPECT(ECHO "max_unavailable = 0\n"
                "[b]\nmodule = echo\nlisten = 127.0.0.1:7008\n"
                "max_unavailable = 101%\n"
                "[c]\nmodule = echo\nlisten = 127.0.0.1:7009\n"
                "max_unavailable = half\n",
           "t.ini:4: [echo] max_unavailable: '0' is out of range (1..4096, "
           "or 1%..100%)",
           "t.ini:8: [b] max_unavailable: '101%' is out of range (1..4096, "
           "or 1%..100%)",
           "t.ini:12: [c] max_unavailable: invalid value 'half' (use a "
           "count such as 2, or a percentage such as 25%)");
}

Test(config, canary_probe_takes_escapes)
{
    load_ok(ECHO "canary_probe = GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n\n"
                 "[b]\nmodule = echo\nlisten = 127.0.0.1:7008\n"
                 "canary_probe = a\\x00b\\tc\\\\\n");
    cr_assert_eq(cfg->svc[0].canary_probe.len, 27);
    cr_assert_str_eq(cfg->svc[0].canary_probe.data,
                     "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(cfg->svc[1].canary_probe.len, 6);
    cr_assert_eq(memcmp(cfg->svc[1].canary_probe.data, "a\0b\tc\\", 6), 0);
}

Test(config, canary_probe_is_unset_by_default)
{
    load_ok(ECHO);
    cr_assert_null(cfg->svc[0].canary_probe.data);
    cr_assert_eq(cfg->svc[0].canary_probe.len, 0);
}

Test(errors, canary_probe_values)
{
    EXPECT(ECHO "canary_probe = a\\qb\n"
                "[b]\nmodule = echo\nlisten = 127.0.0.1:7008\n"
                "canary_probe = \\x4\n"
                "[c]\nmodule = udp_echo\nlisten = udp://127.0.0.1:7009\n"
                "canary_probe = hello\n",
           "t.ini:4: [echo] canary_probe: bad escape at column 2 (use \\r "
           "\\n \\t \\\\ or \\xHH)",
           "t.ini:8: [b] canary_probe: bad escape at column 1 (use \\r "
           "\\n \\t \\\\ or \\xHH)",
           "t.ini:12: [c] canary_probe is for TCP and UNIX stream listeners; "
           "this service has only UDP ones");
}

Test(errors, proxy_protocol_needs_a_stream_listener)
{
    load_ok("[u]\nmodule = udp_echo\nlisten = udp://127.0.0.1:7009\n"
            "proxy_protocol = no\n");
    config_free(cfg);
    cfg = NULL;
    EXPECT("[u]\nmodule = udp_echo\nlisten = udp://127.0.0.1:7009\n"
           "proxy_protocol = yes\n",
           "t.ini:4: [u] proxy_protocol is for TCP and UNIX stream listeners; "
           "this service has only UDP ones");
}

Test(errors, server_workers_above_max_workers)
{
    EXPECT("[server]\nworkers = 4\n" ECHO "max_workers = 2\n",
           "t.ini:6: [echo] workers (4, from [server]) must not exceed "
           "max_workers (2)");
}

Test(errors, max_spare_only_needs_max_workers)
{
    EXPECT(ECHO "max_spare = 4\n",
           "t.ini:4: [echo] max_workers is required when min_spare/max_spare "
           "are set");
}

Test(errors, refused_bound_is_not_compared)
{
    EXPECT(ECHO "workers = 2\nmax_workers = none\nmax_spare = 0\n",
           "t.ini:5: [echo] max_workers: invalid integer 'none'",
           "t.ini:6: [echo] max_spare: 0 is out of range (1..4096)");
}

/* ---- errors ------------------------------------------------------------ */

Test(errors, missing_file)
{
    cfg = config_load("/nonexistent-prefork-test/x.ini", &d);
    cr_assert_null(cfg);
    cr_assert_eq(d.n, 1);
    cr_assert_str_eq(d.msg[0], "/nonexistent-prefork-test/x.ini: cannot "
                               "open: No such file or directory");
}

Test(errors, directory_is_not_a_file)
{
    cfg = config_load(FIXTURES, &d);
    cr_assert_null(cfg);
    cr_assert_eq(d.n, 1);
    cr_assert_str_eq(d.msg[0], FIXTURES ": cannot read: Is a directory");
}

Test(errors, empty_file_has_no_service)
{
    EXPECT("", "t.ini: no service defined (add a section such as [web] with "
               "'module' and 'listen')");
}

Test(errors, null_buffer_has_no_service)
{
    cfg = config_load_buffer(NULL, 0, "t.ini", CONF_DIR, &d);
    cr_assert_null(cfg);
    cr_assert_eq(d.n, 1);
}

Test(errors, overlong_lines)
{
    char buf[1024], value[512];

    memset(value, 'v', 400);
    value[400] = '\0';
    /* 196 bytes of value make a 200-byte line. */
    snprintf(buf, sizeof(buf), ECHO "a = %.196s\nb = %s\nc = ok\n", value,
             value);
    EXPECT(buf, "t.ini:4: line too long (at most 199 bytes)",
           "t.ini:5: line too long (at most 199 bytes)");
}

Test(errors, overlong_header_skips_its_keys)
{
    char buf[1024], name[300];

    memset(name, 's', 250);
    name[250] = '\0';
    snprintf(buf, sizeof(buf), ECHO "[%s]\nmodule = x\nlisten = bad\n", name);
    EXPECT(buf, "t.ini:4: line too long (at most 199 bytes)");
}

Test(errors, nul_byte)
{
    static const char text[] = ECHO "x = a\0b\ny = 1\n";

    cfg = config_load_buffer(text, sizeof(text) - 1, "t.ini", CONF_DIR, &d);
    cr_assert_null(cfg);
    cr_assert_eq(d.n, 1);
    cr_assert_str_eq(d.msg[0], "t.ini:4: line contains a NUL byte");
}

Test(errors, all_reported_in_line_order)
{
    /* The missing listen is found only at the end of the file, but is
     * listed at its header line, before the later problems. */
    EXPECT("[web]\n"
           "module = http\n"
           "workers = many\n"
           "oops\n"
           "[server]\n"
           "bogus = 1\n"
           "[web]\n",
           "t.ini:1: [web] missing required key 'listen'",
           "t.ini:3: [web] workers: invalid integer 'many'",
           "t.ini:4: expected 'key = value' or '[section]'",
           "t.ini:6: unknown key 'bogus' in [server]",
           "t.ini:7: duplicate section [web] (first on line 1)");
}

Test(errors, earlier_messages_are_kept)
{
    diag_add(&d, NULL, 0, "before");
    cfg = load("[server]\nx = 1\ny = 2\n");
    cr_assert_null(cfg);
    cr_assert_eq(d.n, 4);
    cr_assert_str_eq(d.msg[0], "before");
    cr_assert_str_eq(d.msg[1], "t.ini:2: unknown key 'x' in [server]");
    cr_assert_str_eq(d.msg[2], "t.ini:3: unknown key 'y' in [server]");
    cr_assert_str_eq(d.msg[3], "t.ini: no service defined (add a section "
                               "such as [web] with 'module' and 'listen')");
}

Test(errors, bad_listen_names_key_and_line)
{
    static const char *const bad[] = {"127.0.0.1", "127.0.0.1:0", "ftp://x:1",
                                      "unix:", "1.2.3.4:80,"};
    char                     buf[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(buf, sizeof(buf), "[web]\nmodule = echo\nlisten = %s\n",
                 bad[i]);
        cfg = load(buf);
        cr_assert_null(cfg, "'%s' accepted", bad[i]);
        cr_assert_eq(d.n, 1, "'%s'", bad[i]);
        cr_assert(strncmp(d.msg[0], "t.ini:3: [web] listen: ", 23) == 0, "%s",
                  d.msg[0]);
        diag_free(&d);
    }
}

Test(errors, empty_listen)
{
    EXPECT("[web]\nmodule = echo\nlisten =\n",
           "t.ini:3: [web] listen: empty value");
}

Test(errors, empty_module)
{
    EXPECT("[web]\nmodule =\nlisten = 127.0.0.1:80\n",
           "t.ini:2: [web] module: empty value");
}

Test(errors, duplicate_listen_in_one_service)
{
    cfg = load("[web]\nmodule = echo\n"
               "listen = 127.0.0.1:80, tcp://127.0.0.1:80\n");
    cr_assert_null(cfg);
    cr_assert_eq(d.n, 1);
    cr_assert(strstr(d.msg[0], "t.ini:3: [web] listen: ") == d.msg[0]);
    cr_assert(strstr(d.msg[0], "listed twice") != NULL, "%s", d.msg[0]);
}

Test(errors, tcp_and_udp_may_share_a_port)
{
    load_ok("[a]\nmodule = echo\nlisten = 127.0.0.1:7007\n"
            "[b]\nmodule = udp_echo\nlisten = udp://127.0.0.1:7007\n");
    cr_assert_eq(cfg->nsvc, 2);
}

Test(errors, bounds_are_named)
{
    EXPECT("[server]\nworkers = 4097\nshutdown_timeout = 2d\n"
           "worker_timeout = 86400001ms\n" ECHO "backlog = 0\n",
           "t.ini:2: [server] workers: 4097 is out of range (1..4096)",
           "t.ini:3: [server] shutdown_timeout: invalid duration '2d' (use "
           "250ms, 10s, 5m, 1h)",
           "t.ini:4: [server] worker_timeout: '86400001ms' is out of range "
           "(0s..24h)",
           "t.ini:8: [echo] backlog: 0 is out of range (1..65535)");
}

Test(errors, section_names)
{
    EXPECT("[a b]\n[a/b]\n[ok]\nmodule = echo\nlisten = 127.0.0.1:1\n",
           "t.ini:1: invalid section name 'a b' (use letters, digits, '_', "
           "'-' and '.')",
           "t.ini:2: invalid section name 'a/b' (use letters, digits, '_', "
           "'-' and '.')");
}

Test(errors, key_without_name)
{
    EXPECT(ECHO "= 4\n: 5\n", "t.ini:4: expected 'key = value' or '[section]'",
           "t.ini:5: expected 'key = value' or '[section]'");
}

/* ---- fixtures: bad-NAME.ini must give exactly bad-NAME.err ------------- */

static void check_fixture(const char *name)
{
    char   ini[PATH_MAX], err[PATH_MAX], want[PATH_MAX + 8192];
    char   text[8192], *line, *next;
    FILE  *f;
    size_t n = 0, len;

    snprintf(ini, sizeof(ini), FIXTURES "/%s.ini", name);
    snprintf(err, sizeof(err), FIXTURES "/%s.err", name);
    f = fopen(err, "r");
    cr_assert_not_null(f, "%s: %s", err, strerror(errno));
    len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[len] = '\0';

    cfg = config_load(ini, &d);
    cr_assert_null(cfg, "%s was accepted", ini);
    for (line = text; *line != '\0'; line = next) {
        next = line + strcspn(line, "\n");
        if (*next == '\n')
            *next++ = '\0';
        snprintf(want, sizeof(want), FIXTURES "/%s", line);
        if (n >= d.n) {
            dump();
            cr_assert_fail("%s: missing message: %s", name, want);
        }
        cr_assert_str_eq(d.msg[n], want, "%s: message %zu", name, n + 1);
        n++;
    }
    if (n != d.n)
        dump();
    cr_assert_eq(n, d.n, "%s: %zu messages expected, %zu reported", name, n,
                 d.n);
    diag_free(&d);
}

#define FIXTURE(test, file)                                                    \
    Test(fixtures, test)                                                       \
    {                                                                          \
        check_fixture(file);                                                   \
    }

/* clang-format off */
FIXTURE(unknown_key, "bad-unknown-key")
FIXTURE(syntax, "bad-syntax")
FIXTURE(values, "bad-values")
FIXTURE(missing, "bad-missing")
FIXTURE(duplicate, "bad-duplicate")
FIXTURE(outside, "bad-outside")
FIXTURE(dynamic, "bad-dynamic")
FIXTURE(no_service, "bad-no-service")
FIXTURE(long_line, "bad-long-line")
FIXTURE(slots, "bad-slots")
/* clang-format on */

/* Any bad-*.ini dropped into the directory is checked too. */
Test(fixtures, every_bad_file_has_expectations)
{
    DIR           *dir = opendir(FIXTURES);
    struct dirent *e;
    char           names[64][256];
    size_t         n = 0;

    cr_assert_not_null(dir);
    while ((e = readdir(dir)) != NULL && n < 64) {
        size_t len = strlen(e->d_name);

        if (strncmp(e->d_name, "bad-", 4) == 0 && len > 8 &&
            strcmp(e->d_name + len - 4, ".ini") == 0)
            snprintf(names[n++], sizeof(names[0]), "%.*s", (int)(len - 4),
                     e->d_name);
    }
    closedir(dir);
    cr_assert_geq(n, 9);
    for (size_t i = 0; i < n; i++)
        check_fixture(names[i]);
}
