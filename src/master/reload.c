/*
 * reload.c -- the master's generations: loading a configuration into a
 * new one, making it current, awaiting its workers (READY=1 then), and
 * going back to the one before when it fails.
 *
 * m->cur runs; m->old holds the generations reloaded away, in order,
 * while their workers drain; the last of them is what a failed reload
 * goes back to.  Which workers quit when is rollout.c's.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "fdstore.h"
#include "log.h"
#include "modload.h"
#include "readiness.h"
#include "reader.h"
#include "reload.h"
#include "scoreboard.h"
#include "sdnotify.h"
#include "serving.h"
#include "ticketkeys.h"

/* The one before a reload still starting is kept: it is what a failed
 * reload goes back to. */
void master_release_old(struct master *m)
{
    size_t i;

    for (i = 0; i < m->nold;) {
        if (pool_holds(&m->pool, m->old[i]) ||
            (m->awaiting == AWAIT_RELOAD && i == m->nold - 1)) {
            i++;
            continue;
        }
        generation_destroy(m->old[i], &m->ls);
        /* In order: the last is the one a failed reload goes back to. */
        memmove(&m->old[i], &m->old[i + 1], (--m->nold - i) * sizeof(*m->old));
    }
}

void master_log_diag(const struct diag *d)
{
    size_t i;

    for (i = 0; i < d->n; i++)
        log_at(diag_is_warning(d, i) ? PF_LOG_WARN : PF_LOG_ERROR, NULL, 0,
               "%s", d->msg[i]);
}

/* Load and check the config file as `-t` would, then bind.  Returns the
 * new generation or NULL with the reasons logged and, when the file has
 * errors, the refusal recorded for `-s status`. */
static struct generation *load_generation(struct master *m)
{
    struct diag        d = DIAG_INIT;
    struct generation *g = NULL;
    struct config     *cfg;
    unsigned           nerr = 0;
    const char        *first = NULL;

    cfg = config_prepare(m->conf_path, &d);
    if (cfg != NULL)
        g = generation_create(cfg, &m->ls, &m->next_id, &d);
    if (g == NULL && cfg != NULL) {
        modules_release(cfg);
        config_free(cfg);
    }
    master_log_diag(&d);
    for (size_t i = 0; i < d.n; i++) {
        if (diag_is_warning(&d, i))
            continue;
        if (nerr++ == 0)
            first = d.msg[i];
    }
    if (g == NULL && first != NULL)
        scoreboard_set_refused(m->sb, "SIGHUP", nerr, first);
    diag_free(&d);
    return g;
}

static int push_old(struct master *m, struct generation *g)
{
    struct generation **v = realloc(m->old, (m->nold + 1) * sizeof(*v));

    if (v == NULL)
        return -1;
    m->old = v;
    m->old[m->nold++] = g;
    return 0;
}

void master_give_log(const struct config *cfg)
{
    uid_t uid;
    gid_t gid;

    if (geteuid() == 0 && cfg->user != NULL &&
        user_ids(cfg->user, cfg->group, &uid, &gid) == 0)
        log_chown(uid);
}

static void apply_log_settings(const struct config *old,
                               const struct config *cfg)
{
    if (strcmp(old->error_log, cfg->error_log) == 0 &&
        old->log_level == cfg->log_level)
        return;
    if (log_open(cfg->error_log, cfg->log_level) == -1)
        log_error(NULL, "cannot switch the error log to %s, keeping the old",
                  cfg->error_log);
}

int master_nofile_limit(const struct config *cfg)
{
    char err[256];

    if (set_nofile_limit(cfg->rlimit_nofile, err, sizeof(err)) == -1) {
        log_error(NULL, "%s", err);
        return -1;
    }
    return 0;
}

/* The generation that ran before the current one: the last pushed. */
static struct generation *pop_old(struct master *m)
{
    return m->nold > 0 ? m->old[--m->nold] : NULL;
}

int master_uses_tls(const struct config *cfg)
{
    for (size_t i = 0; i < cfg->nsvc; i++)
        if (cfg->svc[i].tls_certificate != NULL)
            return 1;
    return 0;
}

/* Make g the running generation: the services, the listeners systemd
 * keeps and the status file follow it. */
static void make_current(struct master *m, struct generation *g)
{
    m->cur = g;
    /* Before release_old closes what g dropped: systemd lets go of it. */
    fdstore_sync(&m->ls, g);
    serving_publish(m->sb, g);
    scoreboard_set_generation(m->sb, g->number);
}

void master_await_up(struct master *m, enum await what)
{
    m->awaiting = what;
    m->await_until = readiness_deadline(m->cur, mono_ms());
}

/*
 * The reload to the current generation failed: its trial (reload_canary),
 * or its workers never started (state "failed"), or a new reload came
 * during its trial.  Its workers quit, the one before it runs on as the
 * current one.  Its workers were never told to quit.
 */
