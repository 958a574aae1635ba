/*
 * caps.c -- reading and giving up capabilities.
 *
 * Two system calls, capget(2) and capset(2), which glibc does not wrap;
 * libcap would wrap them, but it would also be mapped into every worker
 * for these three functions, so they are called directly, with the
 * kernel's own structures (<linux/capability.h>, version 3: 64 bits in
 * two 32-bit words).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "log.h"

/* capget or capset (nr) on this process, with the kernel's structures. */
static int capcall(long nr, struct __user_cap_data_struct data[2])
{
    struct __user_cap_header_struct hdr = {
        .version = _LINUX_CAPABILITY_VERSION_3,
        .pid = 0,
    };

    return (int)syscall(nr, &hdr, data);
}

static int effective(const struct __user_cap_data_struct data[2], int cap)
{
    return (data[cap / 32].effective & (1u << (cap % 32))) != 0;
}

int caps_can_switch_user(void)
{
    struct __user_cap_data_struct data[2];

    if (geteuid() == 0)
        return 1;
    if (capcall(SYS_capget, data) == -1)
        return 0;
    return effective(data, CAP_SETUID) && effective(data, CAP_SETGID);
}

int caps_held(void)
{
    struct __user_cap_data_struct data[2];

    if (capcall(SYS_capget, data) == -1)
        return 1; /* unknown: as if held, so that it is dropped */
    /* The ambient set is always within the permitted one. */
    return data[0].permitted != 0 || data[1].permitted != 0;
}

int caps_drop_all(void)
{
    struct __user_cap_data_struct none[2] = {{0, 0, 0}, {0, 0, 0}};

    /* EINVAL: a kernel before 4.3, which has no ambient set. */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
        errno != EINVAL) {
        log_syserr(NULL, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
        return -1;
    }
    if (capcall(SYS_capset, none) == -1) {
        log_syserr(NULL, "capset");
        return -1;
    }
    if (caps_held()) {
        log_error(NULL, "capabilities are still held after capset");
        return -1;
    }
    return 0;
}
