/*
 * seccomp_filter.c -- the worker's system-call filter (see seccomp_filter.h), built with
 * libseccomp from the table in seccomp_deny.c.
 *
 * Every call a worker makes runs through the filter, so it is kept short:
 * a deny list (what is not listed is allowed), compiled as a binary tree
 * of system-call numbers (SCMP_FLTATR_CTL_OPTIMIZE 2), so an allowed call
 * costs about five comparisons whatever the order of the table.  Denied
 * calls trap (SIGSYS) rather than fail, so that the call is named and the
 * worker ends: a module that tries to run a shell has been taken over, and
 * must not serve another request.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp_filter.h"

/* What the SIGSYS handler reads: the numbers of the trapped calls with
 * their names, resolved before the filter is loaded (the handler may only
 * make async-signal-safe calls, libseccomp's resolver allocates). */
#define TRAP_MAX 64
static struct {
    int         nr;
    const char *name;
} trap_nrs[TRAP_MAX];
static size_t         ntrap;
static volatile char *trap_out;
static size_t         trap_outlen;
static int            trap_exit;

int seccomp_available(void)
{
    static int avail = -1;

    /* 0 (none yet) or 2 (a filter from our parent): either way the
     * kernel has seccomp; EINVAL says it was built without. */
    if (avail == -1)
        avail = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != -1;
    return avail;
}

size_t seccomp_denied_count(int allow_exec)
{
    size_t i, n = 0;

    for (i = 0; i < seccomp_ndeny; i++)
        if (!(allow_exec && (seccomp_deny[i].flags & SD_EXEC)))
            n++;
    return n;
}

static void put(size_t *at, char c)
{
    if (*at + 1 < trap_outlen)
        trap_out[(*at)++] = c;
}

/* Async-signal-safe: copies, then _exit. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    const char *name = NULL;
    size_t      i, at = 0;
    char        digits[12];
    int         nr = si->si_syscall, d = 0;

    (void)sig;
    (void)uc;
    for (i = 0; i < ntrap && name == NULL; i++)
        if (trap_nrs[i].nr == nr)
            name = trap_nrs[i].name;
    if (name != NULL) {
        while (*name != '\0')
            put(&at, *name++);
    } else { /* "syscall_N" */
        for (name = "syscall_"; *name != '\0'; name++)
            put(&at, *name);
        do
            digits[d++] = (char)('0' + nr % 10);
        while ((nr /= 10) > 0 && d < (int)sizeof(digits));
        while (d > 0)
            put(&at, digits[--d]);
    }
    if (trap_outlen > 0)
        trap_out[at] = '\0';
    _exit(trap_exit);
}

static int trap_handler_install(char *err, size_t errlen)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) == -1) {
        snprintf(err, errlen, "sigaction(SIGSYS): %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* clone() making a namespace: the same as unshare. */
static int deny_clone_namespaces(scmp_filter_ctx ctx)
{
    static const unsigned long ns[] = {
        CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,    CLONE_NEWUSER,
        CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP,
    };
    size_t i;

    for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
        if (seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(clone), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, ns[i], ns[i])) < 0)
            return -1;
    return 0;
}

/* The names of the calls either filter traps, with their numbers, for
 * the SIGSYS handler. */
static void trap_table(void)
{
    size_t i;
    int    nr;

    ntrap = 0;
    for (i = 0; i < seccomp_ndeny && ntrap < TRAP_MAX; i++) {
        const struct seccomp_deny *d = &seccomp_deny[i];

        nr = seccomp_syscall_resolve_name(d->name);
        if (nr != __NR_SCMP_ERROR && !(d->flags & SD_ENOSYS))
            trap_nrs[ntrap++] = (typeof(trap_nrs[0])){nr, d->name};
    }
    nr = seccomp_syscall_resolve_name("clone");
    if (ntrap < TRAP_MAX)
        trap_nrs[ntrap++] = (typeof(trap_nrs[0])){nr, "clone"};
}

/* The rules of the table. */
static int add_rules(scmp_filter_ctx ctx, int allow_exec, char *err,
                     size_t errlen)
{
    size_t i;
    int    nr, r;

    for (i = 0; i < seccomp_ndeny; i++) {
        const struct seccomp_deny *d = &seccomp_deny[i];

        if (allow_exec && (d->flags & SD_EXEC))
            continue;
        nr = seccomp_syscall_resolve_name(d->name);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not on this architecture */
        r = seccomp_rule_add(ctx,
                             (d->flags & SD_ENOSYS) ? SCMP_ACT_ERRNO(ENOSYS)
                                                    : SCMP_ACT_TRAP,
                             nr, 0);
        if (r < 0) {
            snprintf(err, errlen, "seccomp_rule_add(%s): %s", d->name,
                     strerror(-r));
            return -1;
        }
    }
    if (deny_clone_namespaces(ctx) == -1) {
        snprintf(err, errlen, "seccomp_rule_add(clone)");
        return -1;
    }
    return 0;
}

