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
#include "pyhelp.h"

struct h_server srv;
static pid_t    ref_pid = -1;

void skip_unless_built(void)
{
    if (access(PY_MODULE, F_OK) != 0)
        cr_skip_test("the python module was not built (no python3-embed)");
    if (access(PY_PYTHON, X_OK) != 0)
        cr_skip_test(PY_PYTHON " is missing");
}

void teardown(void)
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
void start_reference(const char *server, const char *cls, int port)
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

/* Keys added to the [py] service by start_prefork (python_socket...). */
const char *py_extra = "";

/* Start prefork: a TCP service with tcp_cls and, when udp_cls is not NULL,
 * a UDP one, both in mode. */
void start_prefork(const char *mode, int workers, const char *tcp_cls,
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
                          "python_path = %s\n%s%s",
                          tcp_port, mode, workers, tcp_cls, PY_HANDLERS,
                          py_extra, udp),
                 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start in %s mode%s", mode,
                 h_diag(&srv));
    /* Every service serving before the first exchange: under valgrind a
     * worker starting CPython takes many seconds, which is no exchange's
     * to wait for. */
    cr_assert(H_WAIT(io_ms() * 3, h_slots(&srv, "py", H_ACCEPTING) >= 1 &&
                                      (udp_cls == NULL ||
                                       h_slots(&srv, "udp", H_ACCEPTING) >= 1)),
              "the python workers did not start in %s mode%s", mode,
              h_diag(&srv));
}

/* Send msg on a new connection, read until the server closes.  Returns the
 * reply's length (into buf, NUL-terminated) or -1. */
/* How long one exchange may take: a worker starting CPython under
 * valgrind on a busy machine takes many seconds before its first reply. */
int io_ms(void)
{
    return getenv("PF_VALGRIND") != NULL ? 20000 : 5000;
}

/* As ask(), and with eof the client's end of the conversation said with
 * shutdown(SHUT_WR) (a keep-alive HTTP client that leaves). */
int ask_eof(int port, const char *msg, char *buf, size_t cap, int eof)
{
    int     fd = h_connect("127.0.0.1", port, io_ms());
    ssize_t n;

    if (fd < 0)
        return -1;
    if (h_send_all(fd, msg, strlen(msg), io_ms()) != 0) {
        close(fd);
        return -1;
    }
    if (eof)
        shutdown(fd, SHUT_WR);
    n = h_recv_exact(fd, buf, cap - 1, io_ms());
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return (int)n;
}

