/*
 * test_http_range.c -- single byte ranges: the three forms, clipping,
 * unsatisfiable ranges (416) and everything that is ignored (200).
 */
#define _GNU_SOURCE

#include <string.h>

#include <criterion/criterion.h>

#include "modules/http/range.h"

struct range_case {
    const char *v;
    off_t       size;
    int         rc;
    off_t       first, last; /* when rc is 1 */
};

static void run(const struct range_case *c, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        off_t first = -7, last = -7;
        int   rc =
            http_range_parse(c[i].v, strlen(c[i].v), c[i].size, &first, &last);

        cr_assert_eq(rc, c[i].rc, "\"%s\" of %lld: %d, not %d", c[i].v,
                     (long long)c[i].size, rc, c[i].rc);
        if (rc == 1) {
            cr_assert_eq(first, c[i].first, "\"%s\" first %lld", c[i].v,
                         (long long)first);
            cr_assert_eq(last, c[i].last, "\"%s\" last %lld", c[i].v,
                         (long long)last);
        } else {
            cr_assert(first == -7 && last == -7, "\"%s\" wrote a range",
                      c[i].v);
        }
    }
}

#define RUN(t) run((t), sizeof(t) / sizeof((t)[0]))

Test(range, satisfiable)
{
    static const struct range_case cases[] = {
        {"bytes=0-499", 1000, 1, 0, 499},  {"bytes=500-999", 1000, 1, 500, 999},
        {"bytes=500-", 1000, 1, 500, 999}, {"bytes=0-", 1000, 1, 0, 999},
        {"bytes=-500", 1000, 1, 500, 999}, {"bytes=-1", 1000, 1, 999, 999},
        {"bytes=0-0", 1, 1, 0, 0},         {"bytes=999-999", 1000, 1, 999, 999},
        {"bytes=007-010", 1000, 1, 7, 10}, {"BYTES=1-2", 1000, 1, 1, 2},
        {"Bytes=1-2", 1000, 1, 1, 2},
    };

    RUN(cases);
}

Test(range, clipped_to_the_file)
{
    static const struct range_case cases[] = {
        {"bytes=900-5000", 1000, 1, 900, 999},
        {"bytes=0-1000", 1000, 1, 0, 999},
        {"bytes=0-9223372036854775807", 1000, 1, 0, 999},
        {"bytes=-1000", 1000, 1, 0, 999},
        {"bytes=-5000", 1000, 1, 0, 999},
        {"bytes=-9223372036854775807", 1000, 1, 0, 999},
        {"bytes=-2", 1, 1, 0, 0},
    };

    RUN(cases);
}

Test(range, unsatisfiable)
{
    static const struct range_case cases[] = {
        {"bytes=1000-", 1000, -1, 0, 0},
        {"bytes=1000-2000", 1000, -1, 0, 0},
        {"bytes=5000-6000", 1000, -1, 0, 0},
        {"bytes=9223372036854775807-", 1000, -1, 0, 0},
        {"bytes=-0", 1000, -1, 0, 0},
        {"bytes=-000", 1000, -1, 0, 0},
        {"bytes=1-", 1, -1, 0, 0},
        /* An empty file has no byte to send. */
        {"bytes=0-", 0, -1, 0, 0},
        {"bytes=0-0", 0, -1, 0, 0},
        {"bytes=-5", 0, -1, 0, 0},
        {"bytes=-0", 0, -1, 0, 0},
    };

    RUN(cases);
}

