/*
 * <prefork/module.h> -- the one header a prefork module is written against.
 *
 * A module is a shared object exporting one descriptor named
 * `prefork_module` (use PF_MODULE_DECLARE).  The descriptor says which ABI it
 * was built for, which config keys it takes and which hooks it implements.
 * The host refuses a module whose magic or major version differ, and reads
 * only the first `size` bytes of the descriptor, so a module built against an
 * older minor version keeps working.
 *
 * Modules never link against the host: every service the host offers is a
 * function pointer in `struct pf_api`, reached through the objects handed to
 * each hook (the inline helpers below do that for you).
 *
 * Lifecycle, in the spirit of socketserver's BaseRequestHandler:
 *
 *   master:  check()          config parsed; validate, reject with pf_conf_error
 *   worker:  worker_init()    after fork, before the first connection
 *            setup(c)         a connection was accepted
 *            handle(c)        data is waiting; serve it and say what next
 *            finish(c)        the connection is about to be closed
 *            datagram(d)      one datagram was received (UDP services)
 *            tick()           about once a second
 *            reopen()         on USR1, for the module's own files
 *            worker_exit()    the worker is leaving
 *
 * handle() returns PF_CLOSE, PF_MORE or PF_IDLE.  With PF_MORE or PF_IDLE the
 * connection goes back to its worker, which waits (without blocking anything
 * else) until the peer sends more and then calls handle() again.  PF_IDLE
 * says the connection sits between requests: a graceful shutdown or a
 * drain closes it after at most one more second of silence, or once it is
 * served and idle again (answer with "Connection: close" when
 * pf_accepting() is 0).  PF_MORE says a conversation is under way: a
 * graceful shutdown lets it finish.  Either way the connection is closed
 * after `idle_timeout_ms` of silence.  PF_WRITE says the module has more
 * to send than the connection took (pf_sendv_nowait, pf_sendfile_nowait;
 * keep your place in c->data): handle() is called again once it is
 * writable, or the connection is closed after `idle_timeout_ms` without
 * progress, so a client that reads slowly holds no worker.
 *
 * A module that must not block (one without PF_BLOCKING) reads with
 * pf_recv_nowait and writes with pf_sendv_nowait, pf_sendfile_nowait and
 * pf_send_nowait (ABI 1.3): what the connection does not take now is the
 * module's to keep, and PF_WRITE brings it back when there is room.
 *
 * All I/O goes through these functions, never to c->fd: the host may put
 * a transport (TLS, byte counters) under the connection, and the
 * descriptor then carries its bytes, not the module's.  Modules built for
 * ABI 1.2 or older that read and write c->fd keep working on plain
 * connections only.
 *
 * A module flagged PF_BLOCKING (pf_module.flags) is written the plain way,
 * as Apache prefork modules are: handle() may read and write with
 * pf_readline, pf_read_full, pf_read and pf_write for as long as it likes.
 * A worker then serves one connection at a time: it stops accepting, calls
 * setup(), calls handle() at once (the server may speak first), again each
 * time the peer sends more while handle() returns PF_MORE or PF_IDLE
 * (idle_timeout_ms still applies), then finish(), and accepts again.  The
 * worker counts as busy throughout, so a dynamic pool grows with the
 * connections held and worker_timeout bounds each one.
 *
 * In `threading` mode hooks run concurrently in several threads of one
 * process: keep per-connection state in c->data, not in globals.  In
 * `forking` mode the acceptor calls tick() just before each fork and the
 * child calls worker_exit() as it ends, so what a module buffers is neither
 * lost with the child nor written twice.
 */
#ifndef PREFORK_MODULE_H
#define PREFORK_MODULE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PF_MODULE_MAGIC 0x70664d31u /* "pfM1" */
#define PF_ABI_MAJOR    1
#define PF_ABI_MINOR    4

/* Socket kinds a module serves (pf_module.socktypes). */
#define PF_STREAM 0x1 /* TCP and UNIX stream listeners */
#define PF_DGRAM  0x2 /* UDP listeners */

/* Module flags (pf_module.flags, ABI 1.1). */
#define PF_BLOCKING 0x1 /* handle() blocks: one connection per worker */
/* The module reports each response it completes with pf_response_done()
 * (ABI 1.4): the host counts those as its requests, and times each from
 * the first handle() call of its request, rather than each handle() call
 * (or, for a PF_BLOCKING module, each connection). */
#define PF_RESPONSES 0x2

/* What pf_status_text() renders (ABI 1.4). */
enum pf_status_format {
    PF_STATUS_JSON,        /* what `prefork -s status` prints */
    PF_STATUS_PROMETHEUS,  /* Prometheus text format 0.0.4 */
    PF_STATUS_OPENMETRICS, /* OpenMetrics text 1.0.0, ending "# EOF" */
};

