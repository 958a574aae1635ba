/*
 * metrics.c -- the scoreboard in the Prometheus text format 0.0.4 and in
 * OpenMetrics 1.0.0, for the status module's GET /metrics.
 *
 * Both formats carry the same families in the same order; they differ in
 * three places: an OpenMetrics counter family is named without its
 * `_total` (which its samples keep), build information is an `info`
 * family, and the text ends with `# EOF`.  Every name follows Prometheus'
 * rules: a `prefork_` prefix, base units (`_seconds`, `_bytes`), `_total`
 * on counters.  A service name is an INI section name and may hold any
 * byte: label values are escaped (`\\`, `\"`, `\n`) and bytes that are not
 * valid UTF-8 become U+FFFD, so any name makes a valid exposition.
 * Numbers are integers, or decimal fractions printed from integers, so
 * the output is the same on every machine (the unit tests compare it byte
 * for byte).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prefork/module.h>

#include "metrics.h"
#include "scoreboard.h"
#include "status.h"

/* The histogram's bounds as its `le` labels, sb_bucket_us in seconds. */
static const char *const bucket_le[SB_BUCKETS] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
    "0.01",   "0.025",   "0.05",   "0.1",   "0.25",   "0.5",
    "1.0",    "2.5",     "5.0",    "10.0",  "+Inf",
};

static const char *const state_label[] = {
    [SLOT_STARTING] = "starting",
    [SLOT_IDLE] = "idle",
    [SLOT_BUSY] = "busy",
    [SLOT_EXITING] = "exiting",
};

/* --- summing a service ------------------------------------------------------ */

static void counters_sum(struct sb_counters *to, const struct sb_counters *from)
{
    uint64_t       *t = (uint64_t *)(void *)to;
    const uint64_t *f = (const uint64_t *)(const void *)from;

    for (size_t i = 0; i < SB_COUNTERS; i++)
        t[i] += f[i];
}

int metrics_service(const struct sb_snapshot *snap, size_t g,
                    struct metrics_svc *out)
{
    size_t i, nworkers = 0;

    for (i = 0; i < g; i++)
        if (sb_same_name(snap, g, i))
            return 0;
    memset(out, 0, sizeof(*out));
    out->e = &snap->svc[g];
    for (i = 0; i < snap->nslots; i++) {
        const struct slot *s = &snap->slots[i];

        if (!sb_in_group(snap, g, s))
            continue;
        nworkers++;
        if (s->state > SLOT_FREE && s->state <= SLOT_EXITING)
            out->workers[s->state]++;
        out->served += s->served;
        out->open_conns += s->open_conns;
        out->fds += s->fds;
        counters_sum(&out->ctr, &s->ctr);
    }
    if (!(out->e->flags & SB_SVC_CURRENT) && nworkers == 0)
        return 0;
    for (i = g; i < snap->nsvc; i++) {
        const struct sb_service *e = &snap->svc[i];

        if (!sb_same_name(snap, g, i))
            continue;
        out->served += e->exited_served;
        counters_sum(&out->ctr, &e->exited);
        for (size_t r = 0; r < SB_NDEATH_REASONS; r++)
            out->deaths[r] += e->deaths[r];
        out->respawns += e->respawns;
    }
    return 1;
}

double metrics_quantile(const uint64_t hist[SB_BUCKETS], double q)
{
    uint64_t total = 0, below = 0;
    double   rank, lo, hi;
    size_t   b;

    for (b = 0; b < SB_BUCKETS; b++)
        total += hist[b];
    if (total == 0)
        return -1;
    rank = q * (double)total;
    for (b = 0; b < SB_BUCKETS - 1; b++) {
        if ((double)(below + hist[b]) >= rank)
            break;
        below += hist[b];
    }
    lo = b == 0 ? 0 : sb_bucket_us[b - 1] / 1e6;
    if (b == SB_BUCKETS - 1)
        return lo;
    hi = sb_bucket_us[b] / 1e6;
    if (hist[b] == 0)
        return hi;
    return lo + (hi - lo) * ((rank - (double)below) / (double)hist[b]);
}

