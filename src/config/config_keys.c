/*
 * config_keys.c -- the tables of config_keys.h.  A new key is one entry
 * here, one index in config_keys.h and one field in config.h; a check
 * that involves other keys goes in checks.c.
 */
#include <limits.h>
#include <stddef.h>

#include <prefork/module.h>

#include "config_keys.h"

#ifndef PF_PKGLIBDIR
#define PF_PKGLIBDIR "/usr/local/lib/prefork"
#endif

#define SERVER(f)                                                              \
    .offset = offsetof(struct config, f),                                      \
    .size = sizeof(((struct config *)0)->f)
#define SERVICE(f)                                                             \
    .offset = offsetof(struct service_conf, f),                                \
    .size = sizeof(((struct service_conf *)0)->f)

static const struct choice fdstore_choices[] = {{"auto", FDSTORE_AUTO},
                                                {"yes", FDSTORE_YES},
                                                {"no", FDSTORE_NO},
                                                {NULL, 0}};

const struct choice mode_choices[] = {
    {"prefork", MODE_PREFORK},
    {"forking", MODE_FORKING},
    {"threading", MODE_THREADING},
    {NULL, 0},
};

static const struct choice tls_verify_choices[] = {
    {"no", TLS_VERIFY_NO},
    {"optional", TLS_VERIFY_OPTIONAL},
    {"require", TLS_VERIFY_REQUIRE},
    {NULL, 0},
};

static const struct choice tls_ktls_choices[] = {
    {"no", TLS_KTLS_NO},
    {"auto", TLS_KTLS_AUTO},
    {NULL, 0},
};

/* Mozilla's "intermediate" profile (version 5.7): TLS 1.2 suites with
 * forward secrecy and AEAD only, TLS 1.3's three. */
#define TLS_MOZILLA_CIPHERS                                                    \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"               \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"               \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"               \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:"                     \
    "DHE-RSA-CHACHA20-POLY1305"
#define TLS_MOZILLA_CIPHERSUITES                                               \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"                           \
    "TLS_CHACHA20_POLY1305_SHA256"
static const struct choice sandbox_choices[] = {{"auto", SANDBOX_AUTO},
                                                {"yes", SANDBOX_YES},
                                                {"require", SANDBOX_REQUIRE},
                                                {"no", SANDBOX_NO},
                                                {NULL, 0}};

/* A T_CHOICE field is stored as an int. */
_Static_assert(sizeof(enum pf_mode) == sizeof(int), "enum pf_mode is an int");

