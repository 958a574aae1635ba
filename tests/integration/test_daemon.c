/*
 * test_daemon.c -- how the master behaves as a daemon: `daemonize = yes`
 * returns once the server is up (or fails with 1), in a new session with
 * stdio on /dev/null and the pidfile naming the final process;
 * `rlimit_nofile` reaches the workers; run as root, workers drop to `user`
 * and `group` with their supplementary groups, and a master with no
 * `user` warns.
 *
 * The test process is a child subreaper, so that a daemon, orphaned by
 * design, is still reaped here.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define LO "127.0.0.1"

static struct h_server srv;

static pid_t read_pid(const char *path)
{
    char *s = h_read_file(path);
    pid_t pid = s != NULL ? (pid_t)atol(s) : 0;

    free(s);
    return pid;
}

/* A field of /proc/PID/status ("Uid:", "Groups:"...), its value only. */
static void proc_status(pid_t pid, const char *field, char *out, size_t len)
{
    cr_assert_eq(h_proc_field(pid, field, out, len), 0, "no %s of %d", field,
                 (int)pid);
}

/* Run `prefork -c CONF` as an init script would; returns its exit code. */
static int run_daemon(struct h_result *r)
{
    const char *argv[] = {H_PREFORK, "-c", srv.conf, NULL};

    return h_run(argv, 15000, r);
}

static void stop_daemon(pid_t pid)
{
    int status = 0;

    cr_assert_eq(kill(pid, SIGTERM), 0);
    cr_assert(H_WAIT(H_STOP_MS, waitpid(pid, &status, WNOHANG) == pid),
              "the daemon did not stop");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(daemon, daemonize_returns_once_serving, .fini = h_teardown, .timeout = 40)
{
    struct h_result r;
    char            sid[32], link[256], path[64];
    ssize_t         n;
    pid_t           pid;
    int             port;

    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    cr_assert_eq(h_init(&srv), 0);
    port = h_free_port(LO, SOCK_STREAM);
    cr_assert_eq(h_config_echo(&srv, "daemonize = yes\n", port, 2), 0);
    cr_assert_eq(run_daemon(&r), 0, "prefork exited %d: %s", r.code, r.err);
    h_result_free(&r);
    /* Up by the time the command returned: no waiting here. */
    pid = read_pid(srv.pidfile);
    cr_assert(pid > 0, "no pid in the pidfile when prefork returned");
    cr_assert_eq(h_echo_once(LO, port, 2000), 0, "not serving%s", h_diag(&srv));
    cr_assert_eq(kill(pid, 0), 0);
    /* Its own session, which it does not lead (it cannot get a terminal). */
    cr_assert_neq(getsid(pid), getsid(0));
    cr_assert_neq(getsid(pid), pid);
    /* The middle process of the double fork may still be on its way out
     * when the first one returns. */
    cr_assert(H_WAIT(2000, (proc_status(pid, "PPid:", sid, sizeof sid),
                            atoi(sid) == (int)getpid())),
              "not orphaned to the subreaper (parent %s)", sid);
    for (int fd = 0; fd <= 2; fd++) {
        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
        n = readlink(path, link, sizeof link - 1);
        cr_assert(n > 0);
        link[n] = '\0';
        cr_assert_str_eq(link, "/dev/null", "fd %d is %s", fd, link);
    }
    stop_daemon(pid);
}

Test(daemon, daemonize_failure_exits_1, .fini = h_teardown, .timeout = 40)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t          len = sizeof sin;
    struct h_result    r;
    int                fd;

    cr_assert_eq(h_init(&srv), 0);
    /* The test holds the address: the master's bind fails. */
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(listen(fd, 1), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    cr_assert_eq(
        h_config_echo(&srv, "daemonize = yes\n", ntohs(sin.sin_port), 1), 0);
    cr_assert_eq(run_daemon(&r), 1, "prefork exited %d", r.code);
    cr_assert(strstr(r.err, "Address already in use") != NULL, "stderr: %s",
              r.err);
    h_result_free(&r);
    close(fd);
}

Test(daemon, rlimit_nofile_reaches_workers, .fini = h_teardown, .timeout = 40)
{
    struct rlimit rl;
    pid_t         w[4];
    char          path[64], server[64], *limits;
    long long     want = 1000;

    if (getenv("PF_VALGRIND") != NULL)
        cr_skip_test("valgrind manages the descriptor limit itself");
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max != RLIM_INFINITY && (long long)rl.rlim_max < want)
        want = (long long)rl.rlim_max;
    cr_assert_eq(h_init(&srv), 0);
    snprintf(server, sizeof server, "rlimit_nofile = %lld\n", want);
    cr_assert_eq(h_config_echo(&srv, server, h_free_port(LO, SOCK_STREAM), 1),
                 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    cr_assert(H_WAIT(5000, h_workers(&srv, w, 4) == 1));
    snprintf(path, sizeof path, "/proc/%d/limits", (int)w[0]);
    limits = h_read_file(path);
    cr_assert(limits != NULL);
    {
        char line[128];
        snprintf(line, sizeof line, "Max open files            %lld", want);
        cr_assert(strstr(limits, line) != NULL, "limits:\n%s", limits);
    }
    free(limits);
}

Test(daemon, rlimit_nofile_above_the_hard_limit_is_refused, .fini = h_teardown,
     .timeout = 40)
{
    struct rlimit rl;
    char          server[64];

    if (geteuid() == 0)
        cr_skip_test("root may raise the hard limit");
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max == RLIM_INFINITY)
        cr_skip_test("no hard limit");
    cr_assert_eq(h_init(&srv), 0);
    snprintf(server, sizeof server, "rlimit_nofile = %lld\n",
             (long long)rl.rlim_max + 1);
    cr_assert_eq(h_config_echo(&srv, server, h_free_port(LO, SOCK_STREAM), 1),
                 0);
    cr_assert_eq(h_start(&srv), -1, "started above the hard limit");
    cr_assert(H_WAIT(5000, !h_alive(&srv)));
    cr_assert(h_file_contains(srv.log, "rlimit_nofile"), "%s", h_diag(&srv));
}

