/*
 * modload.c -- loading modules and checking their configuration.
 *
 * Runs in the master only, before any fork (start-up, -t, reload).  A
 * module's descriptor is copied into a host-sized struct zeroed past the
 * module's own size, so a module built for an older minor version has NULL
 * hooks where it predates the host, and the host never reads past it.
 *
 * A module's keys are the core's keys to values.c: module_load turns its
 * table into struct key entries, and its values are stored and refused by
 * the same setters, in the same words, as [server] keys are.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confine.h"
#include "daemon.h"
#include "host.h"
#include "modload.h"
#include "reader.h"
#include "tlsctx.h"
#include "sandbox_conf.h"
#include "values.h"

/* The descriptor fields every ABI 1 module has, up to and including the
 * hooks; a smaller `size` is not a descriptor we can use. */
#define DESC_MIN_SIZE offsetof(struct pf_module, check)

char *module_resolve(const char *spec, const char *module_path, const char *dir)
{
    char  *out = NULL;
    size_t n = strlen(spec);
    int    r;

    if (strchr(spec, '/') != NULL) {
        if (spec[0] == '/')
            return strdup(spec);
        r = asprintf(&out, "%s/%s", dir, spec);
    } else if (n > 3 && strcmp(spec + n - 3, ".so") == 0) {
        r = asprintf(&out, "%s/%s", module_path, spec);
    } else {
        r = asprintf(&out, "%s/%s.so", module_path, spec);
    }
    return r < 0 ? NULL : out;
}

static int desc_check(const struct pf_module *d, char *err, size_t errlen)
{
    if (d->magic != PF_MODULE_MAGIC) {
        snprintf(err, errlen, "not a prefork module (bad magic 0x%08x)",
                 d->magic);
        return -1;
    }
    if (d->abi_major != PF_ABI_MAJOR) {
        snprintf(err, errlen,
                 "built for module ABI %u.%u, this prefork has ABI %d.%d: "
                 "rebuild the module against this prefork's <prefork/module.h>",
                 d->abi_major, d->abi_minor, PF_ABI_MAJOR, PF_ABI_MINOR);
        return -1;
    }
    if (d->size < DESC_MIN_SIZE) {
        snprintf(err, errlen, "descriptor too small (%u bytes)", d->size);
        return -1;
    }
    if (d->name == NULL || d->name[0] == '\0') {
        snprintf(err, errlen, "descriptor has no name");
        return -1;
    }
    return 0;
}

/* m->keys from m->desc.keys.  A key of a type this host does not know
 * (a module for a newer minor) makes the module unusable: its value would
 * be stored nowhere. */
static int keys_convert(struct module *m, char *err, size_t errlen)
{
    const struct pf_key *pk = m->desc.keys;
    size_t               i, n = 0;

    while (pk != NULL && pk[n].name != NULL)
        n++;
    if (n == 0)
        return 0;
    m->keys = calloc(n, sizeof(*m->keys));
    if (m->keys == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (key_from_module(&pk[i], &m->keys[i]) == -1) {
            snprintf(err, errlen,
                     "key '%s' has a type (%d) this prefork does not know",
                     pk[i].name, (int)pk[i].type);
            return -1;
        }
    }
    m->nkeys = n;
    return 0;
}

