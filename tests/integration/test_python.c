/*
 * test_python.c -- the python module served by the real binary, in each of
 * the three modes, against the same handlers run by socketserver itself.
 *
 * The handlers are those of Python's socketserver documentation
 * (tests/python/handlers.py).  Each test starts prefork with `module =
 * python` and a reference socketserver (ForkingTCPServer, ThreadingTCPServer
 * or their UDP twins, under /usr/bin/python3, the interpreter the module
 * embeds), sends both the same bytes and compares what comes back.  Then a
 * handler that raises (traceback logged, the same worker serves the next
 * connection) and a handler that cannot be imported.  Skipped when the
 * module was not built.
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
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define PY_MODULE   H_MODDIR "/python.so"
#define PY_HANDLERS PF_SRCDIR "/tests/python"
#define PY_PYTHON   "/usr/bin/python3"

static struct h_server srv;
static pid_t           ref_pid = -1;

static void skip_unless_built(void)
{
    if (access(PY_MODULE, F_OK) != 0)
        cr_skip_test("the python module was not built (no python3-embed)");
    if (access(PY_PYTHON, X_OK) != 0)
        cr_skip_test(PY_PYTHON " is missing");
}

static void teardown(void)
{
    if (ref_pid > 0) {
        kill(-ref_pid, SIGKILL);
        waitpid(ref_pid, NULL, 0);
        ref_pid = -1;
    }
    h_teardown();
}

/* Start tests/python/serve.py SERVER CLASS on 127.0.0.1:port; wait until
 * it listens. */
static void start_reference(const char *server, const char *cls, int port)
{
    char portstr[16], ready[160];

    snprintf(portstr, sizeof portstr, "%d", port);
    snprintf(ready, sizeof ready, "%s/ready", srv.dir);
    ref_pid = fork();
    cr_assert(ref_pid >= 0, "fork: %s", strerror(errno));
    if (ref_pid == 0) {
        setpgid(0, 0);
        execl(PY_PYTHON, PY_PYTHON, PY_HANDLERS "/serve.py", server, cls,
              portstr, ready, (char *)NULL);
        _exit(127);
    }
    setpgid(ref_pid, ref_pid);
    cr_assert(H_WAIT(10000, access(ready, F_OK) == 0),
              "socketserver.%s did not start", server);
}

/* Start prefork: a TCP service with tcp_cls and, when udp_cls is not NULL,
 * a UDP one, both in mode. */
static void start_prefork(const char *mode, int workers, const char *tcp_cls,
                          int tcp_port, const char *udp_cls, int udp_port)
{
    char udp[512] = "";

    if (udp_cls != NULL)
        snprintf(udp, sizeof udp,
                 "\n[udp]\nmodule = python\nlisten = udp://127.0.0.1:%d\n"
                 "mode = %s\nworkers = %d\nhandler = handlers:%s\n"
                 "python_path = %s\n",
                 udp_port, mode, workers, udp_cls, PY_HANDLERS);
    cr_assert_eq(h_config(&srv,
                          "[py]\nmodule = python\nlisten = 127.0.0.1:%d\n"
                          "mode = %s\nworkers = %d\nhandler = handlers:%s\n"
                          "python_path = %s\n%s",
                          tcp_port, mode, workers, tcp_cls, PY_HANDLERS, udp),
                 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start in %s mode%s", mode,
                 h_diag(&srv));
}

/* Send msg on a new connection, read until the server closes.  Returns the
 * reply's length (into buf, NUL-terminated) or -1. */
/* How long one exchange may take: a worker starting CPython under
 * valgrind on a busy machine takes many seconds before its first reply. */
static int io_ms(void)
{
    return getenv("PF_VALGRIND") != NULL ? 20000 : 5000;
}

static int ask(int port, const char *msg, char *buf, size_t cap)
{
    int     fd = h_connect("127.0.0.1", port, io_ms());
    ssize_t n;

    if (fd < 0)
        return -1;
    if (h_send_all(fd, msg, strlen(msg), io_ms()) != 0) {
        close(fd);
        return -1;
    }
    n = h_recv_exact(fd, buf, cap - 1, io_ms());
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return (int)n;
}

