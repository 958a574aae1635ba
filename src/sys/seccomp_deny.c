/*
 * seccomp_deny.c -- the system calls no worker makes, as data: the filter
 * of seccomp_filter.c refuses each.  A worker runs module code on untrusted
 * input; these are the calls that turn a bug in it into a foothold beyond
 * the worker: new programs, other processes' memory, the kernel's own
 * attack surface, namespaces that undo the rest of the confinement.  None
 * is made by prefork, its modules or CPython serving a request.
 * OpenSSH's sandbox-seccomp-filter.c is the model, as a deny list: a
 * module may use any other call a server needs.
 */
#include "seccomp_filter.h"

const struct seccomp_deny seccomp_deny[] = {
    /* Running another program: the step from a bug to a shell.  Lifted
     * by sandbox_exec = yes for modules that run helpers (CGI). */
    {"execve", SD_EXEC},
    {"execveat", SD_EXEC},

    /* Reading or writing another process's memory or descriptors: every
     * worker of a user can reach the others' keys and requests. */
    {"ptrace", 0},
    {"process_vm_readv", 0},
    {"process_vm_writev", 0},
    {"pidfd_getfd", 0},

    /* Changing what the file system looks like: a worker running as root
     * (no `user`) could mount over the paths Landlock allows. */
    {"mount", 0},
    {"umount2", 0},
    {"pivot_root", 0},
    {"chroot", 0},
    {"move_mount", 0},
    {"open_tree", 0},
    {"fsopen", 0},
    {"fsmount", 0},
    {"fsconfig", 0},
    {"mount_setattr", 0},

    /* Namespaces: a new user namespace gives back every capability inside
     * it, and with them the kernel's larger attack surface.  clone() with
     * CLONE_NEW* is refused by the filter's argument rule (seccomp_filter.c). */
    {"unshare", 0},
    {"setns", 0},

    /* Kernel attack surface no server needs: programs loaded into the
     * kernel, performance counters, io_uring (its operations bypass this
     * filter), userfaultfd (a tool of kernel exploits). */
    {"bpf", 0},
    {"perf_event_open", 0},
    {"io_uring_setup", 0},
    {"userfaultfd", 0},

    /* Replacing the kernel or loading code into it. */
    {"kexec_load", 0},
    {"kexec_file_load", 0},
    {"init_module", 0},
    {"finit_module", 0},
    {"delete_module", 0},

    /* The kernel keyring: shared beyond the process, a frequent source of
     * kernel bugs. */
    {"keyctl", 0},
    {"add_key", 0},
    {"request_key", 0},

    /* Execution domains: READ_IMPLIES_EXEC and ADDR_NO_RANDOMIZE weaken
     * the process's own memory protections. */
    {"personality", 0},

    /* clone3 passes its flags in memory a filter cannot read, so the
     * namespace rule on clone() could be bypassed through it: it fails
     * with ENOSYS and the C library falls back to clone(). */
    {"clone3", SD_ENOSYS},
};

const size_t seccomp_ndeny = sizeof(seccomp_deny) / sizeof(seccomp_deny[0]);
