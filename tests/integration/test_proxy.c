/*
 * test_proxy.c -- proxy_protocol = yes, seen from outside: the client a
 * PROXY v1 or v2 header names is the peer the module sees and the http
 * access log records; the bytes after the header reach the module
 * untouched, however the header arrives; a connection without a valid
 * header, or from outside proxy_from, is closed with a log line and the
 * worker serves on.
 *
 * testmod answers "who\n" with the peer it was given.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define LO "127.0.0.1"

static struct h_server srv;
static int             port;

static void start_testmod(const char *mode, const char *keys)
{
    cr_assert_eq(h_init(&srv), 0);
    port = h_free_port(LO, SOCK_STREAM);
    cr_assert(port > 0);
    cr_assert_eq(h_config(&srv,
                          "[t]\nmodule = %s\nlisten = %s:%d\nworkers = 1\n"
                          "mode = %s\nproxy_protocol = yes\n%s",
                          H_TESTMOD, LO, port, mode, keys),
                 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
}

/* v2 header: signature, PROXY over TCP4 (or TCP6), addresses, and `tlv`
 * bytes of TLVs after them.  Returns its length. */
static size_t v2_header(unsigned char *out, int six, size_t tlv)
{
    static const unsigned char sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                          0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
    size_t                     alen = six ? 36 : 12, n = 16;

    memcpy(out, sig, 12);
    out[12] = 0x21;
    out[13] = six ? 0x21 : 0x11;
    out[14] = (unsigned char)((alen + tlv) >> 8);
    out[15] = (unsigned char)(alen + tlv);
    if (six) { /* 2001:db8::7 port 4321 -> ::1 port 80 */
        memset(out + n, 0, 32);
        out[n] = 0x20, out[n + 1] = 0x01, out[n + 2] = 0x0d, out[n + 3] = 0xb8;
        out[n + 15] = 7;
        out[n + 31] = 1;
        n += 32;
    } else { /* 198.51.100.9 port 4321 -> 127.0.0.1 port 80 */
        const unsigned char a[8] = {198, 51, 100, 9, 127, 0, 0, 1};
        memcpy(out + n, a, 8);
        n += 8;
    }
    out[n++] = 4321 >> 8, out[n++] = 4321 & 0xff;
    out[n++] = 0, out[n++] = 80;
    for (size_t i = 0; i < tlv; i++) /* TLV type 0xEE, to be skipped */
        out[n++] = i == 0 ? 0xEE : i < 3 ? 0 : 'x';
    if (tlv >= 3) {
        out[n - tlv + 1] = (unsigned char)((tlv - 3) >> 8);
        out[n - tlv + 2] = (unsigned char)(tlv - 3);
    }
    return n;
}

/* Send bytes (in pieces of `step`, 0: at once) and ask who we are. */
static void ask_who(int fd, const void *hdr, size_t len, size_t step, char *who,
                    size_t cap)
{
    const char *p = hdr;

    if (step == 0)
        step = len;
    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;
        cr_assert_eq(h_send_all(fd, p + off, n, 2000), 0);
        if (step < len)
            h_sleep_ms(5);
    }
    cr_assert_eq(h_send_all(fd, "who\n", 4, 2000), 0);
    cr_assert_geq(h_recv_line(fd, who, cap, 3000), 0, "no answer to who%s",
                  h_diag(&srv));
}

/* The header and the first bytes after it in one write: the bytes after it
 * are echoed, not eaten with the header. */
static void header_then_data(const char *mode)
{
    const char hdr[] = "PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\nhello\n";
    char       line[128];
    int        fd;

    start_testmod(mode, "");
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    cr_assert_eq(h_send_all(fd, hdr, sizeof hdr - 1, 2000), 0);
    cr_assert_geq(h_recv_line(fd, line, sizeof line, 3000), 0, "%s: no echo%s",
                  mode, h_diag(&srv));
    cr_expect_str_eq(line, "hello", "%s: the header's neighbours", mode);
    ask_who(fd, "", 0, 0, line, sizeof line);
    cr_expect_str_eq(line, "203.0.113.7:5555", "%s", mode);
    close(fd);
}

Test(proxy, v1_header_and_data_in_one_write, .fini = h_teardown, .timeout = 30)
{
    header_then_data("prefork");
}

Test(proxy, v1_in_forking_mode, .fini = h_teardown, .timeout = 30)
{
    header_then_data("forking");
}

Test(proxy, v1_in_threading_mode, .fini = h_teardown, .timeout = 30)
{
    header_then_data("threading");
}

Test(proxy, v1_tcp6_a_byte_at_a_time, .fini = h_teardown, .timeout = 30)
{
    const char hdr[] = "PROXY TCP6 2001:db8::1 ::1 40000 443\r\n";
    char       who[128];
    int        fd;

    start_testmod("prefork", "");
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    ask_who(fd, hdr, sizeof hdr - 1, 1, who, sizeof who);
    cr_expect_str_eq(who, "[2001:db8::1]:40000");
    close(fd);
}

