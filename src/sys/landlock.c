/*
 * landlock.c -- Landlock through its raw system calls (see landlock.h).
 *
 * There is no Debian package of a Landlock library (libseccomp's
 * counterpart does not exist there), and the three calls are simple, so
 * they are made with syscall(2).  Debian 12's <linux/landlock.h> knows
 * only the first ABI: the later access rights and the network and scope
 * fields of the ruleset are defined here by their kernel values, and
 * asked for only from a kernel whose ABI has them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "landlock.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule       445
#define SYS_landlock_restrict_self  446
#endif

/* Access rights after ABI 1, as the kernel numbers them. */
#define LL_FS_REFER       (1ULL << 13) /* ABI 2 */
#define LL_FS_TRUNCATE    (1ULL << 14) /* ABI 3 */
#define LL_FS_IOCTL_DEV   (1ULL << 15) /* ABI 5 */
#define LL_NET_BIND_TCP   (1ULL << 0)  /* ABI 4 */
#define LL_NET_CONNECT    (1ULL << 1)  /* ABI 4 */
#define LL_SCOPE_ABSTRACT (1ULL << 0)  /* ABI 6 */
#define LL_RULE_PATH      1
#define LL_RULE_NET_PORT  2

/* The kernel's structs at their latest size; it takes a shorter one from
 * an older caller, and this caller sends a shorter one to an older kernel. */
struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net; /* ABI 4 */
    uint64_t scoped;             /* ABI 6 */
};

struct ll_path_attr {
    uint64_t allowed_access;
    int32_t  parent_fd;
} __attribute__((packed));

struct ll_port_attr {
    uint64_t allowed_access;
    uint64_t port;
};

#define LL_FS_ABI1 ((1ULL << 13) - 1) /* EXECUTE .. MAKE_SYM */
#define LL_FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_FS_WRITE_ABI1                                                       \
    (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |           \
     LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |            \
     LANDLOCK_ACCESS_FS_MAKE_REG)
/* What applies to a file rather than a directory. */
#define LL_FS_FILE                                                             \
    (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |              \
     LANDLOCK_ACCESS_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)

int landlock_abi(void)
{
    static int abi = -1;
    long       r;

    if (abi >= 0)
        return abi;
    r = syscall(SYS_landlock_create_ruleset, NULL, 0,
                LANDLOCK_CREATE_RULESET_VERSION);
    abi = r > 0 ? (int)r : 0;
    return abi;
}

/* Every file right this ABI knows: all are denied unless a rule grants
 * them. */
static uint64_t fs_handled(int abi)
{
    uint64_t fs = LL_FS_ABI1;

    if (abi >= 2)
        fs |= LL_FS_REFER;
    if (abi >= 3)
        fs |= LL_FS_TRUNCATE;
    if (abi >= 5)
        fs |= LL_FS_IOCTL_DEV;
    return fs;
}

/* The rights LL_* bits give beneath a path, on this ABI. */
static uint64_t fs_rights(unsigned access, int abi)
{
    uint64_t r = 0;

    if (access & LL_READ)
        r |= LL_FS_READ;
    if (access & LL_WRITE) {
        r |= LL_FS_WRITE_ABI1;
        if (abi >= 2)
            r |= LL_FS_REFER; /* rename within what is writable */
        if (abi >= 3)
            r |= LL_FS_TRUNCATE;
    }
    if (access & LL_EXEC)
        r |= LANDLOCK_ACCESS_FS_EXECUTE;
    /* Device files (/dev/null) need their ioctls where they are opened. */
    if (abi >= 5 && (access & (LL_READ | LL_WRITE)))
        r |= LL_FS_IOCTL_DEV;
    return r;
}

static int add_path(int rs, const struct ll_path *p, int abi, char *err,
                    size_t errlen)
{
    struct ll_path_attr a;
    struct stat         st;
    int                 fd, r;

    fd = open(p->path, O_PATH | O_CLOEXEC);
    if (fd == -1) {
        if (errno == ENOENT || errno == ENOTDIR || errno == EACCES)
            return 0; /* nothing there to allow */
        snprintf(err, errlen, "%s: %s", p->path, strerror(errno));
        return -1;
    }
    a.allowed_access = fs_rights(p->access, abi);
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
        a.allowed_access &= LL_FS_FILE;
    a.parent_fd = fd;
    r = a.allowed_access == 0
            ? 0
            : (int)syscall(SYS_landlock_add_rule, rs, LL_RULE_PATH, &a, 0);
    if (r == -1)
        snprintf(err, errlen, "landlock_add_rule(%s): %s", p->path,
                 strerror(errno));
    close(fd);
    return r == -1 ? -1 : 0;
}

static int add_port(int rs, uint16_t port, char *err, size_t errlen)
{
    struct ll_port_attr a = {.allowed_access = LL_NET_CONNECT, .port = port};

    if (syscall(SYS_landlock_add_rule, rs, LL_RULE_NET_PORT, &a, 0) == -1) {
        snprintf(err, errlen, "landlock_add_rule(port %u): %s", port,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* The ruleset: files always; TCP from ABI 4 when asked; abstract UNIX
 * sockets of other domains from ABI 6 (they are reached by name, not
 * through the file system the rules cover).  Signals are not scoped: a
 * worker signals its master (max_requests). */
static int ruleset_create(int abi, int net, char *err, size_t errlen)
{
    struct ll_ruleset_attr attr = {.handled_access_fs = fs_handled(abi)};
    size_t                 size = sizeof(attr.handled_access_fs);
    long                   rs;

    if (abi >= LANDLOCK_ABI_NET) {
        size = offsetof(struct ll_ruleset_attr, scoped);
        if (net)
            attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT;
    }
    if (abi >= 6) {
        size = sizeof(attr);
        attr.scoped = LL_SCOPE_ABSTRACT;
    }
    rs = syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (rs == -1)
        snprintf(err, errlen, "landlock_create_ruleset: %s", strerror(errno));
    return (int)rs;
}

int landlock_restrict(const struct ll_path *paths, size_t n,
                      const uint16_t *ports, size_t nports, int net, char *err,
                      size_t errlen)
{
    int    abi = landlock_abi(), rs;
    size_t i;

    if (abi == 0) {
        snprintf(err, errlen, "the kernel has no Landlock");
        return -1;
    }
    net = net && abi >= LANDLOCK_ABI_NET;
    if ((rs = ruleset_create(abi, net, err, errlen)) == -1)
        return -1;
    for (i = 0; i < n; i++)
        if (add_path(rs, &paths[i], abi, err, errlen) == -1)
            goto fail;
    for (i = 0; net && i < nports; i++)
        if (add_port(rs, ports[i], err, errlen) == -1)
            goto fail;
    if (syscall(SYS_landlock_restrict_self, rs, 0) == -1) {
        snprintf(err, errlen, "landlock_restrict_self: %s", strerror(errno));
        goto fail;
    }
    close(rs);
    return 0;
fail:
    close(rs);
    return -1;
}
