/*
 * test_proxy.c -- the PROXY protocol parser: every v1 and v2 form, each
 * malformed one, and the length it reports for every prefix of a header.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "proxy.h"

static const unsigned char sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                      0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* A v2 header: ver_cmd, family, the address block (alen bytes of addr),
 * then tlv bytes.  Returns its length. */
static size_t v2(unsigned char *out, unsigned char vc, unsigned char fam,
                 const unsigned char *addr, size_t alen, size_t tlv)
{
    memcpy(out, sig, 12);
    out[12] = vc;
    out[13] = fam;
    out[14] = (unsigned char)((alen + tlv) >> 8);
    out[15] = (unsigned char)(alen + tlv);
    memcpy(out + 16, addr, alen);
    memset(out + 16 + alen, 0x42, tlv);
    return 16 + alen + tlv;
}

static void src_is(const struct proxy_hdr *h, int family, const char *addr,
                   unsigned port)
{
    char buf[INET6_ADDRSTRLEN];

    cr_assert_eq(h->local, 0);
    cr_assert_eq(h->src.ss_family, family);
    if (family == AF_INET) {
        const struct sockaddr_in *in = (const void *)&h->src;
        inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
        cr_expect_eq(ntohs(in->sin_port), port);
        cr_expect_eq(h->srclen, sizeof(*in));
    } else {
        const struct sockaddr_in6 *in6 = (const void *)&h->src;
        inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
        cr_expect_eq(ntohs(in6->sin6_port), port);
        cr_expect_eq(h->srclen, sizeof(*in6));
    }
    cr_expect_str_eq(buf, addr);
}

/* Parse a whole header, checking every prefix reads as "go on". */
static int parse_all(const void *buf, size_t len, struct proxy_hdr *h,
                     const char **why)
{
    for (size_t i = 0; i < len; i++) {
        ssize_t n = proxy_header_len(buf, i, why);
        cr_assert(n == 0 || n == (ssize_t)len, "prefix %zu of %zu: %zd (%s)", i,
                  len, n, n < 0 ? *why : "");
    }
    cr_assert_eq(proxy_header_len(buf, len, why), (ssize_t)len);
    return proxy_parse(buf, len, h, why);
}

static int v1(const char *line, struct proxy_hdr *h, const char **why)
{
    ssize_t n = proxy_header_len((const void *)line, strlen(line), why);

    if (n != (ssize_t)strlen(line))
        return -1;
    return proxy_parse((const void *)line, strlen(line), h, why);
}

Test(proxy, v1_tcp4_and_tcp6)
{
    const char      *t4 = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
    const char      *t6 = "PROXY TCP6 2001:db8::1 ::1 1 65535\r\n";
    struct proxy_hdr h;
    const char      *why = "";

    cr_assert_eq(parse_all(t4, strlen(t4), &h, &why), 0, "%s", why);
    cr_expect_eq(h.version, 1);
    src_is(&h, AF_INET, "192.0.2.1", 56324);
    cr_assert_eq(parse_all(t6, strlen(t6), &h, &why), 0, "%s", why);
    src_is(&h, AF_INET6, "2001:db8::1", 1);
}

Test(proxy, v1_unknown_keeps_the_connection)
{
    struct proxy_hdr h;
    const char      *why = "";

    cr_assert_eq(v1("PROXY UNKNOWN\r\n", &h, &why), 0, "%s", why);
    cr_expect_eq(h.local, 1);
    cr_assert_eq(
        v1("PROXY UNKNOWN ffff:f...f:ffff 1.2.3.4 65535 65535\r\n", &h, &why),
        0, "%s", why);
    cr_expect_eq(h.local, 1);
}

Test(proxy, v1_malformed)
{
    static const char *const bad[] = {
        "PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\n", /* port */
        "PROXY TCP4 1.2.3.4 5.6.7.8 080 80\r\n",   /* leading zero */
        "PROXY TCP4 1.2.3.4 5.6.7.8 +80 80\r\n",   /* sign */
        "PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n",       /* a field short */
        "PROXY TCP4 1.2.3.4 5.6.7.8 80 80 9\r\n",  /* one too many */
        "PROXY TCP4 1.2.3.4  5.6.7.8 80 80\r\n",   /* two spaces */
        "PROXY TCP4 ::1 5.6.7.8 80 80\r\n",        /* family */
        "PROXY TCP6 1.2.3.4 ::1 80 80\r\n",        /* family */
        "PROXY TCP4 1.2.3.256 5.6.7.8 80 80\r\n",  /* address */
        "PROXY UDP4 1.2.3.4 5.6.7.8 80 80\r\n",    /* protocol */
        "PROXY TCP4 1.2.3.4 5.6.7.8 80 80 \r\n",   /* trailing space */
        "PROXY \r\n",
    };
    struct proxy_hdr h;
    const char      *why = NULL;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        cr_expect_eq(v1(bad[i], &h, &why), -1, "accepted: %s", bad[i]);
        cr_expect_not_null(why, "no reason for %s", bad[i]);
    }
}

