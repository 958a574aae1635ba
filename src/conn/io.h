/*
 * io.h -- a connection's I/O as functions the host can swap.
 *
 * Every byte a module reads from or writes to a stream connection goes
 * through the struct conn_io its connection points at (c->io), as nginx's
 * c->recv and c->send do: plain sockets today; a transport such as TLS
 * replaces the one pointer once its handshake is done, and no module
 * notices.  Each function makes one attempt and never waits: the waiting
 * (poll for pf_read and pf_write, epoll for event-driven modules) is the
 * caller's.  All return -1 with errno EAGAIN when nothing could be done
 * now, and are retried by themselves on EINTR.
 */
#ifndef PF_IO_H
#define PF_IO_H

#include <sys/types.h>
#include <sys/uio.h>

struct conn;

struct conn_io {
    const char *name; /* "plain" or "tls", for log lines */
    /* Bytes now there: a count, 0 at end of stream, -1 with errno. */
    ssize_t (*recv)(struct conn *c, void *buf, size_t len);
    /* As recv, but the bytes stay there for the next recv. */
    ssize_t (*peek)(struct conn *c, void *buf, size_t len);
    /* Send what the transport takes of buf now; more: more follows at
     * once (MSG_MORE), so hold a partial segment back.  The count taken,
     * -1 with errno.  Never raises SIGPIPE. */
    ssize_t (*send)(struct conn *c, const void *buf, size_t len, int more);
    /* As send, for iov[0..iovcnt) in one go (a gather-send). */
    ssize_t (*sendv)(struct conn *c, const struct iovec *iov, int iovcnt,
                     int more);
    /* Send up to len bytes of file fd from *off, advancing *off.  The
     * count taken; 0 when the file ended (it is shorter than it was). */
    ssize_t (*sendfile)(struct conn *c, int fd, off_t *off, size_t len);
    /* Send what is held back now and from here on (TCP_NODELAY). */
    int (*nodelay)(struct conn *c);
    /* Bytes the transport has read and holds, which poll() cannot see
     * (TLS records read ahead but not yet taken); NULL: none ever.  It
     * may open the next record to know; 1 stands for an end or error
     * that the next recv returns. */
    size_t (*pending)(struct conn *c);
};

/* Plain sockets: the system calls on the connection's descriptor. */
extern const struct conn_io conn_io_plain;

#endif
