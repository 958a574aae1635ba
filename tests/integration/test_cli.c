/*
 * test_cli.c -- the command line (SPEC section 2) and how a bad
 * configuration is reported: `prefork: FILE:LINE: message` on stderr and
 * exit status 1, with every error at once, both for -t and for a start
 * that must not happen.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <prefork/module.h>

#include "harness.h"

#define LO "127.0.0.1"

static struct h_server srv;
static int             port;

/* Every test gets a temporary directory and a free port. */
static void setup(void)
{
    cr_assert_eq(h_init(&srv), 0);
    port = h_free_port(LO, SOCK_STREAM);
    cr_assert(port > 0, "no free port");
}

TestSuite(cli, .init = setup, .fini = h_teardown);

/* Write the config (after the harness's [server] block). */
static void config(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void config(const char *fmt, ...)
{
    char   *text;
    va_list ap;

    va_start(ap, fmt);
    cr_assert(vasprintf(&text, fmt, ap) >= 0);
    va_end(ap);
    cr_assert_eq(h_config(&srv, "%s", text), 0);
    free(text);
}

/* Run prefork with up to two arguments after `-c CONF`. */
static int run(struct h_result *r, const char *a1, const char *a2)
{
    const char *argv[] = {H_PREFORK, "-c", srv.conf, a1, a2, NULL};

    return h_run(argv, 5000, r);
}

/* Both `-t` and a real start refuse the config with exit 1 and
 * "prefork: CONF:LINE: ...msg..." on stderr, LINE being the first line of
 * the config containing at.  Nothing is left running. */
static void expect_error(const char *at, const char *msg)
{
    int             line = h_line_of(srv.conf, at);
    char            prefix[256];
    struct h_result r;
    int             code;

    cr_assert(line > 0, "test bug: '%s' not in the config", at);
    snprintf(prefix, sizeof prefix, "prefork: %s:%d: ", srv.conf, line);
    for (int start = 0; start < 2; start++) {
        const char *how = start ? "start" : "-t";

        code = run(&r, start ? "-f" : "-t", NULL);
        cr_assert_eq(code, 1, "%s: exit %d, not 1\nstderr: %s", how, code,
                     r.err);
        cr_assert(strstr(r.err, prefix) != NULL, "%s: no \"%s\" on stderr: %s",
                  how, prefix, r.err);
        cr_assert(strstr(strstr(r.err, prefix), msg) != NULL,
                  "%s: the error at line %d does not mention \"%s\": %s", how,
                  line, msg, r.err);
        cr_assert(strstr(r.out, "configuration OK") == NULL);
        h_result_free(&r);
    }
    cr_assert(access(srv.pidfile, F_OK) != 0,
              "a refused config left a pidfile");
}

Test(cli, good_config_passes_t, .timeout = 15)
{
    struct h_result r;
    int             code;

    config("[echo]\nmodule = echo\nlisten = %s:%d\n"
           "[udp]\nmodule = udp_echo\nlisten = udp://%s:%d\n"
           "[t]\nmodule = %s\nlisten = %s:%d\nsleep = 1s\n",
           LO, port, LO, port, H_TESTMOD, LO, h_free_port(LO, SOCK_STREAM));
    code = run(&r, "-t", NULL);
    cr_assert_eq(code, 0, "exit %d\nstderr: %s", code, r.err);
    cr_assert(strstr(r.out, "configuration OK") != NULL, "stdout: %s", r.out);
    h_result_free(&r);
}

Test(cli, unknown_server_key, .timeout = 20)
{
    config("bogus_key = 1\n[echo]\nmodule = echo\nlisten = %s:%d\n", LO, port);
    expect_error("bogus_key", "bogus_key");
}

Test(cli, bad_duration, .timeout = 20)
{
    config("shutdown_timeout = 10x\n[echo]\nmodule = echo\nlisten = %s:%d\n",
           LO, port);
    expect_error("shutdown_timeout", "10x");
}

Test(cli, missing_module, .timeout = 20)
{
    config("[nomod]\nlisten = %s:%d\n", LO, port);
    expect_error("[nomod]", "module");
}

Test(cli, missing_listen, .timeout = 20)
{
    config("[nolisten]\nmodule = echo\n");
    expect_error("[nolisten]", "listen");
}

Test(cli, unknown_module_key, .timeout = 20)
{
    config("[echo]\nmodule = echo\nlisten = %s:%d\ncolour = red\n", LO, port);
    expect_error("colour", "colour");
}

Test(cli, bad_module_key_value, .timeout = 20)
{
    config("[echo]\nmodule = echo\nlisten = %s:%d\nidle_timeout = forever\n",
           LO, port);
    expect_error("idle_timeout", "forever");
}

Test(cli, module_check_rejects_key, .timeout = 20)
{
    config("[t]\nmodule = %s\nlisten = %s:%d\nreject = not today\n", H_TESTMOD,
           LO, port);
    expect_error("reject =", "rejected: not today");
}

Test(cli, module_for_other_abi_refused, .timeout = 20)
{
    char version[16];

    config("[b]\nmodule = %s\nlisten = %s:%d\n", H_BADABI, LO, port);
    snprintf(version, sizeof version, "%d.", PF_ABI_MAJOR + 1);
    expect_error("badabi.so", "ABI");
    expect_error("badabi.so", version);
}

Test(cli, object_without_descriptor_refused, .timeout = 20)
{
    config("[n]\nmodule = %s\nlisten = %s:%d\n", H_NOSYM, LO, port);
    expect_error("nosym.so", "prefork_module");
}

Test(cli, missing_module_file, .timeout = 20)
{
    config("[m]\nmodule = %s/nothere.so\nlisten = %s:%d\n", srv.dir, LO, port);
    expect_error("nothere.so", "nothere.so");
}

Test(cli, unknown_module_name, .timeout = 20)
{
    config("[m]\nmodule = nosuchmodule\nlisten = %s:%d\n", LO, port);
    expect_error("nosuchmodule", "nosuchmodule");
}

/* Expect "prefork: CONF:LINE: " on r->err for the line of each of keys. */
static void expect_lines(const struct h_result *r, const char *const *keys,
                         size_t n)
{
    char want[256];

    for (size_t i = 0; i < n; i++) {
        snprintf(want, sizeof want, "prefork: %s:%d: ", srv.conf,
                 h_line_of(srv.conf, keys[i]));
        cr_expect(strstr(r->err, want) != NULL, "no \"%s\" (%s) in: %s", want,
                  keys[i], r->err);
    }
}

Test(cli, every_config_error_reported_at_once, .timeout = 20)
{
    static const char *const keys[] = {"bogus_key", "workers = lots",
                                       "[nolisten]", "mode = sideways"};
    struct h_result          r;

    config("bogus_key = 1\nworkers = lots\n[nolisten]\nmodule = echo\n"
           "[echo]\nmodule = echo\nlisten = %s:%d\nmode = sideways\n",
           LO, port);
    cr_assert_eq(run(&r, "-t", NULL), 1);
    expect_lines(&r, keys, sizeof keys / sizeof keys[0]);
    h_result_free(&r);
}

/* A [server] typo does not hide a module's complaint: the user fixes both
 * in one pass. */
Test(cli, config_and_module_errors_reported_together, .timeout = 20)
{
    static const char *const keys[] = {"bogus_key", "colour"};
    struct h_result          r;

    config("bogus_key = 1\n"
           "[echo]\nmodule = echo\nlisten = %s:%d\ncolour = red\n",
           LO, port);
    cr_assert_eq(run(&r, "-t", NULL), 1);
    expect_lines(&r, keys, sizeof keys / sizeof keys[0]);
    h_result_free(&r);
}

Test(cli, t_never_binds, .timeout = 20)
{
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct h_result    r;
    char               sock[160];
    int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int                code;

    in.sin_port = htons((uint16_t)port);
    cr_assert(fd >= 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&in, sizeof in), 0);
    cr_assert_eq(listen(fd, 1), 0);
    snprintf(sock, sizeof sock, "%s/t.sock", srv.dir);
    config("[echo]\nmodule = echo\nlisten = %s:%d, unix:%s\n", LO, port, sock);
    code = run(&r, "-t", NULL);
    cr_assert_eq(code, 0, "-t with the port in use: exit %d\nstderr: %s", code,
                 r.err);
    cr_assert(strstr(r.out, "configuration OK") != NULL);
    cr_assert(access(sock, F_OK) != 0, "-t created the UNIX socket");
    cr_assert(access(srv.pidfile, F_OK) != 0, "-t wrote the pidfile");
    h_result_free(&r);
    /* The same config really starting cannot have the port. */
    code = run(&r, "-f", NULL);
    cr_assert_eq(code, 1, "starting on a port in use: exit %d", code);
    h_result_free(&r);
    close(fd);
}