/* One datagram there and back (sent again after each second of silence).
 * Returns the reply's length or -1. */
static int ask_udp(int port, const char *msg, char *buf, size_t cap)
{
    int     fd = h_udp("127.0.0.1", port);
    ssize_t n = -1;

    if (fd < 0)
        return -1;
    for (int i = 0; i < io_ms() / 1000 + 5 && n < 0; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};

        send(fd, msg, strlen(msg), 0);
        if (poll(&p, 1, 1000) == 1)
            n = recv(fd, buf, cap - 1, MSG_DONTWAIT);
    }
    close(fd);
    if (n >= 0)
        buf[n] = '\0';
    return (int)n;
}

static const char *const messages[] = {
    "hello world\n",
    "  Mixed Case, with spaces and tabs\t \n",
    "x\n",
    "\n",
};
#define NMESSAGES (sizeof messages / sizeof messages[0])

/* Each message to prefork and to socketserver: the same bytes back. */
static void compare(const char *mode, const char *cls, const char *server,
                    int tcp)
{
    int  port = h_free_port("127.0.0.1", tcp ? SOCK_STREAM : SOCK_DGRAM);
    int  ref = h_free_port("127.0.0.1", tcp ? SOCK_STREAM : SOCK_DGRAM);
    int  tcp_port = tcp ? port : h_free_port("127.0.0.1", SOCK_STREAM);
    char got[4096], want[4096];

    cr_assert(port > 0 && ref > 0 && tcp_port > 0, "no free port");
    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    start_prefork(mode, 2, tcp ? cls : "MyTCPHandler", tcp_port,
                  tcp ? NULL : cls, port);
    start_reference(server, cls, ref);
    for (size_t i = 0; i < NMESSAGES; i++) {
        int n = tcp ? ask(port, messages[i], got, sizeof got)
                    : ask_udp(port, messages[i], got, sizeof got);
        int m = tcp ? ask(ref, messages[i], want, sizeof want)
                    : ask_udp(ref, messages[i], want, sizeof want);

        if (!tcp && strcmp(messages[i], "\n") == 0)
            continue; /* an empty reply datagram cannot be told from none */
        cr_assert(m >= 0, "socketserver.%s %s gave no reply", server, cls);
        cr_assert(n >= 0, "prefork %s %s gave no reply%s", mode, cls,
                  h_diag(&srv));
        cr_expect_str_eq(got, want, "%s %s: prefork said \"%s\", %s \"%s\"",
                         mode, cls, got, server, want);
    }
}

