/*
 * autoindex.c -- HTML listings of directories without an index file.
 *
 * Names are escaped twice over: percent-encoded in the href, HTML-escaped
 * in the text, so a file called <script> or a&b shows as itself and links
 * to itself.  Entries are sorted, directories marked with a trailing '/'.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "autoindex.h"
#include "response.h"

struct strbuf {
    char  *p;
    size_t len, cap;
    int    failed;
};

static void sb_add(struct strbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char  *p;
        while (cap < b->len + n + 1)
            cap *= 2;
        if ((p = realloc(b->p, cap)) == NULL) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void sb_str(struct strbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_html(struct strbuf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '<': sb_str(b, "&lt;"); break;
        case '>': sb_str(b, "&gt;"); break;
        case '&': sb_str(b, "&amp;"); break;
        case '"': sb_str(b, "&quot;"); break;
        case '\'': sb_str(b, "&#39;"); break;
        default: sb_add(b, s, 1);
        }
    }
}

/* Percent-encode all but RFC 3986's unreserved characters. */
static void sb_url(struct strbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char              e[3] = {'%', 0, 0};

    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL) {
            sb_add(b, s, 1);
            continue;
        }
        e[1] = hex[ch >> 4];
        e[2] = hex[ch & 15];
        sb_add(b, e, 3);
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entry names of dirfd, sorted, directories with a trailing '/'. */
static char **read_names(int dirfd, size_t *count)
{
    char         **v = NULL, **nv;
    size_t         n = 0, cap = 0;
    struct dirent *e;
    DIR           *d;
    int            fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd == -1 || (d = fdopendir(fd)) == NULL) {
        if (fd != -1)
            close(fd);
        return NULL;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        int         dir;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        dir = fstatat(dirfd, e->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode);
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
                break;
            v = nv;
        }
        if (asprintf(&v[n], "%s%s", e->d_name, dir ? "/" : "") < 0)
            break;
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(v, n, sizeof(*v), by_name);
    *count = n;
    return v != NULL ? v : calloc(1, sizeof(*v));
}

long long http_autoindex(pf_conn *c, int dirfd, const char *path, int head_only,
                         int keep_alive, int *status)
{
    struct strbuf    b = {0};
    struct http_head h;
    char             head[1024];
    char           **names;
    size_t           i, n = 0;
    long long        sent = -1;

    *status = 500;
    names = read_names(dirfd, &n);
    if (names == NULL)
        return -1;
    sb_str(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
               "<title>Index of ");
    sb_html(&b, path);
    sb_str(&b, "</title></head>\n<body><h1>Index of ");
    sb_html(&b, path);
    sb_str(&b, "</h1>\n<ul>\n<li><a href=\"../\">../</a></li>\n");
    for (i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        int    dir = names[i][len - 1] == '/';
        if (dir)
            names[i][len - 1] = '\0';
        sb_str(&b, "<li><a href=\"");
        sb_url(&b, names[i]);
        sb_str(&b, dir ? "/\">" : "\">");
        sb_html(&b, names[i]);
        sb_str(&b, dir ? "/</a></li>\n" : "</a></li>\n");
        free(names[i]);
    }
    free(names);
    sb_str(&b, "</ul>\n</body></html>\n");
    if (b.failed)
        goto out;
    http_head_init(&h, head, sizeof(head), 200);
    http_head_add(&h, "Content-Type", "text/html; charset=utf-8");
    http_head_add_num(&h, "Content-Length", (long long)b.len);
    http_head_end(&h, keep_alive);
    *status = 0;
    if (head_only) {
        if (pf_write(c, h.buf, h.len) == 0)
            sent = 0;
    } else if (pf_write_more(c, h.buf, h.len) == 0 &&
               pf_write(c, b.p, b.len) == 0) {
        sent = (long long)b.len;
    }
out:
    free(b.p);
    return sent;
}
