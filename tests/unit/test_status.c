/*
 * test_status.c -- the scoreboard as JSON (`prefork -s status`).
 *
 * Escaping of any byte a service name may hold, checked byte for byte and
 * by a real JSON parser (python3, when there is one), and the rendering of
 * scoreboards built by hand: states, the age of a busy worker's connection,
 * totals that keep what exited workers served, and services reloaded away
 * that are still draining.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scoreboard.h"
#include "status.h"

/* status_json_string(s) as a string the caller frees. */
static char *escaped(const char *s)
{
    char  *buf = NULL;
    size_t len = 0;
    FILE  *f = open_memstream(&buf, &len);

    cr_assert_not_null(f);
    status_json_string(f, s);
    cr_assert_eq(fclose(f), 0);
    return buf;
}

static char *rendered(const struct sb_snapshot *snap, int64_t now_ms)
{
    char  *buf = NULL;
    size_t len = 0;
    FILE  *f = open_memstream(&buf, &len);

    cr_assert_not_null(f);
    cr_assert_eq(status_render(f, snap, now_ms), 0);
    cr_assert_eq(fclose(f), 0);
    return buf;
}

/* Parse json with python3 and print the value of a Python expression of
 * `d` (the document) into out.  Returns 0, 1 when there is no python3, or
 * -1 when the document did not parse. */
static int py_eval(const char *json, const char *expr, char *out, size_t cap)
{
    char  path[] = "/tmp/pf-status-XXXXXX", cmd[1024];
    int   fd = mkstemp(path), rc;
    FILE *p;

    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    if (system("python3 -c '' >/dev/null 2>&1") != 0) {
        unlink(path);
        return 1;
    }
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys; "
             "d = json.load(open(sys.argv[1], encoding=\"utf-8\")); "
             "print(%s, end=\"\")' %s 2>&1",
             expr, path);
    p = popen(cmd, "r");
    cr_assert_not_null(p);
    out[fread(out, 1, cap - 1, p)] = '\0';
    rc = pclose(p) == 0 ? 0 : -1;
    unlink(path);
    return rc;
}

/* --- escaping -------------------------------------------------------------- */

Test(status_json, plain_names_are_quoted_as_they_are)
{
    char *s = escaped("http-1.example_svc");

    cr_expect_str_eq(s, "\"http-1.example_svc\"");
    free(s);
    s = escaped("");
    cr_expect_str_eq(s, "\"\"");
    free(s);
}

Test(status_json, quotes_backslashes_and_control_bytes_are_escaped)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"a\"b", "\"a\\\"b\""},
        {"a\\b", "\"a\\\\b\""},
        {"\\\"", "\"\\\\\\\"\""},
        {"t\tn\nr\rb\bf\f", "\"t\\tn\\nr\\rb\\bf\\f\""},
        {"\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\""},
        {"/", "\"/\""},
        {"a;b#c=d[e]", "\"a;b#c=d[e]\""},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = escaped(cases[i].in);

        cr_expect_str_eq(s, cases[i].out, "case %zu", i);
        free(s);
    }
}

Test(status_json, utf8_passes_through_and_bad_bytes_are_replaced)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        /* é, €, 𝄞 (4 bytes), and the last code point */
        {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
        {"\xe2\x82\xac", "\"\xe2\x82\xac\""},
        {"\xf0\x9d\x84\x9e", "\"\xf0\x9d\x84\x9e\""},
        {"\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""},
        /* a lone continuation byte, a cut sequence, Latin-1 */
        {"a\x80z", "\"a\\ufffdz\""},
        {"a\xe2\x82", "\"a\\ufffd\\ufffd\""},
        {"\xe9t\xe9", "\"\\ufffdt\\ufffd\""},
        /* overlong '/', a surrogate, past U+10FFFF, 0xff */
        {"\xc0\xaf", "\"\\ufffd\\ufffd\""},
        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},
        {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
        {"\xff", "\"\\ufffd\""},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = escaped(cases[i].in);

        cr_expect_str_eq(s, cases[i].out, "case %zu", i);
        free(s);
    }
}