Test(proxy, v2_tcp4_and_tcp6_with_tlvs, .fini = h_teardown, .timeout = 30)
{
    unsigned char hdr[256];
    char          who[128];
    size_t        n;
    int           fd;

    start_testmod("prefork", "");
    n = v2_header(hdr, 0, 0);
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    ask_who(fd, hdr, n, 0, who, sizeof who);
    cr_expect_str_eq(who, "198.51.100.9:4321");
    close(fd);

    n = v2_header(hdr, 1, 40);
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    ask_who(fd, hdr, n, 7, who, sizeof who);
    cr_expect_str_eq(who, "[2001:db8::7]:4321");
    close(fd);
}

/* LOCAL (a balancer's own health check) and UNKNOWN keep the connection's
 * real peer. */
Test(proxy, local_and_unknown_keep_the_real_peer, .fini = h_teardown,
     .timeout = 30)
{
    unsigned char hdr[64];
    char          who[128];
    size_t        n = v2_header(hdr, 0, 0);
    int           fd;

    start_testmod("prefork", "");
    hdr[12] = 0x20; /* LOCAL */
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    ask_who(fd, hdr, n, 0, who, sizeof who);
    cr_expect(strncmp(who, "127.0.0.1:", 10) == 0, "LOCAL: %s", who);
    close(fd);

    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    ask_who(fd, "PROXY UNKNOWN\r\n", 15, 0, who, sizeof who);
    cr_expect(strncmp(who, "127.0.0.1:", 10) == 0, "UNKNOWN: %s", who);
    close(fd);
}

/* A connection that does not start with a valid header is closed and
 * logged; the worker serves the next one. */
static void refused(const char *mode, const char *bytes, const char *logged)
{
    char who[128];
    int  fd;

    start_testmod(mode, "");
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    cr_assert_eq(h_send_all(fd, bytes, strlen(bytes), 2000), 0);
    cr_expect_eq(h_wait_closed(fd, 3000), 0, "%s: \"%s\" was not closed", mode,
                 bytes);
    close(fd);
    cr_expect(H_WAIT(3000, h_file_contains(srv.log, logged)),
              "%s: no \"%s\" in the log%s", mode, logged, h_diag(&srv));
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    ask_who(fd, "PROXY TCP4 192.0.2.1 127.0.0.1 1 2\r\n", 36, 0, who,
            sizeof who);
    cr_expect_str_eq(who, "192.0.2.1:1", "%s: not served after a refusal",
                     mode);
    close(fd);
}

Test(proxy, no_header_is_closed_and_logged, .fini = h_teardown, .timeout = 30)
{
    refused("prefork", "hello\n", "closed");
}

Test(proxy, a_bad_header_is_closed_and_logged, .fini = h_teardown,
     .timeout = 30)
{
    refused("prefork", "PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\nwho\n",
            "closed");
}

Test(proxy, a_bad_header_in_forking_mode, .fini = h_teardown, .timeout = 30)
{
    refused("forking", "GET / HTTP/1.1\r\n\r\n", "closed");
}

Test(proxy, a_header_that_never_ends_times_out, .fini = h_teardown,
     .timeout = 40)
{
    int64_t t0;
    int     fd;

    start_testmod("prefork", "");
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    cr_assert_eq(h_send_all(fd, "PROXY TCP4 ", 11, 2000), 0);
    t0 = h_now_ms();
    cr_expect_eq(h_wait_closed(fd, 20000), 0, "never closed");
    cr_expect_geq(h_now_ms() - t0, 8000, "closed before the header timeout");
    close(fd);
    cr_expect(H_WAIT(3000, h_file_contains(srv.log, "in time")), "%s",
              h_diag(&srv));
}

Test(proxy, proxy_from_refuses_other_senders, .fini = h_teardown, .timeout = 30)
{
    char who[128];
    int  fd;

    start_testmod("prefork", "proxy_from = 10.0.0.0/8, 2001:db8::/32\n");
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    (void)h_send_all(fd, "PROXY UNKNOWN\r\n", 15, 2000);
    cr_expect_eq(h_wait_closed(fd, 3000), 0, "127.0.0.1 was not refused");
    close(fd);
    cr_expect(H_WAIT(3000, h_file_contains(srv.log, "not in proxy_from")), "%s",
              h_diag(&srv));
    h_cleanup(&srv);

    start_testmod("prefork", "proxy_from = 10.0.0.0/8, 127.0.0.1\n");
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    ask_who(fd, "PROXY TCP4 10.1.2.3 127.0.0.1 7 8\r\n", 35, 0, who,
            sizeof who);
    cr_expect_str_eq(who, "10.1.2.3:7");
    close(fd);
}

