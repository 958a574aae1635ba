/*
 * mime.c -- the extension to Content-Type table.
 *
 * mime_load() reads a mime.types file (Debian's format: a type, then the
 * extensions that map to it, '#' starting a comment), adds the built-in
 * types for extensions the file did not name, and sorts the lot once, so a
 * lookup is a binary search with no allocation.  Extensions are stored in
 * lower case and looked up in lower case.  When an extension appears twice
 * in the file the first line wins.  Text types get their charset here, at
 * load time, so lookups return a finished header value.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime.h"

#define OCTET_STREAM "application/octet-stream"
#define CHARSET      "; charset=utf-8"

/* Longest extension looked up; longer ones are simply not found. */
#define MAX_EXT 32

/* A definition while loading: offsets into the pool, which may move. */
struct mime_def {
    size_t ext, type;
};

/* A finished entry, sorted by ext. */
struct mime_entry {
    const char *ext;
    const char *type;
    size_t      order; /* position of definition: the first one wins */
};

struct mime_table {
    struct mime_entry *e;
    size_t             n;
    char              *pool; /* every string, NUL-terminated */
    size_t             used, cap;
    struct mime_def   *defs; /* only while loading */
    size_t             ndefs, dcap;
};

/* Used when the file lacks an extension or is missing altogether. */
static const struct {
    const char *ext;
    const char *type;
} builtin[] = {
    {.ext = "css", .type = "text/css"},
    {.ext = "csv", .type = "text/csv"},
    {.ext = "gif", .type = "image/gif"},
    {.ext = "gz", .type = "application/gzip"},
    {.ext = "htm", .type = "text/html"},
    {.ext = "html", .type = "text/html"},
    {.ext = "ico", .type = "image/vnd.microsoft.icon"},
    {.ext = "jpeg", .type = "image/jpeg"},
    {.ext = "jpg", .type = "image/jpeg"},
    {.ext = "js", .type = "text/javascript"},
    {.ext = "json", .type = "application/json"},
    {.ext = "md", .type = "text/markdown"},
    {.ext = "mjs", .type = "text/javascript"},
    {.ext = "mp3", .type = "audio/mpeg"},
    {.ext = "mp4", .type = "video/mp4"},
    {.ext = "pdf", .type = "application/pdf"},
    {.ext = "png", .type = "image/png"},
    {.ext = "svg", .type = "image/svg+xml"},
    {.ext = "tar", .type = "application/x-tar"},
    {.ext = "txt", .type = "text/plain"},
    {.ext = "wasm", .type = "application/wasm"},
    {.ext = "webm", .type = "video/webm"},
    {.ext = "webp", .type = "image/webp"},
    {.ext = "woff", .type = "font/woff"},
    {.ext = "woff2", .type = "font/woff2"},
    {.ext = "xml", .type = "application/xml"},
    {.ext = "zip", .type = "application/zip"},
};

/* Types outside text/ whose content is text a browser must decode. */
static const char *const charset_types[] = {
    "application/javascript",
    "application/json",
    "application/xml",
    "image/svg+xml",
};

static int wants_charset(const char *type, size_t n)
{
    size_t i;

    if (n > 5 && strncasecmp(type, "text/", 5) == 0)
        return 1;
    for (i = 0; i < sizeof(charset_types) / sizeof(charset_types[0]); i++)
        if (strlen(charset_types[i]) == n &&
            strncasecmp(type, charset_types[i], n) == 0)
            return 1;
    return 0;
}

/* ---- loading ----------------------------------------------------------- */

/* Copy s[0..n) and then tail into the pool, NUL-terminated, optionally in
 * lower case; returns its offset, or (size_t)-1 on ENOMEM. */
static size_t pool_add(struct mime_table *t, const char *s, size_t n,
                       const char *tail, int lower)
{
    size_t tl = tail != NULL ? strlen(tail) : 0, off = t->used, i;

    if (t->cap - t->used < n + tl + 1) {
        size_t cap = t->cap != 0 ? t->cap : 4096;
        char  *p;

        while (cap - t->used < n + tl + 1)
            cap *= 2;
        p = realloc(t->pool, cap);
        if (p == NULL)
            return (size_t)-1;
        t->pool = p;
        t->cap = cap;
    }
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (lower && c >= 'A' && c <= 'Z')
            c = (char)(c + ('a' - 'A'));
        t->pool[off + i] = c;
    }
    memcpy(t->pool + off + n, tail != NULL ? tail : "", tl + 1);
    t->used += n + tl + 1;
    return off;
}

/* Append a definition whose strings are the pool offsets ext and type. */
static int add_def(struct mime_table *t, size_t ext, size_t type)
{
    if (t->ndefs == t->dcap) {
        size_t           cap = t->dcap != 0 ? t->dcap * 2 : 256;
        struct mime_def *d = reallocarray(t->defs, cap, sizeof(*d));

        if (d == NULL)
            return -1;
        t->defs = d;
        t->dcap = cap;
    }
    t->defs[t->ndefs].ext = ext;
    t->defs[t->ndefs].type = type;
    t->ndefs++;
    return 0;
}

