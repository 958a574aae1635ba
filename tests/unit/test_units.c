/*
 * test_units.c -- the value parsers behind every duration, size, boolean
 * and integer a config file can hold, including what they must refuse.
 */
#define _GNU_SOURCE

#include <limits.h>

#include <criterion/criterion.h>

#include "units.h"

/* ---- durations --------------------------------------------------------- */

static long long dur(const char *s)
{
    long long v = -12345;

    cr_assert_eq(parse_duration(s, &v), 0, "'%s' should parse", s);
    return v;
}

static void bad_dur(const char *s)
{
    long long v = -12345;

    cr_assert_eq(parse_duration(s, &v), -1, "'%s' should be refused", s);
    cr_assert_eq(v, -12345, "'%s' must not store a value", s);
}

Test(duration, units_from_spec)
{
    cr_assert_eq(dur("250ms"), 250);
    cr_assert_eq(dur("10s"), 10000);
    cr_assert_eq(dur("5m"), 300000);
    cr_assert_eq(dur("1h"), 3600000);
}

Test(duration, bare_number_is_seconds)
{
    cr_assert_eq(dur("10"), 10000);
    cr_assert_eq(dur("0"), 0);
    cr_assert_eq(dur("007"), 7000);
}

Test(duration, zero_in_any_unit)
{
    cr_assert_eq(dur("0ms"), 0);
    cr_assert_eq(dur("0s"), 0);
    cr_assert_eq(dur("0h"), 0);
}

Test(duration, units_in_either_case)
{
    cr_assert_eq(dur("10S"), 10000);
    cr_assert_eq(dur("250MS"), 250);
    cr_assert_eq(dur("2H"), 7200000);
}

Test(duration, refuses_junk)
{
    bad_dur("");
    bad_dur("abc");
    bad_dur("10sx");
    bad_dur("10 s");
    bad_dur(" 10s");
    bad_dur("10s ");
    bad_dur("s");
    bad_dur("ms");
    bad_dur("1d");
    bad_dur("1.5s");
    bad_dur("10ss");
    bad_dur("0x10");
}

Test(duration, refuses_signs)
{
    bad_dur("-5s");
    bad_dur("-0");
    bad_dur("+5s");
}

Test(duration, refuses_overflow)
{
    bad_dur("9223372036854775808ms"); /* LLONG_MAX + 1 */
    bad_dur("9223372036854775807");   /* fits, but not as seconds */
    bad_dur("2562047788016h");        /* just past LLONG_MAX ms */
    bad_dur("99999999999999999999999999s");
    cr_assert_eq(dur("9223372036854775807ms"), LLONG_MAX);
    cr_assert_eq(dur("2562047788015h"), 2562047788015LL * 3600000);
}

Test(duration, null_is_refused)
{
    long long v;

    cr_assert_eq(parse_duration(NULL, &v), -1);
}

/* ---- sizes ------------------------------------------------------------- */

static long long size(const char *s)
{
    long long v = -12345;

    cr_assert_eq(parse_size(s, &v), 0, "'%s' should parse", s);
    return v;
}

static void bad_size(const char *s)
{
    long long v = -12345;

    cr_assert_eq(parse_size(s, &v), -1, "'%s' should be refused", s);
    cr_assert_eq(v, -12345, "'%s' must not store a value", s);
}

Test(size, units_from_spec)
{
    cr_assert_eq(size("512"), 512);
    cr_assert_eq(size("8k"), 8192);
    cr_assert_eq(size("1m"), 1048576);
    cr_assert_eq(size("1g"), 1073741824);
}

Test(size, either_case_and_trailing_b)
{
    cr_assert_eq(size("8K"), 8192);
    cr_assert_eq(size("1M"), 1048576);
    cr_assert_eq(size("2G"), 2147483648LL);
    cr_assert_eq(size("8kb"), 8192);
    cr_assert_eq(size("8KB"), 8192);
    cr_assert_eq(size("8kB"), 8192);
    cr_assert_eq(size("1mb"), 1048576);
    cr_assert_eq(size("512b"), 512);
    cr_assert_eq(size("512B"), 512);
    cr_assert_eq(size("0"), 0);
}

