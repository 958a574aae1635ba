/*
 * test_tls_load.c -- OpenSSL is mapped only by a server that speaks TLS.
 *
 * The TLS layer (prefork-tls.so, src/conn/tlslayer.h) is dlopen()ed by
 * the master when a configuration has a service with TLS keys.  Read
 * from /proc/PID/maps: a server without TLS maps neither libssl nor
 * libcrypto, in the master or any worker; one with a TLS service maps
 * them everywhere and serves TLS; a reload from the one to the other
 * loads the layer in the master and its new workers serve TLS.  A layer
 * that cannot be loaded is a config error at the tls_certificate line.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "harness.h"

#define MAKE_CERT PF_SRCDIR "/scripts/make-test-cert"
#define CLIENT_PY PF_SRCDIR "/tests/integration/tls_client.py"
#define CMD_MS    30000
#define WORKERS   2

static struct h_server srv;
static char            certs[128];
static int             port;

/* The temporary directory and a CA with its certificates for localhost. */
static void setup_dir(void)
{
    struct h_result r;

    cr_assert_eq(h_init(&srv), 0, "mkdtemp failed");
    snprintf(certs, sizeof certs, "%s/certs", srv.dir);
    cr_assert_eq(h_sh(&r, CMD_MS, "%s %s", MAKE_CERT, certs), 0,
                 "make-test-cert: %s", r.err);
    h_result_free(&r);
    port = h_free_port("127.0.0.1", SOCK_STREAM);
    cr_assert(port > 0);
}

/* An echo service on port, over TLS when tls. */
static int config(int tls)
{
    if (!tls)
        return h_config(&srv,
                        "[svc]\nmodule = echo\nlisten = 127.0.0.1:%d\n"
                        "workers = %d\n",
                        port, WORKERS);
    return h_config(&srv,
                    "[svc]\nmodule = echo\nlisten = 127.0.0.1:%d\n"
                    "workers = %d\ntls_certificate = %s/ecdsa.pem\n"
                    "tls_key = %s/ecdsa.key\n",
                    port, WORKERS, certs, certs);
}

/* The certificates, then the echo service (over TLS when tls), started
 * with all its workers. */
static void start(int tls)
{
    setup_dir();
    cr_assert_eq(config(tls), 0);
    cr_assert_eq(h_start(&srv), 0, "%s", h_diag(&srv));
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == WORKERS), "%s", h_diag(&srv));
}

/* Does pid map a file whose path has name in it?  1, 0, -1 when its
 * maps cannot be read. */
static int maps(pid_t pid, const char *name)
{
    char path[64], *text;
    int  rc;

    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    text = h_read_file(path);
    if (text == NULL)
        return -1;
    rc = strstr(text, name) != NULL;
    free(text);
    return rc;
}

/* How many of the master and its workers map libcrypto and libssl (each
 * process counts once when it maps both); *n is how many there are. */
static int mapping_openssl(int *n)
{
    pid_t pids[16];
    int   k = h_workers(&srv, pids + 1, 15), yes = 0;

    if (k < 0)
        return -1;
    pids[0] = srv.pid;
    *n = k + 1;
    for (int i = 0; i < *n; i++)
        yes += maps(pids[i], "/libcrypto.so") == 1 &&
               maps(pids[i], "/libssl.so") == 1;
    return yes;
}

/* One TLS echo exchange on port: 0 when it worked. */
static int tls_echo(struct h_result *r)
{
    return h_sh(r, CMD_MS, "python3 %s echo %d %s/ca.pem 1000", CLIENT_PY, port,
                certs);
}

Test(tlsload, no_tls_service_maps_no_openssl, .fini = h_teardown, .timeout = 60)
{
    int n = 0;

    start(0);
    cr_assert_eq(h_echo_once("127.0.0.1", port, 2000), 0);
    cr_expect_eq(mapping_openssl(&n), 0, "of %d processes", n);
    cr_expect_eq(n, WORKERS + 1);
    cr_expect_eq(maps(srv.pid, "prefork-tls.so"), 0);
}

Test(tlsload, a_tls_service_maps_it_everywhere_and_serves, .fini = h_teardown,
     .timeout = 60)
{
    struct h_result r;
    int             n = 0;

    start(1);
    cr_assert_eq(tls_echo(&r), 0, "%s %s%s", r.out, r.err, h_diag(&srv));
    h_result_free(&r);
    cr_expect_eq(mapping_openssl(&n), WORKERS + 1, "of %d processes", n);
    cr_expect_eq(maps(srv.pid, "prefork-tls.so"), 1);
}

Test(tlsload, a_reload_to_tls_loads_it_in_the_master, .fini = h_teardown,
     .timeout = 90)
{
    struct h_result r;
    int             n = 0;

    start(0);
    cr_assert_eq(maps(srv.pid, "/libcrypto.so"), 0);
    cr_assert_eq(config(1), 0);
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    /* The old generation (no OpenSSL) gives way to the new one. */
    cr_assert(
        H_WAIT(10000, mapping_openssl(&n) == WORKERS + 1 && n == WORKERS + 1),
        "%d of %d processes map OpenSSL%s", mapping_openssl(&n), n,
        h_diag(&srv));
    cr_assert_eq(tls_echo(&r), 0, "%s %s%s", r.out, r.err, h_diag(&srv));
    h_result_free(&r);
    cr_expect(h_alive(&srv));
}

/* A copy of the binary beside a .libs/prefork-tls.so that is no shared
 * object: -t refuses the TLS service at its line with dlopen's reason,
 * and is content without one. */
Test(tlsload, a_layer_that_cannot_load_is_a_config_error, .fini = h_teardown,
     .timeout = 60)
{
    struct h_result r;
    char            bin[192], libs[192], msg[512];
    const char     *argv[] = {bin, "-t", "-c", srv.conf, NULL};
    int             line;

    setup_dir();
    snprintf(bin, sizeof bin, "%s/prefork", srv.dir);
    snprintf(libs, sizeof libs, "%s/.libs", srv.dir);
    cr_assert_eq(mkdir(libs, 0755), 0);
    cr_assert_eq(h_sh(&r, CMD_MS, "cp %s %s && echo junk >%s/prefork-tls.so",
                      H_PREFORK, bin, libs),
                 0, "%s", r.err);
    h_result_free(&r);
    cr_assert_eq(config(1), 0);
    line = h_line_of(srv.conf, "tls_certificate");
    cr_assert_gt(line, 0);
    cr_assert_neq(h_run(argv, CMD_MS, &r), 0, "%s", r.err);
    snprintf(msg, sizeof msg,
             "%s:%d: [svc] tls_certificate: TLS is not available: %s/"
             "prefork-tls.so: ",
             srv.conf, line, libs);
    cr_expect(strstr(r.err, msg) != NULL, "want '%s' in:\n%s", msg, r.err);
    h_result_free(&r);
    cr_assert_eq(config(0), 0);
    cr_expect_eq(h_run(argv, CMD_MS, &r), 0, "%s", r.err);
    h_result_free(&r);
}
