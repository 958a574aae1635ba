/*
 * log.h -- the error log: time, pid, level, service, message, one write(2)
 * per line so lines from many processes never interleave.
 *
 * Every process logs through these.  The master opens the log; workers
 * inherit it and reopen it themselves on USR1.
 */
#ifndef PF_LOG_H
#define PF_LOG_H

#include <sys/types.h>
#include <stdarg.h>

/* Levels are syslog's numbers (PF_LOG_* in <prefork/module.h>). */

/* A name and the number it stands for; a table of them ends with {NULL}.
 * The configuration's T_CHOICE keys read such tables (config_keys.h). */
struct choice {
    const char *name;
    int         value;
};

/* The levels by name, most verbose first: the one table both log lines
 * and the log_level key read. */
extern const struct choice log_levels[];

/* Open target ("stderr", "syslog" or a path).  Returns 0, or -1 with the
 * reason printed to stderr (where else?).  Until called, logs go to stderr. */
int log_open(const char *target, int level);
/* Reopen the same target (USR1).  Returns 0 or -1 (and keeps the old one). */
int  log_reopen(void);
void log_close(void);
/* Make the error log file (if it is one) uid's, so that workers running
 * as that user can reopen it on USR1, as nginx does. */
void log_chown(uid_t uid);
/* While on, errors logged to a file or syslog are also printed to stderr:
 * a master that fails to start says why where it was started. */
void log_echo_stderr(int on);
/* The name log_levels[] gives level, or "unknown". */
const char *log_level_name(int level);

/* svc may be NULL.  err, when nonzero, appends ": strerror(err)". */
void log_at(int level, const char *svc, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void log_vat(int level, const char *svc, int err, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

#define log_error(svc, ...)  log_at(3, svc, 0, __VA_ARGS__)
#define log_warn(svc, ...)   log_at(4, svc, 0, __VA_ARGS__)
#define log_notice(svc, ...) log_at(5, svc, 0, __VA_ARGS__)
#define log_info(svc, ...)   log_at(6, svc, 0, __VA_ARGS__)
#define log_debug(svc, ...)  log_at(7, svc, 0, __VA_ARGS__)
/* As log_error/log_warn with strerror(errno) appended. */
#define log_syserr(svc, ...)  log_at(3, svc, errno, __VA_ARGS__)
#define log_syswarn(svc, ...) log_at(4, svc, errno, __VA_ARGS__)

#endif
