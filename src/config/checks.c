/*
 * checks.c -- what no single key can tell: checks across keys, services
 * and limits of the running server, made once the whole file is read.
 *
 * Every refusal a start would make without binding belongs here, with the
 * line to fix, so that `prefork -t` says what a start would: pools that
 * disagree, a key that needs a stream listener on a UDP-only service, two
 * services on one address, more workers than the scoreboard has slots
 * for.  A key that is valid but does nothing where it is (max_children
 * outside forking mode) is a warning, not an error, as with nginx -t: the
 * config still starts, and the user hears that the line is not doing what
 * it seems to.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "parse.h"
#include "sandbox_conf.h"
#include "ticketfile.h"

/* A listen line cannot name more addresses than a worker takes: the
 * shortest, ":1", is two bytes and a comma, after "listen=".  Should lines
 * grow longer, check nlisten against CONFIG_MAX_LISTEN here. */
_Static_assert((CONFIG_MAX_LINE - 7 + 1) / 3 <= CONFIG_MAX_LISTEN,
               "a listen line may name more addresses than a worker takes");

/* The smallest nonzero of two line numbers. */
static int first_line(int a, int b)
{
    if (a == 0 || (b != 0 && b < a))
        return b;
    return a;
}

/* min_spare, max_spare and max_workers make a pool dynamic; fill in what
 * was left out and check they agree with each other and with workers. */
static void check_dynamic(struct parse *ps, struct service_conf *svc,
                          const int *seen)
{
    int spare_line = first_line(seen[VK_MIN_SPARE], seen[VK_MAX_SPARE]);

    /* A bound that was set but refused (it stays 0) has been reported;
     * comparing with it would only add noise. */
    if ((seen[VK_MAX_WORKERS] && svc->max_workers == 0) ||
        (seen[VK_MAX_SPARE] && svc->max_spare == 0))
        return;
    if (!seen[VK_MAX_WORKERS]) {
        parse_report(ps, spare_line,
                     "[%s] max_workers is required when "
                     "min_spare/max_spare are set",
                     svc->name);
        return;
    }
    if (!seen[VK_MIN_SPARE])
        svc->min_spare = 1;
    if (!seen[VK_MAX_SPARE])
        svc->max_spare =
            svc->min_spare > svc->workers ? svc->min_spare : svc->workers;
    /* A pool sized from the CPU count must not make a config that works
     * on a small machine fail on a big one. */
    if (!seen[VK_WORKERS] && !ps->server_seen[SK_WORKERS] &&
        svc->workers > svc->max_workers)
        svc->workers = svc->max_workers;
    if (svc->workers > svc->max_workers)
        parse_report(ps, seen[VK_MAX_WORKERS],
                     "[%s] workers (%d%s) must not "
                     "exceed max_workers (%d)",
                     svc->name, svc->workers,
                     seen[VK_WORKERS] ? "" : ", from [server]",
                     svc->max_workers);
    if (svc->min_spare > svc->max_spare)
        parse_report(ps, first_line(seen[VK_MAX_SPARE], seen[VK_MIN_SPARE]),
                     "[%s] min_spare (%d) must not exceed max_spare (%d)",
                     svc->name, svc->min_spare, svc->max_spare);
    if (svc->min_spare > svc->max_workers)
        parse_report(ps, first_line(seen[VK_MIN_SPARE], seen[VK_MAX_WORKERS]),
                     "[%s] min_spare (%d) must not exceed max_workers (%d)",
                     svc->name, svc->min_spare, svc->max_workers);
}

/* Does svc have a listener of this kind? */
static int has_kind(const struct service_conf *svc, enum addr_kind kind)
{
    size_t i;

    for (i = 0; i < svc->nlisten; i++)
        if (svc->listen[i].kind == kind)
            return 1;
    return 0;
}

/* proxy_from restricts proxy_protocol; proxy_protocol and canary_probe are
 * about connections, which a UDP-only service never has. */