#define MODE_TESTS(mode, forking_or_threading)                                 \
    Test(mode, base_handler_matches_socketserver, .fini = teardown,            \
         .timeout = 60)                                                        \
    {                                                                          \
        skip_unless_built();                                                   \
        compare(#mode, "MyTCPHandler", forking_or_threading "TCPServer", 1);   \
    }                                                                          \
    Test(mode, stream_handler_matches_socketserver, .fini = teardown,          \
         .timeout = 60)                                                        \
    {                                                                          \
        skip_unless_built();                                                   \
        compare(#mode, "MyStreamHandler", forking_or_threading "TCPServer",    \
                1);                                                            \
    }                                                                          \
    Test(mode, udp_handler_matches_socketserver, .fini = teardown,             \
         .timeout = 60)                                                        \
    {                                                                          \
        skip_unless_built();                                                   \
        compare(#mode, "MyUDPHandler", forking_or_threading "UDPServer", 0);   \
    }                                                                          \
    Test(mode, datagram_handler_matches_socketserver, .fini = teardown,        \
         .timeout = 60)                                                        \
    {                                                                          \
        skip_unless_built();                                                   \
        compare(#mode, "EchoDatagramHandler",                                  \
                forking_or_threading "UDPServer", 0);                          \
    }

MODE_TESTS(prefork, "Forking")
MODE_TESTS(forking, "Forking")
MODE_TESTS(threading, "Threading")

/* A handler that raises costs its connection: the traceback is logged and
 * the only worker serves the next client. */
Test(python, exception_is_logged_and_the_worker_serves_on, .fini = teardown,
     .timeout = 60)
{
    int  port = h_free_port("127.0.0.1", SOCK_STREAM);
    char got[256];
    int  n;

    skip_unless_built();
    cr_assert(port > 0, "no free port");
    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    start_prefork("prefork", 1, "Failing", port, NULL, 0);
    cr_assert_eq(h_nworkers(&srv) >= 0, 1);
    n = ask(port, "boom\n", got, sizeof got);
    cr_assert_eq(n, 0, "a failing handler replied \"%s\"", n > 0 ? got : "");
    cr_assert(H_WAIT(5000, h_file_contains(srv.log, "ValueError: handler "
                                                    "failed on purpose")),
              "no exception in the log%s", h_diag(&srv));
    cr_expect(h_file_contains(srv.log, "Traceback (most recent call last)"),
              "no traceback in the log%s", h_diag(&srv));
    cr_expect(h_file_contains(srv.log, "handlers.py"),
              "the traceback does not name handlers.py%s", h_diag(&srv));
    n = ask(port, "still there\n", got, sizeof got);
    cr_assert(n > 0, "the worker did not serve the next connection%s",
              h_diag(&srv));
    cr_expect_str_eq(got, "STILL THERE");
    cr_expect(!h_file_contains(srv.log, "exited"), "the worker exited%s",
              h_diag(&srv));
}

/* What socketserver's server hands a handler. */
Test(python, handler_sees_a_server_and_client_address, .fini = teardown,
     .timeout = 60)
{
    int  port = h_free_port("127.0.0.1", SOCK_STREAM);
    char got[256], want[256];

    skip_unless_built();
    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    start_prefork("prefork", 1, "Info", port, NULL, 0);
    cr_assert(ask(port, "\n", got, sizeof got) > 0, "no reply%s", h_diag(&srv));
    snprintf(want, sizeof want, "('tuple', ('127.0.0.1', %d), 1, 'Info')",
             port);
    cr_expect_str_eq(got, want);
}

/* A handler that cannot be imported: worker_init fails, with the error. */
Test(python, bad_handler_path_fails_worker_init, .fini = teardown,
     .timeout = 60)
{
    int port = h_free_port("127.0.0.1", SOCK_STREAM);

    skip_unless_built();
    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    cr_assert_eq(h_config(&srv,
                          "[py]\nmodule = python\nlisten = 127.0.0.1:%d\n"
                          "workers = 1\nhandler = no_such_module:Handler\n"
                          "python_path = %s\n",
                          port, PY_HANDLERS),
                 0);
    h_start(&srv);
    cr_assert(H_WAIT(10000, h_file_contains(srv.log, "ModuleNotFoundError")),
              "no import error in the log%s", h_diag(&srv));
    cr_expect(h_file_contains(srv.log, "cannot import the class"), "%s",
              h_diag(&srv));
}

/* The master checks the syntax of `handler`, and runs no Python. */
Test(python, check_rejects_a_malformed_handler, .timeout = 30)
{
    struct h_result r;

    skip_unless_built();
    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    cr_assert_eq(h_config(&srv, "[py]\nmodule = python\n"
                                "listen = 127.0.0.1:1\n"
                                "handler = handlers.MyTCPHandler\n"),
                 0);
    const char *const argv[] = {H_PREFORK, "-t", "-c", srv.conf, NULL};
    int               code = h_run(argv, 10000, &r);

    cr_assert_neq(code, -1, "prefork -t did not finish");
    cr_expect_neq(code, 0, "prefork -t accepted a malformed handler");
    cr_expect(strstr(r.out, "package.module:ClassName") != NULL ||
                  strstr(r.err, "package.module:ClassName") != NULL,
              "prefork -t said: %s%s", r.out, r.err);
    h_result_free(&r);
    h_cleanup(&srv);
}
