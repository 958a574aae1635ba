/*
 * test_tls.c -- TLS services served by the real binary, spoken to by real
 * clients: curl, `openssl s_client` and Python's ssl module
 * (tests/integration/tls_client.py).
 *
 * Each test makes a throw-away CA and its certificates (ECDSA P-256 and
 * RSA-2048) with scripts/make-test-cert in its own directory, starts
 * prefork on them and checks what a client sees: HTTP over TLS (keep-alive,
 * HEAD, Range, 304, a large file), the certificate SNI and the signature
 * algorithms pick, ALPN, echo in the three modes, a blocking module,
 * client certificates, the handshake's timeout, the wrong protocol on
 * either kind of port, the config errors -t reports, a reload to a broken
 * certificate, the counters of -s status and the kTLS fallback.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define MAKE_CERT PF_SRCDIR "/scripts/make-test-cert"
#define CLIENT_PY PF_SRCDIR "/tests/integration/tls_client.py"
#define BLOCKMOD  PF_BUILDDIR "/tests/modules/.libs/blockmod.so"
#define BIG_BYTES (3 * 1024 * 1024 + 12345)
#define CMD_MS    30000

static struct h_server srv;
static char            certs[128], www[128];
static int             port;

/* The temporary directory, its CA and server certificates (ECDSA and RSA
 * for localhost), and a document root with a large file. */
static void setup_dir(void)
{
    struct h_result r;
    char            path[192], *big;
    int             fd;

    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    snprintf(certs, sizeof certs, "%s/certs", srv.dir);
    snprintf(www, sizeof www, "%s/www", srv.dir);
    cr_assert_eq(h_sh(&r, CMD_MS, "%s %s", MAKE_CERT, certs), 0,
                 "make-test-cert: %s", r.err);
    h_result_free(&r);
    cr_assert_eq(mkdir(www, 0755), 0);
    snprintf(path, sizeof path, "%s/index.html", www);
    cr_assert_eq(h_write_file(path, "<h1>hello over TLS</h1>\n"), 0);
    snprintf(path, sizeof path, "%s/big.bin", www);
    big = malloc(BIG_BYTES);
    h_pattern(big, BIG_BYTES, 7);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(fd >= 0 && write(fd, big, BIG_BYTES) == BIG_BYTES);
    close(fd);
    free(big);
    port = h_free_port("127.0.0.1", SOCK_STREAM);
    cr_assert(port > 0);
}

/* One more leaf: scripts/make-test-cert DIR leaf ..., with env before. */
static void make_leaf(const char *env, const char *args)
{
    struct h_result r;

    cr_assert_eq(
        h_sh(&r, CMD_MS, "%s %s %s leaf %s", env, MAKE_CERT, certs, args), 0,
        "make-test-cert leaf %s: %s", args, r.err);
    h_result_free(&r);
}

/* Write the config (the [server] block comes from h_config) and start. */
__attribute__((format(printf, 1, 2))) static void start(const char *fmt, ...)
{
    char   *text;
    va_list ap;

    va_start(ap, fmt);
    cr_assert(vasprintf(&text, fmt, ap) > 0);
    va_end(ap);
    cr_assert_eq(h_config(&srv, "%s", text), 0);
    free(text);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
}

/* An http service on `port` with the ECDSA and RSA pairs, and more keys. */
static void start_https(const char *more)
{
    start("[https]\nmodule = http\nlisten = 127.0.0.1:%d\nworkers = 1\n"
          "root = %s\n"
          "tls_certificate = %s/ecdsa.pem, %s/rsa.pem\n"
          "tls_key = %s/ecdsa.key, %s/rsa.key\n%s",
          port, www, certs, certs, certs, certs, more);
}

/* An echo-like service (module, mode) over TLS with the ECDSA pair. */
static void start_tls_service(const char *module, const char *mode,
                              const char *more)
{
    start("[svc]\nmodule = %s\nlisten = 127.0.0.1:%d\nmode = %s\n"
          "workers = 1\ntls_certificate = %s/ecdsa.pem\n"
          "tls_key = %s/ecdsa.key\n%s",
          module, port, mode, certs, certs, more);
}

