/*
 * test_status.c -- `prefork -s status`: the running master's scoreboard as
 * JSON, read from the status file beside its pidfile.
 *
 * The output is parsed by python3's json module (the tests are skipped
 * without it) into a few plain lines this file reads back: the services by
 * name, their workers (which must be the master's children), states,
 * served counts that survive a worker's death and a reload, the age of a
 * busy worker's connection.  Then the failures: no master, no file, a file
 * that is not a status file; and the file going away with the master.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define LO      "127.0.0.1"
#define PYTHON  "/usr/bin/python3"
#define MAX_SVC 8
#define MAX_W   16

static struct h_server srv;

/* The JSON, flattened to lines: M pid version uptime, then per service
 * S hex(name) retiring workers idle busy served nworkers, and per worker
 * W pid state served busy_ms(-1: null) open_conns age_s. */
static const char flatten[] =
    "import json, sys\n"
    "d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
    "m = d['master']\n"
    "assert set(m) == {'pid', 'version', 'start_time', 'uptime_s'}\n"
    "print('M', m['pid'], m['version'], m['uptime_s'])\n"
    "for s in d['services']:\n"
    "    t = s['totals']\n"
    "    assert isinstance(s['listen'], list) and s['mode']\n"
    "    print('S', s['name'].encode('utf-8').hex(), int(s['retiring']),\n"
    "          t['workers'], t['idle'], t['busy'], t['served'],\n"
    "          len(s['workers']))\n"
    "    for w in s['workers']:\n"
    "        b = w['busy_ms']\n"
    "        print('W', w['pid'], w['state'], w['served'],\n"
    "              -1 if b is None else b, w['open_conns'], w['age_s'])\n";

struct st_worker {
    long      pid;
    char      state[16];
    long long served, busy_ms;
    int       conns;
    long      age;
};

struct st_service {
    char             name[256];
    int              retiring, workers, idle, busy, nw;
    long long        served;
    struct st_worker w[MAX_W];
};

struct status {
    long              master;
    char              version[32];
    int               nsvc;
    struct st_service svc[MAX_SVC];
};

static void need_python(void)
{
    if (access(PYTHON, X_OK) != 0)
        cr_skip_test("needs " PYTHON " to parse the JSON");
}

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

/* `prefork -s status -c CONF`: its exit code, stdout and stderr in r.
 * They go through files: h_run() leaves a stream that got no bytes
 * unterminated, and "nothing on stdout" is part of what is checked. */
static int run_status(const struct h_server *s, struct h_result *r)
{
    char            out[160], err[160];
    const char     *argv[] = {"/bin/sh",
                              "-c",
                              "exec \"$0\" -s status -c \"$1\" "
                                  ">\"$2\" 2>\"$3\"",
                              H_PREFORK,
                              s->conf,
                              out,
                              err,
                              NULL};
    struct h_result sh;

    snprintf(out, sizeof out, "%s/status.out", s->dir);
    snprintf(err, sizeof err, "%s/status.err", s->dir);
    h_run(argv, 5000, &sh);
    h_result_free(&sh);
    r->code = sh.code;
    r->out = h_read_file(out);
    r->err = h_read_file(err);
    if (r->out == NULL)
        r->out = strdup("(no output file)");
    if (r->err == NULL)
        r->err = strdup("(no error file)");
    unlink(out);
    unlink(err);
    return r->code;
}

static void unhex(char *out, size_t cap, const char *hex)
{
    size_t n = 0;
    int    byte;

    while (hex[0] != '\0' && hex[1] != '\0' && n + 1 < cap &&
           sscanf(hex, "%2x", &byte) == 1) {
        out[n++] = (char)byte;
        hex += 2;
    }
    out[n] = '\0';
}

