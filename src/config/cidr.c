/*
 * cidr.c -- address ranges for proxy_from.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"

/* Does a's first `bits` bits equal b's? */
static int prefix_eq(const unsigned char *a, const unsigned char *b,
                     unsigned bits)
{
    unsigned      whole = bits / 8, rest = bits % 8;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));

    if (memcmp(a, b, whole) != 0)
        return 0;
    return rest == 0 || ((a[whole] ^ b[whole]) & mask) == 0;
}

/* One item, "ADDR" or "ADDR/BITS", already trimmed. */
static int parse_one(const char *item, struct cidr *c, char *err, size_t errlen)
{
    char          addr[INET6_ADDRSTRLEN + 1], *end;
    const char   *slash = strchr(item, '/');
    size_t        alen = slash != NULL ? (size_t)(slash - item) : strlen(item);
    unsigned      max;
    unsigned long bits;

    if (alen == 0 || alen >= sizeof(addr)) {
        snprintf(err, errlen, "'%s' is not an address", item);
        return -1;
    }
    memcpy(addr, item, alen);
    addr[alen] = '\0';
    memset(c, 0, sizeof(*c));
    if (inet_pton(AF_INET, addr, c->addr) == 1)
        c->family = AF_INET;
    else if (inet_pton(AF_INET6, addr, c->addr) == 1)
        c->family = AF_INET6;
    else {
        snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", addr);
        return -1;
    }
    max = c->family == AF_INET ? 32 : 128;
    c->bits = max;
    if (slash == NULL)
        return 0;
    bits = strtoul(slash + 1, &end, 10);
    if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || bits > max) {
        snprintf(err, errlen, "'%s': the prefix length must be 0 to %u", item,
                 max);
        return -1;
    }
    c->bits = (unsigned)bits;
    /* Host bits past the prefix: a typo more often than not. */
    for (unsigned i = c->bits; i < max; i++)
        if (c->addr[i / 8] & (0x80 >> (i % 8))) {
            snprintf(err, errlen, "'%s' has bits set past /%u", item, c->bits);
            return -1;
        }
    return 0;
}

int cidr_list_parse(const char *s, struct cidr_list *out, char *err,
                    size_t errlen)
{
    struct cidr_list l = {0};
    const char      *p = s;

    for (;;) {
        const char  *start, *stop, *comma = strchr(p, ',');
        char         item[128];
        struct cidr *nv;

        start = p;
        stop = comma != NULL ? comma : p + strlen(p);
        while (start < stop && (*start == ' ' || *start == '\t'))
            start++;
        while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t'))
            stop--;
        if (stop == start || (size_t)(stop - start) >= sizeof(item)) {
            snprintf(err, errlen,
                     stop == start ? "an empty item in the list"
                                   : "an item too long to be an address");
            goto fail;
        }
        memcpy(item, start, (size_t)(stop - start));
        item[stop - start] = '\0';
        nv = realloc(l.v, (l.n + 1) * sizeof(*l.v));
        if (nv == NULL) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        l.v = nv;
        if (parse_one(item, &l.v[l.n], err, errlen) == -1)
            goto fail;
        l.n++;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    *out = l;
    return 0;
fail:
    cidr_list_free(&l);
    return -1;
}

void cidr_list_free(struct cidr_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};
    const unsigned char       *a;
    int                        family = sa->sa_family;

    if (family == AF_INET) {
        a = (const unsigned char *)&(
                (const struct sockaddr_in *)(const void *)sa)
                ->sin_addr;
    } else if (family == AF_INET6) {
        a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        if (memcmp(a, mapped, sizeof(mapped)) == 0) {
            family = AF_INET;
            a += 12;
        }
    } else {
        return 0;
    }
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].family == family &&
            prefix_eq(a, l->v[i].addr, l->v[i].bits))
            return 1;
    return 0;
}
