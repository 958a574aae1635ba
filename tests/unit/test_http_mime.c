/*
 * test_http_mime.c -- Content-Type by extension: the built-in table, a
 * mime.types file of our own (never the system's, whose contents vary),
 * case, charsets, and names with no extension.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "modules/http/mime.h"

#define OCTET "application/octet-stream"

struct mime_case {
    const char *name;
    const char *type;
};

static void run(const struct mime_table *t, const struct mime_case *c, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        cr_assert_str_eq(mime_type(t, c[i].name), c[i].type, "\"%s\"",
                         c[i].name);
}

#define RUN(t, c) run((t), (c), sizeof(c) / sizeof((c)[0]))

/* Write text to a temporary file; the caller unlinks it. */
static void temp_file(char *path, size_t n, const char *text)
{
    int fd;

    snprintf(path, n, "/tmp/test_http_mime.XXXXXX");
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

Test(mime, builtin_table)
{
    static const struct mime_case cases[] = {
        {"a.html", "text/html; charset=utf-8"},
        {"a.htm", "text/html; charset=utf-8"},
        {"a.css", "text/css; charset=utf-8"},
        {"a.js", "text/javascript; charset=utf-8"},
        {"a.mjs", "text/javascript; charset=utf-8"},
        {"a.json", "application/json; charset=utf-8"},
        {"a.txt", "text/plain; charset=utf-8"},
        {"a.xml", "application/xml; charset=utf-8"},
        {"a.svg", "image/svg+xml; charset=utf-8"},
        {"a.csv", "text/csv; charset=utf-8"},
        {"a.md", "text/markdown; charset=utf-8"},
        {"a.png", "image/png"},
        {"a.jpg", "image/jpeg"},
        {"a.jpeg", "image/jpeg"},
        {"a.gif", "image/gif"},
        {"a.webp", "image/webp"},
        {"a.ico", "image/vnd.microsoft.icon"},
        {"a.pdf", "application/pdf"},
        {"a.wasm", "application/wasm"},
        {"a.woff", "font/woff"},
        {"a.woff2", "font/woff2"},
        {"a.mp4", "video/mp4"},
        {"a.webm", "video/webm"},
        {"a.mp3", "audio/mpeg"},
        {"a.zip", "application/zip"},
        {"a.gz", "application/gzip"},
        {"a.tar", "application/x-tar"},
    };
    struct mime_table *t = mime_load(NULL);

    cr_assert_not_null(t);
    RUN(t, cases);
    mime_free(t);
}

Test(mime, extension_case_and_paths)
{
    static const struct mime_case cases[] = {
        {"INDEX.HTML", "text/html; charset=utf-8"},
        {"photo.JPG", "image/jpeg"},
        {"photo.JpEg", "image/jpeg"},
        {"/var/www/site/index.html", "text/html; charset=utf-8"},
        {"dir.d/a.css", "text/css; charset=utf-8"},
        {"backup.tar.gz", "application/gzip"},
        {"a..png", "image/png"},
        {".hidden.txt", "text/plain; charset=utf-8"},
        {"/x/.hidden.txt", "text/plain; charset=utf-8"},
    };
    struct mime_table *t = mime_load(NULL);

    cr_assert_not_null(t);
    RUN(t, cases);
    mime_free(t);
}

Test(mime, no_extension_is_octet_stream)
{
    static const struct mime_case cases[] = {
        {"", OCTET},
        {"README", OCTET},
        {"Makefile", OCTET},
        {".bashrc", OCTET},
        {"/home/u/.bashrc", OCTET},
        {"dir.d/README", OCTET},
        {"dir.html/", OCTET},
        {"name.", OCTET},
        {".", OCTET},
        {"..", OCTET},
        {"a.unknownextension", OCTET},
        {"a.html~", OCTET},
        {"a.htmlx", OCTET},
        {"a.htm.bak", OCTET},
        {"a.0123456789012345678901234567890123456789", OCTET},
    };
    struct mime_table *t = mime_load(NULL);

    cr_assert_not_null(t);
    RUN(t, cases);
    mime_free(t);
}

Test(mime, missing_file_falls_back_to_builtin)
{
    struct mime_table *t = mime_load("/nonexistent/prefork/mime.types");

    cr_assert_not_null(t);
    cr_assert_str_eq(mime_type(t, "a.html"), "text/html; charset=utf-8");
    cr_assert_str_eq(mime_type(t, "a.png"), "image/png");
    cr_assert_str_eq(mime_type(t, "a.nope"), OCTET);
    mime_free(t);
}

Test(mime, file_entries)
{
    static const char text[] =
        "# a comment line, with a/slash ignored ext\n"
        "\n"
        "   \t\n"
        "text/x-custom\t\tcust CUSTOM2\n"
        "application/x-thing   thg   # trailing comment notext\n"
        "image/x-mypng png\n"
        "noslash-not-a-type foo\n"
        "application/vnd.first dup\n"
        "application/vnd.second dup\n"
        "application/json-seq\n"
        "  application/x-indented ind\r\n"
        "application/vnd.Mixed.Case MiXeD\n"
        "application/xml xsl\n"
        "text/html shtml\n"
        "application/x-last last";
    static const struct mime_case cases[] = {
        {"a.cust", "text/x-custom; charset=utf-8"},
        {"a.CUST", "text/x-custom; charset=utf-8"},
        {"a.custom2", "text/x-custom; charset=utf-8"},
        {"a.thg", "application/x-thing"},
        {"a.notext", OCTET},
        {"a.ext", OCTET},
        {"a.png", "image/x-mypng"},
        {"a.foo", OCTET},
        {"a.dup", "application/vnd.first"},
        {"a.ind", "application/x-indented"},
        {"a.mixed", "application/vnd.Mixed.Case"},
        {"a.xsl", "application/xml; charset=utf-8"},
        {"a.shtml", "text/html; charset=utf-8"},
        {"a.last", "application/x-last"},
        /* the built-in table fills in what the file lacks */
        {"a.html", "text/html; charset=utf-8"},
        {"a.css", "text/css; charset=utf-8"},
        {"a.woff2", "font/woff2"},
    };
    char               path[64];
    struct mime_table *t;

    temp_file(path, sizeof(path), text);
    t = mime_load(path);
    unlink(path);
    cr_assert_not_null(t);
    RUN(t, cases);
    mime_free(t);
}

Test(mime, big_file)
{
    char               path[64];
    char              *text, name[32], want[64];
    size_t             i, n = 0, cap = 3000 * 48;
    struct mime_table *t;

    text = malloc(cap);
    cr_assert_not_null(text);
    for (i = 0; i < 3000; i++)
        n += (size_t)snprintf(text + n, cap - n,
                              "application/x-t%zu e%zu f%zu\n", i, i, i);
    temp_file(path, sizeof(path), text);
    free(text);
    t = mime_load(path);
    unlink(path);
    cr_assert_not_null(t);
    for (i = 0; i < 3000; i += 7) {
        snprintf(name, sizeof(name), "x.F%zu", i);
        snprintf(want, sizeof(want), "application/x-t%zu", i);
        cr_assert_str_eq(mime_type(t, name), want);
    }
    cr_assert_str_eq(mime_type(t, "x.e3000"), OCTET);
    cr_assert_str_eq(mime_type(t, "x.html"), "text/html; charset=utf-8");
    mime_free(t);
}

Test(mime, empty_file_and_free_null)
{
    char               path[64];
    struct mime_table *t;

    temp_file(path, sizeof(path), "");
    t = mime_load(path);
    unlink(path);
    cr_assert_not_null(t);
    cr_assert_str_eq(mime_type(t, "a.gif"), "image/gif");
    mime_free(t);
    mime_free(NULL);
}
