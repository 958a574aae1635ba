/*
 * test_tlsconf.c -- the tls_* keys as the reader and checks.c take them:
 * values, defaults, the pairs that must agree, TLS on a UDP listener,
 * and the keys that do nothing without a certificate.  No file is read;
 * loading the certificates is tlsctx.c's and test_tls's.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <prefork/module.h>

#include "reader.h"

#define TLS_SVC                                                                \
    "[s]\nmodule = echo\nlisten = 127.0.0.1:7443\n"                            \
    "tls_certificate = a.pem, b.pem\ntls_key = a.key, b.key\n"

static struct diag    d = DIAG_INIT;
static struct config *cfg;

static void teardown(void)
{
    config_free(cfg);
    cfg = NULL;
    diag_free(&d);
}

TestSuite(tlsconf, .fini = teardown);

static struct config *load(const char *text)
{
    return config_load_buffer(text, strlen(text), "t.ini", "/etc/pf", &d);
}

static void refused(const char *text, const char *want)
{
    cfg = load(text);
    cr_assert_null(cfg, "config should have been refused");
    for (size_t i = 0; i < d.n; i++)
        cr_log_info("  %s", d.msg[i]);
    cr_assert_eq(d.n, 1, "%zu messages", d.n);
    cr_assert_str_eq(d.msg[0], want);
}

Test(tlsconf, defaults_and_lines)
{
    cfg = load(TLS_SVC);
    cr_assert_not_null(cfg);
    const struct service_conf *s = &cfg->svc[0];

    cr_expect_str_eq(s->tls_certificate, "a.pem, b.pem");
    cr_expect_str_eq(s->tls_protocols, "TLSv1.2 TLSv1.3");
    cr_expect(strstr(s->tls_ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256") ==
              s->tls_ciphers);
    cr_expect_str_eq(s->tls_ciphersuites, "TLS_AES_128_GCM_SHA256:"
                                          "TLS_AES_256_GCM_SHA384:"
                                          "TLS_CHACHA20_POLY1305_SHA256");
    cr_expect_eq(s->tls_verify_client, TLS_VERIFY_NO);
    cr_expect_eq(s->tls_handshake_timeout_ms, 10000);
    cr_expect_eq(s->tls_ktls, TLS_KTLS_NO);
    cr_expect_null(s->tls_alpn);
    cr_expect_eq(s->tls_certificate_line, 4);
    cr_expect_eq(s->tls_key_line, 5);
    cr_expect_eq(cfg->warnings.n, 0);
}

Test(tlsconf, values)
{
    cfg =
        load(TLS_SVC "tls_protocols = TLSv1.3\ntls_verify_client = optional\n"
                     "tls_client_ca = ca.pem\ntls_handshake_timeout = 2500ms\n"
                     "tls_ktls = auto\ntls_reject_unknown_sni = yes\n"
                     "tls_alpn = x-one, x-two\n");
    cr_assert_not_null(cfg);
    const struct service_conf *s = &cfg->svc[0];

    cr_expect_str_eq(s->tls_protocols, "TLSv1.3");
    cr_expect_eq(s->tls_verify_client, TLS_VERIFY_OPTIONAL);
    cr_expect_str_eq(s->tls_client_ca, "/etc/pf/ca.pem");
    cr_expect_eq(s->tls_client_ca_line, 8);
    cr_expect_eq(s->tls_handshake_timeout_ms, 2500);
    cr_expect_eq(s->tls_ktls, TLS_KTLS_AUTO);
    cr_expect_eq(s->tls_reject_unknown_sni, 1);
    cr_expect_str_eq(s->tls_alpn, "x-one, x-two");
}

Test(tlsconf, old_protocols_refused)
{
    refused(TLS_SVC "tls_protocols = TLSv1.1 TLSv1.2\n",
            "t.ini:6: [s] tls_protocols: invalid 'TLSv1.1 TLSv1.2' (use "
            "TLSv1.2, TLSv1.3 or both)");
}

Test(tlsconf, bad_verify_mode)
{
    refused(TLS_SVC "tls_verify_client = maybe\n",
            "t.ini:6: [s] tls_verify_client: invalid verify mode 'maybe' "
            "(use no, optional, require)");
}

Test(tlsconf, one_key_per_certificate)
{
    refused("[s]\nmodule = echo\nlisten = 127.0.0.1:7443\n"
            "tls_certificate = a.pem, b.pem\ntls_key = a.key\n",
            "t.ini:5: [s] tls_key names 1 files, tls_certificate 2: one key "
            "per certificate, in the same order");
}

Test(tlsconf, certificate_needs_key)
{
    refused("[s]\nmodule = echo\nlisten = 127.0.0.1:7443\n"
            "tls_certificate = a.pem\n",
            "t.ini:4: [s] tls_certificate needs tls_key");
}

Test(tlsconf, key_needs_certificate)
{
    refused("[s]\nmodule = echo\nlisten = 127.0.0.1:7443\ntls_key = a.key\n",
            "t.ini:4: [s] tls_key needs tls_certificate");
}

Test(tlsconf, require_needs_a_ca)
{
    refused(TLS_SVC "tls_verify_client = require\n",
            "t.ini:6: [s] tls_verify_client = require needs tls_client_ca");
}

Test(tlsconf, udp_listener_refused)
{
    refused("[s]\nmodule = echo\n"
            "listen = 127.0.0.1:7443, udp://127.0.0.1:7443\n"
            "tls_certificate = a.pem\ntls_key = a.key\n",
            "t.ini:4: [s] TLS is for TCP and UNIX stream listeners; listen "
            "(line 3) has a UDP one");
}

Test(tlsconf, keys_without_certificate_warn)
{
    cfg = load("[s]\nmodule = echo\nlisten = 127.0.0.1:7443\n"
               "tls_protocols = TLSv1.3\ntls_handshake_timeout = 1s\n");
    cr_assert_not_null(cfg);
    cr_assert_eq(cfg->warnings.n, 2);
    cr_expect_str_eq(cfg->warnings.msg[0],
                     "t.ini:4: warning: [s] tls_protocols does nothing "
                     "without tls_certificate");
    cr_expect_str_eq(cfg->warnings.msg[1],
                     "t.ini:5: warning: [s] tls_handshake_timeout does "
                     "nothing without tls_certificate");
}

Test(tlsconf, client_ca_without_verify_warns)
{
    cfg = load(TLS_SVC "tls_client_ca = ca.pem\n");
    cr_assert_not_null(cfg);
    cr_assert_eq(cfg->warnings.n, 1);
    cr_expect_str_eq(cfg->warnings.msg[0],
                     "t.ini:6: warning: [s] tls_client_ca does nothing unless "
                     "tls_verify_client is optional or require");
}
