/*
 * confine.c -- the confinement a service's workers get (see confine.h).
 *
 * Deciding here, in one function both the master and the workers call,
 * keeps what `-t`, the start-up log and `-s status` say equal to what the
 * workers do.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <prefork/module.h>

#include "confine.h"
#include "sandbox_conf.h"
#include "seccomp_filter.h"

/* What any worker reads, whatever its module: the dynamic loader's cache
 * and the system's shared libraries (dlopen: NSS, iconv, Python's
 * extension modules), time zones (log time stamps, localtime), and the
 * random and null devices.  System files, readable by every user. */
static const struct ll_path base_paths[] = {
    {"/etc/ld.so.cache", LL_READ},
    {"/lib", LL_READ},
    {"/lib64", LL_READ},
    {"/usr/lib", LL_READ},
    {"/usr/lib64", LL_READ},
    {"/usr/local/lib", LL_READ},
    {"/etc/localtime", LL_READ},
    {"/usr/share/zoneinfo", LL_READ},
    {"/dev/null", LL_READ | LL_WRITE},
    {"/dev/urandom", LL_READ},
#if defined(__SANITIZE_ADDRESS__)
    /* Sanitizer builds: ASan's runtime reads /proc/self/maps (and the
     * rest of /proc/self) when it reports. */
    {"/proc/self", LL_READ},
#endif
};

/* With sandbox_exec: where programs and what they load at start live. */
static const struct ll_path exec_paths[] = {
    {"/usr", LL_READ | LL_EXEC},   {"/bin", LL_READ | LL_EXEC},
    {"/sbin", LL_READ | LL_EXEC},  {"/lib", LL_READ | LL_EXEC},
    {"/lib64", LL_READ | LL_EXEC},
};

_Static_assert(PF_SB_READ == LL_READ && PF_SB_WRITE == LL_WRITE &&
                   PF_SB_EXEC == LL_EXEC,
               "a module's declaration is a Landlock rule as it stands");

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

void confine_plan(const struct service_conf *sc, struct confine_plan *p)
{
    memset(p, 0, sizeof(*p));
    if (sc->sandbox == SANDBOX_NO) {
        p->off = "sandbox = no";
        return;
    }
    if (sc->sandbox == SANDBOX_AUTO && sc->sandbox_undeclared) {
        p->off = "its module predates ABI 1.4 and declares nothing it "
                 "needs; sandbox = yes confines it anyway";
        return;
    }
    p->landlock = landlock_abi();
    p->fs = p->landlock > 0;
    p->net = p->landlock >= LANDLOCK_ABI_NET;
    p->seccomp = seccomp_available();
    p->denied = p->seccomp ? seccomp_denied_count(sc->sandbox_exec) : 0;
    p->on = p->fs || p->seccomp;
    if (!p->on)
        p->off = "the kernel has neither Landlock nor seccomp";
}

void confine_check(const struct config *cfg, struct diag *d)
{
    struct confine_plan p;
    size_t              i;
    char                err[256];

    for (i = 0; i < cfg->nsvc; i++) {
        const struct service_conf *sc = &cfg->svc[i];

        confine_plan(sc, &p);
        /* Compiled here, in the master, for every worker it forks. */
        if (p.seccomp && seccomp_prepare(err, sizeof(err)) == -1)
            diag_add(d, cfg->file, sc->line, "[%s] seccomp: %s", sc->name, err);
        if (sc->sandbox != SANDBOX_REQUIRE)
            continue;
        if (!p.fs)
            diag_add(d, cfg->file, sc->line,
                     "[%s] sandbox = require, but the kernel has no "
                     "Landlock",
                     sc->name);
        if (!p.seccomp)
            diag_add(d, cfg->file, sc->line,
                     "[%s] sandbox = require, but the kernel has no seccomp",
                     sc->name);
        if (p.fs && !p.net && sc->sandbox_connect != NULL)
            diag_add(d, cfg->file, sc->line,
                     "[%s] sandbox = require with sandbox_connect, but the "
                     "kernel's Landlock ABI %d has no TCP rules (4 or later)",
                     sc->name, p.landlock);
    }
}

void confine_describe(const struct confine_plan *p, char *buf, size_t len)
{
    int n = 0;

    if (!p->on) {
        snprintf(buf, len, "none (%s)", p->off);
        return;
    }
    if (p->fs)
        n = snprintf(buf, len, "Landlock ABI %d (files%s)", p->landlock,
                     p->net ? ", TCP" : "; no TCP rules before ABI 4");
    else
        n = snprintf(buf, len, "no Landlock");
    if (n < 0 || (size_t)n >= len)
        return;
    if (p->seccomp)
        snprintf(buf + n, len - (size_t)n,
                 ", seccomp (%zu system calls denied)", p->denied);
    else
        snprintf(buf + n, len - (size_t)n, ", no seccomp");
}

static int push(struct confine_paths *ps, const char *path, unsigned access)
{
    struct ll_path *v = realloc(ps->v, (ps->n + 1) * sizeof(*v));

    if (v == NULL)
        return -1;
    ps->v = v;
    v[ps->n++] = (struct ll_path){path, access};
    return 0;
}

/* A string the list points at, kept until confine_paths_free. */
static char *keep(struct confine_paths *ps, char *s)
{
    char **v;

    if (s == NULL)
        return NULL;
    v = realloc(ps->owned, (ps->nowned + 1) * sizeof(*v));
    if (v == NULL) {
        free(s);
        return NULL;
    }
    ps->owned = v;
    v[ps->nowned++] = s;
    return s;
}

