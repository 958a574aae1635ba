/*
 * harness.h -- helpers for integration tests that drive the real binary.
 *
 * A test gets a temporary directory holding a config file, starts
 * PF_BUILDDIR/src/prefork on it in the foreground, talks to it over
 * loopback sockets and signals, and looks at its worker processes in /proc
 * and at its error log.  Every wait here is bounded; every function returns
 * -1 (or NULL) on failure rather than asserting, so a test says in its own
 * words what went wrong.  Nothing here is thread-safe except the socket
 * helpers, which tests call from many client threads.
 */
#ifndef PF_TEST_HARNESS_H
#define PF_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "scoreboard.h"

#ifndef H_PREFORK
#define H_PREFORK PF_BUILDDIR "/src/prefork"
#endif
#define H_MODDIR  PF_BUILDDIR "/src/modules/.libs"
#define H_TESTMOD PF_BUILDDIR "/tests/modules/.libs/testmod.so"
#define H_BADABI  PF_BUILDDIR "/tests/modules/.libs/badabi.so"
#define H_NOSYM   PF_BUILDDIR "/tests/modules/.libs/nosym.so"

/* How long a test waits for the server to come up or go away. */
#define H_START_MS 10000
#define H_STOP_MS  5000

#define H_MAXPASS 8

/* One prefork master and the temporary directory it runs in. */
struct h_server {
    char  dir[64];   /* mkdtemp; removed by h_cleanup() */
    char  conf[128]; /* DIR/server.ini */
    char  pidfile[128];
    char  log[128]; /* the error_log */
    char  out[128]; /* the master's stdout and stderr */
    char  err[128];
    pid_t pid;    /* the master; once reaped, -pid (its process group) */
    int   status; /* its wait status once reaped */

    /* Set before h_start() to hand the master more than a config: extra
     * environment ("NAME=value"; a bare "LISTEN_PID" or "WATCHDOG_PID"
     * becomes that name set to the master's own pid, as systemd sets it),
     * descriptors it gets as 3, 4..., and a function the child runs just
     * before exec (to confine it, say). */
    const char *env[H_MAXPASS];
    int         pass[H_MAXPASS];
    int         npass;
    void (*before_exec)(void);
};

/* Output of a command run to completion by h_run(). */
struct h_result {
    int   code; /* exit code, 128+N on signal N, -1 when it timed out */
    char *out;  /* its stdout and stderr, NUL-terminated; free with */
    char *err;  /* h_result_free() */
};

/* --- the server ---------------------------------------------------------- */

/* Make the temporary directory and the paths in it; the server is
 * remembered so h_teardown() can clean up after a failed assertion. */
int h_init(struct h_server *s);
/* Write s->conf: a [server] block setting pidfile, error_log and
 * module_path, then the text (which may go on with more [server] keys). */
