/*
 * config.c -- reading and checking the configuration file.
 *
 * The file is INI, split into lines and keys by inih.  inih tells its
 * handler neither the line number nor where a section starts, and it gives
 * up on a syntax error without saying what was wrong, so we feed it through
 * our own reader (read_line): the reader counts lines, reports overlong and
 * malformed lines itself, tracks the current section, and hands inih only
 * clean "key = value" lines.  Every problem is collected into a diag list
 * and parsing goes on, so the user sees all of them in one run.
 *
 * What the file may say is data, in config_keys.c: one table of keys for
 * [server] and one for service sections, each key with its type, default,
 * bounds and help.  Keys a service section does not know are kept raw for
 * its module to judge.
 *
 * Syntax, as a user sees it: `;` or `#` at the start of a line, or after a
 * blank anywhere on a key line, starts a comment; leading blanks do not
 * matter (there are no continuation lines); a line has at most
 * CONFIG_MAX_LINE bytes, inih's limit, and a longer one is an error rather
 * than being cut short.
 */
#define _GNU_SOURCE

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>
#include <prefork/module.h>

#include "config.h"
#include "config_keys.h"
#include "units.h"

/* Anything bigger is not a config file someone wrote (or is /dev/zero). */
#define CONFIG_MAX_FILE (1024 * 1024)

/* Where the parse is: inih calls read_line() for a line, then on_key() if
 * that line was a key, so both see the same `line` and section. */
enum sect { SECT_NONE, SECT_SERVER, SECT_SERVICE, SECT_SKIP };

struct parse {
    struct config *cfg;
    struct diag   *d;
    int            nerr;

    const char *p, *end; /* what read_line has not handed out yet */
    int         line;

    enum sect sect;
    size_t    cur; /* cfg->svc index when sect is SECT_SERVICE */
    int       server_line;
    int       server_seen[NSERVER_KEYS]; /* line a key was set on, or 0 */
    int (*svc_seen)[NSERVICE_KEYS];      /* the same, parallel to cfg->svc */
    size_t svc_cap;

    /* Problems are found out of order (a missing key only at the end);
     * the line of each of our messages in d, to sort them by. */
    size_t first; /* d->n before we started */
    int   *lines;
    size_t nlines;
    int    unsorted; /* a line could not be recorded: leave d as it is */
};