Test(status_json, a_parser_reads_back_every_odd_name)
{
    /* Every byte from 1 to 255 in one name. */
    char name[256], got[4096], *json;
    int  rc;

    for (int i = 1; i < 256; i++)
        name[i - 1] = (char)i;
    name[255] = '\0';
    json = escaped(name);
    rc = py_eval(json, "d.encode(\"utf-8\").hex()", got, sizeof got);
    if (rc == 1)
        cr_skip_test("no python3 to parse the output");
    cr_assert_eq(rc, 0, "the parser refused %s: %s", json, got);
    /* 0x01..0x7f come back as they were; every byte above is not valid
     * UTF-8 alone and reads back as U+FFFD (ef bf bd). */
    {
        char want[4096] = "";

        for (int i = 1; i < 256; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want),
                     i < 0x80 ? "%02x" : "efbfbd", i);
        cr_expect_str_eq(got, want);
    }
    free(json);
}

/* --- rendering ------------------------------------------------------------- */

/* A hand-made snapshot: up to 8 services and 8 slots. */
struct fake {
    struct sb_snapshot snap;
    struct sb_service  svc[8];
    struct slot        slots[8];
};

static void fake_init(struct fake *f)
{
    memset(f, 0, sizeof *f);
    f->snap.master_pid = 100;
    f->snap.start_time = 1700000000;
    f->snap.start_mono_ms = 5000;
    snprintf(f->snap.version, sizeof f->snap.version, "9.8.7");
    f->snap.svc = f->svc;
    f->snap.slots = f->slots;
    f->snap.nslots = 8;
}

static struct sb_service *fake_svc(struct fake *f, uint32_t id,
                                   const char *name, int current)
{
    struct sb_service *e;

    cr_assert_lt(f->snap.nsvc, 8);
    e = &f->svc[f->snap.nsvc++];

    e->id = id;
    e->flags = current ? SB_SVC_CURRENT : 0;
    e->target = 2;
    snprintf(e->mode, sizeof e->mode, "prefork");
    snprintf(e->name, sizeof e->name, "%s", name);
    return e;
}

static void fake_slot(struct fake *f, int i, uint32_t svc, pid_t pid, int state,
                      uint64_t served, int64_t started, int64_t busy_since,
                      uint32_t conns)
{
    f->slots[i] = (struct slot){.pid = pid,
                                .service = svc,
                                .state = state,
                                .served = served,
                                .started_ms = started,
                                .busy_since = busy_since,
                                .open_conns = conns};
}

Test(status_render, a_scoreboard_built_by_hand)
{
    struct fake f;
    char       *json;

    fake_init(&f);
    snprintf(fake_svc(&f, 7, "web", 1)->listen, SB_LISTEN_MAX,
             "tcp://127.0.0.1:80\ntcp://[::1]:80");
    f.svc[0].sandbox = (struct sb_sandbox){.on = 1,
                                           .landlock = 7,
                                           .fs = 1,
                                           .net = 1,
                                           .seccomp = 1,
                                           .read = "/srv",
                                           .connect = "db:5432"};
    fake_svc(&f, 8, "dns", 1)->exited_served = 40;
    f.svc[1].target = 1;
    snprintf(f.svc[1].mode, sizeof f.svc[1].mode, "forking");
    fake_slot(&f, 0, 7, 201, SLOT_IDLE, 10, 6000, 0, 2);
    fake_slot(&f, 2, 7, 202, SLOT_BUSY, 5, 7000, 69750, 1);
    fake_slot(&f, 3, 8, 301, SLOT_STARTING, 0, 69000, 0, 0);
    fake_slot(&f, 5, 7, 0, SLOT_FREE, 99, 1000, 0, 0); /* not listed */
    /* Death records go out as written; one that is not an object is
     * left out. */
    snprintf(f.snap.deaths[0], SB_DEATH_MAX, "{\"pid\":9,\"reason\":\"exit\"}");
    snprintf(f.snap.deaths[1], SB_DEATH_MAX, "{\"broken\"");
    snprintf(f.snap.deaths[2], SB_DEATH_MAX, "{\"pid\":8}");
    f.snap.ndeaths = 3;

    json = rendered(&f.snap, 70000);
    cr_expect_str_eq(
        json,
        "{\"master\":{\"pid\":100,\"version\":\"9.8.7\","
        "\"start_time\":1700000000,\"uptime_s\":65},"
        "\"services\":["
        "{\"name\":\"web\",\"mode\":\"prefork\","
        "\"listen\":[\"tcp://127.0.0.1:80\",\"tcp://[::1]:80\"],"
        "\"sandbox\":{\"on\":true,\"landlock\":7,\"fs\":true,\"net\":true,"
        "\"seccomp\":true,\"exec\":false,\"read\":\"/srv\",\"write\":\"\","
        "\"connect\":\"db:5432\"},"
        "\"target\":2,\"retiring\":false,\"workers\":["
        "{\"pid\":201,\"state\":\"idle\",\"served\":10,\"open_conns\":2,"
        "\"busy_ms\":null,\"age_s\":64},"
        "{\"pid\":202,\"state\":\"busy\",\"served\":5,\"open_conns\":1,"
        "\"busy_ms\":250,\"age_s\":63}],"
        "\"totals\":{\"workers\":2,\"idle\":1,\"busy\":1,\"served\":15}},"
        "{\"name\":\"dns\",\"mode\":\"forking\",\"listen\":[],"
        "\"sandbox\":{\"on\":false,\"landlock\":0,\"fs\":false,"
        "\"net\":false,\"seccomp\":false,\"exec\":false,\"read\":\"\","
        "\"write\":\"\",\"connect\":\"\"},"
        "\"target\":1,\"retiring\":false,\"workers\":["
        "{\"pid\":301,\"state\":\"starting\",\"served\":0,\"open_conns\":0,"
        "\"busy_ms\":null,\"age_s\":1}],"
        "\"totals\":{\"workers\":1,\"idle\":0,\"busy\":0,\"served\":40}}"
        "],\"deaths\":[{\"pid\":9,\"reason\":\"exit\"},{\"pid\":8}],\"reload\":"
        "null,\"refused_reload\":null}\n");
    free(json);
}

