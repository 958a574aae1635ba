/*
 * master.c -- the master process: start-up, the supervision loop, reload
 * and shutdown.
 *
 * Every signal the master handles is blocked except while it waits in
 * ppoll(); handlers only raise flags, and the loop acts on them in one
 * place.  The loop also wakes on a tick (once a second, more often when
 * worker_timeout is short or systemd's watchdog asks for pings) to review
 * dynamic pools and stuck workers, and pings the watchdog from there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "confine.h"
#include "daemon.h"
#include "fdstore.h"
#include "gauges.h"
#include "inherit.h"
#include "log.h"
#include "master.h"
#include "modload.h"
#include "pidfile.h"
#include "pool.h"
#include "readiness.h"
#include "reader.h"
#include "rollout.h"
#include "scoreboard.h"
#include "sdnotify.h"
#include "ticketkeys.h"
#include "tlsctx.h"
#include "upgrade.h"
#include "values.h"

#define FAST_STOP_MS    5000 /* TERM: how long workers get before KILL */
#define HANDOFF_POLL_MS 20   /* upgrade: how often to look for workers up */

static volatile sig_atomic_t sig_term, sig_quit, sig_hup, sig_usr1, sig_usr2,
    sig_ttin, sig_ttou, sig_chld, sig_urg;

/* Every signal the master handles, and the flag it raises. */
static const struct {
    int                    sig;
    volatile sig_atomic_t *flag;
} master_signals[] = {
    {SIGTERM, &sig_term}, /* fast shutdown */
    {SIGINT, &sig_term},  /* fast shutdown, from a terminal */
    {SIGQUIT, &sig_quit}, /* graceful shutdown */
    {SIGHUP, &sig_hup},   /* reload */
    {SIGUSR1, &sig_usr1}, /* reopen logs */
    {SIGUSR2, &sig_usr2}, /* binary upgrade */
    {SIGTTIN, &sig_ttin}, /* one worker more per service */
    {SIGTTOU, &sig_ttou}, /* one worker fewer per service */
    {SIGCHLD, &sig_chld}, /* a worker exited */
    {SIGURG, &sig_urg},   /* a worker reached max_requests (it only wakes
                             the loop: the slot says which) */
};
#define NSIGNALS (sizeof(master_signals) / sizeof(master_signals[0]))

static void on_signal(int sig)
{
    size_t i;

    for (i = 0; i < NSIGNALS; i++)
        if (master_signals[i].sig == sig)
            *master_signals[i].flag = 1;
}

static int signals_init(void)
{
    struct sigaction sa;
    sigset_t         block;
    size_t           i;

    sigemptyset(&block);
    for (i = 0; i < NSIGNALS; i++)
        sigaddset(&block, master_signals[i].sig);
    if (sigprocmask(SIG_BLOCK, &block, NULL) == -1) {
        log_syserr(NULL, "sigprocmask");
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    for (i = 0; i < NSIGNALS; i++)
        if (sigaction(master_signals[i].sig, &sa, NULL) == -1) {
            log_syserr(NULL, "sigaction");
            return -1;
        }
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) == -1) {
        log_syserr(NULL, "sigaction(SIGPIPE)");
        return -1;
    }
    return 0;
}

/* Sleep until a signal arrives or `until` (mono ms) passes. */
static void master_wait(int64_t until)
{
    sigset_t        none;
    struct timespec ts;
    int64_t         left = until - mono_ms();

    if (left < 0)
        left = 0;
    ts.tv_sec = left / 1000;
    ts.tv_nsec = (left % 1000) * 1000000;
    sigemptyset(&none);
    if (ppoll(NULL, 0, &ts, &none) == -1 && errno != EINTR)
        log_syserr(NULL, "ppoll");
}

/* Free reloaded-away generations whose last worker has gone.  The one
 * before a reload still starting is kept: it is what a failed reload
 * goes back to. */
static void release_old(struct master *m)
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

static void reap(struct master *m)
{
    int64_t        now = mono_ms();
    struct worker *w;
    int            status;
    pid_t          pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        w = pool_find(&m->pool, pid);
        if (w == NULL) {
            (void)upgrade_reaped(&m->up, pid, status, m->pool.stopping);
            continue;
        }
        pool_reaped(&m->pool, m->cur, w, status, now);
        pool_remove(&m->pool, w);
    }
    release_old(m);
}

static void log_diag(const struct diag *d)
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
    log_diag(&d);
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

/* Workers that run as `user` reopen the error log themselves on USR1:
 * the file must be theirs to open. */
static void give_log_to_workers(const struct config *cfg)
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