/* --- writing ------------------------------------------------------------------ */

struct out {
    FILE *f;
    int   om; /* OpenMetrics */
};

/* A label value, quoted and escaped. */
static void label_value(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t               n;

    putc('"', f);
    while (*p != '\0') {
        if (*p == '\\' || *p == '"') {
            putc('\\', f);
            putc(*p++, f);
        } else if (*p == '\n') {
            fputs("\\n", f);
            p++;
        } else if ((n = status_utf8_len(p)) == 0) {
            fputs("\xef\xbf\xbd", f);
            p++;
        } else {
            fwrite(p, 1, n, f);
            p += n;
        }
    }
    putc('"', f);
}

/* A family's HELP and TYPE lines.  name is the sample name; a counter's
 * family is named without "_total" in OpenMetrics. */
static void family(const struct out *o, const char *name, const char *type,
                   const char *help)
{
    size_t len = strlen(name);

    if (o->om && strcmp(type, "counter") == 0 && len > 6 &&
        strcmp(name + len - 6, "_total") == 0)
        len -= 6;
    if (o->om && strcmp(type, "info") == 0 && len > 5 &&
        strcmp(name + len - 5, "_info") == 0)
        len -= 5;
    if (!o->om && strcmp(type, "info") == 0)
        type = "gauge";
    fprintf(o->f, "# HELP %.*s %s\n# TYPE %.*s %s\n", (int)len, name, help,
            (int)len, name, type);
}

/* name{service="..." then the caller's other labels. */
static void sample_start(const struct out *o, const char *name,
                         const struct sb_service *e)
{
    fprintf(o->f, "%s{service=", name);
    label_value(o->f, e->name);
}

static void sample_u64(const struct out *o, const char *name,
                       const struct sb_service *e, uint64_t v)
{
    sample_start(o, name, e);
    fprintf(o->f, "} %" PRIu64 "\n", v);
}

/* The families of the master's own state. */
static void master_families(const struct out *o, const struct sb_snapshot *snap)
{
    FILE *f = o->f;

    family(o, "prefork_build_info", "info",
           "The version of the running master and its module ABI.");
    fputs("prefork_build_info{version=", f);
    label_value(f, snap->version);
    fprintf(f, ",abi=\"%d.%d\"} 1\n", PF_ABI_MAJOR, PF_ABI_MINOR);
    family(o, "prefork_start_time_seconds", "gauge",
           "When the master started, in seconds since the epoch.");
    fprintf(f, "prefork_start_time_seconds %" PRId64 "\n", snap->start_time);
    family(o, "prefork_generation", "gauge",
           "The number of the running configuration: 1, one more per "
           "reload.");
    fprintf(f, "prefork_generation %u\n", snap->generation);
    family(o, "prefork_canary_on_trial", "gauge",
           "1 while the last reload's workers are on trial (reload_canary).");
    fprintf(f, "prefork_canary_on_trial %d\n",
            strcmp(snap->reload_state, "on trial") == 0);
    family(o, "prefork_reloads_total", "counter", "Reloads by outcome.");
    for (size_t i = 0; i < SB_NRELOAD_OUTCOMES; i++)
        fprintf(f, "prefork_reloads_total{outcome=\"%s\"} %" PRIu64 "\n",
                sb_reload_names[i], snap->reloads[i]);
    family(o, "prefork_max_fds", "gauge",
           "The file descriptor limit of the master and its workers.");
    fprintf(f, "prefork_max_fds %" PRId64 "\n", snap->fd_limit);
    family(o, "prefork_master_open_fds", "gauge",
           "File descriptors the master holds open.");
    fprintf(f, "prefork_master_open_fds %u\n", snap->master_fds);
}

/* Fill v with every service shown; returns their number. */
static size_t services(const struct sb_snapshot *snap, struct metrics_svc *v)
{
    size_t n = 0;

    for (size_t i = 0; i < snap->nsvc; i++)
        if (metrics_service(snap, i, &v[n]))
            n++;
    return n;
}

