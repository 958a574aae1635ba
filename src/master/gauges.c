/*
 * gauges.c -- what the master measures on its tick for the metrics.
 *
 * The listen queues are read here rather than by the status module's
 * worker: a worker holds only its own service's listeners, the master
 * holds every one.  TCP_INFO on a listening socket says how many
 * connections wait in its accept queue (tcpi_unacked) and the backlog
 * (tcpi_sacked), one getsockopt per listener and tick; a queue that stays
 * full says the workers do not keep up, which no per-request count shows.
 * Open descriptors are counted in /proc/PID/fd, which after a worker drops
 * its privileges only the master may read.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "gauges.h"
#include "pool.h"
#include "scoreboard.h"
#include "service.h"

/* The accept queue of l, summed over its sockets (one per worker slot
 * with reuseport).  Not a TCP listener: SB_QUEUE_NONE. */
static struct sb_queue queue_of(const struct lsock *l)
{
    struct sb_queue q = {.queue = SB_QUEUE_NONE};
    struct tcp_info ti;
    socklen_t       len;

    if (l->addr.kind != ADDR_TCP)
        return q;
    for (size_t i = 0; i < l->nfds; i++) {
        len = sizeof(ti);
        if (l->fds[i] == -1 ||
            getsockopt(l->fds[i], IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
            continue;
        if (q.queue == SB_QUEUE_NONE)
            q.queue = 0;
        q.queue += ti.tcpi_unacked;
        q.limit += ti.tcpi_sacked;
    }
    return q;
}

/* Per listen address of s, in the order the status file lists them. */
static void service_queues(struct scoreboard *sb, const struct service *s)
{
    struct sb_queue q[SB_QUEUES];
    size_t          n = 0;

    for (size_t j = 0; j < s->sc->nlisten && n < SB_QUEUES; j++, n++) {
        q[n].queue = SB_QUEUE_NONE;
        q[n].limit = 0;
        for (size_t k = 0; k < s->nls; k++)
            if (strcmp(s->ls[k]->addr.text, s->sc->listen[j].text) == 0) {
                q[n] = queue_of(s->ls[k]);
                break;
            }
    }
    scoreboard_set_queues(sb, s->id, q, n);
}

/* The entries of /proc/PID/fd ("self" for the master), or 0 when it
 * cannot be read (the process is gone). */
static unsigned count_fds(const char *pid)
{
    char           path[64];
    DIR           *d;
    struct dirent *de;
    unsigned       n = 0;

    snprintf(path, sizeof(path), "/proc/%s/fd", pid);
    if ((d = opendir(path)) == NULL)
        return 0;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

void gauges_publish(struct pool *p, const struct generation *g)
{
    struct rlimit rl;
    char          pid[24];
    int64_t       limit = -1;

    for (size_t i = 0; i < g->nsvc; i++)
        service_queues(p->sb, &g->svc[i]);
    for (size_t i = 0; i < p->n; i++) {
        snprintf(pid, sizeof(pid), "%d", (int)p->w[i].pid);
        slot_set_fds(&p->sb->slots[p->w[i].slot], count_fds(pid));
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        limit = rl.rlim_cur == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_cur;
    /* One less: the directory being read. */
    scoreboard_set_fds(p->sb, count_fds("self") - 1, limit);
}