void master_roll_back(struct master *m, const char *state, const char *why)
{
    struct generation *bad = m->cur, *prev = pop_old(m);

    if (prev == NULL) { /* the one before had no worker left */
        log_error(NULL,
                  "reload to generation %u %s (%s): nothing to go "
                  "back to, it goes on trying",
                  bad->number, state, why);
        bad->trial_until = 0;
        if (m->awaiting == AWAIT_RELOAD)
            notify_reloaded(0);
        m->awaiting = AWAIT_NONE;
        return;
    }
    log_error(NULL, "reload to generation %u %s (%s): generation %u serves on",
              bad->number, state, why, prev->number);
    bad->trial_until = 0;
    bad->retiring = 1;
    prev->retiring = 0;
    (void)push_old(m, bad); /* the slot pop_old freed: cannot fail */
    /* First: it is gone once its workers are, and never gone back to. */
    memmove(&m->old[1], &m->old[0], (m->nold - 1) * sizeof(*m->old));
    m->old[0] = bad;
    pool_quit_generation(&m->pool, bad);
    apply_log_settings(bad->cfg, prev->cfg);
    master_nofile_limit(prev->cfg);
    make_current(m, prev);
    scoreboard_set_reload(m->sb, bad->number, state, why);
    scoreboard_count_reload(m->sb, SB_RELOAD_ROLLED_BACK);
    /* systemd's reload job ends here, as a failure. */
    if (m->awaiting == AWAIT_RELOAD)
        notify_reloaded(0);
    m->awaiting = AWAIT_NONE;
    /* A reload that superseded one still starting goes back to that one,
     * which may never start either: it is awaited, and given up, in turn
     * (back to the one before it, still held by release_old). */
    if (m->nold > 1 && pool_unready(&m->pool, prev) != NULL)
        master_await_up(m, AWAIT_RELOAD);
    master_release_old(m);
}

/* The current generation has a worker past worker_init in every service:
 * the start or the reload is done. */
static void became_up(struct master *m)
{
    struct generation *g = m->cur;

    if (m->awaiting == AWAIT_START) {
        log_notice(NULL, "ready: every service has a worker accepting");
        notify_ready(0);
    } else {
        log_notice(NULL,
                   "generation %u is up: every service has a worker "
                   "accepting",
                   g->number);
        notify_reloaded(1);
        /* On trial, the trial's end says "rolled over" (rollout.c). */
        if (g->trial_until == 0)
            scoreboard_set_reload(m->sb, g->number, "rolled over", NULL);
    }
    m->awaiting = AWAIT_NONE;
    master_release_old(m);
}

void master_check_up(struct master *m, int64_t now)
{
    char why[320]; /* the status file keeps SB_REASON_MAX of it */

    if (m->awaiting == AWAIT_NONE)
        return;
    switch (readiness_check(&m->pool, m->cur, m->awaiting == AWAIT_RELOAD,
                            m->await_until, now, why, sizeof(why))) {
    case READINESS_WAIT: return;
    case READINESS_UP: became_up(m); return;
    case READINESS_HOPELESS: break;
    }
    if (m->awaiting == AWAIT_RELOAD) {
        master_roll_back(m, "failed", why);
        return;
    }
    log_error(NULL, "%s: giving up, exiting", why);
    m->start_failed = 1;
}

void master_reload(struct master *m)
{
    struct generation *g;
    long long          trial;
    int                was;

    log_notice(NULL, "reloading %s", m->conf_path);
    /* A reload still starting is superseded, with no word to systemd of
     * its own: the READY=1 that ends this one ends both.  Unless this one
     * is refused: that one goes on. */
    was = m->awaiting;
    m->awaiting = AWAIT_NONE;
    notify_reloading();
    if (m->cur->trial_until != 0) {
        master_roll_back(m, "rolled back",
                         "a new reload came before the end of its trial");
        was = m->awaiting;
        m->awaiting = AWAIT_NONE;
    }
    trial = m->cur->cfg->reload_canary_ms;
    g = load_generation(m);
    if (g == NULL || push_old(m, m->cur) == -1) {
        if (g != NULL)
            generation_destroy(g, &m->ls);
        log_error(NULL, "reload failed, keeping the running configuration");
        scoreboard_count_reload(m->sb, SB_RELOAD_FAILED);
        notify_reloaded(0);
        m->awaiting = was;
        return;
    }
    apply_log_settings(m->cur->cfg, g->cfg);
    master_give_log(g->cfg);
    master_nofile_limit(g->cfg);
    (void)ticketkeys_configure(g->cfg->tls_ticket_key_rotation_ms,
                               g->cfg->tls_ticket_key_file, g->cfg->dir,
                               master_uses_tls(g->cfg));
    if ((m->cur->cfg->pidfile == NULL) != (g->cfg->pidfile == NULL) ||
        (g->cfg->pidfile != NULL &&
         strcmp(m->cur->cfg->pidfile, g->cfg->pidfile) != 0))
        log_warn(NULL, "a changed pidfile takes effect on restart only");
    /* Its workers quit as the new ones come up (rollout.c), or after a
     * trial (reload_canary), or never when the trial fails. */
    m->cur->retiring = 1;
    g->number = ++m->generations; /* a rolled-back number is not reused */
    if (trial > 0)
        g->trial_until = mono_ms() + trial;
    make_current(m, g);
    /* Before release_old: the generation before is kept till then. */
    master_await_up(m, AWAIT_RELOAD);
    pool_maintain(&m->pool, m->cur, mono_ms(), 0);
    master_release_old(m);
    log_notice(NULL, "configuration reloaded: %zu services%s", g->nsvc,
               trial > 0 ? ", one worker each on trial (reload_canary)" : "");
    serving_log(g);
    /* "rolled over", and READY=1, once every service has a worker up. */
    scoreboard_set_reload(m->sb, g->number,
                          trial > 0 ? "on trial" : "rolling over", NULL);
    /* Counted as it starts, as a trial is: a failure to start is counted
     * again, as rolled back (roll_back). */
    scoreboard_count_reload(m->sb, SB_RELOAD_OK);
}