static int ask(int port, const char *msg, char *buf, size_t cap)
{
    return ask_eof(port, msg, buf, cap, 0);
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

/* The same stream handlers with their bytes through the host API (a
 * HostSocket, as over TLS), forced with python_socket = host. */
#define HOST_TESTS(mode, forking_or_threading)                                 \
    Test(mode, base_handler_through_the_host, .fini = teardown, .timeout = 60) \
    {                                                                          \
        skip_unless_built();                                                   \
        py_extra = "python_socket = host\n";                                   \
        compare(#mode, "MyTCPHandler", forking_or_threading "TCPServer", 1);   \
    }                                                                          \
    Test(mode, stream_handler_through_the_host, .fini = teardown,              \
         .timeout = 60)                                                        \
    {                                                                          \
        skip_unless_built();                                                   \
        py_extra = "python_socket = host\n";                                   \
        compare(#mode, "MyStreamHandler", forking_or_threading "TCPServer",    \
                1);                                                            \
    }

HOST_TESTS(prefork, "Forking")
HOST_TESTS(threading, "Threading")

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

/* --- the check: the handler imported in a child of the master ------------ */

/* prefork -t on a [py] service naming cls (and extra keys): its exit code,
 * its output in out. */
static int check_config(const char *cls, const char *extra, char *out,
                        size_t cap)
{
    struct h_result r;
    int             code;

    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    cr_assert_eq(h_config(&srv,
                          "[py]\nmodule = python\nlisten = 127.0.0.1:1\n"
                          "handler = handlers:%s\npython_path = %s\n%s",
                          cls, PY_HANDLERS, extra),
                 0);
    const char *const argv[] = {H_PREFORK, "-t", "-c", srv.conf, NULL};
    code = h_run(argv, 30000, &r);
    snprintf(out, cap, "%s%s", r.out, r.err);
    h_result_free(&r);
    return code;
}

Test(python, check_names_a_class_that_is_not_there, .fini = teardown,
     .timeout = 60)
{
    char out[2048], want[256];
    int  code;

    skip_unless_built();
    code = check_config("MyTCPHandlr", "", out, sizeof out);
    cr_assert_neq(code, -1, "prefork -t did not finish");
    cr_expect_neq(code, 0, "prefork -t accepted a missing class: %s", out);
    snprintf(want, sizeof want,
             "server.ini:9: [py] handler: module 'handlers' has no "
             "attribute 'MyTCPHandlr'");
    cr_expect(strstr(out, want) != NULL, "prefork -t said: %s", out);
    code = check_config("MyTCPHandler", "", out, sizeof out);
    cr_expect_eq(code, 0, "prefork -t refused a good class: %s", out);
}

Test(python, check_refuses_a_class_that_is_not_a_handler, .fini = teardown,
     .timeout = 60)
{
    char out[2048];
    int  code;

    skip_unless_built();
    code = check_config("NotAHandler", "", out, sizeof out);
    cr_expect_neq(code, 0, "prefork -t accepted NotAHandler: %s", out);
    cr_expect(strstr(out, "handlers:NotAHandler is not a subclass of "
                          "socketserver.BaseRequestHandler") != NULL,
              "prefork -t said: %s", out);
    code =
        check_config("MyTCPHandler", "python_socket = tls\n", out, sizeof out);
    cr_expect_neq(code, 0, "prefork -t accepted python_socket = tls");
    cr_expect(strstr(out, "python_socket: 'tls' is not auto or host") != NULL,
              "prefork -t said: %s", out);
}

Test(python, check_names_a_module_that_is_not_there, .fini = teardown,
     .timeout = 60)
{
    char            out[2048];
    struct h_result r;
    int             code;

    skip_unless_built();
    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    cr_assert_eq(h_config(&srv, "[py]\nmodule = python\nlisten = 127.0.0.1:1\n"
                                "handler = no_such_module:Handler\n"),
                 0);
    const char *const argv[] = {H_PREFORK, "-t", "-c", srv.conf, NULL};
    code = h_run(argv, 30000, &r);
    snprintf(out, sizeof out, "%s%s", r.out, r.err);
    h_result_free(&r);
    cr_expect_neq(code, 0, "prefork -t accepted a missing module");
    cr_expect(strstr(out, "[py] handler: No module named 'no_such_module'") !=
                  NULL,
              "prefork -t said: %s", out);
}

/* A reload to a class that is not there is refused; the workers serve on. */
Test(python, reload_to_a_missing_class_keeps_the_old_generation,
     .fini = teardown, .timeout = 60)
{
    int   port = h_free_port("127.0.0.1", SOCK_STREAM);
    char  got[256];
    pid_t before = 0, after = 0;

    skip_unless_built();
    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    start_prefork("prefork", 1, "MyTCPHandler", port, NULL, 0);
    cr_assert(H_WAIT(10000, h_workers(&srv, &before, 1) == 1));
    cr_assert_eq(h_config(&srv,
                          "[py]\nmodule = python\nlisten = 127.0.0.1:%d\n"
                          "workers = 1\nhandler = handlers:MyTCPHandlr\n"
                          "python_path = %s\n",
                          port, PY_HANDLERS),
                 0);
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(20000, h_file_contains(srv.log, "has no attribute "
                                                     "'MyTCPHandlr'")),
              "the reload did not name the missing class%s", h_diag(&srv));
    cr_assert(ask(port, "still\n", got, sizeof got) > 0, "no reply%s",
              h_diag(&srv));
    cr_expect_str_eq(got, "STILL");
    cr_expect_eq(h_workers(&srv, &after, 1), 1);
    cr_expect_eq(after, before,
                 "the worker was replaced by a reload that "
                 "failed");
    cr_expect(!h_file_contains(srv.log, "cannot import"),
              "a worker tried to import the class%s", h_diag(&srv));
}

/* --- socketserver's timeout ---------------------------------------------- */

/* StreamRequestHandler.timeout = 0.5: a silent client times out then, as
 * under socketserver (not after a fixed 60 s). */
Test(python, the_handler_class_timeout_is_socketservers, .fini = teardown,
     .timeout = 60)
{
    int     port = h_free_port("127.0.0.1", SOCK_STREAM), fd;
    int64_t t0;

    skip_unless_built();
    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    start_prefork("prefork", 1, "Patient", port, NULL, 0);
    fd = h_connect("127.0.0.1", port, io_ms());
    cr_assert(fd >= 0);
    t0 = h_now_ms();
    cr_expect_eq(h_wait_closed(fd, io_ms()), 0,
                 "a client silent for %d ms was not timed out (timeout = "
                 "0.5)%s",
                 io_ms(), h_diag(&srv));
    cr_expect_geq(h_now_ms() - t0, 400, "closed before the timeout");
    close(fd);
    cr_expect(H_WAIT(5000, h_file_contains(srv.log, "TimeoutError")),
              "no TimeoutError in the log%s", h_diag(&srv));
}

/* --- HTTP handlers: a request at a time, parked in between -------------- */

/* Bytes that BaseHTTPRequestHandler answers in several ways: pipelined
 * keep-alive requests (one with a body), HTTP/1.0, an unknown method, a
 * malformed request line, a client that leaves a kept-alive connection. */
static const struct {
    const char *msg;
    int         eof;
} http_messages[] = {
    {"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
     "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
     "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
     0},
    {"GET /old HTTP/1.0\r\n\r\n", 0},
    {"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 0},
    {"garbage\r\n\r\n", 0},
    {"GET /k HTTP/1.1\r\nHost: x\r\n\r\nGET /k2 HTTP/1.1\r\nHost: x\r\n\r\n",
     1},
};

/* For handlers.Files (SimpleHTTPRequestHandler): pipelined file requests,
 * one of a file that is not there, and a HEAD. */
static const struct {
    const char *msg;
    int         eof;
} file_messages[] = {
    {"GET /serve.py HTTP/1.1\r\nHost: x\r\n\r\n"
     "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"
     "HEAD /serve.py HTTP/1.1\r\nHost: x\r\n\r\n"
     "GET /serve.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
     0},
};

static void compare_http(const char *mode, const char *cls)
{
    int  port = h_free_port("127.0.0.1", SOCK_STREAM);
    int  ref = h_free_port("127.0.0.1", SOCK_STREAM);
    char got[8192], want[8192];

    cr_assert(port > 0 && ref > 0, "no free port");
    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    int    files = strcmp(cls, "Files") == 0;
    size_t count = files ? sizeof file_messages / sizeof file_messages[0]
                         : sizeof http_messages / sizeof http_messages[0];

    start_prefork(mode, 2, cls, port, NULL, 0);
    start_reference("ThreadingHTTPServer", cls, ref);
    for (size_t i = 0; i < count; i++) {
        const char *msg = files ? file_messages[i].msg : http_messages[i].msg;
        int         eof = files ? file_messages[i].eof : http_messages[i].eof;
        int         n = ask_eof(port, msg, got, sizeof got, eof);
        int         m = ask_eof(ref, msg, want, sizeof want, eof);

        cr_assert(m > 0, "ThreadingHTTPServer gave no reply");
        cr_assert(n >= 0, "prefork %s gave no reply%s", mode, h_diag(&srv));
        cr_expect_str_eq(got, want,
                         "%s, message %zu: prefork said\n%s\n"
                         "ThreadingHTTPServer\n%s",
                         mode, i, got, want);
    }
}

Test(prefork, http_handler_matches_threadinghttpserver, .fini = teardown,
     .timeout = 60)
{
    skip_unless_built();
    compare_http("prefork", "Hello");
}

Test(threading, http_handler_matches_threadinghttpserver, .fini = teardown,
     .timeout = 60)
{
    skip_unless_built();
    compare_http("threading", "Hello");
}

Test(prefork, http_handler_through_the_host, .fini = teardown, .timeout = 60)
{
    skip_unless_built();
    py_extra = "python_socket = host\n";
    compare_http("prefork", "Hello");
}

Test(prefork, http_file_handler_matches_threadinghttpserver, .fini = teardown,
     .timeout = 60)
{
    skip_unless_built();
    compare_http("prefork", "Files");
}

/* Read from fd until needle has come; 0, or -1 after ms. */
static int read_until(int fd, const char *needle, int ms)
{
    char    buf[4096];
    size_t  len = 0;
    int64_t end = h_now_ms() + ms;

    while (h_now_ms() < end && len < sizeof buf - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t       n;

        if (poll(&p, 1, 100) != 1)
            continue;
        n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, needle) != NULL)
            return 0;
    }
    return -1;
}

