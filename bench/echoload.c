/*
 * echoload.c -- the benchmark's load generator for echo servers (RFC 862),
 * TCP and UDP, with every reply checked byte for byte.
 *
 *     echoload [-u] [-r] -p PORT [-H ADDR] [-c CONNS] [-s SIZE]
 *              [-d SECONDS] [-n COUNT] [-w WINDOW] [-t TIMEOUT_MS]
 *
 * TCP (default): CONNS connections (default 50), each sends a SIZE-byte
 * message (default 64), waits for exactly SIZE bytes back, compares them
 * with what it sent, and sends the next one.  Every message is different
 * (connection number, sequence number, a pattern from both), so an echo of
 * the wrong message or of another client's bytes is caught.  With -r each
 * client closes its connection after every echo and connects again, one
 * message per connection, and a round trip's time includes the connect.
 *
 * UDP (-u): CONNS connected sockets, each keeping up to WINDOW datagrams
 * (default 4) outstanding; a reply frees its slot and a new datagram goes
 * out.  A datagram unanswered for TIMEOUT_MS (default 200) is counted lost
 * and replaced; a reply to one already given up is counted late.
 *
 * The run stops after SECONDS (default 3) or COUNT round trips (default
 * 10,000,000), whichever comes first; an alarm at SECONDS + 10 ends a run
 * that cannot even connect.  One line goes to stdout:
 *
 *     mode=tcp conns=50 size=64 seconds=3.000 count=... rate=... p50_us=...
 *     p99_us=... errors=0 mismatches=0 lost=0 late=0
 *
 * Exit status: 0, or 1 if any reply did not match (or, for TCP, a
 * connection failed), 2 for a usage or set-up error.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE   4096
#define MAX_WINDOW 64
#define HDR_SIZE   12     /* uint32 connection number, uint64 sequence number */
#define HIST_US    100000 /* latency histogram: 1 us buckets up to 100 ms */

struct opts {
    int         udp;
    const char *addr;
    int         port;
    int         conns;
    int         size;
    double      seconds;
    long long   count;
    int         window;
    int         timeout_ms;
    int         reconnect;
};

struct slot {
    int      used;
    uint64_t seq;
    uint64_t sent_ns;
};

struct client {
    int           fd;
    uint32_t      id;
    int           dead;
    uint64_t      seq;     /* next sequence number to send */
    size_t        sent;    /* TCP: bytes of the current message sent */
    size_t        got;     /* TCP: bytes of its echo received */
    uint64_t      sent_ns; /* TCP: when the current message went out */
    int           want_out;
    unsigned char msg[MAX_SIZE];
    unsigned char in[MAX_SIZE];
    struct slot   slots[MAX_WINDOW]; /* UDP */
};

struct stats {
    long long count, errors, mismatches, lost, late;
    uint32_t *hist; /* HIST_US + 1 buckets, the last for "longer" */
};

static struct opts o = {
    .addr = "127.0.0.1",
    .conns = 50,
    .size = 64,
    .seconds = 3,
    .count = 10000000,
    .window = 4,
    .timeout_ms = 200,
};
static struct stats   st;
static int            epfd = -1;
static struct client *clients;

static void fail(const char *what)
{
    fprintf(stderr, "echoload: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void on_alarm(int sig)
{
    static const char msg[] = "echoload: run did not finish in time\n";

    (void)sig;
    (void)!write(2, msg, sizeof msg - 1);
    _exit(2);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The message for (id, seq): a header naming it, then a pattern of both. */
static void fill(unsigned char *buf, uint32_t id, uint64_t seq)
{
    memcpy(buf, &id, sizeof id);
    memcpy(buf + 4, &seq, sizeof seq);
    for (int i = HDR_SIZE; i < o.size; i++)
        buf[i] = (unsigned char)('!' + (id * 7 + seq * 13 + (uint64_t)i) % 90);
}

static void record(uint64_t sent_ns, uint64_t now)
{
    uint64_t us = (now - sent_ns) / 1000;

    st.hist[us < HIST_US ? us : HIST_US]++;
    st.count++;
}

static double percentile(double p)
{
    long long want = (long long)(p * (double)st.count), seen = 0;

    for (int i = 0; i <= HIST_US; i++) {
        seen += st.hist[i];
        if (seen > want)
            return i;
    }
    return HIST_US;
}

static void watch(struct client *c, int out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0u)};

    ev.data.ptr = c;
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        fail("epoll_ctl");
    c->want_out = out;
}

static void kill_client(struct client *c)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->dead = 1;
}

/*
 * -r makes a connection per echo, and the client, closing first, keeps
 * each one's port in TIME_WAIT; one source address then caps the rate at
 * what its ports allow (about 14,000 a second here).  Towards an address
 * on 127/8 the source address goes round 127.0.0.1-16 instead, each with
 * ports of its own.
 */