Test(range, ignored)
{
    static const struct range_case cases[] = {
        /* several ranges */
        {"bytes=0-1,5-6", 1000, 0, 0, 0},
        {"bytes=0-1, 5-6", 1000, 0, 0, 0},
        {"bytes=0-1,", 1000, 0, 0, 0},
        {"bytes=,0-1", 1000, 0, 0, 0},
        /* first after last */
        {"bytes=5-4", 1000, 0, 0, 0},
        {"bytes=5000-4", 1000, 0, 0, 0},
        {"bytes=5-4", 0, 0, 0, 0},
        /* not the grammar */
        {"", 1000, 0, 0, 0},
        {"bytes", 1000, 0, 0, 0},
        {"bytes=", 1000, 0, 0, 0},
        {"bytes=-", 1000, 0, 0, 0},
        {"bytes=0", 1000, 0, 0, 0},
        {"bytes=a-b", 1000, 0, 0, 0},
        {"bytes=1-b", 1000, 0, 0, 0},
        {"bytes=--1", 1000, 0, 0, 0},
        {"bytes=+1-2", 1000, 0, 0, 0},
        {"bytes=1-+2", 1000, 0, 0, 0},
        {"bytes=0x1-2", 1000, 0, 0, 0},
        {"bytes=1-2-3", 1000, 0, 0, 0},
        {"bytes= 0-1", 1000, 0, 0, 0},
        {"bytes=0 -1", 1000, 0, 0, 0},
        {"bytes=0- 1", 1000, 0, 0, 0},
        {"bytes=0-1 ", 1000, 0, 0, 0},
        {"bytes =0-1", 1000, 0, 0, 0},
        {"bytes:0-1", 1000, 0, 0, 0},
        {"bytes 0-1", 1000, 0, 0, 0},
        {"bits=0-1", 1000, 0, 0, 0},
        {"items=0-1", 1000, 0, 0, 0},
        {"bytes=0-1;x", 1000, 0, 0, 0},
        /* numbers past off_t */
        {"bytes=9223372036854775808-", 1000, 0, 0, 0},
        {"bytes=99999999999999999999-", 1000, 0, 0, 0},
        {"bytes=0-99999999999999999999", 1000, 0, 0, 0},
        {"bytes=-99999999999999999999", 1000, 0, 0, 0},
    };

    RUN(cases);
}

Test(range, large_files)
{
    static const struct range_case cases[] = {
        {"bytes=1099511627775-", (off_t)1 << 40, 1, ((off_t)1 << 40) - 1,
         ((off_t)1 << 40) - 1},
        {"bytes=-1099511627776", (off_t)1 << 40, 1, 0, ((off_t)1 << 40) - 1},
        {"bytes=1099511627776-", (off_t)1 << 40, -1, 0, 0},
        {"bytes=4294967296-4294967299", (off_t)1 << 40, 1, 4294967296LL,
         4294967299LL},
    };

    RUN(cases);
}

Test(range, length_bounds_the_value)
{
    off_t first = 0, last = 0;

    /* "bytes=1-2,3-4" cut after "bytes=1-2". */
    cr_assert_eq(http_range_parse("bytes=1-2,3-4", 9, 100, &first, &last), 1);
    cr_assert_eq(first, 1);
    cr_assert_eq(last, 2);
    cr_assert_eq(http_range_parse("bytes=1-2", 5, 100, &first, &last), 0);
}

/* ---- If-Range (RFC 9110 13.1.5) ---------------------------------------- */

#define IR_ETAG  "\"5e0be100-3e8\""
#define IR_MTIME 1577836800 /* Wed, 01 Jan 2020 00:00:00 GMT */

static int if_range(const char *v)
{
    return http_if_range_matches(v, strlen(v), IR_ETAG, IR_MTIME);
}

Test(range, if_range_entity_tags_compare_strongly)
{
    cr_assert_eq(if_range(IR_ETAG), 1);
    cr_assert_eq(if_range("\"old\""), 0);
    cr_assert_eq(if_range("W/" IR_ETAG), 0);     /* weak never matches */
    cr_assert_eq(if_range("\"5e0be100-3e8"), 0); /* cut short */
    cr_assert_eq(if_range(IR_ETAG "x"), 0);
    cr_assert_eq(if_range("\"\""), 0);
    cr_assert_eq(if_range("*"), 0);
    cr_assert_eq(if_range(""), 0); /* If-Range given twice */
    /* The length bounds the value. */
    cr_assert_eq(http_if_range_matches(IR_ETAG "xyz", strlen(IR_ETAG), IR_ETAG,
                                       IR_MTIME),
                 1);
}

Test(range, if_range_dates_match_exactly)
{
    cr_assert_eq(if_range("Wed, 01 Jan 2020 00:00:00 GMT"), 1);
    cr_assert_eq(if_range("Wed, 01 Jan 2020 00:00:01 GMT"), 0);
    cr_assert_eq(if_range("Tue, 31 Dec 2019 23:59:59 GMT"), 0);
    cr_assert_eq(if_range("Wed, 01 Jan 2020 00:00:00"), 0); /* not a date */
    cr_assert_eq(if_range("yesterday"), 0);
}
