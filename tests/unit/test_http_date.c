/*
 * test_http_date.c -- HTTP dates: IMF-fixdate out, the three forms in,
 * round trips, and what a strict parser refuses.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "modules/http/date.h"

#define RFC_EXAMPLE 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */

static time_t parse(const char *s)
{
    time_t t = 12345;

    cr_assert_eq(http_date_parse(s, strlen(s), &t), 0, "\"%s\" refused", s);
    return t;
}

Test(date, format)
{
    static const struct {
        time_t      t;
        const char *s;
    } cases[] = {
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {RFC_EXAMPLE, "Sun, 06 Nov 1994 08:49:37 GMT"},
        {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
        {1700000000, "Tue, 14 Nov 2023 22:13:20 GMT"},
        {-1, "Wed, 31 Dec 1969 23:59:59 GMT"},
        {2147483648LL, "Tue, 19 Jan 2038 03:14:08 GMT"},
        {253402300799LL, "Fri, 31 Dec 9999 23:59:59 GMT"},
    };
    char   buf[HTTP_DATE_LEN + 1];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(buf, 'X', sizeof(buf));
        http_date_format(cases[i].t, buf);
        cr_assert_str_eq(buf, cases[i].s);
        cr_assert_eq(strlen(buf), HTTP_DATE_LEN);
    }
}

Test(date, format_clamps_to_four_digit_years)
{
    char buf[HTTP_DATE_LEN + 1];

    http_date_format(253402300800LL, buf);
    cr_assert_str_eq(buf, "Fri, 31 Dec 9999 23:59:59 GMT");
    http_date_format((time_t)1 << 62, buf);
    cr_assert_str_eq(buf, "Fri, 31 Dec 9999 23:59:59 GMT");
    http_date_format(-((time_t)1 << 62), buf);
    cr_assert_str_eq(buf, "Sat, 01 Jan 0000 00:00:00 GMT");
}

Test(date, three_forms)
{
    cr_assert_eq(parse("Sun, 06 Nov 1994 08:49:37 GMT"), RFC_EXAMPLE);
    cr_assert_eq(parse("Sunday, 06-Nov-94 08:49:37 GMT"), RFC_EXAMPLE);
    cr_assert_eq(parse("Sun Nov  6 08:49:37 1994"), RFC_EXAMPLE);
    cr_assert_eq(parse("Sun Nov 06 08:49:37 1994"), RFC_EXAMPLE);
}

Test(date, every_day_and_month_name)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
                                       "Thu", "Fri", "Sat"};
    static const char *const long_days[] = {
        "Sunday",   "Monday", "Tuesday",  "Wednesday",
        "Thursday", "Friday", "Saturday",
    };
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                         "May", "Jun", "Jul", "Aug",
                                         "Sep", "Oct", "Nov", "Dec"};
    char                     buf[64];
    size_t                   m;

    for (m = 0; m < 12; m++) {
        struct tm tm = {.tm_year = 2001 - 1900,
                        .tm_mon = (int)m,
                        .tm_mday = 15,
                        .tm_hour = 12};
        time_t    want = timegm(&tm);

        snprintf(buf, sizeof(buf), "%s, 15 %s 2001 12:00:00 GMT", days[m % 7],
                 months[m]);
        cr_assert_eq(parse(buf), want, "%s", buf);
        snprintf(buf, sizeof(buf), "%s, 15-%s-01 12:00:00 GMT",
                 long_days[m % 7], months[m]);
        cr_assert_eq(parse(buf), want, "%s", buf);
        snprintf(buf, sizeof(buf), "%s %s 15 12:00:00 2001", days[m % 7],
                 months[m]);
        cr_assert_eq(parse(buf), want, "%s", buf);
    }
}

Test(date, round_trip)
{
    char   buf[HTTP_DATE_LEN + 1];
    time_t t;

    for (t = 0; t < 253402300799LL; t += 86399LL * 97 + 13) {
        http_date_format(t, buf);
        cr_assert_eq(parse(buf), t, "%s", buf);
    }
    for (t = -1; t > -62135596800LL; t -= 86399LL * 1009 + 7) {
        http_date_format(t, buf);
        cr_assert_eq(parse(buf), t, "%s", buf);
    }
}

