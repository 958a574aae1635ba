/*
 * sandbox_conf.c -- the sandbox's part of a service's configuration (see
 * sandbox_conf.h): lists of the `sandbox_*` keys, and the paths modules
 * declare.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prefork/module.h>

#include "sandbox_conf.h"

/* Set once the worker is confined: rules added later would not apply. */
static int sealed;

void sandbox_conf_seal(void)
{
    sealed = 1;
}

static char *absolute(const char *dir, const char *path)
{
    size_t n;
    char  *s;

    if (path[0] == '/' || dir == NULL)
        return strdup(path);
    n = strlen(dir) + strlen(path) + 2;
    if ((s = malloc(n)) != NULL)
        snprintf(s, n, "%s/%s", dir, path);
    return s;
}

/* What worker_init declared in this worker: a worker serves one
 * service, so the process's list is that service's. */
static struct sandbox_decl *here;
static size_t               nhere;

static int append(struct sandbox_decl **vec, size_t *n, const char *dir,
                  const char *path, unsigned flags)
{
    struct sandbox_decl *v;
    char                *abs;

    if (path == NULL || path[0] == '\0' ||
        (flags & (PF_SB_READ | PF_SB_WRITE | PF_SB_EXEC)) == 0) {
        errno = EINVAL;
        return -1;
    }
    if (sealed) {
        errno = EPERM;
        return -1;
    }
    if ((abs = absolute(dir, path)) == NULL)
        return -1;
    v = realloc(*vec, (*n + 1) * sizeof(*v));
    if (v == NULL) {
        free(abs);
        return -1;
    }
    *vec = v;
    v[(*n)++] = (struct sandbox_decl){abs, flags};
    return 0;
}

int sandbox_declare(struct service_conf *sc, const char *dir, const char *path,
                    unsigned flags)
{
    return append(&sc->sandbox_decl, &sc->nsandbox_decl, dir, path, flags);
}

int sandbox_declare_here(const char *dir, const char *path, unsigned flags)
{
    return append(&here, &nhere, dir, path, flags);
}

const struct sandbox_decl *sandbox_declared_here(size_t *n)
{
    *n = nhere;
    return here;
}

void sandbox_decl_free(struct service_conf *sc)
{
    size_t i;

    for (i = 0; i < sc->nsandbox_decl; i++)
        free(sc->sandbox_decl[i].path);
    free(sc->sandbox_decl);
    sc->sandbox_decl = NULL;
    sc->nsandbox_decl = 0;
}

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

int sandbox_list_next(const char **p, char *buf, size_t len)
{
    const char *s = *p, *e;
    size_t      n;

    if (s == NULL || *s == '\0' || len == 0)
        return -1;
    while (blank(*s))
        s++;
    e = strchr(s, ',');
    *p = e != NULL ? e + 1 : s + strlen(s);
    if (e == NULL)
        e = s + strlen(s);
    while (e > s && blank(e[-1]))
        e--;
    n = (size_t)(e - s);
    if (n >= len) {
        memcpy(buf, s, len - 1);
        buf[len - 1] = '\0';
        return (int)len;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    return (int)n;
}

int sandbox_port_parse(const char *item, uint16_t *port)
{
    const char *colon = strrchr(item, ':');
    const char *digits = colon != NULL ? colon + 1 : item;
    char       *end;
    long        v;

    if (item[0] == '[' && (colon == NULL || colon[-1] != ']'))
        return -1;
    if (*digits < '0' || *digits > '9')
        return -1;
    v = strtol(digits, &end, 10);
    if (*end != '\0' || v < 1 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}