/* What handle() asks the worker to do next. */
enum pf_next {
    PF_CLOSE = 0, /* done: finish() and close */
    PF_MORE = 1,  /* mid-conversation: call handle() again when readable */
    PF_IDLE = 2,  /* between requests: as PF_MORE, but may be closed on QUIT */
    PF_WRITE = 3, /* output is pending: call handle() again when writable */
};

/* Log levels, the same numbers as syslog(3). */
enum pf_log_level {
    PF_LOG_ERROR = 3,
    PF_LOG_WARN = 4,
    PF_LOG_NOTICE = 5,
    PF_LOG_INFO = 6,
    PF_LOG_DEBUG = 7,
};

/* Types of module config keys; each stores into the module's conf struct. */
enum pf_key_type {
    PF_KEY_STRING,   /* char *; owned by the host */
    PF_KEY_PATH,     /* char *; relative paths resolved from the config dir */
    PF_KEY_BOOL,     /* int; yes/no, on/off, true/false, 1/0 */
    PF_KEY_INT,      /* long long, within [min, max] */
    PF_KEY_DURATION, /* long long milliseconds: 250ms, 10s, 5m, 1h, bare = s */
    PF_KEY_SIZE,     /* long long bytes: 512, 8k, 1m, 1g */
};

/* One config key a module accepts.  A table ends with a zeroed entry. */
struct pf_key {
    const char      *name;
    enum pf_key_type type;
    size_t           offset;   /* offsetof(your_conf, field) */
    const char      *def;      /* default as written in the file; NULL: none */
    int              required; /* nonzero: the key must be present */
    long long        min, max; /* INT, DURATION, SIZE bounds; 0,0: >= 0 */
    const char      *help;
};

typedef struct pf_service pf_service;
typedef struct pf_conn    pf_conn;
typedef struct pf_dgram   pf_dgram;
struct pf_api;

/* A service as a module sees it.  One per service section, per process. */
struct pf_service {
    const struct pf_api *api;
    const char          *name;       /* the section name, e.g. "web" */
    const void          *conf;       /* the module's conf struct, filled in */
    const char          *config_dir; /* directory of the config file */
    void                *data;       /* the module's own per-process state */
};

/*
 * A stream connection.  Read and write it with the pf_* functions: pf_read()
 * and pf_write() wait up to the timeouts below, the _nowait ones never
 * wait.  The module may change the three timeouts at any time
 * (milliseconds, 0 = none).  `fd` is the socket, non-blocking; reading or
 * writing it directly bypasses whatever transport the host puts under the
 * connection, so it is there for modules older than ABI 1.3 and for
 * handing the socket to a runtime that wants one (the python module).
 */
struct pf_conn {
    const struct pf_api   *api;
    pf_service            *svc;
    int                    fd;
    const struct sockaddr *peer; /* AF_UNIX peers have an empty path */
    socklen_t              peerlen;
    void                  *data;             /* per-connection module state */
    int                    read_timeout_ms;  /* pf_read() waits this long */
    int                    write_timeout_ms; /* pf_write() stalls this long */
    int                    idle_timeout_ms;  /* parked this long, then closed */
    unsigned long long     requests;         /* handle() calls so far */
    int                    timed_out;        /* set before finish() when the
                                         idle_timeout_ms ran out */
};

/* One received datagram and where it came from. */
struct pf_dgram {
    const struct pf_api   *api;
    pf_service            *svc;
    int                    fd;
    const void            *buf;
    size_t                 len;
    const struct sockaddr *peer;
    socklen_t              peerlen;
};

