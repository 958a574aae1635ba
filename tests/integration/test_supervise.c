/*
 * test_supervise.c -- the master looking after its workers, seen from
 * outside: dead, crashing, stuck, recycled and failing workers are
 * replaced while clients keep being served, dynamic pools grow and shrink,
 * and a worker holds only its own service's sockets.
 *
 * testmod (tests/modules/testmod.c) supplies the misbehaviour and answers
 * `pid` and `fds` so a test can tell which process served it.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define LO "127.0.0.1"

static struct h_server srv;

static void start(struct h_server *s)
{
    cr_assert_eq(h_start(s), 0, "prefork did not start%s", h_diag(s));
}

static int tcp_port(void)
{
    int port = h_free_port(LO, SOCK_STREAM);

    cr_assert(port > 0, "no free port");
    return port;
}

static int contains(const pid_t *v, int n, pid_t pid)
{
    for (int i = 0; i < n; i++) {
        if (v[i] == pid)
            return 1;
    }
    return 0;
}

/* Some current worker is not in old[]. */
static int has_new_worker(const struct h_server *s, const pid_t *old, int n)
{
    pid_t now[64];
    int   k = h_workers(s, now, 64);

    for (int i = 0; i < k && i < 64; i++) {
        if (!contains(old, n, now[i]))
            return 1;
    }
    return 0;
}

static int count_lines(const char *path, const char *needle)
{
    char       *text = h_read_file(path);
    const char *p = text;
    int         n = 0;

    while (p != NULL && (p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    free(text);
    return n;
}

Test(supervise, killed_worker_is_replaced_without_refusing, .fini = h_teardown,
     .timeout = 30)
{
    int     port = tcp_port(), failures = 0, trips = 0;
    pid_t   old[2];
    int64_t t0, replaced = -1;

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv, "[echo]\nmodule = echo\nlisten = %s:%d\nworkers = 2\n", LO,
             port);
    start(&srv);
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == 2), "expected 2 workers, got %d",
              h_nworkers(&srv));
    h_workers(&srv, old, 2);
    cr_assert_eq(kill(old[0], SIGKILL), 0);
    t0 = h_now_ms();
    /* Clients keep coming for the whole second the pool is short. */
    while (h_now_ms() - t0 < 1000) {
        trips++;
        if (h_echo_once(LO, port, 3000) != 0)
            failures++;
        if (replaced < 0 && h_nworkers(&srv) == 2 &&
            has_new_worker(&srv, old, 2))
            replaced = h_now_ms() - t0;
    }
    cr_expect_eq(failures, 0,
                 "%d of %d clients failed after kill -9 of a worker", failures,
                 trips);
    cr_assert(replaced >= 0,
              "no new worker within 1s of kill -9 (workers: %d)%s",
              h_nworkers(&srv), h_diag(&srv));
    cr_assert(h_alive(&srv));
}

Test(supervise, max_requests_recycles_the_worker, .fini = h_teardown,
     .timeout = 30)
{
    int   port = tcp_port();
    long  pid[8];
    pid_t w, now = 0;

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv,
             "max_requests = 5\n"
             "[t]\nmodule = %s\nlisten = %s:%d\nworkers = 1\n",
             H_TESTMOD, LO, port);
    start(&srv);
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == 1));
    h_workers(&srv, &w, 1);
    for (int i = 0; i < 5; i++) {
        pid[i] = h_ask(LO, port, "pid\n", 5000);
        cr_assert_eq(pid[i], (long)w,
                     "connection %d of 5 served by %ld, not by the worker %d%s",
                     i + 1, pid[i], (int)w, h_diag(&srv));
    }
    /* It serves on until its replacement is accepting, then goes. */
    cr_assert(H_WAIT(5000, h_workers(&srv, &now, 1) == 1 && now != w),
              "the worker that served 5 with max_requests = 5 was not "
              "replaced%s",
              h_diag(&srv));
    for (int i = 5; i < 8; i++) {
        pid[i] = h_ask(LO, port, "pid\n", 5000);
        cr_assert_eq(pid[i], (long)now,
                     "connection %d served by %ld, not by the new worker %d",
                     i + 1, pid[i], (int)now);
    }
    cr_expect(h_file_contains(srv.log, "recycling worker"),
              "the recycle was not logged%s", h_diag(&srv));
}