Test(cli, missing_config_file, .timeout = 15)
{
    struct h_result r;
    char            path[160];
    const char     *argv[] = {H_PREFORK, "-t", "-c", path, NULL};

    snprintf(path, sizeof path, "%s/absent.ini", srv.dir);
    cr_assert_eq(h_run(argv, 5000, &r), 1);
    cr_assert(strstr(r.err, path) != NULL, "stderr does not name %s: %s", path,
              r.err);
    h_result_free(&r);
}

Test(cli, version, .timeout = 15)
{
    const char     *argv[] = {H_PREFORK, "-V", NULL};
    struct h_result r;
    char           *p;

    cr_assert_eq(h_run(argv, 5000, &r), 0);
    p = r.out;
    while (*p != '\0' && !(p[0] >= '0' && p[0] <= '9' && p[1] == '.'))
        p++;
    cr_assert(*p != '\0', "no version number in: %s", r.out);
    h_result_free(&r);
}

Test(cli, help, .timeout = 15)
{
    const char     *argv[] = {H_PREFORK, "-h", NULL};
    struct h_result r;

    cr_assert_eq(h_run(argv, 5000, &r), 0);
    cr_assert(strcasestr(r.out, "usage") != NULL && strstr(r.out, "-c") &&
                  strstr(r.out, "-s"),
              "no usage on stdout: %s", r.out);
    h_result_free(&r);
}

