/*
 * test_caps.c -- a master that is not root, as contrib/prefork.service
 * runs it: an ordinary user (nobody here) holding CAP_NET_BIND_SERVICE,
 * CAP_SETUID, CAP_SETGID and CAP_KILL in its ambient set.  It binds a
 * port below 1024, switches its workers to `user`, signals them, reloads
 * and upgrades; its workers hold no capability at all (a process that is
 * not root keeps its capabilities across setuid(), so a worker that did
 * not give them up could setuid(0)).
 *
 * The master is made so in the forked child just before exec, as systemd
 * does for User= and AmbientCapabilities=.  The test process is a child
 * subreaper, so that the master an upgrade starts is reaped here.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <grp.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define LO "127.0.0.1"

/* What the unit gives: CAP_KILL, CAP_SETGID, CAP_SETUID,
 * CAP_NET_BIND_SERVICE, as /proc/PID/status shows them. */
#define UNIT_CAPS                                                              \
    ((1u << CAP_KILL) | (1u << CAP_SETGID) | (1u << CAP_SETUID) |              \
     (1u << CAP_NET_BIND_SERVICE))
#define UNIT_CAPSX "00000000000004e0"
#define NO_CAPS    "0000000000000000"

static struct h_server srv;
static uid_t           master_uid;
static gid_t           master_gid;
static uint32_t        master_caps;

/* before_exec: become master_uid with master_caps, ambient as well, so
 * that they survive the exec (and the exec of an upgrade). */
static void capable_user(void)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct   d[2] = {{0, 0, 0}, {0, 0, 0}};

    if (prctl(PR_SET_KEEPCAPS, 1) == -1 || setgroups(0, NULL) == -1 ||
        setgid(master_gid) == -1 || setuid(master_uid) == -1)
        _exit(126);
    d[0].effective = d[0].permitted = d[0].inheritable = master_caps;
    if (syscall(SYS_capset, &hdr, d) == -1)
        _exit(126);
    for (int cap = 0; cap < 32; cap++)
        if ((master_caps & (1u << cap)) != 0 &&
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) == -1)
            _exit(126);
}

/* A loopback TCP port below 1024 that nothing listens on, from top down
 * (the tests run in parallel: each starts from its own). */
static int low_port(int top)
{
    for (int port = top; port >= 600; port--) {
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port)};
        int                fd = socket(AF_INET, SOCK_STREAM, 0), ok;

        cr_assert(fd >= 0);
        inet_pton(AF_INET, LO, &sa.sin_addr);
        ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(fd);
        if (ok)
            return port;
    }
    cr_assert_fail("no free port below 1024");
    return -1;
}

/* Start prefork as nobody with caps; server: the [server] keys. */
static void start_as_nobody(uint32_t caps, const char *server, int port)
{
    struct passwd *pw = getpwnam("nobody");

    if (geteuid() != 0)
        cr_skip_test("making a user with capabilities needs root");
    cr_assert(pw != NULL, "no user nobody on this system");
    master_uid = pw->pw_uid;
    master_gid = pw->pw_gid;
    master_caps = caps;
    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    cr_assert_eq(h_init(&srv), 0);
    /* The master writes its pidfile, status file and log here. */
    cr_assert_eq(chmod(srv.dir, 0777), 0);
    cr_assert_eq(h_config_echo(&srv, server, port, 2), 0);
    srv.before_exec = capable_user;
    cr_assert_eq(h_start(&srv), 0, "prefork did not start%s", h_diag(&srv));
}

static void expect_field(pid_t pid, const char *field, const char *want)
{
    char got[128];

    cr_assert_eq(h_proc_field(pid, field, got, sizeof got), 0, "no %s of %d",
                 field, (int)pid);
    cr_assert_str_eq(got, want, "process %d: %s %s, not %s", (int)pid, field,
                     got, want);
}

/* The children of master, at most max of them: how many, or -1. */
static int children(pid_t master, pid_t *pids, int max)
{
    char path[64], *kids, *p;
    int  n = 0;
    long w;

    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)master,
             (int)master);
    if ((kids = h_read_file(path)) == NULL)
        return -1;
    for (p = kids; n < max && (w = strtol(p, &p, 10)) > 0;)
        pids[n++] = (pid_t)w;
    free(kids);
    return n;
}

/* Do at least two children of master run with the Uid: line want, and
 * none with a capability permitted? */
static int switched(pid_t master, const char *want)
{
    pid_t w[16];
    char  uid[64], prm[64];
    int   n = children(master, w, 16);

    for (int i = 0; i < n; i++)
        if (h_proc_field(w[i], "Uid:", uid, sizeof uid) == -1 ||
            h_proc_field(w[i], "CapPrm:", prm, sizeof prm) == -1 ||
            strcmp(uid, want) != 0 || strcmp(prm, NO_CAPS) != 0)
            return 0;
    return n >= 2;
}