Test(daemon, workers_drop_to_nobody, .fini = h_teardown, .timeout = 40)
{
    struct passwd *pw = getpwnam("nobody");
    struct group  *gr = getgrnam("nogroup");
    char           uid[64], gid[64], groups[256], want[64];
    pid_t          w[4];
    int            port;

    if (geteuid() != 0)
        cr_skip_test("dropping privileges needs root");
    cr_assert(pw != NULL && gr != NULL, "no nobody/nogroup on this system");
    cr_assert_eq(h_init(&srv), 0);
    port = h_free_port(LO, SOCK_STREAM);
    cr_assert_eq(
        h_config_echo(&srv, "user = nobody\ngroup = nogroup\n", port, 2), 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    cr_assert(H_WAIT(5000, h_workers(&srv, w, 4) == 2));
    cr_assert_eq(h_echo_once(LO, port, 2000), 0, "%s", h_diag(&srv));
    for (int i = 0; i < 2; i++) {
        /* A worker drops privileges as it starts: give it the time. */
        cr_assert(H_WAIT(5000, (proc_status(w[i], "Uid:", uid, sizeof uid),
                                atoi(uid) == (int)pw->pw_uid)),
                  "worker %d still runs as uid %s", (int)w[i], uid);
        proc_status(w[i], "Gid:", gid, sizeof gid);
        proc_status(w[i], "Groups:", groups, sizeof groups);
        snprintf(want, sizeof want, "%d\t%d\t%d\t%d", (int)pw->pw_uid,
                 (int)pw->pw_uid, (int)pw->pw_uid, (int)pw->pw_uid);
        cr_assert_str_eq(uid, want, "worker uid: %s", uid);
        snprintf(want, sizeof want, "%d\t%d\t%d\t%d", (int)gr->gr_gid,
                 (int)gr->gr_gid, (int)gr->gr_gid, (int)gr->gr_gid);
        cr_assert_str_eq(gid, want, "worker gid: %s", gid);
        /* root's own groups are gone: only nobody's remain. */
        for (char *g = strtok(groups, " \t"); g != NULL;
             g = strtok(NULL, " \t"))
            cr_assert_neq(atoi(g), 0, "worker kept root's group 0");
    }
    proc_status(srv.pid, "Uid:", uid, sizeof uid);
    cr_assert_eq(atoi(uid), 0, "the master must stay root to bind and kill");
    cr_assert(!h_file_contains(srv.log, "workers will run as root"));

    /* Log rotation: the new error log is made by the master as root, and
     * workers running as nobody must still be able to reopen it. */
    {
        char rotated[160];
        /* As with /var/log: nobody may reach the file, not list the dir. */
        cr_assert_eq(chmod(srv.dir, 0711), 0);
        snprintf(rotated, sizeof rotated, "%s.1", srv.log);
        cr_assert_eq(rename(srv.log, rotated), 0);
        cr_assert_eq(h_signal(&srv, SIGUSR1), 0);
        cr_assert(H_WAIT(5000, h_file_contains(srv.log, "error log reopened")));
        h_sleep_ms(300);
        /* A worker that failed says so in the file it still has. */
        cr_assert(!h_file_contains(rotated, "cannot reopen") &&
                      !h_file_contains(srv.log, "cannot reopen"),
                  "a worker could not reopen the error log");
    }
}

Test(daemon, root_without_user_warns, .fini = h_teardown, .timeout = 40)
{
    if (geteuid() != 0)
        cr_skip_test("only a root master warns");
    cr_assert_eq(h_init(&srv), 0);
    cr_assert_eq(h_config_echo(&srv, "", h_free_port(LO, SOCK_STREAM), 1), 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    cr_assert(
        H_WAIT(2000, h_file_contains(srv.log, "workers will run as root")),
        "%s", h_diag(&srv));
}

/* CPU time (user + system, in clock ticks) a process has used so far. */
static long long cpu_ticks(pid_t pid)
{
    char      path[64], *stat, *p;
    long long utime = -1, stime = -1;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    stat = h_read_file(path);
    if (stat == NULL)
        return -1;
    p = strrchr(stat, ')'); /* the command name may hold spaces */
    if (p != NULL)
        sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %lld %lld",
               &utime, &stime);
    free(stat);
    return utime < 0 || stime < 0 ? -1 : utime + stime;
}

/* More clients than the worker has descriptors: accept4 fails with EMFILE
 * while the queued connections keep the listener readable.  The worker
 * must back off rather than spin (or flood the log), and take the queued
 * connections once clients leave. */
Test(daemon, descriptor_exhaustion_backs_off_and_resumes, .fini = h_teardown,
     .timeout = 40)
{
    enum { NCLIENTS = 60 };
    int       fds[NCLIENTS], port = h_free_port(LO, SOCK_STREAM), i;
    pid_t     w;
    long long t0, t1;
    char     *log;

    if (getenv("PF_VALGRIND") != NULL)
        cr_skip_test("valgrind manages the descriptor limit itself");
    cr_assert_eq(h_init(&srv), 0);
    cr_assert_eq(h_config_echo(&srv, "rlimit_nofile = 24\n", port, 1), 0);
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
    cr_assert(H_WAIT(5000, h_workers(&srv, &w, 1) == 1));
    for (i = 0; i < NCLIENTS; i++) {
        fds[i] = h_connect(LO, port, 2000);
        cr_assert(fds[i] >= 0, "connect %d", i);
    }
    cr_assert(H_WAIT(5000, h_file_contains(srv.log, "Too many open files")),
              "no EMFILE logged%s", h_diag(&srv));
    t0 = cpu_ticks(w);
    h_sleep_ms(1000);
    t1 = cpu_ticks(w);
    cr_assert(t0 >= 0 && t1 >= 0);
    cr_expect_lt(t1 - t0, sysconf(_SC_CLK_TCK) / 2,
                 "the worker spun: %lld ticks of CPU in 1 s", t1 - t0);
    log = h_read_file(srv.log);
    cr_assert(log != NULL);
    {
        int   n = 0;
        char *p = log;
        while ((p = strstr(p, "Too many open files")) != NULL && ++n)
            p++;
        cr_expect_eq(n, 1, "EMFILE logged %d times, not once", n);
    }
    free(log);
    for (i = 0; i < NCLIENTS; i++)
        close(fds[i]);
    cr_expect_eq(h_echo_once(LO, port, 3000), 0,
                 "no echo once the clients left%s", h_diag(&srv));
    cr_expect(H_WAIT(3000, h_file_contains(srv.log, "accepting again")), "%s",
              h_diag(&srv));
    cr_expect_eq(h_workers(&srv, &w, 1), 1);
}