Test(status_render, a_busy_worker_that_just_finished_has_no_age)
{
    struct fake f;
    char       *json;

    fake_init(&f);
    fake_svc(&f, 1, "s", 1);
    /* Seen BUSY, but busy_since already back to 0. */
    fake_slot(&f, 0, 1, 5, SLOT_BUSY, 1, 1000, 0, 0);
    /* A clock read just before busy_since was stamped. */
    fake_slot(&f, 1, 1, 6, SLOT_BUSY, 1, 1000, 2001, 0);
    json = rendered(&f.snap, 2000);
    cr_expect(strstr(json, "\"pid\":5,\"state\":\"busy\",\"served\":1,"
                           "\"open_conns\":0,\"busy_ms\":null") != NULL,
              "%s", json);
    cr_expect(strstr(json, "\"pid\":6,\"state\":\"busy\",\"served\":1,"
                           "\"open_conns\":0,\"busy_ms\":0,") != NULL,
              "%s", json);
    cr_expect(strstr(json, "\"busy\":2,") != NULL, "%s", json);
    free(json);
}

Test(status_render, a_reloaded_service_is_listed_once_with_its_old_workers)
{
    struct fake f;
    char       *json, got[512];
    int         rc;

    fake_init(&f);
    fake_svc(&f, 3, "echo", 1)->exited_served = 1;
    fake_svc(&f, 4, "new", 1);
    fake_svc(&f, 1, "echo", 0)->exited_served = 20; /* before the reload */
    fake_svc(&f, 2, "gone", 0)->exited_served = 5;  /* still draining */
    fake_svc(&f, 0, "old", 0)->exited_served = 9;   /* drained: not shown */
    fake_slot(&f, 0, 1, 11, SLOT_EXITING, 3, 1000, 0, 1);
    fake_slot(&f, 1, 3, 12, SLOT_IDLE, 2, 1000, 0, 0);
    fake_slot(&f, 2, 2, 13, SLOT_EXITING, 4, 1000, 0, 0);
    json = rendered(&f.snap, 3000);
    rc =
        py_eval(json,
                "\";\".join(\"%s/%s/%d/%d/%s\" % (s[\"name\"], s[\"retiring\"],"
                " s[\"totals\"][\"workers\"], s[\"totals\"][\"served\"],"
                " \",\".join(str(w[\"pid\"]) for w in s[\"workers\"]))"
                " for s in d[\"services\"])",
                got, sizeof got);
    if (rc == 1)
        cr_skip_test("no python3 to parse the output");
    cr_assert_eq(rc, 0, "%s: %s", json, got);
    cr_expect_str_eq(got,
                     "echo/False/2/26/11,12;new/False/0/0/;gone/True/1/9/13",
                     "%s", json);
    free(json);
}

Test(status_render, an_empty_scoreboard_is_valid_json)
{
    struct fake f;
    char       *json, got[64];
    int         rc;

    fake_init(&f);
    f.snap.nslots = 0;
    f.snap.start_mono_ms = 0;
    json = rendered(&f.snap, 1000);
    cr_expect_str_eq(json, "{\"master\":{\"pid\":100,\"version\":\"9.8.7\","
                           "\"start_time\":1700000000,\"uptime_s\":0},"
                           "\"services\":[],\"deaths\":[],\"reload\":null,"
                           "\"refused_reload\":null}\n");
    rc = py_eval(json, "len(d[\"services\"])", got, sizeof got);
    if (rc != 1)
        cr_expect_eq(rc, 0, "%s", got);
    free(json);
}