struct module *module_load(const char *path, char *err, size_t errlen)
{
    struct module          *m = NULL;
    const struct pf_module *d;
    void                   *dl;
    size_t                  n;

    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        snprintf(err, errlen, "cannot load module: %s", dlerror());
        return NULL;
    }
    d = dlsym(dl, "prefork_module");
    if (d == NULL) {
        snprintf(err, errlen,
                 "%s has no prefork_module symbol: not a prefork module", path);
        goto fail;
    }
    if (desc_check(d, err, errlen) == -1)
        goto fail;
    m = calloc(1, sizeof(*m));
    if (m == NULL || (m->path = strdup(path)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    n = d->size < sizeof(m->desc) ? d->size : sizeof(m->desc);
    memcpy(&m->desc, d, n);
    if (keys_convert(m, err, errlen) == -1)
        goto fail;
    m->dl = dl;
    return m;
fail:
    if (m != NULL) {
        free(m->keys);
        free(m->path);
    }
    free(m);
    dlclose(dl);
    return NULL;
}

void module_unload(struct module *m)
{
    if (m == NULL)
        return;
    dlclose(m->dl);
    free(m->keys);
    free(m->path);
    free(m);
}

/* --- module keys --------------------------------------------------------- */

static void conf_free(const struct module *m, void *conf)
{
    if (conf == NULL)
        return;
    keys_free(m->keys, m->nkeys, conf);
    free(conf);
}

/* Is key k set in sc's section? */
static int key_present(const struct service_conf *sc, const struct key *k)
{
    size_t i;

    for (i = 0; i < sc->nmkeys; i++)
        if (strcmp(sc->mkeys[i].key, k->name) == 0)
            return 1;
    return 0;
}

/* Each function below stores into sc->mconf or reports into d, and
 * returns how many problems it reported. */

static int conf_defaults(const struct config *cfg, struct service_conf *sc,
                         struct diag *d)
{
    const struct module *m = sc->mod;
    const struct key    *k;
    char                 err[512];
    int                  bad = 0;

    for (k = m->keys; k < m->keys + m->nkeys; k++) {
        if (k->def == NULL ||
            key_set(k, sc->mconf, k->def, cfg->dir, err, sizeof(err)) == 0)
            continue;
        diag_add(d, cfg->file, sc->line,
                 "[%s] module '%s' has a bad default for %s: %s", sc->name,
                 m->desc.name, k->name, err);
        bad++;
    }
    return bad;
}

/* The file's values, over the defaults; FILE:LINE of each key. */
static int conf_values(const struct config *cfg, struct service_conf *sc,
                       struct diag *d)
{
    const struct module *m = sc->mod;
    char                 err[512];
    int                  bad = 0, i;
    size_t               j;

    for (j = 0; j < sc->nmkeys; j++) {
        const struct conf_kv *kv = &sc->mkeys[j];

        i = key_find(m->keys, m->nkeys, kv->key);
        if (i < 0) {
            diag_add(d, cfg->file, kv->line,
                     "[%s] unknown key '%s' (not a service key, and module "
                     "'%s' does not take it)",
                     sc->name, kv->key, m->desc.name);
            bad++;
        } else if (key_set(&m->keys[i], sc->mconf, kv->value, cfg->dir, err,
                           sizeof(err)) == -1) {
            diag_add(d, cfg->file, kv->line, "[%s] %s: %s", sc->name, kv->key,
                     err);
            bad++;
        }
    }
    return bad;
}

static int conf_required(const struct config *cfg, struct service_conf *sc,
                         struct diag *d)
{
    const struct module *m = sc->mod;
    const struct key    *k;
    int                  bad = 0;

    for (k = m->keys; k < m->keys + m->nkeys; k++) {
        if (!k->required || key_present(sc, k))
            continue;
        diag_add(d, cfg->file, sc->line,
                 "[%s] missing required key '%s' of module '%s'", sc->name,
                 k->name, m->desc.name);
        bad++;
    }
    return bad;
}

/* sc->mconf: defaults first, then the file's values; required keys must
 * be there. */
static int conf_fill(const struct config *cfg, struct service_conf *sc,
                     struct diag *d)
{
    int bad;

    sc->mconf =
        calloc(1, sc->mod->desc.conf_size ? sc->mod->desc.conf_size : 1);
    if (sc->mconf == NULL) {
        diag_add(d, cfg->file, sc->line, "[%s] out of memory", sc->name);
        return -1;
    }
    bad = conf_defaults(cfg, sc, d);
    bad += conf_values(cfg, sc, d);
    bad += conf_required(cfg, sc, d);
    return bad ? -1 : 0;
}

/* --- check() and its error reporting --------------------------------------- */

struct check_ctx {
    pf_service                 pub; /* first: hooks get &pub */
    const struct config       *cfg;
    const struct service_conf *sc;
    struct diag               *d;
    int                        errors;
};

static int key_line(const struct service_conf *sc, const char *key)
{
    size_t i;

    for (i = 0; key != NULL && i < sc->nmkeys; i++)
        if (strcmp(sc->mkeys[i].key, key) == 0)
            return sc->mkeys[i].line;
    return sc->line;
}

__attribute__((format(printf, 3, 0))) static void
check_conf_error(pf_service *svc, const char *key, const char *fmt, va_list ap)
{
    struct check_ctx *cx = (struct check_ctx *)svc;
    char              msg[512];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (key != NULL)
        diag_add(cx->d, cx->cfg->file, key_line(cx->sc, key), "[%s] %s: %s",
                 cx->sc->name, key, msg);
    else
        diag_add(cx->d, cx->cfg->file, cx->sc->line, "[%s] %s", cx->sc->name,
                 msg);
    cx->errors++;
}

/* check() declares for every worker of the service: into its config. */
static int check_sandbox_allow(pf_service *svc, const char *path,
                               unsigned flags)
{
    struct check_ctx *cx = (struct check_ctx *)svc;

    /* run_check() was handed sc to fill: its declarations are its own. */
    return sandbox_declare((struct service_conf *)cx->sc, cx->cfg->dir, path,
                           flags);
}

static int run_check(const struct config *cfg, struct service_conf *sc,
                     struct diag *d)
{
    static struct pf_api check_api;
    struct check_ctx     cx = {.cfg = cfg, .sc = sc, .d = d};

    check_api = host_api;
    check_api.vconf_error = check_conf_error;
    check_api.sandbox_allow = check_sandbox_allow;
    service_pub_init(&cx.pub, sc->name, sc->mconf, cfg->dir);
    cx.pub.api = &check_api;
    if (sc->mod->desc.check == NULL)
        return 0;
    if (sc->mod->desc.check(&cx.pub) == -1) {
        if (cx.errors == 0)
            diag_add(d, cfg->file, sc->line,
                     "[%s] module '%s' rejected "
                     "the configuration",
                     sc->name, sc->mod->desc.name);
        return -1;
    }
    return 0;
}

/* The listener kinds sc has must be ones its module serves. */
static int socktypes_check(const struct config       *cfg,
                           const struct service_conf *sc, struct diag *d)
{
    const struct pf_module *m = &sc->mod->desc;
    size_t                  i;

    for (i = 0; i < sc->nlisten; i++) {
        int      dgram = sc->listen[i].kind == ADDR_UDP;
        unsigned need = dgram ? PF_DGRAM : PF_STREAM;
        int      hook = dgram ? m->datagram != NULL : m->handle != NULL;
        if (!(m->socktypes & need) || !hook) {
            diag_add(d, cfg->file, sc->listen_line,
                     "[%s] module '%s' does not serve %s listeners (%s)",
                     sc->name, m->name, dgram ? "udp" : "stream",
                     sc->listen[i].text);
            return -1;
        }
    }
    return 0;
}

/*
 * A module named by its name alone (`module = http`) that module_path does
 * not have, run from a build tree: the tree's modules are beside the
 * binary, in modules/.libs, and module_path is the key that finds them.
 * Writes that hint, or "" when there is nothing to say.
 */
static void module_path_hint(const struct service_conf *sc, const char *path,
                             char *hint, size_t len)
{
    char    exe[4096], *slash, *there = NULL;
    ssize_t n;

    hint[0] = '\0';
    if (strchr(sc->module, '/') != NULL || access(path, F_OK) == 0)
        return;
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0 || (size_t)n >= sizeof(exe) - 1)
        return;
    exe[n] = '\0';
    if ((slash = strrchr(exe, '/')) == NULL)
        return;
    *slash = '\0';
    if (asprintf(&there, "%s/modules/.libs/%s", exe, strrchr(path, '/') + 1) <
        0)
        return;
    if (access(there, F_OK) == 0)
        snprintf(hint, len,
                 " (this prefork runs from a build tree: set "
                 "module_path = %s/modules/.libs in [server])",
                 exe);
    free(there);
}