static void worker_families(const struct out *o, const struct metrics_svc *v,
                            size_t n)
{
    family(o, "prefork_workers", "gauge", "Worker processes by state.");
    for (size_t i = 0; i < n; i++)
        for (int st = SLOT_STARTING; st <= SLOT_EXITING; st++) {
            sample_start(o, "prefork_workers", v[i].e);
            fprintf(o->f, ",state=\"%s\"} %u\n", state_label[st],
                    v[i].workers[st]);
        }
    family(o, "prefork_workers_target", "gauge",
           "The pool size (the minimum of a dynamic pool).");
    for (size_t i = 0; i < n; i++) {
        sample_start(o, "prefork_workers_target", v[i].e);
        fprintf(o->f, "} %" PRId32 "\n", v[i].e->target);
    }
    family(o, "prefork_worker_deaths_total", "counter",
           "Workers that ended abnormally, by reason.");
    for (size_t i = 0; i < n; i++)
        for (size_t r = 0; r < SB_NDEATH_REASONS; r++) {
            sample_start(o, "prefork_worker_deaths_total", v[i].e);
            fprintf(o->f, ",reason=\"%s\"} %" PRIu64 "\n", sb_death_names[r],
                    v[i].deaths[r]);
        }
    family(o, "prefork_worker_respawns_total", "counter",
           "Workers started to replace one that ended unasked.");
    for (size_t i = 0; i < n; i++)
        sample_u64(o, "prefork_worker_respawns_total", v[i].e, v[i].respawns);
    family(o, "prefork_respawn_backoff_seconds", "gauge",
           "How long the next respawn waits, after workers failed at "
           "start-up.");
    for (size_t i = 0; i < n; i++) {
        int64_t ms = v[i].e->backoff_ms > 0 ? v[i].e->backoff_ms : 0;

        sample_start(o, "prefork_respawn_backoff_seconds", v[i].e);
        fprintf(o->f, "} %" PRId64 ".%03" PRId64 "\n", ms / 1000, ms % 1000);
    }
}

static void traffic_families(const struct out *o, const struct metrics_svc *v,
                             size_t n)
{
    family(o, "prefork_connections_accepted_total", "counter",
           "Connections accepted (datagrams received, for a UDP service).");
    for (size_t i = 0; i < n; i++)
        sample_u64(o, "prefork_connections_accepted_total", v[i].e,
                   v[i].served);
    family(o, "prefork_connections_open", "gauge",
           "Connections the workers hold now.");
    for (size_t i = 0; i < n; i++)
        sample_u64(o, "prefork_connections_open", v[i].e, v[i].open_conns);
    family(o, "prefork_requests_total", "counter",
           "Requests served: responses (http), handle() calls, or "
           "connections of a blocking module.");
    for (size_t i = 0; i < n; i++)
        sample_u64(o, "prefork_requests_total", v[i].e, v[i].ctr.requests);
    family(o, "prefork_responses_total", "counter",
           "Responses by status class, from modules that report them "
           "(http).");
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 5; c++) {
            sample_start(o, "prefork_responses_total", v[i].e);
            fprintf(o->f, ",class=\"%dxx\"} %" PRIu64 "\n", c + 1,
                    v[i].ctr.classes[c]);
        }
    family(o, "prefork_received_bytes_total", "counter",
           "Bytes modules read from their connections.");
    for (size_t i = 0; i < n; i++)
        sample_u64(o, "prefork_received_bytes_total", v[i].e,
                   v[i].ctr.bytes_in);
    family(o, "prefork_sent_bytes_total", "counter",
           "Bytes modules sent on their connections.");
    for (size_t i = 0; i < n; i++)
        sample_u64(o, "prefork_sent_bytes_total", v[i].e, v[i].ctr.bytes_out);
}

