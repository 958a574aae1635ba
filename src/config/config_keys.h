/*
 * config_keys.h -- what a configuration file may say, as data: the keys of
 * [server] and of service sections, each with its type, default, bounds
 * and help, and the names a T_CHOICE key takes.  reader.c reads a file
 * against these tables; modload.c turns a module's own table into the same
 * struct key, so that values.c stores every key the same way.
 */
#ifndef PF_CONFIG_KEYS_H
#define PF_CONFIG_KEYS_H

#include <stddef.h>

#include "config.h"
#include "log.h"

#define MAX_POOL 4096
#define HOUR_MS  (60LL * 60 * 1000)
#define DAY_MS   (24 * HOUR_MS)
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

enum ktype {
    T_INT,      /* int or long long (by .size), within [min, max] */
    T_BOOL,     /* int */
    T_DURATION, /* long long milliseconds, within [min, max] */
    T_STRING,   /* char * */
    T_PATH,     /* char *, made absolute from the config's directory */
    T_LOG,      /* char *: "stderr", "syslog" or a path made absolute */
    T_LISTEN,   /* struct addr * with nlisten; service sections only */
    T_CHOICE,   /* int (or an int-sized enum): the value of a name */
    T_CIDRS,    /* struct cidr_list: "10.0.0.0/8, ::1" */
    T_SIZE,     /* long long bytes ("512k", "64m"), within [min, max] */
    T_BUDGET,   /* struct budget: a count within [min, max], or 1%..100% */
    T_BYTES,    /* struct bytes: text with \r \n \t \\ and \xHH escapes */
};

struct key {
    const char          *name;
    enum ktype           type;
    size_t               offset, size; /* of the field in its struct */
    const char          *def;          /* as written in a file; NULL: none */
    int                  required;
    long long            min, max; /* T_INT, T_DURATION, T_SIZE, T_BUDGET */
    const struct choice *choices;  /* T_CHOICE: ends with {NULL} */
    const char          *what;     /* T_CHOICE: "mode" in "invalid mode 'x'" */
    const char          *help;
};

/* Indexes name the keys code has to look at beyond their table entry. */
enum {
    SK_WORKERS,
    SK_PIDFILE,
    SK_ERROR_LOG,
    SK_LOG_LEVEL,
    SK_USER,
    SK_GROUP,
    SK_DAEMONIZE,
    SK_MODULE_PATH,
    SK_SHUTDOWN_TIMEOUT,
    SK_SHUTDOWN_DELAY,
    SK_WORKER_TIMEOUT,
    SK_MAX_REQUESTS,
    SK_MAX_REQUESTS_JITTER,
    SK_RLIMIT_NOFILE,
    SK_DEATH_LOG,
    SK_FDSTORE,
    SK_RELOAD_CANARY,
    SK_START_TIMEOUT,
    SK_TLS_TICKET_KEY_ROTATION,
    SK_TLS_TICKET_KEY_FILE,
    NSERVER_KEYS
};

enum {
    VK_MODULE,
    VK_LISTEN,
    VK_MODE,
    VK_WORKERS,
    VK_MIN_SPARE,
    VK_MAX_SPARE,
    VK_MAX_WORKERS,
    VK_MAX_CHILDREN,
    VK_THREADS,
    VK_BACKLOG,
    VK_REUSEPORT,
    VK_DEFER_ACCEPT,
    VK_PROXY_PROTOCOL,
    VK_PROXY_FROM,
    VK_MAX_WORKER_MEMORY,
    VK_MAX_UNAVAILABLE,
    VK_CANARY_PROBE,
    VK_TLS_CERTIFICATE,
    VK_TLS_KEY,
    VK_TLS_PROTOCOLS,
    VK_TLS_CIPHERS,
    VK_TLS_CIPHERSUITES,
    VK_TLS_ALPN,
    VK_TLS_CLIENT_CA,
    VK_TLS_VERIFY_CLIENT,
    VK_TLS_REJECT_UNKNOWN_SNI,
    VK_TLS_HANDSHAKE_TIMEOUT,
    VK_TLS_KTLS,
    VK_SANDBOX,
    VK_SANDBOX_READ,
    VK_SANDBOX_WRITE,
    VK_SANDBOX_EXEC,
    VK_SANDBOX_CONNECT,
    NSERVICE_KEYS
};

extern const struct key    server_keys[NSERVER_KEYS];
extern const struct key    service_keys[NSERVICE_KEYS];
extern const struct choice mode_choices[];

#endif