/* The two filters (without and with sandbox_exec), compiled once per
 * process: by the master before it forks (seccomp_prepare), so that a
 * worker loads one with a single system call.  libseccomp allocates and
 * frees some 40 KiB to compile a filter, and touches as much of its own
 * pages: a child of the master does that and hands back the program
 * alone, so that neither the master's heap nor its workers' carry it. */
static struct sock_fprog compiled[2];

/* Compile, and write the program to fd, or the reason it failed (then
 * -1). */
static int compile_into(int allow_exec, int fd)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    char            err[256] = "seccomp_init failed";
    int             ok = 0;

    if (ctx != NULL) {
        /* A binary search on the call's number instead of a linear list;
         * libseccomp before 2.5 refuses it and builds the list, as
         * correct. */
        (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        ok = add_rules(ctx, allow_exec, err, sizeof(err)) == 0;
        if (ok && seccomp_export_bpf(ctx, fd) < 0) {
            snprintf(err, sizeof(err), "seccomp_export_bpf failed");
            ok = 0;
        }
        seccomp_release(ctx);
    }
    if (!ok && ftruncate(fd, 0) == 0)
        (void)!pwrite(fd, err, strlen(err), 0);
    return ok ? 0 : -1;
}

/* The file's len bytes, malloc'd and NUL-terminated, or NULL. */
static char *read_back(int fd, size_t len)
{
    char *buf = malloc(len + 1);

    if (buf == NULL || pread(fd, buf, len, 0) != (ssize_t)len) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static int compile(int allow_exec, char *err, size_t errlen)
{
    struct stat st;
    char       *buf = NULL;
    pid_t       pid;
    int         fd, status = 0, r = -1;

    if (compiled[allow_exec].filter != NULL)
        return 0;
    if ((fd = memfd_create("seccomp", MFD_CLOEXEC)) == -1) {
        snprintf(err, errlen, "memfd_create: %s", strerror(errno));
        return -1;
    }
    /* A process that cannot fork (RLIMIT_NPROC, a filter of its own)
     * compiles in its own memory instead. */
    if ((pid = fork()) == 0)
        _exit(compile_into(allow_exec, fd) == 0 ? 0 : 1);
    if (pid == -1)
        status = compile_into(allow_exec, fd) == 0 ? 0 : 1 << 8;
    else if (waitpid(pid, &status, 0) == -1)
        status = -1;
    if (status == -1 || fstat(fd, &st) == -1) {
        snprintf(err, errlen, "compiling the filter: %s", strerror(errno));
        goto done;
    }
    buf = read_back(fd, (size_t)st.st_size);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "%s",
                 buf != NULL && WIFEXITED(status) && WEXITSTATUS(status) == 1
                     ? buf
                     : "compiling the filter failed");
        goto done;
    }
    if (buf == NULL || st.st_size == 0 ||
        st.st_size % sizeof(struct sock_filter) != 0 ||
        st.st_size / sizeof(struct sock_filter) > USHRT_MAX) {
        snprintf(err, errlen, "libseccomp gave no usable program");
        goto done;
    }
    compiled[allow_exec].filter = (struct sock_filter *)(void *)buf;
    compiled[allow_exec].len =
        (unsigned short)(st.st_size / sizeof(struct sock_filter));
    buf = NULL;
    r = 0;
done:
    free(buf);
    close(fd);
    return r;
}

int seccomp_prepare(char *err, size_t errlen)
{
    if (!seccomp_available())
        return 0;
    if (ntrap == 0)
        trap_table();
    return compile(0, err, errlen) == -1 || compile(1, err, errlen) == -1 ? -1
                                                                          : 0;
}

int seccomp_confine(int allow_exec, char *name, size_t namelen, int exit_code,
                    char *err, size_t errlen)
{
    allow_exec = allow_exec != 0;
    if (seccomp_prepare(err, errlen) == -1)
        return -1;
    trap_out = name;
    trap_outlen = namelen;
    trap_exit = exit_code;
    if (trap_handler_install(err, errlen) == -1)
        return -1;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &compiled[allow_exec], 0,
              0) == -1) {
        snprintf(err, errlen, "loading the filter: %s", strerror(errno));
        return -1;
    }
    return 0;
}