static int parse_flat(const char *text, struct status *st)
{
    const char *line = text;

    memset(st, 0, sizeof *st);
    while (line != NULL && *line != '\0') {
        struct st_service *s = st->nsvc > 0 ? &st->svc[st->nsvc - 1] : NULL;
        char               hex[520];

        if (line[0] == 'M') {
            if (sscanf(line, "M %ld %31s", &st->master, st->version) != 2)
                return -1;
        } else if (line[0] == 'S' && st->nsvc < MAX_SVC) {
            s = &st->svc[st->nsvc++];
            if (sscanf(line, "S %519s %d %d %d %d %lld", hex, &s->retiring,
                       &s->workers, &s->idle, &s->busy, &s->served) != 6)
                return -1;
            unhex(s->name, sizeof s->name, hex);
        } else if (line[0] == 'W' && s != NULL && s->nw < MAX_W) {
            struct st_worker *w = &s->w[s->nw++];

            if (sscanf(line, "W %ld %15s %lld %lld %d %ld", &w->pid, w->state,
                       &w->served, &w->busy_ms, &w->conns, &w->age) != 6)
                return -1;
        } else if (line[0] != 'S' && line[0] != 'W') {
            return -1;
        }
        line = strchr(line, '\n');
        line = line != NULL ? line + 1 : NULL;
    }
    return st->master > 0 ? 0 : -1;
}

/* Run `-s status`, check it succeeded with JSON python3 accepts, and read
 * it into st.  Returns 0, or -1 with the reason in why. */
static int get_status(const struct h_server *s, struct status *st, char *why,
                      size_t cap)
{
    struct h_result r, p;
    char            path[160];
    const char     *argv[] = {PYTHON, "-c", flatten, path, NULL};
    int             rc = -1;

    snprintf(path, sizeof path, "%s/status.json", s->dir);
    if (run_status(s, &r) != 0 || r.err[0] != '\0') {
        snprintf(why, cap, "-s status exited %d: %s%s", r.code, r.err, r.out);
        h_result_free(&r);
        return -1;
    }
    if (h_write_file(path, "%s", r.out) != 0) {
        snprintf(why, cap, "cannot write %s", path);
        h_result_free(&r);
        return -1;
    }
    if (h_run(argv, 10000, &p) != 0)
        snprintf(why, cap, "not valid status JSON (%s):\n%s", p.err, r.out);
    else if (parse_flat(p.out, st) != 0)
        snprintf(why, cap, "unexpected flattening:\n%s", p.out);
    else
        rc = 0;
    h_result_free(&p);
    h_result_free(&r);
    return rc;
}

static struct status *status_now(const struct h_server *s)
{
    static struct status st;
    char                 why[8192];

    cr_assert_eq(get_status(s, &st, why, sizeof why), 0, "%s%s", why,
                 h_diag(s));
    return &st;
}

static struct st_service *service(struct status *st, const char *name)
{
    for (int i = 0; i < st->nsvc; i++)
        if (strcmp(st->svc[i].name, name) == 0)
            return &st->svc[i];
    return NULL;
}

/* The parent of pid, from /proc/PID/stat, or -1. */
static long ppid_of(long pid)
{
    char  path[64], buf[512], *p;
    long  ppid = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    /* The command name may hold spaces and parentheses: skip past the
     * last ')'. */
    if (fgets(buf, sizeof buf, f) != NULL && (p = strrchr(buf, ')')) != NULL)
        sscanf(p + 1, " %*c %ld", &ppid);
    fclose(f);
    return ppid;
}

/* Does the status show service name with n workers, all idle? */
static int settled(const struct h_server *s, const char *name, int n)
{
    struct status      st;
    struct st_service *svc;
    char               why[8192];

    if (get_status(s, &st, why, sizeof why) != 0)
        return 0;
    svc = service(&st, name);
    return svc != NULL && svc->workers == n && svc->idle == n;
}

static int udp_round_trip(int port)
{
    int  fd = h_udp(LO, port), rc = -1;
    char got[4];

    if (fd < 0)
        return -1;
    if (send(fd, "ping", 4, 0) == 4 && h_recv_exact(fd, got, 4, 3000) == 4 &&
        memcmp(got, "ping", 4) == 0)
        rc = 0;
    close(fd);
    return rc;
}

