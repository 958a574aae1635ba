/*
 * values.c -- the typed setters behind every key.
 *
 * A key's table entry (config_keys.h) says what its value is: an integer
 * within bounds, a duration, a size, a path, one of a list of names...
 * key_set() parses the text into the field the entry names, or says in
 * words why it cannot, naming what would have been accepted.  The core's
 * keys and the keys modules declare (turned into the same entries by
 * key_from_module) go through here alike, so "10s" or "8k" and the
 * message for a bad one are the same for every key.
 *
 * Nothing here knows about files or lines: the reader (reader.c) and the
 * module loader (modload.c) add "FILE:LINE: [section] key: " to the reason.
 */
#define _GNU_SOURCE

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <prefork/module.h>

#include "units.h"
#include "values.h"

/* A duration as the user would write it back: 86400000 -> "24h". */
static void fmt_duration(long long ms, char *buf, size_t len)
{
    if (ms != 0 && ms % HOUR_MS == 0)
        snprintf(buf, len, "%lldh", ms / HOUR_MS);
    else if (ms != 0 && ms % 60000 == 0)
        snprintf(buf, len, "%lldm", ms / 60000);
    else if (ms % 1000 == 0)
        snprintf(buf, len, "%llds", ms / 1000);
    else
        snprintf(buf, len, "%lldms", ms);
}

/* A size as the user would write it back: 1048576 -> "1m". */
static void fmt_size(long long bytes, char *buf, size_t len)
{
    static const char units[] = "gmk";
    int               shift;

    for (shift = 30; shift > 0; shift -= 10) {
        if (bytes != 0 && bytes % (1LL << shift) == 0) {
            snprintf(buf, len, "%lld%c", bytes >> shift,
                     units[(30 - shift) / 10]);
            return;
        }
    }
    snprintf(buf, len, "%lld", bytes);
}

static void fmt_int(long long v, char *buf, size_t len)
{
    snprintf(buf, len, "%lld", v);
}

/* "(lo..hi)" in the key's own units; "(lo or more)" when only the type
 * bounds it (a module key declared with 0, 0). */
static void fmt_range(const struct key *k,
                      void (*fmt)(long long, char *, size_t), char *buf,
                      size_t len)
{
    char lo[32], hi[32];

    fmt(k->min, lo, sizeof(lo));
    fmt(k->max, hi, sizeof(hi));
    if (k->max == LLONG_MAX)
        snprintf(buf, len, "(%s or more)", lo);
    else
        snprintf(buf, len, "(%s..%s)", lo, hi);
}

/* value as an absolute path: relative ones are taken from the config
 * file's directory, so the server does not depend on its working dir. */