static void report(struct parse *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(struct parse *ps, int line, const char *fmt, ...)
{
    va_list ap;
    size_t  n = ps->d->n;
    int    *v;

    va_start(ap, fmt);
    diag_vadd(ps->d, ps->cfg->file, line, fmt, ap);
    va_end(ap);
    ps->nerr++;
    if (ps->d->n == n)
        return;
    v = realloc(ps->lines, (ps->nlines + 1) * sizeof(*v));
    if (v == NULL) {
        ps->unsorted = 1;
        return;
    }
    ps->lines = v;
    ps->lines[ps->nlines++] = line;
}

static void oom(struct parse *ps)
{
    report(ps, ps->line, "out of memory");
}

/* "[sect] key: message", the shape of every bad-value error. */
static void bad_value(struct parse *ps, int line, const char *sect,
                      const struct key *k, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void bad_value(struct parse *ps, int line, const char *sect,
                      const struct key *k, const char *fmt, ...)
{
    va_list ap;
    char   *msg;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0) {
        va_end(ap);
        oom(ps);
        return;
    }
    va_end(ap);
    report(ps, line, "[%s] %s: %s", sect, k->name, msg);
    free(msg);
}

/* ---- values ------------------------------------------------------------ */

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

static int set_int(struct parse *ps, const struct key *k, void *field,
                   const char *sect, const char *value, int line)
{
    long long v;

    if (parse_int(value, &v) < 0) {
        bad_value(ps, line, sect, k, "invalid integer '%s'", value);
        return -1;
    }
    if (v < k->min || v > k->max) {
        bad_value(ps, line, sect, k, "%lld is out of range (%lld..%lld)", v,
                  k->min, k->max);
        return -1;
    }
    if (k->size == sizeof(int))
        *(int *)field = (int)v;
    else
        *(long long *)field = v;
    return 0;
}

static int set_duration(struct parse *ps, const struct key *k, void *field,
                        const char *sect, const char *value, int line)
{
    char      lo[32], hi[32];
    long long v;

    if (parse_duration(value, &v) < 0) {
        bad_value(ps, line, sect, k,
                  "invalid duration '%s' (use 250ms, 10s, 5m, 1h)", value);
        return -1;
    }
    if (v < k->min || v > k->max) {
        fmt_duration(k->min, lo, sizeof(lo));
        fmt_duration(k->max, hi, sizeof(hi));
        bad_value(ps, line, sect, k, "'%s' is out of range (%s..%s)", value, lo,
                  hi);
        return -1;
    }
    *(long long *)field = v;
    return 0;
}

static int set_size(struct parse *ps, const struct key *k, void *field,
                    const char *sect, const char *value, int line)
{
    long long v;

    if (parse_size(value, &v) < 0) {
        bad_value(ps, line, sect, k, "invalid size '%s' (use 512k, 64m, 1g)",
                  value);
        return -1;
    }
    if (v < k->min || v > k->max) {
        bad_value(ps, line, sect, k, "'%s' is out of range", value);
        return -1;
    }
    *(long long *)field = v;
    return 0;
}

static int set_budget(struct parse *ps, const struct key *k,
                      struct budget *field, const char *sect, const char *value,
                      int line)
{
    long long v;
    int       percent;

    if (parse_count(value, &v, &percent) < 0) {
        bad_value(ps, line, sect, k,
                  "invalid value '%s' (use a count such as 2, or a "
                  "percentage such as 25%%)",
                  value);
        return -1;
    }
    if (percent ? v < 1 || v > 100 : v < k->min || v > k->max) {
        bad_value(ps, line, sect, k,
                  "'%s' is out of range (%lld..%lld, or 1%%..100%%)", value,
                  k->min, k->max);
        return -1;
    }
    field->n = (int)v;
    field->percent = percent;
    return 0;
}

static int set_named(struct parse *ps, const struct key *k, int *field,
                     const char *sect, const char *value, int line)
{
    size_t i;

    if (k->type == T_LEVEL) {
        for (i = 0; i < NELEM(level_names); i++) {
            if (strcasecmp(value, level_names[i].name) == 0) {
                *field = level_names[i].value;
                return 0;
            }
        }
        bad_value(ps, line, sect, k,
                  "invalid log level '%s' "
                  "(use debug, info, notice, warn, error)",
                  value);
        return -1;
    }
    for (i = 0; i < NELEM(mode_names); i++) {
        if (strcasecmp(value, mode_names[i]) == 0) {
            *field = (int)i;
            return 0;
        }
    }
    bad_value(ps, line, sect, k,
              "invalid mode '%s' (use prefork, forking, threading)", value);
    return -1;
}

static int set_choice(struct parse *ps, const struct key *k, int *field,
                      const char *sect, const char *value, int line)
{
    char   list[128] = "";
    size_t i, len;

    for (i = 0; k->choices[i] != NULL; i++) {
        if (strcasecmp(value, k->choices[i]) == 0) {
            *field = (int)i;
            return 0;
        }
        len = strlen(list);
        snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
                 k->choices[i]);
    }
    bad_value(ps, line, sect, k, "invalid value '%s' (use %s)", value, list);
    return -1;
}

static int set_listen(struct parse *ps, const struct key *k,
                      struct service_conf *svc, const char *value, int line)
{
    struct addr *a = NULL;
    size_t       n = 0;
    char         err[256] = "";

    if (addr_parse_list(value, ps->cfg->dir, &a, &n, err, sizeof(err)) < 0) {
        bad_value(ps, line, svc->name, k, "%s", err);
        return -1;
    }
    if (n == 0) {
        free(a);
        bad_value(ps, line, svc->name, k, "no address given");
        return -1;
    }
    svc->listen = a;
    svc->nlisten = n;
    svc->listen_line = line;
    return 0;
}

