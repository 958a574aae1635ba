/*
 * units.h -- parsing of the value types config files use.
 *
 * Each returns 0 and stores the value, or -1 when the text is not a valid
 * value of that type (no partial parses: "10sx" and "" are errors).
 */
#ifndef PF_UNITS_H
#define PF_UNITS_H

/* 250ms, 10s, 5m, 1h; a bare number is seconds.  Result in milliseconds. */
int parse_duration(const char *s, long long *ms);
/* 512, 8k, 1m, 1g (either case; a trailing b is allowed: 8kb).  Bytes. */
int parse_size(const char *s, long long *bytes);
/* yes/no, on/off, true/false, 1/0, any case. */
int parse_bool(const char *s, int *b);
/* A decimal integer, optional sign. */
int parse_int(const char *s, long long *v);
/* A count or a percentage: "3" or "25%" (no sign).  *percent says which. */
int parse_count(const char *s, long long *v, int *percent);

#endif