Test(status, lists_each_service_and_its_workers, .fini = h_teardown,
     .timeout = 60)
{
    int                tcp = tcp_port(), udp = h_free_port(LO, SOCK_DGRAM);
    struct status     *st;
    struct st_service *e, *u;
    struct stat        sb;
    char               file[160];

    need_python();
    cr_assert(udp > 0);
    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv,
             "[echo]\nmodule = echo\nlisten = %s:%d\nworkers = 2\n"
             "[udp]\nmodule = udp_echo\nlisten = udp://%s:%d\nworkers = 1\n",
             LO, tcp, LO, udp);
    start(&srv);
    cr_assert(H_WAIT(5000, settled(&srv, "echo", 2) && settled(&srv, "udp", 1)),
              "the workers never showed up idle%s", h_diag(&srv));

    st = status_now(&srv);
    cr_expect_eq(st->master, (long)srv.pid, "master pid %ld, not %d",
                 st->master, (int)srv.pid);
    cr_expect_str_eq(st->version, PACKAGE_VERSION);
    cr_assert_eq(st->nsvc, 2, "%d services listed", st->nsvc);
    e = &st->svc[0];
    u = &st->svc[1];
    cr_expect_str_eq(e->name, "echo", "services out of configuration order");
    cr_expect_str_eq(u->name, "udp");
    cr_assert_eq(e->nw, 2);
    cr_assert_eq(u->nw, 1);
    cr_expect(!e->retiring && !u->retiring);
    for (int i = 0; i < 3; i++) {
        const struct st_worker *w = i < 2 ? &e->w[i] : &u->w[0];

        cr_expect_eq(ppid_of(w->pid), (long)srv.pid,
                     "worker %ld is not a child of the master %d", w->pid,
                     (int)srv.pid);
        cr_expect_str_eq(w->state, "idle");
        cr_expect_eq(w->served, 0);
        cr_expect_eq(w->busy_ms, -1, "busy_ms of an idle worker not null");
        cr_expect_geq(w->age, 0);
    }
    cr_expect_neq(e->w[0].pid, e->w[1].pid);

    /* Readable by anyone: the file is 0644, beside the pidfile. */
    snprintf(file, sizeof file, "%s/prefork.status", srv.dir);
    cr_assert_eq(stat(file, &sb), 0, "no %s", file);
    cr_expect_eq(sb.st_mode & 0777, 0644);
}

Test(status, served_counts_every_connection_and_datagram, .fini = h_teardown,
     .timeout = 60)
{
    int                tcp = tcp_port(), udp = h_free_port(LO, SOCK_DGRAM);
    struct status     *st;
    struct st_service *e, *u;
    long long          sum = 0;

    need_python();
    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv,
             "[echo]\nmodule = echo\nlisten = %s:%d\nworkers = 2\n"
             "[udp]\nmodule = udp_echo\nlisten = udp://%s:%d\nworkers = 1\n",
             LO, tcp, LO, udp);
    start(&srv);
    for (int i = 0; i < 25; i++)
        cr_assert_eq(h_echo_once(LO, tcp, 3000), 0, "echo %d failed%s", i,
                     h_diag(&srv));
    for (int i = 0; i < 7; i++)
        cr_assert_eq(udp_round_trip(udp), 0, "datagram %d not echoed", i);
    st = status_now(&srv);
    e = service(st, "echo");
    u = service(st, "udp");
    cr_assert(e != NULL && u != NULL);
    cr_expect_geq(e->served, 25, "echo served %lld of 25", e->served);
    cr_expect_geq(u->served, 7, "udp served %lld of 7", u->served);
    for (int i = 0; i < e->nw; i++)
        sum += e->w[i].served;
    cr_expect_eq(sum, e->served, "workers' counts do not add up to the total");
}

/* How many of t's workers are busy; the busy_ms of the last in *ms. */
static int busy_one(const struct st_service *t, long long *ms)
{
    int n = 0;

    for (int i = 0; i < t->nw; i++) {
        if (strcmp(t->w[i].state, "busy") == 0) {
            *ms = t->w[i].busy_ms;
            n++;
        }
    }
    return n;
}

