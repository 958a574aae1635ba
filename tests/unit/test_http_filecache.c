/*
 * test_http_filecache.c -- the http module's cache of open files: a hit
 * only while the file is unchanged and recently opened, content kept for
 * small files, entries alive while a response still uses them.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "modules/http/filecache.h"

static char dir[] = "/tmp/pf-fc-XXXXXX";
static char path[sizeof(dir) + 16];

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/f.txt", dir);
}

static void teardown(void)
{
    char other[sizeof(path) + 4];

    snprintf(other, sizeof(other), "%s.new", path);
    unlink(other);
    unlink(path);
    rmdir(dir);
}

static void write_file(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");

    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* Open path and put it in fc as key at time now. */
static struct fc_entry *put(struct filecache *fc, const char *key, int64_t now)
{
    struct stat st;
    int         fd = open(path, O_RDONLY | O_CLOEXEC);

    cr_assert(fd >= 0);
    cr_assert_eq(fstat(fd, &st), 0);
    return fc_put(fc, key, fd, &st, NULL, now);
}

TestSuite(filecache, .init = setup, .fini = teardown);

Test(filecache, a_small_file_is_kept_with_its_content)
{
    struct filecache *fc = fc_new(16, 0);
    struct fc_entry  *e, *h;

    write_file(path, "hello");
    e = put(fc, "/f.txt", 1000);
    cr_assert_not_null(e);
    cr_assert_eq(e->st.st_size, 5);
    cr_assert_not_null(e->body);
    cr_assert_eq(memcmp(e->body, "hello", 5), 0);
    fc_release(fc, e);
    h = fc_get(fc, "/f.txt", 1500);
    cr_assert_eq(h, e, "an unchanged file within a second is a hit");
    fc_release(fc, h);
    cr_assert_null(fc_get(fc, "/other", 1500));
    fc_free(fc);
}

Test(filecache, an_entry_keeps_its_own_copy_of_the_head_it_was_given)
{
    struct filecache *fc = fc_new(16, 0);
    char              text[] = "HTTP/1.1 200 OK\r\nETag: \"1-5\"\r\n";
    struct fc_head    head = {.text = text,
                              .len = sizeof(text) - 1,
                              .type = 17,
                              .length = 17,
                              .validators = 17,
                              .etag = "\"1-5\""};
    struct fc_entry  *e, *h;
    struct stat       st;
    int               fd;

    write_file(path, "hello");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0);
    cr_assert_eq(fstat(fd, &st), 0);
    e = fc_put(fc, "/f.txt", fd, &st, &head, 1000);
    cr_assert_not_null(e);
    memset(text, 'x', sizeof(text) - 1); /* the caller's buffer goes */
    fc_release(fc, e);
    h = fc_get(fc, "/f.txt", 1500);
    cr_assert_eq(h, e);
    cr_assert_eq(h->head.len, head.len);
    cr_assert_eq(
        memcmp(h->head.text, "HTTP/1.1 200 OK\r\nETag: \"1-5\"\r\n", head.len),
        0);
    cr_assert_eq(h->head.validators, 17);
    cr_assert_str_eq(h->head.etag, "\"1-5\"");
    fc_release(fc, h);
    e = put(fc, "/g.txt", 1500);
    cr_assert_null(e->head.text, "no head given, none");
    fc_release(fc, e);
    fc_free(fc);
}

Test(filecache, entries_expire_after_a_second)
{
    struct filecache *fc = fc_new(16, 0);

    write_file(path, "hello");
    fc_release(fc, put(fc, "/f.txt", 1000));
    cr_assert_null(fc_get(fc, "/f.txt", 2001),
                   "the path must be opened afresh after a second");
    fc_free(fc);
}

Test(filecache, a_changed_file_is_a_miss)
{
    struct filecache *fc = fc_new(16, 0);

    write_file(path, "hello");
    fc_release(fc, put(fc, "/f.txt", 1000));
    write_file(path, "hello"); /* same size, new ctime */
    cr_assert_null(fc_get(fc, "/f.txt", 1001), "rewritten in place");
    fc_free(fc);
}

Test(filecache, a_replaced_file_is_a_miss)
{
    struct filecache *fc = fc_new(16, 0);
    char              other[sizeof(path) + 4];

    write_file(path, "hello");
    fc_release(fc, put(fc, "/f.txt", 1000));
    snprintf(other, sizeof(other), "%s.new", path);
    write_file(other, "world");
    cr_assert_eq(rename(other, path), 0);
    cr_assert_null(fc_get(fc, "/f.txt", 1001), "replaced by rename");
    fc_free(fc);
}

Test(filecache, large_files_are_kept_open_without_their_content)
{
    struct filecache *fc = fc_new(16, 0);
    struct fc_entry  *e;
    char             *big = malloc(FC_SMALL + 2);

    memset(big, 'x', FC_SMALL + 1);
    big[FC_SMALL + 1] = '\0';
    write_file(path, big);
    free(big);
    e = put(fc, "/f.txt", 1000);
    cr_assert_not_null(e);
    cr_assert_null(e->body);
    cr_assert(e->fd >= 0);
    fc_release(fc, e);
    fc_free(fc);
}

Test(filecache, an_evicted_entry_lives_while_in_use)
{
    struct filecache *fc = fc_new(1, 0); /* every key shares one slot */
    struct fc_entry  *a, *b;
    char              c;

    write_file(path, "hello");
    a = put(fc, "/a", 1000);
    b = put(fc, "/b", 1000); /* evicts /a from its slot */
    cr_assert_null(fc_get(fc, "/a", 1001));
    cr_assert_eq(pread(a->fd, &c, 1, 0), 1, "a's file is still open");
    cr_assert_eq(a->body[0], 'h');
    fc_release(fc, a);
    fc_release(fc, b);
    fc_free(fc);
}

Test(filecache, file_cache_valid_trusts_an_entry_for_that_long)
{
    struct filecache *fc = fc_new(16, 200);
    struct fc_entry  *e, *h;

    write_file(path, "hello");
    e = put(fc, "/f.txt", 1000);
    fc_release(fc, e);
    write_file(path, "hello"); /* same size, new ctime */
    h = fc_get(fc, "/f.txt", 1199);
    cr_assert_eq(h, e, "within file_cache_valid the file is not looked at");
    fc_release(fc, h);
    cr_assert_null(fc_get(fc, "/f.txt", 1200),
                   "after file_cache_valid the change is seen");
    fc_free(fc);
}

Test(filecache, a_trusted_entry_checked_unchanged_is_trusted_again)
{
    struct filecache *fc = fc_new(16, 200);
    struct fc_entry  *e, *h;

    write_file(path, "hello");
    e = put(fc, "/f.txt", 1000);
    fc_release(fc, e);
    h = fc_get(fc, "/f.txt", 1300); /* checked: unchanged */
    cr_assert_eq(h, e);
    fc_release(fc, h);
    write_file(path, "hello");
    h = fc_get(fc, "/f.txt", 1450); /* within 200 ms of that check */
    cr_assert_eq(h, e, "trusted again for file_cache_valid after a check");
    fc_release(fc, h);
    cr_assert_null(fc_get(fc, "/f.txt", 2001),
                   "the path is opened afresh after a second regardless");
    fc_free(fc);
}
