/*
 * harness.c -- the integration tests' way of running prefork; see harness.h.
 *
 * The master is started the way a shell would start it: its own process
 * group, default signal dispositions, an empty signal mask, stdin from
 * /dev/null and no descriptors but stdio, whatever the test runner had.  It
 * also gets PR_SET_PDEATHSIG, so a test killed by its timeout does not leave
 * a server behind.  The loopback clients are in harness_net.c.
 */
#define _GNU_SOURCE

#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Servers to clean up in h_teardown(); tests start one or two. */
#define H_MAX_SERVERS 8
static struct h_server *registry[H_MAX_SERVERS];

/* --- time ---------------------------------------------------------------- */

int64_t h_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void h_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* --- files --------------------------------------------------------------- */

char *h_read_file(const char *path)
{
    FILE  *f = fopen(path, "re");
    char  *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (f == NULL)
        return NULL;
    do {
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap + 65536);

            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap += 65536;
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
    } while (n > 0);
    fclose(f);
    buf[len] = '\0';
    return buf;
}

int h_proc_field(pid_t pid, const char *field, char *out, size_t len)
{
    char   path[64], *all, *p;
    size_t n;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if ((all = h_read_file(path)) == NULL)
        return -1;
    if ((p = strstr(all, field)) == NULL) {
        free(all);
        return -1;
    }
    p += strlen(field);
    p += strspn(p, " \t");
    n = strcspn(p, "\n");
    snprintf(out, len, "%.*s", (int)n, p);
    free(all);
    return 0;
}

static int write_filev(const char *path, const char *head, const char *fmt,
                       va_list ap)
{
    FILE *f = fopen(path, "we");
    int   bad;

    if (f == NULL)
        return -1;
    if (head != NULL)
        fputs(head, f);
    vfprintf(f, fmt, ap);
    bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return -1;
    return 0;
}