Test(cli, unknown_flag_is_usage_error, .timeout = 15)
{
    const char     *argv[] = {H_PREFORK, "-Z", NULL};
    struct h_result r;

    cr_assert_eq(h_run(argv, 5000, &r), 2);
    cr_assert(strcasestr(r.err, "usage") != NULL, "no usage on stderr: %s",
              r.err);
    h_result_free(&r);
}

Test(cli, bad_s_argument_is_usage_error, .timeout = 15)
{
    struct h_result r;

    config("[echo]\nmodule = echo\nlisten = %s:%d\n", LO, port);
    cr_assert_eq(run(&r, "-s", "explode"), 2, "stderr: %s", r.err);
    h_result_free(&r);
}

Test(cli, s_without_running_master_fails, .timeout = 15)
{
    struct h_result r;

    config("[echo]\nmodule = echo\nlisten = %s:%d\n", LO, port);
    cr_assert_eq(run(&r, "-s", "reload"), 1, "stderr: %s", r.err);
    cr_assert(strstr(r.err, srv.pidfile) != NULL,
              "the error does not name the pidfile: %s", r.err);
    h_result_free(&r);
}

/* A pool the scoreboard has no room for is refused by -t, as a start
 * would refuse it, rather than retried forever once started. */
Test(cli, pool_larger_than_the_scoreboard, .timeout = 20)
{
    config("[echo]\nmodule = echo\nlisten = %s:%d\nworkers = 2000\n", LO, port);
    expect_error("workers = 2000", "more than the scoreboard holds");
}

/* A key that does nothing where it is gets a warning with its line; the
 * configuration is still OK. */
Test(cli, t_warns_of_keys_that_do_nothing, .timeout = 15)
{
    struct h_result r;
    char            want[512];
    int             code;

    config("[echo]\nmodule = echo\nlisten = %s:%d\nmax_children = 8\n", LO,
           port);
    code = run(&r, "-t", NULL);
    cr_assert_eq(code, 0, "exit %d\nstderr: %s", code, r.err);
    cr_assert(strstr(r.out, "configuration OK") != NULL, "stdout: %s", r.out);
    snprintf(want, sizeof want,
             "prefork: %s:%d: warning: [echo] max_children does nothing "
             "unless mode = forking\n",
             srv.conf, h_line_of(srv.conf, "max_children"));
    cr_assert(strstr(r.err, want) != NULL, "no \"%s\" on stderr: %s", want,
              r.err);
    h_result_free(&r);
}

/* An unknown user or group is found once the file is read; the error
 * still has the line of its key. */
Test(cli, unknown_user_has_its_line, .timeout = 20)
{
    config("user = pf_no_such_user\n[echo]\nmodule = echo\nlisten = %s:%d\n",
           LO, port);
    expect_error("user = pf_no_such_user", "no such user 'pf_no_such_user'");
}

Test(cli, unknown_group_has_its_line, .timeout = 20)
{
    config("group = pf_no_such_group\n[echo]\nmodule = echo\nlisten = %s:%d\n",
           LO, port);
    expect_error("group = pf_no_such_group", "no such group");
}

/* `module = echo` run from the build tree without module_path: the error
 * says which module_path would find it. */
Test(cli, module_not_found_from_a_build_tree_hints_module_path, .timeout = 20)
{
    struct h_result r;
    char            want[512];

    cr_assert_eq(h_write_file(srv.conf,
                              "[server]\npidfile = %s\nmodule_path = %s\n"
                              "[echo]\nmodule = echo\nlisten = %s:%d\n",
                              srv.pidfile, srv.dir, LO, port),
                 0);
    cr_assert_eq(run(&r, "-t", NULL), 1, "stderr: %s", r.err);
    snprintf(want, sizeof want, "set module_path = %s/src/modules/.libs",
             PF_BUILDDIR);
    cr_assert(strstr(r.err, want) != NULL, "no \"%s\" in: %s", want, r.err);
    h_result_free(&r);
}

/* --- -s with a running master --------------------------------------------- */

