/*
 * deathlog.c -- death records (see deathlog.h).
 *
 * The file is opened for each record, with O_APPEND: deaths are rare, a
 * record is one write(2) so lines of two masters (a binary upgrade) never
 * interleave, and logrotate needs no signal for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deathlog.h"
#include "log.h"
#include "status.h"

static void iso_time(int64_t ms, char *buf, size_t len)
{
    time_t    t = (time_t)(ms / 1000);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(buf, len, "%" PRId64, ms / 1000);
        return;
    }
    snprintf(buf + strlen(buf), len - strlen(buf), ".%03dZ", (int)(ms % 1000));
}

/* Write d as one JSON object and a newline to out. */
static void death_json(FILE *out, const struct death *d)
{
    char when[40];

    iso_time(d->time_ms, when, sizeof(when));
    fprintf(out, "{\"time\":\"%s\",\"service\":", when);
    status_json_string(out, d->service);
    fprintf(out,
            ",\"pid\":%d,\"age_ms\":%" PRId64 ",\"served\":%" PRIu64
            ",\"reason\":\"%s\"",
            (int)d->pid, d->age_ms, d->served, d->reason);
    if (d->syscall != NULL) {
        fputs(",\"syscall\":", out);
        status_json_string(out, d->syscall);
    }
    if (d->signal != 0) {
        fprintf(out, ",\"signal\":%d,\"signal_name\":", d->signal);
        status_json_string(out, sigabbrev_np(d->signal) != NULL
                                    ? sigabbrev_np(d->signal)
                                    : "?");
    } else {
        fprintf(out, ",\"exit_status\":%d", d->status);
    }
    fprintf(out, ",\"core_dumped\":%s,\"peer\":", d->core ? "true" : "false");
    if (d->peer != NULL)
        status_json_string(out, d->peer);
    else
        fputs("null", out);
    fputs(",\"request\":", out);
    if (d->request != NULL && d->request[0] != '\0')
        status_json_string(out, d->request);
    else
        fputs("null", out);
    fprintf(out, ",\"failures\":%d}\n", d->failures);
}

static int append(const char *path, const char *line, size_t len)
{
    int     fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    ssize_t n;

    if (fd == -1)
        return -1;
    do
        n = write(fd, line, len);
    while (n == -1 && errno == EINTR);
    if (close(fd) == -1 && n != -1)
        return -1;
    return n == (ssize_t)len ? 0 : -1;
}

int death_record(const char *path, const struct death *d, char *copy,
                 size_t copylen)
{
    char  *line = NULL;
    size_t len = 0;
    FILE  *out = open_memstream(&line, &len);
    int    r = 0;

    if (out == NULL) {
        log_syserr(d->service, "death record");
        return -1;
    }
    death_json(out, d);
    if (fclose(out) != 0) {
        log_syserr(d->service, "death record");
        free(line);
        return -1;
    }
    if (copy != NULL)
        snprintf(copy, copylen, "%.*s", (int)len - 1, line);
    if (path == NULL) {
        log_warn(d->service, "worker death: %.*s", (int)len - 1, line);
    } else if (append(path, line, len) == -1) {
        log_syserr(d->service, "death_log %s", path);
        r = -1;
    }
    free(line);
    return r;
}
