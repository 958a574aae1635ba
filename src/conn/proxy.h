/*
 * proxy.h -- the PROXY protocol header (HAProxy's proxy-protocol.txt),
 * version 1 (text) and version 2 (binary), parsed from bytes in memory.
 */
#ifndef PF_PROXY_H
#define PF_PROXY_H

#include <sys/socket.h>
#include <sys/types.h>

#define PROXY_V1_MAX 107  /* the longest v1 line, CRLF included */
#define PROXY_MAX    4096 /* the longest v2 header accepted (16 + 4080) */

struct proxy_hdr {
    int                     version;  /* 1 or 2 */
    int                     local;    /* LOCAL (v2), UNKNOWN (v1), or a family
                                        not carried (v2 UNSPEC, UNIX): keep
                                        the connection's own addresses */
    struct sockaddr_storage src, dst; /* AF_INET or AF_INET6, when !local */
    socklen_t               srclen, dstlen;
};

/* How long is the header at the start of buf[0..len)?  >0: its total length
 * (may be more than len: read on); 0: every byte so far can belong to a
 * header whose end is not known yet; -1: not a valid PROXY header, *why
 * says why. */
ssize_t proxy_header_len(const unsigned char *buf, size_t len,
                         const char **why);

/* Parse one complete header of exactly len bytes.  0, or -1 with *why. */
int proxy_parse(const unsigned char *buf, size_t len, struct proxy_hdr *h,
                const char **why);

#endif