Test(date, leap_days_and_leap_second)
{
    cr_assert_eq(parse("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400);
    cr_assert_eq(parse("Thu, 29 Feb 2024 00:00:00 GMT"), 1709164800);
    /* 23:59:60 is the next day's first second. */
    cr_assert_eq(parse("Sat, 31 Dec 2016 23:59:60 GMT"), 1483228800);
}

Test(date, two_digit_years_are_recent)
{
    time_t    now = time(NULL);
    struct tm tm;
    char      buf[64];
    int       year, yy;
    struct tm want = {.tm_mon = 0, .tm_mday = 1};

    gmtime_r(&now, &tm);
    year = tm.tm_year + 1900;
    /* Next year is next year ... */
    yy = (year + 1) % 100;
    snprintf(buf, sizeof(buf), "Monday, 01-Jan-%02d 00:00:00 GMT", yy);
    want.tm_year = year + 1 - 1900;
    cr_assert_eq(parse(buf), timegm(&want), "%s", buf);
    /* ... but 60 years on is 40 years ago. */
    yy = (year + 60) % 100;
    snprintf(buf, sizeof(buf), "Monday, 01-Jan-%02d 00:00:00 GMT", yy);
    want.tm_year = year - 40 - 1900;
    cr_assert_eq(parse(buf), timegm(&want), "%s", buf);
}

Test(date, length_bounds_the_string)
{
    const char *s = "Sun, 06 Nov 1994 08:49:37 GMTgarbage";
    time_t      t = 0;

    cr_assert_eq(http_date_parse(s, HTTP_DATE_LEN, &t), 0);
    cr_assert_eq(t, RFC_EXAMPLE);
    cr_assert_eq(http_date_parse(s, HTTP_DATE_LEN - 1, &t), -1);
    cr_assert_eq(http_date_parse(s, strlen(s), &t), -1);
    cr_assert_eq(http_date_parse(NULL, 0, &t), -1);
}

Test(date, refused)
{
    static const char *const bad[] = {
        "",
        "garbage",
        "0",
        "784111777",
        /* IMF-fixdate, bent */
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 gmt",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        " Sun, 06 Nov 1994 08:49:37 GMT",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "SUN, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 November 1994 08:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun,  6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 Nov 01994 08:49:37 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun 06 Nov 1994 08:49:37 GMT",
        "Sun,06 Nov 1994 08:49:37 GMT",
        "Sun, 06  Nov 1994 08:49:37 GMT",
        "Sunday, 06 Nov 1994 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT+01",
        "Sun, 06 Nov 1994 08:49:37 +0000",
        "Sun, 06 Nov 1994T08:49:37 GMT",
        "1994-11-06T08:49:37Z",
        /* fields out of range */
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 32 Jan 1994 08:49:37 GMT",
        "Sun, 29 Feb 1900 08:49:37 GMT",
        "Sun, 29 Feb 2023 08:49:37 GMT",
        "Sun, 30 Feb 2024 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:37 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 1994 -8:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:3x GMT",
        /* RFC 850, bent */
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 6-Nov-94 08:49:37 GMT",
        "Sunday, 06 Nov 94 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37",
        "Sunday, 06-Nov-94 08:49:37 UTC",
        "Sundays, 06-Nov-94 08:49:37 GMT",
        "Sunday, 31-Apr-94 08:49:37 GMT",
        /* asctime, bent */
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov   6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov  6 08:49:37 1994 ",
        "Sun Nov  6 08:49:37 1994 GMT",
        "Sunday Nov  6 08:49:37 1994",
        "Sun Nov  6 8:49:37 1994",
        "Sun Nov 31 08:49:37 1994",
        "Sun Nov  0 08:49:37 1994",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        time_t t = 12345;

        cr_assert_eq(http_date_parse(bad[i], strlen(bad[i]), &t), -1,
                     "\"%s\" accepted", bad[i]);
        cr_assert_eq(t, 12345, "\"%s\" wrote a time", bad[i]);
    }
}