/* tls_client.py CMD with arguments; its stdout in r. */
static int client(struct h_result *r, const char *cmd, const char *more)
{
    return h_sh(r, CMD_MS, "python3 %s %s %d %s/ca.pem %s", CLIENT_PY, cmd,
                port, certs, more);
}

/* tls_client.py CMD MORE exits 0 and prints want. */
static void expect_client(const char *cmd, const char *more, const char *want)
{
    struct h_result r;

    cr_assert_eq(client(&r, cmd, more), 0, "%s %s%s", r.out, r.err,
                 h_diag(&srv));
    cr_expect_str_eq(r.out, want);
    h_result_free(&r);
}

/* openssl s_client against our port, stdin closed; output in r. */
static int s_client(struct h_result *r, const char *opts)
{
    return h_sh(r, CMD_MS,
                "openssl s_client -connect 127.0.0.1:%d -CAfile %s/ca.pem %s "
                "</dev/null 2>&1",
                port, certs, opts);
}

/* Is fd closed by the server within ms, whatever it sent first (a TLS
 * alert)?  1 yes, 0 no. */
static int closed_within(int fd, int ms)
{
    char    buf[4096];
    ssize_t n = h_recv_exact(fd, buf, sizeof buf, ms);

    return (n >= 0 && (size_t)n < sizeof buf) ||
           (n == -1 && errno != ETIMEDOUT);
}

static int count_in(const char *path, const char *needle)
{
    char *text = h_read_file(path), *p;
    int   n = 0;

    for (p = text; p != NULL && (p = strstr(p, needle)) != NULL; p++)
        n++;
    free(text);
    return n;
}

/* --- HTTP over TLS, by curl ----------------------------------------------- */

Test(tls, curl_keepalive_head_range_304_large, .fini = h_teardown,
     .timeout = 90)
{
    struct h_result r;
    char            url[96], etag[128] = "", *p, *q, path[192];

    setup_dir();
    start_https("");
    snprintf(url, sizeof url, "https://localhost:%d", port);

    /* Two requests on one connection: the second makes none. */
    cr_assert_eq(
        h_sh(&r, CMD_MS,
             "curl -sS --cacert %s/ca.pem -o /dev/null -o /dev/null "
             "-w '%%{http_code} %%{num_connects}\\n' %s/ %s/index.html",
             certs, url, url),
        0, "%s%s", r.err, h_diag(&srv));
    cr_expect_str_eq(r.out, "200 1\n200 0\n");
    h_result_free(&r);

    cr_assert_eq(h_sh(&r, CMD_MS,
                      "curl -sS --cacert %s/ca.pem -I %s/index.html", certs,
                      url),
                 0);
    cr_expect(strncmp(r.out, "HTTP/1.1 200", 12) == 0, "HEAD: %s", r.out);
    p = strcasestr(r.out, "\netag: ");
    cr_assert(p != NULL, "no ETag: %s", r.out);
    p += 7;
    q = strpbrk(p, "\r\n");
    snprintf(etag, sizeof etag, "%.*s", (int)(q - p), p);
    h_result_free(&r);

    cr_assert_eq(h_sh(&r, CMD_MS,
                      "curl -sS --cacert %s/ca.pem -r 4-8 %s/index.html", certs,
                      url),
                 0);
    cr_expect_str_eq(r.out, "hello");
    h_result_free(&r);

    cr_assert_eq(h_sh(&r, CMD_MS,
                      "curl -sS --cacert %s/ca.pem -o /dev/null -w "
                      "'%%{http_code}' -H 'If-None-Match: %s' %s/index.html",
                      certs, etag, url),
                 0);
    cr_expect_str_eq(r.out, "304");
    h_result_free(&r);

    /* A large file, twice on one connection: byte for byte. */
    snprintf(path, sizeof path, "%s/got.bin", srv.dir);
    cr_assert_eq(h_sh(&r, CMD_MS,
                      "curl -sS --cacert %s/ca.pem -o %s -o %s.2 %s/big.bin "
                      "%s/big.bin && cmp %s %s/big.bin && cmp %s.2 %s/big.bin",
                      certs, path, path, url, url, path, www, path, www),
                 0, "large file: %s %s", r.out, r.err);
    h_result_free(&r);
}

