/*
 * diag.c -- a list of configuration problems, each "FILE:LINE: message".
 *
 * Checking a config keeps going after a problem so the user sees all of
 * them at once; this is where they pile up until the owner of the list
 * prints or logs them.  Running out of memory here drops the message: the
 * checker counts its own errors, so a failed check still fails.
 */
#define _GNU_SOURCE

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "diag.h"

void diag_vadd(struct diag *d, const char *file, int line, const char *fmt,
               va_list ap)
{
    char  *text = NULL, *msg = NULL;
    char **v;
    int    r;

    if (vasprintf(&text, fmt, ap) < 0)
        return;
    if (file == NULL)
        r = asprintf(&msg, "%s", text);
    else if (line <= 0)
        r = asprintf(&msg, "%s: %s", file, text);
    else
        r = asprintf(&msg, "%s:%d: %s", file, line, text);
    free(text);
    if (r < 0)
        return;
    v = realloc(d->msg, (d->n + 1) * sizeof(*v));
    if (v == NULL) {
        free(msg);
        return;
    }
    d->msg = v;
    d->msg[d->n++] = msg;
}

void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    diag_vadd(d, file, line, fmt, ap);
    va_end(ap);
}

void diag_free(struct diag *d)
{
    size_t i;

    if (d == NULL)
        return;
    for (i = 0; i < d->n; i++)
        free(d->msg[i]);
    free(d->msg);
    d->msg = NULL;
    d->n = 0;
}

void errbuf_set(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