static void check_streams(struct parse *ps, const struct service_conf *svc,
                          const int *seen)
{
    const int stream_keys[] = {VK_PROXY_PROTOCOL, VK_CANARY_PROBE};
    const int on[] = {svc->proxy_protocol, svc->canary_probe.len > 0};
    size_t    i;

    if (seen[VK_PROXY_FROM] && !svc->proxy_protocol)
        parse_report(ps, seen[VK_PROXY_FROM],
                     "[%s] proxy_from needs proxy_protocol = yes", svc->name);
    if (svc->nlisten == 0 || has_kind(svc, ADDR_TCP) ||
        has_kind(svc, ADDR_UNIX))
        return;
    for (i = 0; i < sizeof(stream_keys) / sizeof(stream_keys[0]); i++)
        if (on[i])
            parse_report(ps, seen[stream_keys[i]],
                         "[%s] %s is for TCP and UNIX stream listeners; this "
                         "service has only UDP ones",
                         svc->name, service_keys[stream_keys[i]].name);
}

/* Two services on one address could never both bind it: say so here,
 * with lines, rather than as a bind error at start.  (A list naming one
 * address twice is addr_parse_list's to report.) */
static void check_addresses(struct parse *ps)
{
    struct config *cfg = ps->cfg;
    size_t         i, j, a, b;

    for (i = 0; i < cfg->nsvc; i++) {
        struct service_conf *s = &cfg->svc[i];

        for (a = 0; a < s->nlisten; a++) {
            for (j = 0; j < i; j++) {
                struct service_conf *t = &cfg->svc[j];

                for (b = 0; b < t->nlisten; b++) {
                    if (strcmp(s->listen[a].text, t->listen[b].text) == 0)
                        parse_report(ps, s->listen_line,
                                     "[%s] listen: %s is "
                                     "already used by [%s] (line %d)",
                                     s->name, s->listen[a].text, t->name,
                                     t->listen_line);
                }
            }
        }
    }
}

/* Every worker of every service has a scoreboard slot, and a reload runs
 * two generations side by side, so the pools together get half the
 * slots, the master's own rule for TTIN.  A start with more would come up
 * short and log "no free scoreboard slot" on every retry.  Reported once,
 * at the pool that goes over. */
static void check_slots(struct parse *ps)
{
    const int limit = CONFIG_MAX_SLOTS / 2;
    int       total = 0;
    size_t    i;

    for (i = 0; i < ps->cfg->nsvc; i++) {
        const struct service_conf *svc = &ps->cfg->svc[i];
        const int                 *seen = ps->svc_seen[i];
        int  key = svc->dynamic ? VK_MAX_WORKERS : VK_WORKERS;
        int  pool = svc->dynamic ? svc->max_workers : svc->workers;
        int  line = seen[key] ? seen[key] : ps->server_seen[SK_WORKERS];
        char what[64];

        total += pool;
        if (total <= limit)
            continue;
        if (total == pool)
            snprintf(what, sizeof(what), "is");
        else
            snprintf(what, sizeof(what), "makes %d workers in all services,",
                     total);
        parse_report(
            ps, line ? line : svc->line,
            "[%s] %s (%d%s) %s more than the scoreboard holds (at most "
            "%d workers: %d slots, half of them kept for a reload)",
            svc->name, service_keys[key].name, pool,
            seen[key] ? "" : ", from [server]", what, limit, CONFIG_MAX_SLOTS);
        return;
    }
}

/* How many comma-separated items s has (0 for NULL). */
static size_t count_items(const char *s)
{
    size_t n = 1;

    if (s == NULL)
        return 0;
    for (; *s != '\0'; s++)
        n += *s == ',';
    return n;
}

/* tls_protocols names TLS versions, blank- or comma-separated; nothing
 * older than TLS 1.2 is offered. */
static int protocols_ok(const char *s)
{
    char   word[16];
    size_t n, any = 0;

    while (*s != '\0') {
        n = strcspn(s, " \t,");
        if (n > 0) {
            if (n >= sizeof(word))
                return 0;
            memcpy(word, s, n);
            word[n] = '\0';
            if (strcmp(word, "TLSv1.2") != 0 && strcmp(word, "TLSv1.3") != 0)
                return 0;
            any++;
        }
        s += n;
        s += *s != '\0';
    }
    return any > 0;
}

/* The TLS keys of one service: pairs that agree, stream listeners only,
 * and the lines tlsctx.c reports a file's problems at. */