const struct key server_keys[NSERVER_KEYS] = {
    [SK_WORKERS] = {.name = "workers",
                    .type = T_INT,
                    SERVER(workers),
                    .min = 1,
                    .max = MAX_POOL,
                    .help = "default pool size of each service "
                            "(default: the number of CPUs)"},
    [SK_PIDFILE] = {.name = "pidfile",
                    .type = T_PATH,
                    SERVER(pidfile),
                    .help = "file holding the master's pid, locked"},
    [SK_ERROR_LOG] = {.name = "error_log",
                      .type = T_LOG,
                      SERVER(error_log),
                      .def = "stderr",
                      .help = "a path, stderr or syslog"},
    [SK_LOG_LEVEL] = {.name = "log_level",
                      .type = T_CHOICE,
                      SERVER(log_level),
                      .def = "info",
                      .choices = log_levels,
                      .what = "log level",
                      .help = "debug, info, notice, warn or error"},
    [SK_USER] = {.name = "user",
                 .type = T_STRING,
                 SERVER(user),
                 .help = "user to run as after binding"},
    [SK_GROUP] = {.name = "group",
                  .type = T_STRING,
                  SERVER(group),
                  .help = "group to run as after binding"},
    [SK_DAEMONIZE] = {.name = "daemonize",
                      .type = T_BOOL,
                      SERVER(daemonize),
                      .def = "no",
                      .help = "detach from the terminal"},
    [SK_MODULE_PATH] = {.name = "module_path",
                        .type = T_PATH,
                        SERVER(module_path),
                        .def = PF_PKGLIBDIR,
                        .help = "where module = NAME looks for NAME.so"},
    [SK_SHUTDOWN_TIMEOUT] = {.name = "shutdown_timeout",
                             .type = T_DURATION,
                             SERVER(shutdown_timeout_ms),
                             .def = "10s",
                             .min = 0,
                             .max = DAY_MS,
                             .help = "graceful drain time before workers "
                                     "are killed"},
    [SK_SHUTDOWN_DELAY] = {.name = "shutdown_delay",
                           .type = T_DURATION,
                           SERVER(shutdown_delay_ms),
                           .def = "0",
                           .min = 0,
                           .max = DAY_MS,
                           .help = "on a graceful stop, serve on this long "
                                   "with health checks failing first"},
    [SK_WORKER_TIMEOUT] = {.name = "worker_timeout",
                           .type = T_DURATION,
                           SERVER(worker_timeout_ms),
                           .def = "0",
                           .min = 0,
                           .max = DAY_MS,
                           .help = "kill a worker busy this long on one "
                                   "connection (0: never)"},
    [SK_MAX_REQUESTS] = {.name = "max_requests",
                         .type = T_INT,
                         SERVER(max_requests),
                         .def = "0",
                         .min = 0,
                         .max = INT_MAX,
                         .help = "replace a worker after this many "
                                 "connections or datagrams (0: never)"},
    [SK_MAX_REQUESTS_JITTER] = {.name = "max_requests_jitter",
                                .type = T_INT,
                                SERVER(max_requests_jitter),
                                .def = "0",
                                .min = 0,
                                .max = INT_MAX,
                                .help = "random extra 0..N on max_requests"},
    [SK_RLIMIT_NOFILE] = {.name = "rlimit_nofile",
                          .type = T_INT,
                          SERVER(rlimit_nofile),
                          .def = "0",
                          .min = 0,
                          .max = 1 << 30,
                          .help = "open file limit of the master and "
                                  "workers (0: as inherited)"},
    [SK_DEATH_LOG] = {.name = "death_log",
                      .type = T_PATH,
                      SERVER(death_log),
                      .help = "file for a JSON record of each abnormal "
                              "worker exit (default: the error log)"},
    [SK_FDSTORE] = {.name = "fdstore",
                    .type = T_CHOICE,
                    SERVER(fdstore),
                    .def = "auto",
                    .choices = fdstore_choices,
                    .help = "keep the listeners in systemd's file "
                            "descriptor store: auto (when systemd says the "
                            "unit has one), yes or no"},
    [SK_RELOAD_CANARY] = {.name = "reload_canary",
                          .type = T_DURATION,
                          SERVER(reload_canary_ms),
                          .def = "0",
                          .min = 0,
                          .max = DAY_MS,
                          .help = "on reload, one new worker per service "
                                  "first, on trial this long; the old "
                                  "generation is kept if it fails (0: off)"},
    [SK_START_TIMEOUT] = {.name = "start_timeout",
                          .type = T_DURATION,
                          SERVER(start_timeout_ms),
                          .def = "60s",
                          .min = 0,
                          .max = DAY_MS,
                          .help = "every service must have a worker past "
                                  "worker_init this long after a start (or "
                                  "the master exits 1) or a reload (or it is "
                                  "rolled back); 0: no bound"},
    [SK_TLS_TICKET_KEY_ROTATION] = {.name = "tls_ticket_key_rotation",
                                    .type = T_DURATION,
                                    SERVER(tls_ticket_key_rotation_ms),
                                    .def = "1h",
                                    .min = 1000,
                                    .max = DAY_MS,
                                    .help = "a new TLS session ticket key "
                                            "this often; a ticket lives as "
                                            "long"},
    [SK_TLS_TICKET_KEY_FILE] = {.name = "tls_ticket_key_file",
                                .type = T_STRING,
                                SERVER(tls_ticket_key_file),
                                .help = "ticket keys from files instead "
                                        "(nginx's 48 or 80 bytes, comma-"
                                        "separated, the first encrypts): "
                                        "shared between hosts, not rotated"},
};