/* --- certificate choice, ALPN --------------------------------------------- */

Test(tls, sni_and_signature_algorithms_pick_the_certificate, .fini = h_teardown,
     .timeout = 90)
{
    struct h_result r;

    setup_dir();
    make_leaf("", "other ecdsa other.test DNS:other.test DNS:*.other.test");
    start("[https]\nmodule = http\nlisten = 127.0.0.1:%d\nworkers = 1\n"
          "root = %s\n"
          "tls_certificate = %s/ecdsa.pem, %s/rsa.pem, %s/other.pem\n"
          "tls_key = %s/ecdsa.key, %s/rsa.key, %s/other.key\n",
          port, www, certs, certs, certs, certs, certs, certs);

    s_client(&r, "-servername other.test");
    cr_expect(strstr(r.out, "subject=CN = other.test") != NULL, "%s", r.out);
    h_result_free(&r);
    s_client(&r, "-servername www.other.test");
    cr_expect(strstr(r.out, "subject=CN = other.test") != NULL, "%s", r.out);
    h_result_free(&r);

    /* One name, two key types: the client's signature algorithms choose. */
    s_client(&r, "-servername localhost");
    cr_expect(strstr(r.out, "subject=CN = localhost") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "Peer signature type: ECDSA") != NULL, "%s", r.out);
    h_result_free(&r);
    s_client(&r, "-servername localhost -sigalgs rsa_pss_rsae_sha256");
    cr_expect(strstr(r.out, "subject=CN = localhost") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "Server public key is 2048 bit") != NULL, "%s",
              r.out);
    h_result_free(&r);

    /* A name no certificate has: the first pair answers. */
    s_client(&r, "-servername unknown.test");
    cr_expect(strstr(r.out, "subject=CN = localhost") != NULL, "%s", r.out);
    cr_expect(strstr(r.out, "Peer signature type: ECDSA") != NULL, "%s", r.out);
    h_result_free(&r);

    /* The http module offers http/1.1. */
    s_client(&r, "-servername localhost -alpn h2,http/1.1");
    cr_expect(strstr(r.out, "ALPN protocol: http/1.1") != NULL, "%s", r.out);
    h_result_free(&r);
}

Test(tls, unknown_sni_rejected_when_asked, .fini = h_teardown, .timeout = 60)
{
    struct h_result r;

    setup_dir();
    start_https("tls_reject_unknown_sni = yes\n");
    cr_expect_neq(s_client(&r, "-servername unknown.test"), 0, "%s", r.out);
    cr_expect(strstr(r.out, "unrecognized name") != NULL, "%s", r.out);
    h_result_free(&r);
    cr_expect_eq(s_client(&r, "-servername localhost"), 0, "%s", r.out);
    cr_expect(strstr(r.out, "Verify return code: 0 (ok)") != NULL, "%s", r.out);
    h_result_free(&r);
    cr_expect(H_WAIT(2000, h_file_contains(srv.log, "unrecognized name")) ||
                  h_file_contains(srv.log, "TLS handshake with"),
              "no log line%s", h_diag(&srv));
}

/* --- every module, every mode --------------------------------------------- */

static void echo_in_mode(const char *mode)
{
    struct h_result r;

    setup_dir();
    start_tls_service("echo", mode, "");
    cr_assert_eq(client(&r, "echo", "1"), 0, "%s %s%s", r.out, r.err,
                 h_diag(&srv));
    h_result_free(&r);
    cr_assert_eq(client(&r, "echo", "1000000"), 0, "%s %s%s", r.out, r.err,
                 h_diag(&srv));
    cr_expect_str_eq(r.out, "ok 1000000\n");
    h_result_free(&r);
}

Test(tls, echo_prefork, .fini = h_teardown, .timeout = 60)
{
    echo_in_mode("prefork");
}

Test(tls, echo_forking, .fini = h_teardown, .timeout = 60)
{
    echo_in_mode("forking");
}