int h_config(struct h_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* h_config() of the usual server: the [server] keys in `server` (may be
 * ""), then one echo service on 127.0.0.1:port with `workers` workers. */
int h_config_echo(struct h_server *s, const char *server, int port,
                  int workers);
/* Start `prefork -f -c s->conf` and wait until the pidfile exists.
 * Returns 0, or -1 when the master exited or did not get that far. */
int h_start(struct h_server *s);
/* Send sig to the master.  Returns 0 or -1. */
int h_signal(struct h_server *s, int sig);
/* Wait up to ms for the master to exit.  Returns its exit code (128+N on
 * signal N), or -1 when it is still running. */
int h_wait_exit(struct h_server *s, int ms);
/* Is the master still running (not yet reaped)? */
int h_alive(struct h_server *s);
/* Does any process of the server's process group survive the master? */
int h_group_alive(const struct h_server *s);
/* TERM, wait H_STOP_MS, then KILL.  Returns the exit code as above. */
int h_stop(struct h_server *s);
/* The master's stderr and the tail of its error log, for a failure
 * message.  Returns a static buffer, overwritten by the next call. */
const char *h_diag(const struct h_server *s);
/* Stop if running, kill anything left in its process group, remove the
 * temporary directory. */
void h_cleanup(struct h_server *s);
/* h_cleanup() of every server h_init() made: a Criterion .fini. */
void h_teardown(void);

/* The master's children (its workers): stores up to max pids, returns how
 * many there are, or -1. */
int h_workers(const struct h_server *s, pid_t *pids, int max);
int h_nworkers(const struct h_server *s);

/* Workers of the service called name, of every generation (a reload has
 * two), whose slot in the status file is in one of the states of mask
 * (bits 1 << enum slot_state); -1 when the file cannot be read. */
#define H_ACCEPTING ((1u << SLOT_IDLE) | (1u << SLOT_BUSY))
#define H_STARTING  (1u << SLOT_STARTING)
#define H_EXITING   (1u << SLOT_EXITING)
int h_slots(const struct h_server *s, const char *name, unsigned mask);

/* A bounded load from a child process: up to n echo connections to
 * host:port, one after another gap_ms apart, for at most ms.  (Each leaves
 * a client port in TIME_WAIT for a minute: keep n in the thousands.) */
struct h_load {
    pid_t pid;
    int   fd; /* its report: connections made and failed */
    int   ms;
};
int h_load_start(struct h_load *l, const char *host, int port, int n, int ms,
                 int gap_ms);
/* Has it finished?  (Does not wait.) */
int h_load_done(const struct h_load *l);
/* Wait for it to finish; its counts.  Returns 0, or -1. */
int h_load_wait(struct h_load *l, int *made, int *failed);

/* Run argv (argv[0] a path) to completion, at most ms, capturing output. */
int h_run(const char *const argv[], int ms, struct h_result *r);
/* The same for a shell command line (printf-style, run by /bin/sh -c),
 * bounded by ms.  Returns its exit code, as h_run(). */
__attribute__((format(printf, 3, 4))) int h_sh(struct h_result *r, int ms,
                                               const char *fmt, ...);
void                                      h_result_free(struct h_result *r);

/* --- time ---------------------------------------------------------------- */

int64_t h_now_ms(void);
void    h_sleep_ms(int ms);

/* Evaluate cond every 10ms for up to ms milliseconds; true once it holds. */
#define H_WAIT(ms, cond)                                                       \
    ({                                                                         \
        int64_t h_dl_ = h_now_ms() + (ms);                                     \
        int     h_ok_;                                                         \
        while (!(h_ok_ = !!(cond)) && h_now_ms() < h_dl_)                      \
            h_sleep_ms(10);                                                    \
        h_ok_;                                                                 \
    })

/* --- sockets (all loopback, all with timeouts, never SIGPIPE) ------------ */

/* A port nobody listens on now, from binding a probe to host:0 (type is
 * SOCK_STREAM or SOCK_DGRAM), and not one this process was given before.
 * Returns it, or -1.  Not for client threads. */
int h_free_port(const char *host, int type);
/* Can we bind [::1]? */
int h_ipv6_ok(void);
/* Connect to a numeric host (v4 or v6) / a UNIX path.  Returns a
 * non-blocking descriptor, or -1 with errno (ECONNREFUSED, ETIMEDOUT...). */
int h_connect(const char *host, int port, int ms);
int h_connect_unix(const char *path, int ms);
/* A non-blocking UDP socket connected to host:port, or -1. */
int h_udp(const char *host, int port);
/* Send all of buf within ms.  Returns 0, or -1 with errno. */
int h_send_all(int fd, const void *buf, size_t len, int ms);
/* Receive exactly len bytes within ms.  Returns len, fewer at end of
 * stream, or -1 with errno (ETIMEDOUT on timeout). */
ssize_t h_recv_exact(int fd, void *buf, size_t len, int ms);
/* Send out while receiving as many bytes into in, so that a large echo
 * never deadlocks on full buffers.  Returns 0, or -1 (short, timeout). */
int h_transfer(int fd, const void *out, void *in, size_t len, int ms);
/* Receive one line (without its \n) within ms.  Returns its length or -1. */
int h_recv_line(int fd, char *buf, size_t cap, int ms);
/* Wait for the peer to close.  Returns 0 on end of stream or reset, 1 when
 * data came instead, -1 on timeout. */
int h_wait_closed(int fd, int ms);
/* One round trip to a testmod service: connect to host:port, send cmd
 * (e.g. "pid\n"), read one line, close.  Returns its number, or -1. */
long h_ask(const char *host, int port, const char *cmd, int ms);
/* One echo round trip of a short message on a new connection: 0 or -1. */
int h_echo_once(const char *host, int port, int ms);

/* --- files and data ------------------------------------------------------ */

/* Whole file, NUL-terminated, or NULL.  The caller frees it. */
char *h_read_file(const char *path);
int   h_write_file(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The value of a field of /proc/PID/status ("Uid:", "CapEff:"...) into
 * out, without the name and the blanks after it: 0, or -1 when there is
 * no such process or field. */
int h_proc_field(pid_t pid, const char *field, char *out, size_t len);
/* Does the file exist and contain needle? */
int h_file_contains(const char *path, const char *needle);
/* 1-based number of the first line of path containing needle, or -1. */
int h_line_of(const char *path, const char *needle);
/* Fill buf with a pseudo-random pattern determined by seed. */
void h_pattern(void *buf, size_t len, uint32_t seed);

#endif