Test(supervise, stuck_worker_is_killed_after_worker_timeout, .fini = h_teardown,
     .timeout = 30)
{
    int     port = tcp_port(), fd;
    pid_t   old;
    int64_t t0, gone;

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv,
             "worker_timeout = 1s\n"
             "[t]\nmodule = %s\nlisten = %s:%d\nworkers = 1\nsleep = 10s\n",
             H_TESTMOD, LO, port);
    start(&srv);
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == 1));
    h_workers(&srv, &old, 1);
    fd = h_connect(LO, port, 3000);
    cr_assert(fd >= 0);
    cr_assert_eq(h_send_all(fd, "x\n", 2, 1000), 0);
    t0 = h_now_ms();
    cr_assert(
        H_WAIT(6000, h_nworkers(&srv) == 1 && has_new_worker(&srv, &old, 1)),
        "a worker stuck for %lld ms was not replaced (worker_timeout = 1s)%s",
        (long long)(h_now_ms() - t0), h_diag(&srv));
    gone = h_now_ms() - t0;
    cr_expect_geq(gone, 800,
                  "the worker was replaced after %lld ms, before "
                  "worker_timeout = 1s",
                  (long long)gone);
    cr_expect_eq(h_wait_closed(fd, 2000), 0,
                 "the stuck worker's client was not disconnected");
    close(fd);
}

Test(supervise, crashing_module_never_takes_the_master, .fini = h_teardown,
     .timeout = 60)
{
    int crash = tcp_port(), echo = tcp_port(), closed = 0;

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv,
             "[crash]\nmodule = %s\nlisten = %s:%d\nworkers = 2\ncrash = yes\n"
             "[echo]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n",
             H_TESTMOD, LO, crash, LO, echo);
    start(&srv);
    for (int i = 0; i < 50; i++) {
        int fd = h_connect(LO, crash, 5000);

        cr_assert(fd >= 0, "connection %d: %s", i + 1, strerror(errno));
        h_send_all(fd, "x\n", 2, 1000);
        /* The worker serving it dies: the client sees the end, no data. */
        if (h_wait_closed(fd, 5000) == 0)
            closed++;
        close(fd);
    }
    cr_expect_eq(closed, 50,
                 "only %d of 50 connections to the crashing module ended",
                 closed);
    cr_assert(h_alive(&srv), "the master died%s", h_diag(&srv));
    cr_assert_eq(h_echo_once(LO, echo, 5000), 0,
                 "the other service stopped answering");
    cr_expect(h_file_contains(srv.log, "exited on signal 11"),
              "no worker exit on SIGSEGV in the log%s", h_diag(&srv));
}

Test(supervise, failing_worker_init_backs_off, .fini = h_teardown,
     .timeout = 30)
{
    int     bad = tcp_port(), echo = tcp_port(), exits;
    int64_t t0;

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv,
             "[bad]\nmodule = %s\nlisten = %s:%d\nworkers = 1\n"
             "fail_init = yes\n"
             "[echo]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n",
             H_TESTMOD, LO, bad, LO, echo);
    start(&srv);
    t0 = h_now_ms();
    cr_assert(H_WAIT(5000, h_file_contains(srv.log, "respawn")),
              "no respawn back-off logged%s", h_diag(&srv));
    /* For three seconds the rest keeps working. */
    while (h_now_ms() - t0 < 3000) {
        cr_assert(h_alive(&srv), "the master died%s", h_diag(&srv));
        cr_assert_eq(h_echo_once(LO, echo, 3000), 0,
                     "the healthy service stopped answering%s", h_diag(&srv));
        h_sleep_ms(200);
    }
    /* Growing delays: a handful of attempts, not a tight loop. */
    exits = count_lines(srv.log, "exited with code");
    cr_expect_leq(exits, 10, "%d failed workers in 3s: no back-off", exits);
    cr_expect_geq(exits, 1, "no failed worker exit logged%s", h_diag(&srv));
}

