/*
 * test_sandbox.c -- workers confine themselves (sandbox in prefork.ini(5)):
 * a module and a Python handler that try what a module taken over would
 * (tests/modules/sbmod.c, handlers.SandboxProbe) are refused, and ended
 * when they try to run a program, with a death record naming the call;
 * the sandbox_* keys widen what they may do; SimpleHTTPRequestHandler
 * under a daemon (its directory is /) no longer serves /etc/passwd;
 * `sandbox = require` refuses to start where Landlock is missing.
 *
 * Landlock is made missing for a test the way a kernel without it looks:
 * the test's child installs a seccomp filter that makes
 * landlock_create_ruleset fail with ENOSYS, then runs prefork, which
 * inherits the filter.  Tests that need a protection the kernel here
 * lacks are skipped, saying so.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define LO          "127.0.0.1"
#define SBMOD       PF_BUILDDIR "/tests/modules/.libs/sbmod.so"
#define PY_MODULE   H_MODDIR "/python.so"
#define PY_HANDLERS PF_SRCDIR "/tests/python"

static struct h_server srv;
static char            deaths[160];
static char            outside[64]; /* a path no rule allows */

static int tcp_port(void)
{
    int port = h_free_port(LO, SOCK_STREAM);

    cr_assert(port > 0, "no free port");
    return port;
}

/* The kernel's Landlock ABI, as the server will see it. */
static int landlock_abi_here(void)
{
    long r = syscall(444 /* landlock_create_ruleset */, NULL, 0, 1);

    return r > 0 ? (int)r : 0;
}

static int io_ms(void)
{
    return getenv("PF_VALGRIND") != NULL ? 20000 : 5000;
}

/* Start a service [sb] of module on port with keys, an echo service on
 * echo_port (0: none) and a death_log, in srv (h_init done). */
