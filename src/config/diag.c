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

/* Append msg (the list takes it over, or frees it on failure). */
static void push(struct diag *d, char *msg, int warning)
{
    char         **v;
    unsigned char *w;

    v = realloc(d->msg, (d->n + 1) * sizeof(*v));
    if (v == NULL) {
        free(msg);
        return;
    }
    d->msg = v;
    w = realloc(d->warning, d->n + 1);
    if (w == NULL) {
        free(msg);
        return;
    }
    d->warning = w;
    d->warning[d->n] = (unsigned char)warning;
    d->msg[d->n++] = msg;
    d->nwarn += warning != 0;
}

static void vadd(struct diag *d, int warning, const char *file, int line,
                 const char *fmt, va_list ap)
{
    const char *tag = warning ? "warning: " : "";
    char       *text = NULL, *msg = NULL;
    int         r;

    if (vasprintf(&text, fmt, ap) < 0)
        return;
    if (file == NULL)
        r = asprintf(&msg, "%s%s", tag, text);
    else if (line <= 0)
        r = asprintf(&msg, "%s: %s%s", file, tag, text);
    else
        r = asprintf(&msg, "%s:%d: %s%s", file, line, tag, text);
    free(text);
    if (r < 0)
        return;
    push(d, msg, warning);
}

void diag_vadd(struct diag *d, const char *file, int line, const char *fmt,
               va_list ap)
{
    vadd(d, 0, file, line, fmt, ap);
}

void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vadd(d, 0, file, line, fmt, ap);
    va_end(ap);
}

void diag_vwarn(struct diag *d, const char *file, int line, const char *fmt,
                va_list ap)
{
    vadd(d, 1, file, line, fmt, ap);
}

void diag_warn(struct diag *d, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vadd(d, 1, file, line, fmt, ap);
    va_end(ap);
}

void diag_move(struct diag *d, struct diag *from)
{
    size_t i;

    for (i = 0; i < from->n; i++)
        push(d, from->msg[i], from->warning[i]);
    free(from->msg);
    free(from->warning);
    *from = (struct diag)DIAG_INIT;
}

int diag_is_warning(const struct diag *d, size_t i)
{
    return i < d->n && d->warning[i];
}

void diag_free(struct diag *d)
{
    size_t i;

    if (d == NULL)
        return;
    for (i = 0; i < d->n; i++)
        free(d->msg[i]);
    free(d->msg);
    free(d->warning);
    *d = (struct diag)DIAG_INIT;
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
