/*
 * ticketfile.c -- session-ticket keys read from files, in nginx's format
 * (ticketfile.h).
 *
 * A file is read whole with one descriptor and checked by its size
 * before a byte is used, as nginx's ssl_session_ticket_key does, so that
 * a file the two servers share means the same key to both.  The bytes
 * read are wiped once copied: they are secrets.  Plain libc only, so that
 * the config's fuzz target links it without OpenSSL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ticketfile.h"

#define LONG_FILE  80
#define SHORT_FILE 48

int ticketfile_parse(const unsigned char *buf, size_t len, struct tk_key *k)
{
    if (len != LONG_FILE && len != SHORT_FILE)
        return -1;
    memset(k, 0, sizeof(*k));
    memcpy(k->name, buf, TK_NAME_LEN);
    if (len == LONG_FILE) {
        k->secret_len = 32;
        memcpy(k->hmac, buf + 16, 32);
        memcpy(k->aes, buf + 48, 32);
    } else { /* nginx's order differs here: the AES key comes first */
        k->secret_len = 16;
        memcpy(k->aes, buf + 16, 16);
        memcpy(k->hmac, buf + 32, 16);
    }
    return 0;
}

/* Read all of fd's len bytes into buf. */
static int read_all(int fd, unsigned char *buf, size_t len)
{
    size_t  got = 0;
    ssize_t n;

    while (got < len) {
        n = read(fd, buf + got, len - got);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO; /* shorter than fstat said: it changed */
            return -1;
        }
        got += (size_t)n;
    }
    return 0;
}

/* One file's key.  Returns 0, or -1 with "PATH: why" in err. */
static int load_one(const char *path, struct tk_key *k, char *err,
                    size_t errlen)
{
    unsigned char buf[LONG_FILE];
    struct stat   st;
    int           fd, rc = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd == -1) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) == -1) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        goto out;
    }
    if (st.st_size != LONG_FILE && st.st_size != SHORT_FILE) {
        snprintf(err, errlen,
                 "%s: %lld bytes; a ticket key file holds %d or %d "
                 "(nginx's format; `openssl rand %d` makes one)",
                 path, (long long)st.st_size, SHORT_FILE, LONG_FILE, LONG_FILE);
        goto out;
    }
    if (read_all(fd, buf, (size_t)st.st_size) == -1) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    rc = ticketfile_parse(buf, (size_t)st.st_size, k);
out:
    explicit_bzero(buf, sizeof(buf));
    close(fd);
    return rc;
}

/* The next name of the list at *p, trimmed, into buf (absolute: dir is
 * put before a relative one); advances *p past its comma.  Returns 0, or
 * -1 with the reason in err. */
static int next_path(const char **p, const char *dir, char *buf, size_t len,
                     char *err, size_t errlen)
{
    const char *s = *p, *e;
    size_t      n;
    int         w;

    while (*s == ' ' || *s == '\t')
        s++;
    e = strchr(s, ',');
    *p = e != NULL ? e + 1 : s + strlen(s);
    if (e == NULL)
        e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    n = (size_t)(e - s);
    if (n == 0) {
        snprintf(err, errlen, "an empty file name in the list");
        return -1;
    }
    if (s[0] == '/' || dir == NULL)
        w = snprintf(buf, len, "%.*s", (int)n, s);
    else
        w = snprintf(buf, len, "%s/%.*s", dir, (int)n, s);
    if (w < 0 || (size_t)w >= len) {
        snprintf(err, errlen, "%.*s: name too long", (int)n, s);
        return -1;
    }
    return 0;
}

/* Two files with one name would make the second's tickets undecryptable
 * (lookups go by name), and is a copy by mistake more often than not. */
static int same_name(const struct tk_key *keys, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (memcmp(keys[i].name, keys[n].name, TK_NAME_LEN) == 0)
            return (int)i;
    return -1;
}

int ticketfile_load(const char *list, const char *dir,
                    struct tk_key keys[TK_FILES_MAX], size_t *n, int64_t now,
                    char *err, size_t errlen)
{
    char        path[4096], *seen[TK_FILES_MAX] = {NULL};
    const char *p = list;
    size_t      i;
    int         dup, rc = -1;

    *n = 0;
    while (*p != '\0') {
        if (*n == TK_FILES_MAX) {
            snprintf(err, errlen, "more than %d files", TK_FILES_MAX);
            goto out;
        }
        if (next_path(&p, dir, path, sizeof(path), err, errlen) == -1 ||
            load_one(path, &keys[*n], err, errlen) == -1)
            goto out;
        keys[*n].created_ms = now;
        if ((dup = same_name(keys, *n)) >= 0) {
            snprintf(err, errlen, "%s: the same key name as %s", path,
                     seen[dup]);
            goto out;
        }
        if ((seen[*n] = strdup(path)) == NULL) {
            snprintf(err, errlen, "%s: out of memory", path);
            goto out;
        }
        (*n)++;
    }
    if (*n == 0) {
        snprintf(err, errlen, "no file named");
        goto out;
    }
    rc = 0;
out:
    if (rc == -1) {
        explicit_bzero(keys, sizeof(keys[0]) * TK_FILES_MAX);
        *n = 0;
    }
    for (i = 0; i < TK_FILES_MAX; i++)
        free(seen[i]);
    return rc;
}