/* --- dynamic pools ------------------------------------------------------- */

struct busy_client {
    pthread_t th;
    int       port;
    int       ok;
};

/* Two round trips, each of which keeps a worker busy for 2s. */
static void *busy_client(void *arg)
{
    struct busy_client *c = arg;
    int                 fd = h_connect(LO, c->port, 5000);
    char                line[16];

    if (fd < 0)
        return NULL;
    c->ok = h_send_all(fd, "a\n", 2, 1000) == 0 &&
            h_recv_line(fd, line, sizeof line, 15000) == 1 &&
            h_send_all(fd, "b\n", 2, 1000) == 0 &&
            h_recv_line(fd, line, sizeof line, 15000) == 1;
    close(fd);
    return NULL;
}

Test(supervise, dynamic_pool_grows_and_shrinks, .fini = h_teardown,
     .timeout = 60)
{
    struct busy_client c[3];
    int                port = tcp_port(), most = 0, n;
    int64_t            t0, took;

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv,
             "log_level = debug\n[t]\nmodule = %s\nlisten = %s:%d\nsleep = "
             "2s\nworkers = 1\n"
             "min_spare = 1\nmax_spare = 2\nmax_workers = 4\n",
             H_TESTMOD, LO, port);
    start(&srv);
    cr_assert(H_WAIT(5000, h_nworkers(&srv) >= 1));
    t0 = h_now_ms();
    for (int i = 0; i < 3; i++) {
        c[i] = (struct busy_client){.port = port};
        cr_assert_eq(pthread_create(&c[i].th, NULL, busy_client, &c[i]), 0);
    }
    /* Watch the pool while the clients keep it busy. */
    while (h_now_ms() - t0 < 4000) {
        n = h_nworkers(&srv);
        most = n > most ? n : most;
        h_sleep_ms(50);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(c[i].th, NULL);
    took = h_now_ms() - t0;
    for (int i = 0; i < 3; i++)
        cr_expect(c[i].ok, "busy client %d was not served", i);
    cr_assert_geq(most, 3, "with 3 busy clients the pool grew to %d%s", most,
                  h_diag(&srv));
    cr_expect_leq(most, 4, "the pool grew to %d, past max_workers = 4", most);
    /* Served one after the other, they would take 12s. */
    cr_expect_lt(took, 10000, "3 clients of 4s each took %lld ms",
                 (long long)took);
    cr_assert(H_WAIT(15000, h_nworkers(&srv) <= 2),
              "the idle pool did not shrink to max_spare = 2: %d workers",
              h_nworkers(&srv));
    h_sleep_ms(1500);
    cr_assert_geq(h_nworkers(&srv), 1, "the pool shrank below workers = 1");
}

/* --- descriptors --------------------------------------------------------- */

/* Sockets held by the worker of service a while service b has nb
 * listeners. */
static long sockets_in_a(int nb)
{
    static struct h_server s; /* h_teardown() may see it after a failure */
    char                   listen[512] = "";
    int                    a = tcp_port();
    long                   n;

    cr_assert_eq(h_init(&s), 0);
    for (int i = 0; i < nb; i++)
        snprintf(listen + strlen(listen), sizeof listen - strlen(listen),
                 "%s%s:%d", i ? ", " : "", LO, tcp_port());
    h_config(&s,
             "[a]\nmodule = %s\nlisten = %s:%d\nworkers = 1\n"
             "[b]\nmodule = echo\nlisten = %s\nworkers = 1\n",
             H_TESTMOD, LO, a, listen);
    start(&s);
    n = h_ask(LO, a, "fds\n", 5000);
    cr_assert(n > 0, "no answer to fds%s", h_diag(&s));
    h_cleanup(&s);
    return n;
}