static int set_cidrs(struct parse *ps, const struct key *k,
                     struct cidr_list *field, const char *sect,
                     const char *value, int line)
{
    struct cidr_list l = {0};
    char             err[256] = "";

    if (cidr_list_parse(value, &l, err, sizeof(err)) < 0) {
        bad_value(ps, line, sect, k, "%s", err);
        return -1;
    }
    if (l.n == 0) {
        cidr_list_free(&l);
        bad_value(ps, line, sect, k, "no address given");
        return -1;
    }
    cidr_list_free(field);
    *field = l;
    return 0;
}

/* A T_BYTES value: C's escapes \r \n \t \\ and \xHH (two hex digits)
 * stand for their bytes; any other backslash is an error. */
static int set_bytes(struct parse *ps, const struct key *k, struct bytes *field,
                     const char *sect, const char *value, int line)
{
    size_t n = strlen(value), len = 0;
    char  *out = malloc(n + 1);

    if (out == NULL) {
        oom(ps);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char e;

        if (value[i] != '\\') {
            out[len++] = value[i];
            continue;
        }
        e = value[++i];
        if (e == 'r' || e == 'n' || e == 't' || e == '\\') {
            out[len++] = e == 'r'   ? '\r'
                         : e == 'n' ? '\n'
                         : e == 't' ? '\t'
                                    : e;
        } else if (e == 'x' && isxdigit((unsigned char)value[i + 1]) &&
                   isxdigit((unsigned char)value[i + 2])) {
            char hex[3] = {value[i + 1], value[i + 2], '\0'};

            out[len++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            free(out);
            bad_value(ps, line, sect, k,
                      "bad escape at column %zu (use \\r \\n \\t \\\\ or "
                      "\\xHH)",
                      i);
            return -1;
        }
    }
    if (len == 0) {
        free(out);
        bad_value(ps, line, sect, k, "empty value");
        return -1;
    }
    out[len] = '\0';
    free(field->data);
    field->data = out;
    field->len = len;
    return 0;
}

/* Store value into the field k names in base (a struct config or a
 * struct service_conf).  line is 0 for defaults, which never fail. */
static int set_value(struct parse *ps, const struct key *k, void *base,
                     const char *sect, const char *value, int line)
{
    void *field = (char *)base + k->offset;
    char *s;

    switch (k->type) {
    case T_INT: return set_int(ps, k, field, sect, value, line);
    case T_DURATION: return set_duration(ps, k, field, sect, value, line);
    case T_SIZE: return set_size(ps, k, field, sect, value, line);
    case T_BUDGET: return set_budget(ps, k, field, sect, value, line);
    case T_BOOL:
        if (parse_bool(value, field) == 0)
            return 0;
        bad_value(ps, line, sect, k,
                  "invalid boolean '%s' (use yes/no, on/off, true/false, 1/0)",
                  value);
        return -1;
    case T_LEVEL:
    case T_MODE: return set_named(ps, k, field, sect, value, line);
    case T_CHOICE: return set_choice(ps, k, field, sect, value, line);
    case T_CIDRS: return set_cidrs(ps, k, field, sect, value, line);
    case T_BYTES: return set_bytes(ps, k, field, sect, value, line);
    case T_LISTEN:
    case T_STRING:
    case T_MODULE:
    case T_PATH:
    case T_LOG: break;
    }

    if (value[0] == '\0') {
        bad_value(ps, line, sect, k, "empty value");
        return -1;
    }
    if (k->type == T_LISTEN)
        return set_listen(ps, k, base, value, line);
    if (k->type == T_PATH ||
        (k->type == T_LOG && strcmp(value, "stderr") != 0 &&
         strcmp(value, "syslog") != 0))
        s = resolve_path(ps->cfg->dir, value);
    else
        s = strdup(value);
    if (s == NULL) {
        oom(ps);
        return -1;
    }
    free(*(char **)field);
    *(char **)field = s;
    if (k->type == T_MODULE)
        ((struct service_conf *)base)->module_line = line;
    return 0;
}

static int find_key(const struct key *keys, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(keys[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

static void free_fields(const struct key *keys, size_t n, void *base)
{
    size_t i;

    for (i = 0; i < n; i++) {
        switch (keys[i].type) {
        case T_STRING:
        case T_MODULE:
        case T_PATH:
        case T_LOG:
        case T_LISTEN: free(*(void **)((char *)base + keys[i].offset)); break;
        case T_CIDRS:
            cidr_list_free((struct cidr_list *)((char *)base + keys[i].offset));
            break;
        case T_BYTES:
            free(((struct bytes *)((char *)base + keys[i].offset))->data);
            break;
        default: break;
        }
    }
}

/* ---- keys, as inih hands them over ------------------------------------- */

static void server_key(struct parse *ps, const char *name, const char *value)
{
    int i = find_key(server_keys, NSERVER_KEYS, name);

    if (i < 0) {
        report(ps, ps->line, "unknown key '%s' in [server]%s", name,
               find_key(service_keys, NSERVICE_KEYS, name) >= 0
                   ? " (it belongs in a service section)"
                   : "");
        return;
    }
    if (ps->server_seen[i]) {
        report(ps, ps->line,
               "[server] duplicate key '%s' (first set on "
               "line %d)",
               name, ps->server_seen[i]);
        return;
    }
    ps->server_seen[i] = ps->line;
    set_value(ps, &server_keys[i], ps->cfg, "server", value, ps->line);
}

/* A key the core does not know: the service's module will judge it. */
static void module_key(struct parse *ps, struct service_conf *svc,
                       const char *name, const char *value)
{
    struct conf_kv *kv;
    size_t          i;

    for (i = 0; i < svc->nmkeys; i++) {
        if (strcmp(svc->mkeys[i].key, name) == 0) {
            report(ps, ps->line,
                   "[%s] duplicate key '%s' (first set on "
                   "line %d)",
                   svc->name, name, svc->mkeys[i].line);
            return;
        }
    }
    kv = realloc(svc->mkeys, (svc->nmkeys + 1) * sizeof(*kv));
    if (kv == NULL) {
        oom(ps);
        return;
    }
    svc->mkeys = kv;
    kv = &svc->mkeys[svc->nmkeys];
    kv->key = strdup(name);
    kv->value = strdup(value);
    kv->line = ps->line;
    if (kv->key == NULL || kv->value == NULL) {
        free(kv->key);
        free(kv->value);
        oom(ps);
        return;
    }
    svc->nmkeys++;
}

static void service_key(struct parse *ps, const char *name, const char *value)
{
    struct service_conf *svc = &ps->cfg->svc[ps->cur];
    int                 *seen = ps->svc_seen[ps->cur];
    int                  i = find_key(service_keys, NSERVICE_KEYS, name);

    if (i < 0) {
        module_key(ps, svc, name, value);
        return;
    }
    if (seen[i]) {
        report(ps, ps->line, "[%s] duplicate key '%s' (first set on line %d)",
               svc->name, name, seen[i]);
        return;
    }
    seen[i] = ps->line;
    set_value(ps, &service_keys[i], svc, svc->name, value, ps->line);
}

static int on_key(void *user, const char *section, const char *name,
                  const char *value)
{
    struct parse *ps = user;

    (void)section; /* inih's copy is cut at 50 bytes; we track our own */
    switch (ps->sect) {
    case SECT_NONE:
        report(ps, ps->line,
               "key '%s' is outside any section (put it under "
               "[server] or a service's [name])",
               name);
        break;
    case SECT_SERVER: server_key(ps, name, value); break;
    case SECT_SERVICE: service_key(ps, name, value); break;
    case SECT_SKIP: /* under a broken or duplicate header, already reported */
        break;
    }
    return 1; /* never stop inih: we want every error */
}

/* ---- lines, as the reader sees them ------------------------------------ */

static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Service names show up in logs and status lines: keep them plain. */
static int valid_name(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && !strchr("_-.", *s))
            return 0;
    }
    return 1;
}

static void begin_section(struct parse *ps, const char *name)
{
    struct config       *cfg = ps->cfg;
    struct service_conf *svc;
    size_t               i;

    ps->sect = SECT_SKIP; /* until the section is known to be good */
    if (strcmp(name, "server") == 0) {
        if (ps->server_line) {
            report(ps, ps->line,
                   "duplicate section [server] (first on "
                   "line %d)",
                   ps->server_line);
            return;
        }
        ps->server_line = ps->line;
        ps->sect = SECT_SERVER;
        return;
    }
    for (i = 0; i < cfg->nsvc; i++) {
        if (strcmp(cfg->svc[i].name, name) == 0) {
            report(ps, ps->line, "duplicate section [%s] (first on line %d)",
                   name, cfg->svc[i].line);
            return;
        }
    }
    if (cfg->nsvc == ps->svc_cap) {
        size_t cap = ps->svc_cap ? 2 * ps->svc_cap : 4;
        void  *v = realloc(cfg->svc, cap * sizeof(*cfg->svc));

        if (v == NULL) {
            oom(ps);
            return;
        }
        cfg->svc = v;
        v = realloc(ps->svc_seen, cap * sizeof(*ps->svc_seen));
        if (v == NULL) {
            oom(ps);
            return;
        }
        ps->svc_seen = v;
        ps->svc_cap = cap;
    }
    svc = &cfg->svc[cfg->nsvc];
    memset(svc, 0, sizeof(*svc));
    memset(ps->svc_seen[cfg->nsvc], 0, sizeof(*ps->svc_seen));
    svc->name = strdup(name);
    if (svc->name == NULL) {
        oom(ps);
        return;
    }
    svc->line = ps->line;
    ps->cur = cfg->nsvc++;
    ps->sect = SECT_SERVICE;
}

static void syntax_error(struct parse *ps)
{
    report(ps, ps->line, "expected 'key = value' or '[section]'");
}

/* s is a trimmed line starting with '['. */
static void section_line(struct parse *ps, char *s)
{
    char *close = strchr(s, ']');
    char *rest, *name;

    ps->sect = SECT_SKIP; /* keys under a broken header go nowhere */
    if (close == NULL) {
        syntax_error(ps);
        return;
    }
    for (rest = close + 1; isspace((unsigned char)*rest); rest++)
        ;
    if (*rest != '\0' && *rest != ';' && *rest != '#') {
        syntax_error(ps);
        return;
    }
    *close = '\0';
    name = trim(s + 1);
    if (!valid_name(name)) {
        report(ps, ps->line,
               "invalid section name '%s' (use letters, "
               "digits, '_', '-' and '.')",
               name);
        return;
    }
    begin_section(ps, name);
}

/* Cut a comment that follows a blank: "a = b ; note" -> "a = b". */
static void cut_comment(char *s)
{
    char *p;

    for (p = s + 1; *p; p++) {
        if ((*p == ';' || *p == '#') && isspace((unsigned char)p[-1])) {
            *p = '\0';
            trim(s);
            return;
        }
    }
}

/* Look at one raw line (without its newline) and decide what inih gets in
 * out: the cleaned line when it is a key, else an empty line. */
static void classify(struct parse *ps, const char *text, size_t len, char *out,
                     size_t outlen)
{
    char   buf[CONFIG_MAX_LINE + 1];
    size_t limit = outlen - 1 < CONFIG_MAX_LINE ? outlen - 1 : CONFIG_MAX_LINE;
    char  *s;

    out[0] = '\0';
    if (len > limit || memchr(text, '\0', len) != NULL) {
        if (len > limit)
            report(ps, ps->line, "line too long (at most %zu bytes)", limit);
        else
            report(ps, ps->line, "line contains a NUL byte");
        while (len > 0 && isspace((unsigned char)*text))
            text++, len--;
        if (len > 0 && *text == '[')
            ps->sect = SECT_SKIP; /* a header we could not read */
        return;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    s = trim(buf);
    if (*s == '\0' || *s == ';' || *s == '#')
        return;
    if (*s == '[') {
        section_line(ps, s);
        return;
    }
    cut_comment(s);
    len = strcspn(s, "=:");
    if (s[len] == '\0' || len == 0) {
        syntax_error(ps);
        return;
    }
    memcpy(out, s, strlen(s) + 1);
}

/* inih's reader: like fgets on the buffer, but see classify(). */
static char *read_line(char *str, int num, void *stream)
{
    struct parse *ps = stream;
    const char   *text = ps->p, *nl;
    size_t        len;

    if (ps->p >= ps->end || num < 2)
        return NULL;
    nl = memchr(text, '\n', (size_t)(ps->end - text));
    len = (size_t)((nl ? nl : ps->end) - text);
    ps->p = nl ? nl + 1 : ps->end;
    ps->line++;
    if (len > 0 && text[len - 1] == '\r')
        len--;
    if (ps->line == 1 && len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3, len -= 3; /* a UTF-8 byte order mark */
    classify(ps, text, len, str, (size_t)num);
    return str;
}

/* ---- after the last line ----------------------------------------------- */

static int ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        return 1;
    return n > MAX_POOL ? MAX_POOL : (int)n;
}

static void defaults(struct parse *ps, const struct key *keys, size_t n,
                     const int *seen, void *base, const char *sect)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!seen[i] && keys[i].def != NULL)
            set_value(ps, &keys[i], base, sect, keys[i].def, 0);
    }
}