static int push_list(struct confine_paths *ps, const char *dir,
                     const char *list, unsigned access)
{
    const char *p = list;
    char        item[256], *s;
    int         n;

    while ((n = sandbox_list_next(&p, item, sizeof(item))) != -1) {
        if (n == 0)
            continue;
        if (item[0] == '/')
            s = keep(ps, strdup(item));
        else if (asprintf(&s, "%s/%s", dir, item) == -1)
            s = NULL;
        else
            s = keep(ps, s);
        if (s == NULL || push(ps, s, access) == -1)
            return -1;
    }
    return 0;
}

/* What a module declared; execution only with sandbox_exec. */
static int push_decl(struct confine_paths *ps, const struct sandbox_decl *v,
                     size_t n, unsigned exec)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (push(ps, v[i].path,
                 (v[i].flags & (LL_READ | LL_WRITE)) | (v[i].flags & exec)) ==
            -1)
            return -1;
    return 0;
}

/* The directory of a log file, where USR1 makes it anew. */
static int push_log_dir(struct confine_paths *ps, const char *log)
{
    char *dir, *slash;

    if (log == NULL || log[0] != '/')
        return 0; /* stderr, syslog */
    if ((dir = keep(ps, strdup(log))) == NULL)
        return -1;
    slash = strrchr(dir, '/');
    slash[slash == dir ? 1 : 0] = '\0';
    return push(ps, dir, LL_WRITE);
}

int confine_paths(const struct config *cfg, const struct service_conf *sc,
                  struct confine_paths *ps)
{
    unsigned                   exec = sc->sandbox_exec ? LL_EXEC : 0;
    size_t                     i, nhere;
    const struct sandbox_decl *here = sandbox_declared_here(&nhere);

    memset(ps, 0, sizeof(*ps));
    for (i = 0; i < NELEMS(base_paths); i++)
        if (push(ps, base_paths[i].path, base_paths[i].access) == -1)
            goto fail;
    for (i = 0; exec && i < NELEMS(exec_paths); i++)
        if (push(ps, exec_paths[i].path, exec_paths[i].access) == -1)
            goto fail;
    if (push_decl(ps, sc->sandbox_decl, sc->nsandbox_decl, exec) == -1 ||
        push_decl(ps, here, nhere, exec) == -1)
        goto fail;
    if (push_list(ps, cfg->dir, sc->sandbox_read, LL_READ | exec) == -1 ||
        push_list(ps, cfg->dir, sc->sandbox_write, LL_READ | LL_WRITE) == -1 ||
        push_log_dir(ps, cfg->error_log) == -1)
        goto fail;
    return 0;
fail:
    confine_paths_free(ps);
    return -1;
}

void confine_paths_free(struct confine_paths *ps)
{
    size_t i;

    for (i = 0; i < ps->nowned; i++)
        free(ps->owned[i]);
    free(ps->owned);
    free(ps->v);
    memset(ps, 0, sizeof(*ps));
}

size_t confine_ports(const struct service_conf *sc, uint16_t *ports, size_t max)
{
    const char *p = sc->sandbox_connect;
    char        item[256];
    size_t      n = 0;

    while (n < max && sandbox_list_next(&p, item, sizeof(item)) != -1)
        if (item[0] != '\0' && sandbox_port_parse(item, &ports[n]) == 0)
            n++;
    return n;
}

static void copy_key(char *dst, size_t len, const char *v)
{
    snprintf(dst, len, "%s", v != NULL ? v : "");
}

void confine_publish(const struct service_conf *sc, struct sb_sandbox *out)
{
    struct confine_plan p;

    confine_plan(sc, &p);
    memset(out, 0, sizeof(*out));
    out->on = (uint8_t)p.on;
    out->landlock = p.on ? p.landlock : 0;
    out->fs = (uint8_t)(p.on && p.fs);
    out->net = (uint8_t)(p.on && p.net);
    out->seccomp = (uint8_t)(p.on && p.seccomp);
    out->exec = (uint8_t)(sc->sandbox_exec != 0);
    copy_key(out->read, sizeof(out->read), sc->sandbox_read);
    copy_key(out->write, sizeof(out->write), sc->sandbox_write);
    copy_key(out->connect, sizeof(out->connect), sc->sandbox_connect);
}

static void print_access(FILE *out, const char *name, const char *what,
                         const struct confine_paths *ps, unsigned bit)
{
    size_t i;
    int    any = 0;

    fprintf(out, "[%s]   %s:", name, what);
    for (i = 0; i < ps->n; i++)
        if (ps->v[i].access & bit) {
            fprintf(out, "%s %s", any ? "," : "", ps->v[i].path);
            any = 1;
        }
    fprintf(out, "%s\n", any ? "" : " nothing");
}

void confine_print(FILE *out, const struct config *cfg,
                   const struct service_conf *sc)
{
    struct confine_plan  p;
    struct confine_paths ps;
    char                 line[256];

    confine_plan(sc, &p);
    confine_describe(&p, line, sizeof(line));
    fprintf(out, "[%s] sandbox: %s\n", sc->name, line);
    if (!p.on || !p.fs || confine_paths(cfg, sc, &ps) == -1)
        return;
    print_access(out, sc->name, "read", &ps, LL_READ);
    print_access(out, sc->name, "write", &ps, LL_WRITE);
    print_access(out, sc->name, "execute", &ps, LL_EXEC);
    fprintf(out, "[%s]   connect: %s\n", sc->name,
            !p.net                        ? "anywhere (no TCP rules)"
            : sc->sandbox_connect != NULL ? sc->sandbox_connect
                                          : "nowhere");
    confine_paths_free(&ps);
}
