/*
 * abimod.c -- one module built against two other minor versions of
 * <prefork/module.h>: the fixture headers in tests/fixtures/abi-1.0 (before
 * pf_module.flags) and tests/fixtures/abi-1.3 (one hook after it).  The
 * loader must take both: the older one with everything past its size read
 * as zero, the newer one without reading past the host's own struct.
 */
#include <prefork/module.h>

static int abimod_handle(pf_conn *c)
{
    (void)c;
    return PF_CLOSE;
}

#if PF_ABI_MINOR >= 3
static void abimod_future(pf_service *svc)
{
    (void)svc;
}
#endif

PF_MODULE_DECLARE = {
    PF_MODULE_HEADER,        .name = "abimod",
    .version = "test",       .socktypes = PF_STREAM,
    .handle = abimod_handle,
#if PF_ABI_MINOR >= 3
    .flags = PF_BLOCKING,    .future_hook = abimod_future,
#endif
};
