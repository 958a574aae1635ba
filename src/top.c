/*
 * top.c -- `prefork -s top`: a live view of a running master, as htop,
 * uwsgitop or `apachectl fullstatus` show theirs.
 *
 * Once a second it copies the status file (as `-s status` does) and draws
 * one frame: per service the requests per second and the 50th and 99th
 * percentiles of their durations over the last second (from the
 * scoreboard's histograms: the difference between two copies), its
 * workers by state, open connections, listen queue and deaths; then the
 * last deaths' records.  The first frame, with nothing to compare with,
 * shows averages since the master started.
 *
 * Plain ANSI: the alternate screen, the cursor hidden, and the terminal
 * put in non-canonical mode without echo so that `q` quits at once.  Each
 * is undone on the way out, by `q`, Ctrl-C (SIGINT), SIGTERM or SIGHUP:
 * their handlers only raise a flag, which the wait in poll() sees.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "metrics.h"
#include "scoreboard.h"
#include "top.h"

#define NAME_WIDTH 16

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

/* What the last frame saw of one service, for its rates. */
struct prev {
    char     name[SB_NAME_MAX];
    uint64_t requests;
    uint64_t hist[SB_BUCKETS];
};

struct view {
    int            tty; /* drawing on a terminal: clear and redraw */
    const char    *el;  /* what ends a line: erase its rest on a terminal */
    int            raw; /* the terminal's mode is ours to give back */
    struct termios saved;
    struct prev   *prev;
    size_t         nprev;
    int64_t        prev_ms; /* when the last copy was taken; 0: none */
};

/* --- the terminal ------------------------------------------------------------ */

static int signals_catch(void)
{
    struct sigaction sa;
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop; /* no SA_RESTART: poll() returns at once */
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) == -1)
            return -1;
    return 0;
}

static void screen_take(struct view *v)
{
    struct termios t;

    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &v->saved) == 0) {
        t = v->saved;
        t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        t.c_cc[VMIN] = 0;
        t.c_cc[VTIME] = 0;
        v->raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
    }
    fputs("\033[?1049h\033[?25l", stdout);
}

static void screen_give_back(struct view *v)
{
    fputs("\033[?25h\033[?1049l", stdout);
    fflush(stdout);
    if (v->raw)
        (void)tcsetattr(STDIN_FILENO, TCSANOW, &v->saved);
    v->raw = 0;
}

/* Wait up to ms for the next frame; 1 when the user asked to quit. */
static int wait_key(const struct view *v, int ms)
{
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    char          ch;

    if (!v->raw) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

        nanosleep(&ts, NULL); /* a signal cuts it short */
        return stop;
    }
    if (poll(&p, 1, ms) == 1 && read(STDIN_FILENO, &ch, 1) == 1 &&
        (ch == 'q' || ch == 'Q'))
        return 1;
    return stop;
}

/* --- one frame --------------------------------------------------------------- */

static void duration(char *buf, size_t len, double s)
{
    if (s < 0)
        snprintf(buf, len, "-");
    else if (s < 1)
        snprintf(buf, len, "%.2fms", s * 1000);
    else
        snprintf(buf, len, "%.2fs", s);
}

static const struct prev *prev_of(const struct view *v, const char *name)
{
    for (size_t i = 0; i < v->nprev; i++)
        if (strcmp(v->prev[i].name, name) == 0)
            return &v->prev[i];
    return NULL;
}

/* The listen queues of e, summed: "3/511", or "-" when none is TCP. */
static void queue_text(char *buf, size_t len, const struct sb_service *e)
{
    uint64_t q = 0, lim = 0;
    int      any = 0;

    for (uint32_t i = 0; i < e->nqueues && i < SB_QUEUES; i++)
        if (e->queues[i].queue != SB_QUEUE_NONE) {
            q += e->queues[i].queue;
            lim += e->queues[i].limit;
            any = 1;
        }
    if (any)
        snprintf(buf, len, "%" PRIu64 "/%" PRIu64, q, lim);
    else
        snprintf(buf, len, "-");
}

static void service_line(FILE *f, const struct view *v,
                         const struct metrics_svc *m, double secs,
                         struct prev *keep)
{
    const struct prev *p = prev_of(v, m->e->name);
    uint64_t           hist[SB_BUCKETS], deaths = 0, reqs;
    char               p50[16], p99[16], queue[32];

    reqs = m->ctr.requests;
    for (size_t b = 0; b < SB_BUCKETS; b++)
        hist[b] = m->ctr.hist[b];
    if (p != NULL && reqs >= p->requests) {
        reqs -= p->requests;
        for (size_t b = 0; b < SB_BUCKETS; b++)
            hist[b] -= hist[b] >= p->hist[b] ? p->hist[b] : hist[b];
    }
    duration(p50, sizeof(p50), metrics_quantile(hist, 0.50));
    duration(p99, sizeof(p99), metrics_quantile(hist, 0.99));
    queue_text(queue, sizeof(queue), m->e);
    for (size_t r = 0; r < SB_NDEATH_REASONS; r++)
        deaths += m->deaths[r];
    fprintf(
        f,
        "%-*.*s %9.1f %9s %9s %5u %5u %5u %5u %7" PRIu64 " %11s %7" PRIu64 "%s",
        NAME_WIDTH, NAME_WIDTH, m->e->name,
        secs > 0 ? (double)reqs / secs : 0.0, p50, p99, m->workers[SLOT_IDLE],
        m->workers[SLOT_BUSY], m->workers[SLOT_STARTING],
        m->workers[SLOT_EXITING], m->open_conns, queue, deaths, v->el);
    snprintf(keep->name, sizeof(keep->name), "%s", m->e->name);
    keep->requests = m->ctr.requests;
    memcpy(keep->hist, m->ctr.hist, sizeof(keep->hist));
}