const struct key service_keys[NSERVICE_KEYS] = {
    [VK_MODULE] = {.name = "module",
                   .type = T_STRING,
                   SERVICE(module),
                   .required = 1,
                   .help = "module name, or path to a .so"},
    [VK_LISTEN] = {.name = "listen",
                   .type = T_LISTEN,
                   SERVICE(listen),
                   .required = 1,
                   .help = "comma-separated addresses: HOST:PORT, "
                           "[V6]:PORT, tcp://, udp://, unix:/path"},
    [VK_MODE] = {.name = "mode",
                 .type = T_CHOICE,
                 SERVICE(mode),
                 .def = "prefork",
                 .choices = mode_choices,
                 .what = "mode",
                 .help = "prefork, forking or threading"},
    [VK_WORKERS] = {.name = "workers",
                    .type = T_INT,
                    SERVICE(workers),
                    .min = 1,
                    .max = MAX_POOL,
                    .help = "processes in the pool (default: [server])"},
    [VK_MIN_SPARE] = {.name = "min_spare",
                      .type = T_INT,
                      SERVICE(min_spare),
                      .min = 0,
                      .max = MAX_POOL,
                      .help = "grow while fewer workers than this are idle"},
    [VK_MAX_SPARE] = {.name = "max_spare",
                      .type = T_INT,
                      SERVICE(max_spare),
                      .min = 1,
                      .max = MAX_POOL,
                      .help = "shrink while more workers than this are idle"},
    [VK_MAX_WORKERS] = {.name = "max_workers",
                        .type = T_INT,
                        SERVICE(max_workers),
                        .min = 1,
                        .max = MAX_POOL,
                        .help = "the most a dynamic pool grows to"},
    [VK_MAX_CHILDREN] = {.name = "max_children",
                         .type = T_INT,
                         SERVICE(max_children),
                         .def = "64",
                         .min = 1,
                         .max = 65536,
                         .help = "forking: concurrent children per acceptor"},
    [VK_THREADS] = {.name = "threads",
                    .type = T_INT,
                    SERVICE(threads),
                    .def = "64",
                    .min = 1,
                    .max = 65536,
                    .help = "threading: concurrent threads per acceptor"},
    [VK_BACKLOG] = {.name = "backlog",
                    .type = T_INT,
                    SERVICE(backlog),
                    .def = "511",
                    .min = 1,
                    .max = 65535,
                    .help = "listen backlog"},
    [VK_REUSEPORT] = {.name = "reuseport",
                      .type = T_BOOL,
                      SERVICE(reuseport),
                      .def = "no",
                      .help = "one socket per worker with SO_REUSEPORT"},
    [VK_DEFER_ACCEPT] = {.name = "defer_accept",
                         .type = T_DURATION,
                         SERVICE(defer_accept_ms),
                         .def = "0",
                         .min = 0,
                         .max = DAY_MS,
                         .help = "TCP: hand a connection to a worker once "
                                 "it has sent data, or this long after "
                                 "(0: at once)"},
    [VK_PROXY_PROTOCOL] = {.name = "proxy_protocol",
                           .type = T_BOOL,
                           SERVICE(proxy_protocol),
                           .def = "no",
                           .help = "stream connections begin with a PROXY "
                                   "protocol v1 or v2 header giving the "
                                   "real client"},
    [VK_PROXY_FROM] = {.name = "proxy_from",
                       .type = T_CIDRS,
                       SERVICE(proxy_from),
                       .help = "comma-separated addresses and CIDR ranges "
                               "allowed to connect and send the header "
                               "(default: any)"},
    [VK_MAX_WORKER_MEMORY] = {.name = "max_worker_memory",
                              .type = T_SIZE,
                              SERVICE(max_worker_memory),
                              .def = "0",
                              .min = 0,
                              .max = (long long)1 << 50,
                              .help = "recycle a worker whose private memory "
                                      "grows past this (0: never)"},
    [VK_MAX_UNAVAILABLE] = {.name = "max_unavailable",
                            .type = T_BUDGET,
                            SERVICE(max_unavailable),
                            .def = "1",
                            .min = 1,
                            .max = MAX_POOL,
                            .help = "workers recycled at one time (for "
                                    "max_requests and max_worker_memory), "
                                    "a count or a percentage of the pool"},
    [VK_CANARY_PROBE] = {.name = "canary_probe",
                         .type = T_BYTES,
                         SERVICE(canary_probe),
                         .help = "with reload_canary: a request the canary "
                                 "serves on a connection of its own before "
                                 "it takes any client's (escapes: \\r \\n "
                                 "\\t \\\\ \\xHH)"},
    [VK_TLS_CERTIFICATE] = {.name = "tls_certificate",
                            .type = T_STRING,
                            SERVICE(tls_certificate),
                            .help = "TLS: PEM certificate files (leaf, then "
                                    "chain), comma-separated: one per name "
                                    "or key type (ECDSA and RSA)"},
    [VK_TLS_KEY] = {.name = "tls_key",
                    .type = T_STRING,
                    SERVICE(tls_key),
                    .help = "the private key of each tls_certificate, "
                            "comma-separated in the same order"},
    [VK_TLS_PROTOCOLS] = {.name = "tls_protocols",
                          .type = T_STRING,
                          SERVICE(tls_protocols),
                          .def = "TLSv1.2 TLSv1.3",
                          .help = "TLS versions offered: TLSv1.2, TLSv1.3"},
    [VK_TLS_CIPHERS] = {.name = "tls_ciphers",
                        .type = T_STRING,
                        SERVICE(tls_ciphers),
                        .def = TLS_MOZILLA_CIPHERS,
                        .help = "TLS 1.2 cipher list, OpenSSL's syntax "
                                "(default: Mozilla's intermediate)"},
    [VK_TLS_CIPHERSUITES] = {.name = "tls_ciphersuites",
                             .type = T_STRING,
                             SERVICE(tls_ciphersuites),
                             .def = TLS_MOZILLA_CIPHERSUITES,
                             .help = "TLS 1.3 cipher suites, colon-separated"},
    [VK_TLS_ALPN] = {.name = "tls_alpn",
                     .type = T_STRING,
                     SERVICE(tls_alpn),
                     .help = "application protocols offered by ALPN, "
                             "comma-separated (default: http/1.1 for the "
                             "http module, none otherwise)"},
    [VK_TLS_CLIENT_CA] = {.name = "tls_client_ca",
                          .type = T_PATH,
                          SERVICE(tls_client_ca),
                          .help = "PEM file of the CAs client certificates "
                                  "are verified against"},
    [VK_TLS_VERIFY_CLIENT] = {.name = "tls_verify_client",
                              .type = T_CHOICE,
                              SERVICE(tls_verify_client),
                              .def = "no",
                              .choices = tls_verify_choices,
                              .what = "verify mode",
                              .help = "ask clients for a certificate: no, "
                                      "optional (any, its verification "
                                      "result goes to the module) or "
                                      "require (one tls_client_ca signed)"},
    [VK_TLS_REJECT_UNKNOWN_SNI] = {.name = "tls_reject_unknown_sni",
                                   .type = T_BOOL,
                                   SERVICE(tls_reject_unknown_sni),
                                   .def = "no",
                                   .help = "refuse a server name no "
                                           "certificate has (else the first "
                                           "certificate answers)"},
    [VK_TLS_HANDSHAKE_TIMEOUT] = {.name = "tls_handshake_timeout",
                                  .type = T_DURATION,
                                  SERVICE(tls_handshake_timeout_ms),
                                  .def = "10s",
                                  .min = 1,
                                  .max = HOUR_MS,
                                  .help = "close a connection whose TLS "
                                          "handshake takes longer"},
    [VK_TLS_KTLS] = {.name = "tls_ktls",
                     .type = T_CHOICE,
                     SERVICE(tls_ktls),
                     .def = "no",
                     .choices = tls_ktls_choices,
                     .what = "kTLS mode",
                     .help = "no, or auto: hand the keys to the kernel "
                             "where it has the tls module, so files go out "
                             "with sendfile"},
    [VK_SANDBOX] = {.name = "sandbox",
                    .type = T_CHOICE,
                    SERVICE(sandbox),
                    .def = "auto",
                    .choices = sandbox_choices,
                    .what = "sandbox",
                    .help = "confine the workers with Landlock and seccomp: "
                            "auto (what the kernel offers; a module older "
                            "than ABI 1.4 runs unconfined), yes, require "
                            "(refuse to start without every protection) "
                            "or no"},
    [VK_SANDBOX_READ] = {.name = "sandbox_read",
                         .type = T_STRING,
                         SERVICE(sandbox_read),
                         .help = "comma-separated paths the workers may "
                                 "also read beneath"},
    [VK_SANDBOX_WRITE] = {.name = "sandbox_write",
                          .type = T_STRING,
                          SERVICE(sandbox_write),
                          .help = "comma-separated paths the workers may "
                                  "also create, write and remove beneath"},
    [VK_SANDBOX_EXEC] = {.name = "sandbox_exec",
                         .type = T_BOOL,
                         SERVICE(sandbox_exec),
                         .def = "no",
                         .help = "let the workers run programs (execve) "
                                 "found beneath the paths they may read"},
    [VK_SANDBOX_CONNECT] = {.name = "sandbox_connect",
                            .type = T_STRING,
                            SERVICE(sandbox_connect),
                            .help = "comma-separated HOST:PORT the workers "
                                    "may connect to over TCP (Landlock "
                                    "checks the port)"},
};
