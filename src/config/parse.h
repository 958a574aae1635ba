/*
 * parse.h -- one read of a configuration file, as the reader (reader.c)
 * and the checks that run after its last line (checks.c) share it.
 * Internal to src/config/.
 */
#ifndef PF_PARSE_H
#define PF_PARSE_H

#include <stddef.h>

#include "config.h"
#include "config_keys.h"

/* Where the parse is: inih calls read_line() for a line, then on_key() if
 * that line was a key, so both see the same `line` and section. */
enum sect { SECT_NONE, SECT_SERVER, SECT_SERVICE, SECT_SKIP };

struct parse {
    struct config *cfg;
    struct diag   *d;
    int            nerr;

    const char *p, *end; /* what read_line has not handed out yet */
    int         line;

    enum sect sect;
    size_t    cur; /* cfg->svc index when sect is SECT_SERVICE */
    int       server_line;
    int       server_seen[NSERVER_KEYS]; /* line a key was set on, or 0 */
    int (*svc_seen)[NSERVICE_KEYS];      /* the same, parallel to cfg->svc */
    size_t svc_cap;

    /* Problems are found out of order (a missing key only at the end);
     * the line of each of our messages in d, to sort them by. */
    size_t first; /* d->n before we started */
    int   *lines;
    size_t nlines;
    int    unsorted; /* a line could not be recorded: leave d as it is */
};

/* An error at line of the file (0: the whole file). */
void parse_report(struct parse *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* After the last line: the checks that involve more than one key, and
 * the warnings about keys that do nothing (checks.c). */
void check_config(struct parse *ps);

#endif