static void spread_source(int fd, const struct sockaddr_in *to)
{
    static unsigned    n;
    struct sockaddr_in from = {.sin_family = AF_INET};
    int                one = 1;

    if ((ntohl(to->sin_addr.s_addr) >> 24) != 127)
        return;
    from.sin_addr.s_addr = htonl(0x7f000001u + n++ % 16);
    if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) <
            0 ||
        bind(fd, (struct sockaddr *)&from, sizeof from) < 0)
        fail("bind");
}

static int open_socket(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((unsigned short)o.port)};
    int                one = 1;
    int                fd =
        socket(AF_INET, (o.udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);

    if (fd < 0)
        fail("socket");
    if (inet_pton(AF_INET, o.addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "echoload: bad address %s\n", o.addr);
        exit(2);
    }
    if (o.reconnect)
        spread_source(fd, &sa);
    /* Blocking connect, bounded by the alarm; then non-blocking. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        fail("connect");
    if (!o.udp)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
        fail("fcntl");
    return fd;
}

/* ---- TCP ---------------------------------------------------------------- */

static void tcp_send(struct client *c)
{
    while (c->sent < (size_t)o.size) {
        ssize_t n = send(c->fd, c->msg + c->sent, (size_t)o.size - c->sent,
                         MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            watch(c, 1);
            return;
        }
        if (n < 0) {
            st.errors++;
            kill_client(c);
            return;
        }
        c->sent += (size_t)n;
    }
    if (c->want_out)
        watch(c, 0);
}

static void tcp_next(struct client *c)
{
    fill(c->msg, c->id, c->seq++);
    c->sent = c->got = 0;
    c->sent_ns = now_ns();
    tcp_send(c);
}

/* Returns 1 when a complete, correct echo has arrived. */
static int tcp_receive(struct client *c)
{
    ssize_t n = recv(c->fd, c->in + c->got, (size_t)o.size - c->got, 0);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0) {
        fprintf(stderr, "echoload: connection %u: %s\n", c->id,
                n == 0 ? "closed by the server" : strerror(errno));
        st.errors++;
        kill_client(c);
        return 0;
    }
    c->got += (size_t)n;
    if (c->got < (size_t)o.size)
        return 0;
    if (memcmp(c->in, c->msg, (size_t)o.size) != 0) {
        fprintf(stderr, "echoload: connection %u: echo %llu differs\n", c->id,
                (unsigned long long)(c->seq - 1));
        st.mismatches++;
        kill_client(c);
        return 0;
    }
    return 1;
}

/* -r: one message per connection. */
static void tcp_reconnect(struct client *c)
{
    struct epoll_event ev = {.events = EPOLLIN};
    uint64_t           t0 = now_ns();

    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = open_socket();
    c->want_out = 0;
    ev.data.ptr = c;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        fail("epoll_ctl");
    tcp_next(c);
    c->sent_ns = t0;
}

static void tcp_event(struct client *c, uint32_t events, int go_on)
{
    if ((events & EPOLLOUT) && c->sent < (size_t)o.size)
        tcp_send(c);
    if (c->dead || !(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        return;
    if (tcp_receive(c)) {
        record(c->sent_ns, now_ns());
        if (go_on && o.reconnect)
            tcp_reconnect(c);
        else if (go_on)
            tcp_next(c);
    }
}

/* ---- UDP ---------------------------------------------------------------- */

static void udp_fill_window(struct client *c, uint64_t now)
{
    unsigned char buf[MAX_SIZE];

    for (int i = 0; i < o.window; i++) {
        struct slot *s = &c->slots[i];

        if (s->used)
            continue;
        fill(buf, c->id, c->seq);
        if (send(c->fd, buf, (size_t)o.size, 0) < 0) {
            if (errno != EAGAIN && errno != ENOBUFS)
                st.errors++; /* ECONNREFUSED: nobody on the port (yet) */
            return;
        }
        s->used = 1;
        s->seq = c->seq++;
        s->sent_ns = now;
    }
}

static struct slot *udp_find(struct client *c, uint64_t seq)
{
    for (int i = 0; i < o.window; i++)
        if (c->slots[i].used && c->slots[i].seq == seq)
            return &c->slots[i];
    return NULL;
}

static void udp_reply(struct client *c, const unsigned char *buf, ssize_t n,
                      uint64_t now)
{
    unsigned char want[MAX_SIZE];
    uint32_t      id;
    uint64_t      seq;
    struct slot  *s;

    if (n < HDR_SIZE) {
        st.mismatches++;
        return;
    }
    memcpy(&id, buf, sizeof id);
    memcpy(&seq, buf + 4, sizeof seq);
    s = id == c->id ? udp_find(c, seq) : NULL;
    if (s == NULL && id == c->id && seq < c->seq) {
        st.late++;
        return;
    }
    fill(want, c->id, seq);
    if (s == NULL || n != o.size || memcmp(buf, want, (size_t)o.size) != 0) {
        fprintf(stderr, "echoload: socket %u: reply %llu differs\n", c->id,
                (unsigned long long)seq);
        st.mismatches++;
        return;
    }
    record(s->sent_ns, now);
    s->used = 0;
}

static void udp_event(struct client *c, int go_on)
{
    unsigned char buf[MAX_SIZE];

    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);

        if (n < 0) {
            if (errno == ECONNREFUSED)
                st.errors++;
            break;
        }
        udp_reply(c, buf, n, now_ns());
    }
    if (go_on)
        udp_fill_window(c, now_ns());
}

