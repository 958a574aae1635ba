/*
 * date.c -- HTTP dates (RFC 9110 5.6.7): Date and Last-Modified out,
 * If-Modified-Since in.
 *
 * Formatting writes the digits and English names itself rather than using
 * strftime, whose names follow the locale.  Parsing takes the three forms
 * the RFC makes recipients accept, each exactly as the grammar spells it
 * (case, padding and "GMT" included), and refuses anything else, including
 * dates that do not exist such as 31 Feb.  The day name must be a day name
 * but is not checked against the date: it carries no information.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <string.h>
#include <time.h>

#include "date.h"

static const char *const day_names[7] = {
    "Sunday",   "Monday", "Tuesday",  "Wednesday",
    "Thursday", "Friday", "Saturday",
};

static const char month_names[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* ---- formatting -------------------------------------------------------- */

static char *put_num(char *p, int v, int width)
{
    int i;

    for (i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

static char *put_str(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

void http_date_format(time_t t, char *out)
{
    struct tm tm;
    char     *p = out;

    /* IMF-fixdate has four digits of year; clamp to what fits. */
    if (gmtime_r(&t, &tm) == NULL || tm.tm_year > 9999 - 1900 ||
        tm.tm_year < -1900) {
        memcpy(out,
               t > 0 ? "Fri, 31 Dec 9999 23:59:59 GMT"
                     : "Sat, 01 Jan 0000 00:00:00 GMT",
               HTTP_DATE_LEN + 1);
        return;
    }
    p = put_str(p, day_names[tm.tm_wday], 3);
    p = put_str(p, ", ", 2);
    p = put_num(p, tm.tm_mday, 2);
    *p++ = ' ';
    p = put_str(p, month_names[tm.tm_mon], 3);
    *p++ = ' ';
    p = put_num(p, tm.tm_year + 1900, 4);
    *p++ = ' ';
    p = put_num(p, tm.tm_hour, 2);
    *p++ = ':';
    p = put_num(p, tm.tm_min, 2);
    *p++ = ':';
    p = put_num(p, tm.tm_sec, 2);
    p = put_str(p, " GMT", 4);
    *p = '\0';
}

/* ---- parsing ----------------------------------------------------------- */

/* A read position in the string being parsed. */
struct cur {
    const char *s;
    size_t      len, i;
};

static int lit(struct cur *c, const char *s)
{
    size_t n = strlen(s);

    if (c->len - c->i < n || memcmp(c->s + c->i, s, n) != 0)
        return -1;
    c->i += n;
    return 0;
}

/* Exactly width digits. */
static int num(struct cur *c, int width, int *v)
{
    int k;

    if (c->len - c->i < (size_t)width)
        return -1;
    *v = 0;
    for (k = 0; k < width; k++) {
        char d = c->s[c->i + (size_t)k];

        if (d < '0' || d > '9')
            return -1;
        *v = *v * 10 + (d - '0');
    }
    c->i += (size_t)width;
    return 0;
}

/* A day name, abbreviated ("Sun") or in full ("Sunday"). */
static int day_name(struct cur *c, int full)
{
    int d;

    for (d = 0; d < 7; d++) {
        const char *n = day_names[d];
        size_t      len = full ? strlen(n) : 3;

        if (c->len - c->i >= len && memcmp(c->s + c->i, n, len) == 0) {
            c->i += len;
            return 0;
        }
    }
    return -1;
}

static int month(struct cur *c, int *m)
{
    for (*m = 0; *m < 12; ++*m)
        if (lit(c, month_names[*m]) == 0)
            return 0;
    return -1;
}

/* hour ":" minute ":" second */
static int time_of_day(struct cur *c, struct tm *tm)
{
    if (num(c, 2, &tm->tm_hour) < 0 || lit(c, ":") < 0 ||
        num(c, 2, &tm->tm_min) < 0 || lit(c, ":") < 0 ||
        num(c, 2, &tm->tm_sec) < 0)
        return -1;
    return 0;
}

/* Sun, 06 Nov 1994 08:49:37 GMT */
static int imf_fixdate(struct cur *c, struct tm *tm)
{
    if (day_name(c, 0) < 0 || lit(c, ", ") < 0 || num(c, 2, &tm->tm_mday) < 0 ||
        lit(c, " ") < 0 || month(c, &tm->tm_mon) < 0 || lit(c, " ") < 0 ||
        num(c, 4, &tm->tm_year) < 0 || lit(c, " ") < 0 ||
        time_of_day(c, tm) < 0 || lit(c, " GMT") < 0)
        return -1;
    return 0;
}

/* A two-digit year that would be more than 50 years in the future is the
 * most recent past year with those digits (RFC 9110 5.6.7). */
static int full_year(int yy)
{
    time_t    now = time(NULL);
    struct tm tm;
    int       this_year = 2000, y;

    if (gmtime_r(&now, &tm) != NULL)
        this_year = tm.tm_year + 1900;
    y = this_year - this_year % 100 + yy;
    return y > this_year + 50 ? y - 100 : y;
}

/* Sunday, 06-Nov-94 08:49:37 GMT */
static int rfc850_date(struct cur *c, struct tm *tm)
{
    if (day_name(c, 1) < 0 || lit(c, ", ") < 0 || num(c, 2, &tm->tm_mday) < 0 ||
        lit(c, "-") < 0 || month(c, &tm->tm_mon) < 0 || lit(c, "-") < 0 ||
        num(c, 2, &tm->tm_year) < 0 || lit(c, " ") < 0 ||
        time_of_day(c, tm) < 0 || lit(c, " GMT") < 0)
        return -1;
    tm->tm_year = full_year(tm->tm_year);
    return 0;
}

/* Sun Nov  6 08:49:37 1994 */
static int asctime_date(struct cur *c, struct tm *tm)
{
    if (day_name(c, 0) < 0 || lit(c, " ") < 0 || month(c, &tm->tm_mon) < 0 ||
        lit(c, " ") < 0)
        return -1;
    if (lit(c, " ") == 0) {
        if (num(c, 1, &tm->tm_mday) < 0)
            return -1;
    } else if (num(c, 2, &tm->tm_mday) < 0) {
        return -1;
    }
    if (lit(c, " ") < 0 || time_of_day(c, tm) < 0 || lit(c, " ") < 0 ||
        num(c, 4, &tm->tm_year) < 0)
        return -1;
    return 0;
}

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* The fields as parsed (full year in tm_year) name a real moment; a
 * second of 60 is the leap second the grammar allows. */
static int valid(const struct tm *tm)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    int              dim = mdays[tm->tm_mon];

    if (tm->tm_mon == 1 && leap(tm->tm_year))
        dim = 29;
    return tm->tm_mday >= 1 && tm->tm_mday <= dim && tm->tm_hour <= 23 &&
           tm->tm_min <= 59 && tm->tm_sec <= 60;
}

int http_date_parse(const char *s, size_t len, time_t *t)
{
    static int (*const forms[])(struct cur *, struct tm *) = {
        imf_fixdate,
        rfc850_date,
        asctime_date,
    };
    size_t k;

    for (k = 0; k < sizeof(forms) / sizeof(forms[0]); k++) {
        struct cur c = {.s = s, .len = len, .i = 0};
        struct tm  tm = {0};
        time_t     v;

        if (forms[k](&c, &tm) < 0 || c.i != len || !valid(&tm))
            continue;
        tm.tm_year -= 1900;
        errno = 0;
        v = timegm(&tm);
        if (v == (time_t)-1 && errno != 0)
            return -1;
        *t = v;
        return 0;
    }
    return -1;
}