static void check_tls(struct parse *ps, struct service_conf *svc,
                      const int *seen)
{
    svc->tls_certificate_line = seen[VK_TLS_CERTIFICATE];
    svc->tls_key_line = seen[VK_TLS_KEY];
    svc->tls_client_ca_line = seen[VK_TLS_CLIENT_CA];
    svc->tls_ciphers_line = seen[VK_TLS_CIPHERS];
    svc->tls_ciphersuites_line = seen[VK_TLS_CIPHERSUITES];
    if (seen[VK_TLS_KEY] && !seen[VK_TLS_CERTIFICATE])
        parse_report(ps, seen[VK_TLS_KEY], "[%s] tls_key needs tls_certificate",
                     svc->name);
    if (!seen[VK_TLS_CERTIFICATE] || svc->tls_certificate == NULL)
        return;
    if (!seen[VK_TLS_KEY])
        parse_report(ps, seen[VK_TLS_CERTIFICATE],
                     "[%s] tls_certificate needs tls_key", svc->name);
    else if (svc->tls_key != NULL &&
             count_items(svc->tls_key) != count_items(svc->tls_certificate))
        parse_report(ps, seen[VK_TLS_KEY],
                     "[%s] tls_key names %zu files, tls_certificate %zu: "
                     "one key per certificate, in the same order",
                     svc->name, count_items(svc->tls_key),
                     count_items(svc->tls_certificate));
    if (has_kind(svc, ADDR_UDP))
        parse_report(ps, seen[VK_TLS_CERTIFICATE],
                     "[%s] TLS is for TCP and UNIX stream listeners; "
                     "listen (line %d) has a UDP one",
                     svc->name, svc->listen_line);
    if (svc->tls_protocols != NULL && !protocols_ok(svc->tls_protocols))
        parse_report(ps, seen[VK_TLS_PROTOCOLS],
                     "[%s] tls_protocols: invalid '%s' (use TLSv1.2, "
                     "TLSv1.3 or both)",
                     svc->name, svc->tls_protocols);
    if (svc->tls_verify_client == TLS_VERIFY_REQUIRE &&
        svc->tls_client_ca == NULL)
        parse_report(ps, seen[VK_TLS_VERIFY_CLIENT],
                     "[%s] tls_verify_client = require needs tls_client_ca",
                     svc->name);
}

static int in_forking(const struct config *cfg, const struct service_conf *svc)
{
    (void)cfg;
    return svc->mode == MODE_FORKING;
}

static int in_threading(const struct config       *cfg,
                        const struct service_conf *svc)
{
    (void)cfg;
    return svc->mode == MODE_THREADING;
}

static int with_tcp(const struct config *cfg, const struct service_conf *svc)
{
    (void)cfg;
    return has_kind(svc, ADDR_TCP);
}

static int with_tls(const struct config *cfg, const struct service_conf *svc)
{
    (void)cfg;
    return svc->tls_certificate != NULL;
}

static int verifies(const struct config *cfg, const struct service_conf *svc)
{
    (void)cfg;
    return svc->tls_certificate != NULL &&
           svc->tls_verify_client != TLS_VERIFY_NO;
}

static int with_canary(const struct config *cfg, const struct service_conf *svc)
{
    (void)svc;
    return cfg->reload_canary_ms > 0;
}

static int sandboxed(const struct config *cfg, const struct service_conf *svc)
{
    (void)cfg;
    return svc->sandbox != SANDBOX_NO;
}

/* Every sandbox_connect item names a port (Landlock's rules are by port);
 * sandbox_read and sandbox_write name no empty path. */
static void check_sandbox(struct parse *ps, const struct service_conf *svc,
                          const int *seen)
{
    static const int lists[] = {VK_SANDBOX_READ, VK_SANDBOX_WRITE,
                                VK_SANDBOX_CONNECT};
    char             item[256];
    const char      *p;
    uint16_t         port;
    size_t           i;
    int              n;

    for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        p = *(char *const *)((const char *)svc + service_keys[lists[i]].offset);
        while ((n = sandbox_list_next(&p, item, sizeof(item))) != -1) {
            if (n == 0)
                parse_report(ps, seen[lists[i]], "[%s] %s: an empty item",
                             svc->name, service_keys[lists[i]].name);
            else if (lists[i] == VK_SANDBOX_CONNECT &&
                     sandbox_port_parse(item, &port) == -1)
                parse_report(ps, seen[lists[i]],
                             "[%s] sandbox_connect: '%s' is not HOST:PORT",
                             svc->name, item);
        }
    }
}

/* Service keys that only act in some services: where `acts` is false, a
 * key the file sets is reported as doing nothing `unless`. */