/* Each worker of master runs as uid (all four ids) and holds nothing. */
static void expect_workers(pid_t master, uid_t uid)
{
    char  want[64];
    pid_t w[16];
    int   n;

    snprintf(want, sizeof want, "%d\t%d\t%d\t%d", (int)uid, (int)uid, (int)uid,
             (int)uid);
    /* A worker switches as it starts: give each the time. */
    cr_assert(H_WAIT(5000, switched(master, want)),
              "the workers of %d do not all run as uid %d without "
              "capabilities%s",
              (int)master, (int)uid, h_diag(&srv));
    n = children(master, w, 16);
    for (int i = 0; i < n; i++) {
        static const char *const sets[] = {
            "CapInh:", "CapPrm:", "CapEff:", "CapAmb:"};
        char v[64];

        /* A child gone since it was listed (the master's short-lived
         * seccomp compiler, an old generation's worker) is no worker. */
        for (size_t j = 0; j < sizeof sets / sizeof sets[0]; j++)
            if (h_proc_field(w[i], sets[j], v, sizeof v) == 0)
                cr_assert_str_eq(v, NO_CAPS, "process %d: %s %s", (int)w[i],
                                 sets[j], v);
    }
}

Test(caps, capable_master_binds_low_switches_reloads_upgrades,
     .fini = h_teardown, .timeout = 60)
{
    struct passwd *pw = getpwnam("daemon");
    char           want[64], *s;
    int            port = low_port(1023), status;
    uid_t          daemon_uid;
    pid_t          newm;

    cr_assert(pw != NULL, "no user daemon on this system");
    daemon_uid = pw->pw_uid; /* getpwnam's buffer is used again */
    start_as_nobody(UNIT_CAPS, "user = daemon\ngroup = daemon\n", port);
    snprintf(want, sizeof want, "%d\t%d\t%d\t%d", (int)master_uid,
             (int)master_uid, (int)master_uid, (int)master_uid);
    expect_field(srv.pid, "Uid:", want);
    expect_field(srv.pid, "CapEff:", UNIT_CAPSX);
    expect_workers(srv.pid, daemon_uid);
    cr_assert_eq(h_echo_once(LO, port, 2000), 0, "%s", h_diag(&srv));

    /* A reload: the new generation switches as well. */
    cr_assert_eq(h_signal(&srv, SIGHUP), 0);
    cr_assert(H_WAIT(10000, h_file_contains(srv.log, "generation 2 is up")),
              "%s", h_diag(&srv));
    expect_workers(srv.pid, daemon_uid);
    cr_assert_eq(h_echo_once(LO, port, 2000), 0, "%s", h_diag(&srv));

    /* An upgrade: the new master keeps the ambient capabilities. */
    cr_assert_eq(h_signal(&srv, SIGUSR2), 0);
    cr_assert(H_WAIT(15000, h_wait_exit(&srv, 0) == 0),
              "the old master did not hand over%s", h_diag(&srv));
    s = h_read_file(srv.pidfile);
    newm = s != NULL ? (pid_t)atol(s) : 0;
    free(s);
    cr_assert(newm > 0, "no new master in the pidfile");
    expect_field(newm, "Uid:", want);
    expect_field(newm, "CapEff:", UNIT_CAPSX);
    expect_workers(newm, daemon_uid);
    cr_assert_eq(h_echo_once(LO, port, 2000), 0, "%s", h_diag(&srv));

    /* CAP_KILL: a graceful stop reaches workers of another uid. */
    cr_assert_eq(kill(newm, SIGQUIT), 0);
    cr_assert(H_WAIT(H_STOP_MS + 2000, waitpid(newm, &status, WNOHANG) == newm),
              "the new master did not stop%s", h_diag(&srv));
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the new master exited with status %d", status);
    cr_assert(!h_file_contains(srv.log, "still running, killing"), "%s",
              h_diag(&srv));
}

Test(caps, workers_of_a_capable_master_hold_nothing, .fini = h_teardown,
     .timeout = 40)
{
    int port = low_port(899);

    /* No `user`: the workers stay nobody, without CAP_NET_BIND_SERVICE. */
    start_as_nobody(1u << CAP_NET_BIND_SERVICE, "", port);
    expect_field(srv.pid, "CapEff:", "0000000000000400");
    expect_workers(srv.pid, master_uid);
    cr_assert_eq(h_echo_once(LO, port, 2000), 0, "%s", h_diag(&srv));
    cr_assert(!h_file_contains(srv.log, "workers will run as root"));
    cr_assert_eq(h_stop(&srv), 0, "%s", h_diag(&srv));
}