/* Run prefork -c CONF with up to four more arguments. */
static int run4(struct h_result *r, const char *a1, const char *a2,
                const char *a3, const char *a4)
{
    const char *argv[] = {H_PREFORK, "-c", srv.conf, a1, a2, a3, a4, NULL};

    return h_run(argv, 15000, r);
}

static void start_echo(void)
{
    config("[echo]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n", LO, port);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
}

/* `-s reload` of a file with errors prints every one, sends no HUP and
 * exits 1; `-s status` then shows the refusal. */
Test(cli, s_reload_checks_the_file_first, .timeout = 30)
{
    static const char *const keys[] = {"bogus_key", "workers = lots"};
    struct h_result          r;
    int                      code;

    start_echo();
    config("bogus_key = 1\nworkers = lots\n[echo]\nmodule = echo\n"
           "listen = %s:%d\nworkers = 1\n",
           LO, port);
    code = run4(&r, "-s", "reload", NULL, NULL);
    cr_assert_eq(code, 1, "exit %d, not 1: %s", code, r.err);
    expect_lines(&r, keys, 2);
    cr_assert(strstr(r.err, "reload not sent") != NULL, "stderr: %s", r.err);
    h_result_free(&r);
    h_sleep_ms(300);
    cr_assert(!h_file_contains(srv.log, "reloading"),
              "the master got a HUP all the same%s", h_diag(&srv));
    code = run4(&r, "-s", "status", NULL, NULL);
    cr_assert_eq(code, 0, "-s status: exit %d: %s", code, r.err);
    cr_assert(strstr(r.out, "\"refused_reload\":{\"time\":") != NULL &&
                  strstr(r.out, "\"by\":\"prefork -s reload\",\"errors\":2,") !=
                      NULL &&
                  strstr(r.out, "bogus_key") != NULL,
              "the status does not show the refused reload: %s", r.out);
    h_result_free(&r);
    cr_assert(h_alive(&srv));
    cr_assert_eq(h_echo_once(LO, port, 3000), 0);
}

/* A good file is reloaded as before. */
Test(cli, s_reload_of_a_good_file_is_sent, .timeout = 30)
{
    struct h_result r;

    start_echo();
    cr_assert_eq(run4(&r, "-s", "reload", NULL, NULL), 0, "%s", r.err);
    h_result_free(&r);
    cr_assert(H_WAIT(5000, h_file_contains(srv.log, "configuration reloaded")),
              "no reload%s", h_diag(&srv));
}

/* `-s status` and `-s quit -w` with an error elsewhere in the file: a
 * warning, and the master found through its pidfile; -w returns once the
 * master has gone. */
Test(cli, s_quit_and_status_work_with_errors_elsewhere, .timeout = 30)
{
    struct h_result r;
    int             code;

    start_echo();
    config("workers = two\n[echo]\nmodule = echo\nlisten = %s:%d\n", LO, port);
    code = run4(&r, "-s", "status", NULL, NULL);
    cr_assert_eq(code, 0, "-s status: exit %d: %s", code, r.err);
    cr_assert(strstr(r.out, "\"master\":{\"pid\":") != NULL, "%s", r.out);
    cr_assert(strstr(r.err, "workers") != NULL &&
                  strstr(r.err, "warning: ") != NULL,
              "no warning about the errors: %s", r.err);
    h_result_free(&r);
    code = run4(&r, "-s", "quit", "-w", "10");
    cr_assert_eq(code, 0, "-s quit -w 10: exit %d: %s", code, r.err);
    h_result_free(&r);
    /* -w returned: the master has exited (it is only waiting to be
     * reaped by this process). */
    cr_assert_eq(h_wait_exit(&srv, 200), 0, "the master is still running");
}

Test(cli, s_stop_works_with_errors_elsewhere, .timeout = 30)
{
    struct h_result r;
    int             code;

    start_echo();
    config("workers = two\n[echo]\nmodule = echo\nlisten = %s:%d\n", LO, port);
    code = run4(&r, "-s", "stop", "-w", "10");
    cr_assert_eq(code, 0, "-s stop -w 10: exit %d: %s", code, r.err);
    h_result_free(&r);
    cr_assert_eq(h_wait_exit(&srv, 200), 0, "the master is still running");
}

/* -w goes with stop and quit only. */
Test(cli, w_without_stop_or_quit_is_a_usage_error, .timeout = 15)
{
    struct h_result r;

    config("[echo]\nmodule = echo\nlisten = %s:%d\n", LO, port);
    cr_assert_eq(run4(&r, "-s", "reload", "-w", "5"), 2, "%s", r.err);
    h_result_free(&r);
    cr_assert_eq(run4(&r, "-s", "quit", "-w", "soon"), 2, "%s", r.err);
    h_result_free(&r);
}