Test(supervise, worker_holds_only_its_own_sockets, .fini = h_teardown,
     .timeout = 30)
{
    long one = sockets_in_a(1), nine = sockets_in_a(9);

    cr_assert_eq(nine, one,
                 "a worker of service a holds %ld sockets when "
                 "service b has 1 listener, %ld when b has 9",
                 one, nine);
}

/* --- privileges ---------------------------------------------------------- */

/* The real and effective uid (or gid) of pid, from /proc, or -1. */
static long proc_id(pid_t pid, const char *field)
{
    char  path[64], line[256];
    long  real = -1, eff = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, strlen(field)) == 0)
            sscanf(line + strlen(field), "%ld %ld", &real, &eff);
    fclose(f);
    return real == eff ? real : -1;
}

Test(supervise, workers_drop_to_the_configured_user, .fini = h_teardown,
     .timeout = 30)
{
    struct passwd *pw = getpwnam("nobody");
    int            port = tcp_port();
    pid_t          w;

    if (geteuid() != 0 || pw == NULL)
        cr_skip_test("needs root and a 'nobody' user");
    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv,
             "user = nobody\n[echo]\nmodule = echo\nlisten = %s:%d\n"
             "workers = 1\n",
             LO, port);
    start(&srv);
    cr_assert_eq(h_echo_once(LO, port, 5000), 0, "no echo%s", h_diag(&srv));
    cr_assert_eq(h_workers(&srv, &w, 1), 1);
    cr_expect_eq(proc_id(w, "Uid:"), (long)pw->pw_uid,
                 "the worker runs as uid %ld", proc_id(w, "Uid:"));
    cr_expect_eq(proc_id(w, "Gid:"), (long)pw->pw_gid,
                 "the worker runs as gid %ld", proc_id(w, "Gid:"));
    cr_expect_eq(proc_id(srv.pid, "Uid:"), 0L,
                 "the master must stay root to bind on reload");
}

/* The master logs one line per listener once they are bound: at start-up,
 * and for the new generation after a reload. */
Test(supervise, start_and_reload_log_what_is_served, .fini = h_teardown,
     .timeout = 30)
{
    int  a = tcp_port(), c = tcp_port();
    char web[160], tcp_b[160], unix_b[200], dyn[160];

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv,
             "[web]\nmodule = echo\nlisten = %s:%d\nworkers = 2\n"
             "[chat]\nmodule = echo\nlisten = %s:%d, unix:%s/chat.sock\n"
             "mode = forking\nworkers = 1\nmax_children = 8\n",
             LO, a, LO, c, srv.dir);
    start(&srv);
    snprintf(web, sizeof web,
             "serving %s:%d (tcp) for [web]: module echo, "
             "mode prefork, 2 workers\n",
             LO, a);
    snprintf(tcp_b, sizeof tcp_b,
             "serving %s:%d (tcp) for [chat]: module echo, "
             "mode forking, 1 worker, max_children 8\n",
             LO, c);
    snprintf(unix_b, sizeof unix_b,
             "serving %s/chat.sock (unix) for [chat]: module echo, "
             "mode forking, 1 worker, max_children 8\n",
             srv.dir);
    cr_assert(H_WAIT(5000, h_file_contains(srv.log, unix_b)), "no line '%s'%s",
              unix_b, h_diag(&srv));
    cr_expect_eq(count_lines(srv.log, web), 1, "no line '%s'", web);
    cr_expect_eq(count_lines(srv.log, tcp_b), 1, "no line '%s'", tcp_b);

    /* The new generation's lines, and only after the reload took. */
    h_config(&srv,
             "[web]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n"
             "max_workers = 3\n",
             LO, a);
    snprintf(dyn, sizeof dyn,
             "serving %s:%d (tcp) for [web]: module echo, "
             "mode prefork, 1..3 workers\n",
             LO, a);
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(5000, h_file_contains(srv.log, dyn)), "no line '%s'%s",
              dyn, h_diag(&srv));
    cr_expect_lt(h_line_of(srv.log, "configuration reloaded"),
                 h_line_of(srv.log, dyn));
    cr_expect_eq(count_lines(srv.log, unix_b), 1,
                 "the dropped service's line came again");
    cr_assert_eq(h_stop(&srv), 0);
}

