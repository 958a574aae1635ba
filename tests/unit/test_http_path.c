/*
 * test_http_path.c -- request targets to paths below the root: decoding,
 * dot segments, the forms of target, and every way of climbing out.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "modules/http/path.h"

struct path_case {
    const char *target;
    const char *path; /* NULL: expect status */
    int         status;
};

static void run(const struct path_case *c, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        char out[256];
        int  rc;

        memset(out, 'X', sizeof(out));
        rc = http_path_normalize(c[i].target, strlen(c[i].target), out,
                                 sizeof(out));
        if (c[i].path != NULL) {
            cr_assert_eq(rc, 0, "\"%s\" returned %d", c[i].target, rc);
            cr_assert_str_eq(out, c[i].path, "\"%s\"", c[i].target);
        } else {
            cr_assert_eq(rc, c[i].status, "\"%s\" returned %d, not %d",
                         c[i].target, rc, c[i].status);
        }
    }
}

#define RUN(t) run((t), sizeof(t) / sizeof((t)[0]))

Test(path, origin_form)
{
    static const struct path_case cases[] = {
        {"/", "/", 0},
        {"/index.html", "/index.html", 0},
        {"/a/b/c.txt", "/a/b/c.txt", 0},
        {"/dir/", "/dir/", 0},
        {"/a\\b", "/a\\b", 0},
        {"/..\\..\\x", "/..\\..\\x", 0},
        {"/...", "/...", 0},
        {"/.a/..b/b..", "/.a/..b/b..", 0},
        {"/caf\xc3\xa9", "/caf\xc3\xa9", 0},
    };

    RUN(cases);
}

Test(path, query_and_fragment_are_dropped)
{
    static const struct path_case cases[] = {
        {"/a?x=1", "/a", 0},  {"/a/?x", "/a/", 0}, {"/?", "/", 0},
        {"/a#frag", "/a", 0}, {"/a?x#y", "/a", 0}, {"/a?x=/../../etc", "/a", 0},
        {"/a?%zz", "/a", 0},  {"/a#%00", "/a", 0},
    };

    RUN(cases);
}

Test(path, percent_decoding)
{
    static const struct path_case cases[] = {
        {"/%41%62%63", "/Abc", 0},   {"/%7e%7E", "/~~", 0},
        {"/a%20b", "/a b", 0},       {"/%3F%23", "/?#", 0},
        {"/%25", "/%", 0},           {"/%5c", "/\\", 0},
        {"/%c3%a9", "/\xc3\xa9", 0}, {"/%ff", "/\xff", 0},
    };

    RUN(cases);
}

Test(path, dot_segments)
{
    static const struct path_case cases[] = {
        {"/./", "/", 0},
        {"/.", "/", 0},
        {"/a/./b", "/a/b", 0},
        {"/a/b/../c", "/a/c", 0},
        {"/a/b/..", "/a/", 0},
        {"/a/b/../", "/a/", 0},
        {"/dir/.", "/dir/", 0},
        {"/dir/..", "/", 0},
        {"/a/../b/../c/", "/c/", 0},
        {"/a/b/c/../../d", "/a/d", 0},
        {"/a/%2e/b", "/a/b", 0},
        {"/a/%2e%2e/b", "/b", 0},
        {"/a/.%2E/b", "/b", 0},
        {"/a/%2E./b", "/b", 0},
    };

    RUN(cases);
}

Test(path, empty_segments_collapse)
{
    static const struct path_case cases[] = {
        {"//a//b/", "/a/b/", 0},
        {"//", "/", 0},
        {"///etc///passwd", "/etc/passwd", 0},
        {"/a//../b", "/b", 0},
        {"/a/.//./b", "/a/b", 0},
    };

    RUN(cases);
}

Test(path, absolute_form)
{
    static const struct path_case cases[] = {
        {"http://example.com/a/b", "/a/b", 0},
        {"HTTP://Example.COM/a", "/a", 0},
        {"https://x/", "/", 0},
        {"HtTpS://x/y/", "/y/", 0},
        {"http://x", "/", 0},
        {"http://x?q=1", "/", 0},
        {"http://x#f", "/", 0},
        {"http://x:8080/a?b", "/a", 0},
        {"http://u@x/a", "/a", 0},
        {"http://x//a/./b/../c", "/a/c", 0},
    };

    RUN(cases);
}

Test(path, other_forms_are_400)
{
    static const struct path_case cases[] = {
        {"", NULL, -400},
        {"*", NULL, -400},
        {"a/b", NULL, -400},
        {"index.html", NULL, -400},
        {"example.com:443", NULL, -400},
        {"http:/a", NULL, -400},
        {"http:", NULL, -400},
        {"http://", NULL, -400},
        {"http:///a", NULL, -400},
        {"ftp://x/a", NULL, -400},
        {"file:///etc/passwd", NULL, -400},
        {"?x", NULL, -400},
        {"\\a", NULL, -400},
    };

    RUN(cases);
}