Test(status, a_busy_worker_shows_how_long, .fini = h_teardown, .timeout = 60)
{
    int                port = tcp_port(), fd;
    struct status     *st;
    struct st_service *t;
    long long          first, later;
    char               line[16];

    need_python();
    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv,
             "[slow]\nmodule = %s\nlisten = %s:%d\nworkers = 2\n"
             "sleep = 6s\n",
             H_TESTMOD, LO, port);
    start(&srv);
    cr_assert(H_WAIT(5000, settled(&srv, "slow", 2)), "%s", h_diag(&srv));
    fd = h_connect(LO, port, 3000);
    cr_assert_geq(fd, 0);
    cr_assert_eq(h_send_all(fd, "x\n", 2, 1000), 0);
    /* testmod sleeps 6s inside handle(): its worker is busy meanwhile, long
     * enough for two looks at the status even on a loaded machine. */
    h_sleep_ms(300);
    st = status_now(&srv);
    t = service(st, "slow");
    cr_assert_not_null(t);
    cr_assert_eq(t->busy, 1, "%d busy workers while one sleeps%s", t->busy,
                 h_diag(&srv));
    cr_expect_eq(t->idle, 1);
    for (int i = 0; i < t->nw; i++) {
        if (strcmp(t->w[i].state, "busy") != 0) {
            cr_expect_eq(t->w[i].busy_ms, -1);
            continue;
        }
        cr_expect_geq(t->w[i].busy_ms, 0);
        cr_expect_lt(t->w[i].busy_ms, 6000);
        cr_expect_eq(t->w[i].conns, 1, "the busy worker holds %d connections",
                     t->w[i].conns);
    }
    /* The one busy worker's time, then a second later: there must be
     * one, or the comparison below would compare nothing. */
    cr_assert_eq(busy_one(t, &first), 1, "%d workers listed as busy",
                 busy_one(t, &first));
    h_sleep_ms(1000);
    st = status_now(&srv);
    t = service(st, "slow");
    cr_assert(t != NULL && t->busy == 1);
    cr_assert_eq(busy_one(t, &later), 1, "%d workers listed as busy",
                 busy_one(t, &later));
    cr_expect_geq(later, first + 800,
                  "busy_ms went from %lld to %lld in a second", first, later);
    /* Answered: idle again. */
    cr_assert_eq(h_recv_line(fd, line, sizeof line, 10000), 1);
    close(fd);
    cr_expect(H_WAIT(3000, settled(&srv, "slow", 2)),
              "the worker did not go back to idle");
}

Test(status, served_by_a_killed_worker_still_counts, .fini = h_teardown,
     .timeout = 60)
{
    int                port = tcp_port();
    struct status     *st;
    struct st_service *e;
    long               victim;

    need_python();
    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv, "[echo]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n", LO,
             port);
    start(&srv);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(h_echo_once(LO, port, 3000), 0);
    st = status_now(&srv);
    e = service(st, "echo");
    cr_assert(e != NULL && e->nw == 1);
    cr_assert_geq(e->w[0].served, 12);
    victim = e->w[0].pid;
    cr_assert_eq(kill((pid_t)victim, SIGKILL), 0);
    cr_assert(H_WAIT(5000, settled(&srv, "echo", 1) &&
                               (st = status_now(&srv), e = service(st, "echo"),
                                e->w[0].pid != victim)),
              "the killed worker was not replaced in the status%s",
              h_diag(&srv));
    cr_expect_eq(e->w[0].served, 0, "the new worker starts from 0");
    cr_expect_geq(e->served, 12, "the total lost the dead worker's %d: %lld",
                  12, e->served);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(h_echo_once(LO, port, 3000), 0);
    st = status_now(&srv);
    cr_expect_geq(service(st, "echo")->served, 15);
}

Test(status, follows_a_reload, .fini = h_teardown, .timeout = 60)
{
    int                a = tcp_port(), b = tcp_port();
    struct status     *st;
    struct st_service *e;

    need_python();
    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv,
             "[echo]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n"
             "[old]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n",
             LO, a, LO, b);
    start(&srv);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(h_echo_once(LO, a, 3000), 0);
    /* echo stays, old goes, new comes (on old's port, carried over). */
    h_config(&srv,
             "[echo]\nmodule = echo\nlisten = %s:%d\nworkers = 2\n"
             "[new.svc-2]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n",
             LO, a, LO, b);
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(10000, settled(&srv, "echo", 2) &&
                                settled(&srv, "new.svc-2", 1) &&
                                (st = status_now(&srv))->nsvc == 2),
              "the status never showed the reloaded services alone%s",
              h_diag(&srv));
    cr_expect_null(service(st, "old"), "a drained service is still listed");
    e = service(st, "echo");
    cr_expect(!e->retiring);
    cr_expect_geq(e->served, 5, "echo's count was lost in the reload: %lld",
                  e->served);
    for (int i = 0; i < e->nw; i++)
        cr_expect_eq(ppid_of(e->w[i].pid), (long)srv.pid);
    cr_expect_eq(st->master, (long)srv.pid);
}