/* The smallest nonzero of two line numbers. */
static int first_line(int a, int b)
{
    if (a == 0 || (b != 0 && b < a))
        return b;
    return a;
}

/* min_spare, max_spare and max_workers make a pool dynamic; fill in what
 * was left out and check they agree with each other and with workers. */
static void check_dynamic(struct parse *ps, struct service_conf *svc,
                          const int *seen)
{
    int spare_line = first_line(seen[VK_MIN_SPARE], seen[VK_MAX_SPARE]);

    /* A bound that was set but refused (it stays 0) has been reported;
     * comparing with it would only add noise. */
    if ((seen[VK_MAX_WORKERS] && svc->max_workers == 0) ||
        (seen[VK_MAX_SPARE] && svc->max_spare == 0))
        return;
    if (!seen[VK_MAX_WORKERS]) {
        report(ps, spare_line,
               "[%s] max_workers is required when "
               "min_spare/max_spare are set",
               svc->name);
        return;
    }
    if (!seen[VK_MIN_SPARE])
        svc->min_spare = 1;
    if (!seen[VK_MAX_SPARE])
        svc->max_spare =
            svc->min_spare > svc->workers ? svc->min_spare : svc->workers;
    /* A pool sized from the CPU count must not make a config that works
     * on a small machine fail on a big one. */
    if (!seen[VK_WORKERS] && !ps->server_seen[SK_WORKERS] &&
        svc->workers > svc->max_workers)
        svc->workers = svc->max_workers;
    if (svc->workers > svc->max_workers)
        report(ps, seen[VK_MAX_WORKERS],
               "[%s] workers (%d%s) must not "
               "exceed max_workers (%d)",
               svc->name, svc->workers,
               seen[VK_WORKERS] ? "" : ", from [server]", svc->max_workers);
    if (svc->min_spare > svc->max_spare)
        report(ps, first_line(seen[VK_MAX_SPARE], seen[VK_MIN_SPARE]),
               "[%s] min_spare (%d) must not exceed max_spare (%d)", svc->name,
               svc->min_spare, svc->max_spare);
    if (svc->min_spare > svc->max_workers)
        report(ps, first_line(seen[VK_MIN_SPARE], seen[VK_MAX_WORKERS]),
               "[%s] min_spare (%d) must not exceed max_workers (%d)",
               svc->name, svc->min_spare, svc->max_workers);
}