static void start_sb(const char *module, int port, const char *keys,
                     int echo_port)
{
    char echo[128] = "";

    snprintf(deaths, sizeof(deaths), "%s/deaths.log", srv.dir);
    if (echo_port > 0)
        snprintf(echo, sizeof(echo),
                 "[echo]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n", LO,
                 echo_port);
    cr_assert_eq(h_config(&srv,
                          "death_log = %s\n[sb]\nmodule = %s\nlisten = %s:%d\n"
                          "workers = 1\n%s\n%s",
                          deaths, module, LO, port, keys, echo),
                 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
}

/* One command on an open connection; its answer line into out. */
static void ask_on(int fd, const char *cmd, char *out, size_t len)
{
    char line[256];

    snprintf(line, sizeof(line), "%s\n", cmd);
    cr_assert_eq(h_send_all(fd, line, strlen(line), io_ms()), 0);
    cr_assert(h_recv_line(fd, out, len, io_ms()) >= 0, "no answer to '%s'%s",
              cmd, h_diag(&srv));
}

/* One command on a new connection. */
static void ask(int port, const char *cmd, char *out, size_t len)
{
    int fd = h_connect(LO, port, io_ms());

    cr_assert(fd >= 0, "connect: %s", strerror(errno));
    ask_on(fd, cmd, out, len);
    close(fd);
}

static void expect_answer(int port, const char *cmd, const char *want)
{
    char got[256];

    ask(port, cmd, got, sizeof(got));
    cr_expect_str_eq(got, want, "'%s' answered %s, not %s%s", cmd, got, want,
                     h_diag(&srv));
}

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

/* The handler tries everything the issue lists; each is refused with
 * EACCES and the worker lives on. */
static void refused(const char *module, const char *keys)
{
    int   port = tcp_port(), echo = tcp_port(), fd;
    char  pid1[32], pid2[32], got[256], cmd[256];
    pid_t w;

    /* Not the error log's directory: that one is writable (USR1). */
    snprintf(outside, sizeof(outside), "/tmp/pf-sandbox-%d", (int)getpid());
    rmdir(outside);

    cr_assert_eq(h_init(&srv), 0);
    start_sb(module, port, keys, echo);
    cr_assert(H_WAIT(io_ms(), h_workers(&srv, &w, 1) >= 1));
    fd = h_connect(LO, port, io_ms());
    cr_assert(fd >= 0);
    ask_on(fd, "read /etc/passwd", got, sizeof(got));
    cr_expect_str_eq(got, "EACCES", "read /etc/passwd: %s", got);
    snprintf(cmd, sizeof(cmd), "write %s", outside);
    ask_on(fd, cmd, got, sizeof(got));
    cr_expect_str_eq(got, "EACCES", "write %s: %s", outside, got);
    if (landlock_abi_here() >= 4) {
        snprintf(cmd, sizeof(cmd), "connect %d", echo);
        ask_on(fd, cmd, got, sizeof(got));
        cr_expect_str_eq(got, "EACCES", "connect to [echo]: %s", got);
    }
    close(fd);
    cr_expect(access(outside, F_OK) != 0, "%s was made", outside);
    unlink(outside);
    /* The worker that was refused serves on. */
    ask(port, "pid", pid1, sizeof(pid1));
    ask(port, "pid", pid2, sizeof(pid2));
    cr_expect_str_eq(pid1, pid2);
    cr_expect_eq(count_lines(deaths), 0, "a worker died: %s",
                 h_read_file(deaths));
}

/* execve ends the worker: one record naming it; a new worker serves. */
static void exec_ends_worker(const char *module, const char *keys)
{
    int  port = tcp_port(), fd;
    char before[32], after[32], *rec;

    cr_assert_eq(h_init(&srv), 0);
    start_sb(module, port, keys, 0);
    ask(port, "pid", before, sizeof(before));
    fd = h_connect(LO, port, io_ms());
    cr_assert(fd >= 0);
    cr_assert_eq(h_send_all(fd, "exec\n", 5, io_ms()), 0);
    cr_expect_eq(h_wait_closed(fd, io_ms()), 0, "the connection stayed open");
    close(fd);
    cr_assert(H_WAIT(io_ms(), count_lines(deaths) >= 1), "no death record%s",
              h_diag(&srv));
    h_sleep_ms(300);
    cr_expect_eq(count_lines(deaths), 1, "not one record: %s",
                 h_read_file(deaths));
    rec = h_read_file(deaths);
    cr_assert_not_null(rec);
    cr_expect(strstr(rec, "\"reason\":\"sandbox\",\"syscall\":\"execve\"") !=
                  NULL,
              "%s", rec);
    free(rec);
    ask(port, "pid", after, sizeof(after));
    cr_expect_str_neq(before, after, "the same worker answered");
}

/* With the keys widened, the same handler succeeds. */
static void widened(const char *module)
{
    int  port = tcp_port(), echo = tcp_port();
    char keys[512], cmd[256], dir[] = "/tmp/pf-sandbox-w-XXXXXX";

    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(h_init(&srv), 0);
    snprintf(keys, sizeof(keys),
             "sandbox_read = /etc\nsandbox_write = %s\nsandbox_exec = yes\n"
             "sandbox_connect = 127.0.0.1:%d\n%s",
             dir, echo,
             strcmp(module, "python") == 0
                 ? "handler = handlers:SandboxProbe\npython_path = " PY_HANDLERS
                   "\n"
                 : "");
    start_sb(module, port, keys, echo);
    expect_answer(port, "read /etc/passwd", "ok");
    snprintf(cmd, sizeof(cmd), "write %s/inside", dir);
    expect_answer(port, cmd, "ok");
    snprintf(cmd, sizeof(cmd), "%s/inside", dir);
    unlink(cmd);
    rmdir(dir);
    expect_answer(port, "spawn", "ok 7");
    snprintf(cmd, sizeof(cmd), "connect %d", echo);
    expect_answer(port, cmd, "ok");
}

static void skip_unless_python(void)
{
    if (access(PY_MODULE, F_OK) != 0)
        cr_skip_test("the python module was not built (no python3-embed)");
}

static void skip_unless_landlock(void)
{
    if (landlock_abi_here() == 0)
        cr_skip_test("this kernel has no Landlock");
}

#define PY_PROBE                                                               \
    "handler = handlers:SandboxProbe\npython_path = " PY_HANDLERS "\n"

Test(sandbox, a_module_is_refused_and_serves_on, .fini = h_teardown,
     .timeout = 60)
{
    skip_unless_landlock();
    refused(SBMOD, "");
}

Test(sandbox, execve_ends_the_worker_with_one_record, .fini = h_teardown,
     .timeout = 60)
{
    exec_ends_worker(SBMOD, "");
}

Test(sandbox, widened_keys_let_a_module_through, .fini = h_teardown,
     .timeout = 60)
{
    widened(SBMOD);
}

Test(sandbox, a_python_handler_is_refused_and_serves_on, .fini = h_teardown,
     .timeout = 60)
{
    skip_unless_python();
    skip_unless_landlock();
    refused("python", PY_PROBE);
}

Test(sandbox, a_python_execv_ends_the_worker, .fini = h_teardown, .timeout = 60)
{
    skip_unless_python();
    exec_ends_worker("python", PY_PROBE);
}

Test(sandbox, widened_keys_let_a_python_handler_through, .fini = h_teardown,
     .timeout = 60)
{
    skip_unless_python();
    widened("python");
}

/* Forking mode: the children inherit the acceptor's confinement; one that
 * calls execve ends alone, and the acceptor names the call. */
Test(sandbox, forking_children_inherit_it, .fini = h_teardown, .timeout = 60)
{
    int port = tcp_port(), fd;

    skip_unless_landlock();
    cr_assert_eq(h_init(&srv), 0);
    start_sb(SBMOD, port, "mode = forking\n", 0);
    expect_answer(port, "read /etc/passwd", "EACCES");
    fd = h_connect(LO, port, io_ms());
    cr_assert(fd >= 0);
    cr_assert_eq(h_send_all(fd, "exec\n", 5, io_ms()), 0);
    cr_expect_eq(h_wait_closed(fd, io_ms()), 0, "the connection stayed open");
    close(fd);
    cr_expect(H_WAIT(io_ms(), h_file_contains(srv.log, "ended by the sandbox: "
                                                       "it called execve")),
              "%s", h_diag(&srv));
    /* The acceptor lives on, and serves the next connection. */
    expect_answer(port, "read /etc/passwd", "EACCES");
    cr_expect_eq(count_lines(deaths), 0, "the acceptor died: %s",
                 h_read_file(deaths));
}

/* Under daemonize (the master changes to /), SimpleHTTPRequestHandler
 * serves the directory /: confined, /etc/passwd is not among what it
 * may read, and it answers 404 as for a file that is not there. */
Test(sandbox, simplehttp_under_a_daemon_does_not_serve_etc_passwd,
     .fini = h_teardown, .timeout = 60)
{
    const char     *argv[] = {H_PREFORK, "-c", srv.conf, NULL};
    struct h_result r;
    char            status[64], *pidtext;
    int             port = tcp_port(), fd, n;
    pid_t           pid;

    skip_unless_python();
    skip_unless_landlock();
    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    cr_assert_eq(h_init(&srv), 0);
    cr_assert_eq(h_config(&srv,
                          "daemonize = yes\n[web]\nmodule = python\n"
                          "listen = %s:%d\nworkers = 1\n"
                          "handler = http.server:SimpleHTTPRequestHandler\n",
                          LO, port),
                 0);
    cr_assert_eq(h_run(argv, 15000, &r), 0, "prefork: %s", r.err);
    h_result_free(&r);
    pidtext = h_read_file(srv.pidfile);
    cr_assert_not_null(pidtext);
    pid = (pid_t)atol(pidtext);
    free(pidtext);
    fd = h_connect(LO, port, io_ms());
    cr_assert(fd >= 0);
    cr_assert_eq(
        h_send_all(fd, "GET /etc/passwd HTTP/1.0\r\n\r\n", 28, io_ms()), 0);
    n = h_recv_line(fd, status, sizeof(status), io_ms());
    close(fd);
    kill(pid, SIGTERM);
    cr_assert(H_WAIT(H_STOP_MS, waitpid(pid, NULL, WNOHANG) == pid));
    cr_assert(n > 0, "no answer%s", h_diag(&srv));
    cr_expect(strstr(status, " 404 ") != NULL, "GET /etc/passwd: %s", status);
}

/* The child's filter: landlock_create_ruleset fails as on a kernel built
 * without Landlock.  prefork and its workers inherit it. */
static void without_landlock(void)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

    if (ctx == NULL ||
        seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
                         SCMP_SYS(landlock_create_ruleset), 0) < 0 ||
        seccomp_load(ctx) < 0)
        _exit(99);
    seccomp_release(ctx);
}