/* The http module logs the client the header names. */
Test(proxy, http_access_log_has_the_real_client, .fini = h_teardown,
     .timeout = 30)
{
    const char req[] = "PROXY TCP4 203.0.113.50 127.0.0.1 6000 80\r\n"
                       "GET /nothere HTTP/1.1\r\nHost: x\r\n"
                       "Connection: close\r\n\r\n";
    char       path[256], line[256];
    int        fd;

    cr_assert_eq(h_init(&srv), 0);
    port = h_free_port(LO, SOCK_STREAM);
    snprintf(path, sizeof path, "%s/www", srv.dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    cr_assert_eq(h_config(&srv,
                          "[web]\nmodule = http\nlisten = %s:%d\nroot = www\n"
                          "workers = 1\nproxy_protocol = yes\n"
                          "access_log = access.log\n",
                          LO, port),
                 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    cr_assert_eq(h_send_all(fd, req, sizeof req - 1, 2000), 0);
    cr_assert_geq(h_recv_line(fd, line, sizeof line, 3000), 0);
    cr_expect(strstr(line, "404") != NULL, "%s", line);
    close(fd);
    snprintf(path, sizeof path, "%s/access.log", srv.dir);
    cr_expect(H_WAIT(5000, h_file_contains(path, "203.0.113.50 - - [")),
              "the access log does not name the client: %s", h_read_file(path));
}

/* --- configuration ------------------------------------------------------- */

static void expect_config_error(const char *conf_tail, const char *at,
                                const char *mention)
{
    const char     *argv[] = {H_PREFORK, "-t", "-c", srv.conf, NULL};
    struct h_result r;
    char            prefix[256];

    cr_assert_eq(h_init(&srv), 0);
    port = h_free_port(LO, SOCK_STREAM);
    cr_assert_eq(h_config(&srv, "[t]\nmodule = %s\nlisten = %s\n%s", H_TESTMOD,
                          "127.0.0.1:1", conf_tail),
                 0);
    cr_assert_eq(h_run(argv, 5000, &r), 1, "prefork -t accepted it: %s", r.err);
    snprintf(prefix, sizeof prefix, "%s:%d: ", srv.conf,
             h_line_of(srv.conf, at));
    cr_expect(strstr(r.err, prefix) != NULL && strstr(r.err, mention) != NULL,
              "no \"%s...%s\" in: %s", prefix, mention, r.err);
    h_result_free(&r);
    h_cleanup(&srv);
}

Test(proxy, config_errors_name_the_line, .fini = h_teardown, .timeout = 30)
{
    expect_config_error("proxy_from = 10.0.0.0/8\n", "proxy_from",
                        "needs proxy_protocol");
    expect_config_error("proxy_protocol = yes\nproxy_from = 10.0.0.1/8\n",
                        "proxy_from", "proxy_from");
    expect_config_error("proxy_protocol = yes\nproxy_from = nonsense\n",
                        "proxy_from", "proxy_from");
    expect_config_error("proxy_protocol = maybe\n", "proxy_protocol",
                        "boolean");
}

/* --- the lifecycle under every driver ----------------------------------- */

/* A setup() that fails once the header is read closes the connection, and
 * the module gets no finish() for it (testmod logs one), whichever driver
 * runs the connection: the event loop (prefork) or a child or thread. */
static void failed_setup_gets_no_finish(const char *mode)
{
    const char hdr[] = "PROXY TCP4 192.0.2.1 127.0.0.1 1 2\r\nwho\n";
    int        fd;

    start_testmod(mode, "fail_setup = yes\n");
    for (int i = 0; i < 3; i++) {
        fd = h_connect(LO, port, 3000);
        cr_assert(fd >= 0);
        cr_assert_eq(h_send_all(fd, hdr, sizeof hdr - 1, 2000), 0);
        cr_expect_eq(h_wait_closed(fd, 3000), 0,
                     "%s: not closed after a failed setup()%s", mode,
                     h_diag(&srv));
        close(fd);
    }
    cr_expect_eq(h_stop(&srv), 0, "%s: did not stop cleanly%s", mode,
                 h_diag(&srv));
    cr_expect(!h_file_contains(srv.log, "finish() without setup()"),
              "%s: finish() after a failed setup()%s", mode, h_diag(&srv));
}

Test(proxy, a_failed_setup_gets_no_finish, .fini = h_teardown, .timeout = 30)
{
    failed_setup_gets_no_finish("prefork");
}

Test(proxy, a_failed_setup_gets_no_finish_in_forking_mode, .fini = h_teardown,
     .timeout = 30)
{
    failed_setup_gets_no_finish("forking");
}

Test(proxy, a_failed_setup_gets_no_finish_in_threading_mode, .fini = h_teardown,
     .timeout = 30)
{
    failed_setup_gets_no_finish("threading");
}
