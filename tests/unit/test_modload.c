/*
 * test_modload.c -- finding and loading modules, and checking their keys.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include <criterion/criterion.h>

#include "modload.h"
#include "reader.h"
#include "values.h"

#define TESTMODS PF_BUILDDIR "/tests/modules/.libs"

Test(modload, resolves_names_and_paths)
{
    char *p;

    p = module_resolve("echo", "/lib/pf", "/etc/pf");
    cr_assert_str_eq(p, "/lib/pf/echo.so");
    free(p);
    p = module_resolve("mine.so", "/lib/pf", "/etc/pf");
    cr_assert_str_eq(p, "/lib/pf/mine.so");
    free(p);
    p = module_resolve("mods/mine.so", "/lib/pf", "/etc/pf");
    cr_assert_str_eq(p, "/etc/pf/mods/mine.so");
    free(p);
    p = module_resolve("/opt/x.so", "/lib/pf", "/etc/pf");
    cr_assert_str_eq(p, "/opt/x.so");
    free(p);
}

Test(modload, loads_a_module_and_copies_its_descriptor)
{
    char           err[256] = "";
    struct module *m = module_load(TESTMODS "/testmod.so", err, sizeof(err));

    cr_assert_not_null(m, "%s", err);
    cr_assert_str_eq(m->desc.name, "testmod");
    cr_assert_eq(m->desc.abi_major, PF_ABI_MAJOR);
    cr_assert_not_null(m->desc.handle);
    module_unload(m);
}

Test(modload, refuses_another_abi_major)
{
    char           err[256] = "";
    struct module *m = module_load(TESTMODS "/badabi.so", err, sizeof(err));

    cr_assert_null(m);
    cr_assert(strstr(err, "ABI 2.") != NULL, "%s", err);
    cr_assert(strstr(err, "this prefork has ABI 1.4") != NULL, "%s", err);
    cr_assert(strstr(err, "rebuild") != NULL, "%s", err);
}

/* Built against tests/fixtures/abi-1.0: its descriptor ends before flags. */
Test(modload, loads_an_older_minor_with_later_fields_zero)
{
    char           err[256] = "";
    struct module *m = module_load(TESTMODS "/abi10.so", err, sizeof(err));

    cr_assert_not_null(m, "%s", err);
    cr_assert_eq(m->desc.abi_minor, 0);
    cr_assert_eq(m->desc.size, offsetof(struct pf_module, flags),
                 "the 1.0 descriptor ends where flags begin");
    cr_assert_eq(m->desc.flags, 0u);
    cr_assert_not_null(m->desc.handle, "its own hooks are there");
    module_unload(m);
}

/* Built against the next minor version's header (made from today's by
 * Makefile.am): one hook more than the host knows. */
Test(modload, loads_a_newer_minor_up_to_the_hosts_own_size)
{
    char           err[256] = "";
    struct module *m = module_load(TESTMODS "/abinext.so", err, sizeof(err));

    cr_assert_not_null(m, "%s", err);
    cr_assert_eq(m->desc.abi_minor, PF_ABI_MINOR + 1);
    cr_assert_gt(m->desc.size, sizeof(struct pf_module));
    cr_assert_eq(m->desc.flags, (unsigned)PF_BLOCKING);
    cr_assert_not_null(m->desc.handle);
    module_unload(m);
}

Test(modload, refuses_a_library_without_the_descriptor)
{
    char           err[256] = "";
    struct module *m = module_load(TESTMODS "/nosym.so", err, sizeof(err));

    cr_assert_null(m);
    cr_assert(strstr(err, "prefork_module") != NULL, "%s", err);
}

Test(modload, a_missing_file_says_so)
{
    char err[256] = "";

    cr_assert_null(module_load("/nonexistent/x.so", err, sizeof(err)));
    cr_assert(strstr(err, "No such file") != NULL, "%s", err);
}

/* Prepare a config with one testmod service and the given extra lines. */
static int prepare(const char *extra, struct diag *d, struct config **out)
{
    char *buf;
    int   rc = -1;

    cr_assert(asprintf(&buf,
                       "[server]\nmodule_path = " TESTMODS "\n"
                       "[t]\nmodule = testmod\nlisten = 127.0.0.1:1\n%s",
                       extra) > 0);
    *out = config_load_buffer(buf, strlen(buf), "t.ini", "/tmp", d);
    free(buf);
    if (*out != NULL)
        rc = modules_prepare(*out, d);
    return rc;
}

static void release(struct config *cfg)
{
    modules_release(cfg);
    config_free(cfg);
}

Test(modload, module_keys_are_parsed_into_the_conf)
{
    struct diag    d = DIAG_INIT;
    struct config *cfg;

    cr_assert_eq(prepare("sleep = 250ms\n", &d, &cfg), 0, "%s",
                 d.n ? d.msg[0] : "");
    cr_assert_not_null(cfg->svc[0].mconf);
    release(cfg);
    diag_free(&d);
}

Test(modload, an_unknown_module_key_names_its_line)
{
    struct diag    d = DIAG_INIT;
    struct config *cfg;

    cr_assert_eq(prepare("bogus = 1\n", &d, &cfg), -1);
    cr_assert_eq(d.n, 1);
    cr_assert(strstr(d.msg[0], "t.ini:6:") != NULL, "%s", d.msg[0]);
    cr_assert(strstr(d.msg[0], "'bogus'") != NULL, "%s", d.msg[0]);
    release(cfg);
    diag_free(&d);
}