static const struct inert {
    int key;
    int (*acts)(const struct config *cfg, const struct service_conf *svc);
    const char *unless;
} inert_keys[] = {
    {VK_MAX_CHILDREN, in_forking, "unless mode = forking"},
    {VK_THREADS, in_threading, "unless mode = threading"},
    {VK_DEFER_ACCEPT, with_tcp, "without a TCP listener"},
    {VK_CANARY_PROBE, with_canary, "without reload_canary in [server]"},
    {VK_TLS_PROTOCOLS, with_tls, "without tls_certificate"},
    {VK_TLS_CIPHERS, with_tls, "without tls_certificate"},
    {VK_TLS_CIPHERSUITES, with_tls, "without tls_certificate"},
    {VK_TLS_ALPN, with_tls, "without tls_certificate"},
    {VK_TLS_VERIFY_CLIENT, with_tls, "without tls_certificate"},
    {VK_TLS_REJECT_UNKNOWN_SNI, with_tls, "without tls_certificate"},
    {VK_TLS_HANDSHAKE_TIMEOUT, with_tls, "without tls_certificate"},
    {VK_TLS_KTLS, with_tls, "without tls_certificate"},
    {VK_TLS_CLIENT_CA, verifies,
     "unless tls_verify_client is optional or "
     "require"},
    {VK_SANDBOX_READ, sandboxed, "with sandbox = no"},
    {VK_SANDBOX_WRITE, sandboxed, "with sandbox = no"},
    {VK_SANDBOX_EXEC, sandboxed, "with sandbox = no"},
    {VK_SANDBOX_CONNECT, sandboxed, "with sandbox = no"},
};

#define NINERT (sizeof(inert_keys) / sizeof(inert_keys[0]))

/* The warnings for svc, in the order of their lines. */
static void warn_inert(struct parse *ps, const struct service_conf *svc,
                       const int *seen)
{
    const struct inert *hit[NINERT], *t;
    size_t              n = 0, i, j;

    for (i = 0; i < NINERT; i++) {
        if (!seen[inert_keys[i].key] || inert_keys[i].acts(ps->cfg, svc))
            continue;
        for (j = n++; j > 0 && seen[hit[j - 1]->key] > seen[inert_keys[i].key];
             j--)
            hit[j] = hit[j - 1];
        hit[j] = &inert_keys[i];
    }
    for (i = 0; i < n; i++) {
        t = hit[i];
        diag_warn(&ps->cfg->warnings, ps->cfg->file, seen[t->key],
                  "[%s] %s does nothing %s", svc->name,
                  service_keys[t->key].name, t->unless);
    }
}

/* tls_ticket_key_file: every file there and of the right size, so that
 * `prefork -t` and a reload say so rather than a start that fails. */
static void check_ticket_keys(struct parse *ps)
{
    struct tk_key keys[TK_FILES_MAX];
    char          err[512];
    size_t        n;

    if (ps->cfg->tls_ticket_key_file != NULL &&
        ticketfile_load(ps->cfg->tls_ticket_key_file, ps->cfg->dir, keys, &n, 0,
                        err, sizeof(err)) == -1)
        parse_report(ps, ps->server_seen[SK_TLS_TICKET_KEY_FILE],
                     "[server] tls_ticket_key_file: %s", err);
    explicit_bzero(keys, sizeof(keys));
}

void check_config(struct parse *ps)
{
    struct config *cfg = ps->cfg;
    size_t         i;

    for (i = 0; i < cfg->nsvc; i++) {
        struct service_conf *svc = &cfg->svc[i];
        const int           *seen = ps->svc_seen[i];

        svc->dynamic =
            seen[VK_MIN_SPARE] || seen[VK_MAX_SPARE] || seen[VK_MAX_WORKERS];
        if (svc->dynamic)
            check_dynamic(ps, svc, seen);
        check_streams(ps, svc, seen);
        check_tls(ps, svc, seen);
        check_sandbox(ps, svc, seen);
    }
    check_addresses(ps);
    check_slots(ps);
    check_ticket_keys(ps);
    /* Only for a file without errors: a refused value draws no warning
     * besides, and a user fixing errors reads those first. */
    for (i = 0; ps->nerr == 0 && i < cfg->nsvc; i++)
        warn_inert(ps, &cfg->svc[i], ps->svc_seen[i]);
}