/* A service with listeners, every one of them UDP. */
static int only_udp(const struct service_conf *svc)
{
    size_t i;

    for (i = 0; i < svc->nlisten; i++)
        if (svc->listen[i].kind != ADDR_UDP)
            return 0;
    return svc->nlisten > 0;
}

static void stream_only(struct parse *ps, const struct service_conf *svc,
                        const int *seen, int key)
{
    report(ps, seen[key],
           "[%s] %s is for TCP and UNIX stream listeners; this service has "
           "only UDP ones",
           svc->name, service_keys[key].name);
}

/* proxy_from restricts proxy_protocol; it and canary_probe need a stream
 * listener. */
static void check_streams(struct parse *ps, struct service_conf *svc,
                          const int *seen)
{
    if (seen[VK_PROXY_FROM] && !svc->proxy_protocol)
        report(ps, seen[VK_PROXY_FROM],
               "[%s] proxy_from needs proxy_protocol = yes", svc->name);
    if (!only_udp(svc))
        return;
    if (svc->proxy_protocol)
        stream_only(ps, svc, seen, VK_PROXY_PROTOCOL);
    if (svc->canary_probe.len > 0)
        stream_only(ps, svc, seen, VK_CANARY_PROBE);
}

static void finish_service(struct parse *ps, size_t i)
{
    struct service_conf *svc = &ps->cfg->svc[i];
    const int           *seen = ps->svc_seen[i];
    size_t               k;

    for (k = 0; k < NSERVICE_KEYS; k++) {
        if (service_keys[k].required && !seen[k])
            report(ps, svc->line, "[%s] missing required key '%s'", svc->name,
                   service_keys[k].name);
    }
    defaults(ps, service_keys, NSERVICE_KEYS, seen, svc, svc->name);
    if (!seen[VK_WORKERS])
        svc->workers = ps->cfg->workers;
    svc->dynamic =
        seen[VK_MIN_SPARE] || seen[VK_MAX_SPARE] || seen[VK_MAX_WORKERS];
    if (svc->dynamic)
        check_dynamic(ps, svc, seen);
    check_streams(ps, svc, seen);
}