Test(modload, a_bad_module_value_names_its_line_and_type)
{
    struct diag    d = DIAG_INIT;
    struct config *cfg;

    cr_assert_eq(prepare("crash = maybe\nsleep = soon\n", &d, &cfg), -1);
    cr_assert_eq(d.n, 2, "both errors are reported");
    cr_assert(strstr(d.msg[0], "t.ini:6: [t] crash") != NULL, "%s", d.msg[0]);
    cr_assert(strstr(d.msg[1], "t.ini:7: [t] sleep") != NULL, "%s", d.msg[1]);
    cr_assert(strstr(d.msg[1], "duration") != NULL, "%s", d.msg[1]);
    release(cfg);
    diag_free(&d);
}

Test(modload, check_hook_rejections_point_at_the_key)
{
    struct diag    d = DIAG_INIT;
    struct config *cfg;

    cr_assert_eq(prepare("\n\nreject = nope\n", &d, &cfg), -1);
    cr_assert_eq(d.n, 1);
    cr_assert(strstr(d.msg[0], "t.ini:8: [t] reject: rejected: nope") != NULL,
              "%s", d.msg[0]);
    release(cfg);
    diag_free(&d);
}

/* A module's keys are stored by the core's setters: a bad value reads as
 * it would for a core key of the same type. */
Test(modload, module_values_are_refused_in_the_core_words)
{
    struct diag    d = DIAG_INIT;
    struct config *cfg;

    cr_assert_eq(prepare("crash = maybe\nsleep = soon\nleak = lots\n"
                         "reject =\n",
                         &d, &cfg),
                 -1);
    cr_assert_eq(d.n, 4, "%zu messages", d.n);
    cr_assert_str_eq(d.msg[0], "t.ini:6: [t] crash: invalid boolean 'maybe' "
                               "(use yes/no, on/off, true/false, 1/0)");
    cr_assert_str_eq(d.msg[1], "t.ini:7: [t] sleep: invalid duration 'soon' "
                               "(use 250ms, 10s, 5m, 1h)");
    cr_assert_str_eq(d.msg[2],
                     "t.ini:8: [t] leak: invalid size 'lots' (use 512k, "
                     "64m, 1g)");
    cr_assert_str_eq(d.msg[3], "t.ini:9: [t] reject: empty value");
    release(cfg);
    diag_free(&d);
}

Test(modload, module_value_has_the_same_reason_as_a_core_value)
{
    static const char core_conf[] =
        "[server]\ndaemonize = maybe\n"
        "[e]\nmodule = echo\nlisten = 127.0.0.1:1\n";
    struct diag    core_d = DIAG_INIT, d = DIAG_INIT;
    struct config *cfg;
    const char    *core, *mod;

    cr_assert_null(config_load_buffer(core_conf, strlen(core_conf), "t.ini",
                                      "/tmp", &core_d));
    cr_assert_eq(core_d.n, 1);
    cr_assert_eq(prepare("crash = maybe\n", &d, &cfg), -1);
    cr_assert_eq(d.n, 1);
    core = strstr(core_d.msg[0], "daemonize: ");
    mod = strstr(d.msg[0], "crash: ");
    cr_assert(core != NULL && mod != NULL, "%s / %s", core_d.msg[0], d.msg[0]);
    cr_assert_str_eq(core + strlen("daemonize: "), mod + strlen("crash: "));
    release(cfg);
    diag_free(&core_d);
    diag_free(&d);
}

/* Bounds a module declares are named in the value's own units. */
Test(modload, module_bounds_are_named_in_their_units)
{
    static const char conf[] =
        "[w]\nmodule = " PF_BUILDDIR "/src/modules/.libs/http.so\n"
        "listen = 127.0.0.1:1\nroot = /tmp\n"
        "max_header_size = 2m\nkeepalive_timeout = 2h\n";
    struct diag    d = DIAG_INIT;
    struct config *cfg;

    cfg = config_load_buffer(conf, strlen(conf), "t.ini", "/tmp", &d);
    cr_assert_not_null(cfg);
    cr_assert_eq(modules_prepare(cfg, &d), -1);
    cr_assert_eq(d.n, 2, "%zu messages", d.n);
    cr_assert_str_eq(d.msg[0], "t.ini:5: [w] max_header_size: '2m' is out of "
                               "range (1k..1m)");
    cr_assert_str_eq(d.msg[1], "t.ini:6: [w] keepalive_timeout: '2h' is out "
                               "of range (1ms..1h)");
    release(cfg);
    diag_free(&d);
}

/* A module's key of a type this host does not know is refused rather than
 * stored nowhere; bounds of 0, 0 mean "not negative". */
Test(modload, module_key_types_and_bounds)
{
    struct pf_key newer = {.name = "x", .type = (enum pf_key_type)99};
    struct pf_key n = {.name = "n", .type = PF_KEY_INT};
    struct key    k;
    long long     v = 7;
    char          err[128] = "";

    cr_assert_eq(key_from_module(&newer, &k), -1);
    cr_assert_eq(key_from_module(&n, &k), 0);
    cr_assert_eq(k.type, T_INT);
    cr_assert_eq(key_set(&k, &v, "123456789012", "/", err, sizeof(err)), 0);
    cr_assert_eq(v, 123456789012LL, "an INT key's field is a long long");
    cr_assert_eq(key_set(&k, &v, "-1", "/", err, sizeof(err)), -1);
    cr_assert_str_eq(err, "-1 is out of range (0 or more)");
}
