/*
 * sbmod.c -- a module for the sandbox's integration tests, never
 * installed: inside handle() it tries what a module taken over would, and
 * answers what happened.  It declares nothing (pf_sandbox_allow), so its
 * workers get only what every worker gets and the sandbox_* keys give.
 *
 * One command per line, one answer per command, "ok" or the errno's name
 * (EACCES):
 *
 *   read PATH\n      open(PATH, O_RDONLY) and read a byte
 *   write PATH\n     open(PATH, O_WRONLY | O_CREAT) and write a byte
 *   exec\n           execve("/bin/sh") in the worker itself: a sandbox
 *                    without sandbox_exec ends the worker here
 *   spawn\n          fork and execve("/bin/sh -c 'exit 7'") in the child,
 *                    answers "ok 7" when the child ran it
 *   connect PORT\n   a TCP connect() to 127.0.0.1:PORT
 *   pid\n            the serving process's pid
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <prefork/module.h>

static int say(pf_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int say(pf_conn *c, const char *fmt, ...)
{
    char    buf[128];
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return pf_write(c, buf, (size_t)n);
}

/* 0, or the errno of the first call that failed. */
static int try_read(const char *path)
{
    char c;
    int  fd = open(path, O_RDONLY | O_CLOEXEC), e = 0;

    if (fd == -1)
        return errno;
    if (read(fd, &c, 1) == -1)
        e = errno;
    close(fd);
    return e;
}

static int try_write(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600), e = 0;

    if (fd == -1)
        return errno;
    if (write(fd, "x", 1) == -1)
        e = errno;
    close(fd);
    return e;
}

static int try_connect(const char *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)atoi(port))};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), e = 0;

    if (fd == -1)
        return errno;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
        e = errno;
    close(fd);
    return e;
}

static void try_exec(void)
{
    char *const argv[] = {"sh", "-c", "exit 7", NULL};

    execve("/bin/sh", argv, environ);
}

/* "ok 7" when the child ran the shell. */
static int try_spawn(pf_conn *c)
{
    int   status;
    pid_t pid = fork();

    if (pid == -1)
        return say(c, "%s\n", strerrorname_np(errno));
    if (pid == 0) {
        try_exec();
        _exit(errno == EACCES ? 126 : 127);
    }
    if (waitpid(pid, &status, 0) == -1)
        return say(c, "%s\n", strerrorname_np(errno));
    if (WIFSIGNALED(status))
        return say(c, "signal %d\n", WTERMSIG(status));
    return say(c, "ok %d\n", WEXITSTATUS(status));
}

static int answer(pf_conn *c, int e)
{
    return e == 0 ? say(c, "ok\n") : say(c, "%s\n", strerrorname_np(e));
}

static int run(pf_conn *c, char *line)
{
    if (strncmp(line, "read ", 5) == 0)
        return answer(c, try_read(line + 5));
    if (strncmp(line, "write ", 6) == 0)
        return answer(c, try_write(line + 6));
    if (strncmp(line, "connect ", 8) == 0)
        return answer(c, try_connect(line + 8));
    if (strcmp(line, "exec") == 0) {
        try_exec();
        return answer(c, errno);
    }
    if (strcmp(line, "spawn") == 0)
        return try_spawn(c);
    if (strcmp(line, "pid") == 0)
        return say(c, "%d\n", (int)getpid());
    return say(c, "what?\n");
}

static int sb_handle(pf_conn *c)
{
    char    line[512];
    ssize_t n = pf_readline(c, line, sizeof(line));

    if (n <= 0)
        return PF_CLOSE;
    line[strcspn(line, "\r\n")] = '\0';
    return run(c, line) == -1 ? PF_CLOSE : PF_MORE;
}

PF_MODULE_DECLARE = {
    PF_MODULE_HEADER,       .name = "sbmod",     .version = "test",
    .socktypes = PF_STREAM, .handle = sb_handle, .flags = PF_BLOCKING,
};
