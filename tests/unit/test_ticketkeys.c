/*
 * test_ticketkeys.c -- the session-ticket keys: the shared table
 * (rotation, expiry of old keys, lookup by name, what a reader sees),
 * nginx's key files and their errors as the config reports them, and
 * real OpenSSL handshakes in memory that resume with the master's keys:
 * on another context (another generation), after a rotation, not after
 * expiry, with TLS 1.2 and 1.3, and in a process that took the table
 * over as a new master does on SIGUSR2.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "clock.h"
#include "reader.h"
#include "ticketfile.h"
#include "ticketkeys.h"
#include "ticketstore.h"
#include "tlsload.h"

#define HOUR (3600LL * 1000)

static struct tk_key key(unsigned char tag, int64_t created)
{
    struct tk_key k = {.secret_len = 32, .created_ms = created};

    memset(k.name, tag, sizeof(k.name));
    memset(k.hmac, tag ^ 0x55, sizeof(k.hmac));
    memset(k.aes, tag ^ 0xaa, sizeof(k.aes));
    return k;
}

static struct tk_store *new_store(void)
{
    struct tk_store *st = malloc(sizeof(*st));

    cr_assert_not_null(st);
    tk_store_init(st);
    return st;
}

/* Put k as the new current key at now, as the master's rotation does. */
static void rotate_to(struct tk_store *st, unsigned char tag, int64_t now)
{
    struct tk_key k = key(tag, now);
    int           i = tk_store_put(st, &k, 0);

    cr_assert_geq(i, 0);
    tk_store_publish(st, i, now);
}

/* --- the table --------------------------------------------------------- */

Test(store, empty_table_has_no_key_and_wants_one)
{
    struct tk_store *st = new_store();
    struct tk_key    k, name = key(1, 0);

    cr_assert(tk_store_valid(st));
    cr_assert_eq(tk_store_current(st, &k), -1);
    cr_assert_eq(tk_store_find(st, name.name, &k), 0);
    cr_assert(tk_store_due(st, 0, HOUR));
    free(st);
}

Test(store, rotation_is_due_after_one_period)
{
    struct tk_store *st = new_store();

    rotate_to(st, 1, 1000);
    cr_assert_not(tk_store_due(st, 1000 + HOUR - 1, HOUR));
    cr_assert(tk_store_due(st, 1000 + HOUR, HOUR));
    free(st);
}

Test(store, lookup_by_name_says_current_or_older)
{
    struct tk_store *st = new_store();
    struct tk_key    a = key(0xa1, 0), b = key(0xb2, 0), c = key(0xc3, 0), k;

    rotate_to(st, 0xa1, 0);
    cr_assert_eq(tk_store_find(st, a.name, &k), 1);
    rotate_to(st, 0xb2, HOUR);
    cr_assert_eq(tk_store_current(st, &k), 0);
    cr_assert_arr_eq(k.name, b.name, TK_NAME_LEN);
    cr_assert_eq(tk_store_find(st, b.name, &k), 1, "the current key");
    cr_assert_eq(tk_store_find(st, a.name, &k), 2, "an older key: renew");
    cr_assert_arr_eq(k.aes, a.aes, TK_SECRET_MAX);
    cr_assert_arr_eq(k.hmac, a.hmac, TK_SECRET_MAX);
    cr_assert_eq(tk_store_find(st, c.name, &k), 0, "a key never made");
    free(st);
}

Test(store, old_keys_expire_one_lifetime_after_retiring)
{
    struct tk_store *st = new_store();
    struct tk_key    a = key(1, 0), k;

    rotate_to(st, 1, 0);
    cr_assert_eq(tk_store_expire(st, 5 * HOUR, HOUR), 0,
                 "the current key never expires");
    rotate_to(st, 2, HOUR); /* 1 retired at HOUR */
    cr_assert_eq(tk_store_expire(st, 2 * HOUR - 1, HOUR), 0);
    cr_assert_eq(tk_store_find(st, a.name, &k), 2);
    cr_assert_eq(tk_store_expire(st, 2 * HOUR, HOUR), 1);
    cr_assert_eq(tk_store_find(st, a.name, &k), 0, "gone once expired");
    cr_assert_eq(tk_store_count(st), 1);
    free(st);
}

