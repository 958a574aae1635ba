/*
 * metrics.h -- the scoreboard as metrics: the Prometheus text format 0.0.4
 * and OpenMetrics 1.0.0, for the status module's GET /metrics, and the
 * per-service sums `prefork -s top` shows.
 *
 * Pure functions of a snapshot (scoreboard_snapshot()), so that the unit
 * tests render a scoreboard built by hand and compare it byte for byte.
 */
#ifndef PF_METRICS_H
#define PF_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "scoreboard.h"

/* One service as the metrics show it: every entry of its name (itself and
 * its workers still draining after a reload) and their workers, summed;
 * what exited workers counted included. */
struct metrics_svc {
    const struct sb_service *e; /* the first entry of the name */
    unsigned                 workers[SLOT_EXITING + 1]; /* by state */
    uint64_t                 served; /* connections accepted, datagrams */
    uint64_t                 open_conns;
    uint64_t                 fds;
    struct sb_counters       ctr;
    uint64_t                 deaths[SB_NDEATH_REASONS];
    uint64_t                 respawns;
};

/* Is entry i of snap the first of its name and worth showing (current, or
 * with workers still draining)?  Then sum it into *out. */
int metrics_service(const struct sb_snapshot *snap, size_t i,
                    struct metrics_svc *out);

/* The q-quantile (0 < q < 1) of a histogram of SB_BUCKETS counts (not
 * cumulative), in seconds, interpolated linearly inside its bucket as
 * Prometheus' histogram_quantile does; the last bucket's answer is its
 * lower bound.  -1 when the histogram is empty. */
double metrics_quantile(const uint64_t hist[SB_BUCKETS], double q);

/* Write snap in the Prometheus text format 0.0.4, or with openmetrics
 * in OpenMetrics 1.0.0 (ending "# EOF").  Returns 0, or -1 when writing
 * failed. */
int metrics_render(FILE *out, const struct sb_snapshot *snap, int openmetrics);

#endif