Test(tls, echo_threading, .fini = h_teardown, .timeout = 60)
{
    echo_in_mode("threading");
}

Test(tls, blocking_module, .fini = h_teardown, .timeout = 60)
{
    struct h_result r;

    setup_dir();
    start_tls_service(BLOCKMOD, "prefork", "");
    cr_assert_eq(client(&r, "blockmod", ""), 0, "%s %s%s", r.out, r.err,
                 h_diag(&srv));
    cr_expect_str_eq(r.out,
                     "hello blockmod|line 4 1|full 5 hello|tls - NONE -\n");
    h_result_free(&r);
}

/* Bytes OpenSSL has read and decrypted are not seen by poll(): the second
 * line, in the same record as the first, must be served without waiting
 * for more from the socket (read_timeout would end it first). */
Test(tls, bytes_held_by_openssl_are_served, .fini = h_teardown, .timeout = 60)
{
    setup_dir();
    start_tls_service(BLOCKMOD, "prefork", "");
    expect_client("pipelined", "", "hello blockmod|line 4 1|line 5 1\n");
}

/* Records OpenSSL read ahead (two in one read) are not seen by poll()
 * either: the second is served at once, by a blocking module and by the
 * event-driven http module alike. */
Test(tls, records_read_ahead_are_served, .fini = h_teardown, .timeout = 60)
{
    setup_dir();
    start_tls_service(BLOCKMOD, "prefork", "");
    expect_client("records", "blockmod", "hello blockmod|line 4 1|line 5 1\n");
}

Test(tls, pipelined_requests_in_two_records, .fini = h_teardown, .timeout = 60)
{
    setup_dir();
    start_https("");
    expect_client("records", "http", "responses 2\n");
}

Test(tls, blocking_module_forking, .fini = h_teardown, .timeout = 60)
{
    struct h_result r;

    setup_dir();
    start_tls_service(BLOCKMOD, "forking", "tls_alpn = x-test\n");
    cr_assert_eq(client(&r, "blockmod", ""), 0, "%s %s%s", r.out, r.err,
                 h_diag(&srv));
    cr_expect_str_eq(r.out,
                     "hello blockmod|line 4 1|full 5 hello|tls - NONE -\n");
    h_result_free(&r);
}

/* --- client certificates -------------------------------------------------- */

static void client_certs(void)
{
    struct h_result r;

    make_leaf("CLIENT=1", "alice ecdsa alice DNS:alice");
    cr_assert_eq(h_sh(&r, CMD_MS, "%s %s ca otherca", MAKE_CERT, certs), 0);
    h_result_free(&r);
    make_leaf("CLIENT=1 CA=otherca", "mallory ecdsa mallory DNS:mallory");
}

static int as(struct h_result *r, const char *who)
{
    char opts[512];

    if (who == NULL)
        return client(r, "tls", "");
    snprintf(opts, sizeof opts, "--cert %s/%s.pem --key %s/%s.key", certs, who,
             certs, who);
    return client(r, "tls", opts);
}

Test(tls, client_certificate_required, .fini = h_teardown, .timeout = 60)
{
    struct h_result r;
    char            more[256];

    setup_dir();
    client_certs();
    snprintf(more, sizeof more,
             "tls_client_ca = %s/ca.pem\ntls_verify_client = require\n", certs);
    start_tls_service(BLOCKMOD, "prefork", more);
    cr_expect_eq(as(&r, "alice"), 0, "%s%s", r.out, h_diag(&srv));
    cr_expect_str_eq(r.out, "tls CN=alice SUCCESS -\n");
    h_result_free(&r);
    cr_expect_neq(as(&r, NULL), 0, "no certificate got in: %s", r.out);
    h_result_free(&r);
    cr_expect_neq(as(&r, "mallory"), 0, "another CA's got in: %s", r.out);
    h_result_free(&r);
    /* The worker lived through both refusals. */
    cr_expect_eq(as(&r, "alice"), 0, "%s%s", r.out, h_diag(&srv));
    h_result_free(&r);
}

