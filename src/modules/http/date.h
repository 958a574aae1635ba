/*
 * date.h -- HTTP dates (RFC 9110 5.6.7).
 */
#ifndef PF_HTTP_DATE_H
#define PF_HTTP_DATE_H

#include <stddef.h>
#include <time.h>

#define HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Write t as an IMF-fixdate into out (HTTP_DATE_LEN + 1 bytes, NUL). */
void http_date_format(time_t t, char *out);

/* Parse IMF-fixdate, the obsolete RFC 850 form and asctime's.  Returns 0
 * and *t, or -1. */
int http_date_parse(const char *s, size_t len, time_t *t);

#endif
