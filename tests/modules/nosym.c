/*
 * nosym.c -- a shared object that is not a prefork module.
 *
 * It exports a descriptor under the wrong name, the mistake an author makes
 * by renaming the variable instead of using PF_MODULE_DECLARE.  The loader
 * must refuse it and say that `prefork_module` is missing.
 */
#define _GNU_SOURCE

#include <prefork/module.h>

PF_EXPORT const struct pf_module nosym_module = {
    PF_MODULE_HEADER,
    .name = "nosym",
    .version = "test",
    .socktypes = PF_STREAM,
};