/* Two services on one address could never both bind it: say so here,
 * with lines, rather than as a bind error at start.  (A list naming one
 * address twice is addr_parse_list's to report.) */
static void check_addresses(struct parse *ps)
{
    struct config *cfg = ps->cfg;
    size_t         i, j, a, b;

    for (i = 0; i < cfg->nsvc; i++) {
        struct service_conf *s = &cfg->svc[i];

        for (a = 0; a < s->nlisten; a++) {
            for (j = 0; j < i; j++) {
                struct service_conf *t = &cfg->svc[j];

                for (b = 0; b < t->nlisten; b++) {
                    if (strcmp(s->listen[a].text, t->listen[b].text) == 0)
                        report(ps, s->listen_line,
                               "[%s] listen: %s is "
                               "already used by [%s] (line %d)",
                               s->name, s->listen[a].text, t->name,
                               t->listen_line);
                }
            }
        }
    }
}

static void finish(struct parse *ps)
{
    struct config *cfg = ps->cfg;
    size_t         i;

    defaults(ps, server_keys, NSERVER_KEYS, ps->server_seen, cfg, "server");
    if (!ps->server_seen[SK_WORKERS])
        cfg->workers = ncpu();
    if (cfg->nsvc == 0)
        report(ps, 0,
               "no service defined (add a section such as [web] "
               "with 'module' and 'listen')");
    for (i = 0; i < cfg->nsvc; i++)
        finish_service(ps, i);
    check_addresses(ps);
}

