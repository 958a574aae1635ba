/*
 * reader.c -- reading the configuration file (reader.h).
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
 * bounds and help; values.c stores a value by its key's type.  Keys a
 * service section does not know are kept raw for its module to judge.
 * Once the last line is read, checks.c looks at what involves several keys.
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

#include "config_keys.h"
#include "parse.h"
#include "reader.h"
#include "values.h"

/* Anything bigger is not a config file someone wrote (or is /dev/zero). */
#define CONFIG_MAX_FILE (1024 * 1024)

void parse_report(struct parse *ps, int line, const char *fmt, ...)
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
    parse_report(ps, ps->line, "out of memory");
}

/* Store value for key k of section sect, or report why not with the
 * shape of every bad-value error, "[sect] key: why".  line is 0 for
 * defaults, which never fail. */
static int set_key(struct parse *ps, const struct key *k, void *base,
                   const char *sect, const char *value, int line)
{
    char err[512];

    if (key_set(k, base, value, ps->cfg->dir, err, sizeof(err)) == 0)
        return 0;
    parse_report(ps, line, "[%s] %s: %s", sect, k->name, err);
    return -1;
}

/* ---- keys, as inih hands them over ------------------------------------- */

static void server_key(struct parse *ps, const char *name, const char *value)
{
    int i = key_find(server_keys, NSERVER_KEYS, name);

    if (i < 0) {
        parse_report(ps, ps->line, "unknown key '%s' in [server]%s", name,
                     key_find(service_keys, NSERVICE_KEYS, name) >= 0
                         ? " (it belongs in a service section)"
                         : "");
        return;
    }
    if (ps->server_seen[i]) {
        parse_report(ps, ps->line,
                     "[server] duplicate key '%s' (first set on "
                     "line %d)",
                     name, ps->server_seen[i]);
        return;
    }
    ps->server_seen[i] = ps->line;
    set_key(ps, &server_keys[i], ps->cfg, "server", value, ps->line);
    /* A user or group unknown here is found only after the file is read. */
    if (i == SK_USER)
        ps->cfg->user_line = ps->line;
    else if (i == SK_GROUP)
        ps->cfg->group_line = ps->line;
}

/* A key the core does not know: the service's module will judge it. */
static void module_key(struct parse *ps, struct service_conf *svc,
                       const char *name, const char *value)
{
    struct conf_kv *kv;
    size_t          i;

    for (i = 0; i < svc->nmkeys; i++) {
        if (strcmp(svc->mkeys[i].key, name) == 0) {
            parse_report(ps, ps->line,
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
    int                  i = key_find(service_keys, NSERVICE_KEYS, name);

    if (i < 0) {
        module_key(ps, svc, name, value);
        return;
    }
    if (seen[i]) {
        parse_report(ps, ps->line,
                     "[%s] duplicate key '%s' (first set on line %d)",
                     svc->name, name, seen[i]);
        return;
    }
    seen[i] = ps->line;
    if (set_key(ps, &service_keys[i], svc, svc->name, value, ps->line) < 0)
        return;
    /* Where module and listen are set is where their problems are. */
    if (i == VK_MODULE)
        svc->module_line = ps->line;
    else if (i == VK_LISTEN)
        svc->listen_line = ps->line;
}

static int on_key(void *user, const char *section, const char *name,
                  const char *value)
{
    struct parse *ps = user;

    (void)section; /* inih's copy is cut at 50 bytes; we track our own */
    switch (ps->sect) {
    case SECT_NONE:
        parse_report(ps, ps->line,
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
            parse_report(ps, ps->line,
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
            parse_report(ps, ps->line,
                         "duplicate section [%s] (first on line %d)", name,
                         cfg->svc[i].line);
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
    parse_report(ps, ps->line, "expected 'key = value' or '[section]'");
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
        parse_report(ps, ps->line,
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
            parse_report(ps, ps->line, "line too long (at most %zu bytes)",
                         limit);
        else
            parse_report(ps, ps->line, "line contains a NUL byte");
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
            set_key(ps, &keys[i], base, sect, keys[i].def, 0);
    }
}

static void finish_service(struct parse *ps, size_t i)
{
    struct service_conf *svc = &ps->cfg->svc[i];
    const int           *seen = ps->svc_seen[i];
    size_t               k;

    for (k = 0; k < NSERVICE_KEYS; k++) {
        if (service_keys[k].required && !seen[k])
            parse_report(ps, svc->line, "[%s] missing required key '%s'",
                         svc->name, service_keys[k].name);
    }
    defaults(ps, service_keys, NSERVICE_KEYS, seen, svc, svc->name);
    if (!seen[VK_WORKERS])
        svc->workers = ps->cfg->workers;
}

static void finish(struct parse *ps)
{
    struct config *cfg = ps->cfg;
    size_t         i;

    defaults(ps, server_keys, NSERVER_KEYS, ps->server_seen, cfg, "server");
    if (!ps->server_seen[SK_WORKERS])
        cfg->workers = ncpu();
    if (cfg->nsvc == 0)
        parse_report(ps, 0,
                     "no service defined (add a section such as [web] "
                     "with 'module' and 'listen')");
    for (i = 0; i < cfg->nsvc; i++)
        finish_service(ps, i);
    check_config(ps);
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

/* Put our messages in d in file order, as a compiler would list them.
 * They are all errors (warnings go to cfg->warnings), so d->warning needs
 * no reordering. */
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

        keys_free(service_keys, NSERVICE_KEYS, svc);
        for (k = 0; k < svc->nmkeys; k++) {
            free(svc->mkeys[k].key);
            free(svc->mkeys[k].value);
        }
        free(svc->mkeys);
        free(svc->name);
    }
    free(cfg->svc);
    keys_free(server_keys, NSERVER_KEYS, cfg);
    diag_free(&cfg->warnings);
    free(cfg->file);
    free(cfg->dir);
    free(cfg);
}