Test(tls, client_certificate_optional, .fini = h_teardown, .timeout = 60)
{
    struct h_result r;
    char            more[256];

    setup_dir();
    client_certs();
    snprintf(more, sizeof more,
             "tls_client_ca = %s/ca.pem\ntls_verify_client = optional\n",
             certs);
    start_tls_service(BLOCKMOD, "prefork", more);
    cr_expect_eq(as(&r, "alice"), 0, "%s%s", r.out, h_diag(&srv));
    cr_expect_str_eq(r.out, "tls CN=alice SUCCESS -\n");
    h_result_free(&r);
    cr_expect_eq(as(&r, NULL), 0, "%s%s", r.out, h_diag(&srv));
    cr_expect_str_eq(r.out, "tls - NONE -\n");
    h_result_free(&r);
    cr_expect_eq(as(&r, "mallory"), 0, "%s%s", r.out, h_diag(&srv));
    cr_expect(strncmp(r.out, "tls CN=mallory FAILED:", 22) == 0, "%s", r.out);
    h_result_free(&r);
}

Test(tls, access_log_records_the_client_subject, .fini = h_teardown,
     .timeout = 60)
{
    struct h_result r;
    char            more[512], logfile[160];

    setup_dir();
    client_certs();
    snprintf(logfile, sizeof logfile, "%s/access.log", srv.dir);
    snprintf(more, sizeof more,
             "tls_client_ca = %s/ca.pem\ntls_verify_client = optional\n"
             "access_log = %s\n",
             certs, logfile);
    start_https(more);
    cr_assert_eq(h_sh(&r, CMD_MS,
                      "curl -sS --cacert %s/ca.pem --cert %s/alice.pem --key "
                      "%s/alice.key -o /dev/null https://localhost:%d/ && "
                      "curl -sS --cacert %s/ca.pem -o /dev/null "
                      "https://localhost:%d/",
                      certs, certs, certs, port, certs, port),
                 0, "%s", r.err);
    h_result_free(&r);
    cr_expect(H_WAIT(3000, count_in(logfile, "\n") == 2), "%s",
              h_read_file(logfile));
    cr_expect(h_file_contains(logfile, "\" \"CN=alice\"\n"), "%s",
              h_read_file(logfile));
    cr_expect_eq(count_in(logfile, "CN=alice"), 1);
}

/* --- handshakes that go wrong --------------------------------------------- */

Test(tls, handshake_that_never_comes_times_out, .fini = h_teardown,
     .timeout = 60)
{
    int64_t t0;
    int     fd;

    setup_dir();
    start_tls_service("echo", "prefork", "tls_handshake_timeout = 1s\n");
    fd = h_connect("127.0.0.1", port, 2000);
    cr_assert(fd >= 0);
    t0 = h_now_ms();
    cr_expect_eq(h_wait_closed(fd, 6000), 0, "not closed");
    cr_expect(h_now_ms() - t0 >= 800 && h_now_ms() - t0 < 5000,
              "closed after %lld ms", (long long)(h_now_ms() - t0));
    close(fd);
    cr_expect(H_WAIT(2000, h_file_contains(srv.log, "no handshake in time")),
              "%s", h_diag(&srv));
}

Test(tls, hello_one_byte_at_a_time, .fini = h_teardown, .timeout = 60)
{
    struct h_result r;

    setup_dir();
    start_tls_service("echo", "prefork", "");
    cr_assert_eq(client(&r, "slowhello", ""), 0, "%s %s%s", r.out, r.err,
                 h_diag(&srv));
    cr_expect_str_eq(r.out, "ok 19\n");
    h_result_free(&r);
}