static size_t span(const char *s, int ws)
{
    size_t n = 0;

    while (s[n] != '\0' && s[n] != '#' &&
           (s[n] == ' ' || s[n] == '\t' || s[n] == '\n' || s[n] == '\r') == ws)
        n++;
    return n;
}

/* One line of mime.types: "type ext ext ...", '#' to the end a comment. */
static int add_line(struct mime_table *t, const char *line)
{
    const char *p = line + span(line, 1);
    size_t      n = span(p, 0), type;

    if (n == 0 || memchr(p, '/', n) == NULL)
        return 0; /* blank, comment, or not a type */
    type = pool_add(t, p, n, wants_charset(p, n) ? CHARSET : NULL, 0);
    if (type == (size_t)-1)
        return -1;
    for (p += n;;) {
        size_t ext;

        p += span(p, 1);
        n = span(p, 0);
        if (n == 0)
            return 0;
        ext = pool_add(t, p, n, NULL, 1);
        if (ext == (size_t)-1 || add_def(t, ext, type) < 0)
            return -1;
        p += n;
    }
}

static int read_file(struct mime_table *t, const char *path)
{
    FILE  *f = fopen(path, "re");
    char  *line = NULL;
    size_t cap = 0;
    int    rc = 0;

    if (f == NULL)
        return 0; /* the built-in table serves alone */
    while (rc == 0 && getline(&line, &cap, f) != -1)
        rc = add_line(t, line);
    free(line);
    fclose(f);
    return rc;
}

static int add_builtin(struct mime_table *t)
{
    size_t i;

    for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
        const char *ty = builtin[i].type;
        size_t      ext, type;

        type = pool_add(t, ty, strlen(ty),
                        wants_charset(ty, strlen(ty)) ? CHARSET : NULL, 0);
        ext = pool_add(t, builtin[i].ext, strlen(builtin[i].ext), NULL, 0);
        if (type == (size_t)-1 || ext == (size_t)-1 ||
            add_def(t, ext, type) < 0)
            return -1;
    }
    return 0;
}

static int by_ext(const void *a, const void *b)
{
    const struct mime_entry *x = a, *y = b;
    int                      c = strcmp(x->ext, y->ext);

    if (c != 0)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* The pool is final: build the sorted entries, keeping the first
 * definition of each extension. */
static int mime_finish(struct mime_table *t)
{
    size_t i, k = 0;

    t->e = calloc(t->ndefs, sizeof(*t->e));
    if (t->e == NULL)
        return -1;
    for (i = 0; i < t->ndefs; i++) {
        t->e[i].ext = t->pool + t->defs[i].ext;
        t->e[i].type = t->pool + t->defs[i].type;
        t->e[i].order = i;
    }
    qsort(t->e, t->ndefs, sizeof(t->e[0]), by_ext);
    for (i = 0; i < t->ndefs; i++)
        if (k == 0 || strcmp(t->e[k - 1].ext, t->e[i].ext) != 0)
            t->e[k++] = t->e[i];
    t->n = k;
    free(t->defs);
    t->defs = NULL;
    return 0;
}

struct mime_table *mime_load(const char *path)
{
    struct mime_table *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    if (path != NULL && read_file(t, path) < 0)
        goto fail;
    if (add_builtin(t) < 0 || mime_finish(t) < 0)
        goto fail;
    return t;
fail:
    mime_free(t);
    return NULL;
}

void mime_free(struct mime_table *t)
{
    if (t == NULL)
        return;
    free(t->e);
    free(t->defs);
    free(t->pool);
    free(t);
}

/* ---- lookup ------------------------------------------------------------ */

const char *mime_type(const struct mime_table *t, const char *name)
{
    const char *base, *dot;
    char        key[MAX_EXT + 1];
    size_t      n, i, lo = 0, hi;

    base = strrchr(name, '/');
    base = base != NULL ? base + 1 : name;
    dot = strrchr(base, '.');
    /* No extension: "README", "name.", or a dotfile such as ".bashrc". */
    if (t == NULL || dot == NULL || dot == base)
        return OCTET_STREAM;
    n = strlen(dot + 1);
    if (n == 0 || n > MAX_EXT)
        return OCTET_STREAM;
    for (i = 0; i <= n; i++) {
        char c = dot[1 + i];

        key[i] = c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
    }
    for (hi = t->n; lo < hi;) {
        size_t mid = lo + (hi - lo) / 2;
        int    c = strcmp(key, t->e[mid].ext);

        if (c == 0)
            return t->e[mid].type;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return OCTET_STREAM;
}
