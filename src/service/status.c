/*
 * status.c -- the scoreboard as JSON, for `prefork -s status`.
 *
 * The output is one object on one line, for a program to read (or `jq` for
 * a person).  A service name is an INI section name and may hold any byte,
 * so every string goes through one escaping function that always yields
 * valid JSON and valid UTF-8.  A service reloaded with the same name is
 * listed once: its new workers, its old ones still draining, and one served
 * total for all of them since the master started, workers gone included.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "scoreboard.h"
#include "status.h"

static const char *const state_names[] = {
    [SLOT_FREE] = "free", [SLOT_STARTING] = "starting", [SLOT_IDLE] = "idle",
    [SLOT_BUSY] = "busy", [SLOT_EXITING] = "exiting",
};

/* The length of the valid UTF-8 character at p (1 to 4), or 0 when p does
 * not start one: overlong forms, surrogates and code points past U+10FFFF
 * are not valid.  The string's NUL ends any sequence. */
static size_t utf8_len(const unsigned char *p)
{
    uint32_t cp;
    size_t   n, i;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (cp >= 0xd800 && cp <= 0xdfff) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

void status_json_string(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t               n;

    putc('"', out);
    while (*p != '\0') {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\b': fputs("\\b", out); break;
        case '\f': fputs("\\f", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                fprintf(out, "\\u%04x", *p);
                break;
            }
            n = utf8_len(p);
            if (n == 0) {
                fputs("\\ufffd", out);
                break;
            }
            fwrite(p, 1, n, out);
            p += n;
            continue;
        }
        p++;
    }
    putc('"', out);
}

/* The listen addresses, stored one per line, as an array of strings. */
static void listen_array(FILE *out, const char *text)
{
    char        one[SB_LISTEN_MAX];
    const char *nl;
    size_t      len;
    int         first = 1;

    putc('[', out);
    while (*text != '\0') {
        nl = strchr(text, '\n');
        len = nl != NULL ? (size_t)(nl - text) : strlen(text);
        memcpy(one, text, len);
        one[len] = '\0';
        if (!first)
            putc(',', out);
        status_json_string(out, one);
        first = 0;
        text += len + (nl != NULL);
    }
    putc(']', out);
}

struct totals {
    unsigned workers, idle, busy;
    uint64_t served;
    uint64_t tls_handshakes, tls_resumed, tls_failures;
};

static void worker_json(FILE *out, const struct slot *s, int64_t now_ms,
                        int first)
{
    const char *state = s->state >= 0 && s->state <= SLOT_EXITING
                            ? state_names[s->state]
                            : "unknown";
    int64_t     age = s->started_ms > 0 ? (now_ms - s->started_ms) / 1000 : 0;

    fprintf(out,
            "%s{\"pid\":%d,\"state\":\"%s\",\"served\":%" PRIu64
            ",\"open_conns\":%" PRIu32 ",\"busy_ms\":",
            first ? "" : ",", (int)s->pid, state, s->served, s->open_conns);
    /* busy_since may already be 0 again: the worker just finished. */
    if (s->state == SLOT_BUSY && s->busy_since > 0)
        fprintf(out, "%" PRId64,
                now_ms > s->busy_since ? now_ms - s->busy_since : 0);
    else
        fputs("null", out);
    fprintf(out, ",\"age_s\":%" PRId64 "}", age > 0 ? age : 0);
}

/* How the service's workers are confined (sandbox in prefork.ini(5)). */
static void sandbox_json(FILE *out, const struct sb_sandbox *b)
{
    fprintf(out,
            ",\"sandbox\":{\"on\":%s,\"landlock\":%" PRId32
            ",\"fs\":%s,\"net\":%s,\"seccomp\":%s,\"exec\":%s",
            b->on ? "true" : "false", b->landlock, b->fs ? "true" : "false",
            b->net ? "true" : "false", b->seccomp ? "true" : "false",
            b->exec ? "true" : "false");
    fputs(",\"read\":", out);
    status_json_string(out, b->read);
    fputs(",\"write\":", out);
    status_json_string(out, b->write);
    fputs(",\"connect\":", out);
    status_json_string(out, b->connect);
    fputc('}', out);
}