struct numbered {
    int    line; /* 0 (the whole file) sorts last */
    size_t seq;  /* keeps messages of one line in the order found */
    char  *msg;
};

static int by_line(const void *a, const void *b)
{
    const struct numbered *x = a, *y = b;
    unsigned               lx = (unsigned)x->line - 1;
    unsigned               ly = (unsigned)y->line - 1;

    if (lx != ly)
        return lx < ly ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Put our messages in d in file order, as a compiler would list them. */
static void sort_messages(struct parse *ps)
{
    struct numbered *v;
    char           **msg = ps->d->msg + ps->first;
    size_t           i, n = ps->nlines;

    if (ps->unsorted || n < 2 || ps->d->n - ps->first != n)
        return;
    v = malloc(n * sizeof(*v));
    if (v == NULL)
        return;
    for (i = 0; i < n; i++)
        v[i] = (struct numbered){.line = ps->lines[i], .seq = i, .msg = msg[i]};
    qsort(v, n, sizeof(*v), by_line);
    for (i = 0; i < n; i++)
        msg[i] = v[i].msg;
    free(v);
}

/* ---- entry points ------------------------------------------------------ */

/* dir made absolute, resolving symlinks when it exists. */
static char *absolute_dir(const char *dir)
{
    char *out, *cwd;

    if (dir == NULL || dir[0] == '\0')
        dir = ".";
    out = realpath(dir, NULL);
    if (out != NULL || dir[0] == '/')
        return out ? out : strdup(dir);
    cwd = getcwd(NULL, 0);
    if (cwd == NULL)
        return strdup(dir);
    if (asprintf(&out, "%s/%s", cwd, dir) < 0)
        out = NULL;
    free(cwd);
    return out;
}

/* Parse buf; with `keep`, return the config even when it has errors. */
static struct config *load_buffer(const char *buf, size_t len, const char *name,
                                  const char *dir, struct diag *d, int keep)
{
    struct parse   ps = {.d = d, .first = d->n};
    struct config *cfg;

    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        diag_add(d, name, 0, "out of memory");
        return NULL;
    }
    ps.cfg = cfg;
    cfg->file = strdup(name ? name : "(config)");
    cfg->dir = absolute_dir(dir);
    if (cfg->file == NULL || cfg->dir == NULL) {
        diag_add(d, name, 0, "out of memory");
        goto fail;
    }
    ps.p = buf ? buf : "";
    ps.end = buf ? buf + len : ps.p;
    if (ini_parse_stream(read_line, &ps, on_key, &ps) < 0)
        oom(&ps);
    finish(&ps);
    if (ps.nerr > 0)
        goto fail;
    free(ps.lines);
    free(ps.svc_seen);
    return cfg;

fail:
    sort_messages(&ps);
    free(ps.lines);
    free(ps.svc_seen);
    if (keep && cfg->file != NULL && cfg->dir != NULL)
        return cfg;
    config_free(cfg);
    return NULL;
}

