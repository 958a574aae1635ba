/*
 * filecache.h -- files kept open between requests, with their metadata and,
 * for small ones, their content.
 *
 * A hit costs one fstat(2) on the kept descriptor instead of openat2,
 * fstat and close, and a small file's body goes out in the same send as
 * its head.  The fstat catches a file written, truncated or replaced since
 * (size, mtime, ctime, inode, link count); every entry is also opened
 * afresh from the root at least once a second, so a path that now leads
 * elsewhere is seen within a second.  One cache per worker process,
 * thread-safe for threading mode.
 */
#ifndef PF_HTTP_FILECACHE_H
#define PF_HTTP_FILECACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Files up to this size are kept in memory. */
#define FC_SMALL (16 * 1024)

/*
 * The parts of a file's response head that stay as they are while the
 * file does, rendered once by the http module (send.c) when it keeps
 * the file: text is the 200 head from its status line to its ETag line,
 * and the offsets say where in it the lines begin that other answers
 * (206, 304) take over.  The ETag value itself, NUL-terminated, is there
 * to compare with If-None-Match and If-Range.
 */
struct fc_head {
    char    *text;
    size_t   len;
    uint16_t type;       /* "Content-Type: ...", after the status line */
    uint16_t length;     /* "Content-Length: ..." */
    uint16_t validators; /* "Last-Modified: ...", then "ETag: ..." */
    char     etag[40];   /* "\"mtime-size\"" in hex, as in text */
};

struct fc_entry {
    char          *key; /* the URL path it answers, e.g. "/" or "/a.html" */
    int            fd;
    struct stat    st;
    int64_t        opened;  /* mono ms it was last opened from the root */
    int64_t        checked; /* mono ms it was last found unchanged */
    char          *body;    /* the content when st_size <= FC_SMALL */
    struct fc_head head;    /* text NULL when none was given */
    unsigned       refs;    /* the cache's own, plus one per user */
};

struct filecache;

/* A cache of `slots` entries (direct-mapped by key).  An entry is checked
 * with fstat on every fc_get, or with trust_ms > 0 at most once per
 * trust_ms; either way its path is opened again after a second.  NULL on
 * ENOMEM. */
struct filecache *fc_new(size_t slots, int64_t trust_ms);
void              fc_free(struct filecache *fc);

/* The entry for key if it is there and still describes its file; the
 * caller releases it with fc_release().  NULL otherwise. */
struct fc_entry *fc_get(struct filecache *fc, const char *key, int64_t now);

/* Keep fd (a regular file just opened from the root, st its fstat) for
 * key, with a copy of head (NULL: none).  On success the cache owns fd
 * and the caller holds a reference to the returned entry; on failure
 * (ENOMEM, a short read) NULL, and fd is still the caller's. */
struct fc_entry *fc_put(struct filecache *fc, const char *key, int fd,
                        const struct stat *st, const struct fc_head *head,
                        int64_t now);

void fc_release(struct filecache *fc, struct fc_entry *e);

#endif