Test(proxy, v1_framing_is_refused_early)
{
    const char *why = "";
    char        longline[200];

    cr_expect_eq(proxy_header_len((const void *)"GET / HTTP/1.1\r\n", 16, &why),
                 -1);
    cr_expect_eq(proxy_header_len((const void *)"PROXI", 5, &why), -1);
    cr_expect_eq(proxy_header_len((const void *)"PROXY TCP4 x\n", 13, &why), -1,
                 "LF without CR");
    cr_expect_eq(proxy_header_len((const void *)"PROXY TCP4\rx", 12, &why), -1,
                 "CR without LF");
    memset(longline, 'a', sizeof longline);
    memcpy(longline, "PROXY ", 6);
    cr_expect_eq(proxy_header_len((const void *)longline, 106, &why), 0);
    cr_expect_eq(proxy_header_len((const void *)longline, 107, &why), -1,
                 "no CRLF within 107 bytes");
    /* Exactly 107 with its CRLF is fine. */
    longline[105] = '\r';
    longline[106] = '\n';
    cr_expect_eq(proxy_header_len((const void *)longline, 107, &why), 107);
}

Test(proxy, v2_proxy_tcp4_tcp6_with_tlvs)
{
    const unsigned char a4[12] = {203, 0, 113,  7,    10, 0,
                                  0,   1, 0x1f, 0x90, 0,  80};
    unsigned char       a6[36] = {0x20, 0x01, 0x0d, 0xb8};
    unsigned char       buf[256];
    struct proxy_hdr    h;
    const char         *why = "";
    size_t              n;

    n = v2(buf, 0x21, 0x11, a4, sizeof a4, 0);
    cr_assert_eq(parse_all(buf, n, &h, &why), 0, "%s", why);
    cr_expect_eq(h.version, 2);
    src_is(&h, AF_INET, "203.0.113.7", 8080);
    a6[15] = 9;
    a6[32] = 0x12, a6[33] = 0x34;
    n = v2(buf, 0x21, 0x21, a6, sizeof a6, 100);
    cr_assert_eq(parse_all(buf, n, &h, &why), 0, "%s", why);
    src_is(&h, AF_INET6, "2001:db8::9", 0x1234);
    n = v2(buf, 0x21, 0x12, a4, sizeof a4, 3); /* UDP4 */
    cr_assert_eq(parse_all(buf, n, &h, &why), 0, "%s", why);
    src_is(&h, AF_INET, "203.0.113.7", 8080);
}

Test(proxy, v2_local_unspec_and_unix_keep_the_connection)
{
    unsigned char    buf[512], addr[216] = {0};
    struct proxy_hdr h;
    const char      *why = "";
    size_t           n;

    n = v2(buf, 0x20, 0x00, addr, 0, 0);
    cr_assert_eq(parse_all(buf, n, &h, &why), 0, "%s", why);
    cr_expect_eq(h.local, 1);
    n = v2(buf, 0x20, 0x11, addr, 12, 0); /* LOCAL ignores addresses */
    cr_assert_eq(parse_all(buf, n, &h, &why), 0, "%s", why);
    cr_expect_eq(h.local, 1);
    n = v2(buf, 0x21, 0x31, addr, 216, 0);
    cr_assert_eq(parse_all(buf, n, &h, &why), 0, "%s", why);
    cr_expect_eq(h.local, 1);
    n = v2(buf, 0x21, 0x00, addr, 0, 0);
    cr_assert_eq(parse_all(buf, n, &h, &why), 0, "%s", why);
    cr_expect_eq(h.local, 1);
}

Test(proxy, v2_malformed)
{
    unsigned char    buf[64], addr[36] = {0};
    struct proxy_hdr h;
    const char      *why = "";
    size_t           n;

    n = v2(buf, 0x11, 0x11, addr, 12, 0); /* version 1 */
    cr_expect_eq(proxy_header_len(buf, 13, &why), -1);
    n = v2(buf, 0x22, 0x11, addr, 12, 0); /* command 2 */
    cr_expect_eq(proxy_header_len(buf, 13, &why), -1);
    n = v2(buf, 0x21, 0x11, addr, 8, 0); /* too short for TCP4 */
    cr_expect_eq(proxy_parse(buf, n, &h, &why), -1);
    n = v2(buf, 0x21, 0x21, addr, 12, 0); /* too short for TCP6 */
    cr_expect_eq(proxy_parse(buf, n, &h, &why), -1);
    n = v2(buf, 0x21, 0x41, addr, 12, 0); /* family 4 */
    cr_expect_eq(proxy_parse(buf, n, &h, &why), -1);
    buf[0] = 0x0e; /* not the signature */
    cr_expect_eq(proxy_header_len(buf, 1, &why), -1);
    cr_expect_eq(proxy_parse(buf, n, &h, &why), -1);
}

Test(proxy, v2_length_limit_and_incomplete)
{
    unsigned char    buf[16];
    struct proxy_hdr h;
    const char      *why = "";

    memcpy(buf, sig, 12);
    buf[12] = 0x21;
    buf[13] = 0x11;
    buf[14] = (PROXY_MAX - 16) >> 8;
    buf[15] = (PROXY_MAX - 16) & 0xff;
    cr_expect_eq(proxy_header_len(buf, 16, &why), PROXY_MAX);
    buf[15]++;
    cr_expect_eq(proxy_header_len(buf, 16, &why), -1, "past PROXY_MAX");
    buf[15]--;
    cr_expect_eq(proxy_parse(buf, 16, &h, &why), -1, "incomplete");
}