static int service_prepare(const struct config *cfg, struct service_conf *sc,
                           struct diag *d)
{
    char  hint[4200];
    char  err[512];
    char *path;

    path = module_resolve(sc->module, cfg->module_path, cfg->dir);
    if (path == NULL) {
        diag_add(d, cfg->file, sc->module_line, "[%s] out of memory", sc->name);
        return -1;
    }
    sc->mod = module_load(path, err, sizeof(err));
    if (sc->mod == NULL) {
        module_path_hint(sc, path, hint, sizeof(hint));
        diag_add(d, cfg->file, sc->module_line, "[%s] module '%s' (%s): %s%s",
                 sc->name, sc->module, path, err, hint);
        free(path);
        return -1;
    }
    free(path);
    /* pf_sandbox_allow came with ABI 1.4: an older module cannot say what
     * its workers need (confine.c). */
    sc->sandbox_undeclared =
        sc->mod->desc.abi_major == 1 && sc->mod->desc.abi_minor < 4;
    if (socktypes_check(cfg, sc, d) == -1)
        return -1;
    if (conf_fill(cfg, sc, d) == -1)
        return -1;
    return run_check(cfg, sc, d);
}

int modules_prepare(struct config *cfg, struct diag *d)
{
    int    rc = 0;
    size_t i;

    for (i = 0; i < cfg->nsvc; i++) {
        struct service_conf *sc = &cfg->svc[i];
        /* A service the file left incomplete has been reported already. */
        if (sc->module == NULL || sc->nlisten == 0) {
            rc = -1;
            continue;
        }
        if (service_prepare(cfg, sc, d) == -1)
            rc = -1;
    }
    return rc;
}

struct config *config_prepare(const char *path, struct diag *d)
{
    struct config *cfg;
    char           err[256];

    cfg = config_load_partial(path, d);
    if (cfg == NULL)
        return NULL;
    if (modules_prepare(cfg, d) == 0)
        tls_prepare(cfg, d);
    confine_check(cfg, d);
    /* One at a time, so that each error has the line of its key. */
    if (check_privileges(cfg->user, NULL, err, sizeof(err)) == -1)
        diag_add(d, cfg->file, cfg->user_line, "%s", err);
    if (check_privileges(NULL, cfg->group, err, sizeof(err)) == -1)
        diag_add(d, cfg->file, cfg->group_line, "%s", err);
    if (d->n == 0) {
        diag_move(d, &cfg->warnings);
        return cfg;
    }
    modules_release(cfg);
    config_free(cfg);
    return NULL;
}

void modules_release(struct config *cfg)
{
    size_t i;

    for (i = 0; cfg != NULL && i < cfg->nsvc; i++) {
        struct service_conf *sc = &cfg->svc[i];
        tlsctx_free(sc->tls);
        sc->tls = NULL;
        sandbox_decl_free(sc);
        if (sc->mod == NULL)
            continue;
        conf_free(sc->mod, sc->mconf);
        sc->mconf = NULL;
        module_unload(sc->mod);
        sc->mod = NULL;
    }
}