static void send_str(int fd, const char *s)
{
    cr_assert_eq(h_send_all(fd, s, strlen(s), io_ms()), 0, "send failed");
}

/* One worker, a keep-alive connection idle between requests: a second
 * client is served meanwhile, and the first one's next request meets the
 * same handler instance (its count says #2). */
Test(prefork, http_keepalive_does_not_pin_the_worker, .fini = teardown,
     .timeout = 60)
{
    int port = h_free_port("127.0.0.1", SOCK_STREAM), a, b;

    skip_unless_built();
    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    start_prefork("prefork", 1, "Hello", port, NULL, 0);
    a = h_connect("127.0.0.1", port, io_ms());
    cr_assert(a >= 0);
    send_str(a, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(read_until(a, "GET /a #1", io_ms()), 0, "no answer%s",
                 h_diag(&srv));
    b = h_connect("127.0.0.1", port, io_ms());
    cr_assert(b >= 0);
    send_str(b, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_expect_eq(read_until(b, "GET /b #1", 3000), 0,
                 "an idle keep-alive connection kept the only worker%s",
                 h_diag(&srv));
    send_str(a, "GET /a2 HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_expect_eq(read_until(a, "GET /a2 #2", io_ms()), 0,
                 "the connection's handler instance was not kept%s",
                 h_diag(&srv));
    close(a);
    close(b);
}

/* --- what a failure says ------------------------------------------------- */

/* A traceback names the client, and for an HTTP handler the request. */
Test(python, a_traceback_names_the_client_and_request, .fini = teardown,
     .timeout = 60)
{
    int  port = h_free_port("127.0.0.1", SOCK_STREAM);
    char got[2048];

    skip_unless_built();
    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    start_prefork("prefork", 1, "Hello", port, NULL, 0);
    ask(port, "GET /boom HTTP/1.1\r\nHost: x\r\n\r\n", got, sizeof got);
    cr_assert(H_WAIT(5000, h_file_contains(srv.log, "ValueError: handler "
                                                    "failed on purpose")),
              "no exception in the log%s", h_diag(&srv));
    cr_expect(h_file_contains(srv.log, "handler raised an exception serving "
                                       "('127.0.0.1', "),
              "the traceback does not name the client%s", h_diag(&srv));
    cr_expect(h_file_contains(srv.log, "request 'GET /boom HTTP/1.1'"),
              "the traceback does not name the request%s", h_diag(&srv));
    cr_expect(ask(port, "GET /fine HTTP/1.1\r\nConnection: close\r\n\r\n", got,
                  sizeof got) > 0 &&
                  strstr(got, "GET /fine #1") != NULL,
              "the worker did not serve on: %s%s", got, h_diag(&srv));
}

/* worker_timeout: the handler's Python stack is logged before the kill,
 * and the death record says where it was stuck. */
Test(python, worker_timeout_logs_the_python_stack_first, .fini = teardown,
     .timeout = 60)
{
    int   port = h_free_port("127.0.0.1", SOCK_STREAM), fd;
    char  deaths[256], *rec;
    pid_t pid = 0;

    skip_unless_built();
    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    snprintf(deaths, sizeof deaths, "%s/deaths.log", srv.dir);
    cr_assert_eq(h_config(&srv,
                          "death_log = %s\nworker_timeout = 1s\n"
                          "[py]\nmodule = python\nlisten = 127.0.0.1:%d\n"
                          "workers = 1\nhandler = handlers:Sleeper\n"
                          "python_path = %s\n",
                          deaths, port, PY_HANDLERS),
                 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    cr_assert(H_WAIT(10000, h_workers(&srv, &pid, 1) == 1));
    fd = h_connect("127.0.0.1", port, io_ms());
    cr_assert(fd >= 0);
    h_send_all(fd, "x\n", 2, io_ms());
    cr_assert(H_WAIT(10000, h_file_contains(deaths, "worker_timeout")),
              "no death record%s", h_diag(&srv));
    close(fd);
    cr_expect(h_file_contains(srv.log, "python stack: Current thread"),
              "no Python stack in the log%s", h_diag(&srv));
    cr_expect(h_file_contains(srv.log, "handlers.py\", line"),
              "the stack does not name handlers.py%s", h_diag(&srv));
    rec = h_read_file(deaths);
    cr_assert_not_null(rec);
    cr_expect(strstr(rec, "\"request\":\"handlers:Sleeper at ") != NULL &&
                  strstr(rec, "handlers.py:") != NULL &&
                  strstr(rec, " in handle\"") != NULL,
              "the death record: %s", rec);
    free(rec);
}

/* python_socket = host: the request is the wrapper; auto: a socket. */
Test(python, python_socket_host_hands_a_host_socket, .fini = teardown,
     .timeout = 60)
{
    int  port = h_free_port("127.0.0.1", SOCK_STREAM);
    char got[256];

    skip_unless_built();
    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    py_extra = "python_socket = host\n";
    start_prefork("prefork", 1, "Kind", port, NULL, 0);
    cr_assert(ask(port, "\n", got, sizeof got) > 0, "no reply%s", h_diag(&srv));
    cr_expect_str_eq(got, "HostSocket");
}