/* What prefork(8) and prefork.ini(5) say: ":PORT" binds every IPv4
 * address, and a reload starts each pool again at its configured size,
 * undoing TTIN. */
Test(supervise, reload_undoes_ttin_and_colon_port_is_ipv4_any,
     .fini = h_teardown, .timeout = 30)
{
    int  port = tcp_port();
    char any[96];

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv, "[e]\nmodule = echo\nlisten = :%d\nworkers = 1\n", port);
    start(&srv);
    snprintf(any, sizeof any, "serving 0.0.0.0:%d (tcp) for [e]", port);
    cr_assert(H_WAIT(5000, h_file_contains(srv.log, any)), "no line '%s'%s",
              any, h_diag(&srv));
    cr_assert_eq(h_echo_once(LO, port, 2000), 0);
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == 1));
    cr_assert_eq(h_signal(&srv, SIGTTIN), 0);
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == 2), "TTIN: %d workers%s",
              h_nworkers(&srv), h_diag(&srv));
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(5000, h_file_contains(srv.log, "configuration reloaded")));
    cr_assert(H_WAIT(10000, h_nworkers(&srv) == 1),
              "after the reload: %d workers, not workers = 1%s",
              h_nworkers(&srv), h_diag(&srv));
    cr_assert_eq(h_stop(&srv), 0);
}

/* Does a line of the log hold both level and text? */
static int logged_at(const char *log, const char *level, const char *text)
{
    FILE  *f = fopen(log, "r");
    char  *line = NULL;
    size_t cap = 0;
    int    found = 0;

    if (f == NULL)
        return 0;
    while (!found && getline(&line, &cap, f) != -1)
        found = strstr(line, level) != NULL && strstr(line, text) != NULL;
    free(line);
    fclose(f);
    return found;
}

/* A reload to a file with a key that does nothing logs the warning -t
 * would print, with its file and line, and the reload still takes. */
Test(supervise, reload_logs_the_warnings_of_the_new_file, .fini = h_teardown,
     .timeout = 30)
{
    int port = tcp_port();

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv, "[web]\nmodule = echo\nlisten = %s:%d\n", LO, port);
    start(&srv);
    cr_assert(!h_file_contains(srv.log, "warning"), "%s", h_diag(&srv));
    h_config(&srv, "[web]\nmodule = echo\nlisten = %s:%d\nthreads = 4\n", LO,
             port);
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(5000, h_file_contains(srv.log, "configuration reloaded")),
              "%s", h_diag(&srv));
    cr_expect(logged_at(srv.log, "[warn]",
                        "warning: [web] threads does nothing unless "
                        "mode = threading"),
              "no warning logged at level warn%s", h_diag(&srv));
    cr_assert_eq(h_stop(&srv), 0);
}

/* TTOU on a pool of one does nothing, and the log says why. */
Test(supervise, ttou_at_pool_size_one_says_why, .fini = h_teardown,
     .timeout = 30)
{
    int port = tcp_port();

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv, "[e]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n", LO,
             port);
    start(&srv);
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == 1));
    cr_assert_eq(h_signal(&srv, SIGTTOU), 0);
    cr_assert(
        H_WAIT(5000, h_file_contains(srv.log, "TTOU: pool size stays 1: a pool "
                                              "keeps at least one worker")),
        "no word on the TTOU that did nothing%s", h_diag(&srv));
    cr_assert_eq(h_nworkers(&srv), 1);
    cr_assert_eq(h_stop(&srv), 0);
}