Test(path, traversal_is_400)
{
    static const struct path_case cases[] = {
        {"/../etc/passwd", NULL, -400},
        {"/..", NULL, -400},
        {"/../", NULL, -400},
        {"/%2e%2e/", NULL, -400},
        {"/%2E%2E/etc/passwd", NULL, -400},
        {"/%2E%2E%2F", NULL, -400},
        {"/.%2e/x", NULL, -400},
        {"/%2e./x", NULL, -400},
        {"/a/../../b", NULL, -400},
        {"/a/b/../../../c", NULL, -400},
        {"/./../x", NULL, -400},
        {"//../x", NULL, -400},
        {"/a/%2e%2e/%2e%2e/x", NULL, -400},
        {"http://x/../a", NULL, -400},
        {"http://x/a/../../b", NULL, -400},
    };

    RUN(cases);
}

Test(path, bad_encoding_nul_and_slash_are_400)
{
    static const struct path_case cases[] = {
        {"/%00", NULL, -400},
        {"/a%00b", NULL, -400},
        {"/a%00.html", NULL, -400},
        {"/a%2fb", NULL, -400},
        {"/a%2Fb", NULL, -400},
        {"/%2f", NULL, -400},
        {"/..%2f..%2fetc", NULL, -400},
        {"/%", NULL, -400},
        {"/a%", NULL, -400},
        {"/%4", NULL, -400},
        {"/%4?", NULL, -400},
        {"/%4/", NULL, -400},
        {"/%zz", NULL, -400},
        {"/%g0", NULL, -400},
        {"/%0g", NULL, -400},
        {"/%-1", NULL, -400},
        {"/% 1", NULL, -400},
    };

    RUN(cases);
}

Test(path, literal_nul_is_400)
{
    static const char t[] = "/a\0b";
    char              out[64];

    cr_assert_eq(http_path_normalize(t, sizeof(t) - 1, out, sizeof(out)), -400);
}

Test(path, length_is_the_target_length)
{
    char out[64];

    /* Only the first two bytes are the target. */
    cr_assert_eq(http_path_normalize("/a/../../b", 2, out, sizeof(out)), 0);
    cr_assert_str_eq(out, "/a");
}

Test(path, output_must_fit_with_its_nul)
{
    char out[64];

    cr_assert_eq(http_path_normalize("/abc", 4, out, 5), 0);
    cr_assert_str_eq(out, "/abc");
    cr_assert_eq(http_path_normalize("/abc", 4, out, 4), -414);
    cr_assert_eq(http_path_normalize("/abc/", 5, out, 6), 0);
    cr_assert_str_eq(out, "/abc/");
    cr_assert_eq(http_path_normalize("/abc/", 5, out, 5), -414);
    cr_assert_eq(http_path_normalize("/", 1, out, 2), 0);
    cr_assert_str_eq(out, "/");
    cr_assert_eq(http_path_normalize("/", 1, out, 1), -414);
    cr_assert_eq(http_path_normalize("/", 1, out, 0), -414);
    /* Decoding shrinks: nine bytes of target, four of path. */
    cr_assert_eq(http_path_normalize("/%61%62%63", 10, out, 5), 0);
    cr_assert_str_eq(out, "/abc");
}

Test(path, fit_is_judged_on_the_result)
{
    char out[64];

    /* A long segment that ".." takes back does not count. */
    cr_assert_eq(http_path_normalize("/aaaaaaaaaaaaaaaa/../b", 22, out, 3), 0);
    cr_assert_str_eq(out, "/b");
    cr_assert_eq(
        http_path_normalize("/x/aaaaaaaaaaaaaaaa/bbbbbbbb/../../y", 36, out, 5),
        0);
    cr_assert_str_eq(out, "/x/y");
}

Test(path, malformed_wins_over_too_long)
{
    char out[64];

    cr_assert_eq(http_path_normalize("/aaaaaaaa/%zz", 13, out, 4), -400);
    cr_assert_eq(http_path_normalize("/aaaaaaaa/../..", 15, out, 4), -400);
    cr_assert_eq(http_path_normalize("/../", 4, out, 0), -400);
    cr_assert_eq(http_path_normalize("*", 1, out, 0), -400);
}

/* A path longer than any name or path the kernel takes is still a path:
 * it is normalised like any other, and when open(2) says ENAMETOOLONG the
 * file is not there (404), not a request line too long (414). */
Test(path, long_names_are_not_found)
{
    char target[2002], out[4096];

    target[0] = '/';
    memset(target + 1, 'a', 2000);
    target[2001] = '\0';
    cr_assert_eq(http_path_normalize(target, 2001, out, sizeof(out)), 0);
    cr_assert_str_eq(out, target);
    cr_assert_eq(http_path_open_status(ENAMETOOLONG), 404);
    cr_assert_eq(http_path_open_status(ENOENT), 404);
    cr_assert_eq(http_path_open_status(ENOTDIR), 404);
    cr_assert_eq(http_path_open_status(EACCES), 403);
    cr_assert_eq(http_path_open_status(EXDEV), 403);
    cr_assert_eq(http_path_open_status(ELOOP), 403);
}