Test(tls, plain_http_on_the_tls_port_gets_400, .fini = h_teardown,
     .timeout = 60)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    char              buf[1024] = "";
    ssize_t           n, got = 0;
    int64_t           t0 = h_now_ms();
    int               fd;

    setup_dir();
    start_https("");
    fd = h_connect("127.0.0.1", port, 2000);
    cr_assert(fd >= 0);
    t0 = h_now_ms();
    cr_assert_eq(h_send_all(fd, req, sizeof req - 1, 2000), 0);
    while ((n = h_recv_exact(fd, buf + got, sizeof buf - 1 - (size_t)got,
                             3000)) > 0)
        got += n;
    buf[got] = '\0';
    close(fd);
    cr_expect(strncmp(buf, "HTTP/1.1 400 ", 13) == 0, "got: %s", buf);
    cr_expect(strstr(buf, "The plain HTTP request was sent to HTTPS port"),
              "got: %s", buf);
    cr_expect(h_now_ms() - t0 < 2000, "took %lld ms",
              (long long)(h_now_ms() - t0));
}

Test(tls, garbage_is_closed_and_the_worker_lives, .fini = h_teardown,
     .timeout = 60)
{
    pid_t           before[4], after[4];
    struct h_result r;
    int             fd;

    setup_dir();
    start_tls_service("echo", "prefork", "");
    cr_assert(H_WAIT(3000, h_workers(&srv, before, 4) == 1));
    fd = h_connect("127.0.0.1", port, 2000);
    cr_assert(fd >= 0);
    cr_assert_eq(h_send_all(fd, "\x01\x02garbage\r\n", 11, 2000), 0);
    cr_expect(closed_within(fd, 1000), "not closed at once");
    close(fd);
    /* A record header that lies about its length, then nonsense. */
    fd = h_connect("127.0.0.1", port, 2000);
    cr_assert(fd >= 0);
    cr_assert_eq(
        h_send_all(fd, "\x16\x03\x01\x00\x05\xff\xff\xff\xff\xff", 10, 2000),
        0);
    cr_expect(closed_within(fd, 1000), "not closed at once");
    close(fd);
    cr_assert_eq(h_workers(&srv, after, 4), 1);
    cr_expect_eq(before[0], after[0], "the worker was replaced");
    cr_expect_eq(client(&r, "echo", "100"), 0, "%s", r.out);
    h_result_free(&r);
    cr_expect(h_file_contains(srv.log, "not a TLS handshake"), "%s",
              h_diag(&srv));
}

Test(tls, tls_hello_on_a_plain_http_port_is_closed, .fini = h_teardown,
     .timeout = 60)
{
    struct h_result r;
    int64_t         t0;

    setup_dir();
    start("[http]\nmodule = http\nlisten = 127.0.0.1:%d\nworkers = 1\n"
          "root = %s\nheader_timeout = 10s\n",
          port, www);
    t0 = h_now_ms();
    cr_expect_neq(s_client(&r, "-servername localhost"), 0, "%s", r.out);
    h_result_free(&r);
    cr_expect(h_now_ms() - t0 < 3000, "took %lld ms",
              (long long)(h_now_ms() - t0));
    cr_expect(
        H_WAIT(2000, h_file_contains(srv.log, "a TLS handshake on a plain HTTP "
                                              "port")),
        "%s", h_diag(&srv));
}

/* --- configuration errors ------------------------------------------------- */

/* prefork -t on what start() would have written. */
__attribute__((format(printf, 2, 3))) static int
check_config(struct h_result *r, const char *fmt, ...)
{
    char       *text;
    va_list     ap;
    const char *argv[] = {H_PREFORK, "-t", "-c", srv.conf, NULL};

    va_start(ap, fmt);
    cr_assert(vasprintf(&text, fmt, ap) > 0);
    va_end(ap);
    cr_assert_eq(h_config(&srv, "%s", text), 0);
    free(text);
    return h_run(argv, CMD_MS, r);
}