static int apply_nofile_limit(const struct config *cfg)
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

_Static_assert(CONFIG_MAX_LINE < SB_NAME_MAX,
               "a service name must fit its scoreboard entry");

/* List g's services in the status file, for `prefork -s status`. */
static void publish_services(struct master *m, const struct generation *g)
{
    struct sb_service_desc *v = calloc(g->nsvc + 1, sizeof(*v));
    const char            **addrs;
    size_t                  i, j, n = 0;

    for (i = 0; i < g->nsvc; i++)
        n += g->svc[i].sc->nlisten;
    addrs = calloc(n + 1, sizeof(*addrs));
    if (v == NULL || addrs == NULL) {
        log_error(NULL, "out of memory: the status file keeps the old "
                        "list of services");
        goto done;
    }
    for (i = 0, n = 0; i < g->nsvc; i++) {
        const struct service *s = &g->svc[i];

        v[i] = (struct sb_service_desc){
            .id = s->id,
            .target = s->target,
            .name = s->sc->name,
            .mode = mode_name(s->sc->mode),
            .listen = &addrs[n],
            .nlisten = s->sc->nlisten,
        };
        confine_publish(s->sc, &v[i].sandbox);
        for (j = 0; j < s->sc->nlisten; j++)
            addrs[n++] = s->sc->listen[j].text;
    }
    scoreboard_set_services(m->sb, v, g->nsvc);
done:
    free(addrs);
    free(v);
}

/* "tcp://127.0.0.1:80" is logged as "127.0.0.1:80 (tcp)", so that the
 * address reads first. */
static void split_addr(const struct addr *a, const char **where,
                       const char **kind)
{
    const char *sep = strstr(a->text, "://");

    *kind = a->kind == ADDR_UDP ? "udp" : a->kind == ADDR_UNIX ? "unix" : "tcp";
    if (a->kind == ADDR_UNIX)
        *where = a->text + 5; /* after "unix:" */
    else
        *where = sep != NULL ? sep + 3 : a->text;
}

/* Does a service of cfg speak TLS? */
static int uses_tls(const struct config *cfg)
{
    for (size_t i = 0; i < cfg->nsvc; i++)
        if (cfg->svc[i].tls_certificate != NULL)
            return 1;
    return 0;
}

/* Which protections the service's workers have (notice: an old module
 * running unconfined is news; so is a kernel without Landlock). */
static void log_sandbox(const struct service_conf *sc)
{
    struct confine_plan p;
    char                line[256];

    confine_plan(sc, &p);
    confine_describe(&p, line, sizeof(line));
    log_notice(sc->name, "sandbox: %s", line);
}

/* One line per listener of g: what an operator reads to know what runs. */
static void log_serving(const struct generation *g)
{
    size_t i, j;

    for (i = 0; i < g->nsvc; i++) {
        const struct service_conf *sc = g->svc[i].sc;
        char                       pool[96];
        int                        n;

        n = sc->dynamic ? snprintf(pool, sizeof(pool), "%d..%d workers",
                                   sc->workers, sc->max_workers)
                        : snprintf(pool, sizeof(pool), "%d worker%s",
                                   sc->workers, sc->workers == 1 ? "" : "s");
        if (sc->mode == MODE_FORKING)
            snprintf(pool + n, sizeof(pool) - (size_t)n, ", max_children %d",
                     sc->max_children);
        else if (sc->mode == MODE_THREADING)
            snprintf(pool + n, sizeof(pool) - (size_t)n, ", threads %d",
                     sc->threads);
        for (j = 0; j < sc->nlisten; j++) {
            const char *where, *kind;

            split_addr(&sc->listen[j], &where, &kind);
            log_notice(NULL, "serving %s (%s) for [%s]: module %s, mode %s, %s",
                       where, kind, sc->name, sc->module, mode_name(sc->mode),
                       pool);
            tlsctx_log(g->svc[i].tls, where);
        }
        log_sandbox(sc);
    }
}

/* Make g the running generation: the services, the listeners systemd
 * keeps and the status file follow it. */
static void make_current(struct master *m, struct generation *g)
{
    m->cur = g;
    /* Before release_old closes what g dropped: systemd lets go of it. */
    fdstore_sync(&m->ls, g);
    publish_services(m, g);
    scoreboard_set_generation(m->sb, g->number);
}

/* From now on, wait for every service of the current generation to have
 * a worker past worker_init (what: a start's or a reload's). */
static void await_up(struct master *m, enum await what)
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
static void roll_back(struct master *m, const char *state, const char *why)
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
    apply_nofile_limit(prev->cfg);
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
        await_up(m, AWAIT_RELOAD);
    release_old(m);
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
    release_old(m);
}