/* What the host offers.  Reach it through the inline helpers. */
struct pf_api {
    uint32_t size; /* sizeof(struct pf_api) of the host */
    void (*vlog)(const pf_service *svc, int level, const char *fmt, va_list ap);
    void (*vconf_error)(pf_service *svc, const char *key, const char *fmt,
                        va_list ap);
    ssize_t (*read)(pf_conn *c, void *buf, size_t len);
    int (*write)(pf_conn *c, const void *buf, size_t len);
    int (*reply)(pf_dgram *d, const void *buf, size_t len);
    int (*write_more)(pf_conn *c, const void *buf, size_t len);
    int (*sendfile)(pf_conn *c, int fd, off_t offset, size_t len);
    ssize_t (*send_nowait)(pf_conn *c, const void *buf, size_t len, int more);
    /* ABI 1.1 and later: check c->api->size before calling these. */
    ssize_t (*read_full)(pf_conn *c, void *buf, size_t len);
    ssize_t (*readline)(pf_conn *c, char *buf, size_t len);
    /* ABI 1.2 and later. */
    int (*accepting)(const pf_service *svc);
    void (*activity)(pf_conn *c, const char *text, size_t len);
    /* ABI 1.3 and later. */
    ssize_t (*recv_nowait)(pf_conn *c, void *buf, size_t len);
    ssize_t (*sendv_nowait)(pf_conn *c, const struct iovec *iov, int iovcnt,
                            int more);
    ssize_t (*sendfile_nowait)(pf_conn *c, int fd, off_t *offset, size_t len);
    int (*nodelay)(pf_conn *c);
    /* ABI 1.4 and later. */
    const char *(*tls_subject)(pf_conn *c);
    const char *(*tls_verify)(pf_conn *c);
    const char *(*tls_alpn)(pf_conn *c);
    void (*response_done)(pf_conn *c, int status);
    char *(*status_text)(const pf_service *svc, int format, size_t *len);
    int (*sandbox_allow)(pf_service *svc, const char *path, unsigned flags);
};

/* Does the host offer api member m (an older host has a shorter table)? */
#define PF_API_HAS(api, m)                                                     \
    ((api)->size >= offsetof(struct pf_api, m) + sizeof((api)->m))

/* The descriptor.  Fill it with PF_MODULE_DECLARE; unused hooks stay NULL. */
struct pf_module {
    uint32_t             magic;
    uint16_t             abi_major;
    uint16_t             abi_minor;
    uint32_t             size; /* sizeof(struct pf_module) as built */
    const char          *name;
    const char          *version;
    unsigned             socktypes; /* PF_STREAM, PF_DGRAM or both */
    const struct pf_key *keys;
    size_t               conf_size; /* bytes of the conf struct keys fill */

    /* Master, after the config is parsed, before any fork and on every
     * reload.  Report problems with pf_conf_error() and return -1. */
    int (*check)(pf_service *svc);
    /* Worker (or acceptor) process, after fork.  -1 makes the worker exit;
     * the master then respawns it with a growing delay. */
    int (*worker_init)(pf_service *svc);
    void (*worker_exit)(pf_service *svc);

    int (*setup)(pf_conn *c);  /* -1: close the connection at once */
    int (*handle)(pf_conn *c); /* an enum pf_next */
    void (*finish)(pf_conn *c);

    void (*datagram)(pf_dgram *d);

    /* Each worker (or acceptor), about once a second: flush buffers,
     * expire caches.  In threading mode it runs beside handler threads. */
    void (*tick)(pf_service *svc);
    /* Each worker (or acceptor), on USR1: reopen the module's own files. */
    void (*reopen)(pf_service *svc);

    /* ABI 1.1 and later: the host reads these only from a module whose
     * `size` covers them. */
    unsigned flags; /* PF_BLOCKING */
};

#if defined(__GNUC__)
#define PF_EXPORT __attribute__((visibility("default")))
#else
#define PF_EXPORT
#endif

/* Opens the one descriptor a module exports:
 *     PF_MODULE_DECLARE = { PF_MODULE_HEADER, .name = "echo", ... };      */
#define PF_MODULE_DECLARE PF_EXPORT const struct pf_module prefork_module
#define PF_MODULE_HEADER                                                       \
    .magic = PF_MODULE_MAGIC, .abi_major = PF_ABI_MAJOR,                       \
    .abi_minor = PF_ABI_MINOR, .size = sizeof(struct pf_module)

#if defined(__GNUC__)
#define PF_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PF_PRINTF(f, a)
#endif

/* Log through the server's error_log, tagged with the service name. */
static inline PF_PRINTF(3, 4) void pf_log(const pf_service *svc, int level,
                                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    svc->api->vlog(svc, level, fmt, ap);
    va_end(ap);
}

/* From check(): reject a key; the host reports FILE:LINE of that key. */
static inline PF_PRINTF(3, 4) void pf_conf_error(pf_service *svc,
                                                 const char *key,
                                                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    svc->api->vconf_error(svc, key, fmt, ap);
    va_end(ap);
}

/* Read what is there, waiting up to read_timeout_ms for the first byte.
 * Returns the byte count, 0 at end of stream, -1 with errno (ETIMEDOUT). */
static inline ssize_t pf_read(pf_conn *c, void *buf, size_t len)
{
    return c->api->read(c, buf, len);
}

/* Write all of buf ("write all": there are no short writes), waiting up to
 * write_timeout_ms whenever the peer stalls.  Returns 0, or -1 with errno
 * (ETIMEDOUT, EPIPE, ECONNRESET...).  Never raises SIGPIPE. */
