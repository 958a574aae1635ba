/*
 * status.h -- the scoreboard as JSON, for `prefork -s status`.
 *
 * Pure functions of a snapshot (scoreboard_snapshot()) and the time, so
 * that the unit tests can render a scoreboard they built by hand.
 */
#ifndef PF_STATUS_H
#define PF_STATUS_H

#include <stdint.h>
#include <stdio.h>

struct sb_snapshot;

/* Write s as a JSON string, quotes included: `"` and `\` escaped, control
 * bytes as \n, \t... or \u00XX, valid UTF-8 passed through and any byte
 * that is not part of a valid UTF-8 character as \ufffd, so that any
 * service name makes valid JSON. */
void status_json_string(FILE *out, const char *s);

/* Write snap as one JSON object and a newline: the master (pid, version,
 * start_time, uptime_s) and per service its workers (pid, state, served,
 * open_conns, busy_ms, age_s) and totals.  now_ms is the monotonic clock
 * of the moment (mono_ms()).  Entries of one name (a service and the same
 * service before a reload, still draining) are shown as one service.
 * Returns 0, or -1 when writing failed. */
int status_render(FILE *out, const struct sb_snapshot *snap, int64_t now_ms);

/* The length of the valid UTF-8 character at p (1 to 4), or 0 when p
 * does not start one; for the metrics' label values too. */
size_t status_utf8_len(const unsigned char *p);

#endif
