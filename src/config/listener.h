/*
 * listener.h -- listen addresses and the sockets bound to them.
 *
 * The master parses every `listen` address while reading the config and
 * binds all of them before it forks; workers only inherit descriptors.
 */
#ifndef PF_LISTENER_H
#define PF_LISTENER_H

#include <stddef.h>
#include <sys/socket.h>

enum addr_kind { ADDR_TCP, ADDR_UDP, ADDR_UNIX };

struct addr {
    enum addr_kind          kind;
    struct sockaddr_storage ss;
    socklen_t               len;
    char                    text[128]; /* canonical: tcp://[::1]:80 */
};

/*
 * Parse one address: HOST:PORT, [V6]:PORT, tcp://..., udp://..., unix:/path
 * (a relative UNIX path is taken from dir).  HOST may be a name, "*" or empty
 * for every IPv4 address.  Returns 0, or -1 with a reason in err.
 */
int addr_parse(const char *text, const char *dir, struct addr *out, char *err,
               size_t errlen);

/* Parse a comma-separated list into a new array the caller frees. */
int addr_parse_list(const char *text, const char *dir, struct addr **out,
                    size_t *n, char *err, size_t errlen);

/*
 * Create, bind and (for streams) listen on a, non-blocking and close-on-exec.
 * A UNIX socket file left by a dead server is replaced; one a live server
 * answers on is not.  Returns the descriptor, or -1 with a reason in err.
 */
int listener_open(const struct addr *a, int backlog, int reuseport, char *err,
                  size_t errlen);

/*
 * Take over a socket bound by someone else (systemd, an old master): find
 * its address and kind, check that a stream socket listens, and make it
 * non-blocking and close-on-exec.  *reuseport tells whether SO_REUSEPORT is
 * set.  Returns 0, or -1 with a reason in err.
 */
int listener_adopt(int fd, struct addr *a, int *reuseport, char *err,
                   size_t errlen);

/* Remove the socket file of a UNIX listener the master created. */
void listener_unlink(const struct addr *a);

#endif
