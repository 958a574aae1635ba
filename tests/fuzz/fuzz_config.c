/*
 * fuzz_config.c -- libFuzzer target for the configuration parser.
 *
 * Feeds arbitrary bytes to config_load_buffer() as if they were a file in a
 * directory that does not exist, so nothing on disk is read or written, and
 * frees whatever comes back: a crash, a sanitizer report or a leak is a bug.
 * Build with ./configure CC=clang --enable-fuzzers; run with the seed
 * corpus in tests/fuzz/corpus_config/.
 *
 * `listen` values go through getaddrinfo(), and a host name the fuzzer
 * makes up would be sent to a DNS server: slow, and not something a fuzzer
 * should do.  So this binary interposes getaddrinfo() and allows numeric
 * hosts only; listener.c's own tests cover names.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <netdb.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "reader.h"

int getaddrinfo(const char *node, const char *service,
                const struct addrinfo *hints, struct addrinfo **res)
{
    static int (*real)(const char *, const char *, const struct addrinfo *,
                       struct addrinfo **);
    struct addrinfo h = {0};

    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
    if (real == NULL)
        return EAI_SYSTEM;
    if (hints != NULL)
        h = *hints;
    h.ai_flags |= AI_NUMERICHOST;
    return real(node, service, &h, res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct diag    d = DIAG_INIT;
    struct config *cfg;

    cfg = config_load_buffer((const char *)data, size, "fuzz.ini",
                             "/nonexistent-prefork-fuzz", &d);
    /* Success and failure are exclusive: a refused config says why. */
    if ((cfg == NULL) != (d.n > 0))
        __builtin_trap();
    config_free(cfg);
    diag_free(&d);
    return 0;
}
