/*
 * fuzz_proxy.c -- libFuzzer target for the PROXY protocol parser.
 *
 * The input is fed as a header arriving byte by byte: the length reported
 * for a prefix never changes once known and is never wrong for a longer
 * prefix, a refused prefix stays refused, and a header that parses has
 * sane addresses.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ssize_t          known = 0, n = 0;
    struct proxy_hdr h;
    const char      *why = NULL;
    size_t           i;

    for (i = 0; i <= size && i <= PROXY_MAX; i++) {
        n = proxy_header_len(data, i, &why);
        if (n == -1) {
            if (why == NULL)
                abort();
            /* A longer prefix of a refused one is refused too. */
            if (i < size && proxy_header_len(data, size, &why) != -1)
                abort();
            return 0;
        }
        if (known > 0 && n != known)
            abort();
        if (n > 0)
            known = n;
        if (known > 0 && (size_t)known <= i)
            break;
    }
    if (known == 0 || (size_t)known > size)
        return 0;
    if (proxy_parse(data, (size_t)known, &h, &why) == -1) {
        if (why == NULL)
            abort();
        return 0;
    }
    if (h.version != 1 && h.version != 2)
        abort();
    if (!h.local && !((h.src.ss_family == AF_INET &&
                       h.srclen == sizeof(struct sockaddr_in)) ||
                      (h.src.ss_family == AF_INET6 &&
                       h.srclen == sizeof(struct sockaddr_in6))))
        abort();
    return 0;
}