static inline int pf_write(pf_conn *c, const void *buf, size_t len)
{
    return c->api->write(c, buf, len);
}

/* Read exactly len bytes, waiting up to read_timeout_ms for each.  Returns
 * len; 0 at end of stream before any byte; fewer than len (but more than 0)
 * when the peer closed part-way, the bytes so far in buf; -1 with errno
 * (ETIMEDOUT, ECONNRESET...) on error, what was read by then is lost.
 * ABI 1.1 hosts and later (PF_API_HAS(c->api, read_full)). */
static inline ssize_t pf_read_full(pf_conn *c, void *buf, size_t len)
{
    return c->api->read_full(c, buf, len);
}

/* Read one line, up to and including its '\n', and NUL-terminate it; never
 * reads past the newline, so bytes after it stay for the next call (or for
 * pf_read).  Waits up to read_timeout_ms for each part.  Returns the length,
 * 0 at end of stream, -1 with errno (ETIMEDOUT, ECONNRESET...; EINVAL when
 * len < 2).  A result that does not end in '\n' is either the first len - 1
 * bytes of a longer line (the next call returns the rest) or the last bytes
 * before the peer closed (the next call returns 0); errno is not set for
 * either.  ABI 1.1 hosts and later (PF_API_HAS(c->api, readline)). */
static inline ssize_t pf_readline(pf_conn *c, char *buf, size_t len)
{
    return c->api->readline(c, buf, len);
}

/* Is this process still taking new work for svc?  1 while it accepts; 0
 * from the moment a graceful stop (with its shutdown_delay) or this
 * worker's drain (max_requests, a reload) begins, so that a health check
 * can tell a load balancer to send elsewhere before connections are cut.
 * A host older than ABI 1.2 cannot tell: 1. */
static inline int pf_accepting(const pf_service *svc)
{
    return PF_API_HAS(svc->api, accepting) ? svc->api->accepting(svc) : 1;
}

/* Say what c is doing now, in a line of text (len bytes; the first 127
 * are kept), e.g. the request line being answered: a worker that dies
 * on it leaves this in its death record.  A host older than ABI 1.2 does
 * not keep it. */
static inline void pf_activity(pf_conn *c, const char *text, size_t len)
{
    if (PF_API_HAS(c->api, activity))
        c->api->activity(c, text, len);
}

/* As pf_write, telling the kernel more follows at once (MSG_MORE), so a
 * response's head and body leave in the same segments. */
static inline int pf_write_more(pf_conn *c, const void *buf, size_t len)
{
    return c->api->write_more(c, buf, len);
}

/* Send len bytes of file descriptor fd from offset, zero-copy (sendfile),
 * waiting up to write_timeout_ms whenever the peer stalls.  Returns 0, or
 * -1 with errno (a file that shrank meanwhile gives EIO). */
static inline int pf_sendfile(pf_conn *c, int fd, off_t offset, size_t len)
{
    return c->api->sendfile(c, fd, offset, len);
}

/* Send what the socket takes now, never waiting (more: MSG_MORE).  Returns
 * the bytes sent, 0 when the socket is full, or -1 with errno.  For a
 * module that keeps the rest itself and returns PF_WRITE. */
static inline ssize_t pf_send_nowait(pf_conn *c, const void *buf, size_t len,
                                     int more)
{
    return c->api->send_nowait(c, buf, len, more);
}

/* Read what is there now, never waiting.  Returns the byte count, 0 at end
 * of stream, -1 with errno: EAGAIN when nothing is there yet (return
 * PF_MORE or PF_IDLE; handle() comes again when more does), another when
 * the connection failed.  ABI 1.3 hosts and later
 * (PF_API_HAS(c->api, recv_nowait)), as are the three below. */
static inline ssize_t pf_recv_nowait(pf_conn *c, void *buf, size_t len)
{
    return c->api->recv_nowait(c, buf, len);
}

/* Send what the connection takes now of iov[0..iovcnt), in one go (one
 * sendmsg on a plain socket), never waiting.  more: more follows at once
 * (MSG_MORE), so a partial segment is held back for it, and a response's
 * head and body leave in the same segments.  Returns the bytes taken:
 * fewer than the total when the connection is full (0: none), the rest is
 * the module's to keep for PF_WRITE; -1 with errno.  Never SIGPIPE. */
static inline ssize_t pf_sendv_nowait(pf_conn *c, const struct iovec *iov,
                                      int iovcnt, int more)
{
    return c->api->sendv_nowait(c, iov, iovcnt, more);
}