static void histogram_family(const struct out *o, const struct metrics_svc *v,
                             size_t n)
{
    static const char name[] = "prefork_request_duration_seconds";

    family(o, name, "histogram",
           "Request durations: http from a request's first byte to its "
           "answer's last, other modules per handle() call or, blocking, "
           "per connection.");
    for (size_t i = 0; i < n; i++) {
        const struct sb_counters *c = &v[i].ctr;
        uint64_t                  cum = 0;

        for (size_t b = 0; b < SB_BUCKETS; b++) {
            cum += c->hist[b];
            sample_start(o, "prefork_request_duration_seconds_bucket", v[i].e);
            fprintf(o->f, ",le=\"%s\"} %" PRIu64 "\n", bucket_le[b], cum);
        }
        sample_u64(o, "prefork_request_duration_seconds_count", v[i].e, cum);
        sample_start(o, "prefork_request_duration_seconds_sum", v[i].e);
        fprintf(o->f, "} %" PRIu64 ".%06" PRIu64 "\n", c->duration_us / 1000000,
                c->duration_us % 1000000);
    }
}

/* The listen queues; one sample per address the master measured. */
static void queue_families(const struct out *o, const struct metrics_svc *v,
                           size_t n, int limit)
{
    const char *name =
        limit ? "prefork_listen_queue_limit" : "prefork_listen_queue";

    family(o, name, "gauge",
           limit ? "The backlog of each TCP listener."
                 : "Connections waiting to be accepted, per TCP listener.");
    for (size_t i = 0; i < n; i++) {
        const struct sb_service *e = v[i].e;
        const char              *p = e->listen;

        for (uint32_t k = 0; k < e->nqueues && k < SB_QUEUES && *p != '\0';
             k++) {
            const char *nl = strchr(p, '\n');
            size_t      len = nl != NULL ? (size_t)(nl - p) : strlen(p);
            char        addr[SB_LISTEN_MAX];

            memcpy(addr, p, len);
            addr[len] = '\0';
            p += len + (nl != NULL);
            if (e->queues[k].queue == SB_QUEUE_NONE)
                continue;
            sample_start(o, name, e);
            fputs(",listen=", o->f);
            label_value(o->f, addr);
            fprintf(o->f, "} %" PRIu32 "\n",
                    limit ? e->queues[k].limit : e->queues[k].queue);
        }
    }
}

static void fd_family(const struct out *o, const struct metrics_svc *v,
                      size_t n)
{
    family(o, "prefork_open_fds", "gauge",
           "File descriptors the workers of a service hold open.");
    for (size_t i = 0; i < n; i++)
        sample_u64(o, "prefork_open_fds", v[i].e, v[i].fds);
}

/* Per worker: its pid as the `worker` label. */
static void per_worker_families(const struct out         *o,
                                const struct sb_snapshot *snap,
                                const struct metrics_svc *v, size_t n, int fds)
{
    const char *name =
        fds ? "prefork_worker_open_fds" : "prefork_worker_requests_total";

    family(o, name, fds ? "gauge" : "counter",
           fds ? "File descriptors one worker holds open."
               : "Requests one worker has served.");
    for (size_t i = 0; i < n; i++) {
        size_t g = (size_t)(v[i].e - snap->svc);

        for (size_t k = 0; k < snap->nslots; k++) {
            const struct slot *s = &snap->slots[k];

            if (!sb_in_group(snap, g, s) || s->pid <= 0)
                continue;
            sample_start(o, name, v[i].e);
            fprintf(o->f, ",worker=\"%d\"} %" PRIu64 "\n", (int)s->pid,
                    fds ? (uint64_t)s->fds : s->ctr.requests);
        }
    }
}

int metrics_render(FILE *f, const struct sb_snapshot *snap, int openmetrics)
{
    const struct out    o = {.f = f, .om = openmetrics};
    struct metrics_svc *v = calloc(snap->nsvc + 1, sizeof(*v));
    size_t              n;

    if (v == NULL)
        return -1;
    n = services(snap, v);
    master_families(&o, snap);
    worker_families(&o, v, n);
    traffic_families(&o, v, n);
    histogram_family(&o, v, n);
    queue_families(&o, v, n, 0);
    queue_families(&o, v, n, 1);
    fd_family(&o, v, n);
    per_worker_families(&o, snap, v, n, 0);
    per_worker_families(&o, snap, v, n, 1);
    if (openmetrics)
        fputs("# EOF\n", f);
    free(v);
    return ferror(f) ? -1 : 0;
}
