/*
 * master.c -- the master process: start-up, the supervision loop and
 * shutdown (a reload's generations are reload.c's).
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
#include "daemon.h"
#include "fdstore.h"
#include "gauges.h"
#include "inherit.h"
#include "log.h"
#include "master.h"
#include "mstate.h"
#include "modload.h"
#include "pidfile.h"
#include "pool.h"
#include "reload.h"
#include "serving.h"
#include "reader.h"
#include "rollout.h"
#include "scoreboard.h"
#include "sdnotify.h"
#include "ticketkeys.h"
#include "upgrade.h"

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
    master_release_old(m);
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
        master_give_log(m->cur->cfg);
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
            master_reload(m);
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
            master_roll_back(m, "rolled back", why);
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
        master_check_up(m, now);
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
    master_give_log(cfg);
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
    if (signals_init() == -1 || master_nofile_limit(cfg) == -1 ||
        inherit_sockets(&m.ls) == -1 || ticketkeys_open() == -1 ||
        ticketkeys_configure(cfg->tls_ticket_key_rotation_ms,
                             cfg->tls_ticket_key_file, cfg->dir,
                             master_uses_tls(cfg)) == -1)
        goto fail_cfg;
    pool_init(&m.pool, m.sb, &m.ls, m.pidfd);
    upgrade_init(&m.up, m.exe, m.conf_path, &m.pidfile, m.sb, &m.ls,
                 inherit_old_master());
    m.cur = generation_create(cfg, &m.ls, &m.next_id, &d);
    if (m.cur == NULL) {
        master_log_diag(&d);
        goto fail_cfg;
    }
    m.cur->number = m.generations = 1;
    /* Before the prune, so that systemd also drops what no service took;
     * a new master, once systemd follows it (master_loop). */
    if ((m.followed = upgrade_followed(&m.up)))
        fdstore_sync(&m.ls, m.cur);
    lsock_set_prune(&m.ls);
    watchdog_init(&m.wd); /* while WATCHDOG_PID is still this process */
    /* Daemonize after binding, so a bind error still reaches the terminal.
     * The pidfile lock does not survive fork: pidfile_write takes it again
     * in the final process (waiting for the exiting parent to let go). */
    if (cfg->daemonize && !foreground && (ready_fd = daemonize(m.pidfd)) == -1)
        goto fail;
    serving_publish(m.sb, m.cur);
    scoreboard_set_generation(m.sb, m.cur->number);
    if (m.pidfd != -1 && pidfile_write(m.pidfd) == -1)
        goto fail;
    log_notice(NULL, "prefork " PACKAGE_VERSION " started, pid %d",
               (int)getpid());
    log_echo_stderr(0);
    serving_log(m.cur);
    daemon_ready(ready_fd);
    ready_fd = -1;
    pool_maintain(&m.pool, m.cur, mono_ms(), 0);
    /* READY=1 once every service has a worker up (after an upgrade, the
     * old master names this one to systemd instead: upgrade.c). */
    if (m.up.old_master == 0)
        master_await_up(&m, AWAIT_START);
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