static char *resolve_path(const char *dir, const char *value)
{
    char *out;

    if (value[0] == '/')
        return strdup(value);
    if (asprintf(&out, "%s%s%s", dir,
                 dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", value) < 0)
        return NULL;
    return out;
}

static int set_int(const struct key *k, void *field, const char *value,
                   char *err, size_t errlen)
{
    char      range[80];
    long long v;

    if (parse_int(value, &v) < 0) {
        errbuf_set(err, errlen, "invalid integer '%s'", value);
        return -1;
    }
    if (v < k->min || v > k->max) {
        fmt_range(k, fmt_int, range, sizeof(range));
        errbuf_set(err, errlen, "%lld is out of range %s", v, range);
        return -1;
    }
    if (k->size == sizeof(int))
        *(int *)field = (int)v;
    else
        *(long long *)field = v;
    return 0;
}

static int set_duration(const struct key *k, void *field, const char *value,
                        char *err, size_t errlen)
{
    char      range[80];
    long long v;

    if (parse_duration(value, &v) < 0) {
        errbuf_set(err, errlen,
                   "invalid duration '%s' (use 250ms, 10s, 5m, 1h)", value);
        return -1;
    }
    if (v < k->min || v > k->max) {
        fmt_range(k, fmt_duration, range, sizeof(range));
        errbuf_set(err, errlen, "'%s' is out of range %s", value, range);
        return -1;
    }
    *(long long *)field = v;
    return 0;
}

static int set_size(const struct key *k, void *field, const char *value,
                    char *err, size_t errlen)
{
    char      range[80];
    long long v;

    if (parse_size(value, &v) < 0) {
        errbuf_set(err, errlen, "invalid size '%s' (use 512k, 64m, 1g)", value);
        return -1;
    }
    if (v < k->min || v > k->max) {
        fmt_range(k, fmt_size, range, sizeof(range));
        errbuf_set(err, errlen, "'%s' is out of range %s", value, range);
        return -1;
    }
    *(long long *)field = v;
    return 0;
}

static int set_budget(const struct key *k, struct budget *field,
                      const char *value, char *err, size_t errlen)
{
    long long v;
    int       percent;

    if (parse_count(value, &v, &percent) < 0) {
        errbuf_set(err, errlen,
                   "invalid value '%s' (use a count such as 2, or a "
                   "percentage such as 25%%)",
                   value);
        return -1;
    }
    if (percent ? v < 1 || v > 100 : v < k->min || v > k->max) {
        errbuf_set(err, errlen,
                   "'%s' is out of range (%lld..%lld, or 1%%..100%%)", value,
                   k->min, k->max);
        return -1;
    }
    field->n = (int)v;
    field->percent = percent;
    return 0;
}

static int set_bool(void *field, const char *value, char *err, size_t errlen)
{
    if (parse_bool(value, field) == 0)
        return 0;
    errbuf_set(err, errlen,
               "invalid boolean '%s' (use yes/no, on/off, true/false, 1/0)",
               value);
    return -1;
}

static int set_choice(const struct key *k, int *field, const char *value,
                      char *err, size_t errlen)
{
    const struct choice *c;
    char                 list[128] = "";
    size_t               len;

    for (c = k->choices; c->name != NULL; c++) {
        if (strcasecmp(value, c->name) == 0) {
            *field = c->value;
            return 0;
        }
        len = strlen(list);
        snprintf(list + len, sizeof(list) - len, "%s%s",
                 c == k->choices ? "" : ", ", c->name);
    }
    errbuf_set(err, errlen, "invalid %s '%s' (use %s)",
               k->what ? k->what : "value", value, list);
    return -1;
}

static int set_listen(struct service_conf *svc, const char *value,
                      const char *dir, char *err, size_t errlen)
{
    struct addr *a = NULL;
    size_t       n = 0;

    if (addr_parse_list(value, dir, &a, &n, err, errlen) < 0)
        return -1;
    if (n == 0) {
        free(a);
        errbuf_set(err, errlen, "no address given");
        return -1;
    }
    free(svc->listen);
    svc->listen = a;
    svc->nlisten = n;
    return 0;
}

static int set_cidrs(struct cidr_list *field, const char *value, char *err,
                     size_t errlen)
{
    struct cidr_list l = {0};

    if (cidr_list_parse(value, &l, err, errlen) < 0)
        return -1;
    if (l.n == 0) {
        cidr_list_free(&l);
        errbuf_set(err, errlen, "no address given");
        return -1;
    }
    cidr_list_free(field);
    *field = l;
    return 0;
}

/* One escape at value[*i] (the backslash): its byte, with *i left on the
 * escape's last character, or -1. */
static int unescape(const char *value, size_t *i)
{
    char e = value[++*i];
    char hex[3];

    switch (e) {
    case 'r': return '\r';
    case 'n': return '\n';
    case 't': return '\t';
    case '\\': return '\\';
    case 'x':
        if (!isxdigit((unsigned char)value[*i + 1]) ||
            !isxdigit((unsigned char)value[*i + 2]))
            return -1;
        hex[0] = value[*i + 1];
        hex[1] = value[*i + 2];
        hex[2] = '\0';
        *i += 2;
        return (int)strtol(hex, NULL, 16);
    default: return -1;
    }
}

/* A T_BYTES value: C's escapes \r \n \t \\ and \xHH (two hex digits)
 * stand for their bytes; any other backslash is an error. */
static int set_bytes(struct bytes *field, const char *value, char *err,
                     size_t errlen)
{
    size_t n = strlen(value), len = 0;
    char  *out = malloc(n + 1);
    int    c;

    if (out == NULL) {
        errbuf_set(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        c = value[i] == '\\' ? unescape(value, &i) : (unsigned char)value[i];
        if (c < 0) {
            free(out);
            errbuf_set(err, errlen,
                       "bad escape at column %zu (use \\r \\n \\t \\\\ or "
                       "\\xHH)",
                       i);
            return -1;
        }
        out[len++] = (char)c;
    }
    if (len == 0) {
        free(out);
        errbuf_set(err, errlen, "empty value");
        return -1;
    }
    out[len] = '\0';
    free(field->data);
    field->data = out;
    field->len = len;
    return 0;
}

/* T_STRING, T_PATH and T_LOG: a copy of the text, paths made absolute. */
static int set_text(const struct key *k, char **field, const char *value,
                    const char *dir, char *err, size_t errlen)
{
    char *s;

    if (k->type == T_PATH ||
        (k->type == T_LOG && strcmp(value, "stderr") != 0 &&
         strcmp(value, "syslog") != 0))
        s = resolve_path(dir, value);
    else
        s = strdup(value);
    if (s == NULL) {
        errbuf_set(err, errlen, "out of memory");
        return -1;
    }
    free(*field);
    *field = s;
    return 0;
}

int key_set(const struct key *k, void *base, const char *value, const char *dir,
            char *err, size_t errlen)
{
    void *field = (char *)base + k->offset;

    switch (k->type) {
    case T_INT: return set_int(k, field, value, err, errlen);
    case T_DURATION: return set_duration(k, field, value, err, errlen);
    case T_SIZE: return set_size(k, field, value, err, errlen);
    case T_BUDGET: return set_budget(k, field, value, err, errlen);
    case T_BOOL: return set_bool(field, value, err, errlen);
    case T_CHOICE: return set_choice(k, field, value, err, errlen);
    case T_CIDRS: return set_cidrs(field, value, err, errlen);
    case T_BYTES: return set_bytes(field, value, err, errlen);
    case T_LISTEN:
    case T_STRING:
    case T_PATH:
    case T_LOG: break;
    }
    if (value[0] == '\0') {
        errbuf_set(err, errlen, "empty value");
        return -1;
    }
    if (k->type == T_LISTEN)
        return set_listen(base, value, dir, err, errlen);
    return set_text(k, field, value, dir, err, errlen);
}

int key_find(const struct key *keys, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(keys[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

void keys_free(const struct key *keys, size_t n, void *base)
{
    size_t i;

    for (i = 0; i < n; i++) {
        void *field = (char *)base + keys[i].offset;

        switch (keys[i].type) {
        case T_STRING:
        case T_PATH:
        case T_LOG:
        case T_LISTEN: free(*(void **)field); break;
        case T_CIDRS: cidr_list_free(field); break;
        case T_BYTES: free(((struct bytes *)field)->data); break;
        default: break;
        }
    }
}

/* What each module key type is to the core, and the size of its field
 * (module.h says which C type each one is). */
static const struct {
    enum ktype type;
    size_t     size;
} module_types[] = {
    [PF_KEY_STRING] = {T_STRING, sizeof(char *)},
    [PF_KEY_PATH] = {T_PATH, sizeof(char *)},
    [PF_KEY_BOOL] = {T_BOOL, sizeof(int)},
    [PF_KEY_INT] = {T_INT, sizeof(long long)},
    [PF_KEY_DURATION] = {T_DURATION, sizeof(long long)},
    [PF_KEY_SIZE] = {T_SIZE, sizeof(long long)},
};

int key_from_module(const struct pf_key *pk, struct key *k)
{
    size_t t = (size_t)pk->type;

    if (t >= sizeof(module_types) / sizeof(module_types[0]))
        return -1;
    *k = (struct key){
        .name = pk->name,
        .type = module_types[t].type,
        .offset = pk->offset,
        .size = module_types[t].size,
        .def = pk->def,
        .required = pk->required,
        .min = pk->min,
        .max = pk->max,
        .help = pk->help,
    };
    if (pk->min == 0 && pk->max == 0)
        k->max = LLONG_MAX;
    return 0;
}

const char *choice_name(const struct choice *choices, int value)
{
    const struct choice *c;

    for (c = choices; c->name != NULL; c++)
        if (c->value == value)
            return c->name;
    return NULL;
}

const char *mode_name(enum pf_mode m)
{
    const char *name = choice_name(mode_choices, (int)m);

    return name ? name : "unknown";
}
