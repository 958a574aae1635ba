/*
 * config.h -- the configuration's data model: what a parsed file says,
 * as struct config with one struct service_conf per service, and the
 * limits the reader and the server share.
 *
 * Nothing here reads a file: reader.h loads one into these structs, by
 * the key tables of config_keys.h and the setters of values.h.  Keeping
 * the types apart lets those tables name the fields without depending on
 * the reader that uses them.
 */
#ifndef PF_CONFIG_H
#define PF_CONFIG_H

#include <stddef.h>

#include "diag.h"
#include "cidr.h"
#include "listener.h"

enum pf_mode { MODE_PREFORK, MODE_FORKING, MODE_THREADING };

/* fdstore: keep the listeners in systemd's file descriptor store. */
enum pf_fdstore { FDSTORE_AUTO, FDSTORE_YES, FDSTORE_NO };

/* tls_verify_client: whether a client presents a certificate. */
enum pf_tls_verify { TLS_VERIFY_NO, TLS_VERIFY_OPTIONAL, TLS_VERIFY_REQUIRE };

/* tls_ktls: hand the keys to the kernel where it can take them. */
enum pf_tls_ktls { TLS_KTLS_NO, TLS_KTLS_AUTO };

struct tls_ctx;
/* sandbox: how a service's workers are confined (docs/DESIGN.md). */
enum pf_sandbox { SANDBOX_AUTO, SANDBOX_YES, SANDBOX_REQUIRE, SANDBOX_NO };

/* A path a module declared it needs (pf_sandbox_allow), with PF_SB_*. */
struct sandbox_decl {
    char    *path; /* absolute */
    unsigned flags;
};

/* A key the core does not know, handed to the service's module. */
struct conf_kv {
    char *key;
    char *value;
    int   line;
};

struct module;

/* Bytes that may hold any value, NUL too (a T_BYTES key). */
struct bytes {
    char  *data; /* NUL-terminated besides; NULL when unset */
    size_t len;
};

/* How many of a pool's workers: n of them, or n percent (rounded up). */
struct budget {
    int n;
    int percent;
};

struct service_conf {
    char            *name;
    int              line; /* of the [name] header */
    char            *module;
    int              module_line;
    struct addr     *listen;
    size_t           nlisten;
    int              listen_line;
    enum pf_mode     mode;
    int              workers; /* resolved: the [server] value when not set */
    int              min_spare, max_spare, max_workers; /* 0 when unset */
    int              dynamic; /* any of the three above was set */
    int              max_children;
    int              threads;
    int              backlog;
    int              reuseport;
    long long        defer_accept_ms;   /* TCP_DEFER_ACCEPT; 0: off */
    int              proxy_protocol;    /* a PROXY header comes first */
    long long        max_worker_memory; /* bytes of private memory; 0: off */
    struct budget    max_unavailable;   /* replaced at once, at most */
    struct cidr_list proxy_from;        /* who may send one; empty: anyone */
    struct bytes     canary_probe;      /* a canary serves it first */
    struct conf_kv  *mkeys;             /* module keys, in file order */
    size_t           nmkeys;

    /* Filled by modules_prepare() (modload.c). */
    struct module *mod;
    void          *mconf; /* the module's conf struct, mod->desc.conf_size */

    /* TLS (tls_certificate set): the keys as written, and the lines a
     * problem with a file is reported at (checks.c fills them). */
    char           *tls_certificate;   /* comma-separated PEM files */
    char           *tls_key;           /* as many, in the same order */
    char           *tls_protocols;     /* "TLSv1.2 TLSv1.3" */
    char           *tls_ciphers;       /* TLS 1.2 and older, OpenSSL's syntax */
    char           *tls_ciphersuites;  /* TLS 1.3 */
    char           *tls_alpn;          /* comma-separated; NULL: the module's */
    char           *tls_client_ca;     /* absolute path, or NULL */
    int             tls_verify_client; /* enum pf_tls_verify */
    int             tls_reject_unknown_sni;
    long long       tls_handshake_timeout_ms;
    int             tls_ktls; /* enum pf_tls_ktls */
    int             tls_certificate_line, tls_key_line, tls_client_ca_line;
    int             tls_ciphers_line, tls_ciphersuites_line;
    struct tls_ctx *tls; /* the contexts, built by tls_prepare (tlsctx.c) */
    /* Confinement of the service's workers (sandbox_conf.h). */
    int   sandbox;         /* enum pf_sandbox */
    char *sandbox_read;    /* comma-separated paths; NULL: none */
    char *sandbox_write;   /* the same, made writable */
    int   sandbox_exec;    /* execve allowed, and execution beneath reads */
    char *sandbox_connect; /* HOST:PORT, ... a module may connect to */
    /* What the module declared: in check() (the master's copy, inherited
     * by every worker) and in worker_init() (the worker's own). */
    struct sandbox_decl *sandbox_decl;
    size_t               nsandbox_decl;
    int sandbox_undeclared; /* its module predates ABI 1.4: it could not */
};

struct config {
    char     *file; /* as given */
    char     *dir;  /* absolute directory of file */
    int       workers;
    char     *pidfile;   /* absolute, or NULL */
    char     *error_log; /* absolute path, "stderr" or "syslog" */
    int       log_level; /* PF_LOG_* */
    char     *user, *group;
    int       daemonize;
    char     *module_path; /* absolute */
    long long shutdown_timeout_ms;
    long long shutdown_delay_ms;
    long long worker_timeout_ms;
    long long max_requests;
    long long max_requests_jitter;
    long long rlimit_nofile;    /* 0: leave RLIMIT_NOFILE as inherited */
    char     *death_log;        /* absolute path; NULL: the error log */
    int       fdstore;          /* enum pf_fdstore */
    long long reload_canary_ms; /* 0: a reload rolls over at once */
    long long tls_ticket_key_rotation_ms; /* and a ticket's lifetime */
    char     *tls_ticket_key_file; /* comma-separated, as written; or NULL */

    struct service_conf *svc;
    size_t               nsvc;

    /* Keys that do nothing where they are ("FILE:LINE: warning: ..."):
     * the config is used all the same; config_prepare() hands them on. */
    struct diag warnings;

    int user_line, group_line; /* where user and group are set (0: not) */

    /* A start or a reload has a worker up in every service by then. */
    long long start_timeout_ms;
};

/* Longest line inih reads; longer lines are reported, not truncated. */
#define CONFIG_MAX_LINE 199

/* Scoreboard slots, one per worker of every service: the master sizes the
 * scoreboard with this, and a reload's two generations share it, so the
 * pools together may have half of them (checks.c). */
#define CONFIG_MAX_SLOTS 1024

/* Listeners a worker of one service takes (pool.c passes it at most this
 * many descriptors). */
#define CONFIG_MAX_LISTEN 64

#endif