Test(store, a_full_table_reuses_the_oldest_retired_slot)
{
    struct tk_store *st = new_store();
    struct tk_key    first = key(1, 0), second = key(2, 0), k;
    int              i;

    for (i = 1; i <= TK_SLOTS + 1; i++)
        rotate_to(st, (unsigned char)i, i * HOUR);
    cr_assert_eq(tk_store_count(st), TK_SLOTS);
    cr_assert_eq(tk_store_find(st, first.name, &k), 0, "the oldest went");
    cr_assert_eq(tk_store_find(st, second.name, &k), 2);
    cr_assert_eq(tk_store_current(st, &k), 0);
    cr_assert_eq(k.name[0], TK_SLOTS + 1);
    free(st);
}

Test(store, a_key_of_a_known_name_takes_its_slot)
{
    struct tk_store *st = new_store();
    struct tk_key    k = key(7, 0);

    cr_assert_eq(tk_store_put(st, &k, 1), 0);
    k.aes[0] ^= 1;
    cr_assert_eq(tk_store_put(st, &k, 1), 0);
    cr_assert_eq(tk_store_count(st), 1);
    free(st);
}

Test(store, pinned_keys_neither_rotate_nor_expire_until_unpinned)
{
    struct tk_store *st = new_store();
    struct tk_key    a = key(1, 0), b = key(2, 0), k;
    int              ia, ib;

    ib = tk_store_put(st, &b, 1);
    ia = tk_store_put(st, &a, 1);
    tk_store_publish(st, ia, 0);
    cr_assert_not(tk_store_due(st, 100 * HOUR, HOUR));
    cr_assert_eq(tk_store_expire(st, 100 * HOUR, HOUR), 0);
    cr_assert_eq(tk_store_find(st, b.name, &k), 2);
    tk_store_unpin(st, 100 * HOUR);
    cr_assert(tk_store_due(st, 100 * HOUR, HOUR));
    rotate_to(st, 3, 100 * HOUR);
    cr_assert_eq(tk_store_expire(st, 101 * HOUR, HOUR), 2);
    cr_assert_eq(tk_store_count(st), 1);
    (void)ib;
    free(st);
}

Test(store, a_reader_skips_a_slot_being_written)
{
    struct tk_store *st = new_store();
    struct tk_key    a = key(1, 0), k;

    rotate_to(st, 1, 0);
    /* The master between write_begin and write_end. */
    atomic_fetch_add(&st->slot[0].seq, 1);
    cr_assert_eq(tk_store_find(st, a.name, &k), 0);
    cr_assert_eq(tk_store_current(st, &k), -1);
    atomic_fetch_add(&st->slot[0].seq, 1);
    cr_assert_eq(tk_store_find(st, a.name, &k), 1);
    free(st);
}

/* --- nginx's key files ------------------------------------------------- */

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/test_ticketkeys.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", dir);
}

TestSuite(file, .init = make_dir, .fini = remove_dir);

/* DIR/name holding len bytes, byte i being first + i. */
static void write_key(const char *name, size_t len, unsigned char first)
{
    unsigned char buf[128];
    char          path[256];
    size_t        i;
    FILE         *f;

    for (i = 0; i < len; i++)
        buf[i] = (unsigned char)(first + i);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
}

