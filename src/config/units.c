/*
 * units.c -- parsing of the value types config files use.
 *
 * values.c's setters call them for every key, the core's and those
 * modules declare, so a duration or a size means the same thing
 * everywhere.  Every parser takes the whole string or nothing: "10sx", "",
 * " 10" and "-5s" are errors rather than silently becoming something else.
 */
#define _GNU_SOURCE

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "units.h"

/* An unsigned run of decimal digits at *s; advances *s past it.  -1 when
 * there are no digits or the number does not fit. */
static int digits(const char **s, long long *v)
{
    const char *p = *s;
    long long   n = 0;

    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        if (__builtin_mul_overflow(n, 10, &n) ||
            __builtin_add_overflow(n, *p - '0', &n))
            return -1;
    }
    *s = p;
    *v = n;
    return 0;
}

/* A unit suffix and how many base units it is worth. */
struct unit {
    const char *suffix;
    long long   mult;
};

static const struct unit duration_units[] = {
    {.suffix = "", .mult = 1000}, /* a bare number is seconds */
    {.suffix = "ms", .mult = 1},        {.suffix = "s", .mult = 1000},
    {.suffix = "m", .mult = 60 * 1000}, {.suffix = "h", .mult = 60 * 60 * 1000},
};

static const struct unit size_units[] = {
    {.suffix = "", .mult = 1},          {.suffix = "b", .mult = 1},
    {.suffix = "k", .mult = 1LL << 10}, {.suffix = "kb", .mult = 1LL << 10},
    {.suffix = "m", .mult = 1LL << 20}, {.suffix = "mb", .mult = 1LL << 20},
    {.suffix = "g", .mult = 1LL << 30}, {.suffix = "gb", .mult = 1LL << 30},
};

/* digits followed by exactly one of the suffixes (any case). */
static int parse_scaled(const char *s, const struct unit *u, size_t nu,
                        long long *out)
{
    long long n;
    size_t    i;

    if (s == NULL || digits(&s, &n) < 0)
        return -1;
    for (i = 0; i < nu; i++) {
        if (strcasecmp(s, u[i].suffix) == 0) {
            if (__builtin_mul_overflow(n, u[i].mult, &n))
                return -1;
            *out = n;
            return 0;
        }
    }
    return -1;
}

int parse_duration(const char *s, long long *ms)
{
    return parse_scaled(s, duration_units,
                        sizeof(duration_units) / sizeof(duration_units[0]), ms);
}

int parse_size(const char *s, long long *bytes)
{
    return parse_scaled(s, size_units,
                        sizeof(size_units) / sizeof(size_units[0]), bytes);
}

static const struct {
    const char *name;
    int         value;
} bool_names[] = {
    {"yes", 1},  {"no", 0},    {"on", 1}, {"off", 0},
    {"true", 1}, {"false", 0}, {"1", 1},  {"0", 0},
};

int parse_bool(const char *s, int *b)
{
    size_t i;

    if (s == NULL)
        return -1;
    for (i = 0; i < sizeof(bool_names) / sizeof(bool_names[0]); i++) {
        if (strcasecmp(s, bool_names[i].name) == 0) {
            *b = bool_names[i].value;
            return 0;
        }
    }
    return -1;
}

int parse_int(const char *s, long long *v)
{
    const char *p = s;
    long long   n;

    if (s == NULL)
        return -1;
    /* strtoll alone would accept leading blanks and stop at junk; check the
     * shape first and leave the range (down to LLONG_MIN) to it. */
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    while (isdigit((unsigned char)*p))
        p++;
    if (*p != '\0')
        return -1;
    errno = 0;
    n = strtoll(s, NULL, 10);
    if (errno == ERANGE)
        return -1;
    *v = n;
    return 0;
}

int parse_count(const char *s, long long *v, int *percent)
{
    char   buf[32];
    size_t len;

    if (s == NULL || !isdigit((unsigned char)s[0]))
        return -1;
    len = strlen(s);
    *percent = len > 0 && s[len - 1] == '%';
    if (!*percent)
        return parse_int(s, v);
    if (len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len - 1);
    buf[len - 1] = '\0';
    return parse_int(buf, v);
}