/* The value of "key":"..." or "key":N in a death record, into buf. */
static void field(const char *json, const char *key, char *buf, size_t len)
{
    char        pat[32];
    const char *p;
    size_t      n;

    snprintf(pat, sizeof(pat), "\"%s\":", key);
    buf[0] = '\0';
    if ((p = strstr(json, pat)) == NULL)
        return;
    p += strlen(pat);
    if (*p == '"')
        p++;
    n = strcspn(p, "\",}");
    if (n >= len)
        n = len - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
}

static void deaths_lines(FILE *f, const struct view *v,
                         const struct sb_snapshot *snap)
{
    char when[40], svc[48], pid[16], why[32], sig[16];

    fprintf(f, "%slast deaths%s", v->el, v->el);
    if (snap->ndeaths == 0)
        fprintf(f, "  none%s", v->el);
    for (size_t i = 0; i < snap->ndeaths; i++) {
        field(snap->deaths[i], "time", when, sizeof(when));
        field(snap->deaths[i], "service", svc, sizeof(svc));
        field(snap->deaths[i], "pid", pid, sizeof(pid));
        field(snap->deaths[i], "reason", why, sizeof(why));
        field(snap->deaths[i], "signal_name", sig, sizeof(sig));
        fprintf(f, "  %s  %s  worker %s  %s%s%s%s", when, svc, pid, why,
                sig[0] != '\0' ? " SIG" : "", sig, v->el);
    }
}

static int frame(struct view *v, const struct sb_snapshot *snap, int64_t now)
{
    struct metrics_svc m;
    struct prev       *keep = calloc(snap->nsvc + 1, sizeof(*keep));
    char              *buf = NULL;
    size_t             len = 0, n = 0;
    FILE              *f = open_memstream(&buf, &len);
    int64_t            up = now - snap->start_mono_ms;
    double             secs;

    if (keep == NULL || f == NULL) {
        free(keep);
        if (f != NULL)
            fclose(f);
        free(buf);
        return -1;
    }
    secs = v->prev_ms != 0 ? (double)(now - v->prev_ms) / 1000.0
                           : (double)(up > 0 ? up : 1) / 1000.0;
    if (v->tty)
        fputs("\033[H", f);
    fprintf(f,
            "prefork %s  master %d  up %" PRId64 "s  generation %u  "
            "reload %s  (%s)%s%s",
            snap->version, (int)snap->master_pid, up > 0 ? up / 1000 : 0,
            snap->generation,
            snap->reload_state[0] != '\0' ? snap->reload_state : "none",
            v->prev_ms != 0 ? "last second; q quits" : "since start", v->el,
            v->el);
    fprintf(f, "%-*s %9s %9s %9s %5s %5s %5s %5s %7s %11s %7s%s", NAME_WIDTH,
            "SERVICE", "REQ/S", "P50", "P99", "IDLE", "BUSY", "START", "EXIT",
            "CONNS", "QUEUE", "DEATHS", v->el);
    for (size_t i = 0; i < snap->nsvc; i++)
        if (metrics_service(snap, i, &m))
            service_line(f, v, &m, secs, &keep[n++]);
    deaths_lines(f, v, snap);
    if (v->tty)
        fputs("\033[J", f);
    if (fclose(f) == EOF) {
        free(keep);
        free(buf);
        return -1;
    }
    free(v->prev);
    v->prev = keep;
    v->nprev = n;
    v->prev_ms = now;
    n = fwrite(buf, 1, len, stdout);
    free(buf);
    return n == len && fflush(stdout) == 0 ? 0 : -1;
}

int top_run(const struct scoreboard *sb, int frames)
{
    struct view        v = {.tty = isatty(STDOUT_FILENO) && frames != 1};
    struct sb_snapshot snap;
    char               err[512];
    int                rc = 0, shown = 0;

    v.el = v.tty ? "\033[K\n" : "\n";
    if (signals_catch() == -1) {
        fprintf(stderr, "prefork: sigaction: %s\n", strerror(errno));
        return 1;
    }
    if (v.tty)
        screen_take(&v);
    while (!stop) {
        if (scoreboard_snapshot(sb, &snap, err, sizeof(err)) == -1) {
            rc = 1;
            break;
        }
        if (!v.tty && shown > 0)
            putchar('\n'); /* frames one after another, for a pipe */
        if (frame(&v, &snap, mono_ms()) == -1) {
            snprintf(err, sizeof(err), "writing: %s", strerror(errno));
            rc = 1;
        }
        scoreboard_snapshot_free(&snap);
        shown++;
        if (rc != 0 || (frames > 0 && shown >= frames))
            break;
        if (wait_key(&v, 1000))
            break;
    }
    if (v.tty)
        screen_give_back(&v);
    free(v.prev);
    if (rc != 0)
        fprintf(stderr, "prefork: %s\n", err);
    return rc;
}