Test(status, no_master_is_an_error, .fini = h_teardown, .timeout = 30)
{
    struct h_result r;
    int             port = tcp_port();

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv, "[echo]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n", LO,
             port);
    cr_expect_eq(run_status(&srv, &r), 1);
    cr_expect_str_eq(r.out, "", "output without a master");
    cr_expect(strstr(r.err, "prefork.pid") != NULL &&
                  strstr(r.err, "is prefork running?") != NULL,
              "unclear message: %s", r.err);
    h_result_free(&r);

    /* A master killed outright leaves both files; neither counts. */
    start(&srv);
    cr_assert_eq(h_signal(&srv, SIGKILL), 0);
    cr_assert_eq(h_wait_exit(&srv, 5000), 128 + SIGKILL);
    cr_expect_eq(run_status(&srv, &r), 1);
    cr_expect(strstr(r.err, "no running master") != NULL, "%s", r.err);
    h_result_free(&r);
}

Test(status, a_missing_or_foreign_file_is_an_error, .fini = h_teardown,
     .timeout = 30)
{
    struct h_result r;
    int             port = tcp_port();
    char            file[160], tmp[170];

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv, "[echo]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n", LO,
             port);
    start(&srv);
    snprintf(file, sizeof file, "%s/prefork.status", srv.dir);
    snprintf(tmp, sizeof tmp, "%s.new", file);
    cr_assert_eq(h_write_file(tmp, "{\"not\": \"a scoreboard\"}\n%0200d\n", 0),
                 0);
    cr_assert_eq(rename(tmp, file), 0);
    cr_expect_eq(run_status(&srv, &r), 1);
    cr_expect(strstr(r.err, "not a prefork status file") != NULL, "%s", r.err);
    cr_expect_str_eq(r.out, "");
    h_result_free(&r);
    cr_assert_eq(unlink(file), 0);
    cr_expect_eq(run_status(&srv, &r), 1);
    cr_expect(strstr(r.err, "prefork.status: no such file") != NULL, "%s",
              r.err);
    h_result_free(&r);
    cr_expect(h_alive(&srv), "the master died%s", h_diag(&srv));
}

Test(status, the_file_goes_with_the_master, .fini = h_teardown, .timeout = 30)
{
    struct h_result r;
    struct stat     sb;
    int             port = tcp_port();
    char            file[160];

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv, "[echo]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n", LO,
             port);
    start(&srv);
    snprintf(file, sizeof file, "%s/prefork.status", srv.dir);
    cr_assert_eq(stat(file, &sb), 0, "no status file while running");
    cr_assert_eq(h_stop(&srv), 0);
    cr_expect_neq(stat(file, &sb), 0, "the status file outlived the master");
    cr_expect_eq(run_status(&srv, &r), 1);
    h_result_free(&r);
}

Test(status, needs_a_pidfile, .fini = h_teardown, .timeout = 30)
{
    struct h_result r;
    const char     *argv[] = {H_PREFORK, "-s", "status", "-c", NULL, NULL};

    cr_assert_eq(h_init(&srv), 0);
    cr_assert_eq(h_write_file(srv.conf,
                              "[e]\nmodule = %s/echo.so\n"
                              "listen = 127.0.0.1:1\n",
                              H_MODDIR),
                 0);
    argv[4] = srv.conf;
    cr_expect_eq(h_run(argv, 5000, &r), 1);
    cr_expect(strstr(r.err, "sets no pidfile") != NULL, "%s", r.err);
    h_result_free(&r);
}

/* Does `-s status` print needle?  (The raw JSON: enough for a field.) */
static int status_says(const struct h_server *s, const char *needle)
{
    struct h_result r;
    int             found;

    run_status(s, &r);
    found = r.code == 0 && strstr(r.out, needle) != NULL;
    h_result_free(&r);
    return found;
}

/* How often needle is in the file at path. */
static int occurrences(const char *path, const char *needle)
{
    char *text = h_read_file(path);
    int   n = 0;

    for (const char *p = text; p != NULL && (p = strstr(p, needle)); p++)
        n++;
    free(text);
    return n;
}

/* A reload whose workers never get past worker_init: the status says it
 * failed and why, never "rolled over"; the failing generation is dropped
 * after a few attempts, not backed off for ever beside the old one, which
 * serves on. */