Test(tls, config_errors_name_the_line, .fini = h_teardown, .timeout = 60)
{
    struct h_result r;
    char            want[512];
    int             line;

    setup_dir();
    /* A key that is not the certificate's. */
    cr_expect_eq(check_config(&r,
                              "[e]\nmodule = echo\nlisten = 127.0.0.1:%d\n"
                              "tls_certificate = %s/ecdsa.pem\n"
                              "tls_key = %s/rsa.key\n",
                              port, certs, certs),
                 1, "%s", r.err);
    line = h_line_of(srv.conf, "tls_key");
    snprintf(want, sizeof want,
             "server.ini:%d: [e] tls_key %s/rsa.key does "
             "not match tls_certificate %s/ecdsa.pem: ",
             line, certs, certs);
    cr_expect(strstr(r.err, want) != NULL, "want %s in: %s", want, r.err);
    cr_expect(strstr(r.err, "key values mismatch") != NULL ||
                  strstr(r.err, "mismatch") != NULL,
              "OpenSSL's reason: %s", r.err);
    h_result_free(&r);

    /* A certificate that is not there. */
    cr_expect_eq(check_config(&r,
                              "[e]\nmodule = echo\nlisten = 127.0.0.1:%d\n"
                              "tls_certificate = %s/nothere.pem\n"
                              "tls_key = %s/ecdsa.key\n",
                              port, certs, certs),
                 1);
    line = h_line_of(srv.conf, "tls_certificate");
    snprintf(want, sizeof want,
             "server.ini:%d: [e] tls_certificate %s/nothere.pem: No such "
             "file or directory",
             line, certs);
    cr_expect(strstr(r.err, want) != NULL, "want %s in: %s", want, r.err);
    h_result_free(&r);

    /* A file that is no certificate. */
    cr_expect_eq(check_config(&r,
                              "[e]\nmodule = echo\nlisten = 127.0.0.1:%d\n"
                              "tls_certificate = %s/ecdsa.key\n"
                              "tls_key = %s/ecdsa.key\n",
                              port, certs, certs),
                 1);
    cr_expect(strstr(r.err, "no start line") != NULL, "%s", r.err);
    h_result_free(&r);

    /* TLS on a UDP listener. */
    cr_expect_eq(check_config(&r,
                              "[u]\nmodule = udp_echo\n"
                              "listen = udp://127.0.0.1:%d\n"
                              "tls_certificate = %s/ecdsa.pem\n"
                              "tls_key = %s/ecdsa.key\n",
                              port, certs, certs),
                 1);
    line = h_line_of(srv.conf, "tls_certificate");
    snprintf(want, sizeof want, "server.ini:%d: [u] TLS is for TCP and UNIX",
             line);
    cr_expect(strstr(r.err, want) != NULL, "want %s in: %s", want, r.err);
    h_result_free(&r);
}

Test(tls, expired_certificate_is_a_warning, .fini = h_teardown, .timeout = 60)
{
    struct h_result r;

    setup_dir();
    make_leaf("NOT_BEFORE=20200101000000Z NOT_AFTER=20200201000000Z",
              "expired ecdsa localhost DNS:localhost");
    make_leaf("NOT_AFTER=$(date -u -d '+5 days' +%Y%m%d%H%M%SZ)",
              "soon ecdsa soon.test DNS:soon.test");
    cr_expect_eq(check_config(&r,
                              "[e]\nmodule = echo\nlisten = 127.0.0.1:%d\n"
                              "tls_certificate = %s/expired.pem, %s/soon.pem\n"
                              "tls_key = %s/expired.key, %s/soon.key\n",
                              port, certs, certs, certs, certs),
                 0, "%s", r.err);
    cr_expect(strstr(r.err, "warning: [e] tls_certificate") != NULL, "%s",
              r.err);
    cr_expect(strstr(r.err, "expired on 2020-02-01T00:00:00Z") != NULL, "%s",
              r.err);
    cr_expect(strstr(r.err, "soon.pem expires on ") != NULL, "%s", r.err);
    h_result_free(&r);
}

/* --- reload, status, kTLS ------------------------------------------------- */