/* Entry g and every later entry of the same name, as one service. */
static void service_json(FILE *out, const struct sb_snapshot *snap, size_t g,
                         int64_t now_ms)
{
    const struct sb_service *e = &snap->svc[g];
    struct totals            t = {0};
    size_t                   i;

    fputs("{\"name\":", out);
    status_json_string(out, e->name);
    fputs(",\"mode\":", out);
    status_json_string(out, e->mode);
    fputs(",\"listen\":", out);
    listen_array(out, e->listen);
    sandbox_json(out, &e->sandbox);
    fprintf(out, ",\"target\":%" PRId32 ",\"retiring\":%s,\"workers\":[",
            e->target, e->flags & SB_SVC_CURRENT ? "false" : "true");
    for (i = 0; i < snap->nslots; i++) {
        const struct slot *s = &snap->slots[i];

        if (!sb_in_group(snap, g, s))
            continue;
        worker_json(out, s, now_ms, t.workers == 0);
        t.workers++;
        t.idle += s->state == SLOT_IDLE;
        t.busy += s->state == SLOT_BUSY;
        t.served += s->served;
        t.tls_handshakes += s->tls_handshakes;
        t.tls_resumed += s->tls_resumed;
        t.tls_failures += s->tls_failures;
    }
    for (i = g; i < snap->nsvc; i++)
        if (sb_same_name(snap, g, i))
            t.served += snap->svc[i].exited_served;
    fprintf(out,
            "],\"totals\":{\"workers\":%u,\"idle\":%u,\"busy\":%u,"
            "\"served\":%" PRIu64 "}",
            t.workers, t.idle, t.busy, t.served);
    /* A TLS service's handshakes, by its live workers, once it has any. */
    if (t.tls_handshakes > 0 || t.tls_failures > 0)
        fprintf(out,
                ",\"tls\":{\"handshakes\":%" PRIu64 ",\"resumed\":%" PRIu64
                ",\"failures\":%" PRIu64 "}",
                t.tls_handshakes, t.tls_resumed, t.tls_failures);
    putc('}', out);
}

/* Is entry i the first of its name, and worth a line: current, or still
 * with workers draining? */
static int group_shown(const struct sb_snapshot *snap, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (sb_same_name(snap, i, j))
            return 0;
    if (snap->svc[i].flags & SB_SVC_CURRENT)
        return 1;
    for (size_t k = 0; k < snap->nslots; k++)
        if (sb_in_group(snap, i, &snap->slots[k]))
            return 1;
    return 0;
}

/* The last reload, or null before the first. */
static void reload_json(FILE *out, const struct sb_snapshot *snap)
{
    if (snap->reload_generation == 0) {
        fputs("null", out);
        return;
    }
    fprintf(out, "{\"generation\":%u,\"state\":", snap->reload_generation);
    status_json_string(out, snap->reload_state);
    fputs(",\"reason\":", out);
    if (snap->reload_reason[0] != '\0')
        status_json_string(out, snap->reload_reason);
    else
        fputs("null", out);
    putc('}', out);
}

/* The last reload refused for a broken file, or null when none was. */
static void refused_json(FILE *out, const struct sb_snapshot *snap)
{
    if (snap->refused_time == 0) {
        fputs("null", out);
        return;
    }
    fprintf(out, "{\"time\":%" PRId64 ",\"by\":", snap->refused_time);
    status_json_string(out, snap->refused_by);
    fprintf(out, ",\"errors\":%u,\"reason\":", snap->refused_errors);
    status_json_string(out, snap->refused_reason);
    putc('}', out);
}

int status_render(FILE *out, const struct sb_snapshot *snap, int64_t now_ms)
{
    int64_t up = snap->start_mono_ms > 0 ? now_ms - snap->start_mono_ms : 0;
    int     first = 1;

    fprintf(out, "{\"master\":{\"pid\":%d,\"version\":", (int)snap->master_pid);
    status_json_string(out, snap->version);
    fprintf(out, ",\"start_time\":%" PRId64 ",\"uptime_s\":%" PRId64 "}",
            snap->start_time, up > 0 ? up / 1000 : 0);
    fputs(",\"services\":[", out);
    /* Current entries come first in the table, in configuration order. */
    for (size_t i = 0; i < snap->nsvc; i++) {
        if (!group_shown(snap, i))
            continue;
        if (!first)
            putc(',', out);
        service_json(out, snap, i, now_ms);
        first = 0;
    }
    /* The last death records, latest first, as the master wrote them;
     * text that is not one JSON object (a damaged file) is left out. */
    fputs("],\"deaths\":[", out);
    first = 1;
    for (size_t i = 0; i < snap->ndeaths; i++) {
        const char *d = snap->deaths[i];
        size_t      n = strlen(d);

        if (n < 2 || d[0] != '{' || d[n - 1] != '}' || strchr(d, '\n'))
            continue;
        fprintf(out, "%s%s", first ? "" : ",", d);
        first = 0;
    }
    fputs("],\"reload\":", out);
    reload_json(out, snap);
    fputs(",\"refused_reload\":", out);
    refused_json(out, snap);
    fputs("}\n", out);
    return ferror(out) ? -1 : 0;
}

size_t status_utf8_len(const unsigned char *p)
{
    return utf8_len(p);
}