/* While a start or a reload awaits its workers: done, given up, or not
 * yet.  A start given up makes the master exit 1; a reload given up is
 * rolled back. */
static void check_up(struct master *m, int64_t now)
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
        roll_back(m, "failed", why);
        return;
    }
    log_error(NULL, "%s: giving up, exiting", why);
    m->start_failed = 1;
}

static void reload(struct master *m)
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
        roll_back(m, "rolled back",
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
    give_log_to_workers(g->cfg);
    apply_nofile_limit(g->cfg);
    (void)ticketkeys_configure(g->cfg->tls_ticket_key_rotation_ms,
                               g->cfg->tls_ticket_key_file, g->cfg->dir,
                               uses_tls(g->cfg));
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
    await_up(m, AWAIT_RELOAD);
    pool_maintain(&m->pool, m->cur, mono_ms(), 0);
    release_old(m);
    log_notice(NULL, "configuration reloaded: %zu services%s", g->nsvc,
               trial > 0 ? ", one worker each on trial (reload_canary)" : "");
    log_serving(g);
    /* "rolled over", and READY=1, once every service has a worker up. */
    scoreboard_set_reload(m->sb, g->number,
                          trial > 0 ? "on trial" : "rolling over", NULL);
    /* Counted as it starts, as a trial is: a failure to start is counted
     * again, as rolled back (roll_back). */
    scoreboard_count_reload(m->sb, SB_RELOAD_OK);
}

static void resize(struct master *m, int delta)
{
    size_t i;

    for (i = 0; i < m->cur->nsvc; i++) {
        struct service *s = &m->cur->svc[i];
        int             t = s->target + delta;
        const char     *why = NULL;

        if (t < 1)
            why = "a pool keeps at least one worker";
        else if (s->sc->dynamic && t > s->sc->max_workers)
            why = "a dynamic pool's size stops at max_workers";
        else if (t > CONFIG_MAX_SLOTS / 2)
            why = "the pools' half of the scoreboard is full";
        if (why != NULL) {
            log_notice(s->sc->name, "%s: pool size stays %d: %s",
                       delta > 0 ? "TTIN" : "TTOU", s->target, why);
            continue;
        }
        s->target = t;
        log_notice(s->sc->name, "%s: pool size now %d",
                   delta > 0 ? "TTIN" : "TTOU", t);
    }
}

static void reopen_logs(struct master *m)
{
    if (log_reopen() == 0) { /* a failure is logged by log_reopen */
        give_log_to_workers(m->cur->cfg);
        log_notice(NULL, "error log reopened");
    }
    pool_signal(&m->pool, SIGUSR1);
}

/* Stop every worker with sig; KILL what is left after grace_ms. */
static void stop_workers(struct master *m, int sig, int64_t grace_ms)
{
    int64_t deadline = mono_ms() + grace_ms;
    int     killed = 0;

    m->pool.stopping = 1;
    /* A successor this master started serves on: systemd is to follow
     * it, not stop the service. */
    if (m->up.new_master != 0)
        upgrade_release(&m->up);
    else
        notify_stopping();
    pool_signal(&m->pool, sig);
    lsock_set_close(&m->ls);
    while (m->pool.n > 0) {
        if (sig_term && sig != SIGTERM) { /* TERM during a graceful stop */
            sig = SIGTERM;
            pool_signal(&m->pool, SIGTERM);
            deadline = mono_ms() + FAST_STOP_MS;
        }
        if (!killed && mono_ms() >= deadline) {
            log_warn(NULL, "%zu workers still running, killing them",
                     m->pool.n);
            pool_signal(&m->pool, SIGKILL);
            killed = 1;
        }
        sig_chld = 0;
        reap(m);
        if (m->pool.n > 0)
            master_wait(killed ? mono_ms() + 100 : deadline);
    }
}

/*
 * A graceful stop with a shutdown_delay serves on for that long first,
 * with the scoreboard saying it is stopping, so health checks fail and a
 * load balancer takes the server out before its listeners close.  Not for
 * the old master of an upgrade: its successor serves the same sockets.
 * Returns 1 when the drain is to begin now.
 */
static int quit_now(struct master *m)
{
    long long delay = m->cur->cfg->shutdown_delay_ms;
    int64_t   now = mono_ms();

    if (delay <= 0 || m->up.new_master != 0)
        return 1;
    if (m->quit_at == 0) {
        m->quit_at = now + delay;
        scoreboard_set_stopping(m->sb, 1);
        log_notice(NULL,
                   "graceful shutdown in %lld ms (shutdown_delay): health "
                   "checks answer 503 from now",
                   delay);
    }
    return now >= m->quit_at;
}

