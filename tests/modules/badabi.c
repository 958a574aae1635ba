/*
 * badabi.c -- a module built for an ABI the host does not speak.
 *
 * The descriptor is written out by hand with the next major version, as a
 * module built against a future <prefork/module.h> would carry.  The loader
 * must refuse it by name and version, before calling any of its hooks; the
 * one hook here would make a test notice if it did.
 */
#define _GNU_SOURCE

#include <stdlib.h>

#include <prefork/module.h>

static int badabi_check(pf_service *svc)
{
    (void)svc;
    abort(); /* never reached: the host must stop at the version */
}

PF_MODULE_DECLARE = {
    .magic = PF_MODULE_MAGIC,
    .abi_major = PF_ABI_MAJOR + 1,
    .abi_minor = 0,
    .size = sizeof(struct pf_module),
    .name = "badabi",
    .version = "test",
    .socktypes = PF_STREAM | PF_DGRAM,
    .check = badabi_check,
};