Test(status, a_reload_whose_workers_never_start_fails, .fini = h_teardown,
     .timeout = 60)
{
    int             port = tcp_port(), exits;
    struct h_result r;
    char           *failed;

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv, "[t]\nmodule = %s\nlisten = %s:%d\nworkers = 2\n", H_TESTMOD,
             LO, port);
    start(&srv);
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == 2));
    h_config(&srv,
             "[t]\nmodule = %s\nlisten = %s:%d\nworkers = 2\nfail_init = yes\n",
             H_TESTMOD, LO, port);
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(10000, status_says(&srv, "\"state\":\"failed\"")),
              "the status never said the reload failed%s", h_diag(&srv));
    run_status(&srv, &r);
    failed = strstr(r.out, "\"reload\":{\"generation\":2,\"state\":\"failed\","
                           "\"reason\":\"[t] ");
    cr_assert(failed != NULL && strstr(failed, "failed at start-up") != NULL &&
                  strstr(failed, "exited with code 2") != NULL,
              "no reason in %s", r.out);
    h_result_free(&r);
    cr_assert(h_file_contains(srv.log, "reload to generation 2 failed"), "%s",
              h_diag(&srv));
    /* Given up: no more attempts with the new configuration. */
    h_sleep_ms(200);
    exits = occurrences(srv.log, "exited with code 2");
    h_sleep_ms(2500);
    cr_assert_eq(occurrences(srv.log, "exited with code 2"), exits,
                 "more failed workers after giving up%s", h_diag(&srv));
    cr_assert(!status_says(&srv, "rolled over"));
    cr_assert_eq(h_nworkers(&srv), 2, "the old generation does not serve on");
    cr_assert_eq(h_echo_once(LO, port, 3000), 0);
}

/* A HUP with a broken file: the master keeps its configuration and the
 * status records the refusal. */
Test(status, a_refused_hup_is_recorded, .fini = h_teardown, .timeout = 30)
{
    int port = tcp_port();

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv, "[echo]\nmodule = echo\nlisten = %s:%d\nworkers = 1\n", LO,
             port);
    start(&srv);
    cr_assert(status_says(&srv, "\"refused_reload\":null"));
    h_config(&srv, "[echo]\nmodule = echo\nlisten = %s:%d\nworkers = lots\n",
             LO, port);
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(5000, status_says(&srv, "\"by\":\"SIGHUP\",\"errors\":1,"
                                             "\"reason\":")),
              "the refusal is not in the status%s", h_diag(&srv));
    /* The harness's [server] lines come first: the key is on line 9. */
    cr_assert(status_says(&srv, "server.ini:9: [echo] workers: invalid "
                                "integer 'lots'"),
              "the reason is not the first error at its FILE:LINE%s",
              h_diag(&srv));
    cr_assert_eq(h_echo_once(LO, port, 3000), 0);
}

/* A reload that supersedes one still starting, and fails: the master goes
 * back to the one before, which never starts either, and gives it up in
 * turn; the first generation serves on. */
Test(status, a_failed_reload_goes_back_past_one_that_never_started,
     .fini = h_teardown, .timeout = 60)
{
    int port = tcp_port(), exits;

    cr_assert_eq(h_init(&srv), 0);
    h_config(&srv, "[t]\nmodule = %s\nlisten = %s:%d\nworkers = 2\n", H_TESTMOD,
             LO, port);
    start(&srv);
    cr_assert(H_WAIT(5000, h_nworkers(&srv) == 2));
    h_config(&srv,
             "[t]\nmodule = %s\nlisten = %s:%d\nworkers = 2\nfail_init = yes\n",
             H_TESTMOD, LO, port);
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(5000, h_file_contains(srv.log, "exited with code 2")));
    h_config(&srv,
             "[t]\nmodule = %s\nlisten = %s:%d\nworkers = 3\nfail_init = yes\n",
             H_TESTMOD, LO, port);
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(15000,
                     h_file_contains(srv.log, "reload to generation 3 failed")),
              "%s", h_diag(&srv));
    cr_assert(H_WAIT(15000,
                     h_file_contains(srv.log, "reload to generation 2 failed")),
              "generation 2 was not given up in turn%s", h_diag(&srv));
    cr_assert(h_file_contains(srv.log, "generation 1 serves on"), "%s",
              h_diag(&srv));
    h_sleep_ms(200);
    exits = occurrences(srv.log, "exited with code 2");
    h_sleep_ms(2500);
    cr_assert_eq(occurrences(srv.log, "exited with code 2"), exits,
                 "more failed workers after giving up%s", h_diag(&srv));
    cr_assert(status_says(&srv, "\"reload\":{\"generation\":2,"
                                "\"state\":\"failed\""));
    cr_assert_eq(h_nworkers(&srv), 2, "the first generation does not serve");
    cr_assert_eq(h_echo_once(LO, port, 3000), 0);
}
