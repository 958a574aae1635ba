/*
 * diag.h -- a list of configuration problems, each "FILE:LINE: message".
 *
 * Checking a config collects every problem instead of stopping at the first,
 * so a user fixes them all in one pass.  Whoever owns the list decides where
 * it goes: stderr for -t and start-up, the error log on reload.  A problem
 * is an error (the config is refused) or a warning ("FILE:LINE: warning:
 * message": a key that does nothing, the config is still used).
 */
#ifndef PF_DIAG_H
#define PF_DIAG_H

#include <stdarg.h>
#include <stddef.h>

struct diag {
    char         **msg;
    size_t         n;
    unsigned char *warning; /* parallel to msg: 1 for a warning */
    size_t         nwarn;
};

#define DIAG_INIT                                                              \
    {                                                                          \
        NULL, 0, NULL, 0                                                       \
    }

/* Append "file:line: message"; "file: message" when line is 0, and the
 * message alone when file is NULL.  The list owns a copy of the text. */
void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_vadd(struct diag *d, const char *file, int line, const char *fmt,
               va_list ap) __attribute__((format(printf, 4, 0)));
/* As diag_add, for a warning: "file:line: warning: message". */
void diag_warn(struct diag *d, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_vwarn(struct diag *d, const char *file, int line, const char *fmt,
                va_list ap) __attribute__((format(printf, 4, 0)));
/* Move every message of from to the end of d, leaving from empty. */
void diag_move(struct diag *d, struct diag *from);
/* Is message i a warning? */
int  diag_is_warning(const struct diag *d, size_t i);
void diag_free(struct diag *d);

/* Write a reason into a buffer the caller owns (NULL or 0 bytes: nothing),
 * so that the function that failed says what went wrong and its caller
 * decides where that goes. */
void errbuf_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