Test(status_render, the_last_reload_and_why_it_was_rolled_back)
{
    struct fake f;
    char       *json;

    fake_init(&f);
    f.snap.nslots = 0;
    f.snap.start_mono_ms = 0;
    f.snap.reload_generation = 3;
    snprintf(f.snap.reload_state, SB_STATE_MAX, "rolled back");
    snprintf(f.snap.reload_reason, SB_REASON_MAX,
             "[t] worker 9 died on signal 11 (\"signal\")");
    json = rendered(&f.snap, 1000);
    cr_expect(strstr(json, ",\"reload\":{\"generation\":3,\"state\":"
                           "\"rolled back\",\"reason\":\"[t] worker 9 died "
                           "on signal 11 (\\\"signal\\\")\"},"
                           "\"refused_reload\":null}\n") != NULL,
              "%s", json);
    free(json);
    f.snap.reload_reason[0] = '\0';
    snprintf(f.snap.reload_state, SB_STATE_MAX, "rolled over");
    json = rendered(&f.snap, 1000);
    cr_expect(strstr(json, "\"state\":\"rolled over\",\"reason\":null}") !=
                  NULL,
              "%s", json);
    free(json);
}

/* From a real scoreboard: claim, serve, exit, snapshot, render. */
Test(status_render, from_a_live_scoreboard)
{
    struct scoreboard *sb = scoreboard_create(NULL, 4);
    struct sb_snapshot snap;
    char               err[256], *json;
    int                a, b;

    cr_assert_not_null(sb);
    /* The table as scoreboard_set_services() leaves it. */
    sb->svc[0] = (struct sb_service){.id = 1, .flags = SB_SVC_CURRENT};
    snprintf(sb->svc[0].name, sizeof sb->svc[0].name, "e\"1");
    sb->hdr->nservices = 1;
    a = scoreboard_claim(sb, 1);
    b = scoreboard_claim(sb, 1);
    slot_set_pid(&sb->slots[a], 1001);
    slot_set_pid(&sb->slots[b], 1002);
    slot_done(&sb->slots[a], 3);
    slot_done(&sb->slots[b], 4);
    scoreboard_release(sb, b); /* 1002 exits after serving 4 */
    b = scoreboard_claim(sb, 1);
    slot_set_pid(&sb->slots[b], 1003);
    slot_busy(&sb->slots[b]);
    cr_assert_eq(scoreboard_snapshot(sb, &snap, err, sizeof err), 0, "%s", err);
    json = rendered(&snap, mono_ms());
    cr_expect(strstr(json, "{\"name\":\"e\\\"1\"") != NULL, "%s", json);
    cr_expect(strstr(json, "\"pid\":1001,\"state\":\"idle\",\"served\":3") !=
                  NULL,
              "%s", json);
    cr_expect(strstr(json, "\"pid\":1003,\"state\":\"busy\",\"served\":0") !=
                  NULL,
              "%s", json);
    cr_expect(strstr(json, "\"pid\":1002,\"state\"") == NULL, "%s", json);
    cr_expect(strstr(json, "\"totals\":{\"workers\":2,\"idle\":1,\"busy\":1,"
                           "\"served\":7}") != NULL,
              "%s", json);
    free(json);
    scoreboard_snapshot_free(&snap);
    scoreboard_destroy(sb);
}

Test(status_render, the_last_refused_reload_and_its_first_error)
{
    struct fake f;
    char       *json;

    fake_init(&f);
    f.snap.nslots = 0;
    f.snap.start_mono_ms = 0;
    f.snap.refused_time = 1700000100;
    f.snap.refused_errors = 2;
    snprintf(f.snap.refused_by, sizeof f.snap.refused_by, "prefork -s reload");
    snprintf(f.snap.refused_reason, SB_REFUSED_MAX,
             "/etc/x.ini:3: unknown key \"lisen\"");
    json = rendered(&f.snap, 1000);
    cr_expect(strstr(json, ",\"refused_reload\":{\"time\":1700000100,"
                           "\"by\":\"prefork -s reload\",\"errors\":2,"
                           "\"reason\":\"/etc/x.ini:3: unknown key "
                           "\\\"lisen\\\"\"}}\n") != NULL,
              "%s", json);
    free(json);
}
