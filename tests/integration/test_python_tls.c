/*
 * test_python_tls.c -- the python module over TLS: a handler's request
 * reads and writes through the host (a HostSocket), and gives back the
 * bytes socketserver's own servers give on a plain connection.
 *
 * The certificates are scripts/make-test-cert's; the client is
 * tests/python/tls_ask.py (Python's ssl), which can pause between its
 * messages so that an HTTP keep-alive connection is parked in between.
 * Built into test_python (pyhelp.h).
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"
#include "pyhelp.h"

#define MAKE_CERT PF_SRCDIR "/scripts/make-test-cert"
#define TLS_ASK   PY_HANDLERS "/tls_ask.py"

static char certs[192];

/* The temporary directory with a CA and an ECDSA pair for 127.0.0.1, and
 * the [py] service's TLS keys naming them. */
static void tls_setup(void)
{
    static char     keys[512];
    struct h_result r;

    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    snprintf(certs, sizeof certs, "%s/certs", srv.dir);
    const char *const argv[] = {MAKE_CERT, certs, NULL};

    cr_assert_eq(h_run(argv, 30000, &r), 0, "make-test-cert: %s", r.err);
    h_result_free(&r);
    snprintf(keys, sizeof keys,
             "tls_certificate = %s/ecdsa.pem\ntls_key = %s/ecdsa.key\n", certs,
             certs);
    py_extra = keys;
}

/* Send msgs (n of them, 300 ms apart) over one TLS connection, read until
 * the server closes: the reply's length (into buf) or -1. */
static int tls_ask(int port, const char *const *msgs, int n, char *buf,
                   size_t cap)
{
    char            portstr[16], ca[224];
    const char     *argv[8] = {PY_PYTHON, TLS_ASK, portstr, ca};
    struct h_result r;
    int             len = -1;

    cr_assert(n >= 1 && n <= 3);
    snprintf(portstr, sizeof portstr, "%d", port);
    snprintf(ca, sizeof ca, "%s/ca.pem", certs);
    for (int i = 0; i < n; i++)
        argv[4 + i] = msgs[i];
    if (h_run(argv, 2 * io_ms(), &r) == 0) {
        snprintf(buf, cap, "%s", r.out);
        len = (int)strlen(buf);
    } else {
        cr_log_warn("tls_ask: %s", r.err);
    }
    h_result_free(&r);
    return len;
}

/* Each message to prefork over TLS and to socketserver in plain TCP: the
 * same bytes back. */
static void compare_tls(const char *mode, const char *cls, const char *server,
                        const char *const *msgs, size_t count, int per_conn)
{
    int  port = h_free_port("127.0.0.1", SOCK_STREAM);
    int  ref = h_free_port("127.0.0.1", SOCK_STREAM);
    char got[8192], want[8192], joined[2048];

    cr_assert(port > 0 && ref > 0, "no free port");
    tls_setup();
    start_prefork(mode, 2, cls, port, NULL, 0);
    start_reference(server, cls, ref);
    for (size_t i = 0; i < count; i += (size_t)per_conn) {
        joined[0] = '\0';
        for (int j = 0; j < per_conn; j++)
            strncat(joined, msgs[i + (size_t)j],
                    sizeof joined - strlen(joined) - 1);
        int n = tls_ask(port, msgs + i, per_conn, got, sizeof got);
        int m = ask_eof(ref, joined, want, sizeof want, 0);

        cr_assert(m >= 0, "socketserver.%s %s gave no reply", server, cls);
        cr_assert(n >= 0, "prefork %s %s gave no reply over TLS%s", mode, cls,
                  h_diag(&srv));
        cr_expect_str_eq(got, want,
                         "%s %s, message %zu: prefork over TLS said\n%s\n"
                         "%s\n%s",
                         mode, cls, i, got, server, want);
    }
}

static const char *const lines[] = {
    "hello world\n",
    "  Mixed Case, with spaces and tabs\t \n",
    "\n",
};
#define NLINES (sizeof lines / sizeof lines[0])

Test(tls, python_stream_handler_prefork, .fini = teardown, .timeout = 60)
{
    skip_unless_built();
    compare_tls("prefork", "MyStreamHandler", "ThreadingTCPServer", lines,
                NLINES, 1);
}

Test(tls, python_stream_handler_forking, .fini = teardown, .timeout = 60)
{
    skip_unless_built();
    compare_tls("forking", "MyStreamHandler", "ForkingTCPServer", lines, NLINES,
                1);
}

Test(tls, python_stream_handler_threading, .fini = teardown, .timeout = 60)
{
    skip_unless_built();
    compare_tls("threading", "MyStreamHandler", "ThreadingTCPServer", lines,
                NLINES, 1);
}

Test(tls, python_base_handler_recv_sendall, .fini = teardown, .timeout = 60)
{
    skip_unless_built();
    compare_tls("prefork", "MyTCPHandler", "ThreadingTCPServer", lines, NLINES,
                1);
}

/* HTTP over TLS, in pairs on one connection 300 ms apart (parked in
 * between): pipelined requests (the second and third in what OpenSSL
 * already holds), a pause between keep-alive requests, HTTP/1.0, errors. */
static const char *const http_pairs[] = {
    "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "GET /k HTTP/1.1\r\nHost: x\r\n\r\n",
    "POST /k2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
    "Connection: close\r\n\r\nhi",
    "GET /old HTTP/1.0\r\n\r\n",
    "",
    "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n",
    "",
};
#define NHTTP (sizeof http_pairs / sizeof http_pairs[0])

Test(tls, python_http_handler_prefork, .fini = teardown, .timeout = 60)
{
    skip_unless_built();
    compare_tls("prefork", "Hello", "ThreadingHTTPServer", http_pairs, NHTTP,
                2);
}

Test(tls, python_http_handler_threading, .fini = teardown, .timeout = 60)
{
    skip_unless_built();
    compare_tls("threading", "Hello", "ThreadingHTTPServer", http_pairs, NHTTP,
                2);
}

/* With python_socket = auto, a TLS connection's request is the wrapper. */
Test(tls, python_request_is_a_host_socket, .fini = teardown, .timeout = 60)
{
    int               port = h_free_port("127.0.0.1", SOCK_STREAM);
    const char *const msg[] = {"\n"};
    char              got[256];

    skip_unless_built();
    tls_setup();
    start_prefork("prefork", 1, "Kind", port, NULL, 0);
    cr_assert(tls_ask(port, msg, 1, got, sizeof got) > 0, "no reply%s",
              h_diag(&srv));
    cr_expect_str_eq(got, "HostSocket");
}
