/*
 * proxy.c -- the PROXY protocol header, v1 and v2.
 *
 * v1 is one line: "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" or
 * "PROXY UNKNOWN ...\r\n", at most 107 bytes.  v2 is a 12-byte signature,
 * a version/command byte, a family byte, a 16-bit length and that many
 * bytes of addresses and TLVs (the TLVs are skipped).  Both are checked
 * strictly: what is not exactly the format is refused.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxy.h"

static const unsigned char v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                         0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
static const char          v1_sig[] = "PROXY ";

#define V1_SIGLEN (sizeof(v1_sig) - 1)

static ssize_t fail(const char **why, const char *reason)
{
    *why = reason;
    return -1;
}

static ssize_t v1_len(const unsigned char *buf, size_t len, const char **why)
{
    size_t i;

    for (i = 0; i < len && i < PROXY_V1_MAX; i++) {
        if (buf[i] == '\n')
            return i > 0 && buf[i - 1] == '\r'
                       ? (ssize_t)(i + 1)
                       : fail(why, "PROXY v1 line not ended by CRLF");
        if (buf[i] == '\0' ||
            (buf[i] == '\r' && i + 1 < len && buf[i + 1] != '\n'))
            return fail(why, "stray byte in a PROXY v1 line");
    }
    if (len >= PROXY_V1_MAX)
        return fail(why, "PROXY v1 line longer than 107 bytes");
    return 0;
}

static ssize_t v2_len(const unsigned char *buf, size_t len, const char **why)
{
    size_t total;

    if (len > 12 && (buf[12] & 0xf0) != 0x20)
        return fail(why, "PROXY v2 header of another version");
    if (len > 12 && (buf[12] & 0x0f) > 1)
        return fail(why, "PROXY v2 header with an unknown command");
    if (len < 16)
        return 0;
    total = 16 + ((size_t)buf[14] << 8 | buf[15]);
    if (total > PROXY_MAX)
        return fail(why, "PROXY v2 header longer than 4096 bytes");
    return (ssize_t)total;
}

ssize_t proxy_header_len(const unsigned char *buf, size_t len, const char **why)
{
    size_t n;

    if (len == 0)
        return 0;
    if (buf[0] == v1_sig[0]) {
        n = len < V1_SIGLEN ? len : V1_SIGLEN;
        if (memcmp(buf, v1_sig, n) != 0)
            return fail(why, "no PROXY header");
        return v1_len(buf, len, why);
    }
    n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
    if (memcmp(buf, v2_sig, n) != 0)
        return fail(why, "no PROXY header");
    return v2_len(buf, len, why);
}

/* One space-separated field of a v1 line: [*p, next space or CR). */
static int v1_field(const char **p, const char *end, char *out, size_t cap)
{
    const char *s = *p, *e = s;

    while (e < end && *e != ' ' && *e != '\r')
        e++;
    if (e == s || (size_t)(e - s) >= cap)
        return -1;
    memcpy(out, s, (size_t)(e - s));
    out[e - s] = '\0';
    *p = e;
    return 0;
}

/* A port: 1 to 5 digits, no sign, no leading zero (but "0"), <= 65535. */
static int v1_port(const char *s, unsigned short *out)
{
    unsigned long v = 0;
    size_t        n = strlen(s);

    if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 65535)
        return -1;
    *out = (unsigned short)v;
    return 0;
}

static void set_addr(struct sockaddr_storage *ss, socklen_t *len, int family,
                     const void *addr, unsigned short port_be)
{
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, addr, 4);
        in->sin_port = port_be;
        *len = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, addr, 16);
        in6->sin6_port = port_be;
        *len = sizeof(*in6);
    }
}

static int v1_parse(const unsigned char *buf, size_t len, struct proxy_hdr *h,
                    const char **why)
{
    const char *p = (const char *)buf + V1_SIGLEN,
               *end = (const char *)buf + len - 2;
    char           proto[8], f[4][64];
    unsigned char  a[2][16];
    unsigned short port[2];
    int            family;

    h->version = 1;
    if (v1_field(&p, end, proto, sizeof(proto)) == -1)
        return (int)fail(why, "PROXY v1 line without a protocol");
    if (strcmp(proto, "UNKNOWN") == 0) {
        h->local = 1; /* whatever follows is to be ignored */
        return 0;
    }
    if (strcmp(proto, "TCP4") == 0)
        family = AF_INET;
    else if (strcmp(proto, "TCP6") == 0)
        family = AF_INET6;
    else
        return (int)fail(why, "PROXY v1 line with an unknown protocol");
    for (int i = 0; i < 4; i++) {
        if (p >= end || *p != ' ' || (p++, v1_field(&p, end, f[i], 64)) == -1)
            return (int)fail(why, "PROXY v1 line with a missing field");
    }
    if (p != end)
        return (int)fail(why, "PROXY v1 line with extra fields");
    for (int i = 0; i < 2; i++) {
        if (inet_pton(family, f[i], a[i]) != 1)
            return (int)fail(why, "PROXY v1 line with a bad address");
        if (v1_port(f[i + 2], &port[i]) == -1)
            return (int)fail(why, "PROXY v1 line with a bad port");
    }
    set_addr(&h->src, &h->srclen, family, a[0], htons(port[0]));
    set_addr(&h->dst, &h->dstlen, family, a[1], htons(port[1]));
    return 0;
}

/* A port as the header carries it, in network byte order. */
static unsigned short port_at(const unsigned char *p)
{
    unsigned short v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static int v2_parse(const unsigned char *buf, size_t len, struct proxy_hdr *h,
                    const char **why)
{
    const unsigned char *b = buf + 16;
    size_t               blen = len - 16;
    int                  family;
    size_t               alen;

    h->version = 2;
    if ((buf[12] & 0x0f) == 0) { /* LOCAL: the balancer's own connection */
        h->local = 1;
        return 0;
    }
    switch (buf[13]) {
    case 0x11: /* TCP over IPv4 */
    case 0x12: /* UDP over IPv4 */
        family = AF_INET;
        alen = 12;
        break;
    case 0x21: /* TCP over IPv6 */
    case 0x22:
        family = AF_INET6;
        alen = 36;
        break;
    case 0x00: /* UNSPEC */
    case 0x31: /* UNIX stream */
    case 0x32: /* UNIX datagram */ h->local = 1; return 0;
    default: return (int)fail(why, "PROXY v2 header of an unknown family");
    }
    if (blen < alen)
        return (int)fail(why, "PROXY v2 header too short for its addresses");
    if (family == AF_INET) {
        set_addr(&h->src, &h->srclen, AF_INET, b, port_at(b + 8));
        set_addr(&h->dst, &h->dstlen, AF_INET, b + 4, port_at(b + 10));
    } else {
        set_addr(&h->src, &h->srclen, AF_INET6, b, port_at(b + 32));
        set_addr(&h->dst, &h->dstlen, AF_INET6, b + 16, port_at(b + 34));
    }
    return 0;
}

int proxy_parse(const unsigned char *buf, size_t len, struct proxy_hdr *h,
                const char **why)
{
    ssize_t want = proxy_header_len(buf, len, why);

    memset(h, 0, sizeof(*h));
    if (want == -1)
        return -1;
    if (want == 0 || (size_t)want != len)
        return (int)fail(why, "incomplete PROXY header");
    if (buf[0] == v1_sig[0])
        return v1_parse(buf, len, h, why);
    return v2_parse(buf, len, h, why);
}