int h_write_file(const char *path, const char *fmt, ...)
{
    va_list ap;
    int     rc;

    va_start(ap, fmt);
    rc = write_filev(path, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

int h_file_contains(const char *path, const char *needle)
{
    char *text = h_read_file(path);
    int   found = text != NULL && strstr(text, needle) != NULL;

    free(text);
    return found;
}

int h_line_of(const char *path, const char *needle)
{
    char *text = h_read_file(path);
    char *hit, *p;
    int   line = 1;

    if (text == NULL || (hit = strstr(text, needle)) == NULL) {
        free(text);
        return -1;
    }
    for (p = text; p < hit; p++)
        line += *p == '\n';
    free(text);
    return line;
}

/* xorshift32: cheap, and no two seeds give the same stream. */
void h_pattern(void *buf, size_t len, uint32_t seed)
{
    unsigned char *p = buf;
    uint32_t       x = seed * 2654435761u + 1;

    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)(x >> 24);
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* --- the server ---------------------------------------------------------- */

int h_init(struct h_server *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/pf-test-XXXXXX");
    if (mkdtemp(s->dir) == NULL)
        return -1;
    snprintf(s->conf, sizeof s->conf, "%s/server.ini", s->dir);
    snprintf(s->pidfile, sizeof s->pidfile, "%s/prefork.pid", s->dir);
    snprintf(s->log, sizeof s->log, "%s/error.log", s->dir);
    snprintf(s->out, sizeof s->out, "%s/stdout", s->dir);
    snprintf(s->err, sizeof s->err, "%s/stderr", s->dir);
    for (int i = 0; i < H_MAX_SERVERS; i++) {
        if (registry[i] == NULL) {
            registry[i] = s;
            break;
        }
    }
    return 0;
}

int h_config(struct h_server *s, const char *fmt, ...)
{
    char    head[512];
    va_list ap;
    int     rc;

    snprintf(head, sizeof head,
             "; written by the integration test harness\n"
             "[server]\n"
             "pidfile = %s\n"
             "error_log = %s\n"
             "module_path = %s\n",
             s->pidfile, s->log, H_MODDIR);
    va_start(ap, fmt);
    rc = write_filev(s->conf, head, fmt, ap);
    va_end(ap);
    return rc;
}

int h_config_echo(struct h_server *s, const char *server, int port, int workers)
{
    return h_config(s,
                    "%s[echo]\nmodule = echo\nlisten = 127.0.0.1:%d\n"
                    "workers = %d\n",
                    server, port, workers);
}

/* In the child: the server's extra environment and descriptors 3, 4...
 * (moved out of the way first, so that no dup2 clobbers another). */
static void pass_on(const struct h_server *s)
{
    int  high[H_MAXPASS];
    char pid[32];

    for (int i = 0; i < s->npass; i++)
        if ((high[i] = fcntl(s->pass[i], F_DUPFD, 64)) < 0)
            _exit(127);
    for (int i = 0; i < s->npass; i++)
        if (dup2(high[i], 3 + i) < 0)
            _exit(127);
    for (int i = 0; i < H_MAXPASS && s->env[i] != NULL; i++) {
        size_t len = strlen(s->env[i]);
        if (strchr(s->env[i], '=') == NULL && len > 4 && len < 24 &&
            strcmp(s->env[i] + len - 4, "_PID") == 0) {
            snprintf(pid, sizeof pid, "%s=%d", s->env[i], (int)getpid());
            putenv(strdup(pid));
        } else {
            putenv((char *)s->env[i]);
        }
    }
}

/* In the child: look like a process a shell started, then exec. */
static void exec_child(const char *const argv[], int out, int err,
                       const struct h_server *s)
{
    sigset_t all;
    int      in = open("/dev/null", O_RDONLY);
    int      keep = s != NULL ? s->npass : 0;

    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        _exit(127);
    if (s != NULL)
        pass_on(s);
    close_range(3 + (unsigned)keep, ~0u, 0);
    if (s != NULL && s->before_exec != NULL)
        s->before_exec();
    execv(argv[0], (char *const *)argv);
    _exit(127);
}

/* Fork and exec argv with stdout and stderr on the given descriptors.
 * Returns the pid or -1. */
static pid_t spawn(const char *const argv[], int out, int err,
                   const struct h_server *s)
{
    pid_t parent = getpid();
    pid_t pid = fork();

    if (pid == 0) {
        if (getppid() != parent) /* died before PDEATHSIG was set */
            _exit(127);
        exec_child(argv, out, err, s);
    }
    return pid;
}

static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

/* With PF_VALGRIND set in the environment the master runs under
 * valgrind's memcheck; its workers (forked, not exec'd) stay quiet, as
 * they leave by _exit with the master's memory on purpose. */
static const char *const valgrind_argv[] = {
    "valgrind",
    "--quiet",
    "--leak-check=full",
    "--errors-for-leak-kinds=definite,indirect",
    "--error-exitcode=99",
    "--child-silent-after-fork=yes",
    H_PREFORK,
};
#define NVALGRIND (sizeof(valgrind_argv) / sizeof(valgrind_argv[0]))

int h_start(struct h_server *s)
{
    const char *argv[NVALGRIND + 5];
    size_t      n = 0;
    int out = open(s->out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int err = open(s->err, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    struct stat st;

    if (out < 0 || err < 0)
        goto fail;
    if (getenv("PF_VALGRIND") != NULL) {
        for (; n < NVALGRIND; n++)
            argv[n] = valgrind_argv[n];
        argv[0] = "/usr/bin/valgrind";
    } else {
        argv[n++] = H_PREFORK;
    }
    argv[n++] = "-f";
    argv[n++] = "-c";
    argv[n++] = s->conf;
    argv[n] = NULL;
    s->pid = spawn(argv, out, err, s);
    if (s->pid < 0) {
        s->pid = 0;
        goto fail;
    }
    close(out);
    close(err);
    /* The pidfile appears once every listener is bound.  Under memcheck
     * the master's short-lived children (the python handler's check, the
     * seccomp filter's compiler) run on the emulated CPU too: allow it
     * three times as long. */
    if (!H_WAIT(getenv("PF_VALGRIND") != NULL ? 3 * H_START_MS : H_START_MS,
                (stat(s->pidfile, &st) == 0 && st.st_size > 0) || !h_alive(s)))
        return -1;
    return h_alive(s) ? 0 : -1;
fail:
    if (out >= 0)
        close(out);
    if (err >= 0)
        close(err);
    return -1;
}

int h_signal(struct h_server *s, int sig)
{
    if (s->pid <= 0)
        return -1;
    return kill(s->pid, sig);
}

int h_alive(struct h_server *s)
{
    if (s->pid <= 0)
        return 0;
    if (waitpid(s->pid, &s->status, WNOHANG) == s->pid) {
        s->pid = -s->pid; /* reaped; the group id is kept for cleanup */
        return 0;
    }
    return 1;
}

int h_group_alive(const struct h_server *s)
{
    pid_t pgid = s->pid < 0 ? -s->pid : s->pid;

    return pgid > 0 && kill(-pgid, 0) == 0;
}

int h_wait_exit(struct h_server *s, int ms)
{
    if (s->pid == 0)
        return -1;
    if (!H_WAIT(ms, !h_alive(s)))
        return -1;
    return exit_code(s->status);
}

int h_stop(struct h_server *s)
{
    int code;

    if (s->pid == 0)
        return -1;
    if (!h_alive(s))
        return exit_code(s->status);
    h_signal(s, SIGTERM);
    code = h_wait_exit(s, H_STOP_MS);
    if (code < 0) {
        h_signal(s, SIGKILL);
        code = h_wait_exit(s, H_STOP_MS);
    }
    return code;
}

/* Append the last `max` bytes of a file to buf. */
static void append_tail(char *buf, size_t cap, const char *path, size_t max)
{
    char  *text = h_read_file(path);
    size_t len, used = strlen(buf);

    if (text == NULL)
        return;
    len = strlen(text);
    snprintf(buf + used, cap - used, "%s", len > max ? text + len - max : text);
    free(text);
}

const char *h_diag(const struct h_server *s)
{
    static char buf[8192]; /* tests call this from their main thread only */

    snprintf(buf, sizeof buf, "\n--- stderr:\n");
    append_tail(buf, sizeof buf, s->err, 2000);
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "\n--- error log:\n");
    append_tail(buf, sizeof buf, s->log, 5000);
    return buf;
}

/*
 * A sanitizer's or valgrind's report on the master's stderr fails the test
 * run even when every assertion held.  Criterion ignores failures in a
 * test's teardown, so the report is appended to the file PF_REPORTS names,
 * which tests/criterion-run checks once the test program is done.
 */
static void check_reports(const struct h_server *s)
{
    static const char *const marks[] = {
        "Sanitizer",     "runtime error:",  "Invalid read",
        "Invalid write", "definitely lost", "uninitialised"};
    const char *path = getenv("PF_REPORTS");
    char       *text = h_read_file(s->err);
    FILE       *f;
    size_t      i;

    for (i = 0; text != NULL && i < sizeof marks / sizeof marks[0]; i++)
        if (strstr(text, marks[i]) != NULL)
            break;
    if (text != NULL && i < sizeof marks / sizeof marks[0]) {
        fprintf(stderr, "report on the server's stderr:\n%s\n", text);
        if (path != NULL && (f = fopen(path, "a")) != NULL) {
            fprintf(f, "--- %s\n%s\n", s->conf, text);
            fclose(f);
        }
    }
    free(text);
}

void h_cleanup(struct h_server *s)
{
    pid_t pgid;

    if (s->pid != 0) {
        h_stop(s);
        pgid = s->pid < 0 ? -s->pid : s->pid;
        kill(-pgid, SIGKILL); /* workers the master left behind */
        s->pid = 0;
    }
    if (s->dir[0] != '\0')
        check_reports(s);
    if (s->dir[0] != '\0') {
        nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        s->dir[0] = '\0';
    }
    for (int i = 0; i < H_MAX_SERVERS; i++) {
        if (registry[i] == s)
            registry[i] = NULL;
    }
}

void h_teardown(void)
{
    for (int i = 0; i < H_MAX_SERVERS; i++) {
        if (registry[i] != NULL)
            h_cleanup(registry[i]);
    }
}

int h_workers(const struct h_server *s, pid_t *pids, int max)
{
    char  path[64];
    FILE *f;
    long  pid;
    int   n = 0;

    if (s->pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)s->pid,
             (int)s->pid);
    f = fopen(path, "re");
    if (f == NULL)
        return -1;
    while (fscanf(f, "%ld", &pid) == 1) {
        if (n < max)
            pids[n] = (pid_t)pid;
        n++;
    }
    fclose(f);
    return n;
}

int h_nworkers(const struct h_server *s)
{
    return h_workers(s, NULL, 0);
}

int h_slots(const struct h_server *s, const char *name, unsigned mask)
{
    struct sb_snapshot snap;
    struct scoreboard *sb;
    char              *path = scoreboard_path(s->pidfile), err[256];
    int                n = -1;

    if (path == NULL)
        return -1;
    sb = scoreboard_open(path, err, sizeof err);
    free(path);
    if (sb == NULL)
        return -1;
    if (scoreboard_snapshot(sb, &snap, err, sizeof err) == 0) {
        n = 0;
        for (size_t i = 0; i < snap.nslots; i++) {
            const struct slot *sl = &snap.slots[i];

            if (sl->state == SLOT_FREE || !(mask & (1u << sl->state)))
                continue;
            for (size_t j = 0; j < snap.nsvc; j++)
                if (snap.svc[j].id == sl->service &&
                    strcmp(snap.svc[j].name, name) == 0)
                    n++;
        }
        scoreboard_snapshot_free(&snap);
    }
    scoreboard_destroy(sb);
    return n;
}

int h_load_start(struct h_load *l, const char *host, int port, int n, int ms,
                 int gap_ms)
{
    int p[2];

    if (pipe2(p, O_CLOEXEC) == -1)
        return -1;
    l->ms = ms;
    l->pid = fork();
    if (l->pid == -1) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (l->pid == 0) {
        int64_t end = h_now_ms() + ms;
        int     made = 0, failed = 0;
        char    msg[64];

        close(p[0]);
        for (; made < n && h_now_ms() < end; made++) {
            failed += h_echo_once(host, port, 3000) != 0;
            if (gap_ms > 0)
                h_sleep_ms(gap_ms);
        }
        snprintf(msg, sizeof msg, "%d %d\n", made, failed);
        _exit(write(p[1], msg, strlen(msg)) > 0 ? 0 : 1);
    }
    close(p[1]);
    l->fd = p[0];
    return 0;
}

int h_load_done(const struct h_load *l)
{
    struct pollfd pfd = {.fd = l->fd, .events = POLLIN};

    return poll(&pfd, 1, 0) == 1;
}

int h_load_wait(struct h_load *l, int *made, int *failed)
{
    struct pollfd pfd = {.fd = l->fd, .events = POLLIN};
    char          msg[64] = "";
    ssize_t       got = -1;
    int           status;

    if (poll(&pfd, 1, l->ms + 5000) == 1)
        got = read(l->fd, msg, sizeof msg - 1);
    close(l->fd);
    if (got <= 0)
        kill(l->pid, SIGKILL);
    waitpid(l->pid, &status, 0);
    return got > 0 && sscanf(msg, "%d %d", made, failed) == 2 ? 0 : -1;
}

/* --- running a command to completion ------------------------------------- */

struct sink {
    int    fd;
    char  *buf;
    size_t len, cap;
};

/* Read what fd has; returns 0 while it stays open, 1 at end of file. */
static int sink_read(struct sink *k)
{
    for (;;) {
        ssize_t n;

        if (k->cap - k->len < 4096) {
            char *nb = realloc(k->buf, k->cap + 16384);

            if (nb == NULL)
                return 1;
            k->buf = nb;
            k->cap += 16384;
            k->buf[k->len] = '\0'; /* a stream that stays empty reads "" */
        }
        n = read(k->fd, k->buf + k->len, k->cap - k->len - 1);
        if (n > 0) {
            k->len += (size_t)n;
            k->buf[k->len] = '\0';
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    }
}

int h_run(const char *const argv[], int ms, struct h_result *r)
{
    struct sink k[2] = {{.fd = -1}, {.fd = -1}};
    int         po[2] = {-1, -1}, pe[2] = {-1, -1}, status = 0;
    int64_t     deadline = h_now_ms() + ms;
    pid_t       pid;
    int         reaped = 0;

    memset(r, 0, sizeof *r);
    r->code = -1;
    if (pipe2(po, O_CLOEXEC | O_NONBLOCK) < 0 ||
        pipe2(pe, O_CLOEXEC | O_NONBLOCK) < 0)
        goto out;
    pid = spawn(argv, po[1], pe[1], NULL);
    close(po[1]);
    close(pe[1]);
    if (pid < 0)
        goto out;
    k[0].fd = po[0];
    k[1].fd = pe[0];
    /* Collect output until the command exits; a daemon it left behind
     * may hold the pipes open, so exit, not end of file, ends the wait. */
    while (!reaped && h_now_ms() < deadline) {
        struct pollfd p[2] = {{.fd = po[0], .events = POLLIN},
                              {.fd = pe[0], .events = POLLIN}};

        poll(p, 2, 20);
        sink_read(&k[0]);
        sink_read(&k[1]);
        reaped = waitpid(pid, &status, WNOHANG) == pid;
    }
    if (!reaped) {
        kill(-pid, SIGKILL); /* it and whatever it started */
        waitpid(pid, &status, 0);
    } else {
        r->code = exit_code(status);
    }
    sink_read(&k[0]);
    sink_read(&k[1]);
out:
    for (int i = 0; i < 2; i++) {
        if (k[i].buf == NULL)
            k[i].buf = calloc(1, 1);
    }
    r->out = k[0].buf;
    r->err = k[1].buf;
    if (po[0] >= 0)
        close(po[0]);
    if (pe[0] >= 0)
        close(pe[0]);
    return r->code;
}

void h_result_free(struct h_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* --- sanitizers ---------------------------------------------------------- */

/* Criterion's runner loses a few bytes when tests run in parallel, which
 * LeakSanitizer (--enable-sanitizers) would turn into a failure of every
 * integration binary.  Only allocations made inside libcriterion are
 * excused; leaks in the tests and the harness are still reported. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libcriterion.so\n";
}

int h_sh(struct h_result *r, int ms, const char *fmt, ...)
{
    const char *argv[] = {"/bin/sh", "-c", NULL, NULL};
    char       *cmd;
    va_list     ap;
    int         rc;

    va_start(ap, fmt);
    rc = vasprintf(&cmd, fmt, ap);
    va_end(ap);
    if (rc < 0)
        return -1;
    argv[2] = cmd;
    rc = h_run(argv, ms, r);
    free(cmd);
    return rc;
}
