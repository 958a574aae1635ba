/*
 * sdfake.c -- a service manager faked for the integration tests: the
 * notification socket systemd gives a service (NOTIFY_SOCKET), what comes
 * on it read as systemd reads it (the text, the descriptors passed with
 * it, the sender's pid), sockets handed over as systemd hands them
 * (LISTEN_FDS), and fork() failing as under a unit's TasksMax=.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdfake.h"

/* The server whose diagnostics a failed wait shows. */
static const struct h_server *sd_server;

int sd_listen(struct h_server *s, int slot)
{
    static char        env[160];
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int                fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int                one = 1;

    cr_assert(fd >= 0);
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/notify", s->dir);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0, "bind: %s",
                 strerror(errno));
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one), 0);
    snprintf(env, sizeof env, "NOTIFY_SOCKET=%s", sun.sun_path);
    s->env[slot] = env;
    sd_server = s;
    return fd;
}

void note_close(struct note *n)
{
    for (int i = 0; i < n->nfds; i++)
        close(n->fds[i]);
    n->nfds = 0;
}

/* The next notification within ms: 0, or -1 on timeout. */
int next_note(int fd, struct note *n, int ms)
{
    union {
        char           buf[CMSG_SPACE(sizeof(int) * SD_MAXFDS) +
                 CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } ctl;
    struct pollfd   p = {.fd = fd, .events = POLLIN};
    struct iovec    iov = {.iov_base = n->text, .iov_len = sizeof n->text - 1};
    struct msghdr   mh = {.msg_iov = &iov,
                          .msg_iovlen = 1,
                          .msg_control = ctl.buf,
                          .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *c;
    ssize_t         len;

    n->nfds = 0;
    n->pid = 0;
    if (poll(&p, 1, ms) != 1)
        return -1;
    len = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    if (len < 0)
        return -1;
    n->text[len] = '\0';
    for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET)
            continue;
        if (c->cmsg_type == SCM_RIGHTS) {
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            if (k > (size_t)(SD_MAXFDS - n->nfds))
                k = (size_t)(SD_MAXFDS - n->nfds);
            memcpy(n->fds + n->nfds, CMSG_DATA(c), k * sizeof(int));
            n->nfds += (int)k;
        } else if (c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred u;
            memcpy(&u, CMSG_DATA(c), sizeof u);
            n->pid = u.pid;
        }
    }
    return 0;
}

/* Wait for a notification holding want, into *out (NULL: not kept); fail
 * the test on anything holding forbid first (NULL: nothing is). */
void expect_note(int fd, const char *want, const char *forbid, struct note *out)
{
    struct note n;
    int64_t     deadline = h_now_ms() + 10000;

    while (h_now_ms() < deadline) {
        if (next_note(fd, &n, 500) == -1)
            continue;
        cr_assert(forbid == NULL || strstr(n.text, forbid) == NULL,
                  "got '%s' while waiting for '%s'", n.text, want);
        if (strstr(n.text, want) != NULL) {
            if (out != NULL)
                *out = n;
            else
                note_close(&n);
            return;
        }
        note_close(&n);
    }
    cr_assert_fail("no '%s' from the master%s", want, h_diag(sd_server));
}

void expect_message(int fd, const char *want, const char *forbid)
{
    expect_note(fd, want, forbid, NULL);
}

/* Read for ms; fail on a notification holding what.  Returns how many
 * notifications came. */
int quiet_for(int fd, const char *what, int ms)
{
    struct note n;
    int64_t     deadline = h_now_ms() + ms;
    int         count = 0;

    while (h_now_ms() < deadline) {
        if (next_note(fd, &n, (int)(deadline - h_now_ms())) == -1)
            continue;
        note_close(&n);
        count++;
        cr_assert(strstr(n.text, what) == NULL, "got '%s' %d ms before the end",
                  n.text, (int)(deadline - h_now_ms()));
    }
    return count;
}

/* Forget what came so far: read until nothing comes for 100 ms. */
void drain_notes(int fd)
{
    struct note n;

    while (next_note(fd, &n, 100) == 0)
        note_close(&n);
}

/* Does text hold line as a whole line? */
int has_line(const char *text, const char *line)
{
    size_t      len = strlen(line);
    const char *p;

    for (p = text; (p = strstr(p, line)) != NULL; p += len)
        if ((p == text || p[-1] == '\n') && (p[len] == '\0' || p[len] == '\n'))
            return 1;
    return 0;
}

void as_systemd(struct h_server *s, const char *names, const int *fds, int n)
{
    static char count[32], fdnames[128];

    snprintf(count, sizeof count, "LISTEN_FDS=%d", n);
    snprintf(fdnames, sizeof fdnames, "LISTEN_FDNAMES=%s", names);
    s->env[0] = count;
    s->env[1] = fdnames;
    s->env[2] = "LISTEN_PID";
    for (int i = 0; i < n; i++)
        s->pass[i] = fds[i];
    s->npass = n;
}

/* In the child about to exec prefork: fork() fails with EAGAIN from now
 * on, as it does when a unit's TasksMax= or the system runs out; threads
 * may still start (clone with CLONE_THREAD). */
void no_fork(void)
{
#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#endif
#ifdef ARCH
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        /* clone3 hides its flags in memory: make libc fall back to clone */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
#ifdef __NR_fork
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fork, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAGAIN),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_vfork, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAGAIN),
#endif
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        /* clone's flags, the low half of its first argument */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                 offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAGAIN),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        _exit(127);
#endif
}