struct config *config_load_buffer(const char *buf, size_t len, const char *name,
                                  const char *dir, struct diag *d)
{
    return load_buffer(buf, len, name, dir, d, 0);
}

/* The whole file, NUL-terminated, or NULL with the reason in d. */
static char *slurp(const char *path, size_t *len, struct diag *d)
{
    char   *buf = NULL, *nb;
    size_t  n = 0, cap = 0;
    ssize_t r;
    int     fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        diag_add(d, path, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            nb = realloc(buf, cap + 1);
            if (nb == NULL) {
                diag_add(d, path, 0, "out of memory");
                goto fail;
            }
            buf = nb;
        }
        r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            diag_add(d, path, 0, "cannot read: %s", strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > CONFIG_MAX_FILE) {
            diag_add(d, path, 0, "file too large (at most %d bytes)",
                     CONFIG_MAX_FILE);
            goto fail;
        }
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;

fail:
    close(fd);
    free(buf);
    return NULL;
}

static struct config *load_file(const char *path, struct diag *d, int keep)
{
    struct config *cfg;
    char          *buf, *dir, *slash;
    size_t         len;

    buf = slurp(path, &len, d);
    if (buf == NULL)
        return NULL;
    dir = strdup(path);
    if (dir == NULL) {
        diag_add(d, path, 0, "out of memory");
        free(buf);
        return NULL;
    }
    slash = strrchr(dir, '/');
    if (slash == NULL)
        strcpy(dir, ".");
    else
        slash[slash == dir] = '\0'; /* "/x.ini" keeps its "/" */
    cfg = load_buffer(buf, len, path, dir, d, keep);
    free(dir);
    free(buf);
    return cfg;
}

struct config *config_load(const char *path, struct diag *d)
{
    return load_file(path, d, 0);
}

struct config *config_load_partial(const char *path, struct diag *d)
{
    return load_file(path, d, 1);
}

void config_free(struct config *cfg)
{
    size_t i, k;

    if (cfg == NULL)
        return;
    for (i = 0; i < cfg->nsvc; i++) {
        struct service_conf *svc = &cfg->svc[i];

        free_fields(service_keys, NSERVICE_KEYS, svc);
        for (k = 0; k < svc->nmkeys; k++) {
            free(svc->mkeys[k].key);
            free(svc->mkeys[k].value);
        }
        free(svc->mkeys);
        free(svc->name);
    }
    free(cfg->svc);
    free_fields(server_keys, NSERVER_KEYS, cfg);
    free(cfg->file);
    free(cfg->dir);
    free(cfg);
}

const char *mode_name(enum pf_mode m)
{
    if ((size_t)m < NELEM(mode_names))
        return mode_names[m];
    return "unknown";
}