Test(size, refuses_junk)
{
    bad_size("");
    bad_size("k");
    bad_size("b");
    bad_size("8x");
    bad_size("8kbb");
    bad_size("8bk");
    bad_size("8 k");
    bad_size("8t");
    bad_size("1.5k");
    bad_size(" 8k");
    bad_size("-1");
    bad_size("+1");
}

Test(size, refuses_overflow)
{
    bad_size("9223372036854775808");
    bad_size("9007199254740992k"); /* 2^53 KiB = 2^63 bytes */
    bad_size("8589934592g");       /* 2^33 GiB = 2^63 bytes */
    cr_assert_eq(size("9223372036854775807"), LLONG_MAX);
    cr_assert_eq(size("8589934591g"), 8589934591LL << 30);
}

/* ---- booleans ---------------------------------------------------------- */

static int boolean(const char *s)
{
    int b = -1;

    cr_assert_eq(parse_bool(s, &b), 0, "'%s' should parse", s);
    return b;
}

Test(bool, every_spelling)
{
    const char *yes[] = {"yes", "on", "true", "1", "YES", "On", "True"};
    const char *no[] = {"no", "off", "false", "0", "NO", "Off", "FALSE"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        cr_assert_eq(boolean(yes[i]), 1, "'%s'", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        cr_assert_eq(boolean(no[i]), 0, "'%s'", no[i]);
}

Test(bool, refuses_the_rest)
{
    const char *bad[] = {"",       "y",    "n",    "2",  "yess",
                         "enable", " yes", "yes ", "-1", "01"};
    int         b = 7;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(parse_bool(bad[i], &b), -1, "'%s'", bad[i]);
        cr_assert_eq(b, 7);
    }
    cr_assert_eq(parse_bool(NULL, &b), -1);
}

/* ---- integers ---------------------------------------------------------- */

static long long integer(const char *s)
{
    long long v = -12345;

    cr_assert_eq(parse_int(s, &v), 0, "'%s' should parse", s);
    return v;
}

Test(int, decimal_with_sign)
{
    cr_assert_eq(integer("0"), 0);
    cr_assert_eq(integer("42"), 42);
    cr_assert_eq(integer("+42"), 42);
    cr_assert_eq(integer("-42"), -42);
    cr_assert_eq(integer("0010"), 10); /* decimal, not octal */
}

Test(int, full_range)
{
    cr_assert_eq(integer("9223372036854775807"), LLONG_MAX);
    cr_assert_eq(integer("-9223372036854775808"), LLONG_MIN);
}

Test(int, refuses_junk_and_overflow)
{
    const char *bad[] = {"",
                         "-",
                         "+",
                         "abc",
                         "4x",
                         "4 ",
                         " 4",
                         "0x10",
                         "1e3",
                         "1.0",
                         "--1",
                         "+-1",
                         "4k",
                         "9223372036854775808",
                         "-9223372036854775809",
                         "99999999999999999999999"};
    long long   v = 7;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(parse_int(bad[i], &v), -1, "'%s'", bad[i]);
        cr_assert_eq(v, 7);
    }
    cr_assert_eq(parse_int(NULL, &v), -1);
}

Test(count, a_count_or_a_percentage)
{
    long long v = 0;
    int       pct = -1;

    cr_assert_eq(parse_count("3", &v, &pct), 0);
    cr_assert(v == 3 && pct == 0);
    cr_assert_eq(parse_count("25%", &v, &pct), 0);
    cr_assert(v == 25 && pct == 1);
    cr_assert_eq(parse_count("0%", &v, &pct), 0, "the range is the caller's");
    cr_assert(v == 0 && pct == 1);
}

Test(count, malformed)
{
    const char *const bad[] = {"",    "%",    "-1", "+1",   " 1", "1 %",
                               "1%%", "25%x", "x%", "1.5%", "%25"};
    long long         v = 7;
    int               pct;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(parse_count(bad[i], &v, &pct), -1, "'%s'", bad[i]);
        cr_assert_eq(v, 7);
    }
    cr_assert_eq(parse_count(NULL, &v, &pct), -1);
}