Test(file, eighty_bytes_are_name_hmac_aes)
{
    struct tk_key keys[TK_FILES_MAX];
    char          err[512] = "";
    size_t        n;

    write_key("a.key", 80, 0);
    cr_assert_eq(ticketfile_load("a.key", dir, keys, &n, 5, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert_eq(keys[0].secret_len, 32);
    cr_assert_eq(keys[0].name[0], 0);
    cr_assert_eq(keys[0].hmac[0], 16);
    cr_assert_eq(keys[0].aes[0], 48);
    cr_assert_eq(keys[0].aes[31], 79);
    cr_assert_eq(keys[0].created_ms, 5);
}

Test(file, forty_eight_bytes_are_name_aes_hmac)
{
    struct tk_key keys[TK_FILES_MAX];
    char          err[512] = "";
    size_t        n;

    write_key("short.key", 48, 100);
    cr_assert_eq(
        ticketfile_load("short.key", dir, keys, &n, 0, err, sizeof(err)), 0,
        "%s", err);
    cr_assert_eq(keys[0].secret_len, 16);
    cr_assert_eq(keys[0].aes[0], 116, "nginx: the AES key comes second");
    cr_assert_eq(keys[0].hmac[0], 132);
}

Test(file, a_list_in_order_blanks_and_absolute_names)
{
    struct tk_key keys[TK_FILES_MAX];
    char          err[512] = "", list[256];
    size_t        n;

    write_key("one.key", 80, 1);
    write_key("two.key", 48, 2);
    snprintf(list, sizeof(list), " one.key ,%s/two.key", dir);
    cr_assert_eq(ticketfile_load(list, dir, keys, &n, 0, err, sizeof(err)), 0,
                 "%s", err);
    cr_assert_eq(n, 2);
    cr_assert_eq(keys[0].name[0], 1, "the first file encrypts");
    cr_assert_eq(keys[1].name[0], 2);
}

/* list must be refused with a message containing want. */
static void refused(const char *list, const char *want)
{
    struct tk_key keys[TK_FILES_MAX];
    char          err[512] = "";
    size_t        n = 99;

    cr_assert_eq(ticketfile_load(list, dir, keys, &n, 0, err, sizeof(err)), -1,
                 "%s accepted", list);
    cr_assert_eq(n, 0);
    cr_assert(strstr(err, want) != NULL, "'%s' lacks '%s'", err, want);
}

Test(file, errors_say_which_file_and_why)
{
    write_key("odd.key", 47, 0);
    write_key("a.key", 80, 0);
    write_key("same.key", 80, 0);
    refused("odd.key", "odd.key: 47 bytes; a ticket key file holds 48 or 80");
    refused("missing.key", "missing.key: No such file or directory");
    refused("a.key,,a.key", "an empty file name in the list");
    refused("", "no file named");
    refused("a.key, same.key", "same.key: the same key name as ");
    refused(".", ": not a regular file");
    for (int i = 1; i <= 9; i++) {
        char name[16];
        snprintf(name, sizeof(name), "k%d", i);
        write_key(name, 48, (unsigned char)i);
    }
    refused("k1,k2,k3,k4,k5,k6,k7,k8,k9", "more than 8 files");
}

Test(file, the_config_reports_a_bad_file_with_its_line)
{
    struct diag    d = DIAG_INIT;
    struct config *cfg;
    char           text[512], want[256];

    write_key("odd.key", 47, 0);
    snprintf(text, sizeof(text),
             "[server]\nworkers = 1\ntls_ticket_key_file = odd.key\n"
             "[echo]\nmodule = echo\nlisten = 127.0.0.1:7007\n");
    cfg = config_load_buffer(text, strlen(text), "t.ini", dir, &d);
    cr_assert_null(cfg);
    cr_assert_eq(d.n, 1);
    snprintf(want, sizeof(want),
             "t.ini:3: [server] tls_ticket_key_file: %s/odd.key: "
             "47 bytes",
             dir);
    cr_assert(strncmp(d.msg[0], want, strlen(want)) == 0, "got '%s'", d.msg[0]);
    diag_free(&d);
}

Test(file, the_config_takes_a_good_file_and_a_rotation)
{
    struct diag    d = DIAG_INIT;
    struct config *cfg;
    const char    *text = "[server]\ntls_ticket_key_file = a.key\n"
                          "tls_ticket_key_rotation = 90s\n"
                          "[echo]\nmodule = echo\nlisten = 127.0.0.1:7007\n";

    write_key("a.key", 80, 0);
    cfg = config_load_buffer(text, strlen(text), "t.ini", dir, &d);
    cr_assert_not_null(cfg, "%s", d.n ? d.msg[0] : "");
    cr_assert_eq(cfg->tls_ticket_key_rotation_ms, 90000);
    cr_assert_str_eq(cfg->tls_ticket_key_file, "a.key");
    config_free(cfg);
}

Test(config, rotation_defaults_to_an_hour_and_has_bounds)
{
    struct diag    d = DIAG_INIT;
    struct config *cfg;
    const char    *svc = "[echo]\nmodule = echo\nlisten = 127.0.0.1:7007\n";
    char           text[256];

    cfg = config_load_buffer(svc, strlen(svc), "t.ini", "/nonexistent", &d);
    cr_assert_not_null(cfg);
    cr_assert_eq(cfg->tls_ticket_key_rotation_ms, 3600 * 1000);
    cr_assert_null(cfg->tls_ticket_key_file);
    config_free(cfg);
    snprintf(text, sizeof(text), "[server]\ntls_ticket_key_rotation = 10ms\n%s",
             svc);
    cfg = config_load_buffer(text, strlen(text), "t.ini", "/nonexistent", &d);
    cr_assert_null(cfg);
    cr_assert(strstr(d.msg[0], "t.ini:2: [server] tls_ticket_key_rotation") ==
                  d.msg[0],
              "got '%s'", d.msg[0]);
    diag_free(&d);
}

/* --- real handshakes, in memory ------------------------------------------ */

/* The ticket callbacks are the TLS layer's: loaded from the build tree, as
 * the master loads it, with the host's table (tlsload.c). */
static int attach(SSL_CTX *ctx)
{
    const struct tls_layer *l;
    char                    err[512];

    tls_layer_path(PF_BUILDDIR "/src/.libs/" TLS_LAYER_FILE);
    l = tls_layer_load(NULL, err, sizeof(err));
    cr_assert_not_null(l, "%s", err);
    return l->ticketkeys_attach(ctx);
}

/* A server context with a throw-away self-signed P-256 certificate. */
static SSL_CTX *server_ctx(int version)
{
    SSL_CTX  *ctx = SSL_CTX_new(TLS_server_method());
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509     *x = X509_new();

    cr_assert(ctx != NULL && pkey != NULL && x != NULL);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"test", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, pkey);
    cr_assert(X509_sign(x, pkey, EVP_sha256()) > 0);
    cr_assert_eq(SSL_CTX_use_certificate(ctx, x), 1);
    cr_assert_eq(SSL_CTX_use_PrivateKey(ctx, pkey), 1);
    SSL_CTX_set_min_proto_version(ctx, version);
    SSL_CTX_set_max_proto_version(ctx, version);
    /* Only tickets may resume: no session cache on the server's side. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    cr_assert_eq(attach(ctx), 0);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return ctx;
}

/* One connection of a client (offering sess, when not NULL) to a server
 * of ctx, through a BIO pair; returns the client's session afterwards
 * and whether the handshake resumed. */
static SSL_SESSION *connect_once(SSL_CTX *sctx, SSL_SESSION *sess, int *reused)
{
    SSL_CTX     *cctx = SSL_CTX_new(TLS_client_method());
    SSL         *c = SSL_new(cctx), *s = SSL_new(sctx);
    BIO         *bc, *bs;
    SSL_SESSION *out;
    char         byte;
    int          i, cdone = 0, sdone = 0;

    cr_assert(c != NULL && s != NULL);
    cr_assert_eq(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
    SSL_set_bio(c, bc, bc);
    SSL_set_bio(s, bs, bs);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    if (sess != NULL)
        cr_assert_eq(SSL_set_session(c, sess), 1);
    for (i = 0; i < 100 && !(cdone && sdone); i++) {
        if (!cdone)
            cdone = SSL_do_handshake(c) == 1;
        if (!sdone)
            sdone = SSL_do_handshake(s) == 1;
    }
    cr_assert(cdone && sdone, "handshake: %s",
              ERR_reason_error_string(ERR_get_error()));
    /* TLS 1.3 tickets come after the handshake: read past them. */
    cr_assert_eq(SSL_write(s, "x", 1), 1);
    cr_assert_eq(SSL_read(c, &byte, 1), 1);
    *reused = SSL_session_reused(c);
    out = SSL_get1_session(c);
    /* A connection freed unshut marks its session unfit to resume. */
    SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_set_shutdown(s, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(cctx);
    return out;
}

/* The name of the key that encrypted sess's ticket. */
static void ticket_name(SSL_SESSION *sess, unsigned char name[TK_NAME_LEN])
{
    const unsigned char *tick;
    size_t               len;

    SSL_SESSION_get0_ticket(sess, &tick, &len);
    cr_assert_geq(len, TK_NAME_LEN, "the session has no ticket");
    memcpy(name, tick, TK_NAME_LEN);
}

static void resumes(int version)
{
    SSL_CTX     *gen1, *gen2;
    SSL_SESSION *s1, *s2, *s3;
    int          reused;

    gen1 = server_ctx(version); /* made before the table, as at start */
    cr_assert_eq(ticketkeys_open(), 0);
    cr_assert_eq(ticketkeys_configure(HOUR, NULL, NULL, 1), 0);
    gen2 = server_ctx(version); /* a reload's new context */
    s1 = connect_once(gen1, NULL, &reused);
    cr_assert_not(reused);
    s2 = connect_once(gen2, s1, &reused);
    cr_assert(reused, "a ticket from one context resumes on another");
    s3 = connect_once(gen1, s2, &reused);
    cr_assert(reused);
    /* Made before the table had its lifetime, as at start: the tickets
     * still say 1 h. */
    cr_assert_eq(SSL_SESSION_get_ticket_lifetime_hint(s1), 3600,
                 "tickets live 1 h");
    SSL_SESSION_free(s1);
    SSL_SESSION_free(s2);
    SSL_SESSION_free(s3);
    SSL_CTX_free(gen1);
    SSL_CTX_free(gen2);
    ticketkeys_close();
}

Test(handshake, tls12_resumes_across_contexts)
{
    resumes(TLS1_2_VERSION);
}

Test(handshake, tls13_resumes_across_contexts)
{
    resumes(TLS1_3_VERSION);
}

/* After a rotation an old ticket still resumes and is renewed under the
 * new key; once its key has expired it does not. */
static void rotation(int version)
{
    SSL_CTX      *ctx;
    SSL_SESSION  *old, *renewed, *again;
    unsigned char n_old[TK_NAME_LEN], n_new[TK_NAME_LEN];
    int           reused;
    int64_t       now;

    cr_assert_eq(ticketkeys_open(), 0);
    cr_assert_eq(ticketkeys_configure(HOUR, NULL, NULL, 1), 0);
    /* After the first key is made: a period from now it is due. */
    now = mono_ms();
    ctx = server_ctx(version);
    old = connect_once(ctx, NULL, &reused);
    ticket_name(old, n_old);
    ticketkeys_tick(now + HOUR); /* a new key */
    renewed = connect_once(ctx, old, &reused);
    cr_assert(reused, "an older key still decrypts");
    ticket_name(renewed, n_new);
    cr_assert(memcmp(n_old, n_new, TK_NAME_LEN) != 0,
              "the ticket was renewed under the new key");
    ticketkeys_tick(now + 2 * HOUR + 1000); /* the old key expires */
    again = connect_once(ctx, old, &reused);
    cr_assert_not(reused, "a ticket of an expired key is refused");
    SSL_SESSION_free(again);
    again = connect_once(ctx, renewed, &reused);
    cr_assert(reused, "the renewed ticket resumes");
    SSL_SESSION_free(old);
    SSL_SESSION_free(renewed);
    SSL_SESSION_free(again);
    SSL_CTX_free(ctx);
    ticketkeys_close();
}

Test(handshake, tls12_rotation_renews_then_expires)
{
    rotation(TLS1_2_VERSION);
}

Test(handshake, tls13_rotation_renews_then_expires)
{
    rotation(TLS1_3_VERSION);
}

TestSuite(keyfile, .init = make_dir, .fini = remove_dir);

/* Keys from a file: they encrypt; nothing rotates them; the generated key
 * they replace still decrypts. */
Test(keyfile, file_keys_encrypt_and_are_not_rotated)
{
    SSL_CTX      *ctx;
    SSL_SESSION  *before, *after, *s;
    unsigned char name[TK_NAME_LEN], want[TK_NAME_LEN];
    int           reused, i;

    write_key("a.key", 80, 9);
    for (i = 0; i < TK_NAME_LEN; i++)
        want[i] = (unsigned char)(9 + i);
    cr_assert_eq(ticketkeys_open(), 0);
    cr_assert_eq(ticketkeys_configure(HOUR, NULL, NULL, 1), 0);
    ctx = server_ctx(TLS1_3_VERSION);
    before = connect_once(ctx, NULL, &reused);
    cr_assert_eq(ticketkeys_configure(HOUR, "a.key", dir, 1), 0);
    after = connect_once(ctx, before, &reused);
    cr_assert(reused, "the generated key is kept for decrypting");
    ticket_name(after, name);
    cr_assert_arr_eq(name, want, TK_NAME_LEN, "the file's key encrypts");
    ticketkeys_tick(mono_ms() + 10 * HOUR);
    s = connect_once(ctx, after, &reused);
    cr_assert(reused, "a file's key does not expire");
    cr_assert_eq(ticketkeys_configure(HOUR, "missing.key", dir, 1), -1);
    SSL_SESSION_free(s);
    s = connect_once(ctx, after, &reused);
    cr_assert(reused, "a bad file keeps the keys in use");
    SSL_SESSION_free(s);
    SSL_SESSION_free(before);
    SSL_SESSION_free(after);
    SSL_CTX_free(ctx);
    ticketkeys_close();
}

/* What a binary upgrade does: the old master exports its table, the new
 * one (here a child, started over with the descriptor it names) maps it
 * and resumes the old master's tickets. */
Test(handshake, a_new_master_takes_the_table_over)
{
    SSL_CTX     *ctx;
    SSL_SESSION *sess, *s;
    const char  *v;
    char         num[16];
    int          reused, fd, status;
    pid_t        pid;

    cr_assert_eq(ticketkeys_open(), 0);
    cr_assert_eq(ticketkeys_configure(HOUR, NULL, NULL, 1), 0);
    ctx = server_ctx(TLS1_3_VERSION);
    sess = connect_once(ctx, NULL, &reused);
    SSL_CTX_free(ctx);
    cr_assert_eq(ticketkeys_export(), 0);
    v = getenv("PREFORK_TICKET_KEYS_FD");
    cr_assert_not_null(v);
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        /* A process with nothing of the old one's but the descriptor. */
        fd = dup(atoi(v));
        snprintf(num, sizeof(num), "%d", fd);
        setenv("PREFORK_TICKET_KEYS_FD", num, 1);
        ticketkeys_close();
        if (ticketkeys_open() != 0 ||
            getenv("PREFORK_TICKET_KEYS_FD") != NULL ||
            ticketkeys_configure(HOUR, NULL, NULL, 1) != 0)
            _exit(2);
        ctx = server_ctx(TLS1_3_VERSION);
        s = connect_once(ctx, sess, &reused);
        _exit(reused ? 0 : 1);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the new master did not resume the session (status %d)", status);
    (void)s;
    SSL_SESSION_free(sess);
    ticketkeys_close();
}

/* A server whose services have no TLS makes no key (OpenSSL stays
 * untouched: no random generator, no providers loaded); the first reload
 * that brings a TLS service makes one. */
Test(handshake, no_key_until_a_service_speaks_tls)
{
    SSL_CTX             *ctx;
    SSL_SESSION         *s;
    const unsigned char *tick;
    size_t               len = 0;
    int                  reused;

    cr_assert_eq(ticketkeys_open(), 0);
    cr_assert_eq(ticketkeys_configure(HOUR, NULL, NULL, 0), 0);
    ctx = server_ctx(TLS1_3_VERSION);
    s = connect_once(ctx, NULL, &reused);
    SSL_SESSION_get0_ticket(s, &tick, &len);
    cr_expect_eq(len, 0, "a ticket with no key made");
    SSL_SESSION_free(s);
    cr_assert_eq(ticketkeys_configure(HOUR, NULL, NULL, 1), 0);
    s = connect_once(ctx, NULL, &reused);
    SSL_SESSION_get0_ticket(s, &tick, &len);
    cr_expect_gt(len, 0, "no ticket once a service speaks TLS");
    SSL_SESSION_free(s);
    SSL_CTX_free(ctx);
    ticketkeys_close();
}