Test(sandbox, require_refuses_to_start_without_landlock, .fini = h_teardown,
     .timeout = 30)
{
    int port = tcp_port();

    cr_assert_eq(h_init(&srv), 0);
    srv.before_exec = without_landlock;
    cr_assert_eq(h_config(&srv,
                          "[e]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n"
                          "sandbox = require\n",
                          LO, port),
                 0);
    cr_assert_neq(h_start(&srv), 0, "prefork started");
    cr_expect(H_WAIT(3000, h_file_contains(srv.err, "no Landlock") ||
                               h_file_contains(srv.log, "no Landlock")),
              "no word of Landlock%s", h_diag(&srv));
}

Test(sandbox, auto_without_landlock_serves_and_says_so, .fini = h_teardown,
     .timeout = 30)
{
    int port = tcp_port();

    cr_assert_eq(h_init(&srv), 0);
    srv.before_exec = without_landlock;
    cr_assert_eq(h_config(&srv,
                          "[e]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n",
                          LO, port),
                 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    cr_expect_eq(h_echo_once(LO, port, io_ms()), 0);
    cr_expect(h_file_contains(srv.log, "[e] sandbox: no Landlock, seccomp"),
              "%s", h_diag(&srv));
}

/* `-s status` says per service what is in force, and the keys. */
Test(sandbox, status_and_t_show_the_sandbox, .fini = h_teardown, .timeout = 30)
{
    const char     *st[] = {H_PREFORK, "-s", "status", "-c", srv.conf, NULL};
    const char     *t[] = {H_PREFORK, "-t", "-c", srv.conf, NULL};
    struct h_result r;
    char            want[128];
    int             port = tcp_port(), abi = landlock_abi_here();

    cr_assert_eq(h_init(&srv), 0);
    start_sb(SBMOD, port, "sandbox_read = /etc\n", 0);
    cr_assert_eq(h_run(st, 10000, &r), 0, "%s", r.err);
    snprintf(want, sizeof(want),
             "\"sandbox\":{\"on\":true,\"landlock\":%d,\"fs\":%s,\"net\":%s,"
             "\"seccomp\":true,\"exec\":false,\"read\":\"/etc\"",
             abi, abi > 0 ? "true" : "false", abi >= 4 ? "true" : "false");
    cr_expect(strstr(r.out, want) != NULL, "%s not in %s", want, r.out);
    h_result_free(&r);
    cr_assert_eq(h_run(t, 10000, &r), 0, "%s", r.err);
    cr_expect(strstr(r.out, "[sb] sandbox: ") != NULL, "%s", r.out);
    if (abi > 0)
        cr_expect(strstr(r.out, "[sb]   read: ") != NULL &&
                      strstr(r.out, ", /etc") != NULL,
                  "%s", r.out);
    h_result_free(&r);
}

/* A module built for ABI 1.0 cannot declare what it needs: under auto it
 * runs unconfined, with a notice naming the service. */
Test(sandbox, an_old_module_runs_unconfined_under_auto, .fini = h_teardown,
     .timeout = 30)
{
    int port = tcp_port();

    cr_assert_eq(h_init(&srv), 0);
    start_sb(PF_BUILDDIR "/tests/modules/.libs/abi10.so", port, "", 0);
    cr_expect(h_file_contains(srv.log, "[sb] sandbox: none (its module "
                                       "predates ABI 1.4"),
              "%s", h_diag(&srv));
}
