/*
 * mime.h -- Content-Type from a file name's extension.
 *
 * Debian's /etc/mime.types when it is there, with a built-in table of the
 * common types as the fallback, so a minimal system still sends text/html
 * for .html.  Loaded once in the master; lookups are read-only.
 */
#ifndef PF_HTTP_MIME_H
#define PF_HTTP_MIME_H

struct mime_table;

/* Load path (NULL or unreadable: the built-in table alone).  Returns NULL
 * only on ENOMEM. */
struct mime_table *mime_load(const char *path);
void               mime_free(struct mime_table *t);

/* The type for name's extension (case-insensitive), or
 * "application/octet-stream".  Text types carry "; charset=utf-8". */
const char *mime_type(const struct mime_table *t, const char *name);

#endif