/* tls_client.py loop in the background, its stdout into a file. */
static pid_t loop_start(const char *out, int secs)
{
    char  cmd[512];
    pid_t pid;

    snprintf(cmd, sizeof cmd, "python3 %s loop %d %s/ca.pem %d 25 >%s 2>&1",
             CLIENT_PY, port, certs, secs, out);
    pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

Test(tls, reload_to_a_broken_certificate_keeps_serving, .fini = h_teardown,
     .timeout = 90)
{
    char  out[192], *text;
    pid_t loop;
    int   status;

    setup_dir();
    start("[svc]\nmodule = echo\nlisten = 127.0.0.1:%d\nworkers = 2\n"
          "tls_certificate = %s/ecdsa.pem\ntls_key = %s/ecdsa.key\n",
          port, certs, certs);
    snprintf(out, sizeof out, "%s/loop.out", srv.dir);
    loop = loop_start(out, 4);
    cr_assert(loop > 0);
    h_sleep_ms(1000);
    /* The key no longer matches the certificate. */
    cr_assert_eq(h_config(&srv,
                          "[svc]\nmodule = echo\nlisten = 127.0.0.1:%d\n"
                          "workers = 2\ntls_certificate = %s/ecdsa.pem\n"
                          "tls_key = %s/rsa.key\n",
                          port, certs, certs),
                 0);
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_expect(H_WAIT(5000, h_file_contains(srv.log, "does not match")), "%s",
              h_diag(&srv));
    cr_assert_eq(waitpid(loop, &status, 0), loop);
    text = h_read_file(out);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the paced loop failed: %s", text);
    cr_expect(text != NULL && strstr(text, "failed 0") != NULL, "%s", text);
    free(text);
    cr_expect(h_alive(&srv));
}

Test(tls, status_counts_handshakes_and_resumptions, .fini = h_teardown,
     .timeout = 60)
{
    struct h_result r;
    const char     *argv[] = {H_PREFORK, "-s", "status", "-c", srv.conf, NULL};
    char            opts[256];
    int             fd;

    setup_dir();
    start_tls_service("echo", "prefork", "");
    snprintf(opts, sizeof opts, "-tls1_3 -sess_out %s/sess", srv.dir);
    /* Time for the ticket to come before the client leaves: longer for
     * a worker under valgrind. */
    cr_expect_eq(h_sh(&r, CMD_MS,
                      "(sleep %s; echo x) | openssl s_client -connect "
                      "127.0.0.1:%d -CAfile %s/ca.pem %s 2>&1",
                      getenv("PF_VALGRIND") != NULL ? "3" : "0.5", port, certs,
                      opts),
                 0, "%s", r.out);
    h_result_free(&r);
    snprintf(opts, sizeof opts, "-tls1_3 -sess_in %s/sess", srv.dir);
    s_client(&r, opts);
    cr_expect(strstr(r.out, "Reused, TLSv1.3") != NULL, "%s", r.out);
    h_result_free(&r);
    fd = h_connect("127.0.0.1", port, 2000);
    cr_assert(fd >= 0);
    h_send_all(fd, "junk\n", 5, 1000);
    h_wait_closed(fd, 2000);
    close(fd);
    cr_assert(H_WAIT(3000, ({
                         int ok =
                             h_run(argv, 5000, &r) == 0 &&
                             strstr(r.out, "\"tls\":{\"handshakes\":2,"
                                           "\"resumed\":1,\"failures\":1}");
                         if (!ok)
                             h_result_free(&r);
                         ok;
                     })),
              "status: %s", r.out);
    h_result_free(&r);
}

Test(tls, ktls_auto_falls_back_and_says_so_once, .fini = h_teardown,
     .timeout = 90)
{
    struct h_result r;
    char            url[96], path[192];

    char *ulp = h_read_file("/proc/sys/net/ipv4/tcp_available_ulp");

    if (ulp != NULL && strstr(ulp, "tls") != NULL) {
        free(ulp);
        cr_skip_test("this kernel has kTLS: the fallback is not what runs");
    }
    free(ulp);
    setup_dir();
    start_https("tls_ktls = auto\n");
    snprintf(url, sizeof url, "https://localhost:%d", port);
    snprintf(path, sizeof path, "%s/got.bin", srv.dir);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(h_sh(&r, CMD_MS,
                          "curl -sS --cacert %s/ca.pem -o %s %s/big.bin && "
                          "cmp %s %s/big.bin",
                          certs, path, url, path, www),
                     0, "%s %s", r.out, r.err);
        h_result_free(&r);
    }
    cr_expect_eq(count_in(srv.log, "the kernel took no TLS keys"), 1, "%s",
                 h_diag(&srv));
}
