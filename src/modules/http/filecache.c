/*
 * filecache.c -- files kept open between requests.
 *
 * Direct-mapped: a key hashes to one slot, and a new key there evicts the
 * old one.  Entries are reference-counted, so one evicted while a response
 * still sends from it lives until that response is done.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filecache.h"

/* How long an entry is trusted before its path is opened afresh. */
#define FC_VALID_MS 1000

struct filecache {
    pthread_mutex_t   mu;
    size_t            n;
    int64_t           trust_ms; /* no fstat this long after a check */
    struct fc_entry **slot;
};

static size_t hash(const char *s)
{
    size_t h = 5381;

    while (*s != '\0')
        h = h * 33 + (unsigned char)*s++;
    return h;
}

struct filecache *fc_new(size_t slots, int64_t trust_ms)
{
    struct filecache *fc = calloc(1, sizeof(*fc));

    if (fc == NULL)
        return NULL;
    fc->slot = calloc(slots, sizeof(*fc->slot));
    if (fc->slot == NULL) {
        free(fc);
        return NULL;
    }
    fc->n = slots;
    fc->trust_ms = trust_ms;
    pthread_mutex_init(&fc->mu, NULL);
    return fc;
}

static void entry_free(struct fc_entry *e)
{
    close(e->fd);
    free(e->head.text);
    free(e->body);
    free(e->key);
    free(e);
}

/* Drop one reference; the caller holds the lock. */
static void unref(struct fc_entry *e)
{
    if (--e->refs == 0)
        entry_free(e);
}

void fc_free(struct filecache *fc)
{
    size_t i;

    if (fc == NULL)
        return;
    for (i = 0; i < fc->n; i++)
        if (fc->slot[i] != NULL)
            unref(fc->slot[i]);
    pthread_mutex_destroy(&fc->mu);
    free(fc->slot);
    free(fc);
}

/* Is e still the file it was?  Within trust_ms of the last look, taken
 * on trust (file_cache_valid); otherwise asked with one fstat. */
static int still_valid(const struct filecache *fc, struct fc_entry *e,
                       int64_t now)
{
    struct stat st;

    if (now - e->opened > FC_VALID_MS)
        return 0;
    if (fc->trust_ms > 0 && now - e->checked < fc->trust_ms)
        return 1;
    if (fstat(e->fd, &st) == -1)
        return 0;
    if (st.st_nlink == 0 || st.st_ino != e->st.st_ino ||
        st.st_size != e->st.st_size ||
        st.st_mtim.tv_sec != e->st.st_mtim.tv_sec ||
        st.st_mtim.tv_nsec != e->st.st_mtim.tv_nsec ||
        st.st_ctim.tv_sec != e->st.st_ctim.tv_sec ||
        st.st_ctim.tv_nsec != e->st.st_ctim.tv_nsec)
        return 0;
    e->checked = now;
    return 1;
}

struct fc_entry *fc_get(struct filecache *fc, const char *key, int64_t now)
{
    size_t           i = hash(key) % fc->n;
    struct fc_entry *e;

    pthread_mutex_lock(&fc->mu);
    e = fc->slot[i];
    if (e != NULL && strcmp(e->key, key) == 0) {
        if (still_valid(fc, e, now)) {
            e->refs++;
        } else {
            fc->slot[i] = NULL;
            unref(e);
            e = NULL;
        }
    } else {
        e = NULL;
    }
    pthread_mutex_unlock(&fc->mu);
    return e;
}

/* Read all of a small file.  Returns the buffer or NULL. */
static char *slurp(int fd, size_t size)
{
    char   *buf = malloc(size ? size : 1);
    size_t  off = 0;
    ssize_t n;

    while (buf != NULL && off < size) {
        n = pread(fd, buf + off, size - off, (off_t)off);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            return NULL;
        }
        off += (size_t)n;
    }
    return buf;
}

/* A copy of head into e.  Returns 0, or -1 on ENOMEM. */
static int keep_head(struct fc_entry *e, const struct fc_head *head)
{
    if (head == NULL)
        return 0;
    e->head = *head;
    e->head.text = malloc(head->len);
    if (e->head.text == NULL)
        return -1;
    memcpy(e->head.text, head->text, head->len);
    return 0;
}

struct fc_entry *fc_put(struct filecache *fc, const char *key, int fd,
                        const struct stat *st, const struct fc_head *head,
                        int64_t now)
{
    struct fc_entry *e = calloc(1, sizeof(*e));
    size_t           i = hash(key) % fc->n;

    if (e == NULL || (e->key = strdup(key)) == NULL)
        goto fail;
    if (st->st_size <= FC_SMALL &&
        (e->body = slurp(fd, (size_t)st->st_size)) == NULL)
        goto fail;
    if (keep_head(e, head) == -1)
        goto fail;
    e->fd = fd;
    e->st = *st;
    e->opened = now;
    e->checked = now;
    e->refs = 2; /* the slot's and the caller's */
    pthread_mutex_lock(&fc->mu);
    if (fc->slot[i] != NULL)
        unref(fc->slot[i]);
    fc->slot[i] = e;
    pthread_mutex_unlock(&fc->mu);
    return e;
fail:
    if (e != NULL) {
        free(e->body);
        free(e->key);
    }
    free(e);
    return NULL;
}

void fc_release(struct filecache *fc, struct fc_entry *e)
{
    pthread_mutex_lock(&fc->mu);
    unref(e);
    pthread_mutex_unlock(&fc->mu);
}