static int64_t tick_ms(const struct master *m)
{
    long long t = m->cur->cfg->worker_timeout_ms / 4;

    if (t <= 0 || t > 1000)
        t = 1000;
    else if (t < 50)
        t = 50;
    /* Each watchdog ping follows a supervision pass (watchdog.c). */
    if (m->wd.half_ms > 0 && m->wd.half_ms < t)
        t = m->wd.half_ms;
    return t;
}

static void master_loop(struct master *m)
{
    int64_t now, next_tick = mono_ms() + tick_ms(m), due;
    char    why[SB_REASON_MAX];
    int     spawn_failed;

    for (;;) {
        if (sig_chld) {
            sig_chld = 0;
            reap(m);
        }
        if (sig_term) {
            log_notice(NULL, "fast shutdown");
            stop_workers(m, SIGTERM, FAST_STOP_MS);
            return;
        }
        if (sig_quit && quit_now(m)) {
            if (m->up.new_master != 0)
                log_notice(NULL, "the new master %d has taken over",
                           (int)m->up.new_master);
            log_notice(NULL, "graceful shutdown");
            stop_workers(m, SIGQUIT, m->cur->cfg->shutdown_timeout_ms + 1000);
            return;
        }
        if (sig_hup) {
            sig_hup = 0;
            reload(m);
            next_tick = mono_ms() + tick_ms(m);
        }
        if (sig_usr1) {
            sig_usr1 = 0;
            reopen_logs(m);
        }
        if (sig_usr2) {
            sig_usr2 = 0;
            (void)upgrade_start(&m->up);
        }
        if (sig_ttin || sig_ttou) {
            resize(m, sig_ttin ? 1 : -1);
            sig_ttin = sig_ttou = 0;
        }
        sig_urg = 0;
        now = mono_ms();
        if (m->up.old_master != 0 &&
            upgrade_handoff(&m->up, now,
                            pool_unready(&m->pool, m->cur) == NULL) &&
            m->up.give_up) {
            stop_workers(m, SIGTERM, FAST_STOP_MS);
            return;
        }
        if (!m->followed && (m->followed = upgrade_followed(&m->up)))
            fdstore_sync(&m->ls, m->cur);
        if (rollout_trial_failed(&m->pool, m->cur, now, why, sizeof(why)))
            roll_back(m, "rolled back", why);
        rollout_pass(&m->pool, m->cur, now);
        if (now >= next_tick) {
            pool_check_timeouts(&m->pool, m->cur->cfg->worker_timeout_ms, now);
            pool_check_memory(&m->pool, now);
            if (m->up.new_master == 0) /* else the new master rotates */
                ticketkeys_tick(now);
            gauges_publish(&m->pool, m->cur);
            spawn_failed = pool_maintain(&m->pool, m->cur, now, 1) == -1;
            if (m->followed)
                watchdog_pass(&m->wd, now, spawn_failed);
            next_tick = now + tick_ms(m);
        } else {
            pool_maintain(&m->pool, m->cur, now, 0);
        }
        check_up(m, now);
        if (m->start_failed) {
            stop_workers(m, SIGTERM, FAST_STOP_MS);
            return;
        }
        if (pool_kill_due(&m->pool) < next_tick)
            next_tick = pool_kill_due(&m->pool); /* a worker_timeout kill */
        due = pool_next_due(m->cur);
        /* Workers say they are up in their slots only: look often. */
        if (m->awaiting != AWAIT_NONE && due > now + ROLLOUT_POLL_MS)
            due = now + ROLLOUT_POLL_MS;
        if (m->up.old_master != 0 && due > now + HANDOFF_POLL_MS)
            due = now + HANDOFF_POLL_MS;
        if (due > now + ROLLOUT_POLL_MS && rollout_pending(&m->pool, m->cur))
            due = now + ROLLOUT_POLL_MS;
        if (m->quit_at != 0 && due > m->quit_at)
            due = m->quit_at;
        master_wait(due < next_tick ? due : next_tick);
    }
}

/* The binary this process runs, as a path: readlink at start-up, before
 * an upgrade replaces the file and the link reads "... (deleted)". */
static char *self_path(void)
{
    char    buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

    if (n <= 0 || (size_t)n >= sizeof(buf) - 1) {
        log_syswarn(NULL, "readlink(/proc/self/exe): SIGUSR2 upgrades are "
                          "disabled");
        return NULL;
    }
    buf[n] = '\0';
    return strdup(buf);
}