/* Send up to len bytes of file fd from *offset, zero-copy where the
 * connection allows (sendfile), for as long as it takes them, never
 * waiting; *offset advances past what went.  Returns the bytes sent:
 * fewer than len (0 included) when the connection is full, so return
 * PF_WRITE and call again when handle() comes back.  -1 with errno (EIO:
 * the file ended before len bytes; it shrank). */
static inline ssize_t pf_sendfile_nowait(pf_conn *c, int fd, off_t *offset,
                                         size_t len)
{
    return c->api->sendfile_nowait(c, fd, offset, len);
}

/* From now on send small writes at once rather than hold them back to
 * coalesce (TCP_NODELAY; nothing to do on a UNIX socket): for a
 * connection kept open for more requests, whose answers would otherwise
 * wait on Nagle's algorithm.  Returns 0, or -1 with errno. */
static inline int pf_nodelay(pf_conn *c)
{
    return c->api->nodelay(c);
}

/* TLS (ABI 1.4): what the handshake of c established.  The strings are
 * the connection's, valid until finish() returns; a plain connection, or
 * a host older than 1.4, gives NULL for all three.
 *
 * pf_tls_subject: the client certificate's subject, RFC 2253
 * ("CN=alice,O=Example"), NULL when the client sent none.
 * pf_tls_verify: "SUCCESS", "NONE" (no certificate) or "FAILED:reason"
 * (tls_verify_client = optional lets a failed one through), as nginx's
 * $ssl_client_verify.
 * pf_tls_alpn: the protocol ALPN chose ("http/1.1"), NULL when none. */
static inline const char *pf_tls_subject(pf_conn *c)
{
    return PF_API_HAS(c->api, tls_subject) ? c->api->tls_subject(c) : NULL;
}

static inline const char *pf_tls_verify(pf_conn *c)
{
    return PF_API_HAS(c->api, tls_verify) ? c->api->tls_verify(c) : NULL;
}

static inline const char *pf_tls_alpn(pf_conn *c)
{
    return PF_API_HAS(c->api, tls_alpn) ? c->api->tls_alpn(c) : NULL;
}

/* A response to a request on c has been handed to the connection whole
 * (its last byte sent), with this status code: counted by its class
 * (2xx...) and timed from its request's first byte, for the server's
 * metrics.  For a module flagged PF_RESPONSES; once per response.  A host
 * older than ABI 1.4 does not count: nothing happens. */
static inline void pf_response_done(pf_conn *c, int status)
{
    if (PF_API_HAS(c->api, response_done))
        c->api->response_done(c, status);
}

/* The whole server's status as the scoreboard holds it now, rendered in
 * one of enum pf_status_format: a NUL-terminated string the caller frees
 * with free(), *len its length; NULL when out of memory, from a host
 * older than ABI 1.4, or in a process with no scoreboard.  It reads
 * every worker's slot: for a status page, not for every request. */
static inline char *pf_status_text(const pf_service *svc, int format,
                                   size_t *len)
{
    if (!PF_API_HAS(svc->api, status_text)) {
        *len = 0;
        return NULL;
    }
    return svc->api->status_text(svc, format, len);
}

/* What pf_sandbox_allow grants beneath a path (ABI 1.4). */
#define PF_SB_READ  0x1 /* read files, list directories */
#define PF_SB_WRITE 0x2 /* create, write, truncate, rename, remove */
#define PF_SB_EXEC  0x4 /* execute files (with sandbox_exec = yes only) */

/* Declare that the service's workers need path (relative: from the config
 * file's directory; a file or a directory and all beneath it) with flags,
 * from check() (for every worker) or worker_init() (for this one): once
 * a worker serves, it is confined (`sandbox` in prefork.ini(5)) to what
 * its module declared, the operator's sandbox_* keys and its logs.  A
 * module built for ABI 1.4 that needs no file declares nothing and is
 * confined all the same; one built for an older ABI runs unconfined
 * under sandbox = auto.  Returns 0, or -1 with errno (EPERM after
 * worker_init; a host older than ABI 1.4 confines nothing: 0). */
static inline int pf_sandbox_allow(pf_service *svc, const char *path,
                                   unsigned flags)
{
    return PF_API_HAS(svc->api, sandbox_allow)
               ? svc->api->sandbox_allow(svc, path, flags)
               : 0;
}

/* Send a datagram back to the sender of d.  Returns 0 or -1 with errno. */
static inline int pf_reply(pf_dgram *d, const void *buf, size_t len)
{
    return d->api->reply(d, buf, len);
}

#ifdef __cplusplus
}
#endif
#endif /* PREFORK_MODULE_H */
