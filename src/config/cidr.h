/*
 * cidr.h -- a list of address ranges ("10.0.0.0/8, 192.0.2.5, ::1") and
 * whether an address is in it.
 */
#ifndef PF_CIDR_H
#define PF_CIDR_H

#include <stddef.h>
#include <sys/socket.h>

struct cidr {
    int           family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned      bits;
};

struct cidr_list {
    struct cidr *v;
    size_t       n;
};

/* Parse a comma-separated list; an address without /N is one host; host
 * bits set past the prefix ("10.0.0.1/8") are an error.  0, or -1 with a
 * message in err (out left empty). */
int  cidr_list_parse(const char *s, struct cidr_list *out, char *err,
                     size_t errlen);
void cidr_list_free(struct cidr_list *l);
/* Is sa in the list?  An IPv4-mapped IPv6 address is matched as IPv4;
 * AF_UNIX and other families never are. */
int cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa);

#endif