static void udp_expire(int go_on)
{
    uint64_t now = now_ns();
    uint64_t limit = (uint64_t)o.timeout_ms * 1000000u;

    for (int i = 0; i < o.conns; i++) {
        struct client *c = &clients[i];

        for (int k = 0; k < o.window; k++) {
            if (c->slots[k].used && now - c->slots[k].sent_ns > limit) {
                c->slots[k].used = 0;
                st.lost++;
            }
        }
        if (go_on)
            udp_fill_window(c, now);
    }
}

/* ---- the run ------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: echoload [-u] [-r] -p PORT [-H ADDR] [-c CONNS] "
                    "[-s SIZE] [-d SECONDS] [-n COUNT] [-w WINDOW] "
                    "[-t TIMEOUT_MS]\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    int ch;

    while ((ch = getopt(argc, argv, "urH:p:c:s:d:n:w:t:")) != -1) {
        switch (ch) {
        case 'u': o.udp = 1; break;
        case 'r': o.reconnect = 1; break;
        case 'H': o.addr = optarg; break;
        case 'p': o.port = atoi(optarg); break;
        case 'c': o.conns = atoi(optarg); break;
        case 's': o.size = atoi(optarg); break;
        case 'd': o.seconds = atof(optarg); break;
        case 'n': o.count = atoll(optarg); break;
        case 'w': o.window = atoi(optarg); break;
        case 't': o.timeout_ms = atoi(optarg); break;
        default: usage();
        }
    }
    if (o.port <= 0 || o.conns < 1 || o.size < HDR_SIZE || o.size > MAX_SIZE ||
        o.seconds <= 0 || o.count < 1 || o.window < 1 ||
        o.window > MAX_WINDOW || o.timeout_ms < 1)
        usage();
}

static void start_clients(void)
{
    uint64_t now;

    for (int i = 0; i < o.conns; i++) {
        struct epoll_event ev = {.events = EPOLLIN};

        clients[i].fd = open_socket();
        clients[i].id = (uint32_t)i;
        ev.data.ptr = &clients[i];
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, clients[i].fd, &ev) < 0)
            fail("epoll_ctl");
    }
    now = now_ns();
    for (int i = 0; i < o.conns; i++) {
        if (o.udp)
            udp_fill_window(&clients[i], now);
        else
            tcp_next(&clients[i]);
    }
}

static void report(double elapsed)
{
    printf("mode=%s conns=%d size=%d seconds=%.3f count=%lld rate=%.1f "
           "p50_us=%.0f p99_us=%.0f errors=%lld mismatches=%lld lost=%lld "
           "late=%lld\n",
           o.udp ? "udp" : "tcp", o.conns, o.size, elapsed, st.count,
           (double)st.count / elapsed, percentile(0.50), percentile(0.99),
           st.errors, st.mismatches, st.lost, st.late);
}

int main(int argc, char **argv)
{
    struct epoll_event evs[256];
    uint64_t           start, end, last_expire;

    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)o.seconds + 10);
    clients = calloc((size_t)o.conns, sizeof *clients);
    st.hist = calloc(HIST_US + 1, sizeof *st.hist);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (clients == NULL || st.hist == NULL || epfd < 0)
        fail("set-up");
    start_clients();
    start = last_expire = now_ns();
    end = start + (uint64_t)(o.seconds * 1e9);
    for (;;) {
        uint64_t now = now_ns();
        int      go_on = now < end && st.count < o.count;
        int      n;

        if (!go_on)
            break;
        if (o.udp && now - last_expire > 10000000u) {
            udp_expire(go_on);
            last_expire = now;
        }
        n = epoll_wait(epfd, evs, 256, 10);
        if (n < 0 && errno != EINTR)
            fail("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct client *c = evs[i].data.ptr;

            if (c->dead)
                continue;
            if (o.udp)
                udp_event(c, go_on);
            else
                tcp_event(c, evs[i].events, go_on);
        }
    }
    report((double)(now_ns() - start) / 1e9);
    return st.mismatches > 0 || (!o.udp && st.errors > 0) ? 1 : 0;
}