static void master_free(struct master *m)
{
    size_t i;

    for (i = 0; i < m->nold; i++)
        generation_destroy(m->old[i], &m->ls);
    free(m->old);
    /* Socket files belong to whichever master serves after this one. */
    if (m->up.new_master != 0 || m->up.old_master != 0)
        lsock_set_disown(&m->ls);
    generation_destroy(m->cur, &m->ls);
    lsock_set_free(&m->ls);
    pool_free(&m->pool);
    if (m->pidfd != -1)
        pidfile_remove(m->pidfile, m->pidfd);
    free(m->pidfile);
    free(m->exe);
    free(m->conf_abs);
    if (m->sb != NULL)
        scoreboard_destroy(m->sb);
    ticketkeys_close();
}

int master_run(struct config *cfg, const char *conf_path, int foreground)
{
    struct master m = {
        .conf_path = conf_path, .foreground = foreground, .pidfd = -1};
    struct diag d = DIAG_INIT;
    int         rc = 1, ready_fd = -1;

    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    if (log_open(cfg->error_log, cfg->log_level) == -1)
        goto fail_cfg;
    log_echo_stderr(1);
    give_log_to_workers(cfg);
    /* Both are needed after a daemon's chdir("/") and a binary upgrade. */
    m.exe = self_path();
    if ((m.conf_abs = realpath(conf_path, NULL)) != NULL)
        m.conf_path = m.conf_abs;
    if (cfg->pidfile != NULL) {
        if ((m.pidfile = strdup(cfg->pidfile)) == NULL ||
            (m.pidfd = pidfile_create(cfg->pidfile)) == -1)
            goto fail_cfg;
    }
    if (geteuid() == 0 && cfg->user == NULL)
        log_warn(NULL, "running as root with no 'user' set: "
                       "workers will run as root");
    if ((m.sb = scoreboard_create(cfg->pidfile, CONFIG_MAX_SLOTS)) == NULL) {
        log_syserr(NULL, "scoreboard");
        goto fail_cfg;
    }
    if (signals_init() == -1 || apply_nofile_limit(cfg) == -1 ||
        inherit_sockets(&m.ls) == -1 || ticketkeys_open() == -1 ||
        ticketkeys_configure(cfg->tls_ticket_key_rotation_ms,
                             cfg->tls_ticket_key_file, cfg->dir,
                             uses_tls(cfg)) == -1)
        goto fail_cfg;
    pool_init(&m.pool, m.sb, &m.ls, m.pidfd);
    upgrade_init(&m.up, m.exe, m.conf_path, &m.pidfile, m.sb, &m.ls,
                 inherit_old_master());
    m.cur = generation_create(cfg, &m.ls, &m.next_id, &d);
    if (m.cur == NULL) {
        log_diag(&d);
        goto fail_cfg;
    }
    m.cur->number = m.generations = 1;
    /* Before the prune, so that systemd also drops what no service took. */
    /* A new master stores once systemd follows it (master_loop). */
    if ((m.followed = upgrade_followed(&m.up)))
        fdstore_sync(&m.ls, m.cur);
    lsock_set_prune(&m.ls);
    watchdog_init(&m.wd); /* while WATCHDOG_PID is still this process */
    /* Daemonize after binding, so a bind error still reaches the terminal.
     * The pidfile lock does not survive fork: pidfile_write takes it again
     * in the final process (waiting for the exiting parent to let go). */
    if (cfg->daemonize && !foreground && (ready_fd = daemonize(m.pidfd)) == -1)
        goto fail;
    publish_services(&m, m.cur);
    scoreboard_set_generation(m.sb, m.cur->number);
    if (m.pidfd != -1 && pidfile_write(m.pidfd) == -1)
        goto fail;
    log_notice(NULL, "prefork " PACKAGE_VERSION " started, pid %d",
               (int)getpid());
    log_echo_stderr(0);
    log_serving(m.cur);
    daemon_ready(ready_fd);
    ready_fd = -1;
    pool_maintain(&m.pool, m.cur, mono_ms(), 0);
    /* READY=1 once every service has a worker up (after an upgrade, the
     * hand-over in upgrade.c says it, with MAINPID). */
    if (m.up.old_master == 0)
        await_up(&m, AWAIT_START);
    master_loop(&m);
    log_notice(NULL, "exiting");
    rc = m.up.give_up || m.start_failed ? 1 : 0;
    goto fail;
fail_cfg:
    if (m.cur == NULL) {
        modules_release(cfg);
        config_free(cfg);
    }
fail:
    if (ready_fd != -1)
        close(ready_fd);
    diag_free(&d);
    master_free(&m);
    log_close();
    return rc;
}
