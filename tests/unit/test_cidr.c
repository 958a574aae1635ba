/*
 * test_cidr.c -- proxy_from's address ranges: parsing and matching.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "cidr.h"

static int in4(const struct cidr_list *l, const char *a)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};

    cr_assert_eq(inet_pton(AF_INET, a, &sin.sin_addr), 1);
    return cidr_list_match(l, (struct sockaddr *)&sin);
}

static int in6(const struct cidr_list *l, const char *a)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};

    cr_assert_eq(inet_pton(AF_INET6, a, &sin6.sin6_addr), 1);
    return cidr_list_match(l, (struct sockaddr *)&sin6);
}

Test(cidr, ranges_and_hosts)
{
    struct cidr_list l;
    char             err[128] = "";

    cr_assert_eq(cidr_list_parse(" 10.0.0.0/8,192.0.2.5 , 2001:db8::/32,::1",
                                 &l, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(l.n, 4);
    cr_expect(in4(&l, "10.255.1.2"));
    cr_expect(!in4(&l, "11.0.0.1"));
    cr_expect(in4(&l, "192.0.2.5"));
    cr_expect(!in4(&l, "192.0.2.6"));
    cr_expect(in6(&l, "2001:db8:ffff::1"));
    cr_expect(!in6(&l, "2001:db9::1"));
    cr_expect(in6(&l, "::1"));
    cr_expect(in6(&l, "::ffff:10.1.1.1"), "v4-mapped matches IPv4 ranges");
    cr_expect(!in6(&l, "::ffff:11.1.1.1"));
    cidr_list_free(&l);
}

Test(cidr, zero_and_full_prefixes)
{
    struct cidr_list l;
    char             err[128] = "";

    cr_assert_eq(cidr_list_parse("0.0.0.0/0, ::/0", &l, err, sizeof err), 0,
                 "%s", err);
    cr_expect(in4(&l, "203.0.113.9"));
    cr_expect(in6(&l, "fe80::1"));
    cidr_list_free(&l);
    cr_assert_eq(
        cidr_list_parse("1.2.3.4/32, ::2/128, 1.2.3.0/25", &l, err, sizeof err),
        0, "%s", err);
    cr_expect(in4(&l, "1.2.3.4"));
    cr_expect(in4(&l, "1.2.3.127"));
    cr_expect(!in4(&l, "1.2.3.128"));
    cr_expect(!in6(&l, "::3"));
    cidr_list_free(&l);
}

Test(cidr, unix_peers_never_match)
{
    struct cidr_list   l;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    char               err[128] = "";

    cr_assert_eq(cidr_list_parse("0.0.0.0/0", &l, err, sizeof err), 0);
    cr_expect(!cidr_list_match(&l, (struct sockaddr *)&sun));
    cidr_list_free(&l);
}

Test(cidr, errors_say_what)
{
    static const struct {
        const char *in, *says;
    } bad[] = {
        {"10.0.0.1/8", "bits set"},     {"10.0.0.0/33", "0 to 32"},
        {"::/129", "0 to 128"},         {"10.0.0.0/", "prefix"},
        {"10.0.0.0/-1", "prefix"},      {"10.0.0.0/8x", "prefix"},
        {"1.2.3.4,,5.6.7.8", "empty"},  {"", "empty"},
        {"example.com", "not an IPv4"}, {"1.2.3.4, ", "empty"},
    };
    struct cidr_list l = {0};
    char             err[128];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_expect_eq(cidr_list_parse(bad[i].in, &l, err, sizeof err), -1,
                     "accepted '%s'", bad[i].in);
        cr_expect(strstr(err, bad[i].says) != NULL, "'%s': %s", bad[i].in, err);
        cr_expect_eq(l.n, 0);
    }
}
